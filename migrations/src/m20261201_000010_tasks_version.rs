//! A version of the task table: every insert, update or delete of a task adds one, in the same
//! transaction (a trigger, so that no writer can forget it). A sync compares it with the version
//! under which it last computed an account's task list and reads the list again only when it
//! moved.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE tasks_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO tasks_version (id, version) VALUES (1, 0)")
            .await?;
        const BUMP: &str = "UPDATE tasks_version SET version = version + 1 WHERE id = 1;";
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    let name = event.to_lowercase();
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER tasks_version_{name} AFTER {event} ON tasks \
                         BEGIN {BUMP} END;"
                    ))
                    .await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION tasks_version_bump() RETURNS trigger AS $$ \
                     BEGIN {BUMP} RETURN NULL; END; $$ LANGUAGE plpgsql;"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER tasks_version_bump AFTER INSERT OR UPDATE OR DELETE ON tasks \
                     FOR EACH ROW EXECUTE FUNCTION tasks_version_bump();",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }
}
