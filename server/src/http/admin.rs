//! Administration within one's own regions over JSON: region import, accounts, devices, audit
//! log. The rules are [`crate::admin`]'s, shared with the console's administration pages; these
//! handlers read the request and write the answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiBody, ApiJson, ApiQuery, AuthContext, PublicUrl, SharedState};
use crate::accounts::AccountView;
use crate::admin::{self, AuditFilter};
use crate::error::{ApiError, ApiResult, Code};
use crate::regions::ImportReport;

pub use crate::admin::{
    AuditEntry, CreateAccountRequest, DeviceView, EnrolmentCodeView, NewEnrolmentCode,
    UpdateAccountRequest,
};

/// Import regions from CSV (`code,parent_code,level,name`); all or nothing.
#[utoipa::path(post, path = "/api/v1/admin/regions/import", tag = "admin", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport),
              (status = 422, body = crate::error::ErrorBody, description = "`region.csv_invalid`: bad lines (`details.lines`), nothing imported")))]
pub async fn import_regions(
    State(state): State<SharedState>,
    ctx: AuthContext,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<ImportReport>> {
    admin::may_import_regions(&state.db, &ctx).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/csv") {
        return Err(ApiError::new(Code::UnsupportedMediaType).with_message(
            "请以 text/csv 提交区划文件。",
            "Send the region file as text/csv.",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(Code::RegionCsvInvalid)
            .with_message("文件须为 UTF-8 编码。", "The file must be UTF-8.")
    })?;
    let max = state.settings.max_region_import_rows;
    Ok(Json(
        admin::import_regions(&state.db, &ctx, text, max).await?,
    ))
}

/// Create an account bound to regions inside one's own.
#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "admin", security(("bearer" = [])),
    request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView),
              (status = 409, body = crate::error::ErrorBody, description = "`account.username_taken`"),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn create_account(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiJson(req): ApiJson<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let created = admin::create_account(&state.db, &ctx, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Accounts working inside the caller's regions.
#[utoipa::path(get, path = "/api/v1/admin/accounts", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [AccountView])))]
pub async fn list_accounts(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<AccountView>>> {
    Ok(Json(admin::list_accounts(&state.db, &ctx).await?))
}

/// Rename, disable or re-enable an account, or set a new password.
#[utoipa::path(patch, path = "/api/v1/admin/accounts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    request_body = UpdateAccountRequest,
    responses((status = 200, body = AccountView),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn update_account(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateAccountRequest>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(
        admin::update_account(&state.db, &ctx, &id, req).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Only this account's devices.
    pub account_id: Option<String>,
}

/// Devices of the accounts working inside the caller's regions.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin", security(("bearer" = [])), params(DeviceQuery),
    responses((status = 200, body = [DeviceView]),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such account")))]
pub async fn list_devices(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<Vec<DeviceView>>> {
    Ok(Json(
        admin::list_devices(&state.db, &ctx, q.account_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why, e.g. "手机丢失" (phone lost). Kept with the device and in the audit log.
    pub reason: String,
}

/// Revoke a device at once: its tokens stop working and its next contact tells it to wipe.
#[utoipa::path(post, path = "/api/v1/admin/devices/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    request_body = RevokeRequest,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn revoke_device(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> ApiResult<StatusCode> {
    admin::revoke_device(&state.db, &ctx, &id, &req.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCodeRequest {
    /// The field account (网格员 or 社会救助协理员) the phone will log in as.
    pub account_id: String,
}

/// Make a one-time enrolment code (手机登录码) for a field account: a phone exchanges it once at
/// `POST /api/v1/auth/enrol` instead of the password, until it expires (`enrolment_code_ttl_secs`).
/// The code is in this answer only; the server keeps its hash.
#[utoipa::path(post, path = "/api/v1/admin/enrolment-codes", tag = "admin", security(("bearer" = [])),
    request_body = EnrolmentCodeRequest,
    responses((status = 201, body = NewEnrolmentCode),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: not a field account, or disabled"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such account")))]
pub async fn create_enrolment_code(
    State(state): State<SharedState>,
    ctx: AuthContext,
    PublicUrl(server): PublicUrl,
    ApiJson(req): ApiJson<EnrolmentCodeRequest>,
) -> ApiResult<(StatusCode, Json<NewEnrolmentCode>)> {
    let ttl = state.settings.enrolment_code_ttl_secs;
    let made = admin::create_enrolment_code(&state.db, &ctx, &req.account_id, ttl, &server).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Enrolment codes of the accounts working inside the caller's regions, newest first (never the
/// codes themselves).
#[utoipa::path(get, path = "/api/v1/admin/enrolment-codes", tag = "admin", security(("bearer" = [])), params(DeviceQuery),
    responses((status = 200, body = [EnrolmentCodeView]),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such account")))]
pub async fn list_enrolment_codes(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<Vec<EnrolmentCodeView>>> {
    Ok(Json(
        admin::list_enrolment_codes(&state.db, &ctx, q.account_id).await?,
    ))
}

/// Revoke an enrolment code not yet used.
#[utoipa::path(post, path = "/api/v1/admin/enrolment-codes/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Enrolment code id")),
    responses((status = 204),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 410, body = crate::error::ErrorBody, description = "`auth.enrolment_code_used`: used already; revoke its device instead")))]
pub async fn revoke_enrolment_code(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin::revoke_enrolment_code(&state.db, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u64>,
    /// Entries older than this id (for paging backwards).
    pub before_id: Option<i64>,
    /// Only this action, e.g. `policy.denied`.
    pub action: Option<String>,
}

/// The audit log of the caller's regions, newest first. Events without an account (failed logins
/// with unknown user names) are shown to administrators of a whole province.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditEntry])))]
pub async fn list_audit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    let filter = AuditFilter {
        limit: q.limit,
        before_id: q.before_id,
        action: q.action,
        ..Default::default()
    };
    Ok(Json(admin::list_audit(&state.db, &ctx, &filter).await?))
}
