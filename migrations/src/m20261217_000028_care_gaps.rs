//! 特困 分散供养 people's missing 五有 items (docs/REVIEW.md, "特困 self-care and 五有"): each
//! member row of a household in `tekun_dispersed` carries the codes of the items its care plan
//! lacks, comma-separated (empty when complete); other members NULL. A partial index holds only
//! the people with gaps, by region, so the care-gaps list reads just them.
//!
//! Existing rows start NULL: `doudi projections rebuild` fills them (as does the next change of
//! each household).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE members ADD COLUMN care_gaps VARCHAR(128)")
            .await?;
        let index = if m.get_database_backend() == DatabaseBackend::Postgres {
            "CREATE INDEX idx_members_care_gaps ON members \
             (region_path varchar_pattern_ops, doc_id, member_id) WHERE care_gaps <> ''"
        } else {
            "CREATE INDEX idx_members_care_gaps ON members \
             (region_path, doc_id, member_id) WHERE care_gaps <> ''"
        };
        db.execute_unprepared(index).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX idx_members_care_gaps")
            .await?;
        db.execute_unprepared("ALTER TABLE members DROP COLUMN care_gaps")
            .await?;
        Ok(())
    }
}
