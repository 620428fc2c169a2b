use proptest::prelude::*;

use super::*;

const SHANDONG: &str = "370000000000";
const QINGDAO: &str = "370200000000";
const QINGDAO_SHINAN: &str = "370202000000";
const QINGHAI: &str = "630000000000";
const XINING: &str = "630100000000";
const TIELING: &str = "211200000000";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn layer(region: &str, from: NaiveDate, settings: PolicySettings) -> PolicyLayer {
    PolicyLayer {
        region: Some(region.to_owned()),
        effective_from: from,
        source: None,
        settings,
    }
}

/// Qingdao 2020: 700 yuan/month, 渐退期 3–6 months, 特困 1.5 ×, temporary-aid cap 30,000.
fn qingdao_2020() -> PolicyLayer {
    layer(
        QINGDAO,
        date(2020, 1, 1),
        PolicySettings {
            dibao_standard_urban: Some(Standard::monthly(Money::yuan(700))),
            dibao_standard_rural: Some(Standard::monthly(Money::yuan(700))),
            tekun_multiplier: Some(Rate::from_units(15_000)),
            phase_out_min_months: Some(3),
            phase_out_max_months: Some(Cap::Limited(6)),
            case_limit_wd: Some(20),
            temp_aid_yearly_cap: Some(Cap::Limited(Money::yuan(30_000))),
            emergency_paperwork_days: Some(5),
            ..Default::default()
        },
    )
}

fn shandong() -> PolicyLayer {
    layer(
        SHANDONG,
        date(2019, 1, 1),
        PolicySettings {
            temp_aid_township_limit: Some(Money::yuan(3_000)),
            ..Default::default()
        },
    )
}

#[test]
fn region_paths_follow_the_code() {
    assert_eq!(
        region_path("370283001000").unwrap(),
        vec![
            "370000000000",
            "370200000000",
            "370283000000",
            "370283001000"
        ]
    );
    assert_eq!(region_path(SHANDONG).unwrap(), vec![SHANDONG]);
    assert_eq!(region_path(TIELING).unwrap(), vec!["210000000000", TIELING]);
    for bad in ["", "37", "370283001001-G01", "000000000000", "37020000000x"] {
        assert_eq!(
            region_path(bad),
            Err(PolicyError::BadRegionCode(bad.to_owned()))
        );
    }
}

#[test]
fn an_empty_book_gives_national_defaults() {
    let book = PolicyBook::new();
    let p = book.resolve(QINGDAO_SHINAN, date(2025, 1, 1)).unwrap();
    assert_eq!(p, Policy::national_defaults());
    assert_eq!(
        p.near_dibao_multiplier(UrbanRural::Rural),
        Rate::from_units(15_000)
    );
    assert_eq!(p.case_limit_wd, 30);
    assert_eq!(p.case_limit_delegated_wd, 20);
    assert_eq!(p.case_limit_special_wd, 45);
    assert_eq!(p.phase_out_max_months, Cap::Limited(6));
    assert_eq!(p.dibao_standard_urban, None);
    assert!(Policy::national_defaults().validate().is_ok());
}

#[test]
fn child_inherits_and_overrides() {
    let book = PolicyBook::from_layers([shandong(), qingdao_2020()]).unwrap();
    let p = book.resolve(QINGDAO_SHINAN, date(2020, 6, 1)).unwrap();
    // From Qingdao.
    assert_eq!(
        p.dibao_standard_urban,
        Some(Standard::monthly(Money::yuan(700)))
    );
    assert_eq!(p.case_limit_wd, 20);
    // From Shandong.
    assert_eq!(p.temp_aid_township_limit, Some(Money::yuan(3_000)));
    // National.
    assert_eq!(p.case_limit_special_wd, 45);
    // Before Qingdao's layer took effect only Shandong's applies.
    let before = book.resolve(QINGDAO_SHINAN, date(2019, 12, 31)).unwrap();
    assert_eq!(before.dibao_standard_urban, None);
    assert_eq!(before.temp_aid_township_limit, Some(Money::yuan(3_000)));
    // A sibling of Qingdao does not see Qingdao's layer.
    let jinan = book.resolve("370100000000", date(2020, 6, 1)).unwrap();
    assert_eq!(jinan.dibao_standard_urban, None);
    let layers = book
        .layers_in_force(QINGDAO_SHINAN, date(2020, 6, 1))
        .unwrap();
    assert_eq!(layers.len(), 2);
}

#[test]
fn the_latest_version_in_force_applies() {
    let old = layer(
        TIELING,
        date(2018, 1, 1),
        PolicySettings {
            dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_350))),
            ..Default::default()
        },
    );
    let new = layer(
        TIELING,
        date(2019, 1, 1),
        PolicySettings {
            dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_770))),
            phase_out_max_months: Some(Cap::Limited(24)),
            ..Default::default()
        },
    );
    let book = PolicyBook::from_layers([new, old]).unwrap();
    let rural = |d| book.resolve(TIELING, d).unwrap().dibao_standard_rural;
    assert_eq!(rural(date(2017, 12, 31)), None);
    assert_eq!(
        rural(date(2018, 6, 1)),
        Some(Standard::yearly(Money::yuan(4_350)))
    );
    assert_eq!(
        rural(date(2019, 1, 1)),
        Some(Standard::yearly(Money::yuan(4_770)))
    );
    assert_eq!(
        rural(date(2030, 1, 1)),
        Some(Standard::yearly(Money::yuan(4_770)))
    );
    // 4,770 yuan a year is 397.50 yuan a month, exactly.
    let st = rural(date(2019, 1, 1)).unwrap();
    assert_eq!(st.annual(), Money::yuan(4_770));
    assert_eq!(st.monthly_display(), Money::fen(39_750));
    assert_eq!(
        Standard::yearly(Money::yuan(4_771)).monthly_display(),
        Money::fen(39_758)
    );
}

#[test]
fn phase_out_settings_of_three_regions() {
    let qinghai = layer(
        QINGHAI,
        date(2021, 1, 1),
        PolicySettings {
            phase_out_min_months: Some(12),
            phase_out_max_months: Some(Cap::Unlimited),
            ..Default::default()
        },
    );
    let tieling = layer(
        TIELING,
        date(2019, 1, 1),
        PolicySettings {
            phase_out_max_months: Some(Cap::Limited(24)),
            ..Default::default()
        },
    );
    let book = PolicyBook::from_layers([qingdao_2020(), qinghai, tieling]).unwrap();
    let on = date(2022, 1, 1);
    let qd = book.resolve(QINGDAO_SHINAN, on).unwrap();
    assert!(!qd.phase_out_allowed(2));
    assert!(qd.phase_out_allowed(3) && qd.phase_out_allowed(6));
    assert!(!qd.phase_out_allowed(7));
    let qh = book.resolve(XINING, on).unwrap();
    assert!(!qh.phase_out_allowed(11));
    assert!(qh.phase_out_allowed(12) && qh.phase_out_allowed(36));
    let tl = book.resolve(TIELING, on).unwrap();
    assert!(tl.phase_out_allowed(1) && tl.phase_out_allowed(24));
    assert!(!tl.phase_out_allowed(25));
    let national = book.resolve_national(on);
    assert!(national.phase_out_allowed(6) && !national.phase_out_allowed(7));
}

#[test]
fn a_minimum_above_the_inherited_maximum_is_refused() {
    // Qinghai sets ≥ 12 months but forgets to lift the national 6-month maximum.
    let mut book = PolicyBook::new();
    let err = book
        .insert(layer(
            QINGHAI,
            date(2021, 1, 1),
            PolicySettings {
                phase_out_min_months: Some(12),
                ..Default::default()
            },
        ))
        .unwrap_err();
    assert_eq!(err.code(), "policy.phase_out_min_above_max");
    assert!(matches!(&err, PolicyError::Resolved { cause, .. }
        if **cause == PolicyError::PhaseOutMinAboveMax { min: 12, max: 6 }));
    assert!(err.message_zh().contains("渐退期最短12个月"));
    assert_eq!(book, PolicyBook::new());
}

#[test]
fn bad_input_is_refused_and_the_previous_policy_stays() {
    let mut book = PolicyBook::from_layers([shandong(), qingdao_2020()]).unwrap();
    let before = book.clone();
    let on = date(2021, 3, 1);
    let policy_before = book.resolve(QINGDAO_SHINAN, on).unwrap();
    let later = date(2021, 1, 1);
    let cases: Vec<(PolicyLayer, &str)> = vec![
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    dibao_standard_urban: Some(Standard::monthly(Money::yuan(-700))),
                    ..Default::default()
                },
            ),
            "policy.non_positive_amount",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    dibao_standard_rural: Some(Standard::monthly(Money::ZERO)),
                    ..Default::default()
                },
            ),
            "policy.non_positive_amount",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    near_dibao_multiplier_urban: Some(Rate::from_units(9_000)),
                    ..Default::default()
                },
            ),
            "policy.multiplier_below_one",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    tekun_multiplier: Some(Rate::from_units(5_000)),
                    ..Default::default()
                },
            ),
            "policy.multiplier_below_one",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    rigid_expenditure_ratio: Some(Rate::from_units(12_000)),
                    ..Default::default()
                },
            ),
            "policy.ratio_out_of_range",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    employment_cost_rate: Some(Rate::from_units(-100)),
                    ..Default::default()
                },
            ),
            "policy.ratio_out_of_range",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    phase_out_min_months: Some(7),
                    ..Default::default()
                },
            ),
            "policy.phase_out_min_above_max",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    case_limit_delegated_wd: Some(40),
                    ..Default::default()
                },
            ),
            "policy.case_limit_order",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    refusal_notice_wd: Some(0),
                    ..Default::default()
                },
            ),
            "policy.zero_duration",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    temp_aid_yearly_cap: Some(Cap::Limited(Money::yuan(-1))),
                    ..Default::default()
                },
            ),
            "policy.negative_amount",
        ),
        (
            layer(
                QINGDAO,
                later,
                PolicySettings {
                    local_excluded_income_kinds: Some(vec!["".to_owned()]),
                    ..Default::default()
                },
            ),
            "policy.bad_income_kind",
        ),
        (
            layer("3702", later, PolicySettings::default()),
            "policy.bad_region_code",
        ),
        // Same region and date as an existing layer: overlapping versions.
        (
            layer(
                QINGDAO,
                date(2020, 1, 1),
                PolicySettings {
                    dibao_standard_urban: Some(Standard::monthly(Money::yuan(800))),
                    ..Default::default()
                },
            ),
            "policy.duplicate_effective_date",
        ),
    ];
    for (bad, code) in cases {
        let err = book.insert(bad.clone()).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(!err.message_zh().is_empty() && !err.message_en().is_empty());
        assert_eq!(book, before, "book changed after refusing {code}");
        assert_eq!(book.resolve(QINGDAO_SHINAN, on).unwrap(), policy_before);
    }
    // `replace` of the existing version with a bad one is refused too.
    let mut bad = qingdao_2020();
    bad.settings.near_dibao_multiplier_rural = Some(Rate::from_units(9_999));
    assert_eq!(
        book.replace(bad).unwrap_err().code(),
        "policy.multiplier_below_one"
    );
    assert_eq!(book, before);
    // A national layer that clashes with a child is refused: a national special-case limit of
    // 19 working days would fall below Qingdao's 20-day normal limit.
    let national = PolicyLayer {
        region: None,
        effective_from: date(2022, 1, 1),
        source: None,
        settings: PolicySettings {
            case_limit_special_wd: Some(19),
            case_limit_delegated_wd: Some(15),
            case_limit_wd: Some(19),
            ..Default::default()
        },
    };
    let err = book.insert(national).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Resolved { region, .. } if region == QINGDAO),
        "{err}"
    );
    assert_eq!(err.code(), "policy.case_limit_order");
    assert_eq!(book, before);
}

#[test]
fn replace_and_remove() {
    let mut book = PolicyBook::from_layers([qingdao_2020()]).unwrap();
    let mut changed = qingdao_2020();
    changed.settings.dibao_standard_urban = Some(Standard::monthly(Money::yuan(720)));
    let old = book.replace(changed).unwrap();
    assert_eq!(old, Some(qingdao_2020()));
    let p = book.resolve(QINGDAO, date(2020, 2, 1)).unwrap();
    assert_eq!(
        p.dibao_standard_urban,
        Some(Standard::monthly(Money::yuan(720)))
    );
    // Removing a layer a child relies on is refused: Xining's minimum needs Qinghai's lift.
    let mut book = PolicyBook::from_layers([
        layer(
            QINGHAI,
            date(2021, 1, 1),
            PolicySettings {
                phase_out_max_months: Some(Cap::Unlimited),
                ..Default::default()
            },
        ),
        layer(
            XINING,
            date(2021, 1, 1),
            PolicySettings {
                phase_out_min_months: Some(12),
                ..Default::default()
            },
        ),
    ])
    .unwrap();
    let before = book.clone();
    assert_eq!(
        book.remove(Some(QINGHAI), date(2021, 1, 1))
            .unwrap_err()
            .code(),
        "policy.phase_out_min_above_max"
    );
    assert_eq!(book, before);
    assert_eq!(
        book.remove(Some(QINGHAI), date(2020, 1, 1))
            .unwrap_err()
            .code(),
        "policy.no_such_layer"
    );
    assert!(book.remove(Some(XINING), date(2021, 1, 1)).is_ok());
    assert_eq!(book.layers().count(), 1);
}

#[test]
fn json_round_trip_and_refusal() {
    let book = PolicyBook::from_layers([shandong(), qingdao_2020()]).unwrap();
    let json = serde_json::to_string_pretty(&book).unwrap();
    assert!(json.contains("\"tekun_multiplier\": \"1.5\""), "{json}");
    assert!(json.contains("\"amount\": 70000"), "{json}");
    let back: PolicyBook = serde_json::from_str(&json).unwrap();
    assert_eq!(back, book);

    let text = r#"{"layers": [
        {"region": "630000000000", "effective_from": "2021-01-01", "source": "local notice",
         "settings": {"near_dibao_multiplier_rural": 2, "phase_out_min_months": 12,
                      "phase_out_max_months": "unlimited",
                      "dibao_standard_rural": {"amount": 50000, "per": "month"}}}
    ]}"#;
    let book: PolicyBook = serde_json::from_str(text).unwrap();
    let p = book.resolve(XINING, date(2022, 1, 1)).unwrap();
    assert_eq!(
        p.near_dibao_multiplier(UrbanRural::Rural),
        Rate::from_units(20_000)
    );
    assert_eq!(
        p.near_dibao_multiplier(UrbanRural::Urban),
        Rate::from_units(15_000)
    );
    assert_eq!(p.phase_out_max_months, Cap::Unlimited);

    // A bad file is refused as a whole.
    let bad = text.replace(
        "\"near_dibao_multiplier_rural\": 2",
        "\"near_dibao_multiplier_rural\": 0.9",
    );
    let err = serde_json::from_str::<PolicyBook>(&bad).unwrap_err();
    assert!(
        err.to_string().contains("multiplier must be at least 1"),
        "{err}"
    );
    // Unknown fields (typos) are refused.
    let typo = text.replace("phase_out_min_months", "phase_out_minimum");
    assert!(serde_json::from_str::<PolicyBook>(&typo).is_err());
    // Duplicate versions in a file are refused.
    let dup = format!(
        r#"{{"layers": [{0}, {0}]}}"#,
        r#"{"region": "630000000000", "effective_from": "2021-01-01", "settings": {}}"#
    );
    let err = serde_json::from_str::<PolicyBook>(&dup).unwrap_err();
    assert!(err.to_string().contains("already has a layer"), "{err}");
}

#[test]
fn temporary_aid_routes() {
    let book = PolicyBook::from_layers([shandong(), qingdao_2020()]).unwrap();
    let p = book.resolve(QINGDAO_SHINAN, date(2021, 1, 1)).unwrap();
    assert_eq!(
        p.temporary_aid_route(Money::yuan(3_000), Money::ZERO),
        TempAidRoute::Township
    );
    assert_eq!(
        p.temporary_aid_route(Money::yuan(3_001), Money::ZERO),
        TempAidRoute::County
    );
    assert_eq!(
        p.temporary_aid_route(Money::yuan(2_000), Money::yuan(29_000)),
        TempAidRoute::AboveYearlyCap {
            cap: Money::yuan(30_000)
        }
    );
    // Without a delegated limit everything goes to the county.
    let national = book.resolve_national(date(2021, 1, 1));
    assert_eq!(
        national.temporary_aid_route(Money::yuan(1), Money::ZERO),
        TempAidRoute::County
    );
}

proptest! {
    /// The route of a 临时救助 payment: 一事一议 exactly when the payment takes the yearly total
    /// above the cap; otherwise the township exactly up to its limit, the county above; the
    /// yearly total counts the payments of that year and no other.
    #[test]
    fn temporary_aid_route_and_yearly_total(
        limit in 0i64..1_000_000,
        cap in proptest::option::of(0i64..10_000_000),
        amount in 0i64..5_000_000,
        payments in proptest::collection::vec((2019i32..2022, 1u32..=365, 0i64..2_000_000), 0..12),
    ) {
        let mut p = Policy::national_defaults();
        p.temp_aid_township_limit = Some(Money(limit));
        p.temp_aid_yearly_cap = cap.map(|c| Cap::Limited(Money(c)));
        let dated: Vec<(NaiveDate, Money)> = payments
            .iter()
            .map(|(y, d, m)| (NaiveDate::from_yo_opt(*y, *d).unwrap(), Money(*m)))
            .collect();
        let total = temporary_aid_yearly_total(dated.iter().copied(), 2020);
        let by_hand: i64 = payments.iter().filter(|(y, _, _)| *y == 2020).map(|(_, _, m)| m).sum();
        prop_assert_eq!(total, Money(by_hand));
        let all: i64 = (2019..2022)
            .map(|y| temporary_aid_yearly_total(dated.iter().copied(), y).0)
            .sum();
        prop_assert_eq!(all, payments.iter().map(|(_, _, m)| m).sum::<i64>());
        let route = p.temporary_aid_route(Money(amount), total);
        match cap {
            Some(c) if amount + total.0 > c => {
                prop_assert_eq!(route, TempAidRoute::AboveYearlyCap { cap: Money(c) });
            }
            _ if amount <= limit => prop_assert_eq!(route, TempAidRoute::Township),
            _ => prop_assert_eq!(route, TempAidRoute::County),
        }
        // Splitting a payment never escapes the cap: two halves reach the same total.
        let half = Money(amount / 2);
        let after_first = Money(total.0 + half.0);
        let second = p.temporary_aid_route(Money(amount - half.0), after_first);
        prop_assert_eq!(
            matches!(second, TempAidRoute::AboveYearlyCap { .. }),
            matches!(route, TempAidRoute::AboveYearlyCap { .. })
        );
    }
}

fn arb_rate(min: i64, max: i64) -> impl Strategy<Value = Rate> {
    (min..=max).prop_map(Rate::from_units)
}

prop_compose! {
    fn arb_settings()(
        std in proptest::option::of(1_i64..200_000),
        near in proptest::option::of(arb_rate(10_000, 30_000)),
        ratio in proptest::option::of(arb_rate(0, 10_000)),
        cost in proptest::option::of(arb_rate(0, 3_000)),
        min in proptest::option::of(0_u32..6),
        max in proptest::option::of(prop_oneof![Just(Cap::Unlimited), (6_u32..30).prop_map(Cap::Limited)]),
        case in proptest::option::of(20_u32..=45),
        visit in proptest::option::of(1_u32..12),
        kinds in proptest::option::of(proptest::collection::vec("[a-z_]{1,12}", 0..3)),
    ) -> PolicySettings {
        PolicySettings {
            dibao_standard_urban: std.map(|f| Standard::monthly(Money::fen(f))),
            near_dibao_multiplier_rural: near,
            rigid_expenditure_ratio: ratio,
            employment_cost_rate: cost,
            phase_out_min_months: min,
            phase_out_max_months: max,
            case_limit_wd: case,
            visit_other_months: visit,
            local_excluded_income_kinds: kinds,
            ..Default::default()
        }
    }
}

proptest! {
    /// A child inherits exactly its parent's policy, except the fields it sets, which take the
    /// child's values.
    #[test]
    fn inherited_policy_equals_parent_unless_overridden(parent in arb_settings(), child in arb_settings()) {
        let on = date(2024, 6, 1);
        let parent_layer = layer(SHANDONG, date(2024, 1, 1), parent);
        let Ok(book) = PolicyBook::from_layers([parent_layer.clone()]) else {
            return Ok(());
        };
        let parent_policy = book.resolve(SHANDONG, on).unwrap();
        // Without a child layer, a county inherits the province's policy unchanged.
        prop_assert_eq!(&book.resolve("370283000000", on).unwrap(), &parent_policy);

        let child_layer = layer(QINGDAO, date(2024, 3, 1), child.clone());
        let Ok(book) = PolicyBook::from_layers([parent_layer, child_layer]) else {
            return Ok(());
        };
        let child_policy = book.resolve(QINGDAO_SHINAN, on).unwrap();
        let (p, c) = (parent_policy.to_settings(), child_policy.to_settings());
        let overridden = child.set_fields();
        let p_json = serde_json::to_value(&p).unwrap();
        let c_json = serde_json::to_value(&c).unwrap();
        let child_json = serde_json::to_value(&child).unwrap();
        for (field, value) in c_json.as_object().unwrap() {
            if overridden.contains(&field.as_str()) {
                prop_assert_eq!(Some(value), child_json.get(field), "{} not the child's", field);
            } else {
                prop_assert_eq!(Some(value), p_json.get(field), "{} not inherited", field);
            }
        }
        for field in p_json.as_object().unwrap().keys() {
            prop_assert!(c_json.get(field).is_some(), "{} lost", field);
        }
        // Before the child's layer takes effect the region has its parent's policy.
        prop_assert_eq!(book.resolve(QINGDAO_SHINAN, date(2024, 2, 1)).unwrap(), parent_policy);
    }
}
