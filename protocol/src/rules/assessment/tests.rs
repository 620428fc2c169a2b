use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

use super::*;
use crate::doc::household::{
    Asset, DisabilityKind, Expenditure, ExpenditureKind, Health, HukouType, IncomeClass,
    IncomeItem, IncomeKind, IncomeSource, Member, NonResidentReason, Period, Relation, Supporter,
    WorkCapacity,
};
use crate::doc::{self, UnixMillis};
use crate::ids::{DocumentId, EntryId};
use crate::rules::income::{Exclusion, SelfCare, no_work_capacity, self_care};
use crate::rules::means::Person;
use crate::rules::policy::{LocalIncomeKind, PolicyLayer};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn mid(n: u8) -> MemberId {
    MemberId::from_bytes([n; 16])
}

fn eid(n: u8) -> EntryId {
    EntryId::from_bytes([n; 16])
}

/// A co-resident member `age` years old on `on`, with a recorded birth date.
fn person(name: &str, age: i32, on: NaiveDate) -> Member {
    let mut m = Member::new(name, Relation::Other);
    m.birth_date = Some(date(on.year() - age, on.month(), on.day()));
    m
}

fn household(hukou: HukouType, members: Vec<(u8, Member)>) -> Household {
    let mut h = Household {
        address: "测试地址".to_owned(),
        hukou_type: Some(hukou),
        ..Default::default()
    };
    for (n, m) in members {
        h.members.insert(mid(n), m);
    }
    h
}

fn item(
    member: Option<u8>,
    class: IncomeClass,
    kind: IncomeKind,
    fen: i64,
    period: Period,
) -> IncomeItem {
    IncomeItem {
        member: member.map(mid),
        class,
        kind,
        amount_fen: fen,
        period,
        evidence: None,
        source: IncomeSource::Observed,
    }
}

fn add(h: &mut Household, n: u8, i: IncomeItem) {
    h.income.insert(eid(n), i);
}

fn layer(region: &str, from: NaiveDate, source: &str, settings: PolicySettings) -> PolicyLayer {
    PolicyLayer {
        region: Some(region.to_owned()),
        effective_from: from,
        source: Some(source.to_owned()),
        settings,
    }
}

const QINGDAO: &str = "370200000000";
/// A village of 市南区, one of the seven districts.
const SHINAN_VILLAGE: &str = "370202001001";
/// A village of 平度市, one of the three county-level cities.
const PINGDU_VILLAGE: &str = "370283001001";
const TIELING: &str = "211200000000";
const TIELING_VILLAGE: &str = "211221001001";

/// Qingdao 2020 (S2): from 1 April, 700 yuan per person per month in the seven districts (urban
/// and rural alike); 630 urban and 520 rural in 胶州, 平度 and 莱西.
fn qingdao_book() -> PolicyBook {
    let seven = Standard::monthly(Money::yuan(700));
    let mut layers = vec![layer(
        QINGDAO,
        date(2020, 4, 1),
        "青岛市民政局2020年8月17日通报",
        PolicySettings {
            dibao_standard_urban: Some(seven),
            dibao_standard_rural: Some(seven),
            ..Default::default()
        },
    )];
    for city in ["370281000000", "370283000000", "370285000000"] {
        layers.push(layer(
            city,
            date(2020, 4, 1),
            "青岛市民政局2020年8月17日通报",
            PolicySettings {
                dibao_standard_urban: Some(Standard::monthly(Money::yuan(630))),
                dibao_standard_rural: Some(Standard::monthly(Money::yuan(520))),
                ..Default::default()
            },
        ));
    }
    PolicyBook::from_layers(layers).unwrap()
}

/// Tieling 2019 (S4, 铁市民发〔2019〕45号): rural 4,770 yuan a year from 1 July (was 4,350);
/// 特困 at least 1.3 × the rural standard.
fn tieling_book() -> PolicyBook {
    PolicyBook::from_layers([
        layer(
            TIELING,
            date(2018, 7, 1),
            "铁岭市2018年标准",
            PolicySettings {
                dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_350))),
                ..Default::default()
            },
        ),
        layer(
            TIELING,
            date(2019, 7, 1),
            "铁市民发〔2019〕45号",
            PolicySettings {
                dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_770))),
                tekun_multiplier: Some(Rate::from_units(13_000)),
                ..Default::default()
            },
        ),
    ])
    .unwrap()
}

fn assess_in(h: &Household, book: &PolicyBook, region: &str, on: NaiveDate) -> Assessment {
    assess_household(
        h,
        &Context {
            book,
            region: Some(region),
            as_of: on,
            birth_dates: &BTreeMap::new(),
        },
    )
}

/// A policy as resolved from national defaults plus `settings`.
fn policy(settings: PolicySettings) -> Policy {
    let mut p = Policy::national_defaults();
    p.apply(&settings);
    p.validate().unwrap();
    p
}

/// Assess under a resolved policy with its urban or rural standard (tests of the arithmetic).
fn assess_with(h: &Household, p: &Policy, on: NaiveDate) -> Assessment {
    let means = Means::of_household(h, &BTreeMap::new(), on);
    let standard = means.area.and_then(|a| {
        p.dibao_standard(a)
            .map(|s| standard_in_force(a, s, None, on, None))
    });
    assess_means(&means, p, standard)
}

fn all_zh(i: &Indicator) -> String {
    i.explanation
        .iter()
        .map(|t| t.zh.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

const ON: NaiveDate = match NaiveDate::from_ymd_opt(2020, 6, 1) {
    Some(d) => d,
    None => panic!(),
};

fn with_cost(settings: PolicySettings) -> Policy {
    policy(PolicySettings {
        dibao_standard_urban: Some(Standard::monthly(Money::yuan(700))),
        dibao_standard_rural: Some(Standard::monthly(Money::yuan(700))),
        employment_cost_rate: Some(Rate::percent(10)),
        ..settings
    })
}

/// Two adults and a child in the city; one wage of 1,000 yuan a month.
fn family_of_three() -> Household {
    let mut h = household(
        HukouType::Urban,
        vec![
            (1, person("甲", 45, ON)),
            (2, person("乙", 43, ON)),
            (3, person("丙", 12, ON)),
        ],
    );
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Wages,
            IncomeKind::General,
            100_000,
            Period::Month,
        ),
    );
    h
}

#[test]
fn qingdao_2020_seven_districts_and_three_cities() {
    let book = qingdao_book();
    let mut h = family_of_three();
    // The seven districts: 700 per person per month, set by the city from 1 April 2020.
    let a = assess_in(&h, &book, SHINAN_VILLAGE, ON);
    let st = a.standard.clone().unwrap();
    assert_eq!(
        (st.monthly, st.region.as_deref()),
        (Money::yuan(700), Some(QINGDAO))
    );
    assert_eq!(st.effective_from, date(2020, 4, 1));
    assert!(
        st.text.zh.contains("700.00元/人/月") && st.text.zh.contains("2020-04-01"),
        "{}",
        st.text.zh
    );
    // 12,000 a year for three people: 333.33 per person per month; 2,100 − 1,000 = 1,100.
    assert_eq!(a.per_capita_monthly(), Some(Money::fen(33_333)));
    assert_eq!(a.dibao_amount, Some(Money::yuan(1_100)));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert!(a.missing.is_empty(), "{:?}", a.missing);
    assert_eq!(a.notice.zh.split('：').next(), Some("提示，不是结论"));
    // 平度: 630 urban, 520 rural, set by the county-level city.
    let a = assess_in(&h, &book, PINGDU_VILLAGE, ON);
    let st = a.standard.unwrap();
    assert_eq!(
        (st.monthly, st.region.as_deref()),
        (Money::yuan(630), Some("370283000000"))
    );
    h.hukou_type = Some(HukouType::Rural);
    let a = assess_in(&h, &book, PINGDU_VILLAGE, ON);
    assert_eq!(a.standard.unwrap().monthly, Money::yuan(520));
    // 520 × 3 − 1,000 = 560.
    assert_eq!(a.dibao_amount, Some(Money::yuan(560)));
    // Before 1 April 2020 the book has no standard: what is missing says so.
    let a = assess_in(&h, &book, PINGDU_VILLAGE, date(2020, 3, 31));
    assert_eq!(a.standard, None);
    assert_eq!(a.dibao_amount, None);
    assert_eq!(a.indicators.dibao.status, Status::NotEvaluated);
    assert!(
        a.missing
            .iter()
            .any(|t| t.zh.contains("未设定现行的农村低保标准")),
        "{:?}",
        a.missing
    );
    // The income is still computed.
    assert_eq!(a.per_capita_monthly(), Some(Money::fen(33_333)));
}

#[test]
fn family_of_three_with_employment_cost_and_exclusions() {
    // With an excluded 优抚金 and a scholarship.
    let mut h = family_of_three();
    add(
        &mut h,
        2,
        item(
            Some(2),
            IncomeClass::Transfer,
            IncomeKind::PreferentialTreatment,
            30_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        3,
        item(
            Some(3),
            IncomeClass::Other,
            IncomeKind::Scholarship,
            200_000,
            Period::Once,
        ),
    );
    let a = assess_with(&h, &with_cost(PolicySettings::default()), ON);
    let inc = a.income.as_ref().unwrap();
    assert_eq!(inc.household_size, 3);
    assert_eq!(inc.items[0].annual, Money::yuan(12_000));
    assert_eq!(inc.items[0].employment_cost, Money::yuan(1_200));
    assert_eq!(inc.items[0].counted, Money::yuan(10_800));
    assert_eq!(inc.items[1].excluded, Some(Exclusion::National));
    assert_eq!(inc.items[2].excluded, Some(Exclusion::National));
    assert_eq!(inc.annual_income, Money::yuan(10_800));
    // 10,800 / 3 / 12 = 300; 700 × 3 − 900 = 1,200.
    assert_eq!(inc.per_capita_monthly, Money::yuan(300));
    assert_eq!(a.dibao_amount, Some(Money::yuan(1_200)));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert_eq!(a.indicators.near_dibao.status, Status::NotMet);
    let all = all_zh(&a.indicators.dibao);
    assert!(all.contains("共同生活家庭成员3人"), "{all}");
    assert!(
        all.contains("收入第1项 甲 工资性收入") && all.contains("扣除必要就业成本1200.00元"),
        "{all}"
    );
    assert!(
        all.contains("收入第2项") && all.contains("优抚金按国家规定不计入"),
        "{all}"
    );
    assert!(all.contains("收入第3项") && all.contains("奖学金"), "{all}");
    assert!(all.contains("保障金") && all.contains("1200.00元"), "{all}");
    let en: String = a
        .indicators
        .dibao
        .explanation
        .iter()
        .map(|t| t.en.as_str())
        .collect();
    assert!(
        en.contains("DB2021 art. 13") && en.contains("possible 低保 case"),
        "{en}"
    );
}

#[test]
fn amounts_round_up_to_the_yuan_and_per_capita_once_at_the_end() {
    let p = with_cost(PolicySettings::default());
    let mut h = household(HukouType::Urban, vec![(1, person("甲", 50, ON))]);
    // 1,000.01 a month for one person: 700 − 1,000.01 < 0 → 0.
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Business,
            IncomeKind::General,
            100_001,
            Period::Month,
        ),
    );
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.dibao_amount, Some(Money::ZERO));
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    // 100 a year: 8.333… a month; 700 − 8.33 = 691.67 → 692.
    h.income.get_mut(&eid(1)).unwrap().amount_fen = 10_000;
    h.income.get_mut(&eid(1)).unwrap().period = Period::Year;
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.per_capita_monthly(), Some(Money::fen(833)));
    assert_eq!(a.dibao_amount, Some(Money::yuan(692)));
    // Three items of 0.01 a month for three people: 0.36 a year, 0.01 per person per month.
    // Rounding each item first would give 0.
    let mut h = household(
        HukouType::Urban,
        vec![
            (1, person("甲", 30, ON)),
            (2, person("乙", 30, ON)),
            (3, person("丙", 30, ON)),
        ],
    );
    for n in 1..=3 {
        add(
            &mut h,
            n,
            item(
                None,
                IncomeClass::Property,
                IncomeKind::General,
                1,
                Period::Month,
            ),
        );
    }
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.income.as_ref().unwrap().annual_income, Money::fen(36));
    assert_eq!(a.per_capita_monthly(), Some(Money::fen(1)));
    // A quarterly amount counts four times a year.
    let mut h = household(HukouType::Urban, vec![(1, person("甲", 50, ON))]);
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Property,
            IncomeKind::General,
            30_000,
            Period::Quarter,
        ),
    );
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.income.as_ref().unwrap().annual_income, Money::yuan(1_200));
    assert_eq!(a.per_capita_monthly(), Some(Money::yuan(100)));
    assert!(all_zh(&a.indicators.dibao).contains("每季度300.00元，折合全年1200.00元"));
}

#[test]
fn tieling_2019_yearly_rural_standard() {
    let book = tieling_book();
    let on = date(2019, 8, 1);
    // A single person without income: 397.50 a month, amount rounded up to 398.
    let h = household(HukouType::Rural, vec![(1, person("甲", 52, on))]);
    let a = assess_in(&h, &book, TIELING_VILLAGE, on);
    let st = a.standard.clone().unwrap();
    assert_eq!(st.monthly, Money::fen(39_750));
    assert_eq!(st.source.as_deref(), Some("铁市民发〔2019〕45号"));
    assert!(
        st.text.zh.contains("按年公布4770.00元/人/年"),
        "{}",
        st.text.zh
    );
    assert_eq!(a.dibao_amount, Some(Money::yuan(398)));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    // Before 1 July 2019: 4,350 a year, 362.50 a month.
    let a = assess_in(&h, &book, TIELING_VILLAGE, date(2019, 6, 30));
    assert_eq!(a.standard.unwrap().monthly, Money::fen(36_250));
    // Income exactly at the standard (4,770 a year) is not below it; one fen less is.
    let mut h = h;
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Business,
            IncomeKind::General,
            477_000,
            Period::Year,
        ),
    );
    let a = assess_in(&h, &book, TIELING_VILLAGE, on);
    assert_eq!(a.per_capita_monthly(), Some(Money::fen(39_750)));
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    assert_eq!(a.dibao_amount, Some(Money::ZERO));
    h.income.get_mut(&eid(1)).unwrap().amount_fen = 476_999;
    let a = assess_in(&h, &book, TIELING_VILLAGE, on);
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert_eq!(a.dibao_amount, Some(Money::yuan(1)));
    // The 特困 line of the region: 1.3 × the standard, about 516.75 a month.
    assert!(
        all_zh(&a.indicators.tekun).contains("1.3倍（约516.75元/人/月）"),
        "{}",
        all_zh(&a.indicators.tekun)
    );
    // Tieling sets no urban standard: an urban household gets no verdict, and is told why.
    h.hukou_type = Some(HukouType::Urban);
    let a = assess_in(&h, &book, TIELING_VILLAGE, on);
    assert_eq!(a.indicators.dibao.status, Status::NotEvaluated);
    assert!(
        a.missing.iter().any(|t| t.zh.contains("城市低保标准")),
        "{:?}",
        a.missing
    );
    // Without the 户籍 type the standard cannot be chosen.
    h.hukou_type = None;
    let a = assess_in(&h, &book, TIELING_VILLAGE, on);
    assert!(
        a.missing.iter().any(|t| t.zh.contains("户籍类型")),
        "{:?}",
        a.missing
    );
}

#[test]
fn region_unknown_or_invalid_is_missing() {
    let book = qingdao_book();
    let h = household(HukouType::Urban, vec![(1, person("甲", 52, ON))]);
    let a = assess_household(
        &h,
        &Context {
            book: &book,
            region: None,
            as_of: ON,
            birth_dates: &BTreeMap::new(),
        },
    );
    assert_eq!(a.standard, None);
    assert!(
        a.missing[0].zh.contains("不知道家庭所在的村"),
        "{:?}",
        a.missing
    );
    let a = assess_in(&h, &book, "370202001001-G01", ON);
    assert!(a.missing[0].zh.contains("无法取得地区"), "{:?}", a.missing);
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
        let mut h = household(
            HukouType::Rural,
            vec![(1, person("甲", 40, ON)), (2, person("乙", 40, ON))],
        );
        add(
            &mut h,
            1,
            item(
                Some(1),
                IncomeClass::Business,
                IncomeKind::General,
                yuan_month * 200,
                Period::Month,
            ),
        );
        h
    };
    let st = |a: &Assessment| (a.indicators.dibao.status, a.indicators.near_dibao.status);
    // 800 per person: above 600, below 1.5 × 600 = 900.
    assert_eq!(
        st(&assess_with(&with_income(800), &national, ON)),
        (Status::NotMet, Status::Met)
    );
    assert_eq!(
        assess_with(&with_income(900), &national, ON)
            .indicators
            .near_dibao
            .status,
        Status::NotMet
    );
    let a = assess_with(&with_income(1_100), &qinghai, ON);
    assert_eq!(a.indicators.near_dibao.status, Status::Met);
    assert!(all_zh(&a.indicators.near_dibao).contains("2倍标准（1200.00元）"));
    assert_eq!(
        assess_with(&with_income(1_200), &qinghai, ON)
            .indicators
            .near_dibao
            .status,
        Status::NotMet
    );
    // A 低保 case is not also near-dibao.
    assert_eq!(
        st(&assess_with(&with_income(500), &qinghai, ON)),
        (Status::Met, Status::NotMet)
    );
}

#[test]
fn only_current_co_resident_members_count() {
    // The console once summed the wages of a son in prison and of a member who had left, and
    // divided by the members at home.
    let p = with_cost(PolicySettings::default());
    let mut away = person("丁", 30, ON);
    away.co_resident = false;
    away.non_resident_reason = Some(NonResidentReason::Imprisoned);
    let mut gone = person("戊", 35, ON);
    gone.removed_at = Some(UnixMillis(1));
    gone.removed_reason = Some("迁出".to_owned());
    let mut h = household(
        HukouType::Urban,
        vec![
            (1, person("甲", 70, ON)),
            (2, person("乙", 40, ON)),
            (4, away),
            (5, gone),
        ],
    );
    add(
        &mut h,
        1,
        item(
            Some(2),
            IncomeClass::Business,
            IncomeKind::General,
            200_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        2,
        item(
            Some(4),
            IncomeClass::Wages,
            IncomeKind::General,
            500_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        3,
        item(
            Some(5),
            IncomeClass::Wages,
            IncomeKind::General,
            300_000,
            Period::Month,
        ),
    );
    let a = assess_with(&h, &p, ON);
    let inc = a.income.as_ref().unwrap();
    assert_eq!(inc.household_size, 2);
    assert_eq!(inc.items[1].excluded, Some(Exclusion::NotCoResident));
    assert_eq!(inc.items[2].excluded, Some(Exclusion::NotMember));
    assert_eq!(inc.per_capita_monthly, Money::yuan(1_000));
    let all = all_zh(&a.indicators.dibao);
    assert!(all.contains("不计入（非共同生活）：丁"), "{all}");
    assert!(all.contains("戊") && all.contains("已减员"), "{all}");
    // Nobody co-resident: no figure, and the reason is what is missing.
    for m in h.members.values_mut() {
        m.co_resident = false;
        m.non_resident_reason = Some(NonResidentReason::Other);
    }
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.income, None);
    assert_eq!(a.indicators.dibao.status, Status::NotEvaluated);
    assert!(
        a.missing.iter().any(|t| t.zh.contains("没有共同生活")),
        "{:?}",
        a.missing
    );
}

#[test]
fn support_received_and_paid_and_local_types() {
    let p = with_cost(PolicySettings {
        local_income_kinds: Some(vec![LocalIncomeKind {
            code: "land_transfer".into(),
            name: "土地流转收入".into(),
        }]),
        local_excluded_income_kinds: Some(vec!["disability_subsidy".into()]),
        ..Default::default()
    });
    let mut h = household(
        HukouType::Urban,
        vec![(1, person("甲", 50, ON)), (2, person("乙", 48, ON))],
    );
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Business,
            IncomeKind::General,
            120_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        2,
        item(
            Some(2),
            IncomeClass::Transfer,
            IncomeKind::from_code("disability_subsidy"),
            20_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        3,
        item(
            Some(1),
            IncomeClass::Transfer,
            IncomeKind::SupportPaid,
            20_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        4,
        item(
            None,
            IncomeClass::Property,
            IncomeKind::from_code("land_transfer"),
            120_000,
            Period::Year,
        ),
    );
    h.supporters.insert(
        eid(9),
        Supporter {
            name: "长子".into(),
            relation: "长子".into(),
            identity: None,
            able_to_support: Some(true),
            unable_reason: None,
            support_paid_fen: Some(60_000),
            support_paid_period: Some(Period::Quarter),
        },
    );
    let a = assess_with(&h, &p, ON);
    let inc = a.income.as_ref().unwrap();
    assert_eq!(inc.items[1].excluded, Some(Exclusion::Local));
    assert_eq!(inc.items[2].counted, Money::yuan(-2_400));
    assert_eq!(inc.support_paid, Money::yuan(2_400));
    // The supporter's 600 a quarter is support received: 2,400 a year, counted.
    assert_eq!(
        inc.items[4].origin,
        crate::rules::means::Origin::Supporter(eid(9))
    );
    assert_eq!(inc.items[4].counted, Money::yuan(2_400));
    // 14,400 − 2,400 + 1,200 + 2,400 = 15,600 a year; 650 per person per month.
    assert_eq!(inc.per_capita_monthly, Money::yuan(650));
    let all = all_zh(&a.indicators.dibao);
    assert!(
        all.contains("土地流转收入") && all.contains("赡养（抚养、扶养）义务人第1项给付"),
        "{all}"
    );
    assert!(all.contains("从转移净收入中扣减2400.00元"), "{all}");
    // Support paid above income: income is never below zero.
    h.income.get_mut(&eid(3)).unwrap().amount_fen = 10_000_000;
    assert_eq!(
        assess_with(&h, &p, ON).income.unwrap().annual_income,
        Money::ZERO
    );
}

#[test]
fn basic_pension_is_left_out_from_the_14th_five_year_plan_on_unless_the_region_says_otherwise() {
    let mut h = household(HukouType::Rural, vec![(1, person("甲", 70, ON))]);
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Transfer,
            IncomeKind::BasicPensionCentral,
            15_000,
            Period::Month,
        ),
    );
    let counted = |p: &Policy, on| assess_with(&h, p, on).per_capita_monthly();
    let national = with_cost(PolicySettings::default());
    assert_eq!(counted(&national, date(2021, 1, 1)), Some(Money::ZERO));
    assert_eq!(counted(&national, date(2025, 12, 31)), Some(Money::ZERO));
    assert_eq!(
        counted(&national, date(2020, 12, 31)),
        Some(Money::yuan(150))
    );
    // After 2025 the exclusion continues (no newer national text is known) and says so.
    assert_eq!(counted(&national, date(2026, 1, 1)), Some(Money::ZERO));
    let a = assess_with(&h, &national, date(2024, 1, 1));
    assert!(
        all_zh(&a.indicators.dibao).contains("“十四五”时期"),
        "{}",
        all_zh(&a.indicators.dibao)
    );
    let later = all_zh(
        &assess_with(&h, &national, date(2026, 12, 5))
            .indicators
            .dibao,
    );
    assert!(later.contains("新规定明确前继续不计入"), "{later}");
    let counts = with_cost(PolicySettings {
        basic_pension_central_excluded: Some(false),
        ..Default::default()
    });
    assert_eq!(counted(&counts, date(2024, 1, 1)), Some(Money::yuan(150)));
    assert_eq!(counted(&counts, date(2026, 6, 1)), Some(Money::yuan(150)));
    let excludes = with_cost(PolicySettings {
        basic_pension_central_excluded: Some(true),
        ..Default::default()
    });
    assert_eq!(counted(&excludes, date(2026, 6, 1)), Some(Money::ZERO));
}

#[test]
fn tekun_hint() {
    let p = with_cost(PolicySettings::default());
    // A 72-year-old living alone with a pension of 500/month and a 高龄津贴 of 200/month.
    let mut h = household(HukouType::Rural, vec![(1, person("甲", 72, ON))]);
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Transfer,
            IncomeKind::General,
            50_000,
            Period::Month,
        ),
    );
    add(
        &mut h,
        2,
        item(
            Some(1),
            IncomeClass::Transfer,
            IncomeKind::OldAgeAllowance,
            20_000,
            Period::Month,
        ),
    );
    let a = assess_with(&h, &p, ON);
    // The allowance counts for 低保 (700 not below 700) but not for 特困 (500 below 700).
    assert_eq!(a.per_capita_monthly(), Some(Money::yuan(700)));
    assert_eq!(a.indicators.dibao.status, Status::NotMet);
    let t = a.tekun_income.as_ref().unwrap();
    assert_eq!(t.per_capita_monthly, Money::yuan(500));
    assert_eq!(t.items[1].excluded, Some(Exclusion::National));
    assert_eq!(a.indicators.tekun.status, Status::Met);
    assert!(all_zh(&a.indicators.tekun).contains("60周岁以上"));
    // A son elsewhere able to support him: no hint.
    let son = Supporter {
        name: "子".into(),
        relation: "儿子".into(),
        identity: None,
        able_to_support: Some(true),
        unable_reason: None,
        support_paid_fen: None,
        support_paid_period: None,
    };
    h.supporters.insert(eid(9), son.clone());
    assert_eq!(
        assess_with(&h, &p, ON).indicators.tekun.status,
        Status::NotMet
    );
    // A son whose capacity is not assessed yet: no verdict, and it is what is missing.
    h.supporters.get_mut(&eid(9)).unwrap().able_to_support = None;
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.indicators.tekun.status, Status::NotEvaluated);
    assert!(
        a.missing
            .iter()
            .any(|t| t.zh.contains("法定义务人子是否有赡养")),
        "{:?}",
        a.missing
    );
    h.supporters.get_mut(&eid(9)).unwrap().able_to_support = Some(false);
    h.supporters.get_mut(&eid(9)).unwrap().unable_reason = Some("重病".into());
    // A co-resident working-age member with work capacity: no hint ...
    h.members.insert(mid(2), person("乙", 40, ON));
    assert_eq!(
        assess_with(&h, &p, ON).indicators.tekun.status,
        Status::NotMet
    );
    // ... unless that member has a grade-2 physical disability.
    let m = h.members.get_mut(&mid(2)).unwrap();
    m.disability_kind = Some(DisabilityKind::Physical);
    m.disability_grade = Some(2);
    assert_eq!(assess_with(&h, &p, ON).indicators.tekun.status, Status::Met);
    h.members.get_mut(&mid(2)).unwrap().disability_grade = Some(3);
    assert_eq!(
        assess_with(&h, &p, ON).indicators.tekun.status,
        Status::NotMet
    );
    // A member whose age is not known here (number not held, no birth date): not evaluated,
    // and the birth date is what is missing.
    let m = h.members.get_mut(&mid(2)).unwrap();
    m.birth_date = None;
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.indicators.tekun.status, Status::NotEvaluated);
    assert!(
        a.missing.iter().any(|t| t.zh.contains("乙的出生日期")),
        "{:?}",
        a.missing
    );
    // The caller who holds the number gives the birth date.
    let births = BTreeMap::from([(mid(2), date(1950, 1, 1))]);
    let means = Means::of_household(&h, &births, ON);
    let st = standard_in_force(
        UrbanRural::Rural,
        Standard::monthly(Money::yuan(700)),
        None,
        ON,
        None,
    );
    assert_eq!(
        assess_means(&means, &p, Some(st)).indicators.tekun.status,
        Status::Met
    );
}

#[test]
fn work_capacity_rules() {
    let p = Policy::national_defaults();
    let on = date(2025, 6, 1);
    let mut m = Member::new("甲", Relation::Head);
    let check = |m: &Member, birth: Option<NaiveDate>| {
        no_work_capacity(
            &Person {
                member: m,
                birth_date: birth,
            },
            &p,
            on,
        )
        .is_some()
    };
    assert!(
        !check(&m, Some(date(1965, 6, 2))),
        "59 the day before the birthday"
    );
    assert!(check(&m, Some(date(1965, 6, 1))), "60 on the birthday");
    assert!(check(&m, Some(date(2007, 6, 2))), "17");
    assert!(!check(&m, Some(date(2007, 6, 1))), "18");
    for (kind, grade, expected) in [
        (DisabilityKind::Intellectual, 3, true),
        (DisabilityKind::Mental, 4, false),
        (DisabilityKind::Physical, 2, true),
        (DisabilityKind::Physical, 3, false),
        (DisabilityKind::Visual, 1, true),
        (DisabilityKind::Visual, 2, false),
        (DisabilityKind::Hearing, 1, false),
    ] {
        m.disability_kind = Some(kind);
        m.disability_grade = Some(grade);
        assert_eq!(check(&m, None), expected, "{kind:?} {grade}");
    }
    m.disability_kind = None;
    m.disability_grade = None;
    m.work_capacity = Some(WorkCapacity::FullyLost);
    assert!(check(&m, None));
    assert_eq!(self_care(0), Some(SelfCare::Able));
    assert_eq!(self_care(3), Some(SelfCare::PartlyLost));
    assert_eq!(self_care(4), Some(SelfCare::FullyLost));
    assert_eq!(self_care(7), None);
}

fn medical(fen: i64, on: Option<NaiveDate>) -> Expenditure {
    Expenditure {
        kind: ExpenditureKind::Medical,
        member: None,
        description: None,
        amount_fen: fen,
        incurred_on: on,
        receipts: BTreeSet::new(),
    }
}

#[test]
fn rigid_expenditure_indicator_and_deduction() {
    let on = date(2026, 6, 1);
    let mut settings = PolicySettings {
        dibao_standard_urban: Some(Standard::monthly(Money::yuan(700))),
        disposable_income_urban: Some(Money::yuan(40_000)),
        ..Default::default()
    };
    let mut h = household(
        HukouType::Urban,
        vec![(1, person("甲", 50, on)), (2, person("乙", 20, on))],
    );
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Business,
            IncomeKind::General,
            220_000,
            Period::Month,
        ),
    );
    h.expenditures
        .insert(eid(1), medical(1_600_000, Some(date(2026, 3, 1))));
    // Outside the 12 months, and without a date: left out, and said so.
    h.expenditures
        .insert(eid(2), medical(9_900_000, Some(date(2025, 6, 1))));
    h.expenditures.insert(eid(3), medical(9_900_000, None));
    // No ratio set (GX2025 leaves it to the region): not evaluated, and missing.
    let a = assess_with(&h, &policy(settings.clone()), on);
    assert_eq!(a.indicators.rigid_expenditure.status, Status::NotEvaluated);
    assert!(
        a.missing.iter().any(|t| t.zh.contains("刚性支出占比")),
        "{:?}",
        a.missing
    );
    settings.rigid_expenditure_ratio = Some(Rate::percent(60));
    // Income 26,400 a year (1,100 per person a month: not 边缘 at 700 × 1.5), rigid 16,000
    // ≈ 60.6 % > 60 %; per capita 13,200 a year < 40,000.
    let a = assess_with(&h, &policy(settings.clone()), on);
    assert_eq!(a.indicators.rigid_expenditure.status, Status::Met);
    let all = all_zh(&a.indicators.rigid_expenditure);
    assert!(
        all.contains("近12个月刚性支出合计16000.00元（1项）"),
        "{all}"
    );
    assert!(
        all.contains("第2项发生于2025-06-01") && all.contains("第3项未填发生日期"),
        "{all}"
    );
    h.expenditures.get_mut(&eid(1)).unwrap().amount_fen = 1_584_000; // exactly 60 %: not above
    assert_eq!(
        assess_with(&h, &policy(settings.clone()), on)
            .indicators
            .rigid_expenditure
            .status,
        Status::NotMet
    );
    h.expenditures.get_mut(&eid(1)).unwrap().amount_fen = 1_600_000;
    // A household in 低保, 特困 or 边缘 is not a 刚性支出 household (GX2025 art. 4).
    h.programmes.insert(Programme::NearDibao);
    let a = assess_with(&h, &policy(settings.clone()), on);
    assert_eq!(a.indicators.rigid_expenditure.status, Status::NotMet);
    assert!(all_zh(&a.indicators.rigid_expenditure).contains("已纳入低保边缘"));
    h.programmes.clear();
    // Nor one the figures make a 低保 or 边缘 case: income 700 per person is 边缘 at 700 × 1.5.
    settings.dibao_standard_urban = Some(Standard::monthly(Money::yuan(700)));
    let mut poorer = h.clone();
    poorer.income.get_mut(&eid(1)).unwrap().amount_fen = 140_000;
    let a = assess_with(&poorer, &policy(settings.clone()), on);
    assert_eq!(a.indicators.near_dibao.status, Status::Met);
    assert_eq!(a.indicators.rigid_expenditure.status, Status::NotMet);
    // The region's deduction: the 12 months' rigid spending comes off the 低保 income.
    settings.rigid_expenditure_deduction = Some(true);
    let a = assess_with(&h, &policy(settings), on);
    let inc = a.income.as_ref().unwrap();
    assert_eq!(inc.rigid_deduction, Money::yuan(16_000));
    // (26,400 − 16,000) / 2 / 12 = 433.33: a 低保 case now.
    assert_eq!(inc.per_capita_monthly, Money::fen(43_333));
    assert_eq!(a.indicators.dibao.status, Status::Met);
    assert!(all_zh(&a.indicators.dibao).contains("本地区实行刚性支出扣减"));
    // The 特困 income is not reduced.
    assert_eq!(a.tekun_income.unwrap().rigid_deduction, Money::ZERO);
}

#[test]
fn assets_with_exemptions() {
    let mut p = with_cost(PolicySettings::default());
    let mut h = household(
        HukouType::Urban,
        vec![(1, person("甲", 50, ON)), (2, person("乙", 20, ON))],
    );
    assert_eq!(
        assess_with(&h, &p, ON).indicators.assets.status,
        Status::NotEvaluated
    );
    p.financial_assets_per_capita_limit = Some(Cap::Limited(Money::yuan(10_000)));
    p.vehicle_limit = Some(Cap::Limited(0));
    let asset = |kind, fen, exemption: Option<&str>| Asset {
        kind,
        owner: None,
        description: None,
        value_fen: fen,
        exemption: exemption.map(str::to_owned),
    };
    h.assets
        .insert(eid(1), asset(AssetKind::Deposit, 2_000_000, None));
    h.assets.insert(
        eid(2),
        asset(
            AssetKind::Vehicle,
            3_000_000,
            Some("残疾人功能性补偿代步机动车"),
        ),
    );
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.indicators.assets.status, Status::NotMet);
    assert!(all_zh(&a.indicators.assets).contains("豁免：残疾人功能性补偿代步机动车"));
    h.assets.insert(eid(3), asset(AssetKind::Deposit, 1, None));
    assert_eq!(
        assess_with(&h, &p, ON).indicators.assets.status,
        Status::Met
    );
}

#[test]
fn single_person_check() {
    // Two people with 1,600 a month between them: 800 each, 边缘 at 700 × 1.5 = 1,050.
    let p = with_cost(PolicySettings::default());
    let mut h = household(
        HukouType::Urban,
        vec![(1, person("甲", 50, ON)), (2, person("乙", 45, ON))],
    );
    add(
        &mut h,
        1,
        item(
            Some(1),
            IncomeClass::Business,
            IncomeKind::General,
            160_000,
            Period::Month,
        ),
    );
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.indicators.near_dibao.status, Status::Met);
    assert_eq!(a.indicators.single_person.status, Status::NotMet);
    // 乙 has a grade-2 disability card and no income of her own: she may apply alone (700).
    let m = h.members.get_mut(&mid(2)).unwrap();
    m.disability_kind = Some(DisabilityKind::Physical);
    m.disability_grade = Some(2);
    let a = assess_with(&h, &p, ON);
    assert_eq!(a.indicators.single_person.status, Status::Met);
    let all = all_zh(&a.indicators.single_person);
    assert!(
        all.contains("乙持肢体残疾2级残疾人证") && all.contains("参照单人户保障金约700.00元"),
        "{all}"
    );
    // A grade-3 card counts only for intellectual or mental disability.
    h.members.get_mut(&mid(2)).unwrap().disability_grade = Some(3);
    assert_eq!(
        assess_with(&h, &p, ON).indicators.single_person.status,
        Status::NotMet
    );
    h.members.get_mut(&mid(2)).unwrap().disability_kind = Some(DisabilityKind::Mental);
    assert_eq!(
        assess_with(&h, &p, ON).indicators.single_person.status,
        Status::Met
    );
    // 重病 counts too; but only in a 边缘 household.
    let m = h.members.get_mut(&mid(2)).unwrap();
    m.disability_kind = None;
    m.disability_grade = None;
    m.health = Some(Health::SeriouslyIll);
    assert_eq!(
        assess_with(&h, &p, ON).indicators.single_person.status,
        Status::Met
    );
    h.income.get_mut(&eid(1)).unwrap().amount_fen = 300_000;
    assert_eq!(
        assess_with(&h, &p, ON).indicators.single_person.status,
        Status::NotMet
    );
}

// ---- properties ----

const EXCLUDED: [IncomeKind; 5] = [
    IncomeKind::PreferentialTreatment,
    IncomeKind::FamilyPlanningReward,
    IncomeKind::Scholarship,
    IncomeKind::BraveryAward,
    IncomeKind::SocialAssistance,
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
        Just(Period::Month),
        Just(Period::Quarter),
        Just(Period::Year),
        Just(Period::Once)
    ]
}

prop_compose! {
    fn arb_item(members: u8)(
        who in 1..=members,
        class in arb_class(),
        fen in 0_i64..2_000_000,
        period in arb_period(),
    ) -> IncomeItem {
        item(Some(who), class, IncomeKind::General, fen, period)
    }
}

prop_compose! {
    fn arb_household()(n in 1_u8..6)(
        ages in proptest::collection::vec(0_i32..95, usize::from(n)),
        away in proptest::collection::vec(any::<bool>(), usize::from(n)),
        income in proptest::collection::vec(arb_item(n), 0..6),
        paid in 0_i64..300_000,
        rural in any::<bool>(),
    ) -> Household {
        let members = ages.iter().zip(away).enumerate().map(|(i, (a, away))| {
            let mut m = person(&format!("m{i}"), *a, ON);
            // The first member is at home.
            if away && i > 0 {
                m.co_resident = false;
                m.non_resident_reason = Some(NonResidentReason::Other);
            }
            (i as u8 + 1, m)
        }).collect();
        let mut h = household(if rural { HukouType::Rural } else { HukouType::Urban }, members);
        for (i, it) in income.into_iter().enumerate() {
            add(&mut h, i as u8 + 1, it);
        }
        add(&mut h, 100, item(Some(1), IncomeClass::Transfer, IncomeKind::SupportPaid, paid, Period::Year));
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

/// Size, annual income, per-capita income, 低保 amount and the indicators' statuses.
type Figures = (
    Option<u32>,
    Option<Money>,
    Option<Money>,
    Option<Money>,
    Vec<Status>,
);

/// The figures of an assessment, without the per-item list and explanations.
fn figures(a: &Assessment) -> Figures {
    let i = &a.indicators;
    (
        a.household_size(),
        a.income.as_ref().map(|i| i.annual_income),
        a.per_capita_monthly(),
        a.dibao_amount,
        vec![
            i.dibao.status,
            i.near_dibao.status,
            i.tekun.status,
            i.rigid_expenditure.status,
            i.single_person.status,
        ],
    )
}

/// One edit a phone makes to a household: add a member, an income item or a supporter, or
/// change a member's health.
#[derive(Debug, Clone)]
enum Edit {
    Member(u8, i32, bool),
    Income(u8, IncomeItem),
    Supporter(u8, i64),
    Health(u8, bool),
}

fn apply(h: &mut Household, e: &Edit) {
    match e {
        Edit::Member(n, age, home) => {
            let mut m = person(&format!("成员{n}"), *age, ON);
            if !home {
                m.co_resident = false;
                m.non_resident_reason = Some(NonResidentReason::Other);
            }
            h.members.insert(mid(*n), m);
        }
        Edit::Income(n, i) => {
            h.income.insert(eid(*n), i.clone());
        }
        Edit::Supporter(n, fen) => {
            h.supporters.insert(
                eid(*n),
                Supporter {
                    name: format!("义务人{n}"),
                    relation: "子女".into(),
                    identity: None,
                    able_to_support: Some(false),
                    unable_reason: Some("无收入".into()),
                    support_paid_fen: Some(*fen),
                    support_paid_period: Some(Period::Year),
                },
            );
        }
        Edit::Health(n, ill) => {
            if let Some(m) = h.members.get_mut(&mid(*n)) {
                m.health = Some(if *ill {
                    Health::SeriouslyIll
                } else {
                    Health::Fair
                });
            }
        }
    }
}

fn arb_edits() -> impl Strategy<Value = Vec<Edit>> {
    let member = (10_u8..16, 0_i32..90, any::<bool>()).prop_map(|(n, a, h)| Edit::Member(n, a, h));
    let income = (
        20_u8..30,
        10_u8..16,
        arb_class(),
        0_i64..500_000,
        arb_period(),
    )
        .prop_map(|(n, who, class, fen, period)| {
            Edit::Income(n, item(Some(who), class, IncomeKind::General, fen, period))
        });
    let supporter = (30_u8..33, 0_i64..1_000_000).prop_map(|(n, fen)| Edit::Supporter(n, fen));
    let health = (10_u8..16, any::<bool>()).prop_map(|(n, ill)| Edit::Health(n, ill));
    proptest::collection::vec(prop_oneof![member, income, supporter, health], 1..8)
}

fn book_700() -> PolicyBook {
    let st = Standard::monthly(Money::yuan(700));
    PolicyBook::from_layers([layer(
        QINGDAO,
        date(2020, 4, 1),
        "test",
        PolicySettings {
            dibao_standard_urban: Some(st),
            dibao_standard_rural: Some(st),
            employment_cost_rate: Some(Rate::percent(10)),
            ..Default::default()
        },
    )])
    .unwrap()
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
        let before = assess_with(&h, &p, ON);
        let mut with = h.clone();
        add(&mut with, 200, IncomeItem { kind: EXCLUDED[kind].clone(), ..extra });
        let after = assess_with(&with, &p, ON);
        prop_assert_eq!(figures(&before), figures(&after));
        prop_assert_eq!(after.income.unwrap().items.last().unwrap().excluded, Some(Exclusion::National));
    }

    /// Adding a counted item never lowers per-capita income, never raises the 低保 amount, and
    /// never turns a household into a 低保 candidate.
    #[test]
    fn adding_counted_income_never_lowers_per_capita_income(
        h in arb_household(),
        p in arb_policy(),
        extra in arb_item(1),
    ) {
        let before = assess_with(&h, &p, ON);
        let mut with = h.clone();
        add(&mut with, 200, extra);
        let after = assess_with(&with, &p, ON);
        prop_assert!(after.per_capita_monthly() >= before.per_capita_monthly());
        prop_assert!(after.dibao_amount <= before.dibao_amount);
        prop_assert!(!(after.indicators.dibao.status == Status::Met && before.indicators.dibao.status == Status::NotMet));
    }

    /// The 低保 amount is the smallest whole-yuan amount that lifts the household to the
    /// standard: with it the household reaches the standard, with one yuan less it does not.
    #[test]
    fn dibao_amount_closes_the_gap(h in arb_household(), p in arb_policy()) {
        let a = assess_with(&h, &p, ON);
        let amount = a.dibao_amount.unwrap();
        prop_assert_eq!(amount.0 % 100, 0);
        let inc = a.income.as_ref().unwrap();
        let size = i128::from(inc.household_size);
        let std = i128::from(a.standard.as_ref().unwrap().standard.annual().0) * size * S;
        let with = |m: i64| inc.exact + i128::from(m) * 12 * S;
        prop_assert!(with(amount.0) >= std);
        if amount.0 > 0 {
            prop_assert!(with(amount.0 - 100) < std);
        }
    }

    /// The assessment does not depend on the order in which members and items were entered,
    /// and is the same after any merge order of the same edits made on different phones.
    #[test]
    fn the_assessment_does_not_depend_on_entry_or_merge_order(
        edits in arb_edits(),
        order in any::<proptest::sample::Index>(),
        phones in 1_usize..4,
    ) {
        let mut base = household(HukouType::Urban, vec![(1, person("户主", 50, ON))]);
        base.members.get_mut(&mid(1)).unwrap().relation = Relation::Head;
        let book = book_700();
        let assess_doc = |d: &AutoCommit| {
            let (_, h) = doc::read::<Household, _>(d).unwrap();
            assess_in(&h, &book, SHINAN_VILLAGE, ON)
        };
        // All edits applied to one typed record, in the order given.
        let mut typed = base.clone();
        for e in &edits {
            apply(&mut typed, e);
        }
        let expected = assess_in(&typed, &book, SHINAN_VILLAGE, ON);
        // The members, items and supporters entered in another order (each once).
        let mut last: BTreeMap<(u8, u8), &Edit> = BTreeMap::new();
        for e in &edits {
            match e {
                Edit::Member(n, ..) => last.insert((0, *n), e),
                Edit::Income(n, _) => last.insert((1, *n), e),
                Edit::Supporter(n, _) => last.insert((2, *n), e),
                Edit::Health(..) => None,
            };
        }
        let distinct: Vec<&Edit> = last.values().copied().collect();
        let (mut forward, mut backward) = (base.clone(), base.clone());
        for e in &distinct {
            apply(&mut forward, e);
        }
        for e in distinct.iter().rev() {
            apply(&mut backward, e);
        }
        prop_assert_eq!(
            assess_in(&forward, &book, SHINAN_VILLAGE, ON),
            assess_in(&backward, &book, SHINAN_VILLAGE, ON)
        );
        // Each phone starts from the stored household and makes its share of the edits, each
        // edit a change of its own; the phones' documents are then merged in a rotated order.
        let id = DocumentId::from_bytes([1; 16]);
        let mut origin = doc::create(id, "370202001001-G01", &base, Some(automerge::ActorId::from(vec![1; 16]))).unwrap();
        let mut replicas: Vec<AutoCommit> = (0..phones)
            .map(|p| origin.fork().with_actor(automerge::ActorId::from(vec![p as u8 + 2; 16])))
            .collect();
        // Edits of one member (adding, then changing its health) stay on one phone, in order.
        for e in &edits {
            let key = match e {
                Edit::Member(n, ..) | Edit::Health(n, _) => usize::from(*n),
                Edit::Income(n, _) | Edit::Supporter(n, _) => usize::from(*n),
            };
            let r = &mut replicas[key % phones];
            let (_, mut h) = doc::read::<Household, _>(r).unwrap();
            apply(&mut h, e);
            doc::write(r, &h).unwrap();
            r.commit();
        }
        let start = order.index(phones);
        let mut merged = origin.fork();
        for k in 0..phones {
            merged.merge(&mut replicas[(start + k) % phones]).unwrap();
        }
        let mut other = origin.fork();
        for k in (0..phones).rev() {
            other.merge(&mut replicas[k]).unwrap();
        }
        let (a, b) = (assess_doc(&merged), assess_doc(&other));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &expected);
    }
}
