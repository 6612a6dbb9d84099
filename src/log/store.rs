//! [`LogStore`]: everything the log needs from storage, shaped around the objects of C2SP
//! tlog-tiles (hash tiles, entry bundles, one tree-state record) so that another backend
//! (a database server, docs/contract.md §7) stores the same objects and the log logic
//! above it does not change.
//!
//! A batch of appends writes the bundle pieces and tiles it touches, the content index
//! entries of its leaves, their salts and the new size, atomically: the cost of an
//! append does not depend on how large the log already is.

use crate::log::merkle::{NodeId, NodeSource};
use crate::log::tiles::{self, BundleError, BundleId, Tile, TileId, TILE_WIDTH};
use crate::log::LogIndex;
use crate::Sha256Digest;

/// The on-disk layout this build reads and writes. Format 1 stored a key per leaf and
/// per Merkle node; format 2 stores tiles and bundles (`aiprov migrate` converts).
pub const STORAGE_FORMAT: u64 = 2;

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

/// Consecutive entries of one entry bundle, encoded as in the bundle (a big-endian `u16`
/// length, then the bytes, per entry), starting at position `start` of the bundle. A
/// bundle is the concatenation of its pieces in order of `start`, so a batch writes only
/// the entries it adds, never the ones before it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePiece {
    pub bundle: BundleId,
    pub start: u16,
    /// Number of entries in `bytes`.
    pub count: u16,
    pub bytes: Vec<u8>,
}

impl BundlePiece {
    /// Leaves `size_before..` as pieces of the bundles they go into, in order.
    ///
    /// # Errors
    /// When a leaf is too long for a bundle entry.
    pub fn split(size_before: u64, leaves: &[&[u8]]) -> Result<Vec<BundlePiece>, BundleError> {
        let mut pieces = Vec::new();
        let mut done = 0usize;
        while done < leaves.len() {
            let (bundle, start) = BundleId::containing(size_before + done as u64);
            let count = (TILE_WIDTH - start).min(leaves.len() - done);
            let bytes = tiles::encode_bundle(&leaves[done..done + count])?;
            // start < 256 and 1 <= count <= 256 by construction.
            pieces.push(BundlePiece { bundle, start: start as u16, count: count as u16, bytes });
            done += count;
        }
        Ok(pieces)
    }

    /// Whether this piece ends the bundle (it is full afterwards).
    pub fn completes(&self) -> bool {
        usize::from(self.start) + usize::from(self.count) == TILE_WIDTH
    }
}

/// One batch of appends, as the store writes it (atomically, see [`LogStore::write`]).
#[derive(Debug)]
pub struct Batch<'a> {
    /// Leaves in the log before this batch; the leaves get indices `size_before..`.
    pub size_before: u64,
    pub leaves: &'a [&'a NewLeaf],
    /// The new contents of every tile the batch changes (`tiles::build_tiles`).
    pub tiles: Vec<Tile>,
    pub pieces: Vec<BundlePiece>,
}

impl Batch<'_> {
    pub fn new_size(&self) -> u64 {
        self.size_before + self.leaves.len() as u64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("index database: {0}")]
    Index(fjall::Error),
    /// PostgreSQL: unreachable, or a statement failed.
    #[error("{0}")]
    Database(String),
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error(
        "{dir} holds a log in storage format {found}; this aiprov reads format {STORAGE_FORMAT}. \
         {what}"
    )]
    Format { dir: String, found: u64, what: &'static str },
}

/// The error of an I/O call on `path` (tile, bundle and salt files, migration renames).
pub(super) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// Everything the log needs from storage.
pub trait LogStore: Send + Sync + 'static {
    /// Number of leaves written (durable once [`LogStore::sync`] returned after the write).
    fn size(&self) -> Result<u64, StoreError>;
    /// Writes a batch atomically: after a crash either all of it is there (bundle pieces,
    /// tiles, index entries, salts, the new size) or none of what the log reads. Visible
    /// to reads at once; durable only once a later [`LogStore::sync`] returns. Separate
    /// from `sync` so that the log can write its next batch while the previous one is
    /// being made durable (pipelined group commit).
    fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError>;
    /// Makes everything written so far durable on disk.
    fn sync(&self) -> Result<(), StoreError>;
    /// The stored row of a hash tile: its widest version (a right-edge tile grows in
    /// place, and any prefix of it is the same tile at a smaller tree size).
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError>;
    /// The stored entries of a bundle, encoded: its widest version, as for tiles.
    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError>;
    /// `len` bytes of a stored bundle from byte `start` (one entry, when the caller knows
    /// where it is); `None` when the bundle is not stored or is shorter.
    fn read_bundle_range(&self, bundle: BundleId, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// Leaf `index` by itself, for a backend that keeps entries one by one (PostgreSQL);
    /// `None` when it keeps only bundles, and the log reads the leaf from its bundle.
    fn read_leaf(&self, _index: LogIndex) -> Option<Result<Option<Vec<u8>>, StoreError>> {
        None
    }
    /// Index of the leaf with this leaf hash (stamp id).
    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError>;
    /// Leaves whose exact content hash is `digest`, newest first, at most `limit`.
    fn find_by_content(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError>;
    /// Leaves whose normalised text hash is `digest`, newest first, at most `limit`.
    fn find_by_normalized_text(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError>;
    /// Leaves whose exact content hash is `sha256` or whose normalised text hash is
    /// `normalized`, newest first, at most `limit`: both lookups, which a backend may
    /// answer in one query.
    fn find_content(
        &self,
        sha256: &Sha256Digest,
        normalized: Option<&Sha256Digest>,
        limit: usize,
    ) -> Result<Vec<LogIndex>, StoreError> {
        let mut indices = self.find_by_content(sha256, limit)?;
        if let Some(norm) = normalized {
            indices.extend(self.find_by_normalized_text(norm, limit)?);
        }
        indices.sort_unstable_by(|a, b| b.cmp(a));
        indices.dedup();
        indices.truncate(limit);
        Ok(indices)
    }
    fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError>;
    /// Erases leaf `index`'s prompt salt from storage for good; whether there was one.
    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError>;
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError>;
    fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError>;
    /// Writes a copy of the data as it was at tree size `size` (whose signed checkpoint
    /// note is `checkpoint`) into the new directory `dir`, as a data directory this
    /// backend can open, while appends go on. `size` must be durable already. Leaves,
    /// tiles, index entries and salts past `size` are left out, so the copy is exactly
    /// the log of that checkpoint.
    fn backup(&self, dir: &std::path::Path, size: u64, checkpoint: &str) -> Result<(), StoreError>;
    /// A value of the log's own settings (origin, ...).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
}

/// Reads hash tiles from a store, so that `tiles::TileNodes` can compute Merkle nodes.
pub(super) struct StoreTiles<'a>(pub(super) &'a dyn LogStore);

impl tiles::TileReader for StoreTiles<'_> {
    type Error = StoreError;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.read_tile(tile)
    }
}

/// Merkle nodes computed from a store's tiles, without a memo.
pub(super) struct StoredNodes<'a>(pub(super) &'a dyn LogStore);

impl NodeSource for StoredNodes<'_> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        tiles::TileNodes(StoreTiles(self.0)).node(id).map_err(|e| match e {
            tiles::TileNodeError::Read(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })
    }
}
