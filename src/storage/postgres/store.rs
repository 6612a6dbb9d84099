//! [`PgStore`]: the log's storage in PostgreSQL, the same objects the embedded backend
//! keeps in files and fjall (hash tiles, entries, the content index, tree state). Entries
//! are rows of their own, so that a leaf is read by its index alone; a bundle is read as
//! its 256 rows.
//!
//! Reads are what every node does; the tree is extended only by the sequencer, inside
//! its lease transaction (`sequencer`), with [`write_batch`]. A transaction's commit is
//! durable (PostgreSQL's `synchronous_commit`), so [`LogStore::sync`] has nothing to do.

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::types::ToSql;

use super::seal::SaltSeal;
use super::{Pg, PgError};
use crate::fingerprint::ContentCode;
use crate::log::tiles::{self, BundleId, TileId, TILE_WIDTH};
use crate::log::{Batch, CodeStore, ContentIndex, IndexKey, LogIndex, LogStore, SaltStore, StoreError};
use crate::memo::{lock, Memo};
use crate::Sha256Digest;

/// The log in a PostgreSQL database.
#[derive(Clone)]
pub(crate) struct PgStore {
    pg: Pg,
    /// None for readers without the keys (the audit): they never read salts.
    seal: Option<SaltSeal>,
    /// Entries read with the lookups that found them: an entry never changes once
    /// committed, and a verification reads the entry a lookup has just found.
    entries: std::sync::Arc<std::sync::Mutex<Memo<u64, std::sync::Arc<Vec<u8>>>>>,
}

/// Entries remembered per generation: about 1 KB each, so about 8 MB for the two.
const ENTRY_MEMO: usize = 4096;

/// A `u64` as the `BIGINT` it is stored as (indices and sizes stay below 2^63).
pub(super) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored `BIGINT` as the `u64` it stands for.
pub(super) fn unbig(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("a negative index or size in the database: {n}")))
}

impl PgStore {
    /// The log in `pg`, whose prompt salts are sealed with `seal`.
    pub(crate) fn new(pg: Pg, seal: SaltSeal) -> Self {
        Self { pg, seal: Some(seal), entries: std::sync::Arc::new(std::sync::Mutex::new(Memo::new(ENTRY_MEMO))) }
    }

    /// The log in `pg`, for reading its tree and entries only (the offline audit).
    pub(crate) fn reader(pg: Pg) -> Self {
        Self { pg, seal: None, entries: std::sync::Arc::new(std::sync::Mutex::new(Memo::new(ENTRY_MEMO))) }
    }

    fn sealing(&self) -> Result<&SaltSeal, StoreError> {
        self.seal.as_ref().ok_or_else(|| StoreError::Unsupported("this reader has no keys to open prompt salts".into()))
    }

    /// The first column of the first row `sql` returns, if any (queries by a key).
    fn one<T>(&self, sql: &'static str, params: Vec<Box<dyn ToSql + Send + Sync>>) -> Result<Option<T>, StoreError>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a> + Send + 'static,
    {
        Ok(self.all(sql, params)?.into_iter().next())
    }

    /// The first column of every row `sql` returns.
    fn all<T>(&self, sql: &'static str, params: Vec<Box<dyn ToSql + Send + Sync>>) -> Result<Vec<T>, StoreError>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a> + Send + 'static,
    {
        Ok(self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client.prepare_cached(sql).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            Ok(client.query(&stmt, &refs).await?.iter().map(|row| row.get::<_, T>(0)).collect())
        })?)
    }

    fn execute(&self, sql: &'static str, params: Vec<Box<dyn ToSql + Send + Sync>>) -> Result<u64, StoreError> {
        Ok(self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client.prepare_cached(sql).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            Ok(client.execute(&stmt, &refs).await?)
        })?)
    }
}

/// Writes a batch's tiles, entries, index rows and sealed salts in the transaction
/// `tx`, which also records the new size (and, on a running service, its checkpoint).
pub(super) async fn write_batch(tx: &impl GenericClient, seal: &SaltSeal, batch: &Batch<'_>) -> Result<(), PgError> {
    let (mut levels, mut tile_idx, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for tile in &batch.tiles {
        levels.push(i16::from(tile.id().level()));
        tile_idx.push(big(tile.id().index()));
        hashes.push(tile.as_bytes().to_vec());
    }
    // Entries one row each (the batch's bundle pieces are these entries, encoded).
    let (mut entry_bytes, mut leaf_hashes, mut indices, mut content) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut text, mut text_idx, mut salt_idx, mut salts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut sentences, mut sentence_idx, mut codes, mut code_idx) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (offset, leaf) in batch.leaves.iter().enumerate() {
        let index = big(batch.size_before + offset as u64);
        entry_bytes.push(leaf.leaf.clone());
        leaf_hashes.push(leaf.leaf_hash.as_bytes().to_vec());
        indices.push(index);
        content.push(leaf.content_sha256.as_bytes().to_vec());
        if let Some(norm) = &leaf.normalized_text_sha256 {
            text.push(norm.as_bytes().to_vec());
            text_idx.push(index);
        }
        for sentence in &leaf.sentences {
            sentences.push(sentence.as_bytes().to_vec());
            sentence_idx.push(index);
        }
        if let Some(code) = &leaf.code {
            codes.push(code.unit_bytes().to_vec());
            code_idx.push(index);
        }
        if let Some(salt) = &leaf.prompt_salt {
            salt_idx.push(index);
            salts.push(seal.seal(salt).map_err(|e| PgError::Query(e.to_string()))?);
        }
    }
    // Independent statements, sent together: the driver pipelines them on the connection.
    let tiles: [&(dyn ToSql + Sync); 3] = [&levels, &tile_idx, &hashes];
    let entries: [&(dyn ToSql + Sync); 2] = [&indices, &entry_bytes];
    let leaves: [&(dyn ToSql + Sync); 2] = [&leaf_hashes, &indices];
    let by_content: [&(dyn ToSql + Sync); 2] = [&content, &indices];
    let by_text: [&(dyn ToSql + Sync); 2] = [&text, &text_idx];
    let salts: [&(dyn ToSql + Sync); 2] = [&salt_idx, &salts];
    let by_sentence: [&(dyn ToSql + Sync); 2] = [&sentences, &sentence_idx];
    let codes: [&(dyn ToSql + Sync); 2] = [&code_idx, &codes];
    tokio::try_join!(
        execute_cached(
            tx,
            "INSERT INTO log_tiles (level, idx, hashes) SELECT * FROM UNNEST($1::SMALLINT[], $2::BIGINT[], $3::BYTEA[]) \
             ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            &tiles,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_entries (idx, entry) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[]) \
             ON CONFLICT (idx) DO UPDATE SET entry = excluded.entry",
            &entries,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_leaves (leaf_hash, idx) SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[]) \
             ON CONFLICT (leaf_hash) DO NOTHING",
            &leaves,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_by_content (digest, idx) SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[]) \
             ON CONFLICT DO NOTHING",
            &by_content,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_by_text (digest, idx) SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[]) \
             ON CONFLICT DO NOTHING",
            &by_text,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_salts (idx, sealed) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[]) \
             ON CONFLICT (idx) DO UPDATE SET sealed = excluded.sealed",
            &salts,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_by_sentence (digest, idx) SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[]) \
             ON CONFLICT DO NOTHING",
            &by_sentence,
        ),
        execute_cached(
            tx,
            "INSERT INTO log_codes (idx, code) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[]) \
             ON CONFLICT (idx) DO UPDATE SET code = excluded.code",
            &codes,
        ),
    )?;
    Ok(())
}

/// Runs `sql`, prepared once per connection, with `params`.
async fn execute_cached(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client.prepare_cached(sql).await?;
    client.execute(&stmt, params).await
}

/// The stored row of a tile, read with `client` (a pool connection or a transaction).
pub(super) async fn read_tile(client: &impl GenericClient, tile: TileId) -> Result<Option<Vec<u8>>, PgError> {
    let stmt = client.prepare_cached("SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2").await?;
    let row = client.query_opt(&stmt, &[&i16::from(tile.level()), &big(tile.index())]).await?;
    Ok(row.map(|r| r.get(0)))
}

async fn read_bundle(pool: Pool, bundle: BundleId) -> Result<Option<Vec<u8>>, PgError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT entry FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx").await?;
    let first = bundle.index().saturating_mul(TILE_WIDTH as u64);
    let rows = client.query(&stmt, &[&big(first), &big(first.saturating_add(TILE_WIDTH as u64))]).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let entries: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    Ok(Some(tiles::encode_bundle(&refs).map_err(|e| PgError::Query(format!("a stored entry: {e}")))?))
}

impl LogStore for PgStore {
    fn size(&self) -> Result<u64, StoreError> {
        let size: Option<i64> = self.one("SELECT size FROM log_tree WHERE id = 1", vec![])?;
        unbig(size.unwrap_or(0))
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.pg.block(move |pool| async move { read_tile(&pool.get().await?, tile).await })?)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.pg.block(move |pool| read_bundle(pool, bundle))?)
    }

    /// Entries are rows of their own: one is read by its index, or found in memory when
    /// the lookup that found it brought it along.
    fn read_entry(&self, index: LogIndex) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(entry) = lock(&self.entries).get(&index.0) {
            return Ok(Some(entry.as_ref().clone()));
        }
        let read: Option<Vec<u8>> =
            self.one("SELECT entry FROM log_entries WHERE idx = $1", vec![Box::new(big(index.0))])?;
        if let Some(entry) = &read {
            lock(&self.entries).insert(index.0, std::sync::Arc::new(entry.clone()));
        }
        Ok(read)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Every commit is durable already.
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self.one::<Option<String>>("SELECT checkpoint FROM log_tree WHERE id = 1", vec![])?.flatten())
    }

    /// Stores `note` only when it is a checkpoint of the tree's current size: a node
    /// that starts while another extends the tree never puts an older one back.
    fn set_latest_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        let size = note
            .lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt("a checkpoint note without a tree size".into()))?;
        self.execute(
            "UPDATE log_tree SET checkpoint = $1 WHERE id = 1 AND size = $2",
            vec![Box::new(note.to_owned()), Box::new(big(size))],
        )?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.one("SELECT value FROM log_meta WHERE name = $1", vec![Box::new(key.to_owned())])
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO log_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            vec![Box::new(key.to_owned()), Box::new(value.to_vec())],
        )?;
        Ok(())
    }

    /// The primary key decides between nodes that claim at once: one insert wins, the
    /// others insert nothing and read the winner's value.
    fn claim_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.execute(
            "INSERT INTO log_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            vec![Box::new(key.to_owned()), Box::new(value.to_vec())],
        )?;
        self.meta(key)?.ok_or_else(|| StoreError::Corrupt(format!("the log setting {key} vanished as it was claimed")))
    }

    /// The row's primary key and the compared value decide: one of two writers that read
    /// the same value updates the row, the other finds it changed and updates nothing.
    fn swap_meta(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let (name, value) = (Box::new(key.to_owned()), Box::new(value.to_vec()));
        let rows = match expected {
            None => self.execute(
                "INSERT INTO log_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                vec![name, value],
            )?,
            Some(old) => self.execute(
                "UPDATE log_meta SET value = $2 WHERE name = $1 AND value = $3",
                vec![name, value, Box::new(old.to_vec())],
            )?,
        };
        Ok(rows == 1)
    }
}

impl ContentIndex for PgStore {
    fn index_of(&self, leaf_hash: &Sha256Digest) -> Result<Option<LogIndex>, StoreError> {
        let found: Option<i64> =
            self.one("SELECT idx FROM log_leaves WHERE leaf_hash = $1", vec![Box::new(leaf_hash.as_bytes().to_vec())])?;
        found.map(|i| unbig(i).map(LogIndex)).transpose()
    }

    /// Both lookups in one statement, which returns the entries found as well: a
    /// verification then reads the entry it needs from memory, one round trip in all.
    fn find(&self, keys: &[IndexKey], limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        let mut found = Vec::new();
        // One statement per pair of keys (a lookup sends one of each kind).
        let (mut content, mut text, mut sentences) = (Vec::new(), Vec::new(), Vec::new());
        for k in keys {
            match k {
                IndexKey::Content(d) => content.push(d.as_bytes().to_vec()),
                IndexKey::NormalizedText(d) => text.push(d.as_bytes().to_vec()),
                IndexKey::Sentence(d) => sentences.push(d.as_bytes().to_vec()),
            }
        }
        if !sentences.is_empty() {
            let rows = self.pg.block(move |pool| async move {
                let client = pool.get().await?;
                let stmt = client
                    .prepare_cached(
                        "SELECT DISTINCT idx FROM log_by_sentence WHERE digest = ANY($1::BYTEA[]) \
                         ORDER BY idx DESC LIMIT $2",
                    )
                    .await?;
                Ok(client.query(&stmt, &[&sentences, &big(limit as u64)]).await?)
            })?;
            for row in rows {
                found.push(LogIndex(unbig(row.get(0))?));
            }
        }
        while !content.is_empty() || !text.is_empty() {
            let (sha256, norm) = (content.pop(), text.pop());
            found.extend(self.find_pair(sha256, norm, limit)?);
        }
        Ok(crate::log::newest_first(found, limit))
    }
}

impl CodeStore for PgStore {
    fn codes(&self, from: LogIndex, below: u64, limit: usize) -> Result<Vec<(LogIndex, ContentCode)>, StoreError> {
        let (from, below, limit) = (big(from.0), big(below), big(limit as u64));
        let rows = self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT idx, code FROM log_codes WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3")
                .await?;
            Ok(client.query(&stmt, &[&from, &below, &limit]).await?)
        })?;
        let mut codes = Vec::with_capacity(rows.len());
        for row in rows {
            let index = unbig(row.get(0))?;
            let code = ContentCode::from_unit_bytes(row.get::<_, &[u8]>(1))
                .map_err(|e| StoreError::Corrupt(format!("the Content-Code of leaf {index}: {e}")))?;
            codes.push((LogIndex(index), code));
        }
        Ok(codes)
    }
}

impl PgStore {
    /// Leaves whose content hash is `sha256` or whose normalised text hash is `norm`
    /// (either may be absent), with their entries, which are remembered.
    fn find_pair(
        &self,
        sha256: Option<Vec<u8>>,
        norm: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<LogIndex>, StoreError> {
        let limit = big(limit as u64);
        let rows = self.pg.block(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT f.idx, e.entry FROM (\
                         (SELECT idx FROM log_by_content WHERE $1::BYTEA IS NOT NULL AND digest = $1 \
                          ORDER BY idx DESC LIMIT $3) \
                         UNION \
                         (SELECT idx FROM log_by_text WHERE $2::BYTEA IS NOT NULL AND digest = $2 \
                          ORDER BY idx DESC LIMIT $3)\
                     ) AS f LEFT JOIN log_entries e ON e.idx = f.idx ORDER BY f.idx DESC LIMIT $3",
                )
                .await?;
            Ok(client.query(&stmt, &[&sha256, &norm, &limit]).await?)
        })?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let index = unbig(row.get(0))?;
            if let Some(entry) = row.get::<_, Option<Vec<u8>>>(1) {
                lock(&self.entries).insert(index, std::sync::Arc::new(entry));
            }
            found.push(LogIndex(index));
        }
        Ok(found)
    }
}

impl SaltStore for PgStore {
    fn prompt_salt(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError> {
        let sealed: Option<Vec<u8>> =
            self.one("SELECT sealed FROM log_salts WHERE idx = $1", vec![Box::new(big(index.0))])?;
        sealed.map(|s| self.sealing()?.open(&s)).transpose()
    }

    /// Deletes the sealed salt. Its bytes may survive in dead tuples, the write-ahead log
    /// and the database's backups for a while; sealed, they are useless to anyone
    /// without the keys directory (docs/contract.md §7 says what that guarantees).
    fn erase_prompt_salt(&self, index: LogIndex) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM log_salts WHERE idx = $1", vec![Box::new(big(index.0))])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::{self, MemoryTree};
    use crate::log::{BulkAppend, LogReader, LogStorage, NewLeaf, StoreError};
    use crate::storage::postgres::sequencer::PgSequencer;
    use crate::storage::postgres::TempDatabase;

    fn sealed() -> SaltSeal {
        SaltSeal::from_checkpoint_key(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]))
    }

    fn leaf(i: u64) -> NewLeaf {
        let bytes = format!("{{\"entry\":{i},\"pad\":\"{}\"}}", "x".repeat((i % 7) as usize * 50)).into_bytes();
        NewLeaf {
            leaf_hash: merkle::leaf_hash(&bytes),
            leaf: bytes,
            // Every third leaf has the same content; leaf 5 a normalised text hash too.
            content_sha256: if i.is_multiple_of(3) {
                Sha256Digest::of(b"same")
            } else {
                Sha256Digest::of(&i.to_be_bytes())
            },
            normalized_text_sha256: (i == 5).then(|| Sha256Digest::of(b"same")),
            code: None,
            sentences: Vec::new(),
            prompt_salt: i.is_multiple_of(2).then_some([i as u8; 32]),
        }
    }

    /// The same objects as the embedded backend, read back as the log reads them:
    /// batches across bundle and tile edges, then entries, bundles, tiles (the root),
    /// the index and the salts.
    #[test]
    fn batches_read_back_as_the_log_reads_them() {
        let Some(db) = TempDatabase::for_test() else { return };
        let pg = Pg::connect(db.url()).unwrap();
        let store = PgStore::new(pg.clone(), sealed());
        let bulk = |name: &str| {
            BulkAppend::new(LogStorage {
                store: std::sync::Arc::new(store.clone()),
                index: std::sync::Arc::new(store.clone()),
                codes: std::sync::Arc::new(store.clone()),
                salts: std::sync::Arc::new(store.clone()),
                sequencer: Box::new(PgSequencer::new(pg.clone(), name.into(), sealed())),
            })
        };
        let mut appender = bulk("bulk");
        let leaves: Vec<NewLeaf> = (0..600).map(leaf).collect();
        let mut tree = MemoryTree::new();
        let mut size = 0;
        for batch in [1usize, 254, 3, 300, 42] {
            let refs: Vec<&NewLeaf> = leaves[size..size + batch].iter().collect();
            appender.append(&refs).unwrap();
            size += batch;
        }
        leaves.iter().for_each(|l| tree.push(l.leaf_hash));
        assert_eq!(store.size().unwrap(), 600);
        let reader = LogReader::on(std::sync::Arc::new(store.clone()));
        assert_eq!(merkle::root(&reader, 600).unwrap(), tree.root(), "the tiles hold the tree");
        for i in [0u64, 255, 256, 599] {
            assert_eq!(reader.leaf(LogIndex(i)).unwrap().unwrap(), leaves[i as usize].leaf);
        }
        assert_eq!(store.read_entry(LogIndex(600)).unwrap(), None);
        let bundle = store.read_bundle(BundleId::new(1).unwrap()).unwrap().unwrap();
        let entries = tiles::decode_bundle(&bundle).unwrap();
        assert_eq!(entries.len(), 256);
        assert_eq!(entries[0], leaves[256].leaf.as_slice());
        assert_eq!(store.index_of(&leaves[300].leaf_hash).unwrap(), Some(LogIndex(300)));
        let same = Sha256Digest::of(b"same");
        assert_eq!(store.find(&[IndexKey::Content(same)], 2).unwrap(), vec![LogIndex(597), LogIndex(594)]);
        let keys = [IndexKey::Content(Sha256Digest::of(&7u64.to_be_bytes())), IndexKey::NormalizedText(same)];
        let both = store.find(&keys, 3).unwrap();
        assert_eq!(both, vec![LogIndex(7), LogIndex(5)], "the exact hash and the normalised one, newest first");
        assert_eq!(store.prompt_salt(LogIndex(4)).unwrap(), Some([4; 32]));
        assert_eq!(store.prompt_salt(LogIndex(5)).unwrap(), None);
        assert!(store.erase_prompt_salt(LogIndex(4)).unwrap());
        assert_eq!(store.prompt_salt(LogIndex(4)).unwrap(), None);
        assert!(!store.erase_prompt_salt(LogIndex(4)).unwrap());
        appender.finish().unwrap();
        // While a node holds the lease, nothing else extends the tree.
        let mut node = PgSequencer::new(store.pg.clone(), "node".into(), sealed());
        drop(
            crate::log::Sequencer::begin(&mut node)
                .unwrap()
                .expect("the lease is free")
                .commit(&crate::log::Batch { size_before: 600, leaves: &[], tiles: Vec::new() }, None),
        );
        assert!(matches!(bulk("late").append(&[&leaves[0]]), Err(crate::log::LogError::Store(StoreError::Leased))));
    }
}
