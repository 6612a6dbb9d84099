//! Online backups of a data directory: a consistent copy as a checkpoint has it, taken
//! while appends go on, that `aiprov serve --data` opens as it is.

use std::path::Path;

use super::store::{open_db, sled_error, LocalStore, BACKUP_BATCH};
use crate::log::StoreError;
use crate::storage::Backup;

pub(super) struct LocalBackup {
    pub(super) store: LocalStore,
    /// The service's own tables, copied whole.
    pub(super) db: sled::Db,
}

impl Backup for LocalBackup {
    fn backup(&self, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError> {
        let sled = open_db(dir)?;
        for name in self.db.tree_names() {
            copy_tree(&self.db.open_tree(&name).map_err(sled_error)?, &sled.open_tree(&name).map_err(sled_error)?)?;
        }
        let to = LocalStore::open(dir)?;
        self.store.copy_to(&to, dir, size, checkpoint)?;
        sled.flush().map_err(sled_error)?;
        Ok(())
    }
}

/// Copies every entry of the sled tree `from` into `to`, in batches.
fn copy_tree(from: &sled::Tree, to: &sled::Tree) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for (count, item) in from.iter().enumerate() {
        let (k, v) = item.map_err(sled_error)?;
        batch.insert(k, v);
        if count % BACKUP_BATCH == BACKUP_BATCH - 1 {
            to.apply_batch(std::mem::take(&mut batch)).map_err(sled_error)?;
        }
    }
    to.apply_batch(batch).map_err(sled_error)?;
    Ok(())
}
