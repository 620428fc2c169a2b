//! Login, rate limits, token checks, refresh rotation, logout and device revocation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doudi_protocol::role::Role;
use doudi_tests::{Backend, PASSWORD, TEST_JWT_SECRET, both_backends, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    login_with_right_and_wrong_password,
    rate_limit_per_account_engages_and_releases,
    rate_limit_per_address_engages,
    bad_tokens_are_refused,
    refresh_rotates_and_reuse_revokes_device,
    logout_ends_the_session,
    revoked_device_fails_at_once,
    disabled_account_cannot_log_in,
    account_bound_to_two_grids_is_scoped_to_both,
);

async fn login_with_right_and_wrong_password(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("wang.wu", Role::GridWorker, &["370102001001-A"])
        .await;

    let ok = app.login_as("wang.wu", PASSWORD, None).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["token_type"], "Bearer");
    assert_eq!(ok.body["account"]["role"], "grid_worker");
    assert_eq!(ok.body["account"]["regions"][0]["code"], "370102001001-A");
    // A grid's village, whose policy applies to the grid's households.
    assert_eq!(
        ok.body["account"]["regions"][0]["parent_code"],
        "370102001001"
    );
    assert!(ok.body["account"].get("password_hash").is_none());
    let token = ok.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["account"]["username"], "wang.wu");
    assert_eq!(me.body["device_id"], ok.body["device_id"]);

    // Logging in again from the same phone keeps its device.
    let again = app
        .login_as("wang.wu", PASSWORD, ok.body["device_id"].as_str())
        .await;
    assert_eq!(again.body["device_id"], ok.body["device_id"]);

    let wrong = app.login_as("wang.wu", "not-the-password", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "auth.invalid_credentials");
    assert!(wrong.body["message"].as_str().unwrap().contains("密码"));
    assert!(!wrong.body["message_en"].as_str().unwrap().is_empty());
    // An unknown user gets exactly the same answer.
    let unknown = app.login_as("nobody", "not-the-password", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (wrong.status, wrong.code())
    );

    let logins = app.audit("auth.login").await;
    assert_eq!(logins.iter().filter(|e| e.outcome == "ok").count(), 2);
    assert_eq!(logins.iter().filter(|e| e.outcome == "failed").count(), 2);
    // The password never reaches the audit log.
    assert!(
        logins
            .iter()
            .all(|e| !e.detail.clone().unwrap_or_default().contains(PASSWORD))
    );
}

/// Every request reads the account's regions with its device: each region of an account bound
/// to two grids in different towns is in its scope, and only those.
async fn account_bound_to_two_grids_is_scoped_to_both(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account(
        "two.grids",
        Role::GridWorker,
        &["370102002001-A", "370102001001-A"],
    )
    .await;
    let ok = app.login_as("two.grids", PASSWORD, None).await;
    let token = ok.body["access_token"].as_str().unwrap();
    for (grid, status) in [
        ("370102001001-A", StatusCode::OK),
        ("370102002001-A", StatusCode::OK),
        ("370102001001-B", StatusCode::FORBIDDEN),
        ("370103001001-A", StatusCode::FORBIDDEN),
    ] {
        let r = app.get(&format!("/api/v1/regions/{grid}"), token).await;
        assert_eq!(r.status, status, "{grid}: {:?}", r.body);
    }
    let me = app.get("/api/v1/me", token).await;
    let codes: Vec<&str> = me.body["account"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["370102001001-A", "370102002001-A"]);
}

async fn rate_limit_per_account_engages_and_releases(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.login_max_failures_per_account = 3;
        s.login_window_secs = 3;
    })
    .await;
    app.seed_fixture().await;
    app.create_account("li.si", Role::Assistant, &["370102001001"])
        .await;
    for _ in 0..3 {
        let r = app.login_as("li.si", "wrong-password", None).await;
        assert_eq!(r.code(), "auth.invalid_credentials");
    }
    // Held now, even with the right password.
    let held = app.login_as("li.si", PASSWORD, None).await;
    assert_eq!(
        held.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        held.body
    );
    assert_eq!(held.code(), "auth.rate_limited");
    let retry: u64 = held.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "retry-after {retry}");
    assert_eq!(app.audit("auth.login_rate_limited").await.len(), 1);
    // Other accounts are not held.
    app.create_account("zhao.liu", Role::Assistant, &["370102001001"])
        .await;
    assert_eq!(
        app.login_as("zhao.liu", PASSWORD, None).await.status,
        StatusCode::OK
    );

    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 200)).await;
    let released = app.login_as("li.si", PASSWORD, None).await;
    assert_eq!(released.status, StatusCode::OK, "{:?}", released.body);
}

async fn rate_limit_per_address_engages(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.login_max_failures_per_addr = 4;
        s.login_max_failures_per_account = 100;
    })
    .await;
    app.seed_fixture().await;
    app.create_account("sun.qi", Role::GridWorker, &["370102001001-A"])
        .await;
    for i in 0..4 {
        let r = app
            .login_as(&format!("guess{i}"), "wrong-password", None)
            .await;
        assert_eq!(r.code(), "auth.invalid_credentials");
    }
    let r = app.login_as("sun.qi", PASSWORD, None).await;
    assert_eq!(r.code(), "auth.rate_limited", "{:?}", r.body);
}

fn forge(header: serde_json::Value, claims: serde_json::Value, key: Option<&[u8]>) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    match key {
        Some(k) => {
            let mut hd = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            hd.typ = Some("JWT".into());
            jsonwebtoken::encode(&hd, &claims, &jsonwebtoken::EncodingKey::from_secret(k)).unwrap()
        }
        None => format!("{h}.{c}."),
    }
}

async fn bad_tokens_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let id = app
        .create_account("chen.ba", Role::TownReviewer, &["370102001000"])
        .await;
    let (good, _, dev) = app.login("chen.ba").await;
    assert_eq!(app.get("/api/v1/me", &good).await.status, StatusCode::OK);

    let now = chrono::Utc::now().timestamp();
    let dev_claim = URL_SAFE_NO_PAD.encode(hex::decode(&dev).unwrap());
    let claims = |exp: i64| json!({ "d": dev_claim, "e": exp });
    // A token as issued before the claims had one-letter names is still read, and still
    // expires.
    let former = |exp: i64| {
        forge(
            json!({}),
            json!({ "dev": dev_claim, "exp": exp }),
            Some(TEST_JWT_SECRET.as_bytes()),
        )
    };
    assert_eq!(
        app.get("/api/v1/me", &former(now + 600)).await.status,
        StatusCode::OK
    );
    let r = app.get("/api/v1/me", &former(now - 120)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_expired")
    );
    // The issued token has the one-letter claims only.
    let issued: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(good.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        issued.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["d", "e"]
    );
    // Correctly signed, without an expiry.
    let r = app
        .get(
            "/api/v1/me",
            &forge(
                json!({}),
                json!({ "d": dev_claim }),
                Some(TEST_JWT_SECRET.as_bytes()),
            ),
        )
        .await;
    assert_eq!(r.code(), "auth.token_invalid");
    // Expired, correctly signed.
    let expired = forge(
        json!({}),
        claims(now - 120),
        Some(TEST_JWT_SECRET.as_bytes()),
    );
    let r = app.get("/api/v1/me", &expired).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_expired")
    );
    // Signed with another key.
    let wrong_key = forge(
        json!({}),
        claims(now + 600),
        Some(b"some-other-key-some-other-key-00"),
    );
    let r = app.get("/api/v1/me", &wrong_key).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_invalid")
    );
    // alg: none.
    let none = forge(
        json!({ "alg": "none", "typ": "JWT" }),
        claims(now + 600),
        None,
    );
    let r = app.get("/api/v1/me", &none).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_invalid")
    );
    // Tampered: a valid token whose payload names another device.
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["d"] = json!(URL_SAFE_NO_PAD.encode([0x5a; 16]));
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let r = app.get("/api/v1/me", &tampered).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_invalid")
    );
    // Garbage and missing.
    let r = app.get("/api/v1/me", "not.a.token").await;
    assert_eq!(r.code(), "auth.token_invalid");
    let r = app
        .send(reqwest::Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_missing")
    );
    // A correctly signed token naming a device that does not exist, or no device at all.
    let other_dev = forge(
        json!({}),
        json!({ "d": URL_SAFE_NO_PAD.encode([0u8; 16]), "e": now + 600 }),
        Some(TEST_JWT_SECRET.as_bytes()),
    );
    let r = app.get("/api/v1/me", &other_dev).await;
    assert_eq!(r.code(), "auth.token_invalid");
    let no_dev = forge(
        json!({}),
        json!({ "sub": id, "exp": now + 600 }),
        Some(TEST_JWT_SECRET.as_bytes()),
    );
    let r = app.get("/api/v1/me", &no_dev).await;
    assert_eq!(r.code(), "auth.token_invalid");
    // The good token still works: a valid token is refused only for what it says.
    assert_eq!(app.get("/api/v1/me", &good).await.status, StatusCode::OK);
    // Invalid tokens are audited.
    assert!(app.audit("auth.token_rejected").await.len() >= 5);
}

async fn refresh_rotates_and_reuse_revokes_device(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("zhou.jiu", Role::GridWorker, &["370102001001-A"])
        .await;
    let (_, r1, dev) = app.login("zhou.jiu").await;

    let rot = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    assert_eq!(rot.status, StatusCode::OK, "{:?}", rot.body);
    let r2 = rot.body["refresh_token"].as_str().unwrap().to_string();
    let a2 = rot.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert_eq!(rot.body["device_id"], dev.as_str());
    assert_eq!(app.get("/api/v1/me", &a2).await.status, StatusCode::OK);

    // r1 is spent: presenting it again is reuse, and the device is revoked.
    let reuse = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    assert_eq!(
        (reuse.status, reuse.code()),
        (StatusCode::UNAUTHORIZED, "auth.refresh_reused")
    );
    let after = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": r2 }))
        .await;
    assert_eq!(
        (after.status, after.code()),
        (StatusCode::FORBIDDEN, "auth.device_revoked")
    );
    let me = app.get("/api/v1/me", &a2).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::FORBIDDEN, "auth.device_revoked")
    );
    let events = app.audit("auth.refresh_reuse").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].device_id.as_deref(), Some(dev.as_str()));

    // An unknown refresh token is simply invalid.
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "made-up" }),
        )
        .await;
    assert_eq!(r.code(), "auth.refresh_invalid");
}

async fn logout_ends_the_session(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("wu.shi", Role::VillageCadre, &["370102001001"])
        .await;
    let (access, refresh, dev) = app.login("wu.shi").await;
    let r = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.session_ended")
    );
    // The access token ends with the session, not at its expiry: no endpoint answers it.
    let r = app.get("/api/v1/me", &access).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.session_ended")
    );
    let resp = app
        .post_sync(
            &access,
            doudi_protocol::sync::to_cbor(&doudi_protocol::sync::SyncRequest {
                v: doudi_protocol::sync::PROTOCOL_VERSION,
                ..Default::default()
            }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.code(), "auth.session_ended");
    // The device is not revoked: the same phone logs in again, and its new token works.
    let again = app.login_as("wu.shi", PASSWORD, Some(&dev)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["device_id"], dev.as_str());
    let fresh = again.body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", fresh).await.status, StatusCode::OK);
}

async fn revoked_device_fails_at_once(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.a", Role::Admin, &["370102000000"])
        .await;
    app.create_account("worker.a", Role::GridWorker, &["370102001001-A"])
        .await;
    let (admin, _, _) = app.login("admin.a").await;
    let (worker, worker_refresh, worker_dev) = app.login("worker.a").await;

    let list = app.get("/api/v1/admin/devices", &admin).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == worker_dev.as_str())
    );

    let r = app
        .post(
            &format!("/api/v1/admin/devices/{worker_dev}/revoke"),
            Some(&admin),
            json!({ "reason": "手机丢失" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let me = app.get("/api/v1/me", &worker).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::FORBIDDEN, "auth.device_revoked")
    );
    let rf = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": worker_refresh }),
        )
        .await;
    assert_eq!(rf.code(), "auth.device_revoked");
    let login = app.login_as("worker.a", PASSWORD, Some(&worker_dev)).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::FORBIDDEN, "auth.device_revoked")
    );
    // A new phone for the same person works.
    assert_eq!(
        app.login_as("worker.a", PASSWORD, None).await.status,
        StatusCode::OK
    );
    let revokes = app.audit("admin.device_revoke").await;
    assert_eq!(revokes.len(), 1);
    assert!(revokes[0].detail.as_deref().unwrap().contains("手机丢失"));
}

async fn disabled_account_cannot_log_in(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.a", Role::Admin, &["370102000000"])
        .await;
    let id = app
        .create_account("worker.b", Role::GridWorker, &["370102001001-B"])
        .await;
    let (admin, _, _) = app.login("admin.a").await;
    let (worker, _, _) = app.login("worker.b").await;
    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/accounts/{id}"),
            Some(&admin),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["disabled"], true);
    assert_eq!(
        app.get("/api/v1/me", &worker).await.code(),
        "auth.account_disabled"
    );
    assert_eq!(
        app.login_as("worker.b", PASSWORD, None).await.code(),
        "auth.account_disabled"
    );
}
