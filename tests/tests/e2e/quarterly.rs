//! The quarterly report (每季度报告, `GET /api/v1/statistics/quarterly`, `/console/quarterly`):
//! every figure against a count made by hand from the records this test writes, for the last
//! quarter (decisions, re-check tasks, visits, discovery reports) and the current one
//! (applications decided on time and late, an alert); limited to the region asked; XLSX read
//! back with a spreadsheet reader.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use doudi_protocol::doc::UnixMillis;
use doudi_protocol::doc::discovery::Channel;
use doudi_protocol::doc::household::{DecisionOutcome, Member, Programme, Relation};
use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_server::quarterly::Quarter;
use doudi_server::review::deadlines;
use doudi_tests::{Backend, TestApp, both_backends, console_login, spawn_app};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

both_backends!(the_quarterly_report_counts_what_the_records_say);

const GRID_A: &str = "370102001001-A";
const GRID_A_PATH: &str =
    "/370000000000/370100000000/370102000000/370102001000/370102001001/370102001001-A/";
const GRID_OTHER_TOWN: &str = "370102002001-A";
const TOWN: &str = "370102001000";
const COUNTY: &str = "370102000000";
const NUMBER: &str = "11010519491231002X";

/// Ten in the morning, China time, `days` after the first day of `q`.
fn day_in(q: Quarter, days: u64) -> i64 {
    let d = q.first_day() + chrono::Days::new(days);
    deadlines::midnight_ms(d) + 10 * 3_600_000
}

fn programme<'a>(r: &'a Value, code: &str) -> &'a Value {
    r["programmes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["programme"] == code)
        .unwrap()
}

fn counts(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A page without the `data-label` attributes the console gives every list cell (for phone
/// width), so that rows compare as written.
fn without_cell_labels(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find(" data-label=\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " data-label=\"".len()..];
        rest = &after[after.find('"').map_or(after.len(), |e| e + 1)..];
    }
    out.push_str(rest);
    out
}

async fn report(app: &TestApp, token: &str, region: &str, q: Quarter) -> Value {
    let r = app
        .get(
            &format!(
                "/api/v1/statistics/quarterly?region={region}&quarter={}",
                q.code()
            ),
            token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn add_task(app: &TestApp, kind: &str, status: &str, due_ms: i64) {
    doudi_server::entity::task::ActiveModel {
        id: Set(doudi_protocol::ids::DocumentId::generate()
            .unwrap()
            .to_string()),
        kind: Set(kind.into()),
        report_id: Set(None),
        household_id: Set(None),
        region_path: Set(GRID_A_PATH.into()),
        assignee_id: Set(None),
        assigned_by: Set("system".into()),
        note: Set(None),
        note_en: Set(None),
        status: Set(status.into()),
        created_at_ms: Set(due_ms - 30 * 86_400_000),
        due_at_ms: Set(Some(due_ms)),
        schedule_key: Set(None),
        case_id: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn the_quarterly_report_counts_what_the_records_say(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let grid = app
        .create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let assistant = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_OTHER_TOWN])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &[TOWN])
        .await;
    app.create_account("county.qian", Role::CountyApprover, &[COUNTY])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    let town = app.login("town.zhao").await.0;
    let county = app.login("county.qian").await.0;
    let now_q = Quarter::of(deadlines::today().unwrap());
    let last_q = now_q.previous();

    // Households: hh0 with a second member (persons from the members: 2), hh2 with a member
    // whose number a department will report dead; hh4 and hh5 apply this quarter.
    let mut phone = app.phone("grid.zhang").await;
    let mut hh = Vec::new();
    for i in 0..6 {
        let mut h = doudi_tests::cases::household(&format!("一镇一村 {i} 号"));
        if i == 0 {
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new("王小二", Relation::Child),
            );
        }
        if i == 2 {
            let mut m = Member::new("王老汉", Relation::Parent);
            m.identity = Some(phone.seal(NUMBER));
            h.members.insert(MemberId::generate().unwrap(), m);
        }
        hh.push(phone.replica.create(GRID_A, &h).unwrap().to_string());
    }
    // Last quarter's visits: two investigations and a re-check; one investigation before it.
    let mut visits = Vec::new();
    for (purpose, at) in [
        (Purpose::Investigation, day_in(last_q, 10)),
        (Purpose::Investigation, day_in(last_q, 20)),
        (Purpose::Recheck, day_in(last_q, 30)),
        (Purpose::Investigation, day_in(last_q.previous(), 40)),
    ] {
        let mut v = doudi_tests::cases::submitted_visit(
            hh[4].parse().unwrap(),
            [(grid.as_str(), "张网格"), (assistant.as_str(), "刘协理")],
        );
        v.purpose = purpose;
        v.applied_for = (purpose == Purpose::Investigation).then_some(Programme::Dibao);
        v.started_at = Some(UnixMillis(at - 3_600_000));
        v.ended_at = Some(UnixMillis(at - 1_800_000));
        v.submitted_at = Some(UnixMillis(at));
        visits.push(phone.replica.create(GRID_A, &v).unwrap().to_string());
    }
    // Last quarter's discovery reports: one found on a visit, one from the hotline.
    for channel in [Channel::Visit, Channel::Hotline] {
        let mut r = doudi_tests::cases::report_with_photos(&grid, &[]);
        r.channel = Some(channel);
        r.reported_at = Some(UnixMillis(day_in(last_q, 15)));
        phone.replica.create(GRID_A, &r).unwrap();
    }
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 12, "{:?}", o.rejected);
    let mut other = app.phone("grid.sun").await;
    let far = other
        .replica
        .create(
            GRID_OTHER_TOWN,
            &doudi_tests::cases::household("二镇一村 1 号"),
        )
        .unwrap()
        .to_string();
    app.sync(&mut other).await;

    // Decisions: hh0 approved before last quarter's end (and again this quarter), hh1 approved
    // and terminated within it, hh2 approved for 特困, hh3 refused; the other township's
    // household approved in it too.
    use DecisionOutcome::*;
    for (h, p, outcome, at) in [
        (
            &hh[0],
            Programme::Dibao,
            Approved,
            day_in(last_q.previous(), 5),
        ),
        (&hh[1], Programme::Dibao, Approved, day_in(last_q, 14)),
        (&hh[1], Programme::Dibao, Terminated, day_in(last_q, 80)),
        (
            &hh[2],
            Programme::TekunDispersed,
            Approved,
            day_in(last_q, 31),
        ),
        (&hh[3], Programme::Dibao, Refused, day_in(last_q, 35)),
        (&far, Programme::Dibao, Approved, day_in(last_q, 31)),
        (&hh[0], Programme::Dibao, Changed, day_in(now_q, 1)),
    ] {
        doudi_tests::cases::decide(&app, h, p, outcome, at, "county.qian").await;
    }
    // Re-checks due last quarter: one done, one still open (overdue); one superseded, one of
    // another kind and one due after the quarter are not counted.
    add_task(&app, "recheck", "done", day_in(last_q, 9)).await;
    add_task(&app, "death_recheck", "open", day_in(last_q, 50)).await;
    add_task(&app, "recheck", "superseded", day_in(last_q, 51)).await;
    add_task(&app, "visit", "open", day_in(last_q, 52)).await;
    add_task(&app, "recheck", "open", day_in(now_q, 0) + 86_400_000 * 400).await;

    // Last quarter, the township.
    let r = report(&app, &town, TOWN, last_q).await;
    assert_eq!(r["quarter"], last_q.code());
    assert_eq!(r["from"], last_q.first_day().to_string());
    assert_eq!(r["to"], last_q.last_day().to_string());
    let dibao = programme(&r, "dibao");
    assert_eq!(
        (
            &dibao["households"],
            &dibao["persons"],
            &dibao["entries"],
            &dibao["exits"],
            &dibao["refusals"]
        ),
        (&json!(1), &json!(2), &json!(1), &json!(1), &json!(1)),
        "{dibao}"
    );
    let tekun = programme(&r, "tekun_dispersed");
    assert_eq!(
        (&tekun["households"], &tekun["persons"], &tekun["entries"]),
        (&json!(1), &json!(2), &json!(1)),
        "{tekun}"
    );
    assert_eq!(r["rechecks"], json!({ "due": 2, "done": 1, "overdue": 1 }));
    assert_eq!(
        counts(&r["visits_by_purpose"]),
        [("investigation".into(), 2), ("recheck".into(), 1)]
    );
    assert_eq!(
        counts(&r["reports_by_channel"]),
        [("hotline".into(), 1), ("visit".into(), 1)]
    );
    assert_eq!(counts(&r["reports_by_status"]), [("submitted".into(), 2)]);
    assert_eq!(r["applications"]["decided"], 0);
    // The county sees the other township's approval too.
    let r = report(&app, &county, COUNTY, last_q).await;
    assert_eq!(programme(&r, "dibao")["households"], 2);
    assert_eq!(programme(&r, "dibao")["entries"], 2);

    // This quarter: an application submitted today and decided at once (within its limits),
    // and last quarter's first investigation decided only now (the township's step late).
    let mut a = doudi_tests::cases::submitted_visit(
        hh[5].parse().unwrap(),
        [(grid.as_str(), "张网格"), (assistant.as_str(), "刘协理")],
    );
    let now = doudi_server::auth::now_ms();
    a.applied_for = Some(Programme::Dibao);
    a.started_at = Some(UnixMillis(now - 3_600_000));
    a.ended_at = Some(UnixMillis(now - 1_800_000));
    a.submitted_at = Some(UnixMillis(now - 1_000));
    let a = phone.replica.create(GRID_A, &a).unwrap().to_string();
    assert_eq!(app.sync(&mut phone).await.accepted.len(), 1);
    for v in [&a, &visits[0]] {
        let r = app
            .post(
                &format!("/api/v1/visits/{v}/review"),
                Some(&town),
                json!({ "decision": "approve" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        doudi_tests::cases::end_notice(&app, v).await;
        let r = app
            .post(
                &format!("/api/v1/visits/{v}/review"),
                Some(&county),
                json!({ "decision": "confirm", "amount_fen_per_month": 60_000 }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // A department reports hh2's member dead.
    let deaths = format!(
        "姓名,身份证号,死亡日期\n王老汉,{NUMBER},{}\n",
        deadlines::today().unwrap()
    );
    let imported = doudi_tests::cases::import_list(&app, &town, "death", deaths).await;
    assert_eq!(imported.body["alerts"], 1, "{:?}", imported.body);

    // Two 急难 临时救助 cases for hh0's head, reported 30 hours ago: 先行救助 at 23 hours (on
    // time) and at 25 hours (late).
    let head = phone
        .replica
        .read::<doudi_protocol::doc::Household>(&hh[0])
        .unwrap()
        .members
        .iter()
        .find(|(_, m)| m.relation == Relation::Head)
        .map(|(id, _)| id.to_string())
        .unwrap();
    let reported = now - 30 * 3_600_000;
    for (hours, amount) in [(23, 150_000), (25, 100_000)] {
        let r = app
            .post(
                "/api/v1/temporary-aid",
                Some(&town),
                json!({
                    "kind": "emergency", "household_id": hh[0], "member_id": head,
                    "region_code": GRID_A, "place": "一镇一村 0 号", "reason": "房屋失火",
                    "reported_at_ms": reported,
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let id = r.body["case"]["case_id"].as_str().unwrap().to_string();
        let r = app
            .post(
                &format!("/api/v1/temporary-aid/{id}/aid"),
                Some(&town),
                json!({ "amount_fen": amount, "given_at_ms": reported + hours * 3_600_000 }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    let r = report(&app, &town, TOWN, now_q).await;
    let aid = &r["temporary_aid"];
    assert_eq!(counts(&aid["opened_by_kind"]), [("emergency".into(), 2)]);
    assert_eq!(
        (
            &aid["aid_on_time"],
            &aid["aid_late"],
            &aid["payments"],
            &aid["paid_fen"],
            &aid["households_paid"],
            &aid["above_cap_requests"]
        ),
        (
            &json!(1),
            &json!(1),
            &json!(2),
            &json!(250_000),
            &json!(1),
            &json!(0)
        ),
        "{aid}"
    );
    assert_eq!(
        r["applications"],
        json!({ "decided": 2, "approved": 2, "refused": 0, "within_limits": 1 })
    );
    // hh0 (changed: its two members, the change naming no 保障人数) and the two confirmed
    // applications (one member each, as the confirmation wrote); the change is no entry.
    let dibao = programme(&r, "dibao");
    assert_eq!(
        (&dibao["entries"], &dibao["households"], &dibao["persons"]),
        (&json!(2), &json!(3), &json!(4)),
        "{dibao}"
    );
    assert_eq!(counts(&r["alerts_by_indicator"]), [("death".into(), 1)]);
    assert_eq!(counts(&r["alerts_by_disposition"]), [("open".into(), 1)]);
    assert_eq!(
        counts(&r["visits_by_purpose"]),
        [("investigation".into(), 1)]
    );

    // The workbook holds the same figures.
    let resp = app
        .http
        .get(app.url(&format!(
            "/api/v1/statistics/quarterly?region={TOWN}&quarter={}&format=xlsx",
            now_q.code()
        )))
        .bearer_auth(&town)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("季度报告").unwrap();
    let cells: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let row = |first: &str| {
        cells
            .iter()
            .position(|r| r.first().is_some_and(|c| c == first))
            .unwrap_or_else(|| panic!("no row {first}: {cells:?}"))
    };
    let dibao_row = &cells[row("低保")];
    assert_eq!(dibao_row[1..4], ["3", "4", "2"], "{dibao_row:?}");
    let limits = &cells[row("办结申请") + 1];
    assert_eq!(limits[..5], ["2", "2", "0", "1", "50.0%"], "{limits:?}");
    let aid = &cells[row("先行救助按时") + 1];
    assert_eq!(aid[..6], ["1", "1", "2", "2500", "1", "0"], "{aid:?}");

    // The console page shows it; another township's reviewer may not ask for this one; a
    // grid worker has no report.
    let (mut console, _) = console_login(&app, "town.zhao").await;
    let (status, page) = console
        .get(&format!(
            "/console/quarterly?region={TOWN}&quarter={}",
            now_q.code()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("季度报告") && page.contains("50.0%"),
        "{page}"
    );
    // The dashboard counts the same records, each count a link to its list.
    let (_, dash) = console.get("/console/dashboard").await;
    let dash = without_cell_labels(&dash);
    for shown in [
        "<td>家庭成员死亡</td><td><a href=\"/console/monitoring?indicator=death&amp;state=open\">1</a></td><td><a href=\"/console/monitoring?indicator=death&amp;state=overdue\">0</a></td><td><a href=\"/console/monitoring?indicator=death&amp;state=disposed\">0</a></td>",
        "<td>热线反映</td><td><a href=\"/console/reports?show=all\">1</a></td>",
        "<td>已上报</td><td><a href=\"/console/reports\">2</a></td>",
        "<td>已先行救助</td><td><a href=\"/console/temporary-aid?state=aid_given\">2</a></td><td>2500.00</td>",
    ] {
        assert!(dash.contains(shown), "{shown} missing: {dash}");
    }
    let (mut elsewhere, _) = console_login(&app, "town.other").await;
    let (_, dash) = elsewhere.get("/console/dashboard").await;
    assert!(
        !dash.contains("家庭成员死亡") && !dash.contains("已先行救助"),
        "{dash}"
    );
    let other = app.login("town.other").await.0;
    let r = app
        .get(
            &format!("/api/v1/statistics/quarterly?region={TOWN}"),
            &other,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = app
        .get("/api/v1/statistics/quarterly?quarter=2026Q5", &town)
        .await;
    assert_eq!(r.code(), "request.invalid", "{:?}", r.body);
    let grid_token = phone.access.clone();
    let r = app.get("/api/v1/statistics/quarterly", &grid_token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}
