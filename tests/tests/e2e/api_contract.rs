//! The API's contract as a careless client and an attacker meet it: every error answer is JSON
//! with a documented code (an HTML page in Chinese on the console), input never makes the
//! server fail, and conflicts are readable as JSON.

use doudi_protocol::doc::Household;
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_server::error::Code;
use doudi_tests::{
    Backend, Phone, Resp, TestApp, both_backends, console_login, spawn_app, spawn_app_with,
};
use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends!(
    an_empty_final_upload_is_refused_and_the_partial_kept_clean,
    conflicts_are_served_as_json_to_who_may_read_the_document,
    a_return_address_with_a_line_break_redirects_safely,
);

const API_MD: &str = include_str!("../../../docs/API.md");
const GRID_A: &str = "370102001001-A";

/// An error answer of the API: JSON `{code, message, message_en}` whose code is one the server
/// defines, listed in docs/API.md, with the HTTP status of that code.
fn assert_api_error(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{:?}", r.body);
    assert_eq!(
        r.headers["content-type"], "application/json",
        "{:?}",
        r.headers
    );
    let known = Code::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .unwrap_or_else(|| panic!("{code} is not a code of the server"));
    assert_eq!(known.status(), status, "{code}");
    assert!(
        API_MD.contains(&format!("`{code}`")),
        "{code} in docs/API.md"
    );
    for key in ["message", "message_en"] {
        assert!(
            r.body[key].as_str().is_some_and(|m| !m.is_empty()),
            "{key}: {:?}",
            r.body
        );
    }
}

/// A console error page: HTML in Chinese, never raw JSON.
fn assert_console_page(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &str) {
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert!(
        body.contains("<html") || body.contains("<!DOCTYPE"),
        "{body}"
    );
    assert!(
        body.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{body}"
    );
    assert!(!body.trim_start().starts_with('{'), "{status}: {body}");
}

async fn raw(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[test]
fn every_error_code_is_documented_with_its_status() {
    for c in Code::ALL {
        let row = API_MD
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", c.as_str())))
            .unwrap_or_else(|| panic!("{} has no row in docs/API.md", c.as_str()));
        assert!(
            row.contains(&format!("| {} |", c.status().as_u16())),
            "{row}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_the_contract() {
    let app = spawn_app(Backend::Sqlite).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    let (token, _, _) = app.login("grid.zhang").await;

    for path in ["/api/v1/nothing", "/nothing", "/api/v1/regions"] {
        let r = app.send(Method::GET, path, Some(&token), None).await;
        assert_api_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/me"),
        (Method::PUT, "/api/v1/auth/login"),
        (Method::POST, "/healthz"),
    ] {
        let r = app.send(method, path, Some(&token), None).await;
        assert_api_error(
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            "request.method_not_allowed",
        );
        assert!(r.headers.contains_key("allow"), "{:?}", r.headers);
    }
    // A path segment that is not UTF-8 once decoded.
    let r = app
        .send(Method::GET, "/api/v1/regions/%FF", Some(&token), None)
        .await;
    assert_api_error(&r, StatusCode::BAD_REQUEST, "request.invalid");

    // The console answers pages, also for what does not exist and for refused methods.
    for (method, path) in [
        (Method::GET, "/console/nothing"),
        (Method::DELETE, "/console/queue"),
        (Method::GET, "/console/visits/a/b/c"),
    ] {
        let r = raw(&app, method, path, None).await;
        let (status, headers) = (r.status(), r.headers().clone());
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
            "{path}: {status}"
        );
        assert_console_page(status, &headers, &r.text().await.unwrap());
    }
    let (mut town, _) = console_login(&app, "town.zhao").await;
    for path in [
        "/console/blobs/not-a-hash",
        "/console/blobs/0000000000000000000000000000000000000000000000000000000000000000",
        "/console/blobs/0000000000000000000000000000000000000000000000000000000000000000?variant=big",
        "/console/visits/%FF",
        "/console/queue?page=x",
    ] {
        let r = town.get(path).await;
        assert!(
            r.0.is_client_error() || r.0 == StatusCode::OK,
            "{path}: {}",
            r.0
        );
        if r.0.is_client_error() {
            assert!(!r.1.trim_start().starts_with('{'), "{path}: {}", r.1);
            assert!(r.1.contains("<html"), "{path}: {}", r.1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_region_asked_of_the_policy_is_an_invalid_request() {
    let app = spawn_app(Backend::Sqlite).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let (token, _, _) = app.login("grid.zhang").await;
    for region in ["abc", "37010200100", "370102001001-A"] {
        let r = app
            .get(&format!("/api/v1/policies/resolve?region={region}"), &token)
            .await;
        assert_api_error(&r, StatusCode::BAD_REQUEST, "request.invalid");
        assert_eq!(r.body["details"]["field"], "region", "{:?}", r.body);
        let msg = format!("{} {}", r.body["message"], r.body["message_en"]);
        assert!(
            !msg.contains("保存") && !msg.contains("saved"),
            "nothing was being saved: {msg}"
        );
    }
    let r = app
        .get("/api/v1/policies/resolve?region=370102001001", &token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Send a request whose body never arrives in full, and read what the server answers.
async fn stalled(app: &TestApp, path: &str, content_type: &str) -> (u16, String) {
    stalled_as(app, path, content_type, None).await
}

/// [`stalled`], with a bearer token when given.
async fn stalled_as(
    app: &TestApp,
    path: &str,
    content_type: &str,
    token: Option<&str>,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{{",
        app.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // The server answers and closes, or keeps the connection: read what arrives within 10 s.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n")
            && let Some(len) = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_string)
            })
            && body.len() >= len.trim().parse::<usize>().unwrap()
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_answers_the_timeout_code() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.request_timeout_secs = 1).await;
    let (status, text) = stalled(&app, "/api/v1/auth/login", "application/json").await;
    assert_eq!(status, 408, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{text}");
    assert!(text.contains("\"code\":\"request.timeout\""), "{text}");
    assert!(API_MD.contains("`request.timeout`"));

    let (status, text) = stalled(&app, "/console/login", "application/x-www-form-urlencoded").await;
    assert_eq!(status, 408, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{text}"
    );
    assert!(text.contains("超时"), "{text}");
}

/// A department list's import is cut at `import_timeout_secs`, not at `request_timeout_secs`
/// (a province's list takes minutes), and every other request the other way round. Two servers,
/// each with one limit of 1 s and the other of 60 s; a request whose body stalls is answered
/// 408 when its own limit is the short one, and not at all within the helper's 10 s otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_is_cut_at_its_own_limit() {
    async fn stalled_both(app: &TestApp) -> ((u16, String), (u16, String)) {
        app.seed_fixture().await;
        app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
            .await;
        let (token, _, _) = app.login("town.zhao").await;
        tokio::join!(
            stalled_as(
                app,
                "/api/v1/monitoring/imports?source=death",
                "text/csv",
                Some(&token),
            ),
            stalled_as(app, "/api/v1/auth/login", "application/json", None),
        )
    }
    let short_requests = spawn_app_with(Backend::Sqlite, |s| {
        s.request_timeout_secs = 1;
        s.import_timeout_secs = 60;
    })
    .await;
    let short_imports = spawn_app_with(Backend::Sqlite, |s| {
        s.request_timeout_secs = 60;
        s.import_timeout_secs = 1;
    })
    .await;
    let (
        ((import_a, import_a_text), (login_a, login_a_text)),
        ((import_b, import_b_text), (login_b, login_b_text)),
    ) = tokio::join!(stalled_both(&short_requests), stalled_both(&short_imports));

    // Requests cut at 1 s, imports at 60 s: the login is cut, the import still waits.
    assert_eq!(login_a, 408, "{login_a_text}");
    assert_eq!(import_a, 0, "no answer yet: {import_a_text}");
    // Imports cut at 1 s, requests at 60 s: the other way round.
    assert_eq!(import_b, 408, "{import_b_text}");
    assert!(
        import_b_text.contains("\"code\":\"request.timeout\""),
        "{import_b_text}"
    );
    assert_eq!(login_b, 0, "no answer yet: {login_b_text}");
}

async fn an_empty_final_upload_is_refused_and_the_partial_kept_clean(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let (token, _, _) = app.login("grid.zhang").await;
    let put = |sha: String, offset: u64, final_: bool, body: Vec<u8>| {
        let req = app
            .http
            .put(app.url(&format!(
                "/api/v1/blobs/{sha}/upload?offset={offset}&final={final_}"
            )))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(body);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };
    let empty = doudi_server::blobs::Sha256Hex::of(b"").to_string();
    let other = doudi_server::blobs::Sha256Hex::of(b"a photo").to_string();
    // The empty content under its own hash: not an image.
    let r = put(empty.clone(), 0, true, Vec::new()).await;
    assert_api_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "blob.not_image");
    // Nothing under another hash: the content does not match it.
    let r = put(other.clone(), 0, true, Vec::new()).await;
    assert_api_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "blob.hash_mismatch");
    // Nothing was kept: the upload starts again at 0, and the server serves on.
    let r = app
        .get(&format!("/api/v1/blobs/{other}/upload"), &token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["offset"], 0);
    let r = put(other, 0, false, b"a photo".to_vec()).await;
    assert_eq!((r.status, &r.body["offset"]), (StatusCode::OK, &json!(7)));
}

/// A household synced by two phones, then edited by both offline at the same field: a conflict.
struct Conflicted {
    app: TestApp,
    pa: Phone,
    pb: Phone,
    id: String,
    zhang_id: String,
    liu_id: String,
}

async fn conflicted(b: Backend) -> Conflicted {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let zhang_id = app
        .create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let liu_id = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    app.create_account("admin.sun", Role::Admin, &["370102000000"])
        .await;
    let mut pa = app.phone("grid.zhang").await;
    let mut pb = app.phone("assist.liu").await;
    let mut h = Household {
        address: "济南市历下区一镇一村 3 号".into(),
        ..Default::default()
    };
    let mut head = Member::new("王建国", Relation::Head);
    head.identity = Some(pa.seal("11010519491231002X"));
    h.members.insert(MemberId::generate().unwrap(), head);
    let id = pa.replica.create(GRID_A, &h).unwrap().to_string();
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    pa.replica
        .update::<Household>(&id, |h| h.registered_address = Some("甲地".into()))
        .unwrap();
    let (b_number, a_number) = (pb.seal("110105194912310038"), pa.seal("110105196001010017"));
    pb.replica
        .update::<Household>(&id, |h| {
            h.registered_address = Some("乙地".into());
            for m in h.members.values_mut() {
                m.identity = Some(b_number.clone());
            }
        })
        .unwrap();
    pa.replica
        .update::<Household>(&id, |h| {
            for m in h.members.values_mut() {
                m.identity = Some(a_number.clone());
            }
        })
        .unwrap();
    assert_eq!(app.sync(&mut pa).await.accepted, vec![id.clone()]);
    assert_eq!(app.sync(&mut pb).await.accepted, vec![id.clone()]);
    Conflicted {
        app,
        pa,
        pb,
        id,
        zhang_id,
        liu_id,
    }
}

fn conflict_at<'a>(body: &'a Value, field: &str) -> &'a Value {
    body["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"].as_str().unwrap().ends_with(field))
        .unwrap_or_else(|| panic!("no conflict at {field}: {body}"))
}

async fn conflicts_are_served_as_json_to_who_may_read_the_document(b: Backend) {
    let c = conflicted(b).await;
    let app = &c.app;
    let url = format!("/api/v1/documents/{}/conflicts", c.id);
    let (town, _, town_device) = app.login("town.zhao").await;
    let r = app.get(&url, &town).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["document_id"], c.id.as_str());
    assert_eq!(r.body["kind"], "household");
    let stored = app.stored_doc(&c.id).await.unwrap();
    let changes = doudi_server::entity::doc_change::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let conflict = conflict_at(&r.body, "registered_address");
    assert_eq!(conflict["reviewer_chose"], false);
    let values = conflict["values"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{conflict}");
    let mut seen = Vec::new();
    for v in values {
        let (phone, account, name, value) = match v["value"].as_str().unwrap() {
            "甲地" => (&c.pa, &c.zhang_id, "grid.zhang", "甲地"),
            "乙地" => (&c.pb, &c.liu_id, "assist.liu", "乙地"),
            other => panic!("unexpected value {other}"),
        };
        seen.push(value);
        assert_eq!(v["account_id"], account.as_str(), "{v}");
        assert_eq!(v["account_name"], name, "{v}");
        assert_eq!(v["device_id"], phone.device_id.as_str(), "{v}");
        assert_eq!(v["by_reviewer"], false, "{v}");
        // The time is the stored change's that wrote the value.
        let at = v["at_ms"].as_i64().unwrap();
        assert!(
            changes
                .iter()
                .any(|ch| ch.doc_id == c.id && ch.device_id == phone.device_id && ch.at_ms == at),
            "{v}"
        );
    }
    seen.sort();
    assert_eq!(seen, ["乙地", "甲地"]);
    assert_eq!(
        values.iter().filter(|v| v["visible"] == true).count(),
        1,
        "{conflict}"
    );
    assert!(stored.seq > 0);
    // A 身份证号 in conflict is shown masked, as everywhere else.
    let ids = conflict_at(&r.body, "identity");
    let text = ids.to_string();
    assert!(
        !text.contains("110105194912310038") && !text.contains("110105196001010017"),
        "{text}"
    );
    assert!(
        text.contains("110105****0038") && text.contains("110105****0017"),
        "{text}"
    );

    // Who may read the document may read its conflicts: the grid's worker too.
    let r = app.get(&url, &c.pa.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Another township's reviewer gets the answer of an id that does not exist; both audited.
    let (other, _, _) = app.login("town.other").await;
    let foreign = app.get(&url, &other).await;
    assert_api_error(&foreign, StatusCode::NOT_FOUND, "not_found");
    let missing = app
        .get(
            "/api/v1/documents/0zzzzzzzzzzzzzzzzzzzzzzzzz/conflicts",
            &other,
        )
        .await;
    assert_eq!(missing.body, foreign.body);
    assert!(
        app.audit("policy.denied")
            .await
            .iter()
            .any(|d| d.target.as_deref() == Some(c.id.as_str()))
    );
    // Administrators read no case data.
    let (admin, _, _) = app.login("admin.sun").await;
    let r = app.get(&url, &admin).await;
    assert_api_error(&r, StatusCode::FORBIDDEN, "policy.denied");
    let r = app.send(Method::GET, &url, None, None).await;
    assert_api_error(&r, StatusCode::UNAUTHORIZED, "auth.token_missing");

    // A reviewer chooses the value readers do not see on the console: the field has one value
    // again and leaves the list.
    let path = conflict["path"].as_str().unwrap().to_string();
    let (mut console, csrf) = console_login(app, "town.zhao").await;
    let choice = values.iter().position(|v| v["visible"] == false).unwrap();
    let chosen = values[choice]["value"].as_str().unwrap().to_string();
    let resp = console
        .post(
            &format!("/console/docs/{}/resolve", c.id),
            &[
                ("csrf", csrf.as_str()),
                ("path", path.as_str()),
                ("choice", &choice.to_string()),
                ("return_to", &format!("/console/households/{}", c.id)),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let r = app.get(&url, &town).await;
    assert!(
        !r.body["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["path"] == path.as_str()),
        "{:?}",
        r.body
    );

    // A phone that had not yet received the choice writes the field again: the new conflict
    // shows the reviewer's value as theirs.
    let mut pb = c.pb;
    pb.replica
        .update::<Household>(&c.id, |h| h.registered_address = Some("丙地".into()))
        .unwrap();
    app.sync(&mut pb).await;
    let r = app.get(&url, &town).await;
    let again = conflict_at(&r.body, "registered_address");
    assert_eq!(again["reviewer_chose"], true, "{again}");
    let by_reviewer: Vec<&Value> = again["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["by_reviewer"] == true)
        .collect();
    assert_eq!(by_reviewer.len(), 1, "{again}");
    assert_eq!(by_reviewer[0]["value"], chosen.as_str());
    assert_eq!(by_reviewer[0]["account_name"], "town.zhao");
    assert!(
        by_reviewer[0]["device_id"]
            .as_str()
            .is_some_and(|d| d != town_device)
    );
}

async fn a_return_address_with_a_line_break_redirects_safely(b: Backend) {
    let c = conflicted(b).await;
    let app = &c.app;
    let (town, _, _) = app.login("town.zhao").await;
    let url = format!("/api/v1/documents/{}/conflicts", c.id);
    let before = app.get(&url, &town).await;
    let path = conflict_at(&before.body, "registered_address")["path"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut console, csrf) = console_login(app, "town.zhao").await;
    let resp = console
        .post(
            &format!("/console/docs/{}/resolve", c.id),
            &[
                ("csrf", csrf.as_str()),
                ("path", path.as_str()),
                ("choice", "0"),
                (
                    "return_to",
                    &format!("/console/households/{}\r\nSet-Cookie: x=1", c.id),
                ),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/console/queue");
    assert!(
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .all(|v| !v.to_str().unwrap().starts_with("x="))
    );
    // The choice was stored once, and the server serves on.
    let after = app.get(&url, &town).await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(
        !after.body["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["path"] == path.as_str())
    );
    assert_eq!(app.audit("review.resolve_conflict").await.len(), 1);
    let (status, _) = console.get(&format!("/console/households/{}", c.id)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_what_the_server_answers() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    let paths = doc["paths"].as_object().unwrap();
    let ops = || {
        paths.iter().flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter(|(m, _)| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |(m, op)| (path.as_str(), m.as_str(), op))
        })
    };
    for (path, method, op) in ops() {
        let responses = op["responses"].as_object().unwrap();
        let declared = |s: &str| responses.contains_key(s);
        // Path parameters are declared.
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            assert!(
                op["parameters"].as_array().is_some_and(|ps| ps
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)),
                "{method} {path}: parameter {name}"
            );
        }
        assert!(declared("408"), "{method} {path}: 408");
        if op.get("security").is_some() {
            assert!(
                declared("401") && declared("403"),
                "{method} {path}: 401/403"
            );
        }
        if let Some(body) = op.get("requestBody") {
            assert!(
                declared("413") && declared("415"),
                "{method} {path}: 413/415"
            );
            for (media, content) in body["content"].as_object().unwrap() {
                if media != "application/json" && !media.starts_with("text/") {
                    assert_eq!(
                        (&content["schema"]["type"], &content["schema"]["format"]),
                        (&json!("string"), &json!("binary")),
                        "{method} {path}: {media}"
                    );
                }
            }
        }
        // Error answers name the error body.
        for (status, resp) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    resp["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|s| s.ends_with("/ErrorBody")),
                    "{method} {path} {status}: {resp}"
                );
            }
        }
    }
    let sync = &paths["/api/v1/sync"]["post"];
    assert!(sync["responses"]["200"]["content"]["application/cbor"].is_object());
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        Code::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()
    );
    let detail = &doc["components"]["schemas"]["AuditEntry"]["properties"]["detail"];
    assert!(
        detail["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null"))),
        "{detail}"
    );
    let sha = paths["/api/v1/blobs/{sha256}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sha256")
        .unwrap();
    assert_eq!(sha["schema"]["pattern"], "^[0-9a-f]{64}$");
    let q = paths["/api/v1/households"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap();
    assert_eq!(
        (&q["schema"]["minLength"], &q["schema"]["maxLength"]),
        (&json!(2), &json!(32))
    );
    let offset = paths["/api/v1/blobs/{sha256}/upload"]["put"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "offset")
        .unwrap();
    assert_eq!(offset["required"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    app.seed_fixture().await;
    let admin_id = app
        .create_account("admin.sun", Role::Admin, &["370102000000"])
        .await;
    let (admin, _, _) = app.login("admin.sun").await;
    let url = format!("/api/v1/admin/accounts/{admin_id}");
    // Every field of the change is optional: an array of nulls read as a struct changed nothing
    // and answered 200.
    for body in [json!([null, null]), json!([]), json!("x"), json!(3)] {
        let r = app
            .send(Method::PATCH, &url, Some(&admin), Some(body))
            .await;
        assert_api_error(&r, StatusCode::BAD_REQUEST, "request.invalid");
    }
    let r = app
        .send(Method::PATCH, &url, Some(&admin), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
