//! The phone's store as the sync engine's [`SyncStore`]: the engine of `doudi_protocol::sync`
//! decides what to push and how to apply an answer; this writes the result into the encrypted
//! store in one transaction.

use std::collections::BTreeSet;

use doudi_protocol::sync::engine::{Applied, Held, Position, SyncStore};
use doudi_protocol::sync::{PolicyUpdate, ReplicaError, TaskList};

use crate::error::{DoudiError, Result};
use crate::parallel;
use crate::store::{Store, Writer};
use crate::summary;

/// Where the phone stands in the feed ([`Position`]).
pub(crate) const META_POSITION: &str = "position";
/// The cursor alone, as stores written by SDKs of protocol version 1 kept it.
const META_LEGACY_CURSOR: &str = "cursor";
/// The region policy book last received through sync (`PolicyUpdate`).
pub(crate) const META_POLICY: &str = "policy";
/// The open tasks of the account as the last sync sent them (`TaskList`, with its tag). (Before
/// tasks came with sync, they were fetched separately and kept under `tasks`; that key is no
/// longer read.)
pub(crate) const META_TASKS: &str = "task_list";

impl From<ReplicaError> for DoudiError {
    fn from(e: ReplicaError) -> Self {
        match e {
            ReplicaError::Version(_) => DoudiError::UpgradeRequired,
            e => DoudiError::internal(e.to_string()),
        }
    }
}

impl SyncStore for Store {
    type Error = DoudiError;

    fn position(&self) -> Result<Position> {
        if let Some(p) = self.meta::<Position>(META_POSITION)? {
            return Ok(p);
        }
        // A store of protocol version 1 kept only its cursor, and a pull over several pages
        // could leave documents of it without some changes: ask for those whole.
        let Some(cursor) = self.meta::<u64>(META_LEGACY_CURSOR)? else {
            return Ok(Position::default());
        };
        let mut want = BTreeSet::new();
        for id in self.index.keys() {
            if let Some(mut held) = self.load_doc(id)?
                && !held.doc.get_missing_deps(&[]).is_empty()
            {
                want.insert(id.clone());
            }
        }
        Ok(Position {
            cursor,
            resume: None,
            want,
            epoch: None,
        })
    }

    fn policy_version(&self) -> Result<Option<u64>> {
        Ok(self.meta::<PolicyUpdate>(META_POLICY)?.map(|p| p.version))
    }

    fn tasks_tag(&self) -> Result<Option<u64>> {
        Ok(self.meta::<TaskList>(META_TASKS)?.map(|t| t.tag))
    }

    fn dirty(&mut self) -> Result<Vec<String>> {
        self.dirty_ids()
    }

    fn load(&self, id: &str) -> Result<Option<Held>> {
        self.load_doc(id)
    }

    fn outside(&self, grids: &BTreeSet<&str>) -> Result<Vec<String>> {
        self.ids_outside(grids)
    }

    fn commit(&mut self, applied: Applied) -> Result<()> {
        // Summaries (each a read of the whole document) on all cores.
        let mut docs = applied.docs;
        let summaries = parallel::map(&docs, |w| {
            summary::summarize(&w.held.kind, &w.held.scope, &w.held.doc)
        });
        self.write(|w: &mut Writer<'_>| {
            if applied.repush {
                // In the transaction that adopts the new epoch: an answer lost before this
                // commit leaves the old epoch, and the server asks again.
                w.forget_acked()?;
            }
            for (d, s) in docs.iter_mut().zip(summaries) {
                let h = &mut d.held;
                w.put_doc(
                    &d.id,
                    &h.kind,
                    &h.scope,
                    &mut h.doc,
                    d.saved.as_deref(),
                    &h.acked,
                    s?,
                )?;
            }
            for i in &applied.identities {
                w.put_identities(&i.doc, &i.numbers)?;
            }
            for id in &applied.deleted {
                w.delete_doc(id)?;
            }
            if let Some(p) = &applied.policy {
                w.put_meta(META_POLICY, Some(p))?;
            }
            if let Some(t) = &applied.tasks {
                w.put_meta(META_TASKS, Some(t))?;
            }
            w.put_meta::<u64>(META_LEGACY_CURSOR, None)?;
            w.put_meta(META_POSITION, Some(&applied.position))
        })
    }
}
