//! A sans-I/O replica held in memory: the documents a device holds, what the server has
//! acknowledged, and where it stands in the feed. It runs the same [`engine`] as the phone SDK;
//! tests and benches drive it over any transport.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ActorId;
use serde_bytes::ByteBuf;

pub use super::engine::ReplicaError;
pub use super::engine::SyncOutcome;
use super::engine::{self, Applied, Held, Outgoing, Position, SyncStore};
use super::wire::{PolicyUpdate, SyncRequest, SyncResponse, TaskList};
use crate::doc::{self, DocError, DocumentContent};
use crate::ids::DocumentId;

/// One document held by the replica.
pub type Entry = Held;

/// The documents, policy book, task list and feed position of a replica.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    docs: BTreeMap<String, Held>,
    position: Position,
    policy: Option<PolicyUpdate>,
    tasks: Option<TaskList>,
    /// Clear 身份证号 by document and entry, as the server sent them.
    identities: BTreeMap<String, BTreeMap<String, String>>,
}

impl SyncStore for MemoryStore {
    type Error = ReplicaError;

    fn position(&self) -> Result<Position, ReplicaError> {
        Ok(self.position.clone())
    }

    fn policy_version(&self) -> Result<Option<u64>, ReplicaError> {
        Ok(self.policy.as_ref().map(|p| p.version))
    }

    fn tasks_tag(&self) -> Result<Option<u64>, ReplicaError> {
        Ok(self.tasks.as_ref().map(|t| t.tag))
    }

    fn dirty(&mut self) -> Result<Vec<String>, ReplicaError> {
        Ok(self
            .docs
            .iter_mut()
            .filter_map(|(id, h)| (h.doc.get_heads() != h.acked).then(|| id.clone()))
            .collect())
    }

    fn load(&self, id: &str) -> Result<Option<Held>, ReplicaError> {
        Ok(self.docs.get(id).cloned())
    }

    fn outside(&self, grids: &BTreeSet<&str>) -> Result<Vec<String>, ReplicaError> {
        Ok(self
            .docs
            .iter()
            .filter(|(_, h)| !grids.contains(h.scope.as_str()))
            .map(|(id, _)| id.clone())
            .collect())
    }

    fn commit(&mut self, applied: Applied) -> Result<(), ReplicaError> {
        if applied.repush {
            for held in self.docs.values_mut() {
                held.acked.clear();
            }
        }
        for w in applied.docs {
            self.docs.insert(w.id, w.held);
        }
        for i in applied.identities {
            self.identities.insert(i.doc, i.numbers);
        }
        for id in applied.deleted {
            self.identities.remove(&id);
            self.docs.remove(&id);
        }
        self.position = applied.position;
        if applied.policy.is_some() {
            self.policy = applied.policy;
        }
        if applied.tasks.is_some() {
            self.tasks = applied.tasks;
        }
        Ok(())
    }
}

/// The documents of one device.
#[derive(Debug, Clone)]
pub struct Replica {
    actor: ActorId,
    store: MemoryStore,
    /// The last request [`Replica::prepare`] built, for applying its answer.
    outgoing: Option<Outgoing>,
    /// Documents refused in the rounds of the sync in progress (until an answer without `more`).
    refused: BTreeSet<String>,
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

impl Replica {
    pub fn new(actor: ActorId) -> Replica {
        Replica {
            actor,
            store: MemoryStore::default(),
            outgoing: None,
            refused: BTreeSet::new(),
        }
    }

    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// The cursor of the last response applied.
    pub fn cursor(&self) -> u64 {
        self.store.position.cursor
    }

    /// The server's epoch as last received.
    pub fn epoch(&self) -> Option<u64> {
        self.store.position.epoch
    }

    /// Where the replica stands in the feed.
    pub fn position(&self) -> &Position {
        &self.store.position
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.store.docs.keys()
    }

    pub fn len(&self) -> usize {
        self.store.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.docs.is_empty()
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.store.docs.get(id)
    }

    pub fn entry_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.store.docs.get_mut(id)
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
        self.store.docs.insert(
            id.to_string(),
            Held {
                doc,
                kind: C::KIND.as_str().to_string(),
                scope: scope.to_string(),
                acked: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Read a document's typed content.
    pub fn read<C: DocumentContent>(&self, id: &str) -> Result<C, ReplicaError> {
        let e = self
            .store
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
            .store
            .docs
            .get_mut(id)
            .ok_or_else(|| ReplicaError::UnknownDocument(id.to_string()))?;
        // A document taken from the server writes with the actor it was saved with.
        e.doc.set_actor(self.actor.clone());
        doc::write(&mut e.doc, &content).map_err(|source| ReplicaError::Document {
            doc: id.to_string(),
            source,
        })?;
        e.doc.commit();
        Ok(())
    }

    /// The next request: changes the server lacks, where the replica stands, what it asks
    /// for whole. Its answer goes to [`Replica::apply`].
    pub fn prepare(&mut self, page_bytes: Option<u64>) -> SyncRequest {
        let out = engine::prepare(
            &mut self.store,
            self.actor.to_bytes(),
            page_bytes,
            &self.refused,
        )
        .expect("the memory store does not fail");
        let req = out.request.clone();
        self.outgoing = Some(out);
        req
    }

    /// Apply the server's answer to the last request [`Replica::prepare`] built.
    pub fn apply(&mut self, resp: SyncResponse) -> Result<SyncOutcome, ReplicaError> {
        let out = self.outgoing.take().unwrap_or_else(|| Outgoing {
            request: SyncRequest::default(),
            pushed: BTreeMap::new(),
            more_to_push: false,
        });
        let snapshots = engine::decode_snapshots(&resp.updates);
        let outcome = engine::apply(&mut self.store, &out, resp, snapshots)?;
        if outcome.repush {
            // Everything of this device goes again, refused documents included.
            self.refused.clear();
        } else if outcome.more {
            self.refused
                .extend(outcome.rejected.iter().map(|r| r.doc.clone()));
        } else {
            self.refused.clear();
        }
        Ok(outcome)
    }

    /// The region policy book the server last sent, for offline indicators and due dates.
    pub fn policy(&self) -> Option<&crate::rules::policy::PolicyBook> {
        self.store.policy.as_ref().map(|p| &p.book)
    }

    /// The account's open tasks as the server last sent them (none before the first sync).
    pub fn tasks(&self) -> &[super::wire::WireTask] {
        self.store.tasks.as_ref().map_or(&[], |t| &t.items)
    }

    /// The clear 身份证号 the server sent for a document's entry (`members.<member_id>`...):
    /// only to roles that hold them.
    pub fn identity(&self, doc: &str, entry: &str) -> Option<&str> {
        self.store
            .identities
            .get(doc)
            .and_then(|n| n.get(entry))
            .map(String::as_str)
    }

    /// Every document the replica holds clear numbers of.
    pub fn identity_docs(&self) -> impl Iterator<Item = &String> {
        self.store.identities.keys()
    }

    /// Heads of a document as sent on the wire.
    pub fn heads(&mut self, id: &str) -> Option<Vec<ByteBuf>> {
        self.store.docs.get_mut(id).map(|e| {
            e.doc
                .get_heads()
                .iter()
                .map(|h| ByteBuf::from(h.0.to_vec()))
                .collect()
        })
    }

    /// Bytes of a document in automerge's compact format (for comparing replicas).
    pub fn save(&mut self, id: &str) -> Option<Vec<u8>> {
        self.store.docs.get_mut(id).map(|e| e.doc.save())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Household;
    use crate::sync::wire::{PROTOCOL_VERSION, PushResult, PushStatus};

    fn household(address: &str) -> Household {
        Household {
            address: address.to_string(),
            ..Default::default()
        }
    }

    fn accepted(doc: &str, heads: Vec<ByteBuf>) -> PushResult {
        PushResult {
            doc: doc.to_string(),
            status: PushStatus::Accepted,
            heads,
            code: None,
            message: None,
            message_en: None,
            issues: vec![],
        }
    }

    /// The device keeps the server's epoch with its cursor and sends it; an answer that says
    /// `repush`, or names another epoch than the one held, makes every change of the device's
    /// own go again, and only then is the new epoch held.
    #[test]
    fn a_repush_forgets_what_the_server_acknowledged() {
        let device = "00112233445566778899aabbccddeeff";
        let mut r = Replica::new(device_actor(device).unwrap());
        let id = r.create("g", &household("一村 1 号")).unwrap().to_string();
        r.update::<Household>(&id, |h| h.address = "一村 2 号".into())
            .unwrap();
        let first = r.prepare(None);
        assert_eq!((first.epoch, first.push.len()), (None, 1));
        let all = first.push[0].changes.clone();
        assert_eq!(all.len(), 2);
        let heads = r.heads(&id).unwrap();
        r.apply(SyncResponse {
            v: PROTOCOL_VERSION,
            results: vec![accepted(&id, heads.clone())],
            cursor: 5,
            epoch: Some(11),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.epoch(), Some(11));
        let idle = r.prepare(None);
        assert!(idle.push.is_empty());
        assert_eq!((idle.epoch, idle.cursor), (Some(11), 5));
        // An answer that says nothing of the epoch keeps it.
        r.apply(SyncResponse {
            v: PROTOCOL_VERSION,
            cursor: 6,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.prepare(None).epoch, Some(11));

        // The server was restored: a pull from 0 with the grids, and `repush`.
        let o = r
            .apply(SyncResponse {
                v: PROTOCOL_VERSION,
                grids: Some(vec!["g".into()]),
                cursor: 0,
                resume: Some(ByteBuf::from(vec![1; 16])),
                more: true,
                epoch: Some(12),
                repush: true,
                ..Default::default()
            })
            .unwrap();
        assert!(o.repush && o.more);
        let again = r.prepare(None);
        assert_eq!((again.epoch, again.cursor), (Some(12), 0));
        assert_eq!(again.push.len(), 1);
        assert_eq!(again.push[0].changes, all, "every change of its own again");
        // Once the server acknowledges them, nothing is pushed any more.
        r.apply(SyncResponse {
            v: PROTOCOL_VERSION,
            results: vec![accepted(&id, heads.clone())],
            cursor: 3,
            ..Default::default()
        })
        .unwrap();
        assert!(r.prepare(None).push.is_empty());

        // An answer that names another epoch than the one held, even without `repush`.
        let o = r
            .apply(SyncResponse {
                v: PROTOCOL_VERSION,
                cursor: 3,
                epoch: Some(13),
                ..Default::default()
            })
            .unwrap();
        assert!(o.repush);
        let again = r.prepare(None);
        assert_eq!(again.epoch, Some(13));
        assert_eq!(again.push[0].changes, all);
    }

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
