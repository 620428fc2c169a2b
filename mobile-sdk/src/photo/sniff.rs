//! Recognising the format from the first bytes, never from a file name.

use super::{PhotoError, SourceFormat};

/// Decide what `bytes` are from their magic numbers.
///
/// Accepted formats come back as `Ok`; well-known image formats the pipeline does not take are
/// `UnsupportedFormat` (so the worker is told to switch the camera to JPEG rather than that the
/// file is not a picture); anything else is `NotAnImage`.
pub(crate) fn sniff(bytes: &[u8]) -> Result<SourceFormat, PhotoError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(SourceFormat::WebP);
    }
    if let Some(detected) = other_image_format(bytes) {
        return Err(PhotoError::UnsupportedFormat { detected });
    }
    // A prefix of a JPEG/PNG/WebP signature: the file stops inside the signature itself.
    let prefixes: [&[u8]; 3] = [&[0xFF, 0xD8, 0xFF], b"\x89PNG\r\n\x1a\n", b"RIFF"];
    if !bytes.is_empty() && prefixes.iter().any(|p| p.starts_with(bytes)) {
        return Err(PhotoError::Truncated);
    }
    Err(PhotoError::NotAnImage)
}

fn other_image_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        return match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Some("HEIC")
            }
            b"avif" | b"avis" => Some("AVIF"),
            _ => None,
        };
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some("GIF");
    }
    if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        return Some("BMP");
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some("TIFF");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_magic() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(SourceFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok(SourceFormat::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(SourceFormat::WebP));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Err(PhotoError::UnsupportedFormat { detected: "HEIC" })
        );
        assert_eq!(sniff(b"hello, world"), Err(PhotoError::NotAnImage));
        assert_eq!(sniff(b""), Err(PhotoError::NotAnImage));
        assert_eq!(sniff(&[0xFF, 0xD8]), Err(PhotoError::Truncated));
    }
}
