//! [`TempDatabase`]: a database created for one test or load run on a PostgreSQL server,
//! and dropped when the value is. Tests never assume a database of their own exists.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{describe, PgError};
use crate::log::StoreError;

/// The server tests and the load tool use unless `AIPROV_TEST_POSTGRES` names another:
/// the machine's PostgreSQL, user `postgres`, trust authentication.
pub(crate) const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

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
        let server = std::env::var("AIPROV_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.to_owned());
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
