//! Photos and signatures: content-addressed blobs.
//!
//! A blob is stored once, under its SHA-256, in a [`BlobStore`] (a local directory or S3-compatible
//! object storage) and recorded in the `blobs` table; `blob_uploads` records every account that
//! uploaded its bytes. Documents point at blobs through `blob_refs` rows, written with the other
//! projections ([`crate::documents::blob_refs`]). A blob is readable by whoever may read a document that points at it,
//! when the account that put that reference into the document had uploaded the blob
//! ([`read_decision`]): anyone can write a hash into a document of their own, so knowing a hash
//! grants nothing.
//!
//! Uploads are chunked and resumable ([`upload`]); the wire protocol is in `docs/BLOBS.md`.

pub mod gc;
pub mod image_check;
pub mod store;
pub mod upload;

use std::collections::HashSet;
use std::sync::Arc;

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ValueRef};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set, TransactionTrait,
};

use doudi_protocol::doc::{self, Visit};
use doudi_protocol::ids::{BlobHash, DocumentKind};

use crate::access::{self, Action, BlobRef, Decision, Subject, Target};
use crate::auth::now_ms;
use crate::config::Settings;
use crate::db::IN_CHUNK;
use crate::entity::{device, document};
use crate::error::{ApiError, ApiResult};

pub use crate::documents::blob_refs::{Sha256Hex, insert_refs, refs, unlink_document};
use crate::entity::{blob, blob_ref, blob_upload};
pub use gc::{GcReport, gc};
pub use store::{BlobStore, StoreError};
pub use upload::Staging;

/// Most hashes one `POST /blobs/missing` may ask about.
pub const MAX_MISSING_BATCH: usize = 1_000;

/// Which of `blobs` are stored.
pub async fn stored<C: ConnectionTrait>(
    db: &C,
    blobs: &[Sha256Hex],
) -> Result<HashSet<String>, DbErr> {
    let mut out = HashSet::new();
    for chunk in blobs.chunks(IN_CHUNK) {
        let rows = blob::Entity::find()
            .filter(blob::Column::Sha256.is_in(chunk.iter().map(|s| s.as_str().to_string())))
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|r| r.sha256));
    }
    Ok(out)
}

/// Of `blobs`, those stored that `account_id` uploaded: the only ones the server speaks of to
/// it as present.
pub async fn held_by<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    blobs: &[Sha256Hex],
) -> Result<HashSet<String>, DbErr> {
    let mut uploaded = Vec::new();
    for chunk in blobs.chunks(IN_CHUNK) {
        let rows: Vec<String> = blob_upload::Entity::find()
            .filter(blob_upload::Column::AccountId.eq(account_id))
            .filter(blob_upload::Column::Sha256.is_in(chunk.iter().map(|s| s.as_str().to_string())))
            .select_only()
            .column(blob_upload::Column::Sha256)
            .into_tuple()
            .all(db)
            .await?;
        uploaded.extend(rows.iter().filter_map(|s| Sha256Hex::parse(s)));
    }
    stored(db, &uploaded).await
}

/// Of `blobs`, those `account_id` must upload: all but the stored ones it uploaded itself.
pub async fn missing_for<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    blobs: &[Sha256Hex],
) -> Result<Vec<Sha256Hex>, DbErr> {
    let held = held_by(db, account_id, blobs).await?;
    Ok(blobs
        .iter()
        .filter(|sha| !held.contains(sha.as_str()))
        .cloned()
        .collect())
}

/// The row recording that `account_id` uploaded `sha` (again: the time is renewed).
pub fn upload_row(sha: &Sha256Hex, account_id: &str) -> sea_orm::sea_query::InsertStatement {
    blob_upload::Entity::insert(blob_upload::ActiveModel {
        sha256: Set(sha.as_str().to_string()),
        account_id: Set(account_id.to_string()),
        uploaded_at_ms: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::columns([blob_upload::Column::Sha256, blob_upload::Column::AccountId])
            .update_column(blob_upload::Column::UploadedAtMs)
            .to_owned(),
    )
    .into_query()
}

/// What the access module decides about `subject` reading blob `sha`, from the documents that
/// point at it: for each one the subject may read, whether the account that put the reference
/// in (the actor of the operation that made the entry keyed by the hash) uploaded the blob.
pub async fn read_decision<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    sha: &Sha256Hex,
) -> Result<Decision, DbErr> {
    let role = access::decide(subject, Action::ReadCase, Target::Scope);
    if !role.is_allowed() {
        return Ok(role);
    }
    let refs = blob_ref::Entity::find()
        .filter(blob_ref::Column::Sha256.eq(sha.as_str()))
        .all(db)
        .await?;
    let holders: HashSet<String> = blob_upload::Entity::find()
        .filter(blob_upload::Column::Sha256.eq(sha.as_str()))
        .select_only()
        .column(blob_upload::Column::AccountId)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut weighed = Vec::with_capacity(refs.len());
    for r in &refs {
        // Only the documents the subject may read count; the others are not opened.
        let visible = access::decide(subject, Action::ReadCase, Target::Region(&r.region_path));
        let by_holder = visible.is_allowed()
            && !holders.is_empty()
            && !holders.is_disjoint(&referrers(db, &r.document_id, sha).await?);
        weighed.push(BlobRef {
            region_path: &r.region_path,
            by_holder,
        });
        if by_holder {
            break;
        }
    }
    Ok(access::decide(
        subject,
        Action::ReadCase,
        Target::Blob(&weighed),
    ))
}

/// The accounts that put an entry keyed by `sha` into document `document_id`: the accounts of
/// the devices that made those operations and, for an entry the server made, the reviewers the
/// visit names as recording that photo ([`Visit::photo_recorders`]: the server writes one only
/// after checking that the reviewer uploaded it).
async fn referrers<C: ConnectionTrait>(
    db: &C,
    document_id: &str,
    sha: &Sha256Hex,
) -> Result<HashSet<String>, DbErr> {
    let Some((kind, snapshot)) = document::Entity::find_by_id(document_id.to_string())
        .select_only()
        .column(document::Column::Kind)
        .column(document::Column::Snapshot)
        .into_tuple::<(String, Vec<u8>)>()
        .one(db)
        .await?
    else {
        return Ok(HashSet::new());
    };
    let doc = Automerge::load(&snapshot)
        .map_err(|e| DbErr::Custom(format!("document {document_id}: {e}")))?;
    let mut actors = Vec::new();
    keyed_by(&doc, &ObjId::Root, sha.as_str(), 0, &mut actors);
    let is_server = |b: &[u8]| b.len() >= 16 && b[..16] == crate::documents::SERVER_ACTOR;
    let mut accounts = HashSet::new();
    if kind == DocumentKind::Visit.as_str() && actors.iter().any(|a| is_server(a.to_bytes())) {
        let visit = doc::read::<Visit, _>(&doc)
            .map_err(|e| DbErr::Custom(format!("document {document_id}: {e}")))?
            .1;
        if let Ok(h) = BlobHash::parse(sha.as_str()) {
            accounts.extend(visit.photo_recorders(&h).map(|a| a.as_str().to_string()));
        }
    }
    let devices: Vec<String> = actors
        .iter()
        .map(|a| a.to_bytes())
        .filter(|b| b.len() >= 16 && !is_server(b))
        .map(|b| hex::encode(&b[..16]))
        .collect();
    if devices.is_empty() {
        return Ok(accounts);
    }
    accounts.extend(
        device::Entity::find()
            .filter(device::Column::Id.is_in(devices))
            .select_only()
            .column(device::Column::AccountId)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    Ok(accounts)
}

/// Deepest nesting [`keyed_by`] looks into (documents nest a few levels).
const MAX_DEPTH: usize = 16;

/// Collect the actors of the operations that made the entries keyed `key` in the maps of `doc`
/// at or below `obj` (concurrent ones included).
fn keyed_by(
    doc: &Automerge,
    obj: &ObjId,
    key: &str,
    depth: usize,
    out: &mut Vec<automerge::ActorId>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let children: Vec<ObjId> = match doc.object_type(obj) {
        Ok(ObjType::Map | ObjType::Table) => {
            if let Ok(values) = doc.get_all(obj, key) {
                out.extend(values.into_iter().filter_map(|(_, id)| match id {
                    ObjId::Id(_, actor, _) => Some(actor),
                    ObjId::Root => None,
                }));
            }
            doc.map_range(obj, ..)
                .filter(|item| matches!(item.value, ValueRef::Object(_)))
                .map(|item| item.id())
                .collect()
        }
        Ok(ObjType::List) => doc
            .list_range(obj, ..)
            .filter(|item| matches!(item.value, ValueRef::Object(_)))
            .map(|item| item.id())
            .collect(),
        _ => Vec::new(),
    };
    for child in children {
        keyed_by(doc, &child, key, depth + 1, out);
    }
}

/// The blob store, the upload staging area and the limits: one per server process.
#[derive(Debug)]
pub struct BlobService {
    pub store: Arc<dyn BlobStore>,
    pub staging: Staging,
    pub limits: upload::Limits,
}

impl BlobService {
    /// Store a verified blob and record that `account_id` uploaded it; its size. Content
    /// addressed: the same bytes uploaded again, by anyone, land on the same object and row.
    pub async fn keep(
        &self,
        db: &DatabaseConnection,
        sha: &Sha256Hex,
        verified: upload::Verified,
        account_id: &str,
    ) -> ApiResult<u64> {
        let size = verified.bytes.len() as u64;
        self.store
            .put_bytes(sha, bytes::Bytes::from(verified.bytes))
            .await
            .map_err(ApiError::internal)?;
        let now = now_ms();
        let row = blob::Entity::insert(blob::ActiveModel {
            sha256: Set(sha.as_str().to_string()),
            size: Set(i64::try_from(size).unwrap_or(i64::MAX)),
            mime: Set(verified.info.mime.to_string()),
            width: Set(i32::try_from(verified.info.width).unwrap_or(i32::MAX)),
            height: Set(i32::try_from(verified.info.height).unwrap_or(i32::MAX)),
            created_at_ms: Set(now),
            claimed_at_ms: Set(now),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Sha256)
                .update_column(blob::Column::ClaimedAtMs)
                .to_owned(),
        )
        .into_query();
        let txn = db.begin().await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(backend.build(&row)).await?;
        txn.execute_raw(backend.build(&upload_row(sha, account_id)))
            .await?;
        txn.commit().await?;
        tracing::info!(sha256 = %sha, size, mime = verified.info.mime, "blob stored");
        Ok(size)
    }

    /// Check and keep content received whole (a photo uploaded from the console) as uploaded by
    /// `account_id`; its name.
    pub async fn keep_whole(
        &self,
        db: &DatabaseConnection,
        account_id: &str,
        bytes: Vec<u8>,
    ) -> ApiResult<Sha256Hex> {
        let (sha, verified) = upload::verify_whole(bytes, self.limits).await?;
        self.keep(db, &sha, verified, account_id).await?;
        Ok(sha)
    }

    /// Build the configured store. Fails on an incomplete S3 configuration.
    pub fn from_settings(settings: &Settings) -> Result<BlobService, StoreError> {
        let store = store::from_settings(settings)?;
        Ok(BlobService {
            store,
            staging: Staging::new(settings.blob_dir().join("uploads")),
            limits: upload::Limits::from_settings(&settings.blobs),
        })
    }
}
