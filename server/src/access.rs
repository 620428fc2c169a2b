//! The access module: every read and write in doudi is decided here.
//!
//! A decision is a pure function of (subject, action, target), [`decide`], written once in
//! `doudi_protocol::access` so that a phone answers "may I" offline as the server does. The subject is an account with one
//! role and the materialised paths of the regions it is bound to; its scope is the union of those
//! subtrees. A target is a region, the subject's own scope, or a blob seen through the documents
//! that point at it. Services ask through an [`Actor`] (made by the HTTP layer from a token, or by the console
//! from its session), which calls [`decide`] and writes every denial to the audit log before
//! answering it.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait};

pub use doudi_protocol::access::{Action, BlobRef, Decision, Subject, Target, decide, role_allows};

use crate::audit::{self, Outcome, actions};
use crate::entity::account;
use crate::error::{ApiError, ApiResult, Code};

/// [`Subject::covers`] as SQL, the one place it is written: rows whose `col` (a materialised
/// region path) lies in one of the subject's regions; no row for a subject bound to none.
pub fn scope_condition(subject: &Subject, col: impl ColumnTrait + Copy) -> Condition {
    scope_condition_with_leaves(subject, col, &[])
}

/// [`scope_condition`] where the roots in `leaves` are known to have no region below them
/// (grids): those are matched by equality, which an index on (`col`, …) serves in order, where a
/// prefix match cannot be served from it.
pub fn scope_condition_with_leaves(
    subject: &Subject,
    col: impl ColumnTrait + Copy,
    leaves: &[&str],
) -> Condition {
    let mut c = Condition::any();
    let mut exact = Vec::new();
    for root in &subject.scope {
        if leaves.contains(&root.as_str()) {
            exact.push(root.as_str());
        } else {
            c = c.add(col.starts_with(root.as_str()));
        }
    }
    if !exact.is_empty() {
        c = c.add(col.is_in(exact));
    }
    if subject.scope.is_empty() {
        // Nothing: an always-false condition.
        c = c.add(col.eq("\u{0}"));
    }
    c
}

/// Who asks, for the audit log: the account, its device and address, and its policy subject.
/// Every denial is written before it is answered, filed under the account's first region (as
/// every entry about an account is); when the entry cannot be written, the answer is the error
/// of that write, not the denial.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub subject: &'a Subject,
    pub account_id: &'a str,
    /// `None` before a device is registered (a console login refused).
    pub device_id: Option<&'a str>,
    pub client_addr: &'a str,
}

impl<'a> Caller<'a> {
    /// The region its audit entries are filed under: its first region.
    pub fn home(&self) -> Option<&'a str> {
        self.subject.scope.first().map(String::as_str)
    }

    /// An audit event by this caller.
    pub fn event<'e>(&self, action: &'e str, target: Option<&'e str>) -> audit::Event<'e>
    where
        'a: 'e,
    {
        audit::Event {
            account_id: Some(self.account_id),
            device_id: self.device_id,
            region_path: self.home(),
            action,
            target,
            client_addr: Some(self.client_addr),
            detail: None,
        }
    }

    /// Ask the access module; a denial is audited and answered `policy.denied`.
    pub async fn require<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        target: Target<'_>,
        label: &str,
    ) -> ApiResult<()> {
        match decide(self.subject, action, target) {
            Decision::Allow => Ok(()),
            d => Err(self.deny(db, action, d, label, Code::Denied.into()).await),
        }
    }

    /// Like [`Caller::require`] for a thing located at `path`, but a scope denial answers
    /// `not_found`: ids guessed outside one's regions reveal nothing.
    pub async fn require_visible<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        path: &str,
        label: &str,
    ) -> ApiResult<()> {
        match decide(self.subject, action, Target::Region(path)) {
            Decision::Allow => Ok(()),
            d => {
                let answer = if d == Decision::DenyScope {
                    Code::NotFound
                } else {
                    Code::Denied
                };
                Err(self.deny(db, action, d, label, answer.into()).await)
            }
        }
    }

    /// Whether the policy allows `action` on `target`, for answers given per item inside a
    /// request (a sync's documents): a denial is written to the audit log when `audit` is set,
    /// and a failed write is the request's error.
    pub async fn permits<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        target: Target<'_>,
        label: &str,
        audit: bool,
    ) -> ApiResult<bool> {
        match decide(self.subject, action, target) {
            Decision::Allow => Ok(true),
            d => {
                if audit {
                    audit::record(db, Outcome::Denied, self.denial(action, d, label)).await?;
                }
                Ok(false)
            }
        }
    }

    /// The audit entry of the denial `decision` of `action` on `label`.
    fn denial<'e>(&self, action: Action, decision: Decision, label: &'e str) -> audit::Event<'e>
    where
        'a: 'e,
    {
        let mut ev = self.event(actions::DENIED, Some(label));
        ev.detail =
            Some(serde_json::json!({ "action": action.as_str(), "reason": decision.reason() }));
        ev
    }

    /// Write the denial `decision` of `action` on `label` to the audit log; the answer is
    /// `answer` once it is written, else the error of the write.
    pub async fn deny<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        decision: Decision,
        label: &str,
        answer: ApiError,
    ) -> ApiError {
        audit::refuse(
            db,
            Outcome::Denied,
            self.denial(action, decision, label),
            answer,
        )
        .await
    }
}

/// One identity for everyone acting on doudi's records: an account, on a device, from an
/// address, with its policy subject. The HTTP layer makes one from a bearer token, the console
/// from its session; services below them take an `&Actor` and ask the access module through it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub subject: Subject,
    pub account: account::Model,
    pub device_id: String,
    pub client_addr: String,
}

impl Actor {
    /// The actor as the access module and the audit log see it.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            subject: &self.subject,
            account_id: &self.account.id,
            device_id: Some(&self.device_id),
            client_addr: &self.client_addr,
        }
    }

    /// Ask the access module; a denial is audited and returned as `policy.denied`.
    pub async fn require<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        target: Target<'_>,
        label: &str,
    ) -> ApiResult<()> {
        self.caller().require(db, action, target, label).await
    }

    /// [`Caller::require_visible`]: a scope denial answers `not_found`.
    pub async fn require_visible<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        path: &str,
        label: &str,
    ) -> ApiResult<()> {
        self.caller().require_visible(db, action, path, label).await
    }

    /// [`Caller::permits`]: allowed or not, a denial audited when `audit` is set.
    pub async fn permits<C: ConnectionTrait>(
        &self,
        db: &C,
        action: Action,
        target: Target<'_>,
        label: &str,
        audit: bool,
    ) -> ApiResult<bool> {
        self.caller()
            .permits(db, action, target, label, audit)
            .await
    }

    /// The pure decision, without audit (a filter over many items).
    pub fn may(&self, action: Action, target: Target<'_>) -> bool {
        decide(&self.subject, action, target).is_allowed()
    }

    /// An audit event by this actor.
    pub fn event<'a>(&'a self, action: &'a str, target: Option<&'a str>) -> audit::Event<'a> {
        self.caller().event(action, target)
    }
}
