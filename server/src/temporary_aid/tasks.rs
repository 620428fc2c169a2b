//! A case's field work on the grid worker's phone (docs/TEMPORARY_AID.md, "Tasks on the
//! phone"): a new 急难 case gives a `temp_aid_check` task (急难核查: verify the emergency, record
//! the 先行救助 given) due when its 先行救助 is due; a case paid in full gives a
//! `temp_aid_follow_up` task (回访, to see whether 跟进救助 is needed) where the region sets
//! `report_follow_up_days`. Both lie at the place of the emergency (the case's region), for a
//! field worker there; a submitted visit closes them (`review::report_life::close_visited_tasks`);
//! closing the case supersedes them.

use sea_orm::sea_query::{Expr, InsertStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::Kind;
use crate::auth::now_ms;
use crate::entity::{task, temp_aid_case};
use crate::review::{deadlines, recheck, report_life, tasks};

pub use crate::review::tasks::{
    TEMP_AID_CHECK as CHECK_TASK, TEMP_AID_FOLLOW_UP as FOLLOW_UP_TASK,
};

/// Who gets a case's tasks: a field worker of the place.
pub async fn assignee(db: &DatabaseConnection, region_path: &str) -> Result<Option<String>, DbErr> {
    recheck::assignee_for(db, &mut Default::default(), region_path).await
}

/// A task of `kind` for case `c`, by `by`.
fn task_of(
    c: &temp_aid_case::Model,
    kind: &str,
    assignee: Option<String>,
    by: &str,
    (note, note_en): (String, String),
    due_at_ms: Option<i64>,
) -> InsertStatement {
    tasks::insert(task::Model {
        case_id: Some(c.id.clone()),
        household_id: Some(c.household_id.clone()),
        assignee_id: assignee,
        note: Some(note),
        note_en: Some(note_en),
        due_at_ms,
        ..tasks::new(kind, &c.region_path, by, now_ms())
    })
}

/// The 急难核查 task of a new case: `None` for a 支出 case.
pub fn check(
    c: &temp_aid_case::Model,
    assignee: Option<String>,
    by: &str,
) -> Option<InsertStatement> {
    if Kind::parse(&c.kind) != Some(Kind::Emergency) {
        return None;
    }
    let due = c
        .aid_due_at_ms
        .and_then(deadlines::local)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let note = (
        format!(
            "急难临时救助：{}（{}）{}。请核实情况并记录先行救助，先行救助须于 {due} 前给予。",
            c.person_name, c.place, c.reason
        ),
        format!(
            "Emergency temporary assistance: verify at the place and record the advance aid, due {due} (China time)."
        ),
    );
    Some(task_of(c, CHECK_TASK, assignee, by, note, c.aid_due_at_ms))
}

/// The 回访 task of case `c` when it is paid in full today: due `report_follow_up_days` after
/// today where its region sets them, else none.
pub async fn follow_up(
    db: &DatabaseConnection,
    c: &temp_aid_case::Model,
    by: &str,
) -> Result<Option<InsertStatement>, DbErr> {
    let Some(today) = deadlines::today() else {
        return Ok(None);
    };
    let Some((days, due)) = report_life::follow_up_due(db, &c.region_path, today).await? else {
        return Ok(None);
    };
    let who = assignee(db, &c.region_path).await?;
    let note = (
        format!(
            "临时救助发放后 {days} 天回访：{}（{}），了解是否需要跟进救助。",
            c.person_name, c.place
        ),
        format!("follow-up visit {days} days after the temporary assistance was paid"),
    );
    Ok(Some(task_of(c, FOLLOW_UP_TASK, who, by, note, due)))
}

/// Store a task built before the transaction.
pub async fn store<C: ConnectionTrait>(txn: &C, q: &InsertStatement) -> Result<(), DbErr> {
    txn.execute(q).await?;
    Ok(())
}

/// A closed case's open tasks are superseded: nothing is left to do for it.
pub async fn supersede<C: ConnectionTrait>(txn: &C, case_id: &str) -> Result<(), DbErr> {
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value("superseded"))
        .filter(task::Column::CaseId.eq(case_id))
        .filter(task::Column::Status.eq("open"))
        .exec(txn)
        .await?;
    Ok(())
}
