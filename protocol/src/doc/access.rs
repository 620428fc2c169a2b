//! Typed access to automerge maps: the only place that turns Rust values into automerge values
//! and back.
//!
//! Readers never panic: a missing required key, a value of the wrong type or a value that fails
//! its domain check gives a [`DocError`] naming the field path.
//!
//! Writers change only what differs. Setting a field to the value it already has writes nothing,
//! so a phone that saves a whole typed record after editing one field produces operations for that
//! field only, and a concurrent edit of another field by someone else merges without a conflict.
//! A record's map is created once, when the record is created, and reused afterwards; optional
//! parts of a record are flat keys of that map rather than nested maps created later (two phones
//! creating the same nested map concurrently would make two objects of which only one survives).
//! Value objects whose parts must stay together (a GPS fix) are the exception: they are replaced
//! whole, so a merge never pairs one phone's latitude with another's longitude.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, ValueRef, hydrate};
use chrono::NaiveDate;

use crate::id_number::Sex;
use crate::identity::MaskedId;
use crate::ids::{AccountId, BlobHash, DocumentId, EntryId, MemberId};

/// Why a document could not be read or written as its typed view.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocError {
    #[error("{path}: required field is missing")]
    Missing { path: String },
    #[error("{path}: expected {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: invalid value ({code}): {reason}")]
    Invalid {
        path: String,
        code: &'static str,
        reason: String,
    },
    #[error("the document is a {found}, not a {expected}")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("schema version {found} is not supported (known major version: {known})")]
    UnsupportedSchema { found: String, known: u16 },
    #[error("{path}: an append-only list cannot shrink (has {have} entries, given {given})")]
    AppendOnly {
        path: String,
        have: usize,
        given: usize,
    },
    #[error("automerge: {0}")]
    Automerge(String),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(e.to_string())
    }
}

impl DocError {
    /// The field path the error is about; empty for whole-document errors.
    pub fn path(&self) -> &str {
        match self {
            DocError::Missing { path }
            | DocError::WrongType { path, .. }
            | DocError::Invalid { path, .. }
            | DocError::AppendOnly { path, .. } => path,
            _ => "",
        }
    }
}

/// Why a scalar could not become a field value.
#[derive(Debug)]
pub enum FieldError {
    WrongType,
    Invalid { code: &'static str, reason: String },
}

/// A Rust value stored as one automerge scalar.
pub trait Field: Sized {
    /// What the reader expected, for error messages.
    const EXPECTED: &'static str;
    fn to_scalar(&self) -> ScalarValue;
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError>;
}

/// A Rust value used as the key of an entry in a keyed map (or a member of a set).
pub trait MapKey: Ord + Clone {
    fn to_key(&self) -> String;
    fn from_key(s: &str) -> Option<Self>;
}

/// Time as milliseconds since the Unix epoch (UTC), stored as an automerge timestamp. Chosen over
/// RFC 3339 strings: compact, totally ordered, no time-zone spelling variants; display converts to
/// Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// China Standard Time (UTC+8, no daylight saving), in which every date of the domain is
    /// counted.
    const CST_OFFSET_MS: i64 = 8 * 3_600_000;

    /// The local date-time in China of this instant.
    pub fn china_time(self) -> Option<chrono::NaiveDateTime> {
        chrono::DateTime::from_timestamp_millis(self.0.checked_add(Self::CST_OFFSET_MS)?)
            .map(|d| d.naive_utc())
    }

    /// The date in China of this instant.
    pub fn china_date(self) -> Option<chrono::NaiveDate> {
        self.china_time().map(|t| t.date())
    }

    /// The instant of the China midnight that starts day `d`.
    pub fn china_midnight(d: chrono::NaiveDate) -> UnixMillis {
        UnixMillis(
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis() - Self::CST_OFFSET_MS)
                .unwrap_or(0),
        )
    }
}

fn str_of(v: &ScalarValue) -> Result<&str, FieldError> {
    match v {
        ScalarValue::Str(s) => Ok(s.as_str()),
        _ => Err(FieldError::WrongType),
    }
}

fn invalid(code: &'static str, reason: impl fmt::Display) -> FieldError {
    FieldError::Invalid {
        code,
        reason: reason.to_string(),
    }
}

impl Field for String {
    const EXPECTED: &'static str = "a string";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.as_str().into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        str_of(v).map(str::to_owned)
    }
}

impl Field for i64 {
    const EXPECTED: &'static str = "an integer";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(*self)
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match v {
            ScalarValue::Int(i) => Ok(*i),
            _ => Err(FieldError::WrongType),
        }
    }
}

impl Field for u8 {
    const EXPECTED: &'static str = "a small integer";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Int(i64::from(*self))
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        let i = i64::from_scalar(v)?;
        u8::try_from(i).map_err(|_| invalid("value.range", format!("{i} is out of range")))
    }
}

impl Field for bool {
    const EXPECTED: &'static str = "a boolean";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Boolean(*self)
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match v {
            ScalarValue::Boolean(b) => Ok(*b),
            _ => Err(FieldError::WrongType),
        }
    }
}

impl Field for f64 {
    const EXPECTED: &'static str = "a number";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::F64(*self)
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match v {
            ScalarValue::F64(f) => Ok(*f),
            _ => Err(FieldError::WrongType),
        }
    }
}

impl Field for UnixMillis {
    const EXPECTED: &'static str = "a timestamp";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Timestamp(self.0)
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match v {
            ScalarValue::Timestamp(t) => Ok(UnixMillis(*t)),
            _ => Err(FieldError::WrongType),
        }
    }
}

/// Calendar dates are stored as `YYYY-MM-DD` strings.
impl Field for NaiveDate {
    const EXPECTED: &'static str = "a date (YYYY-MM-DD)";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.format("%Y-%m-%d").to_string().into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        NaiveDate::parse_from_str(str_of(v)?, "%Y-%m-%d").map_err(|e| invalid("date.format", e))
    }
}

/// A masked 身份证号: documents never hold the clear number (`crate::identity`).
impl Field for MaskedId {
    const EXPECTED: &'static str = "a masked ID number";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.as_str().into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        MaskedId::parse(str_of(v)?).ok_or_else(|| {
            invalid(
                "id_number.masked_format",
                "expected 6 digits, ****, 3 digits and a digit or X",
            )
        })
    }
}

/// Bytes (a sealed value), stored as an automerge byte string.
impl Field for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Bytes(self.clone())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match v {
            ScalarValue::Bytes(b) => Ok(b.clone()),
            _ => Err(FieldError::WrongType),
        }
    }
}

impl Field for Sex {
    const EXPECTED: &'static str = "\"male\" or \"female\"";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(match self {
            Sex::Male => "male".into(),
            Sex::Female => "female".into(),
        })
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        match str_of(v)? {
            "male" => Ok(Sex::Male),
            "female" => Ok(Sex::Female),
            other => Err(invalid("code.unknown", format!("unknown sex {other:?}"))),
        }
    }
}

macro_rules! string_id_field {
    ($($ty:ty),*) => {$(
        impl Field for $ty {
            const EXPECTED: &'static str = "an identifier";
            fn to_scalar(&self) -> ScalarValue {
                ScalarValue::Str(self.to_string().into())
            }
            fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
                str_of(v)?.parse::<$ty>().map_err(|e| invalid("id.format", e))
            }
        }

        impl MapKey for $ty {
            fn to_key(&self) -> String {
                self.to_string()
            }
            fn from_key(s: &str) -> Option<Self> {
                s.parse().ok()
            }
        }
    )*};
}

string_id_field!(DocumentId, MemberId, EntryId, AccountId, BlobHash);

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        let mut joined = String::with_capacity(path.len() + 1 + key.len());
        joined.push_str(path);
        joined.push('.');
        joined.push_str(key);
        joined
    }
}

pub(crate) fn field_error(path: String, expected: &'static str, e: FieldError) -> DocError {
    match e {
        FieldError::WrongType => DocError::WrongType { path, expected },
        FieldError::Invalid { code, reason } => DocError::Invalid { path, code, reason },
    }
}

/// The deepest nesting of objects a document may have. The documents of this project nest a few
/// levels (root, content, a collection, an entry, a value object); automerge's `hydrate` recurses
/// once per level, so a document nested thousands deep, which a few hundred bytes of
/// run-length-encoded operations can make, would overflow the stack, and no error handling
/// survives that.
pub const MAX_DEPTH: usize = 32;

/// The whole state of a document, read from automerge in one pass (one walk per object) rather
/// than one lookup per field: what [`MapReader`] reads from. Refuses a document whose objects
/// nest deeper than [`MAX_DEPTH`].
pub fn tree<R: ReadDoc>(doc: &R) -> Result<hydrate::Value, DocError> {
    within_depth(doc)?;
    Ok(doc.hydrate(automerge::ROOT, None)?)
}

/// How deep automerge's `hydrate` (which recurses once per level) may be asked to go on a
/// thread's default stack: [`tree_grown`] hydrates directly up to this depth.
pub const HYDRATE_DEPTH: usize = 160;

/// [`tree`] of a document that was within [`MAX_DEPTH`] (a state [`tree`] accepted, or an empty
/// one) before changes that make `made` objects were applied: it nests at most `MAX_DEPTH + made`
/// deep, so while that is within [`HYDRATE_DEPTH`] it is hydrated at once and its depth checked
/// on the tree, instead of walking every object through automerge first (the walk costs more
/// than the hydration).
pub fn tree_grown<R: ReadDoc>(doc: &R, made: usize) -> Result<hydrate::Value, DocError> {
    if MAX_DEPTH + made > HYDRATE_DEPTH {
        return tree(doc);
    }
    let value = doc.hydrate(automerge::ROOT, None)?;
    let mut objects = vec![(&value, 0usize)];
    while let Some((v, depth)) = objects.pop() {
        let before = objects.len();
        match v {
            hydrate::Value::Map(m) => objects.extend(
                m.iter()
                    .filter(|(_, e)| !matches!(e.value, hydrate::Value::Scalar(_)))
                    .map(|(_, e)| (&e.value, depth + 1)),
            ),
            hydrate::Value::List(l) => objects.extend(
                l.iter()
                    .filter(|e| !matches!(e.value, hydrate::Value::Scalar(_)))
                    .map(|e| (&e.value, depth + 1)),
            ),
            hydrate::Value::Text(_) | hydrate::Value::Scalar(_) => {}
        }
        if objects.len() > before && depth >= MAX_DEPTH {
            return Err(too_deep());
        }
    }
    Ok(value)
}

fn too_deep() -> DocError {
    DocError::Automerge(format!("objects nested deeper than {MAX_DEPTH} levels"))
}

/// Whether no object of `doc` lies deeper than [`MAX_DEPTH`], found without recursion.
fn within_depth<R: ReadDoc>(doc: &R) -> Result<(), DocError> {
    let mut objects = vec![(automerge::ROOT, ObjType::Map, 0usize)];
    while let Some((obj, kind, depth)) = objects.pop() {
        let before = objects.len();
        match kind {
            ObjType::Map | ObjType::Table => {
                objects.extend(doc.map_range(&obj, ..).filter_map(|item| match item.value {
                    ValueRef::Object(t) => Some((item.id(), t, depth + 1)),
                    ValueRef::Scalar(_) => None,
                }))
            }
            ObjType::List => {
                objects.extend(
                    doc.list_range(&obj, ..)
                        .filter_map(|item| match item.value {
                            ValueRef::Object(t) => Some((item.id(), t, depth + 1)),
                            ValueRef::Scalar(_) => None,
                        }),
                )
            }
            ObjType::Text => {}
        }
        if objects.len() > before && depth >= MAX_DEPTH {
            return Err(too_deep());
        }
    }
    Ok(())
}

/// A required scalar field of the document's root map, read on its own (without a [`tree`]).
pub(crate) fn root_req<F: Field, R: ReadDoc>(doc: &R, key: &str) -> Result<F, DocError> {
    match doc.get(automerge::ROOT, key)? {
        Some((Value::Scalar(s), _)) if !s.is_null() => {
            F::from_scalar(&s).map_err(|e| field_error(key.to_owned(), F::EXPECTED, e))
        }
        Some((Value::Object(_), _)) => Err(DocError::WrongType {
            path: key.to_owned(),
            expected: F::EXPECTED,
        }),
        _ => Err(DocError::Missing {
            path: key.to_owned(),
        }),
    }
}

/// Reads the fields of one map of a document's [`tree`].
pub struct MapReader<'a> {
    map: &'a hydrate::Map,
    path: String,
}

impl<'a> MapReader<'a> {
    /// The root map of a document's [`tree`].
    pub fn root(tree: &'a hydrate::Value) -> Result<Self, DocError> {
        match tree {
            hydrate::Value::Map(map) => Ok(MapReader {
                map,
                path: String::new(),
            }),
            _ => Err(DocError::WrongType {
                path: String::new(),
                expected: "a map",
            }),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// An optional field: `None` when the key is absent or holds null.
    pub fn opt<F: Field>(&self, key: &str) -> Result<Option<F>, DocError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(hydrate::Value::Scalar(s)) if s.is_null() => Ok(None),
            Some(hydrate::Value::Scalar(s)) => F::from_scalar(s)
                .map(Some)
                .map_err(|e| field_error(join(&self.path, key), F::EXPECTED, e)),
            Some(_) => Err(DocError::WrongType {
                path: join(&self.path, key),
                expected: F::EXPECTED,
            }),
        }
    }

    /// A required field.
    pub fn req<F: Field>(&self, key: &str) -> Result<F, DocError> {
        self.opt(key)?.ok_or_else(|| DocError::Missing {
            path: join(&self.path, key),
        })
    }

    /// An optional nested map.
    pub fn opt_map(&self, key: &str) -> Result<Option<MapReader<'a>>, DocError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(hydrate::Value::Map(map)) => Ok(Some(MapReader {
                map,
                path: join(&self.path, key),
            })),
            Some(_) => Err(DocError::WrongType {
                path: join(&self.path, key),
                expected: "a map",
            }),
        }
    }

    /// A required nested map.
    pub fn map(&self, key: &str) -> Result<MapReader<'a>, DocError> {
        self.opt_map(key)?.ok_or_else(|| DocError::Missing {
            path: join(&self.path, key),
        })
    }

    /// The keys of this map in order (the tree keeps them unordered; errors should name the
    /// same entry every time).
    fn sorted_keys(&self) -> Vec<&'a String> {
        let mut keys: Vec<&'a String> = self.map.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys
    }

    /// A keyed collection: a map from stable keys to records.
    pub fn entries<K: MapKey, V>(
        &self,
        key: &str,
        read: impl Fn(&MapReader<'a>) -> Result<V, DocError>,
    ) -> Result<BTreeMap<K, V>, DocError> {
        let coll = self.map(key)?;
        let mut out = BTreeMap::new();
        for k in coll.sorted_keys() {
            let parsed = K::from_key(k).ok_or_else(|| DocError::Invalid {
                path: join(&coll.path, k),
                code: "key.format",
                reason: "not a valid key for this collection".to_owned(),
            })?;
            out.insert(parsed, read(&coll.map(k)?)?);
        }
        Ok(out)
    }

    /// A set: a map whose keys are the members and whose values are `true`.
    pub fn set<K: MapKey>(&self, key: &str) -> Result<BTreeSet<K>, DocError> {
        let coll = self.map(key)?;
        let mut out = BTreeSet::new();
        for k in coll.sorted_keys() {
            if coll.req::<bool>(k)? {
                out.insert(K::from_key(k).ok_or_else(|| DocError::Invalid {
                    path: join(&coll.path, k),
                    code: "code.unknown",
                    reason: "not a valid member of this set".to_owned(),
                })?);
            }
        }
        Ok(out)
    }

    /// An append-only list of records that older documents may lack (empty then).
    pub fn opt_list<V>(
        &self,
        key: &str,
        read: impl Fn(&MapReader<'a>) -> Result<V, DocError>,
    ) -> Result<Vec<V>, DocError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(_) => self.list(key, read),
        }
    }

    /// An append-only list of records.
    pub fn list<V>(
        &self,
        key: &str,
        read: impl Fn(&MapReader<'a>) -> Result<V, DocError>,
    ) -> Result<Vec<V>, DocError> {
        let path = join(&self.path, key);
        let list = match self.map.get(key) {
            None => return Err(DocError::Missing { path }),
            Some(hydrate::Value::List(list)) => list,
            Some(_) => {
                return Err(DocError::WrongType {
                    path,
                    expected: "a list",
                });
            }
        };
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match &item.value {
                hydrate::Value::Map(map) => out.push(read(&MapReader {
                    map,
                    path: item_path,
                })?),
                _ => {
                    return Err(DocError::WrongType {
                        path: item_path,
                        expected: "a map",
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Writes the fields of one automerge map, changing only what differs.
pub struct MapWriter<'a, T: Transactable> {
    tx: &'a mut T,
    obj: ObjId,
    path: String,
}

impl<'a, T: Transactable> MapWriter<'a, T> {
    pub fn root(tx: &'a mut T) -> Self {
        MapWriter::at(tx, automerge::ROOT)
    }

    /// The writer of the map `obj` (its path left empty: for rewriting a document in place).
    pub(crate) fn at(tx: &'a mut T, obj: ObjId) -> Self {
        MapWriter {
            tx,
            obj,
            path: String::new(),
        }
    }

    fn current(&self, key: &str) -> Result<Option<ScalarValue>, DocError> {
        Ok(match self.tx.get(&self.obj, key)? {
            Some((Value::Scalar(s), _)) => Some(s.into_owned()),
            _ => None,
        })
    }

    /// Set a field; nothing is written if the visible value is already equal. So saving a record
    /// read from a document with a conflict on this field keeps the conflict for a reviewer; only
    /// a different value, or [`crate::doc::conflicts::resolve`], supersedes the conflicting ones.
    pub fn set<F: Field>(&mut self, key: &str, value: &F) -> Result<(), DocError> {
        let new = value.to_scalar();
        if self.current(key)?.as_ref() != Some(&new) {
            self.tx.put(&self.obj, key, new)?;
        }
        Ok(())
    }

    /// Set an optional field; `None` deletes the key.
    pub fn set_opt<F: Field>(&mut self, key: &str, value: Option<&F>) -> Result<(), DocError> {
        match value {
            Some(v) => self.set(key, v),
            None => {
                if self.tx.get(&self.obj, key)?.is_some() {
                    self.tx.delete(&self.obj, key)?;
                }
                Ok(())
            }
        }
    }

    /// The nested map at `key`, created if absent. An existing map is reused, never replaced.
    pub fn map(&mut self, key: &str) -> Result<MapWriter<'_, T>, DocError> {
        let obj = match self.tx.get(&self.obj, key)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => self.tx.put_object(&self.obj, key, ObjType::Map)?,
        };
        Ok(MapWriter {
            tx: &mut *self.tx,
            obj,
            path: join(&self.path, key),
        })
    }

    /// Make the keyed collection at `key` hold exactly `items`: entries not in `items` are
    /// deleted, new ones created, existing ones updated field by field.
    pub fn entries<K: MapKey, V>(
        &mut self,
        key: &str,
        items: &BTreeMap<K, V>,
        write: impl Fn(&V, &mut MapWriter<'_, T>) -> Result<(), DocError>,
    ) -> Result<(), DocError> {
        let mut coll = self.map(key)?;
        let existing: Vec<String> = coll.tx.keys(&coll.obj).collect();
        for k in existing {
            if K::from_key(&k).is_none_or(|k| !items.contains_key(&k)) {
                coll.tx.delete(&coll.obj, k)?;
            }
        }
        for (k, v) in items {
            write(v, &mut coll.map(&k.to_key())?)?;
        }
        Ok(())
    }

    /// Make the set at `key` hold exactly `items`.
    pub fn set_of<K: MapKey>(&mut self, key: &str, items: &BTreeSet<K>) -> Result<(), DocError> {
        let mut coll = self.map(key)?;
        let existing: Vec<String> = coll.tx.keys(&coll.obj).collect();
        for k in existing {
            if K::from_key(&k).is_none_or(|k| !items.contains(&k)) {
                coll.tx.delete(&coll.obj, k)?;
            }
        }
        for k in items {
            coll.set(&k.to_key(), &true)?;
        }
        Ok(())
    }

    /// Append the entries of `items` beyond the list's current length. Entries already in the
    /// list are never rewritten; `items` shorter than the list is an error.
    pub fn append_only<V>(
        &mut self,
        key: &str,
        items: &[V],
        write: impl Fn(&V, &mut MapWriter<'_, T>) -> Result<(), DocError>,
    ) -> Result<(), DocError> {
        let path = join(&self.path, key);
        let list = match self.tx.get(&self.obj, key)? {
            Some((Value::Object(ObjType::List), id)) => id,
            _ => self.tx.put_object(&self.obj, key, ObjType::List)?,
        };
        let have = self.tx.length(&list);
        if items.len() < have {
            return Err(DocError::AppendOnly {
                path,
                have,
                given: items.len(),
            });
        }
        for (i, item) in items.iter().enumerate().skip(have) {
            let obj = self.tx.insert_object(&list, i, ObjType::Map)?;
            write(
                item,
                &mut MapWriter {
                    tx: &mut *self.tx,
                    obj,
                    path: format!("{path}[{i}]"),
                },
            )?;
        }
        Ok(())
    }

    /// Set a value object (whose fields must stay together) at `key`: if the visible map already
    /// holds exactly these fields nothing is written, otherwise a new map replaces the old one in
    /// a single operation on `key`. `None` deletes the key.
    pub fn value_object(
        &mut self,
        key: &str,
        fields: Option<&[(&str, ScalarValue)]>,
    ) -> Result<(), DocError> {
        let Some(fields) = fields else {
            return self.set_opt::<bool>(key, None);
        };
        if let Some((Value::Object(ObjType::Map), id)) = self.tx.get(&self.obj, key)? {
            let same_keys = self.tx.keys(&id).count() == fields.len();
            let mut same = same_keys;
            for (k, v) in fields {
                if !same {
                    break;
                }
                same = matches!(self.tx.get(&id, *k)?, Some((Value::Scalar(s), _)) if *s == *v);
            }
            if same {
                return Ok(());
            }
        }
        let obj = self.tx.put_object(&self.obj, key, ObjType::Map)?;
        for (k, v) in fields {
            self.tx.put(&obj, *k, v.clone())?;
        }
        Ok(())
    }
}
