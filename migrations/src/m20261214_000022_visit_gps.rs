//! `visits.gps_lat_e6`, `visits.gps_lon_e6`: where a visit was recorded (the phone's GPS), in
//! millionths of a degree, projected from the visit document for the console's visit map.
//! Visits stored before it read `NULL` until they are written again or `doudi projections
//! rebuild` runs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    GpsLatE6,
    GpsLonE6,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [Visits::GpsLatE6, Visits::GpsLonE6] {
            m.alter_table(
                Table::alter()
                    .table(Visits::Table)
                    .add_column(big_integer_null(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
