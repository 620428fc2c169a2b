//! Discovery-report triage (主动发现): reports listed by urgency and age; a reviewer assigns a
//! verification visit to a grid worker or assistant of the report's grid (a `tasks` row that
//! reaches the assignee's phone with its next sync), or closes the report with a reason. Both
//! write the report's new status into its document as a server change. 急难 reports whose
//! 先行救助 (on the 临时救助 case they opened) was not given within 24 hours are flagged.

use std::collections::HashSet;

use automerge::AutoCommit;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use doudi_protocol::doc::discovery::DiscoveryStatus;
use doudi_protocol::doc::{self, DiscoveryReport};
use doudi_protocol::role::Role;

use super::{clean_comment, deadlines};
use crate::access::{Action, Actor, Target, decide, scope_condition};
use crate::accounts;
use crate::auth::{new_id, now_ms};
use crate::documents;
use crate::entity::{account, report, report_action, task, temp_aid_case};
use crate::error::{ApiError, ApiResult, Code};

/// Audit action of assigning a verification visit.
pub const AUDIT_ASSIGN: &str = "report.assign";
/// Audit action of closing a report.
pub const AUDIT_CLOSE: &str = "report.close";

/// Most reports listed at once.
const LIST_LIMIT: u64 = 500;

/// A report in the triage list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportItem {
    pub report_id: String,
    pub grid: String,
    pub channel: Option<String>,
    pub urgency: Option<String>,
    pub emergency_24h: bool,
    pub status: String,
    pub reported_at_ms: Option<i64>,
    /// Open verification tasks.
    pub open_tasks: usize,
    /// Any triage action (assignment or closing) so far.
    pub acted: bool,
    /// 急难, and its 先行救助 missed: given more than `emergency_aid_hours` (24) after the
    /// report, or not given and that time has passed while the report is open. Measured on the
    /// aid, not on triage.
    pub flagged: bool,
    /// The 临时救助 case the report opened.
    pub temp_aid_case_id: Option<String>,
    /// When that case's aid (先行救助) was given.
    pub aid_given_at_ms: Option<i64>,
    /// Where and when it was referred (转介), once it was.
    pub referral: Option<Referred>,
}

/// The 临时救助 cases opened from `report_ids`, by report.
pub async fn aid_cases<C: sea_orm::ConnectionTrait>(
    db: &C,
    report_ids: Vec<String>,
) -> Result<std::collections::HashMap<String, temp_aid_case::Model>, sea_orm::DbErr> {
    Ok(temp_aid_case::Entity::find()
        .filter(temp_aid_case::Column::ReportId.is_in(report_ids))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.report_id.clone()?, c)))
        .collect())
}

/// [`deadlines::emergency_flagged`] for a report and the case it opened, if any: the case's
/// aid due time (its region's `emergency_aid_hours`), else the national one from the report.
pub fn flagged(row: &report::Model, case: Option<&temp_aid_case::Model>, now: i64) -> bool {
    let due = case
        .and_then(|c| c.aid_due_at_ms)
        .or_else(|| row.reported_at_ms.map(deadlines::emergency_due_ms));
    deadlines::emergency_flagged(
        row.emergency_24h,
        due,
        case.and_then(|c| c.aid_given_at_ms),
        row.status == "closed",
        now,
    )
}

fn urgency_rank(u: Option<&str>) -> u8 {
    match u {
        Some("urgent") => 0,
        Some("safety_net") => 1,
        Some("needs_care") => 2,
        Some("keep_watching") => 3,
        _ => 4,
    }
}

/// Which reports a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Not closed yet (the triage list).
    Open,
    /// Closed ones (the history).
    Closed,
    /// Both.
    All,
}

impl Shown {
    /// From a list's `show` parameter: `closed`, `all`, anything else open ones.
    pub fn parse(show: Option<&str>) -> Shown {
        match show {
            Some("closed") => Shown::Closed,
            Some("all") => Shown::All,
            _ => Shown::Open,
        }
    }
}

/// Reports in the reviewer's regions: 急难 first, then by urgency, then oldest first; `shown`
/// tells open, closed or both.
pub async fn list(
    db: &DatabaseConnection,
    reviewer: &Actor,
    shown: Shown,
) -> ApiResult<Vec<ReportItem>> {
    reviewer
        .require(db, Action::ReadReviewLists, Target::Scope, "reports")
        .await?;
    let mut q = report::Entity::find()
        .filter(scope_condition(
            &reviewer.subject,
            report::Column::RegionPath,
        ))
        .filter(report::Column::Status.ne("draft"));
    q = match shown {
        Shown::Open => q.filter(report::Column::Status.ne("closed")),
        Shown::Closed => q.filter(report::Column::Status.eq("closed")),
        Shown::All => q,
    };
    let rows = q
        .order_by_desc(report::Column::Emergency24h)
        .order_by_asc(report::Column::ReportedAtMs)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.doc_id.clone()).collect();
    let acted: HashSet<String> = report_action::Entity::find()
        .filter(report_action::Column::ReportId.is_in(ids.clone()))
        .select_only()
        .column(report_action::Column::ReportId)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let open: Vec<Option<String>> = task::Entity::find()
        .filter(task::Column::ReportId.is_in(ids))
        .filter(task::Column::Status.eq("open"))
        .select_only()
        .column(task::Column::ReportId)
        .into_tuple()
        .all(db)
        .await?;
    let cases = aid_cases(db, rows.iter().map(|r| r.doc_id.clone()).collect()).await?;
    let mut referred = referrals(db, rows.iter().map(|r| r.doc_id.clone()).collect()).await?;
    let now = now_ms();
    let mut out: Vec<ReportItem> = rows
        .into_iter()
        .map(|r| {
            let was_acted = acted.contains(&r.doc_id) || r.status != "submitted";
            let case = cases.get(&r.doc_id);
            ReportItem {
                referral: referred.remove(&r.doc_id),
                flagged: flagged(&r, case, now),
                temp_aid_case_id: case.map(|c| c.id.clone()),
                aid_given_at_ms: case.and_then(|c| c.aid_given_at_ms),
                open_tasks: open
                    .iter()
                    .filter(|id| id.as_deref() == Some(r.doc_id.as_str()))
                    .count(),
                acted: was_acted,
                report_id: r.doc_id,
                grid: r.scope,
                channel: r.channel,
                urgency: r.urgency,
                emergency_24h: r.emergency_24h,
                status: r.status,
                reported_at_ms: r.reported_at_ms,
            }
        })
        .collect();
    out.sort_by_key(|r| {
        (
            !r.emergency_24h,
            urgency_rank(r.urgency.as_deref()),
            r.reported_at_ms.unwrap_or(i64::MAX),
        )
    });
    Ok(out)
}

/// A report the reviewer may see, or `not_found`.
pub async fn visible_report(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
) -> ApiResult<report::Model> {
    let Some(row) = report::Entity::find_by_id(report_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reviewer
        .require_visible(db, Action::ReadCase, &row.region_path, report_id)
        .await?;
    Ok(row)
}

/// Field workers of a grid who may receive a verification task: grid workers and assistants
/// whose regions cover it.
pub async fn assignable(
    db: &DatabaseConnection,
    grid_path: &str,
) -> ApiResult<Vec<account::Model>> {
    let candidates = account::Entity::find()
        .filter(account::Column::Role.is_in([Role::GridWorker.as_str(), Role::Assistant.as_str()]))
        .filter(account::Column::Disabled.eq(false))
        .order_by_asc(account::Column::Username)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for a in candidates {
        if let Some(s) = accounts::subject_of(db, &a).await?
            && decide(&s, Action::WriteCase, Target::Region(grid_path)).is_allowed()
        {
            out.push(a);
        }
    }
    Ok(out)
}

pub(super) fn action_row(
    report_id: &str,
    account_id: &str,
    action: &str,
    note: Option<&str>,
    at: i64,
) -> sea_orm::sea_query::InsertStatement {
    referral_row(report_id, account_id, action, note, at, [None, None, None])
}

/// [`action_row`] with the referral's columns: the programme's code, the department's name,
/// the day (`refer` only).
pub(super) fn referral_row(
    report_id: &str,
    account_id: &str,
    action: &str,
    note: Option<&str>,
    at: i64,
    [programme, department, on]: [Option<String>; 3],
) -> sea_orm::sea_query::InsertStatement {
    let mut q = Query::insert();
    q.into_table(report_action::Entity)
        .columns([
            report_action::Column::ReportId,
            report_action::Column::AccountId,
            report_action::Column::Action,
            report_action::Column::Note,
            report_action::Column::AtMs,
            report_action::Column::ReferProgramme,
            report_action::Column::ReferDepartment,
            report_action::Column::ReferredOn,
        ])
        .values_panic([
            report_id.into(),
            account_id.into(),
            action.into(),
            note.map(str::to_string).into(),
            at.into(),
            programme.into(),
            department.into(),
            on.into(),
        ]);
    q
}

/// Assign a verification visit for a report to `assignee_id`; returns the task id.
pub async fn assign(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
    assignee_id: &str,
    note: Option<&str>,
) -> ApiResult<String> {
    reviewer
        .require(db, Action::ReviewVisit, Target::Scope, report_id)
        .await?;
    let note = clean_comment(note, false)?;
    let row = visible_report(db, reviewer, report_id).await?;
    reviewer
        .require_visible(db, Action::ReviewVisit, &row.region_path, report_id)
        .await?;
    if !assignable(db, &row.region_path)
        .await?
        .iter()
        .any(|a| a.id == assignee_id)
    {
        return Err(ApiError::new(Code::TaskAssigneeInvalid));
    }
    let task_id = new_id();
    let at = now_ms();
    let due = row
        .emergency_24h
        .then(|| deadlines::emergency_due_ms(row.reported_at_ms.unwrap_or(at)));
    let detail = serde_json::json!({ "assignee": assignee_id, "task": task_id });
    let writer = documents::Writer::for_actor(reviewer, AUDIT_ASSIGN, Some(detail));
    documents::server_write(db, &writer, report_id, |am: &mut AutoCommit, stored| {
        let (_, mut r) = doc::read::<DiscoveryReport, _>(&*am).map_err(ApiError::internal)?;
        if r.status == DiscoveryStatus::Closed {
            return Err(ApiError::new(Code::ReportWrongState));
        }
        if r.status.reviewer_may_move(DiscoveryStatus::Screened) {
            r.status = DiscoveryStatus::Screened;
            doc::write(am, &r).map_err(ApiError::internal)?;
        }
        let t = super::tasks::insert(task::Model {
            id: task_id.clone(),
            report_id: Some(report_id.into()),
            assignee_id: Some(assignee_id.into()),
            note: note.clone(),
            due_at_ms: due,
            ..super::tasks::new(
                "verify_report",
                &stored.region_path,
                &reviewer.account.id,
                at,
            )
        });
        Ok((
            task_id.clone(),
            vec![
                t,
                action_row(
                    report_id,
                    &reviewer.account.id,
                    "assign",
                    note.as_deref(),
                    at,
                ),
            ],
        ))
    })
    .await
}

/// Close a report with a reason.
pub async fn close(
    db: &DatabaseConnection,
    reviewer: &Actor,
    report_id: &str,
    reason: Option<&str>,
) -> ApiResult<()> {
    reviewer
        .require(db, Action::ReviewVisit, Target::Scope, report_id)
        .await?;
    let reason = clean_comment(reason, true).map_err(|e| {
        if e.code == Code::ReviewCommentRequired {
            e.with_message("办结须填写理由。", "Closing a report needs a reason.")
        } else {
            e
        }
    })?;
    let row = visible_report(db, reviewer, report_id).await?;
    reviewer
        .require_visible(db, Action::ReviewVisit, &row.region_path, report_id)
        .await?;
    let at = now_ms();
    let writer = documents::Writer::for_actor(
        reviewer,
        AUDIT_CLOSE,
        Some(serde_json::json!({ "reason": reason })),
    );
    documents::server_write(db, &writer, report_id, |am: &mut AutoCommit, _| {
        let (_, mut r) = doc::read::<DiscoveryReport, _>(&*am).map_err(ApiError::internal)?;
        if !r.status.reviewer_may_move(DiscoveryStatus::Closed) {
            return Err(ApiError::new(Code::ReportWrongState));
        }
        r.status = DiscoveryStatus::Closed;
        doc::write(am, &r).map_err(ApiError::internal)?;
        Ok((
            (),
            vec![action_row(
                report_id,
                &reviewer.account.id,
                "close",
                reason.as_deref(),
                at,
            )],
        ))
    })
    .await?;
    // Open tasks of a closed report are done.
    task::Entity::update_many()
        .col_expr(
            task::Column::Status,
            sea_orm::sea_query::Expr::value("done"),
        )
        .filter(task::Column::ReportId.eq(report_id))
        .filter(task::Column::Status.eq("open"))
        .exec(db)
        .await?;
    Ok(())
}

/// The clear 身份证号 of the person a report is about (not on record), for a reviewer who may
/// unmask in the report's grid, audited as the visit page's unmasking is; `None` when the
/// report holds no number.
pub async fn unmask(
    db: &DatabaseConnection,
    keys: &crate::identity::IdentityKeys,
    reviewer: &Actor,
    report_id: &str,
) -> ApiResult<Option<doudi_protocol::id_number::IdNumber>> {
    let row = visible_report(db, reviewer, report_id).await?;
    let detail = serde_json::json!({ "report": report_id });
    let mut numbers = super::reveal_audited(
        db,
        keys,
        reviewer,
        (&row.region_path, report_id),
        report_id,
        detail,
    )
    .await?;
    Ok(numbers.remove(doudi_protocol::doc::identity::TARGET_PERSON))
}

/// What a list of reports shows of each besides its row: who it is about and its notes.
#[derive(Debug, Clone, Default)]
pub struct Gist {
    /// The person's name, or the head of the household on record (with its address).
    pub target: Option<String>,
    /// The person's 身份证号, masked.
    pub masked_id: Option<String>,
    pub notes: Option<String>,
}

/// The gists of reports already listed for `reader` (their ids come from [`list`]), read from
/// their documents; a household's head and address come from the household's row, when the
/// household lies in the reader's regions too.
pub async fn gists(
    db: &DatabaseConnection,
    reader: &Actor,
    report_ids: Vec<String>,
) -> ApiResult<std::collections::HashMap<String, Gist>> {
    use doudi_protocol::doc::discovery::Target as ReportTarget;
    let docs = crate::entity::document::Entity::find()
        .filter(crate::entity::document::Column::Id.is_in(report_ids))
        .all(db)
        .await?;
    let mut out = std::collections::HashMap::new();
    let mut households: Vec<(String, String)> = Vec::new();
    for d in docs {
        let Ok(am) = automerge::Automerge::load(&d.snapshot) else {
            continue;
        };
        let Ok((_, r)) = doc::read::<DiscoveryReport, _>(&am) else {
            continue;
        };
        let mut g = Gist {
            notes: r.notes,
            ..Gist::default()
        };
        match r.target {
            Some(ReportTarget::Person { name, identity, .. }) => {
                g.target = Some(name);
                g.masked_id = identity.map(|i| i.masked.as_str().to_string());
            }
            Some(ReportTarget::Household(h)) => households.push((d.id.clone(), h.to_string())),
            None => {}
        }
        out.insert(d.id, g);
    }
    let rows = crate::entity::household::Entity::find()
        .filter(scope_condition(
            &reader.subject,
            crate::entity::household::Column::RegionPath,
        ))
        .filter(
            crate::entity::household::Column::DocId
                .is_in(households.iter().map(|(_, h)| h.clone())),
        )
        .all(db)
        .await?;
    for (report_id, hh) in households {
        if let (Some(g), Some(h)) = (
            out.get_mut(&report_id),
            rows.iter().find(|h| h.doc_id == hh),
        ) {
            g.target = Some(household_label(h));
        }
    }
    Ok(out)
}

/// A household on record as a report's target: its head, and its address.
pub fn household_label(h: &crate::entity::household::Model) -> String {
    match &h.head_name {
        Some(n) => format!("{n}（{}）", h.address),
        None => h.address.clone(),
    }
}

/// The verification visits (主动发现核查) of a report the reader may see: visits of that
/// purpose in the report's grid or to its household that name the report.
pub async fn verification_visits(
    db: &DatabaseConnection,
    reviewer: &Actor,
    row: &report::Model,
    household: Option<&str>,
) -> ApiResult<Vec<crate::entity::visit::Model>> {
    use crate::entity::visit;
    let mut place =
        sea_orm::Condition::any().add(visit::Column::RegionPath.eq(row.region_path.as_str()));
    if let Some(h) = household {
        place = place.add(visit::Column::HouseholdId.eq(h));
    }
    let candidates = visit::Entity::find()
        .filter(scope_condition(
            &reviewer.subject,
            visit::Column::RegionPath,
        ))
        .filter(
            visit::Column::Purpose.eq(doudi_protocol::doc::visit::Purpose::DiscoveryCheck.as_str()),
        )
        .filter(place)
        .order_by_desc(visit::Column::UpdatedSeq)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    let ids: Vec<String> = candidates.iter().map(|v| v.doc_id.clone()).collect();
    let naming: HashSet<String> = crate::entity::document::Entity::find()
        .filter(crate::entity::document::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .filter(|d| {
            automerge::Automerge::load(&d.snapshot)
                .ok()
                .and_then(|am| doc::read::<doudi_protocol::doc::Visit, _>(&am).ok())
                .is_some_and(|(_, v)| v.report.is_some_and(|r| r.to_string() == row.doc_id))
        })
        .map(|d| d.id)
        .collect();
    Ok(candidates
        .into_iter()
        .filter(|v| naming.contains(&v.doc_id))
        .collect())
}

/// Where a report was referred (转介) and on which day, from its `refer` action's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Referred {
    /// The programme's code (`dibao`, `temporary_assistance`, ...), or `null` for a department.
    pub programme: Option<String>,
    /// The department's name, or `null` for a programme.
    pub department: Option<String>,
    /// `YYYY-MM-DD`.
    pub referred_on: String,
}

impl Referred {
    /// The referral an action records (a `refer` action with its columns).
    pub fn of(a: &report_action::Model) -> Option<Referred> {
        (a.action == "refer").then_some(())?;
        Some(Referred {
            programme: a.refer_programme.clone(),
            department: a.refer_department.clone(),
            referred_on: a.referred_on.clone()?,
        })
    }

    /// Where, in Chinese: the programme's name, or the department's.
    pub fn label_zh(&self) -> String {
        match (&self.programme, &self.department) {
            (Some(p), _) => doudi_protocol::doc::household::Programme::parse(p)
                .map(|p| p.label_zh().to_string())
                .unwrap_or_else(|| p.clone()),
            (None, Some(d)) => d.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The latest referral of each of `report_ids` that has one.
pub async fn referrals<C: sea_orm::ConnectionTrait>(
    db: &C,
    report_ids: Vec<String>,
) -> Result<std::collections::HashMap<String, Referred>, sea_orm::DbErr> {
    let mut out = std::collections::HashMap::new();
    for chunk in report_ids.chunks(crate::db::IN_CHUNK) {
        let rows = report_action::Entity::find()
            .filter(report_action::Column::ReportId.is_in(chunk.iter().cloned()))
            .filter(report_action::Column::Action.eq("refer"))
            .order_by_asc(report_action::Column::AtMs)
            .order_by_asc(report_action::Column::Id)
            .all(db)
            .await?;
        for a in rows {
            if let Some(r) = Referred::of(&a) {
                out.insert(a.report_id, r);
            }
        }
    }
    Ok(out)
}
