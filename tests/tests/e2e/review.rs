//! Review workflow end to end: phones submit visits through sync, reviewers decide over HTTP,
//! decisions reach the phones on their next sync.

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, TargetGroup, Urgency};
use doudi_protocol::doc::household::{Member, Programme, Relation};
use doudi_protocol::doc::visit::{Purpose, ReviewOutcome, VisitStatus};
use doudi_protocol::doc::{DiscoveryReport, Household, UnixMillis, Visit};
use doudi_protocol::ids::{AccountId, BlobHash, MemberId};
use doudi_protocol::role::Role;
use doudi_server::config::Settings;
use doudi_server::documents::SERVER_ACTOR;
use doudi_server::entity::{doc_change, review_decision};
use doudi_tests::{Backend, Browser, Phone, TestApp, both_backends, console_login, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

both_backends!(
    town_approves_and_the_phone_sees_it,
    returned_visit_is_edited_resubmitted_and_approved,
    rejected_visit_is_final,
    county_confirms_or_sends_back,
    wrong_role_or_region_is_refused,
    spot_check_sample_follows_the_setting,
    reports_are_triaged_into_tasks,
    task_changes_reach_the_phone_from_any_writer,
    console_refuses_missing_csrf_and_foreign_ids,
    recheck_and_visit_tasks_are_scheduled,
    queue_count_stops_at_the_cap,
    dashboard_counts_every_status,
    history_survives_change_log_compaction,
    history_shows_each_change_old_and_new,
    the_case_file_prints_the_evidence_only,
    the_visit_map_places_the_regions_located_visits,
    due_dates_beyond_the_calendar_are_unknown_not_guessed,
    only_applications_go_to_the_county,
    an_imported_calendar_year_gives_its_due_dates,
    due_dates_follow_the_regions_limits,
    console_hover_text_is_chinese,
    report_page_shows_the_report_to_its_township_only,
    report_forms_keep_the_text_and_closed_reports_stay_listed,
    approval_waits_for_conflicts_to_be_settled,
    visit_page_shows_member_checks_and_additions,
    photo_viewer_pages_through_a_records_photos,
    the_county_decision_sets_the_programme,
    a_phase_out_runs_to_its_end_task,
    a_rigid_expenditure_recognition_lapses_after_a_year,
    a_delegated_township_confirms_itself,
    watched_households_are_visited_at_the_regions_interval,
    an_application_is_timed_from_its_acceptance,
    a_kin_filing_waits_for_the_countys_own_visit,
);

const GRID_A: &str = "370102001001-A";

struct World {
    app: TestApp,
    phone: Phone,
    assistant_id: String,
    town: String,
    county: String,
}

async fn world(b: Backend) -> World {
    world_with(b, |_| {}).await
}

async fn world_with(b: Backend, tweak: impl FnOnce(&mut Settings)) -> World {
    let app = spawn_app_with(b, tweak).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let assistant_id = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.create_account("county.qian", Role::CountyApprover, &["370102000000"])
        .await;
    app.create_account("county.other", Role::CountyApprover, &["370103000000"])
        .await;
    let phone = app.phone("grid.zhang").await;
    let town = app.login("town.zhao").await.0;
    let county = app.login("county.qian").await.0;
    World {
        app,
        phone,
        assistant_id,
        town,
        county,
    }
}

/// A household (特困 when asked) and a submitted visit to it, synced from the phone.
async fn submitted(w: &mut World, tekun: bool) -> (String, String) {
    let h = doudi_tests::cases::household("济南市历下区一镇一村 9 号");
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    v.applied_for = Some(match tekun {
        true => Programme::TekunDispersed,
        false => Programme::Dibao,
    });
    if tekun {
        let o = w.app.sync(&mut w.phone).await;
        assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
        let at = doudi_server::auth::now_ms() - 86_400_000;
        doudi_tests::cases::approve(
            &w.app,
            &hh.to_string(),
            Programme::TekunDispersed,
            at,
            "county.qian",
        )
        .await;
    }
    let visit = w.phone.replica.create(GRID_A, &v).unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(
        o.accepted.len(),
        1 + usize::from(!tekun),
        "{:?}",
        o.rejected
    );
    (hh.to_string(), visit.to_string())
}

async fn review(
    app: &TestApp,
    token: &str,
    visit: &str,
    decision: &str,
    comment: Option<&str>,
) -> doudi_tests::Resp {
    let mut body = json!({ "decision": decision });
    if let Some(c) = comment {
        body["comment"] = json!(c);
    }
    // A confirmation approves the application, once its 公示 is over: with the monthly amount.
    if decision == "confirm" {
        body["amount_fen_per_month"] = json!(60_000);
        doudi_tests::cases::end_notice(app, visit).await;
    }
    app.post(&format!("/api/v1/visits/{visit}/review"), Some(token), body)
        .await
}

async fn town_approves_and_the_phone_sees_it(b: Backend) {
    let mut w = world(b).await;
    let (_, visit) = submitted(&mut w, false).await;
    // The township's queue lists it with a due date.
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
    assert_eq!(q.body["items"][0]["visit_id"], json!(visit));
    // Due in a year the calendar covers, or marked unknown (the exact dates: below).
    let item = &q.body["items"][0];
    assert!(
        item["due"].is_string() != (item["calendar_unknown"] == json!(true)),
        "{item}"
    );

    let r = review(&w.app, &w.town, &visit, "approve", Some("情况属实")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["level"], "town");

    // The decision is a server change in the document, recorded with the reviewer's device.
    let changes = doc_change::Entity::find()
        .filter(doc_change::Column::DocId.eq(visit.as_str()))
        .filter(doc_change::Column::Actor.eq(hex(&SERVER_ACTOR)))
        .all(&w.app.state.db)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    let rows = review_decision::Entity::find()
        .filter(review_decision::Column::VisitId.eq(visit.as_str()))
        .all(&w.app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].decision.as_str(), rows[0].level.as_str()),
        ("approve", "town")
    );
    assert_eq!(w.app.audit("review.decision").await.len(), 1);

    // The phone receives it on its next sync.
    let o = w.app.sync(&mut w.phone).await;
    assert!(o.updated.contains(&visit), "{o:?}");
    let v: Visit = w.phone.replica.read(&visit).unwrap();
    assert_eq!(v.status, VisitStatus::Approved);
    assert_eq!(v.reviews.len(), 1);
    assert_eq!(v.reviews[0].decision, ReviewOutcome::Approve);
    assert_eq!(v.reviews[0].reviewer_name, "town.zhao");
    assert_eq!(v.reviews[0].comment.as_deref(), Some("情况属实"));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn returned_visit_is_edited_resubmitted_and_approved(b: Backend) {
    let mut w = world(b).await;
    let (_, visit) = submitted(&mut w, false).await;
    let r = review(&w.app, &w.town, &visit, "return", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "review.comment_required");
    let r = review(
        &w.app,
        &w.town,
        &visit,
        "return",
        Some("请补充收入核实情况"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "returned");

    w.app.sync(&mut w.phone).await;
    let v: Visit = w.phone.replica.read(&visit).unwrap();
    assert_eq!(v.status, VisitStatus::Returned);
    assert_eq!(
        v.reviews.last().unwrap().comment.as_deref(),
        Some("请补充收入核实情况")
    );
    // The phone edits the returned visit, then resubmits.
    w.phone
        .replica
        .update::<Visit>(&visit, |v| {
            v.conclusion_notes = Some("已补充：务工收入每月约 800 元".into());
        })
        .unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted, vec![visit.clone()], "{:?}", o.rejected);
    // Still returned: the township cannot approve it yet.
    let r = review(&w.app, &w.town, &visit, "approve", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "review.wrong_state");
    w.phone
        .replica
        .update::<Visit>(&visit, |v| v.status = VisitStatus::Submitted)
        .unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted, vec![visit.clone()], "{:?}", o.rejected);

    let r = review(&w.app, &w.town, &visit, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    w.app.sync(&mut w.phone).await;
    let v: Visit = w.phone.replica.read(&visit).unwrap();
    assert_eq!(v.status, VisitStatus::Approved);
    assert_eq!(v.reviews.len(), 2);
    assert_eq!(
        v.conclusion_notes.as_deref(),
        Some("已补充：务工收入每月约 800 元")
    );
}

async fn rejected_visit_is_final(b: Backend) {
    let mut w = world(b).await;
    let (_, visit) = submitted(&mut w, false).await;
    let r = review(&w.app, &w.town, &visit, "reject", Some("家庭收入高于标准")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "rejected");
    for d in ["approve", "return", "reject", "confirm"] {
        let tok = if d == "confirm" { &w.county } else { &w.town };
        let r = review(&w.app, tok, &visit, d, Some("x")).await;
        assert_eq!(r.code(), "review.wrong_state", "{d}: {:?}", r.body);
    }
    // The phone cannot reopen it.
    w.app.sync(&mut w.phone).await;
    w.phone
        .replica
        .update::<Visit>(&visit, |v| v.status = VisitStatus::Submitted)
        .unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.server_field"));
}

async fn county_confirms_or_sends_back(b: Backend) {
    let mut w = world(b).await;
    let (_, v1) = submitted(&mut w, false).await;
    let (_, v2) = submitted(&mut w, false).await;
    // The county sees nothing until the township approves.
    let q = w.app.get("/api/v1/review/queue", &w.county).await;
    assert_eq!(q.body["total"], 0, "{:?}", q.body);
    let r = review(&w.app, &w.county, &v1, "confirm", None).await;
    assert_eq!(r.code(), "review.wrong_state");
    for v in [&v1, &v2] {
        let r = review(&w.app, &w.town, v, "approve", None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let q = w.app.get("/api/v1/review/queue", &w.county).await;
    assert_eq!(q.body["total"], 2, "{:?}", q.body);
    // A township reviewer may not confirm.
    let r = review(&w.app, &w.town, &v1, "confirm", None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );

    let r = review(&w.app, &w.county, &v1, "confirm", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["level"].as_str()),
        (Some("confirmed"), Some("county"))
    );
    let r = review(&w.app, &w.county, &v2, "send_back", None).await;
    assert_eq!(r.code(), "review.comment_required");
    let r = review(
        &w.app,
        &w.county,
        &v2,
        "send_back",
        Some("请补充赡养人情况"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "returned");

    w.app.sync(&mut w.phone).await;
    let a: Visit = w.phone.replica.read(&v1).unwrap();
    assert_eq!(a.status, VisitStatus::Confirmed);
    let b2: Visit = w.phone.replica.read(&v2).unwrap();
    assert_eq!(b2.status, VisitStatus::Returned);
    assert_eq!(b2.reviews.len(), 2);
    assert_eq!(b2.reviews[1].decision, ReviewOutcome::Return);
    let levels: Vec<String> = review_decision::Entity::find()
        .filter(review_decision::Column::VisitId.eq(v2.as_str()))
        .all(&w.app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| format!("{}:{}", d.level, d.decision))
        .collect();
    assert_eq!(levels, vec!["town:approve", "county:send_back"]);
}

async fn wrong_role_or_region_is_refused(b: Backend) {
    let mut w = world(b).await;
    let (_, visit) = submitted(&mut w, false).await;
    let denied_before = w.app.audit("policy.denied").await.len();
    // A grid worker is not a reviewer.
    let r = review(&w.app, &w.phone.access, &visit, "approve", None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    // Reviewers of other regions are told nothing about the visit.
    let other_town = w.app.login("town.other").await.0;
    let other_county = w.app.login("county.other").await.0;
    for tok in [&other_town, &other_county] {
        let r = review(&w.app, tok, &visit, "approve", None).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    }
    let r = review(
        &w.app,
        &other_town,
        "0zzzzzzzzzzzzzzzzzzzzzzzzz",
        "approve",
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    // Unknown decisions are malformed requests.
    let r = review(&w.app, &w.town, &visit, "bless", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        w.app.audit("policy.denied").await.len() >= denied_before + 3,
        "denials are audited"
    );
    let q = w.app.get("/api/v1/review/queue", &other_town).await;
    assert_eq!(q.body["total"], 0);
    // Nothing changed.
    let r = review(&w.app, &w.town, &visit, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// The spot-check sample of every month's batch of a county's 特困 applications, and of every
/// first part of it, is exactly ⌈share × n⌉ of its n, for every share from 30 % (lower settings
/// count as 30 %); the numbering follows the township's approvals, the sample is in the county's
/// queue and needs what the check found to be confirmed.
async fn spot_check_sample_follows_the_setting(b: Backend) {
    use doudi_server::review::spot_check::in_sample;
    for percent in 0..=100i32 {
        let share = i64::from(percent.max(30));
        let mut taken = 0;
        for n in 1..=400i64 {
            taken += i64::from(in_sample(n, percent));
            assert_eq!(taken, (share * n + 99) / 100, "{percent} %, first {n}");
            assert!(taken * 100 >= share * n);
        }
    }

    // Five 特困 applications and a 低保 one, approved in this order: the 1st and 4th of the
    // 特困 five are sampled (⌈0.3 × 5⌉ = 2).
    let mut w = world(b).await;
    let mut visits = Vec::new();
    for i in 0..6 {
        let tekun = i != 2;
        let (_, v) = submitted(&mut w, tekun).await;
        let r = review(&w.app, &w.town, &v, "approve", None).await;
        assert_eq!(r.status, StatusCode::OK);
        visits.push((v, tekun));
    }
    let want: Vec<&str> = [0, 4].iter().map(|i| visits[*i].0.as_str()).collect();
    let q = w.app.get("/api/v1/review/queue", &w.county).await;
    let items = q.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for it in items {
        let id = it["visit_id"].as_str().unwrap();
        let tekun = visits.iter().find(|(v, _)| v == id).unwrap().1;
        assert_eq!(it["tekun"], json!(tekun));
        assert_eq!(it["spot_check"], json!(want.contains(&id)), "{it}");
        assert!(
            it["due"].is_string() != (it["calendar_unknown"] == json!(true)),
            "{it}"
        );
    }

    // A sampled case is confirmed only after the county's own visit (县级入户核查); the others
    // as before.
    let r = review(&w.app, &w.county, want[0], "confirm", Some("同意")).await;
    assert_eq!(r.code(), "review.county_visit_required", "{:?}", r.body);
    assert_eq!(r.body["details"]["spot_check"], json!(true));
    let r = county_visit(&w.app, &w.county, want[0]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = review(&w.app, &w.county, want[0], "confirm", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = review(&w.app, &w.county, &visits[1].0, "confirm", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Still marked once confirmed, and the console asks for the county's visit.
    let q = w
        .app
        .get("/api/v1/review/queue?status=confirmed", &w.county)
        .await;
    let marked: Vec<&str> = q.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["spot_check"] == json!(true))
        .map(|i| i["visit_id"].as_str().unwrap())
        .collect();
    assert_eq!(marked, vec![want[0]]);
    let (mut county, _) = console_login(&w.app, "county.qian").await;
    let (_, page) = county.get(&format!("/console/visits/{}", want[1])).await;
    assert!(
        page.contains("县级抽查")
            && page.contains("此案件须县级入户核查")
            && page.contains("记录县级入户核查"),
        "{page}"
    );
}

/// The county's own visit to the household of `visit`, recorded today by `token`.
async fn county_visit(app: &TestApp, token: &str, visit: &str) -> doudi_tests::Resp {
    let today = doudi_server::review::deadlines::today().unwrap();
    app.post(
        &format!("/api/v1/visits/{visit}/county-visits"),
        Some(token),
        json!({ "visited_on": today, "visitors": "钱县级、孙县级", "findings": "入户核查，情况属实" }),
    )
    .await
}

/// A submitted report, filed by the phone's account on a visit, of an elderly person (李大娘 of
/// 一村 12 号) who needs care.
fn elderly_person_report(phone: &Phone) -> DiscoveryReport {
    doudi_tests::cases::report_with_photos(&phone.account_id, &[])
}

async fn reports_are_triaged_into_tasks(b: Backend) {
    let mut w = world(b).await;
    let mut r = elderly_person_report(&w.phone);
    r.reported_at = Some(UnixMillis(doudi_server::auth::now_ms() - 30 * 3_600_000));
    r.emergency_24h = true;
    r.urgency = Some(Urgency::Urgent);
    r.notes = Some("独居老人，房屋漏雨".into());
    let rid = w.phone.replica.create(GRID_A, &r).unwrap().to_string();
    let mut calm = DiscoveryReport::new(AccountId::parse(&w.phone.account_id).unwrap());
    calm.reported_at = Some(UnixMillis(doudi_server::auth::now_ms() - 90 * 3_600_000));
    calm.urgency = Some(Urgency::KeepWatching);
    calm.status = DiscoveryStatus::Submitted;
    calm.channel = Some(Channel::Hotline);
    calm.target_groups.insert(TargetGroup::Hardship);
    calm.target = Some(doudi_protocol::doc::discovery::Target::Person {
        name: "陈某".into(),
        identity: None,
        address: None,
        phone: None,
    });
    let calm_id = w.phone.replica.create(GRID_A, &calm).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);

    let list = w.app.get("/api/v1/reports", &w.town).await;
    assert_eq!(
        list.strings("report_id"),
        vec![rid.as_str(), calm_id.as_str()]
    );
    assert_eq!(list.body[0]["flagged"], json!(true));
    assert_eq!(list.body[1]["flagged"], json!(false));

    // Only field workers of the grid can be assigned.
    let county_id = w
        .app
        .login_as("county.qian", doudi_tests::PASSWORD, None)
        .await
        .body["account"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r1 = w
        .app
        .post(
            &format!("/api/v1/reports/{rid}/assign"),
            Some(&w.town),
            json!({ "assignee": county_id }),
        )
        .await;
    assert_eq!(r1.code(), "task.assignee_invalid");
    let r1 = w
        .app
        .post(
            &format!("/api/v1/reports/{rid}/assign"),
            Some(&w.town),
            json!({ "assignee": w.assistant_id, "note": "今天内核实" }),
        )
        .await;
    assert_eq!(r1.status, StatusCode::OK, "{:?}", r1.body);
    let tasks = w
        .app
        .get("/api/v1/tasks", &w.app.login("assist.liu").await.0)
        .await;
    assert_eq!(tasks.strings("report_id"), vec![rid.as_str()]);
    assert_eq!(tasks.body[0]["kind"], "verify_report");
    let list = w.app.get("/api/v1/reports", &w.town).await;
    // Assigning does not clear the 急难 flag: it measures the aid given (先行救助), and none is.
    assert_eq!(list.body[0]["flagged"], json!(true));
    assert_eq!(list.body[0]["status"], "screened");

    let c = w
        .app
        .post(
            &format!("/api/v1/reports/{calm_id}/close"),
            Some(&w.town),
            json!({ "reason": "" }),
        )
        .await;
    assert_eq!(c.code(), "review.comment_required");
    let c = w
        .app
        .post(
            &format!("/api/v1/reports/{calm_id}/close"),
            Some(&w.town),
            json!({ "reason": "已纳入低保，无需另行救助" }),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{:?}", c.body);
    w.app.sync(&mut w.phone).await;
    let got: DiscoveryReport = w.phone.replica.read(&calm_id).unwrap();
    assert_eq!(got.status, DiscoveryStatus::Closed);
    let again = w
        .app
        .post(
            &format!("/api/v1/reports/{calm_id}/close"),
            Some(&w.town),
            json!({ "reason": "再次" }),
        )
        .await;
    assert_eq!(again.code(), "report.wrong_state");
}

/// The task list the server sends `phone` in one sync (`None`: not sent, the phone's list is
/// current), after applying the responses. The list comes on the last page.
async fn tasks_sent(app: &TestApp, phone: &mut Phone) -> Option<Vec<(String, Option<String>)>> {
    use doudi_protocol::sync::{SyncResponse, from_cbor, to_cbor};
    let resp = loop {
        let r = app
            .post_sync(&phone.access, to_cbor(&phone.replica.prepare(None)))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
        if !resp.more {
            break resp;
        }
        assert!(resp.tasks.is_none(), "tasks come on the last page only");
        phone.replica.apply(resp).unwrap();
    };
    let sent = resp.tasks.as_ref().map(|t| {
        t.items
            .iter()
            .map(|i| (i.kind.clone(), i.note.clone()))
            .collect()
    });
    phone.replica.apply(resp).unwrap();
    sent
}

/// A server remembers the tag of each account's task list and skips reading the list while the
/// task table's version stays put. Whoever changes a task moves that version: this server,
/// another server process on the same database, or a statement no server ran (the table's
/// trigger). The phone is sent its list after each of these, and not sent it in between.
async fn task_changes_reach_the_phone_from_any_writer(b: Backend) {
    let mut w = world(b).await;
    let url = w.app.state.settings.database_url();
    let other = spawn_app_with(b, |s| {
        s.database_url = Some(doudi_server::config::Secret::new(url.clone()));
    })
    .await;
    let r = elderly_person_report(&w.phone);
    let rid = w.phone.replica.create(GRID_A, &r).unwrap().to_string();
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, Some(vec![]));
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, None);

    // Assigned through the other server process.
    let zhang = w.phone.account_id.clone();
    let a = other
        .post(
            &format!("/api/v1/reports/{rid}/assign"),
            Some(&w.town),
            json!({ "assignee": zhang, "note": "今天内核实" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let verify = |note: &str| Some(vec![("verify_report".to_string(), Some(note.to_string()))]);
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, verify("今天内核实"));
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, None);

    // Changed by a statement outside any server.
    use sea_orm::ConnectionTrait;
    w.app
        .state
        .db
        .execute_unprepared("UPDATE tasks SET note = '明天上午核实'")
        .await
        .unwrap();
    assert_eq!(
        tasks_sent(&w.app, &mut w.phone).await,
        verify("明天上午核实")
    );
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, None);
    // A statement that changes no task leaves the version where it was.
    w.app
        .state
        .db
        .execute_unprepared("UPDATE tasks SET note = '无' WHERE id = 'no such task'")
        .await
        .unwrap();
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, None);

    // Closed through this server: the list is empty again, on either server.
    let c = w
        .app
        .post(
            &format!("/api/v1/reports/{rid}/close"),
            Some(&w.town),
            json!({ "reason": "已核实，无需救助" }),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{:?}", c.body);
    assert_eq!(tasks_sent(&other, &mut w.phone).await, Some(vec![]));
    assert_eq!(tasks_sent(&w.app, &mut w.phone).await, None);
}

/// A browser-like console client: keeps the session cookie, follows no redirects.
async fn console_refuses_missing_csrf_and_foreign_ids(b: Backend) {
    let mut w = world(b).await;
    let (_, visit) = submitted(&mut w, false).await;
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;
    let (status, html) = town.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("王建国"), "{html}");
    // The signatures show through the console's own blob route (the session, not a token):
    // readable through the visit, though not uploaded yet.
    let sig = BlobHash::from_bytes([1; 32]).to_string();
    let sig_url = format!("/console/blobs/{sig}");
    assert!(html.contains(&format!("{sig_url}?variant=thumb")), "{html}");
    let (status, body) = town.get(&sig_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("尚未上传"), "{body}");

    // A form post without the CSRF token, or with a wrong one, changes nothing.
    let url = format!("/console/visits/{visit}/decision");
    let r = town
        .post(&url, &[("decision", "approve"), ("comment", "")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = town
        .post(
            &url,
            &[("decision", "approve"), ("comment", ""), ("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.body["items"][0]["status"], "submitted");

    // Another township's reviewer gets the same answer as for an id that does not exist.
    let (mut other, other_csrf) = console_login(&w.app, "town.other").await;
    let (foreign_status, foreign_body) = other.get(&format!("/console/visits/{visit}")).await;
    let (missing_status, missing_body) = other
        .get("/console/visits/0zzzzzzzzzzzzzzzzzzzzzzzzz")
        .await;
    assert_eq!(foreign_status, StatusCode::NOT_FOUND);
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    assert_eq!(foreign_body, missing_body);
    assert!(!foreign_body.contains("王建国"));
    let (status, _) = other.get(&sig_url).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = other
        .post(
            &url,
            &[
                ("decision", "approve"),
                ("comment", ""),
                ("csrf", other_csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let denials = w.app.audit("policy.denied").await;
    assert!(
        denials
            .iter()
            .any(|d| d.target.as_deref() == Some(visit.as_str()))
    );

    // Without a session the console sends one to the login page.
    let mut anon = Browser::new(&w.app);
    let (status, _) = anon.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Returning with a comment of spaces only: the visit's page again, the message beside the
    // return form and the spaces kept in it.
    let r = town
        .post(
            &url,
            &[
                ("decision", "return"),
                ("comment", "  "),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    let form = &page[page.find("d-return").expect("the return form")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains(">  </textarea>"), "{form}");
    assert!(form.contains("须填写意见或理由"), "{form}");
    assert!(page.contains("王建国"), "the visit's page: {page}");

    // A refusal is asked for twice: the first post shows the reason back and decides nothing.
    let reason = "家庭人均收入高于当地低保标准 <核实>";
    let r = town
        .post(
            &url,
            &[
                ("decision", "reject"),
                ("comment", reason),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("确认不予通过"), "{page}");
    assert!(
        page.contains("家庭人均收入高于当地低保标准 &lt;核实&gt;</textarea>"),
        "{page}"
    );
    assert!(page.contains(r#"name="confirmed" value="1""#), "{page}");
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.body["total"], 1, "still waiting: {:?}", q.body);

    // With the token, the decision goes through.
    let r = town
        .post(
            &url,
            &[
                ("decision", "approve"),
                ("comment", "属实"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Back to the visit, told the decision is recorded and that nothing else waits.
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, format!("{url}?next=none").replace("/decision", ""));
    let (status, page) = town.get(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("决定已记录") && page.contains("没有其他待审核"),
        "{page}"
    );
    let q = w
        .app
        .get("/api/v1/review/queue?status=approved", &w.town)
        .await;
    assert_eq!(q.body["total"], 1, "{:?}", q.body);
}

/// Milliseconds of 10:00 China time on `d` (YYYY-MM-DD).
fn cst_ms(d: &str) -> i64 {
    let d: chrono::NaiveDate = d.parse().unwrap();
    d.and_hms_opt(2, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// Milliseconds of the last instant of `d` in China: when a task due that day becomes overdue.
fn due_ms(d: &str) -> i64 {
    doudi_server::review::recheck::end_of_day_ms(d.parse().unwrap()).unwrap()
}

/// A household synced from the phone, then approved by the county on `approved` (a decision the
/// server writes into the document, as the review workflow does).
async fn enrolled(
    w: &mut World,
    programme: Programme,
    members: Vec<Member>,
    approved: &str,
) -> String {
    let mut h = Household {
        address: "济南市历下区一镇一村 12 号".into(),
        ..Default::default()
    };
    for m in members {
        h.members.insert(MemberId::generate().unwrap(), m);
    }
    let id = w.phone.replica.create(GRID_A, &h).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    doudi_tests::cases::approve(&w.app, &id, programme, cst_ms(approved), "county.qian").await;
    id
}

fn member(name: &str, capacity: doudi_protocol::doc::household::WorkCapacity) -> Member {
    let mut m = Member::new(name, Relation::Head);
    m.work_capacity = Some(capacity);
    m
}

/// Open scheduled tasks of a household: (kind, due_at_ms, assignee).
async fn open_tasks(app: &TestApp, household: &str) -> Vec<(String, Option<i64>, Option<String>)> {
    use doudi_server::entity::task;
    let mut v: Vec<_> = task::Entity::find()
        .filter(task::Column::HouseholdId.eq(household))
        .filter(task::Column::Status.eq("open"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.kind, t.due_at_ms, t.assignee_id))
        .collect();
    v.sort();
    v
}

async fn recheck_and_visit_tasks_are_scheduled(b: Backend) {
    use doudi_protocol::doc::household::WorkCapacity::{Able, FullyLost};
    use doudi_server::review::recheck;
    let mut w = world(b).await;
    let other_grid = w
        .app
        .create_account("grid.wang", Role::GridWorker, &["370102001001-B"])
        .await;
    let zhang = w.phone.account_id.clone();
    let db = w.app.state.db.clone();
    let today: chrono::NaiveDate = "2026-11-23".parse().unwrap();
    // Visit intervals are the region's (local practice): high risk weekly, key monthly, others
    // quarterly, as in Inner Mongolia.
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    doudi_server::policies::put_layer(
        &db,
        PolicyLayer {
            region: Some("370102000000".into()),
            effective_from: "2026-01-01".parse().unwrap(),
            source: Some("test".into()),
            settings: PolicySettings {
                visit_high_risk_days: Some(7),
                visit_key_months: Some(1),
                visit_other_months: Some(3),
                ..Default::default()
            },
        },
        None,
        None,
    )
    .await
    .unwrap();

    // 低保, income stable (nobody able to work): yearly.
    let stable = enrolled(
        &mut w,
        Programme::Dibao,
        vec![member("李稳", FullyLost)],
        "2026-03-10",
    )
    .await;
    // 低保 with a member able to work: every 6 months (overdue by now).
    let unstable = enrolled(
        &mut w,
        Programme::Dibao,
        vec![member("李动", Able)],
        "2026-03-10",
    )
    .await;
    // 特困 分散供养: yearly, and monthly visits (重点) until a risk level is set.
    let tekun = enrolled(
        &mut w,
        Programme::TekunDispersed,
        vec![member("赵困", FullyLost)],
        "2026-11-02",
    )
    .await;
    // 低保 where a member died on 1 October: a re-check within 3 months.
    let mut dead = member("钱故", FullyLost);
    dead.relation = Relation::Spouse;
    dead.removed_at = Some(UnixMillis(cst_ms("2026-10-01")));
    dead.removed_reason = Some("死亡".into());
    let death = enrolled(
        &mut w,
        Programme::Dibao,
        vec![member("钱在", FullyLost), dead],
        "2026-03-10",
    )
    .await;

    let first = recheck::run(&db, today).await.unwrap();
    assert_eq!(first.households, 4, "{first:?}");
    assert_eq!(first.created, 6, "{first:?}");
    assert_eq!(first.unassigned, 0, "{first:?}");
    let z = Some(zhang.clone());
    assert_eq!(
        open_tasks(&w.app, &stable).await,
        [("recheck".into(), Some(due_ms("2027-03-10")), z.clone())]
    );
    assert_eq!(
        open_tasks(&w.app, &unstable).await,
        [("recheck".into(), Some(due_ms("2026-09-10")), z.clone())]
    );
    assert_eq!(
        open_tasks(&w.app, &tekun).await,
        [
            ("recheck".into(), Some(due_ms("2027-11-02")), z.clone()),
            ("visit".into(), Some(due_ms("2026-12-02")), z.clone()),
        ]
    );
    assert_eq!(
        open_tasks(&w.app, &death).await,
        [
            (
                "death_recheck".into(),
                Some(due_ms("2027-01-01")),
                z.clone()
            ),
            ("recheck".into(), Some(due_ms("2027-03-10")), z.clone()),
        ]
    );

    // Running again creates nothing.
    let second = recheck::run(&db, today).await.unwrap();
    assert_eq!((second.created, second.superseded), (0, 0), "{second:?}");
    assert_eq!(w.app.audit("tasks.schedule").await.len(), 2);

    // The grid worker's phone gets them with household id and due date after its sync.
    let tasks = w.app.get("/api/v1/tasks", &w.phone.access).await;
    assert_eq!(tasks.status, StatusCode::OK, "{:?}", tasks.body);
    let list = tasks.body.as_array().unwrap();
    assert_eq!(list.len(), 6, "{:?}", tasks.body);
    assert_eq!(list[0]["household_id"], json!(unstable));
    assert_eq!(list[0]["kind"], "recheck");
    assert_eq!(list[0]["due_at_ms"], json!(due_ms("2026-09-10")));
    assert!(list[0]["report_id"].is_null());
    assert_eq!(list[0]["assigned"], json!(true));
    assert!(list[0]["note"].as_str().unwrap().contains("复核"));
    // A grid worker of another grid sees none of them.
    let other = w.app.phone("grid.wang").await;
    let none = w.app.get("/api/v1/tasks", &other.access).await;
    assert_eq!(none.body, json!([]), "{other_grid}");

    // The console lists the overdue task; the dashboard counts it.
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get("/console/tasks?overdue=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("/console/households/{unstable}")),
        "{page}"
    );
    assert!(
        page.contains("已逾期") && page.contains("2026-09-10"),
        "{page}"
    );
    assert!(
        !page.contains(&format!("/console/households/{stable}")),
        "{page}"
    );
    let (_, dash) = town.get("/console/dashboard").await;
    assert!(dash.contains("逾期任务"), "{dash}");
    let (_, hh) = town.get(&format!("/console/households/{tekun}")).await;
    assert!(hh.contains("定期探访") && hh.contains("2026-12-02"), "{hh}");

    // A high risk level makes the visits weekly; the monthly visit task is superseded.
    let r = town
        .post(
            &format!("/console/households/{tekun}/risk"),
            &[("risk", "high"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.app.audit("household.risk_level").await.len(), 1);
    let third = recheck::run(&db, today).await.unwrap();
    assert_eq!((third.created, third.superseded), (1, 1), "{third:?}");
    assert_eq!(
        open_tasks(&w.app, &tekun).await,
        [
            ("recheck".into(), Some(due_ms("2027-11-02")), z.clone()),
            ("visit".into(), Some(due_ms("2026-11-09")), z.clone()),
        ]
    );
    // A grid nobody can take: the task stays unassigned (未指派 in the console) until someone
    // covers the grid again.
    use doudi_server::entity::account;
    use sea_orm::{ActiveModelTrait, Set};
    let sun = w
        .app
        .create_account("grid.sun", Role::GridWorker, &["370102001002-A"])
        .await;
    let mut sun_phone = w.app.phone("grid.sun").await;
    let h = Household {
        address: "济南市历下区一镇二村 3 号".into(),
        ..Default::default()
    };
    let lone = sun_phone
        .replica
        .create("370102001002-A", &h)
        .unwrap()
        .to_string();
    assert_eq!(w.app.sync(&mut sun_phone).await.accepted.len(), 1);
    let at = cst_ms("2026-11-01");
    doudi_tests::cases::approve(&w.app, &lone, Programme::Dibao, at, "county.qian").await;
    let set_disabled = |disabled: bool| {
        let db = db.clone();
        let sun = sun.clone();
        async move {
            account::ActiveModel {
                id: Set(sun),
                disabled: Set(disabled),
                ..Default::default()
            }
            .update(&db)
            .await
            .unwrap();
        }
    };
    set_disabled(true).await;
    let run = recheck::run(&db, today).await.unwrap();
    assert_eq!((run.created, run.unassigned), (1, 1), "{run:?}");
    assert_eq!(open_tasks(&w.app, &lone).await[0].2, None);
    let (_, page) = town.get("/console/tasks").await;
    assert!(
        page.contains(&format!("/console/households/{lone}")) && page.contains("未指派"),
        "{page}"
    );
    set_disabled(false).await;
    let run = recheck::run(&db, today).await.unwrap();
    assert_eq!((run.created, run.assigned_later), (0, 1), "{run:?}");
    assert_eq!(open_tasks(&w.app, &lone).await[0].2, Some(sun.clone()));

    // Normal risk: quarterly.
    town.post(
        &format!("/console/households/{tekun}/risk"),
        &[("risk", "normal"), ("csrf", csrf.as_str())],
    )
    .await;
    recheck::run(&db, today).await.unwrap();
    assert!(open_tasks(&w.app, &tekun).await.contains(&(
        "visit".into(),
        Some(due_ms("2027-02-02")),
        z.clone()
    )));
}

async fn queue_count_stops_at_the_cap(b: Backend) {
    let mut w = world_with(b, |s| s.queue_count_cap = 2).await;
    let (_, first) = submitted(&mut w, false).await;
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        (&q.body["total"], &q.body["total_capped"]),
        (&json!(1), &json!(false)),
        "{:?}",
        q.body
    );
    submitted(&mut w, false).await;
    submitted(&mut w, false).await;
    // Three wait; the count stops at two and the page offers those two, oldest first.
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        (&q.body["total"], &q.body["total_capped"], &q.body["pages"]),
        (&json!(2), &json!(true), &json!(1)),
        "{:?}",
        q.body
    );
    let items = q.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{:?}", q.body);
    assert_eq!(items[0]["visit_id"], first.as_str());
    // A narrower filter that matches fewer is counted exactly again.
    let q = w
        .app
        .get("/api/v1/review/queue?purpose=recheck", &w.town)
        .await;
    assert_eq!(
        (&q.body["total"], &q.body["total_capped"]),
        (&json!(0), &json!(false)),
        "{:?}",
        q.body
    );
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, html) = town.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("超过 2 条"), "{html}");
    let (_, dash) = town.get("/console/dashboard").await;
    assert!(
        dash.contains(r#"<span class="n">2+</span><span>待我审核</span>"#),
        "{dash}"
    );
}

/// The values of the dashboard's "by status" chart, in its order (submitted, returned, approved,
/// rejected, confirmed).
fn status_chart(dash: &str) -> Vec<u64> {
    let at = dash.find("已提交的走访（按状态）").expect("status chart");
    let chart = &dash[at..at + dash[at..].find("</figure>").unwrap()];
    chart
        .split(r#"class="val">"#)
        .skip(1)
        .map(|v| v[..v.find('<').unwrap()].parse().unwrap())
        .collect()
}

async fn dashboard_counts_every_status(b: Backend) {
    let mut w = world(b).await;
    let mut visits = Vec::new();
    for _ in 0..4 {
        visits.push(submitted(&mut w, false).await.1);
    }
    for (v, d) in [
        (&visits[0], "reject"),
        (&visits[1], "return"),
        (&visits[2], "approve"),
    ] {
        let r = review(&w.app, &w.town, v, d, Some("核实")).await;
        assert_eq!(r.status, StatusCode::OK, "{d}: {:?}", r.body);
    }
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, dash) = town.get("/console/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_chart(&dash), vec![1, 1, 1, 1, 0, 0], "{dash}");
    assert!(
        dash.contains(r#"<span class="n">1</span><span>待我审核</span>"#),
        "{dash}"
    );
    let r = review(&w.app, &w.county, &visits[2], "confirm", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (mut county, _) = console_login(&w.app, "county.qian").await;
    let (_, dash) = county.get("/console/dashboard").await;
    assert_eq!(status_chart(&dash), vec![1, 1, 0, 1, 1, 0], "{dash}");
    assert!(
        dash.contains(r#"<span class="n">0</span><span>待我审核</span>"#),
        "{dash}"
    );
}

/// The console's change history of a document reads the same after the change log was compacted
/// (the changed fields then come from the document's snapshot).
async fn history_survives_change_log_compaction(b: Backend) {
    let mut w = world(b).await;
    let (hh, visit) = submitted(&mut w, false).await;
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let history = |page: &str| page[page.find("修改记录").expect("history section")..].to_string();
    let mut before = Vec::new();
    for path in [
        format!("/console/households/{hh}"),
        format!("/console/visits/{visit}"),
    ] {
        let (status, page) = town.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        before.push(history(&page));
    }
    // Fields by their Chinese names (居住地址 is `address`, 所属家庭 `household`).
    assert!(before[0].contains("居住地址"), "{}", before[0]);
    assert!(!before[0].contains("address"), "{}", before[0]);
    assert!(before[1].contains("所属家庭"), "{}", before[1]);
    let now = chrono::Utc::now().timestamp_millis();
    let done = doudi_server::documents::compact::run(&w.app.state.db, now + 1)
        .await
        .unwrap();
    assert!(done.changes >= 2, "{done:?}");
    for (path, was) in [
        format!("/console/households/{hh}"),
        format!("/console/visits/{visit}"),
    ]
    .iter()
    .zip(&before)
    {
        let (_, page) = town.get(path).await;
        assert_eq!(&history(&page), was);
    }
}

/// The history says what each change did: the field by its Chinese name, the old value and the
/// new one, codes by their labels; nothing of another person's concurrent change.
async fn history_shows_each_change_old_and_new(b: Backend) {
    let mut w = world(b).await;
    let (hh, _) = submitted(&mut w, false).await;
    w.phone
        .replica
        .update::<Household>(&hh, |h| {
            h.address = "济南市历下区一镇一村 11 号".into();
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new("李小花", Relation::Child),
            );
        })
        .unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get(&format!("/console/households/{hh}")).await;
    assert_eq!(status, StatusCode::OK);
    let history = &page[page.find("修改记录").expect("history section")..];
    assert!(
        history.contains("居住地址：济南市历下区一镇一村 9 号 → 济南市历下区一镇一村 11 号"),
        "{history}"
    );
    // The new member, field by field, from nothing; the relation by its label.
    assert!(
        history.contains("<span class=\"sub\">（无）</span> → 李小花"),
        "{history}"
    );
    assert!(history.contains("→ 子女"), "{history}");
    assert!(!history.contains("→ child"), "{history}");
    // The first change (the household's creation) does not list the later address.
    let rows: Vec<&str> = history.split("<tr>").collect();
    let created = rows
        .iter()
        .find(|r| r.contains("→ 济南市历下区一镇一村 9 号"))
        .expect("the creation's row");
    assert!(!created.contains("11 号"), "{created}");
}

/// The printable 入户调查表: the visit's evidence and reviews, numbers masked, no form, no
/// history; for those who may read the visit only.
async fn the_case_file_prints_the_evidence_only(b: Backend) {
    let mut w = world(b).await;
    let (hh, visit) = submitted(&mut w, false).await;
    let number = "11010519491231002X";
    let sealed = w.phone.seal(number);
    w.phone
        .replica
        .update::<Household>(&hh, |h| {
            let mut m = Member::new("王小明", Relation::Child);
            m.identity = Some(sealed);
            h.members.insert(MemberId::generate().unwrap(), m);
        })
        .unwrap();
    assert_eq!(w.app.sync(&mut w.phone).await.accepted.len(), 1);
    let r = review(&w.app, &w.town, &visit, "approve", Some("情况属实")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (_, page) = town.get(&format!("/console/visits/{visit}")).await;
    assert!(page.contains(&format!("/console/visits/{visit}/print")));
    let (status, print) = town.get(&format!("/console/visits/{visit}/print")).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "入户调查表",
        "济南市历下区一镇一村 9 号",
        "王建国",
        "王小明",
        "调查结论",
        "签字：张网格",
        "情况属实",
    ] {
        assert!(print.contains(shown), "{shown} missing: {print}");
    }
    assert!(!print.contains(number), "the number is masked");
    assert!(print.contains(&number[14..]), "its masked form shows");
    for absent in ["<form", "修改记录", "<nav"] {
        assert!(!print.contains(absent), "{absent} in the case file");
    }
    // Another township's reviewer reads nothing of it.
    let (mut other, _) = console_login(&w.app, "town.other").await;
    let (status, print) = other.get(&format!("/console/visits/{visit}/print")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!print.contains("王小明"));
}

/// The visit map: each located visit of the reviewer's regions and period a point linking to
/// it; visits without a location counted, not drawn; another township sees none of them.
async fn the_visit_map_places_the_regions_located_visits(b: Backend) {
    use doudi_protocol::doc::GeoPoint;
    let mut w = world(b).await;
    let h = doudi_tests::cases::household("济南市历下区一镇一村 9 号");
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let now = doudi_server::auth::now_ms();
    let mut ids = Vec::new();
    for gps in [Some((36.6512, 117.1201)), Some((36.6530, 117.1250)), None] {
        let mut v = doudi_tests::cases::submitted_visit(
            hh,
            [
                (w.phone.account_id.as_str(), "张网格"),
                (w.assistant_id.as_str(), "刘协理"),
            ],
        );
        v.applied_for = Some(Programme::Dibao);
        v.started_at = Some(UnixMillis(now - 3_600_000));
        v.ended_at = Some(UnixMillis(now - 1_800_000));
        v.submitted_at = Some(UnixMillis(now - 60_000));
        v.gps = gps.map(|(lat, lon)| GeoPoint {
            lat,
            lon,
            accuracy_m: Some(8.0),
        });
        ids.push(w.phone.replica.create(GRID_A, &v).unwrap().to_string());
    }
    assert_eq!(w.app.sync(&mut w.phone).await.accepted.len(), 4);
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get("/console/map").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<circle").count(), 2, "{page}");
    for id in &ids[..2] {
        assert!(
            page.contains(&format!("href=\"/console/visits/{id}\"")),
            "{page}"
        );
    }
    assert!(!page.contains(&format!("/console/visits/{}\"", ids[2])));
    assert!(page.contains("共 2 个有定位的走访"), "{page}");
    assert!(page.contains("另有 1 个走访没有定位"), "{page}");
    // The northern visit is drawn above the southern one (SVG y grows downwards).
    let cy = |id: &str| -> f64 {
        let at = page.find(&format!("/console/visits/{id}")).unwrap();
        let rest = &page[at..];
        let v = &rest[rest.find("cy=\"").unwrap() + 4..];
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    assert!(cy(&ids[1]) < cy(&ids[0]));
    // A period before the visits, and another township: no point.
    let (_, page) = town.get("/console/map?from=2020-01-01&to=2020-12-31").await;
    assert_eq!(page.matches("<circle").count(), 0);
    let (mut other, _) = console_login(&w.app, "town.other").await;
    let (_, page) = other.get("/console/map").await;
    assert_eq!(page.matches("<circle").count(), 0);
    let (status, _) = other.get("/console/map?region=370102001000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A visit submitted at `at_ms` (China time), synced; its id.
async fn submitted_at(w: &mut World, at_ms: i64) -> String {
    synced_application(w, |v| v.submitted_at = Some(UnixMillis(at_ms))).await
}

/// A household and the investigation of its application, as `edit` makes it, synced from the
/// phone.
async fn synced_application(w: &mut World, edit: impl FnOnce(&mut Visit)) -> String {
    let h = doudi_tests::cases::household("济南市历下区一镇一村 9 号");
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    edit(&mut v);
    let visit = w.phone.replica.create(GRID_A, &v).unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    visit.to_string()
}

/// The township's 20 working days are counted on the holiday calendar, adjusted working days
/// included; a due date that falls in a year the calendar does not cover is shown as unknown
/// (日历未知), not counted Monday to Friday (which would count 1 January as a working day).
async fn due_dates_beyond_the_calendar_are_unknown_not_guessed(b: Backend) {
    let mut w = world(b).await;
    // Friday 9 October 2026: Saturday the 10th is a working day (国庆节调休), so the 20th working
    // day is Thursday 5 November (Monday to Friday alone would give Friday the 6th).
    let known = submitted_at(&mut w, cst_ms("2026-10-09")).await;
    // 15 December of the last year the calendar covers: 20 working days end in the next year.
    let last = doudi_protocol::rules::calendar::WorkCalendar::china()
        .unwrap()
        .covered_years()
        .max()
        .unwrap();
    let unknown = submitted_at(&mut w, cst_ms(&format!("{last}-12-15"))).await;

    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
    let item = |id: &str| {
        q.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["visit_id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {:?}", q.body))
    };
    let k = item(&known);
    assert_eq!(k["due"], json!("2026-11-05"), "{k}");
    assert_eq!(k["calendar_unknown"], json!(false));
    assert_eq!(k["overdue"], json!(true), "{k}");
    let u = item(&unknown);
    assert_eq!(u["due"], json!(null), "{u}");
    assert_eq!(u["calendar_unknown"], json!(true), "{u}");
    assert_eq!(u["overdue"], json!(false), "{u}");

    // The console says so, in the row and above the table.
    let (mut browser, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = browser.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("日历未知"), "{page}");
    assert!(page.contains("2026-11-05"), "{page}");
}

/// What a reviewer reads in the console is Chinese, hover text included: no `title` on any page
/// holds a Latin letter (codes travel in `data-code`, not in what is shown); grids are named, with
/// their code after the name.
async fn console_hover_text_is_chinese(b: Backend) {
    let mut w = world(b).await;
    let (hh, visit) = submitted(&mut w, true).await;
    let r = elderly_person_report(&w.phone);
    let report = w.phone.replica.create(GRID_A, &r).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let r = review(&w.app, &w.town, &visit, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for user in ["town.zhao", "county.qian"] {
        let (mut browser, _) = console_login(&w.app, user).await;
        for path in [
            "/console/queue".to_string(),
            "/console/queue?status=all".to_string(),
            format!("/console/visits/{visit}"),
            format!("/console/households/{hh}"),
            "/console/households?q=%E7%8E%8B%E5%BB%BA".to_string(),
            "/console/households?q=x".to_string(),
            "/console/reports?show=all".to_string(),
            format!("/console/reports/{report}"),
            "/console/tasks".to_string(),
            "/console/dashboard".to_string(),
            "/console/exports".to_string(),
            "/console/no-such-page".to_string(),
        ] {
            let (_, page) = browser.get(&path).await;
            assert!(page.contains("<html"), "{user} {path}: {page}");
            // Grids by name, with their code.
            if path.starts_with("/console/visits/") || path.starts_with("/console/reports") {
                assert!(
                    page.contains("一村甲网格（370102001001-A）"),
                    "{user} {path}: {page}"
                );
            }
            for part in page.split("title=\"").skip(1) {
                let title = &part[..part.find('"').unwrap_or(part.len())];
                assert!(
                    !title.chars().any(|c| c.is_ascii_alphabetic()),
                    "{user} {path}: title=\"{title}\""
                );
            }
        }
    }
}

/// The queue item of `visit_id` in a queue answer.
fn queue_item(q: &doudi_tests::Resp, visit_id: &str) -> serde_json::Value {
    q.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["visit_id"] == json!(visit_id))
        .cloned()
        .unwrap_or_else(|| panic!("{visit_id} not in {:?}", q.body))
}

/// The township's limit is the region's: a township whose policy sets a 20-working-day case
/// limit with 5 for the county gives its reviewers 15 working days, not the national 20, for
/// visits submitted while the layer is in force.
async fn due_dates_follow_the_regions_limits(b: Backend) {
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    let mut w = world(b).await;
    let layer = PolicyLayer {
        region: Some("370102001000".into()),
        effective_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        source: Some("测试：委托乡镇审核确认".into()),
        settings: PolicySettings {
            case_limit_wd: Some(20),
            dibao_county_review_wd: Some(5),
            ..Default::default()
        },
    };
    doudi_server::policies::put_layer(&w.app.state.db, layer, None, None)
        .await
        .unwrap();
    // Friday 9 October 2026, with Saturday the 10th a working day: the 15th working day after it
    // is Thursday 29 October (the national 20 give 5 November).
    let visit = submitted_at(&mut w, cst_ms("2026-10-09")).await;
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        queue_item(&q, &visit)["due"],
        json!("2026-10-29"),
        "{:?}",
        q.body
    );

    // Submitted before the layer took effect: the national limit of that day. Tuesday 30
    // September 2025, National Day 1–8 October, Saturday 11 October worked: the 20th working day
    // is Tuesday 4 November (the township's 15 would give 28 October).
    let before = submitted_at(&mut w, cst_ms("2025-09-30")).await;
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        queue_item(&q, &before)["due"],
        json!("2025-11-04"),
        "{:?}",
        q.body
    );
}

/// A calendar year imported on the server (`doudi calendar import`) counts instead of the built-in
/// data of that year, on the next request: a due date that was unknown gets its day, counted over
/// the imported holidays. A file with a bad line changes nothing.
async fn an_imported_calendar_year_gives_its_due_dates(b: Backend) {
    use doudi_server::review::calendar;
    let mut w = world(b).await;
    let visit = submitted_at(&mut w, cst_ms("2026-12-15")).await;
    let due = |q: &doudi_tests::Resp| {
        let i = q.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["visit_id"] == json!(visit))
            .cloned()
            .unwrap();
        (i["due"].clone(), i["calendar_unknown"].clone())
    };
    let before = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        due(&before),
        (json!(null), json!(true)),
        "{:?}",
        before.body
    );

    let bad = "2027-01-01,holiday,元旦\n2027-01-04,workday,周一不能调休\n";
    let e = calendar::import(&w.app.state.db, bad).await.unwrap_err();
    assert!(e.to_string().contains("第2行"), "{e}");
    let e = calendar::import(&w.app.state.db, "2027-02-20,workday,调休\n")
        .await
        .unwrap_err();
    assert!(matches!(e, calendar::ImportError::NoHoliday(2027)), "{e}");
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(due(&q), (json!(null), json!(true)), "nothing changed");

    // Both years from the file (2026 replaced whole): from Tuesday 15 December, 20 working days
    // skip the 25th and New Year's Day and end on Thursday 14 January.
    let (years, days) = calendar::import(
        &w.app.state.db,
        "# 测试日历\n2026-12-25,holiday,测试假日\n2027-01-01,holiday,元旦\n",
    )
    .await
    .unwrap();
    assert_eq!((years, days), (vec![2026, 2027], 2));
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(due(&q), (json!("2027-01-14"), json!(false)), "{:?}", q.body);
    let audit = w.app.audit(calendar::AUDIT_IMPORT).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].detail.as_deref().unwrap().contains("2027"));

    // Imported again with another holiday: the year's earlier import is gone.
    calendar::import(
        &w.app.state.db,
        "2027-01-01,holiday,元旦\n2027-01-14,holiday,测试\n",
    )
    .await
    .unwrap();
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    // 2026 stays as imported before; 14 January is now a holiday.
    assert_eq!(due(&q), (json!("2027-01-15"), json!(false)), "{:?}", q.body);
}

/// Only the investigation of an application (入户调查) goes on to the county: the township's
/// approval closes a re-check (已办结), which then has no due date, no place in the county's queue
/// and no further decision; the application's investigation waits for the county as before.
async fn only_applications_go_to_the_county(b: Backend) {
    let mut w = world(b).await;
    let (hh, application) = submitted(&mut w, false).await;
    let mut v = doudi_tests::cases::submitted_visit(
        hh.parse().unwrap(),
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    v.purpose = Purpose::Recheck;
    let recheck = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);

    // The township's queue shows both; only the application carries a statutory due date.
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.body["total"], 2, "{:?}", q.body);
    for item in q.body["items"].as_array().unwrap() {
        let is_application = item["visit_id"] == application.as_str();
        // (Past the working-day calendar the application's due date is unknown, not absent.)
        let dated = item["due"].is_string() || item["calendar_unknown"] == true;
        assert_eq!(dated, is_application, "{item:?}");
        assert_eq!(
            item["purpose"],
            if is_application {
                "investigation"
            } else {
                "recheck"
            }
        );
    }

    let r = review(&w.app, &w.town, &recheck, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "closed");
    let r = review(&w.app, &w.town, &application, "approve", None).await;
    assert_eq!(r.body["status"], "approved");

    // The county sees the application only, and cannot decide the closed re-check.
    let q = w.app.get("/api/v1/review/queue", &w.county).await;
    assert_eq!(q.body["total"], 1, "{:?}", q.body);
    assert_eq!(q.body["items"][0]["visit_id"], application.as_str());
    for d in ["confirm", "send_back", "reject"] {
        let r = review(&w.app, &w.county, &recheck, d, Some("抽查")).await;
        assert_eq!(r.code(), "review.wrong_state", "{d}: {:?}", r.body);
        assert_eq!(r.body["details"]["status"], "closed");
        assert_eq!(r.body["details"]["purpose"], "recheck");
    }
    let r = review(&w.app, &w.town, &recheck, "return", Some("补充")).await;
    assert_eq!(r.code(), "review.wrong_state");
    let r = review(&w.app, &w.county, &application, "confirm", None).await;
    assert_eq!(r.body["status"], "confirmed", "{:?}", r.body);

    // The phone learns the closed status, and may not reopen the visit.
    w.app.sync(&mut w.phone).await;
    let closed: Visit = w.phone.replica.read(&recheck).unwrap();
    assert_eq!(closed.status, VisitStatus::Closed);
    assert_eq!(closed.reviews.len(), 1);
    assert_eq!(closed.reviews[0].decision, ReviewOutcome::Approve);
    let all = w
        .app
        .get("/api/v1/review/queue?status=closed", &w.town)
        .await;
    assert_eq!(all.body["total"], 1, "{:?}", all.body);
}

/// The 身份证号 of the person of the report the console pages show.
const REPORTED_NUMBER: &str = "110105194912310038";

/// A report of 李大娘 with a sealed number, notes, a photo and a location, synced from the
/// phone; its id and the photo's hash.
async fn detailed_report(w: &mut World) -> (String, String) {
    let photo = BlobHash::from_bytes([7; 32]).to_string();
    let mut r = doudi_tests::cases::report_with_photos(&w.phone.account_id, &[&photo]);
    r.target = Some(doudi_protocol::doc::discovery::Target::Person {
        name: "李大娘".into(),
        identity: Some(w.phone.seal(REPORTED_NUMBER)),
        address: Some("一村 12 号".into()),
        phone: None,
    });
    r.notes = Some("断粮两天，独居，房屋漏雨，请尽快核实并送去米面油和棉被".into());
    r.gps = Some(doudi_protocol::doc::GeoPoint {
        lat: 36.65123,
        lon: 117.12012,
        accuracy_m: Some(8.0),
    });
    let rid = w.phone.replica.create(GRID_A, &r).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted, vec![rid.clone()], "{:?}", o.rejected);
    (rid, photo)
}

/// A report's page shows what the phone reported (the number masked until an audited
/// unmasking); the list links to it; another township's reviewer gets the not-found page, and
/// the denial is audited.
async fn report_page_shows_the_report_to_its_township_only(b: Backend) {
    use doudi_protocol::doc::PhotoCategory;
    let mut w = world(b).await;
    let (rid, photo) = detailed_report(&mut w).await;
    let masked = "110105****0038";
    let url = format!("/console/reports/{rid}");
    let (mut town, _) = console_login(&w.app, "town.zhao").await;

    let (status, list) = town.get("/console/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&format!("href=\"{url}\"")), "{list}");
    assert!(list.contains("李大娘") && list.contains(masked), "{list}");
    assert!(list.contains("断粮两天，独居"), "{list}");
    assert!(
        !list.contains("米面油和棉被"),
        "only the notes' first characters: {list}"
    );
    assert!(!list.contains(REPORTED_NUMBER));

    let (status, page) = town.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for shown in [
        "李大娘",
        masked,
        "一村 12 号",
        "断粮两天，独居，房屋漏雨，请尽快核实并送去米面油和棉被",
        "grid.zhang",
        Channel::Visit.label_zh(),
        Urgency::NeedsCare.label_zh(),
        TargetGroup::Elderly.label_zh(),
        "纬度 36.65123，经度 117.12012",
        &format!("href=\"/console/docs/{rid}/photos/1\""),
        &format!("data=\"/console/blobs/{photo}?variant=thumb\""),
        &format!(
            "<span class=\"caption\">{}",
            PhotoCategory::DwellingOutside.label_zh()
        ),
        "尚未指派核实",
        &format!("action=\"{url}/close\""),
    ] {
        assert!(page.contains(shown), "{shown} missing: {page}");
    }
    assert!(!page.contains(REPORTED_NUMBER), "the number shows masked");
    assert!(w.app.audit("case.unmask").await.is_empty());
    // The photo is read through the report (not uploaded yet), by its township only.
    let photo_url = format!("/console/blobs/{photo}");
    let (status, body) = town.get(&photo_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("尚未上传"), "{body}");

    // The full number, audited.
    let csrf = doudi_tests::csrf_of(&page);
    let r = town
        .post(&format!("{url}/unmask"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains(REPORTED_NUMBER), "unmasked: {page}");
    let audit = w.app.audit("case.unmask").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target.as_deref(), Some(rid.as_str()));
    assert!(!format!("{audit:?}").contains(REPORTED_NUMBER));
    let (_, page) = town.get(&url).await;
    assert!(!page.contains(REPORTED_NUMBER), "masked again");

    // Another township: the page of a missing id, and an audited denial.
    let (mut other, other_csrf) = console_login(&w.app, "town.other").await;
    let (foreign_status, foreign_body) = other.get(&url).await;
    let (missing_status, missing_body) = other
        .get("/console/reports/0zzzzzzzzzzzzzzzzzzzzzzzzz")
        .await;
    assert_eq!(foreign_status, StatusCode::NOT_FOUND);
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    assert_eq!(foreign_body, missing_body);
    assert!(!foreign_body.contains("李大娘"));
    let r = other
        .post(&format!("{url}/unmask"), &[("csrf", other_csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains(REPORTED_NUMBER));
    assert_eq!(w.app.audit("case.unmask").await.len(), 1);
    let (status, _) = other.get(&photo_url).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = other.get("/console/reports?show=all").await;
    assert!(!list.contains("李大娘"), "{list}");
    let denials = w.app.audit("policy.denied").await;
    assert!(
        denials
            .iter()
            .any(|d| d.target.as_deref() == Some(rid.as_str())),
        "{denials:?}"
    );
}

/// A blank close reason comes back on the report's page with its own message beside the form
/// and the text kept; the verification task and visit show on the page; a closed report leaves
/// the open list for the history.
async fn report_forms_keep_the_text_and_closed_reports_stay_listed(b: Backend) {
    let mut w = world(b).await;
    let (rid, _) = detailed_report(&mut w).await;
    let url = format!("/console/reports/{rid}");
    let (mut town, csrf) = console_login(&w.app, "town.zhao").await;

    let r = town
        .post(
            &format!("{url}/close"),
            &[("reason", "   "), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("办结须填写理由"), "{page}");
    assert!(
        !page.contains("退回或不予通过"),
        "not the visits' message: {page}"
    );
    assert!(page.contains(">   </textarea>"), "the text is kept: {page}");
    assert!(page.contains("李大娘"), "the report's page: {page}");

    // Assigned: the task shows on the page.
    let r = town
        .post(
            &format!("{url}/assign"),
            &[
                ("assignee", w.assistant_id.as_str()),
                ("note", "今天内核实"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], url.as_str());
    // The verification visit, naming the report.
    let hh = w
        .phone
        .replica
        .create(
            GRID_A,
            &doudi_tests::cases::household("济南市历下区一镇一村 12 号"),
        )
        .unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    v.purpose = Purpose::DiscoveryCheck;
    v.report = Some(rid.parse().unwrap());
    let visit = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    let (_, page) = town.get(&url).await;
    assert!(
        page.contains("assist.liu") && page.contains("今天内核实"),
        "{page}"
    );
    assert!(
        page.contains("已完成") && !page.contains("未完成"),
        "the verification visit closed its task: {page}"
    );
    assert!(
        page.contains(&format!("href=\"/console/visits/{visit}\"")),
        "{page}"
    );

    let r = town
        .post(
            &format!("{url}/close"),
            &[("reason", "已核实，纳入临时救助"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, open) = town.get("/console/reports").await;
    assert!(!open.contains(&rid), "{open}");
    for q in ["?show=closed", "?show=all"] {
        let (status, list) = town.get(&format!("/console/reports{q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains(&format!("href=\"{url}\"")), "{q}: {list}");
        assert!(list.contains("已办结"), "{list}");
    }
    let (_, page) = town.get(&url).await;
    assert!(page.contains("已核实，纳入临时救助"), "{page}");
    assert!(page.contains("已完成"), "the task is done: {page}");
    assert!(!page.contains(&format!("{url}/close")), "no forms: {page}");
}

/// A household and a visit to it, each edited at one field by two phones offline: the visit's
/// `health_notes` while still a draft (the grid worker then submits it), the household's
/// `registered_address`. Returns (household, visit).
async fn conflicted_case(w: &mut World) -> (String, String) {
    let mut pb = w.app.phone("assist.liu").await;
    let h = doudi_tests::cases::household("济南市历下区一镇一村 11 号");
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    v.status = VisitStatus::Draft;
    v.submitted_at = None;
    let visit = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    let hh = hh.to_string();
    assert_eq!(w.app.sync(&mut w.phone).await.accepted.len(), 2);
    w.app.sync(&mut pb).await;
    pb.replica
        .update::<Visit>(&visit, |v| v.health_notes = Some("高血压，长期服药".into()))
        .unwrap();
    pb.replica
        .update::<Household>(&hh, |h| h.registered_address = Some("乙地".into()))
        .unwrap();
    w.phone
        .replica
        .update::<Visit>(&visit, |v| {
            v.health_notes = Some("身体健康".into());
            v.status = VisitStatus::Submitted;
            v.submitted_at = Some(UnixMillis(doudi_server::auth::now_ms()));
        })
        .unwrap();
    w.phone
        .replica
        .update::<Household>(&hh, |h| h.registered_address = Some("甲地".into()))
        .unwrap();
    let o = w.app.sync(&mut pb).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    (hh, visit)
}

fn conflict_paths(r: &doudi_tests::Resp) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = r.body["details"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no conflicts listed: {:?}", r.body))
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
                c["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn approval_waits_for_conflicts_to_be_settled(b: Backend) {
    let mut w = world(b).await;
    let (hh, visit) = conflicted_case(&mut w).await;
    let both = vec![
        (
            "household".to_string(),
            "content.registered_address".to_string(),
            "户籍地".to_string(),
        ),
        (
            "visit".to_string(),
            "content.health_notes".to_string(),
            "健康状况说明".to_string(),
        ),
    ];
    // The township cannot approve while either record has a field written two ways.
    let r = review(&w.app, &w.town, &visit, "approve", Some("情况属实")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "review.conflicts_open"),
        "{:?}",
        r.body
    );
    assert_eq!(conflict_paths(&r), both);
    // Approving anyway is explicit and needs a reason.
    let body = json!({ "decision": "approve", "override_conflicts": true });
    let url = format!("/api/v1/visits/{visit}/review");
    let r = w.app.post(&url, Some(&w.town), body).await;
    assert_eq!(r.code(), "review.comment_required", "{:?}", r.body);
    assert_eq!(conflict_paths(&r), both);
    // Nothing was decided so far.
    assert!(w.app.audit("review.decision").await.is_empty());

    // The console shows each conflict by its Chinese name, with who wrote each value on which
    // device, above the decision, whose approve form offers the override.
    let (mut console, csrf) = console_login(&w.app, "town.zhao").await;
    let (status, page) = console.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "户籍地",
        "健康状况说明",
        "身体健康",
        "高血压，长期服药",
        "安卓手机",
        "grid.zhang",
        "assist.liu",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    // The path travels in the form only, never as text.
    assert!(!page.contains(">content.health_notes"), "raw path shown");
    let conflicts_at = page.find("待确认的冲突").unwrap();
    let decision_at = page.find("<h2>审核</h2>").unwrap();
    assert!(
        conflicts_at < decision_at,
        "conflicts come before the decision"
    );
    assert!(page.contains("name=\"override_conflicts\""));
    // Approving on the console without the override keeps the comment and explains.
    let resp = console
        .post(
            &format!("/console/visits/{visit}/decision"),
            &[
                ("csrf", csrf.as_str()),
                ("decision", "approve"),
                ("comment", "入户核实无误"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("入户核实无误") && page.contains("尚未确认"),
        "{page}"
    );

    // The reviewer settles the household's field; only the visit's remains.
    let hconf = w
        .app
        .get(&format!("/api/v1/documents/{hh}/conflicts"), &w.town)
        .await;
    let path = hconf.body["conflicts"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(hconf.body["conflicts"][0]["label"], "户籍地");
    let platforms: Vec<&str> = hconf.body["conflicts"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["device_platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["android", "android"]);
    let resp = console
        .post(
            &format!("/console/docs/{hh}/resolve"),
            &[
                ("csrf", csrf.as_str()),
                ("path", path.as_str()),
                ("choice", "0"),
                ("return_to", &format!("/console/visits/{visit}")),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let r = review(&w.app, &w.town, &visit, "approve", Some("情况属实")).await;
    assert_eq!(r.code(), "review.conflicts_open");
    assert_eq!(conflict_paths(&r), both[1..].to_vec());

    // Approved anyway, with the reason: the decision's audit entry names what was overridden.
    let body = json!({ "decision": "approve", "comment": "两种说法已电话核实，以乡镇卫生院记录为准", "override_conflicts": true });
    let r = w.app.post(&url, Some(&w.town), body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let audit = w.app.audit("review.decision").await;
    assert_eq!(audit.len(), 1);
    let detail: serde_json::Value =
        serde_json::from_str(audit[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(
        detail["conflicts_overridden"][0]["path"],
        "content.health_notes"
    );
    assert_eq!(
        detail["comment"],
        "两种说法已电话核实，以乡镇卫生院记录为准"
    );
    // The county meets the same gate: the visit's field is still in conflict.
    let r = review(&w.app, &w.county, &visit, "confirm", None).await;
    assert_eq!(r.code(), "review.conflicts_open", "{:?}", r.body);
    // A decision that does not approve is never held up by a conflict.
    let r = review(
        &w.app,
        &w.county,
        &visit,
        "send_back",
        Some("请核实健康状况"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn visit_page_shows_member_checks_and_additions(b: Backend) {
    use doudi_protocol::doc::visit::{AddedMember, MemberCheck};
    let mut w = world(b).await;
    let mut h = doudi_tests::cases::household("济南市历下区一镇一村 12 号");
    let (head_id, _) = h
        .members
        .iter()
        .next()
        .map(|(i, m)| (*i, m.clone()))
        .unwrap();
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("王秀英", Relation::Spouse),
    );
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    v.member_checks.insert(
        head_id,
        MemberCheck {
            present: true,
            confirmed: true,
            removed: false,
            removal_reason: None,
            not_signed_reason: Some("卧床，由配偶代签".into()),
            note: None,
        },
    );
    let child = MemberId::generate().unwrap();
    v.members_added.insert(
        child,
        AddedMember {
            name: "王小宝".into(),
            identity: Some(w.phone.seal("370102201801010018")),
            relation: Relation::Child,
            note: Some("去年出生，尚未落户".into()),
        },
    );
    let visit = w.phone.replica.create(GRID_A, &v).unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(status, StatusCode::OK);
    let checks = &page[page.find("本次走访的成员核实").expect("checks section")..];
    // The head was checked; the spouse was not, and the page says so.
    assert!(checks.contains("卧床，由配偶代签"), "{checks}");
    let spouse = &checks[checks.find("王秀英").unwrap()..];
    assert!(
        spouse[..200.min(spouse.len())].contains("本次走访未核实"),
        "{spouse}"
    );
    // The child found on the visit is shown, masked, and said not to be on the record yet.
    let added = &checks[checks.find("本次走访增员（1 人）").expect("additions")..];
    for needle in [
        "王小宝",
        "子女",
        "370102****0018",
        "去年出生，尚未落户",
        "尚未写入家庭档案",
    ] {
        assert!(added.contains(needle), "{needle}: {added}");
    }
    assert!(!page.contains("370102201801010018"));
    // Once the phone writes the child into the household record, the page says so.
    w.phone
        .replica
        .update::<Household>(&hh.to_string(), |h| {
            h.members
                .insert(child, Member::new("王小宝", Relation::Child));
        })
        .unwrap();
    w.app.sync(&mut w.phone).await;
    let (_, page) = town.get(&format!("/console/visits/{visit}")).await;
    let added = &page[page.find("本次走访增员").unwrap()..];
    assert!(added.contains("已写入家庭档案"), "{added}");
}

/// The photo viewer shows one photo of a visit at a time with what the phone recorded about it,
/// pages through them, and answers as for a missing photo outside the record or the reader's
/// regions.
async fn photo_viewer_pages_through_a_records_photos(b: Backend) {
    use doudi_protocol::doc::{GeoPoint, Photo, PhotoCategory};
    let mut w = world(b).await;
    let h = doudi_tests::cases::household("济南市历下区一镇一村 13 号");
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let mut v = doudi_tests::cases::submitted_visit(
        hh,
        [
            (w.phone.account_id.as_str(), "张网格"),
            (w.assistant_id.as_str(), "刘协理"),
        ],
    );
    let taken = 1_763_800_600_000;
    for (n, (category, caption)) in [
        (PhotoCategory::DwellingOutside, Some("东侧山墙裂缝")),
        (PhotoCategory::Kitchen, None),
    ]
    .into_iter()
    .enumerate()
    {
        v.photos.insert(
            BlobHash::from_bytes([20 + n as u8; 32]),
            Photo {
                category,
                caption: caption.map(str::to_string),
                captured_at: UnixMillis(taken + n as i64 * 60_000),
                gps: Some(GeoPoint {
                    lat: 36.65,
                    lon: 117.12,
                    accuracy_m: Some(12.0),
                }),
            },
        );
    }
    let visit = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    w.app.sync(&mut w.phone).await;
    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (_, page) = town.get(&format!("/console/visits/{visit}")).await;
    let first = format!("/console/docs/{visit}/photos/1");
    assert!(page.contains(&format!("href=\"{first}\"")), "{page}");
    // Signatures open as images, the link named by its visible caption.
    assert!(
        page.contains("<span class=\"caption\">签字：张网格"),
        "{page}"
    );

    let (status, one) = town.get(&first).await;
    assert_eq!(status, StatusCode::OK);
    let hash = BlobHash::from_bytes([20; 32]).to_string();
    for shown in [
        "第 1 / 2 张",
        PhotoCategory::DwellingOutside.label_zh(),
        "东侧山墙裂缝",
        "2025-11-22 16:36",
        "纬度 36.65000，经度 117.12000，精度约 12 米",
        &format!("src=\"/console/blobs/{hash}\""),
        &format!(
            "alt=\"{} 东侧山墙裂缝\"",
            PhotoCategory::DwellingOutside.label_zh()
        ),
        &format!("href=\"/console/docs/{visit}/photos/2\" rel=\"next\""),
        &format!("href=\"/console/visits/{visit}\""),
    ] {
        assert!(one.contains(shown), "{shown} missing: {one}");
    }
    assert!(!one.contains("rel=\"prev\""), "no photo before the first");
    let (status, two) = town.get(&format!("/console/docs/{visit}/photos/2")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(two.contains("第 2 / 2 张") && two.contains(PhotoCategory::Kitchen.label_zh()));
    assert!(
        two.contains(&format!("href=\"{first}\" rel=\"prev\"")),
        "{two}"
    );
    assert!(!two.contains("rel=\"next\""), "no photo after the last");
    // No third photo, no photo 0, and no household's photos: the not-found page.
    for missing in [
        format!("/console/docs/{visit}/photos/3"),
        format!("/console/docs/{visit}/photos/0"),
        format!("/console/docs/{hh}/photos/1"),
    ] {
        let (status, _) = town.get(&missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
    // Another township's reviewer sees what a missing record shows, and it is audited.
    let (mut other, _) = console_login(&w.app, "town.other").await;
    let (status, body) = other.get(&first).await;
    let (_, nothing) = other
        .get("/console/docs/0zzzzzzzzzzzzzzzzzzzzzzzzz/photos/1")
        .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, nothing));
    assert!(
        w.app
            .audit("policy.denied")
            .await
            .iter()
            .any(|d| d.target.as_deref() == Some(visit.as_str()))
    );
}

/// The county's confirmation of an application approves it: the household's decision (programme,
/// monthly amount paid from the first of next month, members covered, 文号) reaches the phone and
/// puts the household in the programme; a refusal keeps its reasons and notice date and changes no
/// programme. What is missing is named, and nothing is written then.
async fn the_county_decision_sets_the_programme(b: Backend) {
    use doudi_protocol::doc::household::{Decision, DecisionOutcome};
    let mut w = world(b).await;
    let mut h = doudi_tests::cases::household("济南市历下区一镇一村 11 号");
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("王小明", Relation::Child),
    );
    let hh = w.phone.replica.create(GRID_A, &h).unwrap();
    let investigators = [
        (w.phone.account_id.as_str(), "张网格"),
        (w.assistant_id.as_str(), "刘协理"),
    ];
    let mut v = doudi_tests::cases::submitted_visit(hh, investigators);
    v.applied_for = Some(Programme::Dibao);
    let visit = w.phone.replica.create(GRID_A, &v).unwrap().to_string();
    // A second application, for 特困, from a household of one.
    let h2 = w
        .phone
        .replica
        .create(
            GRID_A,
            &doudi_tests::cases::household("济南市历下区一镇一村 12 号"),
        )
        .unwrap();
    let mut v2 = doudi_tests::cases::submitted_visit(h2, investigators);
    v2.applied_for = Some(Programme::TekunDispersed);
    let refused = w.phone.replica.create(GRID_A, &v2).unwrap().to_string();
    let o = w.app.sync(&mut w.phone).await;
    assert_eq!(o.accepted.len(), 4, "{:?}", o.rejected);
    for v in [&visit, &refused] {
        let r = review(&w.app, &w.town, v, "approve", None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let url = format!("/api/v1/visits/{visit}/review");
    // The township's approval opened the 公示 (7 calendar days from today): the county confirms
    // after it.
    let today = doudi_server::review::deadlines::today().unwrap();
    // The village's 公示 list: both applications, with the head's name, the household size and
    // the programme applied for only.
    let (mut console, _) = console_login(&w.app, "county.qian").await;
    let (status, page) = console
        .get("/console/publication?kind=notice&region=370102001001")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let table = &page[page.find("<tbody>").expect("a list")..page.find("</tbody>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 2, "{table}");
    let until = (today + chrono::Days::new(6)).to_string();
    for cell in [
        ">低保<",
        ">特困分散供养<",
        ">2<",
        ">1<",
        "王建国",
        until.as_str(),
    ] {
        assert!(table.contains(cell), "{cell} missing: {table}");
    }
    assert!(!table.contains("济南市"), "{table}");
    let body = json!({ "decision": "confirm", "amount_fen_per_month": 72_000 });
    let r = w.app.post(&url, Some(&w.county), body.clone()).await;
    assert_eq!(r.code(), "review.notice_running", "{:?}", r.body);
    assert_eq!(
        r.body["details"]["until"],
        json!((today + chrono::Days::new(6)).to_string())
    );
    // An objection raised meanwhile holds it after the 公示 too, until a 民主评议 is recorded.
    let objections = format!("/api/v1/visits/{visit}/objections");
    let r = w
        .app
        .post(
            &objections,
            Some(&w.town),
            json!({ "objector": " ", "detail": "有车" }),
        )
        .await;
    assert_eq!(r.code(), "request.invalid", "{:?}", r.body);
    let r = w
        .app
        .post(
            &objections,
            Some(&w.town),
            json!({ "objector": "邻居李某", "detail": "家中有一辆轿车未申报" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    doudi_tests::cases::end_notice(&w.app, &visit).await;
    let r = w.app.post(&url, Some(&w.county), body).await;
    assert_eq!(r.code(), "review.objection_open", "{:?}", r.body);
    // The 民主评议 is recorded with the photo of its signed record: from the console, which
    // uploads the photo with the form, or through the API, naming a photo the reviewer uploaded.
    let (mut town_console, _) = console_login(&w.app, "town.zhao").await;
    let (_, page) = town_console.get(&format!("/console/visits/{visit}")).await;
    assert!(page.contains("name=\"record_photo\""), "{page}");
    let csrf = doudi_tests::csrf_of(&page);
    let held_on = today.to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("held_on", held_on.as_str()),
        ("participants", "9"),
        ("votes_for", "8"),
        ("votes_against", "1"),
    ];
    let signed = doudi_tests::blobs::tiny_png(2701);
    let console_photo = doudi_tests::blobs::sha(&signed);
    let form_url = format!("/console/visits/{visit}/appraisal");
    // Not an image: refused, nothing recorded.
    let r = town_console
        .post_file(
            &form_url,
            &form,
            ("record_photo", "记录.jpg", b"not a photo".to_vec()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("d-appraisal") && page.contains("JPEG"),
        "{page}"
    );
    let r = town_console
        .post_file(
            &form_url,
            &form,
            ("record_photo", "记录.png", signed.clone()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let appraisals = format!("/api/v1/visits/{visit}/appraisals");
    let record = doudi_tests::blobs::tiny_png(2702);
    let api_photo = doudi_tests::blobs::sha(&record);
    let appraisal = |against: i64, photo: &str| json!({ "held_on": today, "participants": 9, "votes_for": 8, "votes_against": against, "record_photo": photo });
    for (body, code) in [
        (appraisal(2, &api_photo), "request.invalid"),
        (appraisal(1, "not-a-hash"), "blob.hash_invalid"),
        // The county uploaded nothing yet: a hash alone names no photo of the reviewer's.
        (appraisal(1, &api_photo), "blob.not_uploaded"),
        (appraisal(1, &console_photo), "blob.not_uploaded"),
    ] {
        let r = w.app.post(&appraisals, Some(&w.county), body).await;
        assert_eq!(r.code(), code, "{:?}", r.body);
    }
    let up = w.app.upload(&w.county, &api_photo, &record).await;
    assert_eq!(up.status, StatusCode::OK, "{:?}", up.body);
    let r = w
        .app
        .post(&appraisals, Some(&w.county), appraisal(1, &api_photo))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // The visit page links each appraisal's signed record.
    let (_, page) = town_console.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(page.matches("签字记录</a>").count(), 2, "{page}");
    // Without the amount the county is told which field is missing; nothing is decided.
    for (body, field) in [
        (json!({ "decision": "confirm" }), "amount_fen_per_month"),
        (
            json!({ "decision": "confirm", "amount_fen_per_month": -1 }),
            "amount_fen_per_month",
        ),
        (
            json!({ "decision": "confirm", "programme": "unknown", "amount_fen_per_month": 1 }),
            "programme",
        ),
    ] {
        let r = w.app.post(&url, Some(&w.county), body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "review.award_invalid"),
            "{:?}",
            r.body
        );
        assert_eq!(r.body["details"]["field"], field);
    }
    let r = w
        .app
        .post(
            &url,
            Some(&w.county),
            json!({ "decision": "confirm", "amount_fen_per_month": 72_000, "reference": "历民〔2026〕8号", "comment": "同意" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let decided_on = doudi_server::review::deadlines::today().unwrap();
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&hh.to_string()).unwrap();
    assert!(
        got.programmes.contains(&Programme::Dibao),
        "{:?}",
        got.programmes
    );
    let d = got.decisions.last().unwrap();
    assert_eq!(d.outcome, DecisionOutcome::Approved);
    assert_eq!(d.programme, Some(Programme::Dibao));
    assert_eq!(d.amount_fen_per_month, Some(72_000));
    assert_eq!(d.effective_from, Some(Decision::pays_from(decided_on)));
    assert_eq!(d.household_size, Some(2));
    assert_eq!(d.reference.as_deref(), Some("历民〔2026〕8号"));
    assert_eq!(d.visit.map(|v| v.to_string()), Some(visit.clone()));
    let confirmed: Visit = w.phone.replica.read(&visit).unwrap();
    assert_eq!(confirmed.status, VisitStatus::Confirmed);
    // The phone holds both appraisals with their signed records among the visit's photos, and
    // whoever reads the visit reads the photos, though only the recording reviewer uploaded them.
    let recorded: Vec<_> = confirmed
        .appraisals
        .iter()
        .map(|a| a.record_photo.as_ref().map(|h| h.as_string()))
        .collect();
    assert_eq!(
        recorded,
        [Some(console_photo.clone()), Some(api_photo.clone())]
    );
    for (sha, bytes) in [(&console_photo, &signed), (&api_photo, &record)] {
        let photo = &confirmed.photos[&doudi_protocol::ids::BlobHash::parse(sha).unwrap()];
        assert_eq!(photo.caption.as_deref(), Some("民主评议签字记录"));
        for token in [&w.town, &w.county, &w.phone.access] {
            let (status, _, got) = w.app.get_blob(token, sha, None).await;
            assert_eq!((status, &got), (StatusCode::OK, bytes), "{sha}");
        }
        let (other, _, _) = w.app.login("town.other").await;
        let (status, _, _) = w.app.get_blob(&other, sha, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sha}");
    }

    // A refusal: a notice date before the decision, or past the working days allowed, is refused.
    let url = format!("/api/v1/visits/{refused}/review");
    for late in [
        decided_on.pred_opt().unwrap(),
        decided_on + chrono::Days::new(40),
    ] {
        let r = w
            .app
            .post(
                &url,
                Some(&w.county),
                json!({ "decision": "reject", "comment": "有赡养能力的法定赡养人", "notice_date": late }),
            )
            .await;
        assert_eq!(r.code(), "review.award_invalid", "{late}: {:?}", r.body);
        assert_eq!(r.body["details"]["field"], "notice_date");
    }
    let r = w
        .app
        .post(
            &url,
            Some(&w.county),
            json!({ "decision": "reject", "comment": "有赡养能力的法定赡养人" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&h2.to_string()).unwrap();
    assert!(got.programmes.is_empty(), "{:?}", got.programmes);
    let d = got.decisions.last().unwrap();
    assert_eq!(d.outcome, DecisionOutcome::Refused);
    assert_eq!(d.programme, Some(Programme::TekunDispersed));
    assert_eq!(d.note.as_deref(), Some("有赡养能力的法定赡养人"));
    assert_eq!(d.notice_date, Some(decided_on));
    assert_eq!(d.effective_from, None);
    // In the console: the confirm form names the programme applied for and takes the amount in
    // yuan; a bad amount comes back in the form with its message, the comment kept.
    let (h4, v4) = submitted(&mut w, false).await;
    let r = review(&w.app, &w.town, &v4, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (mut console, csrf) = console_login(&w.app, "county.qian").await;
    let (_, page) = console.get(&format!("/console/visits/{v4}")).await;
    assert!(
        page.contains("（申请低保）")
            && page.contains("<option value=\"dibao\" selected>")
            && page.contains("name=\"amount_yuan\""),
        "{page}"
    );
    assert!(
        page.contains("公示期") && page.contains("d-objection"),
        "{page}"
    );
    doudi_tests::cases::end_notice(&w.app, &v4).await;
    let form = format!("/console/visits/{v4}/decision");
    let resp = console
        .post(
            &form,
            &[
                ("csrf", csrf.as_str()),
                ("decision", "confirm"),
                ("programme", "dibao"),
                ("amount_yuan", "七百"),
                ("comment", "同意纳入"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("月保障金额请填写数字") && page.contains("同意纳入"),
        "{page}"
    );
    let resp = console
        .post(
            &form,
            &[
                ("csrf", csrf.as_str()),
                ("decision", "confirm"),
                ("programme", "dibao"),
                ("amount_yuan", "720.5"),
                ("reference", "历民〔2026〕9号"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&h4).unwrap();
    let d = got.decisions.last().unwrap();
    assert_eq!(
        (d.amount_fen_per_month, d.reference.as_deref()),
        (Some(72_050), Some("历民〔2026〕9号"))
    );

    // The month's publication for the village: the two approvals, with only the head's name,
    // the household size and the amount; not the refusal, and not to another township.
    let month = decided_on.format("%Y-%m").to_string();
    let url = format!("/console/publication?region=370102001001&month={month}");
    let (status, page) = console.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let table = &page[page.find("<tbody>").expect("a list")..page.find("</tbody>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 2, "{table}");
    for figure in ["720.00", "720.50", "王建国", ">2<", ">1<", "低保"] {
        assert!(table.contains(figure), "{figure} missing: {table}");
    }
    assert!(
        !table.contains("济南市"),
        "no address is published: {table}"
    );
    let (mut other, _) = console_login(&w.app, "town.other").await;
    let (status, _) = other.get(&url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = console
        .get("/console/publication?region=370102001001&month=2026-13")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The township's decisions decide nothing on the household.
    let (h3, v3) = submitted(&mut w, false).await;
    let r = review(&w.app, &w.town, &v3, "reject", Some("材料不全")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&h3).unwrap();
    assert!(got.decisions.is_empty(), "{:?}", got.decisions);
}

/// 刚性支出困难 (GX2025 art. 10): a recognition holds 12 months from its approval. The one
/// approved more than a year ago gets its `rigid_reapply` task on the day it lapsed, shows as
/// lapsed on its page and no longer counts in the quarterly report; a recent one gets its task a
/// year on; a new approval renews the old one and supersedes its task.
async fn a_rigid_expenditure_recognition_lapses_after_a_year(b: Backend) {
    use doudi_protocol::doc::household::WorkCapacity::Able;
    use doudi_protocol::rules::schedule::add_months;
    use doudi_server::quarterly::Quarter;
    use doudi_server::review::{deadlines, recheck};
    let mut w = world(b).await;
    let today = deadlines::today().unwrap();
    let old_day = today - chrono::Days::new(400);
    let new_day = today - chrono::Days::new(20);
    let old = enrolled(
        &mut w,
        Programme::RigidExpenditure,
        vec![member("孙久", Able)],
        &old_day.to_string(),
    )
    .await;
    let recent = enrolled(
        &mut w,
        Programme::RigidExpenditure,
        vec![member("孙新", Able)],
        &new_day.to_string(),
    )
    .await;
    recheck::run(&w.app.state.db, today).await.unwrap();
    let lapsed_on = add_months(old_day, 12).unwrap();
    let recent_lapses = add_months(new_day, 12).unwrap();
    let kinds = |t: &[(String, Option<i64>, Option<String>)]| -> Vec<(String, Option<i64>)> {
        t.iter().map(|t| (t.0.clone(), t.1)).collect()
    };
    assert_eq!(
        kinds(&open_tasks(&w.app, &old).await),
        [(
            "rigid_reapply".to_string(),
            Some(due_ms(&lapsed_on.to_string()))
        )]
    );
    assert_eq!(
        kinds(&open_tasks(&w.app, &recent).await),
        [(
            "rigid_reapply".to_string(),
            Some(due_ms(&recent_lapses.to_string()))
        )]
    );
    // It goes to the grid's worker, whose phone lists it with the other tasks.
    assert_eq!(
        open_tasks(&w.app, &old).await[0].2.as_deref(),
        Some(w.phone.account_id.as_str())
    );

    let (mut console, _) = console_login(&w.app, "county.qian").await;
    let (_, page) = console.get(&format!("/console/households/{old}")).await;
    assert!(
        page.contains(&format!(
            "刚性支出认定期满</dt><dd>{lapsed_on}（已期满，需重新申请）"
        )),
        "{page}"
    );
    let (_, page) = console.get(&format!("/console/households/{recent}")).await;
    assert!(
        page.contains(&format!("刚性支出认定期满</dt><dd>{recent_lapses}</dd>")),
        "{page}"
    );
    // Only the recognition that holds counts at the quarter's end; both counted a year ago.
    let count = |r: &serde_json::Value| {
        r["programmes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["programme"] == "rigid_expenditure")
            .unwrap()["households"]
            .clone()
    };
    let q = Quarter::of(today);
    let r = w
        .app
        .get(
            &format!(
                "/api/v1/statistics/quarterly?region=370102000000&quarter={}",
                q.code()
            ),
            &w.county,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(count(&r.body), 1, "{:?}", r.body["programmes"]);

    // Approved again today: renewed, the lapsed task superseded by next year's.
    doudi_tests::cases::approve(
        &w.app,
        &old,
        Programme::RigidExpenditure,
        doudi_server::auth::now_ms(),
        "county.qian",
    )
    .await;
    recheck::run(&w.app.state.db, today).await.unwrap();
    assert_eq!(
        kinds(&open_tasks(&w.app, &old).await),
        [(
            "rigid_reapply".to_string(),
            Some(due_ms(&add_months(today, 12).unwrap().to_string()))
        )]
    );
}

/// 渐退期: the county decides a phase-out of a 低保 household within the region's months (here
/// 3–6), which continues the benefit and gives the grid worker the `phase_out_end` task on the
/// day it ends; then a termination in the console ends the programme and supersedes the tasks.
async fn a_phase_out_runs_to_its_end_task(b: Backend) {
    use doudi_protocol::doc::household::{Decision, DecisionOutcome, WorkCapacity::Able};
    use doudi_protocol::rules::Cap;
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    use doudi_server::review::{deadlines, recheck};
    let mut w = world(b).await;
    doudi_server::policies::put_layer(
        &w.app.state.db,
        PolicyLayer {
            region: Some("370102000000".into()),
            effective_from: "2020-01-01".parse().unwrap(),
            source: Some("区民政局渐退办法".into()),
            settings: PolicySettings {
                phase_out_min_months: Some(3),
                phase_out_max_months: Some(Cap::Limited(6)),
                ..Default::default()
            },
        },
        None,
        None,
    )
    .await
    .unwrap();
    let hh = enrolled(
        &mut w,
        Programme::Dibao,
        vec![member("钱在", Able)],
        "2026-03-10",
    )
    .await;
    let url = format!("/api/v1/households/{hh}/decisions");
    let reason = "就业后家庭人均收入超过低保标准";
    for months in [0, 2, 7] {
        let r = w
            .app
            .post(
                &url,
                Some(&w.county),
                json!({ "change": "phase_out", "months": months, "reason": reason }),
            )
            .await;
        assert_eq!(r.code(), "review.award_invalid", "{months}: {:?}", r.body);
        assert_eq!(r.body["details"]["field"], "months");
        assert!(
            r.body["message"].as_str().unwrap().contains("3–6 个月"),
            "{:?}",
            r.body
        );
    }
    let r = w
        .app
        .post(
            &url,
            Some(&w.county),
            json!({ "change": "phase_out", "months": 4 }),
        )
        .await;
    assert_eq!(r.code(), "review.comment_required", "{:?}", r.body);
    let r = w
        .app
        .post(
            &url,
            Some(&w.town),
            json!({ "change": "phase_out", "months": 4, "reason": reason }),
        )
        .await;
    assert_eq!(r.code(), "policy.denied", "{:?}", r.body);
    let r = w
        .app
        .post(
            &url,
            Some(&w.county),
            json!({ "change": "phase_out", "months": 4, "reason": reason }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let today = deadlines::today().unwrap();
    let start = Decision::pays_from(today);
    let ends = doudi_protocol::rules::schedule::add_months(start, 4).unwrap();
    assert_eq!(
        (
            r.body["effective_from"].as_str(),
            r.body["ends_on"].as_str()
        ),
        (
            Some(start.to_string().as_str()),
            Some(ends.to_string().as_str())
        )
    );
    // One phase-out at a time.
    let r = w
        .app
        .post(
            &url,
            Some(&w.county),
            json!({ "change": "phase_out", "months": 5, "reason": reason }),
        )
        .await;
    assert_eq!(r.code(), "review.wrong_state", "{:?}", r.body);
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&hh).unwrap();
    assert!(got.programmes.contains(&Programme::Dibao));
    let d = got.decisions.last().unwrap();
    assert_eq!(
        (d.outcome, d.months, d.effective_from),
        (DecisionOutcome::PhaseOut, Some(4), Some(start))
    );
    // The schedule gives the end of the phase-out its task.
    recheck::run(&w.app.state.db, today).await.unwrap();
    let tasks = open_tasks(&w.app, &hh).await;
    assert!(
        tasks
            .iter()
            .any(|t| t.0 == "phase_out_end" && t.1 == Some(due_ms(&ends.to_string()))),
        "{tasks:?}"
    );

    // The county ends it in the console: a blank reason comes back in its form.
    let (mut console, csrf) = console_login(&w.app, "county.qian").await;
    let (_, page) = console.get(&format!("/console/households/{hh}")).await;
    assert!(
        page.contains("渐退 4 个月")
            && page.contains("d-terminate")
            && !page.contains("d-phase-out"),
        "{page}"
    );
    let form = format!("/console/households/{hh}/benefit");
    let resp = console
        .post(
            &form,
            &[
                ("csrf", csrf.as_str()),
                ("change", "terminate"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = console
        .post(
            &form,
            &[
                ("csrf", csrf.as_str()),
                ("change", "terminate"),
                ("reason", "渐退期满"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    w.app.sync(&mut w.phone).await;
    let got: Household = w.phone.replica.read(&hh).unwrap();
    assert!(got.programmes.is_empty(), "{:?}", got.programmes);
    assert_eq!(
        got.decisions.last().unwrap().outcome,
        DecisionOutcome::Terminated
    );
    recheck::run(&w.app.state.db, today).await.unwrap();
    assert_eq!(open_tasks(&w.app, &hh).await, []);
}

/// 审核确认权限下放 (Qingdao): where the region's policy in force at submission delegates
/// confirmation, the whole case has 20 working days, so the township's opinion is due 10 working
/// days after submission, and the township confirms the application itself (deciding it, with
/// the amount); where it does not, the township may not confirm.
async fn a_delegated_township_confirms_itself(b: Backend) {
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    let mut w = world(b).await;
    let layer = PolicyLayer {
        region: Some("370102001000".into()),
        effective_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        source: Some("测试：审核确认权限下放乡镇".into()),
        settings: PolicySettings {
            confirmation_delegated: Some(true),
            ..Default::default()
        },
    };
    doudi_server::policies::put_layer(&w.app.state.db, layer, None, None)
        .await
        .unwrap();
    // Friday 9 October 2026, Saturday the 10th worked: the 10th working day is Thursday the 22nd
    // (20 − 10 for the county's step; undelegated, 30 − 10 give 5 November).
    let visit = submitted_at(&mut w, cst_ms("2026-10-09")).await;
    let before = submitted_at(&mut w, cst_ms("2025-09-30")).await;
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(
        queue_item(&q, &visit)["due"],
        json!("2026-10-22"),
        "{:?}",
        q.body
    );
    for v in [&visit, &before] {
        let r = review(&w.app, &w.town, v, "approve", None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let body =
        json!({ "decision": "confirm", "programme": "dibao", "amount_fen_per_month": 58_000 });
    // Submitted before the delegation took effect: the county's to confirm.
    let r = w
        .app
        .post(
            &format!("/api/v1/visits/{before}/review"),
            Some(&w.town),
            body.clone(),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied"),
        "{:?}",
        r.body
    );
    doudi_tests::cases::end_notice(&w.app, &visit).await;
    let r = w
        .app
        .post(
            &format!("/api/v1/visits/{visit}/review"),
            Some(&w.town),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "confirmed");
    w.app.sync(&mut w.phone).await;
    let v: Visit = w.phone.replica.read(&visit).unwrap();
    let got: Household = w.phone.replica.read(&v.household.to_string()).unwrap();
    assert!(
        got.programmes.contains(&Programme::Dibao),
        "{:?}",
        got.programmes
    );
    assert_eq!(
        got.decisions.last().unwrap().amount_fen_per_month,
        Some(58_000)
    );
    // The township's console offers it the confirmation form of the delegated case.
    let (mut console, _) = console_login(&w.app, "town.zhao").await;
    let other = submitted_at(&mut w, cst_ms("2026-10-12")).await;
    let r = review(&w.app, &w.town, &other, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, page) = console.get(&format!("/console/visits/{other}")).await;
    assert!(
        page.contains("d-confirm") && page.contains("name=\"amount_yuan\""),
        "{page}"
    );
    let (_, page) = console.get(&format!("/console/visits/{before}")).await;
    assert!(!page.contains("d-confirm"), "{page}");
    // Its default view (已提交) says that one approved application waits for its own
    // confirmation (the one submitted before the delegation is the county's), and leads there.
    let (_, page) = console.get("/console/queue").await;
    assert!(
        page.contains("另有 1 个已由本级初审通过、经授权由本级审核确认的申请待确认"),
        "{page}"
    );
    assert!(page.contains("href=\"/console/queue?status=approved\""));
    let (_, page) = console.get("/console/queue?status=approved").await;
    assert!(page.contains(&format!("/console/visits/{other}")));
    assert!(!page.contains("经授权由本级审核确认的申请待确认"));
}

/// 低保边缘 households and 监测对象 have no statutory re-check: they are visited at the interval
/// their region sets (`watched_visit_months`), and not at all while none is set.
async fn watched_households_are_visited_at_the_regions_interval(b: Backend) {
    use doudi_protocol::doc::household::WorkCapacity::Able;
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    use doudi_server::review::recheck;
    let mut w = world(b).await;
    let edge = enrolled(
        &mut w,
        Programme::NearDibao,
        vec![member("孙边缘", Able)],
        "2026-03-10",
    )
    .await;
    let watched = enrolled(
        &mut w,
        Programme::Monitored,
        vec![member("周监测", Able)],
        "2026-05-31",
    )
    .await;
    let today: chrono::NaiveDate = "2026-11-23".parse().unwrap();
    recheck::run(&w.app.state.db, today).await.unwrap();
    assert_eq!(open_tasks(&w.app, &edge).await, []);
    doudi_server::policies::put_layer(
        &w.app.state.db,
        PolicyLayer {
            region: Some("370102000000".into()),
            effective_from: "2026-01-01".parse().unwrap(),
            source: Some("区民政局边缘家庭走访办法".into()),
            settings: PolicySettings {
                watched_visit_months: Some(3),
                ..Default::default()
            },
        },
        None,
        None,
    )
    .await
    .unwrap();
    recheck::run(&w.app.state.db, today).await.unwrap();
    let kinds_and_days =
        |t: Vec<(String, Option<i64>, Option<String>)>| -> Vec<(String, Option<i64>)> {
            t.into_iter().map(|(k, d, _)| (k, d)).collect()
        };
    assert_eq!(
        kinds_and_days(open_tasks(&w.app, &edge).await),
        [("visit".to_string(), Some(due_ms("2026-06-10")))]
    );
    // 31 May + 3 months: the last day of August.
    assert_eq!(
        kinds_and_days(open_tasks(&w.app, &watched).await),
        [("visit".to_string(), Some(due_ms("2026-08-31")))]
    );
}

/// A 低保 application accepted (受理) on `accepted` (YYYY-MM-DD) and investigated two days
/// later, submitted now from the phone; `kin_filing`: a member is a close relative of staff
/// (近亲属备案).
async fn accepted_application(w: &mut World, accepted: &str, kin_filing: bool) -> String {
    use doudi_protocol::doc::visit::{Application, ApplicationChannel};
    synced_application(w, |v| {
        v.applied_for = Some(Programme::Dibao);
        let start = cst_ms(accepted) + 2 * 86_400_000;
        v.started_at = Some(UnixMillis(start));
        v.ended_at = Some(UnixMillis(start + 1_800_000));
        v.application = Some(Application {
            accepted_on: accepted.parse().unwrap(),
            channel: ApplicationChannel::InPerson,
            proxy_name: None,
            authorisation: None,
            pledge_signed: true,
            data_check_authorised: true,
            kin_filing,
        });
    })
    .await
}

/// Every clock of an application runs from its acceptance (受理), with the limits of the region's
/// policy in force that day, counted on the holiday calendar: the township's opinion, the whole
/// case (30 working days; 20 where the township confirms itself; 45 once a reason is recorded),
/// each marked overdue on its own. Around the 2026 holidays (中秋节 25–27 September, 国庆节 1–7
/// October, Saturday 10 October worked) and across the 2026/2027 year end (2027 is not in the
/// calendar: 日历未知, never weekdays alone).
async fn an_application_is_timed_from_its_acceptance(b: Backend) {
    use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings};
    let mut w = world(b).await;
    // Accepted Thursday 24 September 2026: working days 28, 29, 30 September, then 8, 9, 10,
    // 12 October … The 20th is Thursday 29 October, the 30th Thursday 12 November.
    let a = accepted_application(&mut w, "2026-09-24", false).await;
    // Accepted Tuesday 15 December 2026 where the township confirms itself (below): its 10th
    // working day is Tuesday 29 December; the 20th falls in 2027.
    let year_end = accepted_application(&mut w, "2026-12-15", false).await;
    // From 25 September the township confirms itself (审核确认权限下放): a case accepted
    // Monday 28 September has 20 working days in all (Friday 30 October), 10 of them the
    // township's (Friday 16 October). The case accepted the day before keeps the national
    // limits.
    let layer = PolicyLayer {
        region: Some("370102001000".into()),
        effective_from: chrono::NaiveDate::from_ymd_opt(2026, 9, 25).unwrap(),
        source: Some("测试：委托乡镇审核确认".into()),
        settings: PolicySettings {
            confirmation_delegated: Some(true),
            ..Default::default()
        },
    };
    doudi_server::policies::put_layer(&w.app.state.db, layer, None, None)
        .await
        .unwrap();
    let delegated = accepted_application(&mut w, "2026-09-28", false).await;

    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
    let it = queue_item(&q, &a);
    assert_eq!(it["accepted_on"], json!("2026-09-24"), "{it}");
    assert_eq!(it["due"], json!("2026-10-29"), "{it}");
    assert_eq!(it["case_due"], json!("2026-11-12"), "{it}");
    assert_eq!(it["overdue"], json!(true), "{it}");
    assert_eq!(it["case_overdue"], json!(true), "{it}");
    let it = queue_item(&q, &year_end);
    assert_eq!(it["due"], json!("2026-12-29"), "{it}");
    assert_eq!(it["calendar_unknown"], json!(false), "{it}");
    assert_eq!(it["case_due"], json!(null), "{it}");
    assert_eq!(it["case_calendar_unknown"], json!(true), "{it}");
    assert_eq!(it["case_overdue"], json!(false), "{it}");
    let it = queue_item(&q, &delegated);
    assert_eq!(it["due"], json!("2026-10-16"), "{it}");
    assert_eq!(it["case_due"], json!("2026-10-30"), "{it}");

    // A reason recorded for the special limit: 45 working days, Thursday 3 December. Once only;
    // never without a reason; never by a phone.
    let ext_path = format!("/api/v1/visits/{a}/extension");
    let ext = |reason: &str| {
        w.app
            .post(&ext_path, Some(&w.town), json!({ "reason": reason }))
    };
    let r = ext("  ").await;
    assert_eq!(r.code(), "request.invalid", "{:?}", r.body);
    let r = ext("申请人住院治疗，需补充医疗票据").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = ext("再次延期").await;
    assert_eq!(r.code(), "review.wrong_state", "{:?}", r.body);
    let q = w.app.get("/api/v1/review/queue", &w.town).await;
    let it = queue_item(&q, &a);
    assert_eq!(it["case_due"], json!("2026-12-03"), "{it}");
    assert_eq!(it["due"], json!("2026-10-29"), "{it}");

    // The phone receives the extension, and cannot write it itself.
    w.app.sync(&mut w.phone).await;
    let v: Visit = w.phone.replica.read(&a).unwrap();
    assert_eq!(
        v.extension.as_ref().map(|e| e.reason.as_str()),
        Some("申请人住院治疗，需补充医疗票据")
    );
    w.phone
        .replica
        .update::<Visit>(&a, |v| {
            if let Some(e) = v.extension.as_mut() {
                e.reason = "手机改写".into();
            }
        })
        .unwrap();
    let o = w.app.sync(&mut w.phone).await;
    assert!(
        o.rejected
            .iter()
            .any(|r| r.code.as_deref() == Some("sync.server_field")),
        "{:?}",
        o.rejected
    );

    // The console shows the acceptance and both clocks.
    let (mut browser, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = browser.get(&format!("/console/visits/{a}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("受理日期")
            && page.contains("2026-09-24")
            && page.contains("2026-12-03（已超期）")
            && page.contains("申请人住院治疗")
            && page.contains("data-code=\"town_review\">乡镇初审"),
        "{page}"
    );
}

/// A member is a close relative of staff (近亲属备案): the county confirms only after recording
/// its own visit (县级入户核查), which the township cannot record for it, dated no later than
/// today; the phone receives it.
async fn a_kin_filing_waits_for_the_countys_own_visit(b: Backend) {
    let mut w = world(b).await;
    let k = accepted_application(&mut w, "2026-11-02", true).await;
    let r = review(&w.app, &w.town, &k, "approve", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let q = w.app.get("/api/v1/review/queue", &w.county).await;
    assert_eq!(queue_item(&q, &k)["county_visit_needed"], json!(true));

    let r = review(&w.app, &w.county, &k, "confirm", None).await;
    assert_eq!(r.code(), "review.county_visit_required", "{:?}", r.body);
    assert_eq!(r.body["details"]["kin_filing"], json!(true), "{:?}", r.body);
    let r = county_visit(&w.app, &w.town, &k).await;
    assert_eq!(r.code(), "policy.denied", "{:?}", r.body);
    let tomorrow = doudi_server::review::deadlines::today()
        .unwrap()
        .succ_opt()
        .unwrap();
    let r = w
        .app
        .post(
            &format!("/api/v1/visits/{k}/county-visits"),
            Some(&w.county),
            json!({ "visited_on": tomorrow, "visitors": "钱县级", "findings": "属实" }),
        )
        .await;
    assert_eq!(r.code(), "request.invalid", "{:?}", r.body);
    let r = county_visit(&w.app, &w.county, &k).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = review(&w.app, &w.county, &k, "confirm", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Confirmed, nothing more is recorded on it.
    let r = county_visit(&w.app, &w.county, &k).await;
    assert_eq!(r.code(), "review.wrong_state", "{:?}", r.body);

    w.app.sync(&mut w.phone).await;
    let v: Visit = w.phone.replica.read(&k).unwrap();
    assert_eq!(v.county_visits.len(), 1);
    assert_eq!(v.county_visits[0].findings, "入户核查，情况属实");
    assert_eq!(v.status, VisitStatus::Confirmed);
}
