//! Scheduled re-check (复核) and visit (探访) tasks: a task points at a household instead of a
//! report, may be unassigned (no grid worker in the household's grid), carries an English note
//! next to the Chinese one, and a schedule key (household, kind, due date) that makes the
//! scheduler idempotent. Also the visit risk level set per household.
//!
//! SQLite cannot make a column nullable in place, so `tasks` is rebuilt the same way on both
//! backends: create `tasks_next`, copy the rows, drop `tasks` (its indexes go with it), rename,
//! recreate the indexes, in one transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Kind,
    ReportId,
    HouseholdId,
    RegionPath,
    AssigneeId,
    AssignedBy,
    Note,
    NoteEn,
    Status,
    CreatedAtMs,
    DueAtMs,
    ScheduleKey,
}

#[derive(DeriveIden)]
enum TasksNext {
    Table,
}

#[derive(DeriveIden)]
enum HouseholdRisk {
    Table,
    HouseholdId,
    RiskLevel,
    SetBy,
    SetAtMs,
}

/// The columns both the old and the new table have.
const COPIED: &str = "id, kind, report_id, region_path, assignee_id, assigned_by, note, status, created_at_ms, due_at_ms";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both backends: the rebuild is all or nothing, and on SQLite every
    /// statement then runs on the same connection (outside a transaction the pool may hand the
    /// steps to different connections).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TasksNext::Table)
                .col(string_len(Tasks::Id, 32).primary_key())
                .col(string_len(Tasks::Kind, 32))
                .col(string_len_null(Tasks::ReportId, 32))
                .col(string_len_null(Tasks::HouseholdId, 32))
                .col(string_len(Tasks::RegionPath, 512))
                .col(string_len_null(Tasks::AssigneeId, 40))
                .col(string_len(Tasks::AssignedBy, 40))
                .col(text_null(Tasks::Note))
                .col(text_null(Tasks::NoteEn))
                .col(string_len(Tasks::Status, 16))
                .col(big_integer(Tasks::CreatedAtMs))
                .col(big_integer_null(Tasks::DueAtMs))
                .col(string_len_null(Tasks::ScheduleKey, 128))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO tasks_next ({COPIED}) SELECT {COPIED} FROM tasks"
        ))
        .await?;
        m.drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await?;
        m.rename_table(
            Table::rename()
                .table(TasksNext::Table, Tasks::Table)
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_tasks_assignee", vec![Tasks::AssigneeId, Tasks::Status]),
            ("idx_tasks_report", vec![Tasks::ReportId]),
            (
                "idx_tasks_household",
                vec![Tasks::HouseholdId, Tasks::Status],
            ),
            (
                "idx_tasks_path_status",
                vec![Tasks::RegionPath, Tasks::Status],
            ),
        ] {
            let mut i = Index::create();
            i.name(name).table(Tasks::Table);
            for c in cols {
                i.col(c);
            }
            m.create_index(i.to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_tasks_schedule_key")
                .table(Tasks::Table)
                .col(Tasks::ScheduleKey)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(HouseholdRisk::Table)
                .col(string_len(HouseholdRisk::HouseholdId, 32).primary_key())
                .col(string_len(HouseholdRisk::RiskLevel, 16))
                .col(string_len(HouseholdRisk::SetBy, 40))
                .col(big_integer(HouseholdRisk::SetAtMs))
                .to_owned(),
        )
        .await
    }
}
