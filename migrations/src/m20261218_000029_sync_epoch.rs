//! The server's sync epoch (docs/PROTOCOL.md section 5, "Epoch"; docs/OPERATIONS.md, "Phones
//! that synced after the backup"): a random non-zero 64-bit number that names this database's
//! history. Phones send back the epoch they last received; a database restored from a backup
//! gets a new one (`doudi restore`, `doudi epoch renew`), so that a phone that synced with it
//! after the backup is noticed and pushes again what the restored database lacks.
//!
//! One row: `epoch` (stored as the signed 64-bit integer of the same bits), and, once renewed,
//! the epoch it replaced (`previous_epoch`) and the end of the sync feed when it was renewed
//! (`restored_seq`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A random non-zero 64-bit number, as the signed integer of the same bits.
pub fn random_epoch() -> i64 {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system random number generator failed");
        let epoch = i64::from_be_bytes(bytes);
        if epoch != 0 {
            return epoch;
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE sync_epoch (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL, \
             previous_epoch BIGINT, restored_seq BIGINT)",
        )
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO sync_epoch (id, epoch) VALUES (1, {})",
            random_epoch()
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP TABLE sync_epoch")
            .await?;
        Ok(())
    }
}
