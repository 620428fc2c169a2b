//! Summaries of documents kept (encrypted) next to them and decrypted into memory at open, so
//! listing and searching never decode an automerge document.

use automerge::AutoCommit;
use doudi_protocol::doc::discovery::DiscoveryReport;
use doudi_protocol::doc::household::Relation;
use doudi_protocol::doc::{self, Household, Visit};
use doudi_protocol::ids::DocumentKind;
use serde::{Deserialize, Serialize};

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HouseholdIdx {
    pub grid: String,
    pub address: String,
    pub head_name: String,
    pub head_id_masked: Option<String>,
    pub programmes: Vec<String>,
    pub member_count: u32,
    /// Names of current members, for search.
    pub names: Vec<String>,
    /// Last six characters of members' ID numbers, for search by suffix.
    pub id_tails: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VisitIdx {
    pub household: String,
    pub purpose: String,
    pub status: String,
    pub started_at: Option<i64>,
    pub photo_count: u32,
    pub last_review_comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReportIdx {
    pub status: String,
    pub household: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Summary {
    Household(HouseholdIdx),
    Visit(VisitIdx),
    Report(ReportIdx),
    /// A document this version cannot read (newer schema); kept and synced, not shown.
    Unreadable,
}

fn tail(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(6)..].iter().collect()
}

pub(crate) fn household_idx(scope: &str, h: &Household) -> HouseholdIdx {
    let current: Vec<_> = h.members.values().filter(|m| m.is_current()).collect();
    let head = current
        .iter()
        .find(|m| m.relation == Relation::Head)
        .or(current.first());
    HouseholdIdx {
        grid: scope.to_owned(),
        address: h.address.clone(),
        head_name: head.map(|m| m.name.clone()).unwrap_or_default(),
        head_id_masked: head.and_then(|m| m.identity.as_ref().map(|n| n.masked.to_string())),
        programmes: h
            .programmes
            .iter()
            .map(|p| p.label_zh().to_owned())
            .collect(),
        member_count: current.len() as u32,
        names: current.iter().map(|m| m.name.clone()).collect(),
        id_tails: current
            .iter()
            .filter_map(|m| m.identity.as_ref().map(|n| tail(n.masked.as_str())))
            .collect(),
    }
}

pub(crate) fn visit_idx(v: &Visit) -> VisitIdx {
    VisitIdx {
        household: v.household.to_string(),
        purpose: v.purpose.as_str().to_owned(),
        status: v.status.as_str().to_owned(),
        started_at: v.started_at.map(|t| t.0),
        photo_count: v.photos.len() as u32,
        last_review_comment: v.reviews.last().and_then(|r| r.comment.clone()),
    }
}

/// The summary of a stored document of `kind`.
pub(crate) fn summarize(kind: &str, scope: &str, d: &AutoCommit) -> Result<Summary> {
    let Ok(kind) = DocumentKind::parse(kind) else {
        return Ok(Summary::Unreadable);
    };
    Ok(match kind {
        DocumentKind::Household => match doc::read::<Household, _>(d) {
            Ok((_, h)) => Summary::Household(household_idx(scope, &h)),
            Err(_) => Summary::Unreadable,
        },
        DocumentKind::Visit => match doc::read::<Visit, _>(d) {
            Ok((_, v)) => Summary::Visit(visit_idx(&v)),
            Err(_) => Summary::Unreadable,
        },
        DocumentKind::DiscoveryReport => match doc::read::<DiscoveryReport, _>(d) {
            Ok((_, r)) => Summary::Report(ReportIdx {
                status: r.status.as_str().to_owned(),
                household: match r.target {
                    Some(doudi_protocol::doc::discovery::Target::Household(h)) => {
                        Some(h.to_string())
                    }
                    _ => None,
                },
            }),
            Err(_) => Summary::Unreadable,
        },
    })
}

/// Whether a household matches a search: name of any current member, address, or the end of
/// an ID number (at least four characters). An empty query matches everything.
pub(crate) fn matches(h: &HouseholdIdx, query: &str) -> bool {
    let q = query.trim();
    if q.is_empty() {
        return true;
    }
    if h.address.contains(q) || h.names.iter().any(|n| n.contains(q)) {
        return true;
    }
    let upper = q.to_uppercase();
    (4..=6).contains(&upper.len())
        && upper.bytes().all(|b| b.is_ascii_digit() || b == b'X')
        && h.id_tails.iter().any(|t| t.ends_with(&upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx() -> HouseholdIdx {
        HouseholdIdx {
            grid: "g".into(),
            address: "千佛山街道 7 号楼 101 室".into(),
            head_name: "王建国".into(),
            head_id_masked: Some("370102****123X".into()),
            programmes: vec!["低保".into()],
            member_count: 2,
            names: vec!["王建国".into(), "李秀英".into()],
            id_tails: vec!["15123X".into()],
        }
    }

    #[test]
    fn search_by_name_address_and_id_suffix() {
        let h = idx();
        for q in [
            "", "  ", "王建", "秀英", "7 号楼", "123X", "123x", "5123X", "15123X",
        ] {
            assert!(matches(&h, q), "{q:?} should match");
        }
        for q in ["赵", "8 号楼", "23X", "9999", "015123X", "1512"] {
            assert!(!matches(&h, q), "{q:?} should not match");
        }
    }
}
