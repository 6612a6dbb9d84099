//! The service's own tables in the data directory's sled database: issuer tokens and
//! the erasure register, a tree each (`issuer_tokens`, `erasure_register`). Each write
//! is flushed before it returns: these are few and must never be lost.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::store::sled_error;
use crate::log::StoreError;
use crate::storage::{ErasureTable, TokenTable};
use crate::Sha256Digest;

/// The tree names, as earlier versions created them.
const TOKENS: &str = "issuer_tokens";
const ERASURES: &str = "erasure_register";

fn text(value: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(value.to_vec()).map_err(|_| StoreError::Corrupt("a stored record is not UTF-8".into()))
}

fn digest(key: &[u8]) -> Result<Sha256Digest, StoreError> {
    Sha256Digest::try_from_slice(key).map_err(|e| StoreError::Corrupt(format!("a token key: {e}")))
}

pub(crate) struct SledTokens(sled::Tree);

impl SledTokens {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        db.open_tree(TOKENS).map(Self).map_err(sled_error)
    }

    fn put(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError> {
        self.0.insert(hash.as_bytes(), record.into_bytes()).map_err(sled_error)?;
        self.0.flush().map_err(sled_error)?;
        Ok(())
    }
}

impl TokenTable for SledTokens {
    fn insert(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError> {
        self.put(hash, record)
    }

    fn update(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError> {
        self.put(hash, record)
    }

    fn get(&self, hash: &Sha256Digest) -> BoxFuture<'static, Result<Option<String>, StoreError>> {
        // A lookup in memory or the page cache: answered at once.
        let found = self.0.get(hash.as_bytes()).map_err(sled_error).and_then(|v| v.map(|v| text(&v)).transpose());
        Box::pin(std::future::ready(found))
    }

    fn all(&self) -> Result<Vec<(Sha256Digest, String)>, StoreError> {
        self.0
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(sled_error)?;
                Ok((digest(&k)?, text(&v)?))
            })
            .collect()
    }

    fn by_prefix(&self, prefix: &[u8]) -> Result<Option<(Sha256Digest, String)>, StoreError> {
        match self.0.scan_prefix(prefix).next() {
            Some(item) => {
                let (k, v) = item.map_err(sled_error)?;
                Ok(Some((digest(&k)?, text(&v)?)))
            }
            None => Ok(None),
        }
    }
}

pub(crate) struct SledErasures {
    tree: sled::Tree,
    /// Held while a record is appended, so two erasures never take the same key.
    append: Arc<Mutex<()>>,
}

impl SledErasures {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self { tree: db.open_tree(ERASURES).map_err(sled_error)?, append: Arc::default() })
    }
}

impl ErasureTable for SledErasures {
    fn append(&self, _stamp_id: &str, record: String) -> Result<(), StoreError> {
        let _append = self.append.lock().unwrap_or_else(|e| e.into_inner());
        // Big-endian keys, each one past the last, keep the register in order. Not sled's
        // `generate_id`: its counter belongs to the database, and a restored backup (a new
        // database holding the old records) would start it again below their keys.
        let next = match self.tree.last().map_err(sled_error)? {
            Some((k, _)) => <[u8; 8]>::try_from(&k[..])
                .map(|k| u64::from_be_bytes(k) + 1)
                .map_err(|_| StoreError::Corrupt("a register key is not 8 bytes".into()))?,
            None => 0,
        };
        self.tree.insert(next.to_be_bytes(), record.into_bytes()).map_err(sled_error)?;
        self.tree.flush().map_err(sled_error)?;
        Ok(())
    }

    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.tree.len() as u64)
    }

    fn list(&self, stamp_id: Option<&str>) -> Result<Vec<String>, StoreError> {
        let mut records = Vec::new();
        for value in self.tree.iter().values() {
            let record = text(&value.map_err(sled_error)?)?;
            // Records are few (one per erasure): a scan is cheaper than an index to keep.
            let wanted = stamp_id.is_none_or(|id| {
                serde_json::from_str::<serde_json::Value>(&record)
                    .is_ok_and(|v| v.get("stamp_id").and_then(|s| s.as_str()) == Some(id))
            });
            if wanted {
                records.push(record);
            }
        }
        Ok(records)
    }
}
