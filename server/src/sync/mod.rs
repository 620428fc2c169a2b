//! Sync: one round trip pushes a device's changes for any number of documents and pulls
//! everything new in its scope (docs/PROTOCOL.md).
//!
//! Per document the server applies the pushed changes to a copy of the stored state, checks the
//! author (every change's actor must be the sending device's), the scope and permission, the header
//! (id, kind and scope never change), the workflow fields only the server writes, and the document
//! rules; then stores the new state with optimistic concurrency, records the changes, conflicts,
//! projections and an audit entry in one transaction. One bad document never blocks the others.
//!
//! `push` checks and stores what the device sends, [`pull`] pages what is new in its scope,
//! `tasks` sends its task list when it changed; [`run`] is one round trip of the three.

pub mod epoch;
pub mod pull;
mod push;
mod tasks;

pub use epoch::{Epoch, FeedEnd};
use push::{hex_to_bytes, ingest};
use tasks::task_list;
pub use tasks::{MAX_TASK_TAGS, TaskTags};

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash, ReadDoc, hydrate};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, QueryTrait, Set};
use serde_bytes::ByteBuf;

use doudi_protocol::doc::discovery::DiscoveryStatus;
use doudi_protocol::doc::visit::VisitStatus;
use doudi_protocol::doc::{self, DiscoveryReport, Household, Visit, validate::has_errors};
use doudi_protocol::ids::{DocumentId, DocumentKind};
use doudi_protocol::sync::{
    DEFAULT_PAGE_BYTES, DocPush, MAX_CHANGES_PER_DOC, MAX_PAGE_BYTES, MAX_PUSH_DOCS, MAX_WANT_DOCS,
    MIN_PAGE_BYTES, PROTOCOL_VERSION, PushResult, PushStatus, SyncRequest, SyncResponse, TaskList,
    WireIssue, WireTask, to_cbor,
};

use crate::access::{Action, Actor, Target, decide};
use crate::audit::{self, Outcome};
use crate::auth::now_ms;
use crate::db::Exec;
use crate::db::reads::Reads;
use crate::documents::GroupCommit;
use crate::documents::{MAX_BATCH, MAX_RETRIES, Prepared, Writer, prepare};
use crate::entity::{device_sync, document};
use crate::error::{ApiError, Code};
use crate::identity::IdentityKeys;
use crate::regions::Placements;

/// Audit action of an accepted document.
pub const AUDIT_ACCEPT: &str = "sync.accept";

/// Audit action of a refused document (forged author, out of scope).
pub const AUDIT_REJECT: &str = "sync.reject";

/// What a sync needs of the server: its storage, the group commit and this process's caches.
#[derive(Debug, Clone, Copy)]
pub struct Deps<'a> {
    pub db: &'a DatabaseConnection,
    /// Where the reads of every sync request run.
    pub reads: &'a Reads,
    /// The group commit of the ingest.
    pub commits: &'a GroupCommit,
    /// The regions looked up by this process.
    pub placements: &'a Placements,
    /// The accounts' task tags as last computed.
    pub task_tags: &'a TaskTags,
    /// The server's keys for identity numbers.
    pub identity: &'a IdentityKeys,
    /// The process's numbers ([`crate::metrics`]).
    pub metrics: &'a crate::metrics::Metrics,
    /// The database's epoch, as read at start-up.
    pub epoch: &'a Epoch,
    /// The end of the sync feed as this process knows it.
    pub feed_end: &'a FeedEnd,
}

/// The device syncing: who acts, and what the server last knew of its sync.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    pub actor: &'a Actor,
    pub sync_state: &'a DeviceSyncState,
}

impl std::ops::Deref for Device<'_> {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        self.actor
    }
}

/// What a sync needs to know of the device besides who it is. The authentication reads it in
/// the same statement as the device, so a sync costs one read less; other requests ignore it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSyncState {
    /// The scope the device was last sent in full (`None` before its first complete sync).
    pub scope_key: Option<String>,
    /// The server's policy version ([`crate::policies::version`]).
    pub policy_version: u64,
    /// The task table's version ([`crate::entity::tasks_version`]).
    pub tasks_version: i64,
}

fn wire_heads(text: &str) -> Vec<ByteBuf> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse::<ChangeHash>().ok())
        .map(|h| ByteBuf::from(h.0.to_vec()))
        .collect()
}

/// Decode and check a request before any work.
pub fn check_request(req: &SyncRequest) -> Result<(), ApiError> {
    if req.v != PROTOCOL_VERSION {
        return Err(
            ApiError::new(Code::UpgradeRequired).with_details(serde_json::json!({
                "server_version": PROTOCOL_VERSION, "client_version": req.v
            })),
        );
    }
    if req.push.len() > MAX_PUSH_DOCS {
        return Err(ApiError::new(Code::BatchTooLarge).with_message(
            format!("一次最多同步 {MAX_PUSH_DOCS} 份文档，请分批同步。"),
            format!("At most {MAX_PUSH_DOCS} documents per request; sync in several requests."),
        ));
    }
    if req.want.len() > MAX_WANT_DOCS {
        return Err(ApiError::new(Code::BatchTooLarge).with_message(
            format!("一次最多补取 {MAX_WANT_DOCS} 份文档，请分批同步。"),
            format!("At most {MAX_WANT_DOCS} documents may be asked for whole per request; sync in several requests."),
        ));
    }
    if let Some(p) = req
        .push
        .iter()
        .find(|p| p.changes.len() > MAX_CHANGES_PER_DOC)
    {
        return Err(ApiError::new(Code::BatchTooLarge).with_message(
            format!("文档 {} 的修改过多（上限 {MAX_CHANGES_PER_DOC}），请分批同步。", p.doc),
            format!("Document {} has more than {MAX_CHANGES_PER_DOC} changes; sync in several requests.", p.doc),
        ));
    }
    // Compressed changes are inflated to be read (each at most `doc::MAX_CHANGE_BYTES`): the
    // request's may inflate to `doc::MAX_INFLATED_BYTES` in all, counted before any is kept.
    let mut left = doc::MAX_INFLATED_BYTES;
    for change in req.push.iter().flat_map(|p| &p.changes) {
        match doc::inflated_size(change, left) {
            Some(size) => left -= size,
            None => {
                let mib = doc::MAX_INFLATED_BYTES / (1024 * 1024);
                return Err(ApiError::new(Code::BatchTooLarge).with_message(
                    format!("同步的修改解压后超过 {mib} MiB，请分批同步。"),
                    format!("The pushed changes inflate to more than {mib} MiB; sync in several requests."),
                ));
            }
        }
    }
    Ok(())
}

/// Run one sync round trip for an authenticated device.
pub async fn run(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    req: SyncRequest,
) -> Result<SyncResponse, ApiError> {
    check_request(&req)?;
    ctx.require(state.db, Action::Sync, Target::Scope, "sync")
        .await?;
    let device_actor =
        hex_to_bytes(&ctx.device_id).ok_or_else(|| ApiError::internal("device id is not hex"))?;

    // A device that synced with this database's history after the point it was restored to:
    // it is answered as a device whose scope the server does not know (a pull from 0, with the
    // grids), and pushes everything of its own again. What it pushed with this request is left
    // for then: its changes may depend on ones the restored database lacks.
    let beyond_feed = state.feed_end.passed_by(state.db, req.cursor).await?;
    let stale = state
        .epoch
        .stale(req.epoch, req.cursor, req.resume.is_some(), beyond_feed);
    if stale {
        tracing::info!(
            device = %ctx.device_id,
            cursor = req.cursor,
            "a device synced with this database before it was restored: it pulls again from 0 and pushes again"
        );
    }
    let push: &[DocPush] = if stale { &[] } else { &req.push };
    let started = std::time::Instant::now();
    let (results, own) = ingest(state, ctx, &device_actor, push).await?;
    let refused = results.iter().map(|r| match r.status {
        PushStatus::Accepted => None,
        PushStatus::Rejected => Some(r.code.as_deref().unwrap_or("")),
    });
    state.metrics.pushed(refused, started.elapsed());
    // A submitted 预警核查 visit verifies its household's open alerts and closes their tasks.
    let stored: Vec<&str> = own.keys().map(String::as_str).collect();
    crate::monitoring::link_visits(state.db, &stored).await?;
    // A submitted 主动发现核查 or 回访 visit closes its report's task, and a 主动发现核查 visit
    // verifies its registered report.
    crate::review::report_life::close_visited_tasks(state.db, &stored).await?;
    crate::review::report_life::verify_visited(state.db, ctx.actor, &stored).await?;

    let scope_key = ctx.subject.scope.join("\n");
    // A stale device's cursor and resume token name places of a feed that is gone.
    let held = ctx.sync_state.scope_key.as_deref().filter(|_| !stale);
    let resume = req.resume.as_ref().map(|r| r.as_slice()).filter(|_| !stale);
    let start = pull::Start::decide(req.cursor, resume, &scope_key, held);
    if start.remember_scope {
        device_sync::Entity::insert(device_sync::ActiveModel {
            device_id: Set(ctx.device_id.clone()),
            scope_key: Set(scope_key.clone()),
            updated_at_ms: Set(now_ms()),
        })
        .on_conflict(
            OnConflict::column(device_sync::Column::DeviceId)
                .update_columns([
                    device_sync::Column::ScopeKey,
                    device_sync::Column::UpdatedAtMs,
                ])
                .to_owned(),
        )
        .exec(state.db)
        .await?;
    }
    let budget = req
        .page_bytes
        .unwrap_or(DEFAULT_PAGE_BYTES)
        .clamp(MIN_PAGE_BYTES, MAX_PAGE_BYTES) as usize;
    let mut updates = pull::wanted(state, ctx, &req.want).await?;
    let mut page = pull::pull(state, ctx, &start, budget, &own).await?;
    updates.append(&mut page.updates);
    // The first page of a new scope is followed by another request in any case (Start).
    page.more |= start.new_scope;
    // A document refused for lying outside the device's scope tells that the device holds
    // something of another scope (its regions changed since it last heard): it gets the grids.
    let refused_scope = results
        .iter()
        .any(|r| r.code.as_deref() == Some("policy.denied"));
    let grids = if start.send_grids || refused_scope {
        Some(pull::scope_grids(state, ctx).await?)
    } else {
        None
    };
    let policy = if ctx.sync_state.policy_version != req.policy_version.unwrap_or(0) {
        let (book, version) = crate::policies::load(state.db)
            .await
            .map_err(ApiError::internal)?;
        Some(doudi_protocol::sync::PolicyUpdate { version, book })
    } else {
        None
    };
    let tasks = if page.more {
        None
    } else {
        task_list(state, ctx, req.tasks_tag).await?
    };
    let identities = crate::identity::for_updates(state.db, state.identity, ctx, &updates).await?;
    state.metrics.pulled(updates.len());
    let cursor = if page.more { start.base } else { page.last };
    state.feed_end.saw(cursor);
    Ok(SyncResponse {
        v: PROTOCOL_VERSION,
        results,
        updates,
        grids,
        cursor,
        resume: page.more.then(|| start.resume_after(page.last)),
        more: page.more,
        policy,
        tasks,
        identities,
        epoch: state.epoch.to_send(req.epoch),
        repush: stale,
    })
}
