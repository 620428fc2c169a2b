//! On SQLite, `idx_households_path_pattern` (the search migration) indexes exactly the column
//! that `idx_households_path` already indexes, under the same collation: the pattern-ops operator
//! class that sets the two apart exists on PostgreSQL only. Any plan that used one can use the
//! other, so dropping the repeat changes no query's plan, and a household write maintains one
//! index fewer. PostgreSQL keeps both: the plain index orders by the database's collation, the
//! pattern-ops one serves prefix matches under any collation.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Sqlite {
            m.get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS idx_households_path_pattern")
                .await?;
        }
        Ok(())
    }
}
