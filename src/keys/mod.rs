//! The keyring: Ed25519 keys in the keys directory, created on first start.
//!
//! Layout of the directory:
//! - `keyring.json`: public metadata of every key, active and retired (kid, purpose,
//!   public key, created and retired times), as `GET /v1/keys` publishes it;
//! - `<kid>.key`: the private key of each *active* key, file mode 0600, one line: either
//!   standard base64 of the 32-byte seed (a plain file), or a passphrase-encrypted seed
//!   `aiprov-key-v1:argon2id:m=65536,t=3,p=4:<b64 salt>:<b64 nonce>:<b64 ciphertext>`
//!   (see [Encrypted key files](#encrypted-key-files)).
//!
//! Statement-signing keys and the log's checkpoint key are separate keys: statement
//! keys rotate, while the checkpoint key is the log's identity that witnesses and
//! auditors pin, so [`rotate`] never touches it (a new checkpoint key would be a new log).
//!
//! # Rotation
//! [`Keyring::rotate_statement_key`] creates a new statement key and retires the active
//! one: its public key stays in `keyring.json` with `retired_at` set, so `GET /v1/keys`
//! keeps publishing it and receipts it signed keep verifying. Its private key file is
//! overwritten and removed: nothing may sign with it again, so keeping it would only be
//! something to steal.
//!
//! `retired_at` must be the moment the last statement signed with the old key was
//! dated, or later: verifiers refuse a statement dated after its key's retirement
//! (`key.retired`). A running service therefore rotates itself (`POST
//! /v1/admin/keys/rotate`), under the lock its signing takes, and a running service holds
//! a shared lock on the keys directory ([`KeysInUse`]) so that the offline [`rotate`]
//! refuses to change keys under it.
//!
//! # Retired keys cannot sign
//! A [`SecretKey`] can only be made inside this module, and [`Keyring`] makes exactly two:
//! the active statement key and the checkpoint key. The private key of a retired key is
//! never read, even when its file is still there (a crash between the two steps of a
//! rotation, or a restored backup), so no code path can sign with it.
//!
//! # Encrypted key files
//! With a passphrase, new private key files are written encrypted; existing files are
//! read either way, so a keyring may mix plain and encrypted files. The encryption key
//! is Argon2id (RFC 9106, version 0x13) of the passphrase with a random 16-byte salt, at
//! 64 MiB of memory, 3 passes and 4 lanes: RFC 9106 §4's second recommended setting, for
//! machines that cannot spend 2 GiB per derivation. The parameters are written into each
//! file, so they can be raised later without breaking old files. The seed is sealed with
//! XChaCha20-Poly1305 under a random 24-byte nonce, so a wrong passphrase or an altered
//! file fails to open rather than yielding a wrong key. This library never reads the
//! environment: the binary passes the passphrase in (`AIPROV_KEY_PASSPHRASE`).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::time::Timestamp;
use crate::Sha256Digest;

mod bound;
mod certs;
mod follow;
mod lock;
mod rollout;
mod rotate;
mod sealed;

pub use bound::{Bindings, BoundLog};
pub use certs::{from_pem, to_pem, C2paCerts, CertInfo};
pub use follow::Following;
pub use lock::KeysInUse;
pub use rollout::{Liveness, NodeReport, Rollout, RolloutError, GONE_AFTER, LEASE};
pub use rotate::{rotate, RotationReport};
#[cfg(test)]
use sealed::KdfParams;
use sealed::SealedSeed;

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
    /// The one rule of key retirement, applied by every verifier (the service, the
    /// offline CLI, the audit): a key signs nothing dated after its retirement. A
    /// statement dated later was signed by something still holding a retired key.
    pub fn may_sign_at(&self, issued_at: Timestamp) -> bool {
        self.retired_at.is_none_or(|retired| issued_at <= retired)
    }

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

/// A private key that never prints itself. Only this module makes one, and only for an
/// active key (see [Retired keys cannot sign](self#retired-keys-cannot-sign)).
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
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        // SigningKey wipes its own copy on drop (ed25519-dalek's `zeroize` feature).
        let key = SigningKey::from_bytes(seed);
        Self { kid: KeyId::for_key(&key.verifying_key()), key }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <redacted>)", self.kid)
    }
}

/// A key-file passphrase for configuration structs to hold: never printed, wiped on drop.
/// The keyring functions take it as `Option<&str>` ([`Passphrase::as_str`]).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(passphrase: String) -> Self {
        Self(Zeroizing::new(passphrase))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid keyring: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("private key file for key {kid} is missing from {dir}: copy {kid}.key into it from a node of the log or from a backup of its keys directory")]
    MissingPrivateKey { kid: KeyId, dir: PathBuf },
    #[error("not a base64 Ed25519 public key of 32 bytes")]
    BadPublicKey,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("{path} is encrypted and no passphrase was given (set AIPROV_KEY_PASSPHRASE)")]
    PassphraseRequired { path: PathBuf },
    #[error("cannot decrypt {path}: wrong passphrase, or the file was altered")]
    WrongPassphrase { path: PathBuf },
    #[error("the key passphrase is empty: give a real one, or none to write plain key files")]
    EmptyPassphrase,
    #[error("no keyring in {dir} (no keyring.json): nothing to rotate; check the keys directory")]
    NoKeyring { dir: PathBuf },
    #[error("the keys in {dir} are in use by a running service, which rotates its own keys: aiprov keys rotate --url URL --token ADMIN_TOKEN (POST /v1/admin/keys/rotate)")]
    InUse { dir: PathBuf },
    #[error("the keys in {dir} are being rotated offline; start the service when the rotation is done")]
    RotationInProgress { dir: PathBuf },
    #[error("encrypting a private key failed: {0}")]
    Encryption(String),
    #[error("the C2PA root key {path} is not there (kept offline?): put it back to issue a certificate")]
    RootKeyOffline { path: PathBuf },
    #[error("issuing a C2PA certificate failed: {0}")]
    Certificate(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_owned(), source }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    keys: Vec<PublicKeyInfo>,
}

/// Every key of this service: the active statement key, retired ones (public only), and
/// the checkpoint key.
#[derive(Debug)]
pub struct Keyring {
    dir: PathBuf,
    infos: Vec<PublicKeyInfo>,
    statement: SecretKey,
    /// A new statement key being rolled out to the log's nodes (`keys::rollout`), whose
    /// private key this directory holds; it signs nothing until the log activates it.
    staged: Option<SecretKey>,
    checkpoint: SecretKey,
    /// Encrypts the key files this keyring writes from now on (a rotation's new key).
    passphrase: Option<Passphrase>,
}

const KEYRING_FILE: &str = "keyring.json";

/// Whether `name` is a file a keyring writes in its directory: `keyring.json` and
/// `logs.json` (and their temporary copies while they are replaced), private keys
/// (`<kid>.key`, `c2pa-root.key`), certificates (`c2pa-*.pem`) and the locks. The keys
/// directory may hold other files that are not the service's (the checkout's
/// `keys/README.md` and `keys/.gitignore`); `serve` restricts only these.
pub fn is_keyring_file(name: &str) -> bool {
    [KEYRING_FILE, bound::LOGS_FILE].iter().any(|file| name == *file || name == format!("{file}.tmp"))
        || name == lock::LOCK_FILE
        || name == lock::CREATE_LOCK_FILE
        || name.ends_with(".key")
        || (name.starts_with("c2pa-") && name.ends_with(".pem"))
}

impl Keyring {
    /// [`Keyring::open_or_create_with`] without a passphrase: plain key files only.
    ///
    /// # Errors
    /// As [`Keyring::open_or_create_with`]; encrypted key files fail with
    /// [`KeyError::PassphraseRequired`].
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        Self::open_or_create_with(dir, None)
    }

    /// Opens the keyring in `dir`, creating the directory, a statement key and a
    /// checkpoint key when there are none yet. With a passphrase, keys created now are
    /// written encrypted and encrypted key files are decrypted; plain files load either way.
    ///
    /// # Errors
    /// When the directory cannot be read or written, or its files are damaged
    /// ([`KeyError::Io`], [`KeyError::Corrupt`], [`KeyError::MissingPrivateKey`]); when an
    /// encrypted key file has no passphrase or a wrong one ([`KeyError::PassphraseRequired`],
    /// [`KeyError::WrongPassphrase`], naming the file); when the passphrase is empty.
    pub fn open_or_create_with(dir: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        check_passphrase(passphrase)?;
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        // Read under the lock: another process may be creating the keys right now.
        let _creating = lock::Creating::take(dir)?;
        let mut infos = read_keyring(dir)?.unwrap_or_default();
        let mut changed = false;
        for purpose in [KeyPurpose::Statement, KeyPurpose::Checkpoint] {
            if active_info(&infos, purpose).is_none() {
                infos.push(create_key(dir, purpose, passphrase, Timestamp::now())?.1);
                changed = true;
            }
        }
        if changed {
            write_keyring(dir, &infos)?;
        }
        Self::load(dir, infos, passphrase)
    }

    /// Reads the private keys of the active keys, and of no other.
    fn load(dir: &Path, infos: Vec<PublicKeyInfo>, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let active = |purpose| -> Result<SecretKey, KeyError> {
            let info = active_info(&infos, purpose).ok_or_else(|| KeyError::Corrupt {
                path: dir.join(KEYRING_FILE),
                reason: format!("no active {purpose:?} key"),
            })?;
            read_private_key(dir, info, passphrase)
        };
        let statement = active(KeyPurpose::Statement)?;
        let checkpoint = active(KeyPurpose::Checkpoint)?;
        let passphrase = passphrase.map(|p| Passphrase::new(p.to_owned()));
        Ok(Self { dir: dir.to_owned(), infos, statement, staged: None, checkpoint, passphrase })
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

    /// Every statement key id, active and retired.
    pub fn statement_kids(&self) -> Vec<KeyId> {
        self.infos.iter().filter(|k| k.purpose == KeyPurpose::Statement).map(|k| k.kid.clone()).collect()
    }

    /// Opens the C2PA certificate chain of this keys directory ([`C2paCerts`]), creating
    /// its root on first start and a leaf for the active statement key when it has none.
    ///
    /// # Errors
    /// As [`C2paCerts::open_or_create`].
    pub fn c2pa_certs(&self, organisation: &str) -> Result<C2paCerts, KeyError> {
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        let _creating = lock::Creating::take(&self.dir)?;
        C2paCerts::open_or_create(&self.dir, &self.statement_kids(), &self.statement, passphrase, organisation)
    }

    /// Issues the C2PA leaf certificate of the active statement key into `certs` (after a
    /// rotation).
    ///
    /// # Errors
    /// As [`C2paCerts::issue_leaf`].
    pub fn issue_c2pa_leaf(&self, certs: &mut C2paCerts, organisation: &str) -> Result<(), KeyError> {
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        certs.issue_leaf(&self.dir, &self.statement, passphrase, organisation)
    }
}

fn check_passphrase(passphrase: Option<&str>) -> Result<(), KeyError> {
    // An empty passphrase would encrypt in name only.
    match passphrase {
        Some("") => Err(KeyError::EmptyPassphrase),
        _ => Ok(()),
    }
}

fn active_info(infos: &[PublicKeyInfo], purpose: KeyPurpose) -> Option<&PublicKeyInfo> {
    infos.iter().find(|k| k.purpose == purpose && k.retired_at.is_none())
}

fn private_key_path(dir: &Path, kid: &KeyId) -> PathBuf {
    dir.join(format!("{kid}.key"))
}

/// Reads `keyring.json`; `None` when there is none yet.
fn read_keyring(dir: &Path) -> Result<Option<Vec<PublicKeyInfo>>, KeyError> {
    let path = dir.join(KEYRING_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let corrupt = |reason: String| KeyError::Corrupt { path: path.clone(), reason };
    let file: KeyringFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    for purpose in [KeyPurpose::Statement, KeyPurpose::Checkpoint] {
        // Two active keys of one purpose would make "the" signing key ambiguous.
        if file.keys.iter().filter(|k| k.purpose == purpose && k.retired_at.is_none()).count() > 1 {
            return Err(corrupt(format!("more than one active {purpose:?} key")));
        }
    }
    Ok(Some(file.keys))
}

/// Generates a key, writes its private key file and returns it with its public facts.
fn create_key(
    dir: &Path,
    purpose: KeyPurpose,
    passphrase: Option<&str>,
    now: Timestamp,
) -> Result<(SecretKey, PublicKeyInfo), KeyError> {
    let key = SecretKey::generate()?;
    write_private_key(dir, &key, passphrase)?;
    tracing::info!(kid = %key.kid, ?purpose, encrypted = passphrase.is_some(), dir = %dir.display(), "created a new signing key");
    let info = PublicKeyInfo {
        kid: key.kid.clone(),
        algorithm: "Ed25519".into(),
        purpose,
        public_key: STANDARD.encode(key.verifying_key().as_bytes()),
        created_at: now,
        retired_at: None,
    };
    Ok((key, info))
}

fn write_private_key(dir: &Path, key: &SecretKey, passphrase: Option<&str>) -> Result<(), KeyError> {
    write_private_key_at(&private_key_path(dir, &key.kid), key, passphrase)
}

/// Writes `key`'s seed to a new file at `path`, mode 0600, plain or sealed.
fn write_private_key_at(path: &Path, key: &SecretKey, passphrase: Option<&str>) -> Result<(), KeyError> {
    let seed = Zeroizing::new(key.key.to_bytes());
    let mut text = match passphrase {
        Some(p) => Zeroizing::new(SealedSeed::seal(&seed, p)?.to_line()),
        None => Zeroizing::new(STANDARD.encode(seed.as_ref())),
    };
    text.push('\n');
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created 0600 from the start: never world-readable, not even for an instant.
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io_err(path))?;
    file.write_all(text.as_bytes()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

fn read_private_key(dir: &Path, info: &PublicKeyInfo, passphrase: Option<&str>) -> Result<SecretKey, KeyError> {
    let path = private_key_path(dir, &info.kid);
    let text = Zeroizing::new(match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::MissingPrivateKey { kid: info.kid.clone(), dir: dir.to_owned() })
        }
        Err(e) => return Err(io_err(&path)(e)),
    });
    let seed = decode_key_file(text.trim(), passphrase, &path)?;
    let key = SecretKey::from_seed(&seed);
    if key.kid != info.kid {
        return Err(KeyError::Corrupt { path, reason: "private key does not match its key id".into() });
    }
    Ok(key)
}

/// The seed in a private key file's text, plain or encrypted.
fn decode_key_file(text: &str, passphrase: Option<&str>, path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let corrupt = |reason: String| KeyError::Corrupt { path: path.to_owned(), reason };
    // '-' is not in the standard base64 alphabet, so no plain file starts like this.
    if !text.starts_with("aiprov-key-") {
        let bytes = Zeroizing::new(STANDARD.decode(text).map_err(|_| corrupt("not base64".into()))?);
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| corrupt("not a 32-byte seed".into()))?;
        return Ok(Zeroizing::new(seed));
    }
    let sealed = SealedSeed::parse(text).map_err(corrupt)?;
    let passphrase = passphrase.ok_or_else(|| KeyError::PassphraseRequired { path: path.to_owned() })?;
    sealed.open(passphrase).ok_or_else(|| KeyError::WrongPassphrase { path: path.to_owned() })
}

fn write_keyring(dir: &Path, infos: &[PublicKeyInfo]) -> Result<(), KeyError> {
    let path = dir.join(KEYRING_FILE);
    let tmp = dir.join(format!("{KEYRING_FILE}.tmp"));
    let text = serde_json::to_string_pretty(&KeyringFile { keys: infos.to_vec() })
        .map_err(|e| KeyError::Corrupt { path: path.clone(), reason: e.to_string() })?;
    // Write-then-rename so that a crash leaves either the old or the new keyring. Owner
    // only, as everything in the keys directory.
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

/// Makes a rename or unlink in `dir` durable (POSIX needs the directory flushed too).
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "correct horse battery staple";

    fn key_file(dir: &Path, kid: &KeyId) -> PathBuf {
        private_key_path(dir, kid)
    }

    fn info<'a>(ring: &'a Keyring, kid: &KeyId) -> &'a PublicKeyInfo {
        ring.public_keys().iter().find(|k| &k.kid == kid).unwrap_or_else(|| panic!("{kid} is published"))
    }

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
    fn private_key_files_are_owner_only_plain_or_encrypted() {
        use std::os::unix::fs::PermissionsExt;
        for passphrase in [None, Some(PASS)] {
            let dir = tempfile::tempdir().unwrap();
            let ring = Keyring::open_or_create_with(dir.path(), passphrase).unwrap();
            let rotated = rotate(dir.path(), passphrase).unwrap();
            for kid in [ring.checkpoint_key().kid(), &rotated.active.kid] {
                let mode = fs::metadata(key_file(dir.path(), kid)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{kid} with passphrase {:?}", passphrase.is_some());
            }
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let seed = STANDARD.encode(ring.statement_key().signing_key().to_bytes());
        let printed = format!("{ring:?}");
        assert!(!printed.contains(&seed));
        assert!(printed.contains("<redacted>"));
        let phrase = Passphrase::new(PASS.into());
        assert_eq!(format!("{phrase:?}"), "Passphrase(<redacted>)");
        assert_eq!(phrase.as_str(), PASS);
    }

    #[test]
    fn a_swapped_private_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let (a, b) = (ring.statement_key().kid().clone(), ring.checkpoint_key().kid().clone());
        fs::copy(key_file(dir.path(), &b), key_file(dir.path(), &a)).unwrap();
        assert!(matches!(Keyring::open_or_create(dir.path()), Err(KeyError::Corrupt { .. })));
    }

    #[test]
    fn rotation_retires_the_old_key_keeps_it_published_and_activates_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let before = Keyring::open_or_create(dir.path()).unwrap();
        let old = info(&before, before.statement_key().kid()).clone();
        let report = rotate(dir.path(), None).unwrap();
        let after = Keyring::open_or_create(dir.path()).unwrap();

        assert_eq!(report.retired.kid, old.kid);
        assert_ne!(report.active.kid, old.kid);
        assert_eq!(after.statement_key().kid(), &report.active.kid, "the new key signs");
        assert_eq!(after.checkpoint_key().kid(), before.checkpoint_key().kid(), "the log's key is not rotated");
        assert_eq!(after.public_keys().len(), 3);

        let retired = info(&after, &old.kid);
        assert_eq!(retired.public_key, old.public_key, "the old public key is still published");
        assert_eq!(retired.created_at, old.created_at);
        assert_eq!(retired.retired_at, Some(report.active.created_at), "retired when the new key was made");
        assert_eq!(info(&after, &report.active.kid).retired_at, None);
        assert!(!report.encrypted);
        assert!(report.not_removed.is_empty(), "{:?}", report.not_removed);
    }

    #[test]
    fn a_retired_private_key_is_removed_and_never_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let old = Keyring::open_or_create(dir.path()).unwrap().statement_key().kid().clone();
        let report = rotate(dir.path(), None).unwrap();
        let old_file = key_file(dir.path(), &old);
        assert_eq!(report.removed, vec![old_file.clone()]);
        assert!(!old_file.exists(), "nobody can sign with a retired key from this directory");

        // Even if the file comes back (a restored backup), it is not read: garbage in it
        // does not stop the keyring from opening, and the new key is the one that signs.
        fs::write(&old_file, "not a key at all").unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        assert_eq!(ring.statement_key().kid(), &report.active.kid);

        // The next rotation sweeps it away along with the key it retires.
        let second = rotate(dir.path(), None).unwrap();
        assert!(
            second.removed.contains(&old_file) && second.removed.contains(&key_file(dir.path(), &report.active.kid))
        );
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        assert_eq!(ring.public_keys().iter().filter(|k| k.retired_at.is_some()).count(), 2);
    }

    #[test]
    fn rotation_needs_an_existing_keyring_and_creates_none() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let err = rotate(&keys, None).unwrap_err();
        assert!(matches!(err, KeyError::NoKeyring { .. }), "{err}");
        assert!(!keys.exists());
    }

    #[test]
    fn encrypted_keys_round_trip_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        for kid in [first.statement_key().kid(), first.checkpoint_key().kid()] {
            let text = fs::read_to_string(key_file(dir.path(), kid)).unwrap();
            assert!(text.starts_with("aiprov-key-v1:argon2id:m=65536,t=3,p=4:"), "{text}");
            assert_eq!(text.lines().count(), 1);
        }
        let again = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        assert_eq!(again.statement_key().verifying_key(), first.statement_key().verifying_key());
        assert_eq!(again.checkpoint_key().verifying_key(), first.checkpoint_key().verifying_key());
        let sig = again.statement_key().sign(b"message");
        first.statement_key().verifying_key().verify_strict(b"message", &sig).unwrap();
    }

    #[test]
    fn an_encrypted_file_does_not_contain_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        let seed = ring.statement_key().signing_key().to_bytes();
        let text = fs::read_to_string(key_file(dir.path(), ring.statement_key().kid())).unwrap();
        assert!(!text.contains(&STANDARD.encode(seed)));
        assert!(!text.contains(&hex::encode(seed)));
        let sealed = SealedSeed::parse(text.trim()).unwrap();
        assert!(!sealed.ciphertext.windows(8).any(|w| seed.windows(8).any(|s| s == w)), "no 8 seed bytes in clear");
    }

    #[test]
    fn a_wrong_or_missing_passphrase_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        let file = key_file(dir.path(), ring.statement_key().kid());

        let wrong = Keyring::open_or_create_with(dir.path(), Some("wrong")).unwrap_err();
        assert!(matches!(&wrong, KeyError::WrongPassphrase { path } if path == &file), "{wrong}");
        assert!(wrong.to_string().contains(&file.display().to_string()), "{wrong}");

        let missing = Keyring::open_or_create(dir.path()).unwrap_err();
        assert!(matches!(&missing, KeyError::PassphraseRequired { path } if path == &file), "{missing}");
        assert!(missing.to_string().contains(&file.display().to_string()), "{missing}");

        let empty = Keyring::open_or_create_with(dir.path(), Some("")).unwrap_err();
        assert!(matches!(empty, KeyError::EmptyPassphrase), "{empty}");
    }

    #[test]
    fn an_altered_encrypted_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        let file = key_file(dir.path(), ring.statement_key().kid());
        let text = fs::read_to_string(&file).unwrap();
        let mut sealed = SealedSeed::parse(text.trim()).unwrap();

        sealed.ciphertext[0] ^= 1;
        fs::write(&file, sealed.to_line()).unwrap();
        let err = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassphrase { .. }), "{err}");

        // Parameters out of bounds are refused before any memory is spent on them.
        let greedy = text.replace("m=65536", "m=4000000000");
        fs::write(&file, greedy).unwrap();
        let err = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap_err();
        assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_keyring_may_mix_plain_and_encrypted_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Keyring::open_or_create(dir.path()).unwrap();
        let report = rotate(dir.path(), Some(PASS)).unwrap();
        assert!(report.encrypted);
        let new_text = fs::read_to_string(key_file(dir.path(), &report.active.kid)).unwrap();
        assert!(new_text.starts_with(SealedSeed::PREFIX));
        let checkpoint_text = fs::read_to_string(key_file(dir.path(), plain.checkpoint_key().kid())).unwrap();
        assert!(!checkpoint_text.starts_with("aiprov-key-"), "existing plain files stay plain");

        let ring = Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        assert_eq!(ring.statement_key().kid(), &report.active.kid);
        assert_eq!(ring.checkpoint_key().kid(), plain.checkpoint_key().kid());
        assert!(matches!(Keyring::open_or_create(dir.path()), Err(KeyError::PassphraseRequired { .. })));
    }

    #[test]
    fn a_rotation_with_the_wrong_passphrase_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        Keyring::open_or_create_with(dir.path(), Some(PASS)).unwrap();
        let listing = || {
            // `.lock` is the rotation's own lock file (keys::lock): no key material.
            let mut names: Vec<_> =
                fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n != ".lock").collect();
            names.sort();
            (names, fs::read_to_string(dir.path().join(KEYRING_FILE)).unwrap())
        };
        let before = listing();
        for passphrase in [Some("wrong"), None] {
            assert!(rotate(dir.path(), passphrase).is_err());
            assert_eq!(listing(), before, "passphrase given: {}", passphrase.is_some());
        }
    }

    #[test]
    fn sealed_seed_lines_round_trip() {
        let seed = [7u8; 32];
        let sealed = SealedSeed::seal(&seed, PASS).unwrap();
        let parsed = SealedSeed::parse(&sealed.to_line()).unwrap();
        assert_eq!(parsed.params, KdfParams::DEFAULT);
        assert_eq!(*parsed.open(PASS).unwrap(), seed);
        assert!(parsed.open("nope").is_none());
        for bad in [
            "aiprov-key-v2:argon2id:m=65536,t=3,p=4:a:b:c",
            "aiprov-key-v1:argon2id:m=65536,t=3:AAAA:AAAA:AAAA",
            "aiprov-key-v1:argon2id:m=65536,t=0,p=4:AAAA:AAAA:AAAA",
            "aiprov-key-v1:argon2id:m=65536,t=3,p=4:AAAA",
        ] {
            assert!(SealedSeed::parse(bad).is_err(), "{bad}");
        }
    }
}
