//! `decisions`: the decisions (审批决定) of household documents, one row each, projected like the
//! members: the 保障对象台账 export and the quarterly report count entries and exits from it
//! (docs/ARCHITECTURE.md "Projections"). Households stored before it have no rows until they are
//! written again or `doudi projections rebuild` runs (docs/OPERATIONS.md, upgrades).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Decisions {
    Table,
    DocId,
    Idx,
    Scope,
    RegionPath,
    Programme,
    Outcome,
    AmountFen,
    HouseholdSize,
    EffectiveFrom,
    AtMs,
    DecidedBy,
    Reference,
    Note,
    VisitId,
    Months,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Decisions::Table)
                .col(string_len(Decisions::DocId, 32))
                .col(integer(Decisions::Idx))
                .col(string_len(Decisions::Scope, 32))
                .col(string_len(Decisions::RegionPath, 512))
                .col(string_len_null(Decisions::Programme, 32))
                .col(string_len(Decisions::Outcome, 32))
                .col(big_integer_null(Decisions::AmountFen))
                .col(integer_null(Decisions::HouseholdSize))
                .col(string_len_null(Decisions::EffectiveFrom, 10))
                .col(big_integer(Decisions::AtMs))
                .col(string_len(Decisions::DecidedBy, 64))
                .col(string_len_null(Decisions::Reference, 128))
                .col(text_null(Decisions::Note))
                .col(string_len_null(Decisions::VisitId, 32))
                .col(integer_null(Decisions::Months))
                .primary_key(Index::create().col(Decisions::DocId).col(Decisions::Idx))
                .to_owned(),
        )
        .await?;
        // The quarterly report and the ledger select a region's decisions by time.
        m.create_index(
            Index::create()
                .name("idx_decisions_region_at")
                .table(Decisions::Table)
                .col(Decisions::RegionPath)
                .col(Decisions::AtMs)
                .to_owned(),
        )
        .await
    }
}
