//! The fault tests' harness (tests/tests/e2e/faults.rs): `doudi serve` as a child process that is
//! killed and started again on the same address and data; phones (the real SDK, each with its own
//! encrypted store) that capture and sync on threads of their own and record every change the
//! server told them it accepted; and the checks after the faults: every accepted change is
//! stored, none is stored twice, every phone holds what the server holds, and the projections
//! equal a rebuild from the documents.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use doudi_protocol::role::Role;
use doudi_protocol::sync::{PushStatus, SyncRequest, SyncResponse, from_cbor};
use doudi_sdk::{
    BuiltinTransport, Conclusion, DoudiClient, DoudiError, HttpRequest, HttpResponse,
    IncomeNoteInput, LivingConditions, NewMemberInput, PhotoCategory, Transport, TransportError,
    VisitPurpose,
};
use doudi_server::accounts::{self, NewAccount};
use doudi_server::config::{Secret, Settings};
use doudi_server::{db, regions};
use sea_orm::DatabaseConnection;

use crate::bench::spawn_serve_on;
use crate::{FIXTURE_CSV, PASSWORD, stored};

// ---------------------------------------------------------------------------------------------
// Seeds and counts

/// SplitMix64: a small seeded generator, the same sequence for a seed on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator of one participant (a phone, the killer, the proxy) of a seeded run.
    pub fn stream(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// 32 random bytes (a made-up blob hash).
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo) + 1))
    }

    /// One of `items`, uniformly; `None` when there are none.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len() as u64) as usize])
    }
}

/// The seed of a run: `DOUDI_FAULT_SEED` to replay one, else from the clock. Printed, with the
/// command that replays it (`test`: its path in the e2e binary; a bare name is one of
/// tests/tests/e2e/faults.rs).
pub fn seed(test: &str) -> u64 {
    let path = if test.contains("::") {
        test.to_string()
    } else {
        format!("faults::{test}")
    };
    let seed = std::env::var("DOUDI_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!(
        "{test}: seed {seed} (replay: DOUDI_FAULT_SEED={seed} cargo test -p doudi-tests --test e2e {path})"
    );
    seed
}

/// A count from the environment variable `var` (a longer local run), else `default`.
pub fn count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The server as a child process

/// The `doudi` binary of the server crate: `DOUDI_BIN`, else built next to this test binary by
/// `cargo build --workspace --bin doudi` (the build `cargo test --workspace` makes, so usually
/// there is nothing to do).
pub fn doudi_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        if let Ok(p) = std::env::var("DOUDI_BIN")
            && !p.is_empty()
        {
            return PathBuf::from(p);
        }
        // <target>/<profile>/deps/<this test>
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target directory");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .args(["build", "--quiet", "--workspace", "--bin", "doudi"])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(status.success(), "cargo build --bin doudi failed");
        profile_dir.join("doudi")
    })
    .clone()
}

/// `doudi serve` as a child process on a data directory of its own (SQLite) or a given
/// PostgreSQL database; started again on the same address after [`Serve::kill`]. Killed on drop.
pub struct Serve {
    dir: tempfile::TempDir,
    database_url: Option<String>,
    addr: SocketAddr,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Serve {
    /// A server on `database_url` (`None`: SQLite in a temporary data directory) with the
    /// default settings (an empty configuration file, whatever `DOUDI_CONFIG` says), not started
    /// yet. Its database gets the test regions ([`FIXTURE_CSV`]).
    pub async fn new(database_url: Option<String>) -> Serve {
        let serve = Serve::unprepared(database_url);
        let db = serve.connect().await;
        db::migrate(&db).await.expect("migrate");
        regions::import_csv(&db, FIXTURE_CSV, 1000, None)
            .await
            .expect("fixture imports");
        db.close().await.ok();
        serve
    }

    /// A server on `database_url` (`None`: SQLite in a temporary data directory, which stays
    /// empty) with the default settings, its database left as it is: nothing created, migrated or
    /// imported (a restore's target, say). Not started yet.
    pub fn unprepared(database_url: Option<String>) -> Serve {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("doudi.toml"), "").expect("write config");
        Serve {
            dir,
            database_url,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
            starts: 0,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            data_dir: self.dir.path().join("data"),
            database_url: self.database_url.clone().map(Secret::new),
            ..Settings::default()
        }
    }

    /// A connection of the test's own to the server's database.
    pub async fn connect(&self) -> DatabaseConnection {
        db::connect(&self.settings()).await.expect("connect")
    }

    /// A `doudi` command on this server's data and settings.
    pub fn command(&self) -> Command {
        let mut c = Command::new(doudi_exe());
        c.env_remove("DATABASE_URL")
            .env_remove("DOUDI_CONFIG")
            .env("RUST_LOG", "warn,sqlx=error")
            .env("DOUDI_DATA_DIR", self.dir.path().join("data"))
            .arg("--config")
            .arg(self.dir.path().join("doudi.toml"));
        if let Some(url) = &self.database_url {
            c.env("DATABASE_URL", url);
        }
        c
    }

    /// Start (again) on the address of the first start.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let (child, addr) = spawn_serve_on(self.command(), self.addr, &self.log_path());
        self.addr = addr;
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no shutdown, no flush; the next start finds the data as the kill left it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process started last is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// The last lines the server logged (all its starts).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `doudi projections rebuild` on this server's database.
    pub fn rebuild_projections(&self) {
        let mut c = self.command();
        c.args(["projections", "rebuild"]);
        crate::bench::run_ok(c, None, "doudi projections rebuild");
    }
}

/// `POST base path` with the JSON `body` (and a bearer `token`): the JSON answer (null when none).
pub async fn post_json(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> serde_json::Value {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request sent");
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

/// Log in over HTTP at `base` (a [`Serve`]'s) as `username` with [`PASSWORD`] on a new device
/// named `device`: the access token.
pub async fn access_token(base: &str, username: &str, device: &str) -> String {
    let body = serde_json::json!({ "username": username, "password": PASSWORD,
        "device": { "name": device, "platform": "android" } });
    let login = post_json(base, "/api/v1/auth/login", None, body).await;
    login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {username}: {login}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Phones

/// The grids of [`FIXTURE_CSV`] the fleet works in, and the village that holds both.
pub const GRID_A: &str = "370102001001-A";
pub const GRID_B: &str = "370102001001-B";
pub const VILLAGE: &str = "370102001001";

/// The phone's transport: the built-in one, recording every change of each push the server
/// answered `accepted` (document id, change hash), as the phone was told, and counting the
/// requests that got no answer (the SDK retries those before it reports a network error).
#[derive(Default)]
pub struct Recorder {
    inner: BuiltinTransport,
    accepted: Mutex<BTreeSet<(String, ChangeHash)>>,
    unanswered: AtomicU64,
}

impl Transport for Recorder {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let push = if request.url.ends_with("/api/v1/sync") {
            from_cbor::<SyncRequest>(&request.body).ok().map(|r| r.push)
        } else {
            None
        };
        let resp = self.inner.send(request).inspect_err(|_| {
            self.unanswered.fetch_add(1, Ordering::SeqCst);
        })?;
        // The SDK decodes a gzip-coded page after its transport; the record reads it the same way.
        let resp = doudi_sdk::decoded(resp)?;
        if let Some(push) = push.filter(|p| !p.is_empty())
            && resp.status == 200
            && let Ok(answer) = from_cbor::<SyncResponse>(&resp.body)
        {
            let mut accepted = self.accepted.lock().unwrap();
            for r in answer.results {
                if r.status != PushStatus::Accepted {
                    continue;
                }
                for p in push.iter().filter(|p| p.doc == r.doc) {
                    for c in &p.changes {
                        let hash = Change::try_from(c.as_slice())
                            .expect("the phone pushed a change")
                            .hash();
                        accepted.insert((r.doc.clone(), hash));
                    }
                }
            }
        }
        Ok(resp)
    }
}

/// One phone: an account, its store, the SDK and the record of its transport.
pub struct Device {
    pub username: String,
    /// The grids its account's regions cover: its scope.
    pub grids: Vec<&'static str>,
    pub client: Arc<DoudiClient>,
    pub record: Arc<Recorder>,
    _store: tempfile::TempDir,
}

/// What the phones went through while the faults went on.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub captures: u64,
    pub syncs_ok: u64,
    /// `DoudiError::Network`: no answer (connection refused, reset, cut).
    pub network: u64,
    /// 502, 503 or 504 with the server's JSON error: retry later.
    pub unavailable: u64,
    /// Anything else the SDK surfaced (none is expected).
    pub other: Vec<String>,
    /// Documents the server refused (none is expected).
    pub rejected: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, o: Tally) {
        self.captures += o.captures;
        self.syncs_ok += o.syncs_ok;
        self.network += o.network;
        self.unavailable += o.unavailable;
        self.other.extend(o.other);
        self.rejected.extend(o.rejected);
    }

    /// Count one sync's outcome.
    fn sync(&mut self, who: &str, r: Result<doudi_sdk::SyncSummary, DoudiError>) -> bool {
        match r {
            Ok(s) => {
                self.syncs_ok += 1;
                for d in s.rejected {
                    self.rejected.push(format!("{who}: {} {}", d.id, d.code));
                }
                true
            }
            Err(DoudiError::Network { .. }) => {
                self.network += 1;
                false
            }
            Err(DoudiError::Server {
                status: 502..=504,
                error_code,
                ..
            }) if error_code.starts_with("server.") => {
                self.unavailable += 1;
                false
            }
            Err(e) => {
                self.other.push(format!("{who}: {} ({e})", e.code()));
                false
            }
        }
    }
}

/// Phones of accounts in grids A and B.
pub struct Fleet {
    pub devices: Vec<Arc<Device>>,
    /// Whether [`Fleet::ingest`] also photographs visits (each photo a blob to upload).
    pub photos: bool,
}

impl Fleet {
    /// `n` accounts created in the server's database and logged in on phones of their own that
    /// reach it at `base` (the server's, or a proxy's in front of it):
    /// every fourth an assistant (社会救助协理员) of the village, whose scope holds both grids,
    /// the others grid workers (网格员) of grid A or B; so every document is shared by several.
    pub async fn new(serve: &Serve, base: &str, n: usize) -> Fleet {
        let db = serve.connect().await;
        let mut accounts = Vec::new();
        for i in 0..n {
            let (role, region, grids) = match i % 4 {
                3 => (Role::Assistant, VILLAGE, vec![GRID_A, GRID_B]),
                k if k % 2 == 0 => (Role::GridWorker, GRID_A, vec![GRID_A]),
                _ => (Role::GridWorker, GRID_B, vec![GRID_B]),
            };
            let username = format!("phone.{i:02}");
            accounts::create(
                &db,
                NewAccount {
                    username: username.clone(),
                    display_name: format!("手机{i}"),
                    role,
                    password: PASSWORD.into(),
                    region_codes: vec![region.into()],
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create {username}: {:?}", e.body().message_en));
            accounts.push((username, grids));
        }
        db.close().await.ok();
        let mut devices = Vec::new();
        for (username, grids) in accounts {
            let store = tempfile::tempdir().expect("temp dir");
            let record = Arc::new(Recorder::default());
            let client = DoudiClient::open(
                store.path().to_string_lossy().into_owned(),
                vec![0x42; 32],
                base.to_string(),
                Some(record.clone()),
            )
            .expect("store opens");
            client
                .login(username.clone(), PASSWORD.into(), "测试手机".into())
                .await
                .unwrap_or_else(|e| panic!("login {username}: {e}"));
            devices.push(Arc::new(Device {
                username,
                grids,
                client,
                record,
                _store: store,
            }));
        }
        Fleet {
            devices,
            photos: false,
        }
    }

    /// Every phone captures and syncs in a loop on a thread of its own until `stop`: a few
    /// captures (a household registered, a visit started, a visit of a shared household
    /// edited), a sync, a pause of up to 200 ms. Join the handles for the tallies.
    pub fn ingest(&self, seed: u64, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Tally>> {
        let rt = tokio::runtime::Handle::current();
        let photos = self.photos;
        self.devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (d, stop, rt) = (d.clone(), stop.clone(), rt.clone());
                let mut rng = Rng::stream(seed, 1000 + i as u64);
                std::thread::Builder::new()
                    .name(d.username.clone())
                    .spawn(move || {
                        let mut tally = Tally::default();
                        while !stop.load(Ordering::SeqCst) {
                            for _ in 0..1 + rng.below(3) {
                                d.capture(&mut rng, photos);
                                tally.captures += 1;
                            }
                            let r = rt.block_on(d.client.sync_now(None));
                            tally.sync(&d.username, r);
                            std::thread::sleep(rng.millis(0, 200));
                        }
                        tally
                    })
                    .expect("spawn phone thread")
            })
            .collect()
    }

    /// Join the threads of [`Fleet::ingest`].
    pub fn join(handles: Vec<std::thread::JoinHandle<Tally>>) -> Tally {
        let mut all = Tally::default();
        for h in handles {
            all.add(h.join().expect("a phone thread panicked"));
        }
        all
    }

    /// Every phone syncs until a sync succeeds, all at once, twice: the first round pushes what
    /// is left, the second brings everyone what the others pushed in the first. Counted in
    /// `tally`; panics when a phone cannot sync within `attempts`.
    pub async fn settle(&self, tally: &mut Tally, attempts: u32) {
        for _ in 0..2 {
            let rounds = self.devices.iter().map(|d| {
                let d = d.clone();
                async move {
                    let mut t = Tally::default();
                    for _ in 0..attempts {
                        if t.sync(&d.username, d.client.sync_now(None).await) {
                            return t;
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    panic!(
                        "{} could not sync in {attempts} attempts: {t:?}",
                        d.username
                    );
                }
            });
            for t in futures_util::future::join_all(rounds).await {
                tally.add(t);
            }
        }
    }

    /// Requests of all phones that got no answer (each retried by the SDK).
    pub fn unanswered(&self) -> u64 {
        self.devices
            .iter()
            .map(|d| d.record.unanswered.load(Ordering::SeqCst))
            .sum()
    }

    /// Every (document, change) some phone was told was accepted.
    pub fn accepted(&self) -> BTreeSet<(String, ChangeHash)> {
        let mut all = BTreeSet::new();
        for d in &self.devices {
            all.extend(d.record.accepted.lock().unwrap().iter().cloned());
        }
        all
    }
}

impl Device {
    /// One capture, as a field worker makes them: register a household, start a visit, or edit
    /// a draft visit (often another phone's: several phones work on the same households), with
    /// `photos` also photograph one.
    fn capture(&self, rng: &mut Rng, photos: bool) {
        let c = &self.client;
        let households = c.households(String::new());
        let drafts = c.draft_visits();
        let n = rng.below(1_000_000);
        let roll = rng.below(10);
        let result = if households.is_empty() || roll < 2 {
            let grid = rng.pick(&self.grids).expect("a grid").to_string();
            c.create_household(Some(grid), format!("一村 {n} 号"), format!("户主{n}"), None)
                .map(drop)
        } else if drafts.is_empty() || roll < 4 {
            let h = rng.pick(&households).expect("a household");
            c.start_visit(h.id.clone(), VisitPurpose::CareVisit)
                .map(drop)
        } else {
            let v = rng.pick(&drafts).expect("a draft").id.clone();
            match rng.below(if photos { 5 } else { 4 }) {
                4 => c
                    .attach_photo(
                        v,
                        crate::blobs::tiny_png(n as u32),
                        PhotoCategory::DwellingInside,
                        Some(format!("屋内 {n}")),
                        1_763_800_000_000,
                        None,
                        None,
                    )
                    .map(drop),
                0 => c.set_living_conditions(
                    v,
                    LivingConditions {
                        food: Some(format!("粮食够吃 {n}")),
                        housing: n.is_multiple_of(2).then(|| format!("砖房 {n}")),
                        ..Default::default()
                    },
                ),
                1 => c
                    .add_member(
                        v,
                        NewMemberInput {
                            name: format!("成员{n}"),
                            id_number: None,
                            relation: "child".into(),
                            note: None,
                        },
                    )
                    .map(drop),
                2 => c
                    .add_income_note(
                        v,
                        IncomeNoteInput {
                            is_asset: n.is_multiple_of(3),
                            description: format!("务工收入 {n}"),
                            declared_fen: Some((n % 500_000) as i64),
                            observed_fen: None,
                            note: None,
                        },
                    )
                    .map(drop),
                _ => c.set_conclusion(
                    v,
                    Some(Conclusion::PartlyAccurate),
                    Some(format!("核实中 {n}")),
                ),
            }
        };
        if let Err(e) = result {
            panic!("{}: a capture failed: {e}", self.username);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

/// What the checks counted.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub documents: usize,
    /// Rows of the change log.
    pub changes_logged: u64,
    /// Distinct changes the phones were told were accepted, each checked on the server.
    pub accepted_checked: usize,
    pub lost: usize,
    pub duplicates: usize,
    /// What differs, one line each; none when all is well.
    pub problems: Vec<String>,
}

/// After the last sync: stop the server (which must still run) and check its database against
/// the phones; what differs goes to [`Figures::problems`]:
/// - every change a phone was told was accepted is in the change log and in its document;
/// - no change is logged twice, and each document's log holds exactly the changes of its
///   snapshot, whose heads are the stored heads;
/// - every phone holds exactly the documents of its grids, each with the server's heads, and
///   knows that the server has all of its changes (nothing left to push);
/// - the projections equal a rebuild (`doudi projections rebuild`).
pub async fn verify(serve: &mut Serve, fleet: &Fleet, context: &str) -> Figures {
    assert!(
        serve.running(),
        "{context}: the server exited:\n{}",
        serve.log_tail()
    );
    serve.kill();
    let db = serve.connect().await;
    let docs = stored::documents(&db).await;
    let log = stored::change_log_counts(&db).await;
    let mut problems = Vec::new();

    // A change is identified by its hash: counted over all documents, so that one stored under
    // two documents counts too.
    let mut by_hash: BTreeMap<&str, u64> = BTreeMap::new();
    for ((_, hash), n) in &log {
        *by_hash.entry(hash.as_str()).or_insert(0) += n;
    }
    let duplicates: Vec<_> = by_hash.iter().filter(|(_, n)| **n > 1).collect();
    if !duplicates.is_empty() {
        problems.push(format!(
            "{} changes stored more than once, e.g. {:?}",
            duplicates.len(),
            &duplicates[..duplicates.len().min(5)]
        ));
    }

    // Each document's changes and heads, from its snapshot.
    let mut server: BTreeMap<&str, (BTreeSet<ChangeHash>, Vec<ChangeHash>)> = BTreeMap::new();
    for (id, d) in &docs {
        let am = Automerge::load(&d.snapshot).expect("a stored snapshot loads");
        let changes: BTreeSet<ChangeHash> = am.get_changes(&[]).iter().map(|c| c.hash()).collect();
        let heads = am.get_heads();
        let stored_heads: BTreeSet<&str> = d.heads.split(',').collect();
        let snapshot_heads: BTreeSet<String> = heads.iter().map(|h| h.to_string()).collect();
        if stored_heads != snapshot_heads.iter().map(String::as_str).collect() {
            problems.push(format!(
                "document {id}: heads {stored_heads:?}, its snapshot's {snapshot_heads:?}"
            ));
        }
        let logged: BTreeSet<String> = log
            .range((id.clone(), String::new())..)
            .take_while(|((doc, _), _)| doc == id)
            .map(|((_, h), _)| h.clone())
            .collect();
        let in_snapshot: BTreeSet<String> = changes.iter().map(|h| h.to_string()).collect();
        if logged != in_snapshot {
            problems.push(format!(
                "document {id}: change log {} changes, snapshot {}; only logged {:?}, only in the snapshot {:?}",
                logged.len(),
                in_snapshot.len(),
                logged.difference(&in_snapshot).collect::<Vec<_>>(),
                in_snapshot.difference(&logged).collect::<Vec<_>>(),
            ));
        }
        server.insert(id, (changes, heads));
    }

    let accepted = fleet.accepted();
    let lost: Vec<_> = accepted
        .iter()
        .filter(|(doc, hash)| {
            !log.contains_key(&(doc.clone(), hash.to_string()))
                || !server
                    .get(doc.as_str())
                    .is_some_and(|(changes, _)| changes.contains(hash))
        })
        .collect();
    if !lost.is_empty() {
        problems.push(format!(
            "{} accepted changes are not on the server, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        ));
    }

    for d in &fleet.devices {
        let expected: BTreeSet<&str> = docs
            .values()
            .filter(|doc| d.grids.contains(&doc.scope.as_str()))
            .map(|doc| doc.id.as_str())
            .collect();
        let held: BTreeSet<String> = d
            .client
            .document_ids()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let held: BTreeSet<&str> = held.iter().map(String::as_str).collect();
        if held != expected {
            problems.push(format!(
                "{} holds {} documents, its scope {}: missing {:?}, extra {:?}",
                d.username,
                held.len(),
                expected.len(),
                expected.difference(&held).collect::<Vec<_>>(),
                held.difference(&expected).collect::<Vec<_>>(),
            ));
        }
        let pending = d.client.pending_changes().unwrap();
        if pending > 0 {
            problems.push(format!(
                "{} holds {pending} documents with changes the server has not acknowledged",
                d.username
            ));
        }
        let mut behind = Vec::new();
        for id in expected.intersection(&held) {
            let bytes = d.client.document_bytes(id).unwrap().expect("held");
            let local = Automerge::load(&bytes).expect("a phone's document loads");
            let (_, heads) = &server[id];
            let mine: BTreeSet<ChangeHash> = local.get_heads().into_iter().collect();
            if mine != heads.iter().copied().collect() {
                let unknown = local.get_missing_deps(heads).len();
                behind.push(format!(
                    "{id} ({unknown} server heads unknown to the phone)"
                ));
            }
        }
        if !behind.is_empty() {
            problems.push(format!(
                "{}: {} documents differ from the server's: {:?}",
                d.username,
                behind.len(),
                &behind[..behind.len().min(5)]
            ));
        }
    }

    let incremental = stored::projections(&db).await;
    db.close().await.ok();
    serve.rebuild_projections();
    let db = serve.connect().await;
    let rebuilt = stored::projections(&db).await;
    db.close().await.ok();
    if rebuilt != incremental {
        problems.push("the projections differ from a rebuild from the documents".into());
    }

    Figures {
        documents: docs.len(),
        changes_logged: log.values().sum(),
        accepted_checked: accepted.len(),
        lost: lost.len(),
        duplicates: duplicates.len(),
        problems,
    }
}
