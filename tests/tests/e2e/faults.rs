//! Faults under ingest: `doudi serve` killed with SIGKILL at random moments, connections cut in
//! the middle of requests and answers, PostgreSQL stopped and started under a running server.
//! Phones (the real SDK) capture and sync throughout, retrying as they would in the field; at the
//! end nothing a phone was told was accepted is lost, nothing is stored twice, every phone holds
//! what the server holds, and the projections equal a rebuild (`doudi_tests::faults::verify`).
//!
//! Every run prints its seed; `DOUDI_FAULT_SEED` replays one, and `DOUDI_FAULT_KILLS`,
//! `DOUDI_FAULT_CUTS`, `DOUDI_FAULT_OUTAGES`, `DOUDI_FAULT_SECS` and `DOUDI_FAULT_DEVICES` make
//! a longer run
//! (docs/RELIABILITY.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use doudi_protocol::sync::{PROTOCOL_VERSION, SyncRequest, to_cbor};
use doudi_tests::bench::{fresh_database, postgres_bin_dir, throwaway_postgres};
use doudi_tests::faults::{self, Fleet, Rng, Serve, Tally};
use doudi_tests::proxy::CuttingProxy;
use doudi_tests::{Backend, PASSWORD, fresh_pg_database, spawn_app_with};
use serde_json::{Value, json};

/// Which errors the SDK may surface during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surfaced {
    /// None: nothing went wrong.
    Nothing,
    /// Network errors only (no answer).
    Network,
    /// Network errors and the server's 502, 503 or 504 (retry later).
    Retryable,
}

/// One fault test: its seed, the server, the phones ingesting on their threads.
struct Run {
    name: &'static str,
    seed: u64,
    started: Instant,
    serve: Serve,
    /// Between the phones and the server, when the run cuts connections.
    proxy: Option<CuttingProxy>,
    fleet: Fleet,
    stop: Arc<AtomicBool>,
    phones: Vec<std::thread::JoinHandle<Tally>>,
}

impl Run {
    /// Start `doudi serve` on `database_url` (`None`: SQLite), log the phones in
    /// (through a [`CuttingProxy`], not cutting yet, when `proxy`) and start them ingesting.
    async fn start(name: &'static str, database_url: Option<String>, proxy: bool) -> Run {
        let seed = faults::seed(name);
        let started = Instant::now();
        let mut serve = Serve::new(database_url).await;
        serve.start();
        let proxy = match proxy {
            true => Some(CuttingProxy::start(serve.addr(), Rng::stream(seed, 2).next_u64()).await),
            false => None,
        };
        let base = proxy
            .as_ref()
            .map_or_else(|| serve.base(), |p| format!("http://{}", p.addr));
        let devices = faults::count("DOUDI_FAULT_DEVICES", 20) as usize;
        let fleet = Fleet::new(&serve, &base, devices).await;
        let stop = Arc::new(AtomicBool::new(false));
        let phones = fleet.ingest(seed, &stop);
        Run {
            name,
            seed,
            started,
            serve,
            proxy,
            fleet,
            stop,
            phones,
        }
    }

    fn context(&self) -> String {
        format!("{}, seed {}", self.name, self.seed)
    }

    /// Stop the phones' loops and collect their tallies.
    async fn stop_phones(&mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let phones = std::mem::take(&mut self.phones);
        tokio::task::spawn_blocking(move || Fleet::join(phones))
            .await
            .expect("join the phones")
    }

    /// Stop the phones (unless [`Run::stop_phones`] did), sync each to the end, check
    /// (`faults::verify`), print what the run did (`faults` names them; one line for
    /// docs/RELIABILITY.md) and check what the SDK surfaced. Documents the server refused are
    /// counted; [`concurrent_ingest_without_faults_refuses_nothing`] checks that there are none.
    async fn finish(mut self, mut tally: Tally, faults: &str, surfaced: Surfaced) -> Tally {
        tally.add(self.stop_phones().await);
        self.fleet.settle(&mut tally, 20).await;
        let context = self.context();
        let f = faults::verify(&mut self.serve, &self.fleet, &context).await;
        let mut refusals: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in &tally.rejected {
            *refusals
                .entry(r.rsplit(' ').next().unwrap_or(""))
                .or_default() += 1;
        }
        eprintln!(
            "{context}: {faults}, {} phones, {} captures, {} requests unanswered, {} syncs ok, \
             {} network errors, {} unavailable, {} documents refused {refusals:?}; {} documents, {} \
             change-log rows, {} accepted changes checked, lost {}, duplicates {}; {:.0} s",
            self.fleet.devices.len(),
            tally.captures,
            self.fleet.unanswered(),
            tally.syncs_ok,
            tally.network,
            tally.unavailable,
            tally.rejected.len(),
            f.documents,
            f.changes_logged,
            f.accepted_checked,
            f.lost,
            f.duplicates,
            self.started.elapsed().as_secs_f64()
        );
        assert!(
            f.problems.is_empty(),
            "{context}:\n{}\ndocuments refused: {:?}\nserver log:\n{}",
            f.problems.join("\n"),
            tally.rejected,
            self.serve.log_tail()
        );
        let allowed = match surfaced {
            Surfaced::Nothing => tally.network == 0 && tally.unavailable == 0,
            Surfaced::Network => tally.unavailable == 0,
            Surfaced::Retryable => true,
        };
        assert!(
            allowed && tally.other.is_empty(),
            "{context}: the SDK surfaced more than {surfaced:?}: {tally:?}"
        );
        tally
    }
}

// ---------------------------------------------------------------------------------------------
// The same ingest without faults

/// The phones of the fault tests, for `DOUDI_FAULT_SECS` (20) seconds with nothing going wrong:
/// what the fault tests check holds without faults, and the server refuses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_without_faults_refuses_nothing() {
    let name = "concurrent_ingest_without_faults_refuses_nothing";
    let secs = faults::count("DOUDI_FAULT_SECS", 20);
    let run = Run::start(name, None, false).await;
    let context = run.context();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let tally = run
        .finish(
            Tally::default(),
            &format!("{secs} s without faults"),
            Surfaced::Nothing,
        )
        .await;
    // A pushed change is refused only when it is invalid or foreign: the captures are valid, and
    // each phone pushes only changes of its own.
    assert!(
        tally.rejected.is_empty(),
        "{context}: {} pushed documents refused: {:?}",
        tally.rejected.len(),
        tally.rejected
    );
}

// ---------------------------------------------------------------------------------------------
// (a) SIGKILL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_ingest_loses_nothing_sqlite() {
    server_killed_mid_ingest("server_killed_mid_ingest_loses_nothing_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_ingest_loses_nothing_postgres() {
    if Backend::postgres().is_some() {
        let url = fresh_pg_database().await;
        server_killed_mid_ingest("server_killed_mid_ingest_loses_nothing_postgres", Some(url))
            .await;
    }
}

/// Phones ingest while the server is killed (SIGKILL) at random moments and started again on the
/// same address and data each time.
async fn server_killed_mid_ingest(name: &'static str, database_url: Option<String>) {
    let kills = faults::count("DOUDI_FAULT_KILLS", 20);
    let mut run = Run::start(name, database_url, false).await;
    let mut rng = Rng::stream(run.seed, 1);
    for _ in 0..kills {
        tokio::time::sleep(rng.millis(200, 1500)).await;
        run.serve.kill();
        tokio::time::sleep(rng.millis(0, 300)).await;
        tokio::task::block_in_place(|| run.serve.start());
    }
    tokio::time::sleep(rng.millis(200, 1000)).await;
    run.finish(
        Tally::default(),
        &format!("{kills} kills"),
        Surfaced::Retryable,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// (b) Connections cut

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_request_and_response_sqlite() {
    connections_cut("connections_cut_mid_request_and_response_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_request_and_response_postgres() {
    if Backend::postgres().is_some() {
        let url = fresh_pg_database().await;
        connections_cut(
            "connections_cut_mid_request_and_response_postgres",
            Some(url),
        )
        .await;
    }
}

/// Phones reach the server through a proxy that cuts connections in the middle of requests and
/// answers; the SDK surfaces nothing but network errors meanwhile, and once the network is back
/// the phones converge.
async fn connections_cut(name: &'static str, database_url: Option<String>) {
    let target = faults::count("DOUDI_FAULT_CUTS", 60);
    let mut run = Run::start(name, database_url, true).await;
    let proxy = run.proxy.take().expect("the proxy");
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(60 + target);
    while proxy.cuts.total() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The network is back: the phones go on, then sync to the end.
    proxy.calm();
    let tally = run.stop_phones().await;
    let (up, down) = (
        proxy.cuts.mid_request.load(Ordering::SeqCst),
        proxy.cuts.mid_response.load(Ordering::SeqCst),
    );
    assert!(
        up > 0 && down > 0 && up + down >= target,
        "{}: {up} cuts in requests and {down} in answers in {:?}",
        run.context(),
        run.started.elapsed()
    );
    let connections = proxy.cuts.connections.load(Ordering::SeqCst);
    run.finish(
        tally,
        &format!("{connections} connections, {up} cut mid-request, {down} mid-response"),
        Surfaced::Network,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// (c) PostgreSQL stopped and started

/// The server's request timeout (`request_timeout_secs`, left at its default): no answer may
/// take longer.
fn request_timeout() -> Duration {
    Duration::from_secs(doudi_server::config::Settings::default().request_timeout_secs)
}

/// A request to the server, as a phone or the console would send it, answered while PostgreSQL
/// is down: its status, its JSON body and how long it took.
struct Probe {
    what: &'static str,
    status: u16,
    body: String,
    took: Duration,
}

/// One request of each kind the server serves from the database: a sync, the account, a login,
/// a household search, the readiness check.
async fn probe_all(http: &reqwest::Client, base: &str, token: &str) -> Vec<Probe> {
    let sync = to_cbor(&SyncRequest {
        v: PROTOCOL_VERSION,
        ..Default::default()
    });
    let requests: Vec<(&'static str, reqwest::RequestBuilder)> = vec![
        (
            "POST /api/v1/sync",
            http.post(format!("{base}/api/v1/sync"))
                .bearer_auth(token)
                .header("content-type", doudi_protocol::sync::CONTENT_TYPE)
                .body(sync),
        ),
        (
            "GET /api/v1/me",
            http.get(format!("{base}/api/v1/me")).bearer_auth(token),
        ),
        (
            "POST /api/v1/auth/login",
            http.post(format!("{base}/api/v1/auth/login")).json(&json!({
                "username": "phone.00", "password": PASSWORD,
                "device": { "name": "测试手机", "platform": "android" }
            })),
        ),
        (
            "GET /api/v1/households",
            http.get(format!("{base}/api/v1/households?q=户主"))
                .bearer_auth(token),
        ),
        ("GET /readyz", http.get(format!("{base}/readyz"))),
    ];
    let sent = requests.into_iter().map(|(what, r)| async move {
        let t = Instant::now();
        let resp = r.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Probe {
            what,
            status,
            body,
            took: t.elapsed(),
        }
    });
    futures_util::future::join_all(sent).await
}

/// A 503 with the stable error body and nothing of the cause in it.
fn unavailable_answer(p: &Probe) -> Result<(), String> {
    let body: Value = serde_json::from_str(&p.body).unwrap_or(Value::Null);
    let leaks = [
        "sqlx",
        "postgres",
        "connection",
        "error returned",
        "refused",
        "pool",
    ];
    let leak = leaks.iter().find(|w| p.body.to_lowercase().contains(*w));
    if p.status == 503
        && body["code"] == "server.unavailable"
        && body["message"].as_str().is_some_and(|m| !m.is_empty())
        && body["message_en"].as_str().is_some_and(|m| !m.is_empty())
        && leak.is_none()
        && p.took < request_timeout()
    {
        Ok(())
    } else {
        Err(format!(
            "{}: {} in {:?}: {}",
            p.what, p.status, p.took, p.body
        ))
    }
}

/// PostgreSQL stopped (`pg_ctl stop -m immediate`) and started again while phones ingest through
/// a running `doudi serve`: meanwhile every request fails at once with `503 server.unavailable`;
/// once PostgreSQL is back the same process serves again, and every accepted change is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_under_ingest() {
    let name = "postgres_stopped_and_started_under_ingest";
    if postgres_bin_dir().is_none() {
        assert!(
            std::env::var("DOUDI_TEST_REQUIRE_PG").is_ok_and(|v| v != "1"),
            "DOUDI_TEST_REQUIRE_PG=1 but no PostgreSQL server programs in /usr/lib/postgresql/*/bin"
        );
        eprintln!("skipping {name}: no PostgreSQL server programs in /usr/lib/postgresql/*/bin");
        return;
    }
    let outages = faults::count("DOUDI_FAULT_OUTAGES", 3);
    // An immediate stop is a crash of PostgreSQL: with `synchronous_commit=off` (the throwaway
    // cluster's default, for speed) it loses the last commits, which it has already confirmed.
    let pg = throwaway_postgres(None, &["max_connections=200", "synchronous_commit=on"])
        .expect("a throwaway PostgreSQL cluster starts");
    let url = fresh_database(&pg.admin_url).await;
    let run = Run::start(name, Some(url), false).await;
    let context = run.context();
    let base = run.serve.base();
    let http = reqwest::Client::new();
    let token = faults::access_token(&base, "phone.00", "探测").await;

    let mut rng = Rng::stream(run.seed, 3);
    let mut probes = 0;
    let mut slowest = Duration::ZERO;
    let mut back_within = Duration::ZERO;
    for _ in 0..outages {
        tokio::time::sleep(rng.millis(1000, 3000)).await;
        assert!(pg.stop_now(), "{context}: pg_ctl stop");
        tokio::time::sleep(rng.millis(100, 500)).await;
        let answers = probe_all(&http, &base, &token).await;
        probes += answers.len();
        slowest = answers.iter().map(|p| p.took).fold(slowest, Duration::max);
        let wrong: Vec<String> = answers
            .iter()
            .filter_map(|p| unavailable_answer(p).err())
            .collect();
        assert!(
            wrong.is_empty(),
            "{context}: while PostgreSQL is down:\n{}\nserver log:\n{}",
            wrong.join("\n"),
            run.serve.log_tail()
        );
        tokio::time::sleep(rng.millis(500, 2000)).await;
        assert!(
            tokio::task::block_in_place(|| pg.start_again()),
            "{context}: pg_ctl start"
        );
        // The same process serves again: ready, and the account readable.
        let up = Instant::now();
        loop {
            let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
            let me = http
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            if ready.status() == 200 && me.status() == 200 {
                break;
            }
            assert!(
                up.elapsed() < Duration::from_secs(30),
                "{context}: not serving 30 s after PostgreSQL started: readyz {}, me {}\n{}",
                ready.status(),
                me.status(),
                run.serve.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        back_within = back_within.max(up.elapsed());
    }
    tokio::time::sleep(rng.millis(1000, 2000)).await;
    // One process throughout (`verify` checks that it still runs).
    assert_eq!(run.serve.starts, 1, "{context}");
    run.finish(
        Tally::default(),
        &format!(
            "{outages} outages, {probes} probes answered 503 within {slowest:.1?}, serving again \
             within {back_within:.1?}"
        ),
        Surfaced::Retryable,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// A request slower than the request timeout

/// A request whose body stops coming (a phone losing its signal halfway) is cut at the request
/// timeout with the documented JSON error, `408 request.timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_by_the_timeout_answers_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Backend::Sqlite, |s| s.request_timeout_secs = 1).await;
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    conn.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nhost: doudi\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"username\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(started.elapsed() < Duration::from_secs(3), "{answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    assert_eq!(body["code"], "request.timeout", "{answer}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["message_en"].as_str().is_some_and(|m| !m.is_empty()));
}
