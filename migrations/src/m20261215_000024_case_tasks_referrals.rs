//! `tasks.case_id`: the 临时救助 case a `temp_aid_check` or `temp_aid_follow_up` task is for
//! (docs/TEMPORARY_AID.md, "Tasks on the phone"). `report_actions.refer_programme`,
//! `refer_department`, `referred_on`: where a discovery report was referred (a programme's code
//! or a department's name, one of the two) and the day (`YYYY-MM-DD`), on its `refer` action.
//! Referrals recorded before it keep them in the action's note only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    CaseId,
}

#[derive(DeriveIden)]
enum ReportActions {
    Table,
    ReferProgramme,
    ReferDepartment,
    ReferredOn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tasks::Table)
                .add_column(string_null(Tasks::CaseId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tasks_case")
                .table(Tasks::Table)
                .col(Tasks::CaseId)
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            ReportActions::ReferProgramme,
            ReportActions::ReferDepartment,
            ReportActions::ReferredOn,
        ] {
            m.alter_table(
                Table::alter()
                    .table(ReportActions::Table)
                    .add_column(string_null(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
