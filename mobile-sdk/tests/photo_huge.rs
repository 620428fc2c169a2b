//! A header claiming 65500×65500 pixels is refused before any large allocation.
//!
//! Its own test binary (one test, one thread), so the process's peak resident memory measures
//! this call alone.

mod common;

use doudi_sdk::photo::{PhotoConfig, process_photo};

/// Peak resident set size of this process in KiB (Linux `VmHWM`).
#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Offset of the main frame's SOF0 in huge-dimensions.jpg: the first SOF0 in the file (at 0x43c)
/// belongs to the thumbnail embedded in the EXIF APP1 segment.
fn main_sof0(bytes: &[u8]) -> usize {
    let mut at = 2;
    loop {
        let marker = bytes[at + 1];
        if marker == 0xC0 {
            return at;
        }
        at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
    }
}

/// Refused, and the process's peak memory grows by less than `limit_mib` meanwhile.
fn refused_without_allocating(bytes: &[u8]) -> doudi_sdk::photo::PhotoError {
    #[cfg(target_os = "linux")]
    let before = peak_rss_kib();
    let err = process_photo(bytes, &PhotoConfig::default()).expect_err("must be refused");
    #[cfg(target_os = "linux")]
    {
        let grown_mib = (peak_rss_kib() - before) / 1024;
        // Decoding 65500 × 65500 would need 65500 × 65500 × 3 bytes ≈ 12 GiB.
        assert!(grown_mib < 48, "peak memory grew by {grown_mib} MiB");
    }
    err
}

#[test]
fn huge_dimensions_refused_without_allocating() {
    let file = common::photo("huge-dimensions.jpg");

    // The file as shipped: the 65500×65500 header is the EXIF thumbnail's; the main frame says
    // 4000×3000 and its data stops at 200,000 bytes.
    let sof = main_sof0(&file);
    assert_eq!(
        &file[sof + 5..sof + 9],
        &[0x0B, 0xB8, 0x0F, 0xA0],
        "main frame 3000 × 4000"
    );
    let err = refused_without_allocating(&file);
    assert!(
        ["photo.too_large", "photo.truncated"].contains(&err.code()),
        "{err}"
    );

    // The same file with its main frame header claiming 65500×65500: refused from the header.
    let mut huge = file.clone();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
    let err = refused_without_allocating(&huge);
    assert_eq!(err.code(), "photo.too_large", "{err}");
    assert!(
        err.message_zh().contains("65500×65500"),
        "{}",
        err.message_zh()
    );
}
