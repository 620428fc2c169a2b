//! The group commit when the database cannot be reached.

use std::time::{Duration, Instant};

use automerge::Automerge;
use doudi_protocol::doc::{self, Household};
use doudi_protocol::ids::DocumentId;
use sea_orm::{ConnectOptions, Database};

use super::{GroupCommit, Prepared};
use crate::documents::{Writer, prepare};

const GRID: &str = "370102002002";

fn household_write(writer: &Writer<'_>) -> Prepared {
    let id = DocumentId::generate().unwrap();
    let content = Household {
        address: "测试村 1 号".into(),
        ..Household::default()
    };
    let mut am = doc::create(id, GRID, &content, None).unwrap();
    let changes = am.get_changes(&[]);
    let mut after: Automerge = am.document().clone();
    let header = doc::read_header(&after).unwrap();
    let heads = after.get_heads();
    let tree = doc::tree(&after).unwrap();
    let (_, read) = doc::read_any(&tree).unwrap();
    prepare(
        writer,
        None,
        &header,
        GRID,
        &mut after,
        &tree,
        Some(&read),
        &changes,
        &heads,
        Vec::new(),
    )
    .unwrap()
}

/// A batch that fails because the database is out of reach is answered as a whole: writing its
/// writes again one by one would wait for a connection once per write, and the requests queued
/// in it would run into their own timeouts (`408`) instead of hearing `503` at once.
#[tokio::test]
async fn an_unreachable_database_fails_a_batch_at_once() {
    // Nothing listens on this port: every connection is refused, and the pool retries until
    // its acquire timeout, as it does while PostgreSQL restarts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let acquire = Duration::from_millis(600);
    let mut opts = ConnectOptions::new(format!("postgres://doudi@127.0.0.1:{port}/none"));
    opts.connect_lazy(true)
        .max_connections(1)
        .acquire_timeout(acquire)
        .connect_timeout(acquire)
        .sqlx_logging(false);
    let db = Database::connect(opts).await.unwrap();
    let commit = GroupCommit::start(db, crate::metrics::Metrics::new().group_commit());
    let writer = Writer {
        account_id: "acc",
        device_id: "dev",
        client_addr: None,
        audit_action: "sync.push",
        audit_detail: None,
    };
    let writes: Vec<Prepared> = (0..12).map(|_| household_write(&writer)).collect();
    let started = Instant::now();
    let answers = futures_util::future::join_all(writes.into_iter().map(|w| {
        let commit = commit.clone();
        tokio::spawn(async move { commit.submit(w).await })
    }))
    .await;
    let took = started.elapsed();
    for answer in answers {
        let err = answer.unwrap().expect_err("no database, no write");
        assert_eq!(
            err.code.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            err.body().message_en
        );
    }
    // At most two batches (the first write alone, the rest together), each waiting once.
    assert!(
        took < acquire * 4,
        "12 writes answered in {took:?}, acquire timeout {acquire:?}"
    );
}
