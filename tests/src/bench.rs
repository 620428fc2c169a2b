//! What the benchmark binaries share: a throwaway PostgreSQL cluster, fresh databases, and running
//! `doudi` commands.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A throwaway cluster (stopped on drop) or a given server.
pub struct Postgres {
    pub admin_url: String,
    pub version: String,
    /// `pg_ctl start` and `pg_ctl stop -m immediate` of a throwaway cluster.
    start: Option<Vec<String>>,
    stop: Option<Vec<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// How to run PostgreSQL's programs on a cluster in `dir`: as user `postgres` when run as root
/// (the user created and given `dir` if need be), as the caller otherwise; the command prefix.
pub(crate) fn as_postgres(dir: &Path) -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        return Vec::new();
    }
    let _ = Command::new("useradd")
        .args(["--system", "--no-create-home", "postgres"])
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("chown").arg("postgres").arg(dir).status();
    ["runuser", "-u", "postgres", "--"]
        .map(String::from)
        .to_vec()
}

/// Run a command (program and arguments), its output discarded; whether it succeeded.
pub(crate) fn run_quiet(args: &[String]) -> bool {
    Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Postgres {
    /// Stop a throwaway cluster at once (`pg_ctl stop -m immediate`: every backend ends without
    /// a shutdown checkpoint, as in a crash); whether it stopped. A given server is left alone.
    pub fn stop_now(&self) -> bool {
        self.stop.as_deref().is_some_and(run_quiet)
    }

    /// Start a throwaway cluster stopped by [`Postgres::stop_now`] again, on the same port, and
    /// wait until it accepts connections; whether it started.
    pub fn start_again(&self) -> bool {
        self.start.as_deref().is_some_and(run_quiet)
    }
}

/// The newest PostgreSQL server programs installed from Debian's packages
/// (/usr/lib/postgresql/*/bin with `initdb`), if any.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    bins.sort();
    bins.pop()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `DOUDI_BENCH_PG_URL`, or a cluster started as tests/run-all.sh starts one (from
/// /usr/lib/postgresql/*/bin, as user `postgres` when run as root), with `locale` (`None`: no
/// locale, the C collation) and extra `postgres -c` settings. The cluster runs without
/// durability (`fsync`, `synchronous_commit` and `full_page_writes` off) unless
/// `DOUDI_BENCH_DURABLE=1`, which keeps PostgreSQL's durable defaults.
pub fn postgres(locale: Option<&str>, settings: &[&str]) -> Option<Postgres> {
    given_postgres().or_else(|| throwaway_postgres(locale, settings))
}

/// A cluster of its own, started as tests/run-all.sh starts one (see [`postgres`]); `None` when
/// no server programs are installed or the cluster does not start.
pub fn throwaway_postgres(locale: Option<&str>, settings: &[&str]) -> Option<Postgres> {
    let durable = std::env::var("DOUDI_BENCH_DURABLE").is_ok_and(|v| v == "1");
    cluster(locale, settings, durable)
}

/// `DOUDI_BENCH_PG_URL`, or a throwaway cluster (see [`postgres`]) that keeps PostgreSQL's
/// durable defaults (`fsync`, `synchronous_commit` and `full_page_writes` on) whatever
/// `DOUDI_BENCH_DURABLE` says.
pub fn durable_postgres(locale: Option<&str>, settings: &[&str]) -> Option<Postgres> {
    match given_postgres() {
        Some(pg) => Some(pg),
        None => cluster(locale, settings, true),
    }
}

/// The server `DOUDI_BENCH_PG_URL` names, if set.
fn given_postgres() -> Option<Postgres> {
    let url = std::env::var("DOUDI_BENCH_PG_URL").ok()?;
    (!url.is_empty()).then(|| Postgres {
        admin_url: url,
        start: None,
        stop: None,
        _dir: None,
        version: "given by DOUDI_BENCH_PG_URL".into(),
    })
}

/// A throwaway cluster, durable or not.
fn cluster(locale: Option<&str>, settings: &[&str], durable: bool) -> Option<Postgres> {
    let bin = postgres_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("doudi-bench-pg.")
        .tempdir()
        .ok()?;
    let port = free_port();
    let prefix = as_postgres(dir.path());
    let with_prefix =
        |args: Vec<String>| -> Vec<String> { prefix.iter().cloned().chain(args).collect() };
    let data = dir.path().join("data");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut initdb = vec![
        s(&bin.join("initdb")),
        "-D".into(),
        s(&data),
        "-U".into(),
        "doudi".into(),
        "-A".into(),
        "trust".into(),
        "-E".into(),
        "UTF8".into(),
    ];
    initdb.push(match locale {
        Some(l) => format!("--locale={l}"),
        None => "--no-locale".into(),
    });
    if !run_quiet(&with_prefix(initdb)) {
        eprintln!("initdb failed; PostgreSQL skipped");
        return None;
    }
    let mut opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        dir.path().display()
    );
    if !durable {
        opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
    }
    for setting in settings {
        opts.push_str(" -c ");
        opts.push_str(setting);
    }
    let start = with_prefix(vec![
        s(&bin.join("pg_ctl")),
        "-D".into(),
        s(&data),
        "-l".into(),
        s(&dir.path().join("log")),
        "-w".into(),
        "start".into(),
        "-o".into(),
        opts,
    ]);
    if !run_quiet(&start) {
        eprintln!("pg_ctl start failed; PostgreSQL skipped");
        return None;
    }
    let version = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let stop = with_prefix(vec![
        s(&bin.join("pg_ctl")),
        "-D".into(),
        s(&data),
        "-m".into(),
        "immediate".into(),
        "stop".into(),
    ]);
    Some(Postgres {
        admin_url: format!("postgres://doudi@127.0.0.1:{port}/postgres"),
        start: Some(start),
        stop: Some(stop),
        _dir: Some(dir),
        version: format!(
            "{version}, throwaway cluster on 127.0.0.1 (locale {}, {})",
            locale.unwrap_or("C"),
            if durable {
                "durable defaults: fsync, synchronous_commit and full_page_writes on"
            } else {
                "fsync=off, synchronous_commit=off, full_page_writes=off"
            }
        ),
    })
}

/// A new empty database on the server; its URL.
pub async fn fresh_database(admin_url: &str) -> String {
    use sea_orm::{ConnectionTrait, Database};
    let name = format!(
        "doudi_bench_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin_url.to_string(), String::new()),
    };
    let root = base.rsplit_once('/').map(|(r, _)| r).unwrap_or(&base);
    format!("{root}/{name}{query}")
}

/// Drop a database made by [`fresh_database`] once its bench is done with it, so that runs
/// against a long-lived cluster (`DOUDI_BENCH_PG_URL`) do not leave their databases behind. A
/// failure is reported and otherwise ignored: the figures are already printed.
pub async fn drop_database(admin_url: &str, url: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let name = url
        .split('?')
        .next()
        .and_then(|base| base.rsplit_once('/'))
        .map(|(_, name)| name)
        .unwrap_or_default();
    if !name.starts_with("doudi_bench_") {
        return;
    }
    let dropped = async {
        let admin = Database::connect(admin_url).await?;
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let result = admin.execute_unprepared(&sql).await.map(|_| ());
        admin.close().await.ok();
        result
    }
    .await;
    if let Err(e) = dropped {
        eprintln!("could not drop the bench database {name}: {e}");
    }
}

/// Bring a freshly filled PostgreSQL database to the state a running deployment is in: tables
/// vacuumed and analysed, dirty pages written. Without it, autovacuum and the checkpointer start
/// on the bulk-loaded tables while a measurement runs and take one of the two cores.
pub async fn settle_database(url: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(url).await.expect("connect to PostgreSQL");
    for sql in ["VACUUM ANALYZE", "CHECKPOINT"] {
        db.execute_unprepared(sql).await.expect(sql);
    }
    db.close().await.ok();
}

/// Run a command to success, `stdin` written to it; panics with its standard error otherwise.
pub fn run_ok(mut c: Command, stdin: Option<&str>, what: &str) {
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    if let Some(text) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Add accounts with `doudi user add` (each a user name, role and region), a few at a time: each
/// command hashes its password (argon2). `doudi` makes a `doudi` command with its environment.
pub fn add_users(doudi: impl Fn() -> Command, accounts: &[(String, &str, String)]) {
    for group in accounts.chunks(4) {
        let children: Vec<Child> = group
            .iter()
            .map(|(user, role, region)| {
                let mut c = doudi();
                c.args(["user", "add", "--username", user, "--display-name", user])
                    .args(["--role", role, "--region", region])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let mut child = c.spawn().expect("doudi user add");
                if let Some(mut pipe) = child.stdin.take() {
                    writeln!(pipe, "{}", crate::PASSWORD).expect("password to stdin");
                }
                child
            })
            .collect();
        for (child, (user, _, _)) in children.into_iter().zip(group) {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "doudi user add {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Start `doudi serve --listen 127.0.0.1:0` from `c` (a `doudi` command with its environment
/// set), its standard error in `log`; returns the child and the address it says it listens on.
/// Panics with the log when it does not start.
pub fn spawn_serve(c: Command, log: &Path) -> (Child, SocketAddr) {
    spawn_serve_on(c, SocketAddr::from(([127, 0, 0, 1], 0)), log)
}

/// [`spawn_serve`] on a given loopback address (port 0: a free one), e.g. again on the address
/// of a server that was stopped.
pub fn spawn_serve_on(mut c: Command, listen: SocketAddr, log: &Path) -> (Child, SocketAddr) {
    c.args(["serve", "--listen", &listen.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            // Appended to: a server started again on the same data keeps one log.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
    let mut child = c.spawn().expect("doudi serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = lines.by_ref().take(50).map_while(Result::ok).find_map(|l| {
        l.strip_prefix("doudi listening on http://")
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
    });
    // Keep draining standard output so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!(
            "doudi serve did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    };
    assert!(
        addr.ip().is_loopback(),
        "the server must listen on loopback"
    );
    (child, addr)
}

// ---------------------------------------------------------------------------------------------
// Counting forwarder: bytes on the socket in each direction, HTTP headers included

/// Bytes forwarded since the last [`Meter::take`], client to server (`up`) and back (`down`).
#[derive(Default)]
pub struct Meter {
    up: AtomicU64,
    down: AtomicU64,
}

impl Meter {
    pub fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<Meter>,
    up: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let c = if up { &counter.up } else { &counter.down };
        c.fetch_add(n as u64, Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A TCP forwarder on 127.0.0.1 in front of `upstream` that counts every byte both ways.
pub async fn counting_forwarder(upstream: SocketAddr) -> (SocketAddr, Arc<Meter>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let meter = Arc::new(Meter::default());
    let m = meter.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            // Forward each write at once, as the two ends would send it without the forwarder.
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, m.clone(), true));
            tokio::spawn(pump(sr, cw, m.clone(), false));
        }
    });
    (addr, meter)
}
