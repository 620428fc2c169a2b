//! How a 身份证号 travels: documents never hold it in clear.
//!
//! Documents replicate whole to every device of their grid's scope, village cadres' phones
//! included, and automerge keeps every value ever written in a document's history. So a
//! document holds a person's number only as a [`SealedId`]: the masked form (first 6 + `****` +
//! last 4, what every display shows) and the number sealed to the server's public key
//! ([`SealKey`]) with libsodium's anonymous sealed box (X25519, XSalsa20-Poly1305; 66 bytes for
//! 18 characters). Only the server, which holds the secret key ([`OpenKey`]), opens it; it gives
//! the clear number to the roles that need it through their own channel (the sync response's
//! `identities`, docs/PROTOCOL.md section 4) and keeps it encrypted at rest.
//!
//! The masked form hides exactly the birth date (digits 7 to 14): a document that recorded a
//! birth date beside it would hold the whole number. The sex (the 17th digit) is among the last
//! four and stays visible.

use std::fmt;

use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};

use crate::id_number::{IdNumber, IdNumberError, Sex};

/// Length in bytes of a [`SealKey`] and an [`OpenKey`].
pub const KEY_BYTES: usize = 32;

/// A masked 身份证号 (`370102****0024`): the issuing region and the last four characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaskedId(String);

impl MaskedId {
    /// Six digits, `****`, three digits and a digit or `X` (a lowercase `x` is read as `X`).
    pub fn parse(s: &str) -> Option<MaskedId> {
        let b = s.as_bytes();
        let ok = b.len() == 14
            && b[..6].iter().all(u8::is_ascii_digit)
            && &b[6..10] == b"****"
            && b[10..13].iter().all(u8::is_ascii_digit)
            && (b[13].is_ascii_digit() || b[13] == b'X' || b[13] == b'x');
        ok.then(|| MaskedId(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sex the number gives: its 17th character, which the masked form keeps.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[12] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl From<&IdNumber> for MaskedId {
    fn from(n: &IdNumber) -> MaskedId {
        MaskedId(n.masked())
    }
}

impl fmt::Debug for MaskedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedId({})", self.0)
    }
}

impl fmt::Display for MaskedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server's public key, to which phones seal the numbers they capture. Served at login
/// (`identity_key`) and by `GET /api/v1/identity-key`, as 64 hexadecimal characters.
#[derive(Clone, PartialEq, Eq)]
pub struct SealKey([u8; KEY_BYTES]);

impl SealKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> SealKey {
        SealKey(bytes)
    }

    /// From its 64 hexadecimal characters.
    pub fn parse_hex(s: &str) -> Option<SealKey> {
        let bytes = hex_bytes(s)?;
        <[u8; KEY_BYTES]>::try_from(bytes).ok().map(SealKey)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// Seal `number` to this key: only the holder of the matching [`OpenKey`] reads it back.
    /// Each sealing uses a fresh ephemeral key, so the same number sealed twice differs.
    pub fn seal(&self, number: &IdNumber) -> SealedId {
        let sealed = PublicKey::from_bytes(self.0)
            .seal(&mut OsRng, number.expose().as_bytes())
            .expect("sealing 18 bytes cannot fail");
        SealedId {
            masked: MaskedId::from(number),
            sealed,
        }
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({})", self.to_hex())
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// A 身份证号 as a document holds it: masked, and sealed to the server's key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedId {
    pub masked: MaskedId,
    /// libsodium's sealed box of the 18 characters.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedId({}, {} bytes)", self.masked, self.sealed.len())
    }
}

/// Why a [`SealedId`] did not open to its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not sealed to this server's key, or damaged.
    #[error("the sealed ID number cannot be opened with this server's key")]
    Unreadable,
    /// It opened to something that is not a valid 身份证号.
    #[error("the sealed value is not a valid ID number: {0}")]
    Invalid(IdNumberError),
    /// It opened to a number whose masked form is not the one beside it.
    #[error("the masked ID number does not match the sealed one")]
    Mismatch,
}

impl OpenError {
    /// The stable code of the document issue.
    pub fn code(self) -> &'static str {
        match self {
            OpenError::Unreadable => "id_number.sealed_invalid",
            OpenError::Invalid(e) => e.code(),
            OpenError::Mismatch => "id_number.masked_mismatch",
        }
    }

    pub fn message_zh(self) -> &'static str {
        match self {
            OpenError::Unreadable => "身份证号密文无法解开，请在本机重新录入身份证号",
            OpenError::Invalid(e) => e.message_zh(),
            OpenError::Mismatch => "身份证号掩码与密文不符，请重新录入身份证号",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            OpenError::Unreadable => {
                "the sealed ID number cannot be opened; enter the ID number again on this phone"
            }
            OpenError::Invalid(_) => "the sealed value is not a valid ID number",
            OpenError::Mismatch => {
                "the masked ID number does not match the sealed one; enter it again"
            }
        }
    }
}

/// The server's secret key, which opens what phones sealed.
#[derive(Clone)]
pub struct OpenKey(SecretKey);

impl OpenKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> OpenKey {
        OpenKey(SecretKey::from_bytes(bytes))
    }

    /// The public key phones seal to.
    pub fn seal_key(&self) -> SealKey {
        SealKey(*self.0.public_key().as_bytes())
    }

    /// The number inside `id`, checked against its masked form.
    pub fn open(&self, id: &SealedId) -> Result<IdNumber, OpenError> {
        let bytes = self
            .0
            .unseal(&id.sealed)
            .map_err(|_| OpenError::Unreadable)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| OpenError::Unreadable)?;
        let number = IdNumber::parse(text).map_err(OpenError::Invalid)?;
        if MaskedId::from(&number) != id.masked {
            return Err(OpenError::Mismatch);
        }
        Ok(number)
    }
}

impl fmt::Debug for OpenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenKey(..)")
    }
}

/// The 身份证号 written in clear in `text`: every run of exactly 17 digits and a digit or `X`
/// (not part of a longer run of digits) that is a valid number (birth date and check character).
/// Documents must not hold one anywhere; a bank account of 18 digits passes only if it also
/// happens to carry a valid date and check character.
pub fn clear_numbers(text: &str) -> Vec<IdNumber> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut end = i;
        if end - start == 17 && end < b.len() && (b[end] == b'X' || b[end] == b'x') {
            end += 1;
        }
        let run_ends_clean = end == b.len() || !b[end].is_ascii_alphanumeric();
        let starts_clean = start == 0 || !b[start - 1].is_ascii_alphanumeric();
        if end - start == 18
            && run_ends_clean
            && starts_clean
            && let Ok(n) = IdNumber::parse(&text[start..end])
        {
            found.push(n);
        }
        i = end.max(i);
    }
    found
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::id_number::tests::valid;

    /// The server key of the tests.
    pub(crate) fn key() -> OpenKey {
        OpenKey::from_bytes([7; KEY_BYTES])
    }

    /// The valid number made from `first17`, sealed to [`key`].
    pub(crate) fn sealed(first17: &str) -> SealedId {
        key()
            .seal_key()
            .seal(&IdNumber::parse(&valid(first17)).unwrap())
    }

    #[test]
    fn sealed_numbers_open_only_with_the_server_key() {
        let n = IdNumber::parse(&valid("37010219551231002")).unwrap();
        let sealed = key().seal_key().seal(&n);
        assert_eq!(sealed.masked.as_str(), n.masked());
        assert_eq!(sealed.sealed.len(), 66);
        assert!(!format!("{sealed:?}").contains(&n.expose()[6..14]));
        assert_eq!(key().open(&sealed).unwrap(), n);
        // Another key does not open it; each sealing differs.
        let other = OpenKey::from_bytes([8; KEY_BYTES]);
        assert_eq!(other.open(&sealed), Err(OpenError::Unreadable));
        assert_ne!(key().seal_key().seal(&n).sealed, sealed.sealed);
        // A masked form that does not go with the sealed number.
        let m = IdNumber::parse(&valid("37010219601231003")).unwrap();
        let swapped = SealedId {
            masked: MaskedId::from(&m),
            ..sealed
        };
        assert_eq!(key().open(&swapped), Err(OpenError::Mismatch));
    }

    #[test]
    fn seal_keys_round_trip_as_hex() {
        let k = key().seal_key();
        assert_eq!(SealKey::parse_hex(&k.to_hex()), Some(k.clone()));
        assert_eq!(k.to_hex().len(), 64);
        assert_eq!(SealKey::parse_hex("00"), None);
        assert_eq!(SealKey::parse_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn masked_form_is_checked_and_gives_the_sex() {
        let m = MaskedId::parse("370102****002x").unwrap();
        assert_eq!(m.as_str(), "370102****002X");
        assert_eq!(m.sex(), Sex::Female);
        assert_eq!(MaskedId::parse("370102****0013").unwrap().sex(), Sex::Male);
        for bad in [
            "370102195512310024",
            "370102****002",
            "3701020****0024",
            "37010a****0024",
        ] {
            assert_eq!(MaskedId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn clear_numbers_are_found_inside_text() {
        let n = valid("37010219551231002");
        assert_eq!(clear_numbers(&n).len(), 1);
        assert_eq!(clear_numbers(&format!("身份证{n}，电话")).len(), 1);
        assert_eq!(clear_numbers(&n.to_lowercase()).len(), 1);
        // Part of a longer number, a wrong check character, a masked form: not a number.
        assert!(clear_numbers(&format!("{n}1")).is_empty());
        assert!(clear_numbers(&format!("9{n}")).is_empty());
        let wrong = format!("{}{}", &n[..17], if n.ends_with('0') { '1' } else { '0' });
        assert!(clear_numbers(&wrong).is_empty());
        assert!(clear_numbers("370102****0024").is_empty());
        assert_eq!(clear_numbers(&format!("{n} {n}")).len(), 2);
    }
}
