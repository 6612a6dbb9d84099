//! [`Sequencer`]: the one part of extending the log that differs between backends. The
//! integration loop (`integrate`) batches stamps, keeps the tree's right edge, builds the
//! tiles, signs the checkpoint and answers the stamps, the same for every backend; it
//! asks the backend only for what is truly its own:
//!
//! - the sequencing lease ([`Sequencer::begin`]): held for good by a backend that one
//!   process owns; taken and renewed in the database by one node of several;
//! - the transaction that makes a batch durable ([`Extension::commit`]), with the stamps
//!   other nodes queued ([`Extension::queued`]);
//! - how stamps reach the lease holder from another node ([`Sequencer::hand_over`]) and
//!   how that node learns they are in the tree ([`Sequencer::follow`]).

use crate::log::store::{Batch, NewLeaf, StoreError};
use crate::log::tiles::TileId;
use crate::log::LogIndex;
use crate::Sha256Digest;

/// How a backend's commit leaves a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Durable now (a database transaction): its stamps may be answered at once.
    Durable,
    /// Visible, durable only after [`crate::log::LogStore::sync`]: the loop hands it to
    /// its syncer, which makes several such batches durable with one sync (group commit).
    NeedsSync,
}

/// One extension of the tree under the lease, open until it is committed or dropped
/// (dropping it commits nothing).
pub trait Extension {
    /// Leaves in the tree as this extension found it.
    fn size(&self) -> u64;
    /// The stored checkpoint note of that tree, if any.
    ///
    /// # Errors
    /// On storage failure.
    fn checkpoint(&self) -> Result<Option<String>, StoreError>;
    /// Up to `room` stamps other nodes queued for the sequencer, oldest first. They go
    /// after this node's own; their nodes answer them (see [`Sequencer::follow`]).
    ///
    /// # Errors
    /// On storage failure.
    fn queued(&mut self, room: usize) -> Result<Vec<NewLeaf>, StoreError>;
    /// A tile of the tree as this extension sees it (the loop remembers the right edge it
    /// wrote, so this is read only after a change of sequencer or a failure).
    ///
    /// # Errors
    /// On storage failure.
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Commits `batch` atomically with `checkpoint`, the signed note of the tree it makes
    /// (none from bulk tools: the log signs one when it opens), and renews the lease. An
    /// empty batch only renews the lease, where it needs renewing.
    ///
    /// # Errors
    /// On storage failure: nothing of the batch was committed then, or (with a database
    /// whose connection broke at the commit) it is unknown whether it was.
    fn commit(self: Box<Self>, batch: &Batch<'_>, checkpoint: Option<&str>) -> Result<Committed, StoreError>;
}

/// What [`Sequencer::follow`] found: the tree now, and where the leaves asked about are.
#[derive(Debug, Clone)]
pub struct Followed {
    pub size: u64,
    pub checkpoint: Option<String>,
    pub found: Vec<(Sha256Digest, LogIndex)>,
}

/// A backend's lease and transactions (see the module documentation).
pub trait Sequencer: Send + 'static {
    /// Whether other processes may extend this log too (nodes of one database). Then the
    /// loop polls (to take over a lease that ran out, and to learn of its own queued
    /// stamps), and a stored checkpoint this node's key does not verify is refused
    /// rather than re-signed.
    fn shared(&self) -> bool;
    /// Opens an extension if this process holds the lease or can take it; `None` while
    /// another process holds a live one.
    ///
    /// # Errors
    /// On storage failure.
    fn begin(&mut self) -> Result<Option<Box<dyn Extension + '_>>, StoreError>;
    /// Queues stamps for the process that holds the lease.
    ///
    /// # Errors
    /// When they could not be queued (none were then).
    fn hand_over(&mut self, leaves: &[&NewLeaf]) -> Result<(), StoreError> {
        let _ = leaves;
        Err(StoreError::Unsupported("this log has one writer; there is nobody to hand stamps over to".into()))
    }
    /// The tree's size and checkpoint now, and which of `leaf_hashes` it holds, in one
    /// snapshot.
    ///
    /// # Errors
    /// On storage failure.
    fn follow(&mut self, leaf_hashes: &[Sha256Digest]) -> Result<Followed, StoreError>;
    /// Gives the lease up, so that another process need not wait for it to run out.
    fn release(&mut self) {}
}
