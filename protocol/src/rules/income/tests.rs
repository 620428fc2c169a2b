use proptest::prelude::*;

use super::*;
use crate::rules::policy::PolicySettings;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn member(id: &str, age: u32) -> Member {
    Member {
        id: id.to_owned(),
        name: String::new(),
        relation: Relation::Head,
        co_resident: true,
        birth_date: None,
        age: Some(age),
        health: Health::Healthy,
        disability: None,
        work_capacity: WorkCapacity::Able,
    }
}

fn item(
    member: &str,
    class: IncomeClass,
    kind: IncomeKind,
    yuan: i64,
    period: Period,
) -> IncomeItem {
    IncomeItem {
        member: Some(member.to_owned()),
        class,
        kind,
        amount: Money::yuan(yuan),
        period,
    }
}

fn household(area: UrbanRural, members: Vec<Member>, income: Vec<IncomeItem>) -> Household {
    Household {
        area,
        members,
        single_person_applicant: None,
        income,
        support_paid: vec![],
        rigid_expenditure: vec![],
        assets: vec![],
        supporters: vec![],
    }
}

fn policy(settings: PolicySettings) -> Policy {
    let mut p = Policy::national_defaults();
    p.apply(&settings);
    p.validate().unwrap();
    p
}

/// Qingdao 2020: 700 yuan per person per month, with a 10 % employment-cost deduction.
fn qingdao() -> Policy {
    policy(PolicySettings {
        dibao_standard_urban: Some(Standard::monthly(Money::yuan(700))),
        dibao_standard_rural: Some(Standard::monthly(Money::yuan(700))),
        employment_cost_rate: Some(Rate::percent(10)),
        ..Default::default()
    })
}

const ON: fn() -> NaiveDate = || date(2020, 6, 1);

#[test]
fn qingdao_2020_family_of_three() {
    // Two adults and a child; one wage of 1,000 yuan/month; an excluded 优抚金; a scholarship.
    let h = household(
        UrbanRural::Urban,
        vec![member("a", 45), member("b", 43), member("c", 12)],
        vec![
            item(
                "a",
                IncomeClass::Wages,
                IncomeKind::General,
                1_000,
                Period::Monthly,
            ),
            item(
                "b",
                IncomeClass::Transfer,
                IncomeKind::PreferentialTreatment,
                300,
                Period::Monthly,
            ),
            item(
                "c",
                IncomeClass::Other,
                IncomeKind::Scholarship,
                2_000,
                Period::OneOff,
            ),
        ],
    );
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.income.household_size, 3);
    assert_eq!(a.income.items[0].annual, Money::yuan(12_000));
    assert_eq!(a.income.items[0].employment_cost, Money::yuan(1_200));
    assert_eq!(a.income.items[0].counted, Money::yuan(10_800));
    assert_eq!(a.income.items[1].excluded, Some(Exclusion::National));
    assert_eq!(a.income.items[2].excluded, Some(Exclusion::National));
    assert_eq!(a.income.employment_cost, Money::yuan(1_200));
    assert_eq!(a.income.annual_income, Money::yuan(10_800));
    // 10,800 / 3 / 12 = 300.
    assert_eq!(a.income.per_capita_monthly, Money::yuan(300));
    // 700 × 3 − 900 = 1,200.
    assert_eq!(a.dibao_amount, Money::yuan(1_200));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert_eq!(a.indicators.near_dibao.status, Status::NotMet);
    // The explanation names every item and the rules.
    let zh: Vec<&str> = a
        .indicators
        .dibao
        .explanation
        .iter()
        .map(|t| t.zh.as_str())
        .collect();
    let all = zh.join("\n");
    assert!(all.contains("共同生活家庭成员3人"), "{all}");
    assert!(
        all.contains("收入第1项") && all.contains("扣除必要就业成本1200.00元"),
        "{all}"
    );
    assert!(
        all.contains("收入第2项") && all.contains("优抚金按国家规定不计入"),
        "{all}"
    );
    assert!(all.contains("收入第3项") && all.contains("奖学金"), "{all}");
    assert!(all.contains("保障金") && all.contains("1200.00元"), "{all}");
    assert!(all.contains("不是审核确认结论"), "{all}");
    let en = a
        .indicators
        .dibao
        .explanation
        .iter()
        .map(|t| t.en.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        en.contains("not a decision") && en.contains("DB2021 art. 13"),
        "{en}"
    );
}

#[test]
fn dibao_amount_rounds_up_to_the_yuan_and_never_below_zero() {
    // Income 1,000.01 yuan/month for one person: 700 − 1,000.01 < 0 → 0.
    let mut h = household(
        UrbanRural::Urban,
        vec![member("a", 50)],
        vec![IncomeItem {
            member: Some("a".into()),
            class: IncomeClass::Business,
            kind: IncomeKind::General,
            amount: Money::fen(100_001),
            period: Period::Monthly,
        }],
    );
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.dibao_amount, Money::ZERO);
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    // 100 yuan a year: 8.333… yuan a month; 700 − 8.33 = 691.67 → 692.
    h.income[0].amount = Money::yuan(100);
    h.income[0].period = Period::Yearly;
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.income.per_capita_monthly, Money::fen(833));
    assert_eq!(a.dibao_amount, Money::yuan(692));
}

#[test]
fn per_capita_is_rounded_once_at_the_end() {
    // Three items of 0.01 yuan a month each for three people: 0.36 yuan a year in total,
    // 0.01 yuan per person per month. Rounding each item first would give 0.
    let h = household(
        UrbanRural::Urban,
        vec![member("a", 30), member("b", 30), member("c", 30)],
        vec![
            IncomeItem {
                member: None,
                class: IncomeClass::Property,
                kind: IncomeKind::General,
                amount: Money::fen(1),
                period: Period::Monthly,
            };
            3
        ],
    );
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.income.annual_income, Money::fen(36));
    assert_eq!(a.income.per_capita_monthly, Money::fen(1));
}

#[test]
fn tieling_2019_yearly_rural_standard() {
    let tieling = policy(PolicySettings {
        dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_770))),
        ..Default::default()
    });
    // A single person without income: 397.50 yuan a month, amount rounded up to 398.
    let h = household(UrbanRural::Rural, vec![member("a", 52)], vec![]);
    let a = assess(&h, &tieling, date(2019, 6, 1)).unwrap();
    assert_eq!(a.standard_monthly, Money::fen(39_750));
    assert_eq!(a.dibao_amount, Money::yuan(398));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    // Income exactly at the standard (4,770 a year) is not below it.
    let h = household(
        UrbanRural::Rural,
        vec![member("a", 52)],
        vec![item(
            "a",
            IncomeClass::Business,
            IncomeKind::General,
            4_770,
            Period::Yearly,
        )],
    );
    let a = assess(&h, &tieling, date(2019, 6, 1)).unwrap();
    assert_eq!(a.income.per_capita_monthly, Money::fen(39_750));
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    assert_eq!(a.dibao_amount, Money::ZERO);
    // One fen less a year is below it.
    let mut h = h;
    h.income[0].amount = Money::fen(476_999);
    let a = assess(&h, &tieling, date(2019, 6, 1)).unwrap();
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert_eq!(a.dibao_amount, Money::yuan(1));
    // No urban standard set: an urban household cannot be assessed.
    let urban = household(UrbanRural::Urban, vec![member("a", 52)], vec![]);
    assert_eq!(
        assess(&urban, &tieling, date(2019, 6, 1)).unwrap_err(),
        AssessError::NoStandard(UrbanRural::Urban)
    );
}

#[test]
fn near_dibao_national_and_qinghai_rural() {
    let standard = Standard::monthly(Money::yuan(600));
    let national = policy(PolicySettings {
        dibao_standard_rural: Some(standard),
        ..Default::default()
    });
    let qinghai = policy(PolicySettings {
        dibao_standard_rural: Some(standard),
        near_dibao_multiplier_rural: Some(Rate::from_units(20_000)),
        ..Default::default()
    });
    let with_income = |yuan_month: i64| {
        household(
            UrbanRural::Rural,
            vec![member("a", 40), member("b", 40)],
            vec![item(
                "a",
                IncomeClass::Business,
                IncomeKind::General,
                yuan_month * 2,
                Period::Monthly,
            )],
        )
    };
    // 800 per person: above 600, below 1.5 × 600 = 900.
    let a = assess(&with_income(800), &national, ON()).unwrap();
    assert_eq!(
        (a.indicators.dibao.status, a.indicators.near_dibao.status),
        (Status::NotMet, Status::Met)
    );
    // 900 per person: not below 1.5 ×; but below 2 × in Qinghai.
    let a = assess(&with_income(900), &national, ON()).unwrap();
    assert_eq!(a.indicators.near_dibao.status, Status::NotMet);
    let a = assess(&with_income(1_100), &qinghai, ON()).unwrap();
    assert_eq!(a.indicators.near_dibao.status, Status::Met);
    assert!(
        a.indicators
            .near_dibao
            .explanation
            .iter()
            .any(|t| t.zh.contains("2倍标准（1200.00元）"))
    );
    let a = assess(&with_income(1_200), &qinghai, ON()).unwrap();
    assert_eq!(a.indicators.near_dibao.status, Status::NotMet);
    // A 低保 case is not also near-dibao.
    let a = assess(&with_income(500), &qinghai, ON()).unwrap();
    assert_eq!(
        (a.indicators.dibao.status, a.indicators.near_dibao.status),
        (Status::Met, Status::NotMet)
    );
}

#[test]
fn household_size_and_single_person_application() {
    let mut away = member("d", 30);
    away.co_resident = false;
    let mut h = household(
        UrbanRural::Urban,
        vec![member("a", 70), member("b", 40), away],
        vec![
            item(
                "b",
                IncomeClass::Wages,
                IncomeKind::General,
                2_000,
                Period::Monthly,
            ),
            item(
                "d",
                IncomeClass::Wages,
                IncomeKind::General,
                5_000,
                Period::Monthly,
            ),
            item(
                "a",
                IncomeClass::Transfer,
                IncomeKind::General,
                100,
                Period::Monthly,
            ),
        ],
    );
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.income.household_size, 2);
    assert_eq!(a.income.items[1].excluded, Some(Exclusion::NotCoResident));
    // 单人户: member a is applied for alone: size 1, only a's 100 yuan counts.
    h.single_person_applicant = Some("a".into());
    let a = assess(&h, &qingdao(), ON()).unwrap();
    assert_eq!(a.income.household_size, 1);
    assert_eq!(a.income.items[0].excluded, Some(Exclusion::NotApplicant));
    assert_eq!(a.income.per_capita_monthly, Money::yuan(100));
    assert_eq!(a.dibao_amount, Money::yuan(600));
    h.single_person_applicant = Some("d".into());
    assert_eq!(
        assess(&h, &qingdao(), ON()).unwrap_err().code(),
        "income.bad_single_person_applicant"
    );
}

#[test]
fn support_paid_local_exclusions_and_bad_input() {
    let mut p = qingdao();
    p.local_excluded_income_kinds = vec!["disability_subsidy".into()];
    let mut h = household(
        UrbanRural::Urban,
        vec![member("a", 50), member("b", 48)],
        vec![
            item(
                "a",
                IncomeClass::Business,
                IncomeKind::General,
                1_200,
                Period::Monthly,
            ),
            item(
                "b",
                IncomeClass::Transfer,
                IncomeKind::from_code("disability_subsidy"),
                200,
                Period::Monthly,
            ),
        ],
    );
    h.support_paid.push(SupportPaid {
        member: Some("a".into()),
        amount: Money::yuan(200),
        period: Period::Monthly,
    });
    let a = assess(&h, &p, ON()).unwrap();
    assert_eq!(a.income.items[1].excluded, Some(Exclusion::Local));
    assert_eq!(a.income.support_paid, Money::yuan(2_400));
    // (1,200 − 200) × 12 / 2 / 12 = 500.
    assert_eq!(a.income.per_capita_monthly, Money::yuan(500));
    // Support paid larger than income: income is never below zero.
    h.support_paid[0].amount = Money::yuan(5_000);
    assert_eq!(
        assess(&h, &p, ON()).unwrap().income.annual_income,
        Money::ZERO
    );

    h.income[0].amount = Money::yuan(-1);
    assert_eq!(
        assess(&h, &p, ON()).unwrap_err(),
        AssessError::NegativeAmount {
            what: "income",
            index: 0
        }
    );
    h.income[0].amount = Money::yuan(1);
    h.income[0].member = Some("zz".into());
    assert_eq!(
        assess(&h, &p, ON()).unwrap_err().code(),
        "income.unknown_member"
    );
    let empty = household(UrbanRural::Urban, vec![], vec![]);
    assert_eq!(
        assess(&empty, &p, ON()).unwrap_err(),
        AssessError::NoCoResidentMember
    );
    assert!(!AssessError::NoCoResidentMember.message_zh().is_empty());
}

#[test]
fn tekun_hint() {
    let p = qingdao();
    // A 72-year-old living alone with a pension of 500/month and a 高龄津贴 of 200/month.
    let mut h = household(
        UrbanRural::Rural,
        vec![member("a", 72)],
        vec![
            item(
                "a",
                IncomeClass::Transfer,
                IncomeKind::General,
                500,
                Period::Monthly,
            ),
            item(
                "a",
                IncomeClass::Transfer,
                IncomeKind::OldAgeAllowance,
                200,
                Period::Monthly,
            ),
        ],
    );
    let a = assess(&h, &p, ON()).unwrap();
    // The allowance counts for 低保 (700 not below 700) but not for 特困 (500 below 700).
    assert_eq!(a.income.per_capita_monthly, Money::yuan(700));
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    assert_eq!(a.tekun_income.per_capita_monthly, Money::yuan(500));
    assert_eq!(a.tekun_income.items[1].excluded, Some(Exclusion::National));
    assert_eq!(a.indicators.tekun.status, Status::Met);
    assert!(
        a.indicators
            .tekun
            .explanation
            .iter()
            .any(|t| t.zh.contains("60周岁以上"))
    );
    // A son elsewhere able to support him: no hint.
    h.supporters.push(Supporter {
        relation: Relation::Child,
        able_to_support: true,
    });
    assert_eq!(
        assess(&h, &p, ON()).unwrap().indicators.tekun.status,
        Status::NotMet
    );
    h.supporters[0].able_to_support = false;
    // A co-resident working-age member with work capacity: no hint.
    h.members.push(member("b", 40));
    assert_eq!(
        assess(&h, &p, ON()).unwrap().indicators.tekun.status,
        Status::NotMet
    );
    // ... unless that member has a grade-2 physical disability.
    h.members[1].disability = Some(Disability {
        kind: DisabilityKind::Physical,
        grade: 2,
    });
    assert_eq!(
        assess(&h, &p, ON()).unwrap().indicators.tekun.status,
        Status::Met
    );
    h.members[1].disability = Some(Disability {
        kind: DisabilityKind::Physical,
        grade: 3,
    });
    assert_eq!(
        assess(&h, &p, ON()).unwrap().indicators.tekun.status,
        Status::NotMet
    );
}

#[test]
fn work_capacity_rules() {
    let p = Policy::national_defaults();
    let on = date(2025, 6, 1);
    let mut m = member("x", 0);
    m.age = None;
    m.birth_date = Some(date(1965, 6, 2));
    assert!(
        no_work_capacity(&m, &p, on).is_none(),
        "59 the day before the birthday"
    );
    m.birth_date = Some(date(1965, 6, 1));
    assert!(no_work_capacity(&m, &p, on).is_some(), "60 on the birthday");
    m.birth_date = Some(date(2007, 6, 2));
    assert!(no_work_capacity(&m, &p, on).is_some(), "17");
    m.birth_date = Some(date(2007, 6, 1));
    assert!(no_work_capacity(&m, &p, on).is_none(), "18");
    for (kind, grade, expected) in [
        (DisabilityKind::Intellectual, 3, true),
        (DisabilityKind::Mental, 4, false),
        (DisabilityKind::Physical, 2, true),
        (DisabilityKind::Physical, 3, false),
        (DisabilityKind::Visual, 1, true),
        (DisabilityKind::Visual, 2, false),
        (DisabilityKind::Hearing, 1, false),
    ] {
        m.disability = Some(Disability { kind, grade });
        assert_eq!(
            no_work_capacity(&m, &p, on).is_some(),
            expected,
            "{kind:?} {grade}"
        );
    }
    m.disability = None;
    m.work_capacity = WorkCapacity::None;
    assert!(no_work_capacity(&m, &p, on).is_some());
    assert_eq!(self_care(0), Some(SelfCare::Able));
    assert_eq!(self_care(3), Some(SelfCare::PartlyLost));
    assert_eq!(self_care(4), Some(SelfCare::FullyLost));
    assert_eq!(self_care(7), None);
}

#[test]
fn rigid_expenditure_and_assets() {
    let mut p = qingdao();
    let mut h = household(
        UrbanRural::Urban,
        vec![member("a", 50), member("b", 20)],
        vec![item(
            "a",
            IncomeClass::Business,
            IncomeKind::General,
            2_000,
            Period::Monthly,
        )],
    );
    h.rigid_expenditure.push(RigidExpense {
        kind: RigidKind::Medical,
        amount: Money::yuan(15_000),
    });
    let a = assess(&h, &p, ON()).unwrap();
    assert_eq!(a.indicators.rigid_expenditure.status, Status::NotEvaluated);
    assert_eq!(a.indicators.above_asset_limits.status, Status::NotEvaluated);
    p.disposable_income_urban = Some(Money::yuan(40_000));
    // Income 24,000 a year, rigid 15,000 = 62.5 % > 60 %; per capita 12,000 < 40,000.
    let a = assess(&h, &p, ON()).unwrap();
    assert_eq!(a.indicators.rigid_expenditure.status, Status::Met);
    h.rigid_expenditure[0].amount = Money::yuan(14_400); // exactly 60 %: not above
    assert_eq!(
        assess(&h, &p, ON())
            .unwrap()
            .indicators
            .rigid_expenditure
            .status,
        Status::NotMet
    );

    p.financial_assets_per_capita_limit = Some(Cap::Limited(Money::yuan(10_000)));
    p.vehicle_limit = Some(Cap::Limited(0));
    h.assets.push(Asset {
        kind: AssetKind::Deposit,
        value: Money::yuan(20_000),
        exempt: false,
    });
    h.assets.push(Asset {
        kind: AssetKind::Vehicle,
        value: Money::yuan(30_000),
        exempt: true,
    });
    assert_eq!(
        assess(&h, &p, ON())
            .unwrap()
            .indicators
            .above_asset_limits
            .status,
        Status::NotMet
    );
    h.assets.push(Asset {
        kind: AssetKind::Deposit,
        value: Money::fen(1),
        exempt: false,
    });
    assert_eq!(
        assess(&h, &p, ON())
            .unwrap()
            .indicators
            .above_asset_limits
            .status,
        Status::Met
    );
}

#[test]
fn household_json_round_trip() {
    let h = household(
        UrbanRural::Rural,
        vec![member("a", 50)],
        vec![item(
            "a",
            IncomeClass::Transfer,
            IncomeKind::from_code("local_x"),
            10,
            Period::OneOff,
        )],
    );
    let json = serde_json::to_string(&h).unwrap();
    assert!(json.contains("\"kind\":\"local_x\""), "{json}");
    let back: Household = serde_json::from_str(&json).unwrap();
    assert_eq!(back, h);
    assert_eq!(
        IncomeKind::from_code("preferential_treatment"),
        IncomeKind::PreferentialTreatment
    );
    assert!(serde_json::from_str::<IncomeKind>("\"has space\"").is_err());
}

const EXCLUDED: [IncomeKind; 6] = [
    IncomeKind::PreferentialTreatment,
    IncomeKind::FamilyPlanningReward,
    IncomeKind::Scholarship,
    IncomeKind::BraveryAward,
    IncomeKind::SocialAssistance,
    IncomeKind::BasicPensionCentral,
];

fn arb_class() -> impl Strategy<Value = IncomeClass> {
    prop_oneof![
        Just(IncomeClass::Wages),
        Just(IncomeClass::Business),
        Just(IncomeClass::Property),
        Just(IncomeClass::Transfer),
        Just(IncomeClass::Other),
    ]
}

fn arb_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        Just(Period::Monthly),
        Just(Period::Yearly),
        Just(Period::OneOff)
    ]
}

prop_compose! {
    fn arb_item(members: usize)(
        who in 0..members,
        class in arb_class(),
        fen in 0_i64..2_000_000,
        period in arb_period(),
    ) -> IncomeItem {
        IncomeItem { member: Some(format!("m{who}")), class, kind: IncomeKind::General, amount: Money::fen(fen), period }
    }
}

prop_compose! {
    fn arb_household()(n in 1_usize..6)(
        ages in proptest::collection::vec(0_u32..95, n),
        away in proptest::collection::vec(any::<bool>(), n),
        income in proptest::collection::vec(arb_item(n), 0..6),
        paid in 0_i64..300_000,
        rural in any::<bool>(),
    ) -> Household {
        let mut members: Vec<Member> = ages.iter().enumerate().map(|(i, a)| member(&format!("m{i}"), *a)).collect();
        for (m, away) in members.iter_mut().zip(away).skip(1) {
            m.co_resident = !away;
        }
        let mut h = household(if rural { UrbanRural::Rural } else { UrbanRural::Urban }, members, income);
        h.support_paid.push(SupportPaid { member: Some("m0".into()), amount: Money::fen(paid), period: Period::Yearly });
        h
    }
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        1_i64..200_000,
        any::<bool>(),
        0_i64..=3_000,
        10_000_i64..=30_000,
    )
        .prop_map(|(std, yearly, cost, near)| {
            let standard = if yearly {
                Standard::yearly(Money::fen(std * 12 + 7))
            } else {
                Standard::monthly(Money::fen(std))
            };
            policy(PolicySettings {
                dibao_standard_urban: Some(standard),
                dibao_standard_rural: Some(standard),
                employment_cost_rate: Some(Rate::from_units(cost)),
                near_dibao_multiplier_rural: Some(Rate::from_units(near)),
                ..Default::default()
            })
        })
}

/// The figures of an assessment, without the per-item list and explanations.
fn figures(a: &Assessment) -> (u32, Money, Money, Money, Money, Money, Vec<Status>) {
    let i = &a.indicators;
    (
        a.income.household_size,
        a.income.annual_income,
        a.income.per_capita_monthly,
        a.tekun_income.per_capita_monthly,
        a.dibao_amount,
        a.income.employment_cost,
        vec![
            i.dibao.status,
            i.near_dibao.status,
            i.tekun.status,
            i.rigid_expenditure.status,
        ],
    )
}

proptest! {
    /// Adding any nationally excluded item never changes a figure or an indicator.
    #[test]
    fn excluded_income_never_changes_the_result(
        h in arb_household(),
        p in arb_policy(),
        kind in 0..EXCLUDED.len(),
        extra in arb_item(1),
    ) {
        let before = assess(&h, &p, ON()).unwrap();
        let mut with = h.clone();
        with.income.push(IncomeItem { kind: EXCLUDED[kind].clone(), ..extra });
        let after = assess(&with, &p, ON()).unwrap();
        prop_assert_eq!(figures(&before), figures(&after));
        prop_assert_eq!(after.income.items.last().unwrap().excluded.clone(), Some(Exclusion::National));
    }

    /// Adding a counted item never lowers per-capita income, never raises the 低保 amount, and
    /// never turns a household into a 低保 candidate.
    #[test]
    fn adding_counted_income_never_lowers_per_capita_income(
        h in arb_household(),
        p in arb_policy(),
        extra in arb_item(1),
    ) {
        let before = assess(&h, &p, ON()).unwrap();
        let mut with = h.clone();
        with.income.push(extra);
        let after = assess(&with, &p, ON()).unwrap();
        prop_assert!(after.income.per_capita_monthly >= before.income.per_capita_monthly);
        prop_assert!(after.income.annual_income >= before.income.annual_income);
        prop_assert!(after.dibao_amount <= before.dibao_amount);
        prop_assert!(!(after.indicators.dibao.status == Status::Met && before.indicators.dibao.status == Status::NotMet));
    }

    /// The 低保 amount is the smallest whole-yuan amount that lifts the household to the
    /// standard: with it the household reaches the standard, with one yuan less it does not.
    #[test]
    fn dibao_amount_closes_the_gap(h in arb_household(), p in arb_policy()) {
        let a = assess(&h, &p, ON()).unwrap();
        prop_assert_eq!(a.dibao_amount.0 % 100, 0);
        let size = i128::from(a.income.household_size);
        let std = i128::from(a.standard.annual().0) * size * S;
        let with = |m: i64| a.income.exact + i128::from(m) * 12 * S;
        prop_assert!(with(a.dibao_amount.0) >= std);
        if a.dibao_amount.0 > 0 {
            prop_assert!(with(a.dibao_amount.0 - 100) < std);
        }
    }
}
