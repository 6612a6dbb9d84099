//! What the log needs from storage, as small traits at the level of the objects of C2SP
//! tlog-tiles: [`LogStore`] (hash tiles, entries and their bundles, the tree state and
//! its checkpoint), [`ContentIndex`] (stamps by content) and [`SaltStore`] (erasable
//! prompt salts). Every backend (`crate::storage::local`, `crate::storage::postgres`)
//! implements them over the same objects, so the log logic above them never changes.
//!
//! These are the read side. A batch is written by the backend's
//! [`Sequencer`](crate::log::Sequencer), in one atomic step with everything the
//! traits read (tiles, entries, index rows, salts, the new size): the cost of an append
//! does not depend on how large the log already is.

use crate::fingerprint::ContentCode;
use crate::log::merkle::{NodeId, NodeSource};
use crate::log::tiles::{self, BundleId, Tile, TileId};
use crate::log::LogIndex;
use crate::Sha256Digest;

/// The on-disk layout this build reads and writes. Format 1 stored a key per leaf and
/// per Merkle node; format 2 stores tiles and bundles (`aiprov migrate` converts).
pub(crate) const STORAGE_FORMAT: u64 = 2;

/// A leaf ready to be appended, with what the indexes need.
#[derive(Debug, Clone)]
pub struct NewLeaf {
    pub leaf: Vec<u8>,
    pub leaf_hash: Sha256Digest,
    pub content_sha256: Sha256Digest,
    pub normalized_text_sha256: Option<Sha256Digest>,
    /// The content's ISCC Content-Code, for the similarity index.
    pub code: Option<ContentCode>,
    /// The hashes of a text's sentences (`fingerprint::text::sentence_hashes`).
    pub sentences: Vec<Sha256Digest>,
    /// The salt of the prompt commitment; never part of the leaf.
    pub prompt_salt: Option<[u8; 32]>,
}

/// One batch of appends, as a backend commits it: the leaves (entries, index keys and
/// salts) and the new contents of every tile they change. A backend that stores entries
/// in bundles cuts them into pieces itself (`tiles::BundlePiece::split`).
#[derive(Debug)]
pub struct Batch<'a> {
    /// Leaves in the log before this batch; the leaves get indices `size_before..`.
    pub size_before: u64,
    pub leaves: &'a [&'a NewLeaf],
    /// The new contents of every tile the batch changes (`tiles::build_tiles`).
    pub tiles: Vec<Tile>,
}

impl Batch<'_> {
    pub fn new_size(&self) -> u64 {
        self.size_before + self.leaves.len() as u64
    }
}

/// A storage failure, whatever the backend: its own error is kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or cannot be reached (a database, the disk): the operation may
    /// succeed later. `what` names the backend's part that failed.
    #[error("{what}: {source}")]
    Backend { what: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("the stored log is damaged: {0}")]
    Corrupt(String),
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error(
        "{dir} holds a log in storage format {found}; this aiprov reads format {STORAGE_FORMAT}. \
         {what}"
    )]
    Format { dir: String, found: u64, what: &'static str },
    /// This backend cannot do it (for example an online backup); the message says what to
    /// do instead.
    #[error("{0}")]
    Unsupported(String),
    /// Another transaction got in the way (a serialisation failure or deadlock): nothing
    /// was written, and the same work may simply be run again.
    #[error("a conflict between transactions: {0}")]
    Conflict(String),
    /// Another node holds the sequencer lease: this process may not extend the tree.
    #[error("a running node holds the sequencer lease: stop the service first")]
    Leased,
}

impl StoreError {
    /// A backend's own error, kept as the source.
    pub fn backend(what: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend { what, source: Box::new(source) }
    }
}

/// The error of an I/O call on `path` (tile, bundle and salt files, migration renames).
pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// The log's objects: hash tiles, entries (and the bundles they make), the tree state
/// and its newest checkpoint, and the log's own settings.
pub trait LogStore: Send + Sync + 'static {
    /// Number of leaves committed.
    fn size(&self) -> Result<u64, StoreError>;
    /// The stored row of a hash tile: its widest version (a right-edge tile grows in
    /// place, and any prefix of it is the same tile at a smaller tree size).
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError>;
    /// The stored entries of a bundle, encoded: its widest version, as for tiles.
    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Leaf `index` by itself; `None` past the committed size.
    fn read_entry(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError>;
    /// Makes every batch committed so far durable: nothing to do for a backend whose
    /// commits are durable already.
    fn sync(&self) -> Result<(), StoreError>;
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError>;
    /// Stores the signed note of the tree's newest checkpoint, once the tree it covers is
    /// durable.
    fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError>;
    /// A value of the log's own settings (origin, ...).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Stores `value` under `key` unless a value is there already, atomically against
    /// every other process of the log (nodes starting together), and returns the value
    /// stored: `value`, or the one that was there first.
    fn claim_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Replaces the value under `key` with `value` if it is still `expected` (`None`:
    /// absent), atomically against every other process and thread of the log; `false`,
    /// changing nothing, when another writer came first. Records that several nodes
    /// update (the statement keys' rollout) are read, changed and swapped in a loop.
    fn swap_meta(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError>;
}

/// What a content index is looked up by. Exact keys: a lookup returns every leaf whose
/// key is equal. (A similarity index, whose lookups are nearest neighbours by Hamming
/// distance, is a trait of its own beside this one, fed by the same batches.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKey {
    /// SHA-256 of the exact content.
    Content(Sha256Digest),
    /// The normalised text hash (docs/contract.md §2).
    NormalizedText(Sha256Digest),
    /// The hash of one sentence of a text (`fingerprint::text::sentence_hashes`).
    Sentence(Sha256Digest),
}

/// Stamps by stamp id and by content. Written with each batch; read by any node.
pub trait ContentIndex: Send + Sync + 'static {
    /// Index of the leaf with this leaf hash (stamp id).
    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError>;
    /// Leaves with any of `keys`, newest first, at most `limit`, without repeats: every
    /// key's lookups, which a backend may answer in one query.
    fn find(&self, keys: &[IndexKey], limit: usize) -> Result<Vec<LogIndex>, StoreError>;
}

/// Content-Codes by leaf: what each node's similarity index (`crate::log::similar`) is
/// built from at start and follows as the log grows. Written with each batch.
pub trait CodeStore: Send + Sync + 'static {
    /// The codes of leaves `from..below`, in index order, at most `limit` of them.
    ///
    /// # Errors
    /// On storage failure, or a stored code that is not one.
    fn codes(&self, from: LogIndex, below: u64, limit: usize) -> Result<Vec<(LogIndex, ContentCode)>, StoreError>;
}

/// Prompt salts, kept apart from the immutable log so that they can be erased
/// (docs/contract.md §4). Written with each batch.
pub trait SaltStore: Send + Sync + 'static {
    fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError>;
    /// Erases leaf `index`'s prompt salt from storage for good; whether there was one.
    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError>;
}

/// Merges the per-key lookups of [`ContentIndex::find`] for a backend that answers each
/// key on its own: newest first, without repeats, at most `limit`.
pub(crate) fn newest_first(mut indices: Vec<LogIndex>, limit: usize) -> Vec<LogIndex> {
    indices.sort_unstable_by(|a, b| b.cmp(a));
    indices.dedup();
    indices.truncate(limit);
    indices
}

/// Reads hash tiles from a store, so that `tiles::TileNodes` can compute Merkle nodes.
pub(crate) struct StoreTiles<'a>(pub(crate) &'a dyn LogStore);

impl tiles::TileReader for StoreTiles<'_> {
    type Error = StoreError;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.read_tile(tile)
    }
}

/// Merkle nodes computed from the tiles `R` reads (a store's, or those an open
/// [`Extension`](crate::log::Extension) sees), without a memo.
pub(crate) struct StoredNodes<R>(pub(crate) R);

impl<R: tiles::TileReader<Error = StoreError>> NodeSource for StoredNodes<R> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        tiles::TileNodes(&self.0).node(id).map_err(|e| match e {
            tiles::TileNodeError::Read(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })
    }
}
