use super::*;
use crate::rules::policy::{Policy, PolicySettings};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, 0, 0).unwrap()
}

fn cal() -> WorkCalendar {
    WorkCalendar::china().unwrap()
}

#[test]
fn embedded_data_covers_2025_and_2026() {
    let c = cal();
    assert_eq!(c.covered_years().collect::<Vec<_>>(), vec![2025, 2026]);
    // National Day 2025 (with Mid-Autumn): 1–8 October off, 28 September and 11 October work.
    for d in 1..=8 {
        assert_eq!(
            c.is_working_day(date(2025, 10, d)),
            Ok(false),
            "2025-10-{d}"
        );
    }
    assert_eq!(c.is_working_day(date(2025, 9, 28)), Ok(true));
    assert_eq!(c.is_working_day(date(2025, 10, 11)), Ok(true));
    assert_eq!(c.is_working_day(date(2025, 10, 9)), Ok(true));
    // National Day 2026: 1–7 October off, 20 September and 10 October work; Mid-Autumn 25–27 September.
    for d in 1..=7 {
        assert_eq!(
            c.is_working_day(date(2026, 10, d)),
            Ok(false),
            "2026-10-{d}"
        );
    }
    assert_eq!(c.is_working_day(date(2026, 9, 25)), Ok(false));
    assert_eq!(c.is_working_day(date(2026, 9, 20)), Ok(true));
    assert_eq!(c.is_working_day(date(2026, 10, 10)), Ok(true));
    assert_eq!(c.is_working_day(date(2026, 10, 8)), Ok(true));
    // Spring Festival 2026: 15–23 February off, 14 and 28 February work.
    assert_eq!(c.is_working_day(date(2026, 2, 23)), Ok(false));
    assert_eq!(c.is_working_day(date(2026, 2, 14)), Ok(true));
    assert_eq!(
        c.listed(date(2026, 2, 28)),
        Some((DayKind::Workday, "春节调休"))
    );
    // An ordinary weekend and weekday.
    assert_eq!(c.is_working_day(date(2025, 11, 15)), Ok(false));
    assert_eq!(c.is_working_day(date(2025, 11, 14)), Ok(true));
}

#[test]
fn thirty_working_days_across_national_day_2025() {
    let c = cal();
    // Accepted on Friday 26 September 2025: Sunday 28 September is day 1, 29–30 September days
    // 2–3, 1–8 October off, 9–11 October days 4–6, ..., Thursday 13 November day 30.
    assert_eq!(
        c.add_working_days(date(2025, 9, 26), 30),
        Ok(date(2025, 11, 13))
    );
    // With weekends only it would have been 7 November.
    let plain = WorkCalendar::parse("")
        .unwrap()
        .with_out_of_range(OutOfRange::WeekendsOnly);
    assert_eq!(
        plain.add_working_days(date(2025, 9, 26), 30),
        Ok(date(2025, 11, 7))
    );
    assert_eq!(
        c.working_days_between(date(2025, 9, 26), date(2025, 11, 13)),
        Ok(30)
    );
    let p = Policy::national_defaults();
    assert_eq!(
        step_due(&c, &p, Step::CaseLimit, at(2025, 9, 26, 10)),
        Ok(Due::Date(date(2025, 11, 13)))
    );
    // 3 WD to start the investigation from Tuesday 30 September: 9, 10, 11 October.
    assert_eq!(
        step_due(&c, &p, Step::InvestigationStart, at(2025, 9, 30, 16)),
        Ok(Due::Date(date(2025, 10, 11)))
    );
}

#[test]
fn step_due_dates() {
    let c = cal();
    let mut p = Policy::national_defaults();
    let start = at(2026, 3, 2, 9); // Monday
    let due = |p: &Policy, step| step_due(&c, p, step, start).unwrap();
    assert_eq!(
        due(&p, Step::InvestigationStart),
        Due::Date(date(2026, 3, 5))
    );
    assert_eq!(due(&p, Step::DataCheckStart), Due::Date(date(2026, 3, 5)));
    assert_eq!(due(&p, Step::PublicNotice), Due::Date(date(2026, 3, 8)));
    assert_eq!(
        due(&p, Step::DibaoCountyReview),
        Due::Date(date(2026, 3, 16))
    );
    assert_eq!(
        due(&p, Step::TekunTownshipOpinion),
        Due::Date(date(2026, 3, 23))
    );
    assert_eq!(
        due(&p, Step::TekunCountyReview),
        Due::Date(date(2026, 3, 23))
    );
    assert_eq!(due(&p, Step::RefusalNotice), Due::Date(date(2026, 3, 5)));
    assert_eq!(
        due(&p, Step::SelfCareReassessment),
        Due::Date(date(2026, 3, 16))
    );
    assert_eq!(
        due(&p, Step::CaseLimitDelegated),
        Due::Date(date(2026, 3, 30))
    );
    // 45 WD crosses Qingming (Monday 6 April off) and Labour Day (1–5 May off): 42 working days
    // by 30 April, then 6, 7 and 8 May.
    assert_eq!(due(&p, Step::CaseLimitSpecial), Due::Date(date(2026, 5, 8)));
    // 急难型: 24 hours, not a day count, holidays included.
    assert_eq!(
        step_due(&c, &p, Step::EmergencyAid, at(2025, 10, 1, 22)),
        Ok(Due::DateTime(at(2025, 10, 2, 22)))
    );
    assert_eq!(
        step_due(&c, &p, Step::EmergencyPaperwork, start),
        Err(CalendarError::NotSet("emergency_paperwork_days"))
    );
    p.apply(&PolicySettings {
        emergency_paperwork_days: Some(5),
        ..Default::default()
    });
    assert_eq!(
        due(&p, Step::EmergencyPaperwork),
        Due::Date(date(2026, 3, 7))
    );
    // The same 5 days counted as working days (宁国 counts 20): Monday 9 March.
    p.apply(&PolicySettings {
        emergency_paperwork_working_days: Some(true),
        ..Default::default()
    });
    assert_eq!(
        due(&p, Step::EmergencyPaperwork),
        Due::Date(date(2026, 3, 9))
    );
}

#[test]
fn out_of_range_years() {
    let c = cal();
    assert_eq!(
        c.is_working_day(date(2027, 1, 4)),
        Err(CalendarError::YearNotCovered(2027))
    );
    // A limit that runs into an uncovered year is refused rather than guessed.
    assert_eq!(
        c.add_working_days(date(2026, 12, 20), 30),
        Err(CalendarError::YearNotCovered(2027))
    );
    assert_eq!(
        CalendarError::YearNotCovered(2027).code(),
        "calendar.year_not_covered"
    );
    assert!(
        CalendarError::YearNotCovered(2027)
            .message_zh()
            .contains("2027")
    );
    // The documented fallback: weekends only.
    let c = c.with_out_of_range(OutOfRange::WeekendsOnly);
    assert_eq!(
        c.add_working_days(date(2026, 12, 31), 1),
        Ok(date(2027, 1, 1))
    );
    assert_eq!(
        c.add_working_days(date(2027, 1, 1), 1),
        Ok(date(2027, 1, 4))
    );
}

#[test]
fn zero_days_and_calendar_days() {
    let c = cal();
    assert_eq!(
        c.add_working_days(date(2025, 10, 1), 0),
        Ok(date(2025, 10, 1))
    );
    // Counting starts after a holiday start date: 1 WD after 1 October 2025 is 9 October.
    assert_eq!(
        c.add_working_days(date(2025, 10, 1), 1),
        Ok(date(2025, 10, 9))
    );
    assert_eq!(
        add_calendar_days(date(2025, 12, 29), 7),
        Ok(date(2026, 1, 5))
    );
    assert_eq!(
        add_calendar_days(NaiveDate::MAX, 1),
        Err(CalendarError::Overflow)
    );
}

#[test]
fn bad_data_is_refused_with_the_line() {
    let bad = [
        ("2025-13-01,holiday,x", 1),
        ("# c\n2025-10-01,rest,x", 2),
        ("2025-10-09,workday,x", 1),
        ("2025-10-01,holiday,a\n2025-10-01,holiday,b", 2),
    ];
    for (text, line) in bad {
        match WorkCalendar::parse(text) {
            Err(CalendarError::Data { line: l, .. }) => assert_eq!(l, line, "{text}"),
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn an_imported_year_replaces_that_year_whole() {
    // 2026 re-imported with one holiday fewer, 2027 added; 2025 untouched.
    let imported = WorkCalendar::parse(
        "2026-01-01,holiday,元旦\n2027-01-01,holiday,元旦\n2027-02-06,holiday,春节\n2027-02-20,workday,春节调休\n",
    )
    .unwrap();
    let c = cal().overlay(&imported);
    assert_eq!(
        c.covered_years().collect::<Vec<_>>(),
        vec![2025, 2026, 2027]
    );
    assert_eq!(c.is_working_day(date(2025, 10, 1)), Ok(false), "2025 kept");
    assert_eq!(c.is_working_day(date(2026, 1, 1)), Ok(false));
    assert_eq!(
        c.is_working_day(date(2026, 10, 1)),
        Ok(true),
        "2026's embedded days are gone with the import"
    );
    assert_eq!(c.is_working_day(date(2027, 1, 1)), Ok(false));
    assert_eq!(
        c.is_working_day(date(2027, 2, 20)),
        Ok(true),
        "a Saturday at work"
    );
    assert_eq!(
        c.add_working_days(date(2026, 12, 31), 1),
        Ok(date(2027, 1, 4))
    );
    assert_eq!(
        c.days().filter(|(d, _, _)| d.year() == 2027).count(),
        3,
        "every listed day of the import"
    );
}

/// An application's clocks, worked by hand on the 2026 calendar: 中秋节 25–27 September, 国庆节
/// 1–7 October, Saturday 10 October worked.
#[test]
fn an_applications_clocks_run_from_acceptance_and_the_notice_end() {
    let cal = WorkCalendar::china().unwrap();
    let national = Policy::national_defaults();
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    // Accepted and approved by the township on Thursday 24 September. The investigation starts
    // by Wednesday the 30th (3 WD: 28, 29, 30); the township's 20 working days end Thursday 29
    // October; the 公示 runs to the 30th and the county's 10 working days from it are 8, 9, 10,
    // 12 … 20 October (15 for 特困: the 27th); the whole case's 30th working day is Thursday 12
    // November, its 45th Thursday 3 December.
    let c = case_clock(
        &cal,
        &national,
        d("2026-09-24"),
        Some(d("2026-09-24")),
        false,
        false,
    );
    assert_eq!(c.investigation, Ok(d("2026-09-30")));
    assert_eq!(c.town, Ok(d("2026-10-29")));
    assert_eq!(c.county, Some(Ok(d("2026-10-20"))));
    assert_eq!(c.case, Some(Ok(d("2026-11-12"))));
    let extended = case_clock(&cal, &national, d("2026-09-24"), None, false, true);
    assert_eq!(extended.case, Some(Ok(d("2026-12-03"))));
    assert_eq!(extended.county, None);
    // 特困: 15 working days for the township (Thursday 22 October) and the county (Tuesday 27
    // October); no whole-case limit.
    let tekun = case_clock(
        &cal,
        &national,
        d("2026-09-24"),
        Some(d("2026-09-24")),
        true,
        false,
    );
    assert_eq!(tekun.town, Ok(d("2026-10-22")));
    assert_eq!(tekun.county, Some(Ok(d("2026-10-27"))));
    assert_eq!(tekun.case, None);
    // Where the township confirms itself: 20 working days in all (Thursday 29 October), 10 of
    // them the township's (Thursday 15 October); a recorded reason still gives 45.
    let delegated = Policy {
        confirmation_delegated: Some(true),
        ..Policy::national_defaults()
    };
    let c = case_clock(&cal, &delegated, d("2026-09-24"), None, false, false);
    assert_eq!(c.town, Ok(d("2026-10-15")));
    assert_eq!(c.case, Some(Ok(d("2026-10-29"))));
    let c = case_clock(&cal, &delegated, d("2026-09-24"), None, false, true);
    assert_eq!(c.case, Some(Ok(d("2026-12-03"))));
    // A limit that ends in a year the calendar does not cover is not guessed.
    let c = case_clock(&cal, &national, d("2026-12-15"), None, false, false);
    assert_eq!(c.case, Some(Err(CalendarError::YearNotCovered(2027))));
}
