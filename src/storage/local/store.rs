//! [`LocalStore`]: the embedded backend's log objects, content index and salts, for one
//! machine: everything in the data directory.
//!
//! | where | what |
//! | --- | --- |
//! | `index/` | the content index and the tree state: a fjall keyspace (an LSM tree) |
//! | `tiles/` | hash tiles and entry bundles as files ([`TileFiles`]) |
//! | `salts/` | prompt salts in segment files ([`SaltFiles`]) |
//! | `log/` | the sled database: the service's own tables (`tables`), not the log |
//!
//! Keys of its partition `log`, under one-byte prefixes:
//!
//! | key | value |
//! | --- | --- |
//! | `I` leaf hash | the leaf's index (8 bytes, big-endian) |
//! | `S` content hash, `!index` | nothing: the exact-content index |
//! | `T` normalised text hash, `!index` | nothing: the normalised-text index |
//! | `M` name | tree size, latest checkpoint, origin, storage format |
//!
//! Why an LSM tree (fjall) for the index and not sled: three keys per stamp, uniformly
//! random (they are SHA-256 hashes). Measured with 3,000,000 such keys (a million stamps):
//! sled 0.34 held about 4 KiB of memory per key whatever its cache setting (12.6 GiB, 75 s,
//! 7 s to reopen); a B-tree (redb) stayed within its cache but rewrote a page per random
//! key, so inserts slowed as it grew (54 s, 1.6x slower stamps at 1M entries); fjall
//! writes sorted runs sequentially: 10 s, 150 MiB, each lookup a few tens of
//! microseconds. sled keeps the small trees it was chosen for.
//!
//! A batch writes its tiles, bundle entries and salts to their files, then its index
//! keys and the new size as one fjall write batch: that batch is the commit point (fjall
//! applies a batch atomically, and its journal replays whole batches only), and what the
//! files hold past the committed size is never read and is overwritten by the next
//! batch. Appends are visible at once; a sync syncs the files, then the journal, which
//! makes every earlier batch durable.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fjall::{Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use super::files::TileFiles;
use super::salts::SaltFiles;
use crate::fingerprint::ContentCode;
use crate::log::tiles::{self, BundleId, BundlePiece, Tile, TileId, TILE_WIDTH};
use crate::log::{
    newest_first, Batch, CodeStore, ContentIndex, IndexKey, LogIndex, LogStore, SaltStore, StoreError, STORAGE_FORMAT,
};
use crate::memo::{lock, Memo};
use crate::Sha256Digest;

pub(super) const INDEX_DIR: &str = "index";
pub(super) const P_ID: u8 = b'I';
pub(super) const P_CONTENT: u8 = b'S';
pub(super) const P_TEXT: u8 = b'T';
pub(super) const P_SENTENCE: u8 = b'P';
/// A leaf's Content-Code: the leaf index, then the code's binary unit as the value.
pub(super) const P_CODE: u8 = b'C';
pub(super) const P_META: u8 = b'M';
pub(super) const META_SIZE: &str = "size";
pub(super) const META_CHECKPOINT: &str = "checkpoint";
pub(super) const META_FORMAT: &str = "format";
/// The index's block cache and its memtables: what it keeps in memory however large the
/// log grows. The journal is bounded too, which bounds what a start replays.
const INDEX_CACHE_BYTES: u64 = 32 << 20;
const INDEX_WRITE_BUFFER_BYTES: u64 = 32 << 20;
const INDEX_JOURNAL_BYTES: u64 = 64 << 20;
/// sled's cache, for the service's own small trees.
const SLED_CACHE_BYTES: u64 = 16 << 20;
/// Entries copied per transaction when writing a backup: bounds its memory.
pub(super) const BACKUP_BATCH: usize = 10_000;
/// Full bundles whose entry offsets are remembered: about 1 KiB each, so 8 MiB for the
/// two generations, and the leaves of the last 2,000,000 entries read with one read each.
const OFFSETS_MEMO: usize = 4096;

pub(super) fn key(prefix: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.iter().map(|r| r.len()).sum::<usize>());
    k.push(prefix);
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

/// A content index key: the digest, then the leaf index with its bits inverted, so that
/// a forward scan of a digest meets its newest leaves first (what lookups ask for, and a
/// forward scan is what an LSM memtable does fast).
pub(super) fn content_key(prefix: u8, digest: &Sha256Digest, index: u64) -> Vec<u8> {
    key(prefix, &[digest.as_bytes(), &(!index).to_be_bytes()])
}

/// The leaf index of a content index key.
fn content_key_index(k: &[u8]) -> Result<u64, StoreError> {
    Ok(!u64_from(k.get(1 + 32..).unwrap_or_default())?)
}

pub(super) fn meta_key(name: &str) -> Vec<u8> {
    key(P_META, &[name.as_bytes()])
}

pub(super) fn u64_from(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("expected an 8-byte integer, found {} bytes", bytes.len())))
}

/// Any fjall error as a store error.
fn db<E: Into<fjall::Error>>(e: E) -> StoreError {
    StoreError::backend("the index (fjall)", e.into())
}

/// A sled error as a store error.
pub(super) fn sled_error(e: sled::Error) -> StoreError {
    StoreError::backend("the database (sled)", e)
}

/// So that `?` works on sled calls inside this backend (the migration is full of them).
impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        sled_error(e)
    }
}

/// Opens (or creates) the sled database of data directory `dir`: the service's own trees
/// (issuer tokens, erasure register) live in it, and a log of storage format 1 did.
///
/// A database dropped in this process keeps its file lock until sled's background
/// threads have let go of it, which can take a moment after `drop`: opening it again
/// right away (a migration, a restart within one process) waits this long for the lock
/// before it reports the directory as held by someone else.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// # Errors
/// When sled cannot open the directory (missing permissions, another process holds it).
pub(crate) fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let started = Instant::now();
    loop {
        match sled::Config::new().path(dir.join("log")).cache_capacity(SLED_CACHE_BYTES).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.map_err(sled_error),
        }
    }
}

/// Opens (or creates) the index of data directory `dir`, and its one partition.
pub(super) fn open_index(dir: &Path) -> Result<(Keyspace, PartitionHandle), StoreError> {
    let keyspace = fjall::Config::new(dir.join(INDEX_DIR))
        .cache_size(INDEX_CACHE_BYTES)
        .max_write_buffer_size(INDEX_WRITE_BUFFER_BYTES)
        .max_journaling_size(INDEX_JOURNAL_BYTES)
        // One background thread each: the service's own work needs the cores more.
        .flush_workers(1)
        .compaction_workers(1)
        .open()
        .map_err(db)?;
    let partition = keyspace.open_partition("log", PartitionCreateOptions::default()).map_err(db)?;
    Ok((keyspace, partition))
}

/// The embedded backend's log objects, index and salts.
#[derive(Clone)]
pub(crate) struct LocalStore {
    keyspace: Keyspace,
    index: PartitionHandle,
    files: Arc<TileFiles>,
    salts: Arc<SaltFiles>,
    /// The committed size, as the last batch recorded it: what entry reads stop at
    /// (past it, the files may hold a batch being written).
    committed: Arc<AtomicU64>,
    /// Where each entry of a full bundle starts (and the last ends), by bundle.
    offsets: Arc<Mutex<Memo<BundleId, Arc<[u32]>>>>,
    /// Makes a setting's read-compare-write one step for the threads of this process
    /// (one process owns the directory).
    swapping: Arc<Mutex<()>>,
}

impl LocalStore {
    /// The log of data directory `dir`. A new directory gets the current storage
    /// format; one of another format is refused (a directory of format 1 is refused
    /// before, by `migrate::refuse_format1`).
    ///
    /// # Errors
    /// [`StoreError::Format`] for a log of another storage format; database or I/O errors.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        let (keyspace, index) = open_index(dir)?;
        let store = Self {
            keyspace,
            index,
            files: Arc::new(TileFiles::open(dir)?),
            salts: Arc::new(SaltFiles::open(dir)?),
            committed: Arc::default(),
            offsets: Arc::new(Mutex::new(Memo::new(OFFSETS_MEMO))),
            swapping: Arc::default(),
        };
        match store.meta(META_FORMAT)? {
            Some(v) if u64_from(&v)? == STORAGE_FORMAT => {}
            None if store.meta(META_SIZE)?.is_none() => {
                store.set_meta(META_FORMAT, &STORAGE_FORMAT.to_be_bytes())?;
            }
            found => {
                return Err(StoreError::Format {
                    dir: dir.display().to_string(),
                    found: found.map(|v| u64_from(&v)).transpose()?.unwrap_or(0),
                    what: "It was written by a newer aiprov: run that version.",
                })
            }
        }
        let size = store.meta(META_SIZE)?.map(|v| u64_from(&v)).transpose()?.unwrap_or(0);
        store.committed.store(size, Ordering::Release);
        Ok(store)
    }

    /// Writes `pairs` to the index as one atomic batch, visible at once, durable after
    /// the next [`LogStore::sync`].
    pub(super) fn put_all(&self, pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        let mut batch = self.keyspace.batch();
        for (k, v) in pairs {
            batch.insert(&self.index, k, v);
        }
        batch.commit().map_err(db)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.index.get(key).map_err(db)?.map(|v| v.to_vec()))
    }

    fn find_prefixed(&self, prefix: u8, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        let mut out = Vec::new();
        for item in self.index.prefix(key(prefix, &[digest.as_bytes()])).take(limit) {
            let (k, _) = item.map_err(db)?;
            out.push(LogIndex(content_key_index(&k)?));
        }
        Ok(out)
    }

    /// Writes bundle pieces and tiles to their files: part of the log once an index
    /// batch records a size that covers them.
    pub(super) fn write_objects(&self, pieces: &[BundlePiece], tiles: &[Tile]) -> Result<(), StoreError> {
        for piece in pieces {
            self.files.write_piece(piece)?;
        }
        for tile in tiles {
            self.files.write_tile(tile)?;
        }
        Ok(())
    }

    pub(super) fn salt_files(&self) -> &SaltFiles {
        &self.salts
    }

    /// Writes a batch: its salts, bundle pieces and tiles to their files, then its index
    /// keys and the new size as one fjall batch, the commit point. Visible at once;
    /// durable once a later [`LogStore::sync`] returns.
    pub(super) fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let stored = self.size()?;
        if stored != batch.size_before {
            return Err(StoreError::Corrupt(format!(
                "append at {} but the log holds {stored} leaves",
                batch.size_before
            )));
        }
        let entries: Vec<&[u8]> = batch.leaves.iter().map(|l| l.leaf.as_slice()).collect();
        let pieces = BundlePiece::split(batch.size_before, &entries)
            .map_err(|e| StoreError::Corrupt(format!("a leaf cannot be a bundle entry: {e}")))?;
        // Files first: should the commit not happen, what they hold past the committed
        // size is overwritten by the leaves that take those indices.
        let salts: Vec<Option<[u8; 32]>> = batch.leaves.iter().map(|l| l.prompt_salt).collect();
        self.salts.write(batch.size_before, &salts)?;
        self.write_objects(&pieces, &batch.tiles)?;
        let mut pairs = Vec::with_capacity(batch.leaves.len() * 3 + 1);
        for (offset, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.size_before + offset as u64;
            pairs.push((key(P_ID, &[leaf.leaf_hash.as_bytes()]), index.to_be_bytes().to_vec()));
            pairs.push((content_key(P_CONTENT, &leaf.content_sha256, index), Vec::new()));
            if let Some(norm) = &leaf.normalized_text_sha256 {
                pairs.push((content_key(P_TEXT, norm, index), Vec::new()));
            }
            for sentence in &leaf.sentences {
                pairs.push((content_key(P_SENTENCE, sentence, index), Vec::new()));
            }
            if let Some(code) = &leaf.code {
                pairs.push((key(P_CODE, &[&index.to_be_bytes()]), code.unit_bytes().to_vec()));
            }
        }
        pairs.push((meta_key(META_SIZE), batch.new_size().to_be_bytes().to_vec()));
        self.put_all(pairs)?;
        self.committed.store(batch.new_size(), Ordering::Release);
        Ok(())
    }

    /// Copies the log as it was at tree size `size` (whose signed checkpoint note is
    /// `checkpoint`) into the data directory `dir`, whose store `to` is open, while
    /// appends go on: tiles and bundles cut to their width then, index entries and salts
    /// of the leaves below `size` only.
    pub(super) fn copy_to(&self, to: &LocalStore, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError> {
        self.files.backup(&to.files, size)?;
        // The index entries of leaves below `size`, from one snapshot while appends go on.
        let mut pending: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for item in self.index.snapshot().iter() {
            let (k, v) = item.map_err(db)?;
            let keep = match k.first() {
                Some(&P_ID) => u64_from(&v)? < size,
                Some(&P_CONTENT | &P_TEXT | &P_SENTENCE) => content_key_index(&k)? < size,
                Some(&P_CODE) => u64_from(&k[1..])? < size,
                _ => true,
            };
            if keep {
                pending.push((k.to_vec(), v.to_vec()));
                if pending.len() >= BACKUP_BATCH {
                    to.put_all(pending.drain(..))?;
                }
            }
        }
        pending.push((meta_key(META_SIZE), size.to_be_bytes().to_vec()));
        pending.push((meta_key(META_CHECKPOINT), checkpoint.as_bytes().to_vec()));
        to.put_all(pending)?;
        self.salts.backup(dir, size)?;
        to.sync()
    }
}

impl LogStore for LocalStore {
    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.committed.load(Ordering::Acquire))
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_tile(tile)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_bundle(bundle)
    }

    fn read_entry(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError> {
        let committed = self.size()?;
        if index.0 >= committed {
            return Ok(None);
        }
        let (bundle, position) = BundleId::containing(index.0);
        // A full bundle whose entry offsets are known: read just the entry, not the
        // whole bundle (up to 256 times its size).
        let known = lock(&self.offsets).get(&bundle);
        if let Some(offsets) = known {
            let (start, end) = (offsets[position] + 2, offsets[position + 1]);
            if let Some(bytes) = self.files.read_bundle_range(bundle, u64::from(start), (end - start) as usize)? {
                return Ok(Some(bytes));
            }
        }
        let Some(bytes) = self.files.read_bundle(bundle)? else { return Ok(None) };
        // Only the entries the committed size covers: past them the next batch may be
        // being written, and a read can catch one half written.
        let width = (committed - bundle.index() * TILE_WIDTH as u64).min(TILE_WIDTH as u64) as usize;
        let corrupt = |e: tiles::BundleError| StoreError::Corrupt(format!("{bundle:?}: {e}"));
        let covered = tiles::bundle_prefix(&bytes, width).map_err(corrupt)?;
        let offsets = tiles::entry_offsets(covered).map_err(corrupt)?;
        let entry = covered[offsets[position] as usize + 2..offsets[position + 1] as usize].to_vec();
        if width == TILE_WIDTH {
            lock(&self.offsets).insert(bundle, offsets.into());
        }
        Ok(Some(entry))
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Files first: a crash before the durable commit leaves at worst bytes past the
        // durable size, never a durable size whose tiles, entries or salts were lost.
        self.salts.sync()?;
        self.files.sync()?;
        self.keyspace.persist(PersistMode::SyncData).map_err(db)
    }

    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        match self.meta(META_CHECKPOINT)? {
            Some(v) => {
                String::from_utf8(v).map(Some).map_err(|_| StoreError::Corrupt("checkpoint is not UTF-8".into()))
            }
            None => Ok(None),
        }
    }

    fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        // Not synced on purpose: a checkpoint can always be re-signed from the durable
        // tree at startup, so it need not cost a sync of its own.
        self.put_all([(meta_key(META_CHECKPOINT), note.as_bytes().to_vec())])
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(&meta_key(name))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put_all([(meta_key(name), value.to_vec())])?;
        self.keyspace.persist(PersistMode::SyncData).map_err(db)
    }

    /// One process owns the directory (sled's lock): a read, then a write, is atomic.
    fn claim_meta(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let _one_at_a_time = lock(&self.swapping);
        if let Some(stored) = self.meta(name)? {
            return Ok(stored);
        }
        self.set_meta(name, value)?;
        Ok(value.to_vec())
    }

    fn swap_meta(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let _one_at_a_time = lock(&self.swapping);
        if self.meta(name)?.as_deref() != expected {
            return Ok(false);
        }
        self.set_meta(name, value)?;
        Ok(true)
    }
}

impl ContentIndex for LocalStore {
    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError> {
        match self.get(&key(P_ID, &[leaf_hash.as_bytes()]))? {
            Some(v) => Ok(Some(LogIndex(u64_from(&v)?))),
            None => Ok(None),
        }
    }

    fn find(&self, keys: &[IndexKey], limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        let mut found = Vec::new();
        for k in keys {
            found.extend(match k {
                IndexKey::Content(digest) => self.find_prefixed(P_CONTENT, digest, limit)?,
                IndexKey::NormalizedText(digest) => self.find_prefixed(P_TEXT, digest, limit)?,
                IndexKey::Sentence(digest) => self.find_prefixed(P_SENTENCE, digest, limit)?,
            });
        }
        Ok(newest_first(found, limit))
    }
}

impl CodeStore for LocalStore {
    fn codes(&self, from: LogIndex, below: u64, limit: usize) -> Result<Vec<(LogIndex, ContentCode)>, StoreError> {
        let mut out = Vec::new();
        let range = key(P_CODE, &[&from.0.to_be_bytes()])..key(P_CODE, &[&below.to_be_bytes()]);
        for item in self.index.range(range).take(limit) {
            let (k, v) = item.map_err(db)?;
            let index = u64_from(&k[1..])?;
            let code = ContentCode::from_unit_bytes(&v)
                .map_err(|e| StoreError::Corrupt(format!("the Content-Code of leaf {index}: {e}")))?;
            out.push((LogIndex(index), code));
        }
        Ok(out)
    }
}

impl SaltStore for LocalStore {
    fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError> {
        self.salts.get(index)
    }

    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError> {
        self.salts.erase(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{merkle, NewLeaf};

    #[test]
    fn lookups_find_the_newest_leaves_first_and_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let same = Sha256Digest::of(b"the same copy");
        let leaves: Vec<NewLeaf> = (0u64..5)
            .map(|i| {
                let leaf = format!("{{\"n\":{i}}}").into_bytes();
                NewLeaf {
                    leaf_hash: merkle::leaf_hash(&leaf),
                    leaf,
                    // Leaves 0, 2 and 4 have the same content; 1 and 3 another.
                    content_sha256: if i % 2 == 0 { same } else { Sha256Digest::of(b"other") },
                    normalized_text_sha256: (i == 3).then_some(same),
                    code: None,
                    sentences: Vec::new(),
                    prompt_salt: None,
                }
            })
            .collect();
        let mut bulk = crate::log::BulkAppend::new(crate::log::LogStorage {
            store: Arc::new(store.clone()),
            index: Arc::new(store.clone()),
            codes: Arc::new(store.clone()),
            salts: Arc::new(store.clone()),
            sequencer: Box::new(crate::storage::local::LocalSequencer::new(store.clone())),
        });
        for leaf in &leaves {
            bulk.append(&[leaf]).unwrap();
        }
        let found = |limit| store.find(&[IndexKey::Content(same)], limit).unwrap();
        assert_eq!(found(10), vec![LogIndex(4), LogIndex(2), LogIndex(0)]);
        assert_eq!(found(2), vec![LogIndex(4), LogIndex(2)]);
        assert_eq!(store.find(&[IndexKey::NormalizedText(same)], 10).unwrap(), vec![LogIndex(3)]);
        let both = store.find(&[IndexKey::Content(same), IndexKey::NormalizedText(same)], 3).unwrap();
        assert_eq!(both, vec![LogIndex(4), LogIndex(3), LogIndex(2)], "both lookups, newest first");
        assert_eq!(store.find(&[IndexKey::Content(Sha256Digest::of(b"never"))], 10).unwrap(), vec![]);
        assert_eq!(store.index_of(&leaves[3].leaf_hash).unwrap(), Some(LogIndex(3)));
    }
}
