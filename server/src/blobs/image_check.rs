//! Is an upload an image we accept? JPEG or PNG, dimensions within limits read from the header
//! before any pixel buffer is allocated, and a full decode under an allocation cap.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

/// Image limits, from the blob settings.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_side: u32,
    pub max_pixels: u64,
    /// Bytes the decoder may allocate.
    pub max_alloc: u64,
}

/// What the check learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageCheckError {
    #[error("not a JPEG or PNG image")]
    NotImage { reason: String },
    #[error("image of {width}×{height} exceeds the limits")]
    TooLarge { width: u32, height: u32 },
}

fn not_image(reason: impl std::fmt::Display) -> ImageCheckError {
    ImageCheckError::NotImage {
        reason: reason.to_string(),
    }
}

impl ImageLimits {
    fn reader<'a>(&self, bytes: &'a [u8], format: ImageFormat) -> ImageReader<Cursor<&'a [u8]>> {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.max_alloc);
        reader.limits(limits);
        reader
    }
}

/// Check `bytes` (CPU-heavy: call from a blocking task).
pub fn check(bytes: &[u8], limits: ImageLimits) -> Result<ImageInfo, ImageCheckError> {
    let format = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(not_image)?
        .format();
    let (format, mime) = match format {
        Some(ImageFormat::Jpeg) => (ImageFormat::Jpeg, "image/jpeg"),
        Some(ImageFormat::Png) => (ImageFormat::Png, "image/png"),
        other => return Err(not_image(format!("format {other:?}"))),
    };
    // The header alone (no pixel buffer): refuse huge declared sizes before any decoding.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.no_limits();
    let (width, height) = header.into_dimensions().map_err(not_image)?;
    if width == 0
        || height == 0
        || width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ImageCheckError::TooLarge { width, height });
    }
    // A JPEG that stops before its end-of-image marker is truncated, even where the decoder
    // would fill the missing rows with grey.
    if format == ImageFormat::Jpeg && !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err(not_image("JPEG without end-of-image marker (truncated)"));
    }
    match limits.reader(bytes, format).decode() {
        Ok(_) => Ok(ImageInfo {
            mime,
            width,
            height,
        }),
        Err(image::ImageError::Limits(_)) => Err(ImageCheckError::TooLarge { width, height }),
        Err(e) => Err(not_image(e)),
    }
}

/// Longest edge of the thumbnails served for lists (`?variant=thumb`), in pixels.
pub const THUMB_EDGE: u32 = 320;

/// A small copy of a stored image for lists: JPEG stays JPEG (quality 75), PNG stays PNG so that
/// a signature's transparency survives. Returns the bytes and their MIME type. CPU-heavy: call
/// from a blocking task.
pub fn thumbnail(
    bytes: &[u8],
    limits: ImageLimits,
    edge: u32,
) -> Result<(Vec<u8>, &'static str), ImageCheckError> {
    let format = image::guess_format(bytes).map_err(not_image)?;
    let img = limits.reader(bytes, format).decode().map_err(not_image)?;
    let small = if img.width() > edge || img.height() > edge {
        img.thumbnail(edge, edge)
    } else {
        img
    };
    let mut out = Cursor::new(Vec::new());
    let mime = match format {
        ImageFormat::Png => {
            small
                .write_to(&mut out, ImageFormat::Png)
                .map_err(not_image)?;
            "image/png"
        }
        _ => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 75);
            small.to_rgb8().write_with_encoder(enc).map_err(not_image)?;
            "image/jpeg"
        }
    };
    Ok((out.into_inner(), mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_side: 10_000,
        max_pixels: 40_000_000,
        max_alloc: 256 << 20,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::new(width, height);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn thumbnails_keep_format_and_shrink_to_the_edge() {
        let (t, mime) = thumbnail(&png(1000, 500), LIMITS, THUMB_EDGE).unwrap();
        assert_eq!(mime, "image/png");
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height()), (320, 160));
        let mut jpeg = Cursor::new(Vec::new());
        image::RgbImage::new(64, 48)
            .write_to(&mut jpeg, ImageFormat::Jpeg)
            .unwrap();
        let (t, mime) = thumbnail(jpeg.get_ref(), LIMITS, THUMB_EDGE).unwrap();
        assert_eq!(mime, "image/jpeg");
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (64, 48),
            "small images are not enlarged"
        );
        assert!(thumbnail(b"not an image", LIMITS, THUMB_EDGE).is_err());
    }

    #[test]
    fn accepts_png_and_refuses_text_and_truncation() {
        let p = png(40, 30);
        assert_eq!(
            check(&p, LIMITS).unwrap(),
            ImageInfo {
                mime: "image/png",
                width: 40,
                height: 30
            }
        );
        assert!(matches!(
            check(b"this is not an image\n", LIMITS),
            Err(ImageCheckError::NotImage { .. })
        ));
        assert!(matches!(
            check(&p[..p.len() / 2], LIMITS),
            Err(ImageCheckError::NotImage { .. })
        ));
        let small = ImageLimits {
            max_side: 20,
            ..LIMITS
        };
        assert!(matches!(
            check(&p, small),
            Err(ImageCheckError::TooLarge { .. })
        ));
    }
}
