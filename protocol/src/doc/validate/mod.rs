//! Validation shared by the phone (before saving a form) and the server (before accepting
//! changes). Each problem is an [`Issue`] naming the field path, a stable code and a message in
//! Chinese and English, so a form can show it next to its field.

pub(crate) mod check;

use automerge::{ReadDoc, hydrate};

use super::access::join;
pub use super::issue::{Issue, Severity, has_errors};
use super::{Content, DocumentContent, Header, SchemaVersion, key, tree};
use crate::region::{RegionLevel, check_code};

/// Validate a whole document: header (kind, known schema major version, grid scope), that the
/// content reads as its typed view, and the rules of its kind. Content paths start with
/// `content.`.
pub fn validate<R: ReadDoc>(doc: &R) -> Vec<Issue> {
    match tree(doc) {
        Ok(t) => validate_tree(&t),
        Err(e) => vec![Issue::from_doc_error(&e)],
    }
}

/// [`validate`] a document's [`tree`] (read once, then used for several readings). A document
/// that does not read as its typed view is checked key by key against the published schema, so
/// that every problem is reported at once (`check`).
pub fn validate_tree(tree: &hydrate::Value) -> Vec<Issue> {
    match super::read_any(tree) {
        Ok((header, content)) => validate_content(&header, &content),
        Err(e) => check::unreadable(tree, &e),
    }
}

/// The issue of a document written with a schema major version this code does not know.
pub(crate) fn unknown_schema(version: SchemaVersion) -> Issue {
    Issue::new(
        key::SCHEMA,
        Severity::Error,
        "schema.unknown_major",
        "文档版本过新，请升级应用",
        format!("schema version {version} is not supported; please upgrade"),
    )
}

/// [`validate_tree`] of a document already read with [`super::read_any`]: the same issues,
/// without reading the tree again.
pub fn validate_content(header: &Header, content: &Content) -> Vec<Issue> {
    let mut out = Vec::new();
    scope_check(&header.scope, &mut out);
    content_checks(content, &mut out);
    out
}

/// The header's grid code.
pub(crate) fn scope_check(scope: &str, out: &mut Vec<Issue>) {
    if check_code(scope, RegionLevel::Grid).is_err() {
        out.push(Issue::error(
            key::SCOPE,
            "scope.invalid",
            "所属网格编码无效",
            "the grid code of the document is invalid",
        ));
    }
}

/// The rules of the content's kind, with paths under `content.`.
pub(crate) fn content_checks(content: &Content, out: &mut Vec<Issue>) {
    let mut issues = Vec::new();
    match content {
        Content::Household(c) => c.validate(&mut issues),
        Content::Visit(c) => c.validate(&mut issues),
        Content::DiscoveryReport(c) => c.validate(&mut issues),
    }
    out.extend(issues.into_iter().map(|mut i| {
        i.path = join(key::CONTENT, &i.path);
        i
    }));
}
