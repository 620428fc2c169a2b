//! Regions, accounts, devices, refresh tokens, login attempts and the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
    ParentCode,
    Level,
    Name,
    Path,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Username,
    DisplayName,
    Role,
    PasswordHash,
    Disabled,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum AccountRegions {
    Table,
    AccountId,
    RegionCode,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    AccountId,
    Name,
    Platform,
    CreatedAtMs,
    LastSeenAtMs,
    RevokedAtMs,
    RevokedReason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    DeviceId,
    TokenHash,
    IssuedAtMs,
    ExpiresAtMs,
    UsedAtMs,
    EndedAtMs,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Id,
    Username,
    ClientAddr,
    AtMs,
    Success,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    AtMs,
    AccountId,
    DeviceId,
    RegionPath,
    Action,
    Target,
    Outcome,
    ClientAddr,
    Detail,
}

#[derive(DeriveIden)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Regions::Table)
                .col(string_len(Regions::Code, 32).primary_key())
                .col(string_len_null(Regions::ParentCode, 32))
                .col(string_len(Regions::Level, 16))
                .col(string_len(Regions::Name, 128))
                .col(string_len(Regions::Path, 512))
                .col(big_integer(Regions::CreatedAtMs))
                .col(big_integer(Regions::UpdatedAtMs))
                .foreign_key(
                    ForeignKey::create()
                        .from(Regions::Table, Regions::ParentCode)
                        .to(Regions::Table, Regions::Code),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_regions_path")
                .table(Regions::Table)
                .col(Regions::Path)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_regions_parent")
                .table(Regions::Table)
                .col(Regions::ParentCode)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(string_len(Accounts::Id, 40).primary_key())
                .col(string_len_uniq(Accounts::Username, 64))
                .col(string_len(Accounts::DisplayName, 64))
                .col(string_len(Accounts::Role, 32))
                .col(string_len(Accounts::PasswordHash, 256))
                .col(boolean(Accounts::Disabled).default(false))
                .col(big_integer(Accounts::CreatedAtMs))
                .col(big_integer(Accounts::UpdatedAtMs))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AccountRegions::Table)
                .col(string_len(AccountRegions::AccountId, 40))
                .col(string_len(AccountRegions::RegionCode, 32))
                .primary_key(
                    Index::create()
                        .col(AccountRegions::AccountId)
                        .col(AccountRegions::RegionCode),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountRegions::Table, AccountRegions::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AccountRegions::Table, AccountRegions::RegionCode)
                        .to(Regions::Table, Regions::Code),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Devices::Table)
                .col(string_len(Devices::Id, 40).primary_key())
                .col(string_len(Devices::AccountId, 40))
                .col(string_len(Devices::Name, 128))
                .col(string_len(Devices::Platform, 32))
                .col(big_integer(Devices::CreatedAtMs))
                .col(big_integer(Devices::LastSeenAtMs))
                .col(big_integer_null(Devices::RevokedAtMs))
                .col(string_len_null(Devices::RevokedReason, 256))
                .foreign_key(
                    ForeignKey::create()
                        .from(Devices::Table, Devices::AccountId)
                        .to(Accounts::Table, Accounts::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_devices_account")
                .table(Devices::Table)
                .col(Devices::AccountId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(big_pk_auto(RefreshTokens::Id))
                .col(string_len(RefreshTokens::DeviceId, 40))
                .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                .col(big_integer(RefreshTokens::IssuedAtMs))
                .col(big_integer(RefreshTokens::ExpiresAtMs))
                .col(big_integer_null(RefreshTokens::UsedAtMs))
                .col(big_integer_null(RefreshTokens::EndedAtMs))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::DeviceId)
                        .to(Devices::Table, Devices::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_device")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::DeviceId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginAttempts::Table)
                .col(big_pk_auto(LoginAttempts::Id))
                .col(string_len(LoginAttempts::Username, 64))
                .col(string_len(LoginAttempts::ClientAddr, 64))
                .col(big_integer(LoginAttempts::AtMs))
                .col(boolean(LoginAttempts::Success))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_attempts_user")
                .table(LoginAttempts::Table)
                .col(LoginAttempts::Username)
                .col(LoginAttempts::AtMs)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_login_attempts_addr")
                .table(LoginAttempts::Table)
                .col(LoginAttempts::ClientAddr)
                .col(LoginAttempts::AtMs)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(big_integer(AuditLog::AtMs))
                .col(string_len_null(AuditLog::AccountId, 40))
                .col(string_len_null(AuditLog::DeviceId, 40))
                .col(string_len_null(AuditLog::RegionPath, 512))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len_null(AuditLog::Target, 256))
                .col(string_len(AuditLog::Outcome, 16))
                .col(string_len_null(AuditLog::ClientAddr, 64))
                .col(text_null(AuditLog::Detail))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_at")
                .table(AuditLog::Table)
                .col(AuditLog::AtMs)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_account")
                .table(AuditLog::Table)
                .col(AuditLog::AccountId)
                .col(AuditLog::AtMs)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ServerSecrets::Table)
                .col(string_len(ServerSecrets::Name, 64).primary_key())
                .col(string_len(ServerSecrets::Value, 256))
                .col(big_integer(ServerSecrets::CreatedAtMs))
                .to_owned(),
        )
        .await?;

        // The audit log is append-only: the database itself refuses UPDATE and DELETE on it.
        let db = m.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
                )
                .await?;
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql;",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log \
                     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }
}
