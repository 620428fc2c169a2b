//! Scheduled re-checks (复核) and visits (探访) of households in benefit (docs/RULES.md,
//! "Re-check schedules"): for each 低保 or 特困 household the scheduler reads the household
//! document, builds a [`CaseState`], asks [`next_tasks`] with the region's policy, and keeps one
//! open task per kind and due date (`tasks.schedule_key`). Running it twice creates nothing new.
//! A task whose schedule moved (a re-check or visit was recorded, the household left the
//! programme) is marked `superseded`.
//!
//! Tasks go to a grid worker (else an assistant) of the household's grid; when the grid has
//! nobody, the task stays unassigned, counted in the console and offered to whoever later
//! covers the grid. Runs from `doudi tasks schedule` and periodically inside `doudi serve`.

use std::collections::{HashMap, HashSet};

use automerge::Automerge;
use chrono::{Days, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};
use serde::Serialize;

use doudi_protocol::doc::household::{IncomeClass, Period, Programme, WorkCapacity};
use doudi_protocol::doc::{self, Household};
use doudi_protocol::role::Role;
use doudi_protocol::rules::calendar::WorkCalendar;
use doudi_protocol::rules::policy::{PolicyBook, region_path as policy_region_path};
use doudi_protocol::rules::schedule::{
    Care, CaseState, DueTask, Enrolment, PhaseOut, RiskLevel, SelfCareChange, TaskKind, next_tasks,
    self_care_reassessments,
};

use super::deadlines;
use super::reports::assignable;
use crate::audit::{self, Outcome, actions};
use crate::auth::{new_id, now_ms};
use crate::entity::{document, household, household_risk, task, visit};
use crate::policies;

/// `tasks.assigned_by` of scheduled tasks.
pub const SYSTEM: &str = "system";

/// The task kinds the scheduler owns.
pub const KINDS: [&str; 6] = [
    "recheck",
    "death_recheck",
    "visit",
    "phase_out_end",
    "rigid_reapply",
    "self_care_reassessment",
];

/// Words of a member's removal reason (减员原因) that mean the member died.
const DEATH_WORDS: [&str; 8] = [
    "死亡", "去世", "病故", "身故", "逝世", "亡故", "death", "died",
];

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// 低保 / 特困 households looked at.
    pub households: u64,
    pub created: u64,
    /// Created without an assignee (nobody covers the grid).
    pub unassigned: u64,
    /// Older unassigned tasks now given to someone.
    pub assigned_later: u64,
    pub superseded: u64,
    /// Households skipped because their document or schedule could not be read.
    pub errors: u64,
}

/// The code of a task kind.
pub fn kind_code(k: TaskKind) -> &'static str {
    match k {
        TaskKind::Recheck => "recheck",
        TaskKind::DeathRecheck => "death_recheck",
        TaskKind::Visit => "visit",
        TaskKind::PhaseOutEnd => "phase_out_end",
        TaskKind::RigidReapply => "rigid_reapply",
        TaskKind::SelfCareReassessment => "self_care_reassessment",
    }
}

/// The Chinese label of a task kind code.
pub fn kind_label_zh(code: &str) -> &'static str {
    match code {
        "verify_report" => "核实主动发现报告",
        "report_follow_up" => "主动发现回访",
        "alert_check" => "预警核查",
        "recheck" => "定期复核",
        "death_recheck" => "成员死亡后复核",
        "visit" => "定期探访",
        "phase_out_end" => "渐退期届满",
        "rigid_reapply" => "刚性支出认定期满重新申请",
        "self_care_reassessment" => "自理能力复评",
        _ => "任务",
    }
}

/// The Chinese label of a task status code (`open`, `done`, `superseded`).
pub fn task_status_label_zh(code: &str) -> &'static str {
    match code {
        "open" => "未完成",
        "done" => "已完成",
        "superseded" => "已由新任务替代",
        _ => "未知",
    }
}

/// Parse a stored risk level.
pub fn parse_risk(s: &str) -> Option<RiskLevel> {
    match s {
        "high" => Some(RiskLevel::High),
        "key" => Some(RiskLevel::Key),
        "normal" => Some(RiskLevel::Normal),
        _ => None,
    }
}

/// The code of a risk level.
pub fn risk_code(r: RiskLevel) -> &'static str {
    match r {
        RiskLevel::High => "high",
        RiskLevel::Key => "key",
        RiskLevel::Normal => "normal",
    }
}

/// The Chinese label of a risk level.
pub fn risk_label_zh(r: RiskLevel) -> &'static str {
    match r {
        RiskLevel::High => "高风险（每周探访）",
        RiskLevel::Key => "重点（每月探访）",
        RiskLevel::Normal => "一般（每季度探访）",
    }
}

/// The last instant (unix ms) of a local (China) date: a task due that day is overdue after it.
pub fn end_of_day_ms(d: NaiveDate) -> Option<i64> {
    let next = d.checked_add_days(Days::new(1))?;
    Some(deadlines::midnight_ms(next) - 1)
}

/// Whether a member's removal reason records a death.
pub fn is_death(reason: &str) -> bool {
    let r = reason.to_lowercase();
    DEATH_WORDS.iter().any(|w| r.contains(w))
}

/// The 12-digit region code a policy is resolved for: the deepest administrative code of a
/// materialised path (grids are local codes, below the village).
pub fn policy_region(path: &str) -> Option<&str> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .find(|s| policy_region_path(s).is_ok())
}

/// The schedule's enrolment of a household in the programmes `has` says it is in, with the
/// programme whose decisions date it; `None` for a household the schedule leaves alone. The one
/// list of the programmes the scheduler looks at.
pub fn enrolment_of(has: impl Fn(Programme) -> bool) -> Option<(Enrolment, Programme)> {
    [
        (
            Programme::TekunDispersed,
            Enrolment::Tekun {
                care: Care::Dispersed,
            },
        ),
        (
            Programme::TekunCentralized,
            Enrolment::Tekun {
                care: Care::Centralized,
            },
        ),
        (Programme::Dibao, Enrolment::Dibao),
        (Programme::RigidExpenditure, Enrolment::RigidExpenditure),
        (Programme::NearDibao, Enrolment::Watched),
        (Programme::Monitored, Enrolment::Watched),
    ]
    .into_iter()
    .find(|(p, _)| has(*p))
    .map(|(p, e)| (e, p))
}

/// What the schedule needs from a household document, its visits and its risk level; `None`
/// when the household is in none of 低保, 特困, 刚性支出困难, 低保边缘 and 监测对象, or its benefit is suspended or
/// terminated.
pub fn case_state(
    h: &Household,
    risk: Option<RiskLevel>,
    last_visit_ms: Option<i64>,
    last_recheck_visit_ms: Option<i64>,
    created_ms: i64,
) -> Option<CaseState> {
    let (enrolment, programme) = enrolment_of(|p| h.programmes.contains(&p))?;
    use doudi_protocol::doc::household::DecisionOutcome as O;
    let last = h.last_decision(programme);
    if last.is_some_and(|d| matches!(d.outcome, O::Suspended | O::Terminated | O::Refused)) {
        return None;
    }
    let decided = last.map(|d| d.at.0);
    // The approval or last change, or a later re-check visit (not for a 刚性支出 recognition,
    // which only a new approval renews); a household without any recorded decision counts from
    // when its record was created.
    let renewing_visit = last_recheck_visit_ms.filter(|_| enrolment != Enrolment::RigidExpenditure);
    let last_recheck_ms = decided
        .into_iter()
        .chain(renewing_visit)
        .max()
        .unwrap_or(created_ms);
    let current = h.members.values().filter(|m| m.is_current());
    let members_able_to_work = current
        .clone()
        .any(|m| m.co_resident && m.work_capacity == Some(WorkCapacity::Able));
    let income_unstable = h.income.values().any(|i| {
        matches!(i.class, IncomeClass::Wages | IncomeClass::Business) && i.period != Period::Month
    });
    let member_death = h
        .members
        .values()
        .filter(|m| m.removed_reason.as_deref().is_some_and(is_death))
        .filter_map(|m| m.removed_at)
        .map(|t| t.0)
        .max()
        .and_then(deadlines::local_date);
    Some(CaseState {
        enrolment,
        last_recheck: deadlines::local_date(last_recheck_ms)?,
        income_unstable,
        members_able_to_work,
        risk,
        last_visit: last_visit_ms.and_then(deadlines::local_date),
        member_death,
        // A phase-out (渐退) decided last: it runs from its first month for its months.
        phase_out: last.filter(|d| d.outcome == O::PhaseOut).and_then(|d| {
            Some(PhaseOut {
                start: d.effective_from.or(deadlines::local_date(d.at.0))?,
                months: u32::from(d.months?),
            })
        }),
        self_care_changes: h
            .members
            .iter()
            .filter(|(_, m)| m.is_current())
            .filter_map(|(id, m)| {
                Some(SelfCareChange {
                    member: id.to_string(),
                    name: m.name.clone(),
                    reported_on: m.self_care_change_pending()?,
                })
            })
            .collect(),
    })
}

/// The stable key of a scheduled task; a task about one member names the member.
pub fn schedule_key(household_id: &str, t: &DueTask) -> String {
    match &t.member {
        Some(m) => format!("{household_id}:{}:{m}:{}", kind_code(t.kind), t.due),
        None => format!("{household_id}:{}:{}", kind_code(t.kind), t.due),
    }
}

/// Who gets a new task of a grid: a grid worker, else an assistant; the first by username.
pub async fn assignee_for(
    db: &DatabaseConnection,
    cache: &mut HashMap<String, Option<String>>,
    region_path: &str,
) -> Result<Option<String>, DbErr> {
    if let Some(a) = cache.get(region_path) {
        return Ok(a.clone());
    }
    let people = assignable(db, region_path)
        .await
        .map_err(|e| DbErr::Custom(format!("{e:?}")))?;
    let pick = people
        .iter()
        .find(|a| a.role == Role::GridWorker.as_str())
        .or(people.first())
        .map(|a| a.id.clone());
    cache.insert(region_path.to_string(), pick.clone());
    Ok(pick)
}

/// Create the due tasks that do not exist yet, supersede the ones no longer due, and audit the
/// run. `today` is the local (China) date the policy is resolved at.
pub async fn run(db: &DatabaseConnection, today: NaiveDate) -> Result<RunSummary, DbErr> {
    let book: PolicyBook = policies::load(db)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .0;
    let cal = super::calendar::load(db).await?;
    let mut sum = RunSummary::default();
    let mut people: HashMap<String, Option<String>> = HashMap::new();
    // Page through the households by id, so that memory stays flat however many there are.
    let mut after = String::new();
    loop {
        let page = household::Entity::find()
            .filter(household::Column::DocId.gt(after.as_str()))
            .order_by_asc(household::Column::DocId)
            .limit(SCAN_PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.doc_id.clone();
        // The page's open scheduled tasks in one query, not one per household.
        let mut open: HashMap<String, Vec<task::Model>> = HashMap::new();
        for t in task::Entity::find()
            .filter(task::Column::HouseholdId.is_in(page.iter().map(|h| h.doc_id.clone())))
            .filter(task::Column::Status.eq("open"))
            .filter(task::Column::Kind.is_in(KINDS))
            .all(db)
            .await?
        {
            if let Some(h) = t.household_id.clone() {
                open.entry(h).or_default().push(t);
            }
        }
        for h in page {
            let open = open.remove(&h.doc_id).unwrap_or_default();
            schedule_household(db, (&book, &cal), &h, open, today, &mut people, &mut sum).await?;
        }
    }
    audit::record(
        db,
        Outcome::Ok,
        audit::Event {
            action: actions::TASKS_SCHEDULE,
            target: Some(&today.to_string()),
            detail: serde_json::to_value(&sum).ok(),
            ..Default::default()
        },
    )
    .await?;
    Ok(sum)
}

/// Households read per query by [`run`].
const SCAN_PAGE: u64 = 500;

/// One household's part of [`run`]; `open` are its open tasks of the scheduled kinds.
async fn schedule_household(
    db: &DatabaseConnection,
    rules: (&PolicyBook, &WorkCalendar),
    h: &household::Model,
    open: Vec<task::Model>,
    today: NaiveDate,
    people: &mut HashMap<String, Option<String>>,
    sum: &mut RunSummary,
) -> Result<(), DbErr> {
    let codes: Vec<&str> = h.programmes.split(',').collect();
    let enrolled = enrolment_of(|p| codes.contains(&p.as_str())).is_some();
    let due = if enrolled {
        sum.households += 1;
        match due_tasks(db, rules, h, today).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(household = %h.doc_id, error = %e, "re-check schedule skipped");
                sum.errors += 1;
                return Ok(());
            }
        }
    } else {
        Vec::new()
    };
    let keys: HashSet<String> = due.iter().map(|t| schedule_key(&h.doc_id, t)).collect();
    for t in &open {
        if t.schedule_key.as_ref().is_none_or(|k| !keys.contains(k)) {
            task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value("superseded"))
                .filter(task::Column::Id.eq(t.id.as_str()))
                .exec(db)
                .await?;
            sum.superseded += 1;
        } else if t.assignee_id.is_none()
            && let Some(a) = assignee_for(db, people, &h.region_path).await?
        {
            task::Entity::update_many()
                .col_expr(task::Column::AssigneeId, Expr::value(a))
                .filter(task::Column::Id.eq(t.id.as_str()))
                .exec(db)
                .await?;
            sum.assigned_later += 1;
        }
    }
    for t in due {
        let key = schedule_key(&h.doc_id, &t);
        if open.iter().any(|o| o.schedule_key.as_deref() == Some(&key)) {
            continue;
        }
        let assignee = assignee_for(db, people, &h.region_path).await?;
        let row = task::ActiveModel {
            id: Set(new_id()),
            kind: Set(kind_code(t.kind).to_string()),
            report_id: Set(None),
            household_id: Set(Some(h.doc_id.clone())),
            region_path: Set(h.region_path.clone()),
            assignee_id: Set(assignee.clone()),
            assigned_by: Set(SYSTEM.to_string()),
            note: Set(Some(t.reason.zh.clone())),
            note_en: Set(Some(t.reason.en.clone())),
            status: Set("open".to_string()),
            created_at_ms: Set(now_ms()),
            due_at_ms: Set(end_of_day_ms(t.due)),
            schedule_key: Set(Some(key)),
            case_id: Set(None),
        };
        // A done or superseded task with the same key is not redone.
        let res = task::Entity::insert(row)
            .on_conflict_do_nothing_on([task::Column::ScheduleKey])
            .exec(db)
            .await?;
        if matches!(res, TryInsertResult::Inserted(_)) {
            sum.created += 1;
            if assignee.is_none() {
                sum.unassigned += 1;
            }
        }
    }
    Ok(())
}

async fn due_tasks(
    db: &DatabaseConnection,
    (book, cal): (&PolicyBook, &WorkCalendar),
    h: &household::Model,
    today: NaiveDate,
) -> Result<Vec<DueTask>, String> {
    let row = document::Entity::find_by_id(h.doc_id.clone())
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no document")?;
    let am = Automerge::load(&row.snapshot).map_err(|e| e.to_string())?;
    let (_, doc) = doc::read::<Household, _>(&am).map_err(|e| e.to_string())?;
    let risk = household_risk::Entity::find_by_id(h.doc_id.clone())
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|r| parse_risk(&r.risk_level));
    let visits = visit::Entity::find()
        .filter(visit::Column::HouseholdId.eq(h.doc_id.as_str()))
        .filter(visit::Column::SubmittedAtMs.is_not_null())
        .filter(visit::Column::Status.ne("rejected"))
        .all(db)
        .await
        .map_err(|e| e.to_string())?;
    let last_visit = visits.iter().filter_map(|v| v.submitted_at_ms).max();
    let last_recheck_visit = visits
        .iter()
        .filter(|v| v.purpose == "recheck")
        .filter_map(|v| v.submitted_at_ms)
        .max();
    let Some(case) = case_state(
        &doc,
        risk,
        last_visit,
        last_recheck_visit,
        row.created_at_ms,
    ) else {
        return Ok(Vec::new());
    };
    let region = policy_region(&h.region_path).ok_or("no region code in the path")?;
    let policy = book.resolve(region, today).map_err(|e| e.to_string())?;
    let mut tasks = next_tasks(&case, &policy).map_err(|e| e.code().to_string())?;
    let (care, undated) = self_care_reassessments(&case, cal, &policy);
    for e in undated {
        // Its task comes once the calendar covers the year; the other tasks go ahead.
        tracing::warn!(household = %h.doc_id, error = %e, "self-care re-assessment not scheduled");
    }
    tasks.extend(care);
    Ok(tasks)
}

/// Run the scheduler every `minutes` (the first run right away) until the process ends, on one
/// node at a time (`crate::jobs`); nothing when `minutes` is 0. A failed run is logged and
/// retried at the next tick.
pub fn spawn_periodic(db: DatabaseConnection, minutes: u64) {
    if minutes == 0 {
        return;
    }
    let period = std::time::Duration::from_secs(minutes * 60);
    crate::jobs::spawn_periodic(db, JOB, period, |db| async move {
        let today = deadlines::today().ok_or("no local date")?;
        let s = run(&db, today).await.map_err(|e| e.to_string())?;
        Ok(format!("re-check and visit tasks scheduled: {s:?}"))
    });
}

/// The scheduler's name as a background job (its lease in `job_leases`).
pub const JOB: &str = "task_schedule";
