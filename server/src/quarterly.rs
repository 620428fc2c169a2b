//! 每季度报告: the quarterly report a township or county sends up (notice 004, "每季度报告"), per
//! region and quarter, computed from the records alone (docs/REVIEW.md "Quarterly report"):
//!
//! - households and persons in each programme at the quarter's end, from the households'
//!   decisions ([`DecisionOutcome::enrols`], the rule that sets programmes), persons being the
//!   保障人数 of the decision that enrolled them (the household's current members where it names
//!   none); a 刚性支出困难 recognition counts until it lapses
//!   ([`schedule::rigid_expenditure_lapses_on`]);
//! - entries (批准), exits (终止), refusals (不予批准) and phase-outs begun (渐退) in the quarter;
//! - re-checks (定期复核, 死亡后复核) due in the quarter: how many, done, overdue (open past their
//!   day);
//! - visits submitted, by purpose; discovery reports, by channel and by state; monitoring alerts
//!   received, by indicator and by disposition;
//! - 临时救助: cases opened by type, 先行救助 on time and late, payments and their total, 一事一议
//!   requests;
//! - applications decided in the quarter (confirmed or refused, by the county or by a township
//!   with delegated confirmation) and how many were decided within their time limits: every step
//!   by its due date and the whole case by its own, with the same clocks as the review queue
//!   ([`queue::application_dues`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::Serialize;

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus};
use doudi_protocol::doc::household::{DecisionOutcome, Programme};
use doudi_protocol::doc::visit::{Purpose, VisitStatus};
use doudi_protocol::rules::schedule;

use crate::access::{Action, Actor, Target};
use crate::entity::{
    decision, household, monitoring_alert, region, report, review_decision, task, visit,
};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::{deadlines, queue};

/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A calendar quarter (季度).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter {
    pub year: i32,
    /// 1 to 4.
    pub q: u32,
}

impl Quarter {
    /// `2026Q4` (also `2026-Q4`, `2026q4`).
    pub fn parse(s: &str) -> Option<Quarter> {
        let s = s.trim().to_ascii_uppercase();
        let (y, q) = s.split_once('Q')?;
        let year: i32 = y.trim_end_matches('-').parse().ok()?;
        let q: u32 = q.parse().ok()?;
        ((1..=4).contains(&q) && (2000..=2100).contains(&year)).then_some(Quarter { year, q })
    }

    /// The quarter `day` falls in.
    pub fn of(day: NaiveDate) -> Quarter {
        Quarter {
            year: day.year(),
            q: (day.month() - 1) / 3 + 1,
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, (self.q - 1) * 3 + 1, 1).unwrap_or_default()
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or_default()
    }

    pub fn next(self) -> Quarter {
        match self.q {
            4 => Quarter {
                year: self.year + 1,
                q: 1,
            },
            q => Quarter { q: q + 1, ..self },
        }
    }

    pub fn previous(self) -> Quarter {
        match self.q {
            1 => Quarter {
                year: self.year - 1,
                q: 4,
            },
            q => Quarter { q: q - 1, ..self },
        }
    }

    /// `2026Q4`.
    pub fn code(self) -> String {
        format!("{}Q{}", self.year, self.q)
    }

    /// `2026 年第四季度`.
    pub fn label_zh(self) -> String {
        let n = ["一", "二", "三", "四"][(self.q as usize - 1).min(3)];
        format!("{} 年第{n}季度", self.year)
    }
}

/// One line of a breakdown: a code, its Chinese label, a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub code: String,
    pub label: String,
    pub count: u64,
}

/// One programme's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgrammeFigures {
    /// Programme code (`dibao`, …).
    pub programme: String,
    pub label: String,
    /// Households in the programme at the end of the quarter (or today, for the current one).
    pub households: u64,
    /// Persons those households' decisions cover (保障人数).
    pub persons: u64,
    /// 批准 in the quarter.
    pub entries: u64,
    /// 终止 in the quarter.
    pub exits: u64,
    /// 不予批准 in the quarter.
    pub refusals: u64,
    /// 渐退 decided in the quarter.
    pub phase_outs: u64,
}

/// Re-checks (定期复核, 成员死亡后复核) due in the quarter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecheckFigures {
    pub due: u64,
    pub done: u64,
    /// Still open after their due day.
    pub overdue: u64,
}

/// Applications (入户调查 of an application) decided in the quarter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApplicationFigures {
    pub decided: u64,
    /// Confirmed (审核确认: approved).
    pub approved: u64,
    /// Refused (不予通过, by the township or the county).
    pub refused: u64,
    /// Every step decided by its due date.
    pub within_limits: u64,
}

/// 临时救助 in the quarter: cases by the place of the emergency in the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TempAidFigures {
    /// Cases opened (registered) in the quarter, by type (`emergency` 急难型, `expense` 支出型).
    pub opened_by_kind: Vec<Count>,
    /// 急难 cases whose 先行救助 was due in the quarter: given by the time.
    pub aid_on_time: u64,
    /// … given late, or not given and past due.
    pub aid_late: u64,
    /// Payments made (paid on a day of the quarter) and their total, fen.
    pub payments: u64,
    pub paid_fen: i64,
    /// Households paid in the quarter.
    pub households_paid: u64,
    /// Requests above the yearly cap (一事一议) made in the quarter.
    pub above_cap_requests: u64,
}

/// The quarterly report of one region.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QuarterlyReport {
    /// Region code.
    pub region: String,
    pub region_name: String,
    /// `2026Q4`.
    pub quarter: String,
    pub quarter_label: String,
    /// First and last day, `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    /// When the figures were computed (unix ms).
    pub computed_at_ms: i64,
    pub programmes: Vec<ProgrammeFigures>,
    pub rechecks: RecheckFigures,
    pub visits_by_purpose: Vec<Count>,
    pub reports_by_channel: Vec<Count>,
    pub reports_by_status: Vec<Count>,
    pub alerts_by_indicator: Vec<Count>,
    /// Disposed alerts by disposition; open ones as `open` (待处置).
    pub alerts_by_disposition: Vec<Count>,
    pub applications: ApplicationFigures,
    pub temporary_aid: TempAidFigures,
}

impl QuarterlyReport {
    /// The share of the quarter's decided applications decided within their limits, 0–1;
    /// `None` when none was decided.
    pub fn share_within_limits(&self) -> Option<f64> {
        let a = &self.applications;
        (a.decided > 0).then(|| a.within_limits as f64 / a.decided as f64)
    }
}

fn invalid(field: &str, zh: String, en: String) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(zh, en)
        .with_details(serde_json::json!({ "field": field }))
}

/// The quarter asked for (default: the current one).
pub fn quarter_param(asked: Option<&str>) -> ApiResult<Quarter> {
    match asked.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Quarter::of(deadlines::today().unwrap_or_default())),
        Some(s) => Quarter::parse(s).ok_or_else(|| {
            invalid(
                "quarter",
                format!("季度应写作 年Q季，如 2026Q4：{s}"),
                format!("a quarter is YEARQn, e.g. 2026Q4: {s}"),
            )
        }),
    }
}

/// The region asked for, inside the caller's regions (default: the caller's first region).
async fn region_of(
    db: &DatabaseConnection,
    actor: &Actor,
    asked: Option<&str>,
) -> ApiResult<region::Model> {
    let code = match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => c.to_string(),
        None => actor
            .subject
            .scope
            .first()
            .and_then(|p| p.trim_end_matches('/').rsplit('/').next())
            .unwrap_or_default()
            .to_string(),
    };
    let not_found = || {
        ApiError::new(Code::NotFound).with_message(
            format!("没有这个区划，或不在您的管辖范围内：{code}"),
            format!("no such region in your regions: {code}"),
        )
    };
    if queue::region_path_in_scope(db, &actor.subject, &code)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    region::Entity::find_by_id(code.clone())
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Compute the report of `region` (a code; default the caller's first region) for `quarter`.
pub async fn compute(
    db: &DatabaseConnection,
    actor: &Actor,
    region: Option<&str>,
    quarter: Quarter,
) -> ApiResult<QuarterlyReport> {
    actor
        .require(
            db,
            Action::ReadReviewLists,
            Target::Scope,
            "statistics.quarterly",
        )
        .await?;
    let region = region_of(db, actor, region).await?;
    let path = region.path.as_str();
    let from_ms = deadlines::midnight_ms(quarter.first_day());
    let to_ms = deadlines::midnight_ms(quarter.next().first_day());
    let now = crate::auth::now_ms();
    Ok(QuarterlyReport {
        region: region.code.clone(),
        region_name: region.name.clone(),
        quarter: quarter.code(),
        quarter_label: quarter.label_zh(),
        from: quarter.first_day().to_string(),
        to: quarter.last_day().to_string(),
        computed_at_ms: now,
        programmes: programmes(db, path, from_ms, to_ms).await?,
        rechecks: rechecks(db, path, from_ms, to_ms, now).await?,
        visits_by_purpose: grouped(
            visit::Entity::find()
                .filter(visit::Column::RegionPath.starts_with(path))
                .filter(visit::Column::Status.ne(VisitStatus::Draft.as_str()))
                .filter(visit::Column::SubmittedAtMs.gte(from_ms))
                .filter(visit::Column::SubmittedAtMs.lt(to_ms)),
            visit::Column::Purpose,
            db,
            |c| Purpose::parse(c).map(|p| p.label_zh()),
        )
        .await?,
        reports_by_channel: grouped(
            reports_in(path, from_ms, to_ms),
            report::Column::Channel,
            db,
            |c| Channel::parse(c).map(|p| p.label_zh()),
        )
        .await?,
        reports_by_status: grouped(
            reports_in(path, from_ms, to_ms),
            report::Column::Status,
            db,
            |c| DiscoveryStatus::parse(c).map(|p| p.label_zh()),
        )
        .await?,
        alerts_by_indicator: grouped(
            alerts_in(path, from_ms, to_ms),
            monitoring_alert::Column::Indicator,
            db,
            |c| Some(crate::monitoring::label_zh(c)),
        )
        .await?,
        alerts_by_disposition: alerts_by_disposition(db, path, from_ms, to_ms).await?,
        applications: applications(db, path, from_ms, to_ms).await?,
        temporary_aid: temporary_aid(db, path, quarter, now).await?,
    })
}

fn reports_in(path: &str, from_ms: i64, to_ms: i64) -> Select<report::Entity> {
    report::Entity::find()
        .filter(report::Column::RegionPath.starts_with(path))
        .filter(report::Column::Status.ne(DiscoveryStatus::Draft.as_str()))
        .filter(report::Column::ReportedAtMs.gte(from_ms))
        .filter(report::Column::ReportedAtMs.lt(to_ms))
}

fn alerts_in(path: &str, from_ms: i64, to_ms: i64) -> Select<monitoring_alert::Entity> {
    monitoring_alert::Entity::find()
        .filter(monitoring_alert::Column::RegionPath.starts_with(path))
        .filter(monitoring_alert::Column::ReceivedAtMs.gte(from_ms))
        .filter(monitoring_alert::Column::ReceivedAtMs.lt(to_ms))
}

/// Rows of `q` counted by `col` (a missing value as `none`, 未填), largest first.
async fn grouped<E: EntityTrait>(
    q: Select<E>,
    col: E::Column,
    db: &DatabaseConnection,
    label: fn(&str) -> Option<&'static str>,
) -> ApiResult<Vec<Count>> {
    let rows: Vec<(Option<String>, i64)> = q
        .select_only()
        .column(col)
        // COUNT(*): a group of rows without a value (NULL) counts too.
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(col)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<Count> = rows
        .into_iter()
        .map(|(code, n)| {
            let code = code.unwrap_or_else(|| "none".into());
            Count {
                label: label(&code).map(str::to_string).unwrap_or_else(|| {
                    if code == "none" {
                        "未填".into()
                    } else {
                        code.clone()
                    }
                }),
                code,
                count: u64::try_from(n).unwrap_or(0),
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(out)
}

/// Enrolment at the quarter's end and the quarter's decisions, per programme.
async fn programmes(
    db: &DatabaseConnection,
    path: &str,
    from_ms: i64,
    to_ms: i64,
) -> ApiResult<Vec<ProgrammeFigures>> {
    let rows = decision::Entity::find()
        .filter(decision::Column::RegionPath.starts_with(path))
        .filter(decision::Column::AtMs.lt(to_ms))
        .filter(decision::Column::Programme.is_not_null())
        .order_by_asc(decision::Column::AtMs)
        .order_by_asc(decision::Column::DocId)
        .order_by_asc(decision::Column::Idx)
        .all(db)
        .await?;
    // (household, programme) → the 保障人数 of the decision that enrolled it, and its time.
    let mut enrolled: HashMap<(String, Programme), (Option<i32>, i64)> = HashMap::new();
    let mut decided: HashMap<(Programme, DecisionOutcome), u64> = HashMap::new();
    for d in &rows {
        let (Some(p), Some(outcome)) = (
            d.programme.as_deref().and_then(Programme::parse),
            DecisionOutcome::parse(&d.outcome),
        ) else {
            continue;
        };
        match outcome.enrols() {
            Some(true) => {
                enrolled.insert((d.doc_id.clone(), p), (d.household_size, d.at_ms));
            }
            Some(false) => {
                enrolled.remove(&(d.doc_id.clone(), p));
            }
            None => {}
        }
        if d.at_ms >= from_ms {
            *decided.entry((p, outcome)).or_default() += 1;
        }
    }
    // A 刚性支出困难 recognition no longer holds on the quarter's last day 12 months after it.
    let last_day = deadlines::local_date(to_ms - 1);
    enrolled.retain(|(_, p), (_, at)| {
        *p != Programme::RigidExpenditure
            || deadlines::local_date(*at)
                .and_then(|d| schedule::rigid_expenditure_lapses_on(d).ok())
                .zip(last_day)
                .is_none_or(|(lapses, last)| lapses > last)
    });
    // Households whose enrolling decision names no 保障人数: their current members.
    let no_size: HashSet<String> = enrolled
        .iter()
        .filter(|(_, (n, _))| n.is_none())
        .map(|((h, _), _)| h.clone())
        .collect();
    let mut members: HashMap<String, i32> = HashMap::new();
    let no_size: Vec<String> = no_size.into_iter().collect();
    for chunk in no_size.chunks(IN_CHUNK) {
        for h in household::Entity::find()
            .filter(household::Column::DocId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            members.insert(h.doc_id, h.member_count);
        }
    }
    let mut per: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for ((h, p), (size, _)) in &enrolled {
        let i = Programme::ALL.iter().position(|x| x == p).unwrap_or(0);
        let persons = size.or_else(|| members.get(h).copied()).unwrap_or(0);
        let e = per.entry(i).or_default();
        e.0 += 1;
        e.1 += u64::try_from(persons).unwrap_or(0);
    }
    let count = |p: Programme, o: DecisionOutcome| decided.get(&(p, o)).copied().unwrap_or(0);
    Ok(Programme::ALL
        .iter()
        .enumerate()
        // 临时救助 is no enrolment; its cases are counted where they are kept.
        .filter(|(_, p)| **p != Programme::TemporaryAssistance)
        .map(|(i, p)| {
            let (households, persons) = per.get(&i).copied().unwrap_or((0, 0));
            ProgrammeFigures {
                programme: p.as_str().to_string(),
                label: p.label_zh().to_string(),
                households,
                persons,
                entries: count(*p, DecisionOutcome::Approved),
                exits: count(*p, DecisionOutcome::Terminated),
                refusals: count(*p, DecisionOutcome::Refused),
                phase_outs: count(*p, DecisionOutcome::PhaseOut),
            }
        })
        .collect())
}

/// Re-check tasks due in the quarter (a superseded one replaced by its successor not counted).
async fn rechecks(
    db: &DatabaseConnection,
    path: &str,
    from_ms: i64,
    to_ms: i64,
    now: i64,
) -> ApiResult<RecheckFigures> {
    let rows: Vec<(String, Option<i64>)> = task::Entity::find()
        .filter(task::Column::RegionPath.starts_with(path))
        .filter(task::Column::Kind.is_in(["recheck", "death_recheck"]))
        .filter(task::Column::Status.ne("superseded"))
        .filter(task::Column::DueAtMs.gte(from_ms))
        .filter(task::Column::DueAtMs.lt(to_ms))
        .select_only()
        .column(task::Column::Status)
        .column(task::Column::DueAtMs)
        .into_tuple()
        .all(db)
        .await?;
    Ok(RecheckFigures {
        due: rows.len() as u64,
        done: rows.iter().filter(|(s, _)| s == "done").count() as u64,
        overdue: rows
            .iter()
            .filter(|(s, due)| s == "open" && due.is_some_and(|d| d < now))
            .count() as u64,
    })
}

async fn alerts_by_disposition(
    db: &DatabaseConnection,
    path: &str,
    from_ms: i64,
    to_ms: i64,
) -> ApiResult<Vec<Count>> {
    let rows: Vec<(String, Option<String>)> = alerts_in(path, from_ms, to_ms)
        .select_only()
        .column(monitoring_alert::Column::Status)
        .column(monitoring_alert::Column::Disposition)
        .into_tuple()
        .all(db)
        .await?;
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for (status, disposition) in rows {
        let code = match (status.as_str(), disposition) {
            ("open", _) | (_, None) => "open".to_string(),
            (_, Some(d)) => d,
        };
        *by.entry(code).or_default() += 1;
    }
    let mut out: Vec<Count> = by
        .into_iter()
        .map(|(code, count)| Count {
            label: if code == "open" {
                "待处置".into()
            } else {
                crate::monitoring::label_zh(&code).into()
            },
            code,
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(out)
}

/// 临时救助 cases whose place is in the region: opened, 先行救助 on time or late, payments.
async fn temporary_aid(
    db: &DatabaseConnection,
    path: &str,
    quarter: Quarter,
    now: i64,
) -> ApiResult<TempAidFigures> {
    use crate::entity::{temp_aid_approval, temp_aid_case, temp_aid_payment};
    let from_ms = deadlines::midnight_ms(quarter.first_day());
    let to_ms = deadlines::midnight_ms(quarter.next().first_day());
    let in_region = || {
        temp_aid_case::Entity::find().filter(temp_aid_case::Column::RegionPath.starts_with(path))
    };
    let opened_by_kind = grouped(
        in_region()
            .filter(temp_aid_case::Column::CreatedAtMs.gte(from_ms))
            .filter(temp_aid_case::Column::CreatedAtMs.lt(to_ms)),
        temp_aid_case::Column::Kind,
        db,
        |c| crate::temporary_aid::Kind::parse(c).map(crate::temporary_aid::Kind::label_zh),
    )
    .await?;
    let due: Vec<(Option<i64>, Option<i64>)> = in_region()
        .filter(temp_aid_case::Column::AidDueAtMs.gte(from_ms))
        .filter(temp_aid_case::Column::AidDueAtMs.lt(to_ms))
        .select_only()
        .column(temp_aid_case::Column::AidDueAtMs)
        .column(temp_aid_case::Column::AidGivenAtMs)
        .into_tuple()
        .all(db)
        .await?;
    let aid_late = due
        .iter()
        .filter(|(due, given)| deadlines::missed(*due, *given, now))
        .count() as u64;
    let aid_on_time = due
        .iter()
        .filter(|(due, given)| given.is_some() && !deadlines::missed(*due, *given, now))
        .count() as u64;
    // Payments and requests of the region's cases.
    let ids: Vec<String> = in_region()
        .select_only()
        .column(temp_aid_case::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let (first, last) = (
        quarter.first_day().to_string(),
        quarter.last_day().to_string(),
    );
    let (mut payments, mut paid_fen, mut households, mut above_cap) =
        (0u64, 0i64, HashSet::new(), 0u64);
    for chunk in ids.chunks(IN_CHUNK) {
        for p in temp_aid_payment::Entity::find()
            .filter(temp_aid_payment::Column::CaseId.is_in(chunk.to_vec()))
            .filter(temp_aid_payment::Column::PaidOn.gte(first.as_str()))
            .filter(temp_aid_payment::Column::PaidOn.lte(last.as_str()))
            .all(db)
            .await?
        {
            payments += 1;
            paid_fen = paid_fen.saturating_add(p.amount_fen);
            households.insert(p.household_id);
        }
        above_cap += temp_aid_approval::Entity::find()
            .filter(temp_aid_approval::Column::CaseId.is_in(chunk.to_vec()))
            .filter(
                temp_aid_approval::Column::Route.eq(crate::temporary_aid::Route::Meeting.as_str()),
            )
            .filter(temp_aid_approval::Column::RequestedAtMs.gte(from_ms))
            .filter(temp_aid_approval::Column::RequestedAtMs.lt(to_ms))
            .count(db)
            .await?;
    }
    Ok(TempAidFigures {
        opened_by_kind,
        aid_on_time,
        aid_late,
        payments,
        paid_fen,
        households_paid: households.len() as u64,
        above_cap_requests: above_cap,
    })
}

/// Applications whose final decision (confirmed or refused) fell in the quarter, and how many
/// were decided within their limits.
async fn applications(
    db: &DatabaseConnection,
    path: &str,
    from_ms: i64,
    to_ms: i64,
) -> ApiResult<ApplicationFigures> {
    let finals = review_decision::Entity::find()
        .filter(review_decision::Column::RegionPath.starts_with(path))
        .filter(review_decision::Column::ToStatus.is_in([
            VisitStatus::Confirmed.as_str(),
            VisitStatus::Rejected.as_str(),
        ]))
        .filter(review_decision::Column::AtMs.gte(from_ms))
        .filter(review_decision::Column::AtMs.lt(to_ms))
        .all(db)
        .await?;
    let ids: Vec<String> = finals.iter().map(|d| d.visit_id.clone()).collect();
    let mut visits: HashMap<String, visit::Model> = HashMap::new();
    let mut approvals: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        for v in visit::Entity::find()
            .filter(visit::Column::DocId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            visits.insert(v.doc_id.clone(), v);
        }
        for a in review_decision::Entity::find()
            .filter(review_decision::Column::VisitId.is_in(chunk.to_vec()))
            .filter(review_decision::Column::Decision.eq("approve"))
            .all(db)
            .await?
        {
            approvals.entry(a.visit_id).or_default().push(a.at_ms);
        }
    }
    let hh_ids: Vec<String> = visits.values().map(|v| v.household_id.clone()).collect();
    let mut programmes: HashMap<String, String> = HashMap::new();
    for chunk in hh_ids.chunks(IN_CHUNK) {
        for h in household::Entity::find()
            .filter(household::Column::DocId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            programmes.insert(h.doc_id, h.programmes);
        }
    }
    let cal = crate::review::calendar::load(db).await?;
    let limits = queue::Limits::load(db).await?;
    let day = |ms: i64| deadlines::local_date(ms);
    let mut f = ApplicationFigures {
        decided: 0,
        approved: 0,
        refused: 0,
        within_limits: 0,
    };
    for d in &finals {
        let Some(v) = visits.get(&d.visit_id) else {
            continue;
        };
        if !Purpose::parse(&v.purpose).is_some_and(Purpose::needs_county_confirmation) {
            continue;
        }
        f.decided += 1;
        if d.to_status == VisitStatus::Confirmed.as_str() {
            f.approved += 1;
        } else {
            f.refused += 1;
        }
        if queue::case_start_ms(v).is_none() {
            continue;
        }
        let tekun = queue::tekun_case(
            v.applied_for.as_deref(),
            programmes.get(&v.household_id).map_or("", String::as_str),
        );
        // The township's step: its approval before the final decision, or the final decision
        // itself where the township took it (a refusal, a delegated confirmation).
        let approved = approvals
            .get(&d.visit_id)
            .and_then(|a| a.iter().copied().filter(|t| *t <= d.at_ms).max());
        let town_step = match (d.level.as_str(), approved) {
            ("town", _) => Some(d.at_ms),
            (_, a) => a,
        };
        let dues = queue::application_dues(&cal, &limits, v, tekun, approved);
        // A due day in a year the calendar does not cover yet is after any day before it.
        let on_time =
            |at: Option<i64>, due: Option<deadlines::DueDate>| match (at.and_then(day), due) {
                (Some(a), Some(deadlines::DueDate::On(due))) => a <= due,
                (Some(a), Some(deadlines::DueDate::CalendarUnknown { year })) => a.year() < year,
                _ => false,
            };
        let town_ok = on_time(town_step, dues.town);
        let county_ok = d.level == "town" || on_time(Some(d.at_ms), dues.county);
        // The whole case, where it has a limit of its own (not 特困).
        let case_ok = dues.case.is_none() || on_time(Some(d.at_ms), dues.case);
        if town_ok && county_ok && case_ok {
            f.within_limits += 1;
        }
    }
    Ok(f)
}

/// The report as an XLSX workbook (one worksheet, a table per section), after its audit entry
/// (`export`, target `statistics.quarterly`).
pub async fn xlsx(
    db: &DatabaseConnection,
    actor: &Actor,
    r: &QuarterlyReport,
) -> ApiResult<Vec<u8>> {
    let mut ev = actor.event(crate::audit::actions::EXPORT, Some("statistics.quarterly"));
    ev.detail =
        Some(serde_json::json!({ "region": r.region, "quarter": r.quarter, "format": "xlsx" }));
    crate::audit::record(db, crate::audit::Outcome::Ok, ev).await?;
    workbook(r).map_err(ApiError::internal)
}

fn workbook(r: &QuarterlyReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name("季度报告")?;
    sheet.set_column_width(0, 28)?;
    let mut row = 0u32;
    let mut line = |sheet: &mut rust_xlsxwriter::Worksheet,
                    cells: &[String],
                    head: bool|
     -> Result<(), rust_xlsxwriter::XlsxError> {
        for (c, v) in cells.iter().enumerate() {
            let c = c as u16;
            match (v.parse::<f64>(), head) {
                (Ok(n), false) if c > 0 => sheet.write_number(row, c, n)?,
                (_, true) => sheet.write_string_with_format(row, c, v, &bold)?,
                _ => sheet.write_string(row, c, v)?,
            };
        }
        row += 1;
        Ok(())
    };
    let s = |v: &str| v.to_string();
    line(
        sheet,
        &[format!(
            "{} {}（{} 至 {}）",
            r.region_name, r.quarter_label, r.from, r.to
        )],
        true,
    )?;
    line(sheet, &[], false)?;
    for (title, rows) in sections(r) {
        line(sheet, &[s(title)], true)?;
        for (i, cells) in rows.iter().enumerate() {
            line(sheet, cells, i == 0)?;
        }
        line(sheet, &[], false)?;
    }
    book.save_to_buffer()
}

/// The report's sections as tables (a header row, then rows): what the console page and the
/// workbook both show.
pub fn sections(r: &QuarterlyReport) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let counts = |head: &str, rows: &[Count]| -> Vec<Vec<String>> {
        let mut out = vec![vec![head.to_string(), "数量".to_string()]];
        out.extend(
            rows.iter()
                .map(|c| vec![c.label.clone(), c.count.to_string()]),
        );
        out
    };
    let mut programmes = vec![
        [
            "救助类别",
            "期末户数",
            "期末人数",
            "新增（批准）",
            "退出（终止）",
            "不予批准",
            "渐退",
        ]
        .map(String::from)
        .to_vec(),
    ];
    programmes.extend(r.programmes.iter().map(|p| {
        vec![
            p.label.clone(),
            p.households.to_string(),
            p.persons.to_string(),
            p.entries.to_string(),
            p.exits.to_string(),
            p.refusals.to_string(),
            p.phase_outs.to_string(),
        ]
    }));
    let a = &r.applications;
    let t = &r.temporary_aid;
    let share = r
        .share_within_limits()
        .map(|s| format!("{:.1}%", s * 100.0))
        .unwrap_or_else(|| "—".into());
    vec![
        ("保障对象与进出", programmes),
        (
            "定期复核",
            vec![
                vec!["应复核".into(), "已完成".into(), "逾期未完成".into()],
                vec![
                    r.rechecks.due.to_string(),
                    r.rechecks.done.to_string(),
                    r.rechecks.overdue.to_string(),
                ],
            ],
        ),
        (
            "申请办理时限",
            vec![
                vec![
                    "办结申请".into(),
                    "审核确认（批准）".into(),
                    "不予通过".into(),
                    "在时限内办结".into(),
                    "时限内办结率".into(),
                ],
                vec![
                    a.decided.to_string(),
                    a.approved.to_string(),
                    a.refused.to_string(),
                    a.within_limits.to_string(),
                    share,
                ],
            ],
        ),
        (
            "临时救助",
            vec![
                vec![
                    "先行救助按时".into(),
                    "先行救助超时".into(),
                    "发放笔数".into(),
                    "发放金额（元）".into(),
                    "救助户数".into(),
                    "一事一议申请".into(),
                ],
                vec![
                    t.aid_on_time.to_string(),
                    t.aid_late.to_string(),
                    t.payments.to_string(),
                    doudi_protocol::rules::Money::fen(t.paid_fen).to_string(),
                    t.households_paid.to_string(),
                    t.above_cap_requests.to_string(),
                ],
            ],
        ),
        ("走访（按类型）", counts("走访类型", &r.visits_by_purpose)),
        (
            "主动发现（按渠道）",
            counts("发现渠道", &r.reports_by_channel),
        ),
        ("主动发现（按状态）", counts("状态", &r.reports_by_status)),
        (
            "监测预警（按指标）",
            counts("预警指标", &r.alerts_by_indicator),
        ),
        (
            "监测预警（按处置）",
            counts("处置结果", &r.alerts_by_disposition),
        ),
        ("临时救助（按类型）", counts("救助类型", &t.opened_by_kind)),
    ]
}
