//! Conflicts: fields where concurrent writes left more than one value (sync principle 8).
//!
//! Automerge keeps every concurrently written value of a field and shows one of them, chosen the
//! same way on every replica (the write with the highest operation id wins). The server records
//! the conflicts this module lists so that a reviewer can choose; the choice is written with
//! [`resolve`], which supersedes all the values at once.
//!
//! Values are reported as they are stored: a conflicting 身份证号 appears in full, so whoever
//! shows a conflict to a person masks sensitive fields as it does everywhere else.

use std::fmt;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, hydrate};

use super::access::DocError;

/// One step of a path from the document root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// The path of a field from the document root, shown as `content.members.<id>.name` or
/// `content.reviews[0].comment`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// A path of map keys.
    pub fn keys<S: AsRef<str>>(keys: &[S]) -> FieldPath {
        FieldPath(
            keys.iter()
                .map(|k| PathSegment::Key(k.as_ref().to_owned()))
                .collect(),
        )
    }

    pub(crate) fn child(&self, seg: PathSegment) -> FieldPath {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Key(k) if i == 0 => f.write_str(k)?,
                PathSegment::Key(k) => write!(f, ".{k}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One of the values of a conflicting field.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictValue {
    /// The scalar value, or `None` for an object (a map or list written concurrently).
    pub scalar: Option<ScalarValue>,
    /// A readable form: the string itself, a number, `{map}` or `[list]`.
    pub display: String,
    /// The id of the operation that wrote it (`counter@actor`).
    pub op_id: String,
    /// The actor (device) that wrote it, as hex.
    pub actor: Option<String>,
    /// Whether this is the value readers see.
    pub visible: bool,
}

/// A field with more than one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub path: FieldPath,
    pub values: Vec<ConflictValue>,
}

fn describe<R: ReadDoc>(doc: &R, value: &Value<'_>, id: &ObjId, visible: bool) -> ConflictValue {
    let (scalar, display) = match value {
        Value::Scalar(s) => {
            let display = match s.as_ref() {
                ScalarValue::Str(s) => s.to_string(),
                other => other.to_string(),
            };
            (Some(s.as_ref().clone()), display)
        }
        Value::Object(ObjType::List) => (None, "[list]".to_owned()),
        Value::Object(ObjType::Text) => (None, "[text]".to_owned()),
        // A 身份证号 (an identity value object) shows as its masked form.
        Value::Object(ObjType::Map) => match doc.get(id, super::sealed::key::MASKED) {
            Ok(Some((Value::Scalar(m), _))) => match m.as_ref() {
                ScalarValue::Str(m) => (None, m.to_string()),
                _ => (None, "{map}".to_owned()),
            },
            _ => (None, "{map}".to_owned()),
        },
        Value::Object(_) => (None, "{map}".to_owned()),
    };
    let actor = match id {
        ObjId::Id(_, actor, _) => Some(actor.to_hex_string()),
        ObjId::Root => None,
    };
    ConflictValue {
        scalar,
        display,
        op_id: id.to_string(),
        actor,
        visible,
    }
}

/// Whether any field of a document's [`tree`](super::tree) holds more than one value (what
/// [`conflicts`] would list, found without a lookup per field).
pub fn any(tree: &hydrate::Value) -> bool {
    match tree {
        hydrate::Value::Map(m) => m.iter().any(|(_, v)| v.conflict || any(&v.value)),
        hydrate::Value::List(l) => l.iter().any(|v| v.conflict || any(&v.value)),
        hydrate::Value::Scalar(_) | hydrate::Value::Text(_) => false,
    }
}

/// List every field of the document that holds more than one value, depth first in key order.
/// Only the visible object of a conflicting object-valued field is descended into.
pub fn conflicts<R: ReadDoc>(doc: &R) -> Result<Vec<Conflict>, DocError> {
    let mut out = Vec::new();
    walk(
        doc,
        automerge::ROOT,
        ObjType::Map,
        &FieldPath::default(),
        &mut out,
    )?;
    Ok(out)
}

fn walk<R: ReadDoc>(
    doc: &R,
    obj: ObjId,
    obj_type: ObjType,
    path: &FieldPath,
    out: &mut Vec<Conflict>,
) -> Result<(), DocError> {
    let segments: Vec<PathSegment> = match obj_type {
        ObjType::Map | ObjType::Table => doc.keys(&obj).map(PathSegment::Key).collect(),
        ObjType::List => (0..doc.length(&obj)).map(PathSegment::Index).collect(),
        ObjType::Text => return Ok(()),
    };
    for seg in segments {
        let (all, visible) = match &seg {
            PathSegment::Key(k) => (doc.get_all(&obj, k.as_str())?, doc.get(&obj, k.as_str())?),
            PathSegment::Index(i) => (doc.get_all(&obj, *i)?, doc.get(&obj, *i)?),
        };
        let child_path = path.child(seg);
        let visible_id = visible.as_ref().map(|(_, id)| id.clone());
        if all.len() > 1 {
            out.push(Conflict {
                path: child_path.clone(),
                values: all
                    .iter()
                    .map(|(v, id)| describe(doc, v, id, Some(id) == visible_id.as_ref()))
                    .collect(),
            });
        }
        if let Some((Value::Object(t), id)) = visible {
            walk(doc, id, t, &child_path, out)?;
        }
    }
    Ok(())
}

/// Write a reviewer's choice for the scalar field at `path`: one new value that supersedes every
/// conflicting one.
pub fn resolve<T: Transactable>(
    tx: &mut T,
    path: &FieldPath,
    value: ScalarValue,
) -> Result<(), DocError> {
    let not_found = || DocError::Missing {
        path: path.to_string(),
    };
    let (last, parents) = path.0.split_last().ok_or_else(not_found)?;
    let mut obj = automerge::ROOT;
    for seg in parents {
        let next = match seg {
            PathSegment::Key(k) => tx.get(&obj, k.as_str())?,
            PathSegment::Index(i) => tx.get(&obj, *i)?,
        };
        obj = match next {
            Some((Value::Object(_), id)) => id,
            _ => return Err(not_found()),
        };
    }
    match last {
        PathSegment::Key(k) => tx.put(&obj, k.as_str(), value)?,
        PathSegment::Index(i) => tx.put(&obj, *i, value)?,
    }
    Ok(())
}
