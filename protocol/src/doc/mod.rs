//! The three kinds of CRDT document (户 household, 走访 visit, 主动发现报告 discovery report) as
//! automerge documents, with typed views, validation shared by phone and server, and a conflict
//! report for reviewers.
//!
//! # Layout of every document
//!
//! The root map holds the header and the content:
//!
//! | key | value |
//! |---|---|
//! | `kind` | `household`, `visit` or `discovery_report` |
//! | `schema` | `"major.minor"`, e.g. `"1.0"`; changes within a major version are additive |
//! | `scope` | the grid code (网格) the document belongs to: the unit of access |
//! | `id` | the document's random [`DocumentId`] |
//! | `content` | a map with the fields of the kind ([`Household`], [`Visit`], [`DiscoveryReport`]) |
//!
//! The header is written once, when the document is created; only a server-side migration
//! changes `schema`.
//!
//! # Modelling choices
//!
//! - Records are automerge maps. Collections that two phones may add to concurrently (members,
//!   income items, assets, photos, signatures, ...) are maps keyed by a stable random id or by the
//!   blob's SHA-256, never lists, so concurrent additions both survive. Sets (programmes, target
//!   groups) are maps from the code to `true`. Histories that only grow and are written by the
//!   server (decisions, review decisions) are lists.
//! - Strings are automerge scalar strings, not text objects: the fields are short values (names,
//!   codes, notes written by one investigator) for which merging two people's keystrokes
//!   character by character would produce a mixture neither wrote. With scalars, concurrent edits
//!   are last-writer-wins with a deterministic winner and every losing value stays visible through
//!   [`conflicts::conflicts`], so a reviewer can choose (sync principle 8).
//! - Money is an integer number of fen (分). Times are [`UnixMillis`] (automerge timestamps);
//!   calendar dates (birth dates) are `YYYY-MM-DD` strings.
//! - Keys are constants in a `key` module next to each kind; no other code spells them.
//!
//! Readers work on anything that implements [`automerge::ReadDoc`] and writers on anything that
//! implements [`automerge::transaction::Transactable`] (an `AutoCommit` or an open transaction).

pub mod access;
pub mod common;
pub mod conflicts;
pub mod discovery;
pub mod format;
pub mod history;
pub mod household;
pub mod identity;
pub mod issue;
pub mod refs;
pub mod schema;
mod sealed;
mod storage;
pub mod validate;
pub mod visit;

#[cfg(test)]
mod tests;

use std::fmt;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, Change, ChangeHash, ReadDoc, hydrate};

pub use access::{DocError, MapReader, MapWriter, UnixMillis, tree, tree_grown};
pub use common::{GeoPoint, Photo, PhotoCategory};
pub use conflicts::{Conflict, ConflictValue, FieldPath, PathSegment};
pub use discovery::DiscoveryReport;
pub use household::Household;
pub use storage::{
    CHUNK_MAGIC, ChunkHeader, MAX_CHANGE_BYTES, MAX_INFLATED_BYTES, chunk_kind, chunks,
    inflated_size,
};
pub use validate::{Issue, Severity, validate, validate_content, validate_tree};
pub use visit::Visit;

use crate::ids::{DocumentId, DocumentKind};

/// Root keys shared by every kind.
pub mod key {
    pub const KIND: &str = "kind";
    pub const SCHEMA: &str = "schema";
    pub const SCOPE: &str = "scope";
    pub const ID: &str = "id";
    pub const CONTENT: &str = "content";
}

/// A schema version `major.minor`. Readers accept any minor version of a major version they know
/// (newer minors only add fields, which older readers ignore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaVersion {
    pub major: u16,
    pub minor: u16,
}

/// The schema version this code writes.
pub const CURRENT_SCHEMA: SchemaVersion = SchemaVersion { major: 1, minor: 0 };

impl SchemaVersion {
    pub fn parse(s: &str) -> Option<SchemaVersion> {
        let (major, minor) = s.split_once('.')?;
        let num = |p: &str| {
            (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        Some(SchemaVersion {
            major: num(major)?,
            minor: num(minor)?,
        })
    }

    /// Whether this code can read documents of this version.
    pub fn is_known(self) -> bool {
        self.major == CURRENT_SCHEMA.major
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The header every document carries at its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: DocumentKind,
    pub schema: SchemaVersion,
    /// The grid code (网格) the document belongs to.
    pub scope: String,
    pub id: DocumentId,
}

/// Read the header. The schema version is returned as found, even if unknown; [`read`] refuses
/// unknown major versions. Reads the four root keys only.
pub fn read_header<R: ReadDoc>(doc: &R) -> Result<Header, DocError> {
    header_parts(
        access::root_req(doc, key::KIND)?,
        access::root_req(doc, key::SCHEMA)?,
        access::root_req(doc, key::SCOPE)?,
        access::root_req(doc, key::ID)?,
    )
}

/// [`read_header`] from the root of a document's [`tree`].
pub fn header_of(root: &MapReader<'_>) -> Result<Header, DocError> {
    header_parts(
        root.req(key::KIND)?,
        root.req(key::SCHEMA)?,
        root.req(key::SCOPE)?,
        root.req(key::ID)?,
    )
}

fn header_parts(
    kind: String,
    schema: String,
    scope: String,
    id: DocumentId,
) -> Result<Header, DocError> {
    let invalid = |path: &str, code, reason: &str| DocError::Invalid {
        path: path.to_owned(),
        code,
        reason: reason.to_owned(),
    };
    let kind = DocumentKind::parse(&kind)
        .map_err(|_| invalid(key::KIND, "kind.unknown", "unknown document kind"))?;
    let schema = SchemaVersion::parse(&schema)
        .ok_or_else(|| invalid(key::SCHEMA, "schema.format", "expected major.minor"))?;
    Ok(Header {
        kind,
        schema,
        scope,
        id,
    })
}

/// One kind of document content.
pub trait DocumentContent: Sized {
    const KIND: DocumentKind;
    /// Read the content map.
    fn read_from(content: &MapReader<'_>) -> Result<Self, DocError>;
    /// Make the content map equal to `self`, writing only what differs.
    fn write_to<T: Transactable>(&self, content: &mut MapWriter<'_, T>) -> Result<(), DocError>;
    /// Check the content against the domain rules, adding issues to `out`.
    fn validate(&self, out: &mut Vec<Issue>);
}

/// Create a new document of kind `C` holding `content`, in one change. `actor` is the device's
/// registered actor id (the server rejects changes by actors not registered to the sender).
pub fn create<C: DocumentContent>(
    id: DocumentId,
    scope: &str,
    content: &C,
    actor: Option<ActorId>,
) -> Result<AutoCommit, DocError> {
    let mut doc = AutoCommit::new();
    if let Some(actor) = actor {
        doc.set_actor(actor);
    }
    let mut root = MapWriter::root(&mut doc);
    root.set(key::KIND, &C::KIND.as_str().to_owned())?;
    root.set(key::SCHEMA, &CURRENT_SCHEMA.to_string())?;
    root.set(key::SCOPE, &scope.to_owned())?;
    root.set(key::ID, &id)?;
    content.write_to(&mut root.map(key::CONTENT)?)?;
    doc.commit();
    Ok(doc)
}

/// Read the header and the typed content of a document of kind `C`.
pub fn read<C: DocumentContent, R: ReadDoc>(doc: &R) -> Result<(Header, C), DocError> {
    read_tree(&tree(doc)?)
}

/// [`read`] from a document's [`tree`] (read once, then used for several readings).
pub fn read_tree<C: DocumentContent>(tree: &hydrate::Value) -> Result<(Header, C), DocError> {
    let root = MapReader::root(tree)?;
    let header = header_of(&root)?;
    if header.kind != C::KIND {
        return Err(DocError::WrongKind {
            expected: C::KIND.as_str(),
            found: header.kind.as_str(),
        });
    }
    known_schema(&header)?;
    let content = C::read_from(&root.map(key::CONTENT)?)?;
    Ok((header, content))
}

/// Refuse a header of an unknown schema major version.
fn known_schema(header: &Header) -> Result<(), DocError> {
    match header.schema.is_known() {
        true => Ok(()),
        false => Err(DocError::UnsupportedSchema {
            found: header.schema.to_string(),
            known: CURRENT_SCHEMA.major,
        }),
    }
}

/// The typed content of a document of any of the three kinds.
#[derive(Debug, Clone, PartialEq)]
// A household is the largest; a value is read, used and dropped, never kept in bulk.
#[allow(clippy::large_enum_variant)]
pub enum Content {
    Household(Household),
    Visit(Visit),
    DiscoveryReport(DiscoveryReport),
}

impl Content {
    pub fn kind(&self) -> DocumentKind {
        match self {
            Content::Household(_) => DocumentKind::Household,
            Content::Visit(_) => DocumentKind::Visit,
            Content::DiscoveryReport(_) => DocumentKind::DiscoveryReport,
        }
    }

    /// Read a content map as the content of a document of kind `kind`.
    pub fn read_from(kind: DocumentKind, content: &MapReader<'_>) -> Result<Content, DocError> {
        Ok(match kind {
            DocumentKind::Household => Content::Household(Household::read_from(content)?),
            DocumentKind::Visit => Content::Visit(Visit::read_from(content)?),
            DocumentKind::DiscoveryReport => {
                Content::DiscoveryReport(DiscoveryReport::read_from(content)?)
            }
        })
    }
}

/// [`read_tree`] for a document of whatever kind its header names: the header and the content,
/// read once for all the readings that follow (validation, projections). Refuses an unknown
/// schema major version, as [`read_tree`] does.
pub fn read_any(tree: &hydrate::Value) -> Result<(Header, Content), DocError> {
    let root = MapReader::root(tree)?;
    let header = header_of(&root)?;
    known_schema(&header)?;
    let content = Content::read_from(header.kind, &root.map(key::CONTENT)?)?;
    Ok((header, content))
}

/// A document read once ([`read_any`]) with its issues, which are [`validate_tree`]'s: from the
/// content read when it reads, else every problem that keeps it from being read.
pub fn read_checked(tree: &hydrate::Value) -> (Option<(Header, Content)>, Vec<Issue>) {
    match read_any(tree) {
        Ok(read) => {
            let issues = validate_content(&read.0, &read.1);
            (Some(read), issues)
        }
        Err(e) => (None, validate::check::unreadable(tree, &e)),
    }
}

/// Make the content of an existing document equal to `content`, writing only the fields that
/// differ. Call it with content read from the document's current state: entries of keyed
/// collections that `content` lacks are deleted.
pub fn write<C: DocumentContent, T: Transactable>(tx: &mut T, content: &C) -> Result<(), DocError> {
    let kind = read_header(&*tx)?.kind;
    if kind != C::KIND {
        return Err(DocError::WrongKind {
            expected: C::KIND.as_str(),
            found: kind.as_str(),
        });
    }
    content.write_to(&mut MapWriter::root(tx).map(key::CONTENT)?)
}

/// Load a document from its saved bytes (a document chunk, change chunks, or both).
/// Their compressed parts may inflate to [`MAX_INFLATED_BYTES`] in all.
pub fn load(bytes: &[u8]) -> Result<AutoCommit, DocError> {
    use chunk_kind::*;
    storage::only_chunks(bytes, &[DOCUMENT, CHANGE, COMPRESSED_CHANGE])?;
    storage::check_inflated_size(bytes)?;
    untrusted(|| AutoCommit::load(bytes))
}

/// Parse one change in automerge's binary change format, compressed or not. A change whose bytes
/// are not those automerge writes for it (for one, columns that hold data but no operation) is
/// refused: automerge would apply it under the hash of the bytes given, but a saved document
/// holds it re-encoded, and would then not load (its heads would not match). A change may take
/// [`MAX_CHANGE_BYTES`], inflated when it comes compressed.
pub fn parse_change(bytes: &[u8]) -> Result<Change, DocError> {
    parse_change_with(bytes, |_| ()).map(|(change, ())| change)
}

/// [`parse_change`], with `inspect` run on the change's operations as they are decoded for the
/// encoding check (decoding is most of what parsing costs: a caller that reads the operations
/// reads them here rather than decoding the change again). A compressed change keeps its
/// compressed bytes: `Change::bytes` gives them without compressing it again.
pub fn parse_change_with<T>(
    bytes: &[u8],
    inspect: impl FnOnce(&automerge::ExpandedChange) -> T,
) -> Result<(Change, T), DocError> {
    // One change chunk, within its bound once inflated; automerge then inflates a compressed
    // change itself and keeps its compressed form.
    storage::change_chunk(bytes)?;
    let change = untrusted(|| Change::try_from(bytes))?;
    let expanded = untrusted(|| Ok::<_, DocError>(change.decode()))?;
    let seen = inspect(&expanded);
    let rewritten = untrusted(|| Ok::<_, DocError>(Change::from(expanded)))?;
    if rewritten.hash() != change.hash() {
        return Err(DocError::Automerge(
            "the change is not encoded as automerge writes it".to_owned(),
        ));
    }
    Ok((change, seen))
}

/// How many objects (maps, lists, texts) `change` makes: the deepest a document can grow by
/// applying it ([`access::tree_grown`]).
pub fn objects_made(change: &automerge::ExpandedChange) -> usize {
    use automerge::legacy::OpType;
    change
        .operations
        .iter()
        .filter(|op| matches!(op.action, OpType::Make(_)))
        .count()
}

/// Whether `saved` (an `Automerge::save`) loads back with exactly `heads`. Automerge applies
/// some changes that it cannot save readably (an empty change whose first operation number the
/// document already used, for one): a state to be stored is checked with this first, since a
/// stored document that does not load could not be read again, by the server or by any phone.
pub fn loads_as(saved: &[u8], heads: &[ChangeHash]) -> bool {
    untrusted(|| Automerge::load(saved)).is_ok_and(|doc| doc.get_heads() == heads)
}

/// The saved bytes of a document that input from elsewhere changed (a snapshot merged into it,
/// changes applied), once it is known to work as a held document must: it gives its changes back
/// (`get_changes`, which a client's next push runs), it saves, and the save loads back with the
/// same heads. Automerge 0.12 takes some malformed input into a state that fails (panics) at one
/// of these later, when nothing can refuse the input any more; checked here, it is refused now.
pub fn sound(doc: &mut AutoCommit) -> Result<Vec<u8>, DocError> {
    let saved = untrusted(|| {
        doc.get_changes(&[]);
        Ok::<_, DocError>(doc.save())
    })?;
    if !loads_as(&saved, &doc.get_heads()) {
        return Err(DocError::Automerge(
            "malformed data: the merged document does not save readably".to_owned(),
        ));
    }
    Ok(saved)
}

/// Run automerge on bytes from elsewhere (loading, parsing or applying changes), with a panic
/// of its decoder as an error: automerge 0.12 panics on some malformed input instead of
/// refusing it (a column that ends inside a run, for one), and a device's input must give a
/// refusal, not end the request or the app. When it fails, whatever `f` was changing may be
/// half changed: use a copy and drop it.
pub fn untrusted<T, E: fmt::Display>(f: impl FnOnce() -> Result<T, E>) -> Result<T, DocError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(DocError::Automerge(e.to_string())),
        Err(_) => Err(DocError::Automerge(
            "malformed data: the decoder failed".to_owned(),
        )),
    }
}
