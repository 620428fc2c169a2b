//! Errors of the photo pipeline: a stable code for programs, a message a field worker can act on.

use super::SourceFormat;

/// Why a photo or signature was refused.
///
/// [`PhotoError::code`] is stable and meant for programs (the host app, the server, logs);
/// [`PhotoError::message_zh`] is what the grid worker (网格员) sees on the phone, and
/// [`PhotoError::message_en`] is the same in English. `Display` shows the Chinese text first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({})", self.message_zh(), self.message_en())]
pub enum PhotoError {
    /// The bytes are not an image at all (text, an empty file, ...).
    NotAnImage,
    /// The bytes are an image, but of a format the pipeline does not take (HEIC, GIF, ...).
    UnsupportedFormat {
        /// A short name of what was recognised, e.g. `"HEIC"`.
        detected: &'static str,
    },
    /// The file ends before the image does (an interrupted copy or save).
    Truncated,
    /// The image declares more pixels than the configured limit; refused before decoding.
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    /// The file is larger (in bytes) than the configured limit.
    FileTooLarge { bytes: u64, max_bytes: u64 },
    /// The image is damaged in a way other than truncation.
    Corrupt {
        /// What the decoder reported; for logs, not shown to the field worker.
        detail: String,
    },
    /// A signature (签名) must be a PNG image.
    SignatureNotPng { detected: SourceFormat },
    /// The configuration itself is invalid (a programming error of the host app).
    InvalidConfig { detail: String },
    /// Encoding the output failed; should not happen with a valid configuration.
    Encode { detail: String },
}

impl PhotoError {
    /// Stable machine-readable code, e.g. `photo.too_large`.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::NotAnImage => "photo.not_an_image",
            PhotoError::UnsupportedFormat { .. } => "photo.unsupported_format",
            PhotoError::Truncated => "photo.truncated",
            PhotoError::TooLarge { .. } => "photo.too_large",
            PhotoError::FileTooLarge { .. } => "photo.file_too_large",
            PhotoError::Corrupt { .. } => "photo.corrupt",
            PhotoError::SignatureNotPng { .. } => "photo.signature_not_png",
            PhotoError::InvalidConfig { .. } => "photo.invalid_config",
            PhotoError::Encode { .. } => "photo.encode_failed",
        }
    }

    /// Message for the field worker, in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            PhotoError::NotAnImage => {
                "这个文件不是图片,无法作为照片使用。请重新拍照或从相册选择照片。".to_owned()
            }
            PhotoError::UnsupportedFormat { detected } => format!(
                "不支持 {detected} 格式的图片(只支持 JPEG、PNG、WebP)。\
                 请在手机相机设置中把照片格式改为 JPEG(“兼容性最佳”)后重新拍照。"
            ),
            PhotoError::Truncated => {
                "照片文件不完整(保存或拷贝时被中断)。请重新拍照,或重新选择这张照片。".to_owned()
            }
            PhotoError::TooLarge {
                width,
                height,
                max_pixels,
                max_side,
            } => format!(
                "照片尺寸过大({width}×{height} 像素,上限为每边 {max_side} 像素、共 {} 万像素)。\
                 请在相机设置中降低分辨率后重新拍照。",
                max_pixels / 10_000
            ),
            PhotoError::FileTooLarge { bytes, max_bytes } => format!(
                "照片文件过大({} MB,上限 {} MB)。请在相机设置中降低分辨率后重新拍照。",
                bytes.div_ceil(1_000_000),
                max_bytes / 1_000_000
            ),
            PhotoError::Corrupt { .. } => "照片文件已损坏,无法读取。请重新拍照。".to_owned(),
            PhotoError::SignatureNotPng { .. } => {
                "签名必须是 PNG 图片。请在签名板上重新签名。".to_owned()
            }
            PhotoError::InvalidConfig { .. } => {
                "照片处理设置有误,请联系管理员更新应用。".to_owned()
            }
            PhotoError::Encode { .. } => "照片处理失败,请重试;如仍失败请联系管理员。".to_owned(),
        }
    }

    /// The same message in English.
    pub fn message_en(&self) -> String {
        match self {
            PhotoError::NotAnImage => {
                "This file is not an image. Take the photo again or pick one from the gallery."
                    .to_owned()
            }
            PhotoError::UnsupportedFormat { detected } => format!(
                "{detected} images are not supported (only JPEG, PNG and WebP). Set the camera to \
                 JPEG (\"Most compatible\") and take the photo again."
            ),
            PhotoError::Truncated => {
                "The photo file is incomplete (saving or copying was interrupted). Take the photo \
                 again or pick it again."
                    .to_owned()
            }
            PhotoError::TooLarge {
                width,
                height,
                max_pixels,
                max_side,
            } => format!(
                "The photo is too large ({width}×{height} pixels; the limit is {max_side} pixels per \
                 side and {:.1} megapixels). Lower the camera resolution and take it again.",
                *max_pixels as f64 / 1_000_000.0
            ),
            PhotoError::FileTooLarge { bytes, max_bytes } => format!(
                "The photo file is too large ({} MB; the limit is {} MB). Lower the camera \
                 resolution and take it again.",
                bytes.div_ceil(1_000_000),
                max_bytes / 1_000_000
            ),
            PhotoError::Corrupt { detail } => {
                format!("The photo file is damaged and cannot be read ({detail}). Take it again.")
            }
            PhotoError::SignatureNotPng { detected } => format!(
                "A signature must be a PNG image, not {}. Sign again on the signature pad.",
                detected.name()
            ),
            PhotoError::InvalidConfig { detail } => {
                format!("Invalid photo settings: {detail}. Update the app or contact an admin.")
            }
            PhotoError::Encode { detail } => {
                format!("Processing the photo failed ({detail}). Try again.")
            }
        }
    }
}
