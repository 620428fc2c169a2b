//! A household's means captured on a phone (the real SDK, offline), its assessment computed on
//! the phone with the synced policy, and the same figures on the console after sync: the worked
//! examples of the source notices (Qingdao 2020: 700 yuan per person per month in the seven
//! districts, 630 / 520 in the three county-level cities; Tieling 2019: 4,770 yuan a year).

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use doudi_protocol::role::Role;
use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings, Standard};
use doudi_protocol::rules::{Money, Rate};
use doudi_sdk::{
    ApplicationChannel, ApplicationInput, AppliedFor, AssetInput, AssetKind, DisabilityKind,
    DoudiClient, DoudiError, ExpenditureInput, ExpenditureKind, Health, HukouType, IncomeClass,
    IncomeInput, IncomeSource, IndicatorKind, IndicatorStatus, MeansAssessment, MemberDetails,
    NewMemberInput, NonResidentReason, Period, SupporterInput, WorkCapacity,
};
use doudi_tests::{Backend, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

both_backends!(
    qingdao_and_tieling_from_the_phone_to_the_console,
    every_part_of_the_means_is_captured_offline,
    the_demo_shows_every_indicator,
    the_phone_records_the_application_it_investigates,
);

const KEY: [u8; 32] = [0x24; 32];

/// Qingdao (a district and a county-level city) and Tieling below the fixture's tree.
const REGIONS: &str = "code,parent_code,level,name
370200000000,370000000000,city,青岛市
370202000000,370200000000,county,市南区
370202001000,370202000000,township,市南区一街道
370202001001,370202001000,village,市南区一社区
370202001001-A,370202001001,grid,市南区一社区甲网格
370283000000,370200000000,county,平度市
370283001000,370283000000,township,平度市一镇
370283001001,370283001000,village,平度市一村
370283001001-A,370283001001,grid,平度市一村甲网格
210000000000,,province,辽宁省
211200000000,210000000000,city,铁岭市
211221000000,211200000000,county,铁岭县
211221001000,211221000000,township,铁岭县一镇
211221001001,211221001000,village,铁岭县一村
211221001001-A,211221001001,grid,铁岭县一村甲网格
";

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn put_layer(app: &TestApp, region: &str, from: &str, source: &str, s: PolicySettings) {
    doudi_server::policies::put_layer(
        &app.state.db,
        PolicyLayer {
            region: Some(region.into()),
            effective_from: date(from),
            source: Some(source.into()),
            settings: s,
        },
        None,
        None,
    )
    .await
    .unwrap();
}

async fn setup(b: Backend) -> TestApp {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    doudi_server::regions::import_csv(&app.state.db, REGIONS, 1000, None)
        .await
        .unwrap();
    let notice = "青岛市民政局2020年8月17日通报";
    let seven = Standard::monthly(Money::yuan(700));
    put_layer(
        &app,
        "370200000000",
        "2020-04-01",
        notice,
        PolicySettings {
            dibao_standard_urban: Some(seven),
            dibao_standard_rural: Some(seven),
            ..Default::default()
        },
    )
    .await;
    put_layer(
        &app,
        "370283000000",
        "2020-04-01",
        notice,
        PolicySettings {
            dibao_standard_urban: Some(Standard::monthly(Money::yuan(630))),
            dibao_standard_rural: Some(Standard::monthly(Money::yuan(520))),
            ..Default::default()
        },
    )
    .await;
    put_layer(
        &app,
        "211200000000",
        "2019-07-01",
        "铁市民发〔2019〕45号",
        PolicySettings {
            dibao_standard_rural: Some(Standard::yearly(Money::yuan(4_770))),
            tekun_multiplier: Some(Rate::from_units(13_000)),
            ..Default::default()
        },
    )
    .await;
    for (user, role, region) in [
        ("grid.qd", Role::GridWorker, "370202001001-A"),
        ("grid.pd", Role::GridWorker, "370283001001-A"),
        ("grid.tl", Role::GridWorker, "211221001001-A"),
        ("assist.qd", Role::Assistant, "370202001001"),
        ("county.qd", Role::CountyApprover, "370200000000"),
        ("county.tl", Role::CountyApprover, "211200000000"),
    ] {
        app.create_account(user, role, &[region]).await;
    }
    app
}

/// A phone logged in as `username` that has synced (the policy book with it).
async fn phone(app: &TestApp, dir: &Path, username: &str) -> Arc<DoudiClient> {
    let c = app.sdk_phone(dir, &KEY, username).await;
    let s = c.sync_now(None).await.unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    c
}

fn wages(member: &str, fen: i64) -> IncomeInput {
    IncomeInput {
        member_id: Some(member.into()),
        income_class: IncomeClass::Wages,
        kind: "general".into(),
        amount_fen: fen,
        period: Period::Month,
        evidence: Some("工资条".into()),
        source: IncomeSource::Observed,
    }
}

fn status(a: &MeansAssessment, kind: IndicatorKind) -> IndicatorStatus {
    a.indicators.iter().find(|i| i.kind == kind).unwrap().status
}

/// A family of three with one wage of 1,000 a month, captured during a visit: the head on
/// creation, the others added at the visit (增员). Returns the household and the visit.
fn family_of_three(p: &DoudiClient, hukou: HukouType) -> (String, String) {
    // The numbers give the ages the 特困 rules need (a grid worker's phone holds them in clear).
    let hid = p
        .create_household(
            None,
            "一号院 3 号".into(),
            "王建国".into(),
            Some("370202196203150012".into()),
        )
        .unwrap();
    p.set_hukou_type(hid.clone(), Some(hukou)).unwrap();
    let vid = p
        .start_application_visit(hid.clone(), AppliedFor::Dibao)
        .unwrap();
    let head = p.household(hid.clone()).unwrap().members[0].id.clone();
    for (name, relation, number) in [
        ("李秀英", "spouse", "370202196508220026"),
        ("王小明", "child", "370202201209010030"),
    ] {
        p.add_member(
            vid.clone(),
            NewMemberInput {
                name: name.into(),
                id_number: Some(number.into()),
                relation: relation.into(),
                note: None,
            },
        )
        .unwrap();
    }
    p.set_income(hid.clone(), None, wages(&head, 100_000))
        .unwrap();
    (hid, vid)
}

/// The household page of the console, as a county approver of the region sees it.
async fn console_household(app: &TestApp, approver: &str, hid: &str) -> String {
    let (mut b, _) = console_login(app, approver).await;
    let (status, page) = b.get(&format!("/console/households/{hid}")).await;
    assert_eq!(status, StatusCode::OK);
    page
}

async fn qingdao_and_tieling_from_the_phone_to_the_console(b: Backend) {
    let app = setup(b).await;
    // 市南区 (one of the seven districts), urban: 700 per person per month, set by the city.
    let d = tempfile::tempdir().unwrap();
    let qd = phone(&app, d.path(), "grid.qd").await;
    let (hid, vid) = family_of_three(&qd, HukouType::Urban);
    let a = qd.assessment(hid.clone(), None).unwrap();
    let st = a.standard.clone().unwrap();
    assert_eq!(
        (
            st.monthly_fen,
            st.region.as_deref(),
            st.effective_from.as_str()
        ),
        (70_000, Some("370200000000"), "2020-04-01")
    );
    assert_eq!(st.source.as_deref(), Some("青岛市民政局2020年8月17日通报"));
    assert_eq!(a.region.as_deref(), Some("370202001001"));
    assert_eq!(a.household_size, Some(3));
    // 12,000 a year ÷ 3 ÷ 12 = 333.33; 700 × 3 − 1,000 = 1,100.
    assert_eq!(a.per_capita_monthly_fen, Some(33_333));
    assert_eq!(a.dibao_amount_fen, Some(110_000));
    assert_eq!(status(&a, IndicatorKind::Dibao), IndicatorStatus::Met);
    // 64, 61 and 14 on the numbers: all without work capacity by age; nobody able to support.
    assert_eq!(status(&a, IndicatorKind::Tekun), IndicatorStatus::Met);
    assert!(a.notice.zh.starts_with("提示，不是结论"), "{:?}", a.notice);
    assert!(a.missing.is_empty(), "{:?}", a.missing);
    // An assessment dated before the notice took effect has no standard, and says so.
    let before = qd
        .assessment(hid.clone(), Some("2020-03-31".into()))
        .unwrap();
    assert_eq!((before.standard, before.dibao_amount_fen), (None, None));
    assert!(
        before
            .missing
            .iter()
            .any(|l| l.zh.contains("未设定现行的城市低保标准")),
        "{:?}",
        before.missing
    );
    let s = qd.sync_now(None).await.unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    // The console shows the same figures from the same function.
    let page = console_household(&app, "county.qd", &hid).await;
    for figure in [
        "333.33 元/人·月",
        "1100.00 元/月",
        "700.00元/人/月",
        "3 人",
        "提示，不是结论",
    ] {
        assert!(page.contains(figure), "{figure} not on the page:\n{page}");
    }
    // The visit page shows the household changes the visit's investigator made during it.
    let (mut c, _) = console_login(&app, "county.qd").await;
    let (_, visit_page) = c.get(&format!("/console/visits/{vid}")).await;
    // An application's investigation, for 低保, named on the phone.
    assert_eq!(
        qd.visit(vid.clone()).unwrap().applied_for,
        Some(AppliedFor::Dibao)
    );
    assert!(visit_page.contains("入户调查（申请低保）"), "{visit_page}");
    let at = visit_page
        .find("本次走访对家庭档案的修改")
        .expect("the section");
    let section = &visit_page[at..at + visit_page[at..].find("</table>").unwrap_or(0)];
    // The members added and the income recorded at the visit; not the household's creation
    // before it.
    // Fields by their Chinese names: 金额（分） is `amount_fen`, 与户主关系 `relation`, 居住地址
    // `address`.
    assert!(
        section.contains("金额（分）")
            && section.contains("与户主关系")
            && !section.contains("居住地址"),
        "{section}"
    );

    // 平度市, rural: 520 per person per month, set by the county-level city; 630 urban.
    let d = tempfile::tempdir().unwrap();
    let pd = phone(&app, d.path(), "grid.pd").await;
    let (rural, _) = family_of_three(&pd, HukouType::Rural);
    let a = pd.assessment(rural.clone(), None).unwrap();
    assert_eq!(a.standard.as_ref().unwrap().monthly_fen, 52_000);
    assert_eq!(
        a.standard.as_ref().unwrap().region.as_deref(),
        Some("370283000000")
    );
    // 520 × 3 − 1,000 = 560.
    assert_eq!(a.dibao_amount_fen, Some(56_000));
    pd.set_hukou_type(rural.clone(), Some(HukouType::Urban))
        .unwrap();
    let urban = pd.assessment(rural.clone(), None).unwrap();
    assert_eq!(urban.standard.unwrap().monthly_fen, 63_000);
    pd.sync_now(None).await.unwrap();
    let page = console_household(&app, "county.qd", &rural).await;
    assert!(page.contains("630.00元/人/月"), "{page}");
    // 630 × 3 − 1,000 = 890.
    assert!(page.contains("890.00 元/月"), "{page}");

    // Tieling, rural, 4,770 a year: one person without income, 397.50 a month shown, 398 paid.
    let d = tempfile::tempdir().unwrap();
    let tl = phone(&app, d.path(), "grid.tl").await;
    let alone = tl
        .create_household(None, "铁岭县一村 7 号".into(), "赵德福".into(), None)
        .unwrap();
    tl.set_hukou_type(alone.clone(), Some(HukouType::Rural))
        .unwrap();
    let a = tl.assessment(alone.clone(), None).unwrap();
    let st = a.standard.clone().unwrap();
    assert_eq!(
        (st.monthly_fen, st.amount_fen, st.per.as_str()),
        (39_750, 477_000, "year")
    );
    assert_eq!(a.dibao_amount_fen, Some(39_800));
    // Without the head's birth date the 特困 hint cannot decide; it says what is missing.
    assert_eq!(
        status(&a, IndicatorKind::Tekun),
        IndicatorStatus::NotEvaluated
    );
    assert!(
        a.missing.iter().any(|l| l.zh.contains("赵德福的出生日期")),
        "{:?}",
        a.missing
    );
    tl.sync_now(None).await.unwrap();
    let page = console_household(&app, "county.tl", &alone).await;
    assert!(
        page.contains("397.50元/人/月") && page.contains("398.00 元/月"),
        "{page}"
    );
}

async fn every_part_of_the_means_is_captured_offline(b: Backend) {
    let app = setup(b).await;
    let d = tempfile::tempdir().unwrap();
    let p = phone(&app, d.path(), "grid.qd").await;
    let (hid, _) = family_of_three(&p, HukouType::Urban);
    let means = p.household_means(hid.clone()).unwrap();
    assert_eq!(means.members.len(), 3);
    assert_eq!(means.hukou_type, Some(HukouType::Urban));
    let id_of = |name: &str| {
        means
            .members
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .member_id
            .clone()
    };
    let (head, wife, son) = (id_of("王建国"), id_of("李秀英"), id_of("王小明"));

    // Members' circumstances; a member away needs the DB2021 art. 7 reason.
    let ill = MemberDetails {
        co_resident: true,
        non_resident_reason: None,
        non_resident_note: None,
        health: Some(Health::SeriouslyIll),
        disease: Some("尿毒症".into()),
        disability_kind: None,
        disability_grade: None,
        work_capacity: Some(WorkCapacity::FullyLost),
        schooling: None,
        employment: Some("无业".into()),
    };
    p.set_member_details(hid.clone(), head.clone(), ill.clone())
        .unwrap();
    let away = MemberDetails {
        co_resident: false,
        health: Some(Health::Healthy),
        work_capacity: Some(WorkCapacity::Able),
        schooling: Some("大学在读".into()),
        ..ill.clone()
    };
    let e = p
        .set_member_details(hid.clone(), son.clone(), away.clone())
        .unwrap_err();
    assert!(
        matches!(&e, DoudiError::InvalidInput { field, .. } if field.ends_with("non_resident_reason")),
        "{e:?}"
    );
    let away = MemberDetails {
        non_resident_reason: Some(NonResidentReason::Other),
        non_resident_note: Some("外地上学".into()),
        ..away
    };
    p.set_member_details(hid.clone(), son.clone(), away.clone())
        .unwrap();
    let disabled = MemberDetails {
        disability_kind: Some(DisabilityKind::Physical),
        disability_grade: Some(5),
        health: Some(Health::SeverelyDisabled),
        ..ill.clone()
    };
    assert!(
        p.set_member_details(hid.clone(), wife.clone(), disabled.clone())
            .is_err()
    );
    p.set_member_details(
        hid.clone(),
        wife.clone(),
        MemberDetails {
            disability_grade: Some(2),
            ..disabled
        },
    )
    .unwrap();

    // Income: the national list plus the region's own types; a type the region does not
    // define is refused; a quarterly amount.
    let kinds = p.income_kinds(hid.clone()).unwrap();
    assert!(
        kinds
            .iter()
            .any(|k| k.code == "basic_pension_central" && k.national)
    );
    let mut land = wages(&head, 120_000);
    land.income_class = IncomeClass::Property;
    land.kind = "land_transfer".into();
    land.period = Period::Quarter;
    assert!(matches!(
        p.set_income(hid.clone(), None, land.clone()).unwrap_err(),
        DoudiError::InvalidInput { .. }
    ));
    land.kind = "general".into();
    let land_id = p.set_income(hid.clone(), None, land.clone()).unwrap();
    let mut pension = wages(&head, 15_000);
    pension.income_class = IncomeClass::Transfer;
    pension.kind = "basic_pension_central".into();
    p.set_income(hid.clone(), None, pension).unwrap();
    // The son's wages: he is not co-resident, so they do not count.
    p.set_income(hid.clone(), None, wages(&son, 300_000))
        .unwrap();
    let mut negative = wages(&head, -1);
    negative.kind = "general".into();
    assert!(p.set_income(hid.clone(), None, negative).is_err());

    // An asset with its exemption, rigid expenditure with a receipt, a supporter paying support.
    p.set_asset(
        hid.clone(),
        None,
        AssetInput {
            kind: AssetKind::Vehicle,
            owner_member_id: Some(wife.clone()),
            description: Some("残疾人代步车".into()),
            value_fen: 800_000,
            exemption: Some("残疾人功能性补偿代步机动车".into()),
        },
    )
    .unwrap();
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let dialysis = ExpenditureInput {
        kind: ExpenditureKind::Medical,
        member_id: Some(head.clone()),
        description: Some("血液透析自付部分".into()),
        amount_fen: 1_200_000,
        incurred_on: (today - chrono::Duration::days(30)).to_string(),
    };
    assert!(
        p.set_expenditure(
            hid.clone(),
            None,
            ExpenditureInput {
                incurred_on: (today + chrono::Duration::days(1)).to_string(),
                ..dialysis.clone()
            }
        )
        .is_err()
    );
    let exp = p.set_expenditure(hid.clone(), None, dialysis).unwrap();
    let receipt = p.attach_receipt(hid.clone(), exp.clone(), photo()).unwrap();
    let supporter = SupporterInput {
        name: "王大明".into(),
        relation: "长子".into(),
        id_number: Some("370202198001010010".into()),
        able_to_support: Some(false),
        unable_reason: None,
        support_paid_fen: Some(60_000),
        support_paid_period: Some(Period::Quarter),
    };
    assert!(
        p.set_supporter(hid.clone(), None, supporter.clone())
            .is_err()
    );
    let sup = p
        .set_supporter(
            hid.clone(),
            None,
            SupporterInput {
                unable_reason: Some("本人低收入".into()),
                ..supporter
            },
        )
        .unwrap();

    let means = p.household_means(hid.clone()).unwrap();
    assert_eq!(means.income.len(), 4);
    assert_eq!(means.expenditures[0].receipts, vec![receipt.clone()]);
    assert_eq!(means.supporters[0].id, sup);
    assert_eq!(
        means.supporters[0].supporter.id_number.as_deref(),
        Some("370202198001010010")
    );
    assert_eq!(
        means.supporters[0].id_number_masked.as_deref(),
        Some("370202****0010")
    );
    let son_means = means.members.iter().find(|m| m.member_id == son).unwrap();
    assert_eq!(son_means.details, away);

    // The assessment: the son's wages left out (not co-resident), the 基础养老金 left out (the
    // region's policy does not include it), the supporter's 2,400 a year counted as support
    // received.
    let a = p.assessment(hid.clone(), None).unwrap();
    assert_eq!(a.household_size, Some(2));
    let all: String = a
        .indicators
        .iter()
        .flat_map(|i| &i.explanation)
        .map(|l| l.zh.as_str())
        .collect();
    assert!(all.contains("不计入：非共同生活成员的收入"), "{all}");
    assert!(all.contains("赡养（抚养、扶养）义务人第1项给付"), "{all}");
    assert!(all.contains("基础养老金"), "{all}");
    // 12,000 wages + 4,800 land + 2,400 support a year for two: 800 a month each.
    assert_eq!(a.annual_income_fen, Some((12_000 + 4_800 + 2_400) * 100));
    // Over 700 but under 1.5 × 700 per person: 边缘; the wife, with a grade 2 card and no
    // income of her own, may apply alone (参照单人户, DB2021 art. 8).
    assert_eq!(status(&a, IndicatorKind::NearDibao), IndicatorStatus::Met);
    assert_eq!(
        status(&a, IndicatorKind::SinglePerson),
        IndicatorStatus::Met
    );
    assert!(all.contains("李秀英持肢体残疾2级残疾人证"), "{all}");

    // Removing an entry recorded by mistake.
    p.remove_means_entry(hid.clone(), land_id.clone()).unwrap();
    assert!(p.remove_means_entry(hid.clone(), land_id).is_err());
    assert_eq!(p.household_means(hid.clone()).unwrap().income.len(), 3);

    // All of it reaches the server and a colleague's phone, receipt included.
    let s = p.sync_now(None).await.unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    assert_eq!(s.pending_uploads, 0);
    let d2 = tempfile::tempdir().unwrap();
    let colleague = phone(&app, d2.path(), "assist.qd").await;
    assert_eq!(
        colleague.household_means(hid.clone()).unwrap(),
        p.household_means(hid.clone()).unwrap()
    );
    assert_eq!(
        colleague.assessment(hid.clone(), None).unwrap(),
        p.assessment(hid.clone(), None).unwrap()
    );
}

fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `doudi demo`: a standard for the demo city, and households that are a 低保, a 边缘, a 特困, a
/// 刚性支出 and a not-eligible case, as the demo grid worker's phone assesses them offline.
async fn the_demo_shows_every_indicator(b: Backend) {
    let app = spawn_app(b).await;
    doudi_server::demo::seed(&app.state.db, &app.state.identity, &app.state.settings)
        .await
        .unwrap();
    let version = doudi_server::policies::version(&app.state.db)
        .await
        .unwrap();
    // Seeding again changes nothing.
    doudi_server::demo::seed(&app.state.db, &app.state.identity, &app.state.settings)
        .await
        .unwrap();
    assert_eq!(
        doudi_server::policies::version(&app.state.db)
            .await
            .unwrap(),
        version
    );
    let d = tempfile::tempdir().unwrap();
    let p = DoudiClient::open(
        d.path().to_string_lossy().into_owned(),
        KEY.to_vec(),
        app.base.clone(),
        None,
    )
    .unwrap();
    p.login(
        "demo-grid".into(),
        doudi_server::demo::DEMO_PASSWORD.into(),
        "演示手机".into(),
    )
    .await
    .unwrap();
    p.sync_now(None).await.unwrap();
    let households = p.households(String::new());
    assert!(households.len() >= 5, "{households:?}");
    let mut met = std::collections::BTreeMap::<String, Vec<IndicatorKind>>::new();
    for h in &households {
        let a = p.assessment(h.id.clone(), None).unwrap();
        let st = a.standard.as_ref().expect("a standard for the demo city");
        assert_eq!(
            (st.monthly_fen, st.region.as_deref()),
            (100_000, Some("370100000000"))
        );
        assert!(a.missing.is_empty(), "{}: {:?}", h.head_name, a.missing);
        met.insert(
            h.head_name.clone(),
            a.indicators
                .iter()
                .filter(|i| i.status == IndicatorStatus::Met)
                .map(|i| i.kind)
                .collect(),
        );
    }
    let has = |kind| met.values().any(|m| m.contains(&kind));
    for kind in [
        IndicatorKind::Dibao,
        IndicatorKind::NearDibao,
        IndicatorKind::Tekun,
        IndicatorKind::RigidExpenditure,
        IndicatorKind::SinglePerson,
    ] {
        assert!(has(kind), "no demo household is {kind:?}: {met:?}");
    }
    assert!(met.values().any(Vec::is_empty), "{met:?}");
    assert_eq!(met["赵德福"], [IndicatorKind::Dibao, IndicatorKind::Tekun]);
    assert_eq!(met["吴国庆"], [IndicatorKind::RigidExpenditure]);
    assert_eq!(met["钱志强"], []);

    // The demo's cases show the rest: 赵德福's 五有 gaps and self-care tier, and the 低保
    // application with a 近亲属备案 and its acceptance.
    let r = app
        .login_as("demo-county", doudi_server::demo::DEMO_PASSWORD, None)
        .await;
    let county = r.body["access_token"].as_str().unwrap().to_string();
    let gaps = app.get("/api/v1/tekun/care-gaps", &county).await;
    assert_eq!(gaps.status, StatusCode::OK, "{:?}", gaps.body);
    let people = gaps.body["people"].as_array().unwrap();
    assert!(
        people
            .iter()
            .any(|p| p["name"] == "赵德福" && p["missing"].as_array().unwrap().len() == 3),
        "{people:?}"
    );
    let q = app
        .get(
            "/api/v1/review/queue?status=all&purpose=investigation",
            &county,
        )
        .await;
    let items = q.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["county_visit_needed"] == true && i["accepted_on"].is_string()),
        "{items:?}"
    );
    let zhao = people.iter().find(|p| p["name"] == "赵德福").unwrap();
    let (mut b, _) =
        doudi_tests::console_login_form(&app, "demo-county", doudi_server::demo::DEMO_PASSWORD)
            .await;
    let (status, page) = b
        .get(&format!(
            "/console/households/{}",
            zhao["household_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("部分丧失生活自理能力"), "{page}");
    let (_, page) = b.get("/console/tekun/care-gaps").await;
    assert!(page.contains("赵德福"), "{page}");
    // The 特困 application in its 公示 has an objection and the 民主评议 held on it, whose signed
    // record the county reads.
    let tekun = items
        .iter()
        .find(|i| i["status"] == "approved")
        .expect("the 特困 application awaits confirmation");
    let (_, page) = b
        .get(&format!(
            "/console/visits/{}",
            tekun["visit_id"].as_str().unwrap()
        ))
        .await;
    assert!(
        page.contains("反映其侄子在县城务工") && page.contains("参加 11 人"),
        "{page}"
    );
    let at = page.find("签字记录</a>").expect("the signed record's link");
    let link = &page[page[..at].rfind("href=\"").unwrap() + 6..at - 2];
    let (status, viewer) = b.get(link).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let src = viewer
        .split("src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|s| s.starts_with("/console/blobs/"))
        .expect("the photo");
    let (status, _) = b.get(src).await;
    assert_eq!(status, StatusCode::OK, "{src}");
}

/// The application an investigation belongs to (申请受理) is recorded on the phone, offline: how
/// and when it was accepted, with its papers. A 代办 names the power of attorney among the
/// visit's photos; a bad day or photo is refused with the field named, and a visit of another
/// purpose takes none. Synced, the server's queue counts the case from the acceptance.
async fn the_phone_records_the_application_it_investigates(b: Backend) {
    let app = setup(b).await;
    let d = tempfile::tempdir().unwrap();
    let qd = phone(&app, d.path(), "grid.qd").await;
    let (hid, vid) = family_of_three(&qd, HukouType::Urban);
    let accepted = ApplicationInput {
        accepted_on: "2026-09-24".into(),
        channel: ApplicationChannel::InPerson,
        proxy_name: None,
        authorisation_photo: None,
        pledge_signed: true,
        data_check_authorised: true,
        kin_filing: true,
    };
    qd.set_application(vid.clone(), accepted.clone()).unwrap();
    assert_eq!(
        qd.visit(vid.clone()).unwrap().application,
        Some(accepted.clone())
    );

    let refused = |r: Result<(), DoudiError>| match r {
        Err(DoudiError::InvalidInput { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let bad_day = ApplicationInput {
        accepted_on: "2026-9-24号".into(),
        ..accepted.clone()
    };
    assert_eq!(
        refused(qd.set_application(vid.clone(), bad_day)),
        "accepted_on"
    );
    let bad_photo = ApplicationInput {
        channel: ApplicationChannel::Proxy,
        proxy_name: Some("村委会王主任".into()),
        authorisation_photo: Some("not-a-hash".into()),
        ..accepted.clone()
    };
    assert_eq!(
        refused(qd.set_application(vid.clone(), bad_photo)),
        "authorisation_photo"
    );
    let care = qd
        .start_visit(hid.clone(), doudi_sdk::VisitPurpose::CareVisit)
        .unwrap();
    assert_eq!(
        refused(qd.set_application(care, accepted.clone())),
        "visit_id"
    );
    // Nothing refused changed what was recorded.
    assert_eq!(qd.visit(vid.clone()).unwrap().application, Some(accepted));

    qd.sync_now(None).await.unwrap();
    let row = doudi_server::entity::visit::Entity::find_by_id(vid.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.accepted_on.as_deref(), Some("2026-09-24"));
    assert!(row.kin_filing);
}
