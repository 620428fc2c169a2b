//! `enrolment_codes`: one-time codes an administrator makes for a field account (网格员,
//! 社会救助协理员) that a phone exchanges once for a session instead of a password (the
//! console shows each as text and as a QR code). Only the code's SHA-256 is stored; a code is
//! spent (`used_at_ms`, with the device it registered), expires (`expires_at_ms`) or is revoked
//! (`revoked_at_ms`), whichever comes first.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EnrolmentCodes {
    Table,
    Id,
    AccountId,
    CodeHash,
    CreatedBy,
    CreatedAtMs,
    ExpiresAtMs,
    UsedAtMs,
    UsedDeviceId,
    RevokedAtMs,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EnrolmentCodes::Table)
                .col(string_len(EnrolmentCodes::Id, 40).primary_key())
                .col(string_len(EnrolmentCodes::AccountId, 40))
                .col(string_len_uniq(EnrolmentCodes::CodeHash, 64))
                .col(string_len(EnrolmentCodes::CreatedBy, 40))
                .col(big_integer(EnrolmentCodes::CreatedAtMs))
                .col(big_integer(EnrolmentCodes::ExpiresAtMs))
                .col(big_integer_null(EnrolmentCodes::UsedAtMs))
                .col(string_len_null(EnrolmentCodes::UsedDeviceId, 40))
                .col(big_integer_null(EnrolmentCodes::RevokedAtMs))
                .foreign_key(
                    ForeignKey::create()
                        .from(EnrolmentCodes::Table, EnrolmentCodes::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_enrolment_codes_account")
                .table(EnrolmentCodes::Table)
                .col(EnrolmentCodes::AccountId)
                .to_owned(),
        )
        .await
    }
}
