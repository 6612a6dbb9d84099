//! The embedded backend's [`Sequencer`]: one process owns the data directory (sled's
//! lock says so), so it holds the lease for good. An extension is a write of the batch's
//! files and one fjall batch ([`LocalStore`]'s commit point), made durable by the
//! syncer's next sync.

use super::store::LocalStore;
use crate::log::tiles::TileId;
use crate::log::{Batch, Committed, ContentIndex, Extension, Followed, LogStore, NewLeaf, Sequencer, StoreError};
use crate::Sha256Digest;

pub(crate) struct LocalSequencer {
    store: LocalStore,
}

impl LocalSequencer {
    pub(crate) fn new(store: LocalStore) -> Self {
        Self { store }
    }
}

impl Sequencer for LocalSequencer {
    fn shared(&self) -> bool {
        false
    }

    fn begin(&mut self) -> Result<Option<Box<dyn Extension + '_>>, StoreError> {
        Ok(Some(Box::new(LocalExtension { size: self.store.size()?, store: &self.store })))
    }

    fn follow(&mut self, leaf_hashes: &[Sha256Digest]) -> Result<Followed, StoreError> {
        let mut found = Vec::new();
        for hash in leaf_hashes {
            if let Some(index) = self.store.index_of(hash)? {
                found.push((*hash, index));
            }
        }
        Ok(Followed { size: self.store.size()?, checkpoint: self.store.latest_checkpoint()?, found })
    }
}

struct LocalExtension<'a> {
    store: &'a LocalStore,
    size: u64,
}

impl Extension for LocalExtension<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        self.store.latest_checkpoint()
    }

    fn queued(&mut self, _room: usize) -> Result<Vec<NewLeaf>, StoreError> {
        // Nobody else appends to this directory.
        Ok(Vec::new())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.read_tile(tile)
    }

    fn commit(self: Box<Self>, batch: &Batch<'_>, _checkpoint: Option<&str>) -> Result<Committed, StoreError> {
        if batch.leaves.is_empty() {
            return Ok(Committed::Durable);
        }
        // The checkpoint is stored by the syncer, after the sync that makes its tree durable.
        self.store.write(batch)?;
        Ok(Committed::NeedsSync)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::log::checkpoint::NoteSigner;
    use crate::log::{merkle, Log, LogError, LogStorage};

    /// The embedded sequencer, whose extensions panic: a bug in the writer's path.
    struct Panicking(LocalSequencer);

    impl Sequencer for Panicking {
        fn shared(&self) -> bool {
            false
        }
        fn begin(&mut self) -> Result<Option<Box<dyn Extension + '_>>, StoreError> {
            panic!("an extension that panics")
        }
        fn follow(&mut self, leaf_hashes: &[Sha256Digest]) -> Result<Followed, StoreError> {
            self.0.follow(leaf_hashes)
        }
    }

    fn storage(store: &LocalStore, sequencer: Box<dyn Sequencer>) -> LogStorage {
        LogStorage {
            store: Arc::new(store.clone()),
            index: Arc::new(store.clone()),
            codes: Arc::new(store.clone()),
            salts: Arc::new(store.clone()),
            sequencer,
        }
    }

    fn leaf(bytes: &[u8]) -> NewLeaf {
        NewLeaf {
            leaf: bytes.to_vec(),
            leaf_hash: merkle::leaf_hash(bytes),
            content_sha256: Sha256Digest::of(bytes),
            normalized_text_sha256: None,
            code: None,
            sentences: Vec::new(),
            prompt_salt: None,
        }
    }

    #[tokio::test]
    async fn a_writer_that_died_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let signer = || NoteSigner::new("test.example/log", SigningKey::from_bytes(&[9; 32])).unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let log =
            Log::open(storage(&store, Box::new(LocalSequencer::new(store.clone()))), signer(), Arc::new(())).unwrap();
        assert!(log.is_writing());
        log.append(leaf(b"one")).await.unwrap();
        assert_eq!((log.published_size(), log.queue_depth()), (1, 0));
        assert_eq!(log.leaf(crate::log::LogIndex(0)).unwrap().as_deref(), Some(&b"one"[..]));

        let panicking = Box::new(Panicking(LocalSequencer::new(store.clone())));
        let dying = Log::open(storage(&store, panicking), signer(), Arc::new(())).unwrap();
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
