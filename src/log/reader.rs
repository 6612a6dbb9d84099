//! [`LogReader`]: read-only access to a stored log, for the offline audit. It starts no
//! writer and signs nothing, so it needs no keys.

use std::path::Path;
use std::sync::Arc;

use crate::log::merkle::{NodeId, NodeSource};
use crate::log::store::StoredNodes;
use crate::log::tiles::{self, BundleId};
use crate::log::{LocalStore, LogIndex, LogStore, StoreError};
use crate::Sha256Digest;

/// A stored log, opened for reading.
pub struct LogReader {
    store: Arc<dyn LogStore>,
}

impl LogReader {
    /// Opens the log in the data directory `dir` (sled: one process at a time, so audit
    /// a copy while the server runs).
    ///
    /// # Errors
    /// When the directory cannot be opened as a log.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        let db = crate::log::open_db(dir)?;
        Ok(Self { store: Arc::new(LocalStore::open(&db, dir)?) })
    }

    /// Reads the log of `store` (the PostgreSQL backend, `crate::pg::PgStore::reader`).
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
        if let Some(read) = self.store.read_leaf(index) {
            return read;
        }
        let (bundle, position) = BundleId::containing(index.0);
        let Some(bytes) = self.store.read_bundle(bundle)? else { return Ok(None) };
        let entries = tiles::decode_bundle(&bytes).map_err(|e| StoreError::Corrupt(format!("{bundle:?}: {e}")))?;
        Ok(entries.get(position).map(|e| e.to_vec()))
    }

    /// The newest stored checkpoint, as signed-note text.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        self.store.latest_checkpoint()
    }
}

impl NodeSource for LogReader {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        StoredNodes(self.store.as_ref()).node(id)
    }
}
