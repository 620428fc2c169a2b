//! The change log is compacted in the background: a change older than the configured age keeps
//! its row (document, hash, device, account, time: the history the console shows) but gives up
//! its bytes, which the document's snapshot holds anyway. `documents.changes_from_seq` says from
//! where a document's log still has every change's bytes (a device whose cursor is older gets the
//! snapshot); `change_log_state` remembers how far compaction has gone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "ALTER TABLE documents ADD COLUMN changes_from_seq BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE change_log_state (id INTEGER PRIMARY KEY, compacted_seq BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO change_log_state (id, compacted_seq) VALUES (1, 0)")
            .await?;
        // Compaction walks the log in feed order.
        db.execute_unprepared("CREATE INDEX idx_doc_changes_feed ON doc_changes (seq)")
            .await?;
        Ok(())
    }
}
