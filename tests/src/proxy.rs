//! A loopback TCP proxy that cuts connections: each connection it accepts is cut after a number of
//! bytes drawn from a seeded generator, in the direction drawn with it (client to server: in the
//! middle of a request; server to client: in the middle of an answer). The bytes before the cut
//! are forwarded, then both sockets are closed, half of them with a reset (`SO_LINGER` 0) and
//! half with an orderly close, as a phone's connection dies on a train or in a lift.
//!
//! The generator decides per accepted connection, in the order connections arrive; with several
//! phones that order depends on timing, so a seed fixes the sequence of cuts, not which request
//! each one hits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::Rng;

/// Cuts made so far.
#[derive(Debug, Default)]
pub struct Cuts {
    pub connections: AtomicU64,
    /// Cut while bytes went from the phone to the server.
    pub mid_request: AtomicU64,
    /// Cut while bytes went from the server to the phone.
    pub mid_response: AtomicU64,
}

impl Cuts {
    pub fn total(&self) -> u64 {
        self.mid_request.load(Ordering::SeqCst) + self.mid_response.load(Ordering::SeqCst)
    }
}

/// The proxy: phones connect to `addr`; it forwards to the server given to [`CuttingProxy::start`].
pub struct CuttingProxy {
    pub addr: SocketAddr,
    pub cuts: Arc<Cuts>,
    cutting: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where one connection is cut.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Client to server (true) or back.
    up: bool,
    /// Bytes forwarded in that direction before the cut.
    after: u64,
    reset: bool,
}

/// Up to 256 KiB, log-uniformly: cuts land in headers, in small bodies and in large pages alike.
fn plan(rng: &mut Rng) -> Plan {
    let exp = rng.below(18) as u32;
    Plan {
        up: rng.below(2) == 0,
        after: (1u64 << exp) + rng.below(1 << exp),
        reset: rng.below(2) == 0,
    }
}

impl CuttingProxy {
    /// A proxy on 127.0.0.1 in front of `upstream`, not cutting until [`CuttingProxy::cut`].
    pub async fn start(upstream: SocketAddr, seed: u64) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cuts = Arc::new(Cuts::default());
        let cutting = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(Rng::new(seed)));
        let task = tokio::spawn({
            let (cuts, cutting) = (cuts.clone(), cutting.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let plan = plan(&mut rng.lock().unwrap());
                    cuts.connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(forward(
                        client,
                        upstream,
                        plan,
                        cutting.clone(),
                        cuts.clone(),
                    ));
                }
            }
        });
        CuttingProxy {
            addr,
            cuts,
            cutting,
            task,
        }
    }

    /// Start cutting.
    pub fn cut(&self) {
        self.cutting.store(true, Ordering::SeqCst);
    }

    /// Stop cutting (the network is back).
    pub fn calm(&self) {
        self.cutting.store(false, Ordering::SeqCst);
    }
}

/// Copy `from` to `to`; with a limit, stop after that many bytes forwarded while `cutting` is on
/// and say so (`true`).
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    mut limit: Option<u64>,
    cutting: &AtomicBool,
) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let armed = limit.filter(|_| cutting.load(Ordering::SeqCst));
        let take = armed.map_or(n, |l| n.min(l as usize));
        if to.write_all(&buf[..take]).await.is_err() {
            break;
        }
        if let (Some(l), Some(_)) = (&mut limit, armed) {
            *l -= take as u64;
            if *l == 0 {
                return true;
            }
        }
    }
    let _ = to.shutdown().await;
    false
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    plan: Plan,
    cutting: Arc<AtomicBool>,
    cuts: Arc<Cuts>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    if plan.reset {
        for s in [&client, &server] {
            let _ = s.set_zero_linger();
        }
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let limit = |up: bool| (plan.up == up).then_some(plan.after);
    let up = pump(&mut cr, &mut sw, limit(true), &cutting);
    let down = pump(&mut sr, &mut cw, limit(false), &cutting);
    tokio::pin!(up, down);
    // Each direction runs until its end of file; a cut in either ends both at once.
    let cut = tokio::select! {
        c = &mut up => c || down.await,
        c = &mut down => c || up.await,
    };
    if cut {
        let counter = if plan.up {
            &cuts.mid_request
        } else {
            &cuts.mid_response
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}
