//! Roles of the people who use doudi.

use serde::{Deserialize, Serialize};

/// The role an account acts in. Each account has exactly one role and one or more region subtrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: covers one grid, visits households, helps people apply.
    GridWorker,
    /// 社会救助协理员: social-assistance assistant of a village.
    Assistant,
    /// 村干部: village cadre; reports possible cases (主动发现).
    VillageCadre,
    /// 乡镇审核: township reviewer; first opinion (初审).
    TownReviewer,
    /// 县级审核确认: county approver.
    CountyApprover,
    /// 管理员: manages accounts, regions and devices within its regions.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::GridWorker,
        Role::Assistant,
        Role::VillageCadre,
        Role::TownReviewer,
        Role::CountyApprover,
        Role::Admin,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::Assistant => "assistant",
            Role::VillageCadre => "village_cadre",
            Role::TownReviewer => "town_reviewer",
            Role::CountyApprover => "county_approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The Chinese name shown to users.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::GridWorker => "网格员",
            Role::Assistant => "社会救助协理员",
            Role::VillageCadre => "村干部",
            Role::TownReviewer => "乡镇审核",
            Role::CountyApprover => "县级审核确认",
            Role::Admin => "管理员",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Role::parse("superuser"), None);
    }
}
