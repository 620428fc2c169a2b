//! Encryption at rest: XChaCha20-Poly1305 with a random 192-bit nonce per record. The key comes
//! from the host app (Android Keystore / iOS Keychain) and lives only in memory. Each record is
//! bound to where it is stored (table and row) through the associated data, so a record copied
//! into another row does not decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{DoudiError, Result};

const NONCE_LEN: usize = 24;

pub(crate) struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// A cipher for a 32-byte key.
    pub(crate) fn new(key: &[u8]) -> Result<Cipher> {
        if key.len() != 32 {
            return Err(DoudiError::invalid(
                "key",
                "密钥须为 32 字节",
                "the key must be 32 bytes",
            ));
        }
        let aead = XChaCha20Poly1305::new_from_slice(key).map_err(DoudiError::internal)?;
        Ok(Cipher { aead })
    }

    /// `nonce || ciphertext+tag` of `plain`, bound to `place`.
    pub(crate) fn seal(&self, place: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(DoudiError::internal)?;
        let sealed = self
            .aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| DoudiError::internal("encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of a record made by [`Cipher::seal`] for the same `place`.
    pub(crate) fn open(&self, place: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(DoudiError::WrongKey);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| DoudiError::WrongKey)?;
        self.aead
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| DoudiError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let c = Cipher::new(&[7u8; 32]).unwrap();
        let s = c.seal("docs/a", b"hello").unwrap();
        assert_eq!(c.open("docs/a", &s).unwrap(), b"hello");
        assert!(c.open("docs/b", &s).is_err());
        let other = Cipher::new(&[8u8; 32]).unwrap();
        assert!(other.open("docs/a", &s).is_err());
        // Two seals of the same plaintext differ (random nonce).
        assert_ne!(s, c.seal("docs/a", b"hello").unwrap());
        assert!(Cipher::new(&[0u8; 16]).is_err());
    }
}
