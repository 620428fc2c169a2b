//! Region policy storage: the layers of `rules::policy::PolicyBook` in the database. Every change
//! is validated on the whole book first; an invalid change leaves the previous policy in force.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionSession, TransactionTrait,
};

use doudi_protocol::rules::policy::{PolicyBook, PolicyError, PolicyLayer};

use crate::auth::now_ms;
use crate::db::Exec;
use crate::entity::{audit_log, policy_layer};

#[derive(Debug, thiserror::Error)]
pub enum PolicyStoreError {
    #[error("{0}")]
    Invalid(#[from] PolicyError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The stored book and its version (0 when no layer was ever stored).
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<(PolicyBook, u64), PolicyStoreError> {
    let rows = policy_layer::Entity::find()
        .order_by_asc(policy_layer::Column::Id)
        .all(db)
        .await?;
    let version = rows.iter().map(|r| r.id).max().unwrap_or(0) as u64;
    let layers = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<PolicyLayer>(&r.layer)
                .map_err(|e| DbErr::Custom(format!("stored policy layer {}: {e}", r.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((PolicyBook::from_layers(layers)?, version))
}

/// The query of the current version: the highest layer id (NULL before the first layer). Every
/// sync reads it in the same statement as the device's remembered scope (`sync_state` in
/// `sync`).
pub fn version_query() -> SelectStatement {
    Query::select()
        .expr(Expr::col(policy_layer::Column::Id).max())
        .from(policy_layer::Entity)
        .to_owned()
}

/// The current version only ([`version_query`]; 0 before the first layer).
pub async fn version<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let max: Vec<Option<i64>> = db.query(db.backend().build(&version_query())).await?;
    Ok(max.into_iter().next().flatten().unwrap_or(0) as u64)
}

async fn insert_row<C: ConnectionTrait>(
    db: &C,
    layer: &PolicyLayer,
    by: Option<&str>,
) -> Result<(), DbErr> {
    policy_layer::ActiveModel {
        region: Set(layer.region.clone()),
        effective_from: Set(layer.effective_from.to_string()),
        layer: Set(serde_json::to_string(layer).map_err(|e| DbErr::Custom(e.to_string()))?),
        created_at_ms: Set(now_ms()),
        created_by: Set(by.map(str::to_string)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Add a layer version or replace the one of the same region and date; `audit`, the entry of
/// the change, is written in its transaction (without it the layer is not stored).
pub async fn put_layer<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    layer: PolicyLayer,
    by: Option<&str>,
    audit: Option<audit_log::ActiveModel>,
) -> Result<u64, PolicyStoreError> {
    let txn = db.begin().await?;
    // Serialise policy writers: two valid changes must not combine into an invalid book.
    lock(&txn).await?;
    let (mut book, _) = load(&txn).await?;
    book.replace(layer.clone())?;
    let mut del = policy_layer::Entity::delete_many()
        .filter(policy_layer::Column::EffectiveFrom.eq(layer.effective_from.to_string()));
    del = match &layer.region {
        Some(r) => del.filter(policy_layer::Column::Region.eq(r.as_str())),
        None => del.filter(policy_layer::Column::Region.is_null()),
    };
    del.exec(&txn).await?;
    insert_row(&txn, &layer, by).await?;
    if let Some(entry) = audit {
        entry.insert(&txn).await?;
    }
    let v = version(&txn).await?;
    txn.commit().await?;
    Ok(v)
}

/// Replace the whole book (file import).
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    book: &PolicyBook,
    by: Option<&str>,
) -> Result<u64, PolicyStoreError> {
    let txn = db.begin().await?;
    lock(&txn).await?;
    policy_layer::Entity::delete_many().exec(&txn).await?;
    for layer in book.layers() {
        insert_row(&txn, layer, by).await?;
    }
    let v = version(&txn).await?;
    txn.commit().await?;
    Ok(v)
}

async fn lock<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    txn.execute_raw(sea_orm::Statement::from_string(
        backend,
        "UPDATE sync_feed SET seq = seq WHERE id = 1",
    ))
    .await?;
    Ok(())
}
