//! The service's own tables on PostgreSQL: issuer tokens, the erasure register and the
//! rate limits every node shares. The service's stores (`service::tokens`, ...) keep
//! their rules and call these for storage alone.

use std::time::Duration;

use super::{retry, Pg, PgError};

/// Issuer tokens: JSON records by the SHA-256 of the secret.
#[derive(Clone, Debug)]
pub struct Tokens(pub Pg);

impl Tokens {
    /// # Errors
    /// On database failure.
    pub fn insert(&self, hash: &[u8], record: String) -> Result<(), PgError> {
        let hash = hash.to_vec();
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            client.execute("INSERT INTO issuer_tokens (hash, record) VALUES ($1, $2)", &[&hash, &record]).await?;
            Ok(())
        })
    }

    /// # Errors
    /// On database failure.
    pub fn get(&self, hash: &[u8]) -> Result<Option<String>, PgError> {
        let hash = hash.to_vec();
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client.prepare_cached("SELECT record FROM issuer_tokens WHERE hash = $1").await?;
            Ok(client.query_opt(&stmt, &[&hash]).await?.map(|r| r.get(0)))
        })
    }

    /// Every token: its hash and record.
    ///
    /// # Errors
    /// On database failure.
    pub fn all(&self) -> Result<Vec<(Vec<u8>, String)>, PgError> {
        self.0.block(|pool| async move {
            let client = pool.get().await?;
            let rows = client.query("SELECT hash, record FROM issuer_tokens ORDER BY hash", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// The token whose hash starts with `prefix`.
    ///
    /// # Errors
    /// On database failure.
    pub fn by_prefix(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, String)>, PgError> {
        let prefix = prefix.to_vec();
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT hash, record FROM issuer_tokens WHERE substring(hash FROM 1 FOR 8) = $1 ORDER BY hash LIMIT 1",
                    &[&prefix],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    /// # Errors
    /// On database failure.
    pub fn update(&self, hash: &[u8], record: String) -> Result<(), PgError> {
        let hash = hash.to_vec();
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            client.execute("UPDATE issuer_tokens SET record = $2 WHERE hash = $1", &[&hash, &record]).await?;
            Ok(())
        })
    }
}

/// The erasure register: JSON records in the order they were made.
#[derive(Clone, Debug)]
pub struct Erasures(pub Pg);

impl Erasures {
    /// # Errors
    /// On database failure.
    pub fn append(&self, stamp_id: String, record: String) -> Result<(), PgError> {
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            client
                .execute("INSERT INTO erasure_register (stamp_id, record) VALUES ($1, $2)", &[&stamp_id, &record])
                .await?;
            Ok(())
        })
    }

    /// # Errors
    /// On database failure.
    pub fn count(&self) -> Result<u64, PgError> {
        self.0.block(|pool| async move {
            let client = pool.get().await?;
            let n: i64 = client.query_one("SELECT count(*) FROM erasure_register", &[]).await?.get(0);
            Ok(n.max(0) as u64)
        })
    }

    /// Records, oldest first; of one stamp only when `stamp_id` is given.
    ///
    /// # Errors
    /// On database failure.
    pub fn list(&self, stamp_id: Option<String>) -> Result<Vec<String>, PgError> {
        self.0.block(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT record FROM erasure_register WHERE $1::TEXT IS NULL OR stamp_id = $1 ORDER BY seq",
                    &[&stamp_id],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}

/// Token buckets in the database, so that a limit holds for the service, not per node.
#[derive(Clone, Debug)]
pub struct Buckets(pub Pg);

impl Buckets {
    /// Takes one token of `key`'s bucket (`rate` per second, at most `burst`), in one
    /// statement; or says how long until one is there.
    ///
    /// # Errors
    /// On database failure.
    pub fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Result<(), Duration>, PgError> {
        let key = key.to_owned();
        self.0.block(move |pool| async move {
            retry(&pool, |client| {
                let key = key.clone();
                async move {
                    // The bucket refilled up to now, less one token: taken when at least 0.
                    let stmt = client
                        .prepare_cached(
                            "INSERT INTO rate_limits AS r (key, tokens, at) VALUES ($1, $3::FLOAT8 - 1, now()) \
                             ON CONFLICT (key) DO UPDATE SET \
                               tokens = LEAST($3::FLOAT8, r.tokens + EXTRACT(EPOCH FROM (now() - r.at))::FLOAT8 * $2::FLOAT8) - 1, \
                               at = now() \
                             WHERE LEAST($3::FLOAT8, r.tokens + EXTRACT(EPOCH FROM (now() - r.at))::FLOAT8 * $2::FLOAT8) >= 1 \
                             RETURNING tokens",
                        )
                        .await?;
                    if client.query_opt(&stmt, &[&key, &rate, &burst]).await?.is_some() {
                        return Ok(Ok(()));
                    }
                    let row = client
                        .query_one(
                            "SELECT LEAST($2::FLOAT8, tokens + EXTRACT(EPOCH FROM (now() - at))::FLOAT8 * $3::FLOAT8) \
                             FROM rate_limits WHERE key = $1",
                            &[&key, &burst, &rate],
                        )
                        .await?;
                    let tokens: f64 = row.get(0);
                    Ok(Err(Duration::from_secs_f64(((1.0 - tokens) / rate).max(0.001))))
                }
            })
            .await
        })
    }

    /// Forgets buckets untouched for an hour: they would be full again anyway.
    ///
    /// # Errors
    /// On database failure.
    pub fn forget_idle(&self) -> Result<u64, PgError> {
        self.0.block(|pool| async move {
            let client = pool.get().await?;
            Ok(client.execute("DELETE FROM rate_limits WHERE at < now() - INTERVAL '1 hour'", &[]).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::TempDatabase;

    #[test]
    fn a_bucket_takes_its_burst_then_says_how_long_to_wait() {
        let db = TempDatabase::create().unwrap();
        let buckets = Buckets(Pg::connect(db.url()).unwrap());
        let take = |key| buckets.take(key, 0.5, 2.0).unwrap();
        assert_eq!((take("a"), take("a")), (Ok(()), Ok(())));
        let wait = take("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(2), "{wait:?}");
        assert_eq!(take("b"), Ok(()), "keys are independent");
        assert_eq!(buckets.forget_idle().unwrap(), 0);
    }
}
