//! Where the log and the service's own records are kept. Each backend is a folder of
//! its own, and all of that backend is in it:
//!
//! - `local/`: the embedded default, files in the data directory (one process);
//! - `postgres/`: a PostgreSQL database that several nodes share.
//!
//! A backend implements small traits at the level of the objects it stores: the log's
//! ([`crate::log::LogStore`]: tiles, entries and bundles, tree state and checkpoint),
//! the content index ([`crate::log::ContentIndex`]), prompt salts
//! ([`crate::log::SaltStore`]), its part of extending the log
//! ([`crate::log::Sequencer`]: the lease, the transaction, stamps from other nodes), and
//! the service's tables ([`TokenTable`], [`ErasureTable`], [`RateBuckets`]). It hands
//! them over as one [`Storage`], which also says what it can do ([`Backups`],
//! [`Storage::remote_reads`]): the service asks, and never branches on which backend
//! it runs on. Batching, the tree, tiles, checkpoints and acknowledgements are the log's
//! (`crate::log::integrate`), the same for every backend.
//!
//! Adding a backend: a new folder with an `open` that returns a [`Storage`], and one arm
//! in [`open`] (docs/contract.md, "Adding a storage backend").

pub(crate) mod local;
pub(crate) mod postgres;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use tables::{ErasureTable, RateBuckets, TokenTable};

use crate::log::{BulkAppend, LogReader, LogStorage, StoreError};

/// Which backend, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded backend in this data directory.
    Local(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres(String),
}

impl Location {
    /// The database `url` when there is one, else the data directory `data`.
    pub fn new(data: &Path, database: Option<&str>) -> Self {
        match database {
            Some(url) => Self::Postgres(url.to_owned()),
            None => Self::Local(data.to_owned()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            // The URL without its password.
            Self::Postgres(url) => f.write_str(&postgres::redact(url)),
        }
    }
}

/// The service's own tables, as a backend keeps them.
#[derive(Clone)]
pub(crate) struct Tables {
    pub tokens: Arc<dyn TokenTable>,
    pub erasures: Arc<dyn ErasureTable>,
    /// Rate-limit buckets shared by every node; `None` where one process is the service.
    pub buckets: Option<Arc<dyn RateBuckets>>,
}

/// A consistent copy of the log (and the service's tables) at a checkpoint.
pub(crate) trait Backup: Send + Sync + 'static {
    /// Writes a copy of the data as it was at tree size `size` (whose signed checkpoint
    /// note is `checkpoint`) into the new directory `dir`, as a data directory this
    /// backend can open, while appends go on. `size` must be durable already. Leaves,
    /// tiles, index entries and salts past `size` are left out, so the copy is exactly
    /// the log of that checkpoint.
    ///
    /// # Errors
    /// On storage failure; `dir` may hold a partial copy then.
    fn backup(&self, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError>;
}

/// Whether the service can take backups itself.
#[derive(Clone)]
pub(crate) enum Backups {
    Online(Arc<dyn Backup>),
    /// It cannot: the sentence says what to do instead.
    Elsewhere(&'static str),
}

/// Everything a backend stores, opened.
pub(crate) struct Storage {
    pub log: LogStorage,
    pub tables: Tables,
    pub backups: Backups,
    /// Whether reads go over the network (a database server): a caller on an async
    /// worker then moves reads it can (proofs) off that worker.
    pub remote_reads: bool,
}

/// Opens (creating on first use) the backend at `location`. `checkpoint_key` seals
/// what a backend must keep secret outside the keys directory (prompt salts in a
/// database).
///
/// # Errors
/// When the backend cannot be reached or opened, or holds data it cannot read.
pub(crate) fn open(location: &Location, checkpoint_key: &ed25519_dalek::SigningKey) -> Result<Storage, StoreError> {
    match location {
        Location::Local(dir) => local::open(dir),
        Location::Postgres(url) => postgres::open(url, checkpoint_key),
    }
}

/// The service's tables at `location`, without the log (the token commands).
///
/// # Errors
/// As [`open`].
pub(crate) fn open_tables(location: &Location) -> Result<Tables, StoreError> {
    match location {
        Location::Local(dir) => local::open_tables(dir),
        Location::Postgres(url) => postgres::open_tables(url),
    }
}

/// The log at `location`, to append to in bulk with no service running (the load tool,
/// tests that need a large log). `checkpoint_key` as for [`open`].
///
/// # Errors
/// As [`open`].
pub fn open_bulk(location: &Location, checkpoint_key: &ed25519_dalek::SigningKey) -> Result<BulkAppend, StoreError> {
    Ok(BulkAppend::new(open(location, checkpoint_key)?.log))
}

/// The log at `location`, to read without keys (the offline audit).
///
/// # Errors
/// As [`open`].
pub fn open_reader(location: &Location) -> Result<LogReader, StoreError> {
    Ok(LogReader::on(match location {
        Location::Local(dir) => local::open_reader(dir)?,
        Location::Postgres(url) => postgres::open_reader(url)?,
    }))
}

/// This process's name among the nodes of a log (the sequencer lease, the statement keys'
/// rollout): host, process id and a random part, so that a restarted process never
/// mistakes its predecessor's lease or report for its own.
pub(crate) fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let mut random = [0u8; 4];
    let _ = getrandom::getrandom(&mut random);
    format!("{host}/{}/{}", std::process::id(), hex::encode(random))
}
