//! The documents a document names (引用): a visit (走访) names the household it visits and, for a
//! 主动发现核查, the discovery report it verifies; a discovery report (主动发现报告) may name the
//! household on record it is about. The server checks each reference a push adds: the named
//! document exists, is of the right kind, lies in the same grid, and the writer may read it.

use automerge::hydrate;

use super::{Content, MapReader, discovery, header_of, key, visit};
use crate::ids::{DocumentId, DocumentKind};

/// One reference: at `path` (e.g. `content.household`), the document `id` of kind `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    pub id: DocumentId,
    pub kind: DocumentKind,
}

fn reference(key: &str, id: DocumentId, kind: DocumentKind) -> Reference {
    Reference {
        path: format!("{}.{key}", super::key::CONTENT),
        id,
        kind,
    }
}

/// The references of a document's content.
pub fn of(content: &Content) -> Vec<Reference> {
    match content {
        Content::Household(_) => Vec::new(),
        Content::Visit(v) => {
            let mut out = vec![reference(
                visit::key::HOUSEHOLD,
                v.household,
                DocumentKind::Household,
            )];
            if let Some(r) = v.report {
                out.push(reference(
                    visit::key::REPORT,
                    r,
                    DocumentKind::DiscoveryReport,
                ));
            }
            out
        }
        Content::DiscoveryReport(r) => match &r.target {
            Some(discovery::Target::Household(h)) => vec![reference(
                discovery::key::TARGET_HOUSEHOLD,
                *h,
                DocumentKind::Household,
            )],
            _ => Vec::new(),
        },
    }
}

/// The references as they stand in a document's tree, reading only their keys (a stored
/// document's, to tell which references a push adds). Keys that do not read are left out.
pub fn in_tree(tree: &hydrate::Value) -> Vec<Reference> {
    let Ok(root) = MapReader::root(tree) else {
        return Vec::new();
    };
    let (Ok(header), Ok(content)) = (header_of(&root), root.map(key::CONTENT)) else {
        return Vec::new();
    };
    let keys: &[(&str, DocumentKind)] = match header.kind {
        DocumentKind::Household => &[],
        DocumentKind::Visit => &[
            (visit::key::HOUSEHOLD, DocumentKind::Household),
            (visit::key::REPORT, DocumentKind::DiscoveryReport),
        ],
        DocumentKind::DiscoveryReport => {
            &[(discovery::key::TARGET_HOUSEHOLD, DocumentKind::Household)]
        }
    };
    keys.iter()
        .filter_map(|(k, kind)| {
            let id = content.opt::<DocumentId>(k).ok().flatten()?;
            Some(reference(k, id, *kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::visit::{Purpose, Visit};
    use crate::doc::{create, tree};

    #[test]
    fn a_visit_names_its_household_and_report_in_its_content_and_its_tree() {
        let household = DocumentId::from_bytes([1; 16]);
        let report = DocumentId::from_bytes([2; 16]);
        let mut v = Visit::new(household, Purpose::DiscoveryCheck);
        v.report = Some(report);
        let expected = vec![
            reference("household", household, DocumentKind::Household),
            reference("report", report, DocumentKind::DiscoveryReport),
        ];
        assert_eq!(of(&Content::Visit(v.clone())), expected);
        let doc = create(DocumentId::from_bytes([3; 16]), "g", &v, None).unwrap();
        assert_eq!(in_tree(&tree(&doc).unwrap()), expected);
        assert_eq!(expected[0].path, "content.household");
    }
}
