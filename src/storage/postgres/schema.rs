//! Versioned migrations, checked in under `migrations/postgres/` and applied in order at
//! start, each in one transaction with the row that records it. Nodes starting together
//! are safe: the first to insert a version's row applies it, the others wait on that
//! row and then find it applied.

use deadpool_postgres::Pool;

use super::{describe, PgError};

/// The migrations, by version: never edit one that shipped, add the next.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../../migrations/postgres/0001_log.sql")),
    (2, include_str!("../../../migrations/postgres/0002_fingerprints.sql")),
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

pub(super) async fn migrate(pool: Pool, url: String) -> Result<(), PgError> {
    let mut client = pool.get().await?;
    // Looked up first rather than `IF NOT EXISTS`, whose notice every start would log.
    let exists: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'aiprov_schema'",
            &[],
        )
        .await?
        .get(0);
    if exists == 0 {
        let created = client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS aiprov_schema (
                     version INT PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .await;
        match created {
            Ok(()) => {}
            // Nodes started at the same moment: `IF NOT EXISTS` does not stop two
            // sessions from creating the table at once, and the later one then fails on
            // the catalogue's unique index. The table exists either way.
            Err(e)
                if e.code().is_some_and(|c| {
                    use tokio_postgres::error::SqlState;
                    [SqlState::DUPLICATE_OBJECT, SqlState::DUPLICATE_TABLE, SqlState::UNIQUE_VIOLATION].contains(c)
                }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let found: Option<i32> = client.query_one("SELECT max(version) FROM aiprov_schema", &[]).await?.get(0);
    if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
        return Err(PgError::NewerSchema { url, found });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| Some(*v) > found) {
        let tx = client.transaction().await?;
        // First, so that a second node applying the same version waits here, then fails
        // with a unique violation and finds it applied.
        match tx.execute("INSERT INTO aiprov_schema (version) VALUES ($1)", &[version]).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => continue,
            Err(e) => return Err(e.into()),
        }
        tx.batch_execute(sql)
            .await
            .map_err(|e| PgError::Query(format!("schema migration {version}: {}", describe(&e))))?;
        tx.commit().await?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::storage::postgres::{Pg, PgError, TempDatabase, SCHEMA_VERSION};

    #[test]
    fn a_new_database_is_migrated_once_and_a_newer_one_is_refused_by_name() {
        let Some(db) = TempDatabase::for_test() else { return };
        let pg = Pg::connect(db.url()).unwrap();
        // A second start finds the schema in place and changes nothing.
        Pg::connect(db.url()).unwrap();
        let versions: Vec<i32> = pg
            .block(|pool| async move {
                let client = pool.get().await?;
                Ok(client.query("SELECT version FROM aiprov_schema", &[]).await?.iter().map(|r| r.get(0)).collect())
            })
            .unwrap();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
        pg.block(|pool| async move {
            let client = pool.get().await?;
            client.execute("INSERT INTO aiprov_schema (version) VALUES (999)", &[]).await?;
            Ok(())
        })
        .unwrap();
        let refused = Pg::connect(db.url()).unwrap_err();
        assert!(matches!(refused, PgError::NewerSchema { found: 999, .. }), "{refused}");
        let message = refused.to_string();
        assert!(message.contains("999") && message.contains(db.name()), "{message}");
    }

    #[test]
    fn an_unreachable_database_is_named_without_its_password() {
        // Port 9 (discard) on loopback: nothing listens there.
        let refused = Pg::connect("postgres://someone:hunter2@127.0.0.1:9/nowhere").unwrap_err();
        let message = refused.to_string();
        assert!(matches!(refused, PgError::Unreachable { .. }), "{message}");
        assert!(message.contains("127.0.0.1:9/nowhere") && !message.contains("hunter2"), "{message}");
    }
}
