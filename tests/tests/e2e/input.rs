//! Hostile and broken input: a clear error with a stable code, nothing stored changes, and the
//! server keeps serving.

use doudi_protocol::role::Role;
use doudi_server::entity::{account, region};
use doudi_tests::{Backend, TestApp, both_backends, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

both_backends!(
    malformed_requests_get_stable_codes,
    region_csv_with_bad_lines_imports_nothing,
    good_region_csv_imports_and_renames,
    audit_log_is_append_only,
    health_and_openapi,
);

async fn counts(app: &TestApp) -> (u64, u64) {
    (
        region::Entity::find().count(&app.state.db).await.unwrap(),
        account::Entity::find().count(&app.state.db).await.unwrap(),
    )
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    ct: &str,
    body: Vec<u8>,
) -> doudi_tests::Resp {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", ct)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    TestApp::read(req.send().await.unwrap()).await
}

async fn malformed_requests_get_stable_codes(b: Backend) {
    let app = spawn_app_with(b, |s| s.max_body_bytes = 16 * 1024).await;
    app.seed_fixture().await;
    app.create_account("admin.a", Role::Admin, &["370102000000"])
        .await;
    let (t, _, _) = app.login("admin.a").await;
    let before = counts(&app).await;

    let r = raw_post(
        &app,
        "/api/v1/auth/login",
        None,
        "application/json",
        b"{\"username\": \"admin.a\",".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "request.malformed_json")
    );
    let r = app
        .post("/api/v1/auth/login", None, json!({ "username": "admin.a", "password": "x", "device": { "name": "p", "platform": "android" }, "remember": true }))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "request.unknown_field")
    );
    let r = app
        .post("/api/v1/auth/login", None, json!({ "username": "admin.a" }))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "request.invalid")
    );
    let r = raw_post(
        &app,
        "/api/v1/auth/login",
        None,
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.code(), "request.unsupported_media_type");
    let big = json!({ "username": "a".repeat(40 * 1024), "password": "x", "device": { "name": "p", "platform": "android" } });
    let r = app.post("/api/v1/auth/login", None, big).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "request.body_too_large")
    );
    let big_csv = format!("code,parent_code,level,name\n{}", "x".repeat(20 * 1024)).into_bytes();
    let r = raw_post(
        &app,
        "/api/v1/admin/regions/import",
        Some(&t),
        "text/csv",
        big_csv,
    )
    .await;
    assert_eq!(r.code(), "request.body_too_large");

    // Unknown region when creating an account.
    let r = app
        .post("/api/v1/admin/accounts", Some(&t), json!({ "username": "new.one", "display_name": "新人", "role": "grid_worker", "password": "a-long-password", "regions": ["370102009999"] }))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "region.unknown")
    );
    assert!(r.body["message"].as_str().unwrap().contains("370102009999"));
    let r = app
        .post("/api/v1/admin/accounts", Some(&t), json!({ "username": "new.one", "display_name": "新人", "role": "overlord", "password": "a-long-password", "regions": ["370102001001"] }))
        .await;
    assert_eq!(r.code(), "request.invalid");
    let r = app
        .post("/api/v1/admin/accounts", Some(&t), json!({ "username": "new.one", "display_name": "新人", "role": "grid_worker", "password": "short", "regions": ["370102001001"] }))
        .await;
    assert_eq!(r.code(), "request.invalid");
    let r = app
        .post("/api/v1/admin/accounts", Some(&t), json!({ "username": "admin.a", "display_name": "重名", "role": "grid_worker", "password": "a-long-password", "regions": ["370102001001"] }))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "account.username_taken")
    );
    let r = app.get("/api/v1/regions/does-not-exist", &t).await;
    assert_eq!(r.code(), "region.unknown");
    let r = app.get("/api/v1/no/such/route", &t).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));

    assert_eq!(counts(&app).await, before, "nothing stored changed");
    assert_eq!(
        app.login_as("admin.a", doudi_tests::PASSWORD, None)
            .await
            .status,
        StatusCode::OK
    );
}

async fn region_csv_with_bad_lines_imports_nothing(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.p", Role::Admin, &["370000000000"])
        .await;
    let (t, _, _) = app.login("admin.p").await;
    let before = counts(&app).await;
    let csv = "code,parent_code,level,name
370102003000,370102000000,township,甲县三镇
370102003001,370102003000,village,三镇一村
370102003002,370102009000,village,无上级村
370102003003,370102003000,hamlet,层级错误
37010200300,370102003000,village,代码太短
370102004001,370102003000,village,代码与上级不符
370102003001,370102003000,village,重复代码
370102001001,370102001000,village,
";
    let r = raw_post(
        &app,
        "/api/v1/admin/regions/import",
        Some(&t),
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "region.csv_invalid"),
        "{:?}",
        r.body
    );
    let lines: Vec<u64> = r.body["details"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 5, 6, 7, 8, 9], "{:?}", r.body);
    for l in r.body["details"]["lines"].as_array().unwrap() {
        assert!(
            !l["message"].as_str().unwrap().is_empty()
                && !l["message_en"].as_str().unwrap().is_empty()
        );
        // A bad code (too short, not under its parent) is explained in Chinese alone.
        if matches!(l["line"].as_u64(), Some(6 | 7)) {
            let zh = l["message"].as_str().unwrap();
            assert!(!zh.chars().any(|c| c.is_ascii_alphabetic()), "{l}");
        }
    }
    assert_eq!(counts(&app).await, before, "nothing imported");
    // Moving an existing region is refused too.
    let mv = "code,parent_code,level,name\n370102001001,370102002000,village,搬家\n";
    let r = raw_post(
        &app,
        "/api/v1/admin/regions/import",
        Some(&t),
        "text/csv",
        mv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.code(), "region.csv_invalid");
    assert_eq!(counts(&app).await, before);
    let r = raw_post(
        &app,
        "/api/v1/admin/regions/import",
        Some(&t),
        "text/csv",
        vec![0xff, 0xfe, 0x00],
    )
    .await;
    assert_eq!(r.code(), "region.csv_invalid");
}

async fn good_region_csv_imports_and_renames(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.p", Role::Admin, &["370000000000"])
        .await;
    let (t, _, _) = app.login("admin.p").await;
    // Children before parents is fine; an existing region may be renamed.
    let csv = "code,parent_code,level,name
370102003001-A,370102003001,grid,三镇一村甲网格
370102003001,370102003000,village,三镇一村
370102003000,370102000000,township,甲县三镇
370102001001,370102001000,village,一镇一村（更名）
370102001002,370102001000,village,一镇二村
";
    let r = raw_post(
        &app,
        "/api/v1/admin/regions/import",
        Some(&t),
        "text/csv; charset=utf-8",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "created": 3, "renamed": 1, "unchanged": 1 })
    );
    let g = app.get("/api/v1/regions/370102003001-A", &t).await;
    assert_eq!(g.body["parent_code"], "370102003001");
    assert_eq!(
        app.get("/api/v1/regions/370102001001", &t).await.body["name"],
        "一镇一村（更名）"
    );
    assert_eq!(app.audit("admin.region_import").await.len(), 1);
}

async fn audit_log_is_append_only(b: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(b).await;
    let _ = app.login_as("nobody", "wrong-password", None).await;
    assert_eq!(app.audit("auth.login").await.len(), 1);
    let upd = app
        .state
        .db
        .execute_unprepared("UPDATE audit_log SET outcome = 'ok'")
        .await;
    assert!(upd.is_err(), "update must be refused");
    let del = app
        .state
        .db
        .execute_unprepared("DELETE FROM audit_log")
        .await;
    assert!(del.is_err(), "delete must be refused");
    let rows = app.audit("auth.login").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "failed");
}

async fn health_and_openapi(b: Backend) {
    let app = spawn_app(b).await;
    let h = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/admin/accounts",
        "/api/v1/admin/regions/import",
        "/api/v1/me",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    assert!(doc["components"]["schemas"].get("ErrorBody").is_some());
}
