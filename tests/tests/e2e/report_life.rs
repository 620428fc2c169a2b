//! A discovery report's whole life (docs/REVIEW.md) over HTTP and the console, with the phone (the
//! replica) filing the report and submitting the 主动发现核查 and 回访 visits: submitted →
//! screened → registered → verified → referred (with its 回访 task where the region sets
//! `report_follow_up_days`) → closed, each step in the report's history with who and when;
//! every step refused from the wrong state; another township refused.

use doudi_protocol::doc::DiscoveryReport;
use doudi_protocol::doc::discovery::DiscoveryStatus;
use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::role::Role;
use doudi_protocol::rules::policy::PolicySettings;
use doudi_tests::{Backend, Phone, Resp, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    a_report_goes_through_every_state,
    steps_from_the_wrong_state_are_refused,
    another_township_is_refused,
    the_demo_has_reports_in_every_state,
);

const GRID_A: &str = "370102001001-A";

struct World {
    app: TestApp,
    phone: Phone,
    town: String,
    town_id: String,
    worker_id: String,
    assistant_id: String,
    /// A household on record in the grid.
    household: String,
    /// A submitted report about a person not on record.
    report: String,
}

/// The fixture regions, a grid worker, the township's reviewer and another township's; the
/// county's `report_follow_up_days` when given; a household and a report filed from the phone.
async fn world(b: Backend, follow_up_days: Option<u32>) -> World {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let worker_id = app
        .create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let assistant_id = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let town_id = app
        .create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    if follow_up_days.is_some() {
        app.county_policy(PolicySettings {
            report_follow_up_days: follow_up_days,
            ..Default::default()
        })
        .await;
    }
    let mut phone = app.phone("grid.zhang").await;
    let h = doudi_tests::cases::household("济南市历下区一镇一村 12 号");
    let household = phone.replica.create(GRID_A, &h).unwrap().to_string();
    let r = doudi_tests::cases::report_with_photos(&phone.account_id, &[]);
    let report = phone.replica.create(GRID_A, &r).unwrap().to_string();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    let town = app.login("town.zhao").await.0;
    World {
        app,
        phone,
        town,
        town_id,
        worker_id,
        assistant_id,
        household,
        report,
    }
}

impl World {
    async fn step(&self, step: &str, body: Value) -> Resp {
        self.app
            .post(
                &format!("/api/v1/reports/{}/{step}", self.report),
                Some(&self.town),
                body,
            )
            .await
    }

    async fn assign(&self) -> Resp {
        self.step("assign", json!({ "assignee": self.worker_id }))
            .await
    }

    async fn register(&self) -> Resp {
        self.step("register", json!({ "household_id": self.household }))
            .await
    }

    async fn refer(&self) -> Resp {
        self.step(
            "refer",
            json!({ "programme": "dibao", "referred_on": today(), "note": "已告知申请材料" }),
        )
        .await
    }

    /// A visit of `purpose` to the household, submitted from the phone (naming the report when
    /// it is a 主动发现核查); returns its id.
    async fn visit(&mut self, purpose: Purpose) -> String {
        let mut v = doudi_tests::cases::submitted_visit(
            self.household.parse().unwrap(),
            [
                (self.phone.account_id.as_str(), "张网格"),
                (self.assistant_id.as_str(), "刘协理"),
            ],
        );
        v.purpose = purpose;
        if purpose == Purpose::DiscoveryCheck {
            v.report = Some(self.report.parse().unwrap());
        }
        let id = self.phone.replica.create(GRID_A, &v).unwrap().to_string();
        let o = self.app.sync(&mut self.phone).await;
        assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
        id
    }

    /// The grid worker's open tasks of `kind` for the report: (household, due).
    async fn tasks(&self, kind: &str) -> Vec<(Option<String>, Option<i64>)> {
        let token = self.app.login("grid.zhang").await.0;
        let t = self.app.get("/api/v1/tasks", &token).await;
        t.body
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == kind && t["report_id"] == self.report.as_str())
            .map(|t| {
                (
                    t["household_id"].as_str().map(str::to_string),
                    t["due_at_ms"].as_i64(),
                )
            })
            .collect()
    }

    async fn status(&mut self) -> DiscoveryStatus {
        self.app.sync(&mut self.phone).await;
        let r: DiscoveryReport = self.phone.replica.read(&self.report).unwrap();
        r.status
    }
}

fn today() -> String {
    doudi_server::review::deadlines::today()
        .unwrap()
        .to_string()
}

async fn a_report_goes_through_every_state(b: Backend) {
    let mut w = world(b, Some(30)).await;
    assert_eq!(w.status().await, DiscoveryStatus::Submitted);

    // Screened: a verification visit assigned, which reaches the grid worker.
    let r = w.assign().await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(w.status().await, DiscoveryStatus::Screened);
    assert_eq!(w.tasks("verify_report").await.len(), 1);

    // Registered: linked to the household on record in the grid.
    let r = w.register().await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["household_id"], w.household.as_str());
    assert_eq!(w.status().await, DiscoveryStatus::Registered);

    // Verified: not before the 主动发现核查 visit is in; the visit from the phone closes the task
    // and, as it syncs, verifies the report by itself, in the name of its author.
    let r = w.step("verify", json!({})).await;
    assert_eq!(r.code(), "report.visit_missing", "{:?}", r.body);
    assert_eq!(r.status, StatusCode::CONFLICT);
    let before = doudi_server::auth::now_ms();
    let visit = w.visit(Purpose::DiscoveryCheck).await;
    assert!(
        w.tasks("verify_report").await.is_empty(),
        "the visit closed its task"
    );
    assert_eq!(w.status().await, DiscoveryStatus::Verified);
    let r = w.step("verify", json!({})).await;
    assert_eq!(r.code(), "report.wrong_state", "verified once");

    // Referred to 低保 today: the 回访 task falls due 30 days later, for the household.
    let r = w.step("refer", json!({ "referred_on": today() })).await;
    assert_eq!(
        r.code(),
        "request.invalid",
        "neither programme nor department"
    );
    let r = w
        .step(
            "refer",
            json!({ "programme": "dibao", "department": "人社局", "referred_on": today() }),
        )
        .await;
    assert_eq!(r.code(), "request.invalid", "both");
    let r = w.refer().await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["follow_up_task_id"].is_string(), "{:?}", r.body);
    assert_eq!(w.status().await, DiscoveryStatus::Referred);
    let follow_up = w.tasks("report_follow_up").await;
    let day: chrono::NaiveDate = today().parse().unwrap();
    let due = doudi_server::review::recheck::end_of_day_ms(day + chrono::Days::new(30));
    assert_eq!(follow_up, vec![(Some(w.household.clone()), due)]);
    // The 回访 visit closes it.
    w.visit(Purpose::FollowUp).await;
    assert!(w.tasks("report_follow_up").await.is_empty());

    // Closed, and listed in the history of closed reports.
    let r = w
        .step("close", json!({ "reason": "已纳入低保，回访完毕" }))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(w.status().await, DiscoveryStatus::Closed);
    let open = w.app.get("/api/v1/reports", &w.town).await;
    assert!(!open.strings("report_id").contains(&w.report.as_str()));
    let closed = w.app.get("/api/v1/reports?show=closed", &w.town).await;
    assert_eq!(closed.strings("report_id"), vec![w.report.as_str()]);

    // Every step in the history, with who and when.
    let h = w
        .app
        .get(&format!("/api/v1/reports/{}/history", w.report), &w.town)
        .await;
    assert_eq!(h.status, StatusCode::OK, "{:?}", h.body);
    assert_eq!(
        h.strings("action"),
        ["assign", "register", "verify", "refer", "close"]
    );
    assert_eq!(
        h.strings("account_id"),
        [
            w.town_id.as_str(),
            &w.town_id,
            &w.worker_id,
            &w.town_id,
            &w.town_id
        ],
        "the verification is the visit's author's"
    );
    let verified_at = h.body[2]["at_ms"].as_i64().unwrap();
    assert!(verified_at >= before, "at the sync");
    let at: Vec<i64> = h
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["at_ms"].as_i64().unwrap())
        .collect();
    assert!(at.windows(2).all(|p| p[0] <= p[1]), "{at:?}");
    let notes = h.strings("note");
    assert!(notes.contains(&w.household.as_str()) && notes.contains(&visit.as_str()));
    assert!(
        notes.contains(&format!("低保（{}）：已告知申请材料", today()).as_str()),
        "{notes:?}"
    );
    // The referral as columns: in the history, the list and the export.
    let referral = json!({ "programme": "dibao", "department": null, "referred_on": today() });
    assert_eq!(h.body[3]["referral"], referral);
    assert_eq!(h.body[0]["referral"], Value::Null);
    let closed = w.app.get("/api/v1/reports?show=closed", &w.town).await;
    assert_eq!(closed.body[0]["referral"], referral);
    let csv = w
        .app
        .http
        .get(w.app.url("/api/v1/exports/reports"))
        .bearer_auth(&w.town)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("上报时间,转介救助类别,转介部门,转介日期"),
        "{csv}"
    );
    let line = csv.lines().find(|l| l.starts_with(&w.report)).unwrap();
    assert!(line.ends_with(&format!(",低保,,{}", today())), "{line}");
    // Each step is the server's change in the report's document, audited.
    assert_eq!(w.app.audit("report.register").await.len(), 1);
    let verify = w.app.audit("report.verify").await;
    assert_eq!(verify.len(), 1);
    assert_eq!(verify[0].account_id.as_deref(), Some(w.worker_id.as_str()));
    assert_eq!(w.app.audit("report.refer").await.len(), 1);

    // The console's page shows the whole history, the household and the visit; no more forms.
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let url = format!("/console/reports/{}", w.report);
    let (status, page) = town.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for shown in [
        "转介救助类别",
        "<dd>低保</dd>",
        &format!("<dd>{}</dd>", today()),
        "指派核实",
        "登记",
        "确认核实",
        "转介",
        "办结",
        "已纳入低保，回访完毕",
        &format!("href=\"/console/households/{}\"", w.household),
        &format!("href=\"/console/visits/{visit}\""),
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains(&format!("{url}/refer")), "no forms: {page}");
}

async fn steps_from_the_wrong_state_are_refused(b: Backend) {
    let mut w = world(b, None).await;
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;
    let url = format!("/console/reports/{}", w.report);
    // Submitted: only assigning (screening) or closing.
    for r in [
        w.register().await,
        w.step("verify", json!({})).await,
        w.refer().await,
    ] {
        assert_eq!(r.code(), "report.wrong_state", "{:?}", r.body);
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.body["message"].as_str().unwrap().contains("状态"));
    }
    let (_, page) = town.get(&url).await;
    assert!(!page.contains(&format!("{url}/register")), "{page}");
    assert_eq!(w.assign().await.status, StatusCode::OK);
    // Screened: not verified or referred before it is registered; a household elsewhere is
    // refused, and the console's form says so on the page.
    assert_eq!(
        w.step("verify", json!({})).await.code(),
        "report.wrong_state"
    );
    assert_eq!(w.refer().await.code(), "report.wrong_state");
    let r = w
        .step("register", json!({ "household_id": w.report }))
        .await;
    assert_eq!(r.code(), "report.household_invalid", "{:?}", r.body);
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, page) = town.get(&url).await;
    assert!(page.contains(&format!("{url}/register")), "{page}");
    // A 主动发现核查 visit that comes before registration leaves the report screened: the
    // reviewer confirms it once the report is registered.
    w.visit(Purpose::DiscoveryCheck).await;
    assert_eq!(w.status().await, DiscoveryStatus::Screened);
    let r = town
        .post(
            &format!("{url}/register"),
            &[("household_id", w.report.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("请选择该报告所在网格中已登记的家庭"),
        "{page}"
    );
    let r = town
        .post(
            &format!("{url}/register"),
            &[
                ("household_id", w.household.as_str()),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.status().await, DiscoveryStatus::Registered);
    assert_eq!(w.register().await.code(), "report.wrong_state", "once");
    assert_eq!(w.refer().await.code(), "report.wrong_state");
    // Verified from the console, the visit being in; referred without a 回访 task where the
    // region sets no interval.
    let r = town
        .post(&format!("{url}/verify"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.register().await.code(), "report.wrong_state");
    let r = town
        .post(
            &format!("{url}/refer"),
            &[
                ("programme", ""),
                ("department", "区残联"),
                ("referred_on", today().as_str()),
                ("note", ""),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.status().await, DiscoveryStatus::Referred);
    assert!(w.tasks("report_follow_up").await.is_empty());
    let (_, page) = town.get(&url).await;
    assert!(
        page.contains("转介部门") && page.contains("<dd>区残联</dd>"),
        "{page}"
    );
    let h = w
        .app
        .get(&format!("/api/v1/reports/{}/history", w.report), &w.town)
        .await;
    let refer = h.body.as_array().unwrap().last().unwrap();
    assert_eq!(
        refer["referral"],
        json!({ "programme": null, "department": "区残联", "referred_on": today() })
    );
    assert_eq!(w.refer().await.code(), "report.wrong_state", "once");
    // Closed: nothing more.
    let r = w.step("close", json!({ "reason": "已转介区残联" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for r in [
        w.assign().await,
        w.register().await,
        w.step("verify", json!({})).await,
        w.refer().await,
        w.step("close", json!({ "reason": "再次" })).await,
    ] {
        assert_eq!(r.code(), "report.wrong_state", "{:?}", r.body);
    }
}

async fn another_township_is_refused(b: Backend) {
    let w = world(b, Some(30)).await;
    assert_eq!(w.assign().await.status, StatusCode::OK);
    let other = w.app.login("town.other").await.0;
    for (step, body) in [
        ("register", json!({ "household_id": w.household })),
        ("verify", json!({})),
        (
            "refer",
            json!({ "programme": "dibao", "referred_on": today() }),
        ),
        ("close", json!({ "reason": "不是本镇" })),
    ] {
        let r = w
            .app
            .post(
                &format!("/api/v1/reports/{}/{step}", w.report),
                Some(&other),
                body,
            )
            .await;
        assert_eq!(r.code(), "not_found", "{step}: {:?}", r.body);
    }
    let h = w
        .app
        .get(&format!("/api/v1/reports/{}/history", w.report), &other)
        .await;
    assert_eq!(h.code(), "not_found");
    let list = w.app.get("/api/v1/reports?show=all", &other).await;
    assert!(list.strings("report_id").is_empty());
    // The report stays screened, its history the township's assignment only.
    let h = w
        .app
        .get(&format!("/api/v1/reports/{}/history", w.report), &w.town)
        .await;
    assert_eq!(h.strings("action"), ["assign"]);
}

/// `doudi demo`: reports in several states, the referred one with its 回访 task; seeding again
/// changes nothing.
async fn the_demo_has_reports_in_every_state(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_demo_twice().await;
    let town = app.demo_token("demo-town").await;
    let all = app.get("/api/v1/reports?show=all", &town).await;
    let mut states = all.strings("status");
    states.sort();
    assert_eq!(
        states,
        ["closed", "referred", "registered", "submitted"],
        "{:?}",
        all.body
    );
    let referred = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "referred")
        .unwrap()["report_id"]
        .as_str()
        .unwrap()
        .to_string();
    let h = app
        .get(&format!("/api/v1/reports/{referred}/history"), &town)
        .await;
    assert_eq!(
        h.strings("action"),
        ["assign", "register", "verify", "refer"]
    );
    // Verified by its visit, in the grid worker's name.
    let grid_worker = h.strings("account_id")[2].to_string();
    assert_ne!(grid_worker, h.strings("account_id")[1]);
    let grid = app.demo_token("demo-grid").await;
    let tasks = app.get("/api/v1/tasks", &grid).await;
    let of_report = |kind: &str| {
        tasks
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == kind && t["report_id"] == referred.as_str())
            .count()
    };
    assert_eq!(of_report("report_follow_up"), 1, "{:?}", tasks.body);
    assert_eq!(of_report("verify_report"), 0, "the visit closed it");
}
