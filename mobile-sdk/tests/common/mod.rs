//! Helpers shared by the photo tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shared test photos: `<checkout>/../shared/data/photos`, or `DOUDI_PHOTOS_DIR`.
pub fn photos_dir() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/photos");
    if beside.is_dir() {
        return beside;
    }
    if let Some(dir) = std::env::var_os("DOUDI_PHOTOS_DIR") {
        return PathBuf::from(dir);
    }
    panic!(
        "test photos not found at {} and DOUDI_PHOTOS_DIR is not set",
        beside.display()
    );
}

pub fn photo(name: &str) -> Vec<u8> {
    let path = photos_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Markers of a JPEG's segments up to and including the first SOS, with each segment's payload.
pub fn jpeg_segments(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "no SOI");
    let mut at = 2;
    let mut segments = Vec::new();
    while at + 4 <= bytes.len() {
        assert_eq!(bytes[at], 0xFF, "segment does not start with 0xFF at {at}");
        let marker = bytes[at + 1];
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let payload = bytes[at + 4..at + 2 + len].to_vec();
        segments.push((marker, payload));
        if marker == 0xDA {
            break;
        }
        at += 2 + len;
    }
    segments
}

/// PNG chunk types in order.
pub fn png_chunks(bytes: &[u8]) -> Vec<String> {
    let mut at = 8;
    let mut chunks = Vec::new();
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        chunks.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        at += 12 + len as usize;
    }
    chunks
}

/// Mean RGB of the `size`×`size` square whose top-left corner is at (x, y).
pub fn mean_rgb(image: &image::RgbImage, x: u32, y: u32, size: u32) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for yy in y..y + size {
        for xx in x..x + size {
            let p = image.get_pixel(xx, yy).0;
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    let n = f64::from(size * size);
    sum.map(|s| s / n)
}

pub fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f64>().sqrt()
}
