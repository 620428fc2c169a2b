//! A sans-I/O replica: the documents a device holds, what the server has acknowledged, and the
//! cursor. It builds [`SyncRequest`]s and applies [`SyncResponse`]s; the caller moves the bytes.

use std::collections::BTreeMap;

use automerge::{ActorId, AutoCommit, ChangeHash};
use serde_bytes::ByteBuf;

use super::wire::{DocPush, PROTOCOL_VERSION, PushResult, PushStatus, SyncRequest, SyncResponse};
use crate::doc::{self, DocError, DocumentContent};
use crate::ids::{DocumentId, DocumentKind};

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

/// One document held by the replica.
#[derive(Debug)]
pub struct Entry {
    pub doc: AutoCommit,
    pub kind: DocumentKind,
    pub scope: String,
    /// Heads the server is known to have; changes after them are pushed.
    pub acked: Vec<ChangeHash>,
}

/// What one [`Replica::apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub accepted: Vec<String>,
    pub rejected: Vec<PushResult>,
    pub updated: Vec<String>,
    pub purged: Vec<String>,
    pub more: bool,
}

/// The documents of one device.
#[derive(Debug)]
pub struct Replica {
    actor: ActorId,
    cursor: u64,
    docs: BTreeMap<String, Entry>,
    policy: Option<super::wire::PolicyUpdate>,
    tasks: Option<super::wire::TaskList>,
}

/// The actor id a device writes with: the 16 bytes of its server-issued id (32 hex characters).
/// The server refuses changes whose actor does not start with the sending device's id.
pub fn device_actor(device_id: &str) -> Option<ActorId> {
    let bytes = (0..device_id.len())
        .step_by(2)
        .map(|i| {
            device_id
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    (bytes.len() == 16).then(|| ActorId::from(bytes))
}

fn hashes(heads: &[ByteBuf]) -> Option<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| ChangeHash::try_from(h.as_slice()).ok())
        .collect()
}

fn wire_heads(heads: &[ChangeHash]) -> Vec<ByteBuf> {
    heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect()
}

impl Replica {
    pub fn new(actor: ActorId) -> Replica {
        Replica {
            actor,
            cursor: 0,
            docs: BTreeMap::new(),
            policy: None,
            tasks: None,
        }
    }

    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.docs.keys()
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.docs.get(id)
    }

    pub fn entry_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.docs.get_mut(id)
    }

    /// Create a document in `scope` (a grid code), written by this device.
    pub fn create<C: DocumentContent>(
        &mut self,
        scope: &str,
        content: &C,
    ) -> Result<DocumentId, ReplicaError> {
        let id = DocumentId::generate().map_err(|e| ReplicaError::Document {
            doc: String::new(),
            source: DocError::Automerge(e.to_string()),
        })?;
        let doc = doc::create(id, scope, content, Some(self.actor.clone())).map_err(|source| {
            ReplicaError::Document {
                doc: id.to_string(),
                source,
            }
        })?;
        self.docs.insert(
            id.to_string(),
            Entry {
                doc,
                kind: C::KIND,
                scope: scope.to_string(),
                acked: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Read a document's typed content.
    pub fn read<C: DocumentContent>(&self, id: &str) -> Result<C, ReplicaError> {
        let e = self
            .docs
            .get(id)
            .ok_or_else(|| ReplicaError::UnknownDocument(id.to_string()))?;
        doc::read::<C, _>(&e.doc)
            .map(|(_, c)| c)
            .map_err(|source| ReplicaError::Document {
                doc: id.to_string(),
                source,
            })
    }

    /// Change a document: read its content, let `f` edit it, write back what differs.
    pub fn update<C: DocumentContent>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut C),
    ) -> Result<(), ReplicaError> {
        let mut content = self.read::<C>(id)?;
        f(&mut content);
        let e = self
            .docs
            .get_mut(id)
            .ok_or_else(|| ReplicaError::UnknownDocument(id.to_string()))?;
        doc::write(&mut e.doc, &content).map_err(|source| ReplicaError::Document {
            doc: id.to_string(),
            source,
        })?;
        e.doc.commit();
        Ok(())
    }

    /// Changes the server lacks, and the cursor.
    pub fn prepare(&mut self, page_bytes: Option<u32>) -> SyncRequest {
        let mut push = Vec::new();
        for (id, e) in self.docs.iter_mut() {
            let mut changes = e.doc.get_changes(&e.acked);
            if !changes.is_empty() {
                push.push(DocPush {
                    doc: id.clone(),
                    changes: changes
                        .iter_mut()
                        .map(|c| ByteBuf::from(c.bytes().into_owned()))
                        .collect(),
                });
            }
        }
        SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: self.cursor,
            push,
            page_bytes,
            policy_version: self.policy.as_ref().map(|p| p.version),
            tasks_tag: self.tasks.as_ref().map(|t| t.tag),
        }
    }

    /// Apply the server's answer.
    pub fn apply(&mut self, resp: SyncResponse) -> Result<SyncOutcome, ReplicaError> {
        if resp.v != PROTOCOL_VERSION {
            return Err(ReplicaError::Version(resp.v));
        }
        let mut out = SyncOutcome {
            more: resp.more,
            ..Default::default()
        };
        for r in resp.results {
            match r.status {
                PushStatus::Accepted => {
                    if let (Some(e), Some(heads)) = (self.docs.get_mut(&r.doc), hashes(&r.heads)) {
                        e.acked = heads;
                    }
                    out.accepted.push(r.doc);
                }
                PushStatus::Rejected => out.rejected.push(r),
            }
        }
        for u in resp.updates {
            let bad = |reason: String| ReplicaError::BadUpdate {
                doc: u.doc.clone(),
                reason,
            };
            let kind = DocumentKind::parse(&u.kind).map_err(|e| bad(e.to_string()))?;
            let incoming_heads = hashes(&u.heads).ok_or_else(|| bad("bad heads".into()))?;
            let loaded = match &u.snapshot {
                Some(snapshot) => Some(doc::load(snapshot).map_err(|e| bad(e.to_string()))?),
                None => None,
            };
            let entry = match self.docs.entry(u.doc.clone()) {
                std::collections::btree_map::Entry::Occupied(o) => {
                    let entry = o.into_mut();
                    if let Some(mut loaded) = loaded {
                        entry
                            .doc
                            .merge(&mut loaded)
                            .map_err(|e| bad(e.to_string()))?;
                    }
                    entry
                }
                // A snapshot of a document this replica does not hold yet becomes the document
                // as it is: merging it into an empty one would rebuild the same state op by op.
                std::collections::btree_map::Entry::Vacant(v) => {
                    let mut doc = loaded.unwrap_or_default();
                    doc.set_actor(self.actor.clone());
                    v.insert(Entry {
                        doc,
                        kind,
                        scope: u.scope.clone(),
                        acked: Vec::new(),
                    })
                }
            };
            if !u.changes.is_empty() {
                let changes = u
                    .changes
                    .iter()
                    .map(|c| doc::parse_change(c).map_err(|e| bad(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                entry
                    .doc
                    .apply_changes(changes)
                    .map_err(|e| bad(e.to_string()))?;
            }
            // The server has everything up to its heads; once we hold them too, they are acked.
            if entry.doc.get_missing_deps(&incoming_heads).is_empty() {
                entry.acked = incoming_heads;
            }
            entry.scope = u.scope;
            out.updated.push(u.doc);
        }
        for id in resp.purge {
            self.docs.remove(&id);
            out.purged.push(id);
        }
        if let Some(p) = resp.policy {
            self.policy = Some(p);
        }
        if let Some(t) = resp.tasks {
            self.tasks = Some(t);
        }
        self.cursor = resp.cursor;
        Ok(out)
    }

    /// The region policy book the server last sent, for offline indicators and due dates.
    pub fn policy(&self) -> Option<&crate::rules::policy::PolicyBook> {
        self.policy.as_ref().map(|p| &p.book)
    }

    /// The account's open tasks as the server last sent them (none before the first sync).
    pub fn tasks(&self) -> &[super::wire::WireTask] {
        self.tasks.as_ref().map_or(&[], |t| &t.items)
    }

    /// Heads of a document as sent on the wire.
    pub fn heads(&mut self, id: &str) -> Option<Vec<ByteBuf>> {
        self.docs
            .get_mut(id)
            .map(|e| wire_heads(&e.doc.get_heads()))
    }

    /// Bytes of a document in automerge's compact format (for comparing replicas).
    pub fn save(&mut self, id: &str) -> Option<Vec<u8>> {
        self.docs.get_mut(id).map(|e| e.doc.save())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_actor_is_the_device_id() {
        let a = device_actor("00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(
            a.to_bytes(),
            &[
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        assert!(device_actor("0011").is_none());
        assert!(device_actor("zz112233445566778899aabbccddeeff").is_none());
    }
}
