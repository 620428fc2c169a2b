//! Indexes for the review queue and household search at county size (1 M households, 5 M
//! visits; docs/BENCHMARKS.md, P6).
//!
//! Region scopes and name searches are `LIKE 'prefix%'`. PostgreSQL uses a B-tree for that only
//! under the C collation or with the `varchar_pattern_ops` operator class, so on PostgreSQL those
//! columns get pattern-ops indexes; address fragments and identity-number suffixes get trigram
//! GIN indexes when the `pg_trgm` extension can be created (a trusted extension since
//! PostgreSQL 13; without it those searches still work, by scanning). SQLite gets plain indexes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns); on PostgreSQL, a column followed by `*` is indexed with
/// `varchar_pattern_ops`.
const BTREE: [(&str, &str, &[&str]); 5] = [
    // Queue counts: one range per status and region.
    (
        "idx_visits_status_path_submitted",
        "visits",
        &["status", "region_path*", "submitted_at_ms", "doc_id"],
    ),
    // Queue pages: in queue order, the region checked inside the index.
    (
        "idx_visits_status_submitted_path",
        "visits",
        &["status", "submitted_at_ms", "doc_id", "region_path"],
    ),
    (
        "idx_households_path_pattern",
        "households",
        &["region_path*"],
    ),
    ("idx_households_head_name", "households", &["head_name*"]),
    ("idx_members_name", "members", &["name*"]),
];

/// Trigram indexes (PostgreSQL with pg_trgm only): (name, table, column).
const TRGM: [(&str, &str, &str); 2] = [
    ("idx_households_address_trgm", "households", "address"),
    ("idx_members_id_masked_trgm", "members", "id_number_masked"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = m.get_database_backend() == DatabaseBackend::Postgres;
        crate::btree_indexes(m, &BTREE).await?;
        if pg {
            // Inside a PL/pgSQL block a failure (extension not installed, no privilege) is
            // caught without aborting the migration's transaction.
            db.execute_unprepared(
                "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                 EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable: %', SQLERRM; END $$",
            )
            .await?;
            for (name, table, col) in TRGM {
                db.execute_unprepared(&format!(
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
                     EXECUTE 'CREATE INDEX {name} ON {table} USING gin ({col} gin_trgm_ops)'; \
                     END IF; END $$"
                ))
                .await?;
            }
        }
        Ok(())
    }
}
