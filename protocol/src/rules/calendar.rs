//! Working-day calendar (工作日): public holidays and adjusted working days (调休) as data, and
//! the due dates of the workflow steps (DB2021, TK2021, LS2018).
//!
//! The holidays come from `protocol/data/holidays-cn.csv`, embedded at build time. Counting rule:
//! "within N working days of day D" ends on the N-th working day strictly after D (D itself is
//! never counted, whether or not it is a working day).
//!
//! Dates in a year the data does not cover are refused with [`CalendarError::YearNotCovered`] by
//! default, because a guess could put a deadline on a holiday; a caller that accepts the risk may
//! choose [`OutOfRange::WeekendsOnly`] (Monday to Friday work, no holidays).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};

use super::policy::Policy;

/// The embedded holiday data.
pub const HOLIDAYS_CN: &str = include_str!("../../data/holidays-cn.csv");

/// What a listed date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 法定节假日 (or a rest day of the holiday block): not a working day.
    Holiday,
    /// 调休上班: a weekend day that is a working day.
    Workday,
}

/// What to do with a date in a year the data does not cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfRange {
    /// Refuse with [`CalendarError::YearNotCovered`] (the default).
    #[default]
    Error,
    /// Count Monday to Friday as working days, with no holidays.
    WeekendsOnly,
}

/// Why a date could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the holiday calendar does not cover the year {0}")]
    YearNotCovered(i32),
    #[error("the date is out of range")]
    Overflow,
    #[error("holiday data line {line}: {message}")]
    Data { line: usize, message: String },
    #[error("the region's policy does not set {0}")]
    NotSet(&'static str),
}

impl CalendarError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::YearNotCovered(_) => "calendar.year_not_covered",
            CalendarError::Overflow => "calendar.overflow",
            CalendarError::Data { .. } => "calendar.bad_data",
            CalendarError::NotSet(_) => "calendar.not_set",
        }
    }

    /// The message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            CalendarError::YearNotCovered(y) => format!("节假日数据未包含{y}年，无法计算工作日"),
            CalendarError::Overflow => "日期超出范围".to_owned(),
            CalendarError::Data { line, message } => format!("节假日数据第{line}行有误：{message}"),
            CalendarError::NotSet(f) => format!("本地区政策未设定{f}"),
        }
    }
}

/// Public holidays and adjusted working days of the covered years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    days: BTreeMap<NaiveDate, (DayKind, String)>,
    years: BTreeSet<i32>,
    out_of_range: OutOfRange,
}

impl WorkCalendar {
    /// The calendar of mainland China from the embedded data.
    pub fn china() -> Result<WorkCalendar, CalendarError> {
        WorkCalendar::parse(HOLIDAYS_CN)
    }

    /// [`WorkCalendar::china`], parsed once per process.
    pub fn built_in() -> &'static WorkCalendar {
        static CAL: std::sync::OnceLock<WorkCalendar> = std::sync::OnceLock::new();
        CAL.get_or_init(|| {
            WorkCalendar::china().expect("the built-in holiday data parses (the calendar's tests)")
        })
    }

    /// Read holiday data (`date,kind,name` lines; `#` comments; see `docs/RULES.md`).
    pub fn parse(text: &str) -> Result<WorkCalendar, CalendarError> {
        let mut days = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| CalendarError::Data { line, message };
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let mut cols = row.splitn(3, ',');
            let (date, kind, name) = (cols.next(), cols.next(), cols.next().unwrap_or("").trim());
            let date = date
                .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
                .ok_or_else(|| err(format!("bad date in {row:?}")))?;
            let kind = match kind.map(str::trim) {
                Some("holiday") => DayKind::Holiday,
                Some("workday") => DayKind::Workday,
                other => {
                    return Err(err(format!(
                        "kind must be holiday or workday, got {other:?}"
                    )));
                }
            };
            let weekend = is_weekend(date);
            if kind == DayKind::Workday && !weekend {
                return Err(err(format!(
                    "{date} is a weekday and cannot be an adjusted working day"
                )));
            }
            if days.insert(date, (kind, name.to_owned())).is_some() {
                return Err(err(format!("{date} is listed twice")));
            }
        }
        let years = days.keys().map(|d| d.year()).collect();
        Ok(WorkCalendar {
            days,
            years,
            out_of_range: OutOfRange::Error,
        })
    }

    /// The same calendar with another out-of-range behaviour.
    pub fn with_out_of_range(mut self, out_of_range: OutOfRange) -> WorkCalendar {
        self.out_of_range = out_of_range;
        self
    }

    /// This calendar with the years `newer` covers taken from `newer` whole (an imported year
    /// replaces the embedded data of that year; the other years stay).
    pub fn overlay(mut self, newer: &WorkCalendar) -> WorkCalendar {
        self.days.retain(|d, _| !newer.years.contains(&d.year()));
        self.days
            .extend(newer.days.iter().map(|(d, v)| (*d, v.clone())));
        self.years.extend(newer.years.iter().copied());
        self
    }

    /// Every listed day, in date order.
    pub fn days(&self) -> impl Iterator<Item = (NaiveDate, DayKind, &str)> + '_ {
        self.days.iter().map(|(d, (k, n))| (*d, *k, n.as_str()))
    }

    /// The years the data covers.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// The holiday or adjusted working day on `date`, if listed.
    pub fn listed(&self, date: NaiveDate) -> Option<(DayKind, &str)> {
        self.days.get(&date).map(|(k, n)| (*k, n.as_str()))
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        if !self.years.contains(&date.year()) && self.out_of_range == OutOfRange::Error {
            return Err(CalendarError::YearNotCovered(date.year()));
        }
        Ok(match self.days.get(&date) {
            Some((DayKind::Holiday, _)) => false,
            Some((DayKind::Workday, _)) => true,
            None => !is_weekend(date),
        })
    }

    /// The `n`-th working day strictly after `start` (`start` itself for `n == 0`).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = date.succ_opt().ok_or(CalendarError::Overflow)?;
            if self.is_working_day(date)? {
                left -= 1;
            }
        }
        Ok(date)
    }

    /// The number of working days in `(from, to]` (0 if `to <= from`): how many working days of a
    /// time limit have been used by `to`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = date.succ_opt().ok_or(CalendarError::Overflow)?;
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// `start` plus `n` calendar days.
pub fn add_calendar_days(start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
    start
        .checked_add_days(Days::new(u64::from(n)))
        .ok_or(CalendarError::Overflow)
}

/// A workflow step with a time limit ("Workflows and time limits" of DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// 低保: the township starts the means investigation (from acceptance of the application).
    InvestigationStart,
    /// The county data check starts (from the request).
    DataCheckStart,
    /// 公示: the public notice (from the day it is posted); due is its last day.
    PublicNotice,
    /// 低保 county review (审核确认) (from receipt of the township's opinion).
    DibaoCountyReview,
    /// 特困 township opinion (from acceptance).
    TekunTownshipOpinion,
    /// 特困 county review (from receipt of the township's opinion).
    TekunCountyReview,
    /// Written reasons for a refusal (from the decision).
    RefusalNotice,
    /// Whole 低保 case (from acceptance).
    CaseLimit,
    /// Whole case with confirmation delegated to the township (from acceptance).
    CaseLimitDelegated,
    /// Whole case in a special case with a recorded reason (from acceptance).
    CaseLimitSpecial,
    /// 特困 self-care re-assessment (from the reported change).
    SelfCareReassessment,
    /// 急难型临时救助: help within hours (from the report), a time, not a date.
    EmergencyAid,
    /// 急难型: paperwork completed (from the help), calendar or working days
    /// (`emergency_paperwork_working_days`); local.
    EmergencyPaperwork,
}

/// When a step is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// By the end of this day.
    Date(NaiveDate),
    /// By this moment (急难型: hours, not days).
    DateTime(NaiveDateTime),
}

/// The due date of `step` started at `start` under `policy`.
pub fn step_due(
    calendar: &WorkCalendar,
    policy: &Policy,
    step: Step,
    start: NaiveDateTime,
) -> Result<Due, CalendarError> {
    let day = start.date();
    let wd = |n: u32| calendar.add_working_days(day, n).map(Due::Date);
    match step {
        Step::InvestigationStart => wd(policy.investigation_start_wd),
        Step::DataCheckStart => wd(policy.data_check_start_wd),
        Step::PublicNotice => {
            add_calendar_days(day, policy.public_notice_days.saturating_sub(1)).map(Due::Date)
        }
        Step::DibaoCountyReview => wd(policy.dibao_county_review_wd),
        Step::TekunTownshipOpinion => wd(policy.tekun_township_wd),
        Step::TekunCountyReview => wd(policy.tekun_county_wd),
        Step::RefusalNotice => wd(policy.refusal_notice_wd),
        Step::CaseLimit => wd(policy.case_limit_wd),
        Step::CaseLimitDelegated => wd(policy.case_limit_delegated_wd),
        Step::CaseLimitSpecial => wd(policy.case_limit_special_wd),
        Step::SelfCareReassessment => wd(policy.self_care_reassessment_wd),
        Step::EmergencyAid => start
            .checked_add_signed(TimeDelta::hours(i64::from(policy.emergency_aid_hours)))
            .map(Due::DateTime)
            .ok_or(CalendarError::Overflow),
        Step::EmergencyPaperwork => {
            let days = policy
                .emergency_paperwork_days
                .ok_or(CalendarError::NotSet("emergency_paperwork_days"))?;
            if policy.emergency_paperwork_working_days == Some(true) {
                wd(days)
            } else {
                add_calendar_days(day, days).map(Due::Date)
            }
        }
    }
}

/// The statutory clocks of an application (docs/REVIEW.md "Applications and their clocks"), as
/// the server's queue and the phone both show them: one rule for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseClock {
    /// The investigation starts (`investigation_start_wd` after acceptance).
    pub investigation: Result<NaiveDate, CalendarError>,
    /// The township's opinion: `tekun_township_wd` after acceptance for 特困; for the others the
    /// whole case's limit less the county's review time, so that the county keeps its time.
    pub town: Result<NaiveDate, CalendarError>,
    /// The county's confirmation, once the township has approved: its review time after the last
    /// day of the 公示 the approval opened, when the file reaches it.
    pub county: Option<Result<NaiveDate, CalendarError>>,
    /// The whole case (办理总时限), not for 特困 (whose limits are per step): `case_limit_wd`,
    /// `case_limit_delegated_wd` where the township confirms itself, `case_limit_special_wd`
    /// once a reason is recorded (`extended`).
    pub case: Option<Result<NaiveDate, CalendarError>>,
}

/// The clocks of an application accepted on `accepted` (受理) and approved by the township on
/// `approved`, under `policy` (the region's in force on the day of acceptance).
pub fn case_clock(
    calendar: &WorkCalendar,
    policy: &Policy,
    accepted: NaiveDate,
    approved: Option<NaiveDate>,
    tekun: bool,
    extended: bool,
) -> CaseClock {
    let at = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    let date = |r: Result<Due, CalendarError>| {
        r.map(|due| match due {
            Due::Date(d) => d,
            Due::DateTime(t) => t.date(),
        })
    };
    let step = |s: Step, from: NaiveDate| date(step_due(calendar, policy, s, at(from)));
    let delegated = policy.confirmation_delegated == Some(true);
    let town = match tekun {
        true => step(Step::TekunTownshipOpinion, accepted),
        false => {
            let whole = match delegated {
                true => policy.case_limit_delegated_wd,
                false => policy.case_limit_wd,
            };
            calendar.add_working_days(
                accepted,
                whole.saturating_sub(policy.dibao_county_review_wd),
            )
        }
    };
    let county_step = match tekun {
        true => Step::TekunCountyReview,
        false => Step::DibaoCountyReview,
    };
    let county = approved
        .map(|a| step(Step::PublicNotice, a).and_then(|received| step(county_step, received)));
    let limit = match (extended, delegated) {
        (true, _) => Step::CaseLimitSpecial,
        (false, true) => Step::CaseLimitDelegated,
        (false, false) => Step::CaseLimit,
    };
    CaseClock {
        investigation: step(Step::InvestigationStart, accepted),
        town,
        county,
        case: (!tekun).then(|| step(limit, accepted)),
    }
}

#[cfg(test)]
mod tests;
