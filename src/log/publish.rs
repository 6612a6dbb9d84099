//! What the log publishes and reports: signed checkpoints ([`SignedCheckpoint`],
//! [`sign_checkpoint`]), the newest one and this process's role ([`Publisher`]), and
//! the figures a monitor wants ([`LogObserver`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::log::checkpoint::{Checkpoint, NoteError, NoteSigner};
use crate::Sha256Digest;

/// A checkpoint and its signed-note text.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Arc<str>,
}

/// Signs the checkpoint of the tree of `size` leaves whose root is `root`.
///
/// # Errors
/// When the note cannot be signed.
pub(super) fn sign_checkpoint(
    signer: &NoteSigner,
    size: u64,
    root: Sha256Digest,
) -> Result<SignedCheckpoint, NoteError> {
    let checkpoint = Checkpoint { origin: signer.verifier().name().to_owned(), size, root, extensions: Vec::new() };
    let note = checkpoint.sign(signer)?;
    Ok(SignedCheckpoint { checkpoint, note: note.into() })
}

/// What the log reports as it works, for monitoring. The log keeps no figures of its
/// own and knows nothing of how they are published; the service's metrics implement this.
pub trait LogObserver: Send + Sync + 'static {
    /// A batch of `leaves` leaves was committed and its checkpoint signed.
    fn batch_written(&self, leaves: usize);
    /// `leaves` leaves were made durable by one sync or commit (group commit) that took `took`.
    fn synced(&self, leaves: usize, took: Duration);
}

/// Observes nothing.
impl LogObserver for () {
    fn batch_written(&self, _: usize) {}
    fn synced(&self, _: usize, _: Duration) {}
}

/// What this process does for the log: on one machine it is always the sequencer; of
/// several nodes on one database, one is (the lease holder), the others are frontends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Integrates appends into the tree and signs its checkpoints.
    Sequencer,
    /// Queues its appends for the sequencer and serves reads.
    Frontend,
}

/// The newest checkpoint and when this process published it.
pub(crate) struct Published {
    pub(crate) checkpoint: SignedCheckpoint,
    pub(crate) at: Instant,
}

/// Where the integration loop publishes checkpoints (its own, or another node's it read)
/// for this process's readers, and says which role the process has.
#[derive(Clone)]
pub(crate) struct Publisher {
    latest: Arc<RwLock<Published>>,
    sequencing: Arc<AtomicBool>,
}

impl Publisher {
    pub(crate) fn new(checkpoint: SignedCheckpoint) -> Self {
        Self { latest: Arc::new(RwLock::new(Published { checkpoint, at: Instant::now() })), sequencing: Arc::default() }
    }

    /// Makes `checkpoint` the newest, unless a larger tree is published already.
    pub(crate) fn publish(&self, checkpoint: SignedCheckpoint) {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        if checkpoint.checkpoint.size >= latest.checkpoint.checkpoint.size {
            *latest = Published { checkpoint, at: Instant::now() };
        }
    }

    /// The newest published checkpoint and when it was published.
    pub(crate) fn published(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        // A poisoned lock only means a writer panicked mid-update of a value that is
        // replaced whole; the value itself is still a valid checkpoint.
        self.latest.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree size of the newest published checkpoint, without copying it.
    pub(crate) fn size(&self) -> u64 {
        self.published().checkpoint.checkpoint.size
    }

    pub(crate) fn set_role(&self, role: Role) {
        self.sequencing.store(role == Role::Sequencer, Ordering::Relaxed);
    }

    pub(crate) fn role(&self) -> Role {
        if self.sequencing.load(Ordering::Relaxed) {
            Role::Sequencer
        } else {
            Role::Frontend
        }
    }
}
