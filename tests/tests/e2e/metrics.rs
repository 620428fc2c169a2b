//! `/metrics`: what a sync counts, who may read it, the exposition's format; and a shutdown
//! that finishes the syncs in flight.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use doudi_protocol::doc::Household;
use doudi_protocol::role::Role;
use doudi_protocol::sync::{PushStatus, SyncResponse, from_cbor, to_cbor};
use doudi_server::config::{MetricsAccess, Secret};
use doudi_tests::blobs::{sha, tiny_png};
use doudi_tests::{Backend, TestApp, both_backends, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends!(a_sync_is_counted, a_sync_in_flight_is_finished_on_shutdown);

const GRID_A: &str = "370102001001-A";
const GRID_B: &str = "370102001001-B";
const TOKEN: &str = "metrics-token-0123456789";

fn household(address: &str) -> Household {
    Household {
        address: address.to_string(),
        ..Default::default()
    }
}

/// `GET /metrics` with an optional bearer token and extra headers: status, content type, text.
async fn scrape(
    app: &TestApp,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut req = app.http.get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("metrics asked");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, resp.text().await.unwrap())
}

/// The samples of a Prometheus text exposition (`name{labels}` → value), checking each line's
/// form on the way: `# HELP` and `# TYPE` before a family's samples, sample lines of a name,
/// optional labels and a number.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (kind, name) = (words.next().unwrap(), words.next().unwrap());
            assert!(kind == "HELP" || kind == "TYPE", "{line}");
            if kind == "TYPE" {
                let t = words.next().unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&t), "{line}");
                typed.insert(name.to_string(), t.to_string());
            }
            continue;
        }
        assert!(!line.is_empty(), "an empty line in\n{text}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with("doudi_"),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE before {line}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        samples.insert(series.to_string(), value);
    }
    samples
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("{series} missing in {samples:#?}"))
}

async fn a_sync_is_counted(b: Backend) {
    let app = spawn_app_with(b, |s| s.metrics = Some(MetricsAccess::Loopback)).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let mut worker = app.phone("grid.zhang").await;
    let mut assistant = app.phone("assist.liu").await;
    for i in 0..5 {
        worker
            .replica
            .create(GRID_A, &household(&format!("一村 {i} 号")))
            .unwrap();
    }
    // Outside the grid worker's grid: refused.
    worker
        .replica
        .create(GRID_B, &household("乙网格 1 号"))
        .unwrap();
    let pushed = app.sync(&mut worker).await;
    assert_eq!((pushed.accepted.len(), pushed.rejected.len()), (5, 1));
    let pulled = app.sync(&mut assistant).await;
    assert_eq!(pulled.updated.len(), 5);
    let png = tiny_png(7);
    let r = app.upload(&worker.access, &sha(&png), &png).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let (status, ct, text) = scrape(&app, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let m = parse(&text);
    assert_eq!(
        sample(
            &m,
            r#"doudi_sync_documents_pushed_total{outcome="accepted"}"#
        ),
        5.0
    );
    assert_eq!(
        sample(
            &m,
            r#"doudi_sync_documents_pushed_total{outcome="rejected"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&m, r#"doudi_sync_rejections_total{code="policy.denied"}"#),
        1.0
    );
    // The assistant pulled the five; the grid worker is not sent back what it pushed.
    assert!(
        sample(&m, "doudi_sync_documents_pulled_total") >= 5.0,
        "{text}"
    );
    let syncs = sample(&m, r#"doudi_sync_requests_total{status="200"}"#);
    assert!(syncs >= 2.0, "{text}");
    assert_eq!(
        sample(&m, "doudi_sync_request_duration_seconds_count"),
        syncs
    );
    assert_eq!(sample(&m, "doudi_sync_in_flight"), 0.0);
    // Only the requests that pushed something are timed as an ingest.
    let ingests = sample(&m, "doudi_sync_ingest_duration_seconds_count");
    assert!((1.0..syncs).contains(&ingests), "{text}");
    assert_eq!(
        sample(
            &m,
            r#"doudi_sync_ingest_duration_seconds_bucket{le="+Inf"}"#
        ),
        ingests
    );
    assert!(
        sample(&m, "doudi_group_commit_batch_size_count") >= 1.0,
        "{text}"
    );
    assert_eq!(sample(&m, "doudi_group_commit_batch_size_sum"), 5.0);
    assert_eq!(sample(&m, "doudi_group_commit_queue"), 0.0);
    assert_eq!(sample(&m, "doudi_blobs_stored_total"), 1.0);
    assert_eq!(
        sample(&m, "doudi_blob_stored_bytes_total"),
        png.len() as f64
    );
    assert_eq!(
        sample(&m, "doudi_blob_received_bytes_total"),
        png.len() as f64
    );
    let max = sample(&m, "doudi_db_pool_max_connections");
    let open = sample(&m, r#"doudi_db_pool_connections{state="idle"}"#)
        + sample(&m, r#"doudi_db_pool_connections{state="in_use"}"#);
    assert!(max >= 1.0 && open <= max, "{text}");
    assert!(
        text.contains("# HELP doudi_sync_rejections_total "),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_unless_configured() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_by_token_ask_for_the_token() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics = Some(MetricsAccess::Token);
        s.metrics_token = Some(Secret::new(TOKEN));
    })
    .await;
    let r = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "auth.token_missing")
    );
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("令牌")),
        "{:?}",
        r.body
    );
    for wrong in ["metrics-token-0123456788", "short"] {
        let r = app.send(Method::GET, "/metrics", Some(wrong), None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "auth.token_invalid"),
            "{wrong}"
        );
    }
    // An access token of an account is no metrics token.
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let phone = app.phone("grid.zhang").await;
    let r = app
        .send(Method::GET, "/metrics", Some(&phone.access), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (status, _, text) = scrape(&app, Some(TOKEN), &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    parse(&text);
    // Through a proxy as well: the token decides.
    let (status, _, _) = scrape(&app, Some(TOKEN), &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_loopback_refuse_what_came_through_a_proxy() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics = Some(MetricsAccess::Loopback);
        s.trust_forwarded_for = true;
    })
    .await;
    let (status, _, text) = scrape(&app, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    for header in ["x-forwarded-for", "forwarded", "x-real-ip"] {
        let (status, _, body) = scrape(&app, None, &[(header, "127.0.0.1")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{header}");
        assert!(body.contains("\"code\":\"policy.denied\""), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_is_required_to_start_in_token_mode() {
    let dir = tempfile::tempdir().unwrap();
    let s = doudi_server::config::Settings {
        data_dir: dir.path().to_path_buf(),
        metrics: Some(MetricsAccess::Token),
        ..Default::default()
    };
    let err = doudi_server::app::prepare(s).await.expect_err("refused");
    assert!(err.to_string().contains("metrics_token"), "{err}");
}

/// A sync request sent in full but its last byte: the server is reading it.
async fn sync_begun(app: &TestApp, token: &str, body: &[u8]) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/sync HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        doudi_protocol::sync::CONTENT_TYPE,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..body.len() - 1]).await.unwrap();
    // In flight once the server counts it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, text) = scrape(app, None, &[]).await;
        if parse(&text).get("doudi_sync_in_flight") == Some(&1.0) {
            return s;
        }
        assert!(Instant::now() < deadline, "the sync never began:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Read one HTTP/1.1 answer: status and body.
async fn answer(s: &mut tokio::net::TcpStream) -> (u16, Vec<u8>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("an answer within 20 s")
            .unwrap();
        out.extend_from_slice(&buf[..n]);
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if out.len() >= end + 4 + len || n == 0 {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, out[end + 4..].to_vec());
            }
        }
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&out)
        );
    }
}

async fn a_sync_in_flight_is_finished_on_shutdown(b: Backend) {
    let mut app = spawn_app_with(b, |s| s.metrics = Some(MetricsAccess::Loopback)).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    let ids: Vec<String> = (0..3)
        .map(|i| {
            phone
                .replica
                .create(GRID_A, &household(&format!("一村 {i} 号")))
                .unwrap()
                .to_string()
        })
        .collect();
    let body = to_cbor(&phone.replica.prepare(None));
    let mut s = sync_begun(&app, &phone.access, &body).await;

    let stopped = app.shut_down().expect("the server runs");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stopped.is_finished(),
        "the server stopped with a sync in flight"
    );
    // No new connection is served meanwhile.
    let refused = app
        .http
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");

    s.write_all(&body[body.len() - 1..]).await.unwrap();
    let (status, bytes) = answer(&mut s).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let resp: SyncResponse = from_cbor(&bytes).expect("a sync answer");
    assert_eq!(resp.results.len(), 3);
    assert!(
        resp.results
            .iter()
            .all(|r| r.status == PushStatus::Accepted),
        "{:?}",
        resp.results
    );
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops once the sync is answered")
        .expect("the server stopped cleanly");
    for id in &ids {
        assert!(app.stored_doc(id).await.is_some(), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_ends_is_cut_after_the_grace_period() {
    let mut app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics = Some(MetricsAccess::Loopback);
        s.shutdown_grace_secs = 1;
    })
    .await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    phone
        .replica
        .create(GRID_A, &household("一村 1 号"))
        .unwrap();
    let body = to_cbor(&phone.replica.prepare(None));
    let _stalled = sync_begun(&app, &phone.access, &body).await;
    let began = Instant::now();
    let stopped = app.shut_down().expect("the server runs");
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops after the grace period")
        .expect("the server stopped cleanly");
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
}
