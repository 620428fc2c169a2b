//! `job_leases`: which node runs each background job (the task scheduler, change-log
//! compaction) until when, so that several `doudi serve` processes on one database run each job
//! once per period, not once per node (docs/OPERATIONS.md, "Several nodes").

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Job,
    Holder,
    UntilMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(JobLeases::Table)
                .col(string_len(JobLeases::Job, 40).primary_key())
                .col(string_len(JobLeases::Holder, 64))
                .col(big_integer(JobLeases::UntilMs))
                .to_owned(),
        )
        .await
    }
}
