//! The console's administration pages (`/console/admin/…`): an administrator logs in and lands
//! on them, creates an account through the form (bad input comes back kept, with its code),
//! binds its regions, disables and enables it, resets its password, revokes a device (asked
//! twice) whose token the API then refuses, and reads the audit log filtered and paged. The
//! administrator still reads no case data, and a reviewer gets none of these pages. Region
//! policy is edited in a form checked by the policy book's rules (a refused form comes back
//! with what was typed and the reason beside the setting), and a working-day calendar file is
//! previewed with its errors before it is imported.

use doudi_protocol::role::Role;
use doudi_server::entity::device;
use doudi_tests::{
    Backend, Browser, PASSWORD, TestApp, both_backends, console_login_form, csrf_of, spawn_app,
};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

both_backends!(
    an_administrator_manages_accounts_in_the_console,
    an_administrator_revokes_a_device_and_reads_the_audit_log,
    the_console_keeps_administrators_and_reviewers_apart,
    an_administrator_previews_and_imports_regions,
    an_administrator_sets_region_policy_in_the_console,
    an_administrator_previews_and_imports_the_working_day_calendar,
);

const GRID_A: &str = "370102001001-A";

/// A county with an administrator, a town reviewer and a grid worker, and an administrator of
/// the other county.
async fn world(b: Backend) -> TestApp {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    app.create_account("admin.yi", Role::Admin, &["370103000000"])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("grid.yi", Role::GridWorker, &["370103001001-A"])
        .await;
    app
}

/// Post the console's login form; the browser and the answer.
async fn login(app: &TestApp, username: &str, password: &str) -> (Browser, reqwest::Response) {
    console_login_form(app, username, password).await
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Log in to the console as an administrator: the start page is the administration home.
async fn admin_login(app: &TestApp, username: &str) -> (Browser, String) {
    let (mut b, r) = login(app, username, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/console/admin");
    let (status, page) = b.get("/console/admin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = csrf_of(&page);
    (b, csrf)
}

/// The body rows of the first table of a page.
fn rows(page: &str) -> Vec<&str> {
    let Some(at) = page.find("<tbody>") else {
        return Vec::new();
    };
    let body = &page[at + 7..];
    let body = &body[..body.find("</tbody>").unwrap()];
    body.split("<tr>").filter(|r| !r.is_empty()).collect()
}

/// The id of the account with this user name.
async fn account_id(app: &TestApp, username: &str) -> String {
    doudi_server::accounts::find_by_username(&app.state.db, username)
        .await
        .unwrap()
        .expect(username)
        .id
}

async fn an_administrator_manages_accounts_in_the_console(b: Backend) {
    let app = world(b).await;
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;
    let (_, home) = admin.get("/console/admin").await;
    assert!(
        home.contains("系统管理") && home.contains("甲县（370102000000）"),
        "{home}"
    );

    // The list: the accounts of the county, names and regions as 名称（编码）, roles in Chinese;
    // not those of the other county.
    let (status, list) = admin.get("/console/admin/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("town.zhao") && list.contains("乡镇审核"),
        "{list}"
    );
    assert!(list.contains("甲县一镇（370102001000）"), "{list}");
    assert!(list.contains("一村甲网格（370102001001-A）"), "{list}");
    assert!(
        !list.contains("admin.yi") && !list.contains("grid.yi"),
        "{list}"
    );

    // Bad input comes back in the form, kept, with the message and its code.
    let (status, form) = admin.get("/console/admin/accounts/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("name=\"username\"") && form.contains("<option value=\"town_reviewer\""));
    let create = |username: &'static str, regions: &'static str, password: &'static str| {
        vec![
            ("username", username),
            ("display_name", "周审核 <新>"),
            ("role", "town_reviewer"),
            ("regions", regions),
            ("password", password),
        ]
    };
    let mut fields = create("ab", "370102001000", "new-password-123");
    fields.push(("csrf", csrf.as_str()));
    let r = admin.post("/console/admin/accounts", &fields).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"request.invalid\""), "{page}");
    assert!(page.contains("用户名须为 3 到 64 个"), "{page}");
    assert!(page.contains("name=\"username\" value=\"ab\""), "{page}");
    assert!(page.contains("value=\"周审核 &lt;新&gt;\""), "{page}");
    assert!(page.contains("value=\"370102001000\""), "{page}");
    assert!(
        page.contains("<option value=\"town_reviewer\" selected>"),
        "{page}"
    );
    assert!(
        !page.contains("new-password-123"),
        "the password is never echoed"
    );

    // A region of another county: the access module's refusal, audited, in the form.
    let mut fields = create("town.zhou", "370103001000", "new-password-123");
    fields.push(("csrf", csrf.as_str()));
    let r = admin.post("/console/admin/accounts", &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"policy.denied\""), "{page}");
    assert!(page.contains("value=\"370103001000\""), "{page}");
    let denials = app.audit("policy.denied").await;
    assert!(
        denials
            .iter()
            .any(|d| d.target.as_deref() == Some("town.zhou"))
    );
    // A region that does not exist.
    let mut fields = create("town.zhou", "370102009000", "new-password-123");
    fields.push(("csrf", csrf.as_str()));
    let r = admin.post("/console/admin/accounts", &fields).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-code=\"region.unknown\"")
    );
    // A taken user name.
    let mut fields = create("town.zhao", "370102001000", "new-password-123");
    fields.push(("csrf", csrf.as_str()));
    let r = admin.post("/console/admin/accounts", &fields).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-code=\"account.username_taken\"")
    );
    // Without the CSRF token nothing is created.
    let r = admin
        .post(
            "/console/admin/accounts",
            &create("town.zhou", "370102001000", "new-password-123"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        doudi_server::accounts::find_by_username(&app.state.db, "town.zhou")
            .await
            .unwrap()
            .is_none()
    );

    // Created: its page, audited as the API's creation is.
    let mut fields = create(
        "town.zhou",
        "370102001000，370102001001",
        "new-password-123",
    );
    fields.push(("csrf", csrf.as_str()));
    let r = admin.post("/console/admin/accounts", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = account_id(&app, "town.zhou").await;
    assert_eq!(
        location(&r),
        format!("/console/admin/accounts/{id}?done=created")
    );
    let (_, page) = admin.get(&location(&r)).await;
    assert!(page.contains("账号已创建"), "{page}");
    assert!(
        page.contains("周审核 &lt;新&gt;") && page.contains("乡镇审核"),
        "{page}"
    );
    assert!(
        page.contains("甲县一镇（370102001000）、一镇一村（370102001001）"),
        "{page}"
    );
    let admin_id = account_id(&app, "admin.jia").await;
    let created = app.audit("admin.account_create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].target.as_deref(), Some(id.as_str()));
    assert_eq!(created[0].account_id.as_deref(), Some(admin_id.as_str()));

    // The new reviewer logs in to the console and lands on the queue.
    let (mut zhou, r) = login(&app, "town.zhou", "new-password-123").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/console/queue");
    let (status, _) = zhou.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);

    // Bind regions: a region of another county is refused, the text kept; one of the county is
    // saved.
    let url = format!("/console/admin/accounts/{id}");
    let r = admin
        .post(
            &format!("{url}/regions"),
            &[("regions", "370103001000"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"policy.denied\""), "{page}");
    assert!(
        page.contains("name=\"regions\" value=\"370103001000\""),
        "{page}"
    );
    let r = admin
        .post(
            &format!("{url}/regions"),
            &[("regions", "370102002000"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(page.contains("绑定区划已保存"), "{page}");
    assert!(page.contains("甲县二镇（370102002000）"), "{page}");
    assert!(!page.contains("甲县一镇（370102001000）"), "{page}");

    // Disabled: the session ends at once and the login is refused; enabled again, it works.
    let r = admin
        .post(
            &format!("{url}/status"),
            &[("disabled", "1"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(
        page.contains("账号已停用") && page.contains("启用账号"),
        "{page}"
    );
    let (status, _) = zhou.get("/console/queue").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session ended");
    let (_, r) = login(&app, "town.zhou", "new-password-123").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("停用"));
    let refused = app.login_as("town.zhou", "new-password-123", None).await;
    assert_eq!(refused.code(), "auth.account_disabled");
    let (_, list) = admin.get("/console/admin/accounts").await;
    let row = rows(&list)
        .into_iter()
        .find(|r| r.contains("town.zhou"))
        .unwrap();
    assert!(row.contains("已停用"), "{row}");
    // One's own account cannot be disabled.
    let r = admin
        .post(
            &format!("/console/admin/accounts/{admin_id}/status"),
            &[("disabled", "1"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("不能停用自己的账号"));
    let r = admin
        .post(
            &format!("{url}/status"),
            &[("disabled", "0"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.login_as("town.zhou", "new-password-123", None)
            .await
            .status,
        StatusCode::OK
    );

    // Reset the password: too short is refused beside its form; then only the new one works,
    // and the entry names the field, never the password.
    let r = admin
        .post(
            &format!("{url}/password"),
            &[("password", "short"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"request.invalid\"") && page.contains("密码至少"));
    let r = admin
        .post(
            &format!("{url}/password"),
            &[("password", "reset-password-456"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(page.contains("密码已重置"), "{page}");
    let old = app.login_as("town.zhou", "new-password-123", None).await;
    assert_eq!(old.code(), "auth.invalid_credentials");
    let new = app.login_as("town.zhou", "reset-password-456", None).await;
    assert_eq!(new.status, StatusCode::OK);
    let updates = app.audit("admin.account_update").await;
    let last = updates.last().unwrap();
    assert_eq!(last.target.as_deref(), Some(id.as_str()));
    let detail = last.detail.as_deref().unwrap();
    assert!(detail.contains("\"password\"") && !detail.contains("reset-password-456"));

    // The other county's administrator gets the refusal for this account's page, audited.
    let (mut yi, _) = admin_login(&app, "admin.yi").await;
    let (status, page) = yi.get(&url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("data-code=\"policy.denied\""));
}

async fn an_administrator_revokes_a_device_and_reads_the_audit_log(b: Backend) {
    let app = world(b).await;
    let (token, _, device) = app.login("grid.zhang").await;
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;

    // The list: account, kind, times in China time, state; a revoke form for each in use.
    let (status, page) = admin.get("/console/admin/devices").await;
    assert_eq!(status, StatusCode::OK);
    let row = rows(&page)
        .into_iter()
        .find(|r| r.contains(&device))
        .expect("the phone is listed");
    assert!(row.contains("grid.zhang") && row.contains("安卓手机") && row.contains("在用"));
    let dev = device::Entity::find_by_id(device.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.contains(&china_time(dev.last_seen_at_ms)), "{row}");
    assert!(
        !page.contains("grid.yi"),
        "the other county's devices are not listed"
    );

    // The first post asks again, with the reason back, and revokes nothing.
    let url = format!("/console/admin/devices/{device}/revoke");
    let r = admin
        .post(
            &url,
            &[("reason", "手机丢失 <村口>"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"confirmed\" value=\"1\""), "{page}");
    assert!(page.contains(">手机丢失 &lt;村口&gt;</textarea>"), "{page}");
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
    // Confirmed with a blank reason: refused, the text kept.
    let r = admin
        .post(
            &url,
            &[
                ("reason", "  "),
                ("confirmed", "1"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"request.invalid\"") && page.contains(">  </textarea>"));
    // The other county's administrator may not revoke it.
    let (mut yi, yi_csrf) = admin_login(&app, "admin.yi").await;
    let r = yi
        .post(
            &url,
            &[
                ("reason", "试图"),
                ("confirmed", "1"),
                ("csrf", yi_csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
    // Confirmed: revoked, and the token is refused on the API at once.
    let r = admin
        .post(
            &url,
            &[
                ("reason", "手机丢失"),
                ("confirmed", "1"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/console/admin/devices?done=revoked");
    let refused = app.get("/api/v1/me", &token).await;
    assert_eq!(refused.code(), "auth.device_revoked", "{:?}", refused.body);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(page.contains("设备已停用"));
    let row = rows(&page)
        .into_iter()
        .find(|r| r.contains(&device))
        .unwrap();
    assert!(row.contains("已停用") && row.contains("手机丢失") && !row.contains("<form"));
    let revokes = app.audit("admin.device_revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0].target.as_deref(), Some(device.as_str()));

    // The audit log, filtered by action: that entry only, its time in China time.
    let (status, page) = admin
        .get("/console/admin/audit?action=admin.device_revoke")
        .await;
    assert_eq!(status, StatusCode::OK);
    let found = rows(&page);
    assert_eq!(found.len(), 1, "{page}");
    assert!(found[0].contains("停用设备") && found[0].contains("手机丢失"));
    assert!(
        found[0].contains(&china_time(revokes[0].at_ms)),
        "{}",
        found[0]
    );
    assert!(page.contains("<option value=\"admin.device_revoke\" selected>"));
    // By account: the grid worker's own entries only (its login and the refused token).
    let (_, page) = admin.get("/console/admin/audit?account=grid.zhang").await;
    let found = rows(&page);
    assert!(found.len() >= 2, "{page}");
    assert!(found.iter().all(|r| r.contains("grid.zhang")), "{page}");
    assert!(found.iter().any(|r| r.contains("auth.login")));
    assert!(found.iter().any(|r| r.contains("auth.token_rejected")));
    // An account that does not exist: nothing.
    let (_, page) = admin.get("/console/admin/audit?account=nobody").await;
    assert!(page.contains("没有符合条件的记录"), "{page}");
    // By period: today (China) has them, a day long past none.
    let today = china_time(doudi_server::auth::now_ms())[..10].to_string();
    let (_, page) = admin
        .get(&format!(
            "/console/admin/audit?action=admin.device_revoke&from={today}&to={today}"
        ))
        .await;
    assert_eq!(rows(&page).len(), 1, "{page}");
    let (_, page) = admin
        .get("/console/admin/audit?from=2020-01-01&to=2020-01-02")
        .await;
    assert!(page.contains("没有符合条件的记录"), "{page}");
    // A bad date and a reversed period: the message and code, the filters kept.
    let (status, page) = admin.get("/console/admin/audit?from=2026-13-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("data-code=\"request.invalid\"") && page.contains("value=\"2026-13-01\"")
    );
    let (status, page) = admin
        .get("/console/admin/audit?from=2026-02-01&to=2026-01-01")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("起始日期不能晚于截止日期"), "{page}");

    // Paging: 55 refusals of the reviewer, 50 on the first page, the rest on the next.
    let town = app.login("town.zhao").await.0;
    for _ in 0..55 {
        let r = app.get("/api/v1/admin/accounts", &town).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let (_, first) = admin
        .get("/console/admin/audit?action=policy.denied&account=town.zhao")
        .await;
    assert_eq!(rows(&first).len(), 50);
    let at = first.find("更早的记录").expect("a next page");
    let href_at = first[..at].rfind("href=\"").unwrap() + 6;
    let next = first[href_at..at - 2].replace("&amp;", "&");
    assert!(
        next.contains("account=town%2Ezhao") && next.contains("before="),
        "{next}"
    );
    let (_, second) = admin.get(&next).await;
    assert_eq!(rows(&second).len(), 5, "{second}");
    assert!(second.contains("最新记录") && !second.contains("更早的记录"));
    // The JSON API still answers as before: the same entries, newest first.
    let admin_token = app.login("admin.jia").await.0;
    let api = app
        .get(
            "/api/v1/admin/audit?action=policy.denied&limit=60",
            &admin_token,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK);
    assert!(api.body.as_array().unwrap().len() >= 55);
}

/// A unix-ms instant as the console shows it: China time, `YYYY-MM-DD HH:MM`.
fn china_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3_600_000)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

async fn the_console_keeps_administrators_and_reviewers_apart(b: Backend) {
    let app = world(b).await;
    // A visit and its household in the administrator's county.
    let assistant = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    let household = phone
        .replica
        .create(GRID_A, &doudi_tests::cases::household("一镇一村 1 号"))
        .unwrap();
    let v = doudi_tests::cases::submitted_visit(
        household,
        [
            (phone.account_id.as_str(), "张网格"),
            (assistant.as_str(), "刘协理"),
        ],
    );
    let visit = phone.replica.create(GRID_A, &v).unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);

    // The administrator's navigation holds the administration pages only.
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;
    let (_, home) = admin.get("/console/admin").await;
    for href in [
        "/console/admin/accounts",
        "/console/admin/devices",
        "/console/admin/audit",
    ] {
        assert!(home.contains(&format!("href=\"{href}\"")), "{href}");
    }
    for href in [
        "/console/queue",
        "/console/households",
        "/console/reports",
        "/console/exports",
    ] {
        assert!(
            !home.contains(&format!("href=\"{href}\"")),
            "{href}: {home}"
        );
    }
    let r = admin.get("/console").await;
    assert_eq!(r.0, StatusCode::SEE_OTHER);

    // No case data: every review page refuses as it refuses any role without the permission,
    // and the refusal is audited.
    let before = app.audit("policy.denied").await.len();
    for path in [
        "/console/queue".to_string(),
        format!("/console/visits/{visit}"),
        format!("/console/households/{household}"),
        "/console/households".to_string(),
        "/console/households?q=一镇".to_string(),
        "/console/reports".to_string(),
        "/console/tasks".to_string(),
        "/console/dashboard".to_string(),
        "/console/exports".to_string(),
        "/console/exports/households?format=csv".to_string(),
    ] {
        let (status, page) = admin.get(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        assert!(
            page.contains("data-code=\"policy.denied\""),
            "{path}: {page}"
        );
        assert!(!page.contains("一镇一村 1 号"), "{path}");
    }
    let r = admin
        .post(
            &format!("/console/visits/{visit}/decision"),
            &[
                ("decision", "approve"),
                ("comment", "属实"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let denials = app.audit("policy.denied").await;
    assert!(
        denials.len() >= before + 11,
        "{} then {}",
        before,
        denials.len()
    );
    assert!(
        denials
            .iter()
            .any(|d| d.target.as_deref() == Some(visit.to_string().as_str()))
    );

    // The town reviewer: the queue, no administration in the navigation, every administration
    // page and form refused (audited), nothing created.
    let (mut town, r) = login(&app, "town.zhao", PASSWORD).await;
    assert_eq!(location(&r), "/console/queue");
    let (status, queue) = town.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!queue.contains("/console/admin"), "{queue}");
    let town_csrf = csrf_of(&queue);
    let before = app.audit("policy.denied").await.len();
    let zhang = account_id(&app, "grid.zhang").await;
    for path in [
        "/console/admin".to_string(),
        "/console/admin/accounts".to_string(),
        "/console/admin/accounts/new".to_string(),
        format!("/console/admin/accounts/{zhang}"),
        "/console/admin/devices".to_string(),
        "/console/admin/audit".to_string(),
        "/console/admin/audit?from=bad".to_string(),
    ] {
        let (status, page) = town.get(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        assert!(
            page.contains("data-code=\"policy.denied\""),
            "{path}: {page}"
        );
    }
    let r = town
        .post(
            "/console/admin/accounts",
            &[
                ("username", "grid.new"),
                ("display_name", "新"),
                ("role", "admin"),
                ("regions", "370102001000"),
                ("password", "new-password-123"),
                ("csrf", town_csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-code=\"policy.denied\"")
    );
    let r = town
        .post(
            &format!("/console/admin/accounts/{zhang}/status"),
            &[("disabled", "1"), ("csrf", town_csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.audit("policy.denied").await.len(), before + 9);
    assert!(
        doudi_server::accounts::find_by_username(&app.state.db, "grid.new")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.login_as("grid.zhang", PASSWORD, None).await.status,
        StatusCode::OK
    );

    // A grid worker is neither: the console refuses the login, saying whom it is for.
    let (_, r) = login(&app, "grid.zhang", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("管理员"));
}

async fn an_administrator_previews_and_imports_regions(b: Backend) {
    let app = world(b).await;
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;
    let (status, page) = admin.get("/console/admin/regions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("name=\"csv\"") && page.contains("预览"),
        "{page}"
    );

    // Bad lines: every one listed with its line number (a browser sends CRLF line ends), the
    // file kept, nothing imported; the line of another county is the access module's refusal,
    // audited.
    let bad = "code,parent_code,level,name\r\n\
               370102001003,370102001000,village,一镇三村\r\n\
               370102001004,370102009000,village,无上级 <村>\r\n\
               370103001002,370103001000,village,乙县二村\r\n";
    let r = admin
        .post(
            "/console/admin/regions",
            &[("csv", bad), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"region.csv_invalid\""), "{page}");
    let lines = rows(&page);
    assert_eq!(lines.len(), 2, "{page}");
    assert!(lines[0].contains("第 3 行") && lines[0].contains("上级代码 370102009000 不存在"));
    assert!(lines[1].contains("第 4 行") && lines[1].contains("不在您的管辖范围内"));
    assert!(
        page.contains("无上级 &lt;村&gt;"),
        "the file is kept: {page}"
    );
    let denials = app.audit("policy.denied").await;
    assert!(
        denials
            .iter()
            .any(|d| d.target.as_deref() == Some("regions: lines [4]"))
    );
    let stored = |code: &'static str| {
        let db = app.state.db.clone();
        async move { doudi_server::regions::find(&db, code).await.unwrap() }
    };
    assert!(stored("370102001003").await.is_none());

    // A good file: the preview counts and asks to confirm; nothing is written until then.
    let good = "code,parent_code,level,name\n\
                370102001003,370102001000,village,一镇三村\n\
                370102001001-A,370102001001,grid,一村甲网格（新名）\n";
    let r = admin
        .post(
            "/console/admin/regions",
            &[("csv", good), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("将新增 1 个，改名 1 个，未变 0 个"), "{page}");
    assert!(page.contains("name=\"confirmed\" value=\"1\""), "{page}");
    assert!(stored("370102001003").await.is_none());
    assert!(app.audit("admin.region_import").await.is_empty());
    let r = admin
        .post(
            "/console/admin/regions",
            &[("csv", good), ("confirmed", "1"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(
        page.contains("已导入：新增 1 个，改名 1 个，未变 0 个"),
        "{page}"
    );
    assert_eq!(stored("370102001003").await.unwrap().name, "一镇三村");
    assert_eq!(
        stored("370102001001-A").await.unwrap().name,
        "一村甲网格（新名）"
    );
    assert_eq!(app.audit("admin.region_import").await.len(), 1);

    // A reviewer gets neither the page nor the import.
    let (mut town, r) = login(&app, "town.zhao", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, queue) = town.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = town.get("/console/admin/regions").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = town
        .post(
            "/console/admin/regions",
            &[
                ("csv", good),
                ("confirmed", "1"),
                ("csrf", csrf_of(&queue).as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.audit("admin.region_import").await.len(), 1);
}

/// The row of the effective-policy table for one setting.
fn setting_row<'p>(page: &'p str, key: &str) -> &'p str {
    let at = page
        .find(&format!("<tr data-key=\"{key}\">"))
        .unwrap_or_else(|| panic!("no row {key}: {page}"));
    let row = &page[at..];
    &row[..row.find("</tr>").unwrap()]
}

async fn an_administrator_sets_region_policy_in_the_console(b: Backend) {
    use chrono::NaiveDate;
    let app = world(b).await;
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;
    let county = "370102000000";
    let resolved = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            let (book, _) = doudi_server::policies::load(&db).await.unwrap();
            let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
            book.resolve("370102001001", day).unwrap()
        }
    };

    // The book and the effective policy of the administrator's county: national defaults.
    let (status, page) = admin
        .get(&format!(
            "/console/admin/policies?region={county}&date=2026-06-01"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let row = setting_row(&page, "near_dibao_multiplier_urban");
    assert!(
        row.contains("城市低保边缘倍数") && row.contains(">1.5</td>"),
        "{row}"
    );
    assert!(row.contains("全国默认值"), "{row}");
    assert!(setting_row(&page, "dibao_standard_urban").contains("未设置"));

    // A valid layer: saved, audited as the API's PUT, and the effective policy of a village
    // below the county changes, naming the layer it comes from.
    let (status, form) = admin
        .get(&format!("/console/admin/policies/edit?region={county}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("城市低保标准（元/人（按月或按年））"),
        "{form}"
    );
    let good = [
        ("region", county),
        ("effective_from", "2026-01-01"),
        ("source", "甲政发〔2026〕1号"),
        ("near_dibao_multiplier_urban", "1.8"),
        ("dibao_standard_urban", "900"),
        ("dibao_standard_urban__per", "month"),
        ("confirmation_delegated", "true"),
        ("temp_aid_yearly_cap", "不限"),
        ("csrf", csrf.as_str()),
    ];
    let r = admin.post("/console/admin/policies", &good).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin
        .get(&format!("{}&date=2026-06-01", location(&r)))
        .await;
    assert!(page.contains("政策已保存"), "{page}");
    let row = setting_row(&page, "near_dibao_multiplier_urban");
    assert!(
        row.contains(">1.8</td>") && row.contains("（自2026-01-01起）"),
        "{row}"
    );
    assert!(setting_row(&page, "dibao_standard_urban").contains("900.00 元/人·月"));
    assert!(setting_row(&page, "temp_aid_yearly_cap").contains("不限"));
    assert!(page.contains("甲政发〔2026〕1号"), "{page}");
    let p = resolved(&app).await;
    assert_eq!(p.near_dibao_multiplier_urban.to_string(), "1.8");
    assert_eq!(p.confirmation_delegated, Some(true));
    let puts = app.audit("admin.policy_put").await;
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].target.as_deref(), Some(county));
    assert_eq!(
        puts[0].account_id.as_deref(),
        Some(account_id(&app, "admin.jia").await.as_str())
    );
    // The stored layer opens in the form with its values.
    let (_, form) = admin
        .get(&format!(
            "/console/admin/policies/edit?region={county}&effective_from=2026-01-01"
        ))
        .await;
    assert!(
        form.contains("name=\"near_dibao_multiplier_urban\" value=\"1.8\""),
        "{form}"
    );

    // A value the rules refuse: nothing saved, the input kept, the reason beside the setting
    // in Chinese naming it.
    let mut bad = good.to_vec();
    bad[3] = ("near_dibao_multiplier_urban", "0.9");
    let r = admin.post("/console/admin/policies", &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-code=\"policy.invalid\""), "{page}");
    assert!(
        page.contains("data-field=\"near_dibao_multiplier_urban\">城市低保边缘倍数：倍数不能低于1"),
        "{page}"
    );
    assert!(page.contains("value=\"0.9\""), "the input is kept: {page}");
    assert!(page.contains("甲政发〔2026〕1号"));
    assert!(!page.contains("near_dibao_multiplier_urban："), "{page}");
    // One that cannot be read: the reason beside it, the others kept.
    bad[3] = ("near_dibao_multiplier_urban", "1.8");
    bad.push(("elder_age", "六十"));
    let r = admin.post("/console/admin/policies", &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("data-field=\"elder_age\""), "{page}");
    assert!(
        page.contains("value=\"六十\"") && page.contains("value=\"900\""),
        "{page}"
    );
    assert_eq!(
        resolved(&app).await.near_dibao_multiplier_urban.to_string(),
        "1.8"
    );
    assert_eq!(app.audit("admin.policy_put").await.len(), 1);

    // An administrator of another county and a reviewer are refused, nothing saved.
    let (mut other, other_csrf) = admin_login(&app, "admin.yi").await;
    let mut theirs = good.to_vec();
    theirs[3] = ("near_dibao_multiplier_urban", "2");
    theirs[8] = ("csrf", other_csrf.as_str());
    let r = other.post("/console/admin/policies", &theirs).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (mut town, r) = login(&app, "town.zhao", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, queue) = town.get("/console/queue").await;
    let (status, _) = town.get("/console/admin/policies").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let town_csrf = csrf_of(&queue);
    theirs[8] = ("csrf", town_csrf.as_str());
    let r = town.post("/console/admin/policies", &theirs).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resolved(&app).await.near_dibao_multiplier_urban.to_string(),
        "1.8"
    );
    assert_eq!(app.audit("admin.policy_put").await.len(), 1);
}

async fn an_administrator_previews_and_imports_the_working_day_calendar(b: Backend) {
    use chrono::Datelike;
    let app = world(b).await;
    let (mut admin, csrf) = admin_login(&app, "admin.jia").await;
    let this_year = doudi_server::review::deadlines::today().unwrap().year();
    let next = this_year + 1;
    let covered = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            let cal = doudi_server::review::calendar::load(&db).await.unwrap();
            cal.covered_years().collect::<Vec<i32>>()
        }
    };
    assert!(!covered(&app).await.contains(&next));

    // The years covered, the built-in data of a year, and the warning for the next year.
    let (status, page) = admin.get("/console/admin/calendar?year=2026").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<tr data-year=\"2026\">"), "{page}");
    assert!(page.contains("内置"));
    assert!(
        page.contains("2026-10-01") && page.contains("国庆"),
        "{page}"
    );
    assert!(
        page.contains("data-missing") && page.contains(&format!("工作日历未包含{next}年")),
        "{page}"
    );

    // A bad file: its error shown, the file kept, nothing written.
    let bad = format!("{next}-01-01,holiday,元旦\r\n{next}-13-01,holiday,坏日期 <b>\r\n");
    let r = admin
        .post("/console/admin/calendar", &[("csv", &bad), ("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("日历文件有误，未导入：节假日数据第2行有误"),
        "{page}"
    );
    assert!(
        page.contains("坏日期 &lt;b&gt;"),
        "the file is kept: {page}"
    );
    let only_workdays = format!("{next}-02-06,workday,春节调休\n");
    let r = admin
        .post(
            "/console/admin/calendar",
            &[("csv", &only_workdays), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(&format!("{next}年没有列出任何节假日"))
    );
    assert!(!covered(&app).await.contains(&next));
    assert!(app.audit("calendar.import").await.is_empty());

    // A good file: previewed (nothing written), then imported and audited.
    let good = format!(
        "{next}-01-01,holiday,元旦\n{next}-10-01,holiday,国庆节\n{next}-02-06,workday,春节调休\n"
    );
    let r = admin
        .post(
            "/console/admin/calendar",
            &[("csv", &good), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("将导入{next}年，节假日 2 天，调休上班 1 天")),
        "{page}"
    );
    assert!(page.contains("name=\"confirmed\" value=\"1\""));
    assert!(!covered(&app).await.contains(&next));
    let r = admin
        .post(
            "/console/admin/calendar",
            &[("csv", &good), ("confirmed", "1"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&location(&r)).await;
    assert!(
        page.contains(&format!("已导入{next}年的工作日历")),
        "{page}"
    );
    assert!(
        page.contains(&format!("<tr data-year=\"{next}\">")) && page.contains("春节调休"),
        "{page}"
    );
    if covered(&app).await.contains(&this_year) {
        assert!(!page.contains("data-missing"), "{page}");
    }
    assert!(covered(&app).await.contains(&next));
    let imports = app.audit("calendar.import").await;
    assert_eq!(imports.len(), 1);
    assert_eq!(
        imports[0].account_id.as_deref(),
        Some(account_id(&app, "admin.jia").await.as_str())
    );

    // A reviewer gets neither the page nor the import.
    let (mut town, _) = login(&app, "town.zhao", PASSWORD).await;
    let (_, queue) = town.get("/console/queue").await;
    let (status, _) = town.get("/console/admin/calendar").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = town
        .post(
            "/console/admin/calendar",
            &[
                ("csv", &good),
                ("confirmed", "1"),
                ("csrf", &csrf_of(&queue)),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.audit("calendar.import").await.len(), 1);
}
