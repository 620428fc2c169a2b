//! The task list a sync sends: read only when it may have changed since the device's copy.

use super::*;

/// At most this many accounts' task tags are remembered ([`TaskTags`]); past it the memory
/// starts again empty, and each account's next sync reads its list once.
pub const MAX_TASK_TAGS: usize = 100_000;

/// The tag of each account's task list as this process last computed it, with what the list
/// was computed from: the task table's version ([`crate::entity::tasks_version`]), the role and
/// the scope. A sync whose device already holds that tag, while none of them moved, need not
/// read the list again. The version is the database's, so every server process on one database
/// sees the same moves.
#[derive(Debug, Default)]
pub struct TaskTags(std::sync::Mutex<HashMap<String, TaskTag>>);

#[derive(Debug)]
struct TaskTag {
    version: i64,
    role: doudi_protocol::role::Role,
    scope: Vec<String>,
    tag: u64,
}

impl TaskTags {
    /// The remembered tag of the account's list, when it was computed under this version, role
    /// and scope.
    fn current(&self, subject: &crate::access::Subject, version: i64) -> Option<u64> {
        let tags = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tags.get(&subject.account_id)
            .filter(|t| t.version == version && t.role == subject.role && t.scope == subject.scope)
            .map(|t| t.tag)
    }

    /// Remember the tag of the list read after `version` was read: a task change between the
    /// two reads leaves a tag that is newer than its version says, and the next sync reads the
    /// list once more; never the other way round.
    fn remember(&self, subject: &crate::access::Subject, version: i64, tag: u64) {
        let mut tags = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if tags.len() >= MAX_TASK_TAGS && !tags.contains_key(&subject.account_id) {
            tags.clear();
        }
        tags.insert(
            subject.account_id.clone(),
            TaskTag {
                version,
                role: subject.role,
                scope: subject.scope.clone(),
                tag,
            },
        );
    }
}

/// The account's open tasks when they differ from those the device holds (`held`: the tag it
/// sent); `None` when they do not, or when the account may not read its scope. The tag is the
/// first 8 bytes of the SHA-256 of the list's CBOR. The list is read only when the task table
/// moved since this process last computed the account's tag, or the device holds another tag.
pub(super) async fn task_list(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    held: Option<u64>,
) -> Result<Option<TaskList>, ApiError> {
    use sha2::{Digest, Sha256};
    if !decide(&ctx.subject, Action::ReadCase, Target::Scope).is_allowed() {
        return Ok(None);
    }
    let version = ctx.sync_state.tasks_version;
    if held.is_some() && state.task_tags.current(&ctx.subject, version) == held {
        return Ok(None);
    }
    let rows = crate::review::tasks::open_tasks(state.reads, &ctx.subject, &ctx.account.id).await?;
    let items: Vec<WireTask> = rows
        .into_iter()
        .map(|t| WireTask {
            assigned: t.assignee_id.is_some(),
            id: t.id,
            kind: t.kind,
            report_id: t.report_id,
            household_id: t.household_id,
            case_id: t.case_id,
            note: t.note,
            note_en: t.note_en,
            created_at_ms: t.created_at_ms,
            due_at_ms: t.due_at_ms,
        })
        .collect();
    let digest = Sha256::digest(to_cbor(&items));
    let tag = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    state.task_tags.remember(&ctx.subject, version, tag);
    Ok((Some(tag) != held).then_some(TaskList { tag, items }))
}
