//! Administration within one's own regions: region import, accounts, devices, audit log.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use doudi_protocol::role::Role;

use super::{ApiBody, ApiJson, ApiQuery, AuthContext, SharedState};
use crate::access::{self, Action, Decision, Target};
use crate::accounts::{self, AccountView, NewAccount};
use crate::audit::{self, Outcome, actions};
use crate::auth::{hash_password, now_ms};
use crate::entity::{account, account_region, audit_log, device, region};
use crate::error::{ApiError, ApiResult, Code};
use crate::regions::{self, ImportError, ImportReport};

/// Import regions from CSV (`code,parent_code,level,name`); all or nothing.
#[utoipa::path(post, path = "/api/v1/admin/regions/import", tag = "admin", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport),
              (status = 422, body = crate::error::ErrorBody, description = "`region.csv_invalid`: bad lines (`details.lines`), nothing imported")))]
pub async fn import_regions(
    State(state): State<SharedState>,
    ctx: AuthContext,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<ImportReport>> {
    ctx.require(&state.db, Action::ManageRegions, Target::Scope, "regions")
        .await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/csv") {
        return Err(ApiError::new(Code::UnsupportedMediaType).with_message(
            "请以 text/csv 提交区划文件。",
            "Send the region file as text/csv.",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(Code::RegionCsvInvalid)
            .with_message("文件须为 UTF-8 编码。", "The file must be UTF-8.")
    })?;
    let entry = |report: &ImportReport| {
        let mut ev = ctx.event(actions::REGION_IMPORT, None);
        ev.detail =
            Some(serde_json::json!({ "created": report.created, "renamed": report.renamed }));
        Some(audit::row(Outcome::Ok, ev))
    };
    let max = state.settings.max_region_import_rows;
    match regions::import_csv_audited(&state.db, text, max, Some(&ctx.subject), entry).await {
        Ok(report) => Ok(Json(report)),
        Err(ImportError::Lines(lines)) => {
            let answer = ApiError::new(Code::RegionCsvInvalid)
                .with_details(serde_json::json!({ "lines": lines }));
            let outside: Vec<u64> = lines
                .iter()
                .filter(|l| l.outside_scope)
                .map(|l| l.line)
                .collect();
            if outside.is_empty() {
                return Err(answer);
            }
            // Lines outside the administrator's regions are a refusal of the access module.
            let label = format!("regions: lines {outside:?}");
            let (action, d) = (Action::ManageRegions, Decision::DenyScope);
            Err(ctx
                .caller()
                .deny(&state.db, action, d, &label, answer)
                .await)
        }
        Err(ImportError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
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

/// Every region must be inside the administrator's own regions.
async fn require_regions(
    state: &SharedState,
    ctx: &AuthContext,
    regions: &[region::Model],
    label: &str,
) -> ApiResult<()> {
    for r in regions {
        ctx.require(
            &state.db,
            Action::ManageAccounts,
            Target::Region(&r.path),
            label,
        )
        .await?;
    }
    Ok(())
}

/// Create an account bound to regions inside one's own.
#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "admin", security(("bearer" = [])),
    request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView),
              (status = 409, body = crate::error::ErrorBody, description = "`account.username_taken`"),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn create_account(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiJson(req): ApiJson<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    ctx.require(
        &state.db,
        Action::ManageAccounts,
        Target::Scope,
        &req.username,
    )
    .await?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(Code::InvalidRequest).with_message(
            format!("角色“{}”无效", req.role),
            format!("unknown role '{}'", req.role),
        )
    })?;
    if req.regions.len() > 100 {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "一个账号最多绑定 100 个区划",
            "an account can be bound to at most 100 regions",
        ));
    }
    let regions = accounts::load_regions(&state.db, &req.regions).await?;
    require_regions(&state, &ctx, &regions, &req.username).await?;
    let new = NewAccount {
        username: req.username,
        display_name: req.display_name,
        role,
        password: req.password,
        region_codes: req.regions,
    };
    let entry = |created: &account::Model| {
        let ev = ctx.event(actions::ACCOUNT_CREATE, Some(&created.id));
        Some(audit::row(Outcome::Ok, ev))
    };
    let created = accounts::create_audited(&state.db, new, entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(accounts::view(&state.db, &created).await?),
    ))
}

/// Ids of accounts bound to at least one region inside the caller's scope.
async fn accounts_in_scope(state: &SharedState, ctx: &AuthContext) -> ApiResult<Vec<String>> {
    let codes: Vec<String> = region::Entity::find()
        .filter(access::scope_condition(&ctx.subject, region::Column::Path))
        .select_only()
        .column(region::Column::Code)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut ids = HashSet::new();
    for chunk in codes.chunks(500) {
        let rows = account_region::Entity::find()
            .filter(account_region::Column::RegionCode.is_in(chunk.iter().cloned()))
            .all(&state.db)
            .await?;
        ids.extend(rows.into_iter().map(|r| r.account_id));
    }
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort();
    Ok(ids)
}

/// An account that the caller may manage: all its regions inside the caller's.
async fn managed_account(
    state: &SharedState,
    ctx: &AuthContext,
    id: &str,
    action: Action,
) -> ApiResult<account::Model> {
    let acc = account::Entity::find_by_id(id.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound))?;
    let regions = accounts::regions_of(&state.db, &acc.id).await?;
    if regions.is_empty() {
        ctx.require(&state.db, action, Target::Region("/"), id)
            .await?;
    }
    for r in &regions {
        ctx.require(&state.db, action, Target::Region(&r.path), id)
            .await?;
    }
    Ok(acc)
}

/// Accounts working inside the caller's regions.
#[utoipa::path(get, path = "/api/v1/admin/accounts", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [AccountView])))]
pub async fn list_accounts(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<Vec<AccountView>>> {
    ctx.require(&state.db, Action::ManageAccounts, Target::Scope, "accounts")
        .await?;
    let ids = accounts_in_scope(&state, &ctx).await?;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let accs = account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().cloned()))
            .order_by_asc(account::Column::Username)
            .all(&state.db)
            .await?;
        for a in accs {
            out.push(accounts::view(&state.db, &a).await?);
        }
    }
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
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

/// Rename, disable or re-enable an account, or set a new password.
#[utoipa::path(patch, path = "/api/v1/admin/accounts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    request_body = UpdateAccountRequest,
    responses((status = 200, body = AccountView),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`"),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn update_account(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateAccountRequest>,
) -> ApiResult<Json<AccountView>> {
    let acc = managed_account(&state, &ctx, &id, Action::ManageAccounts).await?;
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
    if acc.id == ctx.account.id && req.disabled == Some(true) {
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
            if codes.len() > 100 {
                return Err(ApiError::new(Code::InvalidRequest).with_message(
                    "一个账号最多绑定 100 个区划",
                    "an account can be bound to at most 100 regions",
                ));
            }
            let regions = accounts::load_regions(&state.db, codes).await?;
            require_regions(&state, &ctx, &regions, &id).await?;
            Some(regions)
        }
        None => None,
    };
    let txn = state.db.begin().await?;
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
    let mut ev = ctx.event(actions::ACCOUNT_UPDATE, Some(&updated.id));
    ev.detail = Some(detail);
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(Json(accounts::view(&state.db, &updated).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Only this account's devices.
    pub account_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
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

/// Devices of the accounts working inside the caller's regions.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin", security(("bearer" = [])), params(DeviceQuery),
    responses((status = 200, body = [DeviceView]),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such account")))]
pub async fn list_devices(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<Vec<DeviceView>>> {
    ctx.require(&state.db, Action::ManageDevices, Target::Scope, "devices")
        .await?;
    let ids = match q.account_id {
        Some(id) => {
            managed_account(&state, &ctx, &id, Action::ManageDevices).await?;
            vec![id]
        }
        None => accounts_in_scope(&state, &ctx).await?,
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let names: HashMap<String, String> = account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().cloned()))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.username))
            .collect();
        let devices = device::Entity::find()
            .filter(device::Column::AccountId.is_in(chunk.iter().cloned()))
            .order_by_desc(device::Column::LastSeenAtMs)
            .all(&state.db)
            .await?;
        out.extend(devices.into_iter().map(|d| DeviceView {
            username: names.get(&d.account_id).cloned().unwrap_or_default(),
            id: d.id,
            account_id: d.account_id,
            name: d.name,
            platform: d.platform,
            created_at_ms: d.created_at_ms,
            last_seen_at_ms: d.last_seen_at_ms,
            revoked_at_ms: d.revoked_at_ms,
            revoked_reason: d.revoked_reason,
        }));
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why, e.g. "手机丢失" (phone lost). Kept with the device and in the audit log.
    pub reason: String,
}

/// Revoke a device at once: its tokens stop working and its next contact tells it to wipe.
#[utoipa::path(post, path = "/api/v1/admin/devices/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    request_body = RevokeRequest,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody, description = "`not_found`")))]
pub async fn revoke_device(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> ApiResult<StatusCode> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 256 {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "请填写停用原因（不超过 256 字）",
            "give a reason of at most 256 characters",
        ));
    }
    let dev = device::Entity::find_by_id(id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound))?;
    managed_account(&state, &ctx, &dev.account_id, Action::ManageDevices).await?;
    let txn = state.db.begin().await?;
    super::auth::revoke_device_now(&txn, &dev.id, reason).await?;
    let mut ev = ctx.event(actions::DEVICE_REVOKE, Some(&dev.id));
    ev.detail = Some(serde_json::json!({ "reason": reason, "account_id": dev.account_id }));
    audit::record(&txn, Outcome::Ok, ev).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u64>,
    /// Entries older than this id (for paging backwards).
    pub before_id: Option<i64>,
    /// Only this action, e.g. `policy.denied`.
    pub action: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
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

/// The audit log of the caller's regions, newest first. Events without an account (failed logins
/// with unknown user names) are shown to administrators of a whole province.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditEntry])))]
pub async fn list_audit(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    ctx.require(&state.db, Action::ReadAudit, Target::Scope, "audit")
        .await?;
    let mut cond = access::scope_condition(&ctx.subject, audit_log::Column::RegionPath);
    // Entries filed under no region (the system's own) are the province administrators'.
    if ctx
        .subject
        .scope
        .iter()
        .any(|root| root.matches('/').count() == 2)
    {
        cond = cond.add(audit_log::Column::RegionPath.is_null());
    }
    let mut query = audit_log::Entity::find().filter(cond);
    if let Some(before) = q.before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    if let Some(action) = &q.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(q.limit.unwrap_or(100).clamp(1, 1000))
        .all(&state.db)
        .await?;
    Ok(Json(
        rows.into_iter()
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
            .collect(),
    ))
}
