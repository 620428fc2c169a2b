//! Open tasks: what a field worker is to do next, as sync sends it to the phone and
//! `GET /api/v1/tasks` lists it.

use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait};

use crate::access::{Action, Subject, Target, decide, scope_condition};
use crate::entity::task;

/// The task kind of a 临时救助 急难 case's check (急难核查, docs/TEMPORARY_AID.md): a visit of
/// purpose `emergency_check` to its household closes it.
pub const TEMP_AID_CHECK: &str = "temp_aid_check";
/// The task kind of a paid 临时救助 case's 回访: a visit of purpose `follow_up` to its household
/// closes it.
pub const TEMP_AID_FOLLOW_UP: &str = "temp_aid_follow_up";

/// The statement inserting `t` (a new task: open, unscheduled), for a write that stores it with
/// other rows.
pub fn insert(t: task::Model) -> sea_orm::sea_query::InsertStatement {
    task::Entity::insert(opened(t)).into_query()
}

/// The statement inserting the new tasks `ts` (at least one) in one go, as [`insert`] each.
pub fn insert_many(ts: Vec<task::Model>) -> sea_orm::sea_query::InsertStatement {
    task::Entity::insert_many(ts.into_iter().map(opened)).into_query()
}

/// A new task as stored: open, unscheduled.
fn opened(t: task::Model) -> task::ActiveModel {
    task::ActiveModel::from(task::Model {
        status: "open".into(),
        schedule_key: None,
        ..t
    })
}

/// A new task of `kind` in the grid at `region_path`, by `assigned_by`, created at `at_ms`; the
/// caller sets the rest.
pub fn new(kind: &str, region_path: &str, assigned_by: &str, at_ms: i64) -> task::Model {
    task::Model {
        id: crate::auth::new_id(),
        kind: kind.into(),
        report_id: None,
        household_id: None,
        region_path: region_path.into(),
        assignee_id: None,
        assigned_by: assigned_by.into(),
        note: None,
        note_en: None,
        status: "open".into(),
        created_at_ms: at_ms,
        due_at_ms: None,
        schedule_key: None,
        case_id: None,
    }
}

/// The open tasks of `account_id`: assigned to it, or — for grid workers and assistants —
/// unassigned in its regions; earliest due first (those without a due date last), then oldest.
/// Sync sends the same list to the phone (`SyncResponse.tasks`).
pub async fn open_tasks<E: crate::db::Exec>(
    db: &E,
    subject: &Subject,
    account_id: &str,
) -> Result<Vec<task::Model>, DbErr> {
    let mut who = Condition::any().add(task::Column::AssigneeId.eq(account_id));
    // Unassigned tasks go to those who do the visits (grid workers and assistants).
    if decide(subject, Action::WriteCase, Target::Scope).is_allowed() {
        who = who.add(
            Condition::all()
                .add(task::Column::AssigneeId.is_null())
                .add(scope_condition(subject, task::Column::RegionPath)),
        );
    }
    let read = task::Entity::find()
        .filter(who)
        .filter(task::Column::Status.eq("open"))
        .order_by_asc(task::Column::CreatedAtMs)
        .build(db.backend());
    let mut rows: Vec<task::Model> = db.query(read).await?;
    rows.retain(|t| subject.covers(&t.region_path));
    rows.sort_by_key(|t| t.due_at_ms.unwrap_or(i64::MAX));
    Ok(rows)
}
