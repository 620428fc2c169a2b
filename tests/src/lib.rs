//! Test harness: the real server on 127.0.0.1:0 with a fresh database (SQLite file or a new
//! PostgreSQL database), driven over real HTTP.
//!
//! PostgreSQL tests run when `DOUDI_TEST_PG_URL` names a server where the test user may create
//! databases (README's test command starts one). With `DOUDI_TEST_REQUIRE_PG=1` a missing server
//! is a failure, not a skip.

pub mod balancer;
pub mod bench;
pub mod blobs;
pub mod cases;
pub mod failover;
pub mod faults;
pub mod proxy;
pub mod stored;
pub mod workload;

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use doudi_protocol::role::Role;
use doudi_server::accounts::{self, NewAccount};
use doudi_server::config::{Secret, Settings};
use doudi_server::http::SharedState;
use doudi_server::{app, regions};

/// The access-token key the test servers use, so tests can forge tokens to see them refused.
pub const TEST_JWT_SECRET: &str = "doudi-test-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct-horse-battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL when configured; `None` to skip; panics when required but missing.
    pub fn postgres() -> Option<Backend> {
        if std::env::var("DOUDI_TEST_PG_URL").is_ok_and(|v| !v.is_empty()) {
            Some(Backend::Postgres)
        } else if std::env::var("DOUDI_TEST_REQUIRE_PG").is_ok_and(|v| v == "1") {
            panic!("DOUDI_TEST_REQUIRE_PG=1 but DOUDI_TEST_PG_URL is not set");
        } else {
            eprintln!("skipping PostgreSQL variant: DOUDI_TEST_PG_URL is not set");
            None
        }
    }
}

/// Generate one `#[tokio::test]` per backend for each listed `async fn name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::Backend::postgres() {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

/// Which blob store a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStoreUnderTest {
    /// A directory under the test's data dir.
    Local,
    /// The S3-compatible server named by `DOUDI_TEST_S3_ENDPOINT` (tests/run-all.sh starts one).
    S3,
}

impl BlobStoreUnderTest {
    /// S3 when configured; `None` to skip; panics when `DOUDI_TEST_REQUIRE_S3=1` but it is missing.
    pub fn s3() -> Option<BlobStoreUnderTest> {
        if std::env::var("DOUDI_TEST_S3_ENDPOINT").is_ok_and(|v| !v.is_empty()) {
            Some(BlobStoreUnderTest::S3)
        } else if std::env::var("DOUDI_TEST_REQUIRE_S3").is_ok_and(|v| v == "1") {
            panic!("DOUDI_TEST_REQUIRE_S3=1 but DOUDI_TEST_S3_ENDPOINT is not set");
        } else {
            eprintln!("skipping S3 variant: DOUDI_TEST_S3_ENDPOINT is not set");
            None
        }
    }

    /// Point `s` at this store; S3 tests get a fresh key prefix in the test bucket.
    pub fn configure(self, s: &mut Settings) {
        use doudi_server::config::{BlobStoreKind, S3Settings};
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        match self {
            BlobStoreUnderTest::Local => s.blobs.store = BlobStoreKind::Local,
            BlobStoreUnderTest::S3 => {
                s.blobs.store = BlobStoreKind::S3;
                s.blobs.s3 = Some(S3Settings {
                    endpoint: var("DOUDI_TEST_S3_ENDPOINT"),
                    bucket: var("DOUDI_TEST_S3_BUCKET").unwrap_or_else(|| "doudi-test".into()),
                    region: var("DOUDI_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: var("DOUDI_TEST_S3_ACCESS_KEY_ID").map(Secret::new),
                    secret_access_key: var("DOUDI_TEST_S3_SECRET_ACCESS_KEY").map(Secret::new),
                    prefix: format!("t-{}", doudi_server::auth::new_id()),
                    allow_http: false,
                });
            }
        }
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub state: SharedState,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Settings for a test server: a temp data dir and the test key; `tweak` adjusts the rest.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()))
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().to_path_buf(),
        jwt_secret: Some(Secret::new(TEST_JWT_SECRET)),
        ..Settings::default()
    };
    if backend == Backend::Postgres {
        s.database_url = Some(Secret::new(fresh_pg_database().await));
    }
    tweak(&mut s);
    let listener = TcpListener::bind(s.listen).await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let state = app::prepare(s).await.expect("server prepares");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn({
        let state = state.clone();
        async move {
            app::serve(state, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        }
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        state,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Create a new empty database on the test PostgreSQL server and return its URL.
pub async fn fresh_pg_database() -> String {
    let admin_url = std::env::var("DOUDI_TEST_PG_URL").expect("DOUDI_TEST_PG_URL");
    let name = format!("doudi_test_{}", doudi_server::auth::new_id());
    let admin = Database::connect(admin_url.as_str())
        .await
        .expect("connect to test PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    // Replace the database part of the URL (after the authority, before any query).
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin_url.clone(), String::new()),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base.as_str(),
    };
    format!("{root}/{name}{query}")
}

impl TestApp {
    /// Signal the server to shut down, as Ctrl-C or SIGTERM does; the handle completes when
    /// it has stopped serving.
    pub fn shut_down(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

/// A test region tree: two counties; county A has townships T1 and T2, county B township T3.
///
/// The codes follow the 12-digit structure; the names are test labels.
pub const FIXTURE_CSV: &str = "code,parent_code,level,name
370000000000,,province,测试省
370100000000,370000000000,city,测试市
370102000000,370100000000,county,甲县
370103000000,370100000000,county,乙县
370102001000,370102000000,township,甲县一镇
370102002000,370102000000,township,甲县二镇
370103001000,370103000000,township,乙县一镇
370102001001,370102001000,village,一镇一村
370102001002,370102001000,village,一镇二村
370102002001,370102002000,village,二镇一村
370103001001,370103001000,village,乙县一村
370102001001-A,370102001001,grid,一村甲网格
370102001001-B,370102001001,grid,一村乙网格
370102001002-A,370102001002,grid,二村甲网格
370102002001-A,370102002001,grid,二镇一村甲网格
370103001001-A,370103001001,grid,乙县一村甲网格
";

/// A response: status and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The stable error code of an error response.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The string field `key` of every element of an array body.
    pub fn strings(&self, key: &str) -> Vec<&str> {
        self.body
            .as_array()
            .map(|a| a.iter().filter_map(|v| v[key].as_str()).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn seed_fixture(&self) {
        regions::import_csv(&self.state.db, FIXTURE_CSV, 1000, None)
            .await
            .expect("fixture imports");
    }

    /// A phone: the real SDK with its store in `dir` under `key`, logged in as `username`.
    pub async fn sdk_phone(
        &self,
        dir: &std::path::Path,
        key: &[u8],
        username: &str,
    ) -> std::sync::Arc<doudi_sdk::DoudiClient> {
        let c = doudi_sdk::DoudiClient::open(
            dir.to_string_lossy().into_owned(),
            key.to_vec(),
            self.base.clone(),
            None,
        )
        .expect("store opens");
        c.login(username.into(), PASSWORD.into(), "测试手机".into())
            .await
            .expect("login");
        c
    }

    /// Seed `doudi demo`'s data twice (the second run must change nothing).
    pub async fn seed_demo_twice(&self) {
        for _ in 0..2 {
            doudi_server::demo::seed(&self.state.db, &self.state.identity, &self.state.settings)
                .await
                .unwrap();
        }
    }

    /// The access token of a demo account.
    pub async fn demo_token(&self, username: &str) -> String {
        let r = self
            .login_as(username, doudi_server::demo::DEMO_PASSWORD, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_string()
    }

    /// Store the fixture county's (370102, 历下区) local settings in force since 2020, as
    /// `PUT /api/v1/policies` would.
    pub async fn county_policy(&self, settings: doudi_protocol::rules::policy::PolicySettings) {
        doudi_server::policies::put_layer(
            &self.state.db,
            doudi_protocol::rules::policy::PolicyLayer {
                region: Some("370102000000".into()),
                effective_from: "2020-01-01".parse().unwrap(),
                source: Some("测试".into()),
                settings,
            },
            None,
            None,
        )
        .await
        .unwrap();
    }

    /// Create an account directly (as `doudi user add` does) with [`PASSWORD`].
    pub async fn create_account(&self, username: &str, role: Role, regions: &[&str]) -> String {
        accounts::create(
            &self.state.db,
            NewAccount {
                username: username.to_string(),
                display_name: username.to_string(),
                role,
                password: PASSWORD.to_string(),
                region_codes: regions.iter().map(|s| s.to_string()).collect(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create {username}: {:?}", e.body().message_en))
        .id
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn login_as(&self, username: &str, password: &str, device_id: Option<&str>) -> Resp {
        let mut device = json!({ "name": "测试手机", "platform": "android" });
        if let Some(id) = device_id {
            device["id"] = json!(id);
        }
        self.post(
            "/api/v1/auth/login",
            None,
            json!({ "username": username, "password": password, "device": device }),
        )
        .await
    }

    /// Log in with [`PASSWORD`]; returns (access token, refresh token, device id).
    pub async fn login(&self, username: &str) -> (String, String, String) {
        let r = self.login_as(username, PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {:?}", r.body);
        (
            r.body["access_token"].as_str().unwrap().to_string(),
            r.body["refresh_token"].as_str().unwrap().to_string(),
            r.body["device_id"].as_str().unwrap().to_string(),
        )
    }

    /// Audit log rows with this action, oldest first.
    pub async fn audit(&self, action: &str) -> Vec<doudi_server::entity::audit_log::Model> {
        use doudi_server::entity::audit_log;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .order_by_asc(audit_log::Column::Id)
            .all(&self.state.db)
            .await
            .expect("audit rows")
    }
}

/// A simulated phone: a logged-in device with its replica of the documents in its scope.
pub struct Phone {
    pub replica: doudi_protocol::sync::Replica,
    pub access: String,
    pub device_id: String,
    pub account_id: String,
    /// The server's key for 身份证号, from the login answer.
    pub identity_key: doudi_protocol::identity::SealKey,
    /// Body bytes of the last request and response.
    pub last_up: usize,
    pub last_down: usize,
}

impl Phone {
    /// `number` sealed to the server's key, as a document holds it.
    pub fn seal(&self, number: &str) -> doudi_protocol::identity::SealedId {
        self.identity_key
            .seal(&doudi_protocol::id_number::IdNumber::parse(number).expect("a valid number"))
    }
}

impl TestApp {
    /// Log in as `username` on a new phone.
    pub async fn phone(&self, username: &str) -> Phone {
        let r = self.login_as(username, PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {:?}", r.body);
        let device_id = r.body["device_id"].as_str().unwrap().to_string();
        let actor =
            doudi_protocol::sync::replica::device_actor(&device_id).expect("device id is 32 hex");
        Phone {
            replica: doudi_protocol::sync::Replica::new(actor),
            access: r.body["access_token"].as_str().unwrap().to_string(),
            device_id,
            account_id: r.body["account"]["id"].as_str().unwrap().to_string(),
            identity_key: doudi_protocol::identity::SealKey::parse_hex(
                r.body["identity_key"].as_str().unwrap_or_default(),
            )
            .expect("the login answer names the identity key"),
            last_up: 0,
            last_down: 0,
        }
    }

    /// POST raw bytes to `/api/v1/sync`.
    pub async fn post_sync(&self, token: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/sync"))
            .bearer_auth(token)
            .header("content-type", doudi_protocol::sync::CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .expect("sync request sent")
    }

    /// One round trip: push what the server lacks, apply what comes back.
    pub async fn sync_once(
        &self,
        phone: &mut Phone,
        page_bytes: Option<u64>,
    ) -> doudi_protocol::sync::SyncOutcome {
        use doudi_protocol::sync::{SyncResponse, from_cbor, to_cbor};
        let req = to_cbor(&phone.replica.prepare(page_bytes));
        phone.last_up = req.len();
        let resp = self.post_sync(&phone.access, req).await;
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "sync failed: {}",
            String::from_utf8_lossy(&bytes)
        );
        phone.last_down = bytes.len();
        let resp: SyncResponse = from_cbor(&bytes).expect("response decodes");
        phone.replica.apply(resp).expect("response applies")
    }

    /// Sync until the server has nothing more; returns the outcomes of all rounds merged.
    pub async fn sync(&self, phone: &mut Phone) -> doudi_protocol::sync::SyncOutcome {
        let mut all = doudi_protocol::sync::SyncOutcome::default();
        for _ in 0..1000 {
            let o = self.sync_once(phone, None).await;
            all.accepted.extend(o.accepted);
            all.rejected.extend(o.rejected);
            all.updated.extend(o.updated);
            all.purged.extend(o.purged);
            if !o.more {
                return all;
            }
        }
        panic!("sync did not finish in 1000 rounds");
    }

    /// The server's stored bytes and heads of a document.
    pub async fn stored_doc(&self, id: &str) -> Option<doudi_server::entity::document::Model> {
        use sea_orm::EntityTrait;
        doudi_server::entity::document::Entity::find_by_id(id.to_string())
            .one(&self.state.db)
            .await
            .unwrap()
    }
}

/// A console user agent: keeps cookies, follows no redirects, posts forms.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<String>,
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: Vec::new(),
        }
    }

    /// The value of the cookie `name` the server set, if any.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(name)?.strip_prefix('='))
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep(&r);
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookies.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    /// Post a `multipart/form-data` form as a browser sends a file input: the text `fields`,
    /// then `file` as the field `name` with its file name and bytes.
    pub async fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        (name, file_name, bytes): (&str, &str, Vec<u8>),
    ) -> reqwest::Response {
        const BOUNDARY: &str = "----doudi-test-boundary-7f3a";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookies.join("; "))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }
}

/// Post the console's login form as a new browser; the browser and the server's answer.
pub async fn console_login_form(
    app: &TestApp,
    username: &str,
    password: &str,
) -> (Browser, reqwest::Response) {
    let mut b = Browser::new(app);
    let (_, page) = b.get("/console/login").await;
    let csrf = csrf_of(&page);
    let r = b
        .post(
            "/console/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    (b, r)
}

/// Log in to the console; returns the browser and the CSRF token of the queue page.
pub async fn console_login(app: &TestApp, username: &str) -> (Browser, String) {
    let (mut b, r) = console_login_form(app, username, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "console login");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("doudi_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, queue) = b.get("/console/queue").await;
    assert_eq!(status, StatusCode::OK);
    (b, csrf_of(&queue))
}

/// The CSRF token of the first form of a console page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_string()
}
