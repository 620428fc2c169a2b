//! Start the server: connect, migrate, serve until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::future::IntoFuture;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::config::{LogFormat, Settings};
use crate::db;
use crate::http::{self, AppState, SharedState};
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("sealing the identity numbers of stored documents: {0}")]
    Seal(String),
    #[error("settings: {0}")]
    Config(#[from] crate::config::ConfigError),
}

/// Connect to the database, apply migrations and build the shared state.
pub async fn prepare(settings: Settings) -> Result<SharedState, StartError> {
    settings.check()?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    let key = db::token_key(&db, &settings).await?;
    let keys = TokenKeys::new(&key, settings.access_token_ttl_secs);
    let sqlite_file = db::sqlite_file(&settings.database_url());
    let metrics = Metrics::new();
    let counted = metrics.group_commit();
    let commits = match &sqlite_file {
        Some(path) => crate::documents::GroupCommit::start_sqlite(path, counted)?,
        None => crate::documents::GroupCommit::start(db::connect_writer(&settings).await?, counted),
    };
    let reads = crate::db::reads::Reads::open(&db, sqlite_file.as_deref())?;
    let checkpoints = db::start_checkpointer(&db);
    let identity = crate::identity::IdentityKeys::load(&db, &settings).await?;
    let epoch = crate::sync::Epoch::load(&db).await?;
    let state = Arc::new(AppState {
        db,
        settings,
        keys,
        commits,
        checkpoints,
        placements: Default::default(),
        reads,
        task_tags: Default::default(),
        identity,
        metrics,
        epoch,
        feed_end: Default::default(),
    });
    // Documents stored before numbers were sealed: sealed before anything is served, once.
    let sealed = crate::identity::seal_stored(&state.db, &state.identity)
        .await
        .map_err(|e| StartError::Seal(e.body().message_en.clone()))?;
    if sealed > 0 {
        tracing::info!(
            documents = sealed,
            "sealed the identity numbers of stored documents"
        );
    }
    Ok(state)
}

/// Serve the API on `listener` until `shutdown` completes. Then no connection is taken any more,
/// idle ones are closed, and requests already begun (a sync in flight) are finished and answered
/// within `shutdown_grace_secs`; those still running then are cut.
pub async fn serve(
    state: SharedState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let blobs = http::blobs::Blobs::from_settings(&state.settings);
    let pages = http::Pages {
        router: crate::console::router(blobs.clone(), state.settings.max_import_bytes),
        error_page: crate::console::error_page,
    };
    let state_grace = state.settings.shutdown_grace_secs;
    let in_flight = state.clone();
    let app = http::router(state, blobs, pages).into_make_service_with_connect_info::<SocketAddr>();
    // A response leaves as soon as it is written: with Nagle's algorithm, a small write after
    // another waits for the peer's delayed acknowledgement (tens of milliseconds).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let grace = std::time::Duration::from_secs(state_grace);
    let (began, stopping) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: finishing the requests begun"
        );
        let _ = began.send(());
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    let grace_over = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served?,
        () = grace_over => tracing::warn!(
            syncs = in_flight.metrics.syncs_in_flight(),
            "shutdown grace period over: cutting the requests still running"
        ),
    }
    Ok(())
}

/// `prepare` then `serve`: what `doudi serve` runs.
pub async fn launch(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let state = prepare(settings).await?;
    serve(state, listener, shutdown).await
}

/// The log of `doudi`: lines on `writer` as `format` says, filtered by `RUST_LOG` (default
/// `info`).
pub fn log_subscriber<W>(format: LogFormat, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into());
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(lines.finish()),
        LogFormat::Json => Box::new(lines.json().finish()),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::{MetricsAccess, Secret};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// JSON logs: one object per line, with the message and its fields; secrets in the
    /// settings stay out.
    #[test]
    fn json_logs_are_an_object_a_line_without_secrets() {
        let lines = Lines::default();
        let out = lines.clone();
        let log = log_subscriber(LogFormat::Json, move || out.clone());
        tracing::subscriber::with_default(log, || {
            let settings = Settings {
                database_url: Some(Secret::new("postgres://doudi:db-password@db/doudi")),
                jwt_secret: Some(Secret::new("jwt-secret-value")),
                metrics: Some(MetricsAccess::Token),
                metrics_token: Some(Secret::new("metrics-token-value")),
                ..Settings::default()
            };
            tracing::info!(settings = ?settings, "starting");
            tracing::warn!(syncs = 2, "shutdown grace period over");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let objects: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(objects.len(), 2, "{text}");
        assert_eq!(objects[0]["level"], "INFO");
        assert_eq!(objects[0]["fields"]["message"], "starting");
        assert_eq!(objects[1]["fields"]["syncs"], 2);
        for secret in ["db-password", "jwt-secret-value", "metrics-token-value"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
