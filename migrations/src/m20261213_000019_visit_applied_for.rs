//! `visits.applied_for`: the programme an application's investigation (入户调查) is for (申请救助类别),
//! projected from the visit document; the queue's time limits and the county's 特困 spot check key
//! on it (docs/REVIEW.md). Visits stored before it read `NULL` (the household's programmes then).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    AppliedFor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Visits::Table)
                .add_column(string_len_null(Visits::AppliedFor, 32))
                .to_owned(),
        )
        .await
    }
}
