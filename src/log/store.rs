//! Durable storage of the provenance log, behind [`LogStore`] so that a second backend
//! (a distributed database, DESIGN §7) can replace sled without touching the log logic.
//!
//! The sled backend keeps everything that must change together in ONE tree (`log`),
//! under one-byte key prefixes, because sled applies a `Batch` atomically only within a
//! tree: a crash leaves either the whole append batch (leaves, Merkle nodes, indexes,
//! new size) or none of it. Prompt salts live in a database of their own
//! ([`SaltStore`]) precisely because they must be erasable for good (DESIGN §4).
//!
//! Layout of a data directory: `log/` (the sled database of the log, tokens and the
//! erasure register) and `salts-<n>/` with `salts.current` (the salt store).

use std::path::Path;

use crate::merkle::{NodeId, NodeSource};
use crate::receipt::LogIndex;
use crate::salts::{SaltError, SaltStore};
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
    /// A value of the log's own settings (origin, ...).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
}

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

/// The embedded sled backend.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    log: sled::Tree,
    salts: std::sync::Arc<SaltStore>,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// # Errors
    /// When sled cannot open the directory (missing permissions, another process holds it).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir.join("log")).open()?;
        let log = db.open_tree("log")?;
        let salts = std::sync::Arc::new(SaltStore::open(dir)?);
        Ok(Self { db, log, salts })
    }

    /// The underlying database, for the parts of the service that keep their own trees
    /// (issuer tokens).
    pub fn db(&self) -> &sled::Db {
        &self.db
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

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(key(P_META, &[name.as_bytes()]))?.map(|v| v.to_vec()))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.log.insert(key(P_META, &[name.as_bytes()]), value)?;
        Ok(())
    }
}
