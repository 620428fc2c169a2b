//! PostgreSQL: the task table's version (migration 10) moves once per statement that changed
//! tasks, not once per task. Each bump rewrites the one row of `tasks_version`; inside one
//! transaction every rewrite adds a version of that row that the next must step over, so a
//! transaction writing n tasks one bump each cost O(n²) (a department list's import writes
//! hundreds of thousands). A statement that changed no task still leaves the version alone, as
//! before. SQLite updates the row in place and keeps its per-row triggers.

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
        db.execute_unprepared("DROP TRIGGER tasks_version_bump ON tasks")
            .await?;
        db.execute_unprepared(
            "CREATE FUNCTION tasks_version_bump_changed() RETURNS trigger AS $$ \
             BEGIN \
               IF EXISTS (SELECT 1 FROM changed) THEN \
                 UPDATE tasks_version SET version = version + 1 WHERE id = 1; \
               END IF; \
               RETURN NULL; \
             END; $$ LANGUAGE plpgsql;",
        )
        .await?;
        // A trigger with a transition table has one event: three of them.
        for (event, table) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
            let name = event.to_lowercase();
            db.execute_unprepared(&format!(
                "CREATE TRIGGER tasks_version_{name} AFTER {event} ON tasks \
                 REFERENCING {table} TABLE AS changed \
                 FOR EACH STATEMENT EXECUTE FUNCTION tasks_version_bump_changed();"
            ))
            .await?;
        }
        db.execute_unprepared("DROP FUNCTION tasks_version_bump()")
            .await?;
        Ok(())
    }
}
