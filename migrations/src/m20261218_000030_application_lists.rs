//! Indexes for the application lists at county size (the review queue filtered by purpose,
//! `purpose=investigation`: 申请 by status, or all of them; docs/BENCHMARKS.md, P6 with cases):
//! the two queue indexes of migration 6 with the purpose first. Without them a county's list of
//! its applications read every visit of the county in queue order and checked each one's purpose
//! on the table (0.6–1.0 s p95 at 1 M households and 5 M visits).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns); on PostgreSQL, a column followed by `*` is indexed with
/// `varchar_pattern_ops`.
const BTREE: [(&str, &str, &[&str]); 2] = [
    // Counts and pages of one status: one range per purpose, status and region.
    (
        "idx_visits_purpose_status_path_submitted",
        "visits",
        &[
            "purpose",
            "status",
            "region_path*",
            "submitted_at_ms",
            "doc_id",
        ],
    ),
    // Pages in queue order over several statuses (`status=all`), status and region checked
    // inside the index.
    (
        "idx_visits_purpose_submitted_path",
        "visits",
        &[
            "purpose",
            "submitted_at_ms",
            "doc_id",
            "status",
            "region_path",
        ],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::btree_indexes(m, &BTREE).await
    }
}
