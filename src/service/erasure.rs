//! The erasure register: one durable record per erased prompt link (when, which stamp,
//! by whom), so the operator can show a data-protection authority what was erased.
//! It holds no personal data itself: stamp ids, issuer names and token ids.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::service::tokens::TokenId;
use crate::statement::receipt::StampId;
use crate::statement::IssuerName;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    pub stamp_id: StampId,
    pub erased_at: Timestamp,
    /// The issuer name of the token that asked.
    pub erased_by: IssuerName,
    pub token_id: TokenId,
    /// Whether an admin token asked (on behalf of a data subject or the operator).
    pub admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("a register record is damaged: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub struct ErasureRegister {
    tree: sled::Tree,
    /// Held while a record is appended, so two erasures never take the same key.
    append: Arc<Mutex<()>>,
}

impl ErasureRegister {
    /// # Errors
    /// When the tree cannot be opened.
    pub fn open(db: &sled::Db) -> Result<Self, RegisterError> {
        Ok(Self { tree: db.open_tree("erasure_register")?, append: Arc::default() })
    }

    /// Appends a record durably.
    ///
    /// # Errors
    /// On storage failure.
    pub fn record(&self, record: &ErasureRecord) -> Result<(), RegisterError> {
        let _append = self.append.lock().unwrap_or_else(|e| e.into_inner());
        // Big-endian keys, each one past the last, keep the register in order. Not sled's
        // `generate_id`: its counter belongs to the database, and a restored backup (a new
        // database holding the old records) would start it again below their keys.
        let next = match self.tree.last()? {
            Some((k, _)) => <[u8; 8]>::try_from(&k[..])
                .map(|k| u64::from_be_bytes(k) + 1)
                .map_err(|_| RegisterError::Corrupt("a register key is not 8 bytes".into()))?,
            None => 0,
        };
        let value = serde_json::to_vec(record).map_err(|e| RegisterError::Corrupt(e.to_string()))?;
        self.tree.insert(next.to_be_bytes(), value)?;
        self.tree.flush()?;
        Ok(())
    }

    /// How many prompt links were ever erased.
    pub fn count(&self) -> u64 {
        self.tree.len() as u64
    }

    /// Every record, oldest first.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub fn list(&self) -> Result<Vec<ErasureRecord>, RegisterError> {
        self.tree
            .iter()
            .values()
            .map(|v| serde_json::from_slice(&v?).map_err(|e| RegisterError::Corrupt(e.to_string())))
            .collect()
    }

    /// The record of stamp `id`, if its prompt link was erased.
    ///
    /// # Errors
    /// As [`ErasureRegister::list`].
    pub fn find(&self, id: &StampId) -> Result<Option<ErasureRecord>, RegisterError> {
        Ok(self.list()?.into_iter().find(|r| &r.stamp_id == id))
    }
}
