//! Who may do what where: the pure half of doudi's access module, shared by the server (which
//! asks it for every read and write, audits every denial and turns scope into SQL) and the phone
//! (which can answer "may I" offline exactly as the server will).
//!
//! A decision is a pure function of (subject, action, target). The subject is an account with one
//! role and the materialised paths of the regions it is bound to; its scope is the union of those
//! subtrees. A target is a region, the subject's own scope, or a blob seen through the documents
//! that point at it.

use crate::role::Role;

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
    /// Export the ledgers of one's regions as CSV or XLSX (导出台账; reviewers; audited).
    Export,
    /// Import another department's list (部门数据导入, 动态监测预警) and match it against the
    /// members of one's regions (reviewers; audited).
    ImportDepartmentData,
}

impl Action {
    pub const ALL: [Action; 18] = [
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
        Action::Export,
        Action::ImportDepartmentData,
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
            Action::Export => "export",
            Action::ImportDepartmentData => "import_department_data",
        }
    }
}

/// Which actions a role may take at all (inside its scope).
///
/// Administrators manage people, devices and the region tree but do not read case data: least
/// privilege for the most sensitive records (PIPL art. 51). Village cadres report and read cases
/// of their village but do not edit household records. The review lists are the reviewers'; the
/// field roles, who sync, have their tasks and upload the photos of what they write; reviewers
/// upload the photos of what they record (the signed record of a 民主评议).
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
            ReadRegion
                | ReadCase
                | ReviewVisit
                | Unmask
                | ReadReviewLists
                | Export
                | ImportDepartmentData
                | UploadBlob
        ),
        Role::CountyApprover => {
            matches!(
                action,
                ReadRegion
                    | ReadCase
                    | ReviewVisit
                    | ConfirmCase
                    | Unmask
                    | ReadReviewLists
                    | Export
                    | ImportDepartmentData
                    | UploadBlob
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
