//! References a pushed document adds (`doudi_protocol::doc::refs`): each must name an existing
//! document of the right kind, in the pushing document's grid, that the writer may read. A visit
//! of another grid's household would otherwise show that household's head and address in the
//! writer's review queue.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use doudi_protocol::doc::refs::Reference;
use doudi_protocol::sync::WireIssue;

use super::{Base, Refs};
use super::{Deps, Device};
use crate::access::{Action, Target};
use crate::db::Exec;
use crate::entity::document;
use crate::error::ApiError;

/// What became of a document's added references.
/// A named document as the check reads it: its kind, grid and region.
#[derive(Debug, Clone)]
pub(super) struct Named {
    kind: String,
    scope: String,
    region_path: String,
}

pub(super) enum Verdict {
    Good,
    /// One names a document the request pushes that is not stored yet: check again later.
    Wait,
    /// Refused: one issue per bad reference, all of them.
    Bad(Vec<WireIssue>),
}

fn issue(r: &Reference, code: &str, zh: &str, en: &str) -> WireIssue {
    WireIssue {
        path: r.path.clone(),
        code: code.into(),
        message: zh.into(),
        message_en: en.into(),
    }
}

/// Check `added`, the references a document of grid `grid` gains with this push.
pub(super) async fn check(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    grid: &str,
    added: &[Reference],
    base: Base,
    refs: &Refs<'_>,
) -> Result<Verdict, ApiError> {
    if added.is_empty() {
        return Ok(Verdict::Good);
    }
    let ids: Vec<String> = added.iter().map(|r| r.id.to_string()).collect();
    // What the check needs of each named document, without its state; read once per request
    // (the visits of a request name the same few households).
    let unread: Vec<&str> = {
        let named = refs.named.lock().expect("not poisoned");
        ids.iter()
            .map(String::as_str)
            .filter(|id| !named.contains_key(*id))
            .collect()
    };
    if !unread.is_empty() {
        let read = document::Entity::find()
            .filter(document::Column::Id.is_in(unread))
            .select_only()
            .column(document::Column::Id)
            .column(document::Column::Kind)
            .column(document::Column::Scope)
            .column(document::Column::RegionPath)
            .build(state.reads.backend());
        let rows: Vec<(String, String, String, String)> = state.reads.query(read).await?;
        let mut named = refs.named.lock().expect("not poisoned");
        for (id, kind, scope, region_path) in rows {
            named.insert(
                id,
                Named {
                    kind,
                    scope,
                    region_path,
                },
            );
        }
    }
    let found: Vec<Option<Named>> = {
        let named = refs.named.lock().expect("not poisoned");
        added
            .iter()
            .zip(&ids)
            .map(|(r, id)| named.get(id).filter(|n| n.kind == r.kind.as_str()).cloned())
            .collect()
    };
    let mut issues = Vec::new();
    for ((r, id), row) in added.iter().zip(&ids).zip(found) {
        let Some(row) = row else {
            if !refs.last_pass && refs.in_request.contains(id.as_str()) {
                return Ok(Verdict::Wait);
            }
            issues.push(issue(
                r,
                "reference.unknown",
                "引用的文档不存在，请先同步所引用的家庭或报告。",
                "The named document does not exist; sync the household or report it names first.",
            ));
            continue;
        };
        let readable = ctx
            .permits(
                state.db,
                Action::ReadCase,
                Target::Region(&row.region_path),
                id,
                base == Base::Read,
            )
            .await?;
        if !readable {
            issues.push(issue(
                r,
                "reference.denied",
                "您无权查看所引用的文档。",
                "You may not read the named document.",
            ));
        } else if row.scope != grid {
            issues.push(issue(
                r,
                "reference.other_grid",
                "所引用的文档属于另一个网格。",
                "The named document belongs to another grid.",
            ));
        }
    }
    Ok(match issues.is_empty() {
        true => Verdict::Good,
        false => Verdict::Bad(issues),
    })
}
