//! The `blob_refs` rows of a document: which photos and signatures it points at, written with
//! its other projections. Reading and storing blobs is [`crate::blobs`]'.

use std::collections::HashSet;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryTrait, Set};

use crate::auth::now_ms;
use crate::db::{Exec, IN_CHUNK};
use crate::entity::blob_ref;

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
    unlink_documents(db, &[document_id]).await
}

/// [`unlink_document`] for several documents, [`IN_CHUNK`] to a statement.
pub async fn unlink_documents<E: Exec>(db: &E, document_ids: &[&str]) -> Result<(), DbErr> {
    for chunk in document_ids.chunks(IN_CHUNK) {
        let delete = blob_ref::Entity::delete_many()
            .filter(blob_ref::Column::DocumentId.is_in(chunk.iter().copied()));
        db.exec(delete.build(db.backend())).await?;
    }
    Ok(())
}
