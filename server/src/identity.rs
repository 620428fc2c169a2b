//! Identity numbers (身份证号) on the server: the only place that holds them in clear, and only
//! for as long as it works with one (docs/SECURITY.md, "Identity numbers").
//!
//! - Documents hold a number masked and sealed to the server's public key
//!   (`doudi_protocol::identity`). [`IdentityKeys`] derives, from one server secret, the key pair
//!   phones seal to, the key numbers are encrypted under at rest, and the key of the keyed hash.
//! - A pushed change that writes a number in clear anywhere is refused
//!   (`sync.clear_id_number`, [`writes_clear_number`]).
//! - On ingest the server opens every number of the new state, checks it ([`rows`]), and stores
//!   it in `identity_numbers`: encrypted, with keyed hashes of the whole number and of its last 4,
//!   5 and 6 characters for search and matching.
//! - Grid workers and assistants get the clear numbers of the documents a sync sends them
//!   ([`for_updates`]); nobody else's device does. The console shows them to roles with the unmask
//!   permission, audited ([`reveal`]). Logs never carry a number (`IdNumber` prints masked).
//! - Documents stored in clear before this are sealed in place once ([`seal_stored`]).

use std::collections::{BTreeMap, HashMap};

use automerge::ScalarValue;
use automerge::legacy::OpType;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use doudi_protocol::doc::identity::{holders, open_all, seal_clear_numbers};
use doudi_protocol::doc::{self, Content, Issue};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::identity::{OpenError, OpenKey, SealKey, SealedId, clear_numbers};
use doudi_protocol::ids::MemberId;
use doudi_protocol::sync::{DocIdentities, DocUpdate, PushResult, WireIssue};

use crate::access::{Action, Actor, Target};
use crate::auth::{mac, random_bytes};
use crate::config::Settings;
use crate::entity::{document, identity_number};
use crate::error::ApiError;

/// The code of a pushed document whose new changes write a 身份证号 in clear.
pub const CLEAR_NUMBER: &str = "sync.clear_id_number";

/// The name of the identity secret in `server_secrets` (when not configured).
const SECRET_NAME: &str = "identity_v1";

/// The server's keys for identity numbers, derived from one secret (configured as
/// `identity_secret`, or created once in the database).
#[derive(Clone)]
pub struct IdentityKeys {
    open: OpenKey,
    seal: SealKey,
    hash: [u8; 32],
    store: ChaCha20Poly1305,
}

impl std::fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityKeys(seal key {})", self.seal.to_hex())
    }
}

impl IdentityKeys {
    /// The keys of `secret`: each is HMAC-SHA256 of the secret and its purpose.
    pub fn derive(secret: &[u8]) -> IdentityKeys {
        let open = OpenKey::from_bytes(mac(secret, &[b"doudi identity x25519"]));
        let store = mac(secret, &[b"doudi identity at rest"]);
        IdentityKeys {
            seal: open.seal_key(),
            open,
            hash: mac(secret, &[b"doudi identity hmac"]),
            store: ChaCha20Poly1305::new(&store.into()),
        }
    }

    /// The configured secret, or the one created once in the database.
    pub async fn load(db: &DatabaseConnection, settings: &Settings) -> Result<IdentityKeys, DbErr> {
        let secret = match &settings.identity_secret {
            Some(s) => s.expose().as_bytes().to_vec(),
            None => crate::db::server_secret(db, SECRET_NAME).await?,
        };
        Ok(IdentityKeys::derive(&secret))
    }

    /// The public key phones seal numbers to.
    pub fn seal_key(&self) -> &SealKey {
        &self.seal
    }

    pub fn open(&self, id: &SealedId) -> Result<IdNumber, OpenError> {
        self.open.open(id)
    }

    /// The keyed hash (hexadecimal) of a whole number or of its last `n` characters: what
    /// search and matching compare. Without the server's secret nobody can compute it, so a
    /// copy of the table does not give the numbers back by trying all of them.
    pub fn hash(&self, what: Lookup, text: &str) -> String {
        hex::encode(self.hash_bytes(what, text))
    }

    /// [`IdentityKeys::hash`] as its 32 bytes, for holding many in memory.
    pub fn hash_bytes(&self, what: Lookup, text: &str) -> [u8; 32] {
        let label: &[u8] = match what {
            Lookup::Whole => b"whole",
            Lookup::Tail(4) => b"tail4",
            Lookup::Tail(5) => b"tail5",
            Lookup::Tail(_) => b"tail6",
        };
        mac(&self.hash, &[label, text.as_bytes()])
    }

    fn aad(doc: &str, entry: &str) -> Vec<u8> {
        [doc.as_bytes(), b"\0", entry.as_bytes()].concat()
    }

    /// `number` encrypted at rest, bound to its document and entry.
    fn encrypt(&self, doc: &str, entry: &str, number: &IdNumber) -> Vec<u8> {
        let nonce = random_bytes::<12>();
        let aad = Self::aad(doc, entry);
        let mut out = nonce.to_vec();
        out.extend(
            self.store
                .encrypt(
                    &nonce.into(),
                    Payload {
                        msg: number.expose().as_bytes(),
                        aad: &aad,
                    },
                )
                .expect("encrypting 18 bytes cannot fail"),
        );
        out
    }

    /// The number of a stored row; `None` when it does not decrypt (another secret, tampering).
    fn decrypt(&self, row: &identity_number::Model) -> Option<IdNumber> {
        let (nonce, ct) = row.sealed.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let aad = Self::aad(&row.doc_id, &row.entry);
        let clear = self
            .store
            .decrypt(&nonce.into(), Payload { msg: ct, aad: &aad })
            .ok()?;
        IdNumber::parse(std::str::from_utf8(&clear).ok()?).ok()
    }
}

/// What a search query matches of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Whole,
    /// The last 4, 5 or 6 characters.
    Tail(usize),
}

impl Lookup {
    /// The part of a number `q` is, if any: 18 characters (a whole number, which must be valid),
    /// or 4 to 6 digits whose last may be `X` (a suffix). The normalised query comes with it.
    pub fn of_query(q: &str) -> Option<(Lookup, String)> {
        let q = q.to_ascii_uppercase();
        let b = q.as_bytes();
        let n = b.len();
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        if n == 18 {
            return IdNumber::parse(&q)
                .ok()
                .map(|v| (Lookup::Whole, v.expose().to_owned()));
        }
        ((4..=6).contains(&n)
            && digits(&b[..n - 1])
            && (b[n - 1].is_ascii_digit() || b[n - 1] == b'X'))
            .then_some((Lookup::Tail(n), q))
    }

    /// The column holding this part's hash.
    pub fn column(self) -> identity_number::Column {
        match self {
            Lookup::Whole => identity_number::Column::HashFull,
            Lookup::Tail(4) => identity_number::Column::HashTail4,
            Lookup::Tail(5) => identity_number::Column::HashTail5,
            Lookup::Tail(_) => identity_number::Column::HashTail6,
        }
    }
}

/// Whether `change` writes a 身份证号 in clear: as a value, as a map key, or in a run of
/// characters inserted into a text in one change. Old clients wrote `id_number` in clear; this
/// keeps them (and any other) from putting a number back into a document. (It is no defence
/// against a client bent on hiding a number in another spelling.) Read from the change's
/// operations as parsing decodes them ([`doudi_protocol::doc::parse_change_with`]).
pub fn writes_clear_number(change: &automerge::ExpandedChange) -> bool {
    let found = |s: &str| !clear_numbers(s).is_empty();
    let mut run: Option<(&automerge::legacy::ObjectId, String)> = None;
    for op in &change.operations {
        if let automerge::legacy::Key::Map(k) = &op.key
            && found(k)
        {
            return true;
        }
        let text = match &op.action {
            OpType::Put(ScalarValue::Str(s)) => Some(s.as_str()),
            _ => None,
        };
        if text.is_some_and(found) {
            return true;
        }
        // Characters inserted one after another into the same text or list.
        match (&mut run, op.insert, text) {
            (Some((o, acc)), true, Some(t)) if **o == op.obj => acc.push_str(t),
            (_, true, Some(t)) => {
                if run.as_ref().is_some_and(|(_, acc)| found(acc)) {
                    return true;
                }
                run = Some((&op.obj, t.to_owned()));
            }
            _ => {
                if run.take().is_some_and(|(_, acc)| found(&acc)) {
                    return true;
                }
            }
        }
    }
    run.is_some_and(|(_, acc)| found(&acc))
}

/// The answer to a pushed document that writes a number in clear.
pub fn refused_clear(doc: &str) -> PushResult {
    PushResult {
        doc: doc.to_owned(),
        status: doudi_protocol::sync::PushStatus::Rejected,
        heads: Vec::new(),
        code: Some(CLEAR_NUMBER.to_owned()),
        message: Some(
            "文档中不能出现完整的身份证号：请更新应用后重新录入（身份证号加密后才能同步）。".to_owned(),
        ),
        message_en: Some(
            "A document must not hold an ID number in clear: update the app and enter the number again (it is sealed before it syncs).".to_owned(),
        ),
        issues: Vec::new(),
    }
}

/// The issues of opening a document's numbers, as a pushed document's refusal lists them.
pub fn wire_issues(issues: &[Issue]) -> Vec<WireIssue> {
    issues
        .iter()
        .map(|i| WireIssue {
            path: format!("{}.{}", doc::key::CONTENT, i.path),
            code: i.code.to_string(),
            message: i.message_zh.clone(),
            message_en: i.message_en.clone(),
        })
        .collect()
}

/// The `identity_numbers` rows of a document's new state (`content`: `None` when it does not
/// read), or the problems that only the opened numbers show (paths from `content.`).
pub fn rows(
    keys: &IdentityKeys,
    doc_id: &str,
    region_path: &str,
    content: Option<&Content>,
) -> Result<Vec<identity_number::ActiveModel>, Vec<Issue>> {
    let Some(content) = content else {
        return Ok(Vec::new());
    };
    let opened = open_all(content, |id| keys.open(id));
    if !opened.issues.is_empty() {
        return Err(opened.issues);
    }
    let searchable: HashMap<String, bool> = holders(content)
        .into_iter()
        .map(|h| (h.entry, h.current_member))
        .collect();
    Ok(opened
        .numbers
        .into_iter()
        .map(|(entry, n)| {
            let tail = |k: usize| keys.hash(Lookup::Tail(k), &n.expose()[18 - k..]);
            identity_number::ActiveModel {
                doc_id: Set(doc_id.to_owned()),
                region_path: Set(region_path.to_owned()),
                searchable: Set(searchable.get(&entry).copied().unwrap_or(false)),
                masked: Set(n.masked()),
                sealed: Set(keys.encrypt(doc_id, &entry, &n)),
                hash_full: Set(keys.hash(Lookup::Whole, n.expose())),
                hash_tail4: Set(tail(4)),
                hash_tail5: Set(tail(5)),
                hash_tail6: Set(tail(6)),
                entry: Set(entry),
            }
        })
        .collect())
}

/// The clear numbers of the documents in `updates` for a device whose role holds them (grid
/// workers and assistants, in their regions); nothing for any other role.
pub async fn for_updates(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    actor: &Actor,
    updates: &[DocUpdate],
) -> Result<Vec<DocIdentities>, ApiError> {
    if updates.is_empty() || !actor.may(Action::HoldIdNumbers, Target::Scope) {
        return Ok(Vec::new());
    }
    let order: HashMap<&str, usize> = updates
        .iter()
        .enumerate()
        .map(|(i, u)| (u.doc.as_str(), i))
        .collect();
    let mut by_doc: BTreeMap<usize, DocIdentities> = BTreeMap::new();
    let ids: Vec<&str> = updates.iter().map(|u| u.doc.as_str()).collect();
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        let found = identity_number::Entity::find()
            .filter(identity_number::Column::DocId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for row in found {
            if !actor.may(Action::HoldIdNumbers, Target::Region(&row.region_path)) {
                continue;
            }
            let (Some(&i), Some(n)) = (order.get(row.doc_id.as_str()), keys.decrypt(&row)) else {
                continue;
            };
            by_doc
                .entry(i)
                .or_insert_with(|| DocIdentities {
                    doc: row.doc_id.clone(),
                    numbers: BTreeMap::new(),
                })
                .numbers
                .insert(row.entry.clone(), n.expose().to_owned());
        }
    }
    Ok(by_doc.into_values().collect())
}

/// The clear numbers of a document, by entry: for a caller the access module let unmask, who
/// audits it.
pub async fn reveal(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    doc_id: &str,
) -> Result<BTreeMap<String, IdNumber>, DbErr> {
    Ok(reveal_all(db, keys, vec![doc_id.to_string()])
        .await?
        .into_iter()
        .map(|((_, entry), n)| (entry, n))
        .collect())
}

/// The clear numbers of several documents, by document and entry (as [`reveal`]).
pub async fn reveal_all(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    doc_ids: Vec<String>,
) -> Result<BTreeMap<(String, String), IdNumber>, DbErr> {
    let found = identity_number::Entity::find()
        .filter(identity_number::Column::DocId.is_in(doc_ids))
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|row| keys.decrypt(&row).map(|n| ((row.doc_id, row.entry), n)))
        .collect())
}

/// The birth dates the clear numbers of a household's members give (`members.<id>` entries),
/// for the age rules of the assessment (`rules::assessment`). The numbers themselves are not
/// returned, so nothing here is an unmasking.
pub async fn member_birth_dates(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    household_id: &str,
) -> Result<BTreeMap<MemberId, NaiveDate>, DbErr> {
    let numbers = reveal(db, keys, household_id).await?;
    Ok(doudi_protocol::doc::identity::member_birth_dates(&numbers))
}

/// Documents read per step of [`seal_stored`].
const SEAL_BATCH: u64 = 200;

/// Audit action of the one-time sealing of a document stored in clear.
pub const AUDIT_SEAL: &str = "identity.seal_stored";

/// The `server_secrets` row that records that [`seal_stored`] went through every document.
pub const SEALED_MARK: &str = "identity_stored_sealed_v1";

/// Seal the numbers of documents stored in clear before numbers were sealed: each such
/// document gets a change of the server's own (the fixed server actor) that replaces every clear
/// number with its sealed form and drops a birth date beside it, with its `identity_numbers`
/// rows in the same transaction. New replicas then hold no clear number in the current state;
/// the history still does (docs/SECURITY.md). Runs once per database: a mark records that every
/// document was seen, and later starts skip it. Documents holding none are not touched, so a
/// second server running it at the same time writes nothing twice. Returns how many documents
/// were rewritten.
pub async fn seal_stored(db: &DatabaseConnection, keys: &IdentityKeys) -> Result<usize, ApiError> {
    use sea_orm::QuerySelect;
    let marked = crate::entity::server_secret::Entity::find_by_id(SEALED_MARK)
        .one(db)
        .await?;
    if marked.is_some() {
        return Ok(0);
    }
    let writer = crate::documents::Writer {
        account_id: "system",
        device_id: "server",
        client_addr: None,
        audit_action: AUDIT_SEAL,
        audit_detail: None,
    };
    let mut after = String::new();
    let mut rewritten = 0;
    loop {
        let page: Vec<(String, Vec<u8>)> = document::Entity::find()
            .filter(document::Column::Id.gt(after.as_str()))
            .order_by_asc(document::Column::Id)
            .limit(SEAL_BATCH)
            .select_only()
            .column(document::Column::Id)
            .column(document::Column::Snapshot)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = last.clone();
        for (id, snapshot) in page {
            let held = automerge::Automerge::load(&snapshot)
                .ok()
                .and_then(|am| doc::identity::clear_numbers_held(&am).ok());
            if held.unwrap_or(0) == 0 {
                continue;
            }
            crate::documents::server_write(db, &writer, &id, |am, row| {
                if seal_clear_numbers(am, keys.seal_key()).map_err(ApiError::internal)? == 0 {
                    return Ok(((), Vec::new()));
                }
                let tree = doc::tree(&*am).map_err(ApiError::internal)?;
                let content = doc::read_any(&tree).ok().map(|(_, c)| c);
                let rows =
                    rows(keys, &row.id, &row.region_path, content.as_ref()).map_err(|issues| {
                        ApiError::internal(format!(
                            "document {} does not open: {:?}",
                            row.id,
                            issues.iter().map(|i| i.code).collect::<Vec<_>>()
                        ))
                    })?;
                let mut inserts = Vec::new();
                if !rows.is_empty() {
                    use sea_orm::QueryTrait;
                    let upsert = sea_orm::sea_query::OnConflict::columns([
                        identity_number::Column::DocId,
                        identity_number::Column::Entry,
                    ])
                    .update_columns([
                        identity_number::Column::Masked,
                        identity_number::Column::Sealed,
                        identity_number::Column::Searchable,
                        identity_number::Column::HashFull,
                        identity_number::Column::HashTail4,
                        identity_number::Column::HashTail5,
                        identity_number::Column::HashTail6,
                    ])
                    .to_owned();
                    inserts.push(
                        identity_number::Entity::insert_many(rows)
                            .on_conflict(upsert)
                            .into_query(),
                    );
                }
                Ok(((), inserts))
            })
            .await?;
            rewritten += 1;
        }
    }
    crate::db::server_secret(db, SEALED_MARK).await?;
    Ok(rewritten)
}
