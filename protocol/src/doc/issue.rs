//! Issues: what the document rules find wrong (or worth a warning) in a document, with a stable
//! code and a message in Chinese and English.

use super::access::DocError;

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
