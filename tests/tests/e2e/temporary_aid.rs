//! 临时救助 as a case (docs/TEMPORARY_AID.md) over HTTP: 急难 reports that open cases whose aid is
//! given at 23 and at 25 hours (the report's flag and the case's clock measure the aid, not the
//! triage); the township and county routes; staged payments; a household reaching the yearly cap
//! and going to 一事一议 at the county; 跟进救助; and who may see and do what, by the place of
//! the emergency rather than the household's.

use doudi_protocol::doc::discovery::Urgency;
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::doc::{Household, UnixMillis};
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_protocol::rules::policy::PolicySettings;
use doudi_protocol::rules::{Cap, Money};
use doudi_tests::{Backend, Phone, Resp, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    emergency_reports_with_aid_at_23_and_25_hours,
    a_household_reaches_the_yearly_cap_and_goes_to_one_case_one_meeting,
    access_follows_the_place_of_the_emergency,
    the_console_shows_and_moves_a_case,
    the_demo_has_temporary_aid_cases,
    an_emergency_case_becomes_a_task_on_the_grid_workers_phone,
);

const GRID_A: &str = "370102001001-A";
const GRID_OTHER_TOWN: &str = "370102002001-A";
const HOUR: i64 = 3_600_000;

struct World {
    app: TestApp,
    phone: Phone,
    town: String,
    other_town: String,
    county: String,
    grid: String,
    /// (household id, member id) of 一村 8 号 in GRID_A.
    local: (String, String),
    /// (household id, member id) of a household registered in the other township (a migrant
    /// worker's 户籍).
    migrant: (String, String),
}

fn household(address: &str, name: &str) -> (Household, MemberId) {
    let mut h = Household {
        address: address.into(),
        ..Default::default()
    };
    let id = MemberId::generate().unwrap();
    h.members
        .insert(id, Member::new(name.to_string(), Relation::Head));
    (h, id)
}

/// 甲县 (370102) lets the township approve up to 3,000 yuan, caps a household at 30,000 yuan a
/// year, and wants the paperwork within 5 calendar days of the aid.
async fn world(b: Backend) -> World {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_OTHER_TOWN])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    app.county_policy(PolicySettings {
        temp_aid_township_limit: Some(Money::yuan(3_000)),
        temp_aid_yearly_cap: Some(Cap::Limited(Money::yuan(30_000))),
        emergency_paperwork_days: Some(5),
        ..Default::default()
    })
    .await;
    let mut phone = app.phone("grid.zhang").await;
    let (h, m) = household("一镇一村 8 号", "赵大伯");
    let hid = phone.replica.create(GRID_A, &h).unwrap().to_string();
    assert_eq!(app.sync(&mut phone).await.accepted.len(), 1);
    let mut sun = app.phone("grid.sun").await;
    let (h2, m2) = household("二镇一村 3 号", "钱师傅");
    let hid2 = sun
        .replica
        .create(GRID_OTHER_TOWN, &h2)
        .unwrap()
        .to_string();
    assert_eq!(app.sync(&mut sun).await.accepted.len(), 1);
    let town = app.login("town.zhao").await.0;
    let other_town = app.login("town.other").await.0;
    let county = app.login("county.qian").await.0;
    let grid = app.login("grid.zhang").await.0;
    World {
        app,
        phone,
        town,
        other_town,
        county,
        grid,
        local: (hid, m.to_string()),
        migrant: (hid2, m2.to_string()),
    }
}

fn ok(r: &Resp) -> &Value {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    &r.body
}

fn case_id(r: &Resp) -> String {
    ok(r)["case"]["case_id"].as_str().unwrap().to_string()
}

async fn open(w: &World, token: &str, kind: &str, who: &(String, String), at: i64) -> Resp {
    w.app
        .post(
            "/api/v1/temporary-aid",
            Some(token),
            json!({
                "kind": kind, "household_id": who.0, "member_id": who.1,
                "region_code": GRID_A, "place": "一镇一村 8 号", "reason": "房屋失火，衣物被褥烧毁",
                "reported_at_ms": at,
            }),
        )
        .await
}

async fn step(w: &World, token: &str, id: &str, what: &str, body: Value) -> Resp {
    w.app
        .post(
            &format!("/api/v1/temporary-aid/{id}/{what}"),
            Some(token),
            body,
        )
        .await
}

/// A submitted 急难 report filed `hours_ago` hours ago by the grid worker.
async fn emergency_report(w: &mut World, hours_ago: i64) -> (String, i64) {
    let mut r = doudi_tests::cases::report_with_photos(&w.phone.account_id, &[]);
    let at = doudi_server::auth::now_ms() - hours_ago * HOUR;
    r.reported_at = Some(UnixMillis(at));
    r.emergency_24h = true;
    r.urgency = Some(Urgency::Urgent);
    r.notes = Some("家中失火，断粮两天".into());
    let id = w.phone.replica.create(GRID_A, &r).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    (id, at)
}

/// The object `v` has exactly the properties the OpenAPI schema `name` declares, and none of
/// the required ones is null.
async fn matches_schema(app: &TestApp, name: &str, v: &Value) {
    let doc = app
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let schema = &doc["components"]["schemas"][name];
    let mut declared: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} in the OpenAPI document"))
        .keys()
        .map(String::as_str)
        .collect();
    let mut answered: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    declared.sort();
    answered.sort();
    assert_eq!(answered, declared, "{name}");
    // A required property is never answered as null.
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(!v[r].is_null(), "{name}.{r}");
    }
}

fn flagged(list: &Resp, report: &str) -> bool {
    list.body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report_id"] == report)
        .unwrap()["flagged"]
        .as_bool()
        .unwrap()
}

async fn emergency_reports_with_aid_at_23_and_25_hours(b: Backend) {
    let mut w = world(b).await;
    let (on_time, t1) = emergency_report(&mut w, 30).await;
    let (late, t2) = emergency_report(&mut w, 30).await;
    // 30 hours on, no aid: both flagged; assigning a verification visit does not clear it.
    let list = w.app.get("/api/v1/reports", &w.town).await;
    assert!(flagged(&list, &on_time) && flagged(&list, &late));

    let mut ids = Vec::new();
    for (report, at, hours) in [(&on_time, t1, 23), (&late, t2, 25)] {
        let r = w
            .app
            .post(
                &format!("/api/v1/reports/{report}/temporary-aid"),
                Some(&w.town),
                json!({ "household_id": w.local.0, "member_id": w.local.1, "place": "一镇一村 8 号" }),
            )
            .await;
        let c = &ok(&r)["case"];
        assert_eq!(c["kind"], "emergency", "a 急难 report opens a 急难 case");
        assert_eq!(
            c["reported_at_ms"],
            json!(at),
            "the report's time starts the clock"
        );
        assert_eq!(c["aid_due_at_ms"], json!(at + 24 * HOUR));
        assert_eq!(c["region_code"], GRID_A);
        assert_eq!(c["reason"], "家中失火，断粮两天");
        assert_eq!(c["person_name"], "赵大伯");
        let id = case_id(&r);
        // A report opens one case.
        let again = w
            .app
            .post(
                &format!("/api/v1/reports/{report}/temporary-aid"),
                Some(&w.town),
                json!({ "household_id": w.local.0, "member_id": w.local.1, "place": "一镇一村 8 号" }),
            )
            .await;
        assert_eq!(again.code(), "temp_aid.report_has_case");
        assert_eq!(again.body["details"]["case_id"], json!(id));
        let given = at + hours * HOUR;
        let r = step(
            &w,
            &w.town,
            &id,
            "aid",
            json!({ "amount_fen": 150_000, "given_at_ms": given, "note": "现金及被褥" }),
        )
        .await;
        let c = &ok(&r)["case"];
        assert_eq!(c["status"], "aid_given");
        assert_eq!(c["aid_given_at_ms"], json!(given));
        assert_eq!(c["aid_overdue"], json!(hours > 24), "aid at {hours} h");
        // Paperwork within 5 calendar days of the aid: the end of that day, China time.
        let due = c["paperwork_due_at_ms"].as_i64().unwrap();
        assert!(
            due > given + 4 * 24 * HOUR && due <= given + 6 * 24 * HOUR,
            "{c}"
        );
        assert_eq!(c["paperwork_overdue"], json!(false));
        assert_eq!(ok(&r)["payments"][0]["stage"], "advance");
        ids.push(id);
    }
    let list = w.app.get("/api/v1/reports", &w.town).await;
    assert!(!flagged(&list, &on_time), "aid at 23 h clears the flag");
    assert!(flagged(&list, &late), "aid at 25 h leaves it");
    let row = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report_id"] == on_time.as_str())
        .unwrap();
    assert_eq!(row["temp_aid_case_id"], json!(ids[0]));
    matches_schema(&w.app, "ReportItem", row).await;
    assert_eq!(row["aid_given_at_ms"], json!(t1 + 23 * HOUR));

    let overdue = w
        .app
        .get("/api/v1/temporary-aid?state=overdue", &w.town)
        .await;
    assert_eq!(ok(&overdue).as_array().unwrap().len(), 1);
    assert_eq!(overdue.strings("case_id"), vec![ids[1].as_str()]);
    let all = w
        .app
        .get("/api/v1/temporary-aid?kind=emergency", &w.town)
        .await;
    assert_eq!(all.strings("case_id").len(), 2);
    // The late one is listed first.
    assert_eq!(all.strings("case_id")[0], ids[1]);

    // Aid given 8 days ago on time, paperwork never handed in: its 5 days have run out.
    let old = open(&w, &w.town, "emergency", &w.local, t1 - 8 * 24 * HOUR).await;
    let old_id = case_id(&old);
    let r = step(
        &w,
        &w.town,
        &old_id,
        "aid",
        json!({ "amount_fen": 50_000, "given_at_ms": t1 - 8 * 24 * HOUR + 2 * HOUR }),
    )
    .await;
    let c = &ok(&r)["case"];
    assert_eq!(c["aid_overdue"], json!(false));
    assert_eq!(c["paperwork_overdue"], json!(true), "{c}");
    let overdue = w
        .app
        .get("/api/v1/temporary-aid?state=overdue", &w.town)
        .await;
    let mut got = overdue.strings("case_id");
    got.sort();
    let mut want = vec![ids[1].as_str(), old_id.as_str()];
    want.sort();
    assert_eq!(got, want);
    // Handing the paperwork in late keeps the mark.
    let r = step(
        &w,
        &w.town,
        &old_id,
        "approvals",
        json!({ "amount_fen": 50_000 }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["paperwork_overdue"], json!(true));

    // Aid twice, or on a 支出 case, is refused with a message to act on.
    let twice = step(&w, &w.town, &ids[0], "aid", json!({ "amount_fen": 100 })).await;
    assert_eq!(twice.code(), "temp_aid.wrong_state");
    let expense = open(
        &w,
        &w.town,
        "expense",
        &w.local,
        doudi_server::auth::now_ms(),
    )
    .await;
    let e = step(
        &w,
        &w.town,
        &case_id(&expense),
        "aid",
        json!({ "amount_fen": 100 }),
    )
    .await;
    assert_eq!(e.code(), "temp_aid.wrong_state");
    assert!(e.body["message"].as_str().unwrap().contains("支出型"));

    // The paperwork (the request for approval) is recorded; the timeline names who and when.
    let r = step(
        &w,
        &w.town,
        &ids[0],
        "approvals",
        json!({ "amount_fen": 150_000 }),
    )
    .await;
    let d = ok(&r);
    assert_eq!(d["case"]["status"], "pending");
    assert!(d["case"]["paperwork_done_at_ms"].is_i64());
    assert_eq!(d["approvals"][0]["route"], "township");
    let actions: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["open", "give_aid", "request"]);
    assert!(
        d["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["by"] != "" && e["at_ms"].is_i64())
    );
    // Approving covers the advance: nothing is left to pay.
    let r = step(
        &w,
        &w.town,
        &ids[0],
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "paid");
    assert_eq!(r.body["payments"][0]["round"], json!(1));
    let r = step(
        &w,
        &w.town,
        &ids[0],
        "close",
        json!({ "note": "已补齐手续" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "closed");
    assert!(!w.app.audit("temp_aid.change").await.is_empty());
}

async fn a_household_reaches_the_yearly_cap_and_goes_to_one_case_one_meeting(b: Backend) {
    let w = world(b).await;
    let now = doudi_server::auth::now_ms();
    // Case A (支出型): 2,500 yuan, within the township's 3,000: the township approves; paid in
    // two stages.
    let a = case_id(&open(&w, &w.town, "expense", &w.local, now).await);
    let r = step(
        &w,
        &w.town,
        &a,
        "approvals",
        json!({ "amount_fen": 250_000 }),
    )
    .await;
    assert_eq!(ok(&r)["approvals"][0]["route"], "township");
    assert_eq!(r.body["approvals"][0]["received_before_fen"], json!(0));
    let r = step(
        &w,
        &w.town,
        &a,
        "payments",
        json!({ "amount_fen": 100_000 }),
    )
    .await;
    assert_eq!(r.code(), "temp_aid.wrong_state", "nothing approved yet");
    let r = step(
        &w,
        &w.town,
        &a,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "approved");
    let r = step(
        &w,
        &w.town,
        &a,
        "payments",
        json!({ "amount_fen": 100_000 }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "approved", "one stage of two");
    let r = step(
        &w,
        &w.town,
        &a,
        "payments",
        json!({ "amount_fen": 200_000 }),
    )
    .await;
    assert_eq!(r.code(), "temp_aid.payment_exceeds_approval");
    assert_eq!(r.body["details"]["remaining_fen"], json!(150_000));
    let r = step(
        &w,
        &w.town,
        &a,
        "payments",
        json!({ "amount_fen": 150_000 }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "paid");
    assert_eq!(r.body["case"]["paid_fen"], json!(250_000));
    assert_eq!(r.body["yearly_total_fen"], json!(250_000));
    assert_eq!(r.body["yearly_cap_fen"], json!(3_000_000));

    // Case B: 26,000 yuan, above the township's limit, within the cap (28,500): the county's.
    let b_id = case_id(&open(&w, &w.town, "expense", &w.local, now).await);
    let r = step(
        &w,
        &w.town,
        &b_id,
        "approvals",
        json!({ "amount_fen": 2_600_000 }),
    )
    .await;
    assert_eq!(ok(&r)["approvals"][0]["route"], "county");
    assert_eq!(
        r.body["approvals"][0]["received_before_fen"],
        json!(250_000)
    );
    let r = step(
        &w,
        &w.town,
        &b_id,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("县级"));
    let r = step(
        &w,
        &w.county,
        &b_id,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "approved");
    let r = step(
        &w,
        &w.town,
        &b_id,
        "payments",
        json!({ "amount_fen": 2_600_000 }),
    )
    .await;
    assert_eq!(ok(&r)["yearly_total_fen"], json!(2_850_000));

    // Case C (急难): 1,000 yuan given first (29,500 this year), then 2,000 requested in all:
    // 28,500 before it + 2,000 > 30,000, so 一事一议 at the county, not a refusal.
    let c = case_id(&open(&w, &w.town, "emergency", &w.local, now - HOUR).await);
    let r = step(&w, &w.town, &c, "aid", json!({ "amount_fen": 100_000 })).await;
    assert_eq!(ok(&r)["yearly_total_fen"], json!(2_950_000));
    let r = step(
        &w,
        &w.town,
        &c,
        "approvals",
        json!({ "amount_fen": 50_000 }),
    )
    .await;
    assert_eq!(
        r.code(),
        "request.invalid",
        "the request must cover the advance"
    );
    let r = step(
        &w,
        &w.town,
        &c,
        "approvals",
        json!({ "amount_fen": 200_000 }),
    )
    .await;
    let ap = &ok(&r)["approvals"][0];
    assert_eq!(ap["route"], "meeting");
    assert_eq!(ap["route_label"], "县级一事一议");
    assert_eq!(ap["received_before_fen"], json!(2_850_000));
    assert_eq!(ap["cap_fen"], json!(3_000_000));
    let r = step(
        &w,
        &w.town,
        &c,
        "decision",
        json!({ "decision": "approve", "note": "同意" }),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the township cannot hold the meeting"
    );
    let r = step(
        &w,
        &w.county,
        &c,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(r.code(), "temp_aid.meeting_record_required");
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = step(
        &w,
        &w.county,
        &c,
        "decision",
        json!({ "decision": "approve", "note": "12月6日县民政局一事一议：局长、救助股、乡镇参加，同意追加" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "approved");
    let r = step(
        &w,
        &w.town,
        &c,
        "payments",
        json!({ "amount_fen": 100_000 }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "paid");
    assert_eq!(r.body["yearly_total_fen"], json!(3_050_000));

    // 跟进救助 on case A: a new round, routed against the year's 30,500: 一事一议 again.
    let r = step(
        &w,
        &w.town,
        &a,
        "approvals",
        json!({ "amount_fen": 10_000 }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "pending");
    assert_eq!(r.body["approvals"][1]["round"], json!(2));
    assert_eq!(r.body["approvals"][1]["route"], "meeting");
    let r = step(
        &w,
        &w.county,
        &a,
        "decision",
        json!({ "decision": "refuse" }),
    )
    .await;
    assert_eq!(r.code(), "review.comment_required");
    let r = step(
        &w,
        &w.county,
        &a,
        "decision",
        json!({ "decision": "refuse", "note": "已足额救助" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "refused");
    // What the server answers is what the OpenAPI document describes.
    for (name, v) in [
        ("CaseDetail", &r.body),
        ("CaseView", &r.body["case"]),
        ("ApprovalView", &r.body["approvals"][0]),
        ("PaymentView", &r.body["payments"][0]),
        ("EventView", &r.body["events"][0]),
    ] {
        matches_schema(&w.app, name, v).await;
    }
    let events: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "open",
            "request",
            "approve",
            "pay",
            "pay",
            "follow_up",
            "refuse"
        ]
    );
}

async fn access_follows_the_place_of_the_emergency(b: Backend) {
    let w = world(b).await;
    let now = doudi_server::auth::now_ms();
    // A migrant worker whose household is registered in the other township, helped where the
    // emergency happened (一镇): the case is 一镇's.
    let r = open(&w, &w.town, "emergency", &w.migrant, now).await;
    let id = case_id(&r);
    assert_eq!(r.body["case"]["person_name"], "钱师傅");
    assert_eq!(r.body["case"]["region_code"], GRID_A);
    // The household's township does not see it; another township cannot open one in 一镇.
    let other = w
        .app
        .get(&format!("/api/v1/temporary-aid/{id}"), &w.other_town)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let list = w
        .app
        .get("/api/v1/temporary-aid?state=all", &w.other_town)
        .await;
    assert!(ok(&list).as_array().unwrap().is_empty());
    let r = step(&w, &w.other_town, &id, "aid", json!({ "amount_fen": 100 })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = open(&w, &w.other_town, "emergency", &w.migrant, now).await;
    assert_eq!(r.code(), "policy.denied");
    // A grid worker reads the case of the grid but neither lists nor changes cases; one of
    // another grid does not see it.
    let g = w
        .app
        .get(&format!("/api/v1/temporary-aid/{id}"), &w.grid)
        .await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(
        w.app.get("/api/v1/temporary-aid", &w.grid).await.code(),
        "policy.denied"
    );
    let r = step(&w, &w.grid, &id, "aid", json!({ "amount_fen": 100 })).await;
    assert_eq!(r.code(), "policy.denied");
    let sun = w.app.login("grid.sun").await.0;
    let s = w
        .app
        .get(&format!("/api/v1/temporary-aid/{id}"), &sun)
        .await;
    assert_eq!(s.status, StatusCode::NOT_FOUND);
    // Bad input is named.
    let r = w
        .app
        .post(
            "/api/v1/temporary-aid",
            Some(&w.town),
            json!({ "kind": "emergency", "household_id": w.local.0, "member_id": "x",
                    "region_code": GRID_A, "place": "p", "reason": "r" }),
        )
        .await;
    assert_eq!(r.body["details"]["field"], "member_id");
    let r = open(&w, &w.town, "emergency", &w.local, now + 48 * HOUR).await;
    assert_eq!(r.body["details"]["field"], "reported_at_ms");
    let r = step(&w, &w.town, &id, "aid", json!({ "amount_fen": 0 })).await;
    assert_eq!(r.body["details"]["field"], "amount_fen");
    // Denials are audited.
    assert!(!w.app.audit("policy.denied").await.is_empty());
}

async fn the_console_shows_and_moves_a_case(b: Backend) {
    let mut w = world(b).await;
    let now = doudi_server::auth::now_ms();
    let id = case_id(&open(&w, &w.town, "emergency", &w.local, now - 26 * HOUR).await);
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    // From a 急难 report's page: the form opens a case and the page then links to it.
    let (report, _) = emergency_report(&mut w, 2).await;
    let (_, page) = town.get(&format!("/console/reports/{report}")).await;
    assert!(page.contains("开立临时救助"), "{page}");
    let csrf = doudi_tests::csrf_of(&page);
    let r = town
        .post(
            &format!("/console/reports/{report}/temporary-aid"),
            &[
                ("csrf", csrf.as_str()),
                ("kind", "emergency"),
                ("household_id", w.local.0.as_str()),
                ("member_id", w.local.1.as_str()),
                ("place", "一镇一村 8 号"),
            ],
        )
        .await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );
    let (_, page) = town.get(&format!("/console/reports/{report}")).await;
    assert!(
        page.contains("查看临时救助案件") && page.contains("尚未救助"),
        "{page}"
    );
    let (status, page) = town.get("/console/temporary-aid?state=overdue").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("赵大伯") && page.contains("先行救助已超时"),
        "{page}"
    );
    let (_, page) = town.get(&format!("/console/temporary-aid/{id}")).await;
    assert!(
        page.contains("急难型") && page.contains("登记先行救助"),
        "{page}"
    );
    let csrf = doudi_tests::csrf_of(&page);
    let r = town
        .post(
            &format!("/console/temporary-aid/{id}/aid"),
            &[("csrf", &csrf), ("amount_yuan", "abc")],
        )
        .await;
    let body = r.text().await.unwrap();
    assert!(body.contains("金额"), "{body}");
    let r = town
        .post(
            &format!("/console/temporary-aid/{id}/aid"),
            &[("csrf", &csrf), ("amount_yuan", "800.50")],
        )
        .await;
    assert!(r.status().is_redirection() || r.status().is_success());
    let (_, page) = town.get(&format!("/console/temporary-aid/{id}")).await;
    assert!(
        page.contains("已先行救助") && page.contains("800.50"),
        "{page}"
    );
    // The household's page lists its cases and the year's total.
    let (_, page) = town
        .get(&format!("/console/households/{}", w.local.0))
        .await;
    assert!(page.contains("本年度已救助 800.50 元"), "{page}");
}

async fn the_demo_has_temporary_aid_cases(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_demo_twice().await;
    let town = app.demo_token("demo-town").await;
    let all = app.get("/api/v1/temporary-aid?state=all", &town).await;
    let cases = ok(&all).as_array().unwrap();
    assert_eq!(cases.len(), 3, "{all:?}");
    let overdue: Vec<bool> = cases
        .iter()
        .map(|c| c["aid_overdue"].as_bool().unwrap())
        .collect();
    assert_eq!(overdue.iter().filter(|o| **o).count(), 1);
    let meeting = cases.iter().find(|c| c["status"] == "pending").unwrap();
    let d = app
        .get(
            &format!(
                "/api/v1/temporary-aid/{}",
                meeting["case_id"].as_str().unwrap()
            ),
            &town,
        )
        .await;
    assert_eq!(
        ok(&d)["approvals"].as_array().unwrap().last().unwrap()["route"],
        "meeting"
    );
    // The demo grid worker has a 急难核查 task for each open 急难 case, due when its aid is.
    let grid = app.demo_token("demo-grid").await;
    let tasks = app.get("/api/v1/tasks", &grid).await;
    let checks: Vec<&Value> = tasks
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "temp_aid_check")
        .collect();
    assert!(!checks.is_empty(), "{:?}", tasks.body);
    for t in checks {
        let case = cases.iter().find(|c| c["case_id"] == t["case_id"]).unwrap();
        assert_eq!(case["kind"], "emergency");
        assert_eq!(t["due_at_ms"], case["aid_due_at_ms"]);
    }
}

/// The phone's tasks of `kind`.
fn phone_tasks(phone: &Phone, kind: &str) -> Vec<doudi_protocol::sync::WireTask> {
    phone
        .replica
        .tasks()
        .iter()
        .filter(|t| t.kind == kind)
        .cloned()
        .collect()
}

/// A visit of `purpose` to `household`, submitted from the grid worker's phone.
async fn field_visit(
    w: &mut World,
    household: &str,
    assistant: &str,
    purpose: doudi_protocol::doc::visit::Purpose,
) {
    let mut v = doudi_tests::cases::submitted_visit(
        household.parse().unwrap(),
        [
            (w.phone.account_id.as_str(), "张网格"),
            (assistant, "刘协理"),
        ],
    );
    v.purpose = purpose;
    w.phone.replica.create(GRID_A, &v).unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
}

/// A 急难 case in GRID_A reaches the grid worker's phone as a `temp_aid_check` task with the
/// case, the household and the 先行救助 due time; a grid worker elsewhere does not get it; the
/// 急难核查 visit closes it. Paid in full, the case gives a 回访 task where the region sets
/// `report_follow_up_days`, which the 回访 visit closes.
async fn an_emergency_case_becomes_a_task_on_the_grid_workers_phone(b: Backend) {
    use doudi_protocol::doc::visit::Purpose;
    use sea_orm::EntityTrait;
    let mut w = world(b).await;
    w.app
        .county_policy(PolicySettings {
            temp_aid_township_limit: Some(Money::yuan(3_000)),
            temp_aid_yearly_cap: Some(Cap::Limited(Money::yuan(30_000))),
            emergency_paperwork_days: Some(5),
            report_follow_up_days: Some(7),
            ..Default::default()
        })
        .await;
    let assistant = w
        .app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let now = doudi_server::auth::now_ms();
    let r = open(&w, &w.town, "emergency", &w.local, now - HOUR).await;
    let id = case_id(&r);
    let aid_due = r.body["case"]["aid_due_at_ms"].as_i64().unwrap();
    assert_eq!(aid_due, now - HOUR + 24 * HOUR);
    let household = w.local.0.clone();

    // The grid worker's phone gets it with the case, the household and the aid's due time, and
    // enough to show offline what it is about.
    w.app.sync(&mut w.phone).await;
    let tasks = phone_tasks(&w.phone, "temp_aid_check");
    assert_eq!(tasks.len(), 1, "{:?}", w.phone.replica.tasks());
    let t = &tasks[0];
    assert_eq!(t.case_id.as_deref(), Some(id.as_str()));
    assert_eq!(t.household_id.as_deref(), Some(w.local.0.as_str()));
    assert_eq!(t.due_at_ms, Some(aid_due));
    assert!(t.assigned);
    let note = t.note.as_deref().unwrap();
    assert!(
        note.contains("急难") && note.contains("赵大伯") && note.contains("先行救助须于"),
        "{note}"
    );
    let listed = w.app.get("/api/v1/tasks", &w.grid).await;
    let row = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "temp_aid_check")
        .cloned()
        .unwrap();
    assert_eq!(row["case_id"], id.as_str());
    assert_eq!(row["due_at_ms"], json!(aid_due));

    // A grid worker of another township does not.
    let mut sun = w.app.phone("grid.sun").await;
    w.app.sync(&mut sun).await;
    assert!(phone_tasks(&sun, "temp_aid_check").is_empty());
    let theirs = w.app.login("grid.sun").await.0;
    let listed = w.app.get("/api/v1/tasks", &theirs).await;
    assert!(!listed.strings("kind").contains(&"temp_aid_check"));

    // A 回访 visit does not close it; the 急难核查 visit does.
    field_visit(&mut w, &household, &assistant, Purpose::FollowUp).await;
    w.app.sync(&mut w.phone).await;
    assert_eq!(phone_tasks(&w.phone, "temp_aid_check").len(), 1);
    field_visit(&mut w, &household, &assistant, Purpose::EmergencyCheck).await;
    w.app.sync(&mut w.phone).await;
    assert!(phone_tasks(&w.phone, "temp_aid_check").is_empty());
    let stored = doudi_server::entity::task::Entity::find_by_id(t.id.clone())
        .one(&w.app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "done");

    // Aid given, approved, paid: the 回访 task, due 7 days on, for the household.
    let r = step(&w, &w.town, &id, "aid", json!({ "amount_fen": 100_000 })).await;
    ok(&r);
    let r = step(
        &w,
        &w.town,
        &id,
        "approvals",
        json!({ "amount_fen": 100_000 }),
    )
    .await;
    ok(&r);
    assert!(phone_tasks(&w.phone, "temp_aid_follow_up").is_empty());
    let r = step(
        &w,
        &w.town,
        &id,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(ok(&r)["case"]["status"], "paid");
    w.app.sync(&mut w.phone).await;
    let follow = phone_tasks(&w.phone, "temp_aid_follow_up");
    assert_eq!(follow.len(), 1, "{:?}", w.phone.replica.tasks());
    assert_eq!(follow[0].case_id.as_deref(), Some(id.as_str()));
    let today = doudi_server::review::deadlines::today().unwrap();
    assert_eq!(
        follow[0].due_at_ms,
        doudi_server::review::recheck::end_of_day_ms(today + chrono::Days::new(7))
    );
    field_visit(&mut w, &household, &assistant, Purpose::FollowUp).await;
    w.app.sync(&mut w.phone).await;
    assert!(phone_tasks(&w.phone, "temp_aid_follow_up").is_empty());

    // A case closed before its check supersedes the check's task.
    let r = open(&w, &w.town, "emergency", &w.local, now).await;
    let second = case_id(&r);
    w.app.sync(&mut w.phone).await;
    assert_eq!(phone_tasks(&w.phone, "temp_aid_check").len(), 1);
    let r = step(
        &w,
        &w.town,
        &second,
        "close",
        json!({ "note": "已由其他渠道救助" }),
    )
    .await;
    ok(&r);
    w.app.sync(&mut w.phone).await;
    assert!(phone_tasks(&w.phone, "temp_aid_check").is_empty());
}
