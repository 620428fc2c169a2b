//! The photo pipeline against the shared test photos and against generated images.

mod common;

use std::io::Cursor;

use common::{distance, jpeg_segments, mean_rgb, photo, png_chunks};
use doudi_sdk::photo::{
    Orientation, PhotoConfig, SignatureConfig, SourceFormat, process_photo, process_signature,
    sha256_hex,
};

/// The six camera photos with their expected upright output size.
const CAMERA_PHOTOS: [(&str, (u32, u32), Orientation); 6] = [
    ("bythewater.jpg", (1600, 1200), Orientation::Normal),
    ("eveningglow.jpg", (1600, 1200), Orientation::Normal),
    ("colorfulcups.jpg", (1200, 1600), Orientation::Rotate270),
    ("path.jpg", (1200, 1600), Orientation::Rotate90),
    ("kite.jpg", (1600, 1200), Orientation::Rotate180),
    ("fallenleaf.jpg", (1600, 1200), Orientation::Normal),
];

/// Everything that must hold for an output JPEG: one plain JFIF APP0 and no other APPn or COM
/// segment, nothing kamadak-exif can read, none of the source's strings.
fn assert_no_metadata(name: &str, jpeg: &[u8]) {
    for (marker, payload) in jpeg_segments(jpeg) {
        match marker {
            0xE0 => assert!(
                payload.starts_with(b"JFIF\0"),
                "{name}: APP0 that is not JFIF"
            ),
            0xE1..=0xEF => panic!("{name}: APP{} segment left", marker - 0xE0),
            0xFE => panic!("{name}: COM segment left"),
            _ => {}
        }
    }
    assert!(
        matches!(
            exif::Reader::new().read_from_container(&mut Cursor::new(jpeg)),
            Err(exif::Error::NotFound(_))
        ),
        "{name}: EXIF readable in output"
    );
    for needle in [
        &b"Xiaomi"[..],
        b"Redmi",
        b"http://ns.adobe.com/xap",
        b"ICC_PROFILE",
    ] {
        assert!(
            !jpeg.windows(needle.len()).any(|w| w == needle),
            "{name}: {:?} found in output",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn camera_photos_are_upright_resized_stripped_and_stable() {
    let config = PhotoConfig::default();
    for (name, size, orientation) in CAMERA_PHOTOS {
        let source = photo(name);
        // The sources really carry what must be removed.
        assert!(
            exif::Reader::new()
                .read_from_container(&mut Cursor::new(&source))
                .is_ok(),
            "{name}: source has no EXIF"
        );
        let first = process_photo(&source, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = &first.image;
        assert_eq!((out.width, out.height), size, "{name}: output size");
        assert_eq!(first.source.format, SourceFormat::Jpeg);
        assert_eq!(first.source.orientation, orientation, "{name}: orientation");
        assert_eq!((first.source.width, first.source.height), (4000, 3000));

        let decoded = image::load_from_memory(&out.bytes).expect("output decodes");
        assert_eq!((decoded.width(), decoded.height()), size, "{name}");
        let thumb = image::load_from_memory(&first.thumbnail.bytes).expect("thumbnail decodes");
        assert_eq!(
            thumb.width().max(thumb.height()),
            320,
            "{name}: thumbnail edge"
        );
        assert_eq!(
            (thumb.width(), thumb.height()),
            (first.thumbnail.width, first.thumbnail.height)
        );
        assert_eq!(
            size.0 > size.1,
            thumb.width() > thumb.height(),
            "{name}: thumbnail keeps the orientation"
        );

        assert_no_metadata(name, &out.bytes);
        assert_no_metadata(name, &first.thumbnail.bytes);

        assert_eq!(out.sha256, sha256_hex(&out.bytes));
        assert_eq!(out.sha256.len(), 64);
        assert_eq!(out.byte_len(), out.bytes.len() as u64);
        let second = process_photo(&source, &config).expect("second run");
        assert_eq!(first, second, "{name}: output differs between two runs");
    }
}

#[test]
fn kite_is_really_turned_180_degrees() {
    let source = photo("kite.jpg");
    let out = process_photo(&source, &PhotoConfig::default()).expect("kite");
    let upright = image::load_from_memory(&out.image.bytes)
        .expect("output decodes")
        .into_rgb8();
    // The plain decode ignores EXIF: the pixels as stored, upside down.
    let stored = image::load_from_memory(&source).expect("source decodes");
    let stored = stored
        .resize_exact(1600, 1200, image::imageops::FilterType::Triangle)
        .into_rgb8();

    let block = 80;
    let out_top_left = mean_rgb(&upright, 0, 0, block);
    let stored_bottom_right = mean_rgb(&stored, 1600 - block, 1200 - block, block);
    let stored_top_left = mean_rgb(&stored, 0, 0, block);
    assert!(
        distance(stored_top_left, stored_bottom_right) > 20.0,
        "test needs distinct corners: {stored_top_left:?} vs {stored_bottom_right:?}"
    );
    assert!(
        distance(out_top_left, stored_bottom_right) < 6.0,
        "top-left {out_top_left:?} should be the stored bottom-right {stored_bottom_right:?}"
    );
    assert!(distance(out_top_left, stored_top_left) > 20.0);
}

/// A `w`×`h` JPEG whose quadrants are red (top-left), green (top-right), blue (bottom-left) and
/// white (bottom-right), tagged with EXIF `orientation`.
fn quadrant_jpeg(w: u16, h: u16, orientation: u16) -> Vec<u8> {
    let mut pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let px: [u8; 3] = match (x < w / 2, y < h / 2) {
                (true, true) => [255, 0, 0],
                (false, true) => [0, 255, 0],
                (true, false) => [0, 0, 255],
                (false, false) => [255, 255, 255],
            };
            pixels.extend_from_slice(&px);
        }
    }
    // "Exif\0\0", big-endian TIFF header, one IFD with one SHORT entry: Orientation.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    encoder.add_app_segment(1, &exif).expect("app1");
    encoder
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .expect("encode");
    out
}

#[test]
fn all_eight_exif_orientations_are_applied() {
    const RED: [f64; 3] = [255.0, 0.0, 0.0];
    const GREEN: [f64; 3] = [0.0, 255.0, 0.0];
    const BLUE: [f64; 3] = [0.0, 0.0, 255.0];
    const WHITE: [f64; 3] = [255.0, 255.0, 255.0];
    // (orientation, displayed top-left colour, displayed top-right colour)
    let cases = [
        (1, RED, GREEN),
        (2, GREEN, RED),
        (3, WHITE, BLUE),
        (4, BLUE, WHITE),
        (5, RED, BLUE),
        (6, BLUE, RED),
        (7, WHITE, GREEN),
        (8, GREEN, WHITE),
    ];
    for (value, top_left, top_right) in cases {
        let source = quadrant_jpeg(96, 64, value);
        let out = process_photo(&source, &PhotoConfig::default()).expect("process");
        assert_eq!(out.source.orientation.exif_value(), value as u8);
        let expected_size = if value >= 5 { (64, 96) } else { (96, 64) };
        assert_eq!((out.image.width, out.image.height), expected_size);
        let img = image::load_from_memory(&out.image.bytes)
            .expect("decodes")
            .into_rgb8();
        let (w, _) = img.dimensions();
        let tl = mean_rgb(&img, 4, 4, 8);
        let tr = mean_rgb(&img, w - 12, 4, 8);
        assert!(
            distance(tl, top_left) < 40.0,
            "orientation {value}: top-left {tl:?}"
        );
        assert!(
            distance(tr, top_right) < 40.0,
            "orientation {value}: top-right {tr:?}"
        );
        assert_no_metadata("quadrants", &out.image.bytes);
    }
}

#[test]
fn bad_files_are_refused_with_their_code() {
    let config = PhotoConfig::default();
    // huge-dimensions.jpg: see tests/photo_huge.rs.
    let cases = [
        ("truncated.jpg", "photo.truncated"),
        ("not-an-image.jpg", "photo.not_an_image"),
    ];
    for (name, code) in cases {
        let err = process_photo(&photo(name), &config).expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        assert!(!err.message_zh().is_empty() && !err.message_en().is_empty());
        assert!(
            err.message_zh()
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        );
    }
    assert_eq!(
        process_photo(b"", &config).map_err(|e| e.code()),
        Err("photo.not_an_image")
    );
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    assert_eq!(
        process_photo(heic, &config).map_err(|e| e.code()),
        Err("photo.unsupported_format")
    );
}

#[test]
fn limits_and_config_are_checked() {
    let small_limit = PhotoConfig {
        max_pixels: 1_000_000,
        ..PhotoConfig::default()
    };
    let err = process_photo(&photo("fallenleaf.jpg"), &small_limit).expect_err("12 MP > 1 MP");
    assert_eq!(err.code(), "photo.too_large");
    let bad = PhotoConfig {
        jpeg_quality: 0,
        ..PhotoConfig::default()
    };
    let err = process_photo(&photo("fallenleaf.jpg"), &bad).expect_err("quality 0");
    assert_eq!(err.code(), "photo.invalid_config");
    let tiny_file = PhotoConfig {
        max_input_bytes: 1000,
        ..PhotoConfig::default()
    };
    let err = process_photo(&photo("fallenleaf.jpg"), &tiny_file).expect_err("file size");
    assert_eq!(err.code(), "photo.file_too_large");
}

#[test]
fn document_png_is_processed() {
    let out = process_photo(&photo("document.png"), &PhotoConfig::default()).expect("document");
    assert_eq!(out.source.format, SourceFormat::Png);
    assert_eq!((out.image.width, out.image.height), (1200, 1600));
    assert_eq!((out.thumbnail.width, out.thumbnail.height), (240, 320));
    assert_eq!(out.image.mime, "image/jpeg");
    assert_no_metadata("document.png", &out.image.bytes);
    assert_no_metadata("document.png thumbnail", &out.thumbnail.bytes);
    let again = process_photo(&photo("document.png"), &PhotoConfig::default()).expect("again");
    assert_eq!(out.image.sha256, again.image.sha256);
}

#[test]
fn webp_is_processed_and_custom_sizes_apply() {
    let img = image::RgbImage::from_fn(900, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut webp = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut webp), image::ImageFormat::WebP)
        .expect("encode webp");
    let config = PhotoConfig {
        longest_edge: 600,
        thumbnail_edge: 120,
        jpeg_quality: 70,
        ..PhotoConfig::default()
    };
    let out = process_photo(&webp, &config).expect("webp");
    assert_eq!(out.source.format, SourceFormat::WebP);
    assert_eq!((out.image.width, out.image.height), (600, 400));
    assert_eq!((out.thumbnail.width, out.thumbnail.height), (120, 80));
    assert_no_metadata("webp", &out.image.bytes);

    let truncated = &webp[..webp.len() / 2];
    assert_eq!(
        process_photo(truncated, &config).map_err(|e| e.code()),
        Err("photo.truncated")
    );
}

/// A 400×150 signature: a dark stroke on a transparent background, with text and time chunks a
/// signature pad might add.
fn signature_png() -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (400u32, 150u32);
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for x in 20..380u32 {
        let y = 75.0 + 40.0 * ((x as f64) / 30.0).sin();
        for dy in -2i32..=2 {
            let yy = (y as i32 + dy) as u32;
            let at = ((yy * w + x) * 4) as usize;
            rgba[at..at + 4].copy_from_slice(&[20, 20, 60, 255]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .add_text_chunk(
                "Author".to_owned(),
                "Zhang San 110101199003071234".to_owned(),
            )
            .expect("text");
        encoder
            .add_itxt_chunk("Comment".to_owned(), "签名于 36.0671 N".to_owned())
            .expect("itxt");
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&rgba).expect("data");
    }
    (out, rgba)
}

#[test]
fn signature_png_is_accepted_losslessly_without_metadata() {
    let (source, rgba) = signature_png();
    assert!(png_chunks(&source).iter().any(|c| c == "tEXt"));
    let out = process_signature(&source, &SignatureConfig::default()).expect("signature");
    let sig = &out.image;
    assert_eq!((sig.width, sig.height), (400, 150));
    assert_eq!(sig.mime, "image/png");
    assert_eq!(sig.sha256, sha256_hex(&sig.bytes));
    let chunks = png_chunks(&sig.bytes);
    for chunk in &chunks {
        assert!(
            ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"].contains(&chunk.as_str()),
            "chunk {chunk} left in signature: {chunks:?}"
        );
    }
    let decoded = image::load_from_memory(&sig.bytes)
        .expect("decodes")
        .into_rgba8();
    assert_eq!(decoded.into_raw(), rgba, "pixels changed");
    let again = process_signature(&source, &SignatureConfig::default()).expect("again");
    assert_eq!(out, again);
}

#[test]
fn non_png_signatures_are_refused() {
    let config = SignatureConfig::default();
    let jpeg = quadrant_jpeg(64, 32, 1);
    let err = process_signature(&jpeg, &config).expect_err("jpeg signature");
    assert_eq!(err.code(), "photo.signature_not_png");
    let err = process_signature(b"not a picture", &config).expect_err("text signature");
    assert_eq!(err.code(), "photo.not_an_image");
    let (source, _) = signature_png();
    let err = process_signature(&source[..source.len() - 40], &config).expect_err("truncated");
    assert_eq!(err.code(), "photo.truncated");
    let small = SignatureConfig {
        max_side: 200,
        ..SignatureConfig::default()
    };
    let err = process_signature(&source, &small).expect_err("too wide");
    assert_eq!(err.code(), "photo.too_large");
}
