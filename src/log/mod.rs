//! The provenance log (docs/contract.md §3): an append-only RFC 6962 Merkle tree of
//! signed statements, its C2SP checkpoints, and where it is stored.
//!
//! [`Log`] is the storage boundary: the rest of the crate reads and appends through it
//! (or reads through [`LogReader`] offline), never through the store itself.
//!
//! - [`merkle`]: RFC 6962 / 9162 hashing and proofs over any node source.
//! - [`checkpoint`]: C2SP signed notes and tlog checkpoints.
//! - [`tiles`]: C2SP tlog-tiles, the layout the log is stored in: tile and entry-bundle
//!   paths, bundle encoding, which tiles a batch rewrites, building them from leaf hashes,
//!   and Merkle nodes read back from them.
//! - `store`: the [`LogStore`] trait every backend implements (tiles, bundle pieces, the
//!   content index, tree state); `local`: the embedded one (the index and tree state in
//!   fjall, the service's own trees in sled), with `files` holding its tiles and bundles
//!   as files in the tlog-tiles layout.
//! - `salts`: erasable prompt salts in segment files, apart from the immutable log.
//! - `migrate`: converts a data directory of storage format 1 (a key per leaf and node).
//! - `writer`: the single writer with group commit, and the [`Log`] handle.

pub mod checkpoint;
mod files;
mod local;
pub mod merkle;
mod migrate;
mod reader;
mod salts;
mod store;
pub mod tiles;
mod writer;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use local::{open_db, LocalStore};
pub use migrate::{migrate, Migrated};
pub use reader::LogReader;
pub use store::{Batch, BundlePiece, LogStore, NewLeaf, StoreError, STORAGE_FORMAT};
pub use writer::{
    fail, sign_checkpoint, write_leaves, Appended, Integration, Job, Log, LogError, LogObserver, Publisher, Role,
    SignedCheckpoint,
};

/// A position in the log: leaves are numbered from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogIndex(pub u64);

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
