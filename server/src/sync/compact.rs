//! Background compaction of the change log.
//!
//! Every accepted change is stored twice: in the document's snapshot (automerge keeps the whole
//! history, with actors and times) and as a row of `doc_changes`, whose bytes let sync send a
//! device only what it lacks. Once a change is older than `change_log_days`, its row keeps the
//! history the console shows (document, hash, device, account, time) and gives up its bytes. A
//! device whose cursor is older than a document's compacted part (`changes_from_seq`) is sent that
//! document's snapshot instead of changes; merging it gives the same state.
//!
//! Compaction walks the log in feed order from where it stopped (`change_log_state`), a batch of
//! feed sequences per transaction, and stops at the first change younger than the cut-off.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};

/// Feed sequences compacted per transaction.
const BATCH_SEQS: u64 = 500;

/// What one run compacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Change rows whose bytes were dropped.
    pub changes: u64,
    /// Bytes dropped.
    pub bytes: u64,
    /// The feed sequence the log is now compacted to.
    pub to_seq: i64,
}

fn stmt(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    // Written with `$n` placeholders; SQLite takes them as `?n`.
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.to_string(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Drop the bytes of every logged change stored before `before_ms` (unix milliseconds).
pub async fn run(db: &DatabaseConnection, before_ms: i64) -> Result<Compacted, DbErr> {
    let mut out = Compacted::default();
    loop {
        let lo: i64 = db
            .query_one_raw(stmt(
                db,
                "SELECT compacted_seq FROM change_log_state WHERE id = 1",
                vec![],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("change_log_state row missing".into()))?
            .try_get("", "compacted_seq")?;
        out.to_seq = lo;
        // The next feed sequences of the log, each with its newest change time.
        let rows = db
            .query_all_raw(stmt(
                db,
                "SELECT seq, MAX(at_ms) AS at_ms FROM doc_changes WHERE seq > $1 \
                 GROUP BY seq ORDER BY seq LIMIT $2",
                vec![lo.into(), (BATCH_SEQS as i64).into()],
            ))
            .await?;
        let mut upper = None;
        for r in &rows {
            let at: i64 = r.try_get("", "at_ms")?;
            if at >= before_ms {
                break;
            }
            upper = Some(r.try_get::<i64>("", "seq")?);
        }
        let Some(upper) = upper else {
            return Ok(out);
        };
        // On SQLite, queue with the document writes instead of in SQLite's busy handler.
        let _gate = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => Some(super::SQLITE_WRITE_GATE.lock().await),
            _ => None,
        };
        let txn = db.begin().await?;
        // The documents first, in the same transaction: a reader never sees a change without
        // bytes while its document still claims a complete log.
        txn.execute_raw(stmt(
            &txn,
            "UPDATE documents SET changes_from_seq = $1 WHERE changes_from_seq < $1 AND id IN \
             (SELECT doc_id FROM doc_changes WHERE seq > $2 AND seq <= $1)",
            vec![upper.into(), lo.into()],
        ))
        .await?;
        let dropped = txn
            .query_one_raw(stmt(
                &txn,
                "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(bytes)), 0) AS b FROM doc_changes \
                 WHERE seq > $1 AND seq <= $2 AND LENGTH(bytes) > 0",
                vec![lo.into(), upper.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("count of changes missing".into()))?;
        out.changes += dropped.try_get::<i64>("", "n")? as u64;
        out.bytes += dropped.try_get::<i64>("", "b")? as u64;
        txn.execute_raw(stmt(
            &txn,
            "UPDATE doc_changes SET bytes = $1 WHERE seq > $2 AND seq <= $3 AND LENGTH(bytes) > 0",
            vec![Vec::<u8>::new().into(), lo.into(), upper.into()],
        ))
        .await?;
        txn.execute_raw(stmt(
            &txn,
            "UPDATE change_log_state SET compacted_seq = $1 WHERE id = 1",
            vec![upper.into()],
        ))
        .await?;
        txn.commit().await?;
        out.to_seq = upper;
    }
}

/// Compact the change log every hour, dropping the bytes of changes older than `days` days;
/// `0` keeps every change's bytes.
pub fn spawn_periodic(db: DatabaseConnection, days: u64) {
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let before = crate::auth::now_ms() - days as i64 * 86_400_000;
            match run(&db, before).await {
                Ok(c) => tracing::info!(?c, "change log compacted"),
                Err(e) => tracing::error!(error = %e, "change log compaction failed"),
            }
        }
    });
}
