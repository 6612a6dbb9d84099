//! The embedded backend of [`LogStore`]: tiles, bundles, the content index and the tree
//! state in one sled tree; prompt salts in segment files apart ([`SaltStore`]).
//!
//! Everything that must change together lives in ONE tree (`log`), under one-byte key
//! prefixes, because sled applies a `Batch` atomically only within a tree: a crash
//! leaves either the whole append batch or none of it. Keys:
//!
//! | key | value |
//! | --- | --- |
//! | `H` level (1 byte) index (8, big-endian) | the widest row of that hash tile |
//! | `B` bundle (8) start (2) | a piece of an entry bundle: entries from `start` on |
//! | `F` bundle (8) | a full entry bundle (its pieces are removed in the same batch) |
//! | `I` leaf hash | the leaf's index (8) |
//! | `S` content hash, index | nothing: the exact-content index |
//! | `T` normalised text hash, index | nothing: the normalised-text index |
//! | `M` name | tree size, latest checkpoint, origin, storage format |
//!
//! A batch writes one piece per bundle it touches, the tiles it changes, three index
//! keys per leaf at most and the size: its cost does not grow with the log. sled's
//! cache is bounded ([`CACHE_BYTES`]), so neither is memory.

use std::path::Path;

use crate::log::salts::SaltStore;
use crate::log::store::{Batch, BundlePiece, LogStore, StoreError, STORAGE_FORMAT};
use crate::log::tiles::{self, BundleId, Tile, TileId, TILE_WIDTH};
use crate::log::LogIndex;
use crate::Sha256Digest;

const P_TILE: u8 = b'H';
const P_PIECE: u8 = b'B';
const P_FULL: u8 = b'F';
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

fn tile_key(tile: TileId) -> Vec<u8> {
    key(P_TILE, &[&[tile.level()], &tile.index().to_be_bytes()])
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
        Ok(Self { db: db.clone(), log, salts })
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

    /// Adds bundle pieces and tiles to `b`. A piece that completes its bundle is stored
    /// with the earlier pieces as one full bundle under one key, and they go: a full
    /// bundle is read with one lookup, and the tree keeps one key per bundle.
    pub(super) fn put_objects(
        &self,
        b: &mut sled::Batch,
        pieces: &[BundlePiece],
        tiles: &[Tile],
    ) -> Result<(), StoreError> {
        for piece in pieces {
            let bundle = piece.bundle.index().to_be_bytes();
            if piece.completes() {
                let mut full = if piece.start == 0 {
                    Vec::new()
                } else {
                    match self.read_pieces(piece.bundle)? {
                        Pieces::Contiguous(bytes) => bytes,
                        Pieces::None | Pieces::Gap => Vec::new(),
                    }
                };
                full.extend_from_slice(&piece.bytes);
                let entries = tiles::decode_bundle(&full).map_err(|e| StoreError::Corrupt(format!("{e}")))?.len();
                if entries != TILE_WIDTH {
                    return Err(StoreError::Corrupt(format!(
                        "bundle {} would hold {entries} entries",
                        piece.bundle.index()
                    )));
                }
                b.insert(key(P_FULL, &[&bundle]), full);
                for item in self.log.scan_prefix(key(P_PIECE, &[&bundle])).keys() {
                    b.remove(item?);
                }
            } else {
                b.insert(key(P_PIECE, &[&bundle, &piece.start.to_be_bytes()]), piece.bytes.as_slice());
            }
        }
        for tile in tiles {
            b.insert(tile_key(tile.id()), tile.as_bytes());
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

    /// The pieces of a bundle not yet full, concatenated.
    fn read_pieces(&self, bundle: BundleId) -> Result<Pieces, StoreError> {
        let prefix = key(P_PIECE, &[&bundle.index().to_be_bytes()]);
        let mut out = Vec::new();
        let mut entries = 0usize;
        for item in self.log.scan_prefix(&prefix) {
            let (k, v) = item?;
            let start = k.get(prefix.len()..).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes);
            let start = usize::from(start.ok_or_else(|| StoreError::Corrupt("a bundle piece key".into()))?);
            if start != entries {
                return Ok(Pieces::Gap);
            }
            entries += tiles::decode_bundle(&v).map_err(|e| StoreError::Corrupt(format!("{bundle:?}: {e}")))?.len();
            out.extend_from_slice(&v);
        }
        Ok(if out.is_empty() { Pieces::None } else { Pieces::Contiguous(out) })
    }
}

/// What the pieces of a bundle hold.
enum Pieces {
    None,
    Contiguous(Vec<u8>),
    /// A piece is missing from the start: merged into the full bundle meanwhile.
    Gap,
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
        let mut b = sled::Batch::default();
        for (offset, leaf) in batch.leaves.iter().enumerate() {
            let index = (batch.size_before + offset as u64).to_be_bytes();
            b.insert(key(P_ID, &[leaf.leaf_hash.as_bytes()]), &index[..]);
            b.insert(key(P_CONTENT, &[leaf.content_sha256.as_bytes(), &index]), &[][..]);
            if let Some(norm) = &leaf.normalized_text_sha256 {
                b.insert(key(P_TEXT, &[norm.as_bytes(), &index]), &[][..]);
            }
        }
        self.put_objects(&mut b, &batch.pieces, &batch.tiles)?;
        b.insert(meta_key(META_SIZE), &batch.new_size().to_be_bytes()[..]);
        self.log.apply_batch(b)?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Salts first: a crash between the two leaves at worst a salt past the durable
        // size, never a durable leaf whose salt was lost.
        self.salts.sync()?;
        self.db.flush()?;
        Ok(())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(tile_key(tile))?.map(|v| v.to_vec()))
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        // The batch that completes a bundle replaces its pieces by the full bundle; a
        // reader may see the pieces half removed, and then finds the full one on retry.
        let full_key = key(P_FULL, &[&bundle.index().to_be_bytes()]);
        for _ in 0..4 {
            if let Some(full) = self.log.get(&full_key)? {
                return Ok(Some(full.to_vec()));
            }
            match self.read_pieces(bundle)? {
                Pieces::Contiguous(bytes) => return Ok(Some(bytes)),
                Pieces::None if self.log.get(&full_key)?.is_none() => return Ok(None),
                Pieces::None | Pieces::Gap => {}
            }
        }
        Err(StoreError::Corrupt(format!("entry bundle {} has a gap", bundle.index())))
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
        for level in tiles::tiles_for_size(size) {
            for (tile, width) in level.tiles() {
                let row = self.read_tile(tile)?.ok_or_else(|| StoreError::Corrupt(format!("{tile} is missing")))?;
                let row = row.get(..width.byte_len()).ok_or_else(|| StoreError::Corrupt(format!("{tile} is short")))?;
                batch.insert(tile_key(tile), row);
                pending += 1;
                flush(&mut batch, &mut pending, false)?;
                if tile.level() == 0 {
                    let bundle =
                        BundleId::new(tile.index()).ok_or_else(|| StoreError::Corrupt("bundle index".into()))?;
                    let bytes = self
                        .read_bundle(bundle)?
                        .ok_or_else(|| StoreError::Corrupt(format!("{bundle:?} is missing")))?;
                    let cut = tiles::bundle_prefix(&bytes, usize::from(width.get()))
                        .map_err(|e| StoreError::Corrupt(format!("{bundle:?}: {e}")))?;
                    let k = if width.is_full() {
                        key(P_FULL, &[&bundle.index().to_be_bytes()])
                    } else {
                        key(P_PIECE, &[&bundle.index().to_be_bytes(), &0u16.to_be_bytes()])
                    };
                    batch.insert(k, cut);
                }
            }
        }
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
