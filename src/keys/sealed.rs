//! Passphrase-sealed private key files: Argon2id derives the key, XChaCha20-Poly1305
//! seals the seed (the parameters and why are in the module docs of `keys`).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::KeyError;

/// Argon2id cost of the key that encrypts a private key file (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KdfParams {
    /// Memory in KiB (`m`).
    memory_kib: u32,
    /// Passes over the memory (`t`).
    passes: u32,
    /// Lanes (`p`).
    lanes: u32,
}

impl KdfParams {
    /// RFC 9106 §4, second recommended option: 64 MiB, t = 3, p = 4.
    pub(super) const DEFAULT: Self = Self { memory_kib: 64 * 1024, passes: 3, lanes: 4 };
    /// Bounds on what a file may ask for, so that a damaged or hostile file cannot make
    /// opening the keyring allocate without limit or run for hours.
    const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    const MAX_PASSES: u32 = 64;
    const MAX_LANES: u32 = 64;

    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let field = |part: Option<&str>, name: &str, max: u32| -> Result<u32, String> {
            let value = part.and_then(|p| p.strip_prefix(name)).and_then(|v| v.strip_prefix('='));
            match value.and_then(|v| v.parse::<u32>().ok()) {
                Some(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!("Argon2 parameter {name} missing or out of range in {text:?}")),
            }
        };
        let mut parts = text.split(',');
        let params = Self {
            memory_kib: field(parts.next(), "m", Self::MAX_MEMORY_KIB)?,
            passes: field(parts.next(), "t", Self::MAX_PASSES)?,
            lanes: field(parts.next(), "p", Self::MAX_LANES)?,
        };
        if parts.next().is_some() {
            return Err(format!("unexpected Argon2 parameters in {text:?}"));
        }
        Ok(params)
    }

    /// The 32-byte key for `passphrase` and `salt`.
    fn derive(&self, passphrase: &str, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, argon2::Error> {
        let params = Params::new(self.memory_kib, self.passes, self.lanes, Some(32))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(
            passphrase.as_bytes(),
            salt,
            key.as_mut(),
        )?;
        Ok(key)
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={},t={},p={}", self.memory_kib, self.passes, self.lanes)
    }
}

/// A passphrase-encrypted seed, one line in a private key file:
/// `aiprov-key-v1:argon2id:<params>:<b64 salt>:<b64 nonce>:<b64 ciphertext>`.
#[derive(Debug)]
pub(super) struct SealedSeed {
    pub(super) params: KdfParams,
    pub(super) salt: [u8; 16],
    pub(super) nonce: [u8; 24],
    /// The 32-byte seed and the 16-byte Poly1305 tag.
    pub(super) ciphertext: Vec<u8>,
}

impl SealedSeed {
    pub(super) const PREFIX: &'static str = "aiprov-key-v1:argon2id:";
    const CIPHERTEXT_LEN: usize = 32 + 16;

    pub(super) fn seal(seed: &[u8; 32], passphrase: &str) -> Result<Self, KeyError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        getrandom::getrandom(&mut salt).map_err(|e| KeyError::Random(e.to_string()))?;
        getrandom::getrandom(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let params = KdfParams::DEFAULT;
        let key = params.derive(passphrase, &salt).map_err(|e| KeyError::Encryption(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), seed.as_slice())
            .map_err(|e| KeyError::Encryption(e.to_string()))?;
        Ok(Self { params, salt, nonce, ciphertext })
    }

    /// The seed, or `None` when the passphrase is wrong or the file was altered (the
    /// AEAD cannot tell those apart).
    pub(super) fn open(&self, passphrase: &str) -> Option<Zeroizing<[u8; 32]>> {
        let key = self.params.derive(passphrase, &self.salt).ok()?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(cipher.decrypt(XNonce::from_slice(&self.nonce), self.ciphertext.as_slice()).ok()?);
        let seed: [u8; 32] = plain.as_slice().try_into().ok()?;
        Some(Zeroizing::new(seed))
    }

    pub(super) fn to_line(&self) -> String {
        format!(
            "{}{}:{}:{}:{}",
            Self::PREFIX,
            self.params,
            STANDARD.encode(self.salt),
            STANDARD.encode(self.nonce),
            STANDARD.encode(&self.ciphertext)
        )
    }

    pub(super) fn parse(line: &str) -> Result<Self, String> {
        let rest = line
            .strip_prefix(Self::PREFIX)
            .ok_or("not an aiprov-key-v1:argon2id key file (unknown version or algorithm)")?;
        let fields: Vec<&str> = rest.split(':').collect();
        let [params, salt, nonce, ciphertext] = fields[..] else {
            return Err("an encrypted key file has 6 fields separated by ':'".into());
        };
        let bytes = |name: &str, b64: &str| STANDARD.decode(b64).map_err(|_| format!("{name} is not base64"));
        let ciphertext = bytes("ciphertext", ciphertext)?;
        if ciphertext.len() != Self::CIPHERTEXT_LEN {
            return Err(format!("ciphertext is not {} bytes", Self::CIPHERTEXT_LEN));
        }
        Ok(Self {
            params: KdfParams::parse(params)?,
            salt: bytes("salt", salt)?.try_into().map_err(|_| "salt is not 16 bytes")?,
            nonce: bytes("nonce", nonce)?.try_into().map_err(|_| "nonce is not 24 bytes")?,
            ciphertext,
        })
    }
}
