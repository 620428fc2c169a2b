//! The access module: every read and write in doudi is decided here.
//!
//! A decision is a pure function of (subject, action, target). The subject is an account with one
//! role and the materialised paths of the regions it is bound to; its scope is the union of those
//! subtrees. A target is a region, the subject's own scope, or a blob seen through the documents
//! that point at it. Services ask through an [`Actor`] (made by the HTTP layer from a token, or by the console
//! from its session), which calls [`decide`] and writes every denial to the audit log before
//! answering it.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait};

use doudi_protocol::role::Role;

use crate::audit::{self, Outcome, actions};
use crate::entity::account;
use crate::error::{ApiError, ApiResult, Code};

/// What someone wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See a region's name and place in the tree.
    ReadRegion,
    /// Import or change regions below one's scope.
    ManageRegions,
    /// Create, change or disable accounts.
    ManageAccounts,
    /// List and revoke devices.
    ManageDevices,
    /// Read the audit log.
    ReadAudit,
    /// Read household, visit and report documents (masked).
    ReadCase,
    /// Write household and visit documents (field work).
    WriteCase,
    /// File a discovery report (主动发现).
    FileReport,
    /// Review a submitted visit (乡镇审核).
    ReviewVisit,
    /// Confirm a township-approved case (县级审核确认).
    ConfirmCase,
    /// See unmasked 身份证号 and other sensitive fields (audited).
    Unmask,
    /// Sync documents to a phone.
    Sync,
    /// Hold full 身份证号 on a phone (field work: grid workers and assistants); they come through
    /// sync apart from the documents, which hold them only masked and sealed.
    HoldIdNumbers,
    /// See the review queue and the discovery-report triage list (reviewers).
    ReadReviewLists,
    /// See one's own open tasks (`GET /api/v1/tasks`: what sync sends a phone).
    ReadTasks,
    /// Upload photos and signatures (blobs) for the documents one writes.
    UploadBlob,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::ReadRegion,
        Action::ManageRegions,
        Action::ManageAccounts,
        Action::ManageDevices,
        Action::ReadAudit,
        Action::ReadCase,
        Action::WriteCase,
        Action::FileReport,
        Action::ReviewVisit,
        Action::ConfirmCase,
        Action::Unmask,
        Action::Sync,
        Action::HoldIdNumbers,
        Action::ReadReviewLists,
        Action::ReadTasks,
        Action::UploadBlob,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadRegion => "read_region",
            Action::ManageRegions => "manage_regions",
            Action::ManageAccounts => "manage_accounts",
            Action::ManageDevices => "manage_devices",
            Action::ReadAudit => "read_audit",
            Action::ReadCase => "read_case",
            Action::WriteCase => "write_case",
            Action::FileReport => "file_report",
            Action::ReviewVisit => "review_visit",
            Action::ConfirmCase => "confirm_case",
            Action::Unmask => "unmask",
            Action::Sync => "sync",
            Action::HoldIdNumbers => "hold_id_numbers",
            Action::ReadReviewLists => "read_review_lists",
            Action::ReadTasks => "read_tasks",
            Action::UploadBlob => "upload_blob",
        }
    }
}

/// Which actions a role may take at all (inside its scope).
///
/// Administrators manage people, devices and the region tree but do not read case data: least
/// privilege for the most sensitive records (PIPL art. 51). Village cadres report and read cases
/// of their village but do not edit household records. The review lists are the reviewers'; the
/// field roles, who sync, have their tasks and upload the photos of what they write.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::GridWorker | Role::Assistant => {
            matches!(
                action,
                ReadRegion
                    | ReadCase
                    | WriteCase
                    | FileReport
                    | Sync
                    | HoldIdNumbers
                    | ReadTasks
                    | UploadBlob
            )
        }
        Role::VillageCadre => matches!(
            action,
            ReadRegion | ReadCase | FileReport | Sync | ReadTasks | UploadBlob
        ),
        Role::TownReviewer => matches!(
            action,
            ReadRegion | ReadCase | ReviewVisit | Unmask | ReadReviewLists
        ),
        Role::CountyApprover => {
            matches!(
                action,
                ReadRegion | ReadCase | ReviewVisit | ConfirmCase | Unmask | ReadReviewLists
            )
        }
        Role::Admin => {
            matches!(
                action,
                ReadRegion | ManageRegions | ManageAccounts | ManageDevices | ReadAudit
            )
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Subject {
    pub account_id: String,
    pub role: Role,
    /// Materialised paths (`/code/…/code/`) of the regions the account is bound to.
    pub scope: Vec<String>,
}

/// What is asked about: a region, given by its materialised path.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Something located in the region with this path (a region itself, a household, an account
    /// bound there, a device of such an account).
    Region(&'a str),
    /// Something with no region (the account's own profile, a list filtered to the scope).
    Scope,
    /// A blob (photo, signature), through the documents that point at it.
    Blob(&'a [BlobRef<'a>]),
}

/// A document pointing at a blob, as far as reading the blob goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRef<'a> {
    /// The document's region.
    pub region_path: &'a str,
    /// The account that put the reference into the document had uploaded the blob's bytes.
    /// Anyone can write a hash into a document of their own; only a reference made by one who
    /// had the bytes lends them to the document's readers.
    pub by_holder: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The role never may take this action.
    DenyRole,
    /// The target lies outside the account's regions.
    DenyScope,
    /// A blob that documents inside the account's regions point at, but only through references
    /// whose writers never uploaded it: as far as they are concerned it has not been uploaded.
    DenyReference,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    /// Why a denial was made, as the audit log says it.
    pub fn reason(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::DenyRole => "role",
            Decision::DenyScope => "scope",
            Decision::DenyReference => "reference",
        }
    }
}

impl Subject {
    /// Is `path` inside one of the subject's subtrees?
    pub fn covers(&self, path: &str) -> bool {
        self.scope
            .iter()
            .any(|root| path.starts_with(root.as_str()))
    }

    /// Is `path` an ancestor of one of the subject's roots (a region above its scope)?
    pub fn is_above(&self, path: &str) -> bool {
        self.scope.iter().any(|root| root.starts_with(path))
    }

    /// Does the subject's scope include everything `other_scope` covers?
    pub fn covers_all(&self, other_scope: &[String]) -> bool {
        !other_scope.is_empty() && other_scope.iter().all(|p| self.covers(p))
    }
}

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

/// The one decision function.
pub fn decide(subject: &Subject, action: Action, target: Target<'_>) -> Decision {
    if !role_allows(subject.role, action) {
        return Decision::DenyRole;
    }
    match target {
        Target::Scope => Decision::Allow,
        Target::Region(path) => {
            // Names of the regions above one's own are needed to show where one works.
            let visible =
                subject.covers(path) || (action == Action::ReadRegion && subject.is_above(path));
            if visible {
                Decision::Allow
            } else {
                Decision::DenyScope
            }
        }
        Target::Blob(refs) => {
            let mut readable = refs.iter().filter(|r| subject.covers(r.region_path));
            match readable.next() {
                None => Decision::DenyScope,
                Some(first) if first.by_holder || readable.any(|r| r.by_holder) => Decision::Allow,
                Some(_) => Decision::DenyReference,
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(role: Role, scope: &[&str]) -> Subject {
        Subject {
            account_id: "a".into(),
            role,
            scope: scope.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scope_is_a_union_of_subtrees() {
        let s = subject(Role::GridWorker, &["/37/3702/g1/", "/37/3702/g2/"]);
        assert_eq!(
            decide(&s, Action::ReadCase, Target::Region("/37/3702/g1/")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::ReadCase, Target::Region("/37/3702/g2/x/")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::ReadCase, Target::Region("/37/3702/g3/")),
            Decision::DenyScope
        );
        // A sibling whose code starts with the same characters is not inside: paths end with '/'.
        assert_eq!(
            decide(&s, Action::ReadCase, Target::Region("/37/3702/g10/")),
            Decision::DenyScope
        );
        // Parents are visible as names only.
        assert_eq!(
            decide(&s, Action::ReadRegion, Target::Region("/37/")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::ReadCase, Target::Region("/37/")),
            Decision::DenyScope
        );
    }

    #[test]
    fn a_blob_is_read_through_a_reference_its_uploader_made() {
        let s = subject(Role::GridWorker, &["/37/g2/"]);
        let r = |region_path, by_holder| BlobRef {
            region_path,
            by_holder,
        };
        let read = |refs: &[BlobRef]| decide(&s, Action::ReadCase, Target::Blob(refs));
        assert_eq!(read(&[r("/37/g2/", true)]), Decision::Allow);
        // The uploader's reference is in another grid; the one in hers was made without the
        // bytes: nothing to see, as if it had not been uploaded.
        assert_eq!(
            read(&[r("/37/g1/", true), r("/37/g2/", false)]),
            Decision::DenyReference
        );
        assert_eq!(
            read(&[r("/37/g2/", false), r("/37/g2/", true)]),
            Decision::Allow
        );
        assert_eq!(read(&[r("/37/g1/", true)]), Decision::DenyScope);
        assert_eq!(read(&[]), Decision::DenyScope);
        let admin = subject(Role::Admin, &["/37/"]);
        assert_eq!(
            decide(
                &admin,
                Action::ReadCase,
                Target::Blob(&[r("/37/g2/", true)])
            ),
            Decision::DenyRole
        );
    }

    #[test]
    fn roles_limit_actions_everywhere() {
        let admin = subject(Role::Admin, &["/37/"]);
        assert_eq!(
            decide(&admin, Action::ReadCase, Target::Region("/37/1/")),
            Decision::DenyRole
        );
        let worker = subject(Role::GridWorker, &["/37/"]);
        assert_eq!(
            decide(&worker, Action::ManageAccounts, Target::Region("/37/1/")),
            Decision::DenyRole
        );
        let cadre = subject(Role::VillageCadre, &["/37/"]);
        assert_eq!(
            decide(&cadre, Action::WriteCase, Target::Scope),
            Decision::DenyRole
        );
        assert_eq!(
            decide(&cadre, Action::FileReport, Target::Scope),
            Decision::Allow
        );
    }
}
