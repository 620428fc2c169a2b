//! Background jobs on several nodes: a job's lease (`doudi_server::jobs::lease`) lets one node
//! run it per period, against a model of the lease over random interleavings of nodes and
//! times, under a race of many nodes at once, and with two `doudi serve` processes on one
//! PostgreSQL database.

use std::time::{Duration, Instant};

use doudi_server::jobs::lease;
use doudi_tests::bench::spawn_serve_on;
use doudi_tests::faults::{Rng, Serve, seed};
use doudi_tests::{Backend, both_backends, fresh_pg_database, spawn_app};

both_backends!(
    a_lease_is_held_by_one_node_per_period,
    racing_nodes_get_one_lease
);

/// Random nodes ask for one job's lease at random times, against the model: a node gets it when
/// nobody holds it, when the holder's lease has run out, or when it is the holder.
async fn a_lease_is_held_by_one_node_per_period(b: Backend) {
    let app = spawn_app(b).await;
    let db = &app.state.db;
    let seed = seed("jobs::a_lease_is_held_by_one_node_per_period");
    let mut rng = Rng::new(seed);
    let nodes = ["node-a", "node-b", "node-c"];
    const TTL: i64 = 1_000;
    let mut now: i64 = 1_700_000_000_000;
    let mut model: Option<(&str, i64)> = None;
    let mut taken_over = 0;
    for step in 0..300 {
        now += rng.below(700) as i64;
        let node = nodes[rng.below(3) as usize];
        let expect = match model {
            None => true,
            Some((holder, until)) => holder == node || until < now,
        };
        let got = lease(db, "job", node, now, TTL).await.unwrap();
        assert_eq!(
            got, expect,
            "seed {seed}, step {step}: {node} at {now}, model {model:?}"
        );
        if got {
            if model.is_some_and(|(h, _)| h != node) {
                taken_over += 1;
            }
            model = Some((node, now + TTL));
        }
    }
    // The walk saw holders keep their lease and others take over expired ones.
    assert!(taken_over > 5, "seed {seed}: {taken_over} take-overs");
    // Another job's lease is its own.
    assert!(lease(db, "other", "node-z", now, TTL).await.unwrap());
}

/// Many nodes ask for a free lease at the same moment, each on its own connection: one gets it.
async fn racing_nodes_get_one_lease(b: Backend) {
    let app = spawn_app(b).await;
    let now = 1_700_000_000_000;
    for round in 0..5 {
        let at = now + round * 10_000;
        let asks = (0..12).map(|n| {
            let db = app.state.db.clone();
            tokio::spawn(async move { lease(&db, "race", &format!("node-{n}"), at, 5_000).await })
        });
        let mut won = 0;
        for a in asks {
            won += usize::from(a.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "round {round}");
    }
}

/// Two `doudi serve` processes on one PostgreSQL database start together: the task scheduler and
/// compaction, which every node runs at its start, run once, on one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_each_job_once() {
    if Backend::postgres().is_none() {
        return;
    }
    let url = fresh_pg_database().await;
    let a = Serve::new(Some(url.clone())).await;
    let b = Serve::unprepared(Some(url));
    let dir = tempfile::tempdir().unwrap();
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut children = Vec::new();
    for (serve, log) in [&a, &b].into_iter().zip(&logs) {
        let mut c = serve.command();
        c.env("RUST_LOG", "warn,doudi_server::jobs=info");
        children.push(spawn_serve_on(c, any, log).0);
    }
    let ran = |job: &str| {
        logs.iter()
            .map(|l| {
                std::fs::read_to_string(l)
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| line.contains("job ran") && line.contains(job))
                    .count()
            })
            .collect::<Vec<_>>()
    };
    let jobs = [
        doudi_server::review::recheck::JOB,
        doudi_server::documents::compact::JOB,
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while jobs.iter().any(|j| ran(j).iter().sum::<usize>() == 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both nodes started their jobs by now; give the slower one time to have run twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for job in jobs {
        assert_eq!(ran(job).iter().sum::<usize>(), 1, "{job}: {:?}", ran(job));
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
