//! The sequencer loop every node runs on a shared database. At any time one node holds
//! the sequencer lease (a row of `log_tree`); it alone extends the tree, in transactions
//! that lock that row, check that it still holds the lease and that the tree is the size
//! it knows, and renew the lease as they commit. Two nodes can therefore never publish
//! different trees of the same size, whatever their clocks say: the lease's end is in
//! database time, and the row lock orders every extension.
//!
//! - The sequencer integrates its own stamps and those other nodes queued in
//!   `log_pending`, signs the new checkpoint, and commits it with the tree: the commit is
//!   the durable checkpoint, and only then are its own stamps answered.
//! - A frontend queues its stamps in `log_pending`, then polls until `log_leaves` shows
//!   them and answers them with the checkpoint read in the same statement, which covers
//!   them. It publishes that checkpoint for its readers, and tries every
//!   [`CLAIM_EVERY`] to take a lease that has run out (the sequencer died), so a new
//!   sequencer takes over within [`LEASE`] plus that.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use deadpool_postgres::Transaction;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::seal::SaltSeal;
use super::store::{big, read_tile, unbig, write_batch};
use super::{Pg, PgError};
use crate::log::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use crate::log::merkle::Frontier;
use crate::log::tiles::{self, TileId, TileNodes, TileReader};
use crate::log::{
    fail, sign_checkpoint, Appended, Batch, Integration, Job, LogError, LogIndex, LogObserver, NewLeaf, Publisher,
    Role, SignedCheckpoint,
};
use crate::Sha256Digest;

/// How long a lease lasts without renewal: the longest a dead sequencer holds up stamps.
pub const LEASE: Duration = Duration::from_secs(3);
/// The sequencer renews its lease once less than this is left.
const RENEW_BELOW: Duration = Duration::from_secs(2);
/// How often a frontend checks whether the lease has run out.
const CLAIM_EVERY: Duration = Duration::from_millis(500);
/// Most leaves integrated in one transaction.
const MAX_BATCH: usize = 1024;
/// How long a frontend's stamp may wait for the sequencer before it is answered with an
/// error (it may still be integrated later; its stamp id finds it then).
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// A frontend with nothing waiting still reads the tree this often, for its readers.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

/// Who this node is on the database.
#[derive(Clone)]
pub struct SequencerConfig {
    pub pg: Pg,
    /// The node's name in the lease row: unique per process.
    pub node: String,
    pub seal: SaltSeal,
}

/// Starts the sequencer loop of this node on its own thread; it ends when the log's
/// last handle is dropped.
///
/// # Errors
/// When the thread cannot be started.
pub fn start_sequencer(config: SequencerConfig, integration: Integration) -> Result<(), LogError> {
    // The store and any right edge loaded at opening are not used: the sequencer reads
    // the tree within its lease transaction, where it is current.
    let Integration { jobs, publisher, signer, observer, .. } = integration;
    publisher.set_role(Role::Frontend);
    let sequencer = Sequencer {
        verifier: signer.verifier(),
        pg: config.pg,
        node: config.node,
        seal: config.seal,
        signer,
        publisher,
        observer,
        frontier: None,
        right_edge: HashMap::new(),
        waiting: HashMap::new(),
        role: Role::Frontend,
        last_claim: None,
        last_follow: Instant::now(),
        busy: false,
    };
    std::thread::Builder::new()
        .name("log-sequencer".into())
        .spawn(move || sequencer.run(jobs))
        .map_err(|e| LogError::AppendFailed(format!("cannot start the log sequencer: {e}")))?;
    Ok(())
}

struct Sequencer {
    pg: Pg,
    node: String,
    seal: SaltSeal,
    signer: NoteSigner,
    verifier: NoteVerifier,
    publisher: Publisher,
    observer: std::sync::Arc<dyn LogObserver>,
    /// The tree's right edge while this node is the sequencer and knows it is current.
    frontier: Option<Frontier>,
    /// The right-edge tiles as this node last wrote them, so a batch reads none.
    right_edge: HashMap<TileId, Vec<u8>>,
    /// This node's queued stamps, by leaf hash, with when they were queued.
    waiting: HashMap<Sha256Digest, Vec<(Job, Instant)>>,
    role: Role,
    last_claim: Option<Instant>,
    last_follow: Instant,
    /// Whether the last transaction integrated anything: poll fast while stamps flow.
    busy: bool,
}

/// What one attempt to integrate found.
enum Step {
    /// This node holds the lease (now); `leaves` were integrated.
    Integrated { leaves: usize },
    /// Another node holds a live lease: the jobs go back to be queued.
    NotSequencer(Vec<Job>),
}

impl Sequencer {
    fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let rt = super::runtime().handle().clone();
        loop {
            let tick = match self.role {
                // At start: settle the role at once (the lease may be free).
                _ if self.last_claim.is_none() => Duration::ZERO,
                Role::Sequencer if self.busy => Duration::from_millis(1),
                Role::Sequencer => Duration::from_millis(10),
                Role::Frontend if !self.waiting.is_empty() => Duration::from_millis(2),
                Role::Frontend => Duration::from_millis(50),
            };
            let mut local = Vec::new();
            // The timer is made inside the runtime: this thread is not one of its own.
            match rt.block_on(async { tokio::time::timeout(tick, jobs.recv()).await }) {
                Ok(Some(job)) => local.push(job),
                Ok(None) => break,
                Err(_) => {}
            }
            while local.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => local.push(job),
                    Err(_) => break,
                }
            }
            let may_claim = self.last_claim.is_none_or(|at| at.elapsed() >= CLAIM_EVERY);
            if self.role == Role::Sequencer || may_claim {
                self.last_claim = Some(Instant::now());
                local = self.try_integrate(&rt, local);
            }
            if !local.is_empty() {
                self.queue(&rt, local);
            }
            if !self.waiting.is_empty() || self.last_follow.elapsed() >= FOLLOW_EVERY {
                self.follow(&rt);
            }
            self.expire_waiters();
        }
        if self.role == Role::Sequencer {
            // Hand the lease over now rather than make the other nodes wait it out.
            let (pool, node) = (self.pg.pool().clone(), self.node.clone());
            let released = rt.block_on(async move {
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
        fail(self.waiting.into_values().flatten().map(|(job, _)| job).collect(), "the service is stopping");
        tracing::info!("log sequencer stopped");
    }

    /// Integrates `local` (and queued stamps) if this node is or becomes the sequencer;
    /// returns the jobs it did not take.
    fn try_integrate(&mut self, rt: &Handle, local: Vec<Job>) -> Vec<Job> {
        let count = local.len();
        let started = Instant::now();
        match self.integrate(rt, local) {
            Ok(Step::Integrated { leaves }) => {
                if self.role != Role::Sequencer {
                    tracing::info!(node = %self.node, "this node is now the log's sequencer");
                }
                self.set_role(Role::Sequencer);
                self.busy = leaves > 0;
                if leaves > 0 {
                    self.observer.batch_written(leaves);
                    self.observer.synced(leaves, started.elapsed());
                }
                Vec::new()
            }
            Ok(Step::NotSequencer(jobs)) => {
                if self.role == Role::Sequencer {
                    tracing::warn!(node = %self.node, "another node holds the sequencer lease: this node is a frontend now");
                }
                self.set_role(Role::Frontend);
                jobs
            }
            Err((jobs, PgError::Conflict(e))) => {
                // Another transaction got in the way (CockroachDB's usual answer to
                // contention): nothing was written; the jobs go round again.
                tracing::debug!(error = %e, "the lease transaction met a conflict; trying again");
                self.frontier = None;
                self.right_edge.clear();
                jobs
            }
            Err((jobs, e)) => {
                // Whether the commit happened is unknown: read the tree again next time.
                self.frontier = None;
                self.right_edge.clear();
                self.busy = false;
                tracing::error!(error = %e, stamps = count, "log integration failed; none of these stamps was acknowledged");
                fail(jobs, &format!("the log could not be extended: {e}"));
                Vec::new()
            }
        }
    }

    fn set_role(&mut self, role: Role) {
        self.role = role;
        self.publisher.set_role(role);
    }

    /// One lease transaction. On error, the jobs come back to be failed.
    fn integrate(&mut self, rt: &Handle, local: Vec<Job>) -> Result<Step, (Vec<Job>, PgError)> {
        let mut client = match rt.block_on(self.pg.pool().get()) {
            Ok(c) => c,
            Err(e) => return Err((local, e.into())),
        };
        let tx = match rt.block_on(client.transaction()) {
            Ok(tx) => tx,
            Err(e) => return Err((local, e.into())),
        };
        match self.extend(rt, &tx, &local) {
            Ok(Some((checkpoint, size_before, leaves))) => match rt.block_on(tx.commit()) {
                Ok(()) => {
                    self.publisher.publish(checkpoint.clone());
                    for (offset, job) in local.into_iter().enumerate() {
                        job.answer(Ok(Appended {
                            index: LogIndex(size_before + offset as u64),
                            checkpoint: checkpoint.clone(),
                        }));
                    }
                    Ok(Step::Integrated { leaves })
                }
                Err(e) => Err((local, e.into())),
            },
            Ok(None) => Ok(Step::NotSequencer(local)),
            Err(e) => Err((local, e)),
        }
    }

    /// Extends the tree within `tx` if this node holds or can take the lease: returns the
    /// new checkpoint, the size before, and how many leaves were added; `None` when
    /// another node holds the lease.
    fn extend(
        &mut self,
        rt: &Handle,
        tx: &Transaction<'_>,
        local: &[Job],
    ) -> Result<Option<(SignedCheckpoint, u64, usize)>, PgError> {
        // Prepared once per connection (as every statement of this loop): parsing and
        // planning each time cost the database more than running them.
        let row = rt.block_on(async {
            let stmt = tx
                .prepare_cached(
                    "SELECT size, checkpoint, sequencer, \
                            COALESCE(EXTRACT(EPOCH FROM (lease_until - now())), 0)::FLOAT8 \
                     FROM log_tree WHERE id = 1 FOR UPDATE",
                )
                .await?;
            tx.query_one(&stmt, &[]).await
        })?;
        let size = unbig(row.get(0)).map_err(|e| PgError::Query(e.to_string()))?;
        let note: Option<String> = row.get(1);
        let holder: Option<String> = row.get(2);
        let left = Duration::from_secs_f64(row.get::<_, f64>(3).max(0.0));
        let mine = holder.as_deref() == Some(self.node.as_str());
        if !mine && !left.is_zero() {
            return Ok(None);
        }
        if !mine {
            tracing::info!(node = %self.node, previous = ?holder, size, "taking the sequencer lease");
            self.frontier = None;
            self.right_edge.clear();
        }
        let room = i64::try_from(MAX_BATCH.saturating_sub(local.len())).unwrap_or(0);
        let pending = rt.block_on(async {
            let stmt = tx
                .prepare_cached(
                    "SELECT id, leaf, leaf_hash, content, text_digest, sealed_salt FROM log_pending ORDER BY id LIMIT $1",
                )
                .await?;
            tx.query(&stmt, &[&room]).await
        })?;
        if local.is_empty() && pending.is_empty() {
            if !mine || left < RENEW_BELOW {
                self.renew(rt, tx)?;
                let checkpoint = self.open_checkpoint(note.as_deref(), size)?;
                return Ok(Some((checkpoint, size, 0)));
            }
            // Nothing to write, and the lease is fresh.
            return Ok(Some((self.publisher.latest(), size, 0)));
        }
        let mut leaves: Vec<NewLeaf> = local.iter().map(|j| j.leaf().clone()).collect();
        let mut pending_ids = Vec::with_capacity(pending.len());
        for row in &pending {
            pending_ids.push(row.get::<_, i64>(0));
            let digest = |col: usize| -> Result<Option<Sha256Digest>, PgError> {
                row.get::<_, Option<Vec<u8>>>(col)
                    .map(|b| {
                        Sha256Digest::try_from_slice(&b).map_err(|e| PgError::Query(format!("a queued stamp: {e}")))
                    })
                    .transpose()
            };
            let prompt_salt = match row.get::<_, Option<Vec<u8>>>(5) {
                Some(sealed) => Some(self.seal.open(&sealed).map_err(|e| PgError::Query(e.to_string()))?),
                None => None,
            };
            leaves.push(NewLeaf {
                leaf: row.get(1),
                leaf_hash: digest(2)?.ok_or_else(|| PgError::Query("a queued stamp without a leaf hash".into()))?,
                content_sha256: digest(3)?
                    .ok_or_else(|| PgError::Query("a queued stamp without a content hash".into()))?,
                normalized_text_sha256: digest(4)?,
                prompt_salt,
            });
        }
        let frontier = match self.frontier.take().filter(|f| f.size() == size) {
            Some(f) => f,
            None => {
                self.right_edge.clear();
                Frontier::load(&TileNodes(TxTiles { rt, tx }), size).map_err(|e| PgError::Query(e.to_string()))?
            }
        };
        let mut grown = frontier.clone();
        self.frontier = Some(frontier);
        for leaf in &leaves {
            grown.push::<PgError>(leaf.leaf_hash).map_err(|e| PgError::Query(e.to_string()))?;
        }
        let hashes: Vec<Sha256Digest> = leaves.iter().map(|l| l.leaf_hash).collect();
        let right_edge = &self.right_edge;
        let tiles = tiles::build_tiles(size, &hashes, |t| match right_edge.get(&t) {
            Some(row) => Ok(Some(row.clone())),
            None => rt.block_on(read_tile(tx, t)),
        })
        .map_err(|e| PgError::Query(format!("building tiles: {e}")))?;
        let refs: Vec<&NewLeaf> = leaves.iter().collect();
        // No bundle pieces: the database keeps entries one row each (`store`). Every leaf
        // passed the entry size check of `Log::append` on the node that took it.
        let batch = Batch { size_before: size, leaves: &refs, tiles, pieces: Vec::new() };
        rt.block_on(write_batch(tx, &self.seal, &batch))?;
        let checkpoint =
            sign_checkpoint(&self.signer, grown.size(), grown.root()).map_err(|e| PgError::Query(e.to_string()))?;
        let (new_size, note, lease) = (big(grown.size()), checkpoint.note.to_string(), LEASE.as_secs_f64());
        let delete_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&pending_ids];
        let update_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&new_size, &note, &self.node, &lease];
        rt.block_on(async {
            let (delete, update) = tokio::try_join!(
                tx.prepare_cached("DELETE FROM log_pending WHERE id = ANY($1)"),
                tx.prepare_cached(
                    "UPDATE log_tree SET size = $1, checkpoint = $2, sequencer = $3, \
                     lease_until = now() + $4::FLOAT8 * INTERVAL '1 second' WHERE id = 1",
                )
            )?;
            let delete = async {
                if pending_ids.is_empty() {
                    return Ok(0);
                }
                tx.execute(&delete, &delete_params).await
            };
            tokio::try_join!(delete, tx.execute(&update, &update_params))
        })?;
        // Kept for the next batch only if the commit succeeds (an error clears both).
        for tile in &batch.tiles {
            self.right_edge.insert(tile.id(), tile.as_bytes().to_vec());
        }
        self.right_edge.retain(|id, _| batch.tiles.iter().any(|t| t.id() == *id));
        self.frontier = Some(grown);
        Ok(Some((checkpoint, size, leaves.len())))
    }

    /// Claims or renews the lease without extending the tree.
    fn renew(&self, rt: &Handle, tx: &Transaction<'_>) -> Result<(), PgError> {
        rt.block_on(tx.execute(
            "UPDATE log_tree SET sequencer = $1, lease_until = now() + $2::FLOAT8 * INTERVAL '1 second' WHERE id = 1",
            &[&self.node, &LEASE.as_secs_f64()],
        ))?;
        Ok(())
    }

    /// The stored checkpoint of the tree of `size`, verified with this node's key.
    fn open_checkpoint(&self, note: Option<&str>, size: u64) -> Result<SignedCheckpoint, PgError> {
        let note = note.ok_or_else(|| PgError::Query("the tree has no checkpoint".into()))?;
        let checkpoint = Checkpoint::open_signed(note, &self.verifier)
            .map_err(|e| PgError::Query(format!("the stored checkpoint does not verify: {e}")))?;
        if checkpoint.size != size {
            return Err(PgError::Query(format!(
                "the stored checkpoint is of size {}, the tree {size}",
                checkpoint.size
            )));
        }
        Ok(SignedCheckpoint { checkpoint, note: note.into() })
    }

    /// Queues `jobs` for the sequencer; they wait in [`Sequencer::waiting`].
    fn queue(&mut self, rt: &Handle, jobs: Vec<Job>) {
        let mut columns = QueuedColumns::default();
        for job in &jobs {
            let leaf = job.leaf();
            let sealed = match leaf.prompt_salt.as_ref().map(|s| self.seal.seal(s)).transpose() {
                Ok(sealed) => sealed,
                Err(e) => return fail(jobs, &e.to_string()),
            };
            columns.leaf.push(leaf.leaf.clone());
            columns.leaf_hash.push(leaf.leaf_hash.as_bytes().to_vec());
            columns.content.push(leaf.content_sha256.as_bytes().to_vec());
            columns.text.push(leaf.normalized_text_sha256.map(|d| d.as_bytes().to_vec()));
            columns.sealed_salt.push(sealed);
        }
        let node = self.node.clone();
        let pool = self.pg.pool().clone();
        let relaxed = self.pg.relaxed_commit();
        let queued = rt.block_on(super::retry(&pool, |client| {
            let (node, c) = (node.clone(), columns.clone());
            async move {
                // Not waiting for the disk: a queued stamp is acknowledged only after the
                // sequencer's commit, which is durable and makes all the log before it so,
                // this insert included; lost in a crash before that, it was never answered.
                let mut client = client;
                let tx = client.transaction().await?;
                tx.batch_execute(relaxed).await?;
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO log_pending (node, leaf, leaf_hash, content, text_digest, sealed_salt) \
                         SELECT $1::TEXT, l, h, c, t, s \
                         FROM UNNEST($2::BYTEA[], $3::BYTEA[], $4::BYTEA[], $5::BYTEA[], $6::BYTEA[]) AS u(l, h, c, t, s)",
                    )
                    .await?;
                tx.execute(&stmt, &[&node, &c.leaf, &c.leaf_hash, &c.content, &c.text, &c.sealed_salt]).await?;
                tx.commit().await
            }
        }));
        match queued {
            Ok(_) => {
                let now = Instant::now();
                for job in jobs {
                    self.waiting.entry(job.leaf().leaf_hash).or_default().push((job, now));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, stamps = jobs.len(), "queueing stamps for the sequencer failed");
                fail(jobs, &format!("the stamps could not be queued: {e}"));
            }
        }
    }

    /// Reads the tree and which waiting stamps it holds now, in one snapshot; publishes
    /// its checkpoint and answers those stamps with it.
    fn follow(&mut self, rt: &Handle) {
        self.last_follow = Instant::now();
        let hashes: Vec<Vec<u8>> = self.waiting.keys().map(|h| h.as_bytes().to_vec()).collect();
        let rows = rt.block_on(async {
            let client = self.pg.pool().get().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT t.size, t.checkpoint, l.leaf_hash, l.idx FROM log_tree t \
                     LEFT JOIN log_leaves l ON l.leaf_hash = ANY($1) WHERE t.id = 1",
                )
                .await?;
            Ok::<_, PgError>(client.query(&stmt, &[&hashes]).await?)
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading the log's tree failed");
                return;
            }
        };
        let Some(first) = rows.first() else { return };
        let (size, note): (i64, Option<String>) = (first.get(0), first.get(1));
        let Ok(size) = unbig(size) else { return };
        let checkpoint = if size > self.publisher.latest().checkpoint.size
            || rows.iter().any(|r| r.get::<_, Option<i64>>(3).is_some())
        {
            match self.open_checkpoint(note.as_deref(), size) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "the tree's checkpoint cannot be used");
                    return;
                }
            }
        } else {
            return;
        };
        self.publisher.publish(checkpoint.clone());
        for row in &rows {
            let (Some(hash), Some(index)) = (row.get::<_, Option<Vec<u8>>>(2), row.get::<_, Option<i64>>(3)) else {
                continue;
            };
            let (Ok(hash), Ok(index)) = (Sha256Digest::try_from_slice(&hash), unbig(index)) else { continue };
            for (job, _) in self.waiting.remove(&hash).unwrap_or_default() {
                job.answer(Ok(Appended { index: LogIndex(index), checkpoint: checkpoint.clone() }));
            }
        }
    }

    /// Answers stamps that waited too long with an error.
    fn expire_waiters(&mut self) {
        let mut expired = Vec::new();
        self.waiting.retain(|_, jobs| {
            let (old, young): (Vec<_>, Vec<_>) =
                std::mem::take(jobs).into_iter().partition(|(_, at)| at.elapsed() > WAIT_LIMIT);
            expired.extend(old.into_iter().map(|(job, _)| job));
            *jobs = young;
            !jobs.is_empty()
        });
        if !expired.is_empty() {
            tracing::error!(
                stamps = expired.len(),
                "stamps waited {WAIT_LIMIT:?} for the sequencer; answered with an error"
            );
            fail(
                expired,
                "no sequencer integrated the stamp in time; it may still be: look it up by its stamp id later",
            );
        }
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
}

/// Tiles read within the sequencer's transaction.
struct TxTiles<'a, 'b> {
    rt: &'a Handle,
    tx: &'a Transaction<'b>,
}

impl TileReader for TxTiles<'_, '_> {
    type Error = PgError;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, PgError> {
        self.rt.block_on(read_tile(self.tx, tile))
    }
}
