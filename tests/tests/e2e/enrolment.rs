//! Phone enrolment codes (手机登录码): an administrator makes a one-time code for a grid worker
//! in the console (shown as text and as a QR code) or through the API; the real SDK reads the QR
//! payload, logs in with the code and syncs. A code works once, expires after
//! `enrolment_code_ttl_secs` and can be revoked; each refusal has its stable code and a Chinese
//! message; wrong codes are rate-limited per address; only an administrator of the account's
//! regions makes codes; creation and use are audited and no clear code is stored anywhere in
//! the audit log.

use doudi_protocol::role::Role;
use doudi_sdk::{DoudiClient, parse_enrolment_qr};
use doudi_tests::{Backend, TestApp, both_backends, console_login_form, csrf_of, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    an_administrator_enrols_a_phone_that_then_syncs,
    used_expired_and_revoked_codes_are_refused,
    only_an_administrator_of_the_account_makes_codes,
    wrong_codes_are_rate_limited_per_address,
);

const GRID_A: &str = "370102001001-A";
const KEY: [u8; 32] = [0x24; 32];

/// A county with its administrator, a grid worker and a town reviewer, and another county's
/// administrator; `ttl_secs` is the codes' lifetime.
async fn world(b: Backend, ttl_secs: u64, addr_failures: u32) -> TestApp {
    let app = spawn_app_with(b, |s| {
        s.enrolment_code_ttl_secs = ttl_secs;
        s.login_max_failures_per_addr = addr_failures;
    })
    .await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    app.create_account("admin.yi", Role::Admin, &["370103000000"])
        .await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app
}

async fn account_id(app: &TestApp, username: &str) -> String {
    doudi_server::accounts::find_by_username(&app.state.db, username)
        .await
        .unwrap()
        .expect(username)
        .id
}

/// `POST /api/v1/admin/enrolment-codes` for `account` as `token`.
async fn make_code(app: &TestApp, token: &str, account: &str) -> doudi_tests::Resp {
    app.post(
        "/api/v1/admin/enrolment-codes",
        Some(token),
        json!({ "account_id": account }),
    )
    .await
}

/// A new code for `account`, as the administrator `token`.
async fn code_for(app: &TestApp, token: &str, account: &str) -> String {
    let r = make_code(app, token, account).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["code"].as_str().unwrap().to_string()
}

/// The `state` of each code of a list.
fn states(list: &doudi_tests::Resp) -> Vec<&str> {
    let codes = list.body.as_array().expect("a list");
    codes.iter().map(|c| c["state"].as_str().unwrap()).collect()
}

/// `POST /api/v1/auth/enrol` as a new Android phone.
async fn enrol(app: &TestApp, code: &str) -> doudi_tests::Resp {
    app.post(
        "/api/v1/auth/enrol",
        None,
        json!({ "code": code, "device": { "name": "红米手机", "platform": "android" } }),
    )
    .await
}

/// No audit entry holds a code, in its shown or its normal form.
async fn no_code_in_audit(app: &TestApp, codes: &[String]) {
    use doudi_server::entity::audit_log;
    use sea_orm::EntityTrait;
    let rows = audit_log::Entity::find().all(&app.state.db).await.unwrap();
    for row in rows {
        let text = format!("{:?} {:?}", row.target, row.detail);
        for code in codes {
            assert!(!text.contains(code.as_str()), "{code} in {text}");
            assert!(!text.contains(&code.replace('-', "")), "{code} in {text}");
        }
    }
}

async fn an_administrator_enrols_a_phone_that_then_syncs(b: Backend) {
    let app = world(b, 24 * 3600, 30).await;
    let grid = account_id(&app, "grid.zhang").await;

    // In the console: the page offers the grid worker (not the reviewer) and shows the code
    // once, as text and as an SVG QR code, with its expiry.
    let (mut browser, r) = console_login_form(&app, "admin.jia", doudi_tests::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, page) = browser.get("/console/admin/enrolment").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("grid.zhang") && !page.contains("town.zhao"),
        "{page}"
    );
    assert!(page.contains("还没有生成过手机登录码"), "{page}");
    let csrf = csrf_of(&page);
    let made = browser
        .post(
            "/console/admin/enrolment",
            &[("csrf", csrf.as_str()), ("account_id", grid.as_str())],
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(made.headers()["cache-control"], "no-store");
    let shown = made.text().await.unwrap();
    assert!(
        shown.contains("<svg role=\"img\" aria-label=\"手机登录二维码\""),
        "{shown}"
    );
    assert!(
        shown.contains("有效期至") && shown.contains("仅限一次"),
        "{shown}"
    );
    let needle = "class=\"enrolment-code\">";
    let at = shown.find(needle).unwrap() + needle.len();
    let console_code = shown[at..at + 19].to_string();
    assert_eq!(console_code.matches('-').count(), 3, "{console_code}");
    let (_, listed) = browser.get("/console/admin/enrolment").await;
    assert!(
        listed.contains("可使用") && !listed.contains(&console_code),
        "{listed}"
    );

    // Through the API: the payload names this server and the code.
    let (admin, _, _) = app.login("admin.jia").await;
    let r = make_code(&app, &admin, &grid).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let code = r.body["code"].as_str().unwrap().to_string();
    let payload = r.body["payload"].as_str().unwrap();
    assert!(payload.starts_with("doudi://enrol?v=1&code="), "{payload}");
    let qr = parse_enrolment_qr(payload.to_string()).unwrap();
    assert_eq!(qr.server_url, app.base);
    assert_eq!(qr.code, code.replace('-', ""));

    // The real SDK, opened at the QR code's server, logs in with the code and syncs.
    let dir = tempfile::tempdir().unwrap();
    let phone = DoudiClient::open(
        dir.path().to_string_lossy().into_owned(),
        KEY.to_vec(),
        qr.server_url,
        None,
    )
    .unwrap();
    let account = phone
        .enrol(qr.code.clone(), "测试手机".into())
        .await
        .unwrap();
    assert_eq!(account.username, "grid.zhang");
    assert_eq!(account.regions, vec![GRID_A.to_string()]);
    let id = phone
        .create_household(None, "历下区某街 1 号".into(), "王某".into(), None)
        .unwrap();
    let summary = phone.sync_now(None).await.unwrap();
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    assert!(
        app.stored_doc(&id).await.is_some(),
        "the household reached the server"
    );

    // The code worked once: the SDK and the API are refused with its code and Chinese message.
    let again = phone
        .enrol(qr.code.clone(), "测试手机".into())
        .await
        .unwrap_err();
    assert_eq!(again.code(), "auth.enrolment_code_used");
    assert!(
        again.message_zh().contains("只能使用一次"),
        "{}",
        again.message_zh()
    );
    let r = enrol(&app, &code.to_lowercase()).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    assert_eq!(r.code(), "auth.enrolment_code_used");
    // The console code works (typed with spaces), once.
    let typed = console_code.replace('-', " ");
    let r = enrol(&app, &typed).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["account"]["username"], "grid.zhang");

    // The list says which device each code registered.
    let r = app
        .get(
            &format!("/api/v1/admin/enrolment-codes?account_id={grid}"),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(states(&r), ["used", "used"]);
    assert!(r.body[0]["used_device_id"].is_string());
    assert!(r.body[0].get("code").is_none());

    // Audited: two codes made, two phones enrolled, one refusal; never a code.
    assert_eq!(app.audit("admin.enrolment_create").await.len(), 2);
    let uses = app.audit("auth.enrol").await;
    let outcomes: Vec<&str> = uses.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "ok").count(),
        2,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&"denied"), "{outcomes:?}");
    assert!(
        uses.iter()
            .all(|e| e.account_id.as_deref() == Some(grid.as_str()))
    );
    no_code_in_audit(&app, &[code, console_code]).await;
}

async fn used_expired_and_revoked_codes_are_refused(b: Backend) {
    // Codes live one second here: the expiry is the setting's.
    let app = world(b, 1, 30).await;
    let grid = account_id(&app, "grid.zhang").await;
    let (admin, _, _) = app.login("admin.jia").await;

    let expired = code_for(&app, &admin, &grid).await;
    let revoked = make_code(&app, &admin, &grid).await;
    let revoked_id = revoked.body["id"].as_str().unwrap().to_string();
    let revoked_code = revoked.body["code"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/api/v1/admin/enrolment-codes/{revoked_id}/revoke"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;

    let r = enrol(&app, &expired).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    assert_eq!(r.code(), "auth.enrolment_code_expired");
    assert!(r.body["message"].as_str().unwrap().contains("已过期"));
    let r = enrol(&app, &revoked_code).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    assert_eq!(r.code(), "auth.enrolment_code_revoked");
    assert!(r.body["message"].as_str().unwrap().contains("作废"));
    let r = enrol(&app, "AAAA-BBBB-CCCC-DDDD").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(r.code(), "auth.enrolment_code_invalid");
    assert!(r.body["message"].as_str().unwrap().contains("登录码不正确"));

    // The list tells the states apart.
    let listed = app.get("/api/v1/admin/enrolment-codes", &admin).await;
    let mut listed = states(&listed);
    listed.sort();
    assert_eq!(listed, ["expired", "revoked"]);
    assert_eq!(app.audit("admin.enrolment_revoke").await.len(), 1);
    let refusals: Vec<String> = app
        .audit("auth.enrol")
        .await
        .iter()
        .map(|e| e.detail.clone().unwrap_or_default())
        .collect();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    no_code_in_audit(&app, &[expired, revoked_code]).await;

    // Revoked in the console: the form's button, then the code is refused.
    let app2 = world(b, 3600, 30).await;
    let grid2 = account_id(&app2, "grid.zhang").await;
    let (admin2, _, _) = app2.login("admin.jia").await;
    let made = make_code(&app2, &admin2, &grid2).await;
    let id = made.body["id"].as_str().unwrap();
    let code = made.body["code"].as_str().unwrap();
    let (mut browser, _) = console_login_form(&app2, "admin.jia", doudi_tests::PASSWORD).await;
    let (_, page) = browser.get("/console/admin/enrolment").await;
    assert!(
        page.contains(&format!("/console/admin/enrolment/{id}/revoke")),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let r = browser
        .post(
            &format!("/console/admin/enrolment/{id}/revoke"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = browser
        .get("/console/admin/enrolment?done=enrolment_revoked")
        .await;
    assert!(
        page.contains("登录码已作废") && page.contains("已作废"),
        "{page}"
    );
    assert_eq!(
        enrol(&app2, code).await.code(),
        "auth.enrolment_code_revoked"
    );
    // A used code: revoking it is refused.
    let used = make_code(&app2, &admin2, &grid2).await;
    assert_eq!(
        enrol(&app2, used.body["code"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    let r = app2
        .post(
            &format!(
                "/api/v1/admin/enrolment-codes/{}/revoke",
                used.body["id"].as_str().unwrap()
            ),
            Some(&admin2),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "auth.enrolment_code_used");
}

async fn only_an_administrator_of_the_account_makes_codes(b: Backend) {
    let app = world(b, 3600, 30).await;
    let grid = account_id(&app, "grid.zhang").await;
    let town = account_id(&app, "town.zhao").await;
    let denied_before = app.audit("policy.denied").await.len();

    // The grid worker itself, a reviewer, and another county's administrator are refused.
    for who in ["grid.zhang", "town.zhao", "admin.yi"] {
        let (token, _, _) = app.login(who).await;
        let r = make_code(&app, &token, &grid).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {:?}", r.body);
        assert_eq!(r.code(), "policy.denied", "{who}");
        let r = app.get("/api/v1/admin/enrolment-codes", &token).await;
        if who != "admin.yi" {
            assert_eq!(r.code(), "policy.denied", "{who}");
        } else {
            assert_eq!(r.body, json!([]));
        }
    }
    assert!(app.audit("policy.denied").await.len() >= denied_before + 3);
    assert!(app.audit("admin.enrolment_create").await.is_empty());

    // Codes are for field accounts only.
    let (admin, _, _) = app.login("admin.jia").await;
    let r = make_code(&app, &admin, &town).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("网格员"));

    // A reviewer does not get the console page.
    let (mut browser, _) = console_login_form(&app, "town.zhao", doudi_tests::PASSWORD).await;
    let (status, _) = browser.get("/console/admin/enrolment").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn wrong_codes_are_rate_limited_per_address(b: Backend) {
    let app = world(b, 3600, 3).await;
    let grid = account_id(&app, "grid.zhang").await;
    let (admin, _, _) = app.login("admin.jia").await;
    let good = code_for(&app, &admin, &grid).await;
    for _ in 0..3 {
        assert_eq!(
            enrol(&app, "2222-3333-4444-5555").await.code(),
            "auth.enrolment_code_invalid"
        );
    }
    // Held: even the right code waits.
    let r = enrol(&app, &good).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("登录码错误次数过多")
    );
}
