//! The published schema of the three document kinds: every key with its automerge type, whether
//! it is required (and from which status on, where the rules ask for it), its values and limits,
//! who writes it, and the rules the validators apply.
//!
//! It is one description, made of the key constants the typed views read and write, from which
//! come docs/SCHEMA.md ([`markdown`]), the JSON of `GET /api/v1/schema` (the [`Serialize`] form of
//! [`SCHEMA`]) and the key-by-key check of a document that does not read as its typed view
//! (`validate::check`), which reports every problem of it at once. Tests write every documented key with
//! raw automerge calls and read it back through the typed views, check that every key the typed
//! views write is documented, that the check finds a problem exactly where the typed views fail,
//! and that each documented requirement, range and rule is what the validators enforce.

mod markdown;
#[cfg(test)]
pub(crate) mod tests;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

pub use markdown::markdown;

pub use super::format::*;
use super::{CURRENT_SCHEMA, SchemaVersion};
use crate::ids::DocumentKind;

/// The whole published schema.
#[derive(Debug)]
pub struct Schema {
    pub version: SchemaVersion,
    pub root: &'static [Key],
    pub root_rules: &'static [Rule],
    pub kinds: [&'static KindSchema; 3],
}

pub static SCHEMA: Schema = Schema {
    version: CURRENT_SCHEMA,
    root: ROOT,
    root_rules: ROOT_RULES,
    kinds: [
        &super::household::SCHEMA,
        &super::visit::SCHEMA,
        &super::discovery::SCHEMA,
    ],
};

impl Schema {
    pub fn kind(&self, kind: DocumentKind) -> &'static KindSchema {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .copied()
            .unwrap_or(self.kinds[0])
    }

    /// Every format the schema uses, in the order of first use.
    pub fn formats(&self) -> Vec<&'static Format> {
        fn visit(keys: &'static [Key], out: &mut Vec<&'static Format>) {
            let add = |f: &'static Format, out: &mut Vec<&'static Format>| {
                if !out.iter().any(|o| std::ptr::eq(*o, f) || o.name == f.name) {
                    out.push(f);
                }
            };
            for k in keys {
                match &k.shape {
                    Shape::Scalar(f) | Shape::Set(f) => add(f, out),
                    Shape::Record(keys) | Shape::ValueObject(keys) | Shape::List(keys) => {
                        visit(keys, out)
                    }
                    Shape::Entries(f, keys) => {
                        add(f, out);
                        visit(keys, out);
                    }
                    Shape::Content => {}
                }
            }
        }
        let mut out = Vec::new();
        visit(self.root, &mut out);
        for k in self.kinds {
            visit(k.content, &mut out);
        }
        out
    }
}

/// Where a path's next segment leads while it is labelled.
enum At {
    Keys(&'static [Key]),
    /// A collection's entry key (a member id, an entry id), then its record's keys.
    Entry(&'static [Key]),
    /// A list's index, then its element's keys.
    Index(&'static [Key]),
    /// A set's member: one of the format's codes.
    Code(&'static Format),
    /// Past a scalar, or at a segment the schema does not know.
    End,
}

impl Schema {
    /// A field path as a person reads it (字段名): the Chinese labels of its keys, joined by
    /// ` · `, e.g. `content.members.<id>.name` → `家庭成员 · 姓名`, `content.reviews[0].comment`
    /// → `审核记录 · 第 1 条 · 意见`. Entry ids are left out, a set's member is shown by its code's
    /// label, and a segment the schema does not know is kept as written.
    pub fn label(&self, kind: DocumentKind, path: &str) -> String {
        self.field(kind, path).0
    }

    /// A field path's [label](Self::label) and the format of the scalar it ends at (`None` for
    /// a path that ends at a record, a collection or a segment the schema does not know; a
    /// set's member is a code, not a value).
    pub fn field(&self, kind: DocumentKind, path: &str) -> (String, Option<&'static Format>) {
        let content = self.kind(kind).content;
        let mut format = None;
        let mut out: Vec<String> = Vec::new();
        let mut at = At::Keys(self.root);
        for seg in path_segments(path) {
            at = match (at, seg) {
                (At::Keys(keys), Seg::Key(name)) => match keys.iter().find(|k| k.name == name) {
                    Some(k) => {
                        if !matches!(k.shape, Shape::Content) {
                            out.push(k.label_zh.to_string());
                        }
                        format = match &k.shape {
                            Shape::Scalar(f) => Some(*f),
                            _ => None,
                        };
                        match &k.shape {
                            Shape::Scalar(_) => At::End,
                            Shape::Set(f) => At::Code(f),
                            Shape::Record(keys) | Shape::ValueObject(keys) => At::Keys(keys),
                            Shape::Entries(_, keys) => At::Entry(keys),
                            Shape::List(keys) => At::Index(keys),
                            Shape::Content => At::Keys(content),
                        }
                    }
                    None => {
                        out.push(name.to_string());
                        At::End
                    }
                },
                (At::Entry(keys), Seg::Key(_)) => At::Keys(keys),
                (At::Index(keys), Seg::Index(n)) => {
                    out.push(format!("第 {} 条", n.saturating_add(1)));
                    At::Keys(keys)
                }
                (At::Code(f), Seg::Key(code)) => {
                    let shown = f.codes.iter().find(|(c, _)| *c == code);
                    out.push(shown.map_or(code, |(_, zh)| *zh).to_string());
                    At::End
                }
                (_, Seg::Key(name)) => {
                    format = None;
                    out.push(name.to_string());
                    At::End
                }
                (_, Seg::Index(n)) => {
                    format = None;
                    out.push(format!("[{n}]"));
                    At::End
                }
            };
        }
        (out.join(" · "), format)
    }

    /// The Chinese label of a key name of `kind` wherever it occurs (the first documented key of
    /// that name, root keys included), or `None` for a name the schema does not know (an entry id).
    pub fn key_label(&self, kind: DocumentKind, name: &str) -> Option<&'static str> {
        fn find(keys: &'static [Key], name: &str) -> Option<&'static str> {
            keys.iter().find_map(|k| {
                if k.name == name {
                    return Some(k.label_zh);
                }
                match &k.shape {
                    Shape::Record(keys)
                    | Shape::ValueObject(keys)
                    | Shape::Entries(_, keys)
                    | Shape::List(keys) => find(keys, name),
                    Shape::Scalar(_) | Shape::Set(_) | Shape::Content => None,
                }
            })
        }
        find(self.kind(kind).content, name).or_else(|| find(self.root, name))
    }
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The segments of a path as [`super::conflicts::FieldPath`] writes it: keys joined by `.`,
/// list indexes as `[n]`.
fn path_segments(path: &str) -> impl Iterator<Item = Seg<'_>> {
    path.split('.').flat_map(|part| {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        let indexes = rest
            .split('[')
            .filter_map(|i| i.strip_suffix(']'))
            .map(|i| i.parse().map_or(Seg::Key(i), Seg::Index));
        (!key.is_empty())
            .then_some(Seg::Key(key))
            .into_iter()
            .chain(indexes)
    })
}

// The JSON form (`GET /api/v1/schema`): formats once by name, keys referring to them.

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Schema", 6)?;
        m.serialize_field("schema", &self.version.to_string())?;
        m.serialize_field("formats", &Formats(self.formats()))?;
        m.serialize_field("root", &Keys(self.root, WrittenBy::Phone))?;
        m.serialize_field("root_rules", &Rules(self.root_rules))?;
        m.serialize_field("kinds", &self.kinds)?;
        m.serialize_field("structure_codes", &Codes(STRUCTURE_CODES, "when"))?;
        m.end()
    }
}

struct Formats(Vec<&'static Format>);

impl Serialize for Formats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for f in &self.0 {
            m.serialize_entry(f.name, f)?;
        }
        m.end()
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("automerge", &self.automerge)?;
        if !self.about.is_empty() {
            m.serialize_entry("about", self.about)?;
        }
        if self.is_code() {
            m.serialize_entry("codes", &Codes(self.codes, "label_zh"))?;
        }
        m.end()
    }
}

/// Pairs as `[{"code": …, <second>: …}]`.
struct Codes(&'static [(&'static str, &'static str)], &'static str);

impl Serialize for Codes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Pair(&'static str, &'static str, &'static str);
        impl Serialize for Pair {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("code", self.0)?;
                m.serialize_entry(self.1, self.2)?;
                m.end()
            }
        }
        s.collect_seq(
            self.0
                .iter()
                .map(|(code, second)| Pair(code, self.1, second)),
        )
    }
}

/// Keys of a map written by the second field.
struct Keys(&'static [Key], WrittenBy);

impl Serialize for Keys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|k| KeyIn(k, k.written_within(self.1))))
    }
}

/// A key and who writes it.
struct KeyIn(&'static Key, WrittenBy);

impl Serialize for KeyIn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let KeyIn(key, by) = *self;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("key", key.name)?;
        m.serialize_entry("label_zh", key.label_zh)?;
        if !key.about.is_empty() {
            m.serialize_entry("about", key.about)?;
        }
        m.serialize_entry("required", &key.required)?;
        match &key.shape {
            Shape::Scalar(f) => {
                m.serialize_entry("type", "scalar")?;
                m.serialize_entry("format", f.name)?;
            }
            Shape::Record(keys) => {
                m.serialize_entry("type", "map")?;
                m.serialize_entry("keys", &Keys(keys, by))?;
            }
            Shape::ValueObject(keys) => {
                m.serialize_entry("type", "value_object")?;
                m.serialize_entry("keys", &Keys(keys, by))?;
            }
            Shape::Entries(f, keys) => {
                m.serialize_entry("type", "entries")?;
                m.serialize_entry("key_format", f.name)?;
                m.serialize_entry("keys", &Keys(keys, by))?;
            }
            Shape::Set(f) => {
                m.serialize_entry("type", "set")?;
                m.serialize_entry("key_format", f.name)?;
            }
            Shape::List(keys) => {
                m.serialize_entry("type", "list")?;
                m.serialize_entry("keys", &Keys(keys, by))?;
            }
            Shape::Content => m.serialize_entry("type", "content")?,
        }
        if let Some(n) = &key.needed {
            m.serialize_entry("needed", n)?;
        }
        if let Some(r) = &key.range {
            m.serialize_entry("range", r)?;
        }
        match by {
            WrittenBy::Phone => m.serialize_entry("written_by", "phone")?,
            WrittenBy::Server => m.serialize_entry("written_by", "server")?,
            WrittenBy::PhoneValues(v) => {
                m.serialize_entry("written_by", "phone_values")?;
                m.serialize_entry("phone_values", v)?;
            }
        }
        m.end()
    }
}

impl Serialize for Needed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Needed", 3)?;
        m.serialize_field("statuses", self.statuses)?;
        m.serialize_field("min", &self.min)?;
        m.serialize_field("rule", self.rule)?;
        m.end()
    }
}

/// A bound as the JSON number it is: whole bounds without a fraction.
fn bound<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        (v as i64).serialize(s)
    } else {
        v.serialize(s)
    }
}

impl Serialize for Range {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct B(f64);
        impl Serialize for B {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                bound(self.0, s)
            }
        }
        let mut m = s.serialize_map(None)?;
        if let Some(v) = self.min {
            m.serialize_entry("min", &B(v))?;
        }
        if let Some(v) = self.max {
            m.serialize_entry("max", &B(v))?;
        }
        m.serialize_entry("rule", self.rule)?;
        m.end()
    }
}

struct Rules(&'static [Rule]);

impl Serialize for Rules {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Rule", 4)?;
        m.serialize_field("code", self.code)?;
        m.serialize_field("severity", self.severity.as_str())?;
        m.serialize_field("paths", self.paths)?;
        m.serialize_field("when", self.when)?;
        m.end()
    }
}

impl Serialize for KindSchema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Kind", 6)?;
        m.serialize_field("kind", self.kind.as_str())?;
        m.serialize_field("label_zh", self.kind.label_zh())?;
        m.serialize_field("about", self.about)?;
        m.serialize_field("content", &Keys(self.content, WrittenBy::Phone))?;
        m.serialize_field("alternatives", self.alternatives)?;
        m.serialize_field("rules", &Rules(self.rules))?;
        m.end()
    }
}
