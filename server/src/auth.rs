//! Passwords, access tokens (JWT) and refresh tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system random number generator failed");
    buf
}

/// A new unguessable id: 128 random bits as 32 lowercase hex characters.
pub fn new_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// HMAC-SHA256 of `parts` under `key`, each part followed by a 0 byte.
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
        m.update(&[0]);
    }
    m.finalize().into_bytes().into()
}

/// Hash a password with Argon2id (default parameters: 19 MiB, 2 passes). CPU-heavy: call from a
/// blocking task.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Check a password against a stored hash (constant time in the hash comparison).
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user name is unknown, so that a wrong
/// user name costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&new_id()).expect("hashing a random password"))
}

/// The claims of an access token: the device it was issued to and when it expires, nothing
/// more. The token only has to say which device is calling; the account, its role and its regions
/// are read from the device's row on every request, so a revoked device, a disabled account or a
/// changed scope take effect at once. Kept this small so that an idle sync fits in 256 bytes on
/// the wire, headers included (docs/PROTOCOL.md, "Authentication").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Device id (32 hex characters).
    pub dev: String,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// [`Claims`] as signed: `d`, the device id's 16 bytes in base64url (22 characters instead of
/// 32), and `e`, the expiry. One-letter names keep an idle sync within 256 bytes up, headers
/// included; tokens issued with the names `dev` and `exp` are still read, until they expire.
#[derive(Serialize, Deserialize)]
struct WireClaims {
    #[serde(rename = "d", alias = "dev")]
    dev: String,
    #[serde(rename = "e", alias = "exp")]
    exp: i64,
}

/// Seconds of clock difference allowed when checking the expiry.
const LEEWAY_SECS: i64 = 5;

/// Signs and checks access tokens (HS256).
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key of the MAC in device ids ([`TokenKeys::new_device_id`]).
    device: [u8; 32],
    pub access_ttl_secs: u64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl_secs: u64) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            device: mac(secret, &[b"doudi device id"]),
            access_ttl_secs,
        }
    }

    /// A new device id (设备编号) for `account`: 8 random bytes, then the first 8 bytes of a MAC
    /// of them and the account under the token key; 32 hexadecimal characters, as every id. The
    /// server can tell later that it issued the id to that account without a record of it: after
    /// a restore to a backup older than the device, its phone signs in again under the same id
    /// and can push the changes it made under it (docs/OPERATIONS.md, "Backup and restore").
    pub fn new_device_id(&self, account: &str) -> String {
        let nonce = random_bytes::<8>();
        let tag = mac(&self.device, &[&nonce, account.as_bytes()]);
        format!("{}{}", hex::encode(nonce), hex::encode(&tag[..8]))
    }

    /// Whether `id` is one that [`TokenKeys::new_device_id`] made for `account` with this key.
    pub fn issued_device_id(&self, id: &str, account: &str) -> bool {
        let Ok(bytes) = hex::decode(id) else {
            return false;
        };
        if bytes.len() != 16 || id.bytes().any(|b| b.is_ascii_uppercase()) {
            return false;
        }
        let tag = mac(&self.device, &[&bytes[..8], account.as_bytes()]);
        // Compared in constant time: the tag is the id's proof.
        subtle::ConstantTimeEq::ct_eq(&tag[..8], &bytes[8..]).into()
    }

    /// A token for `device_id` (an id made by [`new_id`]), valid for `access_ttl_secs`.
    pub fn issue(&self, device_id: &str) -> String {
        let dev = hex::decode(device_id)
            .map(|b| URL_SAFE_NO_PAD.encode(b))
            .expect("device ids are hex");
        let claims = WireClaims {
            dev,
            exp: chrono::Utc::now().timestamp() + self.access_ttl_secs as i64,
        };
        // `{"alg":"HS256"}`: no `typ`, which says nothing the receiver does not know.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// Verify signature, algorithm (HS256 only: `none` and others are refused) and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        // The expiry is `e`, checked below: the library knows only `exp`. A token without it
        // does not deserialise and is refused.
        v.set_required_spec_claims::<&str>(&[]);
        v.validate_exp = false;
        let wire = jsonwebtoken::decode::<WireClaims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| TokenError::Invalid)?;
        if chrono::Utc::now().timestamp() > wire.exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired);
        }
        match URL_SAFE_NO_PAD.decode(&wire.dev) {
            Ok(bytes) if bytes.len() == 16 => Ok(Claims {
                dev: hex::encode(bytes),
                exp: wire.exp,
            }),
            _ => Err(TokenError::Invalid),
        }
    }
}

/// A new refresh token (shown to the client once) and the hash that is stored.
pub fn new_refresh_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The characters of enrolment codes (手机登录码): Crockford's base 32, without I, L, O and U,
/// so that a code read aloud or typed from paper is not mistaken.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of an enrolment code (80 random bits), shown in groups of four.
pub const ENROLMENT_CODE_CHARS: usize = 16;

/// A new enrolment code in its normal form (16 characters of [`CODE_ALPHABET`]) and the hash
/// that is stored.
pub fn new_enrolment_code() -> (String, String) {
    let bytes = random_bytes::<10>();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let code: String = (0..ENROLMENT_CODE_CHARS)
        .rev()
        .map(|i| CODE_ALPHABET[((bits >> (5 * i)) & 31) as usize] as char)
        .collect();
    let hash = hash_refresh_token(&code);
    (code, hash)
}

/// An enrolment code as typed or scanned, in its normal form: case, spaces and hyphens
/// ignored, `O` read as `0` and `I`, `L` as `1`. `None` when it cannot be a code.
pub fn normalise_enrolment_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (code.len() == ENROLMENT_CODE_CHARS && code.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The stored hash of an enrolment code in its normal form (SHA-256, hex: the code carries 80
/// random bits and works once, so a slow hash adds nothing).
pub fn hash_enrolment_code(normal: &str) -> String {
    hash_refresh_token(normal)
}

/// An enrolment code as shown to people: groups of four joined by hyphens.
pub fn display_enrolment_code(normal: &str) -> String {
    normal
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    /// A device id proves the account it was issued to, under the key it was issued with, and
    /// nothing else: not another account, not another key, not a changed or made-up id.
    #[test]
    fn device_ids_prove_their_account() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let id = keys.new_device_id("account-a");
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(keys.issued_device_id(&id, "account-a"));
        assert!(!keys.issued_device_id(&id, "account-b"));
        assert!(!keys.issued_device_id(&id.to_uppercase(), "account-a"));
        let other = TokenKeys::new(b"another-key-another-key-another!", 60);
        assert!(!other.issued_device_id(&id, "account-a"));
        assert_ne!(keys.new_device_id("account-a"), id, "ids are random");
        for i in 0..32 {
            let mut changed = id.clone().into_bytes();
            changed[i] = if changed[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(changed).unwrap();
            assert!(!keys.issued_device_id(&changed, "account-a"), "{changed}");
        }
        assert!(!keys.issued_device_id(&new_id(), "account-a"));
        assert!(!keys.issued_device_id("", "account-a"));
        assert!(!keys.issued_device_id(&id[..30], "account-a"));
    }

    #[test]
    fn tokens_verify_and_refuse_tampering() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let dev = new_id();
        let t = keys.issue(&dev);
        let c = keys.verify(&t).unwrap();
        assert_eq!(c.dev, dev);
        assert!(c.exp > chrono::Utc::now().timestamp());
        // Header, device and expiry only: 144 characters at most.
        assert!(t.len() <= 144, "{} characters: {t}", t.len());
        let header = URL_SAFE_NO_PAD
            .decode(t.split('.').next().unwrap())
            .unwrap();
        assert_eq!(header, br#"{"alg":"HS256"}"#);
        let other = TokenKeys::new(b"another-key-another-key-another!", 60);
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
        // Another device's id under the original signature.
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            format!(
                r#"{{"dev":"{}","exp":9999999999}}"#,
                URL_SAFE_NO_PAD.encode([7u8; 16])
            )
            .as_bytes(),
        );
        assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::Invalid));
        // A signed token whose device is not 16 bytes.
        let short = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &WireClaims {
                dev: "AAAA".into(),
                exp: chrono::Utc::now().timestamp() + 60,
            },
            &keys.encoding,
        )
        .unwrap();
        assert_eq!(keys.verify(&short), Err(TokenError::Invalid));
    }

    #[test]
    fn enrolment_codes_read_back_as_typed() {
        let (code, hash) = new_enrolment_code();
        assert_eq!(code.len(), ENROLMENT_CODE_CHARS);
        let shown = display_enrolment_code(&code);
        assert_eq!(shown.len(), 19);
        let typed = shown.to_lowercase().replace('0', "o").replace('1', "l");
        let back = normalise_enrolment_code(&format!(" {typed} ")).unwrap();
        assert_eq!(back, code);
        assert_eq!(hash_enrolment_code(&back), hash);
        assert_ne!(new_enrolment_code().0, code);
        assert_eq!(normalise_enrolment_code("ABCD-EFGH"), None);
        assert_eq!(normalise_enrolment_code("UUUU-UUUU-UUUU-UUUU"), None);
    }

    #[test]
    fn ids_are_random_hex() {
        let a = new_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_id());
    }
}
