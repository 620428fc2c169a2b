//! The sync engine every client runs: what a request pushes and how a response is applied
//! (docs/PROTOCOL.md). The documents live in a [`SyncStore`]: the phone SDK's encrypted SQLite
//! store, or the in-memory [`super::Replica`] of tests and benches; both run this code.
//!
//! The engine is sans-I/O: [`prepare`] reads the store and builds a [`SyncRequest`],
//! the caller moves the bytes, and [`apply`] takes the [`SyncResponse`] and hands the store
//! everything the response changed in one [`Applied`], for the store to write atomically.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change, ChangeHash};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::wire::{
    DocIdentities, DocPush, DocUpdate, MAX_CHANGES_PER_DOC, MAX_PUSH_DOCS, MAX_WANT_DOCS,
    PROTOCOL_VERSION, PolicyUpdate, PushResult, PushStatus, SyncRequest, SyncResponse, TaskList,
};
use crate::doc::{self, DocError};

/// What goes wrong in a replica's sync: the errors of the engine, which every store's error
/// type takes in.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("document {0} is not held here")]
    UnknownDocument(String),
    #[error("the server answered protocol version {0}")]
    Version(u32),
    #[error("document {doc}: {source}")]
    Document { doc: String, source: DocError },
    #[error("document {doc}: bad data from the server: {reason}")]
    BadUpdate { doc: String, reason: String },
}

/// Bytes of pushed changes per request before the rest waits for the next round (the server
/// takes 8 MiB).
pub const PUSH_BUDGET: usize = 4 * 1024 * 1024;

/// One document as a client holds it.
#[derive(Debug, Clone)]
pub struct Held {
    /// `household`, `visit` or `discovery_report` (a kind newer than the client is kept as is).
    pub kind: String,
    /// The grid code (网格) the document belongs to.
    pub scope: String,
    pub doc: AutoCommit,
    /// Heads the server is known to have; changes after them are pushed.
    pub acked: Vec<ChangeHash>,
}

/// Where a client stands in the feed, kept between syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The `cursor` of the last response applied.
    pub cursor: u64,
    /// The `resume` of the last response applied, while a pull is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ByteBuf>,
    /// Documents held with changes missing: asked for whole at the next request.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub want: BTreeSet<String>,
    /// The server's epoch as last received (none from a server that sends none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

/// A document [`apply`] changed, to be written.
#[derive(Debug)]
pub struct Written {
    pub id: String,
    pub held: Held,
    /// The document's bytes in automerge's save format when the client has them already (a
    /// snapshot from the server taken as it is): storing them spares a save.
    pub saved: Option<Vec<u8>>,
}

/// Everything one response changed: the store writes it in one transaction.
#[derive(Debug, Default)]
pub struct Applied {
    pub docs: Vec<Written>,
    /// Documents to delete (they lie outside the device's scope).
    pub deleted: Vec<String>,
    pub position: Position,
    /// A new region policy book, when one came.
    pub policy: Option<PolicyUpdate>,
    /// A new task list, when one came.
    pub tasks: Option<TaskList>,
    /// The clear 身份证号 of documents, for roles that hold them: each replaces what the store
    /// held for its document (the store drops those of deleted documents).
    pub identities: Vec<DocIdentities>,
    /// The server may lack changes it acknowledged (it was restored from a backup): before
    /// `docs` are written, the store forgets the acked heads of every document it holds and
    /// lists each as having changes to push, in the same transaction as the new epoch of
    /// `position`. (`docs` carry acked heads that already take this into account.)
    pub repush: bool,
}

/// Where a client keeps its documents and its place in the feed.
pub trait SyncStore {
    type Error: From<ReplicaError>;
    fn position(&self) -> Result<Position, Self::Error>;
    /// Version of the policy book held, if any.
    fn policy_version(&self) -> Result<Option<u64>, Self::Error>;
    /// Tag of the task list held, if any.
    fn tasks_tag(&self) -> Result<Option<u64>, Self::Error>;
    /// Ids of documents that may hold changes the server lacks (a superset is fine), in a
    /// stable order.
    fn dirty(&mut self) -> Result<Vec<String>, Self::Error>;
    fn load(&self, id: &str) -> Result<Option<Held>, Self::Error>;
    /// Ids of held documents whose grid is not one of `grids`.
    fn outside(&self, grids: &BTreeSet<&str>) -> Result<Vec<String>, Self::Error>;
    /// Write what one response changed, all or nothing.
    fn commit(&mut self, applied: Applied) -> Result<(), Self::Error>;
}

/// A request and what it pushed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub request: SyncRequest,
    /// Heads of each pushed document when the request was built.
    pub pushed: BTreeMap<String, Vec<ChangeHash>>,
    /// Documents with changes were left for a later round (the request was full).
    pub more_to_push: bool,
}

/// What one [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub accepted: Vec<String>,
    pub rejected: Vec<PushResult>,
    pub updated: Vec<String>,
    /// Deleted: outside the device's scope.
    pub purged: Vec<String>,
    /// Sync again at once: the server has more, or documents wait to be asked for whole.
    pub more: bool,
    /// The server asked for every change of this device again (it was restored from a
    /// backup): documents refused earlier in this sync are worth pushing again.
    pub repush: bool,
}

/// Is `change` written by the device whose actor id is `device` (or an actor id that extends it)?
fn by_device(change: &Change, device: &[u8]) -> bool {
    change.actor_id().to_bytes().starts_with(device)
}

/// The next request: the device's changes the server lacks (up to [`MAX_PUSH_DOCS`] documents,
/// [`MAX_CHANGES_PER_DOC`] changes each and about [`PUSH_BUDGET`] bytes), where it stands in
/// the feed, and the documents it asks for whole.
///
/// Only the device's own changes are pushed: a change by another that the device holds came
/// from the server, which has it (and refuses anyone else's changes from this device).
/// `skip`: documents not to push (refused earlier in the same sync: pushing them again in its
/// next round would only be refused again).
pub fn prepare<S: SyncStore>(
    store: &mut S,
    device: &[u8],
    page_bytes: Option<u64>,
    skip: &BTreeSet<String>,
) -> Result<Outgoing, S::Error> {
    let position = store.position()?;
    let mut push = Vec::new();
    let mut pushed = BTreeMap::new();
    let mut bytes = 0usize;
    let mut more_to_push = false;
    for id in store.dirty()? {
        if skip.contains(&id) {
            continue;
        }
        if push.len() >= MAX_PUSH_DOCS || bytes >= PUSH_BUDGET {
            more_to_push = true;
            break;
        }
        let Some(mut held) = store.load(&id)? else {
            continue;
        };
        let changes: Vec<ByteBuf> = held
            .doc
            .get_changes(&held.acked)
            .into_iter()
            .filter(|c| by_device(c, device))
            .take(MAX_CHANGES_PER_DOC)
            // Compressed as automerge stores them (the server keeps the bytes as sent).
            .map(|mut c| ByteBuf::from(c.bytes().into_owned()))
            .collect();
        if changes.is_empty() {
            continue;
        }
        bytes += changes.iter().map(|c| c.len()).sum::<usize>();
        pushed.insert(id.clone(), held.doc.get_heads());
        push.push(DocPush { doc: id, changes });
    }
    Ok(Outgoing {
        request: SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: position.cursor,
            resume: position.resume,
            push,
            want: position.want.into_iter().take(MAX_WANT_DOCS).collect(),
            page_bytes,
            policy_version: store.policy_version()?,
            tasks_tag: store.tasks_tag()?,
            epoch: position.epoch,
        },
        pushed,
        more_to_push,
    })
}

/// The request that follows `resp` when the device pushes nothing and wants nothing: a client may
/// send it while it applies `resp`, and use its answer once `resp` is applied. `None` when `resp`
/// carries `grids`: the request after such a page tells the server that the device applied it
/// (docs/PROTOCOL.md section 5), so it waits until the page is stored.
pub fn follow_up(req: &SyncRequest, resp: &SyncResponse) -> Option<SyncRequest> {
    if resp.grids.is_some() || !resp.more {
        return None;
    }
    Some(SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: resp.cursor,
        resume: resp.resume.clone(),
        push: Vec::new(),
        want: Vec::new(),
        page_bytes: req.page_bytes,
        policy_version: resp
            .policy
            .as_ref()
            .map(|p| p.version)
            .or(req.policy_version),
        tasks_tag: resp.tasks.as_ref().map(|t| t.tag).or(req.tasks_tag),
        epoch: resp.epoch.or(req.epoch),
    })
}

/// A decoded snapshot per update (`None`: the update carries changes), in order.
pub type Snapshots = Vec<Option<Result<AutoCommit, DocError>>>;

/// Decode the snapshots of `updates` one after the other (a client with several cores may
/// decode them in parallel instead and pass its result to [`apply`]).
pub fn decode_snapshots(updates: &[DocUpdate]) -> Snapshots {
    updates.iter().map(decode_snapshot).collect()
}

/// Decode one update's snapshot (through `doc::load`: bytes from elsewhere are refused, not
/// panicked on).
pub fn decode_snapshot(update: &DocUpdate) -> Option<Result<AutoCommit, DocError>> {
    update.snapshot.as_deref().map(|s| doc::load(s))
}

fn hashes(heads: &[ByteBuf]) -> Option<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| ChangeHash::try_from(h.as_slice()).ok())
        .collect()
}

/// Apply the server's answer to `out` (`snapshots`: [`decode_snapshots`] of its updates) and
/// hand the store what changed.
pub fn apply<S: SyncStore>(
    store: &mut S,
    out: &Outgoing,
    resp: SyncResponse,
    snapshots: Snapshots,
) -> Result<SyncOutcome, S::Error> {
    if resp.v != PROTOCOL_VERSION {
        return Err(ReplicaError::Version(resp.v).into());
    }
    let held_before = store.position()?;
    // The server says it may lack what it acknowledged, or it is another server than the one
    // the device last heard from (its epoch changed): nothing held counts as acked any more.
    let repush = resp.repush
        || matches!((held_before.epoch, resp.epoch), (Some(held), Some(new)) if held != new);
    let load = |store: &S, id: &str| -> Result<Option<Held>, S::Error> {
        let mut held = store.load(id)?;
        if repush && let Some(h) = held.as_mut() {
            h.acked.clear();
        }
        Ok(held)
    };
    let mut outcome = SyncOutcome {
        repush,
        ..SyncOutcome::default()
    };
    let mut touched: BTreeMap<String, Written> = BTreeMap::new();
    for r in resp.results {
        match r.status {
            PushStatus::Accepted => {
                let held = match touched.remove(&r.doc) {
                    Some(w) => Some(w.held),
                    None => load(store, &r.doc)?,
                };
                if let Some(mut held) = held {
                    let bad = || ReplicaError::BadUpdate {
                        doc: r.doc.clone(),
                        reason: "bad heads".into(),
                    };
                    let heads = hashes(&r.heads).ok_or_else(bad)?;
                    // The server has everything up to its heads; the pushed heads at least.
                    held.acked = if held.doc.get_missing_deps(&heads).is_empty() {
                        heads
                    } else {
                        out.pushed.get(&r.doc).cloned().unwrap_or_default()
                    };
                    touched.insert(
                        r.doc.clone(),
                        Written {
                            id: r.doc.clone(),
                            held,
                            saved: None,
                        },
                    );
                }
                outcome.accepted.push(r.doc);
            }
            PushStatus::Rejected => outcome.rejected.push(r),
        }
    }
    for (u, snapshot) in resp.updates.into_iter().zip(snapshots) {
        let bad = |reason: String| ReplicaError::BadUpdate {
            doc: u.doc.clone(),
            reason,
        };
        let mut loaded = snapshot.transpose().map_err(|e| bad(e.to_string()))?;
        let mut w = match touched.remove(&u.doc) {
            Some(w) => w,
            None => match load(store, &u.doc)? {
                Some(held) => Written {
                    id: u.doc.clone(),
                    held,
                    saved: None,
                },
                // New here: the snapshot is the document (merging it into an empty one would
                // rebuild the same state op by op).
                None => Written {
                    id: u.doc.clone(),
                    held: Held {
                        kind: u.kind.clone(),
                        scope: u.scope.clone(),
                        doc: loaded.take().unwrap_or_default(),
                        acked: Vec::new(),
                    },
                    saved: u.snapshot.as_ref().map(|b| b.to_vec()),
                },
            },
        };
        let merged = loaded.is_some() || !u.changes.is_empty();
        if let Some(mut loaded) = loaded {
            doc::untrusted(|| w.held.doc.merge(&mut loaded)).map_err(|e| bad(e.to_string()))?;
        }
        if !u.changes.is_empty() {
            let changes = u
                .changes
                .iter()
                .map(|c| doc::parse_change(c).map_err(|e| bad(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            doc::untrusted(|| w.held.doc.apply_changes(changes)).map_err(|e| bad(e.to_string()))?;
        }
        let heads = hashes(&u.heads).ok_or_else(|| bad("bad heads".into()))?;
        // Once the document holds the server's heads, the server is known to have them.
        if w.held.doc.get_missing_deps(&heads).is_empty() {
            w.held.acked = heads;
        }
        // What came in joined what the device held, or holds more than the server said it has
        // (its changes will be listed for pushing): refused now if the result would fail later
        // (the next push, the store), and the store is spared a save. A new document whose
        // snapshot is exactly the server's heads, as every first sync brings, is taken as it is.
        if merged || w.held.acked != w.held.doc.get_heads() {
            w.saved = Some(doc::sound(&mut w.held.doc).map_err(|e| bad(e.to_string()))?);
        }
        w.held.kind = u.kind;
        w.held.scope = u.scope;
        outcome.updated.push(u.doc.clone());
        touched.insert(u.doc, w);
    }
    let mut deleted = Vec::new();
    if let Some(grids) = &resp.grids {
        let grids: BTreeSet<&str> = grids.iter().map(String::as_str).collect();
        deleted = store.outside(&grids)?;
        touched.retain(|_, w| grids.contains(w.held.scope.as_str()));
        deleted.retain(|id| !touched.contains_key(id));
    }
    // Documents asked for whole and not sent are not the device's to have; documents with
    // changes missing are asked for whole next time.
    let asked: BTreeSet<&String> = out.request.want.iter().collect();
    let mut want: BTreeSet<String> = held_before
        .want
        .into_iter()
        .filter(|id| !asked.contains(id) && !deleted.contains(id))
        .collect();
    for (id, w) in touched.iter_mut() {
        if w.held.doc.get_missing_deps(&[]).is_empty() {
            want.remove(id);
        } else {
            want.insert(id.clone());
        }
    }
    outcome.more = resp.more || out.more_to_push || want.iter().any(|id| !asked.contains(id));
    outcome.purged = deleted.clone();
    let identities = resp
        .identities
        .into_iter()
        .filter(|i| !deleted.contains(&i.doc))
        .collect();
    store.commit(Applied {
        docs: touched.into_values().collect(),
        deleted,
        position: Position {
            cursor: resp.cursor,
            resume: resp.resume,
            want,
            epoch: resp.epoch.or(held_before.epoch),
        },
        policy: resp.policy,
        tasks: resp.tasks,
        identities,
        repush,
    })?;
    Ok(outcome)
}
