//! Due dates of review steps, from the working-day calendar (`rules::calendar`) and the national
//! default time limits (DOMAIN.md "Workflows and time limits"; docs/REVIEW.md).
//!
//! - Township opinion on a 特困 visit: 15 WD from submission (`TekunTownshipOpinion`).
//! - Township opinion on any other visit: the whole-case limit (30 WD; 20 where confirmation is
//!   delegated to the township) less the county's review time (10 WD), from submission, so that
//!   the confirmation keeps its full time within the case limit.
//! - County confirmation: 10 WD (低保, `DibaoCountyReview`) or 15 WD (特困, `TekunCountyReview`)
//!   from the township's approval.
//! - 急难 discovery report and 临时救助 case: 先行救助 within 24 hours of the report
//!   (`EmergencyAid`), measured on the aid given; the paperwork within the region's period after
//!   it (`EmergencyPaperwork`).
//!
//! A due date that falls in a year the working-day calendar does not cover is not guessed
//! ([`DueDate::CalendarUnknown`], 日历未知): counting Monday to Friday there would put it on a
//! holiday, or before one (1 January counted as a working day, the Spring Festival week too).

use std::sync::OnceLock;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use doudi_protocol::doc::UnixMillis;

use doudi_protocol::rules::calendar::{CalendarError, Due, Step, WorkCalendar, step_due};
use doudi_protocol::rules::policy::Policy;

/// A step's due date, as far as the working-day calendar knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueDate {
    /// Due on this day (China time).
    On(NaiveDate),
    /// The day falls in `year`, which the calendar does not cover yet (its holidays are not
    /// published, or not imported): 日历未知, not computed.
    CalendarUnknown { year: i32 },
}

impl DueDate {
    /// The day, when it is known.
    pub fn date(self) -> Option<NaiveDate> {
        match self {
            DueDate::On(d) => Some(d),
            DueDate::CalendarUnknown { .. } => None,
        }
    }
}

/// A date the calendar computed, or why it could not.
fn due_of(r: Result<NaiveDate, CalendarError>) -> Option<DueDate> {
    match r {
        Ok(d) => Some(DueDate::On(d)),
        Err(CalendarError::YearNotCovered(year)) => Some(DueDate::CalendarUnknown { year }),
        Err(_) => None,
    }
}

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(Policy::national_defaults)
}

/// Local (China) date-time of a unix-millisecond instant.
pub fn local(ms: i64) -> Option<NaiveDateTime> {
    UnixMillis(ms).china_time()
}

/// Unix milliseconds of the (China) midnight that starts day `d`.
pub fn midnight_ms(d: NaiveDate) -> i64 {
    UnixMillis::china_midnight(d).0
}

/// Local date of a unix-millisecond instant.
pub fn local_date(ms: i64) -> Option<NaiveDate> {
    local(ms).map(|d| d.date())
}

/// Today in China.
pub fn today() -> Option<NaiveDate> {
    local_date(crate::auth::now_ms())
}

fn step(cal: &WorkCalendar, policy: &Policy, step: Step, start_ms: i64) -> Option<DueDate> {
    due_of(
        step_due(cal, policy, step, local(start_ms)?).map(|due| match due {
            Due::Date(d) => d,
            Due::DateTime(t) => t.date(),
        }),
    )
}

/// When the township's opinion on a visit submitted at `submitted_ms` is due, counted in `cal`
/// ([`super::calendar::load`]) with the limits of `policy` (the visit's region's).
pub fn town_due(
    cal: &WorkCalendar,
    policy: &Policy,
    submitted_ms: i64,
    tekun: bool,
) -> Option<DueDate> {
    if tekun {
        return step(cal, policy, Step::TekunTownshipOpinion, submitted_ms);
    }
    // Where the township confirms itself (审核确认权限下放), the whole case is shorter.
    let whole = match policy.confirmation_delegated {
        Some(true) => policy.case_limit_delegated_wd,
        _ => policy.case_limit_wd,
    };
    let wd = whole.saturating_sub(policy.dibao_county_review_wd);
    due_of(cal.add_working_days(local_date(submitted_ms)?, wd))
}

/// When the county's confirmation of an application the township approved at `approved_ms` is
/// due: `dibao_county_review_wd` (特困: `tekun_county_wd`) working days from the last day of the
/// 公示 the approval opened, when the township's file reaches the county (DB2021 art. 20–21;
/// TK2021).
pub fn county_due(
    cal: &WorkCalendar,
    policy: &Policy,
    approved_ms: i64,
    tekun: bool,
) -> Option<DueDate> {
    let received = notice_until(cal, policy, approved_ms)?;
    step(
        cal,
        policy,
        if tekun {
            Step::TekunCountyReview
        } else {
            Step::DibaoCountyReview
        },
        midnight_ms(received),
    )
}

/// When the whole case accepted at `start_ms` must be decided (低保 and the other non-特困
/// programmes): `case_limit_wd` working days, `case_limit_delegated_wd` where the township
/// confirms itself, `case_limit_special_wd` where a reason for it is recorded (`extended`,
/// 延期说明), whichever is longest.
pub fn case_due(
    cal: &WorkCalendar,
    policy: &Policy,
    start_ms: i64,
    extended: bool,
) -> Option<DueDate> {
    let limit = match (extended, policy.confirmation_delegated) {
        (true, _) => Step::CaseLimitSpecial,
        (false, Some(true)) => Step::CaseLimitDelegated,
        (false, _) => Step::CaseLimit,
    };
    step(cal, policy, limit, start_ms)
}

/// When the investigation of an application accepted at `start_ms` must start
/// (`investigation_start_wd` working days, DB2021 art. 15).
pub fn investigation_due(cal: &WorkCalendar, policy: &Policy, start_ms: i64) -> Option<DueDate> {
    step(cal, policy, Step::InvestigationStart, start_ms)
}

/// The last day of the 公示 of an application the township approved at `approved_ms`
/// (`public_notice_days` calendar days, the day of approval the first).
pub fn notice_until(cal: &WorkCalendar, policy: &Policy, approved_ms: i64) -> Option<NaiveDate> {
    step(cal, policy, Step::PublicNotice, approved_ms).and_then(DueDate::date)
}

/// The last day for the written notice of a refusal decided at `decided_ms` (书面告知,
/// `refusal_notice_wd` working days).
pub fn refusal_notice_due(cal: &WorkCalendar, policy: &Policy, decided_ms: i64) -> Option<DueDate> {
    step(cal, policy, Step::RefusalNotice, decided_ms)
}

/// The hours within which a 急难 report needs action.
pub fn emergency_hours() -> i64 {
    i64::from(policy().emergency_aid_hours)
}

/// When a 急难 report filed at `reported_ms` needs its 先行救助 by (unix ms), under the
/// national default hours.
pub fn emergency_due_ms(reported_ms: i64) -> i64 {
    emergency_aid_due_ms(policy(), reported_ms)
}

/// When 急难 aid for an emergency reported at `reported_ms` is due under `policy`
/// (`emergency_aid_hours` after the report: a time, not a day).
pub fn emergency_aid_due_ms(policy: &Policy, reported_ms: i64) -> i64 {
    reported_ms
        .saturating_add(TimeDelta::hours(i64::from(policy.emergency_aid_hours)).num_milliseconds())
}

/// Whether a step due at `due_ms` was missed: done after it, or not done and past it by
/// `now_ms`. The one rule of every 临时救助 clock (先行救助, 补办手续) and of a 急难 report's
/// flag; no due time, nothing missed.
pub fn missed(due_ms: Option<i64>, done_ms: Option<i64>, now_ms: i64) -> bool {
    due_ms.is_some_and(|due| done_ms.map_or(now_ms > due, |done| done > due))
}

/// The flag of a 急难 discovery report: its aid (先行救助, recorded on the 临时救助 case it
/// opened) was given after `aid_due_ms`, or is not given and the time has passed while the
/// report is open. Triage (assigning, screening) does not clear it; only the aid does.
pub fn emergency_flagged(
    emergency: bool,
    aid_due_ms: Option<i64>,
    aid_given_ms: Option<i64>,
    closed: bool,
    now_ms: i64,
) -> bool {
    emergency && (aid_given_ms.is_some() || !closed) && missed(aid_due_ms, aid_given_ms, now_ms)
}

/// The end (China time) of the day the paperwork after 先行救助 given at `aid_ms` is due
/// (`emergency_paperwork_days`, calendar or working days), when the region sets the period and
/// the calendar covers the day.
pub fn paperwork_due_ms(cal: &WorkCalendar, policy: &Policy, aid_ms: i64) -> Option<i64> {
    step(cal, policy, Step::EmergencyPaperwork, aid_ms)
        .and_then(DueDate::date)
        .and_then(|d| d.checked_add_days(chrono::Days::new(1)))
        .map(|next| midnight_ms(next) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// 10:00 China time on `d`.
    fn at_ten(d: &str) -> i64 {
        midnight_ms(day(d)) + 10 * 3_600_000
    }

    /// Worked by hand on the 2026 calendar: 中秋节 25–27 September, 国庆节 1–7 October, Saturday
    /// 10 October worked.
    #[test]
    fn the_county_counts_from_the_notice_end_and_the_case_from_acceptance() {
        let cal = WorkCalendar::china().unwrap();
        let national = Policy::national_defaults();
        // Approved Thursday 24 September: the 公示 runs to Wednesday the 30th; the county's 10
        // working days are 8, 9, 10, 12 … 20 October, its 15 for 特困 end on the 27th.
        assert_eq!(
            notice_until(&cal, &national, at_ten("2026-09-24")),
            Some(day("2026-09-30"))
        );
        assert_eq!(
            county_due(&cal, &national, at_ten("2026-09-24"), false),
            Some(DueDate::On(day("2026-10-20")))
        );
        assert_eq!(
            county_due(&cal, &national, at_ten("2026-09-24"), true),
            Some(DueDate::On(day("2026-10-27")))
        );
        // Accepted the same day: the whole case's 30th working day is Thursday 12 November,
        // its 45th Thursday 3 December; the investigation starts by Wednesday 30 September.
        let accepted = midnight_ms(day("2026-09-24"));
        assert_eq!(
            case_due(&cal, &national, accepted, false),
            Some(DueDate::On(day("2026-11-12")))
        );
        assert_eq!(
            case_due(&cal, &national, accepted, true),
            Some(DueDate::On(day("2026-12-03")))
        );
        assert_eq!(
            investigation_due(&cal, &national, accepted),
            Some(DueDate::On(day("2026-09-30")))
        );
        // Where the township confirms itself: 20 working days, Thursday 29 October; with a
        // recorded reason the special limit still applies.
        let delegated = Policy {
            confirmation_delegated: Some(true),
            ..Policy::national_defaults()
        };
        assert_eq!(
            case_due(&cal, &delegated, accepted, false),
            Some(DueDate::On(day("2026-10-29")))
        );
        assert_eq!(
            case_due(&cal, &delegated, accepted, true),
            Some(DueDate::On(day("2026-12-03")))
        );
        // A limit that ends in a year the calendar does not cover is not guessed.
        assert_eq!(
            case_due(&cal, &national, midnight_ms(day("2026-12-15")), false),
            Some(DueDate::CalendarUnknown { year: 2027 })
        );
    }
}
