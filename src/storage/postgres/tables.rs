//! The service's own tables on PostgreSQL: issuer tokens, the erasure register and the
//! rate limits every node shares ([`TokenTable`], [`ErasureTable`], [`RateBuckets`]).
//! The records (`crate::records`) keep their rules and call these for storage alone.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{retry, Pg, PgError};
use crate::log::StoreError;
use crate::storage::{ErasureTable, RateBuckets, TokenTable};
use crate::Sha256Digest;

/// Issuer tokens: JSON records by the SHA-256 of the secret.
///
/// A record found is remembered for [`TOKEN_TTL`]: every request authenticates, and a
/// round trip per request cost more than anything else a stamp asks of the database.
/// So a revocation made on another node takes effect here within that time (at once on
/// the node that made it); a token that was not found is never remembered, so a new
/// one works at once everywhere.
#[derive(Clone, Debug)]
pub(crate) struct Tokens {
    pg: Pg,
    recent: std::sync::Arc<std::sync::Mutex<Recent>>,
}

/// Token records by hash, with when they were read.
type Recent = std::collections::HashMap<Vec<u8>, (std::time::Instant, String)>;

/// How long a token record read from the database is trusted.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(1);
/// Records remembered at most: beyond, the memory starts over.
const TOKENS_REMEMBERED: usize = 10_000;

impl Tokens {
    pub(crate) fn new(pg: Pg) -> Self {
        Self { pg, recent: std::sync::Arc::default() }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // Plain data, replaced whole: usable after a panic elsewhere.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// # Errors
    /// On database failure.
    pub(crate) fn insert(&self, hash: &[u8], record: String) -> Result<(), PgError> {
        self.recent().remove(hash);
        let hash = hash.to_vec();
        self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            client.execute("INSERT INTO issuer_tokens (hash, record) VALUES ($1, $2)", &[&hash, &record]).await?;
            Ok(())
        })
    }

    /// # Errors
    /// On database failure.
    pub(crate) async fn get(&self, hash: &[u8]) -> Result<Option<String>, PgError> {
        if let Some((at, record)) = self.recent().get(hash) {
            if at.elapsed() < TOKEN_TTL {
                return Ok(Some(record.clone()));
            }
        }
        let key = hash.to_vec();
        let found: Option<String> = self
            .pg
            .call(move |pool| async move {
                let client = pool.get().await?;
                let stmt = client.prepare_cached("SELECT record FROM issuer_tokens WHERE hash = $1").await?;
                Ok(client.query_opt(&stmt, &[&key]).await?.map(|r| r.get(0)))
            })
            .await?;
        if let Some(record) = &found {
            let mut recent = self.recent();
            if recent.len() >= TOKENS_REMEMBERED {
                recent.clear();
            }
            recent.insert(hash.to_vec(), (std::time::Instant::now(), record.clone()));
        }
        Ok(found)
    }

    /// Every token: its hash and record.
    ///
    /// # Errors
    /// On database failure.
    pub(crate) fn all(&self) -> Result<Vec<(Vec<u8>, String)>, PgError> {
        self.pg.block(|pool| async move {
            let client = pool.get().await?;
            let rows = client.query("SELECT hash, record FROM issuer_tokens ORDER BY hash", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// The token whose hash starts with `prefix`.
    ///
    /// # Errors
    /// On database failure.
    pub(crate) fn by_prefix(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, String)>, PgError> {
        let prefix = prefix.to_vec();
        self.pg.block(move |pool| async move {
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
    pub(crate) fn update(&self, hash: &[u8], record: String) -> Result<(), PgError> {
        self.recent().remove(hash);
        let hash = hash.to_vec();
        self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            client.execute("UPDATE issuer_tokens SET record = $2 WHERE hash = $1", &[&hash, &record]).await?;
            Ok(())
        })
    }
}

/// The erasure register: JSON records in the order they were made.
#[derive(Clone, Debug)]
pub(crate) struct Erasures(pub(crate) Pg);

impl Erasures {
    /// # Errors
    /// On database failure.
    pub(crate) fn append(&self, stamp_id: String, record: String) -> Result<(), PgError> {
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
    pub(crate) fn count(&self) -> Result<u64, PgError> {
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
    pub(crate) fn list(&self, stamp_id: Option<String>) -> Result<Vec<String>, PgError> {
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
///
/// Takes are gathered: while one transaction runs, the takes that arrive wait, and the
/// next transaction takes for all of them at once, one per key. Under load (a pipeline
/// stamping with one token from many connections) that is one small write every few
/// milliseconds instead of one per request.
#[derive(Clone, Debug)]
pub(crate) struct Buckets {
    takes: tokio::sync::mpsc::UnboundedSender<Take>,
}

#[derive(Debug)]
struct Take {
    key: String,
    rate: f64,
    burst: f64,
    reply: tokio::sync::oneshot::Sender<Result<Result<(), Duration>, String>>,
}

impl Buckets {
    pub(crate) fn new(pg: Pg) -> Self {
        let (takes, rx) = tokio::sync::mpsc::unbounded_channel();
        super::runtime().spawn(gather(pg.pool().clone(), pg.relaxed_commit(), rx));
        Self { takes }
    }

    /// Takes one token of `key`'s bucket (`rate` per second, at most `burst`), or says
    /// how long until one is there.
    ///
    /// # Errors
    /// On database failure.
    pub(crate) async fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Result<(), Duration>, PgError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let take = Take { key: key.to_owned(), rate, burst, reply };
        self.takes.send(take).map_err(|_| PgError::Query("the rate limiter has stopped".into()))?;
        answer.await.map_err(|_| PgError::Query("the rate limiter has stopped".into()))?.map_err(PgError::Query)
    }
}

/// How often the gathering task forgets idle buckets.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Forgets buckets untouched for an hour: they would be full again anyway, and without
/// this every client address ever seen would keep a row.
async fn forget_idle(pool: &deadpool_postgres::Pool) -> Result<u64, PgError> {
    let client = pool.get().await?;
    Ok(client.execute("DELETE FROM rate_limits WHERE at < now() - INTERVAL '1 hour'", &[]).await?)
}

/// Answers takes as they come, all those waiting at once, one transaction per key.
async fn gather(
    pool: deadpool_postgres::Pool,
    relaxed: &'static str,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Take>,
) {
    let mut swept = std::time::Instant::now();
    while let Some(first) = rx.recv().await {
        if swept.elapsed() >= SWEEP_EVERY {
            swept = std::time::Instant::now();
            if let Err(e) = forget_idle(&pool).await {
                tracing::warn!(error = %e, "idle rate-limit buckets could not be forgotten");
            }
        }
        let mut by_key: std::collections::HashMap<String, Vec<Take>> = std::collections::HashMap::new();
        by_key.entry(first.key.clone()).or_default().push(first);
        while let Ok(more) = rx.try_recv() {
            by_key.entry(more.key.clone()).or_default().push(more);
        }
        for (key, takes) in by_key {
            let (rate, burst) = (takes[0].rate, takes[0].burst);
            match take_many(&pool, relaxed, &key, rate, burst, takes.len()).await {
                Ok((granted, left)) => {
                    for (i, take) in takes.into_iter().enumerate() {
                        let answer = if i < granted {
                            Ok(())
                        } else {
                            // The (i - granted + 1)-th token to come, after what is left.
                            let missing = (i - granted) as f64 + 1.0 - left;
                            Err(Duration::from_secs_f64((missing / rate).max(0.001)))
                        };
                        let _ = take.reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    for take in takes {
                        let _ = take.reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}

/// Takes up to `wanted` tokens of `key`'s bucket in one transaction: how many were
/// granted, and the tokens left.
async fn take_many(
    pool: &deadpool_postgres::Pool,
    relaxed: &'static str,
    key: &str,
    rate: f64,
    burst: f64,
    wanted: usize,
) -> Result<(usize, f64), PgError> {
    retry(pool, |mut client| async move {
        let tx = client.transaction().await?;
        let (create, current, update) = tokio::try_join!(
            tx.prepare_cached(
                "INSERT INTO rate_limits (key, tokens, at) VALUES ($1, $2::FLOAT8, now()) ON CONFLICT (key) DO NOTHING",
            ),
            tx.prepare_cached(
                "SELECT LEAST($2::FLOAT8, tokens + EXTRACT(EPOCH FROM (now() - at))::FLOAT8 * $3::FLOAT8) \
                 FROM rate_limits WHERE key = $1 FOR UPDATE",
            ),
            tx.prepare_cached("UPDATE rate_limits SET tokens = $2::FLOAT8, at = now() WHERE key = $1"),
        )?;
        // A bucket's state need not survive a crash (the worst is a client allowed a
        // burst again), so its commit does not wait for the disk.
        let relaxed = tx.batch_execute(relaxed);
        let create_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&key, &burst];
        let current_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&key, &burst, &rate];
        let (_, _, row) =
            tokio::try_join!(relaxed, tx.execute(&create, &create_params), tx.query_one(&current, &current_params))?;
        let available: f64 = row.get(0);
        let granted = (available.max(0.0).floor() as usize).min(wanted);
        let left = available - granted as f64;
        tx.execute(&update, &[&key, &left]).await?;
        tx.commit().await?;
        Ok((granted, left))
    })
    .await
}

fn digest(key: &[u8]) -> Result<Sha256Digest, StoreError> {
    Sha256Digest::try_from_slice(key).map_err(|e| StoreError::Corrupt(format!("a token key: {e}")))
}

impl TokenTable for Tokens {
    fn insert(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError> {
        Ok(Tokens::insert(self, hash.as_bytes(), record)?)
    }

    fn update(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError> {
        Ok(Tokens::update(self, hash.as_bytes(), record)?)
    }

    fn get(&self, hash: &Sha256Digest) -> BoxFuture<'static, Result<Option<String>, StoreError>> {
        let (this, hash) = (self.clone(), *hash);
        Box::pin(async move { Ok(Tokens::get(&this, hash.as_bytes()).await?) })
    }

    fn all(&self) -> Result<Vec<(Sha256Digest, String)>, StoreError> {
        Tokens::all(self)?.into_iter().map(|(k, v)| Ok((digest(&k)?, v))).collect()
    }

    fn by_prefix(&self, prefix: &[u8]) -> Result<Option<(Sha256Digest, String)>, StoreError> {
        Tokens::by_prefix(self, prefix)?.map(|(k, v)| Ok((digest(&k)?, v))).transpose()
    }
}

impl ErasureTable for Erasures {
    fn append(&self, stamp_id: &str, record: String) -> Result<(), StoreError> {
        Ok(Erasures::append(self, stamp_id.to_owned(), record)?)
    }

    fn count(&self) -> Result<u64, StoreError> {
        Ok(Erasures::count(self)?)
    }

    fn list(&self, stamp_id: Option<&str>) -> Result<Vec<String>, StoreError> {
        Ok(Erasures::list(self, stamp_id.map(str::to_owned))?)
    }
}

impl RateBuckets for Buckets {
    fn take(&self, key: String, rate: f64, burst: f64) -> BoxFuture<'static, Result<Result<(), Duration>, StoreError>> {
        let this = self.clone();
        Box::pin(async move { Ok(Buckets::take(&this, &key, rate, burst).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::postgres::TempDatabase;

    #[tokio::test]
    async fn a_bucket_takes_its_burst_then_says_how_long_to_wait() {
        let Some(db) = TempDatabase::for_test() else { return };
        let pg = Pg::connect(db.url()).unwrap();
        let buckets = Buckets::new(pg.clone());
        let take = |key| buckets.take(key, 0.5, 2.0);
        assert_eq!((take("a").await.unwrap(), take("a").await.unwrap()), (Ok(()), Ok(())));
        let wait = take("a").await.unwrap().unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(2), "{wait:?}");
        assert_eq!(take("b").await.unwrap(), Ok(()), "keys are independent");
        let forgotten = pg.call(|pool| async move { forget_idle(&pool).await }).await.unwrap();
        assert_eq!(forgotten, 0, "the buckets were used just now");
    }
}
