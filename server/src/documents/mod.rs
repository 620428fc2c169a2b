//! Documents: the only code that writes a document. Sync's ingest, review decisions, conflict
//! choices, identity sealing and demo data all store a document's new state through here: its
//! snapshot, change log rows, conflicts, projections and audit entry in one transaction
//! ([`prepare`], [`store`], the group commit of [`commit`]), or, for the server's own edits,
//! [`server_write`] (load, edit as [`SERVER_ACTOR`], check, store, retry on a concurrent write).

pub mod blob_refs;
pub mod commit;
pub mod compact;
pub mod projection;

use automerge::{Automerge, Change, ChangeHash, hydrate};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait};

use doudi_protocol::doc::{self, validate::has_errors};

use crate::access::Actor;
use crate::audit::{self, Outcome};
use crate::auth::now_ms;
use crate::entity::{doc_change, doc_conflict, document, region};
use crate::error::{ApiError, Code};

/// The actor id of changes the server writes itself (review decisions, migrations): fixed, so that
/// two servers writing the same change produce identical bytes.
pub const SERVER_ACTOR: [u8; 16] = *b"doudi-server-v1\0";

/// How often an optimistic update is retried when another request changed the same document.
pub const MAX_RETRIES: usize = 8;

/// SQLite lets one transaction write at a time; when several want to, the others wait in
/// SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and holds a pooled
/// connection meanwhile. Document writes of this process queue here instead, so each starts
/// the moment the previous one commits and the pool stays free for reads. PostgreSQL needs no
/// gate: its row locks wake the next writer at once.
pub(crate) static SQLITE_WRITE_GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A document's heads as stored: their hex, comma-separated.
pub fn heads_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Who writes a document and how the write is audited: a device pushing through sync, or a
/// reviewer whose decision the server writes as its own change ([`SERVER_ACTOR`]).
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub account_id: &'a str,
    pub device_id: &'a str,
    pub client_addr: Option<&'a str>,
    /// Audit action of the accepted write.
    pub audit_action: &'a str,
    /// Extra audit detail, merged into the entry.
    pub audit_detail: Option<serde_json::Value>,
}

impl<'a> Writer<'a> {
    /// A write on behalf of `actor`: a device pushing its own changes, or a reviewer's decision.
    pub fn for_actor(
        actor: &'a Actor,
        audit_action: &'a str,
        audit_detail: Option<serde_json::Value>,
    ) -> Writer<'a> {
        Writer {
            account_id: &actor.account.id,
            device_id: &actor.device_id,
            client_addr: Some(&actor.client_addr),
            audit_action,
            audit_detail,
        }
    }
}

impl Writer<'_> {
    /// The audit entry of a write of document `target` in the grid at `region_path`.
    fn event<'e>(
        &'e self,
        region_path: &'e str,
        target: &'e str,
        detail: Option<serde_json::Value>,
    ) -> audit::Event<'e> {
        audit::Event {
            account_id: Some(self.account_id),
            device_id: Some(self.device_id),
            region_path: Some(region_path),
            action: self.audit_action,
            target: Some(target),
            client_addr: self.client_addr,
            detail,
        }
    }
}

pub use commit::{ExtraRows, GroupCommit, MAX_BATCH, Prepared, write_batch};

/// Work out the write of a document's new state: its snapshot, change log rows (with device,
/// account and time), conflicts, projection rows and audit entry, all before any transaction, so
/// that the write lock is held for statements only. `grid_path`: the materialised path of the
/// document's grid. `tree`: the new state's tree; `content`: its content as read from that tree
/// ([`doc::read_any`]; `None` when it does not read, and then no projection rows are written).
/// `extra`: rows stored in the same transaction.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    writer: &Writer<'_>,
    stored: Option<&document::Model>,
    header: &doc::Header,
    grid_path: &str,
    after: &mut Automerge,
    tree: &hydrate::Value,
    content: Option<&doc::Content>,
    new: &[Change],
    heads: &[ChangeHash],
    extra: ExtraRows,
) -> Result<Prepared, ApiError> {
    let now = now_ms();
    let id = header.id.to_string();
    // Stored without automerge's own DEFLATE of large columns: a page of such snapshots, alike
    // document after document, gzips to a fraction on the wire (docs/PROTOCOL.md, "Content
    // coding"; docs/BENCHMARKS.md, P10), where per-document DEFLATE leaves nothing for gzip to
    // find across documents. Loading it skips the inflate; PostgreSQL compresses large values
    // at rest (TOAST).
    let snapshot = after.save_nocompress();
    let region_path = stored.map_or(grid_path, |o| o.region_path.as_str());
    let rows = projection::rows(
        &id,
        header.kind.as_str(),
        &header.scope,
        region_path,
        content,
    )?;
    // Listing conflicts walks the document key by key; the tree shows at once whether any exist.
    let conflicts = match doc::conflicts::any(tree) {
        true => doc::conflicts::conflicts(&*after).unwrap_or_default(),
        false => Vec::new(),
    };
    let conflicts = conflicts
        .into_iter()
        .map(|c| {
            let values: Vec<_> = c
                .values
                .iter()
                .map(|v| serde_json::json!({ "value": v.display, "actor": v.actor, "op": v.op_id, "visible": v.visible }))
                .collect();
            doc_conflict::ActiveModel {
                doc_id: Set(id.clone()),
                path: Set(c.path.to_string().chars().take(512).collect()),
                detail: Set(serde_json::Value::Array(values).to_string()),
                detected_at_ms: Set(now),
                ..Default::default()
            }
        })
        .collect();
    let mut hashes = Vec::with_capacity(new.len());
    let changes = new
        .iter()
        .map(|c| {
            let mut c = c.clone();
            let hash = c.hash().to_string();
            hashes.push(hash.clone());
            doc_change::ActiveModel {
                doc_id: Set(id.clone()),
                hash: Set(hash),
                seq: Set(0),
                device_id: Set(writer.device_id.to_string()),
                account_id: Set(writer.account_id.to_string()),
                actor: Set(c.actor_id().to_hex_string()),
                at_ms: Set(now),
                bytes: Set(c.bytes().into_owned()),
                ..Default::default()
            }
        })
        .collect();
    let doc = match stored {
        Some(old) => document::Model {
            id: old.id.clone(),
            kind: old.kind.clone(),
            scope: old.scope.clone(),
            region_path: old.region_path.clone(),
            snapshot,
            heads: heads_text(heads),
            created_seq: old.created_seq,
            seq: old.seq,
            created_at_ms: old.created_at_ms,
            updated_at_ms: now,
            changes_from_seq: old.changes_from_seq,
        },
        None => document::Model {
            id: id.clone(),
            kind: header.kind.as_str().to_string(),
            scope: header.scope.clone(),
            region_path: grid_path.to_string(),
            snapshot,
            heads: heads_text(heads),
            created_seq: 0,
            seq: 0,
            created_at_ms: now,
            updated_at_ms: now,
            changes_from_seq: 0,
        },
    };
    let audit_detail = match writer.audit_detail.clone() {
        Some(serde_json::Value::Object(more)) => more,
        _ => serde_json::Map::new(),
    };
    Ok(Prepared {
        audit: audit::row(Outcome::Ok, writer.event(grid_path, &id, None)),
        doc,
        base_seq: stored.map(|o| o.seq),
        changes,
        hashes,
        conflicts,
        rows,
        extra,
        audit_detail,
        identities: None,
    })
}

/// Store a write ([`prepare`]) in a transaction of its own. `false` when another request
/// updated the document first (the caller reloads and tries again).
pub async fn store(db: &DatabaseConnection, write: &Prepared) -> Result<bool, ApiError> {
    Ok(write_batch(db, std::slice::from_ref(write)).await?[0].is_some())
}

/// Write a change of the server's own into a stored document: load it, let `edit` change it as
/// [`SERVER_ACTOR`], check the result against the document rules and store it through [`store`]
/// (feed sequence, change log, projections, audit), with the rows `edit` returns. When another
/// write came first, the edit runs again on the new state, so `edit` must check the state it is
/// given. The change carries no timestamp: two servers making the same edit write the same bytes.
pub async fn server_write<T>(
    db: &DatabaseConnection,
    writer: &Writer<'_>,
    doc_id: &str,
    mut edit: impl FnMut(
        &mut automerge::AutoCommit,
        &document::Model,
    ) -> Result<(T, ExtraRows), ApiError>,
) -> Result<T, ApiError> {
    server_write_all(db, writer, &[doc_id], |docs, rows| {
        edit(&mut docs[0], &rows[0])
    })
    .await
}

/// [`server_write`] of several documents at once: `edit` changes them together, and either every
/// change is stored, in one transaction, or none (a decision and what it does to a second record
/// are never half written). The rows `edit` returns go with the first document's write.
pub async fn server_write_all<T>(
    db: &DatabaseConnection,
    writer: &Writer<'_>,
    doc_ids: &[&str],
    mut edit: impl FnMut(
        &mut [automerge::AutoCommit],
        &[document::Model],
    ) -> Result<(T, ExtraRows), ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..MAX_RETRIES {
        let mut rows = Vec::with_capacity(doc_ids.len());
        for id in doc_ids {
            let Some(row) = document::Entity::find_by_id(id.to_string()).one(db).await? else {
                return Err(ApiError::new(Code::NotFound));
            };
            rows.push(row);
        }
        let mut docs = Vec::with_capacity(rows.len());
        let mut befores = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut am = automerge::AutoCommit::load(&row.snapshot).map_err(ApiError::internal)?;
            am.set_actor(automerge::ActorId::from(SERVER_ACTOR));
            befores.push(am.get_heads());
            docs.push(am);
        }
        let (out, extra) = edit(&mut docs, &rows)?;
        let mut writes = Vec::new();
        let mut extra = Some(extra);
        for ((am, row), before) in docs.iter_mut().zip(&rows).zip(&befores) {
            am.commit();
            let new: Vec<Change> = am.get_changes(before);
            if new.is_empty() {
                continue;
            }
            writes.push(
                prepare_server(writer, am, row, &new, extra.take().unwrap_or_default(), db).await?,
            );
        }
        if writes.is_empty() {
            // Nothing to change in the documents: the rows and the audit entry alone.
            let txn = db.begin().await?;
            let backend = txn.get_database_backend();
            for insert in extra.iter().flatten() {
                txn.execute_raw(backend.build(insert)).await?;
            }
            let ev = writer.event(
                &rows[0].region_path,
                doc_ids[0],
                writer.audit_detail.clone(),
            );
            audit::record(&txn, Outcome::Ok, ev).await?;
            txn.commit().await?;
            return Ok(out);
        }
        if commit::write_all(db, &writes).await? {
            return Ok(out);
        }
    }
    Err(ApiError::new(Code::Unavailable).with_message(
        "文档正忙，请稍后重试。",
        "The document is busy; retry shortly.",
    ))
}

/// The write of a server change `new` to stored document `row`, checked against the document
/// rules first.
async fn prepare_server(
    writer: &Writer<'_>,
    am: &mut automerge::AutoCommit,
    row: &document::Model,
    new: &[Change],
    extra: ExtraRows,
    db: &DatabaseConnection,
) -> Result<Prepared, ApiError> {
    let mut after = am.document().clone();
    let header = doc::read_header(&after).map_err(ApiError::internal)?;
    let tree = doc::tree(&after).map_err(ApiError::internal)?;
    let (read, issues) = doc::read_checked(&tree);
    if has_errors(&issues) {
        let list: Vec<_> = issues
            .iter()
            .filter(|i| i.severity == doc::Severity::Error)
            .map(|i| serde_json::json!({ "path": i.path, "code": i.code, "message": i.message_zh, "message_en": i.message_en }))
            .collect();
        return Err(ApiError::new(Code::InvalidRequest)
            .with_message(
                "文档内容未通过检查，无法保存。",
                "The document would not pass the checks; nothing was saved.",
            )
            .with_details(serde_json::json!({ "issues": list })));
    }
    let Some(grid) = region::Entity::find_by_id(row.scope.clone())
        .one(db)
        .await?
    else {
        return Err(ApiError::internal("document grid missing"));
    };
    let heads = after.get_heads();
    prepare(
        writer,
        Some(row),
        &header,
        &grid.path,
        &mut after,
        &tree,
        read.as_ref().map(|(_, c)| c),
        new,
        &heads,
        extra,
    )
}
