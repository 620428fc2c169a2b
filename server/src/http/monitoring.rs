//! 动态监测预警 over JSON ([`crate::monitoring`]; docs/MONITORING.md): import a department's
//! list, read the runs and the alerts, dispose an alert.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;

use super::{ApiBody, ApiJson, ApiQuery, AuthContext, SharedState};
use crate::error::{ApiError, ApiResult, Code};
use crate::monitoring::{
    self, AlertFilter, AlertView, DisposeRequest, FileFormat, ImportReport, RunDetail, RunView,
    Source,
};

/// The query of an import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `medical`, `disability`, `death`, `unemployment`, `school` or `rural_monitoring`.
    pub source: String,
    /// The file's name, kept with the run.
    pub file_name: Option<String>,
}

/// Import a department's list as one batch (核查台账 run): CSV (UTF-8) or XLSX, told by its
/// magic bytes; every line checked before anything is stored.
#[utoipa::path(post, path = "/api/v1/monitoring/imports", tag = "monitoring", security(("bearer" = [])),
    params(ImportParams),
    request_body(content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses((status = 200, body = ImportReport),
              (status = 413, body = crate::error::ErrorBody, description = "`import.too_large` (`details.max_bytes`), `import.too_many_rows` (`details.max_rows`)"),
              (status = 415, body = crate::error::ErrorBody, description = "`import.format_unknown`: neither a UTF-8 CSV nor an XLSX workbook"),
              (status = 422, body = crate::error::ErrorBody, description = "`import.invalid`: bad lines (`details.lines[]`: line, message, message_en), nothing imported")))]
pub async fn import(
    State(state): State<SharedState>,
    ctx: AuthContext,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ImportParams>,
    body: Result<ApiBody, ApiError>,
) -> ApiResult<Json<ImportReport>> {
    let max = state.settings.max_import_bytes;
    let body = match body {
        Ok(ApiBody(b)) if b.len() <= max => b,
        Ok(_) => return Err(monitoring::import::too_large(max)),
        Err(e) if e.code == Code::BodyTooLarge => return Err(monitoring::import::too_large(max)),
        Err(e) => return Err(e),
    };
    let source = Source::named(&params.source)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = FileFormat::detect(content_type, &body)?;
    Ok(Json(
        monitoring::import(
            &state.db,
            &state.identity,
            &ctx.actor,
            source,
            params.file_name.as_deref().unwrap_or(""),
            format,
            body,
            state.settings.max_import_rows,
        )
        .await?,
    ))
}

/// The runs imported in the caller's regions, newest first.
#[utoipa::path(get, path = "/api/v1/monitoring/imports", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, body = [RunView])))]
pub async fn list_runs(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<RunView>>> {
    Ok(Json(monitoring::list_runs(&state.db, &ctx.actor).await?))
}

/// One run with its unmatched lines (masked numbers) and its alerts in the caller's regions.
#[utoipa::path(get, path = "/api/v1/monitoring/imports/{id}", tag = "monitoring", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = RunDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn get_run(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    Ok(Json(monitoring::run(&state.db, &ctx.actor, &id).await?))
}

/// The alerts of the caller's regions.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts", tag = "monitoring", security(("bearer" = [])),
    params(AlertFilter),
    responses((status = 200, body = [AlertView])))]
pub async fn list_alerts(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(filter): ApiQuery<AlertFilter>,
) -> ApiResult<Json<Vec<AlertView>>> {
    Ok(Json(
        monitoring::list_alerts(&state.db, &ctx.actor, &filter).await?,
    ))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/monitoring/alerts/{id}", tag = "monitoring", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")),
    responses((status = 200, body = AlertView),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn get_alert(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(monitoring::alert(&state.db, &ctx.actor, &id).await?))
}

/// Record an alert's disposition and feedback; the alert must be open and its 预警核查 visit
/// submitted.
#[utoipa::path(post, path = "/api/v1/monitoring/alerts/{id}/dispose", tag = "monitoring", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")),
    request_body = DisposeRequest,
    responses((status = 200, body = AlertView),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`alert.wrong_state`: disposed already, or no 预警核查 visit yet")))]
pub async fn dispose(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DisposeRequest>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(
        monitoring::dispose(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// The query of a comparison.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComparisonParams {
    /// `json` (default) or `csv` (UTF-8 with a byte-order mark; audited as an export).
    pub format: Option<String>,
}

/// The 双纳入 comparison of a 乡村振兴 list with the 低保 and 特困 members of the caller's regions.
#[utoipa::path(get, path = "/api/v1/monitoring/imports/{id}/comparison", tag = "monitoring", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id of a `rural_monitoring` list"), ComparisonParams),
    responses((status = 200, description = "per person: both, only theirs, only ours",
                content((monitoring::Comparison = "application/json"), (String = "text/csv; charset=utf-8"))),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn comparison(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ComparisonParams>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::new(Code::InvalidRequest)
                .with_message("format 应为 json 或 csv。", "format must be json or csv.")
                .with_details(serde_json::json!({ "field": "format" })));
        }
    };
    let c = monitoring::compare(&state.db, &ctx.actor, &id).await?;
    if !csv {
        return Ok(Json(c).into_response());
    }
    Ok(csv_answer(
        monitoring::compare::csv(&state.db, &ctx.actor, &c).await?,
        &format!("shuangnaru-{id}.csv"),
    ))
}

/// A CSV download.
pub fn csv_answer(bytes: Vec<u8>, file_name: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}
