//! Several nodes: three `doudi serve` processes on one PostgreSQL database behind nginx (Debian's
//! package). Phones (the real SDK) ingest through the balancer while nodes are killed (SIGKILL)
//! and started again; at the end nothing a phone was told was accepted is lost, nothing is stored
//! twice, every phone holds what the server holds, and the projections equal a rebuild
//! (`doudi_tests::faults::verify`). `DOUDI_NODE_KILLS` makes a longer run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use doudi_tests::balancer::{Balancer, nginx};
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
    let seed = faults::seed(name);
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
    let f = faults::verify(&mut nodes[0], &fleet, &context).await;
    eprintln!(
        "{context}: 3 nodes behind nginx, kills per node {killed:?}, answers per node {served:?}, \
         {} captures, {} syncs ok, {} network errors, {} unavailable; {} documents, {} accepted \
         changes checked, lost {}, duplicates {}",
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
        nodes[0].log_tail()
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
