//! Writing documents: a [`Prepared`] write holds everything one accepted document puts in the
//! database (its new state, change log rows, conflicts, projection rows, audit entry), worked out
//! before any transaction; [`write_batch`] stores any number of them in one transaction with one
//! feed update and one commit, their rows inserted together.
//!
//! [`GroupCommit`] is the group commit of the sync ingest: the document writes of concurrent
//! requests queue on one task, which stores whatever has queued while the previous batch was
//! being written as the next batch. Both databases serialise document writes anyway (SQLite
//! has one writer; on PostgreSQL the feed counter row is locked from the first statement of a
//! transaction to its commit), so a batch costs about what one write cost alone, and the
//! per-transaction work (begin, feed update, commit, one statement per table) is shared.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use futures_util::FutureExt;
use sea_orm::sea_query::{Expr, InsertStatement, OnConflict};
use sea_orm::{
    ColumnTrait, ConnAcquireErr, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Set, Statement, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use crate::entity::{audit_log, doc_change, doc_conflict, document, identity_number};
use crate::error::ApiError;
use crate::metrics::CommitMetrics;

use super::SQLITE_WRITE_GATE;
use super::projection::{self, Rows};
use crate::db::sqlite_writer::SqliteWriter;
use crate::db::{Exec, INSERT_CHUNK, insert_chunks};

/// Rows written in the same transaction as a document (e.g. a review decision).
pub type ExtraRows = Vec<InsertStatement>;

/// Most writes in one batch.
pub const MAX_BATCH: usize = 64;

/// One document's write, ready to be stored: everything but its feed sequence, which the batch
/// that stores it assigns.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The document row as it will be stored (`seq`, and `created_seq` of a new document, are
    /// set by the batch).
    pub(super) doc: document::Model,
    /// Feed sequence of the stored state this write replaces; `None` for a new document. The
    /// write is refused (`None`) when the stored document has moved on meanwhile.
    pub(super) base_seq: Option<i64>,
    /// Change log rows (`seq` set by the batch).
    pub(super) changes: Vec<doc_change::ActiveModel>,
    /// Hashes of those changes, for the audit entry.
    pub(super) hashes: Vec<String>,
    pub(super) conflicts: Vec<doc_conflict::ActiveModel>,
    pub(super) rows: Rows,
    pub(super) extra: ExtraRows,
    /// The audit entry, whose detail gets `kind`, `seq` and `changes` added by the batch.
    pub(super) audit: audit_log::ActiveModel,
    pub(super) audit_detail: serde_json::Map<String, serde_json::Value>,
    /// The document's `identity_numbers` rows, when the write may change them: they replace
    /// the stored ones (`None`: left as they are, for writes that change no number).
    pub(super) identities: Option<Vec<identity_number::ActiveModel>>,
}

impl Prepared {
    /// The document's state as it will be stored.
    pub fn snapshot(&self) -> &[u8] {
        &self.doc.snapshot
    }

    /// Store `rows` as the document's `identity_numbers` with this write (`crate::identity`).
    pub fn with_identities(mut self, rows: Vec<identity_number::ActiveModel>) -> Prepared {
        self.identities = Some(rows);
        self
    }

    fn is_new(&self) -> bool {
        self.base_seq.is_none()
    }

    fn audit_row(&self, seq: i64) -> audit_log::ActiveModel {
        let mut detail = serde_json::Map::new();
        detail.insert("kind".into(), self.doc.kind.clone().into());
        detail.insert("seq".into(), seq.into());
        detail.insert("changes".into(), self.hashes.clone().into());
        detail.extend(self.audit_detail.clone());
        let mut row = self.audit.clone();
        row.detail = Set(Some(serde_json::Value::Object(detail).to_string()));
        row
    }
}

/// Take `n` feed sequences: returns the last (the batch has `last - n + 1 ..= last`). The
/// counter row stays locked until the transaction ends, so transactions commit in sequence
/// order and a reader never skips a later-committed lower number.
async fn advance_feed<E: Exec>(txn: &E, n: usize) -> Result<i64, DbErr> {
    let backend = txn.backend();
    let rows: Vec<i64> = txn
        .query(Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => {
                    "UPDATE sync_feed SET seq = seq + $1 WHERE id = 1 RETURNING seq"
                }
                _ => "UPDATE sync_feed SET seq = seq + ? WHERE id = 1 RETURNING seq",
            },
            [(n as i64).into()],
        ))
        .await?;
    rows.first()
        .copied()
        .ok_or_else(|| DbErr::Custom("sync_feed row missing".into()))
}

/// Store `batch` in one transaction. Returns, per write, the feed sequence it was stored under,
/// or `None` when another write got to its document first (the caller reloads and tries
/// again). A database error rolls the whole batch back.
pub async fn write_batch(
    db: &DatabaseConnection,
    batch: &[Prepared],
) -> Result<Vec<Option<i64>>, DbErr> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let _gate = match db.get_database_backend() {
        DbBackend::Sqlite => Some(SQLITE_WRITE_GATE.lock().await),
        _ => None,
    };
    let txn = db.begin().await?;
    let (stored, any) = write_in(&txn, batch).await?;
    if any {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(stored)
}

/// Store `batch` in one transaction, all or nothing: `false` (and nothing stored) when another
/// write got to any of its documents first.
pub async fn write_all(db: &DatabaseConnection, batch: &[Prepared]) -> Result<bool, DbErr> {
    let _gate = match db.get_database_backend() {
        DbBackend::Sqlite => Some(SQLITE_WRITE_GATE.lock().await),
        _ => None,
    };
    let txn = db.begin().await?;
    let (stored, _) = write_in(&txn, batch).await?;
    let all = stored.iter().all(Option::is_some);
    if all {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(all)
}

/// [`write_batch`] through the group commit's SQLite writer.
async fn write_batch_sqlite(
    writer: &SqliteWriter,
    batch: &[Prepared],
) -> Result<Vec<Option<i64>>, DbErr> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let _gate = SQLITE_WRITE_GATE.lock().await;
    let txn = writer.begin()?;
    let (stored, any) = write_in(writer, batch).await?;
    if any {
        txn.commit()?;
    }
    Ok(stored)
}

/// The statements of [`write_batch`], in the open transaction `txn`: per write its feed
/// sequence or `None`, and whether any was stored (else there is nothing to commit).
async fn write_in<E: Exec>(txn: &E, batch: &[Prepared]) -> Result<(Vec<Option<i64>>, bool), DbErr> {
    let backend = txn.backend();
    let first = advance_feed(txn, batch.len()).await? - batch.len() as i64 + 1;
    let seqs: Vec<i64> = (0..batch.len() as i64).map(|i| first + i).collect();
    let mut stored = vec![false; batch.len()];

    // Documents already stored: each replaces the state it was worked out from, or nothing.
    for (i, w) in batch.iter().enumerate() {
        let Some(base) = w.base_seq else { continue };
        let update = document::Entity::update_many()
            .col_expr(
                document::Column::Snapshot,
                Expr::value(w.doc.snapshot.clone()),
            )
            .col_expr(document::Column::Heads, Expr::value(w.doc.heads.clone()))
            .col_expr(document::Column::Seq, Expr::value(seqs[i]))
            .col_expr(
                document::Column::UpdatedAtMs,
                Expr::value(w.doc.updated_at_ms),
            )
            .filter(document::Column::Id.eq(w.doc.id.as_str()))
            .filter(document::Column::Seq.eq(base));
        stored[i] = txn.exec(update.build(backend)).await? == 1;
    }
    // New documents, inserted together; one whose id another write stored first is left out.
    let fresh: Vec<usize> = (0..batch.len()).filter(|&i| batch[i].is_new()).collect();
    if !fresh.is_empty() {
        let models: Vec<document::ActiveModel> = fresh
            .iter()
            .map(|&i| {
                document::ActiveModel::from(document::Model {
                    created_seq: seqs[i],
                    seq: seqs[i],
                    ..batch[i].doc.clone()
                })
            })
            .collect();
        let ignore = OnConflict::column(document::Column::Id)
            .do_nothing()
            .to_owned();
        let inserted = insert_chunks(txn, models, Some(ignore)).await?;
        if inserted as usize == fresh.len() {
            fresh.iter().for_each(|&i| stored[i] = true);
        } else {
            // Ours are the rows that carry the sequence this batch gave them.
            let ids: Vec<&str> = fresh.iter().map(|&i| batch[i].doc.id.as_str()).collect();
            let mut now: Vec<(String, i64)> = Vec::new();
            for chunk in ids.chunks(INSERT_CHUNK) {
                let query = document::Entity::find()
                    .filter(document::Column::Id.is_in(chunk.iter().copied()))
                    .select_only()
                    .column(document::Column::Id)
                    .column(document::Column::Seq);
                now.extend(txn.query::<(String, i64)>(query.build(backend)).await?);
            }
            for &i in &fresh {
                stored[i] = now.contains(&(batch[i].doc.id.clone(), seqs[i]));
            }
        }
    }
    let stored_at: Vec<Option<i64>> = stored
        .iter()
        .zip(&seqs)
        .map(|(&s, &seq)| s.then_some(seq))
        .collect();
    let accepted: Vec<usize> = (0..batch.len()).filter(|&i| stored[i]).collect();
    if accepted.is_empty() {
        return Ok((stored_at, false));
    }

    let changes = accepted.iter().flat_map(|&i| {
        let seq = seqs[i];
        batch[i].changes.iter().cloned().map(move |mut c| {
            c.seq = Set(seq);
            c
        })
    });
    insert_chunks(txn, changes.collect(), None).await?;

    let replaced: Vec<&str> = accepted
        .iter()
        .filter(|&&i| !batch[i].is_new())
        .map(|&i| batch[i].doc.id.as_str())
        .collect();
    for chunk in replaced.chunks(INSERT_CHUNK) {
        let delete = doc_conflict::Entity::delete_many()
            .filter(doc_conflict::Column::DocId.is_in(chunk.iter().copied()));
        txn.exec(delete.build(backend)).await?;
    }
    let conflicts = accepted
        .iter()
        .flat_map(|&i| batch[i].conflicts.iter().cloned());
    insert_chunks(txn, conflicts.collect(), None).await?;

    let docs: Vec<document::Model> = accepted
        .iter()
        .map(|&i| document::Model {
            seq: seqs[i],
            ..batch[i].doc.clone()
        })
        .collect();
    let projected = accepted
        .iter()
        .zip(&docs)
        .map(|(&i, doc)| (doc, batch[i].rows.clone(), batch[i].is_new()));
    projection::write_many(txn, projected.collect()).await?;

    let renumbered: Vec<&str> = accepted
        .iter()
        .filter(|&&i| batch[i].identities.is_some() && !batch[i].is_new())
        .map(|&i| batch[i].doc.id.as_str())
        .collect();
    for chunk in renumbered.chunks(INSERT_CHUNK) {
        let delete = identity_number::Entity::delete_many()
            .filter(identity_number::Column::DocId.is_in(chunk.iter().copied()));
        txn.exec(delete.build(backend)).await?;
    }
    let numbers = accepted
        .iter()
        .flat_map(|&i| batch[i].identities.iter().flatten().cloned());
    insert_chunks(txn, numbers.collect(), None).await?;

    for &i in &accepted {
        for insert in &batch[i].extra {
            txn.exec(backend.build(insert)).await?;
        }
    }
    let audit_rows = accepted.iter().map(|&i| batch[i].audit_row(seqs[i]));
    if let Err(e) = insert_chunks(txn, audit_rows.collect(), None).await {
        tracing::error!(error = %e, "cannot write the audit entries of document writes");
        return Err(e);
    }
    Ok((stored_at, true))
}

/// Where the group commit writes: a sea-orm connection, or the SQLite writer.
enum Store {
    Orm(DatabaseConnection),
    Sqlite(SqliteWriter),
}

impl Store {
    async fn write(&self, batch: &[Prepared]) -> Result<Vec<Option<i64>>, DbErr> {
        match self {
            Store::Orm(db) => write_batch(db, batch).await,
            Store::Sqlite(w) => write_batch_sqlite(w, batch).await,
        }
    }
}

struct Queued {
    write: Prepared,
    reply: oneshot::Sender<Result<Option<i64>, DbErr>>,
}

/// The group commit of one server process's sync ingest (see the module documentation).
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Queued>,
}

impl GroupCommit {
    /// Start the committing task on the current tokio runtime; it ends when every handle is
    /// dropped.
    pub fn start(db: DatabaseConnection, counted: CommitMetrics) -> GroupCommit {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(commit_loop(Store::Orm(db), rx, counted));
        GroupCommit { queue }
    }

    /// Start the committing task on a thread of its own, writing to the SQLite database file
    /// `path` through a [`SqliteWriter`] (see there why); it ends when every handle is dropped.
    pub fn start_sqlite(path: &Path, counted: CommitMetrics) -> Result<GroupCommit, DbErr> {
        let writer = SqliteWriter::open(path)?;
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| DbErr::Custom(format!("cannot start the committing thread: {e}")))?;
        std::thread::Builder::new()
            .name("doudi-commit".into())
            .spawn(move || runtime.block_on(commit_loop(Store::Sqlite(writer), rx, counted)))
            .map_err(|e| DbErr::Custom(format!("cannot start the committing thread: {e}")))?;
        Ok(GroupCommit { queue })
    }

    /// Writes queued and not yet taken into a batch.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Store `write` with whatever else is queued: its feed sequence, or `None`, as for
    /// [`write_batch`].
    pub async fn submit(&self, write: Prepared) -> Result<Option<i64>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Queued { write, reply })
            .await
            .map_err(|_| ApiError::internal("the committing task has stopped"))?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ApiError::internal("the write was dropped unanswered")),
        }
    }
}

async fn commit_loop(store: Store, mut rx: mpsc::Receiver<Queued>, counted: CommitMetrics) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let started = std::time::Instant::now();
        let (writes, replies): (Vec<Prepared>, Vec<_>) =
            queued.drain(..).map(|q| (q.write, q.reply)).unzip();
        // A panic while writing must not stop the ingest of every later request.
        let run = AssertUnwindSafe(store.write(&writes)).catch_unwind();
        let results = match run.await {
            Ok(Ok(stored)) => stored.into_iter().map(Ok).collect(),
            Ok(Err(e)) if writes.len() == 1 => vec![Err(e)],
            Err(_) if writes.len() == 1 => vec![Err(panicked())],
            Ok(Err(e)) if crate::db::unreachable(&e) => {
                // Out of reach, the database would be waited for once per write written again
                // alone, and the requests queued in the batch would meet their own timeouts:
                // every write hears at once that it may be sent again (`503`).
                tracing::warn!(error = %e, writes = writes.len(), "batch write failed: database unreachable");
                let mut first = Some(e);
                writes
                    .iter()
                    .map(|_| {
                        Err(first
                            .take()
                            .unwrap_or(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)))
                    })
                    .collect()
            }
            outcome => {
                // One write's failure must not fail the others: each again on its own.
                if let Ok(Err(e)) = &outcome {
                    tracing::warn!(error = %e, writes = writes.len(), "batch write failed; writing one by one");
                }
                let mut results = Vec::with_capacity(writes.len());
                for w in &writes {
                    let one = AssertUnwindSafe(store.write(std::slice::from_ref(w)))
                        .catch_unwind()
                        .await;
                    results.push(match one {
                        Ok(r) => r.map(|s| s[0]),
                        Err(_) => Err(panicked()),
                    });
                }
                results
            }
        };
        counted.batch(writes.len(), started.elapsed());
        for (reply, result) in replies.into_iter().zip(results) {
            // A request that gave up waiting (timeout, client gone) no longer listens.
            let _ = reply.send(result);
        }
    }
}

fn panicked() -> DbErr {
    DbErr::Custom("document write panicked".into())
}

#[cfg(test)]
mod tests;
