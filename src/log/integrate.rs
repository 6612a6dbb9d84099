//! The one integration loop, shared by every backend: it takes stamps off the queue in
//! batches, extends the tree's right edge, builds the tiles the batch changes, signs the
//! new checkpoint, has the backend commit it all, and answers each stamp once a durable
//! checkpoint covers it. The backend's [`Sequencer`] supplies only the lease, the
//! transaction and, with several nodes, the way stamps reach the lease holder.
//!
//! Why one loop on one thread: the index of a leaf and every Merkle node depend on all
//! leaves before it, so appends are inherently sequential. Making them sequential in one
//! thread (and not with a lock held across a commit) lets every stamp that arrives while
//! a batch is committed join the next one: N concurrent stamps cost one commit, not N.
//!
//! A backend whose commit is durable at once (a database transaction) has its stamps
//! answered right after it. One whose commit must still be synced hands the batch to the
//! syncer (`durable`), which makes every batch committed meanwhile durable with one sync
//! while this loop builds the next (pipelined group commit).
//!
//! Where other nodes may hold the lease ([`Sequencer::shared`]), this loop also runs on
//! every frontend: it hands its stamps over, follows the tree until they are in it, and
//! takes the lease over when it runs out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::log::backend::LogStorage;
use crate::log::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use crate::log::durable::{Syncer, Written};
use crate::log::error::LogError;
use crate::log::job::{acknowledge, fail, Appended, Job};
use crate::log::merkle::{Frontier, TreeError};
use crate::log::publish::{sign_checkpoint, LogObserver, Publisher, Role, SignedCheckpoint};
use crate::log::sequencer::{Committed, Extension, Sequencer};
use crate::log::store::LogStore;
use crate::log::store::{Batch, NewLeaf, StoreError, StoredNodes};
use crate::log::tiles::{self, BuildError, Tile, TileId, TileReader};
use crate::Sha256Digest;

/// Most leaves in one batch (this node's and those other nodes queued): bounds the time
/// a batch holds its callers and the memory of one batch.
pub(crate) const MAX_BATCH: usize = 1024;
/// How often a frontend tries to take a lease that may have run out.
const CLAIM_EVERY: Duration = Duration::from_millis(500);
/// A frontend with nothing waiting still reads the tree this often, for its readers.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// How long a stamp handed over may wait for the sequencer before it is answered with an
/// error (it may still be integrated later; its stamp id finds it then).
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// The tree's right edge as this process last committed it: the root of each batch costs
/// a few hashes, and its tiles no reads. Valid for one tree size; anything else (a failed
/// commit, another sequencer) means loading it again from the stored tiles.
#[derive(Default)]
pub(crate) struct RightEdge {
    frontier: Option<Frontier>,
    rows: HashMap<TileId, Vec<u8>>,
}

impl RightEdge {
    pub(crate) fn starting_at(frontier: Option<Frontier>) -> Self {
        Self { frontier, rows: HashMap::new() }
    }

    /// Forgets everything: the next batch reads the edge from storage.
    fn forget(&mut self) {
        self.frontier = None;
        self.rows.clear();
    }

    /// The tiles that appending `leaves` to the tree of `size` leaves changes, and the
    /// grown right edge; `tiles` reads what is not remembered.
    fn grow<R: TileReader<Error = StoreError>>(
        &mut self,
        size: u64,
        leaves: &[&NewLeaf],
        tiles: R,
    ) -> Result<(Vec<Tile>, Frontier), LogError> {
        let frontier = match self.frontier.take().filter(|f| f.size() == size) {
            Some(f) => f,
            None => {
                self.rows.clear();
                Frontier::load(&StoredNodes(&tiles), size)?
            }
        };
        let mut grown = frontier.clone();
        self.frontier = Some(frontier);
        for leaf in leaves {
            grown.push(leaf.leaf_hash)?;
        }
        let hashes: Vec<Sha256Digest> = leaves.iter().map(|l| l.leaf_hash).collect();
        let rows = &self.rows;
        let built = tiles::build_tiles(size, &hashes, |t| match rows.get(&t) {
            Some(row) => Ok(Some(row.clone())),
            None => tiles.read_tile(t),
        })
        .map_err(|e| match e {
            BuildError::Read(e) => LogError::Store(e),
            BuildError::TreeFull => LogError::Tree(TreeError::Full),
            other => LogError::Store(StoreError::Corrupt(other.to_string())),
        })?;
        Ok((built, grown))
    }

    /// Records a committed batch: its tiles are the new right edge.
    fn advance(&mut self, grown: Frontier, tiles: &[Tile]) {
        self.rows.retain(|id, _| tiles.iter().any(|t| t.id() == *id));
        for tile in tiles {
            self.rows.insert(tile.id(), tile.as_bytes().to_vec());
        }
        self.frontier = Some(grown);
    }
}

/// The tiles an open extension sees.
struct ExtensionTiles<'a>(&'a dyn Extension);

impl TileReader for ExtensionTiles<'_> {
    type Error = StoreError;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.read_tile(tile)
    }
}

/// What one extension did.
struct Extended {
    size_before: u64,
    leaves: usize,
    /// The checkpoint of the tree after it: signed now, or (when nothing was written)
    /// the stored one, if any.
    checkpoint: Option<SignedCheckpoint>,
    committed: Option<Committed>,
}

/// Extends the tree in `ext` with `local` and the stamps other nodes queued; commits,
/// with the new checkpoint signed by `signer` (bulk appends sign none). `published`:
/// the size this process has published, below which a stored checkpoint is not news.
fn extend(
    edge: &mut RightEdge,
    signer: Option<&NoteSigner>,
    mut ext: Box<dyn Extension + '_>,
    local: &[&NewLeaf],
    published: u64,
) -> Result<Extended, LogError> {
    let size = ext.size();
    let queued = ext.queued(MAX_BATCH.saturating_sub(local.len()))?;
    if local.is_empty() && queued.is_empty() {
        // The tree as it is: worth publishing only when it grew (another node's work).
        let stored = match (ext.checkpoint()?, signer) {
            (Some(note), Some(signer)) if size > published => Some(open_stored(&signer.verifier(), &note, size)?),
            _ => None,
        };
        ext.commit(&Batch { size_before: size, leaves: &[], tiles: Vec::new() }, None)?;
        return Ok(Extended { size_before: size, leaves: 0, checkpoint: stored, committed: None });
    }
    let leaves: Vec<&NewLeaf> = local.iter().copied().chain(queued.iter()).collect();
    let (tiles, grown) = edge.grow(size, &leaves, ExtensionTiles(ext.as_ref()))?;
    let checkpoint = signer.map(|signer| sign_checkpoint(signer, grown.size(), grown.root())).transpose()?;
    let batch = Batch { size_before: size, leaves: &leaves, tiles };
    let committed = ext.commit(&batch, checkpoint.as_ref().map(|c| &*c.note))?;
    edge.advance(grown, &batch.tiles);
    Ok(Extended { size_before: size, leaves: leaves.len(), checkpoint, committed: Some(committed) })
}

/// A stored checkpoint of the tree of `size`, verified with this log's key.
fn open_stored(verifier: &NoteVerifier, note: &str, size: u64) -> Result<SignedCheckpoint, LogError> {
    let checkpoint = Checkpoint::open_signed(note, verifier)?;
    if checkpoint.size != size {
        return Err(LogError::Store(StoreError::Corrupt(format!(
            "the stored checkpoint is of size {}, the tree {size}",
            checkpoint.size
        ))));
    }
    Ok(SignedCheckpoint { checkpoint, note: note.into() })
}

/// Appends to a stored log outside a running service (bulk tools: the load tool, tests
/// that need a large log): batches through the backend's own sequencer and transaction,
/// so that tiles, entries, index rows and salts are what the integration loop writes, but
/// without a checkpoint (the log signs one when it opens) and with one sync at the end.
pub struct BulkAppend {
    store: Arc<dyn LogStore>,
    sequencer: Box<dyn Sequencer>,
    edge: RightEdge,
    unsynced: bool,
}

impl BulkAppend {
    pub(crate) fn new(storage: LogStorage) -> Self {
        Self { store: storage.store, sequencer: storage.sequencer, edge: RightEdge::default(), unsynced: false }
    }

    /// Leaves in the log.
    ///
    /// # Errors
    /// On storage failure.
    pub fn size(&self) -> Result<u64, StoreError> {
        self.store.size()
    }

    /// Appends `leaves` as one batch (visible at once, durable after [`BulkAppend::finish`]).
    ///
    /// # Errors
    /// [`StoreError::Leased`] while another process sequences; when a leaf cannot be an
    /// entry; on storage failure.
    pub fn append(&mut self, leaves: &[&NewLeaf]) -> Result<(), LogError> {
        if let Some(len) = leaves.iter().map(|l| l.leaf.len()).find(|&len| len > tiles::MAX_ENTRY_LEN) {
            return Err(LogError::LeafTooLarge { len });
        }
        let extended = match self.sequencer.begin() {
            Ok(Some(ext)) => extend(&mut self.edge, None, ext, leaves, u64::MAX),
            Ok(None) => Err(LogError::Store(StoreError::Leased)),
            Err(e) => Err(LogError::Store(e)),
        };
        let extended = extended.inspect_err(|_| self.edge.forget())?;
        self.unsynced |= extended.committed == Some(Committed::NeedsSync);
        Ok(())
    }

    /// Makes everything appended durable and gives up the lease.
    ///
    /// # Errors
    /// On storage failure.
    pub fn finish(mut self) -> Result<(), LogError> {
        if self.unsynced {
            self.store.sync()?;
        }
        self.sequencer.release();
        Ok(())
    }
}

/// Whether the integration loop has ended: after its last stamp was answered and its
/// lease given up. A process waits for it before it exits, or a sequencer's lease would
/// hold the other nodes up until it runs out.
#[derive(Clone, Default)]
pub struct LogStopped(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl LogStopped {
    fn set(&self) {
        let (done, changed) = &*self.0;
        *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        changed.notify_all();
    }

    /// Waits until the loop has ended, at most `timeout`; whether it has.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (done, changed) = &*self.0;
        let guard = done.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = changed.wait_timeout_while(guard, timeout, |done| !*done).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// The loop's state (see the module documentation).
pub(crate) struct Integrator {
    pub(crate) sequencer: Box<dyn Sequencer>,
    pub(crate) signer: NoteSigner,
    pub(crate) publisher: Publisher,
    pub(crate) observer: Arc<dyn LogObserver>,
    pub(crate) edge: RightEdge,
    pub(crate) stopped: LogStopped,
}

/// The loop's bookkeeping between iterations.
struct Pace {
    role: Role,
    /// Whether the last extension wrote anything: poll fast while stamps flow.
    busy: bool,
    last_claim: Option<Instant>,
    last_follow: Instant,
    /// Stamps handed over to another node, by leaf hash, with when.
    waiting: HashMap<Sha256Digest, Vec<(Job, Instant)>>,
    /// Stamps whose extension met a conflict: they go into the next one.
    again: Vec<Job>,
}

impl Integrator {
    /// Starts the loop (and the syncer it hands batches to) on threads of their own; they
    /// end when the log's last handle is dropped.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub(crate) fn start(self, store: Arc<dyn LogStore>, jobs: mpsc::Receiver<Job>) -> Result<(), LogError> {
        let spawn_failed = |e: std::io::Error| LogError::AppendFailed(format!("cannot start the log writer: {e}"));
        let (written, to_sync) = std::sync::mpsc::sync_channel(crate::log::durable::SYNC_QUEUE);
        let syncer = Syncer { store, publisher: self.publisher.clone(), observer: self.observer.clone() };
        std::thread::Builder::new().name("log-sync".into()).spawn(move || syncer.run(to_sync)).map_err(spawn_failed)?;
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || self.run(jobs, written))
            .map_err(spawn_failed)?;
        Ok(())
    }

    fn run(mut self, mut jobs: mpsc::Receiver<Job>, written: std::sync::mpsc::SyncSender<Written>) {
        let shared = self.sequencer.shared();
        // Waiting with a time limit needs a timer: a runtime of this thread's own.
        let timer = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "the log writer cannot start its timer");
                return;
            }
        };
        let mut pace = Pace {
            role: if shared { Role::Frontend } else { Role::Sequencer },
            busy: false,
            last_claim: None,
            last_follow: Instant::now(),
            waiting: HashMap::new(),
            again: Vec::new(),
        };
        self.publisher.set_role(pace.role);
        loop {
            let mut batch = std::mem::take(&mut pace.again);
            let first = if !shared {
                // One writer: nothing to do until a stamp comes.
                jobs.blocking_recv().map(Some)
            } else {
                let tick = match pace.role {
                    // At start: settle the role at once (the lease may be free).
                    _ if pace.last_claim.is_none() || !batch.is_empty() => Duration::ZERO,
                    Role::Sequencer if pace.busy => Duration::from_millis(1),
                    Role::Sequencer => Duration::from_millis(10),
                    Role::Frontend if !pace.waiting.is_empty() => Duration::from_millis(2),
                    Role::Frontend => Duration::from_millis(50),
                };
                match timer.block_on(async { tokio::time::timeout(tick, jobs.recv()).await }) {
                    Ok(Some(job)) => Some(Some(job)),
                    Ok(None) => None,
                    Err(_) => Some(None),
                }
            };
            let Some(first) = first else { break };
            batch.extend(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let may_claim = pace.last_claim.is_none_or(|at| at.elapsed() >= CLAIM_EVERY);
            if pace.role == Role::Sequencer || may_claim {
                pace.last_claim = Some(Instant::now());
                batch = self.step(&mut pace, batch, &written);
            }
            if !batch.is_empty() {
                self.hand_over(&mut pace, batch);
            }
            if shared && (!pace.waiting.is_empty() || pace.last_follow.elapsed() >= FOLLOW_EVERY) {
                self.follow(&mut pace);
            }
            expire(&mut pace.waiting);
        }
        self.drain(&mut pace, &written);
        if pace.role == Role::Sequencer {
            // Hand the lease over now rather than make the other nodes wait it out.
            self.sequencer.release();
        }
        fail(pace.again, "the service is stopping");
        fail(pace.waiting.into_values().flatten().map(|(job, _)| job), "the service is stopping");
        // After the syncer has answered what it holds: it ends once `written` is gone.
        drop(written);
        tracing::info!("log writer stopped");
        self.stopped.set();
    }

    /// At a stop, answers the stamps already accepted rather than fail them: those whose
    /// extension met a conflict go round again, and those handed over to another node
    /// are followed until the tree holds them (at most the wait limit), so that a rolling
    /// restart fails no stamp and a retrying client makes no duplicate.
    fn drain(&mut self, pace: &mut Pace, written: &std::sync::mpsc::SyncSender<Written>) {
        let until = Instant::now() + WAIT_LIMIT;
        while (!pace.again.is_empty() || !pace.waiting.is_empty()) && Instant::now() < until {
            let again = std::mem::take(&mut pace.again);
            if !again.is_empty() {
                let left = self.step(pace, again, written);
                if !left.is_empty() {
                    self.hand_over(pace, left);
                }
            }
            if !pace.waiting.is_empty() {
                self.follow(pace);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// One extension, if this node holds or can take the lease; returns the jobs it did
    /// not take (to hand over).
    fn step(&mut self, pace: &mut Pace, jobs: Vec<Job>, written: &std::sync::mpsc::SyncSender<Written>) -> Vec<Job> {
        let started = Instant::now();
        let published = self.publisher.size();
        let leaves: Vec<&NewLeaf> = jobs.iter().map(|j| &j.leaf).collect();
        // Only other fields of `self` while the extension borrows the sequencer.
        let outcome = match self.sequencer.begin() {
            Ok(Some(ext)) => Some(extend(&mut self.edge, Some(&self.signer), ext, &leaves, published)),
            Ok(None) => None,
            Err(e) => Some(Err(LogError::Store(e))),
        };
        let extended = match outcome {
            Some(Ok(extended)) => extended,
            Some(Err(e)) => return self.failed(pace, jobs, &e),
            None => {
                if pace.role == Role::Sequencer {
                    tracing::warn!("another node holds the sequencer lease: this node is a frontend now");
                }
                self.set_role(pace, Role::Frontend);
                return jobs;
            }
        };
        if pace.role != Role::Sequencer && self.sequencer.shared() {
            tracing::info!(size = extended.size_before, "this node is now the log's sequencer");
        }
        self.set_role(pace, Role::Sequencer);
        pace.busy = extended.leaves > 0;
        let Some(checkpoint) = extended.checkpoint else { return Vec::new() };
        match extended.committed {
            None => self.publisher.publish(checkpoint),
            Some(Committed::Durable) => {
                self.observer.batch_written(extended.leaves);
                self.observer.synced(extended.leaves, started.elapsed());
                self.publisher.publish(checkpoint.clone());
                acknowledge(jobs, extended.size_before, &checkpoint);
            }
            Some(Committed::NeedsSync) => {
                self.observer.batch_written(extended.leaves);
                let batch = Written { jobs, size_before: extended.size_before, checkpoint };
                if let Err(std::sync::mpsc::SendError(batch)) = written.send(batch) {
                    fail(batch.jobs, "the log syncer has stopped");
                }
            }
        }
        Vec::new()
    }

    /// After a failed extension: conflicts go round again, anything else is answered.
    fn failed(&mut self, pace: &mut Pace, jobs: Vec<Job>, e: &LogError) -> Vec<Job> {
        // Whether a commit happened is unknown: read the edge again next time.
        self.edge.forget();
        pace.busy = false;
        if let LogError::Store(StoreError::Conflict(why)) = e {
            // Another transaction got in the way (CockroachDB's usual answer to
            // contention): nothing was written; the stamps go into the next extension.
            tracing::debug!(error = %why, "the extension met a conflict; trying again");
            pace.again = jobs;
            return Vec::new();
        }
        tracing::error!(error = %e, stamps = jobs.len(), "log append failed; no stamp of this batch was acknowledged");
        fail(jobs, &format!("the log could not be extended: {e}"));
        Vec::new()
    }

    fn set_role(&self, pace: &mut Pace, role: Role) {
        pace.role = role;
        self.publisher.set_role(role);
    }

    /// Hands `jobs` over to the lease holder; they wait in `pace.waiting`.
    fn hand_over(&mut self, pace: &mut Pace, jobs: Vec<Job>) {
        let leaves: Vec<&NewLeaf> = jobs.iter().map(|j| &j.leaf).collect();
        match self.sequencer.hand_over(&leaves) {
            Ok(()) => {
                let now = Instant::now();
                for job in jobs {
                    pace.waiting.entry(job.leaf.leaf_hash).or_default().push((job, now));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, stamps = jobs.len(), "handing stamps over to the sequencer failed");
                fail(jobs, &format!("the stamps could not be queued: {e}"));
            }
        }
    }

    /// Reads the tree and which waiting stamps it holds now; publishes its checkpoint and
    /// answers those stamps with it.
    fn follow(&mut self, pace: &mut Pace) {
        pace.last_follow = Instant::now();
        let hashes: Vec<Sha256Digest> = pace.waiting.keys().copied().collect();
        let followed = match self.sequencer.follow(&hashes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "reading the log's tree failed");
                return;
            }
        };
        if followed.size <= self.publisher.size() && followed.found.is_empty() {
            return;
        }
        let Some(note) = followed.checkpoint else { return };
        let checkpoint = match open_stored(&self.signer.verifier(), &note, followed.size) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the tree's checkpoint cannot be used");
                return;
            }
        };
        self.publisher.publish(checkpoint.clone());
        for (hash, index) in followed.found {
            for (job, _) in pace.waiting.remove(&hash).unwrap_or_default() {
                job.answer(Ok(Appended { index, checkpoint: checkpoint.clone() }));
            }
        }
    }
}

/// Answers stamps that waited too long for another node with an error.
fn expire(waiting: &mut HashMap<Sha256Digest, Vec<(Job, Instant)>>) {
    let mut expired = Vec::new();
    waiting.retain(|_, jobs| {
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
        fail(expired, "no sequencer integrated the stamp in time; it may still be: look it up by its stamp id later");
    }
}
