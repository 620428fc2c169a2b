//! Decoding with limits: headers first, pixels only once the declared size is acceptable.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{ImageDecoder, ImageReader};

use super::orientation::{self, Orientation};
use super::{PhotoError, SourceFormat};

/// Limits checked against the header before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Limits {
    pub(crate) fn check(&self, width: u32, height: u32) -> Result<(), PhotoError> {
        if width == 0 || height == 0 {
            return Err(PhotoError::Corrupt {
                detail: "zero width or height".to_owned(),
            });
        }
        if width > self.max_side
            || height > self.max_side
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(PhotoError::TooLarge {
                width,
                height,
                max_pixels: self.max_pixels,
                max_side: self.max_side,
            });
        }
        Ok(())
    }

    /// Bytes a decoder may allocate for an image of this many pixels, with room for its own work.
    fn alloc_budget(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }
}

/// An upright-to-be RGB8 image: `pixels` are stored as in the file; `orientation` says how to
/// turn them for display.
#[derive(Debug)]
pub(crate) struct Rgb8 {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug)]
pub(crate) struct DecodedPhoto {
    pub image: Rgb8,
    pub orientation: Orientation,
    /// Size declared by the file, before any DCT scaling.
    pub source_width: u32,
    pub source_height: u32,
}

/// Size `(width, height)` scaled so the longest edge is at most `longest` (never enlarged).
pub(crate) fn fit_within(width: u32, height: u32, longest: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= longest {
        return (width, height);
    }
    let scale = |v: u32| -> u32 {
        let scaled = (u64::from(v) * u64::from(longest) + u64::from(long) / 2) / u64::from(long);
        (scaled as u32).max(1)
    };
    (scale(width), scale(height))
}

/// Decode a photo so that its stored-axis size is at least `target` (stored axes), using JPEG DCT
/// scaling where that saves work.
pub(crate) fn decode_photo(
    bytes: &[u8],
    format: SourceFormat,
    limits: Limits,
    displayed_target_edge: u32,
) -> Result<DecodedPhoto, PhotoError> {
    guard(|| match format {
        SourceFormat::Jpeg => decode_jpeg(bytes, limits, displayed_target_edge),
        SourceFormat::Png | SourceFormat::WebP => decode_generic(bytes, format, limits),
    })
}

/// Run a decoder; a panic inside a third-party decoder becomes a `Corrupt` error instead of
/// crossing the FFI boundary.
fn guard<T>(f: impl FnOnce() -> Result<T, PhotoError>) -> Result<T, PhotoError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(PhotoError::Corrupt {
            detail: "decoder failed unexpectedly".to_owned(),
        })
    })
}

fn decode_jpeg(
    bytes: &[u8],
    limits: Limits,
    displayed_target_edge: u32,
) -> Result<DecodedPhoto, PhotoError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(jpeg_error)?;
    let Some(info) = decoder.info() else {
        return Err(PhotoError::Corrupt {
            detail: "no frame header".to_owned(),
        });
    };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    limits.check(width, height)?;
    let orientation = decoder
        .exif_data()
        .map(orientation::from_exif_block)
        .unwrap_or_default();

    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8 => {}
        // CMYK and 16-bit JPEGs never come from a phone camera; take the general path.
        _ => return decode_generic(bytes, SourceFormat::Jpeg, limits),
    }

    // Smallest IDCT scale (8/8, 4/8, 2/8, 1/8) whose output still covers the target on both axes.
    let (target_w, target_h) = fit_within(width, height, displayed_target_edge);
    let scaled = |len: u32, eighths: u32| (len * eighths).div_ceil(8);
    let eighths = [1u32, 2, 4]
        .into_iter()
        .find(|&e| scaled(width, e) >= target_w && scaled(height, e) >= target_h)
        .unwrap_or(8);
    if eighths < 8 {
        let (w, h) = (scaled(width, eighths), scaled(height, eighths));
        // Both fit in u16: they are at most the header's u16 values.
        decoder.scale(w as u16, h as u16).map_err(jpeg_error)?;
    }
    let Some(info) = decoder.info() else {
        return Err(PhotoError::Corrupt {
            detail: "no frame header".to_owned(),
        });
    };
    let (out_w, out_h) = (u32::from(info.width), u32::from(info.height));
    let budget = usize::try_from(limits.alloc_budget()).unwrap_or(usize::MAX);
    decoder.set_max_decoding_buffer_size(budget);
    let pixels = decoder.decode().map_err(jpeg_error)?;

    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        _ => pixels,
    };
    if pixels.len() != out_w as usize * out_h as usize * 3 {
        return Err(PhotoError::Corrupt {
            detail: "decoded size does not match the header".to_owned(),
        });
    }
    Ok(DecodedPhoto {
        image: Rgb8 {
            pixels,
            width: out_w,
            height: out_h,
        },
        orientation,
        source_width: width,
        source_height: height,
    })
}

fn jpeg_error(e: jpeg_decoder::Error) -> PhotoError {
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        jpeg_decoder::Error::Unsupported(feature) => PhotoError::UnsupportedFormat {
            detected: match feature {
                jpeg_decoder::UnsupportedFeature::ArithmeticEntropyCoding => {
                    "JPEG (arithmetic coding)"
                }
                jpeg_decoder::UnsupportedFeature::Hierarchical => "JPEG (hierarchical)",
                _ => "JPEG (unusual variant)",
            },
        },
        other => PhotoError::Corrupt {
            detail: other.to_string(),
        },
    }
}

/// Open an image through the `image` crate with its allocation limits, after checking the
/// header's size against ours.
fn open_generic<'a>(
    bytes: &'a [u8],
    format: SourceFormat,
    limits: Limits,
) -> Result<impl ImageDecoder + 'a, PhotoError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    // Dimensions are checked by us (to report them); the crate enforces the allocation cap.
    let mut image_limits = image::Limits::no_limits();
    image_limits.max_alloc = Some(limits.alloc_budget());
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    Ok(decoder)
}

fn decode_generic(
    bytes: &[u8],
    format: SourceFormat,
    limits: Limits,
) -> Result<DecodedPhoto, PhotoError> {
    if format == SourceFormat::WebP && webp_declares_more(bytes) {
        return Err(PhotoError::Truncated);
    }
    let mut decoder = open_generic(bytes, format, limits)?;
    let (width, height) = decoder.dimensions();
    let orientation = match decoder.exif_metadata() {
        Ok(Some(exif)) => orientation::from_exif_block(strip_exif_prefix(&exif)),
        _ => Orientation::Normal,
    };
    let image = image::DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let rgb = flatten_on_white(image);
    Ok(DecodedPhoto {
        image: Rgb8 {
            width: rgb.width(),
            height: rgb.height(),
            pixels: rgb.into_raw(),
        },
        orientation,
        source_width: width,
        source_height: height,
    })
}

/// Decode a PNG keeping its colour type (for signatures), after the header checks.
pub(crate) fn decode_png_lossless(
    bytes: &[u8],
    limits: Limits,
) -> Result<image::DynamicImage, PhotoError> {
    guard(|| {
        let decoder = open_generic(bytes, SourceFormat::Png, limits)?;
        image::DynamicImage::from_decoder(decoder).map_err(image_error)
    })
}

/// Whether the RIFF header of a WebP file declares more bytes than there are.
fn webp_declares_more(bytes: &[u8]) -> bool {
    match bytes.get(4..8) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])) + 8 > bytes.len() as u64,
        _ => true,
    }
}

fn strip_exif_prefix(exif: &[u8]) -> &[u8] {
    exif.strip_prefix(b"Exif\0\0").unwrap_or(exif)
}

/// RGB8 with any transparency composited over white (a document or screenshot with an alpha
/// channel reads as on paper, not on black).
fn flatten_on_white(image: image::DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        let a = u32::from(a);
        for c in [r, g, b] {
            let v = (u32::from(c) * a + 255 * (255 - a) + 127) / 255;
            out.push(v as u8);
        }
    }
    // The buffer has exactly w * h * 3 bytes.
    image::RgbImage::from_raw(w, h, out).unwrap_or_default()
}

fn image_error(e: image::ImageError) -> PhotoError {
    use image::ImageError;
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        ImageError::Decoding(d) if looks_truncated(&d.to_string()) => PhotoError::Truncated,
        ImageError::Limits(l) => PhotoError::Corrupt {
            detail: format!("decoder limit: {l}"),
        },
        ImageError::Unsupported(u) => PhotoError::UnsupportedFormat {
            detected: match u.format_hint() {
                image::error::ImageFormatHint::Exact(image::ImageFormat::Png) => {
                    "PNG (unusual variant)"
                }
                image::error::ImageFormatHint::Exact(image::ImageFormat::WebP) => {
                    "WebP (unusual variant)"
                }
                _ => "unknown",
            },
        },
        other => PhotoError::Corrupt {
            detail: other.to_string(),
        },
    }
}

fn looks_truncated(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unexpected eof") || m.contains("unexpected end") || m.contains("truncated")
}
