//! Checking a document that does not read as its typed view, key by key against the schema:
//! every missing key, wrong type and bad value at once (the typed readers stop at the first),
//! and then the rules of the kind on what remains once the bad parts are cut out of a copy.
//!
//! Each scalar is checked with the typed views' own conversion ([`Format::check`]), and the
//! walk follows the readers' choices (absent or null is "not there" for a scalar, collections
//! are required maps, a set's values are booleans), so it finds a problem exactly where the
//! readers would fail; the schema tests hold the two together.

use automerge::{ScalarValue, hydrate};

use super::{Issue, content_checks, scope_check, unknown_schema};
use crate::doc::access::{DocError, field_error};
use crate::doc::conflicts::{FieldPath, PathSegment};
use crate::doc::schema::{Format, Key, ROOT, SCHEMA, Shape};
use crate::doc::{Content, MapReader, SchemaVersion, key};
use crate::ids::DocumentKind;

/// The issues of a document whose reading failed with `error`: every problem of its keys, and the
/// rules' issues of the parts that read once the bad ones are cut out.
pub(crate) fn unreadable(tree: &hydrate::Value, error: &DocError) -> Vec<Issue> {
    let Some(checked) = walk_document(tree) else {
        return vec![Issue::from_doc_error(error)];
    };
    let mut issues = checked.walk.issues;
    if issues.is_empty() {
        // The schema found nothing the reader refused: report what the reader said.
        issues.push(Issue::from_doc_error(error));
    }
    let rules: Vec<Issue> = checked
        .rules
        .into_iter()
        .filter(|r| !issues.iter().any(|i| related(&i.path, &r.path)))
        .collect();
    issues.extend(rules);
    issues
}

/// A document checked key by key.
struct Checked {
    walk: Walk,
    /// The rules' issues: of the root, and of the content with the bad parts cut out (when it
    /// reads then).
    rules: Vec<Issue>,
    /// The document with the bad parts cut out, when the content could be checked.
    #[cfg_attr(not(test), allow(dead_code))]
    rest: Option<hydrate::Value>,
}

fn walk_document(tree: &hydrate::Value) -> Option<Checked> {
    let hydrate::Value::Map(root) = tree else {
        return None;
    };
    let mut walk = Walk::default();
    let top = FieldPath::default();
    for k in ROOT.iter().filter(|k| k.name != key::CONTENT) {
        walk.key(
            k,
            root.get(k.name),
            top.child(PathSegment::Key(k.name.to_owned())),
            None,
        );
    }
    let reader = MapReader::root(tree).ok();
    let read = |name: &str| reader.as_ref().and_then(|r| r.req::<String>(name).ok());
    let mut rules = Vec::new();
    let mut rest = None;
    if let Some(scope) = read(key::SCOPE) {
        scope_check(&scope, &mut rules);
    }
    let kind = read(key::KIND).and_then(|k| DocumentKind::parse(&k).ok());
    let version = read(key::SCHEMA).and_then(|v| SchemaVersion::parse(&v));
    match (kind, version) {
        (_, Some(v)) if !v.is_known() => walk.issues.push(unknown_schema(v)),
        (Some(kind), Some(_)) => {
            // The header's problems stop nothing below: the content is checked on its own.
            walk.stuck = false;
            let content = ROOT
                .iter()
                .find(|k| k.name == key::CONTENT)
                .expect("the root documents its content");
            let path = top.child(PathSegment::Key(key::CONTENT.to_owned()));
            match root.get(key::CONTENT) {
                Some(hydrate::Value::Map(m)) => {
                    walk.map(m, SCHEMA.kind(kind).content, &path, None);
                }
                other => walk.key(content, other, path, None),
            }
            if !walk.stuck {
                let mut cut = tree.clone();
                for c in &walk.cuts {
                    c.apply(&mut cut);
                }
                let content = MapReader::root(&cut)
                    .and_then(|root| root.map(key::CONTENT))
                    .and_then(|c| Content::read_from(kind, &c));
                if let Ok(content) = content {
                    content_checks(&content, &mut rules);
                }
                rest = Some(cut);
            }
        }
        _ => {}
    }
    Some(Checked { walk, rules, rest })
}

/// For tests: the problems of every key, and the document with the bad parts cut out when the
/// content could be checked.
#[cfg(test)]
pub(crate) fn key_problems(tree: &hydrate::Value) -> (Vec<Issue>, Option<hydrate::Value>) {
    match walk_document(tree) {
        Some(c) => (c.walk.issues, c.rest),
        None => (Vec::new(), None),
    }
}

/// Whether two field paths are the same field or one lies inside the other: a rule's issue there
/// adds nothing to the structural one (or comes from the cut).
fn related(a: &str, b: &str) -> bool {
    fn inside(p: &str, parent: &str) -> bool {
        p.len() > parent.len()
            && p.starts_with(parent)
            && matches!(p.as_bytes()[parent.len()], b'.' | b'[')
    }
    a == b || inside(a, b) || inside(b, a)
}

/// What to take out of a copy of the document so that the rest reads.
#[derive(Debug, Clone)]
enum Cut {
    /// Delete the key (an optional key, an entry of a collection).
    Remove(FieldPath),
    /// Put an empty map or list at the key (a collection or a record of optional keys).
    Empty(FieldPath, fn() -> hydrate::Value),
}

impl Cut {
    fn apply(&self, tree: &mut hydrate::Value) {
        let path = match self {
            Cut::Remove(p) | Cut::Empty(p, _) => p,
        };
        let Some((PathSegment::Key(last), parents)) = path.0.split_last() else {
            return;
        };
        let mut at = tree;
        for seg in parents {
            let next = match (seg, at) {
                (PathSegment::Key(k), hydrate::Value::Map(m)) => m.get_mut(k),
                (PathSegment::Index(i), hydrate::Value::List(l)) => l.get_mut(*i),
                _ => None,
            };
            match next {
                Some(v) => at = v,
                None => return,
            }
        }
        let hydrate::Value::Map(m) = at else {
            return;
        };
        match self {
            Cut::Remove(_) => {
                m.remove(last.as_str());
            }
            Cut::Empty(_, empty) => {
                let value = empty();
                let conflict = false;
                m.insert(last.clone(), hydrate::MapValue { value, conflict });
            }
        }
    }
}

#[derive(Debug, Default)]
struct Walk {
    issues: Vec<Issue>,
    cuts: Vec<Cut>,
    /// A problem no cut gets around (a required scalar of the content map).
    stuck: bool,
}

fn sorted(m: &hydrate::Map) -> Vec<(&String, &hydrate::Value)> {
    let mut entries: Vec<_> = m.iter().map(|(k, v)| (k, &v.value)).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

impl Shape {
    /// The empty value a key of this shape may be cut back to, if an empty one reads.
    fn empty(&self) -> Option<fn() -> hydrate::Value> {
        match self {
            Shape::Entries(..) | Shape::Set(_) => Some(hydrate::Value::map),
            Shape::List(_) => Some(hydrate::Value::list),
            Shape::Record(keys) if keys.iter().all(|k| !k.required) => Some(hydrate::Value::map),
            _ => None,
        }
    }
}

impl Walk {
    fn map(
        &mut self,
        map: &hydrate::Map,
        keys: &'static [Key],
        path: &FieldPath,
        anchor: Option<&Cut>,
    ) {
        for k in keys {
            let p = path.child(PathSegment::Key(k.name.to_owned()));
            self.key(k, map.get(k.name), p, anchor);
        }
    }

    /// A problem with key `k` at `path`, and the cut that gets around it: the key itself when it
    /// is optional, an empty value when one reads, else `anchor` (the entry holding it).
    fn fail(&mut self, k: &Key, error: DocError, path: &FieldPath, anchor: Option<&Cut>) {
        self.issues.push(issue(&error, k.label_zh));
        let cut = if !k.required {
            Some(Cut::Remove(path.clone()))
        } else if let Some(empty) = k.shape.empty() {
            Some(Cut::Empty(path.clone(), empty))
        } else {
            anchor.cloned()
        };
        match cut {
            Some(c) => self.cuts.push(c),
            None => self.stuck = true,
        }
    }

    /// A problem inside a collection (an entry's key or value): cut `cut`.
    fn fail_inside(&mut self, k: &Key, error: DocError, cut: Cut) {
        self.issues.push(issue(&error, k.label_zh));
        self.cuts.push(cut);
    }

    fn key(
        &mut self,
        k: &'static Key,
        value: Option<&hydrate::Value>,
        path: FieldPath,
        anchor: Option<&Cut>,
    ) {
        let p = path.to_string();
        let missing = || DocError::Missing { path: p.clone() };
        let wrong = |expected| DocError::WrongType {
            path: p.clone(),
            expected,
        };
        let value = match value {
            Some(hydrate::Value::Scalar(s))
                if s.is_null() && matches!(k.shape, Shape::Scalar(_)) =>
            {
                None
            }
            v => v,
        };
        let Some(value) = value else {
            if k.required {
                self.fail(k, missing(), &path, anchor);
            }
            return;
        };
        match (&k.shape, value) {
            (Shape::Scalar(f), hydrate::Value::Scalar(s)) => {
                if let Err(e) = f.check(s) {
                    self.fail(k, field_error(p.clone(), f.expected, e), &path, anchor);
                }
            }
            (Shape::Scalar(f), _) => self.fail(k, wrong(f.expected), &path, anchor),
            (Shape::Record(keys) | Shape::ValueObject(keys), hydrate::Value::Map(m)) => {
                let own = (!k.required).then(|| Cut::Remove(path.clone()));
                self.map(m, keys, &path, own.as_ref().or(anchor));
            }
            (Shape::Entries(format, keys), hydrate::Value::Map(m)) => {
                for (entry_key, v) in sorted(m) {
                    let at = path.child(PathSegment::Key(entry_key.clone()));
                    let cut = Cut::Remove(at.clone());
                    if !valid_key(format, entry_key) {
                        let e = DocError::Invalid {
                            path: at.to_string(),
                            code: "key.format",
                            reason: "not a valid key for this collection".to_owned(),
                        };
                        self.fail_inside(k, e, cut.clone());
                    }
                    match v {
                        hydrate::Value::Map(entry) => self.map(entry, keys, &at, Some(&cut)),
                        _ => {
                            let e = DocError::WrongType {
                                path: at.to_string(),
                                expected: "a map",
                            };
                            self.fail_inside(k, e, cut);
                        }
                    }
                }
            }
            (Shape::Set(format), hydrate::Value::Map(m)) => {
                for (member, v) in sorted(m) {
                    let at = path.child(PathSegment::Key(member.clone()));
                    let error = match v {
                        hydrate::Value::Scalar(ScalarValue::Boolean(true))
                            if !valid_key(format, member) =>
                        {
                            Some(DocError::Invalid {
                                path: at.to_string(),
                                code: "code.unknown",
                                reason: "not a valid member of this set".to_owned(),
                            })
                        }
                        hydrate::Value::Scalar(ScalarValue::Boolean(_)) => None,
                        hydrate::Value::Scalar(s) if s.is_null() => Some(DocError::Missing {
                            path: at.to_string(),
                        }),
                        _ => Some(DocError::WrongType {
                            path: at.to_string(),
                            expected: <bool as crate::doc::access::Field>::EXPECTED,
                        }),
                    };
                    if let Some(e) = error {
                        self.fail_inside(k, e, Cut::Remove(at));
                    }
                }
            }
            (Shape::List(keys), hydrate::Value::List(l)) => {
                // An item cannot be cut without renumbering the rest: the list is emptied.
                let cut = Cut::Empty(path.clone(), hydrate::Value::list);
                for (i, item) in l.iter().enumerate() {
                    let at = path.child(PathSegment::Index(i));
                    match &item.value {
                        hydrate::Value::Map(m) => self.map(m, keys, &at, Some(&cut)),
                        _ => {
                            let e = DocError::WrongType {
                                path: at.to_string(),
                                expected: "a map",
                            };
                            self.fail_inside(k, e, cut.clone());
                        }
                    }
                }
            }
            (Shape::List(_), _) => self.fail(k, wrong("a list"), &path, anchor),
            (_, _) => self.fail(k, wrong("a map"), &path, anchor),
        }
    }
}

/// Whether `key` is a valid key of a collection keyed by `format` (as the readers parse keys).
fn valid_key(format: &Format, key: &str) -> bool {
    format.check(&ScalarValue::Str(key.into())).is_ok()
}

/// The issue of a key that does not read, with the key's Chinese name before a message that
/// does not name it already.
fn issue(error: &DocError, label_zh: &str) -> Issue {
    let mut i = Issue::from_doc_error(error);
    if !i.message_zh.contains(label_zh) {
        i.message_zh = format!("{label_zh}：{}", i.message_zh);
    }
    i
}
