//! The HTTP error: a stable code and a message in Chinese and English.
//!
//! Internal details (database errors, I/O) are logged with a reference and never sent to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every error the API can return. The code string is stable: clients switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    MalformedJson,
    UnknownField,
    InvalidRequest,
    BodyTooLarge,
    UnsupportedMediaType,
    InvalidCredentials,
    RateLimited,
    TokenMissing,
    TokenInvalid,
    TokenExpired,
    RefreshInvalid,
    RefreshReused,
    SessionEnded,
    DeviceRevoked,
    AccountDisabled,
    Denied,
    NotFound,
    UnknownRegion,
    RegionCsvInvalid,
    UsernameTaken,
    BlobHashInvalid,
    BlobBatchTooLarge,
    BlobOffsetMismatch,
    BlobTooLarge,
    BlobHashMismatch,
    BlobNotImage,
    BlobImageTooLarge,
    BlobRangeNotSatisfiable,
    BlobNotUploaded,
    Timeout,
    Unavailable,
    Internal,
    UpgradeRequired,
    BatchTooLarge,
    MalformedSyncBody,
    PolicyInvalid,
    ReviewWrongState,
    ReviewCommentRequired,
    ReviewConflictsOpen,
    ReviewAwardInvalid,
    ReviewNoticeRunning,
    ReviewObjectionOpen,
    ReviewCountyVisitRequired,
    ReportWrongState,
    ReportHouseholdInvalid,
    ReportVisitMissing,
    TaskAssigneeInvalid,
    CsrfInvalid,
    MethodNotAllowed,
    ImportInvalid,
    ImportTooLarge,
    ImportTooManyRows,
    ImportFormatUnknown,
    AlertWrongState,
    TempAidWrongState,
    TempAidReportHasCase,
    TempAidPaymentExceedsApproval,
    TempAidMeetingRecordRequired,
    EnrolmentCodeInvalid,
    EnrolmentCodeUsed,
    EnrolmentCodeExpired,
    EnrolmentCodeRevoked,
}

impl Code {
    pub const ALL: [Code; 62] = [
        Code::MalformedJson,
        Code::UnknownField,
        Code::InvalidRequest,
        Code::BodyTooLarge,
        Code::UnsupportedMediaType,
        Code::InvalidCredentials,
        Code::RateLimited,
        Code::TokenMissing,
        Code::TokenInvalid,
        Code::TokenExpired,
        Code::RefreshInvalid,
        Code::RefreshReused,
        Code::SessionEnded,
        Code::DeviceRevoked,
        Code::AccountDisabled,
        Code::Denied,
        Code::NotFound,
        Code::UnknownRegion,
        Code::RegionCsvInvalid,
        Code::UsernameTaken,
        Code::BlobHashInvalid,
        Code::BlobBatchTooLarge,
        Code::BlobOffsetMismatch,
        Code::BlobTooLarge,
        Code::BlobHashMismatch,
        Code::BlobNotImage,
        Code::BlobImageTooLarge,
        Code::BlobRangeNotSatisfiable,
        Code::BlobNotUploaded,
        Code::Timeout,
        Code::Unavailable,
        Code::Internal,
        Code::UpgradeRequired,
        Code::BatchTooLarge,
        Code::MalformedSyncBody,
        Code::PolicyInvalid,
        Code::ReviewWrongState,
        Code::ReviewCommentRequired,
        Code::ReviewConflictsOpen,
        Code::ReviewAwardInvalid,
        Code::ReviewNoticeRunning,
        Code::ReviewObjectionOpen,
        Code::ReviewCountyVisitRequired,
        Code::ReportWrongState,
        Code::ReportHouseholdInvalid,
        Code::ReportVisitMissing,
        Code::TaskAssigneeInvalid,
        Code::CsrfInvalid,
        Code::MethodNotAllowed,
        Code::ImportInvalid,
        Code::ImportTooLarge,
        Code::ImportTooManyRows,
        Code::ImportFormatUnknown,
        Code::AlertWrongState,
        Code::TempAidWrongState,
        Code::TempAidReportHasCase,
        Code::TempAidPaymentExceedsApproval,
        Code::TempAidMeetingRecordRequired,
        Code::EnrolmentCodeInvalid,
        Code::EnrolmentCodeUsed,
        Code::EnrolmentCodeExpired,
        Code::EnrolmentCodeRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "request.malformed_json",
            Code::UnknownField => "request.unknown_field",
            Code::InvalidRequest => "request.invalid",
            Code::BodyTooLarge => "request.body_too_large",
            Code::UnsupportedMediaType => "request.unsupported_media_type",
            Code::InvalidCredentials => "auth.invalid_credentials",
            Code::RateLimited => "auth.rate_limited",
            Code::TokenMissing => "auth.token_missing",
            Code::TokenInvalid => "auth.token_invalid",
            Code::TokenExpired => "auth.token_expired",
            Code::RefreshInvalid => "auth.refresh_invalid",
            Code::RefreshReused => "auth.refresh_reused",
            Code::SessionEnded => "auth.session_ended",
            Code::DeviceRevoked => "auth.device_revoked",
            Code::AccountDisabled => "auth.account_disabled",
            Code::Denied => "policy.denied",
            Code::NotFound => "not_found",
            Code::UnknownRegion => "region.unknown",
            Code::RegionCsvInvalid => "region.csv_invalid",
            Code::UsernameTaken => "account.username_taken",
            Code::BlobHashInvalid => "blob.hash_invalid",
            Code::BlobBatchTooLarge => "blob.batch_too_large",
            Code::BlobOffsetMismatch => "blob.offset_mismatch",
            Code::BlobTooLarge => "blob.too_large",
            Code::BlobHashMismatch => "blob.hash_mismatch",
            Code::BlobNotImage => "blob.not_image",
            Code::BlobImageTooLarge => "blob.image_too_large",
            Code::BlobRangeNotSatisfiable => "blob.range_not_satisfiable",
            Code::BlobNotUploaded => "blob.not_uploaded",
            Code::Timeout => "request.timeout",
            Code::Unavailable => "server.unavailable",
            Code::Internal => "server.internal",
            Code::UpgradeRequired => "sync.upgrade_required",
            Code::BatchTooLarge => "sync.batch_too_large",
            Code::MalformedSyncBody => "sync.malformed_body",
            Code::PolicyInvalid => "policy.invalid",
            Code::ReviewWrongState => "review.wrong_state",
            Code::ReviewCommentRequired => "review.comment_required",
            Code::ReviewConflictsOpen => "review.conflicts_open",
            Code::ReviewAwardInvalid => "review.award_invalid",
            Code::ReviewNoticeRunning => "review.notice_running",
            Code::ReviewObjectionOpen => "review.objection_open",
            Code::ReviewCountyVisitRequired => "review.county_visit_required",
            Code::ReportWrongState => "report.wrong_state",
            Code::ReportHouseholdInvalid => "report.household_invalid",
            Code::ReportVisitMissing => "report.visit_missing",
            Code::TaskAssigneeInvalid => "task.assignee_invalid",
            Code::CsrfInvalid => "console.csrf_invalid",
            Code::MethodNotAllowed => "request.method_not_allowed",
            Code::ImportInvalid => "import.invalid",
            Code::ImportTooLarge => "import.too_large",
            Code::ImportTooManyRows => "import.too_many_rows",
            Code::ImportFormatUnknown => "import.format_unknown",
            Code::AlertWrongState => "alert.wrong_state",
            Code::TempAidWrongState => "temp_aid.wrong_state",
            Code::TempAidReportHasCase => "temp_aid.report_has_case",
            Code::TempAidPaymentExceedsApproval => "temp_aid.payment_exceeds_approval",
            Code::TempAidMeetingRecordRequired => "temp_aid.meeting_record_required",
            Code::EnrolmentCodeInvalid => "auth.enrolment_code_invalid",
            Code::EnrolmentCodeUsed => "auth.enrolment_code_used",
            Code::EnrolmentCodeExpired => "auth.enrolment_code_expired",
            Code::EnrolmentCodeRevoked => "auth.enrolment_code_revoked",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::MalformedJson | Code::UnknownField | Code::InvalidRequest => {
                StatusCode::BAD_REQUEST
            }
            Code::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidCredentials
            | Code::TokenMissing
            | Code::TokenInvalid
            | Code::TokenExpired
            | Code::RefreshInvalid
            | Code::RefreshReused
            | Code::SessionEnded
            | Code::EnrolmentCodeInvalid => StatusCode::UNAUTHORIZED,
            Code::EnrolmentCodeUsed | Code::EnrolmentCodeExpired | Code::EnrolmentCodeRevoked => {
                StatusCode::GONE
            }
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::DeviceRevoked | Code::AccountDisabled | Code::Denied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::UnknownRegion | Code::RegionCsvInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UsernameTaken | Code::BlobOffsetMismatch => StatusCode::CONFLICT,
            Code::BlobHashInvalid | Code::BlobBatchTooLarge => StatusCode::BAD_REQUEST,
            Code::BlobTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::BlobHashMismatch | Code::BlobNotImage | Code::BlobImageTooLarge => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Code::BlobRangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::BlobNotUploaded => StatusCode::CONFLICT,
            Code::Timeout => StatusCode::REQUEST_TIMEOUT,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Code::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::MalformedSyncBody => StatusCode::BAD_REQUEST,
            Code::PolicyInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ReviewWrongState
            | Code::ReviewConflictsOpen
            | Code::ReviewNoticeRunning
            | Code::ReviewObjectionOpen
            | Code::ReviewCountyVisitRequired
            | Code::ReportWrongState
            | Code::ReportVisitMissing => StatusCode::CONFLICT,
            Code::ReportHouseholdInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ReviewCommentRequired | Code::ReviewAwardInvalid | Code::TaskAssigneeInvalid => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Code::CsrfInvalid => StatusCode::FORBIDDEN,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::ImportInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ImportTooLarge | Code::ImportTooManyRows => StatusCode::PAYLOAD_TOO_LARGE,
            Code::ImportFormatUnknown => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::AlertWrongState => StatusCode::CONFLICT,
            Code::TempAidWrongState | Code::TempAidReportHasCase => StatusCode::CONFLICT,
            Code::TempAidPaymentExceedsApproval | Code::TempAidMeetingRecordRequired => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    }

    /// The code of an error answer made below the handlers (routing, extractors) with `status`.
    pub fn for_status(status: StatusCode) -> Code {
        match status {
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Code::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Code::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => Code::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            s if s.is_server_error() => Code::Internal,
            _ => Code::InvalidRequest,
        }
    }

    /// (Chinese, English) default messages.
    pub fn messages(self) -> (&'static str, &'static str) {
        match self {
            Code::MalformedJson => (
                "请求内容格式错误，无法解析。",
                "The request body is not valid JSON.",
            ),
            Code::UnknownField => (
                "请求中含有未知字段。",
                "The request contains a field this server does not know.",
            ),
            Code::InvalidRequest => (
                "请求内容不完整或有误。",
                "The request is incomplete or invalid.",
            ),
            Code::BodyTooLarge => ("提交的内容过大。", "The request body is too large."),
            Code::UnsupportedMediaType => (
                "不支持的内容类型。",
                "The request's content type is not supported.",
            ),
            Code::InvalidCredentials => {
                ("用户名或密码错误。", "The user name or password is wrong.")
            }
            Code::RateLimited => (
                "登录失败次数过多，请稍后再试。",
                "Too many failed logins. Please wait and try again.",
            ),
            Code::TokenMissing => ("请先登录。", "Please log in."),
            Code::TokenInvalid => (
                "登录凭证无效，请重新登录。",
                "The access token is invalid. Please log in again.",
            ),
            Code::TokenExpired => ("登录已过期，请重新登录。", "The access token has expired."),
            Code::RefreshInvalid => (
                "登录已失效，请重新登录。",
                "The refresh token is not valid. Please log in again.",
            ),
            Code::RefreshReused => (
                "检测到登录凭证被重复使用，该设备已被停用，请联系管理员。",
                "A refresh token was used twice; this device has been revoked. Contact your administrator.",
            ),
            Code::SessionEnded => (
                "您已退出登录，请重新登录。",
                "This session has ended. Please log in again.",
            ),
            Code::DeviceRevoked => (
                "该设备已被停用，请联系管理员。",
                "This device has been revoked. Contact your administrator.",
            ),
            Code::AccountDisabled => (
                "账号已停用，请联系管理员。",
                "This account is disabled. Contact your administrator.",
            ),
            Code::Denied => ("您无权进行此操作。", "You are not allowed to do this."),
            Code::NotFound => ("未找到。", "Not found."),
            Code::UnknownRegion => ("区划代码不存在。", "Unknown region code."),
            Code::RegionCsvInvalid => (
                "区划文件有错误，未导入任何内容。请按行号修改后重新导入。",
                "The region file has errors; nothing was imported. Fix the listed lines and import again.",
            ),
            Code::UsernameTaken => ("该用户名已被使用。", "This user name is already taken."),
            Code::BlobHashInvalid => (
                "文件标识无效：应为 64 位小写十六进制 SHA-256。",
                "Invalid blob id: expected a SHA-256 as 64 lowercase hex characters.",
            ),
            Code::BlobBatchTooLarge => (
                "一次查询的文件过多，请分批查询。",
                "Too many hashes in one request; split them into smaller batches.",
            ),
            Code::BlobOffsetMismatch => (
                "上传位置与服务器不一致，请从服务器给出的位置继续上传。",
                "The upload offset does not match the server's; resume from the offset it gives.",
            ),
            Code::BlobTooLarge => ("文件过大。", "The file is too large."),
            Code::BlobHashMismatch => (
                "文件内容与其 SHA-256 不符，已丢弃，请重新上传。",
                "The content does not match its SHA-256; it was discarded. Upload it again.",
            ),
            Code::BlobNotImage => (
                "文件不是完整的 JPEG 或 PNG 图片，已丢弃。",
                "The file is not a complete JPEG or PNG image; it was discarded.",
            ),
            Code::BlobImageTooLarge => (
                "图片尺寸超出限制，已丢弃。",
                "The image's dimensions exceed the limits; it was discarded.",
            ),
            Code::BlobRangeNotSatisfiable => (
                "请求的字节范围超出文件大小。",
                "The requested byte range lies outside the file.",
            ),
            Code::BlobNotUploaded => (
                "所指的照片尚未由您上传，请先上传照片。",
                "You have not uploaded the photo named: upload it first.",
            ),
            Code::Timeout => (
                "请求超时，请重试。",
                "The request took too long. Please try again.",
            ),
            Code::Unavailable => (
                "服务暂时不可用，请稍后再试。",
                "The service is unavailable. Please try later.",
            ),
            Code::Internal => (
                "服务器内部错误，请稍后再试。",
                "Internal server error. Please try later.",
            ),
            Code::UpgradeRequired => (
                "应用版本过旧，请更新后再同步。",
                "This app version is too old for the server; update the app, then sync.",
            ),
            Code::BatchTooLarge => (
                "一次同步的内容过多，请分批同步。",
                "Too much in one sync; sync in several requests.",
            ),
            Code::MalformedSyncBody => (
                "同步数据不完整或已损坏，请重新同步。",
                "The sync request is truncated or corrupt; sync again.",
            ),
            Code::PolicyInvalid => (
                "政策设置有误，未保存，原政策继续有效。",
                "The policy is invalid and was not saved; the previous one stays in force.",
            ),
            Code::ReviewWrongState => (
                "该走访记录当前的状态不允许此审核操作。",
                "The visit's current status does not allow this decision.",
            ),
            Code::ReviewCommentRequired => (
                "退回或不予通过须填写意见或理由。",
                "Returning, rejecting or sending back needs a comment or reason.",
            ),
            Code::ReviewConflictsOpen => (
                "记录中有同一字段的并发修改尚未确认：请先选定取值，或写明理由后仍然通过。",
                "The record has same-field conflicts not yet settled: choose a value for each, or approve anyway with a reason.",
            ),
            Code::ReviewAwardInvalid => (
                "审批决定不完整：请选定救助类别并填写月保障金额，或更正书面告知日期。",
                "The decision is incomplete: choose the programme and the monthly amount, or correct the notice date.",
            ),
            Code::ReviewNoticeRunning => (
                "公示期未满，公示结束后才能审核确认。",
                "The public notice (公示) is still running: confirm once it is over.",
            ),
            Code::ReviewObjectionOpen => (
                "公示期间有异议尚未处理：请退回重新调查，或记录民主评议结果后再确认。",
                "An objection raised during the notice is not settled: send the case back for re-investigation, or record a democratic appraisal, before confirming.",
            ),
            Code::ReviewCountyVisitRequired => (
                "此案件须由县级入户核查（抽查案件或近亲属备案）：请先记录县级入户核查情况，再审核确认。",
                "The county visits this household itself first (a spot-checked case, or a 近亲属备案): record the county's visit before confirming.",
            ),
            Code::ReportWrongState => (
                "该报告当前的状态不允许此项处理（报告须依次经过筛查、登记、核实、转介；已办结的报告不能再处理）。",
                "The report's state does not allow this step (a report goes through screening, registration, verification and referral in turn; a closed report takes no more steps).",
            ),
            Code::ReportHouseholdInvalid => (
                "请选择该报告所在网格中已登记的家庭。",
                "Choose a household on record in the report's grid.",
            ),
            Code::ReportVisitMissing => (
                "尚无提交的主动发现核查走访记录，不能确认核实。",
                "No verification visit (主动发现核查) naming the report has been submitted yet.",
            ),
            Code::TaskAssigneeInvalid => (
                "只能指派给该网格的网格员或社会救助协理员。",
                "Assign only to a grid worker or assistant of the report's grid.",
            ),
            Code::CsrfInvalid => (
                "页面已过期，请刷新后重试。",
                "The form has expired or was not sent from this console; reload and try again.",
            ),
            Code::MethodNotAllowed => (
                "不支持对该地址使用此请求方法。",
                "This method is not allowed here; the Allow header lists those that are.",
            ),
            Code::ImportInvalid => (
                "导入文件有错误，未导入任何内容。请按行号修改后重新导入。",
                "The file has errors; nothing was imported. Fix the listed lines and import again.",
            ),
            Code::ImportTooLarge => (
                "导入文件过大，请拆分后分批导入。",
                "The file is too large; split it and import the parts.",
            ),
            Code::ImportTooManyRows => (
                "导入文件行数超过上限，请拆分后分批导入。",
                "The file has too many rows; split it and import the parts.",
            ),
            Code::ImportFormatUnknown => (
                "无法识别的文件格式：请导入 CSV（UTF-8）或 XLSX 文件。",
                "Unknown file format: import a CSV (UTF-8) or XLSX file.",
            ),
            Code::AlertWrongState => (
                "该预警已处置，不能再处置。",
                "The alert has been disposed already.",
            ),
            Code::TempAidWrongState => (
                "该临时救助案件当前的状态不能办理这一步，请刷新页面查看案件的最新状态。",
                "The temporary-aid case is not in a state that allows this step.",
            ),
            Code::TempAidReportHasCase => (
                "该报告已开立临时救助案件，请打开该案件继续办理。",
                "This report has opened a temporary-aid case already.",
            ),
            Code::TempAidPaymentExceedsApproval => (
                "发放金额超过已批准但尚未发放的金额，请核对金额，或申请跟进救助。",
                "The payment exceeds what is approved and not yet paid.",
            ),
            Code::TempAidMeetingRecordRequired => (
                "本次救助将超过家庭年度救助上限，须经县级一事一议：请填写会议记录（日期、参会人员、议定意见）。",
                "Above the yearly cap: a 一事一议 meeting record is required.",
            ),
            Code::EnrolmentCodeInvalid => (
                "登录码不正确，请核对后重新输入，或重新扫描二维码。",
                "The enrolment code is not valid. Check it, or scan the QR code again.",
            ),
            Code::EnrolmentCodeUsed => (
                "该登录码已经使用过，只能使用一次。请联系管理员重新生成。",
                "This enrolment code has already been used; it works once. Ask your administrator for a new one.",
            ),
            Code::EnrolmentCodeExpired => (
                "该登录码已过期。请联系管理员重新生成。",
                "This enrolment code has expired. Ask your administrator for a new one.",
            ),
            Code::EnrolmentCodeRevoked => (
                "该登录码已被管理员作废。请联系管理员重新生成。",
                "This enrolment code was revoked by an administrator. Ask for a new one.",
            ),
        }
    }
}

/// An API error: a code plus optional specific messages and details.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message_zh: Option<String>,
    pub message_en: Option<String>,
    pub details: Option<serde_json::Value>,
    pub retry_after_secs: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `auth.invalid_credentials`.
    pub code: &'static str,
    /// Message in Chinese for the user.
    pub message: String,
    /// The same message in English.
    pub message_en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: Code) -> Self {
        ApiError {
            code,
            message_zh: None,
            message_en: None,
            details: None,
            retry_after_secs: None,
        }
    }

    /// Replace the default messages with specific ones.
    pub fn with_message(mut self, zh: impl Into<String>, en: impl Into<String>) -> Self {
        self.message_zh = Some(zh.into());
        self.message_en = Some(en.into());
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// An internal failure: logged here with its cause, sent to the client as `server.internal`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(Code::Internal)
    }

    pub fn body(&self) -> ErrorBody {
        let (zh, en) = self.code.messages();
        ErrorBody {
            code: self.code.as_str(),
            message: self.message_zh.clone().unwrap_or_else(|| zh.to_string()),
            message_en: self.message_en.clone().unwrap_or_else(|| en.to_string()),
            details: self.details.clone(),
        }
    }
}

impl From<Code> for ApiError {
    fn from(code: Code) -> Self {
        ApiError::new(code)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// `server.unavailable` while the database cannot be reached (the client retries later),
    /// else `server.internal`; the cause is logged either way.
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::unreachable(&e) {
            tracing::warn!(error = %e, "database unreachable");
            ApiError::new(Code::Unavailable)
        } else {
            ApiError::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.code.status(), axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_have_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            let (zh, en) = c.messages();
            assert!(!zh.is_empty() && !en.is_empty());
            assert!(
                zh.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "{zh}"
            );
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }
}
