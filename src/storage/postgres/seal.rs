//! [`SaltSeal`]: prompt salts are stored in the database only sealed (XChaCha20-Poly1305)
//! under a key derived from the log's checkpoint key, which lives in the keys directory
//! and never in the database.
//!
//! Why: PostgreSQL does not overwrite a deleted row; its bytes stay in a dead tuple until
//! vacuum reuses the space, in the write-ahead log until it is recycled, and in every
//! base backup and replica taken meanwhile. Sealed, none of those copies reveals a salt
//! to whoever holds the database alone (a database administrator, a leaked dump, a
//! backup). Once the row is deleted the service never returns it again, and the remaining
//! sealed copies go as the database reclaims space and backups expire (docs/contract.md §7).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::log::StoreError;

/// Bound into every sealed salt, so a ciphertext made for anything else never opens.
const CONTEXT: &[u8] = b"aiprov prompt salt v1";
const NONCE: usize = 24;

/// Seals and opens prompt salts; the same on every node with the same keys directory.
#[derive(Clone)]
pub(crate) struct SaltSeal {
    key: std::sync::Arc<Zeroizing<[u8; 32]>>,
}

impl SaltSeal {
    /// The seal derived from the log's checkpoint signing key (SHA-256 over a domain
    /// label and the key's secret bytes: a different key for a different purpose).
    pub(crate) fn from_checkpoint_key(key: &ed25519_dalek::SigningKey) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"aiprov/salt-seal/v1\0");
        hasher.update(key.to_bytes());
        Self { key: std::sync::Arc::new(Zeroizing::new(hasher.finalize().into())) }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().as_ref().into())
    }

    /// The sealed salt: a random nonce, then the ciphertext and tag.
    ///
    /// # Errors
    /// When the operating system's random number generator fails.
    pub(crate) fn seal(&self, salt: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE];
        getrandom::getrandom(&mut nonce).map_err(|e| StoreError::backend("the random number generator", e))?;
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: salt, aad: CONTEXT })
            .map_err(|_| StoreError::Corrupt("a salt could not be sealed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The salt in `sealed`.
    ///
    /// # Errors
    /// When it was sealed under another key or altered.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<[u8; 32], StoreError> {
        let wrong = || {
            StoreError::Corrupt(
                "a sealed prompt salt does not open with this node's checkpoint key: every node must use the same keys"
                    .into(),
            )
        };
        let (nonce, body) = sealed.split_at_checked(NONCE).ok_or_else(wrong)?;
        let salt = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: CONTEXT })
            .map_err(|_| wrong())?;
        <[u8; 32]>::try_from(salt.as_slice()).map_err(|_| wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_salt_opens_with_the_same_key_only_and_does_not_show_it() {
        let seal = SaltSeal::from_checkpoint_key(&ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
        let salt = [42u8; 32];
        let sealed = seal.seal(&salt).unwrap();
        assert!(!sealed.windows(32).any(|w| w == salt));
        assert_eq!(seal.open(&sealed).unwrap(), salt);
        assert_ne!(seal.seal(&salt).unwrap(), sealed, "a fresh nonce each time");
        let other = SaltSeal::from_checkpoint_key(&ed25519_dalek::SigningKey::from_bytes(&[8; 32]));
        assert!(other.open(&sealed).is_err());
        assert!(seal.open(&sealed[..10]).is_err());
    }
}
