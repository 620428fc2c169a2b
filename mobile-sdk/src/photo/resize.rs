//! Resampling with a Lanczos3 filter (`fast_image_resize`, SIMD where the CPU has it).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::PhotoError;
use super::decode::Rgb8;

/// Resize an RGB8 image to exactly `width` × `height` with Lanczos3 (sRGB values, as libvips
/// and ImageMagick do by default).
pub(crate) fn lanczos3(src: &Rgb8, width: u32, height: u32) -> Result<Rgb8, PhotoError> {
    let fail = |what: String| PhotoError::Encode {
        detail: format!("resize: {what}"),
    };
    let source = ImageRef::new(src.width, src.height, &src.pixels, PixelType::U8x3)
        .map_err(|e| fail(e.to_string()))?;
    let mut target = Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&source, &mut target, &options)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Rgb8 {
        width,
        height,
        pixels: target.into_vec(),
    })
}
