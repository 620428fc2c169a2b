//! 动态监测预警 (docs/MONITORING.md): `monitoring_runs`, each import of another department's
//! list (核查台账), with `monitoring_rows`, its lines (a keyed hash of the 身份证号, never the
//! number, and the member matched), and `monitoring_alerts`, the warnings the region's rules
//! raise, each with its verification task, linked visit and disposition. `open_key` is set while
//! an alert is open and unique, so one member has at most one open alert per indicator.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MonitoringRuns {
    Table,
    Id,
    Source,
    FileName,
    Format,
    AccountId,
    RegionPath,
    AtMs,
    RowCount,
    MatchedCount,
    UnmatchedCount,
    AlertCount,
}

#[derive(DeriveIden)]
enum MonitoringRows {
    Table,
    Id,
    RunId,
    Line,
    Source,
    IdHash,
    IdMasked,
    Name,
    EventDate,
    AmountFen,
    Grade,
    HouseholdId,
    MemberEntry,
    RegionPath,
}

#[derive(DeriveIden)]
enum MonitoringAlerts {
    Table,
    Id,
    RunId,
    Indicator,
    HouseholdId,
    MemberEntry,
    MemberName,
    IdMasked,
    RegionPath,
    Detail,
    DetailEn,
    ReceivedAtMs,
    DueAtMs,
    AssigneeId,
    TaskId,
    VisitId,
    Status,
    OpenKey,
    Disposition,
    DispositionNote,
    FeedbackDate,
    FeedbackTo,
    DisposedBy,
    DisposedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MonitoringRuns::Table)
                .col(string_len(MonitoringRuns::Id, 32).primary_key())
                .col(string_len(MonitoringRuns::Source, 32))
                .col(string_len(MonitoringRuns::FileName, 255))
                .col(string_len(MonitoringRuns::Format, 8))
                .col(string_len(MonitoringRuns::AccountId, 40))
                .col(string_len(MonitoringRuns::RegionPath, 512))
                .col(big_integer(MonitoringRuns::AtMs))
                .col(integer(MonitoringRuns::RowCount))
                .col(integer(MonitoringRuns::MatchedCount))
                .col(integer(MonitoringRuns::UnmatchedCount))
                .col(integer(MonitoringRuns::AlertCount))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_monitoring_runs_path")
                .table(MonitoringRuns::Table)
                .col(MonitoringRuns::RegionPath)
                .col(MonitoringRuns::AtMs)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MonitoringRows::Table)
                .col(
                    big_integer(MonitoringRows::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(string_len(MonitoringRows::RunId, 32))
                .col(integer(MonitoringRows::Line))
                .col(string_len(MonitoringRows::Source, 32))
                .col(string_len(MonitoringRows::IdHash, 64))
                .col(string_len(MonitoringRows::IdMasked, 32))
                .col(text(MonitoringRows::Name))
                .col(string_len_null(MonitoringRows::EventDate, 10))
                .col(big_integer_null(MonitoringRows::AmountFen))
                .col(integer_null(MonitoringRows::Grade))
                .col(string_len_null(MonitoringRows::HouseholdId, 32))
                .col(string_len_null(MonitoringRows::MemberEntry, 64))
                .col(string_len_null(MonitoringRows::RegionPath, 512))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_monitoring_rows_run",
                vec![MonitoringRows::RunId, MonitoringRows::Line],
            ),
            (
                "idx_monitoring_rows_person",
                vec![MonitoringRows::IdHash, MonitoringRows::Source],
            ),
        ] {
            let mut i = Index::create();
            i.name(name).table(MonitoringRows::Table);
            for c in cols {
                i.col(c);
            }
            m.create_index(i.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(MonitoringAlerts::Table)
                .col(string_len(MonitoringAlerts::Id, 32).primary_key())
                .col(string_len(MonitoringAlerts::RunId, 32))
                .col(string_len(MonitoringAlerts::Indicator, 32))
                .col(string_len(MonitoringAlerts::HouseholdId, 32))
                .col(string_len(MonitoringAlerts::MemberEntry, 64))
                .col(text(MonitoringAlerts::MemberName))
                .col(string_len(MonitoringAlerts::IdMasked, 32))
                .col(string_len(MonitoringAlerts::RegionPath, 512))
                .col(text(MonitoringAlerts::Detail))
                .col(text(MonitoringAlerts::DetailEn))
                .col(big_integer(MonitoringAlerts::ReceivedAtMs))
                .col(big_integer_null(MonitoringAlerts::DueAtMs))
                .col(string_len_null(MonitoringAlerts::AssigneeId, 40))
                .col(string_len_null(MonitoringAlerts::TaskId, 32))
                .col(string_len_null(MonitoringAlerts::VisitId, 32))
                .col(string_len(MonitoringAlerts::Status, 16))
                .col(string_len_null(MonitoringAlerts::OpenKey, 160))
                .col(string_len_null(MonitoringAlerts::Disposition, 16))
                .col(text_null(MonitoringAlerts::DispositionNote))
                .col(string_len_null(MonitoringAlerts::FeedbackDate, 10))
                .col(text_null(MonitoringAlerts::FeedbackTo))
                .col(string_len_null(MonitoringAlerts::DisposedBy, 40))
                .col(big_integer_null(MonitoringAlerts::DisposedAtMs))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_monitoring_alerts_path",
                vec![MonitoringAlerts::RegionPath, MonitoringAlerts::Status],
            ),
            (
                "idx_monitoring_alerts_household",
                vec![MonitoringAlerts::HouseholdId, MonitoringAlerts::Status],
            ),
            ("idx_monitoring_alerts_run", vec![MonitoringAlerts::RunId]),
        ] {
            let mut i = Index::create();
            i.name(name).table(MonitoringAlerts::Table);
            for c in cols {
                i.col(c);
            }
            m.create_index(i.to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_monitoring_alerts_open_key")
                .table(MonitoringAlerts::Table)
                .col(MonitoringAlerts::OpenKey)
                .unique()
                .to_owned(),
        )
        .await
    }
}
