//! Validation shared by the phone (before saving a form) and the server (before accepting
//! changes). Each problem is an [`Issue`] naming the field path, a stable code and a message in
//! Chinese and English, so a form can show it next to its field.

use automerge::{ReadDoc, hydrate};
use chrono::NaiveDate;

use super::access::{DocError, join};
use super::household::key::member as member_key;
use super::{Content, DocumentContent, Header, SchemaVersion, key, tree};
use crate::id_number::Sex;
use crate::identity::SealedId;
use crate::region::{RegionLevel, check_code};

/// How serious an issue is. Errors block submission (and the server rejects the document);
/// warnings are shown but do not block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The field path, e.g. `content.members.<member id>.id_number`; empty for the whole document.
    pub path: String,
    pub severity: Severity,
    /// A stable code, e.g. `visit.investigators_min`.
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl Issue {
    pub fn new(
        path: impl Into<String>,
        severity: Severity,
        code: &'static str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Issue {
        Issue {
            path: path.into(),
            severity,
            code,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }

    /// An error-level issue.
    pub fn error(
        path: impl Into<String>,
        code: &'static str,
        message_zh: &'static str,
        message_en: &'static str,
    ) -> Issue {
        Issue::new(path, Severity::Error, code, message_zh, message_en)
    }

    /// The issue for a document that cannot be read as its typed view.
    pub fn from_doc_error(e: &DocError) -> Issue {
        let (code, zh): (&'static str, String) = match e {
            DocError::Missing { .. } => ("doc.missing", "缺少必填项".to_owned()),
            DocError::WrongType { .. } => ("doc.wrong_type", "数据类型错误".to_owned()),
            DocError::Invalid { code, .. } => {
                let zh = match *code {
                    "id_number.masked_format" => "身份证号掩码格式错误",
                    _ => "数据格式错误",
                };
                (code, zh.to_owned())
            }
            DocError::WrongKind { .. } => ("doc.wrong_kind", "文档类型不符".to_owned()),
            DocError::UnsupportedSchema { .. } => (
                "schema.unknown_major",
                "文档版本过新，请升级应用".to_owned(),
            ),
            DocError::AppendOnly { .. } => ("doc.append_only", "历史记录不可删除".to_owned()),
            DocError::Automerge(_) => ("doc.corrupt", "文档数据损坏".to_owned()),
        };
        Issue::new(e.path(), Severity::Error, code, zh, e.to_string())
    }
}

/// Whether any issue is an error.
pub fn has_errors(issues: &[Issue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}

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
/// that every problem is reported at once ([`super::schema`]).
pub fn validate_tree(tree: &hydrate::Value) -> Vec<Issue> {
    match super::read_any(tree) {
        Ok((header, content)) => validate_content(&header, &content),
        Err(e) => super::schema::check::unreadable(tree, &e),
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

/// Checks of a person's identity fields (stored under the member keys of a household, which a
/// visit's added members share): a name, a recorded sex that agrees with what the masked
/// 身份证号 shows, and no recorded birth date beside a number (it is what the masked form hides).
pub(crate) fn person_checks(
    path: &str,
    name: &str,
    id: Option<&SealedId>,
    sex: Option<Sex>,
    birth_date: Option<NaiveDate>,
    out: &mut Vec<Issue>,
) {
    if name.trim().is_empty() {
        out.push(Issue::error(
            join(path, member_key::NAME),
            "person.name_required",
            "请填写姓名",
            "the name is required",
        ));
    }
    let Some(id) = id else {
        return;
    };
    if sex.is_some_and(|s| s != id.masked.sex()) {
        out.push(Issue::error(
            join(path, member_key::SEX),
            "id_number.sex_mismatch",
            "性别与身份证号不符",
            "the sex does not match the ID number",
        ));
    }
    if birth_date.is_some() {
        out.push(Issue::error(
            join(path, member_key::BIRTH_DATE),
            "id_number.birth_date_recorded",
            "有身份证号的成员不另填出生日期（出生日期由身份证号得出）",
            "do not record a birth date for a member with an ID number: it derives from the number",
        ));
    }
}
