//! `GET /api/v1/statistics/quarterly`: the quarterly report (每季度报告, [`crate::quarterly`]) as
//! JSON or XLSX.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiQuery, AuthContext, SharedState};
use crate::error::{ApiError, ApiResult, Code};
use crate::quarterly::{self, QuarterlyReport};

/// The query of the quarterly report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarterlyParams {
    /// A region code inside the caller's regions (default: the caller's first region).
    pub region: Option<String>,
    /// `2026Q4` (default: the current quarter, China time).
    pub quarter: Option<String>,
    /// `json` (default) or `xlsx` (audited as an export).
    pub format: Option<String>,
}

/// The quarterly report of a region: programmes, entries and exits, re-checks, visits,
/// discovery reports, alerts, and the applications decided within their time limits.
#[utoipa::path(get, path = "/api/v1/statistics/quarterly", tag = "review", security(("bearer" = [])),
    params(QuarterlyParams),
    responses((status = 200, description = "the report",
                content((QuarterlyReport = "application/json"),
                        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid` (`details.field`: `quarter`, `format`)"),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: not a reviewer"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: a region outside the caller's")))]
pub async fn quarterly(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(params): ApiQuery<QuarterlyParams>,
) -> ApiResult<Response> {
    let xlsx = match params.format.as_deref().map(str::trim) {
        None | Some("" | "json") => false,
        Some("xlsx") => true,
        Some(_) => {
            return Err(ApiError::new(Code::InvalidRequest)
                .with_message("format 应为 json 或 xlsx。", "format must be json or xlsx.")
                .with_details(serde_json::json!({ "field": "format" })));
        }
    };
    let quarter = quarterly::quarter_param(params.quarter.as_deref())?;
    let report =
        quarterly::compute(&state.db, &ctx.actor, params.region.as_deref(), quarter).await?;
    if !xlsx {
        return Ok(Json(report).into_response());
    }
    let bytes = quarterly::xlsx(&state.db, &ctx.actor, &report).await?;
    Ok(xlsx_answer(
        bytes,
        &format!("doudi-quarterly-{}-{}.xlsx", report.region, report.quarter),
    ))
}

/// An XLSX download.
pub fn xlsx_answer(bytes: Vec<u8>, file_name: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
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
