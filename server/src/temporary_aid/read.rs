//! Cases as reviewers read them: the list with its filters (state, kind, overdue) and one case
//! with its approvals, payments, timeline and the household's yearly total against the cap.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use doudi_protocol::rules::Money;
use doudi_protocol::rules::policy::temporary_aid_yearly_total;

use super::{Kind, LIST_LIMIT, Status, label_zh};
use crate::access::{Action, Actor, Target, scope_condition};
use crate::auth::now_ms;
use crate::entity::{temp_aid_approval, temp_aid_case, temp_aid_event, temp_aid_payment};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::deadlines::{self, missed};

/// A case as listed; the 身份证号 only masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub case_id: String,
    /// `emergency` (急难型) or `expense` (支出型).
    pub kind: String,
    pub kind_label: String,
    pub household_id: String,
    pub member_id: String,
    pub person_name: String,
    /// First 6 + `****` + last 4.
    pub id_masked: Option<String>,
    /// The region where the emergency happened (it decides access), and its name.
    pub region_code: String,
    pub region_name: String,
    pub place: String,
    pub reason: String,
    /// The discovery report that opened the case.
    pub report_id: Option<String>,
    pub reported_at_ms: i64,
    /// 急难: 先行救助 due (`emergency_aid_hours` after the report); `null` for 支出型.
    pub aid_due_at_ms: Option<i64>,
    pub aid_given_at_ms: Option<i64>,
    /// Aid given after its due time, or not given and past it.
    pub aid_overdue: bool,
    /// 补办手续 due (end of the day; `emergency_paperwork_days` after the aid); `null` where
    /// no aid was given in advance or the region sets no period.
    pub paperwork_due_at_ms: Option<i64>,
    pub paperwork_done_at_ms: Option<i64>,
    pub paperwork_overdue: bool,
    /// `aid_overdue` or `paperwork_overdue`.
    pub overdue: bool,
    /// `registered`, `aid_given`, `pending`, `approved`, `refused`, `paid` or `closed`.
    pub status: String,
    pub status_label: String,
    /// Sum of the approved amounts, fen.
    pub approved_fen: i64,
    /// Sum of the payments made on the case, fen.
    pub paid_fen: i64,
    pub created_by: String,
    pub created_at_ms: i64,
}

/// A request for approval (审批) with its route and decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// 1 for the first request, 2 for the first 跟进救助, …
    pub round: i32,
    pub amount_fen: i64,
    /// The household's total of the calendar year the route was computed against (payments
    /// this request covers left out).
    pub received_before_fen: i64,
    /// `township`, `county` or `meeting` (一事一议 at the county).
    pub route: String,
    pub route_label: String,
    /// The yearly cap in force when requested.
    pub cap_fen: Option<i64>,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    pub requested_by: String,
    pub requested_at_ms: i64,
    pub decided_by: Option<String>,
    pub decided_at_ms: Option<i64>,
    /// The reason, or the 一事一议 meeting's record.
    pub note: Option<String>,
    /// Paid on this approval so far, fen.
    pub paid_fen: i64,
}

/// A payment made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub payment_id: String,
    /// `advance` (先行救助) or `staged` (分阶段发放).
    pub stage: String,
    pub stage_label: String,
    pub amount_fen: i64,
    /// `YYYY-MM-DD`.
    pub paid_on: String,
    /// The round of the approval it pays; `null` for 先行救助 no approval covers yet.
    pub round: Option<i32>,
    pub recorded_by: String,
    pub recorded_at_ms: i64,
    pub note: Option<String>,
}

/// One transition: what, from which state to which, who and when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub action: String,
    pub action_label: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub by: String,
    pub at_ms: i64,
    pub amount_fen: Option<i64>,
    pub note: Option<String>,
}

/// A case with everything it holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    pub case: CaseView,
    /// The household's payments dated in the current calendar year (China), every case, fen.
    pub yearly_total_fen: i64,
    /// The yearly cap of the case's region (`temp_aid_yearly_cap`), if limited.
    pub yearly_cap_fen: Option<i64>,
    /// The township's approval limit there (`temp_aid_township_limit`), if set.
    pub township_limit_fen: Option<i64>,
    pub approvals: Vec<ApprovalView>,
    pub payments: Vec<PaymentView>,
    pub events: Vec<EventView>,
}

/// The filters of a case list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseFilter {
    /// `open` (default: not closed), `overdue` (a clock missed), `all`, or one status.
    pub state: Option<String>,
    /// `emergency` or `expense`.
    pub kind: Option<String>,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(zh, en)
        .with_details(serde_json::json!({ "field": field }))
}

/// The rules of the case's clocks ([`missed`]; for the aid, [`deadlines::emergency_flagged`])
/// as SQL over the columns `due` and `done`, for the `overdue` list: done after due, or not done
/// and due before `now` (for the aid, while the case is not closed).
fn missed_sql(
    due: temp_aid_case::Column,
    done: temp_aid_case::Column,
    now: i64,
    open_only: bool,
) -> Condition {
    let mut pending = Condition::all()
        .add(due.is_not_null())
        .add(done.is_null())
        .add(due.lt(now));
    if open_only {
        pending = pending.add(temp_aid_case::Column::Status.ne(Status::Closed.as_str()));
    }
    Condition::any().add(pending).add(
        Condition::all()
            .add(due.is_not_null())
            .add(Expr::col(done).gt(Expr::col(due))),
    )
}

/// The cases of the reader's regions (the places of the emergencies): 急难 overdue first, then
/// oldest report first.
pub async fn list(
    db: &DatabaseConnection,
    reader: &Actor,
    filter: &CaseFilter,
) -> ApiResult<Vec<CaseView>> {
    reader
        .require(db, Action::ReadReviewLists, Target::Scope, "temp_aid.cases")
        .await?;
    let mut q = temp_aid_case::Entity::find().filter(scope_condition(
        &reader.subject,
        temp_aid_case::Column::RegionPath,
    ));
    if let Some(k) = filter.kind.as_deref().filter(|k| !k.is_empty()) {
        let k = Kind::parse(k).ok_or_else(|| {
            invalid(
                "kind",
                "kind 应为 emergency（急难型）或 expense（支出型）。",
                "kind must be emergency or expense.",
            )
        })?;
        q = q.filter(temp_aid_case::Column::Kind.eq(k.as_str()));
    }
    let now = now_ms();
    q = match filter.state.as_deref().unwrap_or("") {
        "" | "open" => q.filter(temp_aid_case::Column::Status.ne(Status::Closed.as_str())),
        "all" => q,
        "overdue" => q.filter(
            Condition::any()
                .add(missed_sql(
                    temp_aid_case::Column::AidDueAtMs,
                    temp_aid_case::Column::AidGivenAtMs,
                    now,
                    true,
                ))
                .add(missed_sql(
                    temp_aid_case::Column::PaperworkDueAtMs,
                    temp_aid_case::Column::PaperworkDoneAtMs,
                    now,
                    false,
                )),
        ),
        s => match Status::parse(s) {
            Some(st) => q.filter(temp_aid_case::Column::Status.eq(st.as_str())),
            None => {
                return Err(invalid(
                    "state",
                    "state 应为 open、overdue、all 或案件状态（registered、aid_given、pending、approved、refused、paid、closed）。",
                    "state must be open, overdue, all or a case status.",
                ));
            }
        },
    };
    let rows = q
        .order_by_asc(temp_aid_case::Column::ReportedAtMs)
        .order_by_asc(temp_aid_case::Column::Id)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    let mut out = views(db, rows).await?;
    out.sort_by_key(|c| !c.overdue);
    Ok(out)
}

/// The cases of a household whose place lies in the reader's regions, newest first, and the
/// household's payments of the current calendar year (every case, fen). The reader is one who
/// may read the household (its page asked already).
pub async fn of_household(
    db: &DatabaseConnection,
    reader: &Actor,
    household_id: &str,
) -> ApiResult<(Vec<CaseView>, i64)> {
    let rows = temp_aid_case::Entity::find()
        .filter(scope_condition(
            &reader.subject,
            temp_aid_case::Column::RegionPath,
        ))
        .filter(temp_aid_case::Column::HouseholdId.eq(household_id))
        .order_by_desc(temp_aid_case::Column::ReportedAtMs)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    let total = yearly_total(db, household_id, this_year()).await?;
    Ok((views(db, rows).await?, total.0))
}

/// A case the reader may see under `action`, or `not_found` (audited when it lies outside the
/// reader's regions).
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    reader: &Actor,
    action: Action,
    case_id: &str,
) -> ApiResult<temp_aid_case::Model> {
    let Some(row) = temp_aid_case::Entity::find_by_id(case_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reader
        .require_visible(db, action, &row.region_path, case_id)
        .await?;
    Ok(row)
}

/// One case with its approvals, payments and timeline.
pub async fn case(db: &DatabaseConnection, reader: &Actor, case_id: &str) -> ApiResult<CaseDetail> {
    let row = visible(db, reader, Action::ReadCase, case_id).await?;
    detail(db, row).await
}

/// The household's payments dated in `year`, every case (fen).
pub async fn yearly_total<C: ConnectionTrait>(
    db: &C,
    household_id: &str,
    year: i32,
) -> Result<Money, DbErr> {
    let rows = temp_aid_payment::Entity::find()
        .filter(temp_aid_payment::Column::HouseholdId.eq(household_id))
        .filter(temp_aid_payment::Column::PaidOn.gte(format!("{year:04}-01-01")))
        .filter(temp_aid_payment::Column::PaidOn.lte(format!("{year:04}-12-31")))
        .all(db)
        .await?;
    Ok(temporary_aid_yearly_total(dated(&rows), year))
}

/// The current calendar year (China).
pub fn this_year() -> i32 {
    deadlines::today().map_or(1970, |d| chrono::Datelike::year(&d))
}

/// Payments as (day, amount), for the yearly total.
pub fn dated(rows: &[temp_aid_payment::Model]) -> Vec<(chrono::NaiveDate, Money)> {
    rows.iter()
        .filter_map(|p| {
            let d = chrono::NaiveDate::parse_from_str(&p.paid_on, "%Y-%m-%d").ok()?;
            Some((d, Money(p.amount_fen)))
        })
        .collect()
}

pub(super) async fn detail(
    db: &DatabaseConnection,
    row: temp_aid_case::Model,
) -> ApiResult<CaseDetail> {
    let approvals = temp_aid_approval::Entity::find()
        .filter(temp_aid_approval::Column::CaseId.eq(row.id.as_str()))
        .order_by_asc(temp_aid_approval::Column::Round)
        .all(db)
        .await?;
    let payments = temp_aid_payment::Entity::find()
        .filter(temp_aid_payment::Column::CaseId.eq(row.id.as_str()))
        .order_by_asc(temp_aid_payment::Column::RecordedAtMs)
        .all(db)
        .await?;
    let events = temp_aid_event::Entity::find()
        .filter(temp_aid_event::Column::CaseId.eq(row.id.as_str()))
        .order_by_asc(temp_aid_event::Column::Id)
        .all(db)
        .await?;
    let mut ids: Vec<String> = events.iter().map(|e| e.account_id.clone()).collect();
    ids.extend(approvals.iter().map(|a| a.requested_by.clone()));
    ids.extend(approvals.iter().filter_map(|a| a.decided_by.clone()));
    ids.extend(payments.iter().map(|p| p.recorded_by.clone()));
    ids.sort();
    ids.dedup();
    let names = crate::accounts::display_names(db, ids).await?;
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let round_of: HashMap<&str, i32> = approvals.iter().map(|a| (a.id.as_str(), a.round)).collect();
    let yearly = yearly_total(db, &row.household_id, this_year()).await?;
    let limits = crate::review::queue::Limits::load(db).await?;
    let policy = limits.of(&row.region_path, now_ms());
    let out = CaseDetail {
        yearly_total_fen: yearly.0,
        yearly_cap_fen: policy
            .temp_aid_yearly_cap
            .and_then(doudi_protocol::rules::Cap::limit)
            .map(|m| m.0),
        township_limit_fen: policy.temp_aid_township_limit.map(|m| m.0),
        approvals: approvals
            .iter()
            .map(|a| ApprovalView {
                round: a.round,
                amount_fen: a.amount_fen,
                received_before_fen: a.received_before_fen,
                route_label: label_zh(&a.route).to_string(),
                route: a.route.clone(),
                cap_fen: a.cap_fen,
                status: a.status.clone(),
                requested_by: name(&a.requested_by),
                requested_at_ms: a.requested_at_ms,
                decided_by: a.decided_by.as_deref().map(name),
                decided_at_ms: a.decided_at_ms,
                note: a.note.clone(),
                paid_fen: payments
                    .iter()
                    .filter(|p| p.approval_id.as_deref() == Some(a.id.as_str()))
                    .map(|p| p.amount_fen)
                    .sum(),
            })
            .collect(),
        payments: payments
            .iter()
            .map(|p| PaymentView {
                payment_id: p.id.clone(),
                stage_label: label_zh(&p.stage).to_string(),
                stage: p.stage.clone(),
                amount_fen: p.amount_fen,
                paid_on: p.paid_on.clone(),
                round: p
                    .approval_id
                    .as_deref()
                    .and_then(|a| round_of.get(a).copied()),
                recorded_by: name(&p.recorded_by),
                recorded_at_ms: p.recorded_at_ms,
                note: p.note.clone(),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventView {
                action_label: label_zh(&e.action).to_string(),
                by: name(&e.account_id),
                action: e.action,
                from_status: e.from_status,
                to_status: e.to_status,
                at_ms: e.at_ms,
                amount_fen: e.amount_fen,
                note: e.note,
            })
            .collect(),
        case: views(db, vec![row]).await?.remove(0),
    };
    Ok(out)
}

/// The cases `rows` as listed: their amounts approved and paid, overdue flags and names.
pub(crate) async fn views(
    db: &DatabaseConnection,
    rows: Vec<temp_aid_case::Model>,
) -> Result<Vec<CaseView>, DbErr> {
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let mut approved: HashMap<String, i64> = HashMap::new();
    for a in temp_aid_approval::Entity::find()
        .filter(temp_aid_approval::Column::CaseId.is_in(ids.clone()))
        .filter(temp_aid_approval::Column::Status.eq("approved"))
        .all(db)
        .await?
    {
        *approved.entry(a.case_id).or_default() += a.amount_fen;
    }
    let mut paid: HashMap<String, i64> = HashMap::new();
    for p in temp_aid_payment::Entity::find()
        .filter(temp_aid_payment::Column::CaseId.is_in(ids))
        .all(db)
        .await?
    {
        *paid.entry(p.case_id).or_default() += p.amount_fen;
    }
    let names =
        crate::accounts::display_names(db, rows.iter().map(|c| c.created_by.clone()).collect())
            .await?;
    let regions =
        crate::regions::names(db, rows.iter().map(|c| c.region_code.clone()).collect()).await?;
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(|c| {
            let aid_overdue = deadlines::emergency_flagged(
                c.kind == Kind::Emergency.as_str(),
                c.aid_due_at_ms,
                c.aid_given_at_ms,
                c.status == Status::Closed.as_str(),
                now,
            );
            let paperwork_overdue = missed(c.paperwork_due_at_ms, c.paperwork_done_at_ms, now);
            CaseView {
                kind_label: label_zh(&c.kind).to_string(),
                status_label: label_zh(&c.status).to_string(),
                region_name: regions
                    .get(&c.region_code)
                    .cloned()
                    .unwrap_or_else(|| c.region_code.clone()),
                approved_fen: approved.get(&c.id).copied().unwrap_or(0),
                paid_fen: paid.get(&c.id).copied().unwrap_or(0),
                created_by: names
                    .get(&c.created_by)
                    .cloned()
                    .unwrap_or_else(|| c.created_by.clone()),
                aid_overdue,
                paperwork_overdue,
                overdue: aid_overdue || paperwork_overdue,
                case_id: c.id,
                kind: c.kind,
                household_id: c.household_id,
                member_id: c.member_id,
                person_name: c.person_name,
                id_masked: c.id_masked,
                region_code: c.region_code,
                place: c.place,
                reason: c.reason,
                report_id: c.report_id,
                reported_at_ms: c.reported_at_ms,
                aid_due_at_ms: c.aid_due_at_ms,
                aid_given_at_ms: c.aid_given_at_ms,
                paperwork_due_at_ms: c.paperwork_due_at_ms,
                paperwork_done_at_ms: c.paperwork_done_at_ms,
                status: c.status,
                created_at_ms: c.created_at_ms,
            }
        })
        .collect())
}
