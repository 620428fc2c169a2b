//! `spot_checks`: the 特困 applications the township approved, numbered per county and month of
//! the approval, with the share in force; the county's spot-check sample (抽查, at least 30 %,
//! TK2021) is computed from the number, so it is fixed at approval and exactly the share of every
//! month's batch (docs/REVIEW.md, "Spot check").

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SpotChecks {
    Table,
    VisitId,
    County,
    Month,
    Seq,
    Percent,
    AtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SpotChecks::Table)
                .col(string_len(SpotChecks::VisitId, 40).primary_key())
                .col(string_len(SpotChecks::County, 12))
                .col(string_len(SpotChecks::Month, 7))
                .col(big_integer(SpotChecks::Seq))
                .col(integer(SpotChecks::Percent))
                .col(big_integer(SpotChecks::AtMs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("spot_checks_batch")
                .table(SpotChecks::Table)
                .col(SpotChecks::County)
                .col(SpotChecks::Month)
                .col(SpotChecks::Seq)
                .unique()
                .to_owned(),
        )
        .await
    }
}
