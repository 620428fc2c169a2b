//! Access as an attacker tries it: reading photos by their hash, reading review lists from a
//! field role, security events an administrator cannot find, refusals that leave no trace, audit
//! writes that fail; and the role × endpoint matrix. Every test runs on SQLite and PostgreSQL.

use doudi_protocol::doc::DiscoveryReport;
use doudi_protocol::role::Role;
use doudi_server::blobs::BlobService;
use doudi_server::entity::{account, audit_log, device, region};
use doudi_tests::blobs::{sha, tiny_png};
use doudi_tests::cases::{household, report_with_photos, submitted_visit};
use doudi_tests::{Backend, Phone, TestApp, both_backends, spawn_app};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

both_backends!(
    a_hash_grants_no_photo,
    blobs_stored_before_uploads_were_recorded_stay_with_their_first_document,
    review_lists_are_for_reviewers,
    security_events_carry_the_account_region,
    every_refusal_is_audited,
    a_failed_audit_write_fails_the_request,
    role_endpoint_matrix,
    an_administrator_reads_no_case_and_leaves_a_trail,
    a_stolen_backup_holds_no_usable_token,
    a_forged_forwarded_for_changes_no_address,
);

const GRID_A: &str = "370102001001-A";
const GRID_B: &str = "370102001001-B";
const OTHER_COUNTY_GRID: &str = "370103001001-A";

async fn path_of(app: &TestApp, code: &str) -> String {
    region::Entity::find_by_id(code.to_string())
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("fixture region")
        .path
}

/// A phone files a report with photos of these hashes and syncs it; the report's id.
async fn file_report(app: &TestApp, phone: &mut Phone, grid: &str, photos: &[&str]) -> String {
    let r = report_with_photos(&phone.account_id, photos);
    let id = phone.replica.create(grid, &r).unwrap().to_string();
    let o = app.sync(phone).await;
    assert_eq!(o.accepted, vec![id.clone()], "{:?}", o.rejected);
    id
}

/// Upload `bytes` as `token`'s account; the blob is complete.
async fn upload_ok(app: &TestApp, token: &str, bytes: &[u8]) -> String {
    let h = sha(bytes);
    let r = app.upload(token, &h, bytes).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["complete"], json!(true), "{:?}", r.body);
    h
}

/// Audit rows of `action` about `account`, oldest first.
async fn audit_of(app: &TestApp, action: &str, account: &str) -> Vec<audit_log::Model> {
    app.audit(action)
        .await
        .into_iter()
        .filter(|e| e.account_id.as_deref() == Some(account))
        .collect()
}

/// A G02 worker files a report keyed by the hash of a G01 photo she never had: the hash grants
/// her nothing, the upload status says nothing about the blob, and once she uploads the same
/// bytes (she has them now) her report shows them, stored once.
async fn a_hash_grants_no_photo(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    let gw_b = app
        .create_account("gw.b", Role::GridWorker, &[GRID_B])
        .await;
    let gw_b2 = app
        .create_account("gw.b2", Role::GridWorker, &[GRID_B])
        .await;
    app.create_account("town", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("assist", Role::Assistant, &["370102001001"])
        .await;
    let mut a = app.phone("gw.a").await;
    let mut attacker = app.phone("gw.b").await;
    let (colleague, _, _) = app.login("gw.b2").await;
    let (town, _, _) = app.login("town").await;

    let bytes = tiny_png(1);
    let h = sha(&bytes);
    file_report(&app, &mut a, GRID_A, &[&h]).await;
    upload_ok(&app, &a.access, &bytes).await;
    let (status, _, body) = app.get_blob(&a.access, &h, None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, bytes.as_slice())
    );

    // The attacker's report points at the hash; sync accepts the document.
    let attack = file_report(&app, &mut attacker, GRID_B, &[&h]).await;
    for token in [&attacker.access, &colleague] {
        let r = app.get(&format!("/api/v1/blobs/{h}"), token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "a reference to a blob its writer never uploaded shows nothing"
        );
    }
    // Each refused read is in the audit log, under the reader's region.
    let grid_b = path_of(&app, GRID_B).await;
    for who in [&gw_b, &gw_b2] {
        let rows = audit_of(&app, "policy.denied", who).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].target.as_deref(), Some(h.as_str()));
        assert_eq!(rows[0].region_path.as_deref(), Some(grid_b.as_str()));
    }
    // The township reads it through the G01 report.
    assert_eq!(app.get_blob(&town, &h, None).await.0, StatusCode::OK);

    // A colleague of both grids who has the bytes edits the attacker's report: the reference
    // is still the attacker's, and lends nothing.
    let mut both = app.phone("assist").await;
    app.sync(&mut both).await;
    upload_ok(&app, &both.access, &bytes).await;
    both.replica
        .update::<DiscoveryReport>(&attack, |r| r.notes = Some("已核实".into()))
        .unwrap();
    let o = app.sync(&mut both).await;
    assert_eq!(o.accepted, vec![attack.clone()], "{:?}", o.rejected);
    let r = app
        .get(&format!("/api/v1/blobs/{h}"), &attacker.access)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));

    // Nothing tells the attacker that the blob exists, or its size.
    let unknown = sha(&tiny_png(2));
    for probe in [&h, &unknown] {
        let r = app
            .get(&format!("/api/v1/blobs/{probe}/upload"), &attacker.access)
            .await;
        assert_eq!(
            r.body,
            json!({ "offset": 0, "complete": false, "received": 0 })
        );
        let r = app.missing(&attacker.access, &[probe]).await;
        assert_eq!(r.body, json!({ "missing": [probe] }));
    }
    // Its uploader is told it is there.
    let r = app
        .get(&format!("/api/v1/blobs/{h}/upload"), &a.access)
        .await;
    assert_eq!(
        r.body,
        json!({ "offset": bytes.len(), "complete": true, "received": 0 })
    );
    assert_eq!(
        app.missing(&a.access, &[&h]).await.body,
        json!({ "missing": [] })
    );

    // Uploading the same bytes works like any upload and stores them once.
    let r = app.upload(&attacker.access, &h, &bytes).await;
    assert_eq!(
        r.body,
        json!({ "offset": bytes.len(), "complete": true, "received": bytes.len() })
    );
    let rows = doudi_server::entity::blob::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let uploads = doudi_server::entity::blob_upload::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(uploads, 3, "gw.a, assist and gw.b uploaded it");
    let service = BlobService::from_settings(&app.state.settings).unwrap();
    assert_eq!(service.store.list().await.unwrap().len(), 1);
    let (status, _, body) = app.get_blob(&attacker.access, &h, None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, bytes.as_slice())
    );
}

/// A database from before `blob_uploads`: migration 13 credits each stored blob to the accounts
/// that wrote its first document, not to one that named it later.
async fn blobs_stored_before_uploads_were_recorded_stay_with_their_first_document(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("gw.b", Role::GridWorker, &[GRID_B])
        .await;
    let mut a = app.phone("gw.a").await;
    let mut attacker = app.phone("gw.b").await;
    let (bytes, lone) = (tiny_png(20), tiny_png(21));
    let h = sha(&bytes);
    file_report(&app, &mut a, GRID_A, &[&h]).await;
    upload_ok(&app, &a.access, &bytes).await;
    file_report(&app, &mut attacker, GRID_B, &[&h]).await;
    let lone_h = upload_ok(&app, &a.access, &lone).await;

    // Back to the schema before migration 14, and up again.
    let db = &app.state.db;
    db.execute_unprepared("DROP TABLE blob_uploads")
        .await
        .unwrap();
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm20261210_000014_blob_uploads'",
    )
    .await
    .unwrap();
    doudi_server::db::migrate(db).await.unwrap();

    let uploads = doudi_server::entity::blob_upload::Entity::find()
        .all(db)
        .await
        .unwrap();
    let credited: Vec<(&str, &str)> = uploads
        .iter()
        .map(|u| (u.sha256.as_str(), u.account_id.as_str()))
        .collect();
    assert_eq!(credited, vec![(h.as_str(), a.account_id.as_str())]);
    assert_eq!(app.get_blob(&a.access, &h, None).await.0, StatusCode::OK);
    let r = app
        .get(&format!("/api/v1/blobs/{h}"), &attacker.access)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A blob no document named is nobody's: its uploader sends it again if it needs it.
    assert_eq!(
        app.missing(&a.access, &[&lone_h]).await.body,
        json!({ "missing": [lone_h] })
    );
}

/// Field roles get `403 policy.denied` (audited) on the review queue and the report triage
/// list; reviewers get them.
async fn review_lists_are_for_reviewers(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let field = [
        (Role::GridWorker, GRID_A),
        (Role::Assistant, "370102001001"),
        (Role::VillageCadre, "370102001001"),
    ];
    for (n, (role, region)) in field.iter().enumerate() {
        let name = format!("field.{n}");
        let id = app.create_account(&name, *role, &[region]).await;
        let (t, _, _) = app.login(&name).await;
        for list in ["/api/v1/review/queue", "/api/v1/reports"] {
            let r = app.get(list, &t).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "policy.denied"),
                "{role} {list}"
            );
        }
        let rows = audit_of(&app, "policy.denied", &id).await;
        assert_eq!(rows.len(), 2, "{role}: {rows:?}");
        let home = path_of(&app, region).await;
        assert!(
            rows.iter()
                .all(|e| e.region_path.as_deref() == Some(home.as_str())),
            "{rows:?}"
        );
    }
    for (name, role, region) in [
        ("town", Role::TownReviewer, "370102001000"),
        ("county", Role::CountyApprover, "370102000000"),
    ] {
        app.create_account(name, role, &[region]).await;
        let (t, _, _) = app.login(name).await;
        for list in ["/api/v1/review/queue", "/api/v1/reports"] {
            assert_eq!(app.get(list, &t).await.status, StatusCode::OK, "{name}");
        }
    }
}

/// Refresh-token reuse and the refusals of a revoked device's or a disabled account's tokens are
/// filed under the account's region: its county's administrator finds them, another county's
/// does not; no entry about an account lacks a region.
async fn security_events_carry_the_account_region(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    app.create_account("admin.yi", Role::Admin, &["370103000000"])
        .await;
    let worker = app
        .create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    let other = app
        .create_account("gw.b", Role::GridWorker, &[GRID_B])
        .await;
    let (jia, _, _) = app.login("admin.jia").await;
    let (yi, _, _) = app.login("admin.yi").await;

    // A copied refresh token: the device is revoked; its tokens are refused from then on.
    let (access, r1, _) = app.login("gw.a").await;
    let rot = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    let r2 = rot.body["refresh_token"].as_str().unwrap().to_string();
    let reuse = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    assert_eq!(reuse.code(), "auth.refresh_reused");
    let r = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r2 }))
        .await;
    assert_eq!(r.code(), "auth.device_revoked");
    assert_eq!(
        app.get("/api/v1/me", &access).await.code(),
        "auth.device_revoked"
    );

    // A disabled account's access and refresh tokens.
    let (other_access, other_refresh, _) = app.login("gw.b").await;
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/admin/accounts/{other}"),
            Some(&jia),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.get("/api/v1/me", &other_access).await.code(),
        "auth.account_disabled"
    );
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": other_refresh }),
        )
        .await;
    assert_eq!(r.code(), "auth.account_disabled");

    let entries = |token: String, action: &'static str| {
        let app = &app;
        async move {
            let r = app
                .get(&format!("/api/v1/admin/audit?action={action}"), &token)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body.as_array().unwrap().clone()
        }
    };
    let reuse = entries(jia.clone(), "auth.refresh_reuse").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["account_id"], json!(worker));
    let rejected = entries(jia.clone(), "auth.token_rejected").await;
    let about = |who: &str| {
        rejected
            .iter()
            .filter(|e| e["account_id"] == json!(who))
            .count()
    };
    assert_eq!(about(&worker), 2, "refresh and access token: {rejected:?}");
    assert_eq!(about(&other), 2, "refresh and access token: {rejected:?}");
    for action in ["auth.refresh_reuse", "auth.token_rejected"] {
        assert_eq!(entries(yi.clone(), action).await.len(), 0, "{action}");
    }

    let unfiled = audit_log::Entity::find()
        .filter(audit_log::Column::AccountId.is_not_null())
        .filter(audit_log::Column::RegionPath.is_null())
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(unfiled.is_empty(), "{unfiled:?}");
}

/// Every refused request of the review, report, task, admin and blob endpoints leaves an audit
/// entry naming the account, its device and its region.
async fn every_refusal_is_audited(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let assistant = app
        .create_account("assist", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("gw.other", Role::GridWorker, &[OTHER_COUNTY_GRID])
        .await;
    app.create_account("town", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.create_account("county", Role::CountyApprover, &["370102000000"])
        .await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    let yi_worker = app
        .create_account("gw.yi", Role::GridWorker, &[OTHER_COUNTY_GRID])
        .await;

    let mut phone = app.phone("gw.a").await;
    let hh = phone
        .replica
        .create(GRID_A, &household("济南市历下区一镇一村 9 号"))
        .unwrap();
    let v = submitted_visit(
        hh,
        [
            (phone.account_id.as_str(), "张网格"),
            (assistant.as_str(), "刘协理"),
        ],
    );
    let visit = phone.replica.create(GRID_A, &v).unwrap().to_string();
    let bytes = tiny_png(7);
    let photo = sha(&bytes);
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);
    let report = file_report(&app, &mut phone, GRID_A, &[&photo]).await;
    upload_ok(&app, &phone.access, &bytes).await;

    let (town, _, _) = app.login("town").await;
    let (county, _, _) = app.login("county").await;
    let r = app
        .post(
            &format!("/api/v1/visits/{visit}/review"),
            Some(&town),
            json!({ "decision": "approve" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let review = |d: &str| json!({ "decision": d, "comment": "理由" });
    let cases: Vec<(&str, Method, String, Option<serde_json::Value>, StatusCode)> = vec![
        // A township may not take the county's decisions on an approved visit.
        (
            "town",
            Method::POST,
            format!("/api/v1/visits/{visit}/review"),
            Some(review("reject")),
            StatusCode::FORBIDDEN,
        ),
        (
            "town",
            Method::POST,
            format!("/api/v1/visits/{visit}/review"),
            Some(review("confirm")),
            StatusCode::FORBIDDEN,
        ),
        (
            "town",
            Method::POST,
            format!("/api/v1/visits/{visit}/review"),
            Some(review("send_back")),
            StatusCode::FORBIDDEN,
        ),
        (
            "gw.a",
            Method::POST,
            format!("/api/v1/visits/{visit}/review"),
            Some(review("approve")),
            StatusCode::FORBIDDEN,
        ),
        (
            "town.other",
            Method::POST,
            format!("/api/v1/visits/{visit}/review"),
            Some(review("reject")),
            StatusCode::NOT_FOUND,
        ),
        (
            "gw.a",
            Method::GET,
            "/api/v1/review/queue".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "gw.a",
            Method::GET,
            "/api/v1/reports".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "gw.a",
            Method::POST,
            format!("/api/v1/reports/{report}/close"),
            Some(json!({ "reason": "x" })),
            StatusCode::FORBIDDEN,
        ),
        (
            "town.other",
            Method::POST,
            format!("/api/v1/reports/{report}/close"),
            Some(json!({ "reason": "x" })),
            StatusCode::NOT_FOUND,
        ),
        (
            "town.other",
            Method::POST,
            format!("/api/v1/reports/{report}/assign"),
            Some(json!({ "assignee": assistant })),
            StatusCode::NOT_FOUND,
        ),
        (
            "admin.jia",
            Method::GET,
            "/api/v1/tasks".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "town",
            Method::GET,
            "/api/v1/tasks".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "admin.jia",
            Method::GET,
            "/api/v1/review/queue".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "admin.jia",
            Method::PATCH,
            format!("/api/v1/admin/accounts/{yi_worker}"),
            Some(json!({ "display_name": "x" })),
            StatusCode::FORBIDDEN,
        ),
        (
            "gw.a",
            Method::GET,
            "/api/v1/admin/audit".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "admin.jia",
            Method::GET,
            format!("/api/v1/blobs/{photo}/upload"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "gw.other",
            Method::GET,
            format!("/api/v1/blobs/{photo}"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "admin.jia",
            Method::GET,
            format!("/api/v1/blobs/{photo}"),
            None,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (who, method, path, body, status) in cases {
        let (token, _, device) = app.login(who).await;
        let acc = doudi_server::accounts::find_by_username(&app.state.db, who)
            .await
            .unwrap()
            .unwrap();
        let home = doudi_server::accounts::home_path(&app.state.db, &acc.id)
            .await
            .unwrap();
        let before = audit_log::Entity::find()
            .filter(audit_log::Column::Outcome.eq("denied"))
            .count(&app.state.db)
            .await
            .unwrap();
        let r = app.send(method.clone(), &path, Some(&token), body).await;
        assert_eq!(r.status, status, "{who} {method} {path}: {:?}", r.body);
        let new = audit_log::Entity::find()
            .filter(audit_log::Column::Outcome.eq("denied"))
            .all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(
            new.len() as u64,
            before + 1,
            "{who} {method} {path}: one audit entry"
        );
        let e = new.iter().max_by_key(|e| e.id).unwrap();
        assert_eq!(e.account_id.as_deref(), Some(acc.id.as_str()), "{path}");
        assert_eq!(e.device_id.as_deref(), Some(device.as_str()), "{path}");
        assert_eq!(e.region_path, home, "{who} {path}");
        assert_eq!(e.action, "policy.denied", "{path}");
    }
    // Nothing changed: the township's reject was refused, the county can still decide.
    doudi_tests::cases::end_notice(&app, &visit).await;
    let r = app
        .post(
            &format!("/api/v1/visits/{visit}/review"),
            Some(&county),
            json!({ "decision": "confirm", "programme": "dibao", "amount_fen_per_month": 60_000 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Make every insert into the audit log fail (`on`), or work again.
async fn audit_offline(app: &TestApp, b: Backend, on: bool) {
    let db = &app.state.db;
    let sql: &[&str] = match (b, on) {
        (Backend::Sqlite, true) => &[
            "CREATE TRIGGER audit_offline BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit offline'); END",
        ],
        (Backend::Sqlite, false) => &["DROP TRIGGER audit_offline"],
        (Backend::Postgres, true) => &[
            "CREATE FUNCTION audit_offline() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit offline'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER audit_offline BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_offline()",
        ],
        (Backend::Postgres, false) => &["DROP TRIGGER audit_offline ON audit_log"],
    };
    for s in sql {
        db.execute_unprepared(s).await.unwrap();
    }
}

/// When the audit entry cannot be written the request fails with `server.internal`, refusals
/// included, and a change it would have made is not made.
async fn a_failed_audit_write_fails_the_request(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    let worker = app
        .create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    let (admin, _, _) = app.login("admin.jia").await;
    let (access, _, dev) = app.login("gw.a").await;
    // A second phone of the same worker, writing in the first one's name.
    let honest = app.phone("gw.a").await;
    let mut forged = app.phone("gw.a").await;
    forged.replica = doudi_protocol::sync::Replica::new(honest.replica.actor().clone());
    let forged_doc = forged
        .replica
        .create(GRID_A, &household("冒名 2 号"))
        .unwrap()
        .to_string();

    audit_offline(&app, b, true).await;
    let internal = |r: &doudi_tests::Resp, what: &str| {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "server.internal"),
            "{what}: {:?}",
            r.body
        );
    };
    internal(
        &app.get("/api/v1/admin/accounts", &access).await,
        "a refusal",
    );
    internal(&app.get("/api/v1/review/queue", &access).await, "a refusal");
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/admin/accounts/{worker}"),
            Some(&admin),
            Some(json!({ "display_name": "改名" })),
        )
        .await;
    internal(&r, "an account change");
    let r = app
        .post(
            &format!("/api/v1/admin/devices/{dev}/revoke"),
            Some(&admin),
            json!({ "reason": "手机丢失" }),
        )
        .await;
    internal(&r, "a device revocation");
    let r = app
        .post(
            "/api/v1/admin/accounts",
            Some(&admin),
            json!({ "username": "new.one", "display_name": "新人", "role": "grid_worker",
                    "password": "a-long-password", "regions": [GRID_A] }),
        )
        .await;
    internal(&r, "an account creation");
    let r = app.login_as("gw.a", doudi_tests::PASSWORD, None).await;
    internal(&r, "a login");
    assert!(r.body.get("access_token").is_none());
    let r = app
        .send(Method::POST, "/api/v1/auth/logout", Some(&access), None)
        .await;
    internal(&r, "a logout");
    let push = doudi_protocol::sync::to_cbor(&forged.replica.prepare(None));
    let r = app.post_sync(&forged.access, push).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("server.internal"),
        "a foreign actor's push: {body}"
    );

    audit_offline(&app, b, false).await;
    let acc = account::Entity::find_by_id(worker.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acc.display_name, "gw.a", "the change was not made");
    let d = device::Entity::find_by_id(dev.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        d.revoked_at_ms.is_none() && d.signed_out_at_ms.is_none(),
        "{d:?}"
    );
    assert!(
        doudi_server::accounts::find_by_username(&app.state.db, "new.one")
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.stored_doc(&forged_doc).await.is_none());
    // The log works again: so do the requests.
    assert_eq!(app.get("/api/v1/me", &access).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/admin/accounts", &access).await.code(),
        "policy.denied"
    );
}

/// Each role against the review and report lists, the task list, blob downloads (a photo of
/// its grid, of another county's grid, one no document points at, one its grid's document
/// points at without its writer having uploaded it) and the upload status.
async fn role_endpoint_matrix(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let accounts = [
        ("grid_worker", Role::GridWorker, GRID_A),
        ("assistant", Role::Assistant, "370102001001"),
        ("village_cadre", Role::VillageCadre, "370102001001"),
        ("town_reviewer", Role::TownReviewer, "370102001000"),
        ("county_approver", Role::CountyApprover, "370102000000"),
        ("admin", Role::Admin, "370102000000"),
    ];
    for (name, role, region) in accounts {
        app.create_account(name, role, &[region]).await;
    }
    app.create_account("far", Role::GridWorker, &[OTHER_COUNTY_GRID])
        .await;
    let mut mine = app.phone("grid_worker").await;
    let mut far = app.phone("far").await;

    let (own, other, planted, lone) = (tiny_png(10), tiny_png(11), tiny_png(12), tiny_png(13));
    let (own_h, other_h, planted_h) = (sha(&own), sha(&other), sha(&planted));
    file_report(&app, &mut mine, GRID_A, &[&own_h]).await;
    upload_ok(&app, &mine.access, &own).await;
    file_report(&app, &mut far, OTHER_COUNTY_GRID, &[&other_h, &planted_h]).await;
    upload_ok(&app, &far.access, &other).await;
    upload_ok(&app, &far.access, &planted).await;
    // The grid's report names a photo only the other county's worker has.
    file_report(&app, &mut mine, GRID_A, &[&planted_h]).await;
    let lone_h = upload_ok(&app, &mine.access, &lone).await;

    let columns = [
        "/api/v1/review/queue".to_string(),
        "/api/v1/reports".to_string(),
        "/api/v1/tasks".to_string(),
        format!("/api/v1/blobs/{own_h}"),
        format!("/api/v1/blobs/{other_h}"),
        format!("/api/v1/blobs/{lone_h}"),
        format!("/api/v1/blobs/{planted_h}"),
        format!("/api/v1/blobs/{own_h}/upload"),
    ];
    //              queue reports tasks  own  other lone planted upload
    let expected: [(&str, [u16; 8]); 6] = [
        ("grid_worker", [403, 403, 200, 200, 403, 403, 404, 200]),
        ("assistant", [403, 403, 200, 200, 403, 403, 404, 200]),
        ("village_cadre", [403, 403, 200, 200, 403, 403, 404, 200]),
        ("town_reviewer", [200, 200, 403, 200, 403, 403, 404, 200]),
        ("county_approver", [200, 200, 403, 200, 403, 403, 404, 200]),
        ("admin", [403, 403, 403, 403, 403, 403, 403, 403]),
    ];
    let mut got = Vec::new();
    for (name, _) in expected {
        let (token, _, _) = app.login(name).await;
        let mut statuses = [0u16; 8];
        for (i, path) in columns.iter().enumerate() {
            statuses[i] = app.get(path, &token).await.status.as_u16();
        }
        got.push((name, statuses));
    }
    assert_eq!(got, expected.to_vec());
}

/// A county administrator resets a worker's password, logs in as her and makes herself a
/// reviewer: doudi does not stop it, but the province's administrator reads every step (the
/// reset says which fields changed, never the password), and the administrator's own token
/// reads no case data.
async fn an_administrator_reads_no_case_and_leaves_a_trail(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.sheng", Role::Admin, &["370000000000"])
        .await;
    let jia = app
        .create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    let worker = app
        .create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    let mut phone = app.phone("gw.a").await;
    let bytes = tiny_png(30);
    let h = sha(&bytes);
    file_report(&app, &mut phone, GRID_A, &[&h]).await;
    upload_ok(&app, &phone.access, &bytes).await;
    let (admin, _, _) = app.login("admin.jia").await;
    let (sheng, _, _) = app.login("admin.sheng").await;

    for path in [
        "/api/v1/review/queue",
        "/api/v1/reports",
        &format!("/api/v1/blobs/{h}"),
    ] {
        let r = app.get(path, &admin).await;
        assert_eq!(r.code(), "policy.denied", "{path}");
    }
    let secret = "stolen-password-1";
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/admin/accounts/{worker}"),
            Some(&admin),
            Some(json!({ "password": secret })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let as_worker = app.login_as("gw.a", secret, None).await;
    assert_eq!(as_worker.status, StatusCode::OK);
    let r = app
        .post(
            "/api/v1/admin/accounts",
            Some(&admin),
            json!({ "username": "jia.reviewer", "display_name": "审核", "role": "town_reviewer",
                    "password": "a-long-password", "regions": ["370102001000"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let log = app.get("/api/v1/admin/audit?limit=1000", &sheng).await;
    let log = log.body.as_array().unwrap();
    let by_jia: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| e["account_id"] == json!(jia) && e["outcome"] == "ok")
        .collect();
    let update = by_jia
        .iter()
        .find(|e| e["action"] == "admin.account_update")
        .expect("the reset is on record");
    assert_eq!(update["target"], json!(worker));
    assert_eq!(update["detail"]["changed"], json!(["password"]));
    assert!(!update.to_string().contains(secret));
    assert!(by_jia.iter().any(|e| e["action"] == "admin.account_create"));
    let denied = log
        .iter()
        .filter(|e| e["account_id"] == json!(jia) && e["action"] == "policy.denied")
        .count();
    assert_eq!(denied, 3, "the case reads she tried");
    let logins = log
        .iter()
        .filter(|e| e["account_id"] == json!(worker) && e["action"] == "auth.login")
        .count();
    assert_eq!(
        logins, 2,
        "the worker's own and the one with the reset password"
    );
}

/// What a copy of the database gives: no refresh token that works and no console session (only
/// their SHA-256), no password (Argon2id hashes), and no token key when it is configured outside
/// the database.
async fn a_stolen_backup_holds_no_usable_token(b: Backend) {
    use doudi_server::entity::{console_session, refresh_token, server_secret};
    // A deployment configures both keys (docs/SECURITY.md): the access-token key and the
    // identity secret the keys of 身份证号 derive from.
    let app = doudi_tests::spawn_app_with(b, |s| {
        s.identity_secret = Some(doudi_server::config::Secret::new(
            "a stolen backup test's identity secret",
        ));
    })
    .await;
    app.seed_fixture().await;
    app.create_account("gw.a", Role::GridWorker, &[GRID_A])
        .await;
    let (_, refresh, dev) = app.login("gw.a").await;
    let db = &app.state.db;
    let stored = refresh_token::Entity::find()
        .filter(refresh_token::Column::DeviceId.eq(dev.as_str()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, refresh);
    assert_eq!(
        stored[0].token_hash,
        doudi_server::auth::hash_refresh_token(&refresh)
    );
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": stored[0].token_hash }),
        )
        .await;
    assert_eq!(r.code(), "auth.refresh_invalid");
    let acc = doudi_server::accounts::find_by_username(db, "gw.a")
        .await
        .unwrap()
        .unwrap();
    assert!(
        acc.password_hash.starts_with("$argon2id$"),
        "{}",
        acc.password_hash
    );
    assert!(!acc.password_hash.contains(doudi_tests::PASSWORD));
    // A console session is kept as the SHA-256 of its cookie.
    app.create_account("town", Role::TownReviewer, &["370102001000"])
        .await;
    let (browser, _) = doudi_tests::console_login(&app, "town").await;
    let cookie = browser.cookie("doudi_session").expect("session cookie");
    let sessions = console_session::Entity::find().all(db).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].id, cookie);
    assert_eq!(sessions[0].id, sha(cookie.as_bytes()));
    // Both keys are configured (DOUDI_JWT_SECRET, DOUDI_IDENTITY_SECRET): none is kept in the
    // database; what is there is the mark that stored documents were sealed, no key.
    let secrets = server_secret::Entity::find().all(db).await.unwrap();
    let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [doudi_server::identity::SEALED_MARK], "{secrets:?}");
}

/// Without `trust_forwarded_for` (the default: no proxy in front), a client that names another
/// address in `X-Forwarded-For` is still counted, limited and audited under its own.
async fn a_forged_forwarded_for_changes_no_address(b: Backend) {
    let app = doudi_tests::spawn_app_with(b, |s| s.login_max_failures_per_addr = 3).await;
    app.seed_fixture().await;
    let attempt = |n: u32| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", format!("203.0.113.{n}"))
                .json(
                    &json!({ "username": format!("guess.{n}"), "password": "wrong-password",
                               "device": { "name": "攻击者", "platform": "android" } }),
                )
                .send()
                .await
                .unwrap();
            TestApp::read(resp).await
        }
    };
    for n in 0..3 {
        assert_eq!(attempt(n).await.code(), "auth.invalid_credentials");
    }
    let r = attempt(9).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "auth.rate_limited")
    );
    let entries = audit_log::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e.client_addr.as_deref() == Some("127.0.0.1")),
        "{entries:?}"
    );
}
