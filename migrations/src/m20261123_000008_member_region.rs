//! Members carry their household's region path, so that a name search limits itself to the
//! caller's regions inside one index (name prefix, then region) instead of looking up the
//! household of every member of the county with that name (docs/BENCHMARKS.md, P6).
//!
//! Existing rows take their household's path; `doudi projections rebuild` writes the same.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "ALTER TABLE members ADD COLUMN region_path VARCHAR(512) NOT NULL DEFAULT ''",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE members SET region_path = COALESCE((SELECT h.region_path FROM households h \
             WHERE h.doc_id = members.doc_id), '')",
        )
        .await?;
        // Name prefix first, then region prefix, then the household and the removed flag: a
        // search reads only the index entries of its name, keeps those in the caller's regions,
        // and never the table. It replaces the name-only index of migration 6.
        let index = if m.get_database_backend() == DatabaseBackend::Postgres {
            "CREATE INDEX idx_members_name_path ON members \
             (name varchar_pattern_ops, region_path varchar_pattern_ops) INCLUDE (doc_id, removed)"
        } else {
            "CREATE INDEX idx_members_name_path ON members (name, region_path, doc_id, removed)"
        };
        db.execute_unprepared(index).await?;
        db.execute_unprepared("DROP INDEX idx_members_name").await?;
        Ok(())
    }
}
