//! Several nodes and a lost database primary. Three `doudi serve` processes on one PostgreSQL
//! database behind nginx (Debian's package), with phones (the real SDK) ingesting through the
//! balancer while nodes are killed (SIGKILL) and started again; and one server on a primary with
//! a synchronous streaming replica, the primary killed during ingest and the replica promoted.
//! At the end of each, nothing a phone was told was accepted is lost, nothing is stored twice,
//! every phone holds what the server holds, and the projections equal a rebuild
//! (`doudi_tests::faults::verify`). `DOUDI_NODE_KILLS` makes a longer run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use doudi_tests::balancer::{Balancer, nginx};
use doudi_tests::bench::fresh_database;
use doudi_tests::failover::Pair;
use doudi_tests::faults::{self, Fleet, Rng, Serve};
use doudi_tests::{Backend, fresh_pg_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_behind_a_balancer_lose_nothing_when_nodes_die() {
    let name = "phones_behind_a_balancer_lose_nothing_when_nodes_die";
    if Backend::postgres().is_none() {
        return;
    }
    let Some(nginx) = nginx() else {
        assert!(
            std::env::var("DOUDI_TEST_REQUIRE_NGINX").as_deref() != Ok("1"),
            "DOUDI_TEST_REQUIRE_NGINX=1 but nginx is not installed"
        );
        eprintln!("skipping {name}: nginx is not installed");
        return;
    };
    let seed = faults::seed(&format!("nodes::{name}"));
    let url = fresh_pg_database().await;
    let mut nodes = vec![Serve::new(Some(url.clone())).await];
    nodes.push(Serve::unprepared(Some(url.clone())));
    nodes.push(Serve::unprepared(Some(url)));
    for n in &mut nodes {
        tokio::task::block_in_place(|| n.start());
    }
    let addrs: Vec<_> = nodes.iter().map(Serve::addr).collect();
    let lb = Balancer::start(&nginx, &addrs);
    let fleet = Fleet::new(&nodes[0], &lb.base(), 12).await;
    let stop = Arc::new(AtomicBool::new(false));
    let phones = fleet.ingest(seed, &stop);
    let mut rng = Rng::stream(seed, 1);
    let kills = faults::count("DOUDI_NODE_KILLS", 6);
    let mut killed = vec![0u32; nodes.len()];
    for _ in 0..kills {
        tokio::time::sleep(rng.millis(300, 1500)).await;
        let i = rng.below(nodes.len() as u64) as usize;
        nodes[i].kill();
        killed[i] += 1;
        tokio::time::sleep(rng.millis(100, 800)).await;
        tokio::task::block_in_place(|| nodes[i].start());
    }
    tokio::time::sleep(rng.millis(500, 1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut tally = tokio::task::spawn_blocking(move || Fleet::join(phones))
        .await
        .expect("join the phones");
    fleet.settle(&mut tally, 20).await;
    let context = format!("{name}, seed {seed}");
    // Every node answered phones.
    let served = lb.served_by();
    for a in &addrs {
        assert!(
            served.get(&a.to_string()).is_some_and(|n| *n > 0),
            "{context}: node {a} answered nothing: {served:?}"
        );
    }
    for n in &mut nodes[1..] {
        n.kill();
    }
    let what =
        format!("3 nodes behind nginx, kills per node {killed:?}, answers per node {served:?}");
    checked(&mut nodes[0], &fleet, &tally, &context, &what).await;
}

/// The database's primary dies during ingest and its synchronous replica is promoted: the server
/// reconnects without a restart, and every change acknowledged before the kill is on the new
/// primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_dies_and_its_replica_takes_over_without_loss() {
    let name = "the_primary_dies_and_its_replica_takes_over_without_loss";
    let pair = match Pair::start().await {
        Some(p) => p,
        None => {
            assert!(
                std::env::var("DOUDI_TEST_REQUIRE_PG").as_deref() != Ok("1"),
                "DOUDI_TEST_REQUIRE_PG=1 but PostgreSQL's server programs are not installed"
            );
            eprintln!("skipping {name}: PostgreSQL's server programs are not installed");
            return;
        }
    };
    let seed = faults::seed(&format!("nodes::{name}"));
    let context = format!("{name}, seed {seed}");
    let url = fresh_database(&pair.admin_url()).await;
    let mut serve = Serve::new(Some(url)).await;
    tokio::task::block_in_place(|| serve.start());
    let fleet = Fleet::new(&serve, &serve.base(), 12).await;
    let stop = Arc::new(AtomicBool::new(false));
    let phones = fleet.ingest(seed, &stop);
    let mut rng = Rng::stream(seed, 1);
    tokio::time::sleep(rng.millis(1500, 3000)).await;
    let accepted_before = fleet.accepted().len();
    tokio::task::block_in_place(|| pair.fail_over());
    // The same process serves again once its pool reaches the new primary.
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ready = http.get(format!("{}/readyz", serve.base())).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{context}: not ready 30 s after the failover:\n{}",
            serve.log_tail()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(rng.millis(1500, 3000)).await;
    stop.store(true, Ordering::SeqCst);
    let mut tally = tokio::task::spawn_blocking(move || Fleet::join(phones))
        .await
        .expect("join the phones");
    fleet.settle(&mut tally, 20).await;
    let accepted_after = fleet.accepted().len();
    assert_eq!(serve.starts, 1, "{context}: the server was restarted");
    let what = format!(
        "failover after {accepted_before} accepted changes, ready again in the same process, \
         {accepted_after} accepted in all"
    );
    checked(&mut serve, &fleet, &tally, &context, &what).await;
    assert!(
        accepted_before > 0 && accepted_after > accepted_before,
        "{context}: changes accepted before {accepted_before}, in all {accepted_after}"
    );
}

/// `faults::verify` on `serve`'s database, one line of figures, and the checks both tests make:
/// nothing lost or stored twice, every phone converged, nothing but retryable errors surfaced,
/// and something was captured and accepted.
async fn checked(
    serve: &mut Serve,
    fleet: &Fleet,
    tally: &faults::Tally,
    context: &str,
    what: &str,
) {
    let f = faults::verify(serve, fleet, context).await;
    eprintln!(
        "{context}: {what}; {} captures, {} syncs ok, {} network errors, {} unavailable; {} \
         documents, {} accepted changes checked, lost {}, duplicates {}",
        tally.captures,
        tally.syncs_ok,
        tally.network,
        tally.unavailable,
        f.documents,
        f.accepted_checked,
        f.lost,
        f.duplicates
    );
    assert!(
        f.problems.is_empty(),
        "{context}:\n{}\nserver log:\n{}",
        f.problems.join("\n"),
        serve.log_tail()
    );
    assert!(
        tally.other.is_empty() && tally.rejected.is_empty(),
        "{context}: the SDK surfaced more than retryable errors: {tally:?}"
    );
    assert!(
        tally.captures > 0 && f.accepted_checked > 0,
        "{context}: {tally:?}"
    );
}
