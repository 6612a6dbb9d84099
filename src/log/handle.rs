//! [`Log`]: the handle the rest of the crate appends and reads through. It opens the
//! log on a backend's [`LogStorage`], starts the integration loop (`integrate`) with the
//! backend's sequencer, and answers reads from the store through memos of what never
//! changes (perfect subtrees, full tiles and bundles).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::fingerprint::{CodeKind, ContentCode};
use crate::log::backend::LogStorage;
use crate::log::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use crate::log::error::LogError;
use crate::log::integrate::{Integrator, LogStopped, RightEdge};
use crate::log::job::{Appended, Job};
use crate::log::merkle::{self, Frontier, NodeId, NodeSource, TreeError};
use crate::log::publish::{sign_checkpoint, LogObserver, Published, Publisher, Role, SignedCheckpoint};
use crate::log::similar::{Similar, SimilarityIndex};
use crate::log::store::{ContentIndex, IndexKey, LogStore, NewLeaf, SaltStore, StoreError, StoreTiles, StoredNodes};
use crate::log::tiles::{self, BundleId, TileId};
use crate::log::LogIndex;
use crate::memo::{lock, Memo};
use crate::Sha256Digest;

/// Queue depth in front of the integration loop; callers wait (backpressure) when it is full.
const QUEUE: usize = 4096;

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
        let Some((tile, _)) = TileId::covering(id) else { return StoredNodes(StoreTiles(self.store)).node(id) };
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
/// Full entry bundles remembered (for `/tlog/` and first reads of a bundle's leaves): two
/// generations of 32, about 15 MB at real leaves of about 900 bytes (16 MiB a bundle at
/// the 65,535-byte limit). A full bundle never changes.
const BUNDLE_MEMO: usize = 32;

/// A handle on the log; cheap to clone.
#[derive(Clone)]
pub struct Log {
    store: Arc<dyn LogStore>,
    index: Arc<dyn ContentIndex>,
    similar: Arc<SimilarityIndex>,
    salts: Arc<dyn SaltStore>,
    nodes: Arc<Mutex<Memo<NodeId, Sha256Digest>>>,
    /// Tile rows, cut to the published tree (see [`CachedNodes`]).
    rows: Arc<Mutex<Memo<TileId, Arc<Vec<u8>>>>>,
    bundles: Arc<Mutex<Memo<BundleId, Arc<Vec<u8>>>>>,
    tx: mpsc::Sender<Job>,
    verifier: NoteVerifier,
    /// The newest checkpoint, as the integration loop publishes it.
    publisher: Publisher,
    stopped: LogStopped,
}

impl Log {
    /// Opens the log on `storage`, checks that it belongs to the signer's origin, makes
    /// sure a checkpoint for the current size exists, and starts the integration loop,
    /// which reports batches and syncs to `observer`. Start-up reads a handful of keys
    /// (and, to re-sign, a tile per level): it never replays the log.
    ///
    /// A stored checkpoint that `signer`'s key does not verify is re-signed where this
    /// process alone writes the log (its checkpoint key was replaced), and refused where
    /// other nodes write it too: another node signed it, so the keys differ.
    ///
    /// # Errors
    /// On storage errors; [`LogError::OriginMismatch`] when the store was created for
    /// another origin; [`LogError::KeyMismatch`].
    pub fn open(storage: LogStorage, signer: NoteSigner, observer: Arc<dyn LogObserver>) -> Result<Self, LogError> {
        let LogStorage { store, index, codes, salts, sequencer } = storage;
        let similar = Arc::new(SimilarityIndex::new(codes));
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
                Err(e) if sequencer.shared() => return Err(LogError::KeyMismatch(e.to_string())),
                Err(_) => None,
            },
            None => None,
        };
        // The tree's right edge, loaded (a tile per level) only to re-sign the tree here;
        // the integration loop starts from it then.
        let mut frontier = None;
        let latest = match existing {
            Some(c) => c,
            None => {
                // After a crash between the durable append and the checkpoint write,
                // after a bulk fill, or after a key change: re-sign the durable tree.
                let loaded = Frontier::load(&StoredNodes(StoreTiles(store.as_ref())), size)?;
                let c = sign_checkpoint(&signer, size, loaded.root())?;
                store.set_latest_checkpoint(&c.note)?;
                frontier = Some(loaded);
                c
            }
        };
        tracing::info!(size, origin = %origin, "log opened");
        let publisher = Publisher::new(latest);
        let (tx, jobs) = mpsc::channel(QUEUE);
        let stopped = LogStopped::default();
        let integrator = Integrator {
            sequencer,
            signer,
            publisher: publisher.clone(),
            observer,
            edge: RightEdge::starting_at(frontier),
            stopped: stopped.clone(),
        };
        integrator.start(store.clone(), jobs)?;
        Ok(Self {
            store,
            index,
            similar,
            salts,
            nodes: Arc::new(Mutex::new(Memo::new(NODE_MEMO))),
            rows: Arc::new(Mutex::new(Memo::new(ROW_MEMO))),
            bundles: Arc::new(Mutex::new(Memo::new(BUNDLE_MEMO))),
            tx,
            verifier,
            publisher,
            stopped,
        })
    }

    /// What tells when the integration loop has ended (after every handle is dropped).
    pub(crate) fn stopped(&self) -> LogStopped {
        self.stopped.clone()
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
        Ok(self.store.read_entry(index)?)
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
        Ok(self.index.index_of(leaf_hash)?)
    }

    /// Leaves whose content has the exact hash `sha256` or one of the normalised text
    /// hashes `normalized`: newest first, at most `limit`, and only leaves the newest
    /// checkpoint covers, which is returned too (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn find_content(
        &self,
        sha256: &Sha256Digest,
        normalized: &[Sha256Digest],
        limit: usize,
    ) -> Result<(Vec<LogIndex>, SignedCheckpoint), LogError> {
        let mut keys = vec![IndexKey::Content(*sha256)];
        keys.extend(normalized.iter().map(|n| IndexKey::NormalizedText(*n)));
        let mut indices = self.index.find(&keys, limit)?;
        let checkpoint = self.latest_checkpoint();
        indices.retain(|i| i.0 < checkpoint.checkpoint.size);
        Ok((indices, checkpoint))
    }

    /// Leaves with a sentence whose hash is among `sentences`: newest first, at most
    /// `limit`, only leaves the newest checkpoint covers (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn find_sentences(
        &self,
        sentences: &[Sha256Digest],
        limit: usize,
    ) -> Result<(Vec<LogIndex>, SignedCheckpoint), LogError> {
        let keys: Vec<IndexKey> = sentences.iter().map(|s| IndexKey::Sentence(*s)).collect();
        let mut indices = if keys.is_empty() { Vec::new() } else { self.index.find(&keys, limit)? };
        let checkpoint = self.latest_checkpoint();
        indices.retain(|i| i.0 < checkpoint.checkpoint.size);
        Ok((indices, checkpoint))
    }

    /// Leaves whose Content-Code is of `code`'s kind and within `max_distance` bits of
    /// it, nearest first, at most `limit`, among those the newest checkpoint covers; the
    /// similarity index first reads what was appended since it last looked (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn find_similar(
        &self,
        code: &ContentCode,
        max_distance: u32,
        limit: usize,
    ) -> Result<(Vec<Similar>, SignedCheckpoint), LogError> {
        let checkpoint = self.latest_checkpoint();
        self.similar.catch_up(checkpoint.checkpoint.size)?;
        Ok((self.similar.find(code, max_distance, checkpoint.checkpoint.size, limit), checkpoint))
    }

    /// Builds the similarity index from storage, up to the newest checkpoint, on a
    /// thread of its own, so that a large log does not delay the start; lookups
    /// meanwhile wait for it (they catch up under the same lock).
    pub fn load_similarity_index_in_background(&self) {
        let (similar, size) = (self.similar.clone(), self.latest_checkpoint().checkpoint.size);
        let spawned = std::thread::Builder::new().name("similarity-index".into()).spawn(move || {
            let started = std::time::Instant::now();
            match similar.catch_up(size) {
                Ok(()) => tracing::info!(
                    images = similar.len(CodeKind::Image),
                    texts = similar.len(CodeKind::Text),
                    took_ms = started.elapsed().as_millis() as u64,
                    "similarity index loaded"
                ),
                Err(e) => tracing::warn!(error = %e, "loading the similarity index failed; lookups will retry"),
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start loading the similarity index; lookups will load it");
        }
    }

    /// How many codes of `kind` the similarity index holds.
    pub fn similarity_codes(&self, kind: CodeKind) -> usize {
        self.similar.len(kind)
    }

    /// The prompt salt of stamp `leaf_hash`, unless it was erased or never existed.
    ///
    /// # Errors
    /// On storage failure.
    pub fn prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<Option<[u8; 32]>, LogError> {
        match self.index.index_of(leaf_hash)? {
            Some(index) => Ok(self.salts.prompt_salt(index)?),
            None => Ok(None),
        }
    }

    /// Erases the prompt salt of stamp `leaf_hash` for good; whether there was one.
    ///
    /// # Errors
    /// On storage failure.
    pub fn erase_prompt_salt(&self, leaf_hash: &Sha256Digest) -> Result<bool, LogError> {
        match self.index.index_of(leaf_hash)? {
            Some(index) => Ok(self.salts.erase_prompt_salt(index)?),
            None => Ok(false),
        }
    }

    /// A value of the log's own settings (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.store.meta(name)?)
    }

    /// Stores `value` under `name` in the log's settings unless a value is there already,
    /// and returns the value stored: first writer wins, across every node of the log
    /// (`LogStore::claim_meta`). Blocking.
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn claim_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, LogError> {
        Ok(self.store.claim_meta(name, value)?)
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The newest signed checkpoint.
    pub fn latest_checkpoint(&self) -> SignedCheckpoint {
        self.published().checkpoint.clone()
    }

    fn published(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        self.publisher.published()
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

    /// Leaves the store holds now, published or not yet (blocking: a read).
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn stored_size(&self) -> Result<u64, LogError> {
        Ok(self.store.size()?)
    }

    /// The root of the tree of the first `size` leaves (blocking: tile reads).
    ///
    /// # Errors
    /// When `size` exceeds the published tree, or storage fails.
    pub(crate) fn root_at(&self, size: u64) -> Result<Sha256Digest, LogError> {
        self.check_size(size)?;
        Ok(merkle::root(&self.cached_nodes(), size)?)
    }

    /// Consistency proof between two tree sizes (blocking: tile reads).
    ///
    /// # Errors
    /// When the sizes are out of order or beyond the log, or storage fails.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Sha256Digest>, LogError> {
        self.check_size(second)?;
        Ok(merkle::consistency_proof(&self.cached_nodes(), first, second)?)
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
        self.publisher.size()
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        let published = self.published_size();
        if size > published {
            return Err(LogError::Tree(TreeError::IndexOutOfRange { index: size, size: published }));
        }
        Ok(())
    }
}
