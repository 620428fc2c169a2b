//! nginx from Debian's packages as the load balancer in front of several `doudi serve` nodes:
//! round robin, and a request whose node does not answer (connection refused or reset) goes to
//! the next node, as a deployment's balancer would send it (sync is idempotent, so a push that
//! reached a dying node may be sent again). Killed on drop.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx, when the machine has it (`/usr/sbin/nginx` or on `PATH`).
pub fn nginx() -> Option<PathBuf> {
    let installed = PathBuf::from("/usr/sbin/nginx");
    if installed.exists() {
        return Some(installed);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nginx"))
            .find(|f| f.exists())
    })
}

pub struct Balancer {
    dir: tempfile::TempDir,
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Balancer {
    /// nginx on a free loopback port, balancing over `nodes`.
    pub fn start(nginx: &PathBuf, nodes: &[SocketAddr]) -> Balancer {
        let dir = tempfile::tempdir().expect("temp dir");
        // Workers may run as another user than the test: they write request bodies here.
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir(dir.path().join(sub)).expect("temp subdir");
        }
        set_open(dir.path());
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let d = dir.path().display();
        let servers: String = nodes
            .iter()
            .map(|n| format!("    server {n} max_fails=1 fail_timeout=1s;\n"))
            .collect();
        let conf = format!(
            r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format upstream '$status $upstream_addr';
  access_log {d}/access.log upstream;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 64m;
  upstream doudi {{
{servers}    keepalive 16;
  }}
  server {{
    listen {addr};
    location / {{
      proxy_pass http://doudi;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_next_upstream error timeout non_idempotent;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }}
  }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Balancer { dir, child, addr }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many answers each node gave, from the access log (a request tried on a dead node
    /// and then another counts for the one that answered).
    pub fn served_by(&self) -> BTreeMap<String, u64> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        let mut out = BTreeMap::new();
        for line in log.lines() {
            // `status addr` or, after a retry, `status addr1, addr2`.
            let tried = line.split_once(' ').map_or("", |(_, t)| t);
            if let Some(last) = tried.rsplit(", ").next().filter(|s| !s.is_empty()) {
                *out.entry(last.to_string()).or_insert(0) += 1;
            }
        }
        out
    }
}

fn set_open(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::iter::once(dir.to_path_buf()).chain(
        std::fs::read_dir(dir)
            .expect("read temp dir")
            .map(|e| e.expect("entry").path()),
    ) {
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
}
