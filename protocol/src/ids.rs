//! Identifiers: random ids of documents and of entries inside them, blob hashes, account ids, and
//! the kinds of document.
//!
//! Random ids carry 128 bits from the operating system's random number generator, so nobody can
//! guess the id of a document they were not given. Their text form is 26 characters of lowercase
//! Crockford base32 (`0-9a-z` without `i l o u`), the first character `0`–`7` (it carries the top
//! 3 bits). Parsing accepts only that canonical form, so a valid id is always safe as a file name
//! or URL segment and two different strings never name the same id. Still, no file path is ever
//! built from a client's string: storage keys come from the parsed value.

use std::fmt;
use std::str::FromStr;

/// Why an identifier could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must be 26 characters of lowercase base32 (0-9, a-z without i, l, o, u)")]
    BadRandomId,
    #[error("a blob hash must be 64 lowercase hexadecimal characters (SHA-256)")]
    BadBlobHash,
    #[error("an account id must be 1 to 64 ASCII letters, digits, '-' or '_'")]
    BadAccountId,
    #[error("unknown document kind")]
    UnknownKind,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_ID_LEN: usize = 26;

fn encode_u128(mut v: u128) -> String {
    let mut out = [0u8; RANDOM_ID_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

fn decode_u128(s: &str) -> Option<u128> {
    let bytes = s.as_bytes();
    if bytes.len() != RANDOM_ID_LEN || !matches!(bytes[0], b'0'..=b'7') {
        return None;
    }
    let mut v: u128 = 0;
    for &b in bytes {
        let digit = ALPHABET.iter().position(|&a| a == b)?;
        v = (v << 5) | digit as u128;
    }
    Some(v)
}

fn random_u128() -> Result<u128, IdError> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|e| IdError::Random(e.to_string()))?;
    Ok(u128::from_be_bytes(buf))
}

macro_rules! random_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        impl $name {
            /// A new id with 128 bits from the operating system's random number generator.
            pub fn generate() -> Result<Self, IdError> {
                random_u128().map($name)
            }

            /// Parse the canonical 26-character text form.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                decode_u128(s).map($name).ok_or(IdError::BadRandomId)
            }

            /// The canonical text form.
            pub fn as_string(&self) -> String {
                encode_u128(self.0)
            }

            /// The 16 bytes, big-endian.
            pub fn to_bytes(&self) -> [u8; 16] {
                self.0.to_be_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(u128::from_be_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.as_string())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_string())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }
    };
}

random_id!(
    /// The id of a document (household, visit or discovery report).
    DocumentId
);
random_id!(
    /// The stable id of a household member (家庭成员), the key of the member in the household's
    /// member map. It never changes, so two phones that add members concurrently both keep theirs,
    /// and visits and income items can point at a member.
    MemberId
);
random_id!(
    /// The stable key of an entry in a keyed collection of a document (an income item, an asset,
    /// a legal supporter, a rigid-expenditure item, a seen-vs-declared comparison).
    EntryId
);

/// A SHA-256 hash naming a blob (a photo or a signature image).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        BlobHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parse 64 lowercase hexadecimal characters.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(IdError::BadBlobHash);
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(IdError::BadBlobHash);
            };
            out[i] = (hi << 4) | lo;
        }
        Ok(BlobHash(out))
    }

    /// The 64 lowercase hexadecimal characters.
    pub fn as_string(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 0x0f)] as char);
        }
        out
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.as_string())
    }
}

impl FromStr for BlobHash {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        BlobHash::parse(s)
    }
}

/// The id of an account (a grid worker, assistant, cadre, reviewer), as the server issues it.
/// Opaque to documents: 1 to 64 ASCII letters, digits, `-` or `_`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(IdError::BadAccountId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        AccountId::parse(s)
    }
}

/// The kind of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// 户: a household, long-lived, edited by many.
    Household,
    /// 走访: a visit (入户调查 / 复核 / 探访 / 预警核查 / 回访).
    Visit,
    /// 主动发现报告: a proactive-discovery report.
    DiscoveryReport,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Household,
        DocumentKind::Visit,
        DocumentKind::DiscoveryReport,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Household => "household",
            DocumentKind::Visit => "visit",
            DocumentKind::DiscoveryReport => "discovery_report",
        }
    }

    pub fn parse(s: &str) -> Result<DocumentKind, IdError> {
        DocumentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(IdError::UnknownKind)
    }

    /// The Chinese name shown to users.
    pub fn label_zh(self) -> &'static str {
        match self {
            DocumentKind::Household => "户",
            DocumentKind::Visit => "走访",
            DocumentKind::DiscoveryReport => "主动发现报告",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = DocumentId::generate().unwrap();
            let s = id.to_string();
            assert_eq!(s.len(), 26);
            assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(DocumentId::parse(&s), Ok(id));
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn extremes_round_trip() {
        for v in [0u128, 1, u128::MAX, u128::MAX / 3] {
            let id = EntryId(v);
            assert_eq!(EntryId::parse(&id.to_string()), Ok(id));
        }
        assert_eq!(
            DocumentId(u128::MAX).to_string(),
            "7zzzzzzzzzzzzzzzzzzzzzzzzz"
        );
        assert_eq!(DocumentId(0).to_string(), "00000000000000000000000000");
    }

    #[test]
    fn rejects_non_canonical_ids() {
        for bad in [
            "",
            "0000000000000000000000000",    // 25
            "000000000000000000000000000",  // 27
            "80000000000000000000000000",   // overflows 128 bits
            "0000000000000000000000000I",   // uppercase
            "0000000000000000000000000i",   // excluded letter
            "000000000000000000000000/.",   // path characters
            "00000000000000000000000000\n", // trailing newline
        ] {
            assert_eq!(DocumentId::parse(bad), Err(IdError::BadRandomId), "{bad:?}");
        }
    }

    #[test]
    fn blob_hashes() {
        let s = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let h = BlobHash::parse(s).unwrap();
        assert_eq!(h.to_string(), s);
        assert!(BlobHash::parse(&s.to_uppercase()).is_err());
        assert!(BlobHash::parse(&s[1..]).is_err());
        assert!(BlobHash::parse(&format!("{}g", &s[1..])).is_err());
    }

    #[test]
    fn account_ids_and_kinds() {
        assert!(AccountId::parse("gw-0001").is_ok());
        assert!(AccountId::parse("").is_err());
        assert!(AccountId::parse("a/b").is_err());
        assert!(AccountId::parse(&"a".repeat(65)).is_err());
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.as_str()), Ok(k));
        }
        assert_eq!(DocumentKind::parse("Household"), Err(IdError::UnknownKind));
    }
}
