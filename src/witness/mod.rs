//! A transparency-log witness (C2SP `tlog-witness`, `add-checkpoint` only): it keeps the
//! latest checkpoint of each log it is configured for, and cosigns (C2SP
//! `tlog-cosignature`, `cosignature/v1`) a new checkpoint only if it is signed by the
//! log and consistent with what it holds. Clients that require witness cosignatures
//! on a checkpoint cannot be shown a fork of the log the witnesses did not see.
//!
//! Followed at C2SP/C2SP commit `95978ca8038c058314b6ead7d6c1fa43af3bebec` (2026-07-06,
//! "tlog-witness: clarify size zero and size match handling"): `tlog-witness.md`,
//! `tlog-cosignature.md`, `signed-note.md`.
//!
//! # Layout
//! - [`request`]: parsing an `add-checkpoint` body.
//! - `log::cosignature` (below the service, which checks cosignatures too): making and
//!   checking `cosignature/v1` lines; `log::policy`: C2SP tlog-policy files.
//! - [`key`]: the witness's key file.
//! - [`state`]: the latest checkpoint per log, durably, one writer per log at a time.
//! - this file: [`Witness::add_checkpoint`], the checks in the spec's order.
//! - `http`: the one route and the mapping of [`AddError`] to HTTP statuses.

pub mod http;
pub mod key;
pub mod request;
pub mod state;

use std::collections::HashMap;
use std::time::Duration;

use crate::digest::Sha256Digest;
use crate::log::checkpoint::{self, Checkpoint, NoteError, NoteVerifier};
use crate::log::cosignature::{self, CosignatureSigner};
use crate::log::merkle::verify_consistency;
use crate::records::ratelimit::{RateLimit, RateLimiter};
use request::{AddCheckpoint, RequestError};
use state::{State, StateError, Stored};

/// Submissions per log: 2 a second sustained, bursts of 10. A log asks for a cosignature
/// once per new checkpoint (this service publishes at most a few a second under load,
/// and retries after a 409), so honest logs stay far below it, while a replayed or
/// misbehaving client cannot make the witness fsync and sign without end.
pub const DEFAULT_RATE: RateLimit = RateLimit { per_second: 2.0, burst: 10 };

/// Why a checkpoint was not cosigned; `http` gives each its status.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// 400.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// 400: the note or its checkpoint body cannot be read.
    #[error("the checkpoint is malformed: {0}")]
    Note(NoteError),
    /// 400: old size larger than the checkpoint's.
    #[error("the old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge { old: u64, size: u64 },
    /// 404.
    #[error("this witness knows no log with origin {0:?}")]
    UnknownLog(String),
    /// 403.
    #[error("the checkpoint is not signed by the log's key: {0}")]
    Signature(NoteError),
    /// 409: the size the witness holds goes in the body.
    #[error("the witness holds a checkpoint of size {held}, not {old}")]
    Conflict { old: u64, held: u64 },
    /// 422.
    #[error("the checkpoint is not consistent with the one the witness holds: {0}")]
    Inconsistent(&'static str),
    /// 429.
    #[error("too many submissions for this log; retry in {0:?}")]
    RateLimited(Duration),
    /// 500: nothing cosigned, nothing said to the client.
    #[error("the witness cannot persist its state")]
    State(#[from] StateError),
    /// 500: the blocking task did not finish (a panic).
    #[error("the witness's worker thread failed")]
    Worker,
    /// 500.
    #[error("the witness cannot cosign: {0}")]
    Cosign(#[from] cosignature::CosignatureError),
}

/// The witness: its key, the logs it knows, what it holds of each.
pub struct Witness {
    signer: CosignatureSigner,
    /// The keys trusted for each origin (a log may have rotated its key).
    logs: HashMap<String, Vec<NoteVerifier>>,
    state: State,
    limiter: RateLimiter,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness").field("signer", &self.signer).field("logs", &self.logs.keys()).finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness for the logs `logs` (several keys of one origin all count as that log's),
    /// over `state`, which must have a slot for each origin.
    pub fn new(signer: CosignatureSigner, logs: &[NoteVerifier], state: State, rate: RateLimit) -> Self {
        let mut by_origin: HashMap<String, Vec<NoteVerifier>> = HashMap::new();
        for v in logs {
            by_origin.entry(v.name().to_owned()).or_default().push(v.clone());
        }
        Self { signer, logs: by_origin, state, limiter: RateLimiter::new(rate) }
    }

    pub fn signer(&self) -> &CosignatureSigner {
        &self.signer
    }

    /// Handles an `add-checkpoint` body: checks it as tlog-witness says, in its order,
    /// persists the checkpoint if it is new, and returns the cosignature line(s).
    ///
    /// Blocks (an fsync): call it off the async executor.
    ///
    /// # Errors
    /// An [`AddError`] per refusal of the spec.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddError> {
        let req = AddCheckpoint::parse(body)?;
        // The origin first: an unknown log is 404 whatever its signatures.
        let origin = req.note.split_once('\n').map(|(first, _)| first).unwrap_or_default();
        if origin.is_empty() {
            return Err(AddError::Note(NoteError::EmptyOrigin));
        }
        let verifiers = self.logs.get(origin).ok_or_else(|| AddError::UnknownLog(clip(origin)))?;
        let opened = checkpoint::open(&req.note, verifiers).map_err(|e| match e {
            NoteError::InvalidSignature { .. } | NoteError::NoVerifiedSignature { .. } => AddError::Signature(e),
            e => AddError::Note(e),
        })?;
        let new = Checkpoint::parse_body(&opened.body).map_err(AddError::Note)?;
        // Counted only for notes the log signed: a stranger cannot use up a log's budget
        // by sending forgeries.
        self.limiter.check(&new.origin).map_err(AddError::RateLimited)?;
        if req.old_size > new.size {
            return Err(AddError::OldSizeTooLarge { old: req.old_size, size: new.size });
        }
        let slot = self.state.log(&new.origin).ok_or_else(|| AddError::UnknownLog(clip(&new.origin)))?;
        // Held until the new checkpoint is on disk: see `state`.
        let mut locked = slot.lock();
        let held = locked.latest().map(|s| &s.checkpoint);
        let held_size = held.map_or(0, |c| c.size);
        if req.old_size != held_size {
            return Err(AddError::Conflict { old: req.old_size, held: held_size });
        }
        check_consistency(held, &new, &req.proof)?;
        let unchanged = held.is_some_and(|h| h.size == new.size && h.root == new.root);
        if !unchanged {
            locked.replace(Stored { checkpoint: new, note: req.note.clone() })?;
        }
        drop(locked);
        Ok(self.signer.cosign(&opened.body, now())?)
    }
}

/// The consistency rules of add-checkpoint, once the old size is known to be the held one.
fn check_consistency(held: Option<&Checkpoint>, new: &Checkpoint, proof: &[Sha256Digest]) -> Result<(), AddError> {
    if new.size == 0 && new.root != Sha256Digest::of(b"") {
        return Err(AddError::Inconsistent("a checkpoint of size 0 must have the empty tree's root"));
    }
    let Some(held) = held.filter(|h| h.size > 0) else {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(AddError::Inconsistent("from old size 0 the consistency proof must be empty"))
        };
    };
    if held.size == new.size {
        if held.root != new.root {
            return Err(AddError::Inconsistent("same size as the checkpoint the witness holds, another root hash"));
        }
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(AddError::Inconsistent("the consistency proof does not verify"))
        };
    }
    verify_consistency(held.size, new.size, &held.root, &new.root, proof)
        .map_err(|_| AddError::Inconsistent("the consistency proof does not verify"))
}

/// The current POSIX time in seconds; never 0 (a cosignature must carry a timestamp).
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs().max(1))
}

/// Keeps messages about attacker-supplied origins short.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests;
