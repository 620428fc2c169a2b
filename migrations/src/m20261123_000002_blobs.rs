//! Blobs (photos, signatures) stored once by SHA-256, and which documents point at them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha256,
    Size,
    Mime,
    Width,
    Height,
    CreatedAtMs,
    ClaimedAtMs,
}

#[derive(DeriveIden)]
enum BlobRefs {
    Table,
    Sha256,
    DocumentId,
    RegionPath,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row per stored blob; written after the object is in the blob store.
        m.create_table(
            Table::create()
                .table(Blobs::Table)
                .col(string_len(Blobs::Sha256, 64).primary_key())
                .col(big_integer(Blobs::Size))
                .col(string_len(Blobs::Mime, 32))
                .col(integer(Blobs::Width))
                .col(integer(Blobs::Height))
                .col(big_integer(Blobs::CreatedAtMs))
                // Last time an upload completed or was answered "complete" for it: the garbage
                // collector's grace period runs from here.
                .col(big_integer(Blobs::ClaimedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_blobs_claimed")
                .table(Blobs::Table)
                .col(Blobs::ClaimedAtMs)
                .to_owned(),
        )
        .await?;

        // No foreign key to `blobs`: a document may be accepted before its photos arrive.
        m.create_table(
            Table::create()
                .table(BlobRefs::Table)
                .col(string_len(BlobRefs::Sha256, 64))
                .col(string_len(BlobRefs::DocumentId, 64))
                .col(string_len(BlobRefs::RegionPath, 512))
                .col(big_integer(BlobRefs::CreatedAtMs))
                .primary_key(
                    Index::create()
                        .col(BlobRefs::Sha256)
                        .col(BlobRefs::DocumentId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_blob_refs_document")
                .table(BlobRefs::Table)
                .col(BlobRefs::DocumentId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
