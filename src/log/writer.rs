//! The provenance log: one writer thread appends leaves in batches (group commit),
//! updates the Merkle tree, and signs a new checkpoint after each batch; a syncer
//! thread makes written batches durable and only then acknowledges them.
//!
//! Why one writer: the index of a leaf and every Merkle node depend on all leaves before
//! it, so appends are inherently sequential. Making them sequential in one thread (and
//! not with a lock held across an fsync) lets every stamp that arrives while a batch is
//! being written join the next one: N concurrent stamps cost one fsync, not N.
//!
//! Why a second thread for the fsync: writing a batch costs CPU, making it
//! durable costs waiting on the disk. Pipelined, the writer builds and writes batch N+1
//! while batch N is being synced, and one sync covers every batch written before it
//! started. A stamp is still acknowledged only after a sync that covers it returned, and
//! a checkpoint is published (to readers and receipts) only for a synced tree.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::log::checkpoint::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use crate::log::merkle::{self, Frontier, NodeId, NodeSource, TreeError};
use crate::log::store::{Batch, BundlePiece, LogStore, NewLeaf, StoreError, StoredNodes};
use crate::log::tiles::{self, BuildError, BundleId, TileId};
use crate::log::LogIndex;
use crate::memo::{lock, Memo};
use crate::Sha256Digest;

/// Most leaves in one batch: bounds the time a batch holds its callers and the memory
/// of one batch.
const MAX_BATCH: usize = 1024;
/// Queue depth in front of the writer; callers wait (backpressure) when it is full.
const QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Merkle tree: {0}")]
    Tree(#[from] TreeError<StoreError>),
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("this data directory belongs to the log with origin {stored:?}, not {configured:?}")]
    OriginMismatch { stored: String, configured: String },
    #[error("the log writer has stopped")]
    WriterGone,
    #[error("the append failed: {0}")]
    AppendFailed(String),
    #[error(
        "the log's newest checkpoint does not verify with this node's checkpoint key ({0}): \
         every node of a service must use the same keys directory"
    )]
    KeyMismatch(String),
    #[error("a leaf of {len} bytes cannot be an entry of the log (at most {max})", max = tiles::MAX_ENTRY_LEN)]
    LeafTooLarge { len: usize },
}

/// A checkpoint and its signed-note text.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Arc<str>,
}

/// The result of one append: where the leaf is, and a checkpoint that includes it.
#[derive(Debug, Clone)]
pub struct Appended {
    pub index: LogIndex,
    pub checkpoint: SignedCheckpoint,
}

/// What the log reports as it works, for monitoring. The log keeps no figures of its
/// own and knows nothing of how they are published; the service's metrics implement this.
pub trait LogObserver: Send + Sync + 'static {
    /// The writer wrote a batch of `leaves` leaves and signed its checkpoint.
    fn batch_written(&self, leaves: usize);
    /// The syncer made `leaves` leaves durable with one sync (group commit) that took `took`.
    fn synced(&self, leaves: usize, took: Duration);
}

/// Observes nothing.
impl LogObserver for () {
    fn batch_written(&self, _: usize) {}
    fn synced(&self, _: usize, _: Duration) {}
}

/// The newest checkpoint and when this process published it.
struct Published {
    checkpoint: SignedCheckpoint,
    at: Instant,
}

/// A leaf waiting to be appended, and who waits for the answer.
pub struct Job {
    leaf: NewLeaf,
    reply: oneshot::Sender<Result<Appended, String>>,
}

impl Job {
    pub fn leaf(&self) -> &NewLeaf {
        &self.leaf
    }

    /// Answers the caller: `Ok` only once a durable checkpoint covers the leaf. The
    /// caller may have gone away (client disconnected); the leaf is in the log regardless.
    pub fn answer(self, result: Result<Appended, String>) {
        let _ = self.reply.send(result);
    }
}

/// What this process does for the log: on one machine it is always the sequencer; of
/// several nodes on one database, one is (the lease holder), the others are frontends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Integrates appends into the tree and signs its checkpoints.
    Sequencer,
    /// Queues its appends for the sequencer and serves reads.
    Frontend,
}

/// Where a sequencer publishes checkpoints (its own, or another node's it read) for this
/// process's readers, and says which role the process has.
#[derive(Clone)]
pub struct Publisher {
    latest: Arc<RwLock<Published>>,
    sequencing: Arc<std::sync::atomic::AtomicBool>,
}

impl Publisher {
    /// Makes `checkpoint` the newest, unless a larger tree is published already.
    pub fn publish(&self, checkpoint: SignedCheckpoint) {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        if checkpoint.checkpoint.size >= latest.checkpoint.checkpoint.size {
            *latest = Published { checkpoint, at: Instant::now() };
        }
    }

    /// The newest published checkpoint.
    pub fn latest(&self) -> SignedCheckpoint {
        // A poisoned lock only means a writer panicked mid-update of a value that is
        // replaced whole; the value itself is still a valid checkpoint.
        self.latest.read().unwrap_or_else(|e| e.into_inner()).checkpoint.clone()
    }

    pub fn set_role(&self, role: Role) {
        self.sequencing.store(role == Role::Sequencer, std::sync::atomic::Ordering::Relaxed);
    }

    fn role(&self) -> Role {
        if self.sequencing.load(std::sync::atomic::Ordering::Relaxed) {
            Role::Sequencer
        } else {
            Role::Frontend
        }
    }
}

/// What a sequencer of another backend (`crate::pg`) starts from: the queue of appends,
/// where to publish, the checkpoint key, and the store.
pub struct Integration {
    pub jobs: mpsc::Receiver<Job>,
    pub publisher: Publisher,
    pub signer: NoteSigner,
    pub observer: Arc<dyn LogObserver>,
    pub store: Arc<dyn LogStore>,
    /// The tree's right edge at the published size, when opening had to load it (to
    /// re-sign the tree); a sequencer that needs it loads it otherwise.
    pub frontier: Option<Frontier>,
}

/// What opening a log does with a stored checkpoint its key does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyChange {
    /// Re-sign the tree: one process, whose checkpoint key was replaced.
    Resign,
    /// Refuse to start: another node of the same service signed it with another key.
    Refuse,
}

/// Merkle nodes read from the stored tiles, remembered: a perfect subtree's hash never
/// changes once its leaves are written, and the upper levels are shared by every proof,
/// so most nodes of a proof are answered without reading or hashing a tile row.
///
/// The rows read are remembered too, cut to what the published tree covers (past it, a
/// row may hold what a failed batch left, which the next one overwrites). A row cut so
/// never changes: a receipt's proof right after a batch reads the right-edge tiles that
/// every other receipt of the batch needs, once, not once per receipt (from a database,
/// a round trip each).
struct CachedNodes<'a> {
    store: &'a dyn LogStore,
    memo: &'a Mutex<Memo<NodeId, Sha256Digest>>,
    rows: &'a Mutex<Memo<TileId, Arc<Vec<u8>>>>,
    published: u64,
}

/// Rows remembered by [`CachedNodes`], as they were read.
struct RememberedRows<'a>(&'a Mutex<Memo<TileId, Arc<Vec<u8>>>>);

impl tiles::TileReader for RememberedRows<'_> {
    type Error = std::convert::Infallible;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(lock(self.0).get(&tile).map(|row| row.as_ref().clone()))
    }
}

impl NodeSource for CachedNodes<'_> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        if let Some(hash) = lock(self.memo).get(&id) {
            return Ok(hash);
        }
        let hash = match tiles::TileNodes(RememberedRows(self.rows)).node(id) {
            Ok(hash) => hash,
            Err(_) => self.read_and_remember(id)?,
        };
        lock(self.memo).insert(id, hash);
        Ok(hash)
    }
}

impl CachedNodes<'_> {
    /// Node `id` from its tile read from the store; the part of that row the published
    /// tree covers is remembered.
    fn read_and_remember(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        let Some((tile, _)) = TileId::covering(id) else { return StoredNodes(self.store).node(id) };
        let mut one: std::collections::HashMap<TileId, Vec<u8>> =
            self.store.read_tile(tile)?.map(|row| (tile, row)).into_iter().collect();
        // As StoredNodes: a node its tile does not hold means a damaged store.
        let hash = tiles::TileNodes(&one).node(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Some(mut row) = one.remove(&tile) else { return Ok(hash) };
        let shift = u32::from(tile.level()) * u32::from(tiles::TILE_HEIGHT);
        let below = self.published.checked_shr(shift).unwrap_or(0);
        let covered = below.saturating_sub(tile.index().saturating_mul(tiles::TILE_WIDTH as u64));
        row.truncate(covered.min(tiles::TILE_WIDTH as u64) as usize * 32);
        let wider = lock(self.rows).get(&tile).is_none_or(|old| old.len() < row.len());
        if wider && !row.is_empty() {
            lock(self.rows).insert(tile, Arc::new(row));
        }
        Ok(hash)
    }
}

/// Tile rows remembered per generation: up to 8 KiB each, so at most 1 MiB for the two;
/// the right edge and the upper levels are what proofs read again and again.
const ROW_MEMO: usize = 64;
/// Nodes remembered per generation of the node memo: about 100 bytes each.
const NODE_MEMO: usize = 100_000;
/// Full bundles whose entry offsets are remembered: about 1 KiB each, so 8 MiB for the
/// two generations, and the leaves of the last 2,000,000 entries read with one read each.
const OFFSETS_MEMO: usize = 4096;
/// Full entry bundles remembered (for `/tlog/` and first reads of a bundle's leaves): two
/// generations of 32, about 15 MB at real leaves of about 900 bytes (16 MiB a bundle at
/// the 65,535-byte limit). A full bundle never changes.
const BUNDLE_MEMO: usize = 32;

/// A handle on the log; cheap to clone.
#[derive(Clone)]
pub struct Log {
    store: Arc<dyn LogStore>,
    nodes: Arc<Mutex<Memo<NodeId, Sha256Digest>>>,
    /// Tile rows, cut to the published tree (see [`CachedNodes`]).
    rows: Arc<Mutex<Memo<TileId, Arc<Vec<u8>>>>>,
    bundles: Arc<Mutex<Memo<BundleId, Arc<Vec<u8>>>>>,
    /// Where each entry of a full bundle starts (and the last ends), by bundle.
    offsets: Arc<Mutex<Memo<BundleId, Arc<[u32]>>>>,
    tx: mpsc::Sender<Job>,
    verifier: NoteVerifier,
    /// The newest checkpoint, as the writer (or a sequencer) publishes it.
    publisher: Publisher,
}

impl Log {
    /// Opens the log on `store`, checks that it belongs to `origin`, makes sure a
    /// checkpoint for the current size exists, and starts the writer thread. Startup
    /// reads a handful of keys: it never replays the log.
    ///
    /// # Errors
    /// On storage errors, or when the store was created for another origin.
    pub fn open(store: Arc<dyn LogStore>, signer: NoteSigner) -> Result<Self, LogError> {
        Self::open_observed(store, signer, Arc::new(()))
    }

    /// [`Log::open`], reporting batches and syncs to `observer`.
    ///
    /// # Errors
    /// As [`Log::open`].
    pub fn open_observed(
        store: Arc<dyn LogStore>,
        signer: NoteSigner,
        observer: Arc<dyn LogObserver>,
    ) -> Result<Self, LogError> {
        Self::open_with(store, signer, observer, KeyChange::Resign, |integration| {
            let Integration { jobs, publisher, signer, observer, frontier, store } = integration;
            let frontier = match frontier {
                Some(f) => f,
                None => Frontier::load(&StoredNodes(store.as_ref()), publisher.latest().checkpoint.size)?,
            };
            publisher.set_role(Role::Sequencer);
            let (written_tx, written_rx) = std::sync::mpsc::sync_channel(SYNC_QUEUE);
            let writer =
                Writer { store: store.clone(), signer, synced: written_tx, observer: observer.clone(), frontier };
            let syncer = Syncer { store, publisher, observer };
            let spawn_failed = |e: std::io::Error| LogError::AppendFailed(format!("cannot start the log writer: {e}"));
            std::thread::Builder::new()
                .name("log-sync".into())
                .spawn(move || syncer.run(written_rx))
                .map_err(spawn_failed)?;
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || writer.run(jobs))
                .map_err(spawn_failed)?;
            Ok(())
        })
    }

    /// Opens the log on `store` as [`Log::open`] does, with appends integrated by what
    /// `start` starts (the sequencer of a shared database, `crate::pg`) instead of this
    /// process's writer. A stored checkpoint that this process's key does not verify is
    /// refused: another node signed it, so the keys differ.
    ///
    /// # Errors
    /// As [`Log::open`]; [`LogError::KeyMismatch`]; `start`'s error.
    pub fn open_sequenced(
        store: Arc<dyn LogStore>,
        signer: NoteSigner,
        observer: Arc<dyn LogObserver>,
        start: impl FnOnce(Integration) -> Result<(), LogError>,
    ) -> Result<Self, LogError> {
        Self::open_with(store, signer, observer, KeyChange::Refuse, start)
    }

    fn open_with(
        store: Arc<dyn LogStore>,
        signer: NoteSigner,
        observer: Arc<dyn LogObserver>,
        key_change: KeyChange,
        start: impl FnOnce(Integration) -> Result<(), LogError>,
    ) -> Result<Self, LogError> {
        let origin = signer.verifier().name().to_owned();
        match store.meta("origin")? {
            Some(stored) if stored != origin.as_bytes() => {
                return Err(LogError::OriginMismatch {
                    stored: String::from_utf8_lossy(&stored).into(),
                    configured: origin,
                })
            }
            Some(_) => {}
            None => store.set_meta("origin", origin.as_bytes())?,
        }
        let verifier = signer.verifier();
        let size = store.size()?;
        let existing = match store.latest_checkpoint()? {
            Some(note) => match Checkpoint::open_signed(&note, &verifier) {
                Ok(checkpoint) => Some(checkpoint)
                    .filter(|c| c.size == size)
                    .map(|checkpoint| SignedCheckpoint { checkpoint, note: note.into() }),
                Err(e) if key_change == KeyChange::Refuse => return Err(LogError::KeyMismatch(e.to_string())),
                Err(_) => None,
            },
            None => None,
        };
        // The tree's right edge, loaded (a tile per level) only to re-sign the tree here;
        // the writer needs it too and takes this one.
        let mut frontier = None;
        let latest = match existing {
            Some(c) => c,
            None => {
                // After a crash between the durable append and the checkpoint write,
                // after a bulk fill, or after a key change: re-sign the durable tree.
                let loaded = Frontier::load(&StoredNodes(store.as_ref()), size)?;
                let c = sign_checkpoint(&signer, size, loaded.root())?;
                store.set_latest_checkpoint(&c.note)?;
                frontier = Some(loaded);
                c
            }
        };
        tracing::info!(size, origin = %origin, "log opened");
        let publisher = Publisher {
            latest: Arc::new(RwLock::new(Published { checkpoint: latest, at: Instant::now() })),
            sequencing: Arc::default(),
        };
        let (tx, jobs) = mpsc::channel(QUEUE);
        start(Integration { jobs, publisher: publisher.clone(), signer, observer, store: store.clone(), frontier })?;
        Ok(Self {
            store,
            nodes: Arc::new(Mutex::new(Memo::new(NODE_MEMO))),
            rows: Arc::new(Mutex::new(Memo::new(ROW_MEMO))),
            bundles: Arc::new(Mutex::new(Memo::new(BUNDLE_MEMO))),
            offsets: Arc::new(Mutex::new(Memo::new(OFFSETS_MEMO))),
            tx,
            verifier,
            publisher,
        })
    }

    /// What this process does for the log.
    pub fn role(&self) -> Role {
        self.publisher.role()
    }

    /// Appends `leaf` and waits until it is durable and covered by a signed checkpoint.
    ///
    /// # Errors
    /// When the writer has stopped or storage failed; nothing was acknowledged then.
    pub async fn append(&self, leaf: NewLeaf) -> Result<Appended, LogError> {
        if leaf.leaf.len() > tiles::MAX_ENTRY_LEN {
            return Err(LogError::LeafTooLarge { len: leaf.leaf.len() });
        }
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { leaf, reply }).await.map_err(|_| LogError::WriterGone)?;
        rx.await.map_err(|_| LogError::WriterGone)?.map_err(LogError::AppendFailed)
    }

    /// The bytes of leaf `index`, if a published checkpoint covers it (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn leaf(&self, index: LogIndex) -> Result<Option<Vec<u8>>, LogError> {
        let published = self.published_size();
        if index.0 >= published {
            return Ok(None);
        }
        if let Some(read) = self.store.read_leaf(index) {
            return Ok(read?);
        }
        let (bundle, position) = BundleId::containing(index.0);
        // A full bundle whose entry offsets are known: read just the entry, not the
        // whole bundle (up to 256 times its size).
        let known = lock(&self.offsets).get(&bundle);
        if let Some(offsets) = known {
            let (start, end) = (offsets[position] + 2, offsets[position + 1]);
            if let Some(bytes) = self.store.read_bundle_range(bundle, u64::from(start), (end - start) as usize)? {
                return Ok(Some(bytes));
            }
        }
        let Some(bytes) = self.bundle(bundle)? else { return Ok(None) };
        // Only the entries the checkpoint covers: past them the writer may be writing the
        // next batch's, and a read can catch one half written.
        let width = (published - bundle.index() * tiles::TILE_WIDTH as u64).min(tiles::TILE_WIDTH as u64) as usize;
        let corrupt = |e: tiles::BundleError| StoreError::Corrupt(format!("{bundle:?}: {e}"));
        let covered = tiles::bundle_prefix(&bytes, width).map_err(corrupt)?;
        let offsets = tiles::entry_offsets(covered).map_err(corrupt)?;
        let entry = covered[offsets[position] as usize + 2..offsets[position + 1] as usize].to_vec();
        if self.published_whole(bundle) {
            lock(&self.offsets).insert(bundle, offsets.into());
        }
        Ok(Some(entry))
    }

    /// The stored entries of a bundle, encoded: its widest version (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn bundle(&self, bundle: BundleId) -> Result<Option<Arc<Vec<u8>>>, LogError> {
        if let Some(bytes) = lock(&self.bundles).get(&bundle) {
            return Ok(Some(bytes));
        }
        let Some(bytes) = self.store.read_bundle(bundle)? else { return Ok(None) };
        let bytes = Arc::new(bytes);
        if self.published_whole(bundle) {
            lock(&self.bundles).insert(bundle, bytes.clone());
        }
        Ok(Some(bytes))
    }

    /// Whether a published checkpoint covers all of `bundle`: only then is what the store
    /// holds for it final. A batch that failed after writing its files leaves entries
    /// past the committed size, which the next batch overwrites.
    fn published_whole(&self, bundle: BundleId) -> bool {
        (u128::from(bundle.index()) + 1) * tiles::TILE_WIDTH as u128 <= u128::from(self.published_size())
    }

    /// The stored row of a hash tile: its widest version (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.store.read_tile(tile)?)
    }

    /// The leaf hash (stamp id) of leaf `index` (blocking).
    ///
    /// # Errors
    /// When the leaf does not exist or storage fails.
    pub fn leaf_hash(&self, index: LogIndex) -> Result<Sha256Digest, LogError> {
        Ok(self.cached_nodes().node(NodeId { level: 0, index: index.0 })?)
    }

    /// Where the leaf with this leaf hash (stamp id) is, if anywhere (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, LogError> {
        Ok(self.store.index_of(leaf_hash)?)
    }

    /// Leaves whose content has the exact hash `sha256` or, when given, the normalised
    /// text hash `normalized`: newest first, at most `limit`, and only leaves the newest
    /// checkpoint covers, which is returned too (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn find_content(
        &self,
        sha256: &Sha256Digest,
        normalized: Option<&Sha256Digest>,
        limit: usize,
    ) -> Result<(Vec<LogIndex>, SignedCheckpoint), LogError> {
        let mut indices = self.store.find_content(sha256, normalized, limit)?;
        let checkpoint = self.latest_checkpoint();
        indices.retain(|i| i.0 < checkpoint.checkpoint.size);
        Ok((indices, checkpoint))
    }

    /// The prompt salt of stamp `leaf_hash`, unless it was erased or never existed.
    ///
    /// # Errors
    /// On storage failure.
    pub fn prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<Option<[u8; 32]>, LogError> {
        match self.store.index_of(leaf_hash)? {
            Some(index) => Ok(self.store.prompt_salt(index)?),
            None => Ok(None),
        }
    }

    /// Erases the prompt salt of stamp `leaf_hash` for good; whether there was one.
    ///
    /// # Errors
    /// On storage failure.
    pub fn erase_prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<bool, LogError> {
        match self.store.index_of(leaf_hash)? {
            Some(index) => Ok(self.store.erase_prompt_salt(index)?),
            None => Ok(false),
        }
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The newest signed checkpoint.
    pub fn latest_checkpoint(&self) -> SignedCheckpoint {
        self.published().checkpoint.clone()
    }

    fn published(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        // As Publisher::latest: a poisoned lock still holds a valid checkpoint.
        self.publisher.latest.read().unwrap_or_else(|e| e.into_inner())
    }

    /// How long ago this process published the newest checkpoint (at start for the one
    /// it found or signed then). It grows while nothing is stamped.
    pub fn checkpoint_age(&self) -> Duration {
        self.published().at.elapsed()
    }

    /// Appends waiting in front of the writer (it takes up to 1,024 at a time).
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Whether the writer still takes appends. It stops only when its thread or the
    /// syncer's ended (a panic); appends answer [`LogError::WriterGone`] then.
    pub fn is_writing(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Inclusion proof of leaf `index` in the tree of size `size` (blocking: tile reads).
    ///
    /// # Errors
    /// When `index >= size`, `size` exceeds the log, or storage fails.
    pub fn inclusion_proof(&self, index: LogIndex, size: u64) -> Result<Vec<Sha256Digest>, LogError> {
        self.check_size(size)?;
        Ok(merkle::inclusion_proof(&self.cached_nodes(), index.0, size)?)
    }

    /// Consistency proof between two tree sizes (blocking: tile reads).
    ///
    /// # Errors
    /// When the sizes are out of order or beyond the log, or storage fails.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Sha256Digest>, LogError> {
        self.check_size(second)?;
        Ok(merkle::consistency_proof(&self.cached_nodes(), first, second)?)
    }

    /// Writes a copy of the log as the newest checkpoint has it, a data directory of its
    /// own, into the new directory `dir`, while appends go on (blocking). Leaves appended
    /// meanwhile are not in it. Returns the checkpoint the copy ends at.
    ///
    /// # Errors
    /// On storage failure; `dir` may hold a partial copy then.
    pub fn backup(&self, dir: &std::path::Path) -> Result<SignedCheckpoint, LogError> {
        // Published means synced: every leaf, node and salt it covers is written.
        let checkpoint = self.latest_checkpoint();
        self.store.backup(dir, checkpoint.checkpoint.size, &checkpoint.note)?;
        Ok(checkpoint)
    }

    fn cached_nodes(&self) -> CachedNodes<'_> {
        CachedNodes {
            store: self.store.as_ref(),
            memo: &self.nodes,
            rows: &self.rows,
            published: self.published_size(),
        }
    }

    /// The size of the newest checkpoint: the largest tree a proof may be asked against.
    pub fn published_size(&self) -> u64 {
        self.latest_checkpoint().checkpoint.size
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        let published = self.published_size();
        if size > published {
            return Err(LogError::Tree(TreeError::IndexOutOfRange { index: size, size: published }));
        }
        Ok(())
    }
}

/// Signs the checkpoint of the tree of `size` leaves whose root is `root`.
///
/// # Errors
/// When the note cannot be signed.
pub fn sign_checkpoint(signer: &NoteSigner, size: u64, root: Sha256Digest) -> Result<SignedCheckpoint, LogError> {
    let checkpoint = Checkpoint { origin: signer.verifier().name().to_owned(), size, root, extensions: Vec::new() };
    let note = checkpoint.sign(signer)?;
    Ok(SignedCheckpoint { checkpoint, note: note.into() })
}

/// Written batches waiting for the syncer; the writer waits (backpressure) past this.
const SYNC_QUEUE: usize = 16;

/// A batch written to the store, not yet durable.
struct Written {
    jobs: Vec<Job>,
    size_before: u64,
    checkpoint: SignedCheckpoint,
}

struct Writer {
    store: Arc<dyn LogStore>,
    signer: NoteSigner,
    synced: std::sync::mpsc::SyncSender<Written>,
    observer: Arc<dyn LogObserver>,
    /// The right edge of the tree as written: the root of each batch costs a few hashes
    /// and no reads.
    frontier: Frontier,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            match self.write_batch(&jobs) {
                Ok((size_before, checkpoint)) => {
                    self.observer.batch_written(jobs.len());
                    if let Err(std::sync::mpsc::SendError(written)) =
                        self.synced.send(Written { jobs, size_before, checkpoint })
                    {
                        fail(written.jobs, "the log syncer has stopped");
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, batch = jobs.len(), "log append failed; no stamp of this batch was acknowledged");
                    fail(jobs, &e.to_string());
                }
            }
        }
        tracing::info!("log writer stopped");
    }

    fn write_batch(&mut self, jobs: &[Job]) -> Result<(u64, SignedCheckpoint), LogError> {
        let store = self.store.as_ref();
        let size_before = store.size()?;
        if size_before != self.frontier.size() {
            // A batch the store refused half-way: start again from what it holds.
            self.frontier = Frontier::load(&StoredNodes(store), size_before)?;
        }
        let leaves: Vec<&NewLeaf> = jobs.iter().map(|j| &j.leaf).collect();
        let mut frontier = self.frontier.clone();
        for leaf in &leaves {
            frontier.push(leaf.leaf_hash)?;
        }
        write_leaves(store, size_before, &leaves)?;
        self.frontier = frontier;
        let checkpoint = sign_checkpoint(&self.signer, self.frontier.size(), self.frontier.root())?;
        tracing::debug!(batch = jobs.len(), size = self.frontier.size(), "written");
        Ok((size_before, checkpoint))
    }
}

/// Writes `leaves` at indices `size_before..` as one batch: the tiles they change, their
/// bundle pieces, index entries and salts. Not durable until the store's next sync, and
/// no checkpoint: what the writer does per batch, and what bulk tools (the load tool,
/// tests that need a large log) do to fill a log fast.
///
/// # Errors
/// When a leaf cannot be a bundle entry, the store does not hold `size_before` leaves,
/// or storage fails.
pub fn write_leaves(store: &dyn LogStore, size_before: u64, leaves: &[&NewLeaf]) -> Result<(), LogError> {
    let hashes: Vec<Sha256Digest> = leaves.iter().map(|l| l.leaf_hash).collect();
    let tiles = tiles::build_tiles(size_before, &hashes, |t| store.read_tile(t)).map_err(|e| match e {
        BuildError::Read(e) => LogError::Store(e),
        BuildError::TreeFull => LogError::Tree(TreeError::Full),
        other => LogError::Store(StoreError::Corrupt(other.to_string())),
    })?;
    let entries: Vec<&[u8]> = leaves.iter().map(|l| l.leaf.as_slice()).collect();
    let pieces = BundlePiece::split(size_before, &entries).map_err(|e| LogError::AppendFailed(e.to_string()))?;
    store.write(&Batch { size_before, leaves, tiles, pieces })?;
    Ok(())
}

/// Makes written batches durable, publishes their checkpoint, acknowledges their stamps.
struct Syncer {
    store: Arc<dyn LogStore>,
    publisher: Publisher,
    observer: Arc<dyn LogObserver>,
}

impl Syncer {
    fn run(self, rx: std::sync::mpsc::Receiver<Written>) {
        while let Ok(first) = rx.recv() {
            // Every batch written by now is covered by the one sync below.
            let mut batches = vec![first];
            batches.extend(rx.try_iter());
            let Some(newest) = batches.last().map(|b| b.checkpoint.clone()) else { continue };
            let started = Instant::now();
            match self.sync(&newest) {
                Ok(()) => {
                    self.observer.synced(batches.iter().map(|b| b.jobs.len()).sum(), started.elapsed());
                    self.publisher.publish(newest);
                    for b in batches {
                        for (offset, job) in b.jobs.into_iter().enumerate() {
                            let appended = Appended {
                                index: LogIndex(b.size_before + offset as u64),
                                checkpoint: b.checkpoint.clone(),
                            };
                            job.answer(Ok(appended));
                        }
                    }
                }
                Err(e) => {
                    let count: usize = batches.iter().map(|b| b.jobs.len()).sum();
                    tracing::error!(error = %e, stamps = count, "log sync failed; no stamp of these batches was acknowledged");
                    for b in batches {
                        fail(b.jobs, &e.to_string());
                    }
                }
            }
        }
        tracing::info!("log syncer stopped");
    }

    fn sync(&self, newest: &SignedCheckpoint) -> Result<(), LogError> {
        self.store.sync()?;
        // After the sync, so a stored checkpoint never describes a tree that is not durable.
        self.store.set_latest_checkpoint(&newest.note)?;
        Ok(())
    }
}

/// Answers every job of a batch that failed with `why`.
pub fn fail(jobs: Vec<Job>, why: &str) {
    for job in jobs {
        job.answer(Err(why.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::log::LocalStore;

    /// A sled store whose writes panic, as a bug in the writer's path would.
    struct Panicking(LocalStore);

    impl LogStore for Panicking {
        fn size(&self) -> Result<u64, StoreError> {
            self.0.size()
        }
        fn write(&self, _: &Batch<'_>) -> Result<(), StoreError> {
            panic!("a write that panics")
        }
        fn sync(&self) -> Result<(), StoreError> {
            self.0.sync()
        }
        fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.read_tile(tile)
        }
        fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.read_bundle(bundle)
        }
        fn read_bundle_range(&self, bundle: BundleId, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.read_bundle_range(bundle, start, len)
        }
        fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError> {
            self.0.index_of(leaf_hash)
        }
        fn find_by_content(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
            self.0.find_by_content(digest, limit)
        }
        fn find_by_normalized_text(&self, digest: &Sha256Digest, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
            self.0.find_by_normalized_text(digest, limit)
        }
        fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError> {
            self.0.prompt_salt(index)
        }
        fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError> {
            self.0.erase_prompt_salt(index)
        }
        fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
            self.0.latest_checkpoint()
        }
        fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError> {
            self.0.set_latest_checkpoint(note)
        }
        fn backup(&self, dir: &Path, size: u64, checkpoint: &str) -> Result<(), StoreError> {
            self.0.backup(dir, size, checkpoint)
        }
        fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.meta(key)
        }
        fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
            self.0.set_meta(key, value)
        }
    }

    fn leaf(bytes: &[u8]) -> NewLeaf {
        NewLeaf {
            leaf: bytes.to_vec(),
            leaf_hash: merkle::leaf_hash(bytes),
            content_sha256: Sha256Digest::of(bytes),
            normalized_text_sha256: None,
            prompt_salt: None,
        }
    }

    #[tokio::test]
    async fn a_writer_that_died_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::log::open_db(dir.path()).unwrap();
        let signer = || NoteSigner::new("test.example/log", SigningKey::from_bytes(&[9; 32])).unwrap();
        let store = LocalStore::open(&db, dir.path()).unwrap();
        let log = Log::open(Arc::new(store.clone()), signer()).unwrap();
        assert!(log.is_writing());
        log.append(leaf(b"one")).await.unwrap();
        assert_eq!((log.published_size(), log.queue_depth()), (1, 0));

        let dying = Log::open(Arc::new(Panicking(store)), signer()).unwrap();
        assert!(dying.is_writing(), "it takes appends until one fails");
        assert!(matches!(dying.append(leaf(b"two")).await, Err(LogError::WriterGone)));
        // The caller hears of it as the panic drops the batch, a moment before the thread
        // has unwound to its end.
        for _ in 0..100 {
            if !dying.is_writing() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!dying.is_writing(), "a writer whose thread ended must not look alive");
        assert_eq!(dying.published_size(), 1, "nothing was published");
    }
}
