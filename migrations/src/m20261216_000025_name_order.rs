//! PostgreSQL: the head and member names indexed in code-point order (`COLLATE "C"`), with
//! what household search filters on, so that a name search walks its index from the query's
//! prefix in the order it lists and stops at its limit, however many households match
//! (docs/API.md, "Household search"). They replace the `varchar_pattern_ops` index of the head
//! name (migration 6). SQLite's own indexes are already in code-point order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_households_head_name_c ON households \
             ((head_name COLLATE \"C\"), doc_id) INCLUDE (region_path)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_members_name_c ON members \
             ((name COLLATE \"C\"), doc_id) INCLUDE (region_path, removed)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_households_head_name")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_households_head_name ON households (head_name varchar_pattern_ops)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX idx_members_name_c")
            .await?;
        db.execute_unprepared("DROP INDEX idx_households_head_name_c")
            .await?;
        Ok(())
    }
}
