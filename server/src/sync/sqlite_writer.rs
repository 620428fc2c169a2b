//! The group commit's SQLite connection, driven synchronously on the committing thread.
//!
//! Through sqlx, every statement of a batch is a hand-off: the committing task sends it to the
//! connection's worker thread, which wakes, runs it and wakes the task again. A group commit of
//! 64 visits runs about a dozen statements, one after the other, and under the ingest both cores
//! are busy, so each hand-off also waits for a core: most of a batch's time was spent waiting
//! between statements, while every request of the batch waited for the batch. This connection
//! (rusqlite, on the same SQLite library sqlx links) runs each statement on the thread that
//! asks, and the group commit runs on a thread of its own ([`super::GroupCommit::start_sqlite`]),
//! so a batch runs from `BEGIN` to `COMMIT` without a hand-off. The statements are the same
//! sea-query statements as on every other connection ([`crate::db::Exec`]).
//!
//! A statement runs only inside a transaction the writer began: if `BEGIN` failed, the batch's
//! statements fail too, instead of each committing on its own.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::Value as Sql;
use sea_orm::sea_query::Value;
use sea_orm::{DbBackend, DbErr, Statement};

use crate::db::{Decode, Exec, SQLITE_BUSY_TIMEOUT, sqlite_pragmas};

/// Prepared statements kept: multi-row inserts differ by their row count.
const STATEMENT_CACHE: usize = 128;

/// The group commit's own connection to the SQLite database file.
#[derive(Debug)]
pub struct SqliteWriter {
    conn: Mutex<rusqlite::Connection>,
}

fn db_err(e: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("sqlite: {e}"))
}

impl SqliteWriter {
    /// Open `path` with the settings of the request pool's connections ([`crate::db`]).
    pub fn open(path: &Path) -> Result<SqliteWriter, DbErr> {
        let conn = rusqlite::Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(SQLITE_BUSY_TIMEOUT).map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let pragmas: String = sqlite_pragmas()
            .iter()
            .map(|(k, v)| format!("PRAGMA {k} = {v};"))
            .collect();
        conn.execute_batch(&pragmas).map_err(db_err)?;
        Ok(SqliteWriter {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Begin a write transaction (taking SQLite's write lock at once). It is rolled back unless
    /// committed, also when the batch fails or panics on the way.
    pub fn begin(&self) -> Result<WriteTxn<'_>, DbErr> {
        self.conn()
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(db_err)?;
        Ok(WriteTxn(self))
    }

    /// Roll the open transaction back, if one is open.
    fn rollback(&self) {
        let conn = self.conn();
        if !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "sqlite writer: ROLLBACK failed");
        }
    }

    /// The connection, for a statement of the open transaction.
    fn in_transaction(&self) -> Result<MutexGuard<'_, rusqlite::Connection>, DbErr> {
        let conn = self.conn();
        if conn.is_autocommit() {
            return Err(DbErr::Custom(
                "sqlite writer: statement outside a transaction refused".into(),
            ));
        }
        Ok(conn)
    }
}

/// The open transaction of a [`SqliteWriter`].
#[derive(Debug)]
pub struct WriteTxn<'a>(&'a SqliteWriter);

impl WriteTxn<'_> {
    /// Commit; if that fails, the transaction is rolled back.
    pub fn commit(self) -> Result<(), DbErr> {
        let result = self.0.conn().execute_batch("COMMIT").map_err(db_err);
        // A failed COMMIT leaves the transaction open: dropping `self` rolls it back.
        drop(self);
        result
    }
}

impl Drop for WriteTxn<'_> {
    fn drop(&mut self) {
        self.0.rollback();
    }
}

/// The bound value of `v`; values of other types are not written by the group commit.
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
        Value::Float(f) => f.map_or(Sql::Null, |f| Sql::Real(f as f64)),
        Value::Double(f) => f.map_or(Sql::Null, Sql::Real),
        Value::String(s) => s.clone().map_or(Sql::Null, Sql::Text),
        Value::Char(c) => c.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::Bytes(b) => b.clone().map_or(Sql::Null, Sql::Blob),
        other => {
            return Err(DbErr::Custom(format!(
                "sqlite writer: value type not supported: {other:?}"
            )));
        }
    })
}

fn params(st: &Statement) -> Result<Vec<Sql>, DbErr> {
    st.values
        .as_ref()
        .map_or(Ok(Vec::new()), |v| v.0.iter().map(to_sql).collect())
}

impl Exec for SqliteWriter {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn exec(&self, st: Statement) -> Result<u64, DbErr> {
        let values = params(&st)?;
        let conn = self.in_transaction()?;
        let mut stmt = conn.prepare_cached(&st.sql).map_err(db_err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(values))
            .map_err(db_err)?;
        Ok(n as u64)
    }

    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        let values = params(&st)?;
        let conn = self.in_transaction()?;
        let mut stmt = conn.prepare_cached(&st.sql).map_err(db_err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| T::from_sqlite(r))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }
}
