//! The erasure register: one durable record per erased prompt link (when, which stamp,
//! by whom), so the operator can show a data-protection authority what was erased.
//! It holds no personal data itself: stamp ids, issuer names and token ids.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::log::StoreError;
use crate::records::tokens::TokenId;
use crate::statement::receipt::StampId;
use crate::statement::IssuerName;
use crate::storage::ErasureTable;
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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a register record is damaged: {0}")]
    Corrupt(String),
}

/// The register, in whichever table the backend keeps it.
#[derive(Clone)]
pub(crate) struct ErasureRegister {
    table: Arc<dyn ErasureTable>,
}

fn decode(value: &str) -> Result<ErasureRecord, RegisterError> {
    serde_json::from_str(value).map_err(|e| RegisterError::Corrupt(e.to_string()))
}

impl ErasureRegister {
    /// The register in `table`.
    pub(crate) fn on(table: Arc<dyn ErasureTable>) -> Self {
        Self { table }
    }

    /// Appends a record durably.
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn record(&self, record: &ErasureRecord) -> Result<(), RegisterError> {
        let value = serde_json::to_string(record).map_err(|e| RegisterError::Corrupt(e.to_string()))?;
        Ok(self.table.append(&record.stamp_id.to_string(), value)?)
    }

    /// How many prompt links were ever erased.
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn count(&self) -> Result<u64, RegisterError> {
        Ok(self.table.count()?)
    }

    /// Every record, oldest first.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub(crate) fn list(&self) -> Result<Vec<ErasureRecord>, RegisterError> {
        self.table.list(None)?.iter().map(|v| decode(v)).collect()
    }

    /// The record of stamp `id`, if its prompt link was erased.
    ///
    /// # Errors
    /// As [`ErasureRegister::list`].
    pub(crate) fn find(&self, id: &StampId) -> Result<Option<ErasureRecord>, RegisterError> {
        let found = self.table.list(Some(&id.to_string()))?;
        Ok(found.iter().map(|v| decode(v)).collect::<Result<Vec<_>, _>>()?.into_iter().find(|r| &r.stamp_id == id))
    }
}
