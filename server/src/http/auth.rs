//! Login (with a password or a phone enrolment code), refresh-token rotation, logout and the
//! caller's own account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, AuthContext, ClientAddr, SharedState};
use crate::accounts::{self, AccountView};
use crate::audit::{self, Outcome, actions};
use crate::auth::{
    TokenKeys, dummy_hash, hash_enrolment_code, hash_refresh_token, new_refresh_token,
    normalise_enrolment_code, now_ms, verify_password,
};
use crate::entity::{account, device, enrolment_code, login_attempt, refresh_token};
use crate::error::{ApiError, ApiResult, Code};

/// The phone or browser logging in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// The id the server gave this device at an earlier login; absent on first login. The answer
    /// names the same id unless it is another account's or not issued by this server
    /// (docs/PROTOCOL.md section 10); a revoked device is refused.
    #[serde(default)]
    pub id: Option<String>,
    /// A name the user recognises, e.g. "Redmi Note 12" (1–128 characters).
    pub name: String,
    /// `android`, `ios`, `web` or `desktop`.
    #[schema(pattern = "^(android|ios|web|desktop)$")]
    pub platform: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub device: DeviceInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: exchange it at `/auth/refresh` for a new pair. Using it twice revokes the device.
    pub refresh_token: String,
    pub device_id: String,
    pub account: AccountView,
    /// The server's public key for 身份证号 (X25519, 64 hexadecimal characters): a phone seals
    /// each number it captures to it (libsodium's sealed box) before the number goes into a
    /// document. The same as `GET /api/v1/identity-key`.
    pub identity_key: String,
}

const PLATFORMS: [&str; 4] = ["android", "ios", "web", "desktop"];

fn invalid(zh: &str, en: &str) -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(zh, en)
}

async fn issue_tokens(
    state: &SharedState,
    account: &account::Model,
    device_id: &str,
) -> ApiResult<TokenResponse> {
    let now = now_ms();
    let (token, hash) = new_refresh_token();
    refresh_token::ActiveModel {
        device_id: Set(device_id.to_string()),
        token_hash: Set(hash),
        issued_at_ms: Set(now),
        expires_at_ms: Set(now + state.settings.refresh_token_ttl_days as i64 * 86_400_000),
        used_at_ms: Set(None),
        ended_at_ms: Set(None),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(TokenResponse {
        access_token: state.keys.issue(device_id),
        token_type: "Bearer",
        expires_in: state.keys.access_ttl_secs,
        refresh_token: token,
        device_id: device_id.to_string(),
        account: accounts::view(&state.db, account).await?,
        identity_key: state.identity.seal_key().to_hex(),
    })
}

/// Seconds until a held account or address may try again, or `None` when not held.
///
/// Without a user name (an enrolment code), only the address's failures count.
pub(crate) async fn rate_limit(
    state: &SharedState,
    username: Option<&str>,
    addr: &str,
) -> ApiResult<Option<u64>> {
    let s = &state.settings;
    let now = now_ms();
    let window_ms = s.login_window_secs as i64 * 1000;
    let since = now - window_ms;
    let mut limits = Vec::new();
    if let Some(username) = username {
        // A successful login clears the account's count.
        let last_ok = login_attempt::Entity::find()
            .filter(login_attempt::Column::Username.eq(username))
            .filter(login_attempt::Column::Success.eq(true))
            .filter(login_attempt::Column::AtMs.gt(since))
            .order_by_desc(login_attempt::Column::AtMs)
            .one(&state.db)
            .await?
            .map(|a| a.at_ms)
            .unwrap_or(since);
        let account_failures = login_attempt::Entity::find()
            .filter(login_attempt::Column::Username.eq(username))
            .filter(login_attempt::Column::Success.eq(false))
            .filter(login_attempt::Column::AtMs.gt(last_ok.max(since)))
            .order_by_desc(login_attempt::Column::AtMs);
        limits.push((account_failures, s.login_max_failures_per_account));
    }
    let addr_failures = login_attempt::Entity::find()
        .filter(login_attempt::Column::ClientAddr.eq(addr))
        .filter(login_attempt::Column::Success.eq(false))
        .filter(login_attempt::Column::AtMs.gt(since))
        .order_by_desc(login_attempt::Column::AtMs);
    limits.push((addr_failures, s.login_max_failures_per_addr));
    for (query, limit) in limits {
        let limit = limit.max(1) as u64;
        if query.clone().count(&state.db).await? >= limit {
            // Held until the oldest of the last `limit` failures leaves the window.
            let oldest = query
                .offset(limit - 1)
                .one(&state.db)
                .await?
                .map(|a| a.at_ms)
                .unwrap_or(now);
            let wait_ms = (oldest + window_ms - now).max(1000);
            return Ok(Some((wait_ms as u64).div_ceil(1000)));
        }
    }
    Ok(None)
}

pub(crate) async fn record_attempt(
    state: &SharedState,
    username: &str,
    addr: &str,
    success: bool,
) -> ApiResult<()> {
    login_attempt::ActiveModel {
        username: Set(username.to_string()),
        client_addr: Set(addr.to_string()),
        at_ms: Set(now_ms()),
        success: Set(success),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(())
}

/// Log in with user name and password; registers the device at first login.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = crate::error::ErrorBody, description = "`auth.invalid_credentials`"),
              (status = 403, body = crate::error::ErrorBody, description = "`auth.account_disabled`, `auth.device_revoked`"),
              (status = 429, body = crate::error::ErrorBody, description = "`auth.rate_limited`; `Retry-After` says when")))]
pub async fn login(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if req.username.is_empty() || req.username.len() > 64 || req.password.len() > 1024 {
        return Err(ApiError::new(Code::InvalidCredentials));
    }
    check_device(&req.device)?;
    let (account, home) = check_password(&state, &req.username, req.password, &addr, None).await?;
    let registered = register_device(
        &state.db,
        &state.keys,
        &account,
        home.as_deref(),
        &req.device,
        &addr,
        actions::LOGIN,
    )
    .await?;
    let device_id = registered.id.clone();
    record_attempt(&state, &req.username, &addr, true).await?;
    let resp = issue_tokens(&state, &account, &device_id).await?;
    let scope = resp.account.regions.first().map(|r| r.code.clone());
    // Without its entry the login fails: the tokens just issued are never handed out.
    audit::record(
        &state.db,
        Outcome::Ok,
        audit::Event {
            account_id: Some(&account.id),
            region_path: home.as_deref(),
            device_id: Some(&device_id),
            action: actions::LOGIN,
            target: scope.as_deref(),
            client_addr: Some(&addr),
            detail: registered.detail(),
        },
    )
    .await?;
    Ok(Json(resp))
}

/// The device's name and platform as a login takes them.
fn check_device(device: &DeviceInfo) -> ApiResult<()> {
    let name = device.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(invalid(
            "设备名称不能为空且不超过 128 字",
            "the device name must be 1 to 128 characters",
        ));
    }
    if !PLATFORMS.contains(&device.platform.as_str()) {
        return Err(invalid(
            "设备平台须为 android、ios、web 或 desktop",
            "the platform must be android, ios, web or desktop",
        ));
    }
    Ok(())
}

/// The device a login (`action`: a password or an enrolment code) comes from: the account's
/// device of the id given, renamed and signed in again, or a new one. A revoked device is
/// refused (audited under `action`); another account's id gets a new device: ids are
/// server-issued. An id the server has no record of is registered again as it is when it proves
/// that this server issued it to this account ([`TokenKeys::issued_device_id`]: the phone was
/// first registered after the backup the database was restored from), else a new device. Of
/// two logins registering that id at once, the second signs in the device the first registered.
async fn register_device<C: ConnectionTrait>(
    db: &C,
    keys: &TokenKeys,
    account: &account::Model,
    home: Option<&str>,
    device: &DeviceInfo,
    addr: &str,
    action: &str,
) -> ApiResult<Registered> {
    let name = device.name.trim();
    let now = now_ms();
    // Twice at most: an insert that finds its id taken (another login of the same phone at once,
    // both registering the id the server issued it again) reads the device that login registered.
    for _ in 0..2 {
        let known = match &device.id {
            Some(id) => device::Entity::find_by_id(id.clone()).one(db).await?,
            None => None,
        };
        if let Some(d) = known.as_ref().filter(|d| d.account_id == account.id) {
            if d.revoked_at_ms.is_some() {
                let ev = audit::Event {
                    account_id: Some(&account.id),
                    region_path: home,
                    device_id: Some(&d.id),
                    action,
                    client_addr: Some(addr),
                    detail: Some(serde_json::json!({ "reason": "device revoked" })),
                    ..Default::default()
                };
                let answer = ApiError::new(Code::DeviceRevoked);
                return Err(audit::refuse(db, Outcome::Denied, ev, answer).await);
            }
            let id = d.id.clone();
            let mut d: device::ActiveModel = d.clone().into();
            d.name = Set(name.to_string());
            d.last_seen_at_ms = Set(now);
            d.signed_out_at_ms = Set(None);
            d.update(db).await?;
            return Ok(Registered { id, again: false });
        }
        let reused = (device.id.as_ref())
            .filter(|id| known.is_none() && keys.issued_device_id(id, &account.id));
        let id = reused
            .cloned()
            .unwrap_or_else(|| keys.new_device_id(&account.id));
        let row = device::ActiveModel {
            id: Set(id.clone()),
            account_id: Set(account.id.clone()),
            name: Set(name.to_string()),
            platform: Set(device.platform.clone()),
            created_at_ms: Set(now),
            last_seen_at_ms: Set(now),
            revoked_at_ms: Set(None),
            revoked_reason: Set(None),
            signed_out_at_ms: Set(None),
        };
        let inserted = device::Entity::insert(row)
            .on_conflict_do_nothing_on([device::Column::Id])
            .exec(db)
            .await?;
        if matches!(inserted, TryInsertResult::Inserted(_)) {
            if reused.is_some() {
                tracing::info!(device = %id, "an unknown device signed in again under the id this server issued it");
            }
            return Ok(Registered {
                id,
                again: reused.is_some(),
            });
        }
    }
    Err(ApiError::internal("a device id was taken twice in a row"))
}

/// The device a login registered: its id, and whether it was registered again under an id this
/// server issued but has no record of (after a restore).
struct Registered {
    id: String,
    again: bool,
}

impl Registered {
    /// The login's audit detail: said only of a device registered again.
    fn detail(&self) -> Option<serde_json::Value> {
        (self.again).then(|| serde_json::json!({ "device": "registered again under its own id" }))
    }
}

/// The user name failed enrolment codes are counted under for the address's rate limit (no
/// account can have it: user names are letters, digits and `._-`).
const ENROL_ATTEMPT: &str = "#enrol";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The enrolment code (手机登录码) as typed or scanned: case, spaces and hyphens do not
    /// matter.
    pub code: String,
    pub device: DeviceInfo,
}

/// Log in a phone with a one-time enrolment code an administrator made for a field account
/// (instead of its password); answers as a login does. The code works once, until it expires
/// or is revoked.
#[utoipa::path(post, path = "/api/v1/auth/enrol", tag = "auth", request_body = EnrolRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = crate::error::ErrorBody, description = "`auth.enrolment_code_invalid`"),
              (status = 403, body = crate::error::ErrorBody, description = "`auth.account_disabled`, `auth.device_revoked`"),
              (status = 410, body = crate::error::ErrorBody, description = "`auth.enrolment_code_used`, `auth.enrolment_code_expired`, `auth.enrolment_code_revoked`"),
              (status = 429, body = crate::error::ErrorBody, description = "`auth.rate_limited`; `Retry-After` says when")))]
pub async fn enrol(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> ApiResult<Json<TokenResponse>> {
    check_device(&req.device)?;
    if let Some(wait) = rate_limit(&state, None, &addr).await? {
        let answer = ApiError::new(Code::RateLimited)
            .with_message(
                format!("登录码错误次数过多，请 {} 分钟后再试。", wait.div_ceil(60)),
                format!("Too many wrong enrolment codes. Try again in {wait} seconds."),
            )
            .retry_after(wait);
        let ev = audit::Event {
            action: actions::LOGIN_RATE_LIMITED,
            client_addr: Some(&addr),
            detail: Some(serde_json::json!({ "via": "enrolment" })),
            ..Default::default()
        };
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, answer).await);
    }
    let found = match normalise_enrolment_code(&req.code) {
        Some(code) => {
            enrolment_code::Entity::find()
                .filter(enrolment_code::Column::CodeHash.eq(hash_enrolment_code(&code)))
                .one(&state.db)
                .await?
        }
        None => None,
    };
    let Some(row) = found else {
        record_attempt(&state, ENROL_ATTEMPT, &addr, false).await?;
        let ev = audit::Event {
            action: actions::ENROL,
            client_addr: Some(&addr),
            detail: Some(serde_json::json!({ "reason": "unknown code" })),
            ..Default::default()
        };
        let answer = ApiError::new(Code::EnrolmentCodeInvalid);
        return Err(audit::refuse(&state.db, Outcome::Failed, ev, answer).await);
    };
    let home = accounts::home_path(&state.db, &row.account_id).await?;
    let refusal = |reason: &'static str| audit::Event {
        account_id: Some(&row.account_id),
        region_path: home.as_deref(),
        action: actions::ENROL,
        target: Some(&row.id),
        client_addr: Some(&addr),
        detail: Some(serde_json::json!({ "reason": reason })),
        ..Default::default()
    };
    let now = now_ms();
    if let Err(code) = crate::admin::enrolment_state(&row, now) {
        record_attempt(&state, ENROL_ATTEMPT, &addr, false).await?;
        let ev = refusal(code.as_str());
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, ApiError::new(code)).await);
    }
    let Some(account) = account::Entity::find_by_id(row.account_id.clone())
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::new(Code::EnrolmentCodeInvalid));
    };
    if account.disabled {
        let ev = refusal("account disabled");
        let answer = ApiError::new(Code::AccountDisabled);
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, answer).await);
    }
    let txn = state.db.begin().await?;
    // Spend the code; of two phones presenting it at once, one wins.
    let spent = enrolment_code::Entity::update_many()
        .col_expr(enrolment_code::Column::UsedAtMs, Expr::value(now))
        .filter(enrolment_code::Column::Id.eq(row.id.as_str()))
        .filter(enrolment_code::Column::UsedAtMs.is_null())
        .filter(enrolment_code::Column::RevokedAtMs.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        drop(txn);
        let ev = refusal(Code::EnrolmentCodeUsed.as_str());
        let answer = ApiError::new(Code::EnrolmentCodeUsed);
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, answer).await);
    }
    let registered = register_device(
        &txn,
        &state.keys,
        &account,
        home.as_deref(),
        &req.device,
        &addr,
        actions::ENROL,
    )
    .await?;
    let device_id = registered.id.clone();
    enrolment_code::Entity::update_many()
        .col_expr(
            enrolment_code::Column::UsedDeviceId,
            Expr::value(device_id.as_str()),
        )
        .filter(enrolment_code::Column::Id.eq(row.id.as_str()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        Outcome::Ok,
        audit::Event {
            account_id: Some(&account.id),
            region_path: home.as_deref(),
            device_id: Some(&device_id),
            action: actions::ENROL,
            target: Some(&row.id),
            client_addr: Some(&addr),
            detail: registered.detail(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Json(issue_tokens(&state, &account, &device_id).await?))
}

/// The checks of a password login (the API's and the console's, `via` naming the latter in the
/// audit log): the rate limits, the password, the account enabled. Every refusal is audited,
/// under the account's first region when the user name is an account's. Returns the account
/// and that region.
pub(crate) async fn check_password(
    state: &SharedState,
    username: &str,
    password: String,
    addr: &str,
    via: Option<&str>,
) -> ApiResult<(account::Model, Option<String>)> {
    let account = accounts::find_by_username(&state.db, username).await?;
    let home = match &account {
        Some(a) => accounts::home_path(&state.db, &a.id).await?,
        None => None,
    };
    let refusal = |action: &'static str, reason: Option<&'static str>| {
        let mut detail = serde_json::Map::new();
        if let Some(r) = reason {
            detail.insert("reason".into(), r.into());
        }
        if let Some(v) = via {
            detail.insert("via".into(), v.into());
        }
        audit::Event {
            account_id: account.as_ref().map(|a| a.id.as_str()),
            region_path: home.as_deref(),
            action,
            target: Some(username),
            client_addr: Some(addr),
            detail: (!detail.is_empty()).then_some(serde_json::Value::Object(detail)),
            ..Default::default()
        }
    };
    if let Some(wait) = rate_limit(state, Some(username), addr).await? {
        let answer = ApiError::new(Code::RateLimited)
            .with_message(
                format!("登录失败次数过多，请 {} 分钟后再试。", wait.div_ceil(60)),
                format!("Too many failed logins. Try again in {wait} seconds."),
            )
            .retry_after(wait);
        let ev = refusal(actions::LOGIN_RATE_LIMITED, None);
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, answer).await);
    }
    let stored = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(ApiError::internal)?;
    let Some(found) = account.as_ref().filter(|_| password_ok) else {
        record_attempt(state, username, addr, false).await?;
        let ev = refusal(actions::LOGIN, Some("wrong credentials"));
        let answer = ApiError::new(Code::InvalidCredentials);
        return Err(audit::refuse(&state.db, Outcome::Failed, ev, answer).await);
    };
    if found.disabled {
        let ev = refusal(actions::LOGIN, Some("account disabled"));
        let answer = ApiError::new(Code::AccountDisabled);
        return Err(audit::refuse(&state.db, Outcome::Denied, ev, answer).await);
    }
    let found = found.clone();
    Ok((found, home))
}

/// Exchange a refresh token for a new access token and a new refresh token (rotation).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = crate::error::ErrorBody, description = "`auth.refresh_invalid`, `auth.refresh_reused`, `auth.session_ended`"),
              (status = 403, body = crate::error::ErrorBody, description = "`auth.account_disabled`, `auth.device_revoked`")))]
pub async fn refresh(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 128 {
        return Err(ApiError::new(Code::RefreshInvalid));
    }
    let hash = hash_refresh_token(&req.refresh_token);
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(&state.db)
        .await?
    else {
        return Err(rejected(
            &state,
            None,
            &addr,
            "unknown refresh token",
            Code::RefreshInvalid,
        )
        .await);
    };
    let Some(dev) = device::Entity::find_by_id(row.device_id.clone())
        .one(&state.db)
        .await?
    else {
        return Err(rejected(&state, None, &addr, "unknown device", Code::RefreshInvalid).await);
    };
    if dev.revoked_at_ms.is_some() {
        let reason = "device revoked";
        return Err(rejected(&state, Some(&dev), &addr, reason, Code::DeviceRevoked).await);
    }
    let now = now_ms();
    if row.used_at_ms.is_some() {
        return Err(reuse_detected(&state, &dev, &addr).await);
    }
    if row.ended_at_ms.is_some() {
        return Err(ApiError::new(Code::SessionEnded));
    }
    if row.expires_at_ms <= now {
        return Err(ApiError::new(Code::RefreshInvalid));
    }
    // Spend the token; only one of two concurrent presentations can win.
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAtMs, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAtMs.is_null())
        .filter(refresh_token::Column::EndedAtMs.is_null())
        .exec(&state.db)
        .await?;
    if spent.rows_affected != 1 {
        return Err(reuse_detected(&state, &dev, &addr).await);
    }
    let Some(account) = account::Entity::find_by_id(dev.account_id.clone())
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::new(Code::RefreshInvalid));
    };
    if account.disabled {
        let reason = "account disabled";
        return Err(rejected(&state, Some(&dev), &addr, reason, Code::AccountDisabled).await);
    }
    let dev_id = dev.id.clone();
    let mut d: device::ActiveModel = dev.into();
    d.last_seen_at_ms = Set(now);
    d.update(&state.db).await?;
    Ok(Json(issue_tokens(&state, &account, &dev_id).await?))
}

/// A refresh token refused (`auth.token_rejected`), filed under the device's account's first
/// region when the device is known; answers `code` once written.
async fn rejected(
    state: &SharedState,
    dev: Option<&device::Model>,
    addr: &str,
    reason: &str,
    code: Code,
) -> ApiError {
    let home = match dev {
        Some(d) => match accounts::home_path(&state.db, &d.account_id).await {
            Ok(h) => h,
            Err(e) => return e.into(),
        },
        None => None,
    };
    let ev = audit::Event {
        account_id: dev.map(|d| d.account_id.as_str()),
        device_id: dev.map(|d| d.id.as_str()),
        region_path: home.as_deref(),
        action: actions::TOKEN_REJECTED,
        client_addr: Some(addr),
        detail: Some(serde_json::json!({ "reason": reason, "token": "refresh" })),
        ..Default::default()
    };
    audit::refuse(&state.db, Outcome::Denied, ev, ApiError::new(code)).await
}

/// A spent refresh token presented again: it was copied. The device is revoked first, whatever
/// happens to the audit entry after (a protective revocation is never undone); then the event is
/// filed under the account's first region.
async fn reuse_detected(state: &SharedState, dev: &device::Model, addr: &str) -> ApiError {
    if let Err(e) = accounts::revoke_device_now(&state.db, &dev.id, "refresh token reuse").await {
        return e.into();
    }
    let home = match accounts::home_path(&state.db, &dev.account_id).await {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let ev = audit::Event {
        account_id: Some(&dev.account_id),
        device_id: Some(&dev.id),
        region_path: home.as_deref(),
        action: actions::REFRESH_REUSE,
        client_addr: Some(addr),
        detail: Some(serde_json::json!({ "revoked_device": dev.id })),
        ..Default::default()
    };
    audit::refuse(
        &state.db,
        Outcome::Denied,
        ev,
        ApiError::new(Code::RefreshReused),
    )
    .await
}

/// End this device's session: its refresh token and its access tokens stop working at once
/// (`auth.session_ended`). The device stays registered and logs in again with its id.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204)))]
pub async fn logout(State(state): State<SharedState>, ctx: AuthContext) -> ApiResult<StatusCode> {
    let txn = state.db.begin().await?;
    device::Entity::update_many()
        .col_expr(device::Column::SignedOutAtMs, Expr::value(now_ms()))
        .filter(device::Column::Id.eq(ctx.device_id.as_str()))
        .exec(&txn)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::EndedAtMs, Expr::value(now_ms()))
        .filter(refresh_token::Column::DeviceId.eq(ctx.device_id.as_str()))
        .filter(refresh_token::Column::EndedAtMs.is_null())
        .filter(refresh_token::Column::UsedAtMs.is_null())
        .exec(&txn)
        .await?;
    audit::record(&txn, Outcome::Ok, ctx.event(actions::LOGOUT, None)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub account: AccountView,
    pub device_id: String,
}

/// The caller's own account, role and regions.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse)))]
pub async fn me(State(state): State<SharedState>, ctx: AuthContext) -> ApiResult<Json<MeResponse>> {
    Ok(Json(MeResponse {
        account: accounts::view(&state.db, &ctx.account).await?,
        device_id: ctx.device_id.clone(),
    }))
}
