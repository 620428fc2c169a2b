//! A PostgreSQL primary with a streaming replica under synchronous replication
//! (`synchronous_standby_names = '*'`, `synchronous_commit = on`: a commit is acknowledged once
//! the replica has flushed its WAL), both throwaway clusters from Debian's server programs, and
//! a TCP switch in front of them that stands for the deployment's virtual address: the server
//! connects to the switch, and [`Pair::fail_over`] kills the primary (`pg_ctl stop -m immediate`,
//! a crash), promotes the replica and points the switch at it, as an operator or
//! `pg_auto_failover` would. Both clusters stop on drop.
//!
//! The clusters run with `fsync=off` to keep the test short: the test kills processes, not the
//! machine, so the operating system keeps what was written; what it checks is replication.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::bench::{as_postgres, free_port, postgres_bin_dir, run_quiet};

/// A loopback TCP forwarder whose target can change; connections made before a change stay
/// with the old target (and die with it).
pub struct Switch {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Switch {
    pub async fn start(target: SocketAddr) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let target = Arc::new(Mutex::new(target));
        let t = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let to = *t.lock().unwrap_or_else(|p| p.into_inner());
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(to).await {
                        let _ = (client.set_nodelay(true), server.set_nodelay(true));
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Switch { addr, target, task }
    }

    pub fn point_at(&self, to: SocketAddr) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

/// One cluster of the pair.
struct Cluster {
    data: PathBuf,
    port: u16,
    log: PathBuf,
}

pub struct Pair {
    dir: tempfile::TempDir,
    bin: PathBuf,
    prefix: Vec<String>,
    primary: Cluster,
    replica: Cluster,
    pub switch: Switch,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in [&self.primary, &self.replica] {
            self.pg_ctl(c, &["-m", "immediate", "stop"]);
        }
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Pair {
    /// Start the primary, clone it into the replica (`pg_basebackup -R`), start that, turn on
    /// synchronous replication and wait until the replica is the synchronous standby. `None`
    /// when PostgreSQL's server programs are not installed.
    pub async fn start() -> Option<Pair> {
        let bin = postgres_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("doudi-failover.")
            .tempdir()
            .expect("temp dir");
        let prefix = as_postgres(dir.path());
        let cluster = |name: &str| Cluster {
            data: dir.path().join(name),
            port: free_port(),
            log: dir.path().join(format!("{name}.log")),
        };
        let (primary, replica) = (cluster("primary"), cluster("replica"));
        let switch = Switch::start(SocketAddr::from(([127, 0, 0, 1], primary.port))).await;
        let pair = Pair {
            bin,
            prefix,
            primary,
            replica,
            switch,
            dir,
        };
        tokio::task::block_in_place(|| pair.set_up());
        pair.wait_for_sync_standby().await;
        Some(pair)
    }

    fn run(&self, program: &str, args: &[String]) -> bool {
        let mut cmd = self.prefix.clone();
        cmd.push(s(&self.bin.join(program)));
        cmd.extend(args.iter().cloned());
        run_quiet(&cmd)
    }

    fn pg_ctl(&self, c: &Cluster, args: &[&str]) -> bool {
        let mut a = vec!["-D".to_string(), s(&c.data)];
        a.extend(args.iter().map(|x| x.to_string()));
        self.run("pg_ctl", &a)
    }

    fn start_cluster(&self, c: &Cluster) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off \
             -c full_page_writes=off -c wal_level=replica -c max_wal_senders=5 \
             -c synchronous_commit=on -c hot_standby=on",
            c.port,
            self.dir.path().display()
        );
        let ok = self.pg_ctl(
            c,
            &["-l", &s(&c.log), "-w", "-t", "60", "start", "-o", &opts],
        );
        assert!(ok, "pg_ctl start {}:\n{}", c.data.display(), tail(&c.log));
    }

    fn set_up(&self) {
        let initdb = [
            "-D",
            &s(&self.primary.data),
            "-U",
            "doudi",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        ]
        .map(String::from);
        assert!(self.run("initdb", &initdb), "initdb failed");
        self.start_cluster(&self.primary);
        let base = [
            "-h",
            "127.0.0.1",
            "-p",
            &self.primary.port.to_string(),
            "-U",
            "doudi",
            "-D",
            &s(&self.replica.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]
        .map(String::from);
        assert!(self.run("pg_basebackup", &base), "pg_basebackup failed");
        self.start_cluster(&self.replica);
    }

    fn url(port: u16) -> String {
        format!("postgres://doudi@127.0.0.1:{port}/postgres")
    }

    /// The maintenance database through the switch (the primary of the moment).
    pub fn admin_url(&self) -> String {
        Pair::url(self.switch.addr.port())
    }

    async fn wait_for_sync_standby(&self) {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(Pair::url(self.primary.port))
            .await
            .expect("connect to the primary");
        for sql in [
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
            "SELECT pg_reload_conf()",
        ] {
            db.execute_unprepared(sql).await.expect(sql);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT count(*) AS n FROM pg_stat_replication WHERE sync_state = 'sync'",
                ))
                .await
                .expect("pg_stat_replication");
            let n: i64 = row.and_then(|r| r.try_get("", "n").ok()).unwrap_or(0);
            if n == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replica did not become the synchronous standby:\n{}",
                tail(&self.replica.log)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.close().await.ok();
    }

    /// Kill the primary as a crash would, promote the replica and point the switch at it.
    pub fn fail_over(&self) {
        assert!(
            self.pg_ctl(&self.primary, &["-m", "immediate", "stop"]),
            "kill the primary"
        );
        assert!(
            self.pg_ctl(&self.replica, &["-w", "-t", "60", "promote"]),
            "promote the replica:\n{}",
            tail(&self.replica.log)
        );
        self.switch
            .point_at(SocketAddr::from(([127, 0, 0, 1], self.replica.port)));
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
