//! Re-check and visit schedules for households in benefit (DB2021 art. 31, TK2021, local visit
//! frequencies): pure functions from a case's situation to the next due tasks. The server turns
//! them into tasks.
//!
//! Month arithmetic: "N months after D" is the same day N months later, or the last day of that
//! month when it is shorter (31 January + 1 month = 28 or 29 February).

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Text;
use super::calendar::{CalendarError, Due, Step, WorkCalendar, step_due};
use super::policy::Policy;

/// The programme a household is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "programme")]
pub enum Enrolment {
    /// 低保
    Dibao,
    /// 特困人员, 分散供养 (at home) or 集中供养 (in an institution).
    Tekun { care: Care },
    /// 低保边缘家庭 or 监测对象: watched, not in benefit; no statutory re-check, visits at the
    /// region's `watched_visit_months`.
    Watched,
    /// 刚性支出困难家庭: recognised for [`RIGID_EXPENDITURE_VALID_MONTHS`] from its approval, then
    /// the household applies again (a [`TaskKind::RigidReapply`] on the day it lapses).
    RigidExpenditure,
}

/// How long a 刚性支出困难 recognition holds (认定有效期, GX2025 art. 10: at most 12 months).
pub const RIGID_EXPENDITURE_VALID_MONTHS: u32 = 12;

/// The first day a 刚性支出困难 recognition approved (or last changed) on `recognised` no longer
/// holds: the one rule for the re-apply task, the household page and the counts of households
/// in the programme on a day.
pub fn rigid_expenditure_lapses_on(recognised: NaiveDate) -> Result<NaiveDate, ScheduleError> {
    add_months(recognised, RIGID_EXPENDITURE_VALID_MONTHS)
}

/// 供养方式.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Care {
    /// 分散供养: at home; a key person for visits (monthly) unless rated otherwise.
    Dispersed,
    /// 集中供养: in an institution.
    Centralized,
}

/// Visit risk level (local practice, e.g. Inner Mongolia).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// 高风险: at least weekly.
    High,
    /// 重点: at least monthly (includes 分散供养特困).
    Key,
    /// 一般: at least quarterly.
    Normal,
}

/// A phase-out (渐退期) under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhaseOut {
    pub start: NaiveDate,
    pub months: u32,
}

/// What the schedule needs to know about a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseState {
    pub enrolment: Enrolment,
    /// The approval date or the date of the last re-check (复核).
    pub last_recheck: NaiveDate,
    /// 低保: whether income is stable (unstable → every 6 months).
    #[serde(default)]
    pub income_unstable: bool,
    /// 低保: whether members are able to work (→ every 6 months).
    #[serde(default)]
    pub members_able_to_work: bool,
    /// Visit risk level; `None` means no regular visits (分散供养特困 default to [`RiskLevel::Key`]).
    #[serde(default)]
    pub risk: Option<RiskLevel>,
    /// The last visit (探访), if any; otherwise visits count from `last_recheck`.
    #[serde(default)]
    pub last_visit: Option<NaiveDate>,
    /// The date of a member's death, if one died.
    #[serde(default)]
    pub member_death: Option<NaiveDate>,
    /// A 渐退期 under way.
    #[serde(default)]
    pub phase_out: Option<PhaseOut>,
    /// Reported changes in members' self-care that wait for a re-assessment (特困 only).
    #[serde(default)]
    pub self_care_changes: Vec<SelfCareChange>,
}

/// A reported change in a person's condition (自理状况变化) with no self-care assessment dated
/// on or after it (`doc::household::Member::self_care_change_pending`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfCareChange {
    /// The member's id in the household.
    pub member: String,
    pub name: String,
    pub reported_on: NaiveDate,
}

/// What a due task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// 复核: the regular re-check.
    Recheck,
    /// 复核 after a member's death.
    DeathRecheck,
    /// 探访: a visit.
    Visit,
    /// The end of the 渐退期: stop or re-assess.
    PhaseOutEnd,
    /// 刚性支出困难 recognition lapses: the household applies again (重新申请).
    RigidReapply,
    /// 自理能力复评: a 特困 person's self-care is assessed again after a reported change.
    SelfCareReassessment,
}

/// A task the case needs, with its due date and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTask {
    pub kind: TaskKind,
    pub due: NaiveDate,
    pub reason: Text,
    /// The member the task is about, for a task about one person (a self-care re-assessment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// Why a schedule could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the date is out of range")]
    Overflow,
    #[error("a phase-out of {months} months is outside the region's limits")]
    PhaseOutOutOfRange { months: u32 },
}

impl ScheduleError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ScheduleError::Overflow => "schedule.overflow",
            ScheduleError::PhaseOutOutOfRange { .. } => "schedule.phase_out_out_of_range",
        }
    }

    /// The message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            ScheduleError::Overflow => "日期超出范围".to_owned(),
            ScheduleError::PhaseOutOutOfRange { months } => {
                format!("{months}个月的渐退期不符合本地区规定的期限")
            }
        }
    }
}

/// `date` plus `n` months (clamped to the end of a shorter month).
pub fn add_months(date: NaiveDate, n: u32) -> Result<NaiveDate, ScheduleError> {
    date.checked_add_months(Months::new(n))
        .ok_or(ScheduleError::Overflow)
}

/// The next due tasks of a case, earliest first.
pub fn next_tasks(case: &CaseState, policy: &Policy) -> Result<Vec<DueTask>, ScheduleError> {
    let mut tasks = Vec::new();
    let recheck = match case.enrolment {
        Enrolment::Dibao if case.income_unstable || case.members_able_to_work => {
            let m = policy.dibao_recheck_unstable_months;
            Some((
                m,
                Text::new(
                    format!(
                        "低保家庭收入不稳定或有劳动能力成员，每{m}个月复核一次（审核确认办法第三十一条）"
                    ),
                    format!(
                        "低保 household with unstable income or members able to work: re-check every {m} months (DB2021 art. 31)"
                    ),
                ),
            ))
        }
        Enrolment::Dibao => {
            let m = policy.dibao_recheck_stable_months;
            Some((
                m,
                Text::new(
                    format!("低保家庭收入稳定，每{m}个月复核一次（审核确认办法第三十一条）"),
                    format!(
                        "低保 household with stable income: re-check every {m} months (DB2021 art. 31)"
                    ),
                ),
            ))
        }
        Enrolment::Tekun { .. } => {
            let m = policy.tekun_recheck_months;
            Some((
                m,
                Text::new(
                    format!("特困人员每{m}个月复核一次"),
                    format!("特困: re-check every {m} months"),
                ),
            ))
        }
        Enrolment::Watched | Enrolment::RigidExpenditure => None,
    };
    if let Some((months, reason)) = recheck {
        tasks.push(DueTask {
            kind: TaskKind::Recheck,
            due: add_months(case.last_recheck, months)?,
            reason,
            member: None,
        });
    }

    if let Some(death) = case.member_death
        && death >= case.last_recheck
    {
        let m = policy.death_recheck_months;
        tasks.push(DueTask {
            kind: TaskKind::DeathRecheck,
            due: add_months(death, m)?,
            reason: Text::new(
                format!("家庭成员于{death}死亡，{m}个月内复核家庭人口和收入"),
                format!(
                    "A member died on {death}: re-check household size and income within {m} months"
                ),
            ),
            member: None,
        });
    }

    let risk = match (case.risk, case.enrolment) {
        (Some(r), _) => Some(r),
        (
            None,
            Enrolment::Tekun {
                care: Care::Dispersed,
            },
        ) => Some(RiskLevel::Key),
        (None, _) => None,
    };
    // Visit intervals are the region's (local practice, no national figure): without one, no
    // visit task.
    let visit = risk.and_then(|risk| match risk {
        RiskLevel::High => policy.visit_high_risk_days.map(|d| (risk, d)),
        RiskLevel::Key => policy.visit_key_months.map(|m| (risk, m)),
        RiskLevel::Normal => policy.visit_other_months.map(|m| (risk, m)),
    });
    if let Some((risk, n)) = visit {
        let base = case.last_visit.unwrap_or(case.last_recheck);
        let (due, zh, en) = match risk {
            RiskLevel::High => (
                base.checked_add_days(Days::new(u64::from(n)))
                    .ok_or(ScheduleError::Overflow)?,
                format!("高风险对象，至少每{n}天探访一次"),
                format!("high risk: visit at least every {n} days"),
            ),
            RiskLevel::Key => (
                add_months(base, n)?,
                format!("重点对象（含分散供养特困人员），至少每{n}个月探访一次"),
                format!("key person (incl. 分散供养特困): visit at least every {n} months"),
            ),
            RiskLevel::Normal => (
                add_months(base, n)?,
                format!("一般对象，至少每{n}个月探访一次"),
                format!("other: visit at least every {n} months"),
            ),
        };
        tasks.push(DueTask {
            kind: TaskKind::Visit,
            due,
            reason: Text::new(zh, en),
            member: None,
        });
    }

    // 低保边缘 and 监测对象 without a risk level of their own: the region's interval.
    if case.enrolment == Enrolment::Watched
        && visit.is_none()
        && let Some(n) = policy.watched_visit_months
    {
        let base = case.last_visit.unwrap_or(case.last_recheck);
        tasks.push(DueTask {
            kind: TaskKind::Visit,
            due: add_months(base, n)?,
            reason: Text::new(
                format!("低保边缘家庭、监测对象，每{n}个月走访一次"),
                format!("低保边缘 household or monitored person: visit every {n} months"),
            ),
            member: None,
        });
    }

    // For a 刚性支出困难 household `last_recheck` is the approval (or last change): a visit
    // does not renew the recognition.
    if case.enrolment == Enrolment::RigidExpenditure {
        let m = RIGID_EXPENDITURE_VALID_MONTHS;
        tasks.push(DueTask {
            kind: TaskKind::RigidReapply,
            due: rigid_expenditure_lapses_on(case.last_recheck)?,
            reason: Text::new(
                format!(
                    "刚性支出困难家庭认定自{}起有效期{m}个月，期满需重新申请（认定办法第十条）",
                    case.last_recheck
                ),
                format!(
                    "刚性支出 recognition from {} holds {m} months: the household applies again when it lapses (GX2025 art. 10)",
                    case.last_recheck
                ),
            ),
            member: None,        });
    }

    if let Some(p) = case.phase_out {
        if !policy.phase_out_allowed(p.months) {
            return Err(ScheduleError::PhaseOutOutOfRange { months: p.months });
        }
        let due = add_months(p.start, p.months)?;
        tasks.push(DueTask {
            kind: TaskKind::PhaseOutEnd,
            due,
            reason: Text::new(
                format!("渐退期自{}起{}个月，期满停发或重新评估", p.start, p.months),
                format!(
                    "Phase-out of {} months from {}: stop or re-assess when it ends",
                    p.months, p.start
                ),
            ),
            member: None,
        });
    }
    tasks.sort_by_key(|t| t.due);
    Ok(tasks)
}

/// The self-care re-assessments (自理能力复评) a 特困 case waits for: one per reported change,
/// due `self_care_reassessment_wd` working days after the report (TK2021). None for a case in
/// another programme.
///
/// A change whose due date the calendar cannot give (it falls in a year not yet covered) is
/// left out and its error returned beside the tasks, so that the household's other tasks are
/// still scheduled; its task comes once the year is imported.
pub fn self_care_reassessments(
    case: &CaseState,
    calendar: &WorkCalendar,
    policy: &Policy,
) -> (Vec<DueTask>, Vec<CalendarError>) {
    let mut tasks = Vec::new();
    let mut errors = Vec::new();
    if !matches!(case.enrolment, Enrolment::Tekun { .. }) {
        return (tasks, errors);
    }
    let n = policy.self_care_reassessment_wd;
    for c in &case.self_care_changes {
        let start = c.reported_on.and_time(chrono::NaiveTime::MIN);
        let due = match step_due(calendar, policy, Step::SelfCareReassessment, start) {
            Ok(Due::Date(d)) => d,
            Ok(Due::DateTime(t)) => t.date(),
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        tasks.push(DueTask {
            kind: TaskKind::SelfCareReassessment,
            due,
            reason: Text::new(
                format!(
                    "{}的自理状况于{}报告有变化，{n}个工作日内重新评估生活自理能力（特困人员认定办法）",
                    c.name, c.reported_on
                ),
                format!(
                    "A change in {}'s condition was reported on {}: re-assess self-care within {n} working days (TK2021)",
                    c.name, c.reported_on
                ),
            ),
            member: Some(c.member.clone()),
        });
    }
    tasks.sort_by_key(|t| t.due);
    (tasks, errors)
}

#[cfg(test)]
mod tests;
