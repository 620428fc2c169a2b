//! Same-field conflicts of a document (同一字段的并发修改): the fields where concurrent writes
//! left more than one value, as the server recorded them at the document's last write
//! (`doc_conflicts`), with who wrote each value and when (the stored change that wrote it).
//! The console's conflict forms and `GET /api/v1/documents/{id}/conflicts` read them here.

use std::collections::{HashMap, HashSet};

use automerge::Automerge;
use axum::Json;
use axum::extract::{Path, State};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use doudi_protocol::doc::household::key;
use doudi_protocol::id_number::mask_phone;
use doudi_protocol::identity::clear_numbers;

use super::{AuthContext, SharedState};
use crate::access::Action;
use crate::entity::{account, doc_change, doc_conflict, document};
use crate::error::{ApiError, ApiResult, Code};

/// One of the values of a conflicting field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConflictValue {
    /// The value as text (a 身份证号 or phone number masked, as everywhere else); `{map}` or
    /// `[list]` for an object written concurrently.
    pub value: String,
    /// The value readers see until a reviewer chooses (the same on every replica).
    pub visible: bool,
    /// The automerge operation that wrote it (`counter@actor`).
    pub op: String,
    /// Written by the server for a reviewer: a reviewer's earlier choice for this field, which a
    /// phone that had not yet received it wrote over concurrently.
    pub by_reviewer: bool,
    /// The account whose change wrote the value (`null` when the change is not on record).
    pub account_id: Option<String>,
    /// That account's display name.
    pub account_name: Option<String>,
    /// The device that sent the change (a reviewer's: their console session's device).
    pub device_id: Option<String>,
    /// When the server stored the change, unix milliseconds.
    pub at_ms: Option<i64>,
}

/// A field with more than one value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldConflict {
    /// The field's path from the document root, e.g. `content.registered_address`.
    pub path: String,
    /// When the server found the conflict (the document's last write), unix milliseconds.
    pub detected_at_ms: i64,
    /// Whether a reviewer already chose a value for this field (one of `values` is theirs).
    pub reviewer_chose: bool,
    pub values: Vec<ConflictValue>,
}

/// The open conflicts of one document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentConflicts {
    pub document_id: String,
    /// `household`, `visit` or `discovery_report`.
    pub kind: String,
    /// By path; empty when every field has one value.
    pub conflicts: Vec<FieldConflict>,
}

/// A value as `prepare` in `crate::sync` records it in `doc_conflicts.detail`.
#[derive(Deserialize)]
struct Recorded {
    #[serde(default)]
    value: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    op: String,
    #[serde(default)]
    visible: bool,
}

/// Who stored a change of the document, and when.
struct Author {
    account_id: String,
    device_id: String,
    at_ms: i64,
}

/// `value` of the field at `path` as it may be shown: sensitive fields masked, and a 身份证号
/// in clear anywhere (a conflict recorded from a document stored before numbers were sealed)
/// masked too.
fn shown(path: &str, value: String) -> String {
    let field = path.rsplit('.').next().unwrap_or(path);
    if field == key::member::PHONE {
        return mask_phone(&value);
    }
    clear_numbers(&value)
        .iter()
        .fold(value, |v, n| v.replace(n.expose(), &n.masked()))
}

/// The hash of the change of `doc` that holds operation `op` (`counter@actor`).
fn change_of(changes: &HashMap<String, Vec<(u64, u64, String)>>, op: &str) -> Option<String> {
    let (counter, actor) = op.split_once('@')?;
    let counter: u64 = counter.parse().ok()?;
    changes
        .get(actor)?
        .iter()
        .find(|(start, len, _)| (*start..start + len).contains(&counter))
        .map(|(_, _, hash)| hash.clone())
}

/// The recorded conflicts of the stored document `doc`, by path, each value with its author.
pub async fn of_document(
    db: &DatabaseConnection,
    doc: &document::Model,
) -> ApiResult<Vec<FieldConflict>> {
    let rows = doc_conflict::Entity::find()
        .filter(doc_conflict::Column::DocId.eq(doc.id.as_str()))
        .order_by_asc(doc_conflict::Column::Path)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Which change wrote each operation: its actor and its range of operation counters.
    let am = Automerge::load(&doc.snapshot).map_err(ApiError::internal)?;
    let mut changes: HashMap<String, Vec<(u64, u64, String)>> = HashMap::new();
    for c in am.get_changes(&[]) {
        changes
            .entry(c.actor_id().to_hex_string())
            .or_default()
            .push((c.start_op().get(), c.len() as u64, c.hash().to_string()));
    }
    let recorded: Vec<(doc_conflict::Model, Vec<Recorded>)> = rows
        .into_iter()
        .map(|r| {
            let values = serde_json::from_str(&r.detail).unwrap_or_default();
            (r, values)
        })
        .collect();
    let hashes: HashSet<String> = recorded
        .iter()
        .flat_map(|(_, vs)| vs.iter().filter_map(|v| change_of(&changes, &v.op)))
        .collect();
    let mut authors: HashMap<String, Author> = HashMap::new();
    for chunk in hashes.into_iter().collect::<Vec<_>>().chunks(500) {
        let rows = doc_change::Entity::find()
            .filter(doc_change::Column::DocId.eq(doc.id.as_str()))
            .filter(doc_change::Column::Hash.is_in(chunk.iter().cloned()))
            .order_by_asc(doc_change::Column::Id)
            .all(db)
            .await?;
        for c in rows {
            authors.entry(c.hash).or_insert(Author {
                account_id: c.account_id,
                device_id: c.device_id,
                at_ms: c.at_ms,
            });
        }
    }
    let account_ids: HashSet<&str> = authors.values().map(|a| a.account_id.as_str()).collect();
    let names: HashMap<String, String> = account::Entity::find()
        .filter(account::Column::Id.is_in(account_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect();
    let server = hex::encode(crate::documents::SERVER_ACTOR);
    Ok(recorded
        .into_iter()
        .map(|(row, values)| {
            let values: Vec<ConflictValue> = values
                .into_iter()
                .map(|v| {
                    let author = change_of(&changes, &v.op).and_then(|h| authors.get(&h));
                    ConflictValue {
                        value: shown(&row.path, v.value),
                        visible: v.visible,
                        by_reviewer: v.actor.as_deref() == Some(server.as_str()),
                        op: v.op,
                        account_id: author.map(|a| a.account_id.clone()),
                        account_name: author.and_then(|a| names.get(&a.account_id).cloned()),
                        device_id: author.map(|a| a.device_id.clone()),
                        at_ms: author.map(|a| a.at_ms),
                    }
                })
                .collect();
            FieldConflict {
                reviewer_chose: values.iter().any(|v| v.by_reviewer),
                path: row.path,
                detected_at_ms: row.detected_at_ms,
                values,
            }
        })
        .collect())
}

/// The same-field conflicts of a document the caller may read (household, visit or discovery
/// report). An id outside the caller's regions answers as one that does not exist (audited).
#[utoipa::path(get, path = "/api/v1/documents/{id}/conflicts", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Document id")),
    responses((status = 200, body = DocumentConflicts),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: the role reads no case data"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such document in the caller's regions")))]
pub async fn document_conflicts(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentConflicts>> {
    let Some(doc) = document::Entity::find_by_id(id.clone())
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    ctx.actor
        .clone()
        .require_visible(&state.db, Action::ReadCase, &doc.region_path, &id)
        .await?;
    let conflicts = of_document(&state.db, &doc).await?;
    Ok(Json(DocumentConflicts {
        document_id: doc.id,
        kind: doc.kind,
        conflicts,
    }))
}
