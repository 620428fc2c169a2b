//! `blob_uploads`: which accounts uploaded a blob's bytes. A document's reference to a blob lends
//! the blob to the document's readers only when the account that put the reference in had
//! uploaded it (docs/BLOBS.md); and the upload status tells an account about a blob only when
//! it uploaded it.
//!
//! Blobs stored before this migration have no uploads on record. They are credited to the
//! accounts that wrote (from a phone, not as the server) the first document that points at each
//! of them: the photo's taker wrote the document that first named it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BlobUploads {
    Table,
    Sha256,
    AccountId,
    UploadedAtMs,
}

/// The first document (by feed order of creation) pointing at each stored blob, and the accounts
/// of its changes written from phones: `646f…3100` is the server's actor, `doudi-server-v1\0`.
const BACKFILL: &str = "INSERT INTO blob_uploads (sha256, account_id, uploaded_at_ms)
SELECT DISTINCT r.sha256, c.account_id, b.created_at_ms
FROM blob_refs r
JOIN blobs b ON b.sha256 = r.sha256
JOIN documents d ON d.id = r.document_id
JOIN doc_changes c ON c.doc_id = r.document_id
WHERE c.actor <> '646f7564692d7365727665722d763100'
  AND d.created_seq = (
    SELECT MIN(d2.created_seq) FROM blob_refs r2
    JOIN documents d2 ON d2.id = r2.document_id
    WHERE r2.sha256 = r.sha256)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BlobUploads::Table)
                .col(string_len(BlobUploads::Sha256, 64))
                .col(string_len(BlobUploads::AccountId, 40))
                .col(big_integer(BlobUploads::UploadedAtMs))
                .primary_key(
                    Index::create()
                        .col(BlobUploads::Sha256)
                        .col(BlobUploads::AccountId),
                )
                .to_owned(),
        )
        .await?;
        m.get_connection().execute_unprepared(BACKFILL).await?;
        Ok(())
    }
}
