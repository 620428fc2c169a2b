//! Due dates of review steps, from the working-day calendar (`rules::calendar`) and the time
//! limits of the region's policy (DOMAIN.md "Workflows and time limits"; docs/REVIEW.md), in China
//! time. An application's clocks are `rules::calendar::case_clock`, which the phone uses too
//! (read through `review::queue::application_dues`); here: the 公示, the refusal notice, and the
//! 急难 clocks (先行救助 within 24 hours of the report, `EmergencyAid`, measured on the aid
//! given; the paperwork within the region's period after it, `EmergencyPaperwork`).
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
pub fn due_of(r: Result<NaiveDate, CalendarError>) -> Option<DueDate> {
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
