//! The county's decision on an application (审批决定, DB2021 art. 21–24; TK2021): confirming
//! the investigation of an application (入户调查) approves it, refusing it refuses the
//! application, and either is written into the household as a [`Decision`] in the same
//! transaction as the visit's review — programmes are derived from decisions only
//! (`Household::record_decision`).
//!
//! - An approval names the programme (by default the one applied for, `applied_for`; the county
//!   may approve another, e.g. 低保 for an applicant to 特困 who does not qualify) and, for 低保 and
//!   特困, the monthly amount; it pays from the first day of the next month
//!   ([`Decision::pays_from`]) and records the members it covers, the three facts published
//!   (公布: name, household size, amount).
//! - A refusal keeps the reasons given to the applicant and the day the written notice is issued
//!   (书面告知), at the latest `refusal_notice_wd` working days after the decision.

use chrono::NaiveDate;

use doudi_protocol::doc::household::{Decision, DecisionOutcome, Household, Programme};
use doudi_protocol::ids::{AccountId, DocumentId};

use crate::error::{ApiError, ApiResult, Code};

/// Highest monthly amount accepted (fen): 100,000 yuan, far above any standard.
pub const MAX_AMOUNT_FEN_PER_MONTH: i64 = 10_000_000;
/// Longest document number (文号) accepted, in characters.
pub const MAX_REFERENCE_CHARS: usize = 100;

/// What the county decides with its confirmation or refusal, besides the comment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Award {
    /// The programme approved (or refused); by default the one applied for.
    pub programme: Option<Programme>,
    /// 月保障金额 in fen, for 低保 and 特困 approvals.
    pub amount_fen_per_month: Option<i64>,
    /// 文号 of the decision, if any.
    pub reference: Option<String>,
    /// A refusal: the day the written notice is issued (by default the day of the decision).
    pub notice_date: Option<NaiveDate>,
}

/// Whether an approval of `p` carries a monthly amount (低保, 特困).
pub fn needs_amount(p: Programme) -> bool {
    matches!(
        p,
        Programme::Dibao | Programme::TekunDispersed | Programme::TekunCentralized
    )
}

/// `review.award_invalid` about `field` of a decision (the API's field name), with what to do.
pub fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(Code::ReviewAwardInvalid)
        .with_message(zh.into(), en.into())
        .with_details(serde_json::json!({ "field": field }))
}

/// A decision checked before it is written ([`record`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub programme: Option<Programme>,
    pub outcome: DecisionOutcome,
    pub amount_fen_per_month: Option<i64>,
    pub reference: Option<String>,
    pub effective_from: Option<NaiveDate>,
    pub notice_date: Option<NaiveDate>,
}

/// The household decision of an approval (`approve`) or refusal, checked: what is missing or out
/// of range is `review.award_invalid` naming the field. `today` is the decision's day and
/// `notice_by` the last day for a refusal's written notice (`None`: the calendar does not cover
/// it, and only "not before the decision" is checked).
pub fn decision(
    award: &Award,
    applied_for: Option<Programme>,
    approve: bool,
    today: NaiveDate,
    notice_by: Option<NaiveDate>,
) -> ApiResult<Checked> {
    let programme = award.programme.or(applied_for);
    let reference = award
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REFERENCE_CHARS)
    {
        return Err(invalid(
            "reference",
            format!("文号不能超过 {MAX_REFERENCE_CHARS} 字。"),
            format!("A document number may have at most {MAX_REFERENCE_CHARS} characters."),
        ));
    }
    let blank = Checked {
        programme,
        outcome: DecisionOutcome::Refused,
        amount_fen_per_month: None,
        reference,
        effective_from: None,
        notice_date: None,
    };
    if !approve {
        let notice = award.notice_date.unwrap_or(today);
        if notice < today || notice_by.is_some_and(|by| notice > by) {
            return Err(invalid(
                "notice_date",
                "书面告知日期须在决定之日起的法定期限内（不早于决定日，不晚于规定的工作日数）。",
                "The written notice is issued on the day of the decision or within the working days the rules allow.",
            ));
        }
        return Ok(Checked {
            notice_date: Some(notice),
            ..blank
        });
    }
    let Some(p) = programme else {
        return Err(invalid(
            "programme",
            "请选定批准的救助类别（本次入户调查未注明申请类别）。",
            "Choose the programme approved (the investigation names none applied for).",
        ));
    };
    let amount = award.amount_fen_per_month;
    if amount.is_some_and(|a| !(0..=MAX_AMOUNT_FEN_PER_MONTH).contains(&a)) {
        return Err(invalid(
            "amount_fen_per_month",
            "月保障金额须在 0 至 100000 元之间。",
            "The monthly amount must be between 0 and 100,000 yuan.",
        ));
    }
    if needs_amount(p) && amount.is_none() {
        return Err(invalid(
            "amount_fen_per_month",
            "批准低保或特困须填写月保障金额。",
            "Approving 低保 or 特困 needs the monthly amount.",
        ));
    }
    Ok(Checked {
        outcome: DecisionOutcome::Approved,
        amount_fen_per_month: amount,
        effective_from: Some(Decision::pays_from(today)),
        ..blank
    })
}

/// Write a checked decision into the household: by whom, when, on which investigation, with the
/// members it covers.
pub fn record(
    h: &mut Household,
    c: &Checked,
    by: AccountId,
    at_ms: i64,
    visit: DocumentId,
    note: Option<String>,
) {
    let household_size = u8::try_from(h.co_resident_count()).ok();
    h.record_decision(Decision {
        at: doudi_protocol::doc::UnixMillis(at_ms),
        programme: c.programme,
        outcome: c.outcome,
        amount_fen_per_month: c.amount_fen_per_month,
        by,
        reference: c.reference.clone(),
        note,
        effective_from: c.effective_from,
        visit: Some(visit),
        household_size,
        notice_date: c.notice_date,
        months: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn an_approval_needs_a_programme_and_for_dibao_an_amount() {
        let today = day(2026, 12, 31);
        let none = Award::default();
        let e = decision(&none, None, true, today, None).unwrap_err();
        assert_eq!(e.body().details.unwrap()["field"], "programme");
        let e = decision(&none, Some(Programme::Dibao), true, today, None).unwrap_err();
        assert_eq!(e.body().details.unwrap()["field"], "amount_fen_per_month");
        let a = Award {
            amount_fen_per_month: Some(72_000),
            ..Award::default()
        };
        let d = decision(&a, Some(Programme::Dibao), true, today, None).unwrap();
        assert_eq!(d.outcome, DecisionOutcome::Approved);
        assert_eq!(d.effective_from, Some(day(2027, 1, 1)));
        assert_eq!(d.amount_fen_per_month, Some(72_000));
        // 低保边缘 carries no amount; the county may approve another programme than applied for.
        let edge = Award {
            programme: Some(Programme::NearDibao),
            ..Award::default()
        };
        let d = decision(&edge, Some(Programme::TekunDispersed), true, today, None).unwrap();
        assert_eq!(d.programme, Some(Programme::NearDibao));
        let big = Award {
            amount_fen_per_month: Some(MAX_AMOUNT_FEN_PER_MONTH + 1),
            ..Award::default()
        };
        assert!(decision(&big, Some(Programme::Dibao), true, today, None).is_err());
    }

    #[test]
    fn a_refusal_is_notified_within_its_limit() {
        let today = day(2026, 9, 30);
        let by = Some(day(2026, 10, 12));
        let d = decision(&Award::default(), None, false, today, by).unwrap();
        assert_eq!(d.outcome, DecisionOutcome::Refused);
        assert_eq!(d.notice_date, Some(today));
        assert_eq!(d.effective_from, None);
        for (notice, ok) in [
            (day(2026, 9, 29), false),
            (day(2026, 10, 12), true),
            (day(2026, 10, 13), false),
        ] {
            let a = Award {
                notice_date: Some(notice),
                ..Award::default()
            };
            assert_eq!(decision(&a, None, false, today, by).is_ok(), ok, "{notice}");
        }
    }

    #[test]
    fn pay_starts_on_the_first_of_the_next_month() {
        for (d, want) in [
            (day(2026, 1, 31), day(2026, 2, 1)),
            (day(2026, 2, 1), day(2026, 3, 1)),
            (day(2026, 12, 1), day(2027, 1, 1)),
            (day(2024, 2, 29), day(2024, 3, 1)),
        ] {
            assert_eq!(Decision::pays_from(d), want);
        }
    }
}
