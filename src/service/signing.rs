//! The statement key a running service signs with, and its rotation without a restart.
//!
//! The rule every verifier applies (`key.retired`): a statement dated after its key's
//! retirement is refused. Signing holds a read lock from the moment it takes the
//! statement's date until the signature is made; switching keys takes the write lock, so
//! it waits for every signature in progress, and then records the latest date the old
//! key signed. The log's record of its keys (`keys::rollout`, run by `key_rollout`)
//! retires the old key no earlier than the latest such date of every node, so no
//! statement signed with it is dated after its retirement.
//!
//! A node signs only with the key the log's record names active, and only while its view
//! of that record is fresh (`keys::LEASE`): otherwise it answers `503`, naming what it
//! lacks, rather than sign with a key that may have been retired meanwhile.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use chrono::DateTime;

use crate::error::ApiError;
use crate::keys::{C2paCerts, Following, KeyError, KeyId, Keyring, KeysInUse, PublicKeyInfo, Rollout, SecretKey};
use crate::log::checkpoint::NoteVerifier;
use crate::memo::lock;
use crate::time::Timestamp;
use crate::verify::TrustAnchors;

/// The keyring, its C2PA certificates and the trust anchors derived from them, replaced
/// together when the log's keys change.
struct Keys {
    ring: Keyring,
    certs: C2paCerts,
    trust: Arc<TrustAnchors>,
    /// The key the log's record names active (`None` before this node first read it).
    active: Option<KeyId>,
    /// Until when this node may sign: its last report to the log's record, plus the lease.
    fresh_until: Option<Instant>,
}

pub(super) struct Signing {
    keys: RwLock<Keys>,
    /// The latest `issued_at` signed so far with the key in use, in milliseconds since the
    /// epoch: what this node reports, and what bounds the key's retirement date.
    last_issued_ms: AtomicI64,
    /// The same, for the keys it signed with before.
    signed_before: Mutex<BTreeMap<KeyId, Timestamp>>,
    /// Tells an offline `aiprov keys rotate` that these keys are in use.
    _in_use: KeysInUse,
    /// The organisation named in new C2PA certificates: the log's origin.
    organisation: String,
}

/// Why this node does not sign now.
fn refusal(keys: &Keys) -> Option<ApiError> {
    let Some(active) = &keys.active else {
        return Some(ApiError::Unavailable("this node has not read the log's statement keys yet: retry".into()));
    };
    if keys.fresh_until.is_none_or(|until| Instant::now() > until) {
        return Some(ApiError::Unavailable(
            "this node has lost touch with the log's record of its statement keys (the store does not answer), so it \
             cannot tell whether its key is still active: retry, or use another node"
                .into(),
        ));
    }
    if keys.ring.statement_key().kid() != active {
        return Some(ApiError::Unavailable(format!(
            "this node does not hold the log's active statement key {active}: copy {active}.key into its keys \
             directory (it is picked up within a second), or use another node"
        )));
    }
    None
}

impl Signing {
    pub(super) fn new(ring: Keyring, certs: C2paCerts, log: NoteVerifier, in_use: KeysInUse) -> Self {
        let organisation = log.name().to_owned();
        let trust =
            Arc::new(TrustAnchors::new(ring.public_keys().to_vec(), Some(log)).with_c2pa_root(certs.root_der()));
        Self {
            keys: RwLock::new(Keys { ring, certs, trust, active: None, fresh_until: None }),
            last_issued_ms: AtomicI64::new(i64::MIN),
            signed_before: Mutex::default(),
            _in_use: in_use,
            organisation,
        }
    }

    /// Runs `sign` with the key in use and its C2PA certificate (`None` when it has
    /// none: the root key was offline when it was made), under the read lock that a
    /// switch of keys waits for.
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
    /// read lock that a switch of keys waits for.
    ///
    /// # Errors
    /// `503` naming the reason when this node may not sign now (see the module docs).
    pub(super) fn sign<T>(&self, sign: impl FnOnce(Timestamp, &SecretKey) -> T) -> Result<T, ApiError> {
        let keys = self.read();
        if let Some(refused) = refusal(&keys) {
            return Err(refused);
        }
        let issued_at = Timestamp::now();
        self.last_issued_ms.fetch_max(issued_at.as_datetime().timestamp_millis(), Ordering::SeqCst);
        Ok(sign(issued_at, keys.ring.statement_key()))
    }

    /// What this service's own verdicts trust: its keys, retired ones included, and its log.
    pub(super) fn trust(&self) -> Arc<TrustAnchors> {
        self.read().trust.clone()
    }

    pub(super) fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.read().ring.public_keys().to_vec()
    }

    /// The record of a log that has none yet: this keyring's statement keys.
    pub(super) fn first_rollout(&self) -> Rollout {
        let keys = self.read();
        let infos = keys.ring.public_keys().iter().filter(|k| k.purpose == crate::keys::KeyPurpose::Statement);
        Rollout::new(infos.cloned().collect(), keys.ring.statement_key().kid().clone())
    }

    /// Makes a new statement key, staged (see [`Keyring::stage_statement_key`]), and its
    /// C2PA certificate as PEM when the root key is here.
    pub(super) fn stage(&self) -> Result<(PublicKeyInfo, Option<String>), KeyError> {
        let mut keys = self.write();
        let info = keys.ring.stage_statement_key()?;
        let keys = &mut *keys;
        let pem = keys.ring.issue_staged_c2pa_leaf(&mut keys.certs, &self.organisation).unwrap_or_else(|e| {
            tracing::warn!(error = %e, kid = %info.kid, "no C2PA certificate for the new statement key");
            None
        });
        Ok((info, pem))
    }

    /// Follows the log's record (see [`Keyring::follow`]) and returns where this node
    /// stands, with the latest date it signed with each key.
    pub(super) fn follow(&self, rollout: &Rollout) -> (Following, BTreeMap<KeyId, Timestamp>) {
        let mut keys = self.write();
        // Every signature in progress is finished (they hold the read lock).
        let before = keys.ring.public_keys().to_vec();
        let following = keys.ring.follow(rollout);
        if let Some(old) = &following.switched_from {
            let last = self.last_issued_ms.swap(i64::MIN, Ordering::SeqCst);
            if let Some(at) = DateTime::from_timestamp_millis(last).map(Timestamp::from_datetime) {
                lock(&self.signed_before).insert(old.clone(), at);
            }
            let keys = &mut *keys;
            // The new key's C2PA certificate; without the root key (kept offline) the
            // switch stands and credentials wait for it (see keys::certs).
            let kid = keys.ring.statement_key().kid().clone();
            let issued = rollout.certificates.get(&kid).and_then(|pem| crate::keys::from_pem(pem).ok()?.pop());
            match issued {
                Some(der) if keys.certs.leaf(&kid).is_none_or(|ours| ours != der) => {
                    keys.certs.adopt_leaf(keys.ring.dir(), &kid, der);
                }
                _ => {}
            }
            if keys.certs.leaf(&kid).is_none() {
                if let Err(e) = keys.ring.issue_c2pa_leaf(&mut keys.certs, &self.organisation) {
                    tracing::warn!(error = %e, kid = %keys.ring.statement_key().kid(), "no C2PA certificate for the new statement key");
                }
            }
        }
        if following.switched_from.is_some() || before != keys.ring.public_keys() {
            let log = keys.trust.log.clone();
            keys.trust = Arc::new(
                TrustAnchors::new(keys.ring.public_keys().to_vec(), log).with_c2pa_root(keys.certs.root_der()),
            );
        }
        keys.active = Some(rollout.active.clone());
        // Only the keys the log still rolls out matter. Safe to forget the others: a
        // record given here is one the store holds (a retirement is followed only once
        // it is swapped in), and a retirement is never undone.
        let rolling = |kid: &KeyId| rollout.key(kid).is_some_and(|k| k.retired_at.is_none());
        lock(&self.signed_before).retain(|kid, _| rolling(kid));
        let mut signed = lock(&self.signed_before).clone();
        if let Some(at) =
            DateTime::from_timestamp_millis(self.last_issued_ms.load(Ordering::SeqCst)).map(Timestamp::from_datetime)
        {
            signed.insert(keys.ring.statement_key().kid().clone(), at);
        }
        signed.retain(|kid, _| rolling(kid));
        (following, signed)
    }

    /// The log's active statement key, when this node does not hold its private key.
    pub(super) fn lacks_active_key(&self) -> Option<KeyId> {
        let keys = self.read();
        keys.active.clone().filter(|active| keys.ring.statement_key().kid() != active)
    }

    /// This node's report reached the log's record at `reached` (taken before it read the
    /// record): it may sign until a lease later.
    pub(super) fn renew(&self, reached: Instant) {
        self.write().fresh_until = Some(reached + crate::keys::LEASE);
    }

    /// Signs nothing more (this node is stopping).
    pub(super) fn stop(&self) {
        self.write().fresh_until = None;
    }

    fn read(&self) -> RwLockReadGuard<'_, Keys> {
        // A panic while holding the lock cannot leave `Keys` half-changed: a switch
        // replaces the keyring's key only after the files are read, and the trust anchors
        // right after, with nothing between them that can panic.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }
}
