//! The append-only audit log: logins, refresh-token reuse, denials, admin actions.
//!
//! Every entry about an account is filed under the account's first region (`region_path`), so
//! that the administrators of that region find it. An entry that cannot be written fails the
//! request: a refusal answers the error of the write instead of the refusal ([`refuse`]), and a
//! change is written in one transaction with its entry, so that it is not made either.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::auth::now_ms;
use crate::entity::audit_log;
use crate::error::ApiError;

/// Stable action names written to the audit log.
pub mod actions {
    pub const LOGIN: &str = "auth.login";
    pub const LOGIN_RATE_LIMITED: &str = "auth.login_rate_limited";
    pub const REFRESH: &str = "auth.refresh";
    pub const REFRESH_REUSE: &str = "auth.refresh_reuse";
    pub const LOGOUT: &str = "auth.logout";
    pub const TOKEN_REJECTED: &str = "auth.token_rejected";
    pub const DENIED: &str = "policy.denied";
    pub const ACCOUNT_CREATE: &str = "admin.account_create";
    pub const ACCOUNT_UPDATE: &str = "admin.account_update";
    pub const DEVICE_REVOKE: &str = "admin.device_revoke";
    pub const POLICY_PUT: &str = "admin.policy_put";
    pub const REGION_IMPORT: &str = "admin.region_import";
    /// A phone enrolment code (手机登录码) made; the entry names the code's id, never the code.
    pub const ENROLMENT_CREATE: &str = "admin.enrolment_create";
    pub const ENROLMENT_REVOKE: &str = "admin.enrolment_revoke";
    /// A phone logged in with an enrolment code (or was refused one).
    pub const ENROL: &str = "auth.enrol";
    pub const TASKS_SCHEDULE: &str = "tasks.schedule";
    pub const HOUSEHOLD_RISK: &str = "household.risk_level";
    /// An export (导出台账) of any ledger or comparison.
    pub const EXPORT: &str = "export";
}

/// Outcome of the audited event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to append.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub account_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub region_path: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

/// The row of an event, for callers that insert it with others.
pub fn row(outcome: Outcome, e: Event<'_>) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        at_ms: Set(now_ms()),
        account_id: Set(e.account_id.map(str::to_string)),
        device_id: Set(e.device_id.map(str::to_string)),
        region_path: Set(e.region_path.map(str::to_string)),
        action: Set(e.action.to_string()),
        target: Set(e.target.map(|t| t.chars().take(256).collect())),
        outcome: Set(outcome.as_str().to_string()),
        client_addr: Set(e.client_addr.map(str::to_string)),
        detail: Set(e.detail.map(|d| d.to_string())),
        ..Default::default()
    }
}

/// Append an event. A failure to write is logged and returned; the request fails with it.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    outcome: Outcome,
    e: Event<'_>,
) -> Result<(), sea_orm::DbErr> {
    let action = e.action;
    let row = row(outcome, e);
    match row.insert(db).await {
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::error!(error = %err, action, "cannot write audit log");
            Err(err)
        }
    }
}

/// Append the entry of a refusal (outcome `denied` or `failed`); the request answers `answer`
/// once it is written, else the error of the write (`server.unavailable` when the database
/// cannot be reached, else `server.internal`).
pub async fn refuse<C: ConnectionTrait>(
    db: &C,
    outcome: Outcome,
    e: Event<'_>,
    answer: ApiError,
) -> ApiError {
    match record(db, outcome, e).await {
        Ok(()) => answer,
        Err(err) => err.into(),
    }
}
