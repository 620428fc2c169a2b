//! Accounts and the regions they are bound to.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set, TransactionSession, TransactionTrait,
};
use serde::Serialize;

use doudi_protocol::role::Role;

use crate::access::Subject;
use crate::auth::{MIN_PASSWORD_CHARS, hash_password, new_id, now_ms};
use crate::db::Exec;
use crate::entity::{account, account_region, audit_log, device, refresh_token, region};
use crate::error::{ApiError, Code};

/// A region an account is bound to, as shown to clients.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RegionRef {
    pub code: String,
    pub level: String,
    pub name: String,
    /// The region above (for a grid: its village, whose policy applies to the grid's
    /// households); absent for a province.
    pub parent_code: Option<String>,
}

/// An account as shown to clients (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub disabled: bool,
    pub regions: Vec<RegionRef>,
}

/// What it takes to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
    pub region_codes: Vec<String>,
}

/// Regions an account is bound to.
pub async fn regions_of<E: Exec>(
    db: &E,
    account_id: &str,
) -> Result<Vec<region::Model>, sea_orm::DbErr> {
    let assigned = account_region::Entity::belongs_to(region::Entity)
        .from(account_region::Column::RegionCode)
        .to(region::Column::Code)
        .into();
    let read = region::Entity::find()
        .join_rev(JoinType::InnerJoin, assigned)
        .filter(account_region::Column::AccountId.eq(account_id))
        .order_by_asc(region::Column::Path)
        .build(db.backend());
    db.query(read).await
}

/// The path of the account's first region: where its audit events are filed.
pub async fn home_path<E: Exec>(
    db: &E,
    account_id: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(regions_of(db, account_id)
        .await?
        .into_iter()
        .next()
        .map(|r| r.path))
}

/// The policy subject of an account.
pub async fn subject_of<E: Exec>(
    db: &E,
    account: &account::Model,
) -> Result<Option<Subject>, sea_orm::DbErr> {
    let paths = regions_of(db, &account.id)
        .await?
        .into_iter()
        .map(|r| r.path);
    Ok(subject(account, paths.collect()))
}

/// The policy subject of an account bound to the regions at `paths` (in path order); `None`
/// for an account with an unknown role.
pub fn subject(account: &account::Model, paths: Vec<String>) -> Option<Subject> {
    let Some(role) = Role::parse(&account.role) else {
        tracing::error!(account = %account.id, "account has an unknown role");
        return None;
    };
    Some(Subject {
        account_id: account.id.clone(),
        role,
        scope: paths,
    })
}

pub async fn view<E: Exec>(
    db: &E,
    account: &account::Model,
) -> Result<AccountView, sea_orm::DbErr> {
    let regions = regions_of(db, &account.id).await?;
    Ok(AccountView {
        id: account.id.clone(),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        role: Role::parse(&account.role).unwrap_or(Role::GridWorker),
        disabled: account.disabled,
        regions: regions
            .into_iter()
            .map(|r| RegionRef {
                code: r.code,
                level: r.level,
                name: r.name,
                parent_code: r.parent_code,
            })
            .collect(),
    })
}

fn invalid(zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(zh, en)
}

/// User names: 3–64 characters of letters, digits, '.', '-', '_'.
pub fn check_username(username: &str) -> Result<(), ApiError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "用户名须为 3 到 64 个字母、数字或 . - _",
            "the user name must be 3 to 64 letters, digits, '.', '-' or '_'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(invalid(
            format!("密码至少 {MIN_PASSWORD_CHARS} 个字符"),
            format!("the password must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Look up the regions by code; an unknown code is `region.unknown`.
pub async fn load_regions<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
) -> Result<Vec<region::Model>, ApiError> {
    if codes.is_empty() {
        return Err(invalid(
            "至少绑定一个区划",
            "an account needs at least one region",
        ));
    }
    let found = region::Entity::find()
        .filter(region::Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await?;
    if let Some(missing) = codes.iter().find(|c| !found.iter().any(|r| &r.code == *c)) {
        return Err(ApiError::new(Code::UnknownRegion).with_message(
            format!("区划代码 {missing} 不存在"),
            format!("region code {missing} does not exist"),
        ));
    }
    Ok(found)
}

/// Create an account. The caller has checked the policy; this checks the input.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewAccount,
) -> Result<account::Model, ApiError> {
    create_audited(db, new, |_| None).await
}

/// [`create`], writing the audit entry `audit` makes of the new account in the transaction
/// that creates it: without its entry the account is not created.
pub async fn create_audited<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewAccount,
    audit: impl FnOnce(&account::Model) -> Option<audit_log::ActiveModel>,
) -> Result<account::Model, ApiError> {
    check_username(&new.username)?;
    check_password(&new.password)?;
    let display = new.display_name.trim();
    if display.is_empty() || display.chars().count() > 64 {
        return Err(invalid(
            "姓名不能为空且不超过 64 字",
            "the display name must be 1 to 64 characters",
        ));
    }
    load_regions(db, &new.region_codes).await?;
    if account::Entity::find()
        .filter(account::Column::Username.eq(new.username.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        return Err(ApiError::new(Code::UsernameTaken));
    }
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let now = now_ms();
    let id = new_id();
    let txn = db.begin().await?;
    let model = account::ActiveModel {
        id: Set(id.clone()),
        username: Set(new.username),
        display_name: Set(display.to_string()),
        role: Set(new.role.as_str().to_string()),
        password_hash: Set(hash),
        disabled: Set(false),
        created_at_ms: Set(now),
        updated_at_ms: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut codes = new.region_codes;
    codes.sort();
    codes.dedup();
    for code in codes {
        account_region::ActiveModel {
            account_id: Set(id.clone()),
            region_code: Set(code),
        }
        .insert(&txn)
        .await?;
    }
    if let Some(entry) = audit(&model) {
        entry.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(model)
}

pub async fn find_by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<account::Model>, sea_orm::DbErr> {
    account::Entity::find()
        .filter(account::Column::Username.eq(username))
        .one(db)
        .await
}

/// Revoke a device: it can no longer refresh or call the API, and is told to wipe its data.
pub async fn revoke_device_now<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
    reason: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = now_ms();
    device::Entity::update_many()
        .col_expr(device::Column::RevokedAtMs, Expr::value(now))
        .col_expr(
            device::Column::RevokedReason,
            Expr::value(reason.chars().take(256).collect::<String>()),
        )
        .filter(device::Column::Id.eq(device_id))
        .filter(device::Column::RevokedAtMs.is_null())
        .exec(db)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::EndedAtMs, Expr::value(now))
        .filter(refresh_token::Column::DeviceId.eq(device_id))
        .filter(refresh_token::Column::EndedAtMs.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The display names of accounts, by id.
pub async fn display_names<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, String>, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(account::Entity::find()
        .filter(account::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect())
}
