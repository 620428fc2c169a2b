//! Region policy layers (低保 standards, multipliers, deadlines...), versioned by effective date.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PolicyLayers {
    Table,
    Id,
    Region,
    EffectiveFrom,
    Layer,
    CreatedAtMs,
    CreatedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PolicyLayers::Table)
                .col(big_pk_auto(PolicyLayers::Id))
                .col(string_len_null(PolicyLayers::Region, 12))
                .col(string_len(PolicyLayers::EffectiveFrom, 10))
                .col(text(PolicyLayers::Layer))
                .col(big_integer(PolicyLayers::CreatedAtMs))
                .col(string_len_null(PolicyLayers::CreatedBy, 40))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_policy_layers_region_date")
                .table(PolicyLayers::Table)
                .col(PolicyLayers::Region)
                .col(PolicyLayers::EffectiveFrom)
                .to_owned(),
        )
        .await
    }
}
