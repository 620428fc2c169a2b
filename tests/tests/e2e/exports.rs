//! Exports (`GET /api/v1/exports/{dataset}`, the console's `/console/exports`): ledgers of the
//! caller's regions as CSV and XLSX, read back with a CSV parser and a spreadsheet reader; identity
//! numbers masked unless asked for with the permission, every export audited, the period and region
//! filters applied, bad requests refused.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_tests::{Backend, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;

both_backends!(
    exports_are_the_callers_ledgers,
    reports_and_tasks_are_exported_with_names,
    decisions_and_alerts_are_exported,
    temporary_aid_and_applications_are_exported,
    exports_refuse_what_they_cannot_give
);

const GRID_A: &str = "370102001001-A";
const GRID_OTHER_TOWN: &str = "370102002001-A";
const NUMBER: &str = "11010519491231002X";

/// The answer of an export: status, content type and raw bytes.
async fn export(app: &TestApp, token: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
    let r = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// The rows of a CSV export (header first), after its byte-order mark.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix("\u{feff}".as_bytes())
        .expect("a byte-order mark first");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The rows of an XLSX export's first worksheet, and the worksheet's name.
fn xlsx_rows(bytes: Vec<u8>) -> (String, Vec<Vec<String>>) {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("a workbook");
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    let rows = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    (name, rows)
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let at = rows[0].iter().position(|c| c == name).expect(name);
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

struct World {
    app: TestApp,
    town: String,
    county: String,
    households: Vec<String>,
    report: String,
    assistant: String,
}

/// Two households in the township (one with a member whose number is [`NUMBER`]), one in
/// another township, and a submitted investigation of the first.
async fn world(b: Backend) -> World {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let assistant = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_OTHER_TOWN])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    let mut households = Vec::new();
    for (address, child) in [("一镇一村 1 号", true), ("一镇一村 2 号, \"东\"", false)] {
        let mut h = doudi_tests::cases::household(address);
        if child {
            let mut m = Member::new("王小明", Relation::Child);
            m.identity = Some(phone.identity_key.seal(&IdNumber::parse(NUMBER).unwrap()));
            h.members.insert(MemberId::generate().unwrap(), m);
        }
        households.push(phone.replica.create(GRID_A, &h).unwrap());
    }
    let v = doudi_tests::cases::submitted_visit(
        households[0],
        [
            (phone.account_id.as_str(), "张网格"),
            (assistant.as_str(), "刘协理"),
        ],
    );
    phone.replica.create(GRID_A, &v).unwrap();
    let report = phone
        .replica
        .create(
            GRID_A,
            &doudi_tests::cases::report_with_photos(&phone.account_id, &[]),
        )
        .unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 4, "{:?}", o.rejected);
    let mut other = app.phone("grid.sun").await;
    other
        .replica
        .create(
            GRID_OTHER_TOWN,
            &doudi_tests::cases::household("二镇一村 1 号"),
        )
        .unwrap();
    let o = app.sync(&mut other).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let town = app.login("town.zhao").await.0;
    let county = app.login("county.qian").await.0;
    World {
        households: households.iter().map(|h| h.to_string()).collect(),
        app,
        town,
        county,
        report: report.to_string(),
        assistant,
    }
}

async fn exports_are_the_callers_ledgers(b: Backend) {
    let w = world(b).await;
    let app = &w.app;

    // Households of the township only, in id order, with grid names and labels.
    let (status, ct, bytes) = export(app, &w.town, "/api/v1/exports/households").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(ct, "text/csv; charset=utf-8");
    let rows = csv_rows(&bytes);
    assert_eq!(rows[0][..3], ["户编号", "户主", "地址"]);
    let mut want = w.households.clone();
    want.sort();
    assert_eq!(column(&rows, "户编号"), want);
    assert!(column(&rows, "地址").contains(&"一镇一村 2 号, \"东\"".to_string()));
    assert_eq!(column(&rows, "网格"), ["一村甲网格", "一村甲网格"]);
    assert_eq!(
        column(&rows, "成员人数")
            .iter()
            .filter(|n| *n == "2")
            .count(),
        1
    );
    // The county sees both townships.
    let (_, _, bytes) = export(app, &w.county, "/api/v1/exports/households").await;
    assert_eq!(csv_rows(&bytes).len(), 1 + 3);
    let (_, _, bytes) = export(
        app,
        &w.county,
        "/api/v1/exports/households?region=370102002000",
    )
    .await;
    assert_eq!(column(&csv_rows(&bytes), "地址"), ["二镇一村 1 号"]);

    // Members: numbers masked by default, whole on request; each export audited.
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/members").await;
    let rows = csv_rows(&bytes);
    assert_eq!(rows.len(), 1 + 3, "{rows:?}");
    let numbers = column(&rows, "身份证号");
    assert!(!numbers.iter().any(|n| n == NUMBER), "{numbers:?}");
    let masked: Vec<&String> = numbers.iter().filter(|n| !n.is_empty()).collect();
    assert_eq!(masked.len(), 1, "{numbers:?}");
    assert_eq!(masked[0], "110105****002X");
    assert!(
        column(&rows, "与户主关系").contains(&"子女".to_string()),
        "{rows:?}"
    );
    let (status, _, bytes) = export(
        app,
        &w.county,
        "/api/v1/exports/members?unmask=true&format=xlsx&region=370102001000",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (sheet, xrows) = xlsx_rows(bytes);
    assert_eq!(sheet, "家庭成员台账");
    assert!(
        column(&xrows, "身份证号").contains(&NUMBER.to_string()),
        "{xrows:?}"
    );
    assert_eq!(xrows.len(), rows.len());
    let audit = app.audit("export").await;
    assert_eq!(audit.len(), 5, "{audit:?}");
    let last = audit.last().unwrap();
    assert_eq!(last.outcome, "ok");
    assert_eq!(last.target.as_deref(), Some("exports.members"));
    let detail: serde_json::Value = serde_json::from_str(last.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["unmask"], true);
    assert_eq!(detail["format"], "xlsx");
    assert_eq!(detail["region"], "370102001000");

    // Visits: the period filters by submission day (China time).
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let (_, _, bytes) = export(
        app,
        &w.town,
        &format!("/api/v1/exports/visits?from={today}&to={today}"),
    )
    .await;
    let rows = csv_rows(&bytes);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(column(&rows, "走访类型"), ["入户调查"]);
    assert_eq!(column(&rows, "状态"), ["已提交"]);
    assert_eq!(column(&rows, "户编号"), [w.households[0].clone()]);
    let yesterday = today.pred_opt().unwrap();
    let (_, _, bytes) = export(
        app,
        &w.town,
        &format!("/api/v1/exports/visits?to={yesterday}&format=xlsx"),
    )
    .await;
    let (sheet, xrows) = xlsx_rows(bytes);
    assert_eq!(sheet, "走访台账");
    assert_eq!(xrows.len(), 1, "the header only: {xrows:?}");

    // The console's download is the same ledger, through the same checks and audit.
    let (mut console, _) = console_login(app, "town.zhao").await;
    let (status, page) = console.get("/console/exports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/console/exports/members") && page.contains("name=\"unmask\""));
    for (key, title) in [
        ("temporary_aid", "临时救助台账"),
        ("applications", "申请台账"),
    ] {
        assert!(
            page.contains(&format!("/console/exports/{key}")) && page.contains(title),
            "{page}"
        );
    }
    let (status, body) = console.get("/console/exports/households?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, api) = export(app, &w.town, "/api/v1/exports/households").await;
    assert_eq!(csv_rows(body.as_bytes()), csv_rows(&api));
    assert_eq!(app.audit("export").await.len(), 5 + 2 + 2);
}

/// Discovery reports and tasks, with the reporter's and the assignee's names; tasks filtered by
/// their due date.
async fn reports_and_tasks_are_exported_with_names(b: Backend) {
    let w = world(b).await;
    let app = &w.app;
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/reports?format=xlsx").await;
    let (sheet, rows) = xlsx_rows(bytes);
    assert_eq!(sheet, "主动发现台账");
    assert_eq!(column(&rows, "报告编号"), [w.report.as_str()]);
    assert_eq!(column(&rows, "上报人"), ["grid.zhang"]);
    assert_eq!(column(&rows, "紧急程度"), ["需要关爱"]);
    assert_eq!(column(&rows, "网格"), ["一村甲网格"]);

    let r = app
        .post(
            &format!("/api/v1/reports/{}/assign", w.report),
            Some(&w.town),
            serde_json::json!({ "assignee": w.assistant, "note": "今天内核实" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/tasks").await;
    let rows = csv_rows(&bytes);
    assert_eq!(column(&rows, "类型"), ["核实主动发现报告"]);
    assert_eq!(column(&rows, "报告编号"), [w.report.as_str()]);
    assert_eq!(column(&rows, "承办人"), ["assist.liu"]);
    assert_eq!(column(&rows, "状态"), ["未完成"]);
    assert_eq!(column(&rows, "说明"), ["今天内核实"]);
    // A verification has no due date: the period takes its creation day.
    assert_eq!(column(&rows, "到期日"), [""]);
    let created = &column(&rows, "创建时间")[0][..10];
    let (_, _, bytes) = export(
        app,
        &w.town,
        &format!("/api/v1/exports/tasks?from={created}&to={created}"),
    )
    .await;
    assert_eq!(csv_rows(&bytes).len(), 2, "created within the period");
    // A period that ends before the task was created leaves it out.
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/tasks?to=2026-01-01").await;
    assert_eq!(csv_rows(&bytes).len(), 1, "the header only");
    // The other township's reviewer sees neither.
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    let other = app.login("town.other").await.0;
    for d in ["reports", "tasks"] {
        let (_, _, bytes) = export(app, &other, &format!("/api/v1/exports/{d}")).await;
        assert_eq!(csv_rows(&bytes).len(), 1, "{d}: the header only");
    }
}

/// The 保障对象台账 (every decision on a household) and the 监测预警台账, each limited to the
/// caller's regions and the period asked.
async fn decisions_and_alerts_are_exported(b: Backend) {
    use doudi_protocol::doc::household::{DecisionOutcome, Programme};
    let w = world(b).await;
    let app = &w.app;
    let at = |day: &str| {
        doudi_server::review::deadlines::midnight_ms(day.parse().unwrap()) + 10 * 3_600_000
    };
    let (hh0, hh1) = (&w.households[0], &w.households[1]);
    doudi_tests::cases::approve(app, hh0, Programme::Dibao, at("2026-03-02"), "county.qian").await;
    doudi_tests::cases::decide(
        app,
        hh1,
        Programme::Dibao,
        DecisionOutcome::Refused,
        at("2026-06-01"),
        "county.qian",
    )
    .await;
    let reason = "家庭人均收入超过低保标准";
    let r = app
        .post(
            &format!("/api/v1/households/{hh0}/decisions"),
            Some(&w.county),
            serde_json::json!({ "change": "terminate", "programme": "dibao", "reason": reason }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let (_, _, bytes) = export(app, &w.county, "/api/v1/exports/decisions?format=xlsx").await;
    let (sheet, rows) = xlsx_rows(bytes);
    assert_eq!(sheet, "保障决定台账");
    let mut decided: Vec<(String, String, String)> = column(&rows, "户编号")
        .into_iter()
        .zip(column(&rows, "决定"))
        .zip(column(&rows, "理由或说明"))
        .map(|((h, d), n)| (h, d, n))
        .collect();
    decided.sort();
    let mut want = vec![
        (hh0.clone(), "批准".to_string(), String::new()),
        (hh0.clone(), "终止".to_string(), reason.to_string()),
        (hh1.clone(), "不予批准".to_string(), String::new()),
    ];
    want.sort();
    assert_eq!(decided, want);
    assert_eq!(column(&rows, "救助类别"), ["低保", "低保", "低保"]);
    assert!(column(&rows, "决定人").iter().all(|n| n == "county.qian"));
    assert!(column(&rows, "网格").iter().all(|n| n == "一村甲网格"));
    // The period takes the decision's time.
    let (_, _, bytes) = export(
        app,
        &w.county,
        "/api/v1/exports/decisions?from=2026-05-01&to=2026-06-30",
    )
    .await;
    let rows = csv_rows(&bytes);
    assert_eq!(column(&rows, "决定"), ["不予批准"]);
    assert_eq!(column(&rows, "决定时间"), ["2026-06-01 10:00"]);

    // A death on the department's list raises an alert on the child of the first household.
    let yesterday = doudi_server::review::deadlines::today()
        .unwrap()
        .pred_opt()
        .unwrap();
    let deaths = format!("姓名,身份证号,死亡日期\n王小明,{NUMBER},{yesterday}\n");
    let r = doudi_tests::cases::import_list(app, &w.town, "death", deaths).await;
    // And a second one: the household left 低保 (终止) less than two years ago.
    assert_eq!(r.body["alerts"], 2, "{:?}", r.body);
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/alerts").await;
    let rows = csv_rows(&bytes);
    let mut indicators = column(&rows, "预警指标");
    indicators.sort();
    assert_eq!(indicators, ["家庭成员死亡", "退出低保特困不满两年"]);
    assert_eq!(column(&rows, "户编号"), [hh0.as_str(), hh0.as_str()]);
    assert_eq!(column(&rows, "成员"), ["王小明", "王小明"]);
    assert_eq!(column(&rows, "状态"), ["待处置", "待处置"]);
    assert_eq!(column(&rows, "网格编码"), [GRID_A, GRID_A]);
    for shown in column(&rows, "身份证号") {
        assert!(
            shown.contains('*') && !shown.contains(&NUMBER[6..14]),
            "{shown}"
        );
    }
    assert!(!String::from_utf8_lossy(&bytes).contains(NUMBER));
    // Outside the caller's regions: nothing, for either ledger.
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    let other = app.login("town.other").await.0;
    for d in ["decisions", "alerts"] {
        let (_, _, bytes) = export(app, &other, &format!("/api/v1/exports/{d}")).await;
        assert_eq!(csv_rows(&bytes).len(), 1, "{d}: the header only");
    }
}

/// The export audit entries of a ledger.
async fn exported(app: &TestApp, dataset: &str) -> usize {
    let target = format!("exports.{dataset}");
    app.audit("export")
        .await
        .iter()
        .filter(|e| e.target.as_deref() == Some(target.as_str()))
        .count()
}

async fn temporary_aid_and_applications_are_exported(b: Backend) {
    use chrono::Datelike;
    use doudi_protocol::doc::visit::ReviewDecision;
    use doudi_protocol::rules::Money;
    use doudi_protocol::rules::policy::PolicySettings;
    use doudi_server::entity::{temp_aid_case, visit};
    use sea_orm::EntityTrait;
    let w = world(b).await;
    let app = &w.app;
    app.county_policy(PolicySettings {
        temp_aid_township_limit: Some(Money::yuan(3_000)),
        ..Default::default()
    })
    .await;
    // 临时救助: a 支出型 case for a member with a 身份证号, approved by the township
    // (2,500 yuan, within its limit) and paid in part.
    let number = "110105198001010032";
    let mut phone = app.phone("grid.zhang").await;
    let mut h = doudi_tests::cases::household("一镇一村 8 号");
    let head = MemberId::generate().unwrap();
    let mut m = Member::new("赵大娘", Relation::Spouse);
    m.identity = Some(phone.identity_key.seal(&IdNumber::parse(number).unwrap()));
    h.members.insert(head, m);
    let hid = phone.replica.create(GRID_A, &h).unwrap().to_string();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let r = app
        .post(
            "/api/v1/temporary-aid",
            Some(&w.town),
            serde_json::json!({
                "kind": "expense", "household_id": hid, "member_id": head.to_string(),
                "region_code": GRID_A, "place": "一镇一村 8 号", "reason": "重病住院，医疗费用负担过重",
                "reported_at_ms": doudi_server::auth::now_ms(),
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let case = r.body["case"]["case_id"].as_str().unwrap().to_string();
    for (what, body) in [
        ("approvals", serde_json::json!({ "amount_fen": 250_000 })),
        ("decision", serde_json::json!({ "decision": "approve" })),
        ("payments", serde_json::json!({ "amount_fen": 100_000 })),
    ] {
        let r = app
            .post(
                &format!("/api/v1/temporary-aid/{case}/{what}"),
                Some(&w.town),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{what}: {:?}", r.body);
    }
    let listed = app
        .get(&format!("/api/v1/temporary-aid/{case}"), &w.town)
        .await;
    let stored = temp_aid_case::Entity::find_by_id(case.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let (status, ct, bytes) =
        export(app, &w.town, "/api/v1/exports/temporary_aid?format=xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let (sheet, rows) = xlsx_rows(bytes.clone());
    assert_eq!(sheet, "临时救助台账");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(column(&rows, "案件编号"), [stored.id.as_str()]);
    assert_eq!(column(&rows, "类型"), ["支出型"]);
    assert_eq!(column(&rows, "户编号"), [hid.as_str()]);
    assert_eq!(column(&rows, "受助人"), [stored.person_name.as_str()]);
    assert_eq!(
        column(&rows, "身份证号"),
        [stored.id_masked.clone().unwrap()]
    );
    let shown = &column(&rows, "身份证号")[0];
    assert!(
        shown.contains('*') && !shown.contains(&number[6..14]),
        "{shown}"
    );
    assert_eq!(column(&rows, "发生地区划编码"), [GRID_A]);
    assert_eq!(column(&rows, "发生地"), ["一村甲网格"]);
    assert_eq!(column(&rows, "事由"), [stored.reason.as_str()]);
    assert_eq!(column(&rows, "审批权限"), ["乡镇审批"]);
    assert_eq!(column(&rows, "一事一议"), ["否"]);
    assert_eq!(column(&rows, "批准金额（元）"), ["2500.00"]);
    assert_eq!(column(&rows, "已发放金额（元）"), ["1000.00"]);
    assert_eq!(
        column(&rows, "状态"),
        [listed.body["case"]["status_label"].as_str().unwrap()]
    );
    assert!(!String::from_utf8_lossy(&bytes).contains(number));
    // The period takes the report's time: a past period holds none.
    let (_, _, bytes) = export(
        app,
        &w.town,
        "/api/v1/exports/temporary_aid?from=2020-01-01&to=2020-12-31",
    )
    .await;
    assert_eq!(csv_rows(&bytes).len(), 1, "the header only");
    assert_eq!(exported(app, "temporary_aid").await, 2);

    // 申请台账: the investigation submitted in the world, with the township's due date the
    // review queue gives; after the township's approval, its opinion and the county's due date.
    // (Next year's calendar imported, so that due dates reaching into it are known.)
    let next = doudi_server::review::deadlines::today().unwrap().year() + 1;
    doudi_server::review::calendar::import(&app.state.db, &format!("{next}-01-01,holiday,元旦\n"))
        .await
        .unwrap();
    let application = visit::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.purpose == "investigation")
        .unwrap();
    let queued_due = |token: String| async move {
        let q = app.get("/api/v1/review/queue", &token).await;
        q.body["items"][0]["due"]
            .as_str()
            .unwrap_or_else(|| panic!("{:?}", q.body))
            .to_string()
    };
    let (_, _, bytes) = export(app, &w.town, "/api/v1/exports/applications").await;
    let rows = csv_rows(&bytes);
    assert_eq!(column(&rows, "申请编号"), [application.doc_id.as_str()]);
    assert_eq!(column(&rows, "户编号"), [w.households[0].as_str()]);
    assert_eq!(column(&rows, "状态"), ["已提交"]);
    assert_eq!(column(&rows, "乡镇审核意见"), [""]);
    assert_eq!(
        column(&rows, "乡镇审核到期日"),
        [queued_due(w.town.clone()).await]
    );
    assert_eq!(column(&rows, "县级确认到期日"), [""]);
    // The whole case's limit is in the ledger as in the queue.
    let q = app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        column(&rows, "办理总时限"),
        [q.body["items"][0]["case_due"]
            .as_str()
            .unwrap_or("日历未知")]
    );
    assert_eq!(column(&rows, "延期说明"), ["否"]);
    let r = app
        .post(
            &format!("/api/v1/visits/{}/review", application.doc_id),
            Some(&w.town),
            serde_json::json!({ "decision": "approve" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, _, bytes) = export(app, &w.county, "/api/v1/exports/applications?format=xlsx").await;
    let (sheet, rows) = xlsx_rows(bytes);
    assert_eq!(sheet, "申请台账");
    assert_eq!(
        column(&rows, "乡镇审核意见"),
        [ReviewDecision::Approve.label_zh()]
    );
    assert!(!column(&rows, "乡镇审核时间")[0].is_empty());
    assert_eq!(column(&rows, "网格"), ["一村甲网格"]);
    assert_eq!(
        column(&rows, "县级确认到期日"),
        [queued_due(w.county.clone()).await]
    );
    assert_eq!(column(&rows, "县级确认意见"), [""]);
    assert_eq!(column(&rows, "已逾期"), ["否"]);
    assert_eq!(exported(app, "applications").await, 2);

    // Another township sees none of either ledger.
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    let other = app.login("town.other").await.0;
    for d in ["temporary_aid", "applications"] {
        let (status, _, bytes) = export(app, &other, &format!("/api/v1/exports/{d}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(csv_rows(&bytes).len(), 1, "{d}: the header only");
    }
}

async fn exports_refuse_what_they_cannot_give(b: Backend) {
    let w = world(b).await;
    let app = &w.app;
    let field = app.login("grid.zhang").await.0;
    for (token, path, status, code) in [
        (
            field.as_str(),
            "/api/v1/exports/households",
            StatusCode::FORBIDDEN,
            "policy.denied",
        ),
        (
            &w.town,
            "/api/v1/exports/households?region=370102002000",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &w.town,
            "/api/v1/exports/members?unmask=true&region=370102002000",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &w.town,
            "/api/v1/exports/payments",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &w.town,
            "/api/v1/exports/households?format=pdf",
            StatusCode::BAD_REQUEST,
            "request.invalid",
        ),
        (
            &w.town,
            "/api/v1/exports/visits?from=2026-13-01",
            StatusCode::BAD_REQUEST,
            "request.invalid",
        ),
        (
            &w.town,
            "/api/v1/exports/visits?from=2026-12-02&to=2026-12-01",
            StatusCode::BAD_REQUEST,
            "request.invalid",
        ),
    ] {
        let r = app.get(path, token).await;
        assert_eq!(r.status, status, "{path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{path}: {:?}", r.body);
    }
    // Nothing refused was exported; the field worker's refusal is audited as denied.
    assert!(app.audit("export").await.is_empty());
    let denied = app.audit("policy.denied").await;
    assert!(
        denied
            .iter()
            .any(|d| d.target.as_deref() == Some("exports.households")
                && d.detail
                    .as_deref()
                    .is_some_and(|x| x.contains("\"export\""))),
        "{denied:?}"
    );
    let r = app
        .get("/api/v1/exports/visits?from=2026-13-01", &w.town)
        .await;
    assert_eq!(r.body["details"]["field"], "from");
    // The server keeps serving.
    let (status, _, _) = export(app, &w.town, "/api/v1/exports/visits").await;
    assert_eq!(status, StatusCode::OK);
}
