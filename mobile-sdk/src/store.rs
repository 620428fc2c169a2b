//! The local store: SQLite (WAL) holding encrypted documents, sync state, session and photos.
//!
//! Every value that says anything about a person (document bytes, summaries, acked heads, the
//! cursor, tokens, images) is sealed with the store's [`Cipher`]; only document ids, kinds, grid
//! codes, blob hashes and flags are in clear. Each user action is written in one transaction
//! before the call returns.

use std::collections::BTreeMap;
use std::path::Path;

use automerge::{AutoCommit, ChangeHash};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Serialize, de::DeserializeOwned};

use crate::crypto::Cipher;
use crate::error::{DoudiError, Result};
use crate::summary::Summary;
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::sync::engine::Held;

/// Schema migrations; `PRAGMA user_version` is the number applied. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: settings and sync state, documents.
    "CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE docs (
        id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        data BLOB NOT NULL,
        acked BLOB NOT NULL,
        summary BLOB NOT NULL,
        dirty INTEGER NOT NULL DEFAULT 0
    );",
    // 2: photos and signatures waiting for upload.
    "CREATE TABLE blobs (
        hash TEXT PRIMARY KEY NOT NULL,
        doc TEXT NOT NULL,
        role TEXT NOT NULL,
        mime TEXT NOT NULL,
        image BLOB NOT NULL,
        thumbnail BLOB,
        uploaded INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );",
    // 3: what the sync and the upload queue look for.
    "CREATE INDEX docs_dirty ON docs(dirty) WHERE dirty = 1;
    CREATE INDEX blobs_pending ON blobs(uploaded) WHERE uploaded = 0;",
    // 4: 身份证号 in clear, which documents hold only masked and sealed to the server: those
    // this phone captured and those the server sent (grid workers and assistants).
    "CREATE TABLE identities (
        doc TEXT NOT NULL,
        entry TEXT NOT NULL,
        number BLOB NOT NULL,
        PRIMARY KEY (doc, entry)
    ) WITHOUT ROWID;",
];

/// Apply migrations up to `target` (all of them in normal use), each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, target: usize) -> Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(DoudiError::Storage {
            detail: format!(
                "store schema {current} is newer than this app ({})",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Open a connection with the store's settings.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit survives a power cut too (phones die of flat batteries).
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Deleted rows are overwritten, so a wipe leaves nothing readable in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

const KEY_CHECK: &[u8] = b"doudi-store-v1";

/// A blob waiting for upload.
#[derive(Debug, Clone)]
pub(crate) struct PendingBlob {
    pub hash: String,
}

pub(crate) struct Store {
    conn: Connection,
    cipher: Cipher,
    /// Decrypted summaries of every document, for listing and searching without the network
    /// or a decrypt per row.
    pub(crate) index: BTreeMap<String, Summary>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("documents", &self.index.len())
            .finish()
    }
}

fn heads_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn heads_from(bytes: &[u8]) -> Result<Vec<ChangeHash>> {
    bytes
        .chunks(32)
        .map(|c| ChangeHash::try_from(c).map_err(DoudiError::internal))
        .collect()
}

impl Store {
    pub(crate) fn open(dir: &Path, key: &[u8]) -> Result<Store> {
        let cipher = Cipher::new(key)?;
        std::fs::create_dir_all(dir).map_err(|e| DoudiError::Storage {
            detail: format!("{}: {e}", dir.display()),
        })?;
        let mut conn = connect(&dir.join("doudi.sqlite3"))?;
        migrate(&mut conn, MIGRATIONS.len())?;
        let mut store = Store {
            conn,
            cipher,
            index: BTreeMap::new(),
        };
        match store.meta_raw("key_check")? {
            Some(v) => {
                if v != KEY_CHECK {
                    return Err(DoudiError::WrongKey);
                }
            }
            None => {
                let sealed = store.cipher.seal("meta/key_check", KEY_CHECK)?;
                store.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                    params![sealed],
                )?;
            }
        }
        store.load_index()?;
        Ok(store)
    }

    fn load_index(&mut self) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT id, summary FROM docs")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut index = BTreeMap::new();
        for row in rows {
            let (id, sealed) = row?;
            let plain = self.cipher.open(&format!("docs/{id}/summary"), &sealed)?;
            let s: Summary = serde_json::from_slice(&plain).map_err(DoudiError::internal)?;
            index.insert(id, s);
        }
        drop(stmt);
        self.index = index;
        Ok(())
    }

    fn meta_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        sealed
            .map(|s| self.cipher.open(&format!("meta/{key}"), &s))
            .transpose()
    }

    /// A sealed JSON value of the meta table.
    pub(crate) fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.meta_raw(key)?
            .map(|b| serde_json::from_slice(&b).map_err(DoudiError::internal))
            .transpose()
    }

    fn put_meta_on<T: Serialize>(
        conn: &Connection,
        cipher: &Cipher,
        key: &str,
        value: Option<&T>,
    ) -> Result<()> {
        match value {
            Some(v) => {
                let plain = serde_json::to_vec(v).map_err(DoudiError::internal)?;
                let sealed = cipher.seal(&format!("meta/{key}"), &plain)?;
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, sealed],
                )?;
            }
            None => {
                conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
            }
        }
        Ok(())
    }

    pub(crate) fn put_meta<T: Serialize>(&self, key: &str, value: Option<&T>) -> Result<()> {
        Store::put_meta_on(&self.conn, &self.cipher, key, value)
    }

    pub(crate) fn load_doc(&self, id: &str) -> Result<Option<Held>> {
        // The index lists every stored document: one it lacks is not looked for (most of a
        // first sync).
        if !self.index.contains_key(id) {
            return Ok(None);
        }
        let row: Option<(String, String, Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT kind, scope, data, acked FROM docs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((kind, scope, data, acked)) = row else {
            return Ok(None);
        };
        let data = self.cipher.open(&format!("docs/{id}/data"), &data)?;
        let acked = self.cipher.open(&format!("docs/{id}/acked"), &acked)?;
        Ok(Some(Held {
            doc: AutoCommit::load(&data)?,
            kind,
            scope,
            acked: heads_from(&acked)?,
        }))
    }

    /// Ids of documents with changes the server has not acknowledged.
    pub(crate) fn dirty_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM docs WHERE dirty = 1 ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// Ids of documents whose grid is not one of `grids`.
    pub(crate) fn ids_outside(
        &self,
        grids: &std::collections::BTreeSet<&str>,
    ) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, scope FROM docs ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, scope) = row?;
            if !grids.contains(scope.as_str()) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Run `f` in one transaction; the index is updated only if it commits.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let mut w = Writer {
            tx: &tx,
            cipher: &self.cipher,
            index_changes: Vec::new(),
        };
        let out = f(&mut w)?;
        let changes = std::mem::take(&mut w.index_changes);
        tx.commit()?;
        for (id, s) in changes {
            match s {
                Some(s) => {
                    self.index.insert(id, s);
                }
                None => {
                    self.index.remove(&id);
                }
            }
        }
        Ok(out)
    }

    /// The clear 身份证号 this phone holds of a document, by entry.
    pub(crate) fn identities(
        &self,
        doc: &str,
    ) -> Result<std::collections::BTreeMap<String, IdNumber>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT entry, number FROM identities WHERE doc = ?1")?;
        let rows = stmt.query_map([doc], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (entry, sealed) = row?;
            let plain = self
                .cipher
                .open(&format!("identities/{doc}/{entry}"), &sealed)?;
            if let Some(n) = std::str::from_utf8(&plain)
                .ok()
                .and_then(|t| IdNumber::parse(t).ok())
            {
                out.insert(entry, n);
            }
        }
        Ok(out)
    }

    /// A stored blob's bytes (image, or thumbnail when `thumbnail`).
    pub(crate) fn blob(&self, hash: &str, thumbnail: bool) -> Result<Option<Vec<u8>>> {
        let col = if thumbnail { "thumbnail" } else { "image" };
        let sealed: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                &format!("SELECT {col} FROM blobs WHERE hash = ?1"),
                [hash],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .flatten()
            .map(|s| self.cipher.open(&format!("blobs/{hash}/{col}"), &s))
            .transpose()
    }

    pub(crate) fn pending_blobs(&self) -> Result<Vec<PendingBlob>> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM blobs WHERE uploaded = 0 ORDER BY created_at, hash")?;
        let rows = stmt
            .query_map([], |r| Ok(PendingBlob { hash: r.get(0)? }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The server has the blob `hash`: it no longer waits for upload (it stays for offline use).
    pub(crate) fn mark_uploaded(&self, hash: &str) -> Result<()> {
        self.conn
            .execute("UPDATE blobs SET uploaded = 1 WHERE hash = ?1", [hash])?;
        Ok(())
    }

    /// Delete everything: documents, photos, sync state, session. The key check stays, so the
    /// same key opens the empty store.
    pub(crate) fn wipe(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM docs; DELETE FROM blobs; DELETE FROM meta WHERE key <> 'key_check';",
        )?;
        tx.commit()?;
        self.index.clear();
        // Fold the WAL into the main file and truncate it, so no old page survives there.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.execute_batch("VACUUM")?;
        Ok(())
    }

    /// Delete documents and photos but keep the device identity (another account logs in).
    pub(crate) fn clear_data(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM docs; DELETE FROM blobs; DELETE FROM identities; DELETE FROM meta WHERE key IN ('cursor', 'position', 'task_list');",
        )?;
        tx.commit()?;
        self.index.clear();
        Ok(())
    }
}

/// A document's row, written whole.
const UPSERT_DOC: &str = "INSERT INTO docs (id, kind, scope, data, acked, summary, dirty)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, scope = excluded.scope,
      data = excluded.data, acked = excluded.acked, summary = excluded.summary,
      dirty = excluded.dirty";

/// Writes inside one transaction.
pub(crate) struct Writer<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    cipher: &'a Cipher,
    index_changes: Vec<(String, Option<Summary>)>,
}

impl Writer<'_> {
    /// Store a document with its acked heads and summary.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put_doc(
        &mut self,
        id: &str,
        kind: &str,
        scope: &str,
        doc: &mut AutoCommit,
        saved: Option<&[u8]>,
        acked: &[ChangeHash],
        summary: Summary,
    ) -> Result<()> {
        // Acked heads equal to the document's own (a snapshot as received): nothing to push,
        // without listing the changes.
        let dirty = acked != doc.get_heads().as_slice() && !doc.get_changes(acked).is_empty();
        // `saved`: the document's bytes in automerge's save format when the caller has them
        // (a snapshot from the server taken as it is); saving again would give the same state.
        let bytes = match saved {
            Some(b) => std::borrow::Cow::Borrowed(b),
            None => std::borrow::Cow::Owned(doc.save()),
        };
        let data = self.cipher.seal(&format!("docs/{id}/data"), &bytes)?;
        let acked = self
            .cipher
            .seal(&format!("docs/{id}/acked"), &heads_bytes(acked))?;
        let plain = serde_json::to_vec(&summary).map_err(DoudiError::internal)?;
        let sealed_summary = self.cipher.seal(&format!("docs/{id}/summary"), &plain)?;
        // Cached: a sync page writes hundreds of documents with it.
        self.tx.prepare_cached(UPSERT_DOC)?.execute(params![
            id,
            kind,
            scope,
            data,
            acked,
            sealed_summary,
            dirty as i64
        ])?;
        self.index_changes.push((id.to_owned(), Some(summary)));
        Ok(())
    }

    /// Forget what the server acknowledged (it was restored from a backup): every document is
    /// listed as having changes to push, and the next syncs push every change of this device
    /// (the server keeps a change it has once); every photo and signature waits for upload again
    /// (the upload asks the server which it lacks first).
    pub(crate) fn forget_acked(&mut self) -> Result<()> {
        let ids = {
            let mut stmt = self.tx.prepare("SELECT id FROM docs")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?
        };
        let mut update = self
            .tx
            .prepare("UPDATE docs SET acked = ?2, dirty = 1 WHERE id = ?1")?;
        for id in ids {
            let acked = self.cipher.seal(&format!("docs/{id}/acked"), &[])?;
            update.execute(params![id, acked])?;
        }
        self.tx.execute("UPDATE blobs SET uploaded = 0", [])?;
        Ok(())
    }

    pub(crate) fn delete_doc(&mut self, id: &str) -> Result<()> {
        self.tx.execute("DELETE FROM docs WHERE id = ?1", [id])?;
        self.tx.execute("DELETE FROM blobs WHERE doc = ?1", [id])?;
        self.tx
            .execute("DELETE FROM identities WHERE doc = ?1", [id])?;
        self.index_changes.push((id.to_owned(), None));
        Ok(())
    }

    pub(crate) fn put_meta<T: Serialize>(&mut self, key: &str, value: Option<&T>) -> Result<()> {
        Store::put_meta_on(self.tx, self.cipher, key, value)
    }

    /// Keep the clear 身份证号 of a person of a document (`entry`: `members.<member_id>`...).
    pub(crate) fn put_identity(&mut self, doc: &str, entry: &str, number: &str) -> Result<()> {
        let sealed = self
            .cipher
            .seal(&format!("identities/{doc}/{entry}"), number.as_bytes())?;
        self.tx.execute(
            "INSERT INTO identities (doc, entry, number) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc, entry) DO UPDATE SET number = excluded.number",
            params![doc, entry, sealed],
        )?;
        Ok(())
    }

    /// Replace the clear numbers of a document with those the server sent.
    pub(crate) fn put_identities(
        &mut self,
        doc: &str,
        numbers: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        self.tx
            .execute("DELETE FROM identities WHERE doc = ?1", [doc])?;
        for (entry, number) in numbers {
            self.put_identity(doc, entry, number)?;
        }
        Ok(())
    }

    /// Store a blob (kept until uploaded). A blob already stored is kept as it is.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put_blob(
        &mut self,
        hash: &str,
        doc: &str,
        role: &str,
        mime: &str,
        image: &[u8],
        thumbnail: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<()> {
        let image = self.cipher.seal(&format!("blobs/{hash}/image"), image)?;
        let thumbnail = thumbnail
            .map(|t| self.cipher.seal(&format!("blobs/{hash}/thumbnail"), t))
            .transpose()?;
        self.tx.execute(
            "INSERT INTO blobs (hash, doc, role, mime, image, thumbnail, uploaded, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7) ON CONFLICT (hash) DO NOTHING",
            params![hash, doc, role, mime, image, thumbnail, now_ms],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn upgraded_step_by_step_equals_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let fresh_path = dir.path().join("fresh.sqlite3");
        let mut fresh = connect(&fresh_path).unwrap();
        migrate(&mut fresh, MIGRATIONS.len()).unwrap();

        let old_path = dir.path().join("old.sqlite3");
        for step in 1..=MIGRATIONS.len() {
            // Reopen between steps, as an app update would.
            let mut conn = connect(&old_path).unwrap();
            migrate(&mut conn, step).unwrap();
            let v: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v as usize, step);
        }
        let upgraded = connect(&old_path).unwrap();
        assert_eq!(schema(&upgraded), schema(&fresh));
        assert!(!schema(&fresh).is_empty());
        // Running the migrations again changes nothing.
        let mut again = connect(&old_path).unwrap();
        migrate(&mut again, MIGRATIONS.len()).unwrap();
        assert_eq!(schema(&again), schema(&fresh));
    }

    #[test]
    fn a_newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect(&dir.path().join("s.sqlite3")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&mut conn, MIGRATIONS.len()),
            Err(DoudiError::Storage { .. })
        ));
    }

    #[test]
    fn wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), &[1u8; 32]).unwrap());
        assert_eq!(
            Store::open(dir.path(), &[2u8; 32]).unwrap_err(),
            DoudiError::WrongKey
        );
        Store::open(dir.path(), &[1u8; 32]).unwrap();
    }
}
