//! Regions (行政区划): province > city > county > township > village > grid.
//!
//! Levels down to the village are keyed by the 12-digit 行政区划代码 (统计用区划代码): 2 digits of
//! province, 2 of city, 2 of county, 3 of township, 3 of village. Grids are local units below a
//! village with a local code.

use serde::{Deserialize, Serialize};

/// The level of a region in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// 省
    Province,
    /// 市
    City,
    /// 县 / 区
    County,
    /// 乡镇 / 街道
    Township,
    /// 村 / 社区
    Village,
    /// 网格 (local)
    Grid,
}

impl RegionLevel {
    pub const ALL: [RegionLevel; 6] = [
        RegionLevel::Province,
        RegionLevel::City,
        RegionLevel::County,
        RegionLevel::Township,
        RegionLevel::Village,
        RegionLevel::Grid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::Province => "province",
            RegionLevel::City => "city",
            RegionLevel::County => "county",
            RegionLevel::Township => "township",
            RegionLevel::Village => "village",
            RegionLevel::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<RegionLevel> {
        RegionLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RegionLevel::Province => "省",
            RegionLevel::City => "市",
            RegionLevel::County => "县区",
            RegionLevel::Township => "乡镇街道",
            RegionLevel::Village => "村社区",
            RegionLevel::Grid => "网格",
        }
    }

    /// The level a parent of this level must have; `None` for a province (a root).
    pub fn parent(self) -> Option<RegionLevel> {
        match self {
            RegionLevel::Province => None,
            RegionLevel::City => Some(RegionLevel::Province),
            RegionLevel::County => Some(RegionLevel::City),
            RegionLevel::Township => Some(RegionLevel::County),
            RegionLevel::Village => Some(RegionLevel::Township),
            RegionLevel::Grid => Some(RegionLevel::Village),
        }
    }

    /// How many leading digits of a 12-digit code are significant at this level.
    fn significant_digits(self) -> Option<usize> {
        match self {
            RegionLevel::Province => Some(2),
            RegionLevel::City => Some(4),
            RegionLevel::County => Some(6),
            RegionLevel::Township => Some(9),
            RegionLevel::Village => Some(12),
            RegionLevel::Grid => None,
        }
    }
}

/// Why a region code does not fit its level or its parent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error("code must be 12 digits at level {0}")]
    NotTwelveDigits(&'static str),
    #[error("grid code must be 1 to 32 letters, digits, '-' or '_'")]
    BadGridCode,
    #[error(
        "code does not fit level {0}: digits after the level's part must be 0 and its own part non-zero"
    )]
    LevelMismatch(&'static str),
    #[error("parent level must be {expected}, found {found}")]
    ParentLevel {
        expected: &'static str,
        found: &'static str,
    },
    #[error("a province has no parent")]
    ProvinceWithParent,
    #[error("level {0} needs a parent")]
    MissingParent(&'static str),
    #[error("code does not start with its parent's code digits")]
    PrefixMismatch,
}

impl RegionCodeError {
    /// The reason in Chinese, for whoever fixes the file (区划代码有误的原因).
    pub fn message_zh(&self) -> String {
        let zh =
            |level: &'static str| RegionLevel::parse(level).map_or(level, RegionLevel::label_zh);
        match self {
            RegionCodeError::NotTwelveDigits(l) => format!("{}代码须为 12 位数字", zh(l)),
            RegionCodeError::BadGridCode => {
                "网格代码须为 1 至 32 个字母、数字、“-”或“_”".to_string()
            }
            RegionCodeError::LevelMismatch(l) => format!(
                "代码与层级“{}”不符：本级以下的位须为 0，本级的位不能全为 0",
                zh(l)
            ),
            RegionCodeError::ParentLevel { expected, found } => {
                format!("上级应为{}，实为{}", zh(expected), zh(found))
            }
            RegionCodeError::ProvinceWithParent => "省级区划没有上级".to_string(),
            RegionCodeError::MissingParent(l) => format!("{}须有上级代码", zh(l)),
            RegionCodeError::PrefixMismatch => "代码的开头须与上级代码一致".to_string(),
        }
    }
}

/// Check that `code` is well-formed for `level`.
pub fn check_code(code: &str, level: RegionLevel) -> Result<(), RegionCodeError> {
    let Some(sig) = level.significant_digits() else {
        let ok = (1..=32).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return if ok {
            Ok(())
        } else {
            Err(RegionCodeError::BadGridCode)
        };
    };
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegionCodeError::NotTwelveDigits(level.as_str()));
    }
    let own_start = match level {
        RegionLevel::Province => 0,
        RegionLevel::City => 2,
        RegionLevel::County => 4,
        RegionLevel::Township => 6,
        RegionLevel::Village => 9,
        RegionLevel::Grid => unreachable!("grid handled above"),
    };
    let own_nonzero = code[own_start..sig].bytes().any(|b| b != b'0');
    let rest_zero = code[sig..].bytes().all(|b| b == b'0');
    if own_nonzero && rest_zero {
        Ok(())
    } else {
        Err(RegionCodeError::LevelMismatch(level.as_str()))
    }
}

/// Check that a region of `level` with `code` may hang under a parent of `parent_level` with
/// `parent_code`: levels follow each other and the child's code starts with the parent's digits.
pub fn check_parent(
    code: &str,
    level: RegionLevel,
    parent: Option<(&str, RegionLevel)>,
) -> Result<(), RegionCodeError> {
    match (level.parent(), parent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(RegionCodeError::ProvinceWithParent),
        (Some(_), None) => Err(RegionCodeError::MissingParent(level.as_str())),
        (Some(expected), Some((parent_code, parent_level))) => {
            if expected != parent_level {
                return Err(RegionCodeError::ParentLevel {
                    expected: expected.as_str(),
                    found: parent_level.as_str(),
                });
            }
            if let Some(sig) = parent_level.significant_digits()
                && level != RegionLevel::Grid
                && code.get(..sig) != parent_code.get(..sig)
            {
                return Err(RegionCodeError::PrefixMismatch);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_code_error_reads_in_chinese() {
        let all = [
            RegionCodeError::NotTwelveDigits("county"),
            RegionCodeError::BadGridCode,
            RegionCodeError::LevelMismatch("township"),
            RegionCodeError::ParentLevel {
                expected: "village",
                found: "county",
            },
            RegionCodeError::ProvinceWithParent,
            RegionCodeError::MissingParent("grid"),
            RegionCodeError::PrefixMismatch,
        ];
        for e in all {
            let zh = e.message_zh();
            assert!(!zh.chars().any(|c| c.is_ascii_alphabetic()), "{e:?}: {zh}");
        }
        let e = RegionCodeError::ParentLevel {
            expected: "village",
            found: "county",
        };
        assert_eq!(
            e.message_zh(),
            format!(
                "上级应为{}，实为{}",
                RegionLevel::Village.label_zh(),
                RegionLevel::County.label_zh()
            )
        );
    }
    use super::*;
    use RegionLevel::*;

    #[test]
    fn codes_fit_levels() {
        assert_eq!(check_code("370000000000", Province), Ok(()));
        assert_eq!(check_code("370200000000", City), Ok(()));
        assert_eq!(check_code("370283000000", County), Ok(()));
        assert_eq!(check_code("370283001000", Township), Ok(()));
        assert_eq!(check_code("370283001001", Village), Ok(()));
        assert_eq!(check_code("370283001001-G01", Grid), Ok(()));
        assert!(check_code("370200000000", Province).is_err());
        assert!(check_code("370283001001", Township).is_err());
        assert!(check_code("37028300100", Village).is_err());
        assert!(check_code("37028300100x", Village).is_err());
        assert!(check_code("", Grid).is_err());
        assert!(check_code("../etc", Grid).is_err());
    }

    #[test]
    fn parents_fit() {
        assert_eq!(check_parent("370000000000", Province, None), Ok(()));
        assert_eq!(
            check_parent("370200000000", City, Some(("370000000000", Province))),
            Ok(())
        );
        assert_eq!(
            check_parent("370283001001", Village, Some(("370283001000", Township))),
            Ok(())
        );
        assert_eq!(
            check_parent("370283002001", Village, Some(("370283001000", Township))),
            Err(RegionCodeError::PrefixMismatch)
        );
        assert!(matches!(
            check_parent("370283001001", Village, Some(("370283000000", County))),
            Err(RegionCodeError::ParentLevel { .. })
        ));
        assert_eq!(
            check_parent("370200000000", City, None),
            Err(RegionCodeError::MissingParent("city"))
        );
        assert_eq!(
            check_parent("G1", Grid, Some(("370283001001", Village))),
            Ok(())
        );
    }
}
