//! P6, P12 and P13 (docs/BENCHMARKS.md): the console at county size, on PostgreSQL.
//!
//! Generates households (with members and their 身份证号 in `identity_numbers`, hashed with the
//! server's keyed hash) and visits (one in five the investigation of an application, with its
//! programme, its acceptance 2–10 days before, one in 100 of them extended and one in 50 with a
//! 近亲属备案) over a generated region tree straight into the projection
//! tables of a fresh PostgreSQL database (server-side `INSERT … SELECT` over `generate_series`),
//! starts the real `doudi serve` on it, and measures on loopback:
//!
//! - `p6`: review-queue pages, the console queue and household search as a township reviewer and
//!   a county approver (wall time per request, one request at a time), in several rounds
//!   (`--rounds`, 3) with a fresh `ANALYZE` before each round after the first, as autovacuum
//!   would take new samples in production: a query whose plan depends on the sample shows as a
//!   p95 that moves between rounds, and an answer that depends on the plan as a total that does;
//! - `p12`: the county's household ledger downloaded as CSV and as XLSX by the county approver:
//!   time and the server's peak resident set during the download (VmHWM, reset before each);
//! - `p13`: a department list of `--import-rows` lines (残疾人登记, 4 in 5 naming distinct members,
//!   1 in 5 people of another county) imported and matched by the county approver in one request:
//!   time and the server's peak resident set, with the import's limits raised to take it.
//!
//! ```text
//! cargo build --release -p doudi-server --bin doudi -p doudi-tests --bin console-bench
//! target/release/console-bench [--households N] [--visits N] [--requests N] [--rounds N]
//!     [--measure p6,p12,p13] [--import-rows N] [--doudi PATH]
//! ```
//!
//! PostgreSQL: `DOUDI_BENCH_PG_URL` (an admin URL), or a throwaway cluster from
//! /usr/lib/postgresql/*/bin (as user `postgres` when run as root), initialised with the
//! `C.UTF-8` locale so that pattern-ops and trigram indexes are what make `LIKE` fast.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

use doudi_tests::PASSWORD;
use doudi_tests::bench::{drop_database, fresh_database, postgres, run_ok, spawn_serve};

const JWT_SECRET: &str = "doudi-bench-secret-0123456789abcdef";
/// The identity secret the server runs with, so that the generated `identity_numbers` carry the
/// keyed hashes the server computes (`doudi_server::identity::IdentityKeys`).
const IDENTITY_SECRET: &str = "doudi-bench-identity-secret-0123456789abcdef";
const COUNTY: &str = "370102000000";
const TOWNSHIPS: usize = 10;
const VILLAGES: usize = 20;
const GRIDS: usize = 5;

struct Options {
    households: u64,
    visits: u64,
    requests: usize,
    rounds: usize,
    doudi: PathBuf,
    /// What to measure: `p6` (queries), `p12` (county export), `p13` (department import).
    measure: Vec<String>,
    /// Lines of the department list P13 imports.
    import_rows: u64,
}

impl Options {
    fn measures(&self, what: &str) -> bool {
        self.measure.iter().any(|m| m == what)
    }
}

fn options() -> Options {
    let exe = std::env::current_exe().expect("current exe");
    let mut o = Options {
        households: 1_000_000,
        visits: 5_000_000,
        requests: 200,
        rounds: 3,
        doudi: exe.with_file_name("doudi"),
        measure: vec!["p6".into(), "p12".into()],
        import_rows: 1_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--households" => o.households = val().parse().unwrap_or_else(|_| usage()),
            "--visits" => o.visits = val().parse().unwrap_or_else(|_| usage()),
            "--requests" => o.requests = val().parse().unwrap_or_else(|_| usage()),
            "--rounds" => o.rounds = val().parse().unwrap_or_else(|_| usage()),
            "--doudi" => o.doudi = val().into(),
            "--measure" => o.measure = val().split(',').map(str::to_owned).collect(),
            "--import-rows" => o.import_rows = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let known = ["p6", "p12", "p13"];
    if o.households == 0
        || o.rounds == 0
        || o.measure.is_empty()
        || o.measure.iter().any(|m| !known.contains(&m.as_str()))
    {
        usage()
    }
    o
}

fn usage() -> ! {
    eprintln!(
        "usage: console-bench [--households N (1000000)] [--visits N (5000000)] \
         [--requests N (200)] [--rounds N (3)] [--measure p6,p12,p13 (p6,p12)] \
         [--import-rows N (1000000)] [--doudi PATH]"
    );
    std::process::exit(2)
}

// ---------------------------------------------------------------------------------------------
// The server

fn doudi_cmd(o: &Options, dir: &Path, db_url: &str) -> Command {
    let mut c = Command::new(&o.doudi);
    c.env("DOUDI_DATA_DIR", dir)
        .env("DOUDI_JWT_SECRET", JWT_SECRET)
        .env("DOUDI_ACCESS_TOKEN_TTL_SECS", "7200")
        .env("DOUDI_IDENTITY_SECRET", IDENTITY_SECRET)
        .env("RUST_LOG", "warn,sqlx=error")
        .env("DATABASE_URL", db_url)
        .env_remove("DOUDI_DATABASE_URL")
        .env_remove("DOUDI_CONFIG");
    c
}

/// County → townships → villages → grids, 12-digit codes as in the national scheme.
fn region_csv() -> String {
    let mut csv = String::from(
        "code,parent_code,level,name\n370000000000,,province,测试省\n\
         370100000000,370000000000,city,测试市\n370102000000,370100000000,county,甲县\n",
    );
    for t in 1..=TOWNSHIPS {
        let town = format!("370102{t:03}000");
        csv.push_str(&format!("{town},{COUNTY},township,第{t}镇\n"));
        for v in 1..=VILLAGES {
            let village = format!("370102{t:03}{v:03}");
            csv.push_str(&format!("{village},{town},village,{t}镇{v}村\n"));
            for g in 0..GRIDS {
                let l = (b'A' + g as u8) as char;
                csv.push_str(&format!("{village}-{l},{village},grid,{t}镇{v}村{l}网格\n"));
            }
        }
    }
    csv
}

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Import regions and add the two reviewers (with `doudi` commands, which also migrate).
fn prepare(o: &Options, dir: &Path, db_url: &str) {
    let csv = dir.join("regions.csv");
    std::fs::write(&csv, region_csv()).expect("regions");
    let mut c = doudi_cmd(o, dir, db_url);
    c.arg("region").arg("import").arg(&csv);
    run_ok(c, None, "doudi region import");
    for (user, role, region) in [
        ("bench.town", "town_reviewer", "370102001000"),
        ("bench.county", "county_approver", COUNTY),
    ] {
        let mut c = doudi_cmd(o, dir, db_url);
        c.args(["user", "add", "--username", user, "--display-name", user])
            .args(["--role", role, "--region", region]);
        run_ok(c, Some(&format!("{PASSWORD}\n")), "doudi user add");
    }
}

fn serve(o: &Options, dir: tempfile::TempDir, db_url: &str) -> Server {
    let mut c = doudi_cmd(o, dir.path(), db_url);
    if o.measures("p13") {
        // One list of `--import-rows` lines in one request: the limits raised to fit it, as
        // docs/MONITORING.md tells an operator to for a province's list.
        c.env(
            "DOUDI_MAX_IMPORT_ROWS",
            o.import_rows.max(200_000).to_string(),
        )
        .env("DOUDI_MAX_IMPORT_BYTES", (256u64 << 20).to_string())
        .env("DOUDI_REQUEST_TIMEOUT_SECS", "900");
    }
    let (child, addr) = spawn_serve(c, &dir.path().join("server.log"));
    Server {
        child,
        addr,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------------
// Data

/// The weights of the 身份证号's check character (GB 11643).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Person `k`'s 身份证号: address code 370102, a birth date from 1940 on, a sequence number and
/// the check character (GB 11643). `bench_id` in SQL computes the same.
fn person_id(address: &str, k: u64) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date")
        + chrono::Days::new((k / 1_000) % 25_000);
    let body = format!("{address}{}{:03}", birth.format("%Y%m%d"), k % 1_000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// SQL functions the generator uses (dropped at its end): `bench_id(k)` as `person_id`, its
/// masked form, and the server's keyed hash (HMAC-SHA256, pgcrypto) under `key`, the hash key
/// derived from `IDENTITY_SECRET` (`hash_key`).
fn bench_functions(key: &str) -> String {
    // The check character's weighted sum in integer arithmetic: 370102 contributes 97, then the
    // birth date's digits (YYYYMMDD) and the sequence number's (weights of `WEIGHTS` 6..17).
    let fixed: u32 = b"370102"
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!(
        "CREATE FUNCTION bench_id(k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$ \
           SELECT '370102' || to_char(d, 'YYYYMMDD') || lpad(s::text, 3, '0') \
             || substr('10X98765432', 1 + ({fixed} + 2 * (y / 1000) + (y / 100 % 10) + 6 * (y / 10 % 10) \
               + 3 * (y % 10) + 7 * (m / 10) + 9 * (m % 10) + 10 * (dd / 10) + 5 * (dd % 10) \
               + 8 * (s / 100) + 4 * (s / 10 % 10) + 2 * (s % 10)) % 11, 1) \
           FROM (SELECT d, s, extract(year FROM d)::int AS y, extract(month FROM d)::int AS m, \
             extract(day FROM d)::int AS dd \
             FROM (SELECT date '1940-01-01' + ((k / 1000) % 25000)::int AS d, (k % 1000)::int AS s) AS a) AS b $$; \
         CREATE FUNCTION bench_masked(id text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ \
           SELECT substr(id, 1, 6) || '****' || substr(id, 15, 4) $$; \
         CREATE FUNCTION bench_hash(label text, t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ \
           SELECT encode(hmac(convert_to(label, 'UTF8') || '\\x00'::bytea || convert_to(t, 'UTF8') \
             || '\\x00'::bytea, decode('{key}', 'hex'), 'sha256'), 'hex') $$"
    )
}

/// The server's hash key (HMAC of its purpose under the identity secret), computed by pgcrypto.
async fn hash_key(db: &DatabaseConnection) -> String {
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        .await
        .expect("pgcrypto (PostgreSQL's contrib modules)");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT encode(hmac(convert_to('doudi identity hmac', 'UTF8') || '\\x00'::bytea, \
                   convert_to('{IDENTITY_SECRET}', 'UTF8'), 'sha256'), 'hex') AS k"
            ),
        ))
        .await
        .expect("hash key")
        .expect("a row");
    row.try_get::<String>("", "k").expect("k")
}

/// Households, members (three each) and visits, generated inside PostgreSQL.
async fn generate(db: &DatabaseConnection, households: u64, visits: u64) {
    let now_ms = doudi_server::auth::now_ms();
    let key = hash_key(db).await;
    let steps = [
        ("functions", bench_functions(&key)),
        (
            "grid table",
            "CREATE TABLE bench_grids AS \
             SELECT (row_number() OVER (ORDER BY code) - 1)::bigint AS k, code, path \
             FROM regions WHERE level = 'grid'"
                .to_string(),
        ),
        (
            "households",
            format!(
                "INSERT INTO households (doc_id, scope, region_path, address, hukou_type, programmes, \
                   head_name, member_count, updated_seq) \
                 SELECT 'h' || lpad(i::text, 31, '0'), g.code, g.path, \
                   g.code || ' ' || (ARRAY['幸福里','和平路','解放街','建设巷','文化东路','山水小区','花园街','新华路'])[1 + (i / 7) % 8] \
                     || ' ' || (i % 300)::text || '号', \
                   CASE WHEN i % 3 = 0 THEN 'urban' ELSE 'rural' END, \
                   CASE WHEN i % 25 = 0 THEN 'tekun_dispersed' WHEN i % 4 = 0 THEN 'dibao' ELSE '' END, \
                   (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林'])[1 + i % 16] \
                     || (ARRAY['建','秀','国','明','玉','志','春','海','红','文'])[1 + (i / 16) % 10] \
                     || (ARRAY['国','英','华','兰','军','芳','平','强','梅','林','东','霞'])[1 + (i / 160) % 12], \
                   3, i \
                 FROM generate_series(0, {n}) AS i \
                 JOIN bench_grids g ON g.k = i % (SELECT count(*) FROM bench_grids)",
                n = households - 1
            ),
        ),
        (
            "members",
            format!(
                "INSERT INTO members (doc_id, member_id, name, id_number_masked, relation, co_resident, removed, region_path) \
                 SELECT 'h' || lpad(i::text, 31, '0'), 'm' || m::text, \
                   CASE WHEN m = 0 THEN \
                     (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林'])[1 + i % 16] \
                     || (ARRAY['建','秀','国','明','玉','志','春','海','红','文'])[1 + (i / 16) % 10] \
                     || (ARRAY['国','英','华','兰','军','芳','平','强','梅','林','东','霞'])[1 + (i / 160) % 12] \
                   ELSE (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林'])[1 + (i * 7 + m) % 16] \
                     || (ARRAY['小','子','思','雨','晓','家','佳','若'])[1 + (i / 3 + m) % 8] \
                     || (ARRAY['明','红','宇','涵','轩','怡','博','琳','浩','婷'])[1 + (i + m * 3) % 10] END, \
                   bench_masked(bench_id(i * 3 + m)), \
                   CASE m WHEN 0 THEN 'head' WHEN 1 THEN 'spouse' ELSE 'child' END, true, false, g.path \
                 FROM generate_series(0, {n}) AS i CROSS JOIN generate_series(0, 2) AS m \
                 JOIN bench_grids g ON g.k = i % (SELECT count(*) FROM bench_grids)",
                n = households - 1
            ),
        ),
        (
            "identity numbers",
            format!(
                "INSERT INTO identity_numbers (doc_id, entry, region_path, searchable, masked, sealed, \
                   hash_full, hash_tail4, hash_tail5, hash_tail6) \
                 SELECT 'h' || lpad(i::text, 31, '0'), 'members.m' || m::text, g.path, true, \
                   bench_masked(x.id), '\\x00'::bytea, bench_hash('whole', x.id), \
                   bench_hash('tail4', right(x.id, 4)), bench_hash('tail5', right(x.id, 5)), \
                   bench_hash('tail6', right(x.id, 6)) \
                 FROM generate_series(0, {n}) AS i CROSS JOIN generate_series(0, 2) AS m \
                 CROSS JOIN LATERAL (SELECT bench_id(i * 3 + m) AS id OFFSET 0) AS x \
                 JOIN bench_grids g ON g.k = i % (SELECT count(*) FROM bench_grids)",
                n = households - 1
            ),
        ),
        (
            "visits",
            format!(
                "INSERT INTO visits (doc_id, household_id, scope, region_path, purpose, status, mode, \
                   started_at_ms, ended_at_ms, submitted_at_ms, investigator_count, conclusion, photo_count, updated_seq, \
                   applied_for, accepted_on, case_extended, kin_filing) \
                 SELECT 'v' || lpad(j::text, 31, '0'), 'h' || lpad((j % {h})::text, 31, '0'), g.code, g.path, \
                   CASE WHEN j % 5 = 0 THEN 'investigation' ELSE 'recheck' END, \
                   CASE WHEN s < 90 THEN 'confirmed' WHEN s < 95 THEN 'submitted' \
                        WHEN s < 97 THEN 'approved' WHEN s < 98 THEN 'returned' \
                        WHEN s < 99 THEN 'rejected' ELSE 'draft' END, \
                   'in_person', {now} - t * 3600000 - 1800000, {now} - t * 3600000, \
                   CASE WHEN s < 99 THEN {now} - t * 3600000 + (j % 7) ELSE NULL END, \
                   2, CASE WHEN s < 99 THEN 'accurate' ELSE NULL END, 3, {h} + j, \
                   CASE WHEN j % 5 <> 0 THEN NULL WHEN j % 15 = 0 THEN 'tekun_dispersed' ELSE 'dibao' END, \
                   CASE WHEN j % 5 = 0 THEN to_char(to_timestamp(({now} - t * 3600000) / 1000.0 - (2 + j % 9) * 86400) \
                     AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') END, \
                   j % 500 = 0, j % 250 = 0 \
                 FROM generate_series(0::bigint, {n}) AS j \
                 CROSS JOIN LATERAL (SELECT ((j / 1000) * 7 + j % 1000) % 100 AS s, \
                   ((j / 1000) * 389 + (j % 1000) * 761) % 1000 AS t) AS mix \
                 JOIN bench_grids g ON g.k = (j % {h}) % (SELECT count(*) FROM bench_grids)",
                h = households,
                n = visits.saturating_sub(1),
                now = now_ms,
            ),
        ),
        (
            "drop helpers",
            "DROP TABLE bench_grids; DROP FUNCTION bench_hash(text, text); \
             DROP FUNCTION bench_masked(text); DROP FUNCTION bench_id(bigint)"
                .to_string(),
        ),
        ("vacuum analyze", "VACUUM ANALYZE".to_string()),
    ];
    // The identity numbers' secondary indexes are built after their rows, not row by row.
    let indexes: Vec<(String, String)> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'identity_numbers' \
             AND indexname NOT LIKE '%pkey'",
        ))
        .await
        .expect("indexes")
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String>("", "indexname").expect("name"),
                r.try_get::<String>("", "indexdef").expect("def"),
            )
        })
        .collect();
    for (what, sql) in steps {
        if what == "visits" && visits == 0 {
            continue;
        }
        if what == "identity numbers" {
            for (name, _) in &indexes {
                db.execute_unprepared(&format!("DROP INDEX {name}"))
                    .await
                    .expect("drop index");
            }
        }
        let t = Instant::now();
        db.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if what == "identity numbers" {
            for (_, def) in &indexes {
                db.execute_unprepared(def).await.expect("create index");
            }
        }
        println!("  {what:<16} {:>8.1} s", t.elapsed().as_secs_f64());
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    async fn login(&self, user: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({
                "username": user, "password": PASSWORD,
                "device": { "name": "console-bench", "platform": "web" },
            }))
            .send()
            .await
            .expect("login");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "login {user}: {status} {v}");
        v["access_token"].as_str().unwrap_or_default().to_string()
    }

    /// The console session cookie (login form with its CSRF double submit).
    async fn console_login(&self, user: &str) -> String {
        let r = self
            .client
            .get(format!("{}/console/login", self.base))
            .send()
            .await
            .expect("login page");
        let cookie = cookie_pair(&r, "doudi_login_csrf").expect("csrf cookie");
        let page = r.text().await.unwrap_or_default();
        let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        let csrf = &page[at..at + page[at..].find('"').unwrap_or(0)];
        let r = self
            .client
            .post(format!("{}/console/login", self.base))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={user}&password={PASSWORD}&csrf={csrf}"))
            .send()
            .await
            .expect("console login");
        cookie_pair(&r, "doudi_session").expect("session cookie")
    }

    /// Wall times of `n` sequential GETs; the first answer's body for a look.
    async fn time(&self, path: &str, auth: &Auth, n: usize) -> (Vec<Duration>, Value) {
        let mut times = Vec::with_capacity(n);
        let mut first = Value::Null;
        for i in 0..n {
            let req = auth.on(self.client.get(format!("{}{path}", self.base)));
            let t = Instant::now();
            let r = req.send().await.expect("request");
            let status = r.status();
            let body = r.bytes().await.expect("body");
            times.push(t.elapsed());
            assert!(status.is_success(), "{path}: {status}");
            if i == 0 {
                first = serde_json::from_slice(&body).unwrap_or(Value::Null);
            }
        }
        times.sort();
        (times, first)
    }
}

enum Auth {
    Bearer(String),
    Cookie(String),
}

impl Auth {
    fn on(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Cookie(c) => req.header("cookie", c),
        }
    }
}

fn cookie_pair(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .find(|p| p.starts_with(&format!("{name}=")))
}

fn pct(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The server's resident set now and its peak since the last `reset_peak` (VmRSS, VmHWM), MiB.
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// Start the server's peak resident set afresh (Linux: `clear_refs` 5).
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
}

/// P12: the county's household ledger, as CSV and as XLSX, as the county approver downloads it.
async fn p12(http: &Http, county: &Auth, pid: u32, households: u64) -> bool {
    println!("\nP12 county export: {households} households (the county approver's whole county)");
    println!(
        "  {:<22} {:>9} {:>12} {:>10} {:>12} {:>12}",
        "export", "seconds", "bytes", "rows", "RSS before", "peak RSS"
    );
    let mut ok = true;
    for (label, format) in [("households, CSV", "csv"), ("households, XLSX", "xlsx")] {
        reset_peak(pid);
        let (before, _) = rss(pid);
        let t = Instant::now();
        let r = county
            .on(http.client.get(format!(
                "{}/api/v1/exports/households?format={format}",
                http.base
            )))
            .send()
            .await
            .expect("export");
        let status = r.status();
        let body = r.bytes().await.expect("export body");
        let secs = t.elapsed().as_secs_f64();
        let (_, peak) = rss(pid);
        assert!(status.is_success(), "export {format}: {status}");
        // CSV: one line a household after the header. XLSX: a workbook (ZIP) — its rows are
        // the same query's, written by the same pages.
        let rows = if format == "csv" {
            let n = body.iter().filter(|b| **b == b'\n').count() as u64 - 1;
            assert_eq!(n, households, "one CSV line per household");
            n.to_string()
        } else {
            assert!(body.starts_with(b"PK"), "an XLSX workbook");
            "—".into()
        };
        let met = secs <= 60.0 && peak <= 300.0;
        ok &= met;
        println!(
            "  {label:<22} {secs:>9.1} {:>12} {rows:>10} {before:>9.0} MiB {peak:>8.0} MiB  {}",
            body.len(),
            if met { "≤ 60 s, ≤ 300 MiB" } else { "OVER" }
        );
    }
    ok
}

/// P13: a department list (残疾人登记) of `rows` lines imported by the county approver and
/// matched against every member: 4 lines in 5 name a member (distinct people), 1 in 5 a person
/// of another county; grades 1–4 in turn, so the grade 1–2 lines raise alerts.
async fn p13(http: &Http, county: &Auth, pid: u32, households: u64, rows: u64) -> bool {
    let persons = households * 3;
    let mut csv = String::with_capacity(rows as usize * 48);
    csv.push_str("身份证号,姓名,登记日期,残疾等级\n");
    let mut expect_matched = 0u64;
    let day0 = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    for j in 0..rows {
        let id = if j % 5 == 4 {
            person_id("370103", j)
        } else {
            expect_matched += 1;
            person_id("370102", (j * 7919) % persons)
        };
        let day = day0 + chrono::Days::new(j % 300);
        csv.push_str(&format!("{id},测试{},{day},{}\n", j % 1000, 1 + j % 4));
    }
    println!(
        "\nP13 department import: {rows} lines ({} bytes) against {households} households \
         ({persons} members, all in the importer's county)",
        csv.len()
    );
    reset_peak(pid);
    let (before, _) = rss(pid);
    let t = Instant::now();
    let r = county
        .on(http.client.post(format!(
            "{}/api/v1/monitoring/imports?source=disability&file_name=bench.csv",
            http.base
        )))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let secs = t.elapsed().as_secs_f64();
    let (_, peak) = rss(pid);
    assert!(status.is_success(), "import: {status} {}", v["code"]);
    assert_eq!(v["rows"].as_u64(), Some(rows), "every line read");
    assert_eq!(v["matched"].as_u64(), Some(expect_matched), "matched lines");
    let met = secs <= 300.0 && peak <= 500.0;
    println!(
        "  {:>9} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "seconds", "matched", "unmatched", "alerts", "RSS before", "peak RSS"
    );
    println!(
        "  {secs:>9.1} {:>9} {:>9} {:>9} {before:>8.0} MiB {peak:>8.0} MiB  {}",
        v["matched"],
        v["unmatched"],
        v["alerts"],
        if met {
            "≤ 5 min, ≤ 500 MiB: met"
        } else {
            "OVER"
        }
    );
    met
}

#[tokio::main]
async fn main() {
    let o = options();
    assert!(
        o.doudi.exists(),
        "{} not found (build it, or pass --doudi)",
        o.doudi.display()
    );
    let pg = postgres(
        Some("C.UTF-8"),
        &["shared_buffers=512MB", "maintenance_work_mem=512MB"],
    )
    .expect("PostgreSQL under /usr/lib/postgresql, or DOUDI_BENCH_PG_URL");
    println!("PostgreSQL: {}", pg.version);
    let url = fresh_database(&pg.admin_url).await;
    let dir = tempfile::tempdir().expect("temp dir");
    prepare(&o, dir.path(), &url);
    println!(
        "Console bench: {} households ({} members), {} visits, {} grids",
        o.households,
        o.households * 3,
        o.visits,
        TOWNSHIPS * VILLAGES * GRIDS
    );
    let db = Database::connect(&url).await.expect("connect");
    let t = Instant::now();
    generate(&db, o.households, o.visits).await;
    println!("  generated in {:.1} s", t.elapsed().as_secs_f64());
    // The generated numbers are valid, and hashed as the server hashes them.
    let first = person_id("370102", 0);
    doudi_protocol::id_number::IdNumber::parse(&first).expect("a valid 身份证号");
    let stored = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT hash_full FROM identity_numbers WHERE doc_id = 'h{:0>31}' AND entry = 'members.m0'",
                0
            ),
        ))
        .await
        .expect("hash")
        .and_then(|r| r.try_get::<String>("", "hash_full").ok());
    let keys = doudi_server::identity::IdentityKeys::derive(IDENTITY_SECRET.as_bytes());
    assert_eq!(
        stored.as_deref(),
        Some(
            keys.hash(doudi_server::identity::Lookup::Whole, &first)
                .as_str()
        ),
        "generated hashes are the server's"
    );

    let server = serve(&o, dir, &url);
    let http = Http {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: format!("http://{}", server.addr),
    };
    let town = Auth::Bearer(http.login("bench.town").await);
    let county = Auth::Bearer(http.login("bench.county").await);
    let town_console = Auth::Cookie(http.console_login("bench.town").await);
    let county_console = Auth::Cookie(http.console_login("bench.county").await);

    let mut all_met = true;
    if o.measures("p6") {
        // A deep page: page 1 says how many there are.
        let (_, p1) = http.time("/api/v1/review/queue", &town, 1).await;
        let deep_town = (p1["pages"].as_u64().unwrap_or(1) * 9 / 10).max(1);
        let (_, p1) = http.time("/api/v1/review/queue", &county, 1).await;
        let deep_county = (p1["pages"].as_u64().unwrap_or(1) * 9 / 10).max(1);
        let name = "王建";
        let address = "和平路 12号";
        let queries: Vec<(String, String, &Auth)> = vec![
            (
                "queue, township, page 1".into(),
                "/api/v1/review/queue".into(),
                &town,
            ),
            (
                format!("queue, township, page {deep_town}"),
                format!("/api/v1/review/queue?page={deep_town}"),
                &town,
            ),
            (
                "queue, township, status=returned".into(),
                "/api/v1/review/queue?status=returned".into(),
                &town,
            ),
            (
                "queue, county, page 1".into(),
                "/api/v1/review/queue".into(),
                &county,
            ),
            (
                format!("queue, county, page {deep_county}"),
                format!("/api/v1/review/queue?page={deep_county}"),
                &county,
            ),
            (
                "queue, county, status=submitted".into(),
                "/api/v1/review/queue?status=submitted".into(),
                &county,
            ),
            (
                "applications, county, all statuses".into(),
                "/api/v1/review/queue?purpose=investigation&status=all".into(),
                &county,
            ),
            (
                "applications, township, submitted".into(),
                "/api/v1/review/queue?purpose=investigation".into(),
                &town,
            ),
            (
                "console queue, township".into(),
                "/console/queue".into(),
                &town_console,
            ),
            (
                "console queue, county".into(),
                "/console/queue".into(),
                &county_console,
            ),
            (
                format!("search, township, q={name}"),
                format!("/api/v1/households?q={}", enc(name)),
                &town,
            ),
            (
                format!("search, county, q={name}"),
                format!("/api/v1/households?q={}", enc(name)),
                &county,
            ),
            (
                format!("search, county, q={address}"),
                format!("/api/v1/households?q={}", enc(address)),
                &county,
            ),
            (
                "search, county, q=0420 (ID suffix)".into(),
                "/api/v1/households?q=0420".into(),
                &county,
            ),
            (
                format!("console search, county, q={name}"),
                format!("/console/households?q={}", enc(name)),
                &county_console,
            ),
        ];
        // Per query and round: p50, p95, max and the answer's total.
        let mut rounds: Vec<Vec<(f64, f64, f64, String)>> = vec![Vec::new(); queries.len()];
        for round in 1..=o.rounds {
            if round > 1 {
                let t = Instant::now();
                db.execute_unprepared("ANALYZE").await.expect("ANALYZE");
                println!(
                    "  round {round}: statistics sampled again (ANALYZE, {:.1} s)",
                    t.elapsed().as_secs_f64()
                );
            }
            for (i, (_, path, auth)) in queries.iter().enumerate() {
                // Warm up (first-touch of pages and plans), then measure.
                let _ = http.time(path, auth, 3).await;
                let (t, first) = http.time(path, auth, o.requests).await;
                let total = first["total"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "html".into());
                rounds[i].push((pct(&t, 0.5), pct(&t, 0.95), pct(&t, 1.0), total));
            }
        }
        let p95_heads: String = (1..=o.rounds)
            .map(|r| format!(" {:>8}", format!("p95 r{r}")))
            .collect();
        println!(
            "\n  {:<40} {:>9}{p95_heads} {:>9} {:>9} {:>9}  {:>9}",
            "query", "p50 ms", "worst p95", "max ms", "total", "≤ 100 ms"
        );
        let mut all_ok = true;
        let mut stable = true;
        for ((label, _, _), r) in queries.iter().zip(&rounds) {
            let worst = r.iter().map(|x| x.1).fold(0.0, f64::max);
            let max = r.iter().map(|x| x.2).fold(0.0, f64::max);
            let p50 = r.iter().map(|x| x.0).fold(0.0, f64::max);
            let totals: Vec<&str> = r.iter().map(|x| x.3.as_str()).collect();
            let same = totals.iter().all(|t| *t == totals[0]);
            stable &= same;
            all_ok &= worst <= 100.0;
            let p95s: String = r.iter().map(|x| format!(" {:>8.1}", x.1)).collect();
            let total = if same {
                totals[0].to_string()
            } else {
                totals.join("/")
            };
            println!(
                "  {label:<40} {p50:>9.1}{p95s} {worst:>9.1} {max:>9.1} {total:>9}  {:>9}",
                if worst <= 100.0 { "yes" } else { "NO" }
            );
        }
        println!(
            "\nP6 target p95 ≤ 100 ms in every round: {}",
            if all_ok { "met" } else { "MISSED" }
        );
        println!(
            "Answers the same in every round: {}",
            if stable { "yes" } else { "NO (see total)" }
        );
        all_met &= all_ok;
    }
    let pid = server.child.id();
    if o.measures("p12") {
        all_met &= p12(&http, &county, pid, o.households).await;
    }
    if o.measures("p13") {
        all_met &= p13(&http, &county, pid, o.households, o.import_rows).await;
    }
    println!(
        "\nEvery target measured met: {}",
        if all_met { "yes" } else { "NO" }
    );
    db.close().await.ok();
    drop(server);
    drop_database(&pg.admin_url, &url).await;
    drop(pg);
}
