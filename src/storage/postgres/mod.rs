//! The PostgreSQL backend: the log (tiles, entries, indexes, tree state, salts) and the
//! service's own tables (issuer tokens, erasure register, rate limits) in one database
//! that several `aiprov serve` processes share (docs/contract.md §7).
//!
//! - [`Pg`]: the connection pool, the schema check, and the bridge from the log's
//!   blocking calls to the async driver;
//! - `schema`: versioned migrations (`migrations/postgres/`), applied at start;
//! - `store`: `PgStore`, the log's objects, content index and salts, read by every node;
//! - `sequencer`: `PgSequencer`, the lease and its transactions, and the queue through
//!   which other nodes hand their stamps to the lease holder;
//! - `seal`: prompt salts sealed with a key kept in the keys directory;
//! - `tables`: issuer tokens, the erasure register and shared rate limits;
//! - `temp`: [`TempDatabase`], a database of its own for a test or a load run.
//!
//! The SQL is kept to what PostgreSQL, CockroachDB and YugabyteDB all accept: no advisory
//! locks, no LISTEN/NOTIFY; transactions that fail with a serialisation failure are
//! retried ([`retry`]).

mod schema;
mod seal;
pub(crate) mod sequencer;
mod store;
mod tables;
mod temp;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Pool, PoolConfig, Runtime, Timeouts};

pub(crate) use schema::SCHEMA_VERSION;
pub(crate) use seal::SaltSeal;
pub use temp::TempDatabase;

use crate::log::{LogStorage, LogStore, StoreError};
use crate::storage::{Backups, Storage, Tables};
use sequencer::PgSequencer;
use store::PgStore;

/// Opens the database at `url` (creating the schema in an empty one): the log, whose
/// prompt salts are sealed with a key derived from `checkpoint_key`, and the tables.
///
/// # Errors
/// When the database cannot be reached, or a newer aiprov migrated it.
pub(crate) fn open(url: &str, checkpoint_key: &ed25519_dalek::SigningKey) -> Result<Storage, StoreError> {
    let pg = Pg::connect(url)?;
    let seal = SaltSeal::from_checkpoint_key(checkpoint_key);
    let store = Arc::new(PgStore::new(pg.clone(), seal.clone()));
    Ok(Storage {
        log: LogStorage {
            store: store.clone(),
            index: store.clone(),
            codes: store.clone(),
            salts: store,
            sequencer: Box::new(PgSequencer::new(pg.clone(), super::node_name(), seal)),
        },
        tables: tables(&pg),
        backups: Backups::Elsewhere(
            "the log is in PostgreSQL: back it up with the database's own tools (pg_dump, base backups)",
        ),
        remote_reads: true,
    })
}

/// The service's tables in the database at `url`, without the log.
///
/// # Errors
/// As [`open`].
pub(crate) fn open_tables(url: &str) -> Result<Tables, StoreError> {
    Ok(tables(&Pg::connect(url)?))
}

/// The log in the database at `url`, to read without keys (the offline audit).
///
/// # Errors
/// As [`open`].
pub(crate) fn open_reader(url: &str) -> Result<Arc<dyn LogStore>, StoreError> {
    Ok(Arc::new(PgStore::reader(Pg::connect(url)?)))
}

fn tables(pg: &Pg) -> Tables {
    Tables {
        tokens: Arc::new(tables::Tokens::new(pg.clone())),
        erasures: Arc::new(tables::Erasures(pg.clone())),
        buckets: Some(Arc::new(tables::Buckets::new(pg.clone()))),
    }
}

/// Conflicts stay conflicts (the work may be run again); everything else is the
/// database's failure, kept as the source.
impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Conflict(why) => StoreError::Conflict(why),
            e => StoreError::backend("PostgreSQL", e),
        }
    }
}

/// Connections per process: enough for the HTTP workers' reads and the sequencer.
const POOL_SIZE: usize = 16;
/// How long a request waits for a connection, and a connection for the server, before
/// the database is reported unavailable (503), rather than hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a transaction that fails with a serialisation failure or deadlock.
const RETRIES: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    #[error("cannot reach the database {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error(
        "the database {url} is at schema version {found}, newer than this aiprov knows ({SCHEMA_VERSION}): \
         run the aiprov that migrated it, or a newer one"
    )]
    NewerSchema { url: String, found: i32 },
    #[error("{0} is not a PostgreSQL URL (postgres://user@host:port/database)")]
    BadUrl(String),
    #[error("database: {0}")]
    Query(String),
    /// A serialisation failure or deadlock: the transaction may simply be run again.
    #[error("database: {0} (a conflict between transactions; run it again)")]
    Conflict(String),
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_retryable(&e) {
            PgError::Conflict(describe(&e))
        } else {
            PgError::Query(describe(&e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        PgError::Query(format!("no database connection: {e}"))
    }
}

/// A driver error with the server's message when there is one (the driver's own
/// `Display` says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// The process's runtime for database I/O: the log calls the store from its own threads
/// and from HTTP workers, which cannot drive another runtime's futures themselves.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pg")
            .enable_all()
            .build()
            .expect("the database runtime starts (threads and a timer)")
    })
}

/// A database: its pool, and the runtime its connections run on. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Pg {
    pool: Pool,
    /// The URL without its password, for messages.
    url: String,
    /// Whether the server takes `SET LOCAL synchronous_commit TO OFF` (PostgreSQL and
    /// YugabyteDB; CockroachDB has no such setting): transactions whose loss in a crash
    /// costs nothing then skip waiting for the disk.
    relaxed_commits: bool,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pg({})", self.url)
    }
}

impl Pg {
    /// Connects to `url`, checks that the database answers, and brings its schema to
    /// this build's version (creating it in an empty database).
    ///
    /// # Errors
    /// [`PgError::Unreachable`] when no connection can be made in 5 s,
    /// [`PgError::NewerSchema`] when a newer aiprov migrated the database.
    pub(crate) fn connect(url: &str) -> Result<Self, PgError> {
        let shown = redact(url);
        let config: tokio_postgres::Config = url.parse().map_err(|_| PgError::BadUrl(shown.clone()))?;
        let mut config = config;
        config.connect_timeout(CONNECT_TIMEOUT).application_name("aiprov");
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let timeouts = Timeouts { wait: Some(CONNECT_TIMEOUT), create: Some(CONNECT_TIMEOUT), recycle: None };
        let pool = Pool::builder(manager)
            .config(PoolConfig { max_size: POOL_SIZE, timeouts, ..PoolConfig::default() })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PgError::BadUrl(format!("{shown} ({e})")))?;
        let mut pg = Self { pool, url: shown, relaxed_commits: false };
        pg.block(|pool| async move {
            pool.get().await.map(drop).map_err(|e| PgError::Unreachable { url: String::new(), why: e.to_string() })
        })
        .map_err(|e| match e {
            PgError::Unreachable { why, .. } => PgError::Unreachable { url: pg.url.clone(), why },
            other => other,
        })?;
        let url = pg.url.clone();
        pg.block(move |pool| schema::migrate(pool, url))?;
        pg.relaxed_commits = pg.block(|pool| async move {
            let client = pool.get().await?;
            Ok(client.batch_execute("BEGIN; SET LOCAL synchronous_commit TO OFF; ROLLBACK").await.is_ok())
        })?;
        Ok(pg)
    }

    /// Runs `f` on the database runtime and waits for it: callable from any thread but
    /// the database runtime's own (HTTP workers, the log's threads, commands).
    ///
    /// # Errors
    /// `f`'s error, or [`PgError::Query`] when its task panicked.
    pub(crate) fn block<T, F, Fut>(&self, f: F) -> Result<T, PgError>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = f(self.pool.clone());
        runtime().spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| PgError::Query("a database task failed".into()))?
    }

    /// Runs `f` on the database runtime and awaits it without blocking the caller's
    /// thread: for HTTP handlers, whose worker must go on serving other requests.
    ///
    /// # Errors
    /// `f`'s error, or [`PgError::Query`] when its task panicked.
    pub(crate) async fn call<T, F, Fut>(&self, f: F) -> Result<T, PgError>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let fut = f(self.pool.clone());
        runtime().spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.await.map_err(|_| PgError::Query("a database task failed".into()))?
    }

    /// What to send first in a transaction whose loss in a crash costs nothing: it
    /// then does not wait for the disk where the server allows that.
    pub(crate) fn relaxed_commit(&self) -> &'static str {
        if self.relaxed_commits {
            "SET LOCAL synchronous_commit TO OFF"
        } else {
            ""
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Whether `e` asks for the transaction to be run again: a serialisation failure
/// (40001, CockroachDB's usual answer to contention) or a deadlock (40P01).
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// Runs the transaction `f` (given a fresh connection each time) until it does not fail
/// with a retryable error, at most [`RETRIES`] times.
///
/// # Errors
/// The last error of `f`, or no connection.
pub(crate) async fn retry<T, F, Fut>(pool: &Pool, mut f: F) -> Result<T, PgError>
where
    F: FnMut(deadpool_postgres::Object) -> Fut,
    Fut: Future<Output = Result<T, tokio_postgres::Error>>,
{
    let mut attempt = 0;
    loop {
        let client = pool.get().await?;
        match f(client).await {
            Err(e) if is_retryable(&e) && attempt + 1 < RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(2 << attempt.min(6))).await;
            }
            other => return other.map_err(PgError::from),
        }
    }
}

/// `url` without the password, if it has one.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(super::redact("postgres://u@h/d"), "postgres://u@h/d");
    }
}
