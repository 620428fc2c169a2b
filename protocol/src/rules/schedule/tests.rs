use super::*;
use crate::rules::Cap;
use crate::rules::policy::PolicySettings;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn case(enrolment: Enrolment, last: NaiveDate) -> CaseState {
    CaseState {
        enrolment,
        last_recheck: last,
        income_unstable: false,
        members_able_to_work: false,
        risk: None,
        last_visit: None,
        member_death: None,
        phase_out: None,
        self_care_changes: Vec::new(),
    }
}

fn kinds_and_dates(tasks: &[DueTask]) -> Vec<(TaskKind, NaiveDate)> {
    tasks.iter().map(|t| (t.kind, t.due)).collect()
}

#[test]
fn dibao_stable_yearly_unstable_half_yearly() {
    let p = Policy::national_defaults();
    let mut c = case(Enrolment::Dibao, date(2025, 3, 15));
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        vec![(TaskKind::Recheck, date(2026, 3, 15))]
    );
    c.members_able_to_work = true;
    let tasks = next_tasks(&c, &p).unwrap();
    assert_eq!(
        kinds_and_dates(&tasks),
        vec![(TaskKind::Recheck, date(2025, 9, 15))]
    );
    assert!(tasks[0].reason.zh.contains("每6个月"));
    c.members_able_to_work = false;
    c.income_unstable = true;
    assert_eq!(next_tasks(&c, &p).unwrap()[0].due, date(2025, 9, 15));
}

#[test]
fn tekun_yearly_with_visits_by_risk() {
    let mut p = Policy::national_defaults();
    let mut c = case(
        Enrolment::Tekun {
            care: Care::Dispersed,
        },
        date(2025, 1, 31),
    );
    // Visit intervals are local practice: without the region's, no visit task.
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        vec![(TaskKind::Recheck, date(2026, 1, 31))]
    );
    // Inner Mongolia: high risk weekly, key monthly, others quarterly.
    p.apply(&PolicySettings {
        visit_high_risk_days: Some(7),
        visit_key_months: Some(1),
        visit_other_months: Some(3),
        ..Default::default()
    });
    // 分散供养: key person, monthly; 31 January + 1 month = 28 February.
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        vec![
            (TaskKind::Visit, date(2025, 2, 28)),
            (TaskKind::Recheck, date(2026, 1, 31)),
        ]
    );
    c.risk = Some(RiskLevel::High);
    c.last_visit = Some(date(2025, 6, 2));
    assert_eq!(
        next_tasks(&c, &p).unwrap()[0],
        DueTask {
            kind: TaskKind::Visit,
            due: date(2025, 6, 9),
            reason: Text::new(
                "高风险对象，至少每7天探访一次",
                "high risk: visit at least every 7 days"
            ),
            member: None,
        }
    );
    c.risk = Some(RiskLevel::Normal);
    assert_eq!(next_tasks(&c, &p).unwrap()[0].due, date(2025, 9, 2));
    // 集中供养 without a risk level: no visits.
    let c = case(
        Enrolment::Tekun {
            care: Care::Centralized,
        },
        date(2025, 1, 31),
    );
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        vec![(TaskKind::Recheck, date(2026, 1, 31))]
    );
}

#[test]
fn a_death_triggers_a_recheck_within_three_months() {
    let p = Policy::national_defaults();
    let mut c = case(Enrolment::Dibao, date(2025, 3, 1));
    c.member_death = Some(date(2025, 11, 30));
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        vec![
            (TaskKind::Recheck, date(2026, 3, 1)),
            (TaskKind::DeathRecheck, date(2026, 2, 28)),
        ]
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
    );
    // A death before the last re-check was already taken into account.
    c.member_death = Some(date(2025, 2, 1));
    assert_eq!(next_tasks(&c, &p).unwrap().len(), 1);
}

#[test]
fn phase_out_end_respects_the_region() {
    let mut p = Policy::national_defaults();
    p.apply(&PolicySettings {
        phase_out_min_months: Some(3),
        ..Default::default()
    });
    let mut c = case(Enrolment::Dibao, date(2025, 1, 1));
    c.phase_out = Some(PhaseOut {
        start: date(2025, 5, 1),
        months: 6,
    });
    let tasks = next_tasks(&c, &p).unwrap();
    assert_eq!(tasks[0].kind, TaskKind::PhaseOutEnd);
    assert_eq!(tasks[0].due, date(2025, 11, 1));
    c.phase_out = Some(PhaseOut {
        start: date(2025, 5, 1),
        months: 12,
    });
    assert_eq!(
        next_tasks(&c, &p),
        Err(ScheduleError::PhaseOutOutOfRange { months: 12 })
    );
    // Qinghai: at least 12 months, no maximum.
    p.apply(&PolicySettings {
        phase_out_min_months: Some(12),
        phase_out_max_months: Some(Cap::Unlimited),
        ..Default::default()
    });
    assert_eq!(
        next_tasks(&c, &p).unwrap().last().unwrap().due,
        date(2026, 5, 1)
    );
}

#[test]
fn watched_households_are_visited_at_the_regions_interval_and_never_rechecked() {
    let mut p = Policy::national_defaults();
    let mut c = case(Enrolment::Watched, date(2026, 1, 31));
    // No national interval: nothing is scheduled.
    assert_eq!(next_tasks(&c, &p).unwrap(), []);
    p.apply(&PolicySettings {
        watched_visit_months: Some(3),
        visit_high_risk_days: Some(7),
        ..Default::default()
    });
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        [(TaskKind::Visit, date(2026, 4, 30))]
    );
    // From the last visit, when there was one.
    c.last_visit = Some(date(2026, 3, 31));
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        [(TaskKind::Visit, date(2026, 6, 30))]
    );
    // A risk level of its own rules instead.
    c.risk = Some(RiskLevel::High);
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        [(TaskKind::Visit, date(2026, 4, 7))]
    );
}

#[test]
fn rigid_expenditure_recognition_lapses_after_twelve_months() {
    let p = Policy::national_defaults();
    // Approved on 31 January 2025: it lapses on 31 January 2026.
    let mut c = case(Enrolment::RigidExpenditure, date(2025, 1, 31));
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        [(TaskKind::RigidReapply, date(2026, 1, 31))]
    );
    // A visit renews nothing; neither is there a statutory re-check.
    c.last_visit = Some(date(2025, 9, 1));
    assert_eq!(
        kinds_and_dates(&next_tasks(&c, &p).unwrap()),
        [(TaskKind::RigidReapply, date(2026, 1, 31))]
    );
    assert_eq!(
        rigid_expenditure_lapses_on(date(2024, 2, 29)),
        Ok(date(2025, 2, 28))
    );
}

fn change(member: &str, reported_on: NaiveDate) -> SelfCareChange {
    SelfCareChange {
        member: member.to_owned(),
        name: "张特困".to_owned(),
        reported_on,
    }
}

#[test]
fn self_care_reassessment_due_ten_working_days_after_the_report_across_national_day() {
    let p = Policy::national_defaults();
    assert_eq!(p.self_care_reassessment_wd, 10);
    let cal = WorkCalendar::china().unwrap();
    let mut c = case(
        Enrolment::Tekun {
            care: Care::Dispersed,
        },
        date(2026, 1, 15),
    );
    // Reported Wednesday 30 September 2026. By hand: 1–7 October are the National Day holiday;
    // Thu 8 (1), Fri 9 (2), Sat 10 is a working day (调休) (3), Mon 12 to Fri 16 (4–8), Mon 19 (9),
    // Tue 20 (10).
    // Reported Friday 18 September: Sun 20 is a working day (1), Mon 21 to Thu 24 (2–5), 25–27
    // the Mid-Autumn holiday, Mon 28 to Wed 30 (6–8), 1–7 October holiday, Thu 8 (9), Fri 9 (10).
    c.self_care_changes = vec![
        change("m-1", date(2026, 9, 30)),
        change("m-2", date(2026, 9, 18)),
    ];
    let (tasks, undated) = self_care_reassessments(&c, &cal, &p);
    assert!(undated.is_empty(), "{undated:?}");
    assert_eq!(
        tasks
            .iter()
            .map(|t| (t.kind, t.due, t.member.as_deref()))
            .collect::<Vec<_>>(),
        [
            (
                TaskKind::SelfCareReassessment,
                date(2026, 10, 9),
                Some("m-2")
            ),
            (
                TaskKind::SelfCareReassessment,
                date(2026, 10, 20),
                Some("m-1")
            ),
        ]
    );
    assert!(
        tasks[1].reason.zh.contains("10个工作日"),
        "{}",
        tasks[1].reason.zh
    );
    // The regular schedule is unchanged by a reported change.
    assert!(
        next_tasks(&c, &p)
            .unwrap()
            .iter()
            .all(|t| t.kind != TaskKind::SelfCareReassessment && t.member.is_none())
    );
    // A region's own limit is used.
    let mut local = p.clone();
    local.self_care_reassessment_wd = 1;
    assert_eq!(
        self_care_reassessments(&c, &cal, &local).0[1].due,
        date(2026, 10, 8)
    );
}

#[test]
fn self_care_reassessment_only_for_tekun_and_only_while_a_change_waits() {
    let p = Policy::national_defaults();
    let cal = WorkCalendar::china().unwrap();
    let mut c = case(Enrolment::Dibao, date(2026, 1, 15));
    c.self_care_changes = vec![change("m-1", date(2026, 9, 30))];
    assert_eq!(self_care_reassessments(&c, &cal, &p), (vec![], vec![]));
    c.enrolment = Enrolment::Tekun {
        care: Care::Centralized,
    };
    assert_eq!(self_care_reassessments(&c, &cal, &p).0.len(), 1);
    c.self_care_changes.clear();
    assert_eq!(self_care_reassessments(&c, &cal, &p), (vec![], vec![]));
    // A change due in a year the calendar does not cover gets no guessed date: it is left out
    // with its error, and another member's change is still scheduled.
    c.self_care_changes = vec![
        change("m-1", date(2099, 3, 2)),
        change("m-2", date(2026, 9, 30)),
    ];
    let (tasks, undated) = self_care_reassessments(&c, &cal, &p);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].member.as_deref(), Some("m-2"));
    assert_eq!(undated, vec![CalendarError::YearNotCovered(2099)]);
}
