//! The embedded backend of [`LogStore`], for one machine: everything in the data
//! directory.
//!
//! | where | what |
//! | --- | --- |
//! | `index/` | the content index and the tree state: a fjall keyspace (an LSM tree) |
//! | `tiles/` | hash tiles and entry bundles as files ([`TileFiles`]) |
//! | `salts/` | prompt salts in segment files ([`SaltStore`]) |
//! | `log/` | the sled database: the service's own trees (issuer tokens, erasure register) |
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

use fjall::{Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use crate::log::files::TileFiles;
use crate::log::salts::SaltStore;
use crate::log::store::{Batch, BundlePiece, LogStore, StoreError, STORAGE_FORMAT};
use crate::log::tiles::{BundleId, Tile, TileId};
use crate::log::LogIndex;
use crate::Sha256Digest;

pub(super) const INDEX_DIR: &str = "index";
pub(super) const P_ID: u8 = b'I';
pub(super) const P_CONTENT: u8 = b'S';
pub(super) const P_TEXT: u8 = b'T';
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
const BACKUP_BATCH: usize = 10_000;

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
    StoreError::Index(e.into())
}

/// Opens (or creates) the sled database of data directory `dir`: the service's own trees
/// (issuer tokens, erasure register) live in it, and a log of storage format 1 did.
///
/// # Errors
/// When sled cannot open the directory (missing permissions, another process holds it).
pub fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    Ok(sled::Config::new().path(dir.join("log")).cache_capacity(SLED_CACHE_BYTES).open()?)
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

/// The embedded backend.
#[derive(Clone)]
pub struct LocalStore {
    sled: sled::Db,
    keyspace: Keyspace,
    index: PartitionHandle,
    files: std::sync::Arc<TileFiles>,
    salts: std::sync::Arc<SaltStore>,
}

impl LocalStore {
    /// The log of data directory `dir`, whose sled database `sled` is open already (from
    /// [`open_db`]). A new directory gets the current storage format; one of another
    /// format is refused.
    ///
    /// # Errors
    /// [`StoreError::Format`] for a log of another storage format; database or I/O errors.
    pub fn open(sled: &sled::Db, dir: &Path) -> Result<Self, StoreError> {
        if dir.join(super::migrate::WORK_DIR).exists() || dir.join(super::migrate::OLD_DB).exists() {
            return Err(StoreError::Format {
                dir: dir.display().to_string(),
                found: 1,
                what: "A conversion by `aiprov migrate` was interrupted: run `aiprov migrate --data <dir>` again.",
            });
        }
        let format1 = sled.tree_names().iter().any(|n| &**n == b"log") && !sled.open_tree("log")?.is_empty();
        if format1 && !dir.join(INDEX_DIR).exists() {
            return Err(StoreError::Format {
                dir: dir.display().to_string(),
                found: 1,
                what: "Stop the service, back the directory up, and run `aiprov migrate --data <dir>` once.",
            });
        }
        let (keyspace, index) = open_index(dir)?;
        let store = Self {
            sled: sled.clone(),
            keyspace,
            index,
            files: std::sync::Arc::new(TileFiles::open(dir)?),
            salts: std::sync::Arc::new(SaltStore::open(dir)?),
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

    fn find(&self, prefix: u8, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
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

    pub(super) fn salt_store(&self) -> &SaltStore {
        &self.salts
    }
}

/// Copies every entry of the sled tree `from` into `to`, in batches.
fn copy_tree(from: &sled::Tree, to: &sled::Tree) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for (count, item) in from.iter().enumerate() {
        let (k, v) = item?;
        batch.insert(k, v);
        if count % BACKUP_BATCH == BACKUP_BATCH - 1 {
            to.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    to.apply_batch(batch)?;
    Ok(())
}

impl LogStore for LocalStore {
    fn size(&self) -> Result<u64, StoreError> {
        match self.meta(META_SIZE)? {
            Some(v) => u64_from(&v),
            None => Ok(0),
        }
    }

    fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let stored = self.size()?;
        if stored != batch.size_before {
            return Err(StoreError::Corrupt(format!(
                "append at {} but the log holds {stored} leaves",
                batch.size_before
            )));
        }
        // Files first: should the commit not happen, what they hold past the committed
        // size is overwritten by the leaves that take those indices.
        let salts: Vec<Option<[u8; 32]>> = batch.leaves.iter().map(|l| l.prompt_salt).collect();
        self.salts.write(batch.size_before, &salts)?;
        self.write_objects(&batch.pieces, &batch.tiles)?;
        let mut pairs = Vec::with_capacity(batch.leaves.len() * 3 + 1);
        for (offset, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.size_before + offset as u64;
            pairs.push((key(P_ID, &[leaf.leaf_hash.as_bytes()]), index.to_be_bytes().to_vec()));
            pairs.push((content_key(P_CONTENT, &leaf.content_sha256, index), Vec::new()));
            if let Some(norm) = &leaf.normalized_text_sha256 {
                pairs.push((content_key(P_TEXT, norm, index), Vec::new()));
            }
        }
        pairs.push((meta_key(META_SIZE), batch.new_size().to_be_bytes().to_vec()));
        self.put_all(pairs)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Files first: a crash before the durable commit leaves at worst bytes past the
        // durable size, never a durable size whose tiles, entries or salts were lost.
        self.salts.sync()?;
        self.files.sync()?;
        self.keyspace.persist(PersistMode::SyncData).map_err(db)?;
        self.sled.flush()?;
        Ok(())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_tile(tile)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_bundle(bundle)
    }

    fn read_bundle_range(&self, bundle: BundleId, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_bundle_range(bundle, start, len)
    }

    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError> {
        match self.get(&key(P_ID, &[leaf_hash.as_bytes()]))? {
            Some(v) => Ok(Some(LogIndex(u64_from(&v)?))),
            None => Ok(None),
        }
    }

    fn find_by_content(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        self.find(P_CONTENT, digest, limit)
    }

    fn find_by_normalized_text(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        self.find(P_TEXT, digest, limit)
    }

    fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError> {
        self.salts.get(index)
    }

    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError> {
        self.salts.erase(index)
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

    fn backup(&self, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError> {
        let sled = open_db(dir)?;
        // The service's own trees (tokens, the erasure register) are copied whole.
        for name in self.sled.tree_names() {
            copy_tree(&self.sled.open_tree(&name)?, &sled.open_tree(&name)?)?;
        }
        let to = LocalStore::open(&sled, dir)?;
        // Tiles and bundles as they were at `size`: right-edge ones cut to their width then.
        self.files.backup(&to.files, size)?;
        // The index entries of leaves below `size`, from one snapshot while appends go on.
        let mut pending: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for item in self.index.snapshot().iter() {
            let (k, v) = item.map_err(db)?;
            let keep = match k.first() {
                Some(&P_ID) => u64_from(&v)? < size,
                Some(&P_CONTENT | &P_TEXT) => content_key_index(&k)? < size,
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

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(&meta_key(name))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put_all([(meta_key(name), value.to_vec())])?;
        self.keyspace.persist(PersistMode::SyncData).map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{merkle, write_leaves, NewLeaf};

    #[test]
    fn lookups_find_the_newest_leaves_first_and_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let sled = open_db(dir.path()).unwrap();
        let store = LocalStore::open(&sled, dir.path()).unwrap();
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
                    prompt_salt: None,
                }
            })
            .collect();
        for (i, leaf) in leaves.iter().enumerate() {
            write_leaves(&store, i as u64, &[leaf]).unwrap();
        }
        let found = |limit| store.find_by_content(&same, limit).unwrap();
        assert_eq!(found(10), vec![LogIndex(4), LogIndex(2), LogIndex(0)]);
        assert_eq!(found(2), vec![LogIndex(4), LogIndex(2)]);
        assert_eq!(store.find_by_normalized_text(&same, 10).unwrap(), vec![LogIndex(3)]);
        assert_eq!(store.find_by_content(&Sha256Digest::of(b"never"), 10).unwrap(), vec![]);
        assert_eq!(store.index_of(&leaves[3].leaf_hash).unwrap(), Some(LogIndex(3)));
    }
}
