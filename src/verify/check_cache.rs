//! A memo of signature checks that passed, for the service's public verify endpoint.
//!
//! A verdict costs two Ed25519 verifications (the statement, the checkpoint), which is
//! most of its CPU time. The same checks come back again and again: popular content is
//! verified by every reader who clicks its badge, and every receipt the service hands
//! out is proven against the same newest checkpoint until the next append.
//!
//! Why a hit is exactly as good as the check: the memo is keyed by the SHA-256 of
//! everything the check depends on, the public key, the signature and the exact signed
//! bytes, so a hit means this very check passed before and its answer cannot differ.
//! Only passes are remembered; a forgery is checked in full every time. The memo is
//! bounded ([`Memo`]), so its memory is fixed and recently used entries survive.
//!
//! The service also records the statement signatures it makes itself: it signs with
//! the private half of the published key, so such a signature verifies by
//! construction, and the first verdict on fresh content needs no Ed25519 work either.
//! The offline verifier (`aiprov verify`) uses no memo and checks everything itself.

use std::sync::Mutex;

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::log::checkpoint::{Checkpoint, NoteError, NoteVerifier};
use crate::memo::{lock, Memo};
use crate::Sha256Digest;

/// Entries per generation by default: ~100 bytes each, so a few tens of MiB at most.
pub const DEFAULT_CAPACITY: usize = 200_000;

/// Domain separation of the two kinds of key, so one can never answer for the other.
const STATEMENT_DOMAIN: &[u8] = b"ai-provenance check-cache statement v1\0";
const CHECKPOINT_DOMAIN: &[u8] = b"ai-provenance check-cache checkpoint v1\0";

/// The memo; shared by every request of one service.
pub struct CheckCache {
    statements: Mutex<Memo<Sha256Digest, ()>>,
    checkpoints: Mutex<Memo<Sha256Digest, Checkpoint>>,
}

impl Default for CheckCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

fn statement_key(key: &VerifyingKey, message: &[u8], signature: &Signature) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update(STATEMENT_DOMAIN);
    h.update(key.as_bytes());
    h.update(signature.to_bytes());
    h.update(message);
    Sha256Digest::from_hasher(h)
}

fn checkpoint_key(verifier: &NoteVerifier, note: &str) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update(CHECKPOINT_DOMAIN);
    h.update(verifier.to_vkey_string().as_bytes());
    h.update([0]);
    h.update(note.as_bytes());
    Sha256Digest::from_hasher(h)
}

impl CheckCache {
    /// A memo of at most about `2 * capacity` entries of each kind.
    pub fn new(capacity: usize) -> Self {
        Self { statements: Mutex::new(Memo::new(capacity)), checkpoints: Mutex::new(Memo::new(capacity)) }
    }

    /// `key.verify_strict(message, signature)`, from the memo when it passed before.
    pub fn verify_statement(&self, key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
        let memo = statement_key(key, message, signature);
        if lock(&self.statements).get(&memo).is_some() {
            return true;
        }
        // Verified outside the lock: it is the slow part, and two threads checking the
        // same signature at once only do the work twice.
        let valid = key.verify_strict(message, signature).is_ok();
        if valid {
            lock(&self.statements).insert(memo, ());
        }
        valid
    }

    /// Records a signature the service has just made with the private half of `key`.
    pub fn record_own_statement(&self, key: &VerifyingKey, message: &[u8], signature: &Signature) {
        lock(&self.statements).insert(statement_key(key, message, signature), ());
    }

    /// [`Checkpoint::open_signed`], from the memo when the same note opened before.
    ///
    /// # Errors
    /// As [`Checkpoint::open_signed`]; failures are not remembered.
    pub fn open_checkpoint(&self, note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let memo = checkpoint_key(verifier, note);
        if let Some(cp) = lock(&self.checkpoints).get(&memo) {
            return Ok(cp);
        }
        let cp = Checkpoint::open_signed(note, verifier)?;
        lock(&self.checkpoints).insert(memo, cp.clone());
        Ok(cp)
    }

    /// Entries held (both kinds), for tests and metrics.
    pub fn len(&self) -> usize {
        lock(&self.statements).len() + lock(&self.checkpoints).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::checkpoint::NoteSigner;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn remembers_passes_only_and_never_answers_for_other_bytes() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let vk = sk.verifying_key();
        let sig = sk.sign(b"statement");
        let cache = CheckCache::new(8);
        assert!(cache.verify_statement(&vk, b"statement", &sig));
        assert_eq!(cache.len(), 1);
        assert!(cache.verify_statement(&vk, b"statement", &sig), "a hit");
        assert!(!cache.verify_statement(&vk, b"statemenT", &sig), "other bytes are checked, and fail");
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(!cache.verify_statement(&other, b"statement", &sig), "another key is checked, and fails");
        let forged = Signature::from_bytes(&[1; 64]);
        assert!(!cache.verify_statement(&vk, b"statement", &forged));
        assert_eq!(cache.len(), 1, "failures are not remembered");
    }

    #[test]
    fn own_signatures_are_recorded() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let sig = sk.sign(b"fresh");
        let cache = CheckCache::new(8);
        cache.record_own_statement(&sk.verifying_key(), b"fresh", &sig);
        assert!(cache.verify_statement(&sk.verifying_key(), b"fresh", &sig));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn checkpoints_open_once_and_forgeries_fail_every_time() {
        let signer = NoteSigner::new("test.example/log", SigningKey::from_bytes(&[5; 32])).unwrap();
        let cp =
            Checkpoint { origin: "test.example/log".into(), size: 3, root: Sha256Digest::of(b"r"), extensions: vec![] };
        let note = cp.sign(&signer).unwrap();
        let cache = CheckCache::new(8);
        assert_eq!(cache.open_checkpoint(&note, &signer.verifier()).unwrap(), cp);
        assert_eq!(cache.open_checkpoint(&note, &signer.verifier()).unwrap(), cp);
        assert_eq!(cache.len(), 1);
        let tampered = note.replace("\n3\n", "\n4\n");
        assert!(cache.open_checkpoint(&tampered, &signer.verifier()).is_err());
        assert!(cache.open_checkpoint(&tampered, &signer.verifier()).is_err());
        assert_eq!(cache.len(), 1);
    }
}
