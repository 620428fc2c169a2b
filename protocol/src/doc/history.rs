//! What one change did to a document's fields (修改记录): the fields whose value differs
//! between the state a change was made on and the state it made, each with its old and new
//! value, for the reviewer's history of a household or visit.
//!
//! Both states are [`hydrate::Value`] trees (e.g. `Automerge::hydrate(Some(heads))` at the
//! change's dependencies and at the change itself), so a concurrent change made by someone else
//! never shows as part of this one. A 身份证号 value object is one field and shows as its masked
//! form only: the sealed number never leaves this module.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ScalarValue, hydrate};

use super::conflicts::{FieldPath, PathSegment};
use super::sealed::key::MASKED;

/// A value as a history shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Scalar(ScalarValue),
    /// A 身份证号 (an identity value object): its masked form.
    Masked(String),
    /// A text object's text.
    Text(String),
}

/// One field a change set, added or removed: `before` is `None` for a field that did not exist
/// and `after` is `None` for one the change removed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: FieldPath,
    pub before: Option<Shown>,
    pub after: Option<Shown>,
}

/// The fields that differ between `before` and `after`, in path order. Maps and lists are
/// walked; an emptied or new container shows as its fields (a new member as its name, sex, ...).
pub fn field_changes(before: &hydrate::Value, after: &hydrate::Value) -> Vec<FieldChange> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    flatten(before, &FieldPath::default(), &mut old);
    flatten(after, &FieldPath::default(), &mut new);
    let paths: BTreeSet<&FieldPath> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let (b, a) = (old.get(p), new.get(p));
            (b != a).then(|| FieldChange {
                path: p.clone(),
                before: b.cloned(),
                after: a.cloned(),
            })
        })
        .collect()
}

fn flatten(v: &hydrate::Value, at: &FieldPath, out: &mut BTreeMap<FieldPath, Shown>) {
    match v {
        hydrate::Value::Scalar(s) => {
            out.insert(at.clone(), Shown::Scalar(s.clone()));
        }
        hydrate::Value::Text(t) => {
            out.insert(at.clone(), Shown::Text(t.to_string()));
        }
        hydrate::Value::Map(m) => {
            if let Some(hydrate::Value::Scalar(ScalarValue::Str(masked))) = m.get(MASKED) {
                out.insert(at.clone(), Shown::Masked(masked.to_string()));
                return;
            }
            for (k, mv) in m.iter() {
                flatten(&mv.value, &at.child(PathSegment::Key(k.clone())), out);
            }
        }
        hydrate::Value::List(l) => {
            for (i, lv) in l.iter().enumerate() {
                flatten(&lv.value, &at.child(PathSegment::Index(i)), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

    use super::*;

    fn path(p: &str) -> String {
        p.to_string()
    }

    #[test]
    fn a_change_shows_its_fields_with_old_and_new_values() {
        let mut doc = AutoCommit::new();
        let content = doc.put_object(ROOT, "content", ObjType::Map).unwrap();
        doc.put(&content, "address", "东村 1 号").unwrap();
        doc.put(&content, "amount_fen", 60_000_i64).unwrap();
        let id = doc.put_object(&content, "id_number", ObjType::Map).unwrap();
        doc.put(&id, MASKED, "3701**********1234").unwrap();
        doc.put(&id, "sealed", vec![1_u8, 2, 3]).unwrap();
        let first = doc.get_heads();
        doc.put(&content, "address", "西村 2 号").unwrap();
        doc.delete(&content, "amount_fen").unwrap();
        let members = doc.put_object(&content, "members", ObjType::Map).unwrap();
        let m = doc.put_object(&members, "m1", ObjType::Map).unwrap();
        doc.put(&m, "name", "李四").unwrap();
        doc.put(&id, "sealed", vec![9_u8]).unwrap();
        let second = doc.get_heads();
        let d = doc.document();
        let changes = field_changes(&d.hydrate(Some(&first)), &d.hydrate(Some(&second)));
        let shown: Vec<(String, Option<Shown>, Option<Shown>)> = changes
            .into_iter()
            .map(|c| (c.path.to_string(), c.before, c.after))
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    path("content.address"),
                    Some(Shown::Scalar("东村 1 号".into())),
                    Some(Shown::Scalar("西村 2 号".into()))
                ),
                (
                    path("content.amount_fen"),
                    Some(Shown::Scalar(ScalarValue::Int(60_000))),
                    None
                ),
                (
                    path("content.members.m1.name"),
                    None,
                    Some(Shown::Scalar("李四".into()))
                ),
            ],
            "the sealed number changed but shows only as its unchanged masked form"
        );
        assert!(d.get(ROOT, "content").unwrap().is_some());
    }

    #[test]
    fn equal_states_show_nothing() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "a", 1_i64).unwrap();
        let heads = doc.get_heads();
        let d = doc.document();
        assert!(field_changes(&d.hydrate(Some(&heads)), &d.hydrate(Some(&heads))).is_empty());
        assert_eq!(
            field_changes(&d.hydrate(Some(&[])), &d.hydrate(Some(&heads))),
            vec![FieldChange {
                path: FieldPath::keys(&["a"]),
                before: None,
                after: Some(Shown::Scalar(ScalarValue::Int(1)))
            }]
        );
    }
}
