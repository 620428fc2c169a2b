//! The process's numbers for operations, served at `/metrics` in the Prometheus text format
//! (docs/OPERATIONS.md, "Monitoring"). One [`Metrics`] per server process owns the registry;
//! each number is counted at the one place where its event happens (the sync route, the sync
//! run, the group commit, the blob upload), and the numbers of a moment (queue length, pool use)
//! are read when the metrics are asked for ([`Metrics::render`]).

use std::fmt::Write as _;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use sea_orm::{DatabaseConnection, DbBackend};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A metric's one label.
type Label = [(&'static str, String); 1];

/// The numbers of one server process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Sync requests answered, by HTTP status.
    sync_requests: Family<Label, Counter>,
    /// Sync requests being answered now.
    sync_in_flight: Gauge,
    /// Time to answer a sync request, body included (seconds).
    sync_duration: Histogram,
    /// Pushed documents, by outcome (`accepted`, `rejected`).
    pushed: Family<Label, Counter>,
    /// Refused pushed documents, by the code the phone was told.
    rejections: Family<Label, Counter>,
    /// Documents sent to phones (pulled or asked for whole).
    pulled: Counter,
    /// Time to check and store the pushed documents of one request (seconds).
    ingest: Histogram,
    /// Writes per group-commit transaction.
    batch_size: Histogram,
    /// Time to write one group-commit batch (seconds).
    batch_duration: Histogram,
    /// Writes waiting for the group commit (read at scrape time).
    commit_queue: Gauge,
    /// Bytes of upload chunks received.
    blob_received: Counter,
    /// Blobs stored whole, and their bytes.
    blobs_stored: Counter,
    blob_stored_bytes: Counter,
    /// The database pool's connections by state (`idle`, `in_use`) and its maximum (read at
    /// scrape time).
    pool: Family<Label, Gauge>,
    pool_max: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `metric`, registered in `r` under `name`.
fn add<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
    r.register(name, help, metric.clone());
    metric
}

/// Request and ingest durations: 1 ms to about 33 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("doudi");
        let r = &mut r;
        let requests = "Sync requests answered, by HTTP status";
        let ingest = "Time to check and store the pushed documents of one request";
        let pool = "Connections of the database pool, by state";
        let m = Metrics {
            sync_requests: add(r, "sync_requests", requests, Family::default()),
            sync_in_flight: add(
                r,
                "sync_in_flight",
                "Sync requests being answered",
                Gauge::default(),
            ),
            sync_duration: add(
                r,
                "sync_request_duration_seconds",
                "Time to answer a sync request",
                seconds(),
            ),
            pushed: add(
                r,
                "sync_documents_pushed",
                "Pushed documents, by outcome",
                Family::default(),
            ),
            rejections: add(
                r,
                "sync_rejections",
                "Pushed documents refused, by error code",
                Family::default(),
            ),
            pulled: add(
                r,
                "sync_documents_pulled",
                "Documents sent to phones",
                Counter::default(),
            ),
            ingest: add(r, "sync_ingest_duration_seconds", ingest, seconds()),
            batch_size: add(
                r,
                "group_commit_batch_size",
                "Document writes per group-commit transaction",
                Histogram::new(exponential_buckets(1.0, 2.0, 7)),
            ),
            batch_duration: add(
                r,
                "group_commit_duration_seconds",
                "Time to write one group-commit batch",
                seconds(),
            ),
            commit_queue: add(
                r,
                "group_commit_queue",
                "Document writes waiting for the group commit",
                Gauge::default(),
            ),
            blob_received: add(
                r,
                "blob_received_bytes",
                "Bytes of blob upload chunks received",
                Counter::default(),
            ),
            blobs_stored: add(r, "blobs_stored", "Blobs stored whole", Counter::default()),
            blob_stored_bytes: add(
                r,
                "blob_stored_bytes",
                "Bytes of blobs stored whole",
                Counter::default(),
            ),
            pool: add(r, "db_pool_connections", pool, Family::default()),
            pool_max: add(
                r,
                "db_pool_max_connections",
                "Most connections of the database pool",
                Gauge::default(),
            ),
            registry: Registry::default(),
        };
        Metrics {
            registry: std::mem::take(r),
            ..m
        }
    }

    /// A sync request begins: counted in flight until the returned guard is given its status
    /// (or dropped, when the client went away).
    pub fn sync_started(&self) -> SyncRequest<'_> {
        self.sync_in_flight.inc();
        SyncRequest {
            metrics: self,
            started: std::time::Instant::now(),
            answered: false,
        }
    }

    /// Sync requests being answered now.
    pub fn syncs_in_flight(&self) -> i64 {
        self.sync_in_flight.get()
    }

    /// The outcome of a sync's pushed documents: `None` for an accepted one, else the code
    /// it was refused with; and how long checking and storing them took.
    pub fn pushed<'a>(
        &self,
        outcomes: impl IntoIterator<Item = Option<&'a str>>,
        took: std::time::Duration,
    ) {
        let (mut accepted, mut rejected) = (0, 0);
        for code in outcomes {
            match code {
                None => accepted += 1,
                Some(code) => {
                    rejected += 1;
                    self.rejections
                        .get_or_create(&[("code", code.to_string())])
                        .inc();
                }
            }
        }
        if accepted + rejected == 0 {
            return;
        }
        for (outcome, n) in [("accepted", accepted), ("rejected", rejected)] {
            self.pushed
                .get_or_create(&[("outcome", outcome.to_string())])
                .inc_by(n);
        }
        self.ingest.observe(took.as_secs_f64());
    }

    /// Documents sent to a phone.
    pub fn pulled(&self, n: usize) {
        self.pulled.inc_by(n as u64);
    }

    /// The group-commit batch sizes and durations, for the committing task.
    pub fn group_commit(&self) -> CommitMetrics {
        CommitMetrics {
            size: self.batch_size.clone(),
            duration: self.batch_duration.clone(),
        }
    }

    /// An upload chunk of `n` bytes received.
    pub fn blob_chunk(&self, n: u64) {
        self.blob_received.inc_by(n);
    }

    /// A blob of `n` bytes stored whole.
    pub fn blob_stored(&self, n: u64) {
        self.blobs_stored.inc();
        self.blob_stored_bytes.inc_by(n);
    }

    /// The exposition, with the numbers of this moment read first: the writes waiting for the
    /// group commit and the use of `db`'s pool.
    pub fn render(&self, commit_queue: usize, db: &DatabaseConnection) -> String {
        self.commit_queue.set(commit_queue as i64);
        let (size, idle, max) = match db.get_database_backend() {
            DbBackend::Sqlite => pool_use(db.get_sqlite_connection_pool()),
            DbBackend::Postgres => pool_use(db.get_postgres_connection_pool()),
            _ => (0, 0, 0),
        };
        let idle = idle.min(size);
        self.pool
            .get_or_create(&[("state", "idle".into())])
            .set(idle.into());
        self.pool
            .get_or_create(&[("state", "in_use".into())])
            .set((size - idle).into());
        self.pool_max.set(max.into());
        let mut out = String::new();
        if prometheus_text::encode(&mut out, &self.registry).is_err() {
            // Writing to a String does not fail; an encoder error leaves what was written.
            let _ = writeln!(out, "# encoding stopped early");
        }
        out
    }
}

/// (connections open, idle, most)
fn pool_use<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> (u32, u32, u32) {
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    (pool.size(), idle, pool.options().get_max_connections())
}

/// A sync request being answered ([`Metrics::sync_started`]).
#[derive(Debug)]
pub struct SyncRequest<'a> {
    metrics: &'a Metrics,
    started: std::time::Instant,
    answered: bool,
}

impl SyncRequest<'_> {
    /// The request was answered with `status`.
    pub fn answered(mut self, status: u16) {
        self.answered = true;
        self.count(&status.to_string());
    }

    fn count(&self, status: &str) {
        let m = self.metrics;
        m.sync_requests
            .get_or_create(&[("status", status.to_string())])
            .inc();
        m.sync_duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for SyncRequest<'_> {
    /// Dropped unanswered: the request was cut (its time was up, or the client went away).
    fn drop(&mut self) {
        if !self.answered {
            self.count("cut");
        }
        self.metrics.sync_in_flight.dec();
    }
}

/// What the group commit counts: each batch's size and the time it took to write.
#[derive(Debug, Clone)]
pub struct CommitMetrics {
    size: Histogram,
    duration: Histogram,
}

impl CommitMetrics {
    pub fn batch(&self, writes: usize, took: std::time::Duration) {
        self.size.observe(writes as f64);
        self.duration.observe(took.as_secs_f64());
    }
}
