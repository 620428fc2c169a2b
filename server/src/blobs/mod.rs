//! Photos and signatures: content-addressed blobs.
//!
//! A blob is stored once, under its SHA-256, in a [`BlobStore`] (a local directory or S3-compatible
//! object storage) and recorded in the `blobs` table. Documents point at blobs through
//! `blob_refs` rows, written by the sync code with [`link`] and [`unlink`]. A blob is readable by
//! whoever may read one of the documents that point at it; knowing its hash grants nothing.
//!
//! Uploads are chunked and resumable ([`upload`]); the wire protocol is in `docs/BLOBS.md`.

pub mod api;
pub mod gc;
pub mod image_check;
pub mod store;
pub mod upload;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryTrait, Set};

use crate::auth::now_ms;
use crate::config::Settings;
use crate::db::Exec;
use crate::policy::{self, Action, Subject, Target};

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
}

use entity::{blob, blob_ref};

/// Record that `document_id` (in the region with materialised path `region_path`) points at
/// each of `blobs`. Idempotent; a document that moved region gets its new path. The blobs need
/// not be uploaded yet. Call it in the transaction that accepts the document.
pub async fn link<C: ConnectionTrait>(
    db: &C,
    document_id: &str,
    region_path: &str,
    blobs: &[Sha256Hex],
) -> Result<(), DbErr> {
    insert_refs(db, refs(document_id, region_path, blobs)).await
}

/// The rows of [`link`], for inserting those of several documents together ([`insert_refs`]).
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

/// Forget that `document_id` points at each of `blobs` (the document dropped them).
pub async fn unlink<C: ConnectionTrait>(
    db: &C,
    document_id: &str,
    blobs: &[Sha256Hex],
) -> Result<(), DbErr> {
    for chunk in blobs.chunks(IN_CHUNK) {
        blob_ref::Entity::delete_many()
            .filter(blob_ref::Column::DocumentId.eq(document_id))
            .filter(blob_ref::Column::Sha256.is_in(chunk.iter().map(|s| s.as_str().to_string())))
            .exec(db)
            .await?;
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

/// Region paths of the documents pointing at each of `blobs`.
pub async fn ref_paths<C: ConnectionTrait>(
    db: &C,
    blobs: &[Sha256Hex],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in blobs.chunks(IN_CHUNK) {
        let rows = blob_ref::Entity::find()
            .filter(blob_ref::Column::Sha256.is_in(chunk.iter().map(|s| s.as_str().to_string())))
            .all(db)
            .await?;
        for r in rows {
            out.entry(r.sha256).or_default().push(r.region_path);
        }
    }
    Ok(out)
}

/// May `subject` read a blob that documents in `paths` point at?
pub fn readable_through(subject: &Subject, paths: &[String]) -> bool {
    paths
        .iter()
        .any(|p| policy::decide(subject, Action::ReadCase, Target::Region(p)).is_allowed())
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

/// Of `blobs`, those `subject` must upload: all but the ones stored and readable by it.
pub async fn missing_for<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    blobs: &[Sha256Hex],
) -> Result<Vec<Sha256Hex>, DbErr> {
    let stored = stored(db, blobs).await?;
    let refs = ref_paths(db, blobs).await?;
    Ok(blobs
        .iter()
        .filter(|sha| {
            let present = stored.contains(sha.as_str())
                && refs
                    .get(sha.as_str())
                    .is_some_and(|paths| readable_through(subject, paths));
            !present
        })
        .cloned()
        .collect())
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
