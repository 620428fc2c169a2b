//! The regions an account works in, as far as the phone needs them: which region's benefit
//! policy applies to the households of each grid.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where the store keeps which region's policy applies to the households of each grid.
pub(crate) const META_POLICY_REGIONS: &str = "policy_regions";

/// The region a household's policy is resolved for, from the account's regions as the login
/// answer gives them: a grid's village (its parent); for a grid the account does not hold
/// itself (an assistant of a village sees its grids), the one administrative region of the
/// account, when it has exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyRegions {
    by_grid: BTreeMap<String, String>,
    administrative: Vec<String>,
}

impl PolicyRegions {
    /// From the account's regions: (code, level, parent code).
    pub(crate) fn of_account<'a>(
        regions: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    ) -> PolicyRegions {
        let mut out = PolicyRegions::default();
        for (code, level, parent) in regions {
            match (level, parent) {
                ("grid", Some(p)) => {
                    out.by_grid.insert(code.to_owned(), p.to_owned());
                }
                ("grid", None) => {}
                _ => out.administrative.push(code.to_owned()),
            }
        }
        out
    }

    pub(crate) fn of(&self, grid: &str) -> Option<&str> {
        self.by_grid
            .get(grid)
            .map(String::as_str)
            .or(match self.administrative.as_slice() {
                [one] => Some(one.as_str()),
                _ => None,
            })
    }
}
