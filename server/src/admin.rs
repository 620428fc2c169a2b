//! Administration within one's own regions: region import, region policy, the working-day
//! calendar, accounts, devices, audit log.
//!
//! The rules live here once, for the JSON API (`/api/v1/admin/…`, [`crate::http::admin`]) and
//! the console's administration pages (`/console/admin/…`). Every read and write asks the access
//! module through the administrator's [`Actor`] (a denial is audited before it is answered), and
//! every change is written in one transaction with its audit entry.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use doudi_protocol::role::Role;
use doudi_protocol::rules::policy::PolicyLayer;

use crate::access::{self, Action, Actor, Decision, Target};
use crate::accounts::{self, AccountView, NewAccount};
use crate::audit::{self, Outcome, actions};
use crate::auth::{hash_password, new_enrolment_code, new_id, now_ms};
use crate::entity::{account, account_region, audit_log, device, enrolment_code, region};
use crate::error::{ApiError, ApiResult, Code};
use crate::policies::{self, PolicyStoreError};
use crate::regions::{self, ImportError, ImportReport};

/// The most regions one account may be bound to.
pub const MAX_ACCOUNT_REGIONS: usize = 100;

/// Whether the administrator may import regions at all (a refusal is audited): asked before
/// the file is read.
pub async fn may_import_regions(db: &DatabaseConnection, actor: &Actor) -> ApiResult<()> {
    actor
        .require(db, Action::ManageRegions, Target::Scope, "regions")
        .await
}

/// Import regions from CSV text (`code,parent_code,level,name`); all or nothing, at most `max`
/// rows (audited `admin.region_import`). Bad lines are `region.csv_invalid` with
/// `details.lines`; lines outside the administrator's regions are a refusal of the access
/// module, audited.
pub async fn import_regions(
    db: &DatabaseConnection,
    actor: &Actor,
    text: &str,
    max: usize,
) -> ApiResult<ImportReport> {
    may_import_regions(db, actor).await?;
    let entry = |report: &ImportReport| {
        let mut ev = actor.event(actions::REGION_IMPORT, None);
        ev.detail =
            Some(serde_json::json!({ "created": report.created, "renamed": report.renamed }));
        Some(audit::row(Outcome::Ok, ev))
    };
    match regions::import_csv_audited(db, text, max, Some(&actor.subject), entry).await {
        Ok(report) => Ok(report),
        Err(e) => Err(import_refused(db, actor, e).await),
    }
}

/// What [`import_regions`] would do with the file, nothing written: its report, or the same
/// refusal (bad lines, and the refusal of lines outside one's regions, audited).
pub async fn preview_regions(
    db: &DatabaseConnection,
    actor: &Actor,
    text: &str,
    max: usize,
) -> ApiResult<ImportReport> {
    may_import_regions(db, actor).await?;
    match regions::plan_import(db, text, max, Some(&actor.subject)).await {
        Ok(plan) => Ok(plan.report().clone()),
        Err(e) => Err(import_refused(db, actor, e).await),
    }
}

/// The answer to a file an import refuses.
async fn import_refused(db: &DatabaseConnection, actor: &Actor, e: ImportError) -> ApiError {
    let lines = match e {
        ImportError::Lines(lines) => lines,
        ImportError::Db(e) => return e.into(),
    };
    let answer =
        ApiError::new(Code::RegionCsvInvalid).with_details(serde_json::json!({ "lines": lines }));
    let outside: Vec<u64> = lines
        .iter()
        .filter(|l| l.outside_scope)
        .map(|l| l.line)
        .collect();
    if outside.is_empty() {
        return answer;
    }
    let label = format!("regions: lines {outside:?}");
    let (action, d) = (Action::ManageRegions, Decision::DenyScope);
    actor.caller().deny(db, action, d, &label, answer).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]{3,64}$")]
    pub username: String,
    /// 1–64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: String,
    /// grid_worker, assistant, village_cadre, town_reviewer, county_approver or admin.
    #[schema(value_type = String, pattern = "^(grid_worker|assistant|village_cadre|town_reviewer|county_approver|admin)$")]
    pub role: String,
    /// 10–1024 characters.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    /// Codes of the regions the account works in (1–100); its scope is the union of their subtrees.
    #[schema(min_items = 1, max_items = 100)]
    pub regions: Vec<String>,
}

fn too_many_regions() -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(
        "一个账号最多绑定 100 个区划",
        "an account can be bound to at most 100 regions",
    )
}

/// Every region must be inside the administrator's own regions.
async fn require_regions(
    db: &DatabaseConnection,
    actor: &Actor,
    regions: &[region::Model],
    label: &str,
) -> ApiResult<()> {
    for r in regions {
        actor
            .require(db, Action::ManageAccounts, Target::Region(&r.path), label)
            .await?;
    }
    Ok(())
}

/// Whether the administrator may manage accounts at all (a refusal is audited under `label`).
pub async fn may_manage_accounts(
    db: &DatabaseConnection,
    actor: &Actor,
    label: &str,
) -> ApiResult<()> {
    actor
        .require(db, Action::ManageAccounts, Target::Scope, label)
        .await
}

/// Create an account bound to regions inside the administrator's own (audited
/// `admin.account_create`).
pub async fn create_account(
    db: &DatabaseConnection,
    actor: &Actor,
    req: CreateAccountRequest,
) -> ApiResult<AccountView> {
    may_manage_accounts(db, actor, &req.username).await?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(Code::InvalidRequest).with_message(
            format!("角色“{}”无效", req.role),
            format!("unknown role '{}'", req.role),
        )
    })?;
    if req.regions.len() > MAX_ACCOUNT_REGIONS {
        return Err(too_many_regions());
    }
    let regions = accounts::load_regions(db, &req.regions).await?;
    require_regions(db, actor, &regions, &req.username).await?;
    let new = NewAccount {
        username: req.username,
        display_name: req.display_name,
        role,
        password: req.password,
        region_codes: req.regions,
    };
    let entry = |created: &account::Model| {
        let ev = actor.event(actions::ACCOUNT_CREATE, Some(&created.id));
        Some(audit::row(Outcome::Ok, ev))
    };
    let created = accounts::create_audited(db, new, entry).await?;
    Ok(accounts::view(db, &created).await?)
}

/// Ids of accounts bound to at least one region inside the administrator's scope.
async fn accounts_in_scope(db: &DatabaseConnection, actor: &Actor) -> ApiResult<Vec<String>> {
    let codes: Vec<String> = region::Entity::find()
        .filter(access::scope_condition(
            &actor.subject,
            region::Column::Path,
        ))
        .select_only()
        .column(region::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    let mut ids = HashSet::new();
    for chunk in codes.chunks(500) {
        let rows = account_region::Entity::find()
            .filter(account_region::Column::RegionCode.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        ids.extend(rows.into_iter().map(|r| r.account_id));
    }
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort();
    Ok(ids)
}

/// An account that the administrator may manage: all its regions inside the administrator's.
/// One that does not exist is `not_found`.
pub async fn managed_account(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    action: Action,
) -> ApiResult<account::Model> {
    let acc = account::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound))?;
    let regions = accounts::regions_of(db, &acc.id).await?;
    if regions.is_empty() {
        actor.require(db, action, Target::Region("/"), id).await?;
    }
    for r in &regions {
        actor
            .require(db, action, Target::Region(&r.path), id)
            .await?;
    }
    Ok(acc)
}

/// Accounts working inside the administrator's regions, by user name.
pub async fn list_accounts(db: &DatabaseConnection, actor: &Actor) -> ApiResult<Vec<AccountView>> {
    may_manage_accounts(db, actor, "accounts").await?;
    let ids = accounts_in_scope(db, actor).await?;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let accs = account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().cloned()))
            .order_by_asc(account::Column::Username)
            .all(db)
            .await?;
        for a in accs {
            out.push(accounts::view(db, &a).await?);
        }
    }
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password; the account's devices keep their sessions unless also revoked.
    #[serde(default)]
    pub password: Option<String>,
    /// Replace the regions the account works in (all inside the administrator's). Documents that
    /// leave its scope are purged from its phones at their next sync.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
}

/// Rename, disable or re-enable an account, set a new password or replace its regions
/// (audited `admin.account_update`, naming the fields changed, never the password).
pub async fn update_account(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    req: UpdateAccountRequest,
) -> ApiResult<AccountView> {
    let acc = managed_account(db, actor, id, Action::ManageAccounts).await?;
    // What the entry says changed: the fields, the new state and regions, never a password.
    let changed: Vec<&str> = [
        ("display_name", req.display_name.is_some()),
        ("disabled", req.disabled.is_some()),
        ("password", req.password.is_some()),
        ("regions", req.regions.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, given)| given.then_some(field))
    .collect();
    let detail = serde_json::json!({
        "changed": changed,
        "disabled": req.disabled,
        "regions": req.regions,
    });
    if acc.id == actor.account.id && req.disabled == Some(true) {
        return Err(ApiError::new(Code::InvalidRequest)
            .with_message("不能停用自己的账号", "you cannot disable your own account"));
    }
    let mut m: account::ActiveModel = acc.into();
    if let Some(name) = req.display_name {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(ApiError::new(Code::InvalidRequest).with_message(
                "姓名不能为空且不超过 64 字",
                "the display name must be 1 to 64 characters",
            ));
        }
        m.display_name = Set(name);
    }
    if let Some(d) = req.disabled {
        m.disabled = Set(d);
    }
    if let Some(pw) = req.password {
        accounts::check_password(&pw)?;
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        m.password_hash = Set(hash);
    }
    m.updated_at_ms = Set(now_ms());
    let new_regions = match &req.regions {
        Some(codes) => {
            if codes.len() > MAX_ACCOUNT_REGIONS {
                return Err(too_many_regions());
            }
            let regions = accounts::load_regions(db, codes).await?;
            require_regions(db, actor, &regions, id).await?;
            Some(regions)
        }
        None => None,
    };
    let txn = db.begin().await?;
    let updated = m.update(&txn).await?;
    if let Some(regions) = new_regions {
        account_region::Entity::delete_many()
            .filter(account_region::Column::AccountId.eq(updated.id.as_str()))
            .exec(&txn)
            .await?;
        for r in regions {
            account_region::ActiveModel {
                account_id: Set(updated.id.clone()),
                region_code: Set(r.code),
            }
            .insert(&txn)
            .await?;
        }
    }
    let mut ev = actor.event(actions::ACCOUNT_UPDATE, Some(&updated.id));
    ev.detail = Some(detail);
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(accounts::view(db, &updated).await?)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub account_id: String,
    pub username: String,
    pub name: String,
    pub platform: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub revoked_reason: Option<String>,
}

/// The accounts whose devices the administrator manages: `account_id` alone when given
/// (`not_found` when there is no such account), else those working inside the administrator's
/// regions. A refusal is audited under `label`.
async fn device_accounts(
    db: &DatabaseConnection,
    actor: &Actor,
    account_id: Option<String>,
    label: &str,
) -> ApiResult<Vec<String>> {
    actor
        .require(db, Action::ManageDevices, Target::Scope, label)
        .await?;
    match account_id {
        Some(id) => {
            managed_account(db, actor, &id, Action::ManageDevices).await?;
            Ok(vec![id])
        }
        None => accounts_in_scope(db, actor).await,
    }
}

/// The user names of these accounts, by id.
async fn usernames(db: &DatabaseConnection, ids: &[String]) -> ApiResult<HashMap<String, String>> {
    Ok(account::Entity::find()
        .filter(account::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.username))
        .collect())
}

/// Devices of the accounts working inside the administrator's regions (of `account_id` alone
/// when given: `not_found` when there is no such account), most recently seen first per chunk of
/// accounts.
pub async fn list_devices(
    db: &DatabaseConnection,
    actor: &Actor,
    account_id: Option<String>,
) -> ApiResult<Vec<DeviceView>> {
    let ids = device_accounts(db, actor, account_id, "devices").await?;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let names = usernames(db, chunk).await?;
        let devices = device::Entity::find()
            .filter(device::Column::AccountId.is_in(chunk.iter().cloned()))
            .order_by_desc(device::Column::LastSeenAtMs)
            .all(db)
            .await?;
        out.extend(devices.into_iter().map(|d| {
            let username = names.get(&d.account_id).cloned().unwrap_or_default();
            device_view(d, username)
        }));
    }
    Ok(out)
}

/// A device whose account the administrator may manage (`not_found` when there is no such
/// device), with its account's user name.
pub async fn managed_device(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> ApiResult<DeviceView> {
    let dev = device::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound))?;
    let acc = managed_account(db, actor, &dev.account_id, Action::ManageDevices).await?;
    Ok(device_view(dev, acc.username))
}

fn device_view(d: device::Model, username: String) -> DeviceView {
    DeviceView {
        username,
        id: d.id,
        account_id: d.account_id,
        name: d.name,
        platform: d.platform,
        created_at_ms: d.created_at_ms,
        last_seen_at_ms: d.last_seen_at_ms,
        revoked_at_ms: d.revoked_at_ms,
        revoked_reason: d.revoked_reason,
    }
}

/// Revoke a device at once, giving `reason` (1–256 characters): its tokens and console sessions
/// stop working and its next contact tells it to wipe (audited `admin.device_revoke`). A device
/// that does not exist, or whose account the administrator may not manage, is `not_found` or a
/// refusal as for the account.
pub async fn revoke_device(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    reason: &str,
) -> ApiResult<()> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 256 {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "请填写停用原因（不超过 256 字）",
            "give a reason of at most 256 characters",
        ));
    }
    let dev = managed_device(db, actor, id).await?;
    let txn = db.begin().await?;
    accounts::revoke_device_now(&txn, &dev.id, reason).await?;
    let mut ev = actor.event(actions::DEVICE_REVOKE, Some(&dev.id));
    ev.detail = Some(serde_json::json!({ "reason": reason, "account_id": dev.account_id }));
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(())
}

/// A phone enrolment code (手机登录码) as listed: never the code itself, which is shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentCodeView {
    pub id: String,
    pub account_id: String,
    pub username: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
    /// The device the code registered.
    pub used_device_id: Option<String>,
    pub revoked_at_ms: Option<i64>,
    /// `active`, `used`, `expired` or `revoked`.
    #[schema(pattern = "^(active|used|expired|revoked)$")]
    pub state: &'static str,
}

/// A code just made: the only time the code itself is given out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewEnrolmentCode {
    pub id: String,
    pub account_id: String,
    pub username: String,
    /// The code (16 characters of Crockford's base 32), to type on the phone; case, spaces and
    /// hyphens do not matter.
    pub code: String,
    /// What the QR code holds (docs/PROTOCOL.md, "Enrolment"): `doudi://enrol?v=1&code=…&server=…`.
    pub payload: String,
    pub expires_at_ms: i64,
}

/// Whether an enrolment code may still be exchanged, else the stable code saying why not.
pub fn enrolment_state(c: &enrolment_code::Model, now: i64) -> Result<(), Code> {
    if c.used_at_ms.is_some() {
        Err(Code::EnrolmentCodeUsed)
    } else if c.revoked_at_ms.is_some() {
        Err(Code::EnrolmentCodeRevoked)
    } else if c.expires_at_ms <= now {
        Err(Code::EnrolmentCodeExpired)
    } else {
        Ok(())
    }
}

fn enrolment_view(c: enrolment_code::Model, username: String, now: i64) -> EnrolmentCodeView {
    let state = match enrolment_state(&c, now) {
        Ok(()) => "active",
        Err(Code::EnrolmentCodeUsed) => "used",
        Err(Code::EnrolmentCodeRevoked) => "revoked",
        Err(_) => "expired",
    };
    EnrolmentCodeView {
        id: c.id,
        account_id: c.account_id,
        username,
        created_at_ms: c.created_at_ms,
        expires_at_ms: c.expires_at_ms,
        used_at_ms: c.used_at_ms,
        used_device_id: c.used_device_id,
        revoked_at_ms: c.revoked_at_ms,
        state,
    }
}

/// What a QR code of an enrolment code holds: the server's address last, so that it needs no
/// escaping (docs/PROTOCOL.md, "Enrolment").
pub fn enrolment_payload(server_url: &str, code: &str) -> String {
    format!(
        "doudi://enrol?v=1&code={code}&server={}",
        server_url.trim_end_matches('/')
    )
}

/// Make a one-time enrolment code for a field account (网格员 or 社会救助协理员, enabled) that
/// the administrator may manage, valid for `ttl_secs` (audited `admin.enrolment_create`, naming
/// the code's id, never the code). `server_url` goes into the QR payload.
pub async fn create_enrolment_code(
    db: &DatabaseConnection,
    actor: &Actor,
    account_id: &str,
    ttl_secs: u64,
    server_url: &str,
) -> ApiResult<NewEnrolmentCode> {
    actor
        .require(db, Action::ManageDevices, Target::Scope, "enrolment")
        .await?;
    let acc = managed_account(db, actor, account_id, Action::ManageDevices).await?;
    let field = matches!(
        Role::parse(&acc.role),
        Some(Role::GridWorker | Role::Assistant)
    );
    if !field {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "手机登录码只能为网格员或社会救助协理员生成",
            "enrolment codes are for grid workers and assistants only",
        ));
    }
    if acc.disabled {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "该账号已停用，请先启用再生成手机登录码",
            "the account is disabled; enable it first",
        ));
    }
    let (code, hash) = new_enrolment_code();
    let now = now_ms();
    let expires_at_ms = now.saturating_add((ttl_secs.max(1) as i64).saturating_mul(1000));
    let id = new_id();
    let txn = db.begin().await?;
    enrolment_code::ActiveModel {
        id: Set(id.clone()),
        account_id: Set(acc.id.clone()),
        code_hash: Set(hash),
        created_by: Set(actor.account.id.clone()),
        created_at_ms: Set(now),
        expires_at_ms: Set(expires_at_ms),
        used_at_ms: Set(None),
        used_device_id: Set(None),
        revoked_at_ms: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut ev = actor.event(actions::ENROLMENT_CREATE, Some(&id));
    ev.detail = Some(serde_json::json!({ "account_id": acc.id, "expires_at_ms": expires_at_ms }));
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(NewEnrolmentCode {
        payload: enrolment_payload(server_url, &code),
        code: crate::auth::display_enrolment_code(&code),
        id,
        account_id: acc.id,
        username: acc.username,
        expires_at_ms,
    })
}

/// Enrolment codes of the accounts working inside the administrator's regions (of
/// `account_id` alone when given), newest first.
pub async fn list_enrolment_codes(
    db: &DatabaseConnection,
    actor: &Actor,
    account_id: Option<String>,
) -> ApiResult<Vec<EnrolmentCodeView>> {
    let ids = device_accounts(db, actor, account_id, "enrolment").await?;
    let now = now_ms();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let names = usernames(db, chunk).await?;
        let codes = enrolment_code::Entity::find()
            .filter(enrolment_code::Column::AccountId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        out.extend(codes.into_iter().map(|c| {
            let username = names.get(&c.account_id).cloned().unwrap_or_default();
            enrolment_view(c, username, now)
        }));
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.created_at_ms));
    Ok(out)
}

/// Revoke an enrolment code not yet used (audited `admin.enrolment_revoke`); one used already
/// is `auth.enrolment_code_used` (revoke the device it registered instead), one revoked already
/// stays so.
pub async fn revoke_enrolment_code(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> ApiResult<()> {
    let c = enrolment_code::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound))?;
    managed_account(db, actor, &c.account_id, Action::ManageDevices).await?;
    if c.used_at_ms.is_some() {
        return Err(ApiError::new(Code::EnrolmentCodeUsed).with_message(
            "该登录码已经使用过，不能作废；如需停用，请停用它登记的设备",
            "the code was used already; revoke the device it registered instead",
        ));
    }
    if c.revoked_at_ms.is_some() {
        return Ok(());
    }
    let txn = db.begin().await?;
    enrolment_code::Entity::update_many()
        .col_expr(
            enrolment_code::Column::RevokedAtMs,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(enrolment_code::Column::Id.eq(id))
        .filter(enrolment_code::Column::RevokedAtMs.is_null())
        .exec(&txn)
        .await?;
    let mut ev = actor.event(actions::ENROLMENT_REVOKE, Some(id));
    ev.detail = Some(serde_json::json!({ "account_id": c.account_id }));
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(())
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u64>,
    /// Entries older than this id (paging backwards).
    pub before_id: Option<i64>,
    /// Only this action, e.g. `policy.denied`.
    pub action: Option<String>,
    /// Only entries by this account.
    pub account_id: Option<String>,
    /// Only entries at or after this instant (unix ms).
    pub from_ms: Option<i64>,
    /// Only entries before this instant (unix ms).
    pub to_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub account_id: Option<String>,
    pub device_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub client_addr: Option<String>,
    /// What more the entry says; `null` when nothing.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// Whether the administrator may read the audit log at all (a refusal is audited).
pub async fn may_read_audit(db: &DatabaseConnection, actor: &Actor) -> ApiResult<()> {
    actor
        .require(db, Action::ReadAudit, Target::Scope, "audit")
        .await
}

/// The audit log of the administrator's regions, newest first. Events without an account
/// (failed logins with unknown user names) are shown to administrators of a whole province.
pub async fn list_audit(
    db: &DatabaseConnection,
    actor: &Actor,
    f: &AuditFilter,
) -> ApiResult<Vec<AuditEntry>> {
    may_read_audit(db, actor).await?;
    let mut cond = access::scope_condition(&actor.subject, audit_log::Column::RegionPath);
    // Entries filed under no region (the system's own) are the province administrators'.
    if actor
        .subject
        .scope
        .iter()
        .any(|root| root.matches('/').count() == 2)
    {
        cond = cond.add(audit_log::Column::RegionPath.is_null());
    }
    let mut query = audit_log::Entity::find().filter(cond);
    if let Some(before) = f.before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    if let Some(action) = &f.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(account) = &f.account_id {
        query = query.filter(audit_log::Column::AccountId.eq(account.as_str()));
    }
    if let Some(from) = f.from_ms {
        query = query.filter(audit_log::Column::AtMs.gte(from));
    }
    if let Some(to) = f.to_ms {
        query = query.filter(audit_log::Column::AtMs.lt(to));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(f.limit.unwrap_or(100).clamp(1, 1000))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at_ms: r.at_ms,
            account_id: r.account_id,
            device_id: r.device_id,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            client_addr: r.client_addr,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
        .collect())
}

/// The answer to a policy change the book refuses (`policy.invalid`, with the rule's own code in
/// `details.policy_code`; nothing saved) or to a failed read.
pub fn policy_store_error(e: PolicyStoreError) -> ApiError {
    match e {
        PolicyStoreError::Invalid(p) => ApiError::new(Code::PolicyInvalid)
            .with_message(
                format!("政策设置有误，未保存，原政策继续有效：{}", p.message_zh()),
                format!(
                    "The policy is invalid and was not saved; the previous one stays in force: {}",
                    p.message_en()
                ),
            )
            .with_details(serde_json::json!({ "policy_code": p.code(), "field": p.field() })),
        PolicyStoreError::Db(e) => e.into(),
    }
}

/// Add or replace one layer version of a region inside the administrator's regions, validated
/// on the whole book (an invalid change is `policy.invalid` and leaves the book as it was) and
/// audited `admin.policy_put` in the same transaction. The national layer is set by file import
/// on the server (`doudi policy import`): asking for it is a refusal, audited. Returns the
/// book's new version.
pub async fn put_policy_layer(
    db: &DatabaseConnection,
    actor: &Actor,
    layer: PolicyLayer,
) -> ApiResult<u64> {
    let Some(code) = layer.region.clone() else {
        let (action, d) = (Action::ManageRegions, Decision::DenyScope);
        let answer = Code::Denied.into();
        let caller = actor.caller();
        return Err(caller.deny(db, action, d, "national policy", answer).await);
    };
    let region = regions::find(db, &code).await?.ok_or_else(|| {
        ApiError::new(Code::UnknownRegion).with_message(
            format!("区划代码 {code} 不存在"),
            format!("region code {code} does not exist"),
        )
    })?;
    actor
        .require(
            db,
            Action::ManageRegions,
            Target::Region(&region.path),
            &code,
        )
        .await?;
    let mut ev = actor.event(actions::POLICY_PUT, Some(&code));
    ev.detail = Some(serde_json::json!({
        "effective_from": layer.effective_from.to_string(),
        "source": layer.source,
    }));
    let entry = audit::row(Outcome::Ok, ev);
    policies::put_layer(db, layer, Some(&actor.account.id), Some(entry))
        .await
        .map_err(policy_store_error)
}
