//! `calendar_days`: working-day calendar years imported on the server (`doudi calendar import`),
//! for the years the holiday data built into doudi does not cover yet (China publishes each
//! year's holidays in the autumn before). An imported year replaces the built-in data of that
//! year whole.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CalendarDays {
    Table,
    Day,
    Year,
    Kind,
    Name,
    ImportedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CalendarDays::Table)
                .col(string_len(CalendarDays::Day, 10).primary_key())
                .col(integer(CalendarDays::Year))
                .col(string_len(CalendarDays::Kind, 16))
                .col(string_len(CalendarDays::Name, 64))
                .col(big_integer(CalendarDays::ImportedAtMs))
                .to_owned(),
        )
        .await
    }
}
