//! [`PgSequencer`]: the lease and the transactions of a log that several nodes share.
//! At any time one node holds the sequencer lease (the row of `log_tree`); it alone
//! extends the tree, in transactions that lock that row, check that it still holds the
//! lease and what size the tree is, and renew the lease as they commit. Two nodes can
//! therefore never publish different trees of the same size, whatever their clocks say:
//! the lease's end is in database time, and the row lock orders every extension.
//!
//! - The lease holder integrates its own stamps and those other nodes queued in
//!   `log_pending`, and commits them with the signed checkpoint: the commit is the
//!   durable checkpoint ([`Committed::Durable`]).
//! - Another node queues its stamps in `log_pending` ([`Sequencer::hand_over`]), then
//!   follows `log_leaves` until they are there, reading the checkpoint in the same
//!   statement ([`Sequencer::follow`]).
//!
//! The loop around these (batching, when to claim, waiting) is the log's
//! (`crate::log::integrate`), the same as for the embedded backend.

use std::time::Duration;

use deadpool_postgres::Object;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;

use super::seal::SaltSeal;
use super::store::{big, read_tile, unbig, write_batch};
use super::{Pg, PgError};
use crate::fingerprint::ContentCode;
use crate::log::tiles::TileId;
use crate::log::{Batch, Committed, Extension, Followed, LogIndex, NewLeaf, Sequencer, StoreError};
use crate::Sha256Digest;

/// How long a lease lasts without renewal: the longest a dead sequencer holds up stamps.
pub(crate) const LEASE: Duration = Duration::from_secs(3);
/// The sequencer renews its lease once less than this is left.
const RENEW_BELOW: Duration = Duration::from_secs(2);

/// This node's part in the lease.
pub(crate) struct PgSequencer {
    pg: Pg,
    /// The node's name in the lease row: unique per process.
    node: String,
    seal: SaltSeal,
    rt: Handle,
}

impl PgSequencer {
    pub(crate) fn new(pg: Pg, node: String, seal: SaltSeal) -> Self {
        Self { pg, node, seal, rt: super::runtime().handle().clone() }
    }

    /// Runs `f` on the database runtime and waits: the integration loop's thread is not
    /// one of the runtime's own (nor may it be inside any runtime).
    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }
}

impl Sequencer for PgSequencer {
    fn shared(&self) -> bool {
        true
    }

    fn begin(&mut self) -> Result<Option<Box<dyn Extension + '_>>, StoreError> {
        let client = self.block(self.pg.pool().get()).map_err(PgError::from)?;
        let mut ext =
            PgExtension { seq: self, client: Some(client), size: 0, note: None, renew: true, pending: Vec::new() };
        // Prepared once per connection (as every statement here): parsing and planning
        // each time cost the database more than running them.
        let row = ext.run(|c| async move {
            c.batch_execute("BEGIN").await?;
            let stmt = c
                .prepare_cached(
                    "SELECT size, checkpoint, sequencer, \
                            COALESCE(EXTRACT(EPOCH FROM (lease_until - now())), 0)::FLOAT8 \
                     FROM log_tree WHERE id = 1 FOR UPDATE",
                )
                .await?;
            c.query_one(&stmt, &[]).await
        })?;
        let holder: Option<String> = row.get(2);
        let left = Duration::from_secs_f64(row.get::<_, f64>(3).max(0.0));
        let mine = holder.as_deref() == Some(ext.seq.node.as_str());
        if !mine && !left.is_zero() {
            // Another node's live lease; dropping the extension rolls back.
            return Ok(None);
        }
        if !mine {
            tracing::info!(node = %ext.seq.node, previous = ?holder, "taking the sequencer lease");
        }
        ext.size = unbig(row.get(0))?;
        ext.note = row.get(1);
        ext.renew = !mine || left < RENEW_BELOW;
        Ok(Some(Box::new(ext)))
    }

    fn hand_over(&mut self, leaves: &[&NewLeaf]) -> Result<(), StoreError> {
        let mut c = QueuedColumns::default();
        for leaf in leaves {
            c.leaf.push(leaf.leaf.clone());
            c.leaf_hash.push(leaf.leaf_hash.as_bytes().to_vec());
            c.content.push(leaf.content_sha256.as_bytes().to_vec());
            c.text.push(leaf.normalized_text_sha256.map(|d| d.as_bytes().to_vec()));
            c.sealed_salt.push(leaf.prompt_salt.as_ref().map(|s| self.seal.seal(s)).transpose()?);
            c.code.push(leaf.code.map(|code| code.unit_bytes().to_vec()));
            c.sentences.push(
                (!leaf.sentences.is_empty()).then(|| leaf.sentences.iter().flat_map(|d| *d.as_bytes()).collect()),
            );
        }
        let (node, pool, relaxed) = (self.node.clone(), self.pg.pool().clone(), self.pg.relaxed_commit());
        self.block(super::retry(&pool, |mut client| {
            let (node, c) = (node.clone(), c.clone());
            async move {
                // Not waiting for the disk: a queued stamp is acknowledged only after the
                // sequencer's commit, which is durable and makes all the log before it so,
                // this insert included; lost in a crash before that, it was never answered.
                let tx = client.transaction().await?;
                tx.batch_execute(relaxed).await?;
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO log_pending (node, leaf, leaf_hash, content, text_digest, sealed_salt, code, sentences) \
                         SELECT $1::TEXT, l, h, c, t, s, f, p \
                         FROM UNNEST($2::BYTEA[], $3::BYTEA[], $4::BYTEA[], $5::BYTEA[], $6::BYTEA[], $7::BYTEA[], \
                                     $8::BYTEA[]) AS u(l, h, c, t, s, f, p)",
                    )
                    .await?;
                let params: [&(dyn ToSql + Sync); 8] =
                    [&node, &c.leaf, &c.leaf_hash, &c.content, &c.text, &c.sealed_salt, &c.code, &c.sentences];
                tx.execute(&stmt, &params).await?;
                tx.commit().await
            }
        }))?;
        Ok(())
    }

    fn follow(&mut self, leaf_hashes: &[Sha256Digest]) -> Result<Followed, StoreError> {
        let hashes: Vec<Vec<u8>> = leaf_hashes.iter().map(|h| h.as_bytes().to_vec()).collect();
        let pool = self.pg.pool().clone();
        let rows = self.block(async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT t.size, t.checkpoint, l.leaf_hash, l.idx FROM log_tree t \
                     LEFT JOIN log_leaves l ON l.leaf_hash = ANY($1) WHERE t.id = 1",
                )
                .await?;
            Ok::<_, PgError>(client.query(&stmt, &[&hashes]).await?)
        })?;
        let first = rows.first().ok_or_else(|| StoreError::Corrupt("the log_tree row is missing".into()))?;
        let mut followed = Followed { size: unbig(first.get(0))?, checkpoint: first.get(1), found: Vec::new() };
        for row in &rows {
            let (Some(hash), Some(index)) = (row.get::<_, Option<Vec<u8>>>(2), row.get::<_, Option<i64>>(3)) else {
                continue;
            };
            let hash =
                Sha256Digest::try_from_slice(&hash).map_err(|e| StoreError::Corrupt(format!("a leaf hash: {e}")))?;
            followed.found.push((hash, LogIndex(unbig(index)?)));
        }
        Ok(followed)
    }

    fn release(&mut self) {
        let (pool, node) = (self.pg.pool().clone(), self.node.clone());
        let released = self.block(async move {
            let client = pool.get().await?;
            client
                .execute("UPDATE log_tree SET lease_until = now() WHERE id = 1 AND sequencer = $1", &[&node])
                .await
                .map_err(PgError::from)
        });
        if let Err(e) = released {
            tracing::warn!(error = %e, "the sequencer lease could not be released; it runs out by itself");
        }
    }
}

/// One lease transaction, on a connection of its own (`BEGIN` sent by hand, so that the
/// extension can own the connection); dropped uncommitted, it rolls back.
struct PgExtension<'a> {
    seq: &'a PgSequencer,
    client: Option<Object>,
    size: u64,
    note: Option<String>,
    /// Whether the lease needs writing even with nothing to append (taken now, or
    /// running low).
    renew: bool,
    /// Rows of `log_pending` this extension integrates, deleted in its commit.
    pending: Vec<i64>,
}

impl PgExtension<'_> {
    /// Runs `f` with the transaction's connection.
    fn run<'c, T, F, Fut>(&'c self, f: F) -> Result<T, PgError>
    where
        F: FnOnce(&'c Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = self.client.as_ref().ok_or_else(|| PgError::Query("the transaction is over".into()))?;
        self.seq.block(f(client)).map_err(PgError::from)
    }

    fn finish(&mut self, sql: &'static str) -> Result<(), PgError> {
        let result = self.run(|c| c.batch_execute(sql));
        if result.is_ok() {
            self.client = None;
        }
        result
    }
}

impl Drop for PgExtension<'_> {
    fn drop(&mut self) {
        if self.client.is_some() && self.finish("ROLLBACK").is_err() {
            // The connection is in an unknown state: close it rather than reuse it.
            if let Some(client) = self.client.take() {
                drop(Object::take(client));
            }
        }
    }
}

impl Extension for PgExtension<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self.note.clone())
    }

    fn queued(&mut self, room: usize) -> Result<Vec<NewLeaf>, StoreError> {
        let room = i64::try_from(room).unwrap_or(i64::MAX);
        let rows = self.run(|c| async move {
            let stmt = c
                .prepare_cached(
                    "SELECT id, leaf, leaf_hash, content, text_digest, sealed_salt, code, sentences \
                     FROM log_pending ORDER BY id LIMIT $1",
                )
                .await?;
            c.query(&stmt, &[&room]).await
        })?;
        let mut leaves = Vec::with_capacity(rows.len());
        for row in &rows {
            let digest = |col: usize| -> Result<Option<Sha256Digest>, StoreError> {
                row.get::<_, Option<Vec<u8>>>(col)
                    .map(|b| {
                        Sha256Digest::try_from_slice(&b)
                            .map_err(|e| StoreError::Corrupt(format!("a queued stamp: {e}")))
                    })
                    .transpose()
            };
            let missing = |what: &str| StoreError::Corrupt(format!("a queued stamp without a {what}"));
            leaves.push(NewLeaf {
                leaf: row.get(1),
                leaf_hash: digest(2)?.ok_or_else(|| missing("leaf hash"))?,
                content_sha256: digest(3)?.ok_or_else(|| missing("content hash"))?,
                normalized_text_sha256: digest(4)?,
                code: row
                    .get::<_, Option<Vec<u8>>>(6)
                    .map(|b| ContentCode::from_unit_bytes(&b))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("a queued stamp's Content-Code: {e}")))?,
                sentences: match row.get::<_, Option<Vec<u8>>>(7) {
                    None => Vec::new(),
                    Some(b) => b
                        .chunks(32)
                        .map(Sha256Digest::try_from_slice)
                        .collect::<Result<_, _>>()
                        .map_err(|e| StoreError::Corrupt(format!("a queued stamp's sentences: {e}")))?,
                },
                prompt_salt: row.get::<_, Option<Vec<u8>>>(5).map(|s| self.seq.seal.open(&s)).transpose()?,
            });
            self.pending.push(row.get(0));
        }
        Ok(leaves)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client.as_ref().ok_or_else(|| PgError::Query("the transaction is over".into()))?;
        Ok(self.seq.block(read_tile(client, tile))?)
    }

    fn commit(mut self: Box<Self>, batch: &Batch<'_>, checkpoint: Option<&str>) -> Result<Committed, StoreError> {
        if batch.leaves.is_empty() && !self.renew {
            // Nothing to write, and the lease is fresh: dropping rolls back.
            return Ok(Committed::Durable);
        }
        let (node, lease) = (self.seq.node.clone(), LEASE.as_secs_f64());
        if batch.leaves.is_empty() {
            self.run(|c| async move {
                c.execute(
                    "UPDATE log_tree SET sequencer = $1, lease_until = now() + $2::FLOAT8 * INTERVAL '1 second' \
                     WHERE id = 1",
                    &[&node, &lease],
                )
                .await
            })?;
            self.finish("COMMIT")?;
            return Ok(Committed::Durable);
        }
        let client = self.client.as_ref().ok_or_else(|| PgError::Query("the transaction is over".into()))?;
        self.seq.block(write_batch(client, &self.seq.seal, batch))?;
        let (new_size, note, pending) = (big(batch.new_size()), checkpoint.map(str::to_owned), self.pending.clone());
        let update_params: [&(dyn ToSql + Sync); 4] = [&new_size, &note, &node, &lease];
        let delete_params: [&(dyn ToSql + Sync); 1] = [&pending];
        let (update_params, delete_params, none_pending) = (&update_params, &delete_params, pending.is_empty());
        self.run(|c| async move {
            let (delete, update) = tokio::try_join!(
                c.prepare_cached("DELETE FROM log_pending WHERE id = ANY($1)"),
                c.prepare_cached(
                    "UPDATE log_tree SET size = $1, checkpoint = $2, sequencer = $3, \
                     lease_until = now() + $4::FLOAT8 * INTERVAL '1 second' WHERE id = 1",
                )
            )?;
            let delete = async {
                if none_pending {
                    return Ok(0);
                }
                c.execute(&delete, delete_params).await
            };
            tokio::try_join!(delete, c.execute(&update, update_params))
        })?;
        self.finish("COMMIT")?;
        Ok(Committed::Durable)
    }
}

/// The columns of queued stamps, as the arrays one `INSERT` sends.
#[derive(Default, Clone)]
struct QueuedColumns {
    leaf: Vec<Vec<u8>>,
    leaf_hash: Vec<Vec<u8>>,
    content: Vec<Vec<u8>>,
    text: Vec<Option<Vec<u8>>>,
    sealed_salt: Vec<Option<Vec<u8>>>,
    code: Vec<Option<Vec<u8>>>,
    sentences: Vec<Option<Vec<u8>>>,
}
