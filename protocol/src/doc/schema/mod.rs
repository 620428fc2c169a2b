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
