//! Rotation of the statement-signing key (see the module docs of `keys`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{
    create_key, private_key_path, sync_dir, write_keyring, KeyError, KeyPurpose, Keyring, KeysInUse, Passphrase,
    PublicKeyInfo, KEYRING_FILE,
};
use crate::time::Timestamp;

/// What [`rotate`] did.
#[derive(Debug)]
pub struct RotationReport {
    /// The key that signed statements until now, with `retired_at` set; still published.
    pub retired: PublicKeyInfo,
    /// The new statement key, which signs from now on.
    pub active: PublicKeyInfo,
    /// Whether the new private key file is passphrase-encrypted.
    pub encrypted: bool,
    /// Private key files of retired keys that were overwritten and removed.
    pub removed: Vec<PathBuf>,
    /// Private key files of retired keys that could not be removed, and why. They are
    /// never loaded again, but the operator should delete them.
    pub not_removed: Vec<(PathBuf, std::io::Error)>,
}

/// Rotates the statement-signing key of the keyring in `dir` offline, with no service
/// running on it: see [`Keyring::rotate_statement_key`]. The whole keyring is opened first
/// with `passphrase`, so a rotation cannot leave key files that need different passphrases;
/// with a passphrase the new key file is encrypted.
///
/// # Errors
/// [`KeyError::NoKeyring`] when `dir` has no `keyring.json` (a rotation never creates a
/// keyring: a mistyped directory must not get a fresh one); [`KeyError::InUse`] while a
/// service runs on these keys (it must rotate them itself, or it would go on signing with
/// a retired key); any error of [`Keyring::open_or_create_with`]; an I/O error writing the
/// new key or the keyring. On error before the keyring is written, it is unchanged.
pub fn rotate(dir: &Path, passphrase: Option<&str>) -> Result<RotationReport, KeyError> {
    if !dir.join(KEYRING_FILE).is_file() {
        return Err(KeyError::NoKeyring { dir: dir.to_owned() });
    }
    let _exclusive = KeysInUse::exclusive(dir)?;
    let mut ring = Keyring::open_or_create_with(dir, passphrase)?;
    ring.rotate_statement_key(Timestamp::now())
}

impl Keyring {
    /// Creates a new statement key and retires the active one as of `retired_at`: the
    /// new key signs from now on, the old one stays published (receipts it signed keep
    /// verifying), its private key is wiped from memory and its file overwritten and
    /// removed. `keyring.json` is replaced atomically. The checkpoint key is not rotated:
    /// it is the log's identity.
    ///
    /// The caller guarantees that no statement signed with the old key is dated after
    /// `retired_at` (a service passes the date of its last signature or later, taken under
    /// the lock its signing holds).
    ///
    /// # Errors
    /// An I/O error writing the new key or the keyring; the keyring in memory and on disk
    /// is then unchanged.
    pub fn rotate_statement_key(&mut self, retired_at: Timestamp) -> Result<RotationReport, KeyError> {
        let dir = self.dir.clone();
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        // The new private key file is written before the keyring names it: a crash in
        // between leaves an unused file, never a keyring whose active key has no private key.
        let (key, active) = create_key(&dir, KeyPurpose::Statement, passphrase, retired_at)?;
        let mut infos = self.infos.clone();
        let Some(old) = infos.iter_mut().find(|k| k.kid == self.statement.kid) else {
            // Unreachable: the active key was loaded from these very infos.
            return Err(KeyError::Corrupt { path: dir.join(KEYRING_FILE), reason: "the active key vanished".into() });
        };
        old.retired_at = Some(retired_at);
        let retired = old.clone();
        infos.push(active.clone());
        write_keyring(&dir, &infos)?;
        // The old private key leaves memory here (SigningKey wipes itself on drop).
        self.statement = key;
        self.infos = infos;
        tracing::info!(retired = %retired.kid, active = %active.kid, at = %retired_at.to_rfc3339(), dir = %dir.display(), "rotated the statement key");
        let (removed, not_removed) = remove_retired_private_keys(&dir, &self.infos);
        Ok(RotationReport { retired, active, encrypted: passphrase.is_some(), removed, not_removed })
    }
}

/// Overwrites and removes the private key files of retired keys that are still there:
/// the one just retired, and any left by an earlier rotation that stopped half-way.
pub(super) fn remove_retired_private_keys(
    dir: &Path,
    infos: &[PublicKeyInfo],
) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let (mut removed, mut not_removed) = (Vec::new(), Vec::new());
    for info in infos.iter().filter(|k| k.retired_at.is_some()) {
        let path = private_key_path(dir, &info.kid);
        match shred(&path) {
            Ok(true) => removed.push(path),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a retired private key file");
                not_removed.push((path, e));
            }
        }
    }
    if !removed.is_empty() {
        if let Err(e) = sync_dir(dir) {
            tracing::warn!(error = %e, "could not flush the keys directory after removing retired keys");
        }
    }
    (removed, not_removed)
}

/// Overwrites a file with zeros, flushes it, then unlinks it; `false` when it was not there.
///
/// Best effort against disk forensics only: copy-on-write and journaling filesystems and
/// SSDs may keep the old blocks. What it does guarantee is that no process can load the
/// key from this directory again; full-disk encryption or encrypted key files cover the rest.
fn shred(path: &Path) -> std::io::Result<bool> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])?;
    file.sync_all()?;
    drop(file);
    fs::remove_file(path)?;
    Ok(true)
}
