//! The reads of every sync request: authentication (with the device's sync state), the stored
//! document, the feed and, when it may have changed, the task list.
//!
//! Through a pool, each read pays for the pool. On SQLite, a read through sqlx is a hand-off:
//! the asking task sends the statement to its connection's worker thread, which wakes, runs it,
//! and wakes the task again with each row. Under the sync ingest (then six reads per pushed
//! visit) the pool's threads and those hand-offs took about a quarter of the server's CPU time,
//! of which SQLite's own work was less than half. [`Reads::Sqlite`] keeps a few rusqlite
//! connections of its own (on the same SQLite library sqlx links) and runs a read on the thread
//! that asks. These reads are indexed lookups of a few rows, which take tens of microseconds;
//! in WAL mode a reader does not wait for the writer or a checkpoint (only SQLite's recovery of
//! a crashed writer's WAL can hold it, for at most the busy timeout).
//!
//! On PostgreSQL, sqlx's pool tests every connection it takes back with a round trip (a `Sync`
//! message and its `ReadyForQuery`), on a task of its own: each read cost two round trips and
//! two tasks. [`Reads::Postgres`] keeps a few connections of its own, read-only, and runs one
//! statement at a time on each. A read abandoned halfway (its request dropped) leaves the
//! connection's answer unread; sqlx reads it away before the next statement on it. A connection
//! whose statement fails is dropped and opened again on its next use.
//!
//! The statements are the same sea-query statements as on every other connection
//! ([`crate::db::Exec`]); rows are read as entity models through their column types
//! ([`sqlite_model`]) or, on PostgreSQL, as sea-orm reads them.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::{Value as Sql, ValueRef};
use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, ConnAcquireErr, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult, RuntimeErr, Statement,
    TryIntoModel,
};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::db::{CONNECT_TIMEOUT, Decode, Exec, SQLITE_BUSY_TIMEOUT, sqlite_pragmas};
use crate::entity::{account, device, document, region, task};

/// Connections of [`SqliteReaders`]: more than the runtime's worker threads, so that a read
/// rarely waits for another.
pub const SQLITE_READERS: usize = 4;

/// Connections of [`PgReaders`]. The ingest's reads each take a fraction of a millisecond,
/// so a few connections carry them; more than [`SQLITE_READERS`], since a PostgreSQL read waits
/// for the network and the database's process rather than running on the asking thread.
pub const POSTGRES_READERS: usize = 8;

/// Prepared statements kept per connection (multi-row inserts differ by their row count).
const STATEMENT_CACHE: usize = 128;

/// Where the sync's reads run (see the module documentation).
#[derive(Debug)]
// One per server process.
#[allow(clippy::large_enum_variant)]
pub enum Reads {
    /// The request pool: an in-memory SQLite database, whose connections each see their own.
    Pool(DatabaseConnection),
    Sqlite(SqliteReaders),
    Postgres(PgReaders),
}

impl Reads {
    /// Connections of their own to the database of `db`: SQLite connections to the database
    /// file `sqlite_file`, PostgreSQL connections with the pool's options (opened on first
    /// use); for an in-memory SQLite database, the pool `db` itself.
    pub fn open(db: &DatabaseConnection, sqlite_file: Option<&Path>) -> Result<Reads, DbErr> {
        match (db.get_database_backend(), sqlite_file) {
            (DbBackend::Sqlite, Some(path)) => {
                Ok(Reads::Sqlite(SqliteReaders::open(path, SQLITE_READERS)?))
            }
            (DbBackend::Postgres, _) => {
                let options = db.get_postgres_connection_pool().connect_options();
                Ok(Reads::Postgres(PgReaders::new(&options, POSTGRES_READERS)))
            }
            _ => Ok(Reads::Pool(db.clone())),
        }
    }
}

impl Exec for Reads {
    fn backend(&self) -> DbBackend {
        match self {
            Reads::Pool(db) => db.backend(),
            Reads::Sqlite(r) => r.backend(),
            Reads::Postgres(r) => r.backend(),
        }
    }

    async fn exec(&self, st: Statement) -> Result<u64, DbErr> {
        match self {
            Reads::Pool(db) => db.exec(st).await,
            Reads::Sqlite(r) => r.exec(st).await,
            Reads::Postgres(r) => r.exec(st).await,
        }
    }

    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        match self {
            Reads::Pool(db) => db.query(st).await,
            Reads::Sqlite(r) => r.query(st).await,
            Reads::Postgres(r) => r.query(st).await,
        }
    }
}

/// A few read-only rusqlite connections to one SQLite database file.
#[derive(Debug)]
pub struct SqliteReaders {
    conns: Box<[Mutex<rusqlite::Connection>]>,
    next: AtomicUsize,
}

impl SqliteReaders {
    /// `n` connections to `path`, with the request pool's settings, refusing writes.
    pub fn open(path: &Path, n: usize) -> Result<SqliteReaders, DbErr> {
        let conns = (0..n.max(1))
            .map(|_| {
                let conn = open_sqlite(path)?;
                conn.execute_batch("PRAGMA query_only = ON")
                    .map_err(db_err)?;
                // As on the pool's connections ([`crate::db`]): `LIMIT ?` and the like keep the
                // plan they were prepared with instead of being planned again on each use.
                conn.set_db_config(
                    rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                    true,
                )
                .map_err(db_err)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<_, DbErr>>()?;
        Ok(SqliteReaders {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, or (all in use) the next one once it is free. A connection is held
    /// for one statement, never across an `.await`.
    fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        first_free(&self.conns, &self.next, |c| c.try_lock().ok())
            .unwrap_or_else(|busy| busy.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Exec for SqliteReaders {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn exec(&self, _st: Statement) -> Result<u64, DbErr> {
        Err(DbErr::Custom(
            "sqlite readers: a write was sent to a read-only connection".into(),
        ))
    }

    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        run_query(&self.conn(), &st)
    }
}

/// Round robin over `slots` from the next start: the first that `take` gets without waiting, or
/// (all in use) the slot to wait for.
fn first_free<'a, S, G>(
    slots: &'a [S],
    next: &AtomicUsize,
    take: impl Fn(&'a S) -> Option<G>,
) -> Result<G, &'a S> {
    let n = slots.len();
    let start = next.fetch_add(1, Ordering::Relaxed);
    (0..n)
        .find_map(|i| take(&slots[(start + i) % n]))
        .ok_or(&slots[start % n])
}

/// A few read-only PostgreSQL connections of their own (see the module documentation).
pub struct PgReaders {
    options: PgConnectOptions,
    /// `None`: not opened yet, or dropped after a failure.
    conns: Box<[tokio::sync::Mutex<Option<PgConnection>>]>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PgReaders {
    // The connect options hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReaders")
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl PgReaders {
    /// `n` connections with `options`, each opened on its first use, in read-only
    /// transactions, named [`PG_APPLICATION_NAME`].
    pub fn new(options: &PgConnectOptions, n: usize) -> PgReaders {
        let options = options
            .clone()
            .application_name(PG_APPLICATION_NAME)
            .options([("default_transaction_read_only", "on")]);
        PgReaders {
            options,
            conns: (0..n.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A free connection, or (all in use) the next one once it is free.
    async fn conn(&self) -> tokio::sync::MutexGuard<'_, Option<PgConnection>> {
        match first_free(&self.conns, &self.next, |c| c.try_lock().ok()) {
            Ok(free) => free,
            Err(busy) => busy.lock().await,
        }
    }
}

impl Exec for PgReaders {
    fn backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn exec(&self, _st: Statement) -> Result<u64, DbErr> {
        Err(DbErr::Custom(
            "postgres readers: a write was sent to a read-only connection".into(),
        ))
    }

    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        use sea_orm::sqlx::Connection;
        let mut slot = self.conn().await;
        let conn = match &mut *slot {
            Some(c) => c,
            empty => {
                let opened = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    PgConnection::connect_with(&self.options),
                )
                .await
                .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
                .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e.into())))?;
                empty.insert(opened)
            }
        };
        let values = st.values.unwrap_or(sea_orm::sea_query::Values(Vec::new()));
        let read = sea_orm::sqlx::query_with(
            sea_orm::sqlx::AssertSqlSafe(st.sql.as_str()),
            sea_query_sqlx::SqlxValues(values),
        )
        .fetch_all(&mut *conn)
        .await;
        match read {
            Ok(rows) => rows
                .into_iter()
                .map(|row| T::from_orm(&QueryResult::from(row)))
                .collect(),
            Err(e) => {
                // The connection may be gone (a restarted or terminated server answers with a
                // database error, then closes): open a new one for the next read. Reads fail
                // rarely, and a new connection costs a few milliseconds.
                *slot = None;
                Err(DbErr::Query(RuntimeErr::SqlxError(e.into())))
            }
        }
    }
}

/// The `application_name` of [`PgReaders`]' connections, as `pg_stat_activity` shows them.
pub const PG_APPLICATION_NAME: &str = "doudi-reads";

// ---------------------------------------------------------------------------------------------
// Shared with the group commit's writer ([`crate::db::sqlite_writer`])

pub(crate) fn db_err(e: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("sqlite: {e}"))
}

/// A connection to the database file `path` with the settings of the request pool's
/// connections ([`crate::db::sqlite_pragmas`]).
pub(crate) fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, DbErr> {
    let conn = rusqlite::Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT).map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let pragmas: String = sqlite_pragmas()
        .iter()
        .map(|(k, v)| format!("PRAGMA {k} = {v};"))
        .collect();
    conn.execute_batch(&pragmas).map_err(db_err)?;
    Ok(conn)
}

/// The bound value of `v`; values of other types are not used by these statements.
fn to_sql(v: &Value) -> Result<Sql, DbErr> {
    fn int<T: Into<i64> + Copy>(n: &Option<T>) -> Sql {
        n.map_or(Sql::Null, |n| Sql::Integer(n.into()))
    }
    Ok(match v {
        Value::Bool(b) => b.map_or(Sql::Null, |b| Sql::Integer(b as i64)),
        Value::TinyInt(n) => int(n),
        Value::SmallInt(n) => int(n),
        Value::Int(n) => int(n),
        Value::BigInt(n) => int(n),
        Value::TinyUnsigned(n) => int(n),
        Value::SmallUnsigned(n) => int(n),
        Value::Unsigned(n) => int(n),
        Value::BigUnsigned(n) => match n.map(i64::try_from).transpose() {
            Ok(n) => n.map_or(Sql::Null, Sql::Integer),
            Err(_) => return Err(DbErr::Custom("sqlite: bound value out of range".into())),
        },
        Value::Float(f) => f.map_or(Sql::Null, |f| Sql::Real(f as f64)),
        Value::Double(f) => f.map_or(Sql::Null, Sql::Real),
        Value::String(s) => s.clone().map_or(Sql::Null, Sql::Text),
        Value::Char(c) => c.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::Bytes(b) => b.clone().map_or(Sql::Null, Sql::Blob),
        other => {
            return Err(DbErr::Custom(format!(
                "sqlite: bound value type not supported: {other:?}"
            )));
        }
    })
}

fn params(st: &Statement) -> Result<Vec<Sql>, DbErr> {
    st.values
        .as_ref()
        .map_or(Ok(Vec::new()), |v| v.0.iter().map(to_sql).collect())
}

/// Run `st` on `conn`: the number of rows it changed.
pub(crate) fn run_exec(conn: &rusqlite::Connection, st: &Statement) -> Result<u64, DbErr> {
    let values = params(st)?;
    let mut stmt = conn.prepare_cached(&st.sql).map_err(db_err)?;
    let n = stmt
        .execute(rusqlite::params_from_iter(values))
        .map_err(db_err)?;
    Ok(n as u64)
}

/// Run the query `st` on `conn`: its rows, read as `T`.
pub(crate) fn run_query<T: Decode>(
    conn: &rusqlite::Connection,
    st: &Statement,
) -> Result<Vec<T>, DbErr> {
    let values = params(st)?;
    let mut stmt = conn.prepare_cached(&st.sql).map_err(db_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_err)? {
        out.push(T::from_sqlite(row)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Rows as models

/// The value of column `name` of `row` as sea-query's value of a column of type `ty`: what the
/// model derived from the entity reads (SQLite keeps integers, booleans and 32-bit integers
/// alike as INTEGER).
fn column_value(row: &rusqlite::Row<'_>, name: &str, ty: &ColumnType) -> Result<Value, DbErr> {
    let v = row.get_ref(name).map_err(db_err)?;
    let bad = || DbErr::Type(format!("sqlite: column {name} holds {v:?}, not {ty:?}"));
    Ok(match ty {
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => match v {
            ValueRef::Null => Value::String(None),
            ValueRef::Text(t) => {
                Value::String(Some(std::str::from_utf8(t).map_err(|_| bad())?.to_string()))
            }
            _ => return Err(bad()),
        },
        ColumnType::BigInteger | ColumnType::Integer | ColumnType::Boolean => {
            let n = match v {
                ValueRef::Null => None,
                ValueRef::Integer(n) => Some(n),
                _ => return Err(bad()),
            };
            match ty {
                ColumnType::BigInteger => Value::BigInt(n),
                ColumnType::Integer => {
                    Value::Int(n.map(i32::try_from).transpose().map_err(|_| bad())?)
                }
                _ => Value::Bool(n.map(|n| n != 0)),
            }
        }
        ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => match v {
            ValueRef::Null => Value::Bytes(None),
            ValueRef::Blob(b) => Value::Bytes(Some(b.to_vec())),
            _ => return Err(bad()),
        },
        other => {
            return Err(DbErr::Type(format!(
                "sqlite: column {name}: type {other:?} not read here"
            )));
        }
    })
}

/// A model of entity `E` from the columns of `row` named as its own, each prefixed with `pre`
/// (sea-orm's aliases of a joined select: `A_`, `B_`).
pub fn sqlite_model<E>(row: &rusqlite::Row<'_>, pre: &str) -> Result<E::Model, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    let mut model = <E::ActiveModel as ActiveModelTrait>::default();
    for col in E::Column::iter() {
        let name = format!("{pre}{}", col.as_str());
        model.try_set(col, column_value(row, &name, col.def().get_column_type())?)?;
    }
    model.try_into_model()
}

/// [`Decode`] for the models read by the sync, through their entity's column types.
macro_rules! decode_models {
    ($($m:ident),*) => {$(
        impl Decode for $m::Model {
            fn from_orm(row: &QueryResult) -> Result<Self, DbErr> {
                $m::Model::from_query_result(row, "")
            }
            fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, DbErr> {
                sqlite_model::<$m::Entity>(row, "")
            }
        }
    )*};
}

decode_models!(document, region, task);

/// A device and its account (`None` when the account's columns are null), as sea-orm's
/// `select_also` names them.
impl Decode for (device::Model, Option<account::Model>) {
    fn from_orm(row: &QueryResult) -> Result<Self, DbErr> {
        Ok((
            device::Model::from_query_result(row, "A_")?,
            account::Model::from_query_result_optional(row, "B_")?,
        ))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, DbErr> {
        let device = sqlite_model::<device::Entity>(row, "A_")?;
        let no_account = row.get_ref("B_id").map_err(db_err)? == ValueRef::Null;
        let account = match no_account {
            true => None,
            false => Some(sqlite_model::<account::Entity>(row, "B_")?),
        };
        Ok((device, account))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{
        ActiveModelTrait, Database, EntityTrait, IntoActiveModel, JoinType, QuerySelect, QueryTrait,
    };

    use super::*;
    use crate::entity::{account, device, document, task};

    async fn both(dir: &Path) -> (Reads, Reads) {
        let path = dir.join("reads.db");
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("connect");
        crate::db::migrate(&db).await.expect("migrate");
        let sqlite = Reads::open(&db, Some(&path)).expect("readers");
        assert!(matches!(sqlite, Reads::Sqlite(_)));
        (Reads::Pool(db), sqlite)
    }

    fn pool(r: &Reads) -> &DatabaseConnection {
        match r {
            Reads::Pool(db) => db,
            Reads::Sqlite(_) | Reads::Postgres(_) => unreachable!("the pool"),
        }
    }

    #[tokio::test]
    async fn rows_read_on_sqlite_equal_the_pools() {
        let dir = tempfile::tempdir().unwrap();
        let (pooled, sqlite) = both(dir.path()).await;
        let db = pool(&pooled);
        let acc = account::Model {
            id: "acc-1".into(),
            username: "u1".into(),
            display_name: "张三".into(),
            role: "grid_worker".into(),
            password_hash: "x".into(),
            disabled: true,
            created_at_ms: 1_700_000_000_123,
            updated_at_ms: i64::MAX,
        };
        acc.clone().into_active_model().insert(db).await.unwrap();
        let dev = device::Model {
            id: "dev-1".into(),
            account_id: acc.id.clone(),
            name: "手机".into(),
            platform: "android".into(),
            created_at_ms: 5,
            last_seen_at_ms: -7,
            revoked_at_ms: None,
            revoked_reason: Some("丢失".into()),
            signed_out_at_ms: Some(11),
        };
        dev.clone().into_active_model().insert(db).await.unwrap();
        let doc = document::Model {
            id: "doc-1".into(),
            kind: "visit".into(),
            scope: "G1".into(),
            region_path: "/A/G1/".into(),
            snapshot: vec![0, 1, 2, 255],
            heads: "ab".into(),
            created_seq: 3,
            seq: 4,
            created_at_ms: 9,
            updated_at_ms: 10,
            changes_from_seq: 0,
        };
        doc.clone().into_active_model().insert(db).await.unwrap();
        let t = task::Model {
            id: "t-1".into(),
            kind: "visit".into(),
            report_id: None,
            household_id: Some("h".into()),
            region_path: "/A/G1/".into(),
            assignee_id: None,
            assigned_by: "system".into(),
            note: Some("入户".into()),
            note_en: None,
            status: "open".into(),
            created_at_ms: 1,
            due_at_ms: None,
            schedule_key: None,
            case_id: None,
        };
        t.clone().into_active_model().insert(db).await.unwrap();

        for r in [&pooled, &sqlite] {
            let st = document::Entity::find_by_id("doc-1").build(r.backend());
            assert_eq!(
                r.query::<document::Model>(st).await.unwrap(),
                vec![doc.clone()]
            );
            let st = task::Entity::find().build(r.backend());
            assert_eq!(r.query::<task::Model>(st).await.unwrap(), vec![t.clone()]);
            let owner = device::Entity::belongs_to(account::Entity)
                .from(device::Column::AccountId)
                .to(account::Column::Id)
                .into();
            let st = device::Entity::find()
                .select_also(account::Entity)
                .join(JoinType::LeftJoin, owner)
                .build(r.backend());
            let rows: Vec<(device::Model, Option<account::Model>)> = r.query(st).await.unwrap();
            assert_eq!(rows, vec![(dev.clone(), Some(acc.clone()))]);
        }

        // A device whose account is gone (only possible with foreign keys off) reads as none.
        let raw = rusqlite::Connection::open(dir.path().join("reads.db")).unwrap();
        raw.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        raw.execute(
            "INSERT INTO devices (id, account_id, name, platform, created_at_ms, last_seen_at_ms) \
             VALUES ('dev-2', 'gone', 'n', 'ios', 1, 1)",
            [],
        )
        .unwrap();
        for r in [&pooled, &sqlite] {
            let owner = device::Entity::belongs_to(account::Entity)
                .from(device::Column::AccountId)
                .to(account::Column::Id)
                .into();
            let st = device::Entity::find_by_id("dev-2")
                .select_also(account::Entity)
                .join(JoinType::LeftJoin, owner)
                .build(r.backend());
            let rows: Vec<(device::Model, Option<account::Model>)> = r.query(st).await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].0.account_id, "gone");
            assert_eq!(rows[0].1, None);
        }
    }

    #[tokio::test]
    async fn sqlite_readers_refuse_writes_and_report_mistyped_columns() {
        let dir = tempfile::tempdir().unwrap();
        let (pooled, sqlite) = both(dir.path()).await;
        let st = Statement::from_string(
            DbBackend::Sqlite,
            "INSERT INTO change_log_state (id, compacted_seq) VALUES (7, 0)",
        );
        assert!(sqlite.exec(st.clone()).await.is_err());
        let Reads::Sqlite(readers) = &sqlite else {
            unreachable!()
        };
        // Even past the wrapper, the connections themselves are read-only.
        assert!(run_exec(&readers.conn(), &st).is_err());
        let raw = rusqlite::Connection::open(dir.path().join("reads.db")).unwrap();
        raw.execute(
            "INSERT INTO documents (id, kind, scope, region_path, snapshot, heads, created_seq, \
             seq, created_at_ms, updated_at_ms) VALUES ('d', 'visit', 'G', '/G/', x'00', '', \
             'not a number', 1, 1, 1)",
            [],
        )
        .unwrap();
        let st = document::Entity::find_by_id("d").build(DbBackend::Sqlite);
        let err = sqlite
            .query::<document::Model>(st.clone())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("created_seq"), "{err}");
        // Nothing was changed by the refused write.
        let st = Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COUNT(*) FROM change_log_state WHERE id = 7",
        );
        assert_eq!(pooled.query::<i64>(st).await.unwrap(), vec![0]);
    }
}
