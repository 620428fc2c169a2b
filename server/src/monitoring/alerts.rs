//! Runs and alerts as reviewers read them, the link from a submitted 预警核查 visit to the
//! household's open alerts, and the disposition.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use doudi_protocol::doc::visit::Purpose;

use super::import::UnmatchedRow;
use super::{AUDIT_DISPOSE, Disposition, Indicator, label_zh};
use crate::access::{Action, Actor, Target, scope_condition};
use crate::audit::{self, Outcome};
use crate::auth::now_ms;
use crate::entity::{monitoring_alert, monitoring_row, monitoring_run, task, visit};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::deadlines;

/// Most runs or alerts listed at once.
pub const LIST_LIMIT: u64 = 500;
/// Longest feedback recipient (characters).
pub const MAX_RECIPIENT_CHARS: usize = 100;

/// A run (核查台账) as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub run_id: String,
    pub source: String,
    pub source_label: String,
    pub file_name: String,
    pub format: String,
    pub imported_by: String,
    pub at_ms: i64,
    pub rows: i32,
    pub matched: i32,
    pub unmatched: i32,
    pub alerts: i32,
}

/// A run with its unmatched lines and the alerts it raised that the reader may see.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunDetail {
    pub run: RunView,
    pub unmatched_rows: Vec<UnmatchedRow>,
    pub alerts: Vec<AlertView>,
}

/// An alert as listed and shown; the 身份证号 only masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    pub alert_id: String,
    pub indicator: String,
    pub indicator_label: String,
    pub run_id: String,
    pub source: String,
    pub household_id: String,
    pub member_name: String,
    /// First 6 + `****` + last 4.
    pub id_masked: String,
    /// The household's grid code.
    pub grid: String,
    pub detail: String,
    pub detail_en: String,
    pub received_at_ms: i64,
    /// The verification visit is due by then (`alert_verify_days`); `null` where the region
    /// sets none.
    pub due_at_ms: Option<i64>,
    /// Open, no verification visit yet, and past due.
    pub overdue: bool,
    pub assignee_id: Option<String>,
    pub assignee_name: Option<String>,
    pub task_id: Option<String>,
    /// The linked 预警核查 visit.
    pub visit_id: Option<String>,
    /// `open` or `disposed`.
    pub status: String,
    pub disposition: Option<String>,
    pub disposition_label: Option<String>,
    pub disposition_note: Option<String>,
    pub feedback_date: Option<String>,
    pub feedback_to: Option<String>,
    pub disposed_by: Option<String>,
    pub disposed_at_ms: Option<i64>,
}

/// Which alerts a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertShown {
    /// Not disposed yet.
    #[default]
    Open,
    /// Open, not verified, past due.
    Overdue,
    Disposed,
    All,
}

impl AlertShown {
    pub fn parse(s: &str) -> Option<AlertShown> {
        match s {
            "open" => Some(AlertShown::Open),
            "overdue" => Some(AlertShown::Overdue),
            "disposed" => Some(AlertShown::Disposed),
            "all" => Some(AlertShown::All),
            _ => None,
        }
    }
}

/// The filters of an alert list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// `open` (default), `overdue`, `disposed` or `all`.
    pub state: Option<String>,
    /// `medical_cost`, `severe_disability`, `death`, `unemployment` or `recently_left`.
    pub indicator: Option<String>,
}

/// Whether an alert is overdue at `now`: open, no 预警核查 visit linked yet, and past its
/// verification day (`alert_verify_days`). The list's `overdue` filter is this rule in SQL.
pub fn is_overdue(a: &monitoring_alert::Model, now: i64) -> bool {
    a.status == "open" && a.visit_id.is_none() && a.due_at_ms.is_some_and(|d| d < now)
}

/// A disposition (处置) of an alert, with the feedback (结果反馈).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisposeRequest {
    /// `enrolled` (纳入救助), `referred` (转介), `no_aid_needed` (无需救助) or
    /// `keep_watching` (持续关注).
    pub disposition: String,
    /// `YYYY-MM-DD`: the day the result was fed back (not before the alert, not after today).
    pub feedback_date: String,
    /// To whom (the department that sent the data, the person).
    pub feedback_to: String,
    pub note: Option<String>,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(zh, en)
        .with_details(serde_json::json!({ "field": field }))
}

fn grid_of(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

async fn alert_views(
    db: &DatabaseConnection,
    rows: Vec<monitoring_alert::Model>,
) -> Result<Vec<AlertView>, DbErr> {
    let mut ids: Vec<String> = rows
        .iter()
        .flat_map(|a| [a.assignee_id.clone(), a.disposed_by.clone()])
        .flatten()
        .collect();
    ids.sort();
    ids.dedup();
    let names = crate::accounts::display_names(db, ids).await?;
    let runs: HashMap<String, String> = monitoring_run::Entity::find()
        .filter(monitoring_run::Column::Id.is_in(rows.iter().map(|a| a.run_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.source))
        .collect();
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(|a| AlertView {
            indicator_label: label_zh(&a.indicator).to_string(),
            overdue: is_overdue(&a, now),
            assignee_name: a.assignee_id.as_ref().and_then(|i| names.get(i).cloned()),
            disposition_label: a.disposition.as_deref().map(|d| label_zh(d).to_string()),
            disposed_by: a
                .disposed_by
                .as_ref()
                .map(|i| names.get(i).cloned().unwrap_or_else(|| i.clone())),
            source: runs.get(&a.run_id).cloned().unwrap_or_default(),
            grid: grid_of(&a.region_path),
            alert_id: a.id,
            indicator: a.indicator,
            run_id: a.run_id,
            household_id: a.household_id,
            member_name: a.member_name,
            id_masked: a.id_masked,
            detail: a.detail,
            detail_en: a.detail_en,
            received_at_ms: a.received_at_ms,
            due_at_ms: a.due_at_ms,
            assignee_id: a.assignee_id,
            task_id: a.task_id,
            visit_id: a.visit_id,
            status: a.status,
            disposition: a.disposition,
            disposition_note: a.disposition_note,
            feedback_date: a.feedback_date,
            feedback_to: a.feedback_to,
            disposed_at_ms: a.disposed_at_ms,
        })
        .collect())
}

async fn run_views(
    db: &DatabaseConnection,
    rows: Vec<monitoring_run::Model>,
) -> Result<Vec<RunView>, DbErr> {
    let names =
        crate::accounts::display_names(db, rows.iter().map(|r| r.account_id.clone()).collect())
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| RunView {
            source_label: label_zh(&r.source).to_string(),
            imported_by: names.get(&r.account_id).cloned().unwrap_or(r.account_id),
            run_id: r.id,
            source: r.source,
            file_name: r.file_name,
            format: r.format,
            at_ms: r.at_ms,
            rows: r.row_count,
            matched: r.matched_count,
            unmatched: r.unmatched_count,
            alerts: r.alert_count,
        })
        .collect())
}

/// The runs imported in the reader's regions, newest first.
pub async fn list_runs(db: &DatabaseConnection, reader: &Actor) -> ApiResult<Vec<RunView>> {
    reader
        .require(
            db,
            Action::ReadReviewLists,
            Target::Scope,
            "monitoring.runs",
        )
        .await?;
    let rows = monitoring_run::Entity::find()
        .filter(scope_condition(
            &reader.subject,
            monitoring_run::Column::RegionPath,
        ))
        .order_by_desc(monitoring_run::Column::AtMs)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    Ok(run_views(db, rows).await?)
}

/// A run the reader may see (one imported inside the reader's regions), or `not_found`
/// (audited when it lies outside them).
pub async fn visible_run(
    db: &DatabaseConnection,
    reader: &Actor,
    run_id: &str,
) -> ApiResult<monitoring_run::Model> {
    reader
        .require(db, Action::ReadReviewLists, Target::Scope, run_id)
        .await?;
    let Some(row) = monitoring_run::Entity::find_by_id(run_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reader
        .require_visible(db, Action::ReadReviewLists, &row.region_path, run_id)
        .await?;
    Ok(row)
}

/// One run: its unmatched lines and the alerts it raised in the reader's regions.
pub async fn run(db: &DatabaseConnection, reader: &Actor, run_id: &str) -> ApiResult<RunDetail> {
    let row = visible_run(db, reader, run_id).await?;
    let unmatched_rows = monitoring_row::Entity::find()
        .filter(monitoring_row::Column::RunId.eq(run_id))
        .filter(monitoring_row::Column::HouseholdId.is_null())
        .order_by_asc(monitoring_row::Column::Line)
        .all(db)
        .await?
        .into_iter()
        .map(|r| UnmatchedRow {
            line: r.line as u32,
            id_masked: r.id_masked,
            name: r.name,
        })
        .collect();
    let alerts = monitoring_alert::Entity::find()
        .filter(monitoring_alert::Column::RunId.eq(run_id))
        .filter(scope_condition(
            &reader.subject,
            monitoring_alert::Column::RegionPath,
        ))
        .order_by_asc(monitoring_alert::Column::Id)
        .all(db)
        .await?;
    let run = run_views(db, vec![row]).await?.remove(0);
    Ok(RunDetail {
        run,
        unmatched_rows,
        alerts: alert_views(db, alerts).await?,
    })
}

/// The alerts of the reader's regions: earliest due first (those without a due date last),
/// then oldest.
pub async fn list_alerts(
    db: &DatabaseConnection,
    reader: &Actor,
    filter: &AlertFilter,
) -> ApiResult<Vec<AlertView>> {
    reader
        .require(
            db,
            Action::ReadReviewLists,
            Target::Scope,
            "monitoring.alerts",
        )
        .await?;
    let shown = match filter.state.as_deref() {
        None | Some("") => AlertShown::Open,
        Some(s) => AlertShown::parse(s).ok_or_else(|| {
            invalid(
                "state",
                "state 应为 open、overdue、disposed 或 all。",
                "state must be open, overdue, disposed or all.",
            )
        })?,
    };
    let mut q = monitoring_alert::Entity::find().filter(scope_condition(
        &reader.subject,
        monitoring_alert::Column::RegionPath,
    ));
    if let Some(i) = filter.indicator.as_deref().filter(|i| !i.is_empty()) {
        let Some(i) = Indicator::parse(i) else {
            return Err(invalid(
                "indicator",
                "indicator 应为 medical_cost、severe_disability、death、unemployment 或 recently_left。",
                "indicator must be medical_cost, severe_disability, death, unemployment or recently_left.",
            ));
        };
        q = q.filter(monitoring_alert::Column::Indicator.eq(i.as_str()));
    }
    q = match shown {
        AlertShown::Open => q.filter(monitoring_alert::Column::Status.eq("open")),
        AlertShown::Overdue => q
            .filter(monitoring_alert::Column::Status.eq("open"))
            .filter(monitoring_alert::Column::VisitId.is_null())
            .filter(monitoring_alert::Column::DueAtMs.lt(now_ms())),
        AlertShown::Disposed => q.filter(monitoring_alert::Column::Status.eq("disposed")),
        AlertShown::All => q,
    };
    let mut rows = q
        .order_by_asc(monitoring_alert::Column::ReceivedAtMs)
        .order_by_asc(monitoring_alert::Column::Id)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    rows.sort_by_key(|a| a.due_at_ms.unwrap_or(i64::MAX));
    Ok(alert_views(db, rows).await?)
}

/// An alert the reader may see, or `not_found` (audited when it lies outside the regions).
async fn visible(
    db: &DatabaseConnection,
    reader: &Actor,
    action: Action,
    alert_id: &str,
) -> ApiResult<monitoring_alert::Model> {
    let Some(row) = monitoring_alert::Entity::find_by_id(alert_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reader
        .require_visible(db, action, &row.region_path, alert_id)
        .await?;
    Ok(row)
}

/// One alert.
pub async fn alert(
    db: &DatabaseConnection,
    reader: &Actor,
    alert_id: &str,
) -> ApiResult<AlertView> {
    reader
        .require(db, Action::ReadReviewLists, Target::Scope, alert_id)
        .await?;
    let row = visible(db, reader, Action::ReadCase, alert_id).await?;
    Ok(alert_views(db, vec![row]).await?.remove(0))
}

/// Record how an alert was handled and to whom the result was fed back. The alert must be open
/// and verified (its 预警核查 visit linked); its task, if still open, is done.
pub async fn dispose(
    db: &DatabaseConnection,
    reviewer: &Actor,
    alert_id: &str,
    req: &DisposeRequest,
) -> ApiResult<AlertView> {
    reviewer
        .require(db, Action::ReviewVisit, Target::Scope, alert_id)
        .await?;
    let row = visible(db, reviewer, Action::ReviewVisit, alert_id).await?;
    let disposition = Disposition::parse(req.disposition.trim()).ok_or_else(|| {
        invalid(
            "disposition",
            "请选择处置结果：纳入救助、转介、无需救助或持续关注。",
            "disposition must be enrolled, referred, no_aid_needed or keep_watching.",
        )
    })?;
    let today = deadlines::today().ok_or_else(|| ApiError::internal("no date today"))?;
    let received = deadlines::local_date(row.received_at_ms).unwrap_or(today);
    let feedback_date =
        match chrono::NaiveDate::parse_from_str(req.feedback_date.trim(), "%Y-%m-%d") {
            Ok(d) if d >= received && d <= today => d,
            Ok(_) => {
                return Err(invalid(
                    "feedback_date",
                    format!("反馈日期应在预警接收日（{received}）与今天之间。"),
                    format!(
                        "The feedback date must lie between the alert's day ({received}) and today."
                    ),
                ));
            }
            Err(_) => {
                return Err(invalid(
                    "feedback_date",
                    "请填写反馈日期（如 2026-12-06）。",
                    "feedback_date must be a date YYYY-MM-DD.",
                ));
            }
        };
    let feedback_to = req.feedback_to.trim();
    if feedback_to.is_empty() || feedback_to.chars().count() > MAX_RECIPIENT_CHARS {
        return Err(invalid(
            "feedback_to",
            format!("请填写反馈对象（不超过 {MAX_RECIPIENT_CHARS} 字）。"),
            format!("feedback_to is required (at most {MAX_RECIPIENT_CHARS} characters)."),
        ));
    }
    let note = crate::review::clean_comment(req.note.as_deref(), false)?;
    if row.status != "open" {
        return Err(ApiError::new(Code::AlertWrongState)
            .with_details(serde_json::json!({ "status": row.status })));
    }
    if row.visit_id.is_none() {
        return Err(ApiError::new(Code::AlertWrongState)
            .with_message(
                "尚未提交预警核查走访，不能处置：请待网格员入户核查后再处置。",
                "No alert-check visit has been submitted yet: dispose after the home visit.",
            )
            .with_details(serde_json::json!({ "status": row.status, "visit_id": null })));
    }
    let at = now_ms();
    let txn = db.begin().await?;
    let done = monitoring_alert::Entity::update_many()
        .col_expr(monitoring_alert::Column::Status, Expr::value("disposed"))
        .col_expr(
            monitoring_alert::Column::OpenKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            monitoring_alert::Column::Disposition,
            Expr::value(disposition.as_str()),
        )
        .col_expr(
            monitoring_alert::Column::DispositionNote,
            Expr::value(note.clone()),
        )
        .col_expr(
            monitoring_alert::Column::FeedbackDate,
            Expr::value(feedback_date.to_string()),
        )
        .col_expr(
            monitoring_alert::Column::FeedbackTo,
            Expr::value(feedback_to),
        )
        .col_expr(
            monitoring_alert::Column::DisposedBy,
            Expr::value(reviewer.account.id.clone()),
        )
        .col_expr(monitoring_alert::Column::DisposedAtMs, Expr::value(at))
        .filter(monitoring_alert::Column::Id.eq(alert_id))
        .filter(monitoring_alert::Column::Status.eq("open"))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(ApiError::new(Code::AlertWrongState));
    }
    if let Some(t) = &row.task_id {
        task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value("done"))
            .filter(task::Column::Id.eq(t.as_str()))
            .filter(task::Column::Status.eq("open"))
            .exec(&txn)
            .await?;
    }
    let mut ev = reviewer.event(AUDIT_DISPOSE, Some(alert_id));
    ev.detail = Some(serde_json::json!({
        "disposition": disposition.as_str(), "feedback_date": feedback_date.to_string(),
        "feedback_to": feedback_to, "visit": row.visit_id,
    }));
    audit::row(Outcome::Ok, ev).insert(&txn).await?;
    txn.commit().await?;
    let row = visible(db, reviewer, Action::ReviewVisit, alert_id).await?;
    Ok(alert_views(db, vec![row]).await?.remove(0))
}

/// Link each submitted 预警核查 visit among `visit_ids` to the open alerts of its household
/// received before its submission that have no visit yet, and mark their tasks done. Returns
/// how many alerts were linked. Called for the documents a sync stored.
pub async fn link_visits(db: &DatabaseConnection, visit_ids: &[&str]) -> Result<usize, DbErr> {
    if visit_ids.is_empty() {
        return Ok(0);
    }
    let mut linked = 0;
    for chunk in visit_ids.chunks(crate::db::IN_CHUNK) {
        let visits = visit::Entity::find()
            .filter(visit::Column::DocId.is_in(chunk.iter().copied()))
            .filter(visit::Column::Purpose.eq(Purpose::AlertCheck.as_str()))
            .filter(visit::Column::Status.ne("draft"))
            .filter(visit::Column::SubmittedAtMs.is_not_null())
            .all(db)
            .await?;
        for v in visits {
            let submitted = v.submitted_at_ms.unwrap_or(i64::MAX);
            let open = monitoring_alert::Entity::find()
                .filter(monitoring_alert::Column::HouseholdId.eq(v.household_id.as_str()))
                .filter(monitoring_alert::Column::Status.eq("open"))
                .filter(monitoring_alert::Column::VisitId.is_null())
                .filter(monitoring_alert::Column::ReceivedAtMs.lte(submitted))
                .all(db)
                .await?;
            if open.is_empty() {
                continue;
            }
            let txn = db.begin().await?;
            let ids: Vec<String> = open.iter().map(|a| a.id.clone()).collect();
            let n = monitoring_alert::Entity::update_many()
                .col_expr(
                    monitoring_alert::Column::VisitId,
                    Expr::value(v.doc_id.clone()),
                )
                .filter(monitoring_alert::Column::Id.is_in(ids))
                .filter(monitoring_alert::Column::VisitId.is_null())
                .exec(&txn)
                .await?;
            let tasks: Vec<String> = open.iter().filter_map(|a| a.task_id.clone()).collect();
            task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value("done"))
                .filter(task::Column::Id.is_in(tasks))
                .filter(task::Column::Status.eq("open"))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            linked += n.rows_affected as usize;
        }
    }
    Ok(linked)
}
