//! `devices.signed_out_at_ms`: when the device's session was ended by logging out (NULL while
//! signed in). Every authenticated request reads the device, so an access token of a device
//! that logged out is refused at once instead of working until it expires; the next login of
//! the device clears it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Devices {
    Table,
    SignedOutAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Devices::Table)
                .add_column(big_integer_null(Devices::SignedOutAtMs))
                .to_owned(),
        )
        .await
    }
}
