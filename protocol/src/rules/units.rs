//! Small value types shared by the rules: money in fen, exact decimal rates, optional caps and
//! bilingual text.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in fen (分, 1/100 yuan). Money is never a float.
///
/// Serialized as an integer number of fen, e.g. 700 yuan is `70000`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// `yuan` whole yuan.
    pub const fn yuan(yuan: i64) -> Money {
        Money(yuan * 100)
    }

    /// `fen` fen.
    pub const fn fen(fen: i64) -> Money {
        Money(fen)
    }

    /// The amount in fen.
    pub const fn as_fen(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    /// Yuan with two decimals, e.g. `397.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// An exact decimal rate or multiplier with four decimal places (万分之一), e.g. 1.5 or 0.6.
///
/// Serialized as a decimal string (`"1.5"`); a JSON number is accepted on input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(i64);

/// A rate that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal rate with at most 4 decimal places: {0:?}")]
pub struct RateParseError(pub String);

impl Rate {
    /// The number of units in 1.
    pub const SCALE: i64 = 10_000;
    pub const ZERO: Rate = Rate(0);
    pub const ONE: Rate = Rate(Self::SCALE);

    /// A rate of `units` ten-thousandths: `Rate::from_units(15_000)` is 1.5.
    pub const fn from_units(units: i64) -> Rate {
        Rate(units)
    }

    /// A rate of `percent` %: `Rate::percent(60)` is 0.6.
    pub const fn percent(percent: i64) -> Rate {
        Rate(percent * 100)
    }

    /// The rate in ten-thousandths.
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Read a decimal such as `1.5`, `0.60`, `-0.1` or `2`.
    pub fn parse(s: &str) -> Result<Rate, RateParseError> {
        let bad = || RateParseError(s.to_owned());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || int.len() > 9 || frac.len() > 4 || !digits(int) || !digits(frac) {
            return Err(bad());
        }
        let int: i64 = int.parse().map_err(|_| bad())?;
        let mut frac_units: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_units += i64::from(b - b'0') * 10_i64.pow(3 - i as u32);
        }
        let units = int * Self::SCALE + frac_units;
        Ok(Rate(if neg { -units } else { units }))
    }
}

impl fmt::Display for Rate {
    /// The shortest decimal: `1.5`, `0.6`, `2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / Self::SCALE as u64, abs % Self::SCALE as u64);
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let frac = format!("{frac:04}");
        write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(i64),
            Text(String),
            // A JSON number with a fraction: its shortest decimal form is read exactly.
            Float(f64),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Int(i) => i.to_string(),
            Repr::Text(s) => s,
            Repr::Float(x) => x.to_string(),
        };
        Rate::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A limit that may be lifted: `Limited(value)` or `Unlimited`.
///
/// Serialized as the value itself or the string `"unlimited"`, so that a child layer can lift a
/// limit its parent set (e.g. Qinghai lifts the national 6-month 渐退期 maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "CapRepr<T>", into = "CapRepr<T>")]
#[serde(bound(
    serialize = "T: Serialize + Clone",
    deserialize = "T: Deserialize<'de>"
))]
pub enum Cap<T> {
    Limited(T),
    Unlimited,
}

impl<T: Copy> Cap<T> {
    /// The limit, if any.
    pub fn limit(self) -> Option<T> {
        match self {
            Cap::Limited(v) => Some(v),
            Cap::Unlimited => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CapRepr<T> {
    Limited(T),
    Word(CapWord),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CapWord {
    Unlimited,
}

impl<T> From<CapRepr<T>> for Cap<T> {
    fn from(r: CapRepr<T>) -> Cap<T> {
        match r {
            CapRepr::Limited(v) => Cap::Limited(v),
            CapRepr::Word(CapWord::Unlimited) => Cap::Unlimited,
        }
    }
}

impl<T> From<Cap<T>> for CapRepr<T> {
    fn from(c: Cap<T>) -> CapRepr<T> {
        match c {
            Cap::Limited(v) => CapRepr::Limited(v),
            Cap::Unlimited => CapRepr::Word(CapWord::Unlimited),
        }
    }
}

/// A sentence in Chinese (shown to workers and families) with its English counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// Round `num / den` half away from zero; `den` must be positive.
pub(crate) fn div_round(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// Round `num / den` up (towards +infinity); `den` must be positive.
pub(crate) fn div_ceil(num: i128, den: i128) -> i128 {
    let q = num.div_euclid(den);
    if num.rem_euclid(den) == 0 { q } else { q + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_displays_yuan() {
        assert_eq!(Money::yuan(700).to_string(), "700.00");
        assert_eq!(Money::fen(39_750).to_string(), "397.50");
        assert_eq!(Money::fen(-5).to_string(), "-0.05");
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(Rate::parse("1.5"), Ok(Rate::from_units(15_000)));
        assert_eq!(Rate::parse("0.6"), Ok(Rate::percent(60)));
        assert_eq!(Rate::parse("2"), Ok(Rate::from_units(20_000)));
        assert_eq!(Rate::parse("-0.1"), Ok(Rate::from_units(-1_000)));
        assert_eq!(Rate::parse("0.0625"), Ok(Rate::from_units(625)));
        for bad in ["", ".5", "1.23456", "1,5", "abc", "1.5x", "--1"] {
            assert!(Rate::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Rate::from_units(15_000).to_string(), "1.5");
        assert_eq!(Rate::from_units(625).to_string(), "0.0625");
        assert_eq!(Rate::from_units(-1_000).to_string(), "-0.1");
    }

    #[test]
    fn rate_serde_accepts_strings_and_numbers() {
        let r: Rate = serde_json::from_str("\"1.5\"").unwrap();
        assert_eq!(r, Rate::from_units(15_000));
        let r: Rate = serde_json::from_str("1.3").unwrap();
        assert_eq!(r, Rate::from_units(13_000));
        let r: Rate = serde_json::from_str("2").unwrap();
        assert_eq!(r, Rate::from_units(20_000));
        assert_eq!(
            serde_json::to_string(&Rate::percent(60)).unwrap(),
            "\"0.6\""
        );
        assert!(serde_json::from_str::<Rate>("\"1.23456\"").is_err());
    }

    #[test]
    fn caps_round_trip() {
        let c: Cap<u32> = serde_json::from_str("\"unlimited\"").unwrap();
        assert_eq!(c, Cap::Unlimited);
        let c: Cap<u32> = serde_json::from_str("6").unwrap();
        assert_eq!(c, Cap::Limited(6));
        assert_eq!(
            serde_json::to_string(&Cap::<u32>::Unlimited).unwrap(),
            "\"unlimited\""
        );
        assert!(serde_json::from_str::<Cap<u32>>("\"lots\"").is_err());
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_ceil(7, 2), 4);
        assert_eq!(div_ceil(6, 2), 3);
        assert_eq!(div_ceil(-7, 2), -3);
    }
}
