//! Same-field conflicts of a document (同一字段的并发修改): the fields where concurrent writes
//! left more than one value, as the server recorded them at the document's last write
//! (`doc_conflicts`), with who wrote each value and when (the stored change that wrote it).
//! The console's conflict forms, `GET /api/v1/documents/{id}/conflicts` and the review's
//! decisions (an approval waits until they are settled) read them here.

use std::collections::{HashMap, HashSet};

use automerge::Automerge;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use doudi_protocol::doc::household::key;
use doudi_protocol::doc::schema::SCHEMA;
use doudi_protocol::id_number::mask_phone;
use doudi_protocol::identity::clear_numbers;
use doudi_protocol::ids::DocumentKind;

use crate::entity::{account, device, doc_change, doc_conflict, document};
use crate::error::{ApiError, ApiResult};

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
    /// That device's name, as its phone registered it.
    pub device_name: Option<String>,
    /// That device's platform: `android`, `ios` or `web` (the console).
    pub device_platform: Option<String>,
    /// When the server stored the change, unix milliseconds.
    pub at_ms: Option<i64>,
}

/// A field with more than one value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldConflict {
    /// The field's path from the document root, e.g. `content.registered_address`.
    pub path: String,
    /// The field as a person reads it, from the schema's Chinese labels, e.g. `户籍地`,
    /// `家庭成员 · 身份证号`.
    pub label: String,
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
pub fn shown(path: &str, value: String) -> String {
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
    let device_ids: HashSet<&str> = authors.values().map(|a| a.device_id.as_str()).collect();
    let devices: HashMap<String, (String, String)> = device::Entity::find()
        .filter(device::Column::Id.is_in(device_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, (d.name, d.platform)))
        .collect();
    let kind = DocumentKind::parse(&doc.kind).unwrap_or(DocumentKind::Household);
    let server = hex::encode(crate::documents::SERVER_ACTOR);
    Ok(recorded
        .into_iter()
        .map(|(row, values)| {
            let values: Vec<ConflictValue> = values
                .into_iter()
                .map(|v| {
                    let author = change_of(&changes, &v.op).and_then(|h| authors.get(&h));
                    let dev = author.and_then(|a| devices.get(&a.device_id));
                    ConflictValue {
                        value: shown(&row.path, v.value),
                        visible: v.visible,
                        by_reviewer: v.actor.as_deref() == Some(server.as_str()),
                        op: v.op,
                        account_id: author.map(|a| a.account_id.clone()),
                        account_name: author.and_then(|a| names.get(&a.account_id).cloned()),
                        device_id: author.map(|a| a.device_id.clone()),
                        device_name: dev.map(|d| d.0.clone()),
                        device_platform: dev.map(|d| d.1.clone()),
                        at_ms: author.map(|a| a.at_ms),
                    }
                })
                .collect();
            FieldConflict {
                reviewer_chose: values.iter().any(|v| v.by_reviewer),
                label: SCHEMA.label(kind, &row.path),
                path: row.path,
                detected_at_ms: row.detected_at_ms,
                values,
            }
        })
        .collect())
}

/// A field still in conflict in one of the documents a decision rests on.
#[derive(Debug, Clone, Serialize)]
pub struct OpenConflict {
    pub document_id: String,
    /// `household` or `visit`.
    pub kind: String,
    pub path: String,
    pub label: String,
}

impl OpenConflict {
    /// A conflict of the visit `id` at `path`.
    pub fn of_visit(id: &str, path: &str) -> OpenConflict {
        OpenConflict {
            document_id: id.to_string(),
            kind: DocumentKind::Visit.as_str().to_string(),
            path: path.to_string(),
            label: SCHEMA.label(DocumentKind::Visit, path),
        }
    }
}

/// The recorded conflicts of the documents `ids` (a visit and its household), as the server found
/// them at each document's last write.
pub async fn open_in(db: &DatabaseConnection, ids: &[&str]) -> ApiResult<Vec<OpenConflict>> {
    let rows = doc_conflict::Entity::find()
        .filter(doc_conflict::Column::DocId.is_in(ids.iter().copied()))
        .order_by_asc(doc_conflict::Column::DocId)
        .order_by_asc(doc_conflict::Column::Path)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: HashMap<String, String> = document::Entity::find()
        .filter(document::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.kind))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let kind = kinds.get(&r.doc_id).cloned().unwrap_or_default();
            let label = SCHEMA.label(
                DocumentKind::parse(&kind).unwrap_or(DocumentKind::Household),
                &r.path,
            );
            OpenConflict {
                document_id: r.doc_id,
                kind,
                label,
                path: r.path,
            }
        })
        .collect())
}
