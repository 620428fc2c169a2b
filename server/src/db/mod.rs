//! Database connection and migrations: SQLite (embedded default) or PostgreSQL.

pub mod reads;
pub mod sqlite_writer;

use std::future::Future;
use std::time::Duration;

use sea_orm::sea_query::OnConflict;

use doudi_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, QueryResult, QueryTrait, RuntimeErr, Set, Statement,
};

use crate::auth::{now_ms, random_bytes};
use crate::config::Settings;
use crate::entity::server_secret;

/// Which database a URL names, for logs (never the URL itself: it may hold a password).
pub fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Connections of the pool that serves requests on SQLite.
pub const POOL_SQLITE: u32 = 8;
/// Connections of the pool that serves requests on PostgreSQL.
pub const POOL_POSTGRES: u32 = 16;

/// A pooled connection idle for at least this long is tested (a ping) before it is handed out,
/// in case the server, a proxy or a firewall dropped it meanwhile. A busier one is not: testing
/// on every use (sqlx's default) cost a round trip to PostgreSQL per query.
pub const POOL_TEST_AFTER_IDLE: Duration = Duration::from_secs(30);

/// How long opening a database connection may take, for the pool and for the sync's own read
/// connections ([`crate::db::reads`]).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a database error says the database cannot be reached right now (refused, reset or
/// closed connections, a server shutting down or starting up, no free connection in time) rather
/// than something wrong with a statement: the request may succeed once the database is back, so
/// it is answered `503 server.unavailable` ([`crate::error::ApiError`]).
pub fn unreachable(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_ref() {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        // PostgreSQL's SQLSTATE: connection exceptions (class 08), the server shutting down or
        // starting up (57P01 to 57P03), too many connections (53300).
        Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Connect to the configured database (creating the data directory for SQLite).
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    connect_pool(settings, None).await
}

/// One connection of its own for the group commit ([`crate::documents::GroupCommit`]): taking one
/// from the requests' pool for each batch meant queueing behind the requests' own queries.
pub async fn connect_writer(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    connect_pool(settings, Some(1)).await
}

async fn connect_pool(settings: &Settings, size: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let url = settings.database_url();
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data directory {}: {e}",
                settings.data_dir.display()
            ))
        })?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.sqlx_logging(false)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(POOL_TEST_AFTER_IDLE);
    if backend_name(&url) == "sqlite" {
        opts.max_connections(size.unwrap_or(POOL_SQLITE))
            .map_sqlx_sqlite_opts(|o| {
                sqlite_pragmas()
                    .into_iter()
                    .fold(o.busy_timeout(SQLITE_BUSY_TIMEOUT), |o, (k, v)| {
                        o.pragma(k, v)
                    })
            })
            .map_sqlx_sqlite_pool_opts(|p| {
                p.after_connect(|conn, _| {
                    Box::pin(async move {
                        let mut handle = conn.lock_handle().await?;
                        stable_query_plans(handle.as_raw_handle());
                        Ok(())
                    })
                })
            });
    } else {
        opts.max_connections(size.unwrap_or(POOL_POSTGRES));
    }
    if let Some(n) = size {
        opts.min_connections(n);
    }
    Database::connect(opts).await
}

/// Turn on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for one
/// connection.
///
/// Without it SQLite marks a statement to be compiled again whenever certain bound values are
/// bound anew, because its plan may depend on them: a `LIMIT ?` (every `.one()` of sea-orm, every
/// page of the sync feed), a `LIKE ?`, a range on an analysed index. sqlx binds every value on
/// every execution, so those statements were parsed and planned again on each use: about an
/// eighth of the server's CPU time under the sync ingest. With the guarantee a statement keeps
/// the plan it was prepared with; the plans do not depend on the values here (no `ANALYZE`
/// statistics, `LIKE` not served by an index).
#[allow(unsafe_code)]
fn stable_query_plans(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) {
    // SAFETY: `db` is an open connection handle that its lock guard keeps from other use for the
    // length of this call; SQLITE_DBCONFIG_ENABLE_QPSG takes an int and an optional int pointer
    // for the new setting, which may be null.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db.as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        tracing::warn!(rc, "SQLite refused the query planner stability option");
    }
}

/// The settings of every SQLite connection, the request pool's and the group commit's writer
/// ([`crate::db::sqlite_writer`]): PRAGMA names and values, applied in this order.
pub fn sqlite_pragmas() -> [(&'static str, String); 6] {
    [
        ("journal_mode", "WAL".into()),
        ("synchronous", "NORMAL".into()),
        ("foreign_keys", "ON".into()),
        // Checkpoints are the background checkpointer's ([`start_checkpointer`]); a commit
        // checkpoints only a WAL that it has let grow this far.
        ("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string()),
        // A group commit's pages stay in the cache until it commits (with the 2 MiB default they
        // spilled into the WAL halfway), and statement journals are kept in memory rather than in
        // temporary files.
        ("cache_size", format!("-{SQLITE_CACHE_KIB}")),
        ("temp_store", "MEMORY".into()),
    ]
}

/// How long a SQLite connection waits for another's write lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database file a SQLite URL names (`sqlite://PATH?…` or `sqlite:PATH`); `None` for an
/// in-memory database or another backend.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// WAL pages after which a commit checkpoints by itself (SQLite's default is 1,000): a safety
/// net for when the background checkpointer falls behind.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Page cache of each SQLite connection, KiB (SQLite's default is 2,000).
pub const SQLITE_CACHE_KIB: u32 = 8_192;

/// How often the background checkpointer copies the WAL into the database file.
///
/// Under a steady ingest the WAL never restarts from its start by itself: a passive checkpoint
/// beside a busy writer never finds everything copied. It restarts when it reaches
/// [`WAL_AUTOCHECKPOINT_PAGES`], at a commit that first copies (and syncs) whatever the
/// background checkpointer has not copied yet, while the requests of its batch wait. At 250 ms
/// that was 4,000 to 8,000 pages (the ingest writes about 20,000 WAL pages a second: every
/// random-key index dirties its own leaf page per visit); at 50 ms mostly under 1,200, and the
/// ingest's p99 on SQLite went from about 315 to 275 ms (docs/BENCHMARKS.md).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Stops the background checkpointer when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// On SQLite, checkpoint the WAL every [`CHECKPOINT_EVERY`] from a task of its own, so that no
/// commit has to.
///
/// With SQLite's automatic checkpoints, the commit that takes the WAL past 1,000 pages copies
/// them into the database file and syncs it before it returns. Under the sync ingest a group
/// commit of 64 visits writes about that many pages (every random-key index touches its own
/// leaf pages), so most batches waited 70–100 ms for a checkpoint, while every request of the
/// batch waited for them. A passive checkpoint from another connection runs beside the writer
/// and waits for no one; pages written again between two checkpoints are copied once.
pub fn start_checkpointer(db: &DatabaseConnection) -> Option<Checkpointer> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let db = db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tick.tick() => {
                    if let Err(e) = db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            }
        }
    });
    Some(Checkpointer { _stop: stop })
}

/// Where a write's statements run: a sea-orm connection or transaction, or the group commit's
/// SQLite writer ([`crate::db::sqlite_writer`]). The statements are sea-query's, built for
/// [`Exec::backend`].
pub trait Exec: Sync {
    fn backend(&self) -> DbBackend;
    /// Run `st`; the number of rows it changed.
    fn exec(&self, st: Statement) -> impl Future<Output = Result<u64, DbErr>> + Send;
    /// Run the query `st`; its rows, read as `T`.
    fn query<T: Decode>(&self, st: Statement)
    -> impl Future<Output = Result<Vec<T>, DbErr>> + Send;
}

/// A row read by [`Exec::query`], from its columns in the order selected (a model: by name).
pub trait Decode: Sized + Send {
    fn from_orm(row: &QueryResult) -> Result<Self, DbErr>;
    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, DbErr>;
}

/// [`Decode`] for one plain column, read by position.
macro_rules! decode_column {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn from_orm(row: &QueryResult) -> Result<Self, DbErr> {
                row.try_get_by_index(0)
            }
            fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, DbErr> {
                row.get(0).map_err(crate::db::reads::db_err)
            }
        }
    )*};
}

decode_column!(i64, Option<i64>, String);

/// [`Decode`] for tuples of plain columns, read by position.
macro_rules! decode_columns {
    ($(($($t:ty => $i:tt),+)),*) => {$(
        impl Decode for ($($t,)+) {
            fn from_orm(row: &QueryResult) -> Result<Self, DbErr> {
                Ok(($(row.try_get_by_index::<$t>($i)?,)+))
            }
            fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, DbErr> {
                Ok(($(row.get::<_, $t>($i).map_err(crate::db::reads::db_err)?,)+))
            }
        }
    )*};
}

decode_columns!(
    (String => 0, i64 => 1),
    (String => 0, Vec<u8> => 1),
    (String => 0, i64 => 1, Vec<u8> => 2),
    (String => 0, String => 1, String => 2, String => 3),
    (Option<String> => 0, Option<i64> => 1)
);

impl<C: ConnectionTrait + Sync> Exec for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }
    async fn exec(&self, st: Statement) -> Result<u64, DbErr> {
        Ok(self.execute_raw(st).await?.rows_affected())
    }
    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        self.query_all_raw(st)
            .await?
            .iter()
            .map(T::from_orm)
            .collect()
    }
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The access-token key: configured, or created once in the database and shared by every
/// process that serves it.
pub async fn token_key(db: &DatabaseConnection, settings: &Settings) -> Result<Vec<u8>, DbErr> {
    match &settings.jwt_secret {
        Some(s) => Ok(s.expose().as_bytes().to_vec()),
        None => server_secret(db, "access_token_hs256").await,
    }
}

/// The secret named `name` of `server_secrets`: created once (256 random bits, as hexadecimal
/// text) by whichever process asks first, then read by every process of the database.
pub async fn server_secret(db: &DatabaseConnection, name: &str) -> Result<Vec<u8>, DbErr> {
    if let Some(row) = server_secret::Entity::find_by_id(name).one(db).await? {
        return Ok(row.value.into_bytes());
    }
    let fresh = hex::encode(random_bytes::<32>());
    let insert = server_secret::ActiveModel {
        name: Set(name.to_string()),
        value: Set(fresh),
        created_at_ms: Set(now_ms()),
    }
    .insert(db)
    .await;
    if let Err(e) = insert {
        tracing::debug!(error = %e, name, "another process created the secret first");
    }
    // Whoever won the race, read the stored secret.
    server_secret::Entity::find_by_id(name)
        .one(db)
        .await?
        .map(|row| row.value.into_bytes())
        .ok_or_else(|| DbErr::Custom(format!("secret {name} missing after creation")))
}

/// Rows per `IN (…)` list, well below SQLite's and PostgreSQL's parameter limits.
pub const IN_CHUNK: usize = 500;

/// Rows of one multi-row insert (within SQLite's and PostgreSQL's limits on bound values for
/// every table written in chunks).
pub const INSERT_CHUNK: usize = 100;

/// Multi-row inserts of `rows`, [`INSERT_CHUNK`] at a time; the number of rows inserted.
pub async fn insert_chunks<E, A>(
    db: &E,
    rows: Vec<A>,
    on_conflict: Option<OnConflict>,
) -> Result<u64, DbErr>
where
    E: Exec,
    A: sea_orm::ActiveModelTrait + Clone,
{
    let mut inserted = 0;
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut insert = A::Entity::insert_many(chunk.to_vec());
        if let Some(c) = &on_conflict {
            insert = insert.on_conflict(c.clone());
        }
        inserted += db.exec(insert.build(db.backend())).await?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::{sqlite_file, unreachable};
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// Every index of the migrated SQLite schema covers a column list of its own: an index that
    /// repeats another's columns costs every write of its table and serves no read.
    #[tokio::test]
    async fn no_sqlite_index_repeats_another() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("schema.db").display()
        );
        let db = Database::connect(url).await.expect("connect");
        super::migrate(&db).await.expect("migrate");
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT m.tbl_name AS tbl, m.name AS idx, i.seqno AS seqno, i.name AS col \
                 FROM sqlite_master m, pragma_index_info(m.name) i \
                 WHERE m.type = 'index' ORDER BY m.name, i.seqno",
            ))
            .await
            .expect("index list");
        let mut columns: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for row in rows {
            let tbl: String = row.try_get("", "tbl").unwrap();
            let idx: String = row.try_get("", "idx").unwrap();
            let col: String = row.try_get("", "col").unwrap();
            columns.entry((tbl, idx)).or_default().push(col);
        }
        // The listing sees the schema's indexes at all (a broken query would pass vacuously).
        assert!(columns.contains_key(&("households".into(), "idx_households_path".into())));
        assert!(columns.len() > 30, "{} indexes listed", columns.len());
        let mut seen: BTreeMap<(String, Vec<String>), String> = BTreeMap::new();
        for ((tbl, idx), cols) in columns {
            if let Some(first) = seen.insert((tbl.clone(), cols.clone()), idx.clone()) {
                panic!(
                    "{idx} repeats {first}: both index {tbl} ({})",
                    cols.join(", ")
                );
            }
        }
    }

    #[test]
    fn sqlite_file_names_the_database_file_or_nothing() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/doudi/doudi.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/doudi/doudi.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data/d.db"),
            Some(PathBuf::from("data/d.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://d.db?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    /// A refused or dropped connection and a pool without a free connection are "unreachable";
    /// a statement's own failure is not.
    #[test]
    fn unreachable_tells_a_lost_database_from_a_failed_statement() {
        use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, sqlx};
        let sqlx_err = |e: sqlx::Error| RuntimeErr::SqlxError(std::sync::Arc::new(e));
        let refused = || sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(unreachable(&DbErr::Conn(sqlx_err(refused()))));
        assert!(unreachable(&DbErr::Query(sqlx_err(refused()))));
        assert!(unreachable(&DbErr::Exec(sqlx_err(
            sqlx::Error::PoolTimedOut
        ))));
        assert!(unreachable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(!unreachable(&DbErr::Query(sqlx_err(
            sqlx::Error::RowNotFound
        ))));
        assert!(!unreachable(&DbErr::RecordNotFound("x".into())));
        assert!(!unreachable(&DbErr::Custom("sqlite: bad".into())));
    }
}
