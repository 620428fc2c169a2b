//! Encoders. Neither writes metadata: JPEG output is SOI, a plain JFIF APP0, tables, frame, scan,
//! EOI; PNG output is IHDR, IDAT and IEND (plus PLTE/tRNS where the colour type needs them).

use sha2::{Digest, Sha256};

use super::PhotoError;
use super::decode::Rgb8;

/// Baseline JPEG, 4:2:0 chroma below quality 90 and 4:4:4 from 90 up, standard (Annex K)
/// quantisation tables scaled by `quality`, standard Huffman tables and one interleaved scan.
///
/// Optimised Huffman tables would save a few per cent, but this encoder then writes one scan per
/// component, which some decoders (among them the `image` crate's) read with wrong colours.
pub(crate) fn jpeg(image: &Rgb8, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let fail = |detail: String| PhotoError::Encode { detail };
    let (Ok(width), Ok(height)) = (u16::try_from(image.width), u16::try_from(image.height)) else {
        return Err(fail(format!(
            "{}×{} is beyond what JPEG can hold",
            image.width, image.height
        )));
    };
    let mut out = Vec::with_capacity(image.pixels.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(if quality < 90 {
        jpeg_encoder::SamplingFactor::F_2_2
    } else {
        jpeg_encoder::SamplingFactor::F_1_1
    });
    encoder
        .encode(&image.pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| fail(format!("jpeg: {e}")))?;
    Ok(out)
}

/// Lossless PNG of `image`, keeping its colour type and bit depth; fixed settings, so the same
/// pixels always give the same bytes.
pub(crate) fn png(image: &image::DynamicImage) -> Result<Vec<u8>, PhotoError> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            image.as_bytes(),
            image.width(),
            image.height(),
            image.color().into(),
        )
        .map_err(|e| PhotoError::Encode {
            detail: format!("png: {e}"),
        })?;
    Ok(out)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
