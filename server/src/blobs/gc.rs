//! Garbage collection: blobs no document points at, objects without a row, abandoned uploads.

use std::collections::HashSet;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{BlobService, Sha256Hex, StoreError};
use crate::auth::now_ms;
use crate::entity::{blob, blob_ref, blob_upload};

/// What one run removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Stored blobs (object and row) that no document pointed at.
    pub blobs: Vec<String>,
    /// Objects in the store without a `blobs` row (a write interrupted before its row).
    pub orphans: Vec<String>,
    /// Partial uploads not written to within the grace period.
    pub partials: Vec<String>,
    /// Bytes of the removed blobs and orphans.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("staging directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Remove unreferenced blobs, orphan objects and partial uploads older than `grace_ms`.
///
/// A blob's age counts from its last completed or deduplicated upload, so that a phone told
/// "already here" has the grace period to sync the document that points at it. The row goes
/// first, and only when still unreferenced: a document linked meanwhile keeps its blob. Its
/// uploads go with it: bytes uploaded again later are a new upload.
pub async fn gc<C: ConnectionTrait>(
    db: &C,
    service: &BlobService,
    grace_ms: i64,
) -> Result<GcReport, GcError> {
    let cutoff = now_ms().saturating_sub(grace_ms);
    let mut report = GcReport::default();

    let unreferenced = Query::select()
        .column(blob_ref::Column::Sha256)
        .from(blob_ref::Entity)
        .and_where(
            Expr::col((blob_ref::Entity, blob_ref::Column::Sha256))
                .equals((blob::Entity, blob::Column::Sha256)),
        )
        .to_owned();
    let candidates: Vec<(String, i64)> = blob::Entity::find()
        .filter(blob::Column::ClaimedAtMs.lt(cutoff))
        .filter(Expr::exists(unreferenced.clone()).not())
        .select_only()
        .column(blob::Column::Sha256)
        .column(blob::Column::Size)
        .into_tuple()
        .all(db)
        .await?;
    for (sha, size) in candidates {
        let Some(parsed) = Sha256Hex::parse(&sha) else {
            continue;
        };
        // Delete the row only if it is still old and unreferenced at this moment.
        let gone = blob::Entity::delete_many()
            .filter(blob::Column::Sha256.eq(sha.as_str()))
            .filter(blob::Column::ClaimedAtMs.lt(cutoff))
            .filter(Expr::exists(unreferenced.clone()).not())
            .exec(db)
            .await?
            .rows_affected;
        if gone == 1 {
            blob_upload::Entity::delete_many()
                .filter(blob_upload::Column::Sha256.eq(sha.as_str()))
                .exec(db)
                .await?;
            service.store.delete(&parsed).await?;
            report.bytes += u64::try_from(size).unwrap_or(0);
            report.blobs.push(sha);
        }
    }

    let known: HashSet<String> = blob::Entity::find()
        .select_only()
        .column(blob::Column::Sha256)
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    for obj in service.store.list().await? {
        if obj.modified_ms < cutoff && !known.contains(obj.sha256.as_str()) {
            service.store.delete(&obj.sha256).await?;
            report.bytes += obj.size;
            report.orphans.push(obj.sha256.to_string());
        }
    }

    report.partials = service.staging.remove_stale(cutoff).await?;
    Ok(report)
}
