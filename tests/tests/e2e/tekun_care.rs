//! 特困 self-care and 五有 (docs/REVIEW.md, "特困 self-care and 五有"): a phone (the real SDK)
//! records a 分散供养 person's self-care assessment, a reported change and the care plan; the
//! console and the API show the tier, the scheduler opens and closes the re-assessment task, and
//! the care-gaps list shows the person until all five items are recorded, in the reader's
//! regions only.

use std::sync::Arc;

use doudi_protocol::doc::household::Programme;
use doudi_protocol::role::Role;
use doudi_sdk::{
    CareAgreementInput, CarePlanInput, CarePlanItem, DailyActivity, DoudiClient, DoudiError,
    SelfCareAssessmentInput, SelfCareTier, VisitPlan,
};
use doudi_server::entity::task;
use doudi_server::review::{deadlines, recheck};
use doudi_tests::{Backend, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

both_backends!(a_dispersed_persons_self_care_and_care_plan_from_phone_to_console);

const KEY: [u8; 32] = [0x27; 32];
const GRID_A: &str = "370102001001-A";

async fn sync(p: &DoudiClient) {
    let s = p.sync_now(None).await.unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
}

fn assessment(on: &str, not_managed: Vec<DailyActivity>) -> SelfCareAssessmentInput {
    SelfCareAssessmentInput {
        assessed_on: on.into(),
        assessor: "乡镇评估员刘敏".into(),
        not_managed,
    }
}

/// The `self_care_reassessment` tasks of a household: (status, due_at_ms).
async fn reassessments(app: &TestApp, hid: &str) -> Vec<(String, Option<i64>)> {
    let mut v: Vec<_> = task::Entity::find()
        .filter(task::Column::HouseholdId.eq(hid))
        .filter(task::Column::Kind.eq("self_care_reassessment"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.status, t.due_at_ms))
        .collect();
    v.sort();
    v
}

/// The missing items of `member` in the care-gaps list as `reader` sees it; `None` when not
/// listed.
async fn gaps_of(app: &TestApp, reader: &str, member: &str) -> Option<Vec<String>> {
    let (token, _, _) = app.login(reader).await;
    let r = app.get("/api/v1/tekun/care-gaps", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["more"], Value::Bool(false));
    r.body["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["member_id"] == member)
        .map(|p| {
            p["missing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["code"].as_str().unwrap().to_owned())
                .collect()
        })
}

async fn page(app: &TestApp, who: &str, path: &str) -> String {
    let (mut b, _) = console_login(app, who).await;
    let (status, page) = b.get(path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

async fn a_dispersed_persons_self_care_and_care_plan_from_phone_to_console(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let phone: Arc<DoudiClient> = app.sdk_phone(dir.path(), &KEY, "grid.zhang").await;
    sync(&phone).await;
    let hid = phone
        .create_household(None, "一镇一村 8 号".into(), "张老汉".into(), None)
        .unwrap();
    sync(&phone).await;
    doudi_tests::cases::approve(
        &app,
        &hid,
        Programme::TekunDispersed,
        1_767_225_600_000, // 2026-01-01
        "county.qian",
    )
    .await;
    sync(&phone).await;
    let member = phone.household_means(hid.clone()).unwrap().members[0]
        .member_id
        .clone();

    // Approved, nothing recorded yet: all five items missing, in the township's list only.
    let all: Vec<String> = [
        "agreement",
        "service_standard",
        "visit_plan",
        "emergency_contact",
        "review_on",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(gaps_of(&app, "town.zhao", &member).await, Some(all));
    assert_eq!(gaps_of(&app, "town.other", &member).await, None);

    // The phone refuses what the rules refuse, in Chinese first.
    use DailyActivity::*;
    let e = phone
        .record_self_care_assessment(
            hid.clone(),
            member.clone(),
            assessment("2026-09-01", vec![Eating, Eating]),
        )
        .unwrap_err();
    assert!(
        matches!(&e, DoudiError::InvalidInput { field, message_zh, .. } if field == "not_managed" && message_zh.contains("重复")),
        "{e:?}"
    );
    let e = phone
        .record_self_care_assessment(
            hid.clone(),
            member.clone(),
            SelfCareAssessmentInput {
                assessor: " ".into(),
                ..assessment("2026-09-01", vec![])
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, DoudiError::InvalidInput { field, .. } if field.ends_with("assessor")),
        "{e:?}"
    );
    assert!(
        phone
            .report_self_care_change(hid.clone(), member.clone(), "2999-01-01".into())
            .is_err()
    );

    // Four activities not managed: 完全丧失.
    let tier = phone
        .record_self_care_assessment(
            hid.clone(),
            member.clone(),
            assessment("2026-09-01", vec![Eating, Dressing, Toileting, Bathing]),
        )
        .unwrap();
    assert_eq!(tier, SelfCareTier::FullyLost);
    sync(&phone).await;
    let household_page = format!("/console/households/{hid}");
    let p = page(&app, "county.qian", &household_page).await;
    assert!(p.contains("完全丧失生活自理能力（4项不能自理"), "{p}");
    assert!(p.contains("缺照料服务协议"), "{p}");

    // A reported change on Wednesday 30 September 2026: due 10 working days later, across the
    // National Day holiday (1–7 October) and the Saturday 10 October working day: 20 October.
    phone
        .report_self_care_change(hid.clone(), member.clone(), "2026-09-30".into())
        .unwrap();
    let care = &phone.household_means(hid.clone()).unwrap().members[0].care;
    assert!(care.reassessment_due);
    assert_eq!(care.tier, Some(SelfCareTier::FullyLost));
    sync(&phone).await;
    let today = deadlines::today().unwrap();
    recheck::run(&app.state.db, today).await.unwrap();
    let due = recheck::end_of_day_ms("2026-10-20".parse().unwrap());
    assert_eq!(reassessments(&app, &hid).await, [("open".to_string(), due)]);
    // Running again creates nothing new.
    recheck::run(&app.state.db, today).await.unwrap();
    assert_eq!(reassessments(&app, &hid).await.len(), 1);
    let p = page(&app, "county.qian", &household_page).await;
    assert!(p.contains("2026-09-30报告状况变化，待复评"), "{p}");

    // The re-assessment closes the task; the tier is the new one.
    let tier = phone
        .record_self_care_assessment(
            hid.clone(),
            member.clone(),
            assessment("2026-10-12", vec![Bathing]),
        )
        .unwrap();
    assert_eq!(tier, SelfCareTier::PartlyLost);
    sync(&phone).await;
    recheck::run(&app.state.db, today).await.unwrap();
    assert_eq!(
        reassessments(&app, &hid).await,
        [("superseded".to_string(), due)]
    );
    let p = page(&app, "county.qian", &household_page).await;
    assert!(p.contains("部分丧失生活自理能力（1项不能自理：洗澡"), "{p}");
    assert!(!p.contains("待复评"), "{p}");

    // 五有: an agreement ending before it starts is refused; part of the plan leaves the rest
    // listed; all five take the person off the list.
    let agreement = CareAgreementInput {
        caregiver: "邻居王大姐".into(),
        starts_on: "2026-10-01".into(),
        ends_on: "2026-09-30".into(),
    };
    let mut plan = CarePlanInput {
        agreement: Some(agreement.clone()),
        service_standard: None,
        visit_plan: Some(VisitPlan::Weekly),
        emergency_contact: None,
        review_on: None,
    };
    let e = phone
        .set_care_plan(hid.clone(), member.clone(), Some(plan.clone()))
        .unwrap_err();
    assert!(
        matches!(&e, DoudiError::InvalidInput { field, .. } if field.ends_with("agreement.ends_on")),
        "{e:?}"
    );
    plan.agreement = Some(CareAgreementInput {
        ends_on: "2027-09-30".into(),
        ..agreement
    });
    phone
        .set_care_plan(hid.clone(), member.clone(), Some(plan.clone()))
        .unwrap();
    assert_eq!(
        phone.household_means(hid.clone()).unwrap().members[0]
            .care
            .care_plan_missing,
        [
            CarePlanItem::ServiceStandard,
            CarePlanItem::EmergencyContact,
            CarePlanItem::ReviewDate
        ]
    );
    sync(&phone).await;
    assert_eq!(
        gaps_of(&app, "town.zhao", &member).await,
        Some(vec![
            "service_standard".to_string(),
            "emergency_contact".to_string(),
            "review_on".to_string()
        ])
    );
    let list = page(&app, "town.zhao", "/console/tekun/care-gaps").await;
    assert!(
        list.contains("张老汉") && list.contains("照料服务标准"),
        "{list}"
    );
    assert!(
        !page(&app, "town.other", "/console/tekun/care-gaps")
            .await
            .contains("张老汉")
    );

    plan.service_standard = Some("每日送餐一次，每周打扫两次".into());
    plan.emergency_contact = Some("侄子张强 13900001111".into());
    plan.review_on = Some("2027-01-01".into());
    phone
        .set_care_plan(hid.clone(), member.clone(), Some(plan))
        .unwrap();
    sync(&phone).await;
    assert_eq!(gaps_of(&app, "town.zhao", &member).await, None);
    let list = page(&app, "town.zhao", "/console/tekun/care-gaps").await;
    assert!(!list.contains("张老汉"), "{list}");
    let p = page(&app, "county.qian", &household_page).await;
    assert!(
        p.contains("照料服务协议：邻居王大姐，2026-10-01 至 2027-09-30")
            && p.contains("探访计划：每周探访"),
        "{p}"
    );
    assert!(!p.contains("缺照料"), "{p}");
}
