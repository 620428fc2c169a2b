//! Review workflow: decisions on visits, verification tasks, report triage actions, and the
//! console's server-side sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReviewDecisions {
    Table,
    Id,
    VisitId,
    RegionPath,
    ReviewerId,
    DeviceId,
    Level,
    Decision,
    FromStatus,
    ToStatus,
    Comment,
    AtMs,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Kind,
    ReportId,
    RegionPath,
    AssigneeId,
    AssignedBy,
    Note,
    Status,
    CreatedAtMs,
    DueAtMs,
}

#[derive(DeriveIden)]
enum ReportActions {
    Table,
    Id,
    ReportId,
    AccountId,
    Action,
    Note,
    AtMs,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    AccountId,
    DeviceId,
    CsrfToken,
    CreatedAtMs,
    ExpiresAtMs,
    EndedAtMs,
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    m.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReviewDecisions::Table)
                .col(big_pk_auto(ReviewDecisions::Id))
                .col(string_len(ReviewDecisions::VisitId, 32))
                .col(string_len(ReviewDecisions::RegionPath, 512))
                .col(string_len(ReviewDecisions::ReviewerId, 40))
                .col(string_len(ReviewDecisions::DeviceId, 40))
                .col(string_len(ReviewDecisions::Level, 16))
                .col(string_len(ReviewDecisions::Decision, 16))
                .col(string_len(ReviewDecisions::FromStatus, 16))
                .col(string_len(ReviewDecisions::ToStatus, 16))
                .col(text_null(ReviewDecisions::Comment))
                .col(big_integer(ReviewDecisions::AtMs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_review_decisions_visit",
            ReviewDecisions::Table,
            vec![
                ReviewDecisions::VisitId.into_iden(),
                ReviewDecisions::AtMs.into_iden(),
            ],
        )
        .await?;
        index(
            m,
            "idx_review_decisions_path_at",
            ReviewDecisions::Table,
            vec![
                ReviewDecisions::RegionPath.into_iden(),
                ReviewDecisions::AtMs.into_iden(),
            ],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(string_len(Tasks::Id, 32).primary_key())
                .col(string_len(Tasks::Kind, 32))
                .col(string_len(Tasks::ReportId, 32))
                .col(string_len(Tasks::RegionPath, 512))
                .col(string_len(Tasks::AssigneeId, 40))
                .col(string_len(Tasks::AssignedBy, 40))
                .col(text_null(Tasks::Note))
                .col(string_len(Tasks::Status, 16))
                .col(big_integer(Tasks::CreatedAtMs))
                .col(big_integer_null(Tasks::DueAtMs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_tasks_assignee",
            Tasks::Table,
            vec![Tasks::AssigneeId.into_iden(), Tasks::Status.into_iden()],
        )
        .await?;
        index(
            m,
            "idx_tasks_report",
            Tasks::Table,
            vec![Tasks::ReportId.into_iden()],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ReportActions::Table)
                .col(big_pk_auto(ReportActions::Id))
                .col(string_len(ReportActions::ReportId, 32))
                .col(string_len(ReportActions::AccountId, 40))
                .col(string_len(ReportActions::Action, 16))
                .col(text_null(ReportActions::Note))
                .col(big_integer(ReportActions::AtMs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_report_actions_report",
            ReportActions::Table,
            vec![ReportActions::ReportId.into_iden()],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ConsoleSessions::Table)
                .col(string_len(ConsoleSessions::Id, 64).primary_key())
                .col(string_len(ConsoleSessions::AccountId, 40))
                .col(string_len(ConsoleSessions::DeviceId, 40))
                .col(string_len(ConsoleSessions::CsrfToken, 64))
                .col(big_integer(ConsoleSessions::CreatedAtMs))
                .col(big_integer(ConsoleSessions::ExpiresAtMs))
                .col(big_integer_null(ConsoleSessions::EndedAtMs))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
