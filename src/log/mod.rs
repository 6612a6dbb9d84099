//! The provenance log (docs/contract.md §3): an append-only RFC 6962 Merkle tree of
//! signed statements, its C2SP checkpoints, and how it is extended, whatever stores it.
//!
//! [`Log`] is the boundary: the rest of the crate reads and appends through it (or reads
//! through [`LogReader`] offline), never through a store itself. Backends live in
//! `crate::storage`; this module defines what it needs of them and never names one.
//!
//! - `merkle`: RFC 6962 / 9162 hashing and proofs over any node source.
//! - `checkpoint`: C2SP signed notes and tlog checkpoints.
//! - `tlog_proof`: C2SP tlog-proof, one entry's inclusion and its (cosigned) checkpoint
//!   as text, written and verified.
//! - `tiles`: C2SP tlog-tiles: tile and entry-bundle paths, bundle encoding (and the
//!   pieces a batch adds to a bundle), which tiles a batch rewrites, building them from
//!   leaf hashes, and Merkle nodes read back from them.
//! - `store`: the read side a backend implements: [`LogStore`] (tiles, entries,
//!   bundles, tree state), [`ContentIndex`], [`SaltStore`]; and [`StoreError`].
//! - `sequencer`: the write side a backend implements: [`Sequencer`] (the lease, how
//!   stamps reach the lease holder) and [`Extension`] (one transaction).
//! - `integrate`: the one integration loop every backend shares: batching, the right
//!   edge, tiles, signing, acknowledging; and bulk appends for tools.
//! - `job`: a stamp waiting for the log, and its answer.
//! - `durable`: the syncer that makes committed batches durable (group commit).
//! - `publish`: signed checkpoints, the newest one, this process's role, the observer.
//! - `backend`: [`LogStorage`], what a backend hands the log.
//! - `handle`: [`Log`], opened on a backend's [`LogStorage`]; reads with their memos.
//! - `error`: [`LogError`].
//! - `reader`: [`LogReader`], read-only access for the offline audit.

mod backend;
pub(crate) mod checkpoint;
pub(crate) mod cosignature;
mod durable;
mod error;
mod handle;
mod integrate;
mod job;
pub(crate) mod merkle;
pub(crate) mod policy;
mod publish;
mod reader;
mod sequencer;
pub(crate) mod similar;
mod store;
pub(crate) mod tiles;
pub(crate) mod tlog_proof;

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) use backend::LogStorage;
pub(crate) use error::LogError;
pub(crate) use handle::Log;
pub use integrate::{BulkAppend, LogStopped};
pub(crate) use publish::{LogObserver, Role, SignedCheckpoint};
pub use reader::LogReader;
pub(crate) use sequencer::{Committed, Extension, Followed, Sequencer};
pub(crate) use store::{io_error, newest_first, StoreTiles, StoredNodes};
pub(crate) use store::{Batch, CodeStore, ContentIndex, IndexKey, LogStore, SaltStore, STORAGE_FORMAT};
pub use store::{NewLeaf, StoreError};

/// A position in the log: leaves are numbered from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogIndex(pub u64);

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
