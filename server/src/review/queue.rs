//! The review queue: visits in the reviewer's regions waiting for a decision, with filters,
//! pagination, due dates and the county's spot-check flag.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select,
};
use serde::{Deserialize, Serialize};

use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::role::Role;
use doudi_protocol::rules::calendar::{WorkCalendar, case_clock};
use doudi_protocol::rules::policy::Policy;

use super::deadlines::{self, DueDate};
use crate::access::{Action, Actor, Subject, Target, decide, scope_condition};
use crate::auth::now_ms;
use crate::entity::{household, region, review_decision, visit};
use crate::error::ApiResult;

/// Rows per page.
pub const PAGE_SIZE: u64 = 20;

/// Queue filters (query parameters of the console and of `GET /api/v1/review/queue`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct QueueFilter {
    /// Region code inside the reviewer's regions (township, village or grid).
    pub region: Option<String>,
    /// Visit purpose code (`investigation`, `recheck`, ...).
    pub purpose: Option<String>,
    /// Visit status code; default: `submitted` for township reviewers, `approved` for county
    /// approvers; `all` for every status.
    pub status: Option<String>,
    /// Only visits submitted at least this many days ago.
    pub min_age_days: Option<u32>,
    /// Page number from 1.
    pub page: Option<u64>,
}

/// One row of the queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub visit_id: String,
    pub household_id: String,
    pub household_address: Option<String>,
    pub head_name: Option<String>,
    pub grid: String,
    pub purpose: String,
    pub status: String,
    pub submitted_at_ms: Option<i64>,
    /// The household is in a 特困 programme.
    pub tekun: bool,
    /// 特困, township-approved, and in the county's spot-check sample.
    pub spot_check: bool,
    /// When the current step is due (YYYY-MM-DD, China time); `null` when no step is due, or
    /// when the day is not known (`calendar_unknown`).
    #[schema(value_type = Option<String>)]
    pub due: Option<NaiveDate>,
    /// The current step's due date falls in a year the server's working-day calendar does not
    /// cover yet (日历未知): it is not computed, rather than guessed with Monday to Friday.
    pub calendar_unknown: bool,
    /// The current step is past its due date.
    pub overdue: bool,
    /// When the whole case must be decided (办理总时限: 30 working days from acceptance, 20
    /// where the township confirms itself, 45 with a recorded reason), while it is open; not
    /// for 特困 cases, whose limits are per step.
    #[schema(value_type = Option<String>)]
    pub case_due: Option<NaiveDate>,
    /// The whole case is past `case_due`.
    pub case_overdue: bool,
    /// `case_due` falls in a year the working-day calendar does not cover yet (日历未知).
    pub case_calendar_unknown: bool,
    /// 受理日期 of the application (YYYY-MM-DD), where the visit records it: the clocks start
    /// there, else at the submission.
    pub accepted_on: Option<String>,
    /// The county visits the household itself before confirming (县级入户核查: a 近亲属备案, or
    /// a case of its spot check), whether or not the visit is recorded yet.
    pub county_visit_needed: bool,
    pub town_approved_at_ms: Option<i64>,
}

/// A page of the queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// Matching visits, counted up to the server's `queue_count_cap`.
    pub total: u64,
    /// More than `total` visits match: the count stopped at the cap, and the pages offered
    /// cover the first `total` of them (narrow the filters to reach the rest).
    pub total_capped: bool,
    pub page: u64,
    pub pages: u64,
    /// The status shown (after the role's default).
    pub status: String,
}

/// The default status of the queue for a role.
pub fn default_status(role: Role) -> &'static str {
    if role == Role::CountyApprover {
        "approved"
    } else {
        "submitted"
    }
}

/// Most township-approved applications read to count those awaiting the township's own
/// confirmation ([`delegated_awaiting`]).
pub const DELEGATED_SCAN: u64 = 1_000;

/// How many applications the township approved that now wait for its own confirmation, because
/// confirmation is delegated to it (审核确认权限下放) in their region's policy at submission:
/// what a township reviewer's default view (已提交) does not list. `0` for a role that does not
/// review at the township. Counts among the first [`DELEGATED_SCAN`] approved applications.
pub async fn delegated_awaiting(db: &DatabaseConnection, reviewer: &Actor) -> ApiResult<u64> {
    if reviewer.subject.role != Role::TownReviewer {
        return Ok(0);
    }
    let rows = visit::Entity::find()
        .filter(scope_condition(
            &reviewer.subject,
            visit::Column::RegionPath,
        ))
        .filter(visit::Column::Status.eq("approved"))
        .filter(visit::Column::Purpose.eq(Purpose::Investigation.as_str()))
        .order_by_asc(visit::Column::SubmittedAtMs)
        .limit(DELEGATED_SCAN)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let limits = Limits::load(db).await?;
    let now = now_ms();
    Ok(rows
        .iter()
        .filter(|v| super::delegated(&limits, v, now))
        .count() as u64)
}

/// Is a household's programme list (comma-separated codes) 特困?
pub fn is_tekun(programmes: &str) -> bool {
    programmes
        .split(',')
        .any(|p| p == "tekun_dispersed" || p == "tekun_centralized")
}

/// Whether a visit is a 特困 case: by the programme its application is for (申请救助类别), or,
/// for a visit that names none, by the household's enrolment.
pub fn tekun_case(applied_for: Option<&str>, household_programmes: &str) -> bool {
    is_tekun(applied_for.unwrap_or(household_programmes))
}

/// The path of a region the subject may see, by code; `None` for unknown or outside.
pub async fn region_path_in_scope(
    db: &DatabaseConnection,
    subject: &Subject,
    code: &str,
) -> ApiResult<Option<String>> {
    let Some(r) = region::Entity::find_by_id(code.to_string()).one(db).await? else {
        return Ok(None);
    };
    Ok(decide(subject, Action::ReadCase, Target::Region(&r.path))
        .is_allowed()
        .then_some(r.path))
}

/// The time limits of each visit's region, from the policy book (the national defaults where a
/// region sets none): the policy in force on the day the visit was submitted.
pub struct Limits {
    book: Option<doudi_protocol::rules::policy::PolicyBook>,
}

impl Limits {
    pub async fn load(db: &DatabaseConnection) -> ApiResult<Limits> {
        match crate::policies::load(db).await {
            Ok((book, _)) => Ok(Limits { book: Some(book) }),
            Err(crate::policies::PolicyStoreError::Db(e)) => Err(e.into()),
            // A stored book that no longer validates (written by an older version): the national
            // limits, and a warning; the policy pages show the error.
            Err(e) => {
                tracing::warn!(error = %e, "policy book unreadable: national time limits used");
                Ok(Limits { book: None })
            }
        }
    }

    pub fn of(&self, region_path: &str, at_ms: i64) -> Policy {
        let day = deadlines::local_date(at_ms).unwrap_or_default();
        match (&self.book, super::recheck::policy_region(region_path)) {
            (Some(b), Some(r)) => b
                .resolve(r, day)
                .unwrap_or_else(|_| b.resolve_national(day)),
            (Some(b), None) => b.resolve_national(day),
            (None, _) => Policy::national_defaults(),
        }
    }
}

/// The statutory clocks of an application (入户调查) `v`, each with the limits of its region's
/// policy in force on the day the case started (docs/REVIEW.md "Due dates").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseDues {
    /// The investigation starts (调查启动).
    pub investigation: Option<DueDate>,
    /// The township's opinion (乡镇审核).
    pub town: Option<DueDate>,
    /// The county's confirmation (县级审核确认), once the township has approved.
    pub county: Option<DueDate>,
    /// The whole case (办理总时限), for a case that is not 特困.
    pub case: Option<DueDate>,
}

/// When the clocks of application `v` start: the day the township accepted it (受理), or, for a
/// visit that records no acceptance, its submission.
pub fn case_start_ms(v: &visit::Model) -> Option<i64> {
    v.accepted_on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(deadlines::midnight_ms)
        .or(v.submitted_at_ms)
}

/// The due dates of application `v` (the county's once the township approved it at
/// `approved_at`).
pub fn application_dues(
    cal: &WorkCalendar,
    limits: &Limits,
    v: &visit::Model,
    tekun: bool,
    approved_at: Option<i64>,
) -> CaseDues {
    let Some(start) = case_start_ms(v) else {
        return CaseDues::default();
    };
    let policy = limits.of(&v.region_path, start);
    let Some(accepted) = deadlines::local_date(start) else {
        return CaseDues::default();
    };
    let approved = approved_at.and_then(deadlines::local_date);
    let c = case_clock(cal, &policy, accepted, approved, tekun, v.case_extended);
    CaseDues {
        investigation: deadlines::due_of(c.investigation),
        town: deadlines::due_of(c.town),
        county: c.county.and_then(deadlines::due_of),
        case: c.case.and_then(deadlines::due_of),
    }
}

/// Whether an application in `status` is still open: its whole-case clock runs until the
/// county's decision (or the township's refusal).
pub fn case_open(status: &str) -> bool {
    matches!(status, "submitted" | "returned" | "approved")
}

/// Whether a due date has passed by `today` (a day the calendar does not know never has).
pub fn past(due: Option<DueDate>, today: Option<NaiveDate>) -> bool {
    matches!((due.and_then(DueDate::date), today), (Some(d), Some(t)) if t > d)
}

/// Enrich visit rows with household, due date and spot-check flag.
pub async fn items(db: &DatabaseConnection, rows: Vec<visit::Model>) -> ApiResult<Vec<QueueItem>> {
    let hh_ids: Vec<String> = rows.iter().map(|v| v.household_id.clone()).collect();
    let households: HashMap<String, household::Model> = household::Entity::find()
        .filter(household::Column::DocId.is_in(hh_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.doc_id.clone(), h))
        .collect();
    let visit_ids: Vec<String> = rows.iter().map(|v| v.doc_id.clone()).collect();
    let mut approvals: HashMap<String, i64> = HashMap::new();
    for d in review_decision::Entity::find()
        .filter(review_decision::Column::VisitId.is_in(visit_ids))
        .filter(review_decision::Column::Decision.eq("approve"))
        .order_by_asc(review_decision::Column::AtMs)
        .all(db)
        .await?
    {
        approvals.insert(d.visit_id, d.at_ms);
    }
    let cal = super::calendar::load(db).await?;
    let limits = Limits::load(db).await?;
    let sampled =
        super::spot_check::sampled(db, rows.iter().map(|v| v.doc_id.clone()).collect()).await?;
    let today = deadlines::today();
    Ok(rows
        .into_iter()
        .map(|v| {
            let hh = households.get(&v.household_id);
            let tekun = tekun_case(
                v.applied_for.as_deref(),
                hh.map_or("", |h| h.programmes.as_str()),
            );
            let approved_at = approvals.get(&v.doc_id).copied();
            // The statutory clocks and the county's spot check are an application's: a visit
            // of another purpose is closed by the township without a legal time limit.
            let application =
                Purpose::parse(&v.purpose).is_some_and(Purpose::needs_county_confirmation);
            let dues = match application {
                true => application_dues(&cal, &limits, &v, tekun, approved_at),
                false => CaseDues::default(),
            };
            let due = match v.status.as_str() {
                "submitted" => dues.town,
                "approved" => dues.county,
                _ => None,
            };
            let case_due = dues.case.filter(|_| case_open(&v.status));
            let spot_check = matches!(v.status.as_str(), "approved" | "confirmed")
                && sampled.contains(&v.doc_id);
            QueueItem {
                spot_check,
                overdue: past(due, today),
                calendar_unknown: matches!(due, Some(DueDate::CalendarUnknown { .. })),
                case_calendar_unknown: matches!(case_due, Some(DueDate::CalendarUnknown { .. })),
                case_due: case_due.and_then(DueDate::date),
                case_overdue: past(case_due, today),
                accepted_on: v.accepted_on.clone(),
                county_visit_needed: v.kin_filing || spot_check,
                visit_id: v.doc_id,
                household_id: v.household_id,
                household_address: hh.map(|h| h.address.clone()),
                head_name: hh.and_then(|h| h.head_name.clone()),
                grid: v.scope,
                purpose: v.purpose,
                status: v.status,
                submitted_at_ms: v.submitted_at_ms,
                tekun,
                due: due.and_then(DueDate::date),
                town_approved_at_ms: approved_at,
            }
        })
        .collect())
}

/// How many visits `q` matches, counted up to `cap`; `true` when more match. Counting stops at
/// the cap: a county's whole backlog can be hundreds of thousands of index entries, which would
/// cost more than the page showing them.
pub async fn capped_count(
    db: &DatabaseConnection,
    q: Select<visit::Entity>,
    cap: u64,
) -> ApiResult<(u64, bool)> {
    let cap = cap.max(1);
    let capped = SelectStatement::new()
        .expr(Expr::cust("COUNT(*)"))
        .from_subquery(
            q.select_only()
                .column(visit::Column::DocId)
                .limit(cap + 1)
                .into_query(),
            "capped",
        )
        .to_owned();
    let counted = match db.query_one(&capped).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
        None => 0,
    };
    Ok((counted.min(cap), counted > cap))
}

/// One page of the reviewer's queue.
pub async fn queue(
    db: &DatabaseConnection,
    reviewer: &Actor,
    filter: &QueueFilter,
    count_cap: u64,
) -> ApiResult<QueuePage> {
    reviewer
        .require(db, Action::ReadReviewLists, Target::Scope, "review.queue")
        .await?;
    let subject = &reviewer.subject;
    let status = filter
        .status
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default_status(subject.role).to_string());
    let mut q = visit::Entity::find().filter(scope_condition(subject, visit::Column::RegionPath));
    if status != "all" {
        q = q.filter(visit::Column::Status.eq(status.as_str()));
    } else {
        q = q.filter(visit::Column::Status.ne("draft"));
    }
    if let Some(code) = filter.region.as_deref().filter(|c| !c.is_empty()) {
        match region_path_in_scope(db, subject, code).await? {
            Some(path) => q = q.filter(visit::Column::RegionPath.starts_with(path.as_str())),
            // A region outside one's scope shows nothing (and says nothing about it).
            None => q = q.filter(visit::Column::DocId.eq("\u{0}")),
        }
    }
    if let Some(p) = filter.purpose.as_deref().filter(|p| !p.is_empty()) {
        q = q.filter(visit::Column::Purpose.eq(p));
    }
    if let Some(days) = filter.min_age_days.filter(|d| *d > 0) {
        let cutoff = now_ms() - i64::from(days.min(3650)) * 86_400_000;
        q = q.filter(visit::Column::SubmittedAtMs.lte(cutoff));
    }
    let (total, total_capped) = capped_count(db, q.clone(), count_cap).await?;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.unwrap_or(1).clamp(1, pages);
    // The page's ids first (an index-only scan in queue order on PostgreSQL, however deep the
    // page), then their rows.
    let ids: Vec<String> = q
        .select_only()
        .column(visit::Column::DocId)
        .order_by_asc(visit::Column::SubmittedAtMs)
        .order_by_asc(visit::Column::DocId)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE.min(total.saturating_sub((page - 1) * PAGE_SIZE)))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_id: HashMap<String, visit::Model> = visit::Entity::find()
        .filter(visit::Column::DocId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.doc_id.clone(), v))
        .collect();
    let rows: Vec<visit::Model> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok(QueuePage {
        items: items(db, rows).await?,
        total,
        total_capped,
        page,
        pages,
        status,
    })
}
