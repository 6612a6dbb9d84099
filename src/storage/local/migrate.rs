//! Converts a data directory of storage format 1 into the current format, offline.
//!
//! Format 1 kept, in the sled tree `log`, a key per leaf (`L` index), one per Merkle node
//! (`N` level index), the same content index as today (`I`, `S`, `T`) and settings
//! (`M`); and salts in a sled database of their own (`salts-<n>/`, named by
//! `salts.current`), keyed by stamp id.
//!
//! The new log is built beside the old one, in `<data>/migrating/`, through the same
//! store code the service writes with; its root must equal the root of the old tree
//! before anything is switched. Then the old database is moved to `format1-log`, the
//! new one into place, and the old files are removed. Started again after a stop at any
//! point, the migration rolls back what was half switched and begins anew.

use std::fs;
use std::path::{Path, PathBuf};

use super::store::{self as local, key, meta_key, u64_from, LocalStore};
use crate::log::merkle::{self, Frontier, NodeId, NodeSource};
use crate::log::tiles::{self, BundlePiece};
use crate::log::{io_error as io, LogStore, StoreError, StoreTiles, StoredNodes};
use crate::Sha256Digest;

/// Leaves converted per batch: bounds the memory of a migration.
const CHUNK: u64 = 4096;
const P_LEAF: u8 = b'L';
const P_NODE: u8 = b'N';
/// Where a migration builds the new log; its presence (or the old database's, moved
/// aside) marks a conversion that did not finish, which `LocalStore::open` refuses.
const WORK_DIR: &str = "migrating";
const OLD_DB: &str = "format1-log";

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Migrated {
    pub from_format: u64,
    pub leaves: u64,
    pub salts: u64,
    /// Root hash of the log, the same before and after.
    pub root: Sha256Digest,
}

/// Merkle nodes of a format 1 tree.
struct OldNodes<'a>(&'a sled::Tree);

impl NodeSource for OldNodes<'_> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, StoreError> {
        let v = self.0.get(key(P_NODE, &[&id.to_key()]))?.ok_or_else(|| StoreError::Corrupt(format!("node {id:?}")))?;
        Sha256Digest::try_from_slice(&v).map_err(|e| StoreError::Corrupt(format!("node {id:?}: {e}")))
    }
}

/// Refuses a data directory whose sled database `sled` holds a log of storage format 1,
/// or whose conversion was interrupted: it must be migrated first.
///
/// # Errors
/// [`StoreError::Format`] saying what to run.
pub(super) fn refuse_format1(sled: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    if dir.join(WORK_DIR).exists() || dir.join(OLD_DB).exists() {
        return Err(StoreError::Format {
            dir: dir.display().to_string(),
            found: 1,
            what: "A conversion by `aiprov migrate` was interrupted: run `aiprov migrate --data <dir>` again.",
        });
    }
    let format1 = sled.tree_names().iter().any(|n| &**n == b"log") && !sled.open_tree("log")?.is_empty();
    if format1 && !dir.join(local::INDEX_DIR).exists() {
        return Err(StoreError::Format {
            dir: dir.display().to_string(),
            found: 1,
            what: "Stop the service, back the directory up, and run `aiprov migrate --data <dir>` once.",
        });
    }
    Ok(())
}

/// Undoes a switch a stop interrupted, and removes what an earlier attempt left.
fn recover(data: &Path) -> Result<(), StoreError> {
    let (log, old, work) = (data.join("log"), data.join(OLD_DB), data.join(WORK_DIR));
    if old.exists() {
        if work.join("log").exists() {
            // Stopped between the two renames of the database: put the old one back.
            fs::rename(&old, &log).map_err(io(&old))?;
        } else {
            // The new database is in place: finish moving the rest in, remove the old files.
            move_in(&work, data)?;
            remove_format1(data)?;
        }
    }
    if work.exists() {
        fs::remove_dir_all(&work).map_err(io(&work))?;
    }
    Ok(())
}

/// Moves the salts and tiles of the new log from `work` into `data`.
fn move_in(work: &Path, data: &Path) -> Result<(), StoreError> {
    // The index database last: its presence is what marks a directory as converted.
    for name in ["salts", "tiles", local::INDEX_DIR] {
        let (from, to) = (work.join(name), data.join(name));
        if from.exists() {
            if to.is_dir() {
                fs::remove_dir_all(&to).map_err(io(&to))?;
            }
            fs::rename(&from, &to).map_err(io(&to))?;
        }
    }
    Ok(())
}

fn remove_format1(data: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(data).map_err(io(data))? {
        let path = entry.map_err(io(data))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name == OLD_DB || name.starts_with("salts-") {
            fs::remove_dir_all(&path).map_err(io(&path))?;
        } else if name == "salts.current" || name == "salts.compact-pending" {
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// The format 1 salt database, if the directory has one.
fn old_salts(data: &Path) -> Result<Option<sled::Db>, StoreError> {
    let current = data.join("salts.current");
    let number = match fs::read_to_string(&current) {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&current)(e)),
    };
    let dir: PathBuf = data.join(format!("salts-{number}"));
    Ok(Some(sled::Config::new().path(dir).open()?))
}

/// Converts the data directory `data` to the current storage format. `None` when it is
/// in that format already (or holds no log).
///
/// # Errors
/// When the directory is in use, damaged, or of a format newer than this build's; and
/// when the rebuilt log's root differs from the old one (nothing is switched then).
pub(crate) fn migrate(data: &Path) -> Result<Option<Migrated>, StoreError> {
    recover(data)?;
    if data.join(local::INDEX_DIR).exists() {
        return Ok(None);
    }
    let db = local::open_db(data)?;
    let old = db.open_tree("log")?;
    let Some(size) = old.get(meta_key(local::META_SIZE))?.map(|v| u64_from(&v)).transpose()? else {
        return Ok(None);
    };
    let old_root = merkle::root(&OldNodes(&old), size).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let work = data.join(WORK_DIR);
    fs::create_dir_all(&work).map_err(io(&work))?;
    let new_db = local::open_db(&work)?;
    let new = LocalStore::open(&work)?;
    let salts_db = old_salts(data)?;
    let mut salts = 0u64;

    let mut start = 0u64;
    while start < size {
        let end = (start + CHUNK).min(size);
        let mut leaves = Vec::with_capacity((end - start) as usize);
        for index in start..end {
            let leaf = old
                .get(key(P_LEAF, &[&index.to_be_bytes()]))?
                .ok_or_else(|| StoreError::Corrupt(format!("leaf {index} is missing")))?;
            leaves.push(leaf.to_vec());
        }
        let hashes: Vec<Sha256Digest> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
        let mut chunk_salts = Vec::with_capacity(leaves.len());
        for hash in &hashes {
            let salt = match &salts_db {
                Some(db) => db.get(hash.as_bytes())?.and_then(|v| <[u8; 32]>::try_from(&v[..]).ok()),
                None => None,
            };
            salts += u64::from(salt.is_some());
            chunk_salts.push(salt);
        }
        new.salt_files().write(start, &chunk_salts)?;
        let built =
            tiles::build_tiles(start, &hashes, |t| new.read_tile(t)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let entries: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let pieces = BundlePiece::split(start, &entries).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        new.write_objects(&pieces, &built)?;
        new.put_all([(meta_key(local::META_SIZE), end.to_be_bytes().to_vec())])?;
        start = end;
    }
    // The content index and settings have the same keys in both formats.
    // The stamp id index and settings have the same keys in both formats; the content
    // indexes now store the leaf index inverted (`local::content_key`).
    let format = meta_key(local::META_FORMAT);
    let mut entries = old.scan_prefix([local::P_ID]).chain(old.scan_prefix([local::P_META]));
    let mut content = old.scan_prefix([local::P_CONTENT]).chain(old.scan_prefix([local::P_TEXT]));
    loop {
        let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(10_000);
        for item in entries.by_ref().take(10_000) {
            let (k, v) = item?;
            if k.as_ref() != format.as_slice() {
                chunk.push((k.to_vec(), v.to_vec()));
            }
        }
        for item in content.by_ref().take(10_000) {
            let (k, _) = item?;
            let digest = k
                .get(1..1 + 32)
                .and_then(|d| Sha256Digest::try_from_slice(d).ok())
                .ok_or_else(|| StoreError::Corrupt("a content index key".into()))?;
            let index = u64_from(k.get(1 + 32..).unwrap_or_default())?;
            chunk.push((local::content_key(k[0], &digest, index), Vec::new()));
        }
        if chunk.is_empty() {
            break;
        }
        new.put_all(chunk)?;
    }
    for name in db.tree_names() {
        if name != old.name() {
            let (from, to) = (db.open_tree(&name)?, new_db.open_tree(&name)?);
            for item in from.iter() {
                let (k, v) = item?;
                to.insert(k, v)?;
            }
        }
    }
    let new_root =
        Frontier::load(&StoredNodes(StoreTiles(&new)), size).map_err(|e| StoreError::Corrupt(e.to_string()))?.root();
    if new_root != old_root {
        return Err(StoreError::Corrupt(format!(
            "the rebuilt log has root {new_root}, the old one {old_root}: nothing was changed"
        )));
    }
    new.sync()?;
    drop((new, new_db, old, db, salts_db));

    let (log, old_db) = (data.join("log"), data.join(OLD_DB));
    fs::rename(&log, &old_db).map_err(io(&log))?;
    fs::rename(work.join("log"), &log).map_err(io(&log))?;
    move_in(&work, data)?;
    remove_format1(data)?;
    fs::remove_dir_all(&work).map_err(io(&work))?;
    Ok(Some(Migrated { from_format: 1, leaves: size, salts, root: new_root }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::MemoryTree;
    use crate::log::{ContentIndex, IndexKey, LogIndex, LogReader, SaltStore};

    /// Writes a log of `n` leaves in storage format 1 into `data`, as the old code did:
    /// a key per leaf and per Merkle node, salts in `salts-0/` by stamp id.
    fn format1(data: &Path, n: u64) -> (MemoryTree, Vec<Vec<u8>>) {
        let db = local::open_db(data).unwrap();
        let log = db.open_tree("log").unwrap();
        let salts = sled::Config::new().path(data.join("salts-0")).open().unwrap();
        fs::write(data.join("salts.current"), "0").unwrap();
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = format!("{{\"old\":{i}}}").into_bytes();
            let hash = merkle::leaf_hash(&leaf);
            for (id, node) in merkle::nodes_completed_by_append(&OldNodes(&log), i, hash).unwrap() {
                log.insert(key(P_NODE, &[&id.to_key()]), node.as_bytes()).unwrap();
            }
            log.insert(key(P_LEAF, &[&i.to_be_bytes()]), leaf.as_slice()).unwrap();
            log.insert(key(local::P_ID, &[hash.as_bytes()]), &i.to_be_bytes()[..]).unwrap();
            log.insert(key(local::P_CONTENT, &[Sha256Digest::of(&leaf).as_bytes(), &i.to_be_bytes()]), &[][..])
                .unwrap();
            if i % 2 == 0 {
                salts.insert(hash.as_bytes(), &[i as u8 + 1; 32]).unwrap();
            }
            tree.push(hash);
            leaves.push(leaf);
        }
        log.insert(meta_key(local::META_SIZE), &n.to_be_bytes()[..]).unwrap();
        log.insert(meta_key("origin"), &b"old.example/log"[..]).unwrap();
        db.open_tree("tokens").unwrap().insert(b"t1", &b"a token"[..]).unwrap();
        db.flush().unwrap();
        salts.flush().unwrap();
        (tree, leaves)
    }

    #[test]
    fn a_format_1_directory_is_refused_then_migrated_with_the_same_root() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let (tree, leaves) = format1(data, 600);

        let db = local::open_db(data).unwrap();
        let refused = refuse_format1(&db, data).expect_err("format 1 is refused");
        assert!(refused.to_string().contains("storage format 1") && refused.to_string().contains("aiprov migrate"));
        drop(db);

        let done = migrate(data).unwrap().expect("it migrates");
        assert_eq!(done, Migrated { from_format: 1, leaves: 600, salts: 300, root: tree.root() });
        let names: Vec<String> =
            fs::read_dir(data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(
            !names.iter().any(|n| n.starts_with("salts-") || n == OLD_DB || n == WORK_DIR || n == "salts.current"),
            "nothing of format 1 is left: {names:?}"
        );

        let reader = LogReader::on(super::super::open_reader(data).unwrap());
        assert_eq!(reader.size().unwrap(), 600);
        assert_eq!(reader.origin().unwrap().as_deref(), Some("old.example/log"));
        assert_eq!(merkle::root(&reader, 600).unwrap(), tree.root());
        for i in [0u64, 255, 256, 599] {
            assert_eq!(reader.leaf(LogIndex(i)).unwrap().as_deref(), Some(leaves[i as usize].as_slice()));
        }
        drop(reader);
        let db = local::open_db(data).unwrap();
        assert_eq!(db.open_tree("tokens").unwrap().get(b"t1").unwrap().as_deref(), Some(&b"a token"[..]));
        let store = LocalStore::open(data).unwrap();
        assert_eq!(store.prompt_salt(LogIndex(4)).unwrap(), Some([5; 32]));
        assert_eq!(store.prompt_salt(LogIndex(5)).unwrap(), None);
        let id = merkle::leaf_hash(&leaves[7]);
        assert_eq!(store.index_of(&id).unwrap(), Some(LogIndex(7)));
        assert_eq!(store.find(&[IndexKey::Content(Sha256Digest::of(&leaves[7]))], 5).unwrap(), vec![LogIndex(7)]);
        drop((store, db));
        assert_eq!(migrate(data).unwrap(), None, "a second run has nothing to do");
    }

    #[test]
    fn a_migration_stopped_between_its_renames_is_rolled_back_and_redone() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let (tree, _) = format1(data, 300);
        // As if stopped after the old database was moved away and before the new one
        // was moved in.
        fs::create_dir_all(data.join(WORK_DIR).join("log")).unwrap();
        fs::rename(data.join("log"), data.join(OLD_DB)).unwrap();
        let done = migrate(data).unwrap().expect("it migrates");
        assert_eq!((done.leaves, done.root), (300, tree.root()));
    }
}
