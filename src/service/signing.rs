//! The statement key a running service signs with, and its rotation without a restart.
//!
//! The rule every verifier applies (`key.retired`): a statement dated after its key's
//! retirement is refused. So a rotation must retire the old key no earlier than the date
//! of the last statement it signed. Signing holds a read lock from the moment it takes
//! the statement's date until the signature is made; a rotation takes the write lock, so
//! it waits for every signature in progress, and then retires the key as of the latest
//! date any of them carried (or now, if later). No statement signed with the old key can
//! then be dated after its retirement, and every one signed after it uses the new key.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::DateTime;

use crate::keys::{C2paCerts, KeyError, Keyring, KeysInUse, PublicKeyInfo, RotationReport, SecretKey};
use crate::log::checkpoint::NoteVerifier;
use crate::time::Timestamp;
use crate::verify::TrustAnchors;

/// The keyring, its C2PA certificates and the trust anchors derived from them, replaced
/// together by a rotation.
struct Keys {
    ring: Keyring,
    certs: C2paCerts,
    trust: Arc<TrustAnchors>,
}

pub(super) struct Signing {
    keys: RwLock<Keys>,
    /// The latest `issued_at` signed so far, in milliseconds since the epoch: the
    /// earliest moment a rotation may retire the key in use.
    last_issued_ms: AtomicI64,
    /// Tells an offline `aiprov keys rotate` that these keys are in use.
    _in_use: KeysInUse,
    /// The organisation named in new C2PA certificates: the log's origin.
    organisation: String,
}

impl Signing {
    pub(super) fn new(ring: Keyring, certs: C2paCerts, log: NoteVerifier, in_use: KeysInUse) -> Self {
        let organisation = log.name().to_owned();
        let trust =
            Arc::new(TrustAnchors::new(ring.public_keys().to_vec(), Some(log)).with_c2pa_root(certs.root_der()));
        Self {
            keys: RwLock::new(Keys { ring, certs, trust }),
            last_issued_ms: AtomicI64::new(i64::MIN),
            _in_use: in_use,
            organisation,
        }
    }

    /// Runs `sign` with the key in use and its C2PA certificate (`None` when it has
    /// none: the root key was offline when it was made), under the read lock that a
    /// rotation waits for, so the key signs nothing after its retirement.
    pub(super) fn sign_c2pa<T>(&self, sign: impl FnOnce(&SecretKey, Option<&[u8]>) -> T) -> T {
        let keys = self.read();
        let key = keys.ring.statement_key();
        sign(key, keys.certs.leaf(key.kid()))
    }

    /// The C2PA certificates: the root (trust anchor) and every leaf.
    pub(super) fn c2pa_certs(&self) -> C2paCerts {
        self.read().certs.clone()
    }

    /// Runs `sign` with the statement's date and the key in use, both taken under the
    /// read lock that a rotation waits for.
    pub(super) fn sign<T>(&self, sign: impl FnOnce(Timestamp, &SecretKey) -> T) -> T {
        let keys = self.read();
        let issued_at = Timestamp::now();
        self.last_issued_ms.fetch_max(issued_at.as_datetime().timestamp_millis(), Ordering::SeqCst);
        sign(issued_at, keys.ring.statement_key())
    }

    /// What this service's own verdicts trust: its keys, retired ones included, and its log.
    pub(super) fn trust(&self) -> Arc<TrustAnchors> {
        self.read().trust.clone()
    }

    pub(super) fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.read().ring.public_keys().to_vec()
    }

    /// Retires the statement key in use and signs with a new one from now on.
    ///
    /// # Errors
    /// When the new key or the keyring cannot be written; nothing changed then.
    pub(super) fn rotate(&self) -> Result<RotationReport, KeyError> {
        let mut keys = self.write();
        // Every signature with the old key is finished (they hold the read lock).
        let last =
            DateTime::from_timestamp_millis(self.last_issued_ms.load(Ordering::SeqCst)).map(Timestamp::from_datetime);
        let retired_at = Timestamp::now().max(last.unwrap_or_else(Timestamp::now));
        let report = keys.ring.rotate_statement_key(retired_at)?;
        let keys = &mut *keys;
        // The new key's C2PA certificate; without the root key (kept offline) the
        // rotation stands and credentials wait for it (see keys::certs).
        if let Err(e) = keys.ring.issue_c2pa_leaf(&mut keys.certs, &self.organisation) {
            tracing::warn!(error = %e, kid = %report.active.kid, "no C2PA certificate for the new statement key");
        }
        let log = keys.trust.log.clone();
        keys.trust =
            Arc::new(TrustAnchors::new(keys.ring.public_keys().to_vec(), log).with_c2pa_root(keys.certs.root_der()));
        Ok(report)
    }

    fn read(&self) -> RwLockReadGuard<'_, Keys> {
        // A panic while holding the lock cannot leave `Keys` half-changed: a rotation
        // replaces the keyring's key only after the files are written, and the trust
        // anchors right after, with nothing between them that can panic.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }
}
