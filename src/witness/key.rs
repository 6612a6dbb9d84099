//! The witness's own key: an Ed25519 key and its name, in `<data>/witness-key.json`
//! (mode 0600 through the process umask), created on first use.
//!
//! The name is part of the key ID, so it is fixed when the key is made: asking for
//! another name later is refused instead of silently changing the witness's identity.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::log::cosignature::{CosignatureError, CosignatureSigner};

const KEY_FILE: &str = "witness-key.json";

/// Why the witness key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a witness key file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the witness key in {path} is named {existing:?}, not {asked:?}: a witness keeps its name")]
    NameMismatch { path: PathBuf, existing: String, asked: String },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error(transparent)]
    Name(#[from] CosignatureError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    name: String,
    /// The 32-byte Ed25519 seed, base64.
    ed25519_seed: String,
}

/// Opens the witness key in `dir`, creating it (named `name`, or
/// `localhost/aiprov-witness/<8 hex>`) when there is none.
///
/// # Errors
/// I/O errors, a damaged file, or `name` differing from the existing key's.
pub fn open_or_create(dir: &Path, name: Option<&str>) -> Result<CosignatureSigner, KeyFileError> {
    fs::create_dir_all(dir).map_err(|source| KeyFileError::Io { path: dir.to_owned(), source })?;
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        create(&path, name)?;
    }
    let signer = read(&path)?;
    if let Some(asked) = name {
        if asked != signer.name() {
            return Err(KeyFileError::NameMismatch { path, existing: signer.name().to_owned(), asked: asked.into() });
        }
    }
    Ok(signer)
}

fn read(path: &Path) -> Result<CosignatureSigner, KeyFileError> {
    let corrupt = |reason: String| KeyFileError::Corrupt { path: path.to_owned(), reason };
    let text = Zeroizing::new(fs::read(path).map_err(|source| KeyFileError::Io { path: path.to_owned(), source })?);
    let file: KeyFile = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    let seed = Zeroizing::new(STANDARD.decode(&file.ed25519_seed).map_err(|e| corrupt(e.to_string()))?);
    let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| corrupt("the seed is not 32 bytes".into()))?;
    Ok(CosignatureSigner::new(&file.name, SigningKey::from_bytes(seed))?)
}

/// Writes a new key file without ever replacing one: written whole and fsynced under a
/// temporary name, then hard-linked to its name, which fails if another process got
/// there first (its key wins, and is read back).
fn create(path: &Path, name: Option<&str>) -> Result<(), KeyFileError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut()).map_err(|e| KeyFileError::Random(e.to_string()))?;
    // The default name's digits come from the public key: never from the seed.
    let public = SigningKey::from_bytes(&seed).verifying_key();
    let name = match name {
        Some(name) => name.to_owned(),
        None => format!("localhost/aiprov-witness/{}", hex::encode(&public.as_bytes()[..4])),
    };
    // Checks the name before anything is written.
    CosignatureSigner::new(&name, SigningKey::from_bytes(&seed))?;
    let file = KeyFile { name, ed25519_seed: STANDARD.encode(seed.as_slice()) };
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(&file)
            .map_err(|e| KeyFileError::Corrupt { path: path.to_owned(), reason: e.to_string() })?,
    );
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| KeyFileError::Io { path: p, source }
    };
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&json).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(KeyFileError::Io { path: path.to_owned(), source: e }),
    }
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let first = open_or_create(tmp.path(), None).unwrap();
        assert!(first.name().starts_with("localhost/aiprov-witness/"), "{}", first.name());
        let again = open_or_create(tmp.path(), None).unwrap();
        assert_eq!(first.verifier(), again.verifier());
        assert!(matches!(open_or_create(tmp.path(), Some("other.example/w")), Err(KeyFileError::NameMismatch { .. })));
        assert_eq!(open_or_create(tmp.path(), Some(first.name())).unwrap().verifier(), first.verifier());
    }

    #[test]
    fn a_chosen_name_and_a_bad_one() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(open_or_create(tmp.path(), Some("has space")), Err(KeyFileError::Name(_))));
        assert!(!tmp.path().join(KEY_FILE).exists());
        let signer = open_or_create(tmp.path(), Some("witness.example/w1")).unwrap();
        assert_eq!(signer.name(), "witness.example/w1");
    }
}
