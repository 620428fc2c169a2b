//! doudi-migrations: the schema, one set of migrations for SQLite and PostgreSQL.
//!
//! Times are stored as unix milliseconds (`BIGINT`), so that ordering and range comparisons behave
//! the same on both backends. Ids are text (random, unguessable); the audit log and refresh tokens use
//! integer sequences.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_blobs;
mod m20261123_000003_documents;
mod m20261123_000004_review;
mod m20261123_000005_policies;
mod m20261123_000006_search;
mod m20261123_000007_recheck_tasks;
mod m20261123_000008_member_region;
mod m20261123_000009_change_log_compaction;
mod m20261201_000010_tasks_version;
mod m20261202_000011_sqlite_duplicate_index;
mod m20261205_000012_device_signed_out;
mod m20261205_000013_identity_numbers;
mod m20261210_000014_blob_uploads;
mod m20261211_000015_calendar_days;
mod m20261211_000016_spot_checks;
mod m20261212_000017_job_leases;
mod m20261213_000018_monitoring;
mod m20261213_000019_visit_applied_for;
mod m20261214_000020_temporary_aid;
mod m20261214_000021_decisions;
mod m20261214_000022_visit_gps;
mod m20261215_000023_enrolment_codes;
mod m20261215_000024_case_tasks_referrals;
mod m20261216_000025_name_order;
mod m20261216_000026_tasks_version_per_statement;
mod m20261217_000027_visit_applications;
mod m20261217_000028_care_gaps;
mod m20261218_000029_sync_epoch;
mod m20261218_000030_application_lists;

pub use m20261218_000029_sync_epoch::random_epoch;

/// Create B-tree indexes `(name, table, columns)`; on PostgreSQL, a column followed by `*` is
/// indexed with `varchar_pattern_ops`, so that `LIKE 'prefix%'` on it uses the index under any
/// collation.
async fn btree_indexes(
    m: &SchemaManager<'_>,
    indexes: &[(&str, &str, &[&str])],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
    let db = m.get_connection();
    let pg = m.get_database_backend() == DatabaseBackend::Postgres;
    for (name, table, cols) in indexes {
        let cols: Vec<String> = cols
            .iter()
            .map(|c| match c.strip_suffix('*') {
                Some(c) if pg => format!("{c} varchar_pattern_ops"),
                Some(c) => String::from(c),
                None => String::from(*c),
            })
            .collect();
        db.execute_unprepared(&format!(
            "CREATE INDEX {name} ON {table} ({})",
            cols.join(", ")
        ))
        .await?;
    }
    Ok(())
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_blobs::Migration),
            Box::new(m20261123_000003_documents::Migration),
            Box::new(m20261123_000004_review::Migration),
            Box::new(m20261123_000005_policies::Migration),
            Box::new(m20261123_000006_search::Migration),
            Box::new(m20261123_000007_recheck_tasks::Migration),
            Box::new(m20261123_000008_member_region::Migration),
            Box::new(m20261123_000009_change_log_compaction::Migration),
            Box::new(m20261201_000010_tasks_version::Migration),
            Box::new(m20261202_000011_sqlite_duplicate_index::Migration),
            Box::new(m20261205_000012_device_signed_out::Migration),
            Box::new(m20261205_000013_identity_numbers::Migration),
            Box::new(m20261210_000014_blob_uploads::Migration),
            Box::new(m20261211_000015_calendar_days::Migration),
            Box::new(m20261211_000016_spot_checks::Migration),
            Box::new(m20261212_000017_job_leases::Migration),
            Box::new(m20261213_000018_monitoring::Migration),
            Box::new(m20261213_000019_visit_applied_for::Migration),
            Box::new(m20261214_000020_temporary_aid::Migration),
            Box::new(m20261214_000021_decisions::Migration),
            Box::new(m20261214_000022_visit_gps::Migration),
            Box::new(m20261215_000023_enrolment_codes::Migration),
            Box::new(m20261215_000024_case_tasks_referrals::Migration),
            Box::new(m20261216_000025_name_order::Migration),
            Box::new(m20261216_000026_tasks_version_per_statement::Migration),
            Box::new(m20261217_000027_visit_applications::Migration),
            Box::new(m20261217_000028_care_gaps::Migration),
            Box::new(m20261218_000029_sync_epoch::Migration),
            Box::new(m20261218_000030_application_lists::Migration),
        ]
    }
}
