//! The resident identity card number (居民身份证号码, GB 11643-1999) and masking of sensitive
//! numbers.
//!
//! An 18-character number: 6 digits of the address code, 8 of the birth date (YYYYMMDD), 3 of a
//! sequence number whose last digit is odd for men and even for women, and a check character
//! (ISO 7064 MOD 11-2: a digit or `X`). An [`IdNumber`] can only hold a number that passes all of
//! these checks. Its `Debug` and `Display` print the masked form (first 6 + `****` + last 4, as
//! required by the privacy rules); the full number comes only from [`IdNumber::expose`].

use std::fmt;

use chrono::NaiveDate;

/// Why a string is not a valid 身份证号.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters: 17 digits and a digit or X")]
    Format,
    #[error("the birth date in the ID number is not a valid date")]
    BirthDate,
    #[error("the check character of the ID number is wrong")]
    Checksum,
}

impl IdNumberError {
    pub const ALL: [IdNumberError; 3] = [
        IdNumberError::Format,
        IdNumberError::BirthDate,
        IdNumberError::Checksum,
    ];

    /// A stable code for forms and APIs.
    pub fn code(self) -> &'static str {
        match self {
            IdNumberError::Format => "id_number.format",
            IdNumberError::BirthDate => "id_number.birth_date",
            IdNumberError::Checksum => "id_number.checksum",
        }
    }

    /// The message shown to a Chinese-speaking user.
    pub fn message_zh(self) -> &'static str {
        match self {
            IdNumberError::Format => "身份证号应为18位：前17位数字，末位为数字或X",
            IdNumberError::BirthDate => "身份证号中的出生日期无效",
            IdNumberError::Checksum => "身份证号校验位错误",
        }
    }
}

/// Sex (性别), as recorded on the identity card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The ISO 7064 MOD 11-2 check character for the first 17 characters of an ID number, or `None`
/// if they are not 17 ASCII digits.
pub fn check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK_CHARS[(sum % 11) as usize] as char)
}

/// A valid 18-character 身份证号. Holds the canonical form (a lowercase `x` is accepted on input
/// and stored as `X`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Check format, birth date and check character.
    pub fn parse(s: &str) -> Result<IdNumber, IdNumberError> {
        let b = s.as_bytes();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
        {
            return Err(IdNumberError::Format);
        }
        let canonical = s.to_ascii_uppercase();
        birth_date_of(&canonical).ok_or(IdNumberError::BirthDate)?;
        if check_char(&canonical[..17]) != Some(char::from(canonical.as_bytes()[17])) {
            return Err(IdNumberError::Checksum);
        }
        Ok(IdNumber(canonical))
    }

    /// The full number. Callers that show it to a person must hold the unmask permission, and the
    /// server audits each unmasking.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First 6 + `****` + last 4, e.g. `370283****123X`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..6], &self.0[14..])
    }

    /// The 6-digit address code (the region where the number was issued).
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    /// The birth date (digits 7–14).
    pub fn birth_date(&self) -> NaiveDate {
        // Checked by `parse`; the fallback is never taken.
        birth_date_of(&self.0).unwrap_or_default()
    }

    /// The sex: the 17th digit is odd for men, even for women.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

/// Birth dates before this year are not accepted (no living person was born earlier, and the
/// number format dates from 1999).
const MIN_BIRTH_YEAR: i32 = 1890;

fn birth_date_of(id: &str) -> Option<NaiveDate> {
    let digits = id.get(6..14)?;
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let month: u32 = digits.get(4..6)?.parse().ok()?;
    let day: u32 = digits.get(6..8)?.parse().ok()?;
    if year < MIN_BIRTH_YEAR {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::str::FromStr for IdNumber {
    type Err = IdNumberError;
    fn from_str(s: &str) -> Result<Self, IdNumberError> {
        IdNumber::parse(s)
    }
}

/// Mask a phone number: first 3 + `****` + last 4 (`138****5678`). Spaces and dashes are dropped
/// first; a number with fewer than 8 characters left is masked whole (`****`).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid ID number made from 17 digits by computing its check character.
    pub(crate) fn valid(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).unwrap())
    }

    #[test]
    fn check_character_follows_iso_7064() {
        // Weighted sum of "11010519491231002" = 167, 167 % 11 = 2 -> 'X'.
        assert_eq!(check_char("11010519491231002"), Some('X'));
        // Every remainder maps to its character.
        assert_eq!(check_char("00000000000000000"), Some('1'));
        assert_eq!(check_char("0000000000000000x"), None);
        assert_eq!(check_char("1234"), None);
    }

    #[test]
    fn valid_numbers_parse_and_derive() {
        let s = valid("37028319800229001");
        let id = IdNumber::parse(&s).unwrap();
        assert_eq!(id.expose(), s);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1980, 2, 29).unwrap()
        );
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.region_code(), "370283");
        let f = IdNumber::parse(&valid("37028320101105002")).unwrap();
        assert_eq!(f.sex(), Sex::Female);
    }

    #[test]
    fn lowercase_x_is_canonicalised() {
        let s = "11010519491231002X";
        assert_eq!(IdNumber::parse(&s.to_lowercase()).unwrap().expose(), s);
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        let good = valid("37028319800229001");
        let last = good.as_bytes()[17];
        let wrong_check = format!("{}{}", &good[..17], if last == b'0' { '1' } else { '0' });
        assert_eq!(IdNumber::parse(&wrong_check), Err(IdNumberError::Checksum));
        assert_eq!(IdNumber::parse(&good[..17]), Err(IdNumberError::Format));
        assert_eq!(
            IdNumber::parse(&format!("{good}1")),
            Err(IdNumberError::Format)
        );
        assert_eq!(
            IdNumber::parse("3702831980022900１X"),
            Err(IdNumberError::Format)
        );
        assert_eq!(
            IdNumber::parse("37028319800229001Y"),
            Err(IdNumberError::Format)
        );
        assert_eq!(
            IdNumber::parse("X70283198002290011"),
            Err(IdNumberError::Format)
        );
        assert_eq!(IdNumber::parse(""), Err(IdNumberError::Format));
        // 1981 is not a leap year; month 13; day 0; a year long before anyone living.
        for first17 in [
            "37028319810229001",
            "37028319801301001",
            "37028319800100001",
            "37028318000101001",
        ] {
            assert_eq!(
                IdNumber::parse(&valid(first17)),
                Err(IdNumberError::BirthDate)
            );
        }
    }

    #[test]
    fn debug_and_display_never_show_the_full_number() {
        let s = valid("37028319800229001");
        let id = IdNumber::parse(&s).unwrap();
        let masked = format!("370283****{}", &s[14..]);
        assert_eq!(id.masked(), masked);
        assert_eq!(id.to_string(), masked);
        assert_eq!(format!("{id:?}"), format!("IdNumber({masked})"));
        assert!(!format!("{id:?} {id}").contains(&s[6..14]));
    }

    #[test]
    fn phone_numbers_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("0532 8888 6666"), "053****6666");
        assert_eq!(mask_phone("12345"), "****");
        assert_eq!(mask_phone("１３８１２３４５６７８"), "１３８****５６７８");
    }
}
