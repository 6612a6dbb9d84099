//! [`KeysInUse`]: a lock on the keys directory that says a service is signing with it.
//!
//! A running service keeps its keys in memory. Rotating the directory underneath it would
//! retire a key the service goes on signing with, and every statement it signs after the
//! recorded retirement would then fail verification for good (`key.retired`). So `serve`
//! holds a shared lock for its lifetime (several services may share one keys directory),
//! and the offline rotation takes the lock exclusively, or refuses.
//!
//! The lock is an advisory `flock` on `keys/.lock`: the operating system releases it when
//! the process ends, however it ends, so a crashed service never leaves it behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::KeyError;

pub(super) const LOCK_FILE: &str = ".lock";
/// Taken while keys or certificates are created, by whoever opens the directory.
pub(super) const CREATE_LOCK_FILE: &str = ".create.lock";

/// Held while keys are in use; dropping it releases the lock.
#[derive(Debug)]
pub struct KeysInUse {
    _file: File,
}

impl KeysInUse {
    /// Marks the keys directory `dir` as in use by a running service.
    ///
    /// # Errors
    /// When the lock file cannot be opened, or an offline rotation holds the directory.
    pub fn shared(dir: &Path) -> Result<Self, KeyError> {
        let file = open(dir)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(KeyError::RotationInProgress { dir: dir.to_owned() }),
            Err(TryLockError::Error(e)) => Err(KeyError::Io { path: dir.join(LOCK_FILE), source: e }),
        }
    }

    /// Takes the keys directory `dir` for a change no running service may see half-done.
    ///
    /// # Errors
    /// [`KeyError::InUse`] while a service runs on these keys.
    pub fn exclusive(dir: &Path) -> Result<Self, KeyError> {
        let file = open(dir)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(KeyError::InUse { dir: dir.to_owned() }),
            Err(TryLockError::Error(e)) => Err(KeyError::Io { path: dir.join(LOCK_FILE), source: e }),
        }
    }
}

/// Held while a process creates what is missing in a keys directory (keys, the keyring,
/// certificates). Replicas started at the same moment on one shared, empty directory
/// wait for each other here, so the first creates one key set and the others find it,
/// instead of each creating keys of its own and overwriting the others' keyring.
#[derive(Debug)]
pub(crate) struct Creating {
    _file: File,
}

impl Creating {
    /// Waits for, then takes, the creation lock of `dir`.
    ///
    /// # Errors
    /// When the lock file cannot be opened or locked.
    pub(crate) fn take(dir: &Path) -> Result<Self, KeyError> {
        let file = open_file(dir, CREATE_LOCK_FILE)?;
        file.lock().map_err(|source| KeyError::Io { path: dir.join(CREATE_LOCK_FILE), source })?;
        Ok(Self { _file: file })
    }
}

fn open(dir: &Path) -> Result<File, KeyError> {
    open_file(dir, LOCK_FILE)
}

fn open_file(dir: &Path, name: &str) -> Result<File, KeyError> {
    let path = dir.join(name);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(&path).map_err(|source| KeyError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_lock_refuses_a_rotation_and_lets_other_services_share() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeysInUse::shared(dir.path()).unwrap();
        let second = KeysInUse::shared(dir.path()).expect("two services may share one keys directory");
        assert!(matches!(KeysInUse::exclusive(dir.path()), Err(KeyError::InUse { .. })));
        drop((first, second));
        let rotation = KeysInUse::exclusive(dir.path()).expect("free once the services are gone");
        assert!(matches!(KeysInUse::shared(dir.path()), Err(KeyError::RotationInProgress { .. })));
        drop(rotation);
    }
}
