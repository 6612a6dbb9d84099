//! The embedded backend of [`LogStore`]: the content index and the tree state in one
//! sled tree; hash tiles and entry bundles as files ([`TileFiles`]); prompt salts in
//! segment files ([`SaltStore`]).
//!
//! The sled tree `log` holds small keys only, under one-byte prefixes:
//!
//! | key | value |
//! | --- | --- |
//! | `I` leaf hash | the leaf's index (8, big-endian) |
//! | `S` content hash, index | nothing: the exact-content index |
//! | `T` normalised text hash, index | nothing: the normalised-text index |
//! | `M` name | tree size, latest checkpoint, origin, storage format |
//!
//! A batch writes its tiles, bundle entries and salts to their files, then its index
//! keys and the new size as one sled batch: that batch is the commit point (sled applies
//! a batch atomically), and what the files hold past the committed size is never read
//! and is overwritten by the next batch. A sync syncs the files first, then sled. The
//! cost of a batch does not grow with the log; sled's cache is bounded
//! ([`CACHE_BYTES`]), and so is memory.

use std::path::Path;

use crate::log::files::TileFiles;
use crate::log::salts::SaltStore;
use crate::log::store::{Batch, BundlePiece, LogStore, StoreError, STORAGE_FORMAT};
use crate::log::tiles::{BundleId, Tile, TileId};
use crate::log::LogIndex;
use crate::Sha256Digest;

pub(super) const P_ID: u8 = b'I';
pub(super) const P_CONTENT: u8 = b'S';
pub(super) const P_TEXT: u8 = b'T';
pub(super) const P_META: u8 = b'M';
pub(super) const META_SIZE: &str = "size";
pub(super) const META_CHECKPOINT: &str = "checkpoint";
pub(super) const META_FORMAT: &str = "format";
/// sled's page cache: what the store keeps in memory however large the log grows.
pub(super) const CACHE_BYTES: u64 = 64 << 20;

pub(super) fn key(prefix: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.iter().map(|r| r.len()).sum::<usize>());
    k.push(prefix);
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

pub(super) fn meta_key(name: &str) -> Vec<u8> {
    key(P_META, &[name.as_bytes()])
}

pub(super) fn u64_from(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("expected an 8-byte integer, found {} bytes", bytes.len())))
}

/// Opens (or creates) the sled database of data directory `dir`: the log's tree and the
/// service's own trees (issuer tokens, erasure register) live in it.
///
/// # Errors
/// When sled cannot open the directory (missing permissions, another process holds it).
pub fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    Ok(sled::Config::new().path(dir.join("log")).cache_capacity(CACHE_BYTES).open()?)
}

/// The embedded sled backend.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    log: sled::Tree,
    files: std::sync::Arc<TileFiles>,
    salts: std::sync::Arc<SaltStore>,
}

impl SledStore {
    /// The log's store in `db` (from [`open_db`]), with its salts in `dir`. A new
    /// directory gets the current storage format; one of another format is refused.
    ///
    /// # Errors
    /// [`StoreError::Format`] for a log of another storage format; sled or I/O errors.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Self, StoreError> {
        let log = db.open_tree("log")?;
        match stored_format(&log)? {
            Some(STORAGE_FORMAT) => {}
            None if log.is_empty() => {
                log.insert(meta_key(META_FORMAT), &STORAGE_FORMAT.to_be_bytes()[..])?;
            }
            found => {
                let found = found.unwrap_or(1);
                return Err(StoreError::Format {
                    dir: dir.display().to_string(),
                    found,
                    what: if found < STORAGE_FORMAT {
                        "Stop the service, back the directory up, and run `aiprov migrate --data <dir>` once."
                    } else {
                        "It was written by a newer aiprov: run that version."
                    },
                });
            }
        }
        let salts = std::sync::Arc::new(SaltStore::open(dir)?);
        let files = std::sync::Arc::new(TileFiles::open(dir)?);
        Ok(Self { db: db.clone(), log, files, salts })
    }

    fn find(&self, prefix: u8, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        let p = key(prefix, &[digest.as_bytes()]);
        let mut out = Vec::new();
        for item in self.log.scan_prefix(&p).keys().rev().take(limit) {
            let k = item?;
            out.push(LogIndex(u64_from(&k[p.len()..])?));
        }
        Ok(out)
    }

    /// Writes bundle pieces and tiles to their files: part of the log once a sled
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

    /// The sled tree of the log (for the migration, which writes it below the store).
    pub(super) fn tree(&self) -> &sled::Tree {
        &self.log
    }

    pub(super) fn salt_store(&self) -> &SaltStore {
        &self.salts
    }
}

/// The storage format a log tree says it has: `Some(1)` for a tree of format 1, which
/// had no marker but a size.
pub(super) fn stored_format(log: &sled::Tree) -> Result<Option<u64>, StoreError> {
    if let Some(v) = log.get(meta_key(META_FORMAT))? {
        return Ok(Some(u64_from(&v)?));
    }
    Ok(log.get(meta_key(META_SIZE))?.map(|_| 1))
}

/// Copies every entry of `from` into `to`, in batches.
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

/// Entries copied per sled batch when writing a backup: bounds its memory.
const BACKUP_BATCH: usize = 10_000;

impl LogStore for SledStore {
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
        // Salts first: should the log batch not land, a slot past the size commits to
        // nothing and is overwritten by the leaf that takes its index.
        let salts: Vec<Option<[u8; 32]>> = batch.leaves.iter().map(|l| l.prompt_salt).collect();
        self.salts.write(batch.size_before, &salts)?;
        self.write_objects(&batch.pieces, &batch.tiles)?;
        let mut b = sled::Batch::default();
        for (offset, leaf) in batch.leaves.iter().enumerate() {
            let index = (batch.size_before + offset as u64).to_be_bytes();
            b.insert(key(P_ID, &[leaf.leaf_hash.as_bytes()]), &index[..]);
            b.insert(key(P_CONTENT, &[leaf.content_sha256.as_bytes(), &index]), &[][..]);
            if let Some(norm) = &leaf.normalized_text_sha256 {
                b.insert(key(P_TEXT, &[norm.as_bytes(), &index]), &[][..]);
            }
        }
        b.insert(meta_key(META_SIZE), &batch.new_size().to_be_bytes()[..]);
        self.log.apply_batch(b)?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Files first: a crash before sled's flush leaves at worst bytes past the durable
        // size, never a durable size whose tiles, entries or salts were lost.
        self.salts.sync()?;
        self.files.sync()?;
        self.db.flush()?;
        Ok(())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_tile(tile)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_bundle(bundle)
    }

    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError> {
        match self.log.get(key(P_ID, &[leaf_hash.as_bytes()]))? {
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
        Ok(self.salts.get(index)?)
    }

    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError> {
        Ok(self.salts.erase(index)?)
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
        // Not flushed on purpose: a checkpoint can always be re-signed from the durable
        // tree at startup, so it need not cost an fsync of its own.
        self.set_meta(META_CHECKPOINT, note.as_bytes())
    }

    fn backup(&self, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError> {
        let db = open_db(dir)?;
        // The service's own trees (tokens, the erasure register) are copied whole.
        for name in self.db.tree_names() {
            if name != self.log.name() {
                copy_tree(&self.db.open_tree(&name)?, &db.open_tree(&name)?)?;
            }
        }
        let to = SledStore::open(&db, dir)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0usize;
        let flush = |batch: &mut sled::Batch, pending: &mut usize, force: bool| -> Result<(), StoreError> {
            if force || *pending >= BACKUP_BATCH {
                to.log.apply_batch(std::mem::take(batch))?;
                *pending = 0;
            }
            Ok(())
        };
        // Tiles and bundles as they were at `size`: right-edge ones cut to their width then.
        self.files.backup(&to.files, size)?;
        // The index entries of leaves below `size`.
        for prefix in [P_ID, P_CONTENT, P_TEXT] {
            for item in self.log.scan_prefix([prefix]) {
                let (k, v) = item?;
                let index = if prefix == P_ID { u64_from(&v)? } else { u64_from(k.get(1 + 32..).unwrap_or_default())? };
                if index < size {
                    batch.insert(k, v);
                    pending += 1;
                    flush(&mut batch, &mut pending, false)?;
                }
            }
        }
        for item in self.log.scan_prefix([P_META]) {
            let (k, v) = item?;
            batch.insert(k, v);
        }
        batch.insert(meta_key(META_SIZE), &size.to_be_bytes()[..]);
        batch.insert(meta_key(META_CHECKPOINT), checkpoint.as_bytes());
        flush(&mut batch, &mut pending, true)?;
        self.salts.backup(dir, size)?;
        db.flush()?;
        Ok(())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(meta_key(name))?.map(|v| v.to_vec()))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.log.insert(meta_key(name), value)?;
        Ok(())
    }
}
