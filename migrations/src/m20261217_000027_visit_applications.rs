//! The application of an investigation (申请受理), projected from the visit document
//! (docs/REVIEW.md "Applications and their clocks"):
//!
//! - `visits.accepted_on`: the day the township accepted the application (`YYYY-MM-DD`), the
//!   start of every clock of the case; `NULL` where the visit records none (the clocks then start
//!   at its submission).
//! - `visits.case_extended`: a reason for the special whole-case limit (45 working days) is
//!   recorded.
//! - `visits.kin_filing`: 近亲属备案, the county visits the household itself before confirming.
//!
//! Visits stored before read `NULL` and `false` until they are written again or the projections
//! are rebuilt (`doudi projections rebuild`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    AcceptedOn,
    CaseExtended,
    KinFiling,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Visits::Table)
                .add_column(string_len_null(Visits::AcceptedOn, 10))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Visits::Table)
                .add_column(boolean(Visits::CaseExtended).default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Visits::Table)
                .add_column(boolean(Visits::KinFiling).default(false))
                .to_owned(),
        )
        .await
    }
}
