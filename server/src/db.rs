//! Database connection and migrations: SQLite (embedded default) or PostgreSQL.

use std::time::Duration;

use doudi_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, Database, DatabaseConnection, DbErr, EntityTrait, Set,
};

use crate::auth::{now_ms, random_bytes};
use crate::config::Settings;
use crate::entity::server_secret;

/// Which database a URL names, for logs (never the URL itself: it may hold a password).
pub fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Connect to the configured database (creating the data directory for SQLite).
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    let url = settings.database_url();
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data directory {}: {e}",
                settings.data_dir.display()
            ))
        })?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if backend_name(&url) == "sqlite" {
        opts.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts).await
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The access-token key: configured, or created once in the database and shared by every
/// process that serves it.
pub async fn token_key(db: &DatabaseConnection, settings: &Settings) -> Result<Vec<u8>, DbErr> {
    if let Some(s) = &settings.jwt_secret {
        return Ok(s.expose().as_bytes().to_vec());
    }
    const NAME: &str = "access_token_hs256";
    if let Some(row) = server_secret::Entity::find_by_id(NAME).one(db).await? {
        return Ok(row.value.into_bytes());
    }
    let fresh = hex::encode(random_bytes::<32>());
    let insert = server_secret::ActiveModel {
        name: Set(NAME.to_string()),
        value: Set(fresh),
        created_at_ms: Set(now_ms()),
    }
    .insert(db)
    .await;
    if let Err(e) = insert {
        tracing::debug!(error = %e, "another process created the token key first");
    }
    // Whoever won the race, read the stored key.
    server_secret::Entity::find_by_id(NAME)
        .one(db)
        .await?
        .map(|row| row.value.into_bytes())
        .ok_or_else(|| DbErr::Custom("token key missing after creation".into()))
}
