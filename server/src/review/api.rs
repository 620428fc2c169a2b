//! JSON endpoints of the review workflow (docs/REVIEW.md, docs/API.md).

use axum::Json;
use axum::extract::{Path, State};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::queue::{self, QueueFilter, QueuePage};
use super::reports::{self, ReportItem};
use super::{DecisionKind, DecisionResult, Reviewer, decide_visit};
use crate::api::{ApiJson, ApiQuery, AuthContext, SharedState};
use crate::entity::task;
use crate::error::ApiResult;
use crate::policy::{Action, Target};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: DecisionKind,
    /// Required for `return`, `reject` and `send_back`; at most 2,000 characters.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Decide on a visit: `approve`, `return` or `reject` (township, on a submitted visit);
/// `confirm`, `send_back` or `reject` (county, on a township-approved visit).
#[utoipa::path(post, path = "/api/v1/visits/{id}/review", tag = "review", security(("bearer" = [])),
    request_body = ReviewRequest,
    responses((status = 200, body = DecisionResult), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn review_visit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<Json<DecisionResult>> {
    let reviewer = Reviewer::from_api(&ctx);
    let out = decide_visit(
        &state.db,
        &reviewer,
        &id,
        req.decision,
        req.comment.as_deref(),
    )
    .await?;
    Ok(Json(out))
}

/// The caller's review queue.
#[utoipa::path(get, path = "/api/v1/review/queue", tag = "review", security(("bearer" = [])),
    params(QueueFilter),
    responses((status = 200, body = QueuePage), (status = 403, body = crate::error::ErrorBody)))]
pub async fn review_queue(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(filter): ApiQuery<QueueFilter>,
) -> ApiResult<Json<QueuePage>> {
    let reviewer = Reviewer::from_api(&ctx);
    let page = queue::queue(
        &state.db,
        &reviewer,
        &filter,
        state.settings.spot_check_percent,
    )
    .await?;
    Ok(Json(page))
}

/// Discovery reports in the caller's regions, 急难 first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "review", security(("bearer" = [])),
    responses((status = 200, body = [ReportItem]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_reports(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<ReportItem>>> {
    let reviewer = Reviewer::from_api(&ctx);
    Ok(Json(reports::list(&state.db, &reviewer, false).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Account id of a grid worker or assistant of the report's grid.
    pub assignee: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignResponse {
    pub task_id: String,
}

/// Assign a verification visit for a report.
#[utoipa::path(post, path = "/api/v1/reports/{id}/assign", tag = "review", security(("bearer" = [])),
    request_body = AssignRequest,
    responses((status = 200, body = AssignResponse), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn assign_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> ApiResult<Json<AssignResponse>> {
    let reviewer = Reviewer::from_api(&ctx);
    let task_id = reports::assign(
        &state.db,
        &reviewer,
        &id,
        &req.assignee,
        req.note.as_deref(),
    )
    .await?;
    Ok(Json(AssignResponse { task_id }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub reason: String,
}

/// Close a report with a reason.
#[utoipa::path(post, path = "/api/v1/reports/{id}/close", tag = "review", security(("bearer" = [])),
    request_body = CloseRequest,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn close_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CloseRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let reviewer = Reviewer::from_api(&ctx);
    reports::close(&state.db, &reviewer, &id, Some(&req.reason)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A task assigned to the caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: String,
    /// `verify_report`: visit the person or household of the report and record a visit.
    pub kind: String,
    pub report_id: String,
    pub note: Option<String>,
    pub created_at_ms: i64,
    pub due_at_ms: Option<i64>,
}

/// The caller's open tasks (how the phone SDK learns of assigned verification visits; the
/// report document itself arrives through sync).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "review", security(("bearer" = [])),
    responses((status = 200, body = [TaskView])))]
pub async fn my_tasks(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<TaskView>>> {
    ctx.require(&state, Action::ReadCase, Target::Scope, "tasks")
        .await?;
    let rows = task::Entity::find()
        .filter(task::Column::AssigneeId.eq(ctx.account.id.as_str()))
        .filter(task::Column::Status.eq("open"))
        .order_by_asc(task::Column::CreatedAtMs)
        .all(&state.db)
        .await?;
    Ok(Json(
        rows.into_iter()
            .filter(|t| ctx.subject.covers(&t.region_path))
            .map(|t| TaskView {
                id: t.id,
                kind: t.kind,
                report_id: t.report_id,
                note: t.note,
                created_at_ms: t.created_at_ms,
                due_at_ms: t.due_at_ms,
            })
            .collect(),
    ))
}
