//! [`TempDatabase`]: a database created for one test or load run on a PostgreSQL server,
//! and dropped when the value is. Tests never assume a database of their own exists.
//! Which server: `cluster` (the machine's, or a throwaway one started from its binaries).

// Beside this file, so that it moves with it.
#[path = "cluster.rs"]
mod cluster;

use std::sync::atomic::{AtomicU64, Ordering};

use super::{describe, PgError};
use crate::log::StoreError;

pub(crate) use cluster::DEFAULT_SERVER;

/// A database of its own on a PostgreSQL server, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TempDatabase {
    server: String,
    name: String,
    url: String,
}

impl TempDatabase {
    /// Creates an empty database with a fresh name on the server of `AIPROV_TEST_POSTGRES`
    /// (default [`DEFAULT_SERVER`]).
    ///
    /// # Errors
    /// When the server cannot be reached or refuses to create a database.
    pub fn create() -> Result<Self, StoreError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let server = cluster::test_server()
            .map_err(|e| PgError::Unreachable { url: DEFAULT_SERVER.into(), why: e.to_string() })?;
        let name = format!(
            "aiprov_test_{}_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
        );
        admin(&server, format!("CREATE DATABASE {name}"))?;
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => return Err(PgError::BadUrl(server).into()),
        };
        Ok(Self { server, name, url })
    }

    /// A database for a test, or `None` (after one line on stderr saying how to have
    /// one) when no PostgreSQL server answers, none could be started, and the run does not
    /// require one ([`cluster::REQUIRE_VAR`]): the caller then skips what needs it.
    ///
    /// # Panics
    /// When a server is required but missing, or when one answers and the database cannot
    /// be created: a test that could run must not pass silently.
    pub fn for_test() -> Option<Self> {
        if let Err(e) = cluster::test_server() {
            assert!(!cluster::required(), "{}=1, but {e}", cluster::REQUIRE_VAR);
            static SAID: std::sync::Once = std::sync::Once::new();
            // Written to the file descriptor itself: the test harness captures eprintln!.
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "skipping the tests that need PostgreSQL: {e}");
            });
            return None;
        }
        Some(Self::create().unwrap_or_else(|e| panic!("a test database: {e}")))
    }

    /// The URL of the server the database is on (its `postgres` database).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The database's URL, for `--database`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        // WITH (FORCE): a test's server may still hold connections (PostgreSQL 13+).
        if let Err(e) = admin(&self.server, format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on `server` from a thread of its own: callers may be inside a
/// runtime (async tests) or not (drop at the end of a test).
fn admin(server: &str, sql: String) -> Result<(), PgError> {
    let server = server.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PgError::Query(e.to_string()))?;
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .map_err(|e| PgError::Unreachable { url: super::redact(&server), why: describe(&e) })?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await.map_err(|e| PgError::Query(describe(&e)))
        })
    })
    .join()
    .map_err(|_| PgError::Query("the database admin thread panicked".into()))?
}
