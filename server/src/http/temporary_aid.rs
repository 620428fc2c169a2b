//! 临时救助 over JSON ([`crate::temporary_aid`]; docs/TEMPORARY_AID.md): open a case (directly or
//! from a discovery report), list and read cases, and the steps of a case.

use axum::Json;
use axum::extract::{Path, State};

use super::{ApiJson, ApiQuery, AuthContext, SharedState};
use crate::error::ApiResult;
use crate::temporary_aid::{
    self, AidRequest, ApprovalRequest, CaseDetail, CaseFilter, CaseView, CloseRequest,
    DecisionRequest, FromReportRequest, NewCase, PaymentRequest,
};

/// Open a case: the place of the emergency (a region in the caller's regions) locates it.
#[utoipa::path(post, path = "/api/v1/temporary-aid", tag = "temporary_aid", security(("bearer" = [])),
    request_body = NewCase,
    responses((status = 200, body = CaseDetail),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: the place lies outside the caller's regions")))]
pub async fn open(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiJson(req): ApiJson<NewCase>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::open(&state.db, &ctx.actor, &req).await?,
    ))
}

/// Open a case from a discovery report: the report's time starts the 先行救助 clock.
#[utoipa::path(post, path = "/api/v1/reports/{id}/temporary-aid", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    request_body = FromReportRequest,
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.report_has_case` (`details.case_id`), `report.wrong_state`")))]
pub async fn from_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<FromReportRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::from_report(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// The cases of the caller's regions (by the place of the emergency); overdue first.
#[utoipa::path(get, path = "/api/v1/temporary-aid", tag = "temporary_aid", security(("bearer" = [])),
    params(CaseFilter),
    responses((status = 200, body = [CaseView])))]
pub async fn list(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(filter): ApiQuery<CaseFilter>,
) -> ApiResult<Json<Vec<CaseView>>> {
    Ok(Json(
        temporary_aid::list(&state.db, &ctx.actor, &filter).await?,
    ))
}

/// One case with its approvals, payments, timeline and the household's yearly total.
#[utoipa::path(get, path = "/api/v1/temporary-aid/{id}", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn get(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(temporary_aid::case(&state.db, &ctx.actor, &id).await?))
}

/// Record the 先行救助 of a 急难 case.
#[utoipa::path(post, path = "/api/v1/temporary-aid/{id}/aid", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    request_body = AidRequest,
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.wrong_state`: not a registered 急难 case")))]
pub async fn give_aid(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AidRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::give_aid(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// Request approval (补办手续 the first time, 跟进救助 on a paid case); the route is fixed now.
#[utoipa::path(post, path = "/api/v1/temporary-aid/{id}/approvals", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    request_body = ApprovalRequest,
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.wrong_state`")))]
pub async fn request_approval(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ApprovalRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::request_approval(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// Decide the pending request (the county's above the township limit; 一事一议 above the cap).
#[utoipa::path(post, path = "/api/v1/temporary-aid/{id}/decision", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    request_body = DecisionRequest,
    responses((status = 200, body = CaseDetail),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: the route is the county's"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.wrong_state`: no request pending"),
              (status = 422, body = crate::error::ErrorBody, description = "`temp_aid.meeting_record_required`, `review.comment_required`")))]
pub async fn decide(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::decide(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// Record a payment of the approved amount (one stage or all of it).
#[utoipa::path(post, path = "/api/v1/temporary-aid/{id}/payments", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    request_body = PaymentRequest,
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.wrong_state`: nothing approved to pay"),
              (status = 422, body = crate::error::ErrorBody, description = "`temp_aid.payment_exceeds_approval` (`details.remaining_fen`)")))]
pub async fn pay(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PaymentRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::pay(&state.db, &ctx.actor, &id, &req).await?,
    ))
}

/// Close a case (结案).
#[utoipa::path(post, path = "/api/v1/temporary-aid/{id}/close", tag = "temporary_aid", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    request_body = CloseRequest,
    responses((status = 200, body = CaseDetail),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`temp_aid.wrong_state`")))]
pub async fn close(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CloseRequest>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        temporary_aid::close(&state.db, &ctx.actor, &id, &req).await?,
    ))
}
