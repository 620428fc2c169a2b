//! 动态监测预警 (docs/MONITORING.md): a department's list imported over HTTP, refused whole for
//! bad lines, matched by 身份证号 to the members of the importer's regions, alerts raised by the
//! region's rules, an alert's task on the grid worker's phone, the 预警核查 visit that closes it,
//! the disposition; and who may see and do what.

use chrono::{Days, NaiveDate};
use doudi_protocol::doc::Household;
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::id_number::check_char;
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_protocol::rules::Money;
use doudi_protocol::rules::policy::PolicySettings;
use doudi_server::entity::{monitoring_alert, monitoring_row, monitoring_run, task};
use doudi_tests::{
    Backend, Phone, Resp, TestApp, both_backends, console_login, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};
use serde_json::{Value, json};

both_backends!(
    a_bad_list_is_refused_whole_and_a_good_one_raises_exactly_the_rules_alerts,
    an_alert_goes_from_import_to_the_phone_to_a_visit_to_a_disposition,
    the_console_imports_a_list_and_disposes_an_alert,
    the_console_uploads_a_workbook,
    the_demo_has_alerts,
    a_rural_list_is_compared_for_double_enrolment,
    the_size_and_row_limits_are_named,
    new_data_on_a_household_that_left_recently_raises_an_alert,
);

const GRID_A: &str = "370102001001-A";
const GRID_OTHER_TOWN: &str = "370102002001-A";

/// A valid 身份证号 for a sequence number (unique below 60,000).
fn number(seq: u32) -> String {
    let first = format!("370102{:04}0101{:03}", 1940 + (seq / 1000) % 60, seq % 1000);
    let check = check_char(&first).unwrap();
    format!("{first}{check}")
}

/// The masked form of a number.
fn masked(n: &str) -> String {
    format!("{}****{}", &n[..6], &n[14..])
}

/// The same number with a wrong check character.
fn bad_checksum(n: &str) -> String {
    let last = n.as_bytes()[17];
    let other = if last == b'1' { '2' } else { '1' };
    format!("{}{other}", &n[..17])
}

/// China's date today.
fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

fn days_ago(n: u64) -> String {
    today().checked_sub_days(Days::new(n)).unwrap().to_string()
}

struct World {
    app: TestApp,
    phone: Phone,
    town: String,
    other_town: String,
    grid_worker_token: String,
    /// Household id by its head's sequence number.
    households: Vec<(u32, String)>,
}

/// A household whose members have the numbers of `seqs` (the first is the head).
fn household(phone: &Phone, address: &str, seqs: &[u32]) -> Household {
    let mut h = Household {
        address: address.into(),
        ..Default::default()
    };
    for (i, s) in seqs.iter().enumerate() {
        let relation = if i == 0 {
            Relation::Head
        } else {
            Relation::Child
        };
        let mut m = Member::new(format!("成员{s}"), relation);
        m.identity = Some(phone.seal(&number(*s)));
        h.members.insert(MemberId::generate().unwrap(), m);
    }
    h
}

/// Township 一镇 (town.zhao) with households of members 1–4, 6–9 in its grid; township 二镇
/// (town.other) with member 5. County 甲县 sets a medical threshold of 20,000 yuan and 7 days
/// to verify.
async fn world(b: Backend) -> World {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_OTHER_TOWN])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.county_policy(PolicySettings {
        alert_medical_cost_threshold: Some(Money::yuan(20_000)),
        alert_verify_days: Some(7),
        ..Default::default()
    })
    .await;
    let mut phone = app.phone("grid.zhang").await;
    let mut households = Vec::new();
    for (n, seqs) in [(1, &[1, 2, 9][..]), (2, &[3, 4][..]), (3, &[6, 7, 8][..])] {
        let id = phone
            .replica
            .create(
                GRID_A,
                &household(&phone, &format!("一镇一村 {n} 号"), seqs),
            )
            .unwrap();
        households.push((seqs[0], id.to_string()));
    }
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 3, "{:?}", o.rejected);
    let mut sun = app.phone("grid.sun").await;
    let h = household(&sun, "二镇一村 1 号", &[5]);
    sun.replica.create(GRID_OTHER_TOWN, &h).unwrap();
    assert_eq!(app.sync(&mut sun).await.accepted.len(), 1);
    let (town, _, _) = app.login("town.zhao").await;
    let (other_town, _, _) = app.login("town.other").await;
    let (grid_worker_token, _, _) = app.login("grid.zhang").await;
    World {
        app,
        phone,
        town,
        other_town,
        grid_worker_token,
        households,
    }
}

async fn import(
    app: &TestApp,
    token: &str,
    source: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    let resp = app
        .http
        .post(app.url(&format!(
            "/api/v1/monitoring/imports?source={source}&file_name=test"
        )))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(resp).await
}

/// The medical list: 1,000 lines (lines 2–1001). Member 1 has two bills adding up to 23,000.50
/// yuan; 2 has 19,999.99, 3 exactly 20,000, 4 30,000 but 400 days ago; 5 lives in the other
/// township; 994 numbers are on no record.
fn medical_lines() -> Vec<[String; 4]> {
    let mut lines = vec![
        [number(1), "成员1".into(), days_ago(40), "15000".into()],
        [
            number(1),
            "成员1".into(),
            days_ago(10),
            "\"8,000.50\"".into(),
        ],
        [number(2), "成员2".into(), days_ago(20), "19999.99".into()],
        [number(3), "成员3".into(), days_ago(20), "20000".into()],
        [number(4), "成员4".into(), days_ago(400), "30000".into()],
        [number(5), "成员5".into(), days_ago(5), "50000".into()],
    ];
    for s in 0..994 {
        lines.push([
            number(1000 + s),
            format!("外地{s}"),
            days_ago(u64::from(s % 300)),
            format!("{}.{:02}", 100 + s, s % 100),
        ]);
    }
    lines
}

fn csv_of(header: &str, lines: &[[String; 4]]) -> Vec<u8> {
    let mut out = format!("\u{feff}{header}\n");
    for l in lines {
        out.push_str(&l.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

async fn count<E: EntityTrait>(app: &TestApp) -> u64
where
    E::Model: Sync,
{
    E::find().count(&app.state.db).await.unwrap()
}

fn alerts_of(r: &Resp) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["indicator"].as_str().unwrap().to_string(),
                a["id_masked"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A change that makes a line of the medical list bad.
type Fault = fn(&mut [String; 4]);

async fn a_bad_list_is_refused_whole_and_a_good_one_raises_exactly_the_rules_alerts(b: Backend) {
    let w = world(b).await;
    let app = &w.app;
    const HEADER: &str = "身份证号,姓名,结算日期,自付金额";
    // Ten bad lines among 1,000: each is named, nothing is stored.
    let good = medical_lines();
    let mut bad = good.clone();
    let faults: [(usize, Fault); 10] = [
        (20, |l| l[0] = bad_checksum(&l[0])),
        (100, |l| l[2] = "2026-13-01".into()),
        (150, |l| l[3] = "abc".into()),
        (333, |l| l[1] = String::new()),
        (500, |l| l[2] = "2999-01-01".into()),
        (501, |l| l[0] = String::new()),
        (640, |l| l[3] = "12.345".into()),
        (777, |l| l[2] = "昨天".into()),
        (900, |l| l[0] = "37010219600101".into()),
        (1001, |l| l[3] = "-5".into()),
    ];
    for (line, f) in faults {
        f(&mut bad[line - 2]);
    }
    let r = import(app, &w.town, "medical", "text/csv", csv_of(HEADER, &bad)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "import.invalid"),
        "{:?}",
        r.body
    );
    let lines: Vec<u64> = r.body["details"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, faults.map(|(l, _)| l as u64).to_vec());
    assert!(
        r.body["details"]["lines"][0]["message"]
            .as_str()
            .unwrap()
            .contains("第 20 行：身份证号校验位错误"),
        "{}",
        r.body
    );
    assert!(r.body["message"].as_str().unwrap().contains("10 行错误"));
    assert_eq!(count::<monitoring_run::Entity>(app).await, 0);
    assert_eq!(count::<monitoring_row::Entity>(app).await, 0);
    assert_eq!(count::<monitoring_alert::Entity>(app).await, 0);
    // A missing column is the header's fault.
    let r = import(
        app,
        &w.town,
        "medical",
        "text/csv",
        "身份证号,姓名,结算日期\n".as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.code(), "import.invalid");
    assert!(
        r.body["details"]["lines"][0]["message"]
            .as_str()
            .unwrap()
            .contains("自付金额"),
        "{}",
        r.body
    );
    // Limits and formats.
    let r = import(app, &w.town, "medical", "image/png", vec![1, 2, 3]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "import.format_unknown")
    );
    let r = import(app, &w.town, "medical", "text/csv", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(r.code(), "import.format_unknown");
    let r = import(app, &w.town, "wages", "text/csv", csv_of(HEADER, &good)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "request.invalid")
    );

    // The good list: one alert, for member 1 only.
    let r = import(app, &w.town, "medical", "text/csv", csv_of(HEADER, &good)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["rows"],
            &r.body["matched"],
            &r.body["unmatched"],
            &r.body["alerts"]
        ),
        (&json!(1000), &json!(5), &json!(995), &json!(1)),
        "{}",
        r.body["not_evaluated"]
    );
    let unmatched = r.body["unmatched_rows"].as_array().unwrap();
    assert_eq!(unmatched.len(), 995);
    // The member of the other township is not matched for this reviewer, and shown masked.
    assert_eq!(unmatched[0]["line"], 7);
    assert_eq!(unmatched[0]["id_masked"], masked(&number(5)).as_str());
    assert!(!r.body.to_string().contains(&number(5)), "no clear number");
    let run_id = r.body["run_id"].as_str().unwrap().to_string();
    let alerts = app.get("/api/v1/monitoring/alerts", &w.town).await;
    assert_eq!(
        alerts_of(&alerts),
        vec![("medical_cost".into(), masked(&number(1)))]
    );
    let a = &alerts.body[0];
    assert_eq!(a["member_name"], "成员1");
    assert_eq!(a["assignee_name"], "grid.zhang");
    assert!(a["detail"].as_str().unwrap().contains("23000.50 元"), "{a}");
    assert!(a["due_at_ms"].as_i64().is_some());
    assert!(!alerts.body.to_string().contains(&number(1)));
    let run = app
        .get(&format!("/api/v1/monitoring/imports/{run_id}"), &w.town)
        .await;
    assert_eq!(run.status, StatusCode::OK);
    assert_eq!(run.body["run"]["unmatched"], 995);
    assert_eq!(run.body["unmatched_rows"].as_array().unwrap().len(), 995);
    assert_eq!(run.body["alerts"].as_array().unwrap().len(), 1);
    let audit = app.audit("monitoring.import").await;
    assert_eq!(audit.len(), 1);

    // The same list again: nothing new; a new bill of member 1 finds the alert open.
    let r = import(app, &w.town, "medical", "text/csv", csv_of(HEADER, &good)).await;
    assert_eq!(
        (&r.body["alerts"], &r.body["already_open"]),
        (&json!(0), &json!(0))
    );
    let more = vec![[number(1), "成员1".into(), days_ago(1), "100".into()]];
    let r = import(app, &w.town, "medical", "text/csv", csv_of(HEADER, &more)).await;
    assert_eq!(
        (&r.body["alerts"], &r.body["already_open"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(count::<monitoring_alert::Entity>(app).await, 1);

    // Disability registrations as a workbook: grades 1 and 2 raise alerts, 3 does not.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["姓名", "身份证号", "残疾等级", "登记日期"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let d = today().checked_sub_days(Days::new(3)).unwrap();
    let rows = [(7, "一级"), (8, "3"), (9, "2级"), (2000, "1")];
    for (i, (s, grade)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, format!("成员{s}")).unwrap();
        sheet.write_string(r, 1, number(*s)).unwrap();
        sheet.write_string(r, 2, *grade).unwrap();
        if i == 0 {
            use chrono::Datelike;
            let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(
                d.year() as u16,
                d.month() as u8,
                d.day() as u8,
            )
            .unwrap();
            sheet
                .write_datetime_with_format(r, 3, &dt, &date_format)
                .unwrap();
        } else {
            sheet.write_string(r, 3, d.to_string()).unwrap();
        }
    }
    let xlsx = book.save_to_buffer().unwrap();
    let r = import(app, &w.town, "disability", "application/octet-stream", xlsx).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["format"],
            &r.body["matched"],
            &r.body["unmatched"],
            &r.body["alerts"]
        ),
        (&json!("xlsx"), &json!(3), &json!(1), &json!(2))
    );
    let alerts = app.get("/api/v1/monitoring/alerts", &w.town).await;
    let mut want = vec![
        ("medical_cost".to_string(), masked(&number(1))),
        ("severe_disability".to_string(), masked(&number(7))),
        ("severe_disability".to_string(), masked(&number(9))),
    ];
    want.sort();
    assert_eq!(alerts_of(&alerts), want);
    let by_indicator = app
        .get(
            "/api/v1/monitoring/alerts?state=all&indicator=severe_disability",
            &w.town,
        )
        .await;
    assert_eq!(by_indicator.body.as_array().unwrap().len(), 2);
    // Overdue: an alert past its due date without a visit.
    let first = monitoring_alert::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .remove(0);
    let id = first.id.clone();
    let mut late = first.into_active_model();
    late.due_at_ms = Set(Some(1));
    late.update(&app.state.db).await.unwrap();
    let overdue = app
        .get("/api/v1/monitoring/alerts?state=overdue", &w.town)
        .await;
    assert_eq!(overdue.strings("alert_id"), vec![id.as_str()]);
    assert_eq!(overdue.body[0]["overdue"], true);
    let r = app
        .get("/api/v1/monitoring/alerts?state=late", &w.town)
        .await;
    assert_eq!(r.code(), "request.invalid");

    // The other township sees none of it; field workers may neither import nor list.
    let r = app.get("/api/v1/monitoring/alerts", &w.other_town).await;
    assert_eq!(r.body, json!([]));
    let r = app.get("/api/v1/monitoring/imports", &w.other_town).await;
    assert_eq!(r.body, json!([]));
    let r = app
        .get(
            &format!("/api/v1/monitoring/imports/{run_id}"),
            &w.other_town,
        )
        .await;
    assert_eq!(r.code(), "not_found");
    let r = import(
        app,
        &w.grid_worker_token,
        "medical",
        "text/csv",
        csv_of(HEADER, &good),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    let r = app
        .get("/api/v1/monitoring/alerts", &w.grid_worker_token)
        .await;
    assert_eq!(r.code(), "policy.denied");
    let _ = &w.households;
}

async fn an_alert_goes_from_import_to_the_phone_to_a_visit_to_a_disposition(b: Backend) {
    let mut w = world(b).await;
    let deaths = format!(
        "姓名,身份证号,死亡日期\n成员6,{},{}\n",
        number(6),
        days_ago(2)
    );
    let r = import(&w.app, &w.town, "death", "text/csv", deaths.into_bytes()).await;
    assert_eq!(r.body["alerts"], 1, "{:?}", r.body);
    let alerts = w.app.get("/api/v1/monitoring/alerts", &w.town).await;
    let alert = alerts.body[0].clone();
    let alert_id = alert["alert_id"].as_str().unwrap().to_string();
    let household = w
        .households
        .iter()
        .find(|(head, _)| *head == 6)
        .unwrap()
        .1
        .clone();
    assert_eq!(alert["household_id"], household.as_str());
    assert_eq!(alert["indicator_label"], "家庭成员死亡");

    // The task reaches the grid worker's phone.
    w.app.sync(&mut w.phone).await;
    let tasks: Vec<_> = w
        .phone
        .replica
        .tasks()
        .iter()
        .filter(|t| t.kind == "alert_check")
        .cloned()
        .collect();
    assert_eq!(tasks.len(), 1, "{:?}", w.phone.replica.tasks());
    assert_eq!(tasks[0].household_id.as_deref(), Some(household.as_str()));
    assert_eq!(tasks[0].id, alert["task_id"].as_str().unwrap());
    assert!(tasks[0].note.as_deref().unwrap().contains("预警核查"));
    let listed = w.app.get("/api/v1/tasks", &w.grid_worker_token).await;
    assert!(listed.strings("kind").contains(&"alert_check"));

    // No disposition before the visit.
    let url = format!("/api/v1/monitoring/alerts/{alert_id}/dispose");
    let body = |d: &str, date: String| json!({ "disposition": d, "feedback_date": date, "feedback_to": "县医保局", "note": "已入户核实" });
    let r = w
        .app
        .post(&url, Some(&w.town), body("enrolled", today().to_string()))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "alert.wrong_state")
    );

    // The 预警核查 visit, submitted: linked, and the task is done.
    let visit = submit_alert_check(&mut w, &household).await;
    let a = w
        .app
        .get(&format!("/api/v1/monitoring/alerts/{alert_id}"), &w.town)
        .await;
    assert_eq!(a.body["visit_id"], visit.as_str(), "{:?}", a.body);
    let t = task::Entity::find_by_id(alert["task_id"].as_str().unwrap().to_string())
        .one(&w.app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.status, "done");
    w.app.sync(&mut w.phone).await;
    assert!(
        !w.phone
            .replica
            .tasks()
            .iter()
            .any(|t| t.kind == "alert_check"),
        "{:?}",
        w.phone.replica.tasks()
    );

    // Another township's reviewer neither sees nor disposes it (answered as a missing id,
    // audited).
    let denied_before = w.app.audit("policy.denied").await.len();
    let r = w
        .app
        .get(
            &format!("/api/v1/monitoring/alerts/{alert_id}"),
            &w.other_town,
        )
        .await;
    assert_eq!(r.code(), "not_found");
    let r = w
        .app
        .post(
            &url,
            Some(&w.other_town),
            body("enrolled", today().to_string()),
        )
        .await;
    assert_eq!(r.code(), "not_found");
    assert_eq!(w.app.audit("policy.denied").await.len(), denied_before + 2);
    let r = w
        .app
        .post(
            &url,
            Some(&w.grid_worker_token),
            body("enrolled", today().to_string()),
        )
        .await;
    assert_eq!(r.code(), "policy.denied");

    // The disposition: bad input refused, then recorded once.
    let r = w
        .app
        .post(&url, Some(&w.town), body("maybe", today().to_string()))
        .await;
    assert_eq!(
        (r.code(), &r.body["details"]["field"]),
        ("request.invalid", &json!("disposition"))
    );
    let r = w
        .app
        .post(&url, Some(&w.town), body("enrolled", "2999-01-01".into()))
        .await;
    assert_eq!(r.body["details"]["field"], "feedback_date");
    let r = w
        .app
        .post(&url, Some(&w.town), body("enrolled", today().to_string()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["status"],
            &r.body["disposition_label"],
            &r.body["feedback_to"]
        ),
        (&json!("disposed"), &json!("纳入救助"), &json!("县医保局"))
    );
    let r = w
        .app
        .post(&url, Some(&w.town), body("referred", today().to_string()))
        .await;
    assert_eq!(r.code(), "alert.wrong_state");
    let disposed = w
        .app
        .get("/api/v1/monitoring/alerts?state=disposed", &w.town)
        .await;
    assert_eq!(disposed.strings("alert_id"), vec![alert_id.as_str()]);
    assert_eq!(w.app.audit("monitoring.dispose").await.len(), 1);
    let open = w.app.get("/api/v1/monitoring/alerts", &w.town).await;
    assert_eq!(open.body, Value::Array(Vec::new()));
}

/// Submit a 预警核查 visit of `household` from the grid worker's phone.
async fn submit_alert_check(w: &mut World, household: &str) -> String {
    let liu = w
        .app
        .login_as("assist.liu", doudi_tests::PASSWORD, None)
        .await;
    let liu_id = liu.body["account"]["id"].as_str().unwrap().to_string();
    let mut v = doudi_tests::cases::submitted_visit(
        household.parse().unwrap(),
        [
            (w.phone.account_id.as_str(), "张网格"),
            (liu_id.as_str(), "刘协理"),
        ],
    );
    v.purpose = Purpose::AlertCheck;
    let visit = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted, vec![visit.clone()], "{:?}", o.rejected);
    visit
}

/// A 残联 list as a workbook: 姓名, 身份证号, 残疾等级, 登记日期, one row each, as text.
fn disability_workbook(rows: &[[String; 4]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["姓名", "身份证号", "残疾等级", "登记日期"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

/// The console's file upload: a workbook with a bad line is refused whole with the line named,
/// a file that is no list is refused, a form without its CSRF token is refused, and a good
/// workbook becomes a run (format XLSX, its file name) with the alert its rule selects.
async fn the_console_uploads_a_workbook(b: Backend) {
    let w = world(b).await;
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;
    let (_, page) = town.get("/console/monitoring").await;
    assert!(
        page.contains("enctype=\"multipart/form-data\"") && page.contains("name=\"file\""),
        "{page}"
    );
    let day = days_ago(3);
    let bad = disability_workbook(&[
        ["成员1".into(), number(1), "一级".into(), day.clone()],
        [
            "成员2".into(),
            bad_checksum(&number(2)),
            "2".into(),
            day.clone(),
        ],
    ]);
    let form = [("csrf", csrf.as_str()), ("source", "disability")];
    let r = town
        .post_file(
            "/console/monitoring/upload",
            &form,
            ("file", "残联.xlsx", bad),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("第 3 行：身份证号校验位错误"), "{page}");
    let r = town
        .post_file(
            "/console/monitoring/upload",
            &form,
            ("file", "照片.png", b"\x89PNG\r\n\x1a\n not a list".to_vec()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("enctype=\"multipart/form-data\"") && page.contains("CSV"),
        "the form again, with the reason: {page}"
    );
    let good = disability_workbook(&[
        ["成员1".into(), number(1), "一级".into(), day.clone()],
        ["成员2".into(), number(2), "3".into(), day],
    ]);
    let r = town
        .post_file(
            "/console/monitoring/upload",
            &[("source", "disability")],
            ("file", "残联.xlsx", good.clone()),
        )
        .await;
    assert_ne!(
        r.status(),
        StatusCode::SEE_OTHER,
        "no CSRF token, no import"
    );
    assert_eq!(count::<monitoring_run::Entity>(&w.app).await, 0);
    let r = town
        .post_file(
            "/console/monitoring/upload",
            &form,
            ("file", "残联.xlsx", good),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let run_url = r.headers()["location"].to_str().unwrap().to_string();
    let (_, page) = town.get(&run_url).await;
    assert!(page.contains("残联.xlsx（XLSX）"), "{page}");
    let run = monitoring_run::Entity::find()
        .one(&w.app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            run.format.as_str(),
            run.row_count,
            run.matched_count,
            run.alert_count
        ),
        ("xlsx", 2, 2, 1)
    );
}

async fn the_console_imports_a_list_and_disposes_an_alert(b: Backend) {
    let mut w = world(b).await;
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get("/console/monitoring").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("href=\"/console/monitoring\" aria-current=\"page\">监测预警"),
        "{page}"
    );
    assert!(
        page.contains("导入部门数据") && page.contains("暂无符合条件的预警"),
        "{page}"
    );

    // Bad lines: listed, the text kept, nothing imported.
    let bad = format!(
        "身份证号,姓名,结算日期,自付金额\n{},成员1,{},15000\n{},成员1,明天,8000\n",
        bad_checksum(&number(1)),
        days_ago(3),
        number(1)
    );
    let r = town
        .post(
            "/console/monitoring/import",
            &[
                ("csrf", &csrf),
                ("source", "medical"),
                ("file_name", "医保.csv"),
                ("content", &bad),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("第 2 行：身份证号校验位错误"), "{page}");
    assert!(
        page.contains("第 3 行：结算日期“明天”不是有效日期"),
        "{page}"
    );
    assert!(page.contains("value=\"医保.csv\""), "{page}");
    assert!(
        page.contains(&bad_checksum(&number(1))),
        "the text is kept: {page}"
    );
    assert_eq!(count::<monitoring_run::Entity>(&w.app).await, 0);

    // A good list: the run's page, its alert and its unmatched line, masked.
    let good = format!(
        "身份证号,姓名,结算日期,自付金额\n{},成员1,{},25000\n{},外地人,{},100\n",
        number(1),
        days_ago(3),
        number(3000),
        days_ago(3)
    );
    let r = town
        .post(
            "/console/monitoring/import",
            &[
                ("csrf", &csrf),
                ("source", "medical"),
                ("file_name", "医保.csv"),
                ("content", &good),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let run_url = r.headers()["location"].to_str().unwrap().to_string();
    let (_, page) = town.get(&run_url).await;
    assert!(
        page.contains(&masked(&number(3000))) && page.contains("外地人"),
        "{page}"
    );
    assert!(
        page.contains("大额医疗支出") && page.contains(&masked(&number(1))),
        "{page}"
    );
    assert!(
        !page.contains(&number(1)) && !page.contains(&number(3000)),
        "masked: {page}"
    );
    let (_, list) = town.get("/console/monitoring").await;
    let at = list
        .find("/console/monitoring/alerts/")
        .expect("an alert link");
    let alert_url: String = list[at..].chars().take_while(|c| *c != '"').collect();

    // No form before the visit; after it, a refused form keeps what was typed.
    let (_, page) = town.get(&alert_url).await;
    assert!(page.contains("网格员提交预警核查走访后方可处置"), "{page}");
    let household = w
        .households
        .iter()
        .find(|(h, _)| *h == 1)
        .unwrap()
        .1
        .clone();
    let visit = submit_alert_check(&mut w, &household).await;
    let (_, page) = town.get(&alert_url).await;
    assert!(page.contains(&format!("/console/visits/{visit}")), "{page}");
    let dispose = format!("{alert_url}/dispose");
    let r = town
        .post(
            &dispose,
            &[
                ("csrf", &csrf),
                ("disposition", "referred"),
                ("feedback_date", &today().to_string()),
                ("feedback_to", " "),
                ("note", "转医疗救助"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("请填写反馈对象"), "{page}");
    assert!(
        page.contains("转医疗救助") && page.contains("value=\"referred\" checked"),
        "{page}"
    );
    let r = town
        .post(
            &dispose,
            &[
                ("csrf", &csrf),
                ("disposition", "referred"),
                ("feedback_date", &today().to_string()),
                ("feedback_to", "县医保局"),
                ("note", "转医疗救助"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = town.get(&alert_url).await;
    assert!(
        page.contains("已处置") && page.contains("转介") && page.contains("县医保局"),
        "{page}"
    );
    // Without the CSRF token nothing happens; another township's reviewer finds nothing.
    let r = town.post(&dispose, &[("disposition", "enrolled")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (mut other, _) = console_login(&w.app, "town.other").await;
    let (status, _) = other.get(&alert_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = other.get(&run_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `doudi demo`: the township reviewer's imports raise a medical and an unemployment alert in the
/// demo grid, with an unmatched line kept; the grid worker has their tasks, which the phone (the
/// SDK) offers as 预警核查 visits; seeding again imports nothing.
async fn the_demo_has_alerts(b: Backend) {
    let app = spawn_app(b).await;
    for _ in 0..2 {
        doudi_server::demo::seed(&app.state.db, &app.state.identity, &app.state.settings)
            .await
            .unwrap();
    }
    let token = |r: Resp| r.body["access_token"].as_str().unwrap().to_string();
    let pw = doudi_server::demo::DEMO_PASSWORD;
    let town = token(app.login_as("demo-town", pw, None).await);
    let alerts = app.get("/api/v1/monitoring/alerts", &town).await;
    let mut indicators = alerts.strings("indicator");
    indicators.sort();
    assert_eq!(
        indicators,
        ["medical_cost", "unemployment"],
        "{:?}",
        alerts.body
    );
    let runs = app.get("/api/v1/monitoring/imports", &town).await;
    assert_eq!(runs.body.as_array().unwrap().len(), 2);
    assert_eq!(
        runs.body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["unmatched"].as_i64().unwrap())
            .sum::<i64>(),
        1
    );
    let grid = token(app.login_as("demo-grid", pw, None).await);
    let tasks = app.get("/api/v1/tasks", &grid).await;
    assert_eq!(
        tasks
            .strings("kind")
            .iter()
            .filter(|k| **k == "alert_check")
            .count(),
        2,
        "{:?}",
        tasks.body
    );
    // The grid worker's phone (the real SDK) lists them as 预警核查 tasks.
    let dir = tempfile::tempdir().unwrap();
    let phone = doudi_sdk::DoudiClient::open(
        dir.path().to_string_lossy().into_owned(),
        vec![0x42; 32],
        app.base.clone(),
        None,
    )
    .unwrap();
    phone
        .login("demo-grid".into(), pw.into(), "演示手机".into())
        .await
        .unwrap();
    phone.sync_now(None).await.unwrap();
    let checks: Vec<_> = phone
        .tasks()
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == "alert_check")
        .collect();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(
        checks.iter().all(|t| {
            t.purpose == doudi_sdk::VisitPurpose::AlertCheck && t.household_id.is_some()
        }),
        "{checks:?}"
    );
}

/// 双纳入: the 乡村振兴 list against the 低保 (household of member 1) and 特困 (member 6's)
/// households: each person on both lists, only on theirs, or only on ours; as JSON, as CSV
/// (audited) and on the run's console page.
async fn a_rural_list_is_compared_for_double_enrolment(b: Backend) {
    use doudi_protocol::doc::household::Programme;
    let w = world(b).await;
    let app = &w.app;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    let at = doudi_server::auth::now_ms() - 86_400_000;
    for (head, programme) in [(1, Programme::Dibao), (6, Programme::TekunDispersed)] {
        let hh = &w.households.iter().find(|(h, _)| *h == head).unwrap().1;
        doudi_tests::cases::approve(app, hh, programme, at, "county.qian").await;
    }
    let list = format!(
        "身份证号,姓名,纳入日期\n{},成员1,{d}\n{},成员3,{d}\n{},成员7,{d}\n{},外村人,{d}\n",
        number(1),
        number(3),
        number(7),
        number(4000),
        d = days_ago(100)
    );
    let r = import(
        app,
        &w.town,
        "rural_monitoring",
        "text/csv",
        list.into_bytes(),
    )
    .await;
    assert_eq!(
        (&r.body["matched"], &r.body["unmatched"], &r.body["alerts"]),
        (&json!(3), &json!(1), &json!(0)),
        "{:?}",
        r.body
    );
    let run = r.body["run_id"].as_str().unwrap().to_string();
    let url = format!("/api/v1/monitoring/imports/{run}/comparison");
    let c = app.get(&url, &w.town).await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    assert_eq!(
        (
            &c.body["both"],
            &c.body["only_theirs"],
            &c.body["only_ours"]
        ),
        (&json!(2), &json!(2), &json!(4))
    );
    let standing = |seq: u32| {
        c.body["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id_masked"] == masked(&number(seq)).as_str())
            .map(|p| p["standing"].as_str().unwrap().to_string())
    };
    for (seq, want) in [
        (1, "both"),
        (7, "both"),
        (3, "only_theirs"),
        (4000, "only_theirs"),
        (2, "only_ours"),
        (9, "only_ours"),
        (6, "only_ours"),
        (8, "only_ours"),
    ] {
        assert_eq!(standing(seq).as_deref(), Some(want), "member {seq}");
    }
    assert!(!c.body.to_string().contains(&number(1)), "masked");
    // As CSV, audited as an export.
    let resp = app
        .http
        .get(app.url(&format!("{url}?format=csv")))
        .bearer_auth(&w.town)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}比对结果,姓名,身份证号,户编号,保障类别,名单行号"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 9);
    assert!(
        text.contains("双方均已纳入,成员1") && text.contains("仅在民政低保特困,成员2"),
        "{text}"
    );
    assert!(!text.contains(&number(1)));
    assert!(
        app.audit("export")
            .await
            .iter()
            .any(|e| e.target.as_deref() == Some("monitoring.comparison"))
    );
    // Only a 乡村振兴 list compares; another township finds nothing.
    let deaths = format!(
        "身份证号,姓名,死亡日期\n{},成员8,{}\n",
        number(8),
        days_ago(1)
    );
    let r = import(app, &w.town, "death", "text/csv", deaths.into_bytes()).await;
    let other_run = r.body["run_id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/v1/monitoring/imports/{other_run}/comparison"),
            &w.town,
        )
        .await;
    assert_eq!(r.code(), "request.invalid");
    assert_eq!(app.get(&url, &w.other_town).await.code(), "not_found");
    // On the run's console page, with the download.
    let (mut town, _) = console_login(app, "town.zhao").await;
    let (status, page) = town.get(&format!("/console/monitoring/runs/{run}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("“双纳入”比对") && page.contains("仅在乡村振兴名单"),
        "{page}"
    );
    let (status, csv) = town
        .get(&format!("/console/monitoring/runs/{run}/comparison"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 9);
}

/// `max_import_bytes` and `max_import_rows`, each with its code and the limit in `details`.
async fn the_size_and_row_limits_are_named(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.max_import_bytes = 4_096;
        s.max_import_rows = 10;
    })
    .await;
    app.seed_fixture().await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    let (town, _, _) = app.login("town.zhao").await;
    let header = "身份证号,姓名,死亡日期\n";
    let line = |s: u32| format!("{},某人,{}\n", number(s), days_ago(1));
    let eleven: String = header.to_string() + &(0..11).map(line).collect::<String>();
    let r = import(&app, &town, "death", "text/csv", eleven.into_bytes()).await;
    assert_eq!(
        (r.status, r.code(), &r.body["details"]["max_rows"]),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "import.too_many_rows",
            &json!(10)
        )
    );
    let big: String = header.to_string() + &(0..200).map(line).collect::<String>();
    let r = import(&app, &town, "death", "text/csv", big.into_bytes()).await;
    assert_eq!(
        (r.status, r.code(), &r.body["details"]["max_bytes"]),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "import.too_large",
            &json!(4_096)
        )
    );
    let ten: String = header.to_string() + &(0..10).map(line).collect::<String>();
    let r = import(&app, &town, "death", "text/csv", ten.into_bytes()).await;
    assert_eq!((r.status, &r.body["rows"]), (StatusCode::OK, &json!(10)));
}

/// A household that left 低保 100 days ago (member 3's): new data on a member raises
/// `recently_left` besides the data's own alert; one that left three years ago, or never was in
/// 低保 (member 1's), does not.
async fn new_data_on_a_household_that_left_recently_raises_an_alert(b: Backend) {
    use doudi_protocol::doc::household::{DecisionOutcome, Programme};
    let w = world(b).await;
    let app = &w.app;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    let day = 86_400_000;
    let now = doudi_server::auth::now_ms();
    let hh = |head: u32| {
        w.households
            .iter()
            .find(|(h, _)| *h == head)
            .unwrap()
            .1
            .clone()
    };
    for (head, left_days_ago) in [(3, 100), (6, 3 * 366)] {
        let id = hh(head);
        let (entered, left) = (now - (left_days_ago + 400) * day, now - left_days_ago * day);
        doudi_tests::cases::approve(app, &id, Programme::Dibao, entered, "county.qian").await;
        doudi_tests::cases::decide(
            app,
            &id,
            Programme::Dibao,
            DecisionOutcome::Terminated,
            left,
            "county.qian",
        )
        .await;
    }
    let list = format!(
        "身份证号,姓名,入学日期\n{},成员4,{d}\n{},成员8,{d}\n{},成员2,{d}\n",
        number(4),
        number(8),
        number(2),
        d = days_ago(30)
    );
    let r = import(app, &w.town, "school", "text/csv", list.into_bytes()).await;
    assert_eq!(
        (&r.body["matched"], &r.body["alerts"]),
        (&json!(3), &json!(1)),
        "{:?}",
        r.body
    );
    let alerts = app.get("/api/v1/monitoring/alerts", &w.town).await;
    assert_eq!(
        alerts_of(&alerts),
        vec![("recently_left".to_string(), masked(&number(4)))]
    );
    assert!(
        alerts.body[0]["detail"]
            .as_str()
            .unwrap()
            .contains("退出低保"),
        "{}",
        alerts.body
    );
    assert_eq!(alerts.body[0]["indicator_label"], "退出低保特困不满两年");
}
