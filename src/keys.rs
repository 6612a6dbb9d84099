//! The keyring: Ed25519 keys in the keys directory, created on first start.
//!
//! Layout of the directory:
//! - `keyring.json`: public metadata of every key (kid, purpose, public key, times);
//! - `<kid>.key`: one private key each, base64 of the 32-byte seed, file mode 0600.
//!
//! Statement-signing keys and the log's checkpoint key are separate keys: statement
//! keys rotate, while the checkpoint key is the log's identity that witnesses pin.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::statement::Timestamp;
use crate::Sha256Digest;

/// Identifies a public key: 16 hex digits, the first 8 bytes of SHA-256(public key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn for_key(key: &VerifyingKey) -> Self {
        let digest = Sha256Digest::of(key.as_bytes());
        Self(hex::encode(&digest.as_bytes()[..8]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s))
        } else {
            Err("a key id is 16 lowercase hex digits".into())
        }
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// Signs statements (receipts).
    Statement,
    /// Signs the log's checkpoints (signed notes).
    Checkpoint,
}

/// Public facts about one key, as `keyring.json` stores them and `GET /v1/keys` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyInfo {
    pub kid: KeyId,
    pub algorithm: String,
    pub purpose: KeyPurpose,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub retired_at: Option<Timestamp>,
}

impl PublicKeyInfo {
    /// # Errors
    /// When `public_key` is not base64 of a valid Ed25519 point.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        decode_public_key(&self.public_key)
    }
}

/// Decodes standard base64 of a 32-byte Ed25519 public key.
///
/// # Errors
/// When the text is not base64 of 32 bytes forming a valid point.
pub fn decode_public_key(b64: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = STANDARD.decode(b64.trim()).map_err(|_| KeyError::BadPublicKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublicKey)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::BadPublicKey)
}

/// A private key that never prints itself.
#[derive(Clone)]
pub struct SecretKey {
    kid: KeyId,
    key: SigningKey,
}

impl SecretKey {
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn sign(&self, message: &[u8]) -> ed25519_dalek::Signature {
        self.key.sign(message)
    }

    /// The raw key, for the signed-note signer only.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Self { kid: KeyId::for_key(&key.verifying_key()), key })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <redacted>)", self.kid)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid keyring: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("private key file for key {kid} is missing from {dir}")]
    MissingPrivateKey { kid: KeyId, dir: PathBuf },
    #[error("not a base64 Ed25519 public key of 32 bytes")]
    BadPublicKey,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_owned(), source }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    keys: Vec<PublicKeyInfo>,
}

/// Every key of this service: the active statement key, retired ones (public only in
/// use), and the checkpoint key.
#[derive(Debug)]
pub struct Keyring {
    dir: PathBuf,
    infos: Vec<PublicKeyInfo>,
    statement: SecretKey,
    checkpoint: SecretKey,
}

const KEYRING_FILE: &str = "keyring.json";

impl Keyring {
    /// Opens the keyring in `dir`, creating the directory, a statement key and a
    /// checkpoint key when there are none yet.
    ///
    /// # Errors
    /// When the directory cannot be read or written, or its files are damaged.
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(KEYRING_FILE);
        let mut infos = if path.exists() {
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            let file: KeyringFile = serde_json::from_str(&text)
                .map_err(|e| KeyError::Corrupt { path: path.clone(), reason: e.to_string() })?;
            file.keys
        } else {
            Vec::new()
        };
        let mut changed = false;
        for purpose in [KeyPurpose::Statement, KeyPurpose::Checkpoint] {
            if !infos.iter().any(|k| k.purpose == purpose && k.retired_at.is_none()) {
                let key = SecretKey::generate()?;
                write_private_key(dir, &key)?;
                infos.push(PublicKeyInfo {
                    kid: key.kid.clone(),
                    algorithm: "Ed25519".into(),
                    purpose,
                    public_key: STANDARD.encode(key.verifying_key().as_bytes()),
                    created_at: Timestamp::now(),
                    retired_at: None,
                });
                tracing::info!(kid = %key.kid, ?purpose, dir = %dir.display(), "created a new signing key");
                changed = true;
            }
        }
        if changed {
            write_keyring(dir, &infos)?;
        }
        let active = |purpose| -> Result<SecretKey, KeyError> {
            let info = infos.iter().find(|k| k.purpose == purpose && k.retired_at.is_none()).ok_or_else(|| {
                KeyError::Corrupt { path: path.clone(), reason: format!("no active {purpose:?} key") }
            })?;
            read_private_key(dir, info)
        };
        let statement = active(KeyPurpose::Statement)?;
        let checkpoint = active(KeyPurpose::Checkpoint)?;
        Ok(Self { dir: dir.to_owned(), infos, statement, checkpoint })
    }

    /// The key that signs new statements.
    pub fn statement_key(&self) -> &SecretKey {
        &self.statement
    }

    /// The key that signs checkpoints.
    pub fn checkpoint_key(&self) -> &SecretKey {
        &self.checkpoint
    }

    /// Every public key, active and retired.
    pub fn public_keys(&self) -> &[PublicKeyInfo] {
        &self.infos
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn write_private_key(dir: &Path, key: &SecretKey) -> Result<(), KeyError> {
    let path = dir.join(format!("{}.key", key.kid));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created 0600 from the start: never world-readable, not even for an instant.
        opts.mode(0o600);
    }
    let mut file = opts.open(&path).map_err(io_err(&path))?;
    let mut text = STANDARD.encode(key.key.to_bytes());
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(io_err(&path))?;
    file.sync_all().map_err(io_err(&path))
}

fn read_private_key(dir: &Path, info: &PublicKeyInfo) -> Result<SecretKey, KeyError> {
    let path = dir.join(format!("{}.key", info.kid));
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::MissingPrivateKey { kid: info.kid.clone(), dir: dir.to_owned() })
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    let corrupt = |reason: &str| KeyError::Corrupt { path: path.clone(), reason: reason.into() };
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .map_err(|_| corrupt("not base64"))?
        .try_into()
        .map_err(|_| corrupt("not a 32-byte seed"))?;
    let key = SigningKey::from_bytes(&seed);
    if KeyId::for_key(&key.verifying_key()) != info.kid {
        return Err(corrupt("private key does not match its key id"));
    }
    Ok(SecretKey { kid: info.kid.clone(), key })
}

fn write_keyring(dir: &Path, infos: &[PublicKeyInfo]) -> Result<(), KeyError> {
    let path = dir.join(KEYRING_FILE);
    let tmp = dir.join(format!("{KEYRING_FILE}.tmp"));
    let text = serde_json::to_string_pretty(&KeyringFile { keys: infos.to_vec() })
        .map_err(|e| KeyError::Corrupt { path: path.clone(), reason: e.to_string() })?;
    // Write-then-rename so that a crash leaves either the old or the new keyring.
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_keys_once_and_reopens_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::open_or_create(dir.path()).unwrap();
        let again = Keyring::open_or_create(dir.path()).unwrap();
        assert_eq!(first.statement_key().kid(), again.statement_key().kid());
        assert_eq!(first.checkpoint_key().kid(), again.checkpoint_key().kid());
        assert_ne!(first.statement_key().kid(), first.checkpoint_key().kid());
        assert_eq!(again.public_keys().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn private_key_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let path = dir.path().join(format!("{}.key", ring.statement_key().kid()));
        let mode = fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let seed = STANDARD.encode(ring.statement_key().signing_key().to_bytes());
        let printed = format!("{ring:?}");
        assert!(!printed.contains(&seed));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn a_swapped_private_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let (a, b) = (ring.statement_key().kid().clone(), ring.checkpoint_key().kid().clone());
        let pa = dir.path().join(format!("{a}.key"));
        let pb = dir.path().join(format!("{b}.key"));
        fs::copy(&pb, &pa).unwrap();
        assert!(matches!(Keyring::open_or_create(dir.path()), Err(KeyError::Corrupt { .. })));
    }
}
