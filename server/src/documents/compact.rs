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

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use crate::entity::{change_log_state, doc_change, document};

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

/// Drop the bytes of every logged change stored before `before_ms` (unix milliseconds).
pub async fn run(db: &DatabaseConnection, before_ms: i64) -> Result<Compacted, DbErr> {
    use doc_change::Column as C;
    let length = || Func::cust("LENGTH").arg(Expr::col(C::Bytes));
    let mut out = Compacted::default();
    loop {
        let lo = change_log_state::Entity::find_by_id(1)
            .one(db)
            .await?
            .ok_or_else(|| DbErr::Custom("change_log_state row missing".into()))?
            .compacted_seq;
        out.to_seq = lo;
        // The next feed sequences of the log, each with its newest change time.
        let next: Vec<(i64, i64)> = doc_change::Entity::find()
            .select_only()
            .column(C::Seq)
            .column_as(Expr::col(C::AtMs).max(), "at_ms")
            .filter(C::Seq.gt(lo))
            .group_by(C::Seq)
            .order_by_asc(C::Seq)
            .limit(BATCH_SEQS)
            .into_tuple()
            .all(db)
            .await?;
        let Some(upper) = next
            .iter()
            .take_while(|(_, at)| *at < before_ms)
            .map(|(seq, _)| *seq)
            .last()
        else {
            return Ok(out);
        };
        let batch = Condition::all().add(C::Seq.gt(lo)).add(C::Seq.lte(upper));
        let with_bytes = Expr::expr(length()).gt(0);
        // On SQLite, queue with the document writes instead of in SQLite's busy handler.
        let _gate = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => Some(super::SQLITE_WRITE_GATE.lock().await),
            _ => None,
        };
        let txn = db.begin().await?;
        // The documents first, in the same transaction: a reader never sees a change without
        // bytes while its document still claims a complete log.
        document::Entity::update_many()
            .col_expr(document::Column::ChangesFromSeq, Expr::value(upper))
            .filter(document::Column::ChangesFromSeq.lt(upper))
            .filter(
                document::Column::Id.in_subquery(
                    Query::select()
                        .column(C::DocId)
                        .from(doc_change::Entity)
                        .cond_where(batch.clone())
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await?;
        let (changes, bytes): (i64, i64) = doc_change::Entity::find()
            .select_only()
            .column_as(Expr::col(C::Id).count(), "changes")
            .column_as(
                Expr::expr(Func::coalesce([
                    Expr::from(Func::sum(length())),
                    Expr::val(0i64),
                ])),
                "bytes",
            )
            .filter(batch.clone())
            .filter(with_bytes.clone())
            .into_tuple()
            .one(&txn)
            .await?
            .unwrap_or_default();
        out.changes += changes as u64;
        out.bytes += bytes as u64;
        doc_change::Entity::update_many()
            .col_expr(C::Bytes, Expr::value(Vec::<u8>::new()))
            .filter(batch)
            .filter(with_bytes)
            .exec(&txn)
            .await?;
        change_log_state::Entity::update_many()
            .col_expr(change_log_state::Column::CompactedSeq, Expr::value(upper))
            .filter(change_log_state::Column::Id.eq(1))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        out.to_seq = upper;
    }
}

/// Compact the change log every hour, dropping the bytes of changes older than `days` days, on
/// one node at a time (`crate::jobs`); `0` keeps every change's bytes.
pub fn spawn_periodic(db: DatabaseConnection, days: u64) {
    if days == 0 {
        return;
    }
    let period = std::time::Duration::from_secs(3600);
    crate::jobs::spawn_periodic(db, JOB, period, move |db| async move {
        let before = crate::auth::now_ms() - days as i64 * 86_400_000;
        let c = run(&db, before).await.map_err(|e| e.to_string())?;
        Ok(format!("change log compacted: {c:?}"))
    });
}

/// Compaction's name as a background job (its lease in `job_leases`).
pub const JOB: &str = "change_log_compaction";
