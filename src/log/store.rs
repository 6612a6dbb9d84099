//! [`LogStore`]: everything the log needs from storage, so that another backend (a
//! database server, docs/contract.md §7) can replace sled without touching the log logic.
//!
//! Layout of a sled data directory: `log/` (the sled database of the log, tokens and the
//! erasure register) and `salts-<n>/` with `salts.current` (the salt store).

use crate::log::merkle::{NodeId, NodeSource};
use crate::log::salts::SaltError;
use crate::log::LogIndex;
use crate::Sha256Digest;

/// A leaf ready to be appended, with what the indexes need.
#[derive(Debug, Clone)]
pub struct NewLeaf {
    pub leaf: Vec<u8>,
    pub leaf_hash: Sha256Digest,
    pub content_sha256: Sha256Digest,
    pub normalized_text_sha256: Option<Sha256Digest>,
    /// The salt of the prompt commitment; never part of the leaf.
    pub prompt_salt: Option<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Salt(#[from] SaltError),
}

/// Everything the log needs from storage.
pub trait LogStore: NodeSource<Error = StoreError> + Send + Sync + 'static {
    /// Number of leaves written (durable once [`LogStore::sync`] returned after the write).
    fn size(&self) -> Result<u64, StoreError>;
    /// Writes `leaves` at indices `size..`, together with `nodes` (the Merkle nodes they
    /// complete), atomically: after a crash either all of it is there or none; and their
    /// prompt salts, which live apart. Visible to reads at once; durable only once a later
    /// [`LogStore::sync`] returns. Separate from `sync` so that the log can write its next batch while the
    /// previous one is being made durable (pipelined group commit).
    fn write(&self, size_before: u64, leaves: &[&NewLeaf], nodes: &[(NodeId, Sha256Digest)]) -> Result<(), StoreError>;
    /// Makes everything written so far durable on disk.
    fn sync(&self) -> Result<(), StoreError>;
    fn leaf(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError>;
    /// Index of the leaf with this leaf hash (stamp id).
    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError>;
    /// Leaves whose exact content hash is `digest`, newest first, at most `limit`.
    fn find_by_content(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError>;
    /// Leaves whose normalised text hash is `digest`, newest first, at most `limit`.
    fn find_by_normalized_text(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError>;
    fn prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<Option<[u8; 32]>, StoreError>;
    /// Erases a stamp's prompt salt from storage for good; whether there was one.
    fn erase_prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<bool, StoreError>;
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError>;
    fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError>;
    /// Writes a copy of the data as it was at tree size `size` (whose signed checkpoint
    /// note is `checkpoint`) into the new directory `dir`, as a data directory this
    /// backend can open, while appends go on. `size` must be durable already. Leaves,
    /// nodes, index entries and salts past `size` are left out, so the copy is exactly
    /// the log of that checkpoint.
    fn backup(&self, dir: &std::path::Path, size: u64, checkpoint: &str) -> Result<(), StoreError>;
    /// A value of the log's own settings (origin, ...).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
}
