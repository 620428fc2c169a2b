//! Photos and signatures: content-addressed blobs.
//!
//! A blob is stored once, under its SHA-256, in a [`BlobStore`] (a local directory or S3-compatible
//! object storage) and recorded in the `blobs` table; `blob_uploads` records every account that
//! uploaded its bytes. Documents point at blobs through `blob_refs` rows, written with the other
//! projections ([`refs`]). A blob is readable by whoever may read a document that points at it,
//! when the account that put that reference into the document had uploaded the blob
//! ([`read_decision`]): anyone can write a hash into a document of their own, so knowing a hash
//! grants nothing.
//!
//! Uploads are chunked and resumable ([`upload`]); the wire protocol is in `docs/BLOBS.md`.

pub mod api;
pub mod gc;
pub mod image_check;
pub mod store;
pub mod upload;

use std::collections::HashSet;
use std::sync::Arc;

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ValueRef};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Set,
};

use crate::access::{self, Action, BlobRef, Decision, Subject, Target};
use crate::auth::now_ms;
use crate::config::Settings;
use crate::db::Exec;
use crate::entity::{device, document};

pub use gc::{GcReport, gc};
pub use store::{BlobStore, StoreError};
pub use upload::Staging;

/// Most hashes one `POST /blobs/missing` may ask about.
pub const MAX_MISSING_BATCH: usize = 1_000;

/// Rows per `IN (…)` list, well below SQLite's and PostgreSQL's parameter limits.
pub(crate) const IN_CHUNK: usize = 500;

/// A validated SHA-256: exactly 64 lowercase hex characters. The only thing a blob's file name or
/// object key is ever built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(s: &str) -> Option<Sha256Hex> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Sha256Hex(s.to_string()))
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Hex {
        use sha2::Digest;
        Sha256Hex(hex::encode(sha2::Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ab/cd/abcd…`: two levels of fan-out so that no directory grows huge.
    pub fn fanout_path(&self) -> String {
        format!("{}/{}/{}", &self.0[0..2], &self.0[2..4], self.0)
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tables of this module. Times are unix milliseconds.
pub mod entity {
    pub mod blob {
        use sea_orm::entity::prelude::*;

        /// A stored blob: the object is in the blob store before this row exists.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "blobs")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub sha256: String,
            pub size: i64,
            pub mime: String,
            pub width: i32,
            pub height: i32,
            pub created_at_ms: i64,
            /// Last completed or deduplicated upload; the gc grace period runs from here.
            pub claimed_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod blob_ref {
        use sea_orm::entity::prelude::*;

        /// A document points at a blob; the region path is the document's scope.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "blob_refs")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub sha256: String,
            #[sea_orm(primary_key, auto_increment = false)]
            pub document_id: String,
            pub region_path: String,
            pub created_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod blob_upload {
        use sea_orm::entity::prelude::*;

        /// An account uploaded the blob's bytes (the first upload, or the same bytes again).
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "blob_uploads")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub sha256: String,
            #[sea_orm(primary_key, auto_increment = false)]
            pub account_id: String,
            pub uploaded_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entity::{blob, blob_ref, blob_upload};

/// The `blob_refs` rows of document `document_id` (in the region with materialised path
/// `region_path`) pointing at each of `blobs`, for inserting those of several documents together.
/// The blobs need not be uploaded yet.
pub fn refs(
    document_id: &str,
    region_path: &str,
    blobs: &[Sha256Hex],
) -> Vec<blob_ref::ActiveModel> {
    let now = now_ms();
    let unique: HashSet<&Sha256Hex> = blobs.iter().collect();
    unique
        .into_iter()
        .map(|sha| blob_ref::ActiveModel {
            sha256: Set(sha.as_str().to_string()),
            document_id: Set(document_id.to_string()),
            region_path: Set(region_path.to_string()),
            created_at_ms: Set(now),
        })
        .collect()
}

/// Insert rows made by [`refs`] (each document's once: a pair may not come twice).
pub async fn insert_refs<E: Exec>(db: &E, rows: Vec<blob_ref::ActiveModel>) -> Result<(), DbErr> {
    for chunk in rows.chunks(IN_CHUNK / 4) {
        let insert = blob_ref::Entity::insert_many(chunk.to_vec()).on_conflict(
            OnConflict::columns([blob_ref::Column::Sha256, blob_ref::Column::DocumentId])
                .update_column(blob_ref::Column::RegionPath)
                .to_owned(),
        );
        db.exec(insert.build(db.backend())).await?;
    }
    Ok(())
}

/// Forget every blob `document_id` points at (the document was deleted or purged).
pub async fn unlink_document<E: Exec>(db: &E, document_id: &str) -> Result<(), DbErr> {
    let delete =
        blob_ref::Entity::delete_many().filter(blob_ref::Column::DocumentId.eq(document_id));
    db.exec(delete.build(db.backend())).await?;
    Ok(())
}

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

/// The accounts whose phones put an entry keyed by `sha` into document `document_id`: the
/// devices of the actors of those operations. The server's own changes name nobody.
async fn referrers<C: ConnectionTrait>(
    db: &C,
    document_id: &str,
    sha: &Sha256Hex,
) -> Result<HashSet<String>, DbErr> {
    let Some(snapshot) = document::Entity::find_by_id(document_id.to_string())
        .select_only()
        .column(document::Column::Snapshot)
        .into_tuple::<Vec<u8>>()
        .one(db)
        .await?
    else {
        return Ok(HashSet::new());
    };
    let doc = Automerge::load(&snapshot)
        .map_err(|e| DbErr::Custom(format!("document {document_id}: {e}")))?;
    let mut actors = Vec::new();
    keyed_by(&doc, &ObjId::Root, sha.as_str(), 0, &mut actors);
    let devices: Vec<String> = actors
        .iter()
        .map(|a| a.to_bytes())
        .filter(|b| b.len() >= 16 && b[..16] != crate::sync::SERVER_ACTOR)
        .map(|b| hex::encode(&b[..16]))
        .collect();
    if devices.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(device::Entity::find()
        .filter(device::Column::Id.is_in(devices))
        .select_only()
        .column(device::Column::AccountId)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
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
    /// Build the configured store. Fails on an incomplete S3 configuration.
    pub fn from_settings(settings: &Settings) -> Result<BlobService, StoreError> {
        let store = store::from_settings(settings)?;
        Ok(BlobService {
            store,
            staging: Staging::new(settings.data_dir.join("blobs").join("uploads")),
            limits: upload::Limits::from_settings(&settings.blobs),
        })
    }
}
