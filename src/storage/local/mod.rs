//! The embedded backend, for one machine: the log and the service's records in the data
//! directory, one process at a time (sled's lock).
//!
//! - `store`: [`LocalStore`], the log's objects, content index and tree state (tiles and
//!   bundles as files, the index in fjall, salts in segment files);
//! - `files`: tiles and bundles as files in the tlog-tiles layout;
//! - `salts`: erasable prompt salts in segment files;
//! - `sequencer`: the [`crate::log::Sequencer`] of a log one process owns;
//! - `tables`: issuer tokens and the erasure register in sled;
//! - `backup`: an online copy of the whole directory at a checkpoint;
//! - `migrate`: converts a data directory of storage format 1.

mod backup;
mod files;
mod migrate;
mod salts;
mod sequencer;
mod store;
mod tables;

use std::path::Path;
use std::sync::Arc;

pub(crate) use migrate::migrate;

use crate::log::{LogStorage, LogStore, StoreError};
use crate::storage::{Backups, Storage, Tables};
pub(crate) use sequencer::LocalSequencer;
pub(crate) use store::LocalStore;

/// Opens (or creates) the data directory `dir`: the log and the service's tables.
///
/// # Errors
/// When the directory cannot be created or opened (another process holds it), or holds
/// a log of another storage format.
pub(crate) fn open(dir: &Path) -> Result<Storage, StoreError> {
    let db = open_db(dir)?;
    migrate::refuse_format1(&db, dir)?;
    let store = LocalStore::open(dir)?;
    Ok(Storage {
        log: LogStorage {
            store: Arc::new(store.clone()),
            index: Arc::new(store.clone()),
            codes: Arc::new(store.clone()),
            salts: Arc::new(store.clone()),
            sequencer: Box::new(LocalSequencer::new(store.clone())),
        },
        tables: tables(&db)?,
        backups: Backups::Online(Arc::new(backup::LocalBackup { store, db })),
        remote_reads: false,
    })
}

/// The service's tables of data directory `dir`, without the log (token commands).
///
/// # Errors
/// As [`open`].
pub(crate) fn open_tables(dir: &Path) -> Result<Tables, StoreError> {
    tables(&open_db(dir)?)
}

/// The log of data directory `dir`, to read (the offline audit).
///
/// # Errors
/// As [`open`].
pub(crate) fn open_reader(dir: &Path) -> Result<Arc<dyn LogStore>, StoreError> {
    let db = open_db(dir)?;
    migrate::refuse_format1(&db, dir)?;
    Ok(Arc::new(LocalStore::open(dir)?))
}

fn tables(db: &sled::Db) -> Result<Tables, StoreError> {
    Ok(Tables {
        tokens: Arc::new(tables::SledTokens::open(db)?),
        erasures: Arc::new(tables::SledErasures::open(db)?),
        // One process: its buckets in memory are the service's.
        buckets: None,
    })
}

/// Opens (or creates) the data directory and its sled database.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    std::fs::create_dir_all(dir).map_err(crate::log::io_error(dir))?;
    store::open_db(dir).map_err(|e| {
        // sled refuses a second process with a lock error; say so only then.
        let hint = if e.to_string().contains("lock") { " (is another aiprov using it?)" } else { "" };
        StoreError::Unsupported(format!("opening the database in {}{hint}: {e}", dir.display()))
    })
}
