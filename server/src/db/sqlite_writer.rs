//! The group commit's SQLite connection, driven synchronously on the committing thread.
//!
//! Through sqlx, every statement of a batch is a hand-off: the committing task sends it to the
//! connection's worker thread, which wakes, runs it and wakes the task again. A group commit of
//! 64 visits runs about a dozen statements, one after the other, and under the ingest both cores
//! are busy, so each hand-off also waits for a core: most of a batch's time was spent waiting
//! between statements, while every request of the batch waited for the batch. This connection
//! (rusqlite, on the same SQLite library sqlx links) runs each statement on the thread that
//! asks, and the group commit runs on a thread of its own ([`crate::documents::GroupCommit::start_sqlite`]),
//! so a batch runs from `BEGIN` to `COMMIT` without a hand-off. The statements are the same
//! sea-query statements as on every other connection ([`crate::db::Exec`]).
//!
//! A statement runs only inside a transaction the writer began: if `BEGIN` failed, the batch's
//! statements fail too, instead of each committing on its own.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use sea_orm::{DbBackend, DbErr, Statement};

use crate::db::reads::{db_err, open_sqlite, run_exec, run_query};
use crate::db::{Decode, Exec};

/// The group commit's own connection to the SQLite database file.
#[derive(Debug)]
pub struct SqliteWriter {
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteWriter {
    /// Open `path` with the settings of the request pool's connections ([`crate::db`]).
    pub fn open(path: &Path) -> Result<SqliteWriter, DbErr> {
        Ok(SqliteWriter {
            conn: Mutex::new(open_sqlite(path)?),
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

impl Exec for SqliteWriter {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn exec(&self, st: Statement) -> Result<u64, DbErr> {
        run_exec(&*self.in_transaction()?, &st)
    }

    async fn query<T: Decode>(&self, st: Statement) -> Result<Vec<T>, DbErr> {
        run_query(&*self.in_transaction()?, &st)
    }
}
