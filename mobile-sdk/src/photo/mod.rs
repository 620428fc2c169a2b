//! The photo pipeline (照片处理): what the phone does to a picture before it is stored and uploaded.
//!
//! [`process_photo`] takes the bytes the camera or gallery gave (JPEG, PNG or WebP), refuses what is
//! not an acceptable image before decoding any pixels, turns it upright by its EXIF orientation,
//! resizes it (Lanczos3) to [`PhotoConfig::longest_edge`], encodes a JPEG and a thumbnail made from
//! the resized image, and returns both with their SHA-256. Nothing of the source's metadata
//! survives: no EXIF (GPS, device serials, maker notes), XMP, ICC profile or comment. Capture time
//! and GPS are explicit fields of the visit document instead.
//!
//! [`process_signature`] takes a signature (签名) drawn on the phone as a PNG, validates it and
//! re-encodes it losslessly without metadata.
//!
//! Output is deterministic: the same input and configuration give the same bytes, hence the same
//! hash, on one device. (The SIMD paths of the resizer and encoder are chosen by CPU; two CPUs of
//! different families may round a few pixels differently. Blobs are addressed by the hash of the
//! bytes actually produced, so this never breaks addressing.)

mod decode;
mod encode;
mod error;
mod orientation;
mod resize;
mod sniff;

pub use encode::sha256_hex;
pub use error::PhotoError;
pub use orientation::Orientation;

use decode::{Limits, Rgb8, fit_within};

/// Settings of [`process_photo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoConfig {
    /// Longest edge of the output image in pixels; smaller images are never enlarged.
    pub longest_edge: u32,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
    /// Longest edge of the thumbnail in pixels.
    pub thumbnail_edge: u32,
    /// Largest accepted source, in pixels (width × height as declared in the header).
    pub max_pixels: u64,
    /// Largest accepted source width or height.
    pub max_side: u32,
    /// Largest accepted source file, in bytes.
    pub max_input_bytes: u64,
}

impl Default for PhotoConfig {
    fn default() -> Self {
        PhotoConfig {
            longest_edge: 1600,
            jpeg_quality: 80,
            thumbnail_edge: 320,
            max_pixels: 50_000_000,
            max_side: 20_000,
            max_input_bytes: 64 * 1024 * 1024,
        }
    }
}

impl PhotoConfig {
    fn validate(&self) -> Result<(), PhotoError> {
        let invalid = |detail: &str| {
            Err(PhotoError::InvalidConfig {
                detail: detail.to_owned(),
            })
        };
        if !(1..=100).contains(&self.jpeg_quality) {
            return invalid("jpeg_quality must be 1–100");
        }
        if !(16..=u32::from(u16::MAX)).contains(&self.longest_edge) {
            return invalid("longest_edge must be 16–65535");
        }
        if self.thumbnail_edge < 16 || self.thumbnail_edge > self.longest_edge {
            return invalid("thumbnail_edge must be at least 16 and at most longest_edge");
        }
        if self.max_pixels == 0 || self.max_side == 0 {
            return invalid("max_pixels and max_side must be positive");
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_pixels,
            max_side: self.max_side,
        }
    }
}

/// Settings of [`process_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureConfig {
    /// Largest accepted width or height.
    pub max_side: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Largest accepted file, in bytes.
    pub max_input_bytes: u64,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        SignatureConfig {
            max_side: 4096,
            max_pixels: 8_000_000,
            max_input_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The format a source was recognised as (by its bytes, never its file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
}

impl SourceFormat {
    /// Short display name.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "JPEG",
            SourceFormat::Png => "PNG",
            SourceFormat::WebP => "WebP",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            SourceFormat::Jpeg => image::ImageFormat::Jpeg,
            SourceFormat::Png => image::ImageFormat::Png,
            SourceFormat::WebP => image::ImageFormat::WebP,
        }
    }
}

/// One encoded output image, addressed by its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedImage {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`: the blob's address.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// `image/jpeg` or `image/png`.
    pub mime: &'static str,
}

impl EncodedImage {
    fn new(bytes: Vec<u8>, width: u32, height: u32, mime: &'static str) -> Self {
        EncodedImage {
            sha256: sha256_hex(&bytes),
            bytes,
            width,
            height,
            mime,
        }
    }

    /// Size of the file in bytes.
    pub fn byte_len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

impl std::fmt::Debug for EncodedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedImage")
            .field("sha256", &self.sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What was read from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub format: SourceFormat,
    /// Stored width and height, as declared in the header (before orientation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation found in the source (already applied to the output).
    pub orientation: Orientation,
}

/// Result of [`process_photo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The upright JPEG, longest edge at most [`PhotoConfig::longest_edge`].
    pub image: EncodedImage,
    /// The upright JPEG thumbnail, longest edge at most [`PhotoConfig::thumbnail_edge`].
    pub thumbnail: EncodedImage,
    pub source: SourceInfo,
}

/// Result of [`process_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedSignature {
    /// The PNG, same pixels as the input, no metadata chunks.
    pub image: EncodedImage,
}

const JPEG_MIME: &str = "image/jpeg";
const PNG_MIME: &str = "image/png";

/// Turn a photo from the camera or gallery into the stored image and its thumbnail.
pub fn process_photo(bytes: &[u8], config: &PhotoConfig) -> Result<ProcessedPhoto, PhotoError> {
    config.validate()?;
    check_file_size(bytes, config.max_input_bytes)?;
    let format = sniff::sniff(bytes)?;
    let decoded = decode::decode_photo(bytes, format, config.limits(), config.longest_edge)?;
    let orientation = decoded.orientation;

    // Target size in stored axes, computed from the declared size (not the DCT-scaled one).
    let (src_w, src_h) = (decoded.source_width, decoded.source_height);
    let (shown_w, shown_h) = orientation.displayed_size(src_w, src_h);
    let (target_w, target_h) = fit_within(shown_w, shown_h, config.longest_edge);
    let (stored_w, stored_h) = orientation.displayed_size(target_w, target_h);

    let resized = resize_to(decoded.image, stored_w, stored_h)?;
    let (pixels, width, height) = orientation::apply(
        orientation,
        resized.pixels,
        resized.width,
        resized.height,
        3,
    );
    let upright = Rgb8 {
        pixels,
        width,
        height,
    };

    let (thumb_w, thumb_h) = fit_within(width, height, config.thumbnail_edge);
    // The thumbnail is made from the resized image, not from the source: far fewer pixels.
    let small = if (thumb_w, thumb_h) == (width, height) {
        None
    } else {
        Some(resize::lanczos3(&upright, thumb_w, thumb_h)?)
    };
    let thumbnail_jpeg = encode::jpeg(small.as_ref().unwrap_or(&upright), config.jpeg_quality)?;
    let image_jpeg = encode::jpeg(&upright, config.jpeg_quality)?;

    Ok(ProcessedPhoto {
        image: EncodedImage::new(image_jpeg, width, height, JPEG_MIME),
        thumbnail: EncodedImage::new(thumbnail_jpeg, thumb_w, thumb_h, JPEG_MIME),
        source: SourceInfo {
            format,
            width: src_w,
            height: src_h,
            orientation,
        },
    })
}

/// Validate a signature PNG from the signature pad and re-encode it losslessly without metadata.
pub fn process_signature(
    bytes: &[u8],
    config: &SignatureConfig,
) -> Result<ProcessedSignature, PhotoError> {
    check_file_size(bytes, config.max_input_bytes)?;
    match sniff::sniff(bytes)? {
        SourceFormat::Png => {}
        other => return Err(PhotoError::SignatureNotPng { detected: other }),
    }
    let limits = Limits {
        max_pixels: config.max_pixels,
        max_side: config.max_side,
    };
    let image = decode::decode_png_lossless(bytes, limits)?;
    let png = encode::png(&image)?;
    Ok(ProcessedSignature {
        image: EncodedImage::new(png, image.width(), image.height(), PNG_MIME),
    })
}

fn check_file_size(bytes: &[u8], max_bytes: u64) -> Result<(), PhotoError> {
    let len = bytes.len() as u64;
    if len > max_bytes {
        return Err(PhotoError::FileTooLarge {
            bytes: len,
            max_bytes,
        });
    }
    Ok(())
}

fn resize_to(image: Rgb8, width: u32, height: u32) -> Result<Rgb8, PhotoError> {
    if (image.width, image.height) == (width, height) {
        Ok(image)
    } else {
        resize::lanczos3(&image, width, height)
    }
}
