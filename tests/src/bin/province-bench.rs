//! Province-size benchmark (DESIGN.md P9): a document store of a fraction of a province — 2 M
//! households, 10 M visits, 20,000 grids at `--fraction 1` — on PostgreSQL with its durable
//! defaults, and what each cost is at that size.
//!
//! The province is generated inside PostgreSQL through the server's own write path
//! (`documents::prepare` and `documents::write_batch`, as sync's group commit stores a push): real
//! automerge documents written by device actors (a household created, then edited; a visit
//! drafted, then submitted — one in ten left a draft), their change log, feed sequences, audit
//! entries, identity numbers and projections, in several parallel connections. Every grid holds
//! 100 households and 500 visits, so every village of 10 grids holds 1,000 households and 5,000
//! visits whatever the fraction. The region tree is imported and the accounts added with `doudi`
//! commands. Then, in this order, each figure printed and a markdown table at the end:
//!
//! - the database's size, in total and per household;
//! - with `doudi serve` on the database: ingest from `--devices` devices, each in a generated grid
//!   holding its 600 documents (visits/s, p99); the first sync of a village assistant's phone
//!   (1,000 households + 5,000 visits, the median of three phones, through the SDK's transport);
//!   an idle sync (body bytes each way, time); the review queue and a name search as a township
//!   reviewer and a county approver (p95);
//! - `doudi projections rebuild`, the server stopped: wall time and peak resident set (VmHWM) of
//!   the process;
//! - change-log compaction: one pass of `documents::compact::run` over every change (a cut-off of
//!   now), in a child process of its own: wall time and peak resident set; the size again after.
//!
//! ```text
//! cargo build --release --bin doudi -p doudi-tests --bin province-bench
//! target/release/province-bench --fraction 0.01
//! ```
//!
//! Options (defaults in brackets): `--fraction` [0.01] of the province, `--seed` [1] of the
//! generated content, `--loaders` [3] parallel loading connections, `--batch` [300] documents per
//! loading transaction, `--devices` [100] ingesting devices, `--ingest-visits` [100] per device,
//! `--ingest-secs` [60] time cap of the ingest, `--requests` [50] per console query, `--doudi`
//! path of the server binary [next to this one], `--rebuild-also` another server binary whose
//! `projections rebuild` is timed on the same database at the end of the run (a before/after). PostgreSQL: `DOUDI_BENCH_PG_URL` (a user that
//! may CREATE DATABASE), else a throwaway cluster from /usr/lib/postgresql/*/bin with `fsync`,
//! `synchronous_commit` and `full_page_writes` on; the settings in force are printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

use doudi_protocol::doc::household::Relation;
use doudi_protocol::doc::visit::{Purpose, VisitStatus};
use doudi_protocol::doc::{self, Household, Visit};
use doudi_protocol::ids::{DocumentId, MemberId};
use doudi_protocol::sync::replica::device_actor;
use doudi_server::documents::{Prepared, Writer, prepare, write_batch};
use doudi_server::identity::IdentityKeys;
use doudi_tests::bench::{
    add_users, drop_database, durable_postgres, fresh_database, run_ok, settle_database,
    spawn_serve,
};
use doudi_tests::workload::{
    Client, IngestPlan, Rng, add_observed_income, draft_visit, household, ingest, median,
    percentile, proc_status_kib, submit_visit,
};

const JWT_SECRET: &str = "doudi-bench-secret-0123456789abcdef";
const IDENTITY_SECRET: &str = "doudi-bench-identity-secret-0123456789abcdef";
/// A province at fraction 1.
const PROVINCE_HOUSEHOLDS: f64 = 2_000_000.0;
const PROVINCE_GRIDS: f64 = 20_000.0;
/// Per grid: households, and visits per household (10 M visits at fraction 1).
const HOUSEHOLDS_PER_GRID: usize = 100;
const VISITS_PER_HOUSEHOLD: usize = 5;
/// The region tree: counties of 10 townships of 20 villages of 10 grids.
const TOWNSHIPS: usize = 10;
const VILLAGES: usize = 20;
const GRIDS: usize = 10;
const PROVINCE: &str = "370000000000";
const CITY: &str = "370100000000";
/// How many new phones make the measured first sync; the median is reported.
const FIRST_SYNC_RUNS: usize = 3;
const MAX_ROUNDS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone)]
struct Options {
    fraction: f64,
    seed: u64,
    loaders: usize,
    batch: usize,
    devices: usize,
    ingest_visits: usize,
    ingest_secs: u64,
    requests: usize,
    doudi: PathBuf,
    /// Another server binary whose projection rebuild is timed too, at the end of the run.
    rebuild_also: Option<PathBuf>,
}

impl Options {
    fn grids(&self) -> usize {
        let villages = (self.fraction * PROVINCE_GRIDS / GRIDS as f64).round() as usize;
        villages.max(1) * GRIDS
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: province-bench [--fraction F] [--seed N] [--loaders N] [--batch N] [--devices N] \
         [--ingest-visits N] [--ingest-secs N] [--requests N] [--doudi PATH] [--rebuild-also PATH]\n\
         \x20      province-bench --compact DATABASE_URL   (one compaction pass, used by the bench)"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        fraction: 0.01,
        seed: 1,
        loaders: 3,
        batch: 300,
        devices: 100,
        ingest_visits: 100,
        ingest_secs: 60,
        requests: 50,
        doudi: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("doudi")))
            .unwrap_or_else(|| PathBuf::from("doudi")),
        rebuild_also: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--fraction" => o.fraction = v().parse().unwrap_or_else(|_| usage()),
            "--seed" => o.seed = v().parse().unwrap_or_else(|_| usage()),
            "--loaders" => o.loaders = v().parse().unwrap_or_else(|_| usage()),
            "--batch" => o.batch = v().parse().unwrap_or_else(|_| usage()),
            "--devices" => o.devices = v().parse().unwrap_or_else(|_| usage()),
            "--ingest-visits" => o.ingest_visits = v().parse().unwrap_or_else(|_| usage()),
            "--ingest-secs" => o.ingest_secs = v().parse().unwrap_or_else(|_| usage()),
            "--requests" => o.requests = v().parse().unwrap_or_else(|_| usage()),
            "--doudi" => o.doudi = PathBuf::from(v()),
            "--rebuild-also" => o.rebuild_also = Some(PathBuf::from(v())),
            _ => usage(),
        }
    }
    if o.fraction.is_nan() || o.fraction <= 0.0 || o.loaders == 0 || o.batch == 0 {
        usage();
    }
    o
}

fn doudi_cmd(o: &Options, dir: &Path, db_url: &str) -> Command {
    doudi_at(&o.doudi, dir, db_url)
}

/// The server binary at `program` with the bench's environment.
fn doudi_at(program: &Path, dir: &Path, db_url: &str) -> Command {
    let mut c = Command::new(program);
    c.env("DOUDI_DATA_DIR", dir)
        .env("DOUDI_JWT_SECRET", JWT_SECRET)
        .env("DOUDI_IDENTITY_SECRET", IDENTITY_SECRET)
        .env("DOUDI_ACCESS_TOKEN_TTL_SECS", "7200")
        .env("RUST_LOG", "warn,sqlx=error")
        .env("DATABASE_URL", db_url)
        .env_remove("DOUDI_DATABASE_URL")
        .env_remove("DOUDI_CONFIG");
    c
}

// ---------------------------------------------------------------------------------------------
// The region tree

/// A generated grid: its code and its village's.
#[derive(Debug, Clone)]
struct Grid {
    code: String,
    village: String,
}

/// The county, township, village and grid codes of grid number `g`.
fn grid_codes(g: usize) -> [String; 4] {
    let per_county = TOWNSHIPS * VILLAGES * GRIDS;
    let county = format!("3701{:02}000000", 1 + g / per_county);
    let t = 1 + g % per_county / (VILLAGES * GRIDS);
    let v = 1 + g % (VILLAGES * GRIDS) / GRIDS;
    let township = format!("{}{t:03}000", &county[..6]);
    let village = format!("{}{t:03}{v:03}", &county[..6]);
    let grid = format!("{village}-G{}", g % GRIDS);
    [county, township, village, grid]
}

/// The region file of `grids` grids, and the grids in order.
fn region_csv(grids: usize) -> (String, Vec<Grid>) {
    let mut csv = format!(
        "code,parent_code,level,name\n{PROVINCE},,province,测试省\n{CITY},{PROVINCE},city,测试市\n"
    );
    let mut list = Vec::with_capacity(grids);
    let mut seen = std::collections::HashSet::new();
    for g in 0..grids {
        let [county, township, village, grid] = grid_codes(g);
        if seen.insert(county.clone()) {
            csv.push_str(&format!("{county},{CITY},county,{}县\n", &county[4..6]));
        }
        if seen.insert(township.clone()) {
            csv.push_str(&format!(
                "{township},{county},township,{}镇\n",
                &township[6..9]
            ));
        }
        if seen.insert(village.clone()) {
            csv.push_str(&format!(
                "{village},{township},village,{}村\n",
                &village[9..12]
            ));
        }
        csv.push_str(&format!("{grid},{village},grid,{}网格\n", g % GRIDS + 1));
        list.push(Grid {
            code: grid,
            village,
        });
    }
    (csv, list)
}

// ---------------------------------------------------------------------------------------------
// Loading the province through the server's write path

/// The device of grid `g` (its id, 32 hex characters, and the account it belongs to).
fn grid_device(seed: u64, g: usize) -> String {
    let mut rng = Rng::new(seed ^ 0xDE71_CE00 ^ ((g as u64) << 20));
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

/// Everything a loader needs to store documents as sync stores them.
struct Loader {
    keys: IdentityKeys,
    /// Grid code → materialised path.
    paths: std::collections::HashMap<String, String>,
    /// The account ids the generated changes are logged under (one per ingesting device).
    accounts: Vec<String>,
    colleague: String,
    seed: u64,
}

impl Loader {
    /// The write of a document as sync prepares an accepted push: `am` holds every change.
    fn prepared(
        &self,
        am: &mut automerge::AutoCommit,
        grid: &str,
        account: &str,
        device: &str,
    ) -> Prepared {
        let changes = am.get_changes(&[]);
        let mut after = am.document().clone();
        let header = doc::read_header(&after).expect("header");
        let tree = doc::tree(&after).expect("tree");
        let (read, issues) = doc::read_checked(&tree);
        let errors: Vec<_> = issues
            .iter()
            .filter(|i| i.severity == doc::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "generated document invalid: {errors:?}");
        let content = read.as_ref().map(|(_, c)| c);
        let path = &self.paths[grid];
        let id = header.id.to_string();
        let numbers = doudi_server::identity::rows(&self.keys, &id, path, content)
            .expect("identity numbers open");
        let writer = Writer {
            account_id: account,
            device_id: device,
            client_addr: Some("127.0.0.1"),
            audit_action: doudi_server::sync::AUDIT_ACCEPT,
            audit_detail: None,
        };
        let heads = after.get_heads();
        prepare(
            &writer,
            None,
            &header,
            path,
            &mut after,
            &tree,
            content,
            &changes,
            &heads,
            Vec::new(),
        )
        .expect("prepared")
        .with_identities(numbers)
    }

    /// The 600 documents of grid `g`: households of 1–5 members, each edited once after it was
    /// created, and their visits of several purposes, one in ten left a draft.
    fn grid(&self, g: usize, grid: &Grid) -> Vec<Prepared> {
        let mut rng = Rng::new(self.seed.wrapping_mul(0x1_0000_0001) ^ g as u64);
        let device = grid_device(self.seed, g);
        let actor = device_actor(&device).expect("32 hex");
        let account = &self.accounts[g % self.accounts.len()];
        let investigators = [
            (account.as_str(), "网格员"),
            (self.colleague.as_str(), "协理员"),
        ];
        let key = self.keys.seal_key();
        let mut out = Vec::with_capacity(HOUSEHOLDS_PER_GRID * (1 + VISITS_PER_HOUSEHOLD));
        for h in 0..HOUSEHOLDS_PER_GRID {
            let mut content = household(&mut rng, key, h);
            let size = 1 + rng.below(5) as usize;
            let extra: Vec<MemberId> = content
                .members
                .iter()
                .filter(|(_, m)| m.relation != Relation::Head)
                .map(|(id, _)| *id)
                .collect();
            for id in extra
                .iter()
                .take(content.members.len().saturating_sub(size))
            {
                content.members.remove(id);
            }
            content.address = format!(
                "{}村 {} 排 {} 号",
                &grid.village[9..],
                h / 10 + 1,
                h % 10 + 1
            );
            let members: Vec<MemberId> = content.members.keys().copied().collect();
            let hid = DocumentId::generate().expect("id");
            let mut am =
                doc::create(hid, &grid.code, &content, Some(actor.clone())).expect("household");
            add_observed_income(&mut content, &mut rng);
            doc::write::<Household, _>(&mut am, &content).expect("household written");
            am.commit();
            out.push(self.prepared(&mut am, &grid.code, account, &device));
            for _ in 0..VISITS_PER_HOUSEHOLD {
                let mut visit = draft_visit(&mut rng, hid, &members);
                visit.purpose = [Purpose::Recheck, Purpose::CareVisit, Purpose::FollowUp]
                    [rng.below(3) as usize];
                let vid = DocumentId::generate().expect("id");
                let mut am =
                    doc::create(vid, &grid.code, &visit, Some(actor.clone())).expect("visit");
                if rng.below(10) != 0 {
                    submit_visit(&mut visit, &mut rng, &investigators);
                    debug_assert_eq!(visit.status, VisitStatus::Submitted);
                    doc::write::<Visit, _>(&mut am, &visit).expect("visit written");
                    am.commit();
                }
                out.push(self.prepared(&mut am, &grid.code, account, &device));
            }
        }
        out
    }
}

/// Store every grid's documents, `o.loaders` connections in parallel, each building a grid's
/// documents on a blocking thread and writing them in transactions of `o.batch`.
async fn load(o: &Options, db: &DatabaseConnection, loader: Arc<Loader>, grids: &[Grid]) -> u64 {
    let grids = Arc::new(grids.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.loaders {
        let (db, loader, grids, next) = (db.clone(), loader.clone(), grids.clone(), next.clone());
        let batch = o.batch;
        tasks.push(tokio::spawn(async move {
            let mut stored = 0u64;
            loop {
                let g = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if g >= grids.len() {
                    return stored;
                }
                let (l, gs) = (loader.clone(), grids.clone());
                let docs = tokio::task::spawn_blocking(move || l.grid(g, &gs[g]))
                    .await
                    .expect("grid built");
                for chunk in docs.chunks(batch) {
                    let written = write_batch(&db, chunk).await.expect("documents stored");
                    assert!(written.iter().all(Option::is_some), "every document stored");
                    stored += chunk.len() as u64;
                }
                if g % 100 == 99 {
                    eprintln!(
                        "  {} of {} grids stored, {:.0} s",
                        g + 1,
                        grids.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await.expect("loader");
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Measuring

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

async fn setting(db: &DatabaseConnection, name: &str) -> String {
    let sql = format!("SELECT current_setting('{name}')");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("setting")
        .expect("one row");
    row.try_get_by_index::<String>(0).expect("text")
}

/// The database's size and that of its largest parts, bytes.
async fn sizes(db: &DatabaseConnection) -> Vec<(String, i64)> {
    let mut out = vec![(
        "database".to_string(),
        scalar(db, "SELECT pg_database_size(current_database())").await,
    )];
    for t in [
        "documents",
        "doc_changes",
        "audit_log",
        "identity_numbers",
        "households",
        "members",
        "visits",
    ] {
        let sql = format!("SELECT pg_total_relation_size('{t}')");
        out.push((t.to_string(), scalar(db, &sql).await));
    }
    out
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// Run `c` (named `what`) to the end, print its time and peak RSS, and add both to `rows` as
/// `label`'s.
fn measure_into(rows: &mut Vec<(String, String)>, c: Command, what: &str, label: &str) {
    let (time, peak) = run_measured(c, what);
    println!("  {what}: {:.1} s, peak RSS {peak} KiB", time.as_secs_f64());
    rows.push((
        format!("{label}: time"),
        format!("{:.1} s", time.as_secs_f64()),
    ));
    rows.push((
        format!("{label}: peak RSS"),
        format!("{:.0} MiB", peak as f64 / 1024.0),
    ));
}

/// Run a command to its end, sampling its peak resident set (VmHWM); wall time and peak KiB.
fn run_measured(mut c: Command, what: &str) -> (Duration, u64) {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let t = Instant::now();
    let mut child: Child = c.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let pid = child.id();
    let mut peak = 0;
    loop {
        peak = peak.max(proc_status_kib(pid, "VmHWM:"));
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = t.elapsed();
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "{what} failed");
    println!("  {what}: {}", String::from_utf8_lossy(&out.stdout).trim());
    (elapsed, peak)
}

/// One compaction pass over every change in the database at `url` (the `--compact` mode).
async fn compact_only(url: &str) {
    let db = Database::connect(url).await.expect("connect");
    let before = doudi_server::auth::now_ms() + 1;
    let c = doudi_server::documents::compact::run(&db, before)
        .await
        .expect("compaction");
    println!(
        "{} changes compacted, {} bytes dropped, to feed sequence {}",
        c.changes, c.bytes, c.to_seq
    );
}

/// The first sync of a new phone of `user` through the SDK's transport, as the phone sends it:
/// time, round trips, body bytes up and down (on the wire), documents received.
async fn first_sync(client: &Client, user: &str) -> (Duration, usize, usize, usize, usize) {
    let mut phone = client.phone(user).await;
    let t = Instant::now();
    let (mut trips, mut up, mut down) = (0, 0, 0);
    for _ in 0..MAX_ROUNDS {
        let (out, trip) = client.sync_once(&mut phone, None).await;
        trips += 1;
        up += trip.up;
        down += trip.down;
        if !out.more {
            break;
        }
    }
    (t.elapsed(), trips, up, down, phone.replica.ids().count())
}

/// Wall times of `n` sequential GETs of `path` with `token`, after 3 unmeasured; sorted, and the
/// first answer's `total`.
async fn timed_gets(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    n: usize,
) -> (Vec<Duration>, String) {
    let mut times = Vec::with_capacity(n);
    let mut total = String::new();
    for i in 0..n + 3 {
        let t = Instant::now();
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status}");
        if i >= 3 {
            times.push(t.elapsed());
        }
        if i == 0 {
            total = body["total"].to_string();
        }
    }
    times.sort();
    (times, total)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b.is_ascii_alphanumeric() {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--compact") {
        compact_only(args.get(2).unwrap_or_else(|| usage())).await;
        return;
    }
    let o = options();
    assert!(
        o.doudi.exists(),
        "{} not found (build it, or pass --doudi)",
        o.doudi.display()
    );
    let grids = o.grids();
    let households = grids * HOUSEHOLDS_PER_GRID;
    let visits = households * VISITS_PER_HOUSEHOLD;
    println!(
        "Province bench: fraction {} of {} households: {grids} grids, {households} households, {visits} visits",
        o.fraction, PROVINCE_HOUSEHOLDS
    );
    let pg = durable_postgres(
        Some("C.UTF-8"),
        &[
            "shared_buffers=1GB",
            "maintenance_work_mem=512MB",
            "max_wal_size=8GB",
        ],
    )
    .expect("PostgreSQL under /usr/lib/postgresql, or DOUDI_BENCH_PG_URL");
    println!("PostgreSQL: {}", pg.version);
    let url = fresh_database(&pg.admin_url).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows: Vec<(String, String)> = Vec::new();

    // The region tree and the accounts.
    let (csv, grid_list) = region_csv(grids);
    let csv_path = dir.path().join("regions.csv");
    std::fs::write(&csv_path, csv).expect("regions");
    let mut c = doudi_cmd(&o, dir.path(), &url);
    c.arg("region").arg("import").arg(&csv_path);
    run_ok(c, None, "doudi region import");
    let devices = o.devices.min(grids);
    // The measured village: the last, away from the ingesting devices' grids.
    let village = grid_list.last().expect("a grid").village.clone();
    let [county, township, _, _] = grid_codes(grids - 1);
    let mut accounts: Vec<(String, &str, String)> = vec![
        ("bench.village".into(), "assistant", village.clone()),
        ("bench.town".into(), "town_reviewer", township.clone()),
        ("bench.county".into(), "county_approver", county.clone()),
    ];
    for (d, grid) in grid_list.iter().take(devices).enumerate() {
        accounts.push((format!("ingest.{d:03}"), "grid_worker", grid.code.clone()));
    }
    let t = Instant::now();
    add_users(|| doudi_cmd(&o, dir.path(), &url), &accounts);
    println!(
        "  regions and {} accounts in {:.1} s",
        accounts.len(),
        t.elapsed().as_secs_f64()
    );

    let db = Database::connect(
        ConnectOptions::new(url.clone())
            .max_connections(o.loaders as u32 + 2)
            .sqlx_logging(false)
            .to_owned(),
    )
    .await
    .expect("connect");
    for name in ["fsync", "synchronous_commit", "full_page_writes"] {
        let v = setting(&db, name).await;
        println!("  {name} = {v}");
        rows.push((format!("PostgreSQL {name}"), v));
    }
    let q = |sql: &str| Statement::from_string(db.get_database_backend(), sql);
    let paths = db
        .query_all_raw(q("SELECT code, path FROM regions WHERE level = 'grid'"))
        .await
        .expect("grids")
        .into_iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    let ids = |sql: &str| {
        let db = db.clone();
        let sql = sql.to_string();
        async move {
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("accounts")
                .into_iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let loader_accounts =
        ids("SELECT id FROM accounts WHERE username LIKE 'ingest.%' ORDER BY username").await;
    let colleague =
        ids("SELECT id FROM accounts WHERE username = 'bench.village'").await[0].clone();
    let loader = Arc::new(Loader {
        keys: IdentityKeys::derive(IDENTITY_SECRET.as_bytes()),
        paths,
        accounts: loader_accounts,
        colleague: colleague.clone(),
        seed: o.seed,
    });

    // Generation.
    println!("Generating {} documents ...", households + visits);
    let t = Instant::now();
    let stored = load(&o, &db, loader, &grid_list).await;
    let generation = t.elapsed();
    assert_eq!(stored as usize, households + visits);
    println!(
        "  generated in {:.1} s ({:.0} documents/s); bench process peak RSS {} KiB",
        generation.as_secs_f64(),
        stored as f64 / generation.as_secs_f64(),
        proc_status_kib(std::process::id(), "VmHWM:")
    );
    rows.push((
        "generation (documents stored through the server's write path)".into(),
        format!("{:.1} s", generation.as_secs_f64()),
    ));
    let changes = scalar(&db, "SELECT count(*) FROM doc_changes").await;
    println!("  {stored} documents, {changes} change-log rows");
    let t = Instant::now();
    settle_database(&url).await;
    println!(
        "  VACUUM ANALYZE and CHECKPOINT in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let size = sizes(&db).await;
    for (name, bytes) in &size {
        println!("  size of {name}: {}", mib(*bytes));
    }
    rows.push(("database size".into(), mib(size[0].1)));
    rows.push((
        "database size per household".into(),
        format!("{:.0} B", size[0].1 as f64 / households as f64),
    ));

    // The server.
    let (mut child, addr) = spawn_serve(
        doudi_cmd(&o, dir.path(), &url),
        &dir.path().join("server.log"),
    );
    let sdk_client = Client {
        sdk: Some(Arc::new(doudi_sdk::BuiltinTransport::default())),
        ..Client::new(addr)
    };
    println!("First sync of the village ({village}): {FIRST_SYNC_RUNS} phones ...");
    let mut firsts = Vec::new();
    for _ in 0..FIRST_SYNC_RUNS {
        let f = first_sync(&sdk_client, "bench.village").await;
        println!(
            "  {} documents in {} round trips, {} ({} B up, {} B down on the wire)",
            f.4,
            f.1,
            ms(f.0),
            f.2,
            f.3
        );
        assert_eq!(
            f.4,
            GRIDS * HOUSEHOLDS_PER_GRID * (1 + VISITS_PER_HOUSEHOLD),
            "the village's documents"
        );
        firsts.push(f);
    }
    firsts.sort_by_key(|f| f.0);
    let first = firsts[firsts.len() / 2];
    rows.push((
        "first sync, 1,000 households + 5,000 visits (median of 3)".into(),
        format!(
            "{}, {} round trips, {} B down",
            ms(first.0),
            first.1,
            first.3
        ),
    ));

    let mut phone = sdk_client.phone("bench.village").await;
    for _ in 0..MAX_ROUNDS {
        if !sdk_client.sync_once(&mut phone, None).await.0.more {
            break;
        }
    }
    let mut idle_times = Vec::new();
    let mut idle = (0, 0);
    for _ in 0..21 {
        let (out, trip) = sdk_client.sync_once(&mut phone, None).await;
        assert!(out.updated.is_empty() && !out.more, "nothing new");
        idle = (trip.up, trip.down);
        idle_times.push(trip.http);
    }
    let idle_time = median(idle_times);
    println!(
        "Idle sync: {} B up, {} B down (bodies), median {}",
        idle.0,
        idle.1,
        ms(idle_time)
    );
    rows.push((
        "idle sync (median of 21)".into(),
        format!("{} B up / {} B down, {}", idle.0, idle.1, ms(idle_time)),
    ));

    // Console queries.
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let town = sdk_client.login("bench.town").await.0;
    let county_token = sdk_client.login("bench.county").await.0;
    let name = "王建";
    let queries = [
        (
            "review queue, township",
            "/api/v1/review/queue".to_string(),
            &town,
        ),
        (
            "review queue, county",
            "/api/v1/review/queue".to_string(),
            &county_token,
        ),
        (
            "search q=王建, township",
            format!("/api/v1/households?q={}", enc(name)),
            &town,
        ),
        (
            "search q=王建, county",
            format!("/api/v1/households?q={}", enc(name)),
            &county_token,
        ),
    ];
    println!("Console queries, {} requests each:", o.requests);
    for (label, path, token) in &queries {
        let (times, total) = timed_gets(&http, &base, path, token, o.requests).await;
        let (p50, p95) = (percentile(&times, 0.5), percentile(&times, 0.95));
        println!(
            "  {label:<28} p50 {:>9} p95 {:>9} total {total}",
            ms(p50),
            ms(p95)
        );
        rows.push((
            format!("{label}: p95 (total)"),
            format!("{} ({total})", ms(p95)),
        ));
    }

    // Ingest.
    println!(
        "Ingest: {devices} devices × up to {} visits, at most {} s ...",
        o.ingest_visits, o.ingest_secs
    );
    let got = ingest(&IngestPlan {
        addr,
        pid: child.id(),
        devices: (0..devices)
            .map(|d| (format!("ingest.{d:03}"), grid_list[d].code.clone()))
            .collect(),
        visits: o.ingest_visits,
        secs: o.ingest_secs,
        colleague: &colleague,
    })
    .await;
    let rate = got.visits as f64 / got.elapsed.as_secs_f64();
    println!(
        "  {} visits in {:.1} s: {rate:.0} visits/s, p50 {} p95 {} p99 {} max {}; server RSS peak {} KiB",
        got.visits,
        got.elapsed.as_secs_f64(),
        ms(got.p50),
        ms(got.p95),
        ms(got.p99),
        ms(got.max),
        got.rss_peak_kib
    );
    rows.push((
        format!("ingest, {devices} devices"),
        format!("{rate:.0} visits/s, p99 {}", ms(got.p99)),
    ));
    rows.push((
        "server peak RSS (whole run)".into(),
        format!(
            "{:.0} MiB",
            proc_status_kib(child.id(), "VmHWM:") as f64 / 1024.0
        ),
    ));
    let _ = child.kill();
    let _ = child.wait();

    // Projection rebuild.
    println!("doudi projections rebuild ...");
    let mut c = doudi_cmd(&o, dir.path(), &url);
    c.args(["projections", "rebuild"]);
    measure_into(
        &mut rows,
        c,
        "doudi projections rebuild",
        "`doudi projections rebuild`",
    );
    settle_database(&url).await;

    // Compaction, after the server's figures: it drops the bytes the syncs above could use.
    println!("Change-log compaction, one pass over every change ...");
    let mut c = Command::new(std::env::current_exe().expect("this binary"));
    c.args(["--compact", &url]);
    measure_into(
        &mut rows,
        c,
        "compaction",
        "change-log compaction, one pass",
    );
    settle_database(&url).await;
    let after = scalar(&db, "SELECT pg_database_size(current_database())").await;
    println!(
        "  database size after compaction and VACUUM: {}",
        mib(after)
    );
    rows.push((
        "database size after compaction (VACUUM, not FULL)".into(),
        mib(after),
    ));

    println!(
        "\n| P9, fraction {} ({households} households, {visits} visits, {grids} grids) | figure |\n|---|---|",
        o.fraction
    );
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
    if let Some(other) = &o.rebuild_also {
        let mut c = doudi_at(other, dir.path(), &url);
        c.args(["projections", "rebuild"]);
        let (time, peak) = run_measured(c, &format!("{} projections rebuild", other.display()));
        println!(
            "\n{} projections rebuild on the same database: {:.1} s, peak RSS {:.0} MiB",
            other.display(),
            time.as_secs_f64(),
            peak as f64 / 1024.0
        );
    }
    db.close().await.ok();
    drop_database(&pg.admin_url, &url).await;
    drop(pg);
}
