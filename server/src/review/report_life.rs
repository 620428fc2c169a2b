//! A discovery report's life after triage (主动发现, docs/REVIEW.md): a screened report is
//! registered (已登记: linked to a household on record in its grid), verified (已核实: a
//! 主动发现核查 visit naming it was submitted, which also closed its `verify_report` task),
//! referred (已转介: to a programme or a department, on a day; a 回访 task follows where the
//! region sets `report_follow_up_days`) and closed. Each step asks
//! [`DiscoveryStatus::reviewer_may_move`], writes the new status into the report's document as a
//! server change and records a `report_actions` row (who, when, what) in the same transaction.

use automerge::AutoCommit;
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use doudi_protocol::doc::discovery::DiscoveryStatus;
use doudi_protocol::doc::household::Programme;
use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::doc::{self, DiscoveryReport, Visit};

use super::reports::{Referred, referral_row, visible_report};
use super::{clean_comment, recheck};
use crate::access::{Action, Actor, Target};
use crate::auth::now_ms;
use crate::documents;
use crate::entity::{household, report, report_action, task, visit};
use crate::error::{ApiError, ApiResult, Code};

/// Audit action of registering a report.
pub const AUDIT_REGISTER: &str = "report.register";
/// Audit action of confirming a report verified.
pub const AUDIT_VERIFY: &str = "report.verify";
/// Audit action of referring a report.
pub const AUDIT_REFER: &str = "report.refer";

/// The task kind of a referred report's follow-up visit (回访).
pub const FOLLOW_UP_TASK: &str = "report_follow_up";

/// The device of the server's own changes (a change from another device than the phone's, so
/// that sync sends it back).
const SERVER_DEVICE: &str = "server";

/// Most characters of a department's name.
const MAX_DEPARTMENT_CHARS: usize = 100;

/// Where a report is referred (转介).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferTo {
    /// A programme (救助类别), e.g. 低保 or 临时救助.
    Programme(Programme),
    /// Another department (民政以外的部门), by name.
    Department(String),
}

impl ReferTo {
    /// What the history shows.
    fn label(&self) -> String {
        match self {
            ReferTo::Programme(p) => p.label_zh().to_string(),
            ReferTo::Department(d) => d.clone(),
        }
    }

    /// The `refer` action's columns: the programme's code, the department's name, the day.
    fn columns(&self, on: NaiveDate) -> [Option<String>; 3] {
        let (programme, department) = match self {
            ReferTo::Programme(p) => (Some(p.as_str().to_string()), None),
            ReferTo::Department(d) => (None, Some(d.clone())),
        };
        [programme, department, Some(on.to_string())]
    }

    /// From a request's `programme` and `department`: exactly one of them.
    pub fn parse(programme: Option<&str>, department: Option<&str>) -> ApiResult<ReferTo> {
        let programme = programme.map(str::trim).filter(|p| !p.is_empty());
        let department = department.map(str::trim).filter(|d| !d.is_empty());
        match (programme, department) {
            (Some(p), None) => Programme::parse(p).map(ReferTo::Programme).ok_or_else(|| {
                bad(
                    format!("未知的救助类别：{p}"),
                    format!("Unknown programme: {p}"),
                )
            }),
            (None, Some(d)) if d.chars().count() <= MAX_DEPARTMENT_CHARS => {
                Ok(ReferTo::Department(d.to_string()))
            }
            (None, Some(_)) => Err(bad(
                format!("部门名称不能超过 {MAX_DEPARTMENT_CHARS} 个字。"),
                format!("A department's name has at most {MAX_DEPARTMENT_CHARS} characters."),
            )),
            _ => Err(bad(
                "请选择转介的救助类别或填写转介部门（二者选一）。".to_string(),
                "Give either the programme or the department the report is referred to."
                    .to_string(),
            )),
        }
    }
}

fn bad(zh: String, en: String) -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(zh, en)
}

/// One step of a report's history, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportAction {
    /// `assign`, `register`, `verify`, `refer` or `close`.
    pub action: String,
    /// Who took it (account id).
    pub account_id: String,
    pub at_ms: i64,
    /// `assign`: the reviewer's note; `register`: the household's id; `verify`: the verification
    /// visit's id; `refer`: where and on which day (e.g. `低保（2026-12-01）`, then the note);
    /// `close`: the reason.
    pub note: Option<String>,
    /// `refer`: where and on which day, as columns (`null` for other actions).
    pub referral: Option<Referred>,
}

impl From<report_action::Model> for ReportAction {
    fn from(a: report_action::Model) -> ReportAction {
        ReportAction {
            referral: Referred::of(&a),
            action: a.action,
            account_id: a.account_id,
            at_ms: a.at_ms,
            note: a.note,
        }
    }
}

/// The Chinese name of a report action code.
pub fn action_label_zh(action: &str) -> &'static str {
    match action {
        "assign" => "指派核实",
        "register" => "登记",
        "verify" => "确认核实",
        "refer" => "转介",
        "close" => "办结",
        _ => "处理",
    }
}

/// A report's actions, oldest first.
pub async fn history<C: sea_orm::ConnectionTrait>(
    db: &C,
    report_id: &str,
) -> Result<Vec<report_action::Model>, DbErr> {
    report_action::Entity::find()
        .filter(report_action::Column::ReportId.eq(report_id))
        .order_by_asc(report_action::Column::AtMs)
        .order_by_asc(report_action::Column::Id)
        .all(db)
        .await
}

/// A report's history for a reviewer who may see it.
pub async fn visible_history(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
) -> ApiResult<Vec<ReportAction>> {
    visible_report(db, reviewer, report_id).await?;
    Ok(history(db, report_id)
        .await?
        .into_iter()
        .map(ReportAction::from)
        .collect())
}

/// The household a report was registered with: the note of its last `register` action.
pub fn registered_household(actions: &[report_action::Model]) -> Option<&str> {
    actions
        .iter()
        .rev()
        .find(|a| a.action == "register")
        .and_then(|a| a.note.as_deref())
}

/// A report the reviewer may act on.
async fn actionable(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
) -> ApiResult<report::Model> {
    reviewer
        .require(db, Action::ReviewVisit, Target::Scope, report_id)
        .await?;
    let row = visible_report(db, reviewer, report_id).await?;
    reviewer
        .require_visible(db, Action::ReviewVisit, &row.region_path, report_id)
        .await?;
    Ok(row)
}

/// Move a report to `to` as `who` (a reviewer, or the author of the visit that verified it),
/// recording `action` with `note`; refused with `report.wrong_state` unless
/// [`DiscoveryStatus::reviewer_may_move`] allows it from the stored state. `extra`: more rows
/// written with it; `referral`: the columns of a `refer` action (programme, department, day).
#[allow(clippy::too_many_arguments)]
async fn step(
    db: &DatabaseConnection,
    who: &Actor,
    report_id: &str,
    to: DiscoveryStatus,
    (action, audit): (&str, &str),
    note: Option<&str>,
    referral: [Option<String>; 3],
    extra: impl Fn() -> documents::ExtraRows,
) -> ApiResult<i64> {
    let at = now_ms();
    let writer = documents::Writer::for_actor(
        who,
        audit,
        Some(serde_json::json!({ "to": to.as_str(), "note": note })),
    );
    documents::server_write(db, &writer, report_id, |am: &mut AutoCommit, _| {
        let (_, mut r) = doc::read::<DiscoveryReport, _>(&*am).map_err(ApiError::internal)?;
        if !r.status.reviewer_may_move(to) {
            return Err(ApiError::new(Code::ReportWrongState));
        }
        r.status = to;
        doc::write(am, &r).map_err(ApiError::internal)?;
        let mut rows = extra();
        rows.push(referral_row(
            report_id,
            &who.account.id,
            action,
            note,
            at,
            referral.clone(),
        ));
        Ok((at, rows))
    })
    .await
}

/// 已登记: link a screened report to `household_id`, a household on record in the report's
/// grid (by default the household the report is about, when it names one).
pub async fn register(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
    household_id: Option<&str>,
) -> ApiResult<String> {
    let row = actionable(db, reviewer, report_id).await?;
    let named = match household_id.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Some(h.to_string()),
        None => report_household(db, report_id).await?,
    };
    let Some(h) = named else {
        return Err(ApiError::new(Code::ReportHouseholdInvalid));
    };
    let found = household::Entity::find_by_id(h.clone()).one(db).await?;
    if found.is_none_or(|f| f.region_path != row.region_path) {
        return Err(ApiError::new(Code::ReportHouseholdInvalid));
    }
    step(
        db,
        reviewer,
        report_id,
        DiscoveryStatus::Registered,
        ("register", AUDIT_REGISTER),
        Some(&h),
        Default::default(),
        Vec::new,
    )
    .await?;
    Ok(h)
}

/// The household a report's document names as its target, if any.
async fn report_household(db: &DatabaseConnection, report_id: &str) -> ApiResult<Option<String>> {
    use doudi_protocol::doc::discovery::Target as ReportTarget;
    let Some(d) = crate::entity::document::Entity::find_by_id(report_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    let am = automerge::Automerge::load(&d.snapshot).map_err(ApiError::internal)?;
    let (_, r) = doc::read::<DiscoveryReport, _>(&am).map_err(ApiError::internal)?;
    Ok(match r.target {
        Some(ReportTarget::Household(h)) => Some(h.to_string()),
        _ => None,
    })
}

/// The submitted 主动发现核查 visits naming a report, newest first.
pub async fn submitted_checks(
    db: &DatabaseConnection,
    reviewer: &Actor,
    row: &report::Model,
    household: Option<&str>,
) -> ApiResult<Vec<visit::Model>> {
    Ok(
        super::reports::verification_visits(db, reviewer, row, household)
            .await?
            .into_iter()
            .filter(|v| v.status != "draft" && v.submitted_at_ms.is_some())
            .collect(),
    )
}

/// 已核实: confirm a registered report verified by the latest submitted 主动发现核查 visit
/// naming it (`report.visit_missing` while there is none); returns that visit's id.
pub async fn verify(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
) -> ApiResult<String> {
    let row = actionable(db, reviewer, report_id).await?;
    let actions = history(db, report_id).await?;
    let household = registered_household(&actions).map(str::to_string);
    let checks = submitted_checks(db, reviewer, &row, household.as_deref()).await?;
    let Some(v) = checks.first() else {
        // The wrong state first: a report not registered yet is not verified either way.
        let stored = report::Entity::find_by_id(report_id.to_string())
            .one(db)
            .await?
            .map(|r| r.status);
        let registered = stored.as_deref() == Some(DiscoveryStatus::Registered.as_str());
        return Err(ApiError::new(if registered {
            Code::ReportVisitMissing
        } else {
            Code::ReportWrongState
        }));
    };
    step(
        db,
        reviewer,
        report_id,
        DiscoveryStatus::Verified,
        ("verify", AUDIT_VERIFY),
        Some(&v.doc_id),
        Default::default(),
        Vec::new,
    )
    .await?;
    Ok(v.doc_id.clone())
}

/// For the visits a sync stored from `author`'s device: each submitted 主动发现核查 visit naming
/// a registered report in the author's regions, made in the report's grid or to its registered
/// household, verifies the report (已核实) in the author's name, at the sync — the same step as
/// [`verify`], recorded as the author's `verify` action and audited (device `server`: the
/// server's change, which the author's phone is then sent). A report in another state
/// stays as it is (a visit that came before registration waits for the reviewer's [`verify`]).
/// Returns the reports verified.
pub async fn verify_visited(
    db: &DatabaseConnection,
    author: &Actor,
    visit_ids: &[&str],
) -> ApiResult<Vec<String>> {
    // The server's change in the author's name: not the device's own, so that the device is
    // sent it.
    let on_behalf = Actor {
        device_id: SERVER_DEVICE.to_string(),
        ..author.clone()
    };
    let mut verified = Vec::new();
    for chunk in visit_ids.chunks(crate::db::IN_CHUNK) {
        let visits = visit::Entity::find()
            .filter(visit::Column::DocId.is_in(chunk.iter().copied()))
            .filter(visit::Column::Purpose.eq(Purpose::DiscoveryCheck.as_str()))
            .filter(visit::Column::Status.ne("draft"))
            .filter(visit::Column::SubmittedAtMs.is_not_null())
            .all(db)
            .await?;
        for v in visits {
            let Some(report_id) = named_report(db, &v.doc_id).await? else {
                continue;
            };
            let Some(row) = report::Entity::find_by_id(report_id.clone())
                .one(db)
                .await?
            else {
                continue;
            };
            let registered = DiscoveryStatus::parse(&row.status)
                .is_some_and(|s| s.reviewer_may_move(DiscoveryStatus::Verified));
            if !registered || !author.subject.covers(&row.region_path) {
                continue;
            }
            let actions = history(db, &report_id).await?;
            let household = registered_household(&actions);
            if v.region_path != row.region_path && household != Some(v.household_id.as_str()) {
                continue;
            }
            match step(
                db,
                &on_behalf,
                &report_id,
                DiscoveryStatus::Verified,
                ("verify", AUDIT_VERIFY),
                Some(&v.doc_id),
                Default::default(),
                Vec::new,
            )
            .await
            {
                Ok(_) => verified.push(report_id),
                // Moved meanwhile (a reviewer was quicker): nothing to do.
                Err(e) if e.code == Code::ReportWrongState => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(verified)
}

/// What a referral records.
#[derive(Debug, Clone)]
pub struct Referral<'a> {
    pub to: ReferTo,
    /// The day of the referral, not after today.
    pub on: NaiveDate,
    pub note: Option<&'a str>,
}

/// 已转介: refer a verified report; where the region sets `report_follow_up_days`, a 回访 task
/// (`report_follow_up`) for the registered household falls due that many days after the
/// referral, for the field worker who verified it (else one of the grid). Returns the task's id.
pub async fn refer(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
    referral: &Referral<'_>,
) -> ApiResult<Option<String>> {
    let row = actionable(db, reviewer, report_id).await?;
    let note = clean_comment(referral.note, false)?;
    let today = super::deadlines::today().ok_or_else(|| ApiError::internal("no clock"))?;
    if referral.on > today {
        return Err(bad(
            "转介日期不能晚于今天。".into(),
            "The referral's day cannot be after today.".into(),
        ));
    }
    let text = match &note {
        Some(n) => format!("{}（{}）：{n}", referral.to.label(), referral.on),
        None => format!("{}（{}）", referral.to.label(), referral.on),
    };
    let follow_up = follow_up_task(db, &row, referral.on, &reviewer.account.id).await?;
    let task_id = follow_up.as_ref().map(|(id, _)| id.clone());
    step(
        db,
        reviewer,
        report_id,
        DiscoveryStatus::Referred,
        ("refer", AUDIT_REFER),
        Some(&text),
        referral.to.columns(referral.on),
        || follow_up.iter().map(|(_, q)| q.clone()).collect(),
    )
    .await?;
    Ok(task_id)
}

/// When a 回访 at `region_path` after `on` is due: `report_follow_up_days` (the region's policy
/// in force on `on`) and the end of that many days later; `None` where the region sets none.
pub async fn follow_up_due(
    db: &DatabaseConnection,
    region_path: &str,
    on: NaiveDate,
) -> Result<Option<(u32, Option<i64>)>, DbErr> {
    let (book, _) = crate::policies::load(db)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let policy = recheck::policy_region(region_path)
        .and_then(|code| book.resolve(code, on).ok())
        .unwrap_or_else(|| book.resolve_national(on));
    Ok(policy.report_follow_up_days.map(|days| {
        let due = on
            .checked_add_days(chrono::Days::new(days.into()))
            .and_then(recheck::end_of_day_ms);
        (days, due)
    }))
}

/// The 回访 task of a report referred on `on`, when its region sets `report_follow_up_days`.
async fn follow_up_task(
    db: &DatabaseConnection,
    row: &report::Model,
    on: NaiveDate,
    by: &str,
) -> ApiResult<Option<(String, sea_orm::sea_query::InsertStatement)>> {
    let Some((days, due)) = follow_up_due(db, &row.region_path, on).await? else {
        return Ok(None);
    };
    let actions = history(db, &row.doc_id).await?;
    let household = registered_household(&actions).map(str::to_string);
    let verifier = task::Entity::find()
        .filter(task::Column::ReportId.eq(row.doc_id.as_str()))
        .filter(task::Column::Kind.eq("verify_report"))
        .order_by_desc(task::Column::CreatedAtMs)
        .one(db)
        .await?
        .and_then(|t| t.assignee_id);
    let assignee = match verifier {
        Some(a) => Some(a),
        None => recheck::assignee_for(db, &mut Default::default(), &row.region_path).await?,
    };
    let t = task::Model {
        report_id: Some(row.doc_id.clone()),
        household_id: household,
        assignee_id: assignee,
        note: Some(format!("转介后 {days} 天回访")),
        note_en: Some(format!("follow-up visit {days} days after the referral")),
        due_at_ms: due,
        ..super::tasks::new(FOLLOW_UP_TASK, &row.region_path, by, now_ms())
    };
    let id = t.id.clone();
    let q = super::tasks::insert(t);
    Ok(Some((id, q)))
}

/// For the visits a sync stored: each submitted 主动发现核查 visit closes the open
/// `verify_report` tasks of the report it names, each submitted 回访 visit the open
/// `report_follow_up` and `temp_aid_follow_up` tasks of its household, and each submitted
/// 急难核查 visit the open `temp_aid_check` tasks of its household — those created before it
/// was submitted. Returns how many tasks were closed.
pub async fn close_visited_tasks(
    db: &DatabaseConnection,
    visit_ids: &[&str],
) -> Result<u64, DbErr> {
    let mut closed = 0;
    for chunk in visit_ids.chunks(crate::db::IN_CHUNK) {
        let visits = visit::Entity::find()
            .filter(visit::Column::DocId.is_in(chunk.iter().copied()))
            .filter(visit::Column::Purpose.is_in([
                Purpose::DiscoveryCheck.as_str(),
                Purpose::FollowUp.as_str(),
                Purpose::EmergencyCheck.as_str(),
            ]))
            .filter(visit::Column::Status.ne("draft"))
            .filter(visit::Column::SubmittedAtMs.is_not_null())
            .all(db)
            .await?;
        for v in visits {
            let done = task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value("done"))
                .filter(task::Column::Status.eq("open"));
            let done = if v.purpose == Purpose::DiscoveryCheck.as_str() {
                let Some(report_id) = named_report(db, &v.doc_id).await? else {
                    continue;
                };
                done.filter(task::Column::Kind.eq("verify_report"))
                    .filter(task::Column::ReportId.eq(report_id))
            } else {
                let kinds = if v.purpose == Purpose::EmergencyCheck.as_str() {
                    vec![super::tasks::TEMP_AID_CHECK]
                } else {
                    vec![FOLLOW_UP_TASK, super::tasks::TEMP_AID_FOLLOW_UP]
                };
                done.filter(task::Column::Kind.is_in(kinds))
                    .filter(task::Column::HouseholdId.eq(v.household_id.as_str()))
                    .filter(task::Column::CreatedAtMs.lte(v.submitted_at_ms.unwrap_or(i64::MAX)))
            };
            closed += done.exec(db).await?.rows_affected;
        }
    }
    Ok(closed)
}

/// The report a stored visit names.
async fn named_report(db: &DatabaseConnection, visit_id: &str) -> Result<Option<String>, DbErr> {
    let Some(d) = crate::entity::document::Entity::find_by_id(visit_id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(automerge::Automerge::load(&d.snapshot)
        .ok()
        .and_then(|am| doc::read::<Visit, _>(&am).ok())
        .and_then(|(_, v)| v.report)
        .map(|r| r.to_string()))
}
