//! Sync benchmark (DESIGN.md P1–P4, P8): the real `doudi serve` as a child process on SQLite and
//! PostgreSQL, driven over loopback HTTP by simulated phones, with per-document automerge sync
//! (one `automerge::sync::State` per document, as automerge-repo does it) run in process on the
//! same documents as the baseline.
//!
//! ```text
//! cargo build --release --bin doudi
//! cargo run --release -p doudi-tests --bin sync-bench -- --backend both
//! ```
//!
//! Options (defaults in brackets): `--backend sqlite|postgres|both` [both], `--households` [1000],
//! `--visits` [5000], `--devices` [100] ingesting devices, `--ingest-visits` [100] per device,
//! `--ingest-secs` [60] time cap of the ingest, `--pushers` [4] devices populating the scope,
//! `--batch` [100] documents per populating request, `--doudi` path of the server binary
//! [next to this one]. PostgreSQL: `DOUDI_BENCH_PG_URL` (a user that may CREATE DATABASE), else
//! a throwaway cluster is started on 127.0.0.1 from /usr/lib/postgresql/*/bin.
//!
//! Wire bytes: bodies are counted as sent and received; HTTP header bytes are counted at the TCP
//! level through a counting forwarder on 127.0.0.1 (bytes on the socket minus body bytes).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::Automerge;
use automerge::sync::{Message, State, SyncDoc};
use serde_bytes::ByteBuf;

use doudi_protocol::doc::{Household, Visit};
use doudi_protocol::ids::{DocumentId, MemberId};
use doudi_protocol::sync::{
    DocPush, PROTOCOL_VERSION, PushStatus, SyncRequest, SyncResponse, from_cbor, to_cbor,
};
use doudi_tests::bench::{
    Postgres, add_users, counting_forwarder, drop_database, fresh_database, postgres, run_ok,
    settle_database, spawn_serve,
};
use doudi_tests::workload::{
    Client, Ingest, IngestPlan, Rng, Trip, add_observed_income, draft_visit, household, ingest,
    median, offline_visit, proc_status_kib, submit_visit,
};
use doudi_tests::{FIXTURE_CSV, PASSWORD};

/// The grid of the measured device scope (P1–P3).
const SCOPE_GRID: &str = "370102001001-A";
/// The village above it: the colleague (second investigator) works there.
const SCOPE_VILLAGE: &str = "370102001001";
/// Ingesting devices each get their own grid under this village.
const INGEST_VILLAGE: &str = "370103001001";
const JWT_SECRET: &str = "doudi-bench-secret-0123456789abcdef";
/// Bound on any "sync until done" loop.
/// How many new phones make a first sync (P3); the median is reported.
const FIRST_SYNC_RUNS: usize = 3;

const MAX_ROUNDS: usize = 10_000;
/// Smallest page a client may ask for: populating devices only want their push results.
const SMALL_PAGE: u64 = 4096;

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    backends: Vec<Backend>,
    households: usize,
    visits: usize,
    devices: usize,
    ingest_visits: usize,
    ingest_secs: u64,
    pushers: usize,
    batch: usize,
    doudi: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: sync-bench [--backend sqlite|postgres|both] [--households N] [--visits N] \
         [--devices N] [--ingest-visits N] [--ingest-secs S] [--pushers N] [--batch N] [--doudi PATH]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut o = Options {
        backends: vec![Backend::Sqlite, Backend::Postgres],
        households: 1000,
        visits: 5000,
        devices: 100,
        ingest_visits: 100,
        ingest_secs: 60,
        pushers: 4,
        batch: 100,
        doudi: exe.with_file_name("doudi"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else { usage() };
        let num = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--backend" => {
                o.backends = match value.as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    _ => usage(),
                }
            }
            "--households" => o.households = num().max(1),
            "--visits" => o.visits = num(),
            "--devices" => o.devices = num().clamp(1, 1000),
            "--ingest-visits" => o.ingest_visits = num().clamp(1, 100_000),
            "--ingest-secs" => o.ingest_secs = num().clamp(1, 3600) as u64,
            "--pushers" => o.pushers = num().clamp(1, 64),
            "--batch" => o.batch = num().clamp(1, 500),
            "--doudi" => o.doudi = PathBuf::from(value),
            _ => usage(),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------------
// The server process

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// VmRSS and VmHWM of the server process, in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        (
            proc_status_kib(self.pid(), "VmRSS:"),
            proc_status_kib(self.pid(), "VmHWM:"),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn doudi_cmd(o: &Options, dir: &Path, db_url: Option<&str>) -> Command {
    let mut c = Command::new(&o.doudi);
    c.env("DOUDI_DATA_DIR", dir)
        .env("DOUDI_JWT_SECRET", JWT_SECRET)
        .env("DOUDI_ACCESS_TOKEN_TTL_SECS", "7200")
        .env("RUST_LOG", "warn,sqlx=error")
        .env_remove("DATABASE_URL")
        .env_remove("DOUDI_DATABASE_URL")
        .env_remove("DOUDI_CONFIG");
    if let Some(url) = db_url {
        c.env("DATABASE_URL", url);
    }
    c
}

/// The region file: the test fixture plus one grid per ingesting device.
fn region_csv(devices: usize) -> String {
    let mut csv = FIXTURE_CSV.to_string();
    for d in 0..devices {
        csv.push_str(&format!(
            "{INGEST_VILLAGE}-G{d:03},{INGEST_VILLAGE},grid,乙县一村压测网格{d}\n"
        ));
    }
    csv
}

fn ingest_grid(d: usize) -> String {
    format!("{INGEST_VILLAGE}-G{d:03}")
}

/// Migrate, import regions, add accounts (with `doudi` commands), then start `doudi serve`.
fn start_server(o: &Options, db_url: Option<&str>) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("regions.csv");
    std::fs::write(&csv_path, region_csv(o.devices)).expect("write regions");
    let mut c = doudi_cmd(o, dir.path(), db_url);
    c.arg("region").arg("import").arg(&csv_path);
    run_ok(c, None, "doudi region import");

    let mut accounts: Vec<(String, &str, String)> = vec![
        ("bench.worker".into(), "grid_worker", SCOPE_GRID.into()),
        ("bench.colleague".into(), "assistant", SCOPE_VILLAGE.into()),
    ];
    for d in 0..o.devices {
        accounts.push((format!("ingest.{d:03}"), "grid_worker", ingest_grid(d)));
    }
    add_users(|| doudi_cmd(o, dir.path(), db_url), &accounts);

    let (child, addr) = spawn_serve(
        doudi_cmd(o, dir.path(), db_url),
        &dir.path().join("server.log"),
    );
    Server {
        child,
        addr,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------------
// Populating the scope

/// Fill the scope grid with `households` households (created, then edited once) and `visits`
/// submitted visits (drafted, then submitted), pushed by `pushers` devices in batches.
async fn populate(o: &Options, client: &Client, colleague: &str) -> Duration {
    let t = Instant::now();
    let mut tasks = Vec::new();
    let key = client.identity_key().await;
    for p in 0..o.pushers {
        let key = key.clone();
        let mut phone = client.phone("bench.worker").await;
        let client = Client {
            http: client.http.clone(),
            base: client.base.clone(),
            sdk: None,
        };
        let colleague = colleague.to_string();
        let (households, visits, batch, pushers) = (o.households, o.visits, o.batch, o.pushers);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(0xD0D1 + p as u64);
            let me = phone.account_id.clone();
            let investigators = [(me.as_str(), "张网格"), (colleague.as_str(), "刘协理")];
            let mut pending = 0usize;
            let mut pushed = 0usize;
            for h in (p..households).step_by(pushers) {
                let mut content = household(&mut rng, &key, h);
                let members: Vec<MemberId> = content.members.keys().copied().collect();
                let hid = phone.replica.create(SCOPE_GRID, &content).unwrap();
                add_observed_income(&mut content, &mut rng);
                phone
                    .replica
                    .update::<Household>(&hid.to_string(), |h| *h = content)
                    .unwrap();
                pending += 1;
                // Visits of this household: visit i belongs to household i % households.
                for _ in (h..visits).step_by(households) {
                    let draft = draft_visit(&mut rng, hid, &members);
                    let vid = phone.replica.create(SCOPE_GRID, &draft).unwrap();
                    phone
                        .replica
                        .update::<Visit>(&vid.to_string(), |v| {
                            submit_visit(v, &mut rng, &investigators)
                        })
                        .unwrap();
                    pending += 1;
                }
                if pending >= batch {
                    let (out, _) = client.sync_once(&mut phone, Some(SMALL_PAGE)).await;
                    pushed += out.accepted.len();
                    pending = 0;
                }
            }
            let (out, _) = client.sync_once(&mut phone, Some(SMALL_PAGE)).await;
            pushed + out.accepted.len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("populating task");
    }
    assert_eq!(
        total,
        o.households + o.visits,
        "every document accepted once"
    );
    t.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Baseline: per-document automerge sync, in process

#[derive(Debug, Default, Clone, Copy)]
struct Exchange {
    msgs_up: usize,
    msgs_down: usize,
    bytes_up: usize,
    bytes_down: usize,
    time: Duration,
}

impl Exchange {
    fn add(&mut self, o: Exchange) {
        self.msgs_up += o.msgs_up;
        self.msgs_down += o.msgs_down;
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
        self.time += o.time;
    }
}

/// Run the automerge sync protocol between a phone's and the server's copy of one document until
/// neither has anything to send. Messages are encoded and decoded as on a wire.
fn automerge_sync(
    phone: &mut Automerge,
    phone_state: &mut State,
    server: &mut Automerge,
    server_state: &mut State,
) -> Exchange {
    let t = Instant::now();
    let mut ex = Exchange::default();
    for _ in 0..64 {
        let up = phone
            .generate_sync_message(phone_state)
            .map(Message::encode);
        if let Some(bytes) = &up {
            ex.msgs_up += 1;
            ex.bytes_up += bytes.len();
            let m = Message::decode(bytes).expect("message decodes");
            server
                .receive_sync_message(server_state, m)
                .expect("server receives");
        }
        let down = server
            .generate_sync_message(server_state)
            .map(Message::encode);
        if let Some(bytes) = &down {
            ex.msgs_down += 1;
            ex.bytes_down += bytes.len();
            let m = Message::decode(bytes).expect("message decodes");
            phone
                .receive_sync_message(phone_state, m)
                .expect("phone receives");
        }
        if up.is_none() && down.is_none() {
            break;
        }
    }
    ex.time = t.elapsed();
    ex
}

struct Baseline {
    first: Exchange,
    idle: Exchange,
    new_visit: Exchange,
}

/// The three cases on the given documents (compacted bytes), and one new visit's changes.
fn baseline(docs: &[Vec<u8>], new_visit: &[Vec<u8>]) -> Baseline {
    let mut first = Exchange::default();
    let mut idle = Exchange::default();
    for bytes in docs {
        let mut server = Automerge::load(bytes).expect("document loads");
        let mut phone = Automerge::new();
        let (mut ps, mut ss) = (State::new(), State::new());
        first.add(automerge_sync(&mut phone, &mut ps, &mut server, &mut ss));
        // Reconnect: both peers load their persisted sync state (what automerge-repo stores).
        let mut ps = State::decode(&ps.encode()).expect("state decodes");
        let mut ss = State::decode(&ss.encode()).expect("state decodes");
        idle.add(automerge_sync(&mut phone, &mut ps, &mut server, &mut ss));
        assert_eq!(phone.get_heads(), server.get_heads());
    }
    let mut phone = Automerge::new();
    let changes: Vec<automerge::Change> = new_visit
        .iter()
        .map(|c| automerge::Change::try_from(c.as_slice()).expect("change parses"))
        .collect();
    phone.apply_changes(changes).expect("changes apply");
    let mut server = Automerge::new();
    let new_visit = automerge_sync(
        &mut phone,
        &mut State::new(),
        &mut server,
        &mut State::new(),
    );
    Baseline {
        first,
        idle,
        new_visit,
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements

#[derive(Debug, Default, Clone)]
struct Wire {
    body_up: u64,
    /// Answer bodies on the wire.
    body_down: u64,
    /// The same decoded: the protocol's bytes.
    body_decoded: u64,
    header_up: u64,
    header_down: u64,
    trips: usize,
    time: Duration,
    /// Of `time`, the HTTP round trips alone (without the phone applying the responses).
    http: Duration,
}

impl Wire {
    fn from(trips: &[Trip], tcp: (u64, u64), time: Duration) -> Wire {
        let body_up: u64 = trips.iter().map(|t| t.up as u64).sum();
        let body_down: u64 = trips.iter().map(|t| t.down as u64).sum();
        Wire {
            body_up,
            body_down,
            body_decoded: trips.iter().map(|t| t.decoded as u64).sum(),
            header_up: tcp.0.saturating_sub(body_up),
            header_down: tcp.1.saturating_sub(body_down),
            trips: trips.len(),
            time,
            http: trips.iter().map(|t| t.http).sum(),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Report {
    backend: String,
    populate: Duration,
    docs: usize,
    compacted: u64,
    idle: Wire,
    idle_median: Duration,
    new_visit: Wire,
    new_visit_changes: u64,
    new_visit_median: Duration,
    /// The median of [`FIRST_SYNC_RUNS`] first syncs.
    first: Wire,
    /// Each first sync's time, in run order.
    first_times: Vec<Duration>,
    /// The first sync of the phone SDK (`DoudiClient`, encrypted store): time and round trips.
    sdk_first: (Duration, u32),
    /// `AutoCommit::load` of every snapshot of the scope, for comparison with the phone's apply.
    load_all: Duration,
    ingest: Ingest,
    hwm_kib: u64,
}

async fn run_backend(o: &Options, backend: Backend, pg: Option<&Postgres>) -> (Report, Baseline) {
    let db_url = match (backend, pg) {
        (Backend::Postgres, Some(pg)) => Some(fresh_database(&pg.admin_url).await),
        _ => None,
    };
    eprintln!("[{}] starting doudi serve", backend.name());
    let server = start_server(o, db_url.as_deref());
    let direct = Client::new(server.addr);
    let colleague = direct.login("bench.colleague").await.2;

    eprintln!(
        "[{}] populating {} households + {} visits",
        backend.name(),
        o.households,
        o.visits
    );
    let populate_time = populate(o, &direct, &colleague).await;
    if let Some(url) = &db_url {
        settle_database(url).await;
    }

    // Measured phone: through the counting forwarder.
    let (fwd, meter) = counting_forwarder(server.addr).await;
    let client = Client {
        sdk: Some(Arc::new(doudi_sdk::BuiltinTransport::default())),
        ..Client::new(fwd)
    };
    // (c) first sync of the whole scope to an empty phone, paged; three new phones, one after
    // the other, the median reported (single runs on this machine vary by a second).
    eprintln!("[{}] first sync", backend.name());
    let mut firsts = Vec::new();
    let mut phone = None;
    for _ in 0..FIRST_SYNC_RUNS {
        let mut fresh = client.phone("bench.worker").await;
        meter.take();
        let t = Instant::now();
        let mut trips = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let (out, trip) = client.sync_once(&mut fresh, None).await;
            trips.push(trip);
            if !out.more {
                break;
            }
        }
        firsts.push(Wire::from(&trips, meter.take(), t.elapsed()));
        phone = Some(fresh);
    }
    let mut phone = phone.expect("at least one run");
    let first_times: Vec<Duration> = firsts.iter().map(|w| w.time).collect();
    firsts.sort_by_key(|w| w.time);
    let first = firsts[firsts.len() / 2].clone();
    let ids: Vec<String> = phone.replica.ids().cloned().collect();
    let docs: Vec<Vec<u8>> = ids.iter().filter_map(|id| phone.replica.save(id)).collect();
    let compacted: u64 = docs.iter().map(|d| d.len() as u64).sum();
    // What applying the snapshots would cost a phone that keeps each loaded document as it is.
    let t = Instant::now();
    for d in &docs {
        std::hint::black_box(automerge::AutoCommit::load(d).expect("snapshot loads"));
    }
    let load_all = t.elapsed();
    assert_eq!(docs.len(), o.households + o.visits, "whole scope received");

    // The same first sync by the phone SDK itself: its encrypted store and list summaries.
    eprintln!("[{}] first sync through the SDK", backend.name());
    let sdk_dir = tempfile::tempdir().expect("temp dir");
    let sdk = doudi_sdk::DoudiClient::open(
        sdk_dir.path().to_string_lossy().into_owned(),
        vec![0x42; 32],
        format!("http://{}", server.addr),
        None,
    )
    .expect("SDK store opens");
    sdk.login("bench.worker".into(), PASSWORD.into(), "压测手机".into())
        .await
        .expect("SDK login");
    let t = Instant::now();
    let summary = sdk.sync_now(None).await.expect("SDK first sync");
    let sdk_first = (t.elapsed(), summary.rounds);
    assert_eq!(
        summary.documents_received as usize,
        o.households + o.visits,
        "whole scope received by the SDK"
    );
    drop(sdk);

    // (a) idle reconnect of the up-to-date phone.
    let mut idle_times = Vec::new();
    let mut idle = Wire::default();
    for _ in 0..21 {
        let (out, trip) = client.sync_once(&mut phone, None).await;
        assert!(out.updated.is_empty() && !out.more, "nothing new");
        idle = Wire::from(&[trip], meter.take(), trip.http);
        idle_times.push(trip.http);
    }

    // (b) one new visit, made offline (draft, then submitted), pushed in one round trip.
    let mut rng = Rng::new(0xB);
    // A household of the scope: a visit names one (the server checks the reference).
    let household = ids
        .iter()
        .find(|id| phone.replica.read::<Household>(id).is_ok())
        .map(|id| DocumentId::parse(id).unwrap())
        .expect("the scope holds households");
    let me = phone.account_id.clone();
    let mut visit_times = Vec::new();
    let mut new_visit = Wire::default();
    let mut new_visit_changes = 0u64;
    let mut last_changes = Vec::new();
    for _ in 0..11 {
        let (id, changes) = offline_visit(
            &mut rng,
            phone.replica.actor(),
            SCOPE_GRID,
            household,
            &[(me.as_str(), "张网格"), (colleague.as_str(), "刘协理")],
        );
        new_visit_changes = changes.iter().map(|c| c.len() as u64).sum();
        let push = DocPush {
            doc: id,
            changes: changes.iter().cloned().map(ByteBuf::from).collect(),
        };
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: phone.replica.cursor(),
            push: vec![push],
            ..Default::default()
        };
        let body = to_cbor(&req);
        let up = body.len();
        let (bytes, wire, time) = client.post(&phone.access, body).await;
        let resp: SyncResponse = from_cbor(&bytes).expect("response decodes");
        assert_eq!(resp.results[0].status, PushStatus::Accepted);
        phone.replica.apply(resp).expect("applies");
        let trip = Trip {
            up,
            down: wire,
            decoded: bytes.len(),
            http: time,
        };
        new_visit = Wire::from(&[trip], meter.take(), time);
        visit_times.push(time);
        last_changes = changes;
    }

    // (d) ingest from many devices; P8 server memory.
    eprintln!(
        "[{}] ingest: {} devices × up to {} visits, at most {} s",
        backend.name(),
        o.devices,
        o.ingest_visits,
        o.ingest_secs
    );
    let ingest = ingest(&IngestPlan {
        addr: server.addr,
        pid: server.pid(),
        devices: (0..o.devices)
            .map(|d| (format!("ingest.{d:03}"), ingest_grid(d)))
            .collect(),
        visits: o.ingest_visits,
        secs: o.ingest_secs,
        colleague: &colleague,
    })
    .await;
    let hwm_kib = server.memory_kib().1;
    drop(server);
    if let (Some(pg), Some(url)) = (pg, &db_url) {
        drop_database(&pg.admin_url, url).await;
    }

    eprintln!("[{}] baseline: automerge sync per document", backend.name());
    let base = baseline(&docs, &last_changes);

    (
        Report {
            backend: backend.name().into(),
            populate: populate_time,
            docs: docs.len(),
            compacted,
            idle,
            idle_median: median(idle_times),
            new_visit,
            new_visit_changes,
            new_visit_median: median(visit_times),
            first,
            load_all,
            first_times,
            sdk_first,
            ingest,
            hwm_kib,
        },
        base,
    )
}

// ---------------------------------------------------------------------------------------------
// Output

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print_report(r: &Report, b: &Baseline) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!();
    println!("### {}", r.backend);
    println!();
    println!(
        "Scope: {} documents, {} bytes compacted (`Automerge::save()` summed); populated in {:.1} s.",
        r.docs,
        r.compacted,
        r.populate.as_secs_f64()
    );
    println!();
    println!(
        "| case | doudi body up / down (B) | doudi headers up / down (B) | round trips | doudi time | baseline msgs up / down | baseline bytes up / down | ratio doudi/baseline (body bytes, both ways) | target | verdict |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    let ratio = |w: &Wire, e: &Exchange| {
        (w.body_up + w.body_down) as f64 / (e.bytes_up + e.bytes_down).max(1) as f64
    };
    let idle_ok = r.idle.body_up <= 256 && r.idle.body_down <= 256 && r.idle.trips == 1;
    let idle_ok_headers =
        r.idle.body_up + r.idle.header_up <= 256 && r.idle.body_down + r.idle.header_down <= 256;
    println!(
        "| P1 idle reconnect | {} / {} | {} / {} | {} | {} (HTTP, median of 21) | {} / {} | {} / {} | {:.5} | ≤ 256 B each way, 1 round trip | bodies {}; with headers {} |",
        r.idle.body_up,
        r.idle.body_down,
        r.idle.header_up,
        r.idle.header_down,
        r.idle.trips,
        ms(r.idle_median),
        b.idle.msgs_up,
        b.idle.msgs_down,
        b.idle.bytes_up,
        b.idle.bytes_down,
        ratio(&r.idle, &b.idle),
        verdict(idle_ok),
        verdict(idle_ok_headers),
    );
    let p2_ok = r.new_visit.body_up <= r.new_visit_changes + 300;
    println!(
        "| P2 one new visit ({} B of changes) | {} / {} | {} / {} | {} | {} (HTTP, median of 11) | {} / {} | {} / {} | {:.2} | request ≤ changes + 300 B = {} B | {} (request body − changes = {} B) |",
        r.new_visit_changes,
        r.new_visit.body_up,
        r.new_visit.body_down,
        r.new_visit.header_up,
        r.new_visit.header_down,
        r.new_visit.trips,
        ms(r.new_visit_median),
        b.new_visit.msgs_up,
        b.new_visit.msgs_down,
        b.new_visit.bytes_up,
        b.new_visit.bytes_down,
        ratio(&r.new_visit, &b.new_visit),
        r.new_visit_changes + 300,
        verdict(p2_ok),
        r.new_visit.body_up as i64 - r.new_visit_changes as i64,
    );
    // On the wire, as the SDK's transport receives it (gzip-coded); decoded for a client that
    // does not accept gzip.
    let factor = r.first.body_down as f64 / r.compacted.max(1) as f64;
    let decoded = r.first.body_decoded as f64 / r.compacted.max(1) as f64;
    let p3_ok = factor <= 1.2 && r.first.time <= Duration::from_secs(3);
    println!(
        "| P3 first sync | {} / {} | {} / {} | {} | {} | {} / {} | {} / {} | {:.2} | ≤ 1.2 × compacted, ≤ 3 s | {} ({:.3} × compacted on the wire, {decoded:.3} × decoded) |",
        r.first.body_up,
        r.first.body_down,
        r.first.header_up,
        r.first.header_down,
        r.first.trips,
        ms(r.first.time),
        b.first.msgs_up,
        b.first.msgs_down,
        b.first.bytes_up,
        b.first.bytes_down,
        ratio(&r.first, &b.first),
        verdict(p3_ok),
        factor,
    );
    let wire = r.first.body_down + r.first.header_down;
    let p10 = wire as f64 / r.compacted.max(1) as f64;
    println!();
    println!(
        "P10 first sync on the wire (gzip asked for by the SDK's transport): {} B of bodies + {} B \
         of headers down for {} B decoded; {:.3} × compacted (target ≤ 0.6 ×: {})",
        r.first.body_down,
        r.first.header_down,
        r.first.body_decoded,
        p10,
        verdict(p10 <= 0.6),
    );
    println!();
    let i = &r.ingest;
    let rate = i.visits as f64 / i.elapsed.as_secs_f64().max(1e-9);
    println!(
        "| P4/P8 ingest | devices | visits | seconds | visits/s | p50 | p95 | p99 | max | request / response body (mean B) | server RSS before / peak (MiB) | VmHWM whole run (MiB) | verdict |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} | visits/s {}; p99 {}; RSS {} |",
        r.backend,
        i.devices,
        i.visits,
        i.elapsed.as_secs_f64(),
        rate,
        ms(i.p50),
        ms(i.p95),
        ms(i.p99),
        ms(i.max),
        i.mean_up,
        i.mean_down,
        mib(i.rss_before_kib),
        mib(i.rss_peak_kib),
        mib(r.hwm_kib),
        verdict(rate >= 1000.0),
        verdict(i.p99 <= Duration::from_millis(250)),
        verdict(i.rss_peak_kib <= 300 * 1024),
    );
    println!();
    println!(
        "First sync (median of {} new phones; each: {}): {} in all, of which {} HTTP round trips \
         (request sent to response body read) and the rest the phone decoding and taking in {} \
         snapshots; `AutoCommit::load` of those snapshots alone takes {}.",
        r.first_times.len(),
        r.first_times
            .iter()
            .map(|t| ms(*t))
            .collect::<Vec<_>>()
            .join(", "),
        ms(r.first.time),
        ms(r.first.http),
        r.docs,
        ms(r.load_all)
    );
    println!(
        "The same first sync by the phone SDK (`DoudiClient`: encrypted SQLite store, list \
         summaries, one transaction per page): {} in {} round trips.",
        ms(r.sdk_first.0),
        r.sdk_first.1
    );
    println!(
        "Baseline time in process (no network): first sync {}, idle reconnect {}, one new visit {}.",
        ms(b.first.time),
        ms(b.idle.time),
        ms(b.new_visit.time)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let o = options();
    assert!(
        o.doudi.exists(),
        "{} not found: run `cargo build --release --bin doudi` or pass --doudi",
        o.doudi.display()
    );
    let mut pg = None;
    if o.backends.contains(&Backend::Postgres) {
        pg = postgres(None, &["max_connections=300"]);
        if pg.is_none() {
            eprintln!("PostgreSQL unavailable: set DOUDI_BENCH_PG_URL or install postgresql");
        }
    }
    println!("## sync-bench");
    println!();
    println!(
        "households {}, visits {}, ingest devices {} × up to {} visits (cap {} s), populating devices {}, batch {}",
        o.households, o.visits, o.devices, o.ingest_visits, o.ingest_secs, o.pushers, o.batch
    );
    if let Some(p) = &pg {
        println!("PostgreSQL: {}", p.version);
    }
    let mut measured = 0;
    for &b in &o.backends {
        if b == Backend::Postgres && pg.is_none() {
            continue;
        }
        let (report, base) = run_backend(&o, b, pg.as_ref()).await;
        print_report(&report, &base);
        measured += 1;
    }
    if measured == 0 {
        eprintln!("nothing was measured");
        std::process::exit(1);
    }
}
