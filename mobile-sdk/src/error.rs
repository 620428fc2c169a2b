//! The public error of the SDK: a small enum with stable codes and messages in Chinese and
//! English. Internal errors (SQLite, automerge, HTTP) are mapped to it at the boundary.

use crate::photo::PhotoError;

/// What went wrong, as the app sees it. `code()` is stable; `message_zh()` is for the user,
/// `message_en()` for logs and English-speaking developers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DoudiError {
    /// No connection to the server (or it did not answer). Retry later; nothing is lost.
    #[error("network: {detail}")]
    Network { detail: String },
    /// The user must log in again (wrong password, session ended, refresh token spent).
    #[error("unauthorized ({error_code}): {detail}")]
    Unauthorized { error_code: String, detail: String },
    /// This phone was revoked by an administrator; the local store has been wiped.
    #[error("device revoked; local data wiped")]
    Revoked,
    /// An argument is not acceptable.
    #[error("invalid {field}: {message_en}")]
    InvalidInput {
        field: String,
        message_zh: String,
        message_en: String,
    },
    /// The record does not exist on this phone.
    #[error("{what} {id} not found")]
    NotFound { what: String, id: String },
    /// The local store failed (disk full, corrupt file).
    #[error("storage: {detail}")]
    Storage { detail: String },
    /// The key given to `open` does not decrypt this store.
    #[error("the key does not open this store")]
    WrongKey,
    /// The record cannot be changed in its current state (e.g. a submitted visit).
    #[error("conflict ({error_code}): {message_en}")]
    Conflict {
        error_code: String,
        message_zh: String,
        message_en: String,
    },
    /// The server refused the request with a stable code.
    #[error("server {status} {error_code}: {message_en}")]
    Server {
        status: u16,
        error_code: String,
        message_zh: String,
        message_en: String,
    },
    /// The server no longer speaks this app's protocol: update the app.
    #[error("protocol upgrade required")]
    UpgradeRequired,
    /// Nobody is logged in on this phone.
    #[error("not logged in")]
    NotLoggedIn,
    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A bug in the SDK; the message says where.
    #[error("internal: {detail}")]
    Internal { detail: String },
}

#[uniffi::export]
impl DoudiError {
    /// Stable machine-readable code, e.g. `network`, `input.invalid`, or the server's code
    /// (`error_code` of the variants that carry one).
    pub fn code(&self) -> String {
        match self {
            DoudiError::Network { .. } => "network".into(),
            DoudiError::Unauthorized { error_code, .. } => error_code.clone(),
            DoudiError::Revoked => "auth.device_revoked".into(),
            DoudiError::InvalidInput { .. } => "input.invalid".into(),
            DoudiError::NotFound { .. } => "not_found".into(),
            DoudiError::Storage { .. } => "storage".into(),
            DoudiError::WrongKey => "storage.wrong_key".into(),
            DoudiError::Conflict { error_code, .. } | DoudiError::Server { error_code, .. } => {
                error_code.clone()
            }
            DoudiError::UpgradeRequired => "sync.upgrade_required".into(),
            DoudiError::NotLoggedIn => "auth.not_logged_in".into(),
            DoudiError::Cancelled => "cancelled".into(),
            DoudiError::Internal { .. } => "internal".into(),
        }
    }

    /// What to tell the user, in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            DoudiError::Network { .. } => "网络不可用，数据已保存在手机上，稍后会自动同步".into(),
            DoudiError::Unauthorized { .. } => "登录已失效，请重新登录".into(),
            DoudiError::Revoked => "此设备已被管理员停用，本机数据已清除".into(),
            DoudiError::InvalidInput {
                field, message_zh, ..
            } => format!("{field}：{message_zh}"),
            DoudiError::NotFound { .. } => "未找到该记录".into(),
            DoudiError::Storage { .. } => "本机存储出错，请检查手机存储空间".into(),
            DoudiError::WrongKey => "无法打开本机数据：密钥不正确".into(),
            DoudiError::Conflict { message_zh, .. } | DoudiError::Server { message_zh, .. } => {
                message_zh.clone()
            }
            DoudiError::UpgradeRequired => "服务器已升级，请更新应用".into(),
            DoudiError::NotLoggedIn => "请先登录".into(),
            DoudiError::Cancelled => "已取消".into(),
            DoudiError::Internal { .. } => "程序内部错误，请联系技术支持".into(),
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        match self {
            DoudiError::InvalidInput {
                field, message_en, ..
            } => format!("{field}: {message_en}"),
            DoudiError::Conflict { message_en, .. } | DoudiError::Server { message_en, .. } => {
                message_en.clone()
            }
            other => other.to_string(),
        }
    }
}

impl DoudiError {
    pub(crate) fn invalid(field: &str, zh: &str, en: &str) -> DoudiError {
        DoudiError::InvalidInput {
            field: field.to_owned(),
            message_zh: zh.to_owned(),
            message_en: en.to_owned(),
        }
    }

    pub(crate) fn not_found(what: &str, id: &str) -> DoudiError {
        DoudiError::NotFound {
            what: what.to_owned(),
            id: id.to_owned(),
        }
    }

    pub(crate) fn internal(detail: impl std::fmt::Display) -> DoudiError {
        DoudiError::Internal {
            detail: detail.to_string(),
        }
    }
}

impl From<rusqlite::Error> for DoudiError {
    fn from(e: rusqlite::Error) -> Self {
        DoudiError::Storage {
            detail: e.to_string(),
        }
    }
}

impl From<doudi_protocol::doc::DocError> for DoudiError {
    fn from(e: doudi_protocol::doc::DocError) -> Self {
        DoudiError::internal(format!("document: {e}"))
    }
}

impl From<automerge::AutomergeError> for DoudiError {
    fn from(e: automerge::AutomergeError) -> Self {
        DoudiError::internal(format!("automerge: {e}"))
    }
}

impl From<PhotoError> for DoudiError {
    fn from(e: PhotoError) -> Self {
        DoudiError::invalid("photo", "照片无法处理，请重新拍摄", &e.to_string())
    }
}

pub type Result<T, E = DoudiError> = std::result::Result<T, E>;
