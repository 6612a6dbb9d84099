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
    #[error(transparent)]
    Database(#[from] crate::pg::PgError),
    #[error("a register record is damaged: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub struct ErasureRegister {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sled {
        tree: sled::Tree,
        /// Held while a record is appended, so two erasures never take the same key.
        append: Arc<Mutex<()>>,
    },
    /// The database numbers records itself.
    Pg(crate::pg::tables::Erasures),
}

fn decode(value: &[u8]) -> Result<ErasureRecord, RegisterError> {
    serde_json::from_slice(value).map_err(|e| RegisterError::Corrupt(e.to_string()))
}

impl ErasureRegister {
    /// # Errors
    /// When the tree cannot be opened.
    pub fn open(db: &sled::Db) -> Result<Self, RegisterError> {
        Ok(Self { backend: Backend::Sled { tree: db.open_tree("erasure_register")?, append: Arc::default() } })
    }

    /// The register in the shared database `pg`.
    pub fn on(pg: crate::pg::Pg) -> Self {
        Self { backend: Backend::Pg(crate::pg::tables::Erasures(pg)) }
    }

    /// Appends a record durably.
    ///
    /// # Errors
    /// On storage failure.
    pub fn record(&self, record: &ErasureRecord) -> Result<(), RegisterError> {
        let value = serde_json::to_string(record).map_err(|e| RegisterError::Corrupt(e.to_string()))?;
        let (tree, append) = match &self.backend {
            Backend::Sled { tree, append } => (tree, append),
            Backend::Pg(table) => return Ok(table.append(record.stamp_id.to_string(), value)?),
        };
        let _append = append.lock().unwrap_or_else(|e| e.into_inner());
        // Big-endian keys, each one past the last, keep the register in order. Not sled's
        // `generate_id`: its counter belongs to the database, and a restored backup (a new
        // database holding the old records) would start it again below their keys.
        let next = match tree.last()? {
            Some((k, _)) => <[u8; 8]>::try_from(&k[..])
                .map(|k| u64::from_be_bytes(k) + 1)
                .map_err(|_| RegisterError::Corrupt("a register key is not 8 bytes".into()))?,
            None => 0,
        };
        tree.insert(next.to_be_bytes(), value.into_bytes())?;
        tree.flush()?;
        Ok(())
    }

    /// How many prompt links were ever erased.
    ///
    /// # Errors
    /// On storage failure.
    pub fn count(&self) -> Result<u64, RegisterError> {
        match &self.backend {
            Backend::Sled { tree, .. } => Ok(tree.len() as u64),
            Backend::Pg(table) => Ok(table.count()?),
        }
    }

    /// Every record, oldest first.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub fn list(&self) -> Result<Vec<ErasureRecord>, RegisterError> {
        match &self.backend {
            Backend::Sled { tree, .. } => tree.iter().values().map(|v| decode(&v?)).collect(),
            Backend::Pg(table) => table.list(None)?.iter().map(|v| decode(v.as_bytes())).collect(),
        }
    }

    /// The record of stamp `id`, if its prompt link was erased.
    ///
    /// # Errors
    /// As [`ErasureRegister::list`].
    pub fn find(&self, id: &StampId) -> Result<Option<ErasureRecord>, RegisterError> {
        match &self.backend {
            Backend::Sled { .. } => Ok(self.list()?.into_iter().find(|r| &r.stamp_id == id)),
            Backend::Pg(table) => table.list(Some(id.to_string()))?.first().map(|v| decode(v.as_bytes())).transpose(),
        }
    }
}
