//! JSON endpoints of the review workflow (docs/REVIEW.md, docs/API.md).

use axum::Json;
use axum::extract::{Path, State};

use serde::{Deserialize, Serialize};

use crate::access::{Action, Target};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::{ApiJson, ApiQuery, AuthContext, SharedState};
use crate::review::award::{Award, invalid};
use crate::review::queue::{self, QueueFilter, QueuePage};
use crate::review::report_life::{self, ReportAction};
use crate::review::reports::{self, ReportItem};
use crate::review::{DecisionRequest, DecisionResult, decide_visit, decision_schema};
use crate::review::{benefit, notice};
use doudi_protocol::doc::household::Programme;
use doudi_protocol::doc::visit::ReviewDecision;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    #[schema(schema_with = decision_schema)]
    pub decision: ReviewDecision,
    /// Required for `return`, `reject` and `send_back`; at most 2,000 characters.
    #[serde(default)]
    pub comment: Option<String>,
    /// Approve or confirm although the visit or its household has same-field conflicts not yet
    /// settled (`review.conflicts_open` otherwise); needs a comment saying why, which the
    /// decision and the audit log keep with the conflicts overridden.
    #[serde(default)]
    pub override_conflicts: bool,
    /// `confirm` or county `reject` of an application's investigation: the programme approved
    /// or refused (`dibao`, `tekun_dispersed`, `tekun_centralized`, `near_dibao`,
    /// `rigid_expenditure`, ...); by default the visit's `applied_for`.
    #[serde(default)]
    pub programme: Option<String>,
    /// `confirm` of 低保 or 特困: the monthly amount in fen (0 to 10,000,000).
    #[serde(default)]
    pub amount_fen_per_month: Option<i64>,
    /// The decision's document number (文号), at most 100 characters.
    #[serde(default)]
    pub reference: Option<String>,
    /// County `reject`: the day the written notice is issued, `YYYY-MM-DD` (by default the day of
    /// the decision; at the latest `refusal_notice_wd` working days after it).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub notice_date: Option<chrono::NaiveDate>,
}

impl ReviewRequest {
    /// The county's decision carried by the request.
    fn award(&self) -> ApiResult<Award> {
        let programme = match self.programme.as_deref() {
            None | Some("") => None,
            Some(p) => Some(Programme::parse(p).ok_or_else(|| {
                invalid(
                    "programme",
                    format!("未知的救助类别：{p}"),
                    format!("Unknown programme: {p}"),
                )
            })?),
        };
        Ok(Award {
            programme,
            amount_fen_per_month: self.amount_fen_per_month,
            reference: self.reference.clone(),
            notice_date: self.notice_date,
        })
    }
}

/// Decide on a visit: `approve`, `return` or `reject` (township, on a submitted visit);
/// `confirm`, `send_back` or `reject` (county, on a township-approved visit).
#[utoipa::path(post, path = "/api/v1/visits/{id}/review", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id")),
    request_body = ReviewRequest,
    responses((status = 200, body = DecisionResult),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`; `review.conflicts_open` (details.conflicts: document_id, kind, path, label of each field still in conflict)"),
              (status = 422, body = crate::error::ErrorBody, description = "`review.comment_required`; `review.award_invalid` (details.field: `programme`, `amount_fen_per_month`, `reference` or `notice_date`)")))]
pub async fn review_visit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<Json<DecisionResult>> {
    let reviewer = &ctx.actor;
    let request = DecisionRequest {
        kind: req.decision,
        comment: req.comment.as_deref(),
        override_conflicts: req.override_conflicts,
        award: req.award()?,
    };
    let out = decide_visit(
        &state.db,
        reviewer,
        &id,
        &request,
        state.settings.spot_check_percent,
    )
    .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitRequest {
    /// `phase_out` (渐退, 低保 only, with `months`) or `terminate` (终止).
    pub change: String,
    /// The programme the change applies to; by default the household's 低保 or 特困 one.
    #[serde(default)]
    pub programme: Option<String>,
    /// `phase_out`: the months the benefit continues, within the region's
    /// `phase_out_min_months`–`phase_out_max_months`.
    #[serde(default)]
    pub months: Option<u32>,
    /// `phase_out`: the monthly amount paid meanwhile (fen); by default the amount in force.
    #[serde(default)]
    pub amount_fen_per_month: Option<i64>,
    /// The ground of the decision (required, at most 2,000 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A change of benefit on a household in 低保 or 特困, decided by the county: a phase-out (渐退)
/// or a termination (终止); written into the household's decisions.
#[utoipa::path(post, path = "/api/v1/households/{id}/decisions", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Household id")),
    request_body = BenefitRequest,
    responses((status = 200, body = benefit::ChangeResult),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`: the household is not in the programme, or already in a phase-out"),
              (status = 422, body = crate::error::ErrorBody, description = "`review.comment_required` (no reason); `review.award_invalid` (details.field: `change`, `programme`, `months` or `amount_fen_per_month`)")))]
pub async fn decide_benefit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<BenefitRequest>,
) -> ApiResult<Json<benefit::ChangeResult>> {
    let bad = |field: &str| {
        invalid(
            field,
            format!("请求中的 {field} 无效。"),
            format!("The request's {field} is not valid."),
        )
    };
    let change = match req.change.as_str() {
        "phase_out" => benefit::Change::PhaseOut {
            months: req.months.ok_or_else(|| bad("months"))?,
            amount_fen_per_month: req.amount_fen_per_month,
        },
        "terminate" => benefit::Change::Terminate,
        _ => return Err(bad("change")),
    };
    let programme = match req.programme.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Programme::parse(p).ok_or_else(|| bad("programme"))?),
    };
    let out = benefit::decide(
        &state.db,
        &ctx.actor,
        &id,
        change,
        programme,
        req.reason.as_deref(),
    )
    .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// Who raised it (kept in the file, never published).
    pub objector: String,
    /// What the objection says.
    pub detail: String,
}

/// Record an objection (异议) raised during an application's 公示; until a democratic appraisal
/// is recorded after it, or the case is sent back, it holds the confirmation.
#[utoipa::path(post, path = "/api/v1/visits/{id}/objections", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id: the application's investigation")),
    request_body = ObjectionRequest,
    responses((status = 204, description = "recorded"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`: not an application awaiting confirmation"),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: blank or too long")))]
pub async fn record_objection(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ObjectionRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let entry = notice::Entry::Objection {
        objector: req.objector,
        detail: req.detail,
    };
    notice::record(&state.db, &ctx.actor, &id, entry).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppraisalRequest {
    /// The day it was held, `YYYY-MM-DD`, not after today.
    #[schema(value_type = String, format = Date)]
    pub held_on: chrono::NaiveDate,
    /// 1 to 10,000.
    pub participants: i64,
    pub votes_for: i64,
    pub votes_against: i64,
    /// SHA-256 (64 lowercase hex) of the photo of the signed record (民主评议记录), uploaded by
    /// the caller beforehand through `/api/v1/blobs` (docs/BLOBS.md); it joins the visit's photos.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub record_photo: String,
}

/// Record a democratic appraisal (民主评议) held on the objections to an application, with the
/// photo of its signed record.
#[utoipa::path(post, path = "/api/v1/visits/{id}/appraisals", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id: the application's investigation")),
    request_body = AppraisalRequest,
    responses((status = 204, description = "recorded"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`: not an application awaiting confirmation; `blob.not_uploaded`: the caller has not uploaded `record_photo`"),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: a date after today, or votes beyond the participants; `blob.hash_invalid`: `record_photo` is not a SHA-256")))]
pub async fn record_appraisal(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AppraisalRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let entry = notice::Entry::Appraisal {
        held_on: req.held_on,
        participants: req.participants,
        votes_for: req.votes_for,
        votes_against: req.votes_against,
        record_photo: crate::blobs::Sha256Hex::parse(&req.record_photo)
            .ok_or_else(|| ApiError::new(Code::BlobHashInvalid))?,
    };
    notice::record(&state.db, &ctx.actor, &id, entry).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountyVisitRequest {
    /// The day of the visit, `YYYY-MM-DD`, not after today.
    #[schema(value_type = String, format = Date)]
    pub visited_on: chrono::NaiveDate,
    /// Who visited for the county (names).
    pub visitors: String,
    /// What the visit found.
    pub findings: String,
}

/// Record the county's own visit to the household of an application (县级入户核查): a case in
/// the county's spot check, or with a 近亲属备案, is confirmed only after one is recorded.
#[utoipa::path(post, path = "/api/v1/visits/{id}/county-visits", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id: the application's investigation")),
    request_body = CountyVisitRequest,
    responses((status = 204, description = "recorded"),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: the caller does not confirm applications there"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`: not an application submitted or awaiting confirmation"),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: a date after today, blank or too long")))]
pub async fn record_county_visit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CountyVisitRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let entry = notice::Entry::CountyVisit {
        visited_on: req.visited_on,
        visitors: req.visitors,
        findings: req.findings,
    };
    notice::record(&state.db, &ctx.actor, &id, entry).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Why the case needs the special whole-case limit.
    pub reason: String,
}

/// Record why an application takes the special whole-case limit (延期说明: 45 working days
/// instead of 30, or 20 where the township confirms); once per case.
#[utoipa::path(post, path = "/api/v1/visits/{id}/extension", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id: the application's investigation")),
    request_body = ExtensionRequest,
    responses((status = 204, description = "recorded"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`review.wrong_state`: the case is decided, or already extended"),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: blank or too long")))]
pub async fn record_extension(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ExtensionRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let entry = notice::Entry::Extension { reason: req.reason };
    notice::record(&state.db, &ctx.actor, &id, entry).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The caller's review queue.
#[utoipa::path(get, path = "/api/v1/review/queue", tag = "review", security(("bearer" = [])),
    params(QueueFilter),
    responses((status = 200, body = QueuePage)))]
pub async fn review_queue(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(filter): ApiQuery<QueueFilter>,
) -> ApiResult<Json<QueuePage>> {
    let reviewer = &ctx.actor;
    let page = queue::queue(&state.db, reviewer, &filter, state.settings.queue_count_cap).await?;
    Ok(Json(page))
}

/// Which discovery reports a list shows.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ReportListFilter {
    /// `closed`: the history of closed reports; `all`: open and closed; by default the open ones.
    pub show: Option<String>,
}

/// Discovery reports in the caller's regions, 急难 first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "review", security(("bearer" = [])),
    params(ReportListFilter),
    responses((status = 200, body = [ReportItem])))]
pub async fn list_reports(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(filter): ApiQuery<ReportListFilter>,
) -> ApiResult<Json<Vec<ReportItem>>> {
    let reviewer = &ctx.actor;
    let shown = reports::Shown::parse(filter.show.as_deref());
    Ok(Json(reports::list(&state.db, reviewer, shown).await?))
}

/// A discovery report's history: every triage action with who took it and when, oldest first.
#[utoipa::path(get, path = "/api/v1/reports/{id}/history", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    responses((status = 200, body = [ReportAction]),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn report_history(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ReportAction>>> {
    Ok(Json(
        report_life::visible_history(&state.db, &ctx.actor, &id).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// A household on record in the report's grid; by default the household the report is
    /// about, when it names one.
    #[serde(default)]
    pub household_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    pub household_id: String,
}

/// Register a screened report (已登记): link it to a household on record in its grid.
#[utoipa::path(post, path = "/api/v1/reports/{id}/register", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    request_body = RegisterRequest,
    responses((status = 200, body = RegisterResponse),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`report.wrong_state`: not screened"),
              (status = 422, body = crate::error::ErrorBody, description = "`report.household_invalid`")))]
pub async fn register_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let household_id =
        report_life::register(&state.db, &ctx.actor, &id, req.household_id.as_deref()).await?;
    Ok(Json(RegisterResponse { household_id }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// The 主动发现核查 visit that verified the report.
    pub visit_id: String,
}

/// Confirm a registered report verified (已核实) by the latest submitted 主动发现核查 visit
/// naming it.
#[utoipa::path(post, path = "/api/v1/reports/{id}/verify", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    responses((status = 200, body = VerifyResponse),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`report.wrong_state`: not registered; `report.visit_missing`")))]
pub async fn verify_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<VerifyResponse>> {
    let visit_id = report_life::verify(&state.db, &ctx.actor, &id).await?;
    Ok(Json(VerifyResponse { visit_id }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferRequest {
    /// The programme referred to (`dibao`, `temporary_assistance`, ...); or else `department`.
    #[serde(default)]
    pub programme: Option<String>,
    /// The department referred to (at most 100 characters); or else `programme`.
    #[serde(default)]
    pub department: Option<String>,
    /// The day of the referral, `YYYY-MM-DD`, not after today.
    #[schema(value_type = String, format = Date)]
    pub referred_on: chrono::NaiveDate,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferResponse {
    /// The 回访 task (`report_follow_up`), where the region sets `report_follow_up_days`.
    pub follow_up_task_id: Option<String>,
}

/// Refer a verified report (已转介) to a programme or a department.
#[utoipa::path(post, path = "/api/v1/reports/{id}/refer", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    request_body = ReferRequest,
    responses((status = 200, body = ReferResponse),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`report.wrong_state`: not verified"),
              (status = 400, body = crate::error::ErrorBody, description = "`request.invalid`: neither or both of programme and department, an unknown programme, a day after today")))]
pub async fn refer_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReferRequest>,
) -> ApiResult<Json<ReferResponse>> {
    let referral = report_life::Referral {
        to: report_life::ReferTo::parse(req.programme.as_deref(), req.department.as_deref())?,
        on: req.referred_on,
        note: req.note.as_deref(),
    };
    let follow_up_task_id = report_life::refer(&state.db, &ctx.actor, &id, &referral).await?;
    Ok(Json(ReferResponse { follow_up_task_id }))
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
    params(("id" = String, Path, description = "Discovery report id")),
    request_body = AssignRequest,
    responses((status = 200, body = AssignResponse),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`report.wrong_state`"),
              (status = 422, body = crate::error::ErrorBody, description = "`task.assignee_invalid`")))]
pub async fn assign_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> ApiResult<Json<AssignResponse>> {
    let reviewer = &ctx.actor;
    let task_id =
        reports::assign(&state.db, reviewer, &id, &req.assignee, req.note.as_deref()).await?;
    Ok(Json(AssignResponse { task_id }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub reason: String,
}

/// Close a report with a reason.
#[utoipa::path(post, path = "/api/v1/reports/{id}/close", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Discovery report id")),
    request_body = CloseRequest,
    responses((status = 204),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 409, body = crate::error::ErrorBody, description = "`report.wrong_state`"),
              (status = 422, body = crate::error::ErrorBody, description = "`review.comment_required`")))]
pub async fn close_report(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CloseRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let reviewer = &ctx.actor;
    reports::close(&state.db, reviewer, &id, Some(&req.reason)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A task assigned to the caller (or, for grid workers and assistants, an unassigned scheduled
/// task in their grid).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: String,
    /// `verify_report`: visit the person or household of the report and record a visit;
    /// `report_follow_up`: the 回访 of a referred report's household;
    /// `temp_aid_check`: 急难核查 of a 临时救助 case, due when its 先行救助 is due;
    /// `temp_aid_follow_up`: the 回访 of a paid 临时救助 case's household;
    /// `recheck`: the regular re-check (复核); `death_recheck`: re-check after a member's death;
    /// `visit`: a regular visit (探访); `phase_out_end`: the 渐退期 ends; `rigid_reapply`: a
    /// 刚性支出困难 recognition lapsed; `self_care_reassessment`: re-assess a 特困 person's
    /// self-care after a reported change (自理能力复评, the member named in the note).
    pub kind: String,
    /// Set for `verify_report`, `null` otherwise.
    pub report_id: Option<String>,
    /// Set for scheduled household tasks, `null` otherwise.
    pub household_id: Option<String>,
    /// Set for `temp_aid_check` and `temp_aid_follow_up`: the 临时救助 case.
    pub case_id: Option<String>,
    /// The reviewer's note, or for scheduled tasks the reason in Chinese.
    pub note: Option<String>,
    /// The reason in English (scheduled tasks).
    pub note_en: Option<String>,
    /// `false` for an unassigned task in the caller's grid.
    pub assigned: bool,
    pub created_at_ms: i64,
    pub due_at_ms: Option<i64>,
}

/// The caller's open tasks, earliest due first, as JSON: the list a sync sends the phone
/// (`SyncResponse.tasks`), for other clients.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "review", security(("bearer" = [])),
    responses((status = 200, body = [TaskView])))]
pub async fn my_tasks(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<TaskView>>> {
    ctx.require(&state.db, Action::ReadTasks, Target::Scope, "tasks")
        .await?;
    let rows =
        crate::review::tasks::open_tasks(&state.reads, &ctx.subject, &ctx.account.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|t| TaskView {
                assigned: t.assignee_id.is_some(),
                id: t.id,
                kind: t.kind,
                report_id: t.report_id,
                household_id: t.household_id,
                case_id: t.case_id,
                note: t.note,
                note_en: t.note_en,
                created_at_ms: t.created_at_ms,
                due_at_ms: t.due_at_ms,
            })
            .collect(),
    ))
}
