//! [`LogReader`]: read-only access to a stored log, for the offline audit. It starts no
//! integration loop and signs nothing, so it needs no keys.

use std::sync::Arc;

use crate::log::merkle::{NodeId, NodeSource};
use crate::log::store::{StoreTiles, StoredNodes};
use crate::log::{LogIndex, LogStore, StoreError};
use crate::Sha256Digest;

/// A stored log, opened for reading.
pub struct LogReader {
    store: Arc<dyn LogStore>,
}

impl LogReader {
    /// Reads the log of `store` (a backend's, `crate::storage::open_reader`).
    pub fn on(store: Arc<dyn LogStore>) -> Self {
        Self { store }
    }

    /// Number of leaves stored.
    pub fn size(&self) -> Result<u64, StoreError> {
        self.store.size()
    }

    /// The origin line the log was created for, if it was ever opened by a service.
    pub fn origin(&self) -> Result<Option<String>, StoreError> {
        Ok(self.store.meta("origin")?.map(|o| String::from_utf8_lossy(&o).into_owned()))
    }

    pub fn leaf(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.read_entry(index)
    }

    /// The newest stored checkpoint, as signed-note text.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        self.store.latest_checkpoint()
    }
}

impl NodeSource for LogReader {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        StoredNodes(StoreTiles(self.store.as_ref())).node(id)
    }
}
