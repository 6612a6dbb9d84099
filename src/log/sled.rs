//! The embedded backend of [`LogStore`]: one sled tree for the log, a salt store apart.
//!
//! Everything that must change together lives in ONE tree (`log`), under one-byte key
//! prefixes, because sled applies a `Batch` atomically only within a tree: a crash
//! leaves either the whole append batch (leaves, Merkle nodes, indexes, new size) or
//! none of it. Prompt salts live in a database of their own ([`SaltStore`]) precisely
//! because they must be erasable for good (docs/contract.md §4).

use std::path::Path;

use crate::log::merkle::{NodeId, NodeSource};
use crate::log::salts::SaltStore;
use crate::log::store::{LogStore, NewLeaf, StoreError};
use crate::log::LogIndex;
use crate::Sha256Digest;

const P_LEAF: u8 = b'L';
const P_NODE: u8 = b'N';
const P_ID: u8 = b'I';
const P_CONTENT: u8 = b'S';
const P_TEXT: u8 = b'T';
const P_META: u8 = b'M';
const META_SIZE: &str = "size";
const META_CHECKPOINT: &str = "checkpoint";

fn key(prefix: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.iter().map(|r| r.len()).sum::<usize>());
    k.push(prefix);
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

fn u64_from(bytes: &[u8]) -> Result<u64, StoreError> {
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
    Ok(sled::Config::new().path(dir.join("log")).open()?)
}

/// The embedded sled backend.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    log: sled::Tree,
    salts: std::sync::Arc<SaltStore>,
}

impl SledStore {
    /// The log's store in `db` (from [`open_db`]), with its salts in `dir`.
    ///
    /// # Errors
    /// When sled or the salt store cannot be opened.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Self, StoreError> {
        let log = db.open_tree("log")?;
        let salts = std::sync::Arc::new(SaltStore::open(dir)?);
        Ok(Self { db: db.clone(), log, salts })
    }

    /// Copies the log tree `from` into `to` as it was at `size` leaves with `checkpoint`,
    /// and the salts of the stamps it keeps into `salts`.
    fn copy_log(
        &self,
        (from, to): (&sled::Tree, &sled::Tree),
        salts: &SaltStore,
        size: u64,
        checkpoint: &str,
    ) -> Result<(), StoreError> {
        let mut pending: Vec<(Sha256Digest, [u8; 32])> = Vec::new();
        let store_salts = |pending: &mut Vec<(Sha256Digest, [u8; 32])>| {
            salts.insert_all(pending.iter().map(|(id, salt)| (id, salt)))?;
            pending.clear();
            Ok::<_, StoreError>(())
        };
        copy_tree(from, to, |k, v| {
            if !within(k, v, size)? {
                return Ok(false);
            }
            if k.first() == Some(&P_ID) {
                let id = Sha256Digest::try_from_slice(&k[1..])
                    .map_err(|e| StoreError::Corrupt(format!("a stamp id key: {e}")))?;
                if let Some(salt) = self.salts.get(&id)? {
                    pending.push((id, salt));
                }
                if pending.len() == BACKUP_BATCH {
                    store_salts(&mut pending)?;
                }
            }
            Ok(true)
        })?;
        store_salts(&mut pending)?;
        // The copy may have caught a newer size and checkpoint than these: set them.
        to.insert(key(P_META, &[META_SIZE.as_bytes()]), &size.to_be_bytes()[..])?;
        to.insert(key(P_META, &[META_CHECKPOINT.as_bytes()]), checkpoint.as_bytes())?;
        Ok(())
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
}

/// Entries copied per sled batch when writing a backup: bounds its memory.
const BACKUP_BATCH: usize = 10_000;

/// Copies the entries of `from` that `keep` accepts into `to`, in batches.
fn copy_tree(
    from: &sled::Tree,
    to: &sled::Tree,
    mut keep: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut count = 0;
    for item in from.iter() {
        let (k, v) = item?;
        if keep(&k, &v)? {
            batch.insert(k, v);
            count += 1;
            if count == BACKUP_BATCH {
                to.apply_batch(std::mem::take(&mut batch))?;
                count = 0;
            }
        }
    }
    to.apply_batch(batch)?;
    Ok(())
}

/// Whether the log tree's entry `k`, `v` belongs to the tree of the first `size` leaves.
/// Settings (`P_META`) always do.
fn within(k: &[u8], v: &[u8], size: u64) -> Result<bool, StoreError> {
    let index = match k.first() {
        Some(&P_LEAF) => u64_from(&k[1..])?,
        Some(&P_ID) => u64_from(v)?,
        // Prefix, digest, then the index.
        Some(&P_CONTENT | &P_TEXT) => u64_from(k.get(1 + 32..).unwrap_or_default())?,
        Some(&P_NODE) => {
            let id = NodeId::from_key(&k[1..]).ok_or_else(|| StoreError::Corrupt("a Merkle node key".into()))?;
            // A node is the hash of leaves [index << level, (index + 1) << level).
            return Ok((u128::from(id.index) + 1) << id.level <= u128::from(size));
        }
        _ => return Ok(true),
    };
    Ok(index < size)
}

impl NodeSource for SledStore {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        let k = key(P_NODE, &[&id.to_key()]);
        let v = self.log.get(k)?.ok_or_else(|| StoreError::Corrupt(format!("Merkle node {id:?} is missing")))?;
        Sha256Digest::try_from_slice(&v).map_err(|e| StoreError::Corrupt(format!("Merkle node {id:?}: {e}")))
    }
}

impl LogStore for SledStore {
    fn size(&self) -> Result<u64, StoreError> {
        match self.meta(META_SIZE)? {
            Some(v) => u64_from(&v),
            None => Ok(0),
        }
    }

    fn write(&self, size_before: u64, leaves: &[&NewLeaf], nodes: &[(NodeId, Sha256Digest)]) -> Result<(), StoreError> {
        let stored = self.size()?;
        if stored != size_before {
            return Err(StoreError::Corrupt(format!("append at {size_before} but the log holds {stored} leaves")));
        }
        // Salts first: should the log batch not land, an orphan salt commits to nothing.
        self.salts.insert_all(leaves.iter().filter_map(|l| Some((&l.leaf_hash, l.prompt_salt.as_ref()?))))?;
        let mut batch = sled::Batch::default();
        for (offset, leaf) in leaves.iter().enumerate() {
            let index = (size_before + offset as u64).to_be_bytes();
            batch.insert(key(P_LEAF, &[&index]), leaf.leaf.as_slice());
            batch.insert(key(P_ID, &[leaf.leaf_hash.as_bytes()]), &index[..]);
            batch.insert(key(P_CONTENT, &[leaf.content_sha256.as_bytes(), &index]), &[][..]);
            if let Some(norm) = &leaf.normalized_text_sha256 {
                batch.insert(key(P_TEXT, &[norm.as_bytes(), &index]), &[][..]);
            }
        }
        for (id, hash) in nodes {
            batch.insert(key(P_NODE, &[&id.to_key()]), &hash.as_bytes()[..]);
        }
        let new_size = size_before + leaves.len() as u64;
        batch.insert(key(P_META, &[META_SIZE.as_bytes()]), &new_size.to_be_bytes()[..]);
        self.log.apply_batch(batch)?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Salts live in a database of their own (they must be erasable for good), so this
        // is two flushes. Salts first: a crash between them leaves at worst an orphan salt
        // that commits to nothing, never a durable leaf whose salt was lost.
        self.salts.flush()?;
        self.db.flush()?;
        Ok(())
    }

    fn leaf(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(key(P_LEAF, &[&index.0.to_be_bytes()]))?.map(|v| v.to_vec()))
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

    fn prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self.salts.get(leaf_hash)?)
    }

    fn erase_prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<bool, StoreError> {
        Ok(self.salts.erase(leaf_hash)?)
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
        let salts = SaltStore::open(dir)?;
        // Every tree of the database: the log's, and the service's own (tokens, the
        // erasure register), which are copied whole.
        for name in self.db.tree_names() {
            let (from, to) = (self.db.open_tree(&name)?, db.open_tree(&name)?);
            if name == self.log.name() {
                self.copy_log((&from, &to), &salts, size, checkpoint)?;
            } else {
                copy_tree(&from, &to, |_, _| Ok(true))?;
            }
        }
        salts.flush()?;
        db.flush()?;
        Ok(())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(key(P_META, &[name.as_bytes()]))?.map(|v| v.to_vec()))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.log.insert(key(P_META, &[name.as_bytes()]), value)?;
        Ok(())
    }
}
