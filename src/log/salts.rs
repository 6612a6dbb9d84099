//! Prompt salts, kept apart so they can be erased for good (docs/contract.md §4, crypto-shredding).
//!
//! Deleting a key in sled only marks it deleted: the old bytes stay in its log files
//! until sled happens to reclaim the segment. A promise of erasure needs more, so salts
//! live in their own sled database, in a directory per generation (`salts-<n>`), and
//! [`SaltStore::compact`] copies the live salts into a fresh generation, switches to it
//! and deletes the old directory. After a compaction no file under the data directory
//! holds an erased salt.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use crate::Sha256Digest;

const CURRENT_FILE: &str = "salts.current";
const PENDING_FILE: &str = "salts.compact-pending";

#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error("salt database: {0}")]
    Sled(#[from] sled::Error),
    #[error("salt directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the salt store is damaged: {0}")]
    Corrupt(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SaltError + '_ {
    move |source| SaltError::Io { path: path.to_owned(), source }
}

struct Generation {
    number: u64,
    db: sled::Db,
}

/// The erasable store of prompt salts, keyed by stamp id.
pub(super) struct SaltStore {
    root: PathBuf,
    // Writers (stamping) take the read lock: sled handles their concurrency. Only a
    // compaction, which swaps the database, takes the write lock.
    current: RwLock<Generation>,
    /// Held through a whole erasure: its steps (remove, the pending marker, the
    /// compaction that removes the marker) are not safe to interleave with another's.
    /// Two at once once wrote the same marker's temporary file, and one failed.
    erasing: Mutex<()>,
}

impl SaltStore {
    /// Opens the salt store under `data_dir`, removing directories left by an
    /// interrupted compaction and finishing a compaction that was pending.
    ///
    /// # Errors
    /// On I/O or database errors.
    pub(super) fn open(data_dir: &Path) -> Result<Self, SaltError> {
        let current_path = data_dir.join(CURRENT_FILE);
        let number = match fs::read_to_string(&current_path) {
            Ok(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| SaltError::Corrupt(format!("{} is not a number", current_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomically(data_dir, CURRENT_FILE, "0")?;
                0
            }
            Err(e) => return Err(io(&current_path)(e)),
        };
        remove_other_generations(data_dir, number)?;
        let db = sled::Config::new().path(data_dir.join(format!("salts-{number}"))).open()?;
        let store = Self {
            root: data_dir.to_owned(),
            current: RwLock::new(Generation { number, db }),
            erasing: Mutex::new(()),
        };
        if data_dir.join(PENDING_FILE).exists() {
            tracing::info!("finishing a salt compaction interrupted by a stop");
            store.compact()?;
        }
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Generation> {
        // A panic while holding the lock cannot leave a half-swapped generation: the
        // swap is one assignment.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores salts: readable at once, durable after the next [`SaltStore::flush`].
    ///
    /// # Errors
    /// On database errors.
    pub(super) fn insert_all<'a>(
        &self,
        salts: impl IntoIterator<Item = (&'a Sha256Digest, &'a [u8; 32])>,
    ) -> Result<(), SaltError> {
        let g = self.read();
        let mut batch = sled::Batch::default();
        let mut any = false;
        for (id, salt) in salts {
            batch.insert(&id.as_bytes()[..], &salt[..]);
            any = true;
        }
        if any {
            g.db.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Makes every salt stored so far durable.
    ///
    /// # Errors
    /// On database errors.
    pub(super) fn flush(&self) -> Result<(), SaltError> {
        // Under the read lock: a compaction swapping generations meanwhile has copied and
        // flushed every salt of the old one already.
        self.read().db.flush()?;
        Ok(())
    }

    /// # Errors
    /// On database errors or a damaged value.
    pub(super) fn get(&self, id: &Sha256Digest) -> Result<Option<[u8; 32]>, SaltError> {
        match self.read().db.get(id.as_bytes())? {
            Some(v) => {
                <[u8; 32]>::try_from(&v[..]).map(Some).map_err(|_| SaltError::Corrupt("a salt is not 32 bytes".into()))
            }
            None => Ok(None),
        }
    }

    /// Erases the salt of stamp `id`, then compacts so that no file keeps it.
    /// Returns whether there was a salt to erase.
    ///
    /// # Errors
    /// On I/O or database errors. The salt is unreadable through the store as soon as
    /// this returns `Ok`, and gone from disk once the compaction inside it finished.
    pub(super) fn erase(&self, id: &Sha256Digest) -> Result<bool, SaltError> {
        // Guards no data, only the sequence: a poisoned lock is as good as a clean one.
        let _one_at_a_time = self.erasing.lock().unwrap_or_else(|e| e.into_inner());
        let existed = {
            let g = self.read();
            let old = g.db.remove(id.as_bytes())?;
            g.db.flush()?;
            old.is_some()
        };
        if existed {
            // The marker makes a stop before the compaction finishes resume it at start.
            write_atomically(&self.root, PENDING_FILE, "1")?;
            self.compact()?;
        }
        Ok(existed)
    }

    /// Copies the live salts into a new generation, switches to it, deletes the old one.
    /// Costs a pass over all salts; erasures are rare enough for that.
    ///
    /// # Errors
    /// On I/O or database errors; the old generation stays current then.
    pub(super) fn compact(&self) -> Result<(), SaltError> {
        let mut g = self.current.write().unwrap_or_else(|e| e.into_inner());
        let next = g.number + 1;
        let next_dir = self.root.join(format!("salts-{next}"));
        if next_dir.exists() {
            fs::remove_dir_all(&next_dir).map_err(io(&next_dir))?;
        }
        let db = sled::Config::new().path(&next_dir).open()?;
        for item in g.db.iter() {
            let (k, v) = item?;
            db.insert(k, v)?;
        }
        db.flush()?;
        write_atomically(&self.root, CURRENT_FILE, &next.to_string())?;
        let old = std::mem::replace(&mut *g, Generation { number: next, db });
        let old_dir = self.root.join(format!("salts-{}", old.number));
        drop(old);
        fs::remove_dir_all(&old_dir).map_err(io(&old_dir))?;
        let pending = self.root.join(PENDING_FILE);
        if pending.exists() {
            fs::remove_file(&pending).map_err(io(&pending))?;
        }
        tracing::info!(generation = next, "salt store compacted");
        Ok(())
    }
}

fn remove_other_generations(data_dir: &Path, keep: u64) -> Result<(), SaltError> {
    let keep_name = format!("salts-{keep}");
    for entry in fs::read_dir(data_dir).map_err(io(data_dir))? {
        let entry = entry.map_err(io(data_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("salts-") && name != keep_name && entry.path().is_dir() {
            fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(())
}

/// Write-then-rename, with fsyncs, so the file is either old or new after a crash.
fn write_atomically(dir: &Path, name: &str, text: &str) -> Result<(), SaltError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn erased_salts_leave_no_trace_in_any_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SaltStore::open(dir.path()).unwrap();
        let (a, b) = (Sha256Digest::of(b"a"), Sha256Digest::of(b"b"));
        let (sa, sb) = ([0xA5u8; 32], [0x5Au8; 32]);
        store.insert_all([(&a, &sa), (&b, &sb)]).unwrap();
        store.flush().unwrap();
        assert!(files_contain(dir.path(), &sa));
        assert!(store.erase(&a).unwrap());
        assert_eq!(store.get(&a).unwrap(), None);
        assert_eq!(store.get(&b).unwrap(), Some(sb));
        drop(store);
        assert!(!files_contain(dir.path(), &sa), "an erased salt survives in a file");
        assert!(files_contain(dir.path(), &sb));
        let reopened = SaltStore::open(dir.path()).unwrap();
        assert_eq!(reopened.get(&b).unwrap(), Some(sb));
        assert!(!reopened.erase(&a).unwrap(), "erasing twice finds nothing");
    }

    #[test]
    fn erasures_at_the_same_time_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SaltStore::open(dir.path()).unwrap();
        let ids: Vec<Sha256Digest> = (0..16u8).map(|i| Sha256Digest::of(&[i])).collect();
        store.insert_all(ids.iter().map(|id| (id, &[7u8; 32]))).unwrap();
        std::thread::scope(|s| {
            for id in &ids {
                let store = &store;
                s.spawn(move || assert!(store.erase(id).unwrap()));
            }
        });
        assert!(ids.iter().all(|id| store.get(id).unwrap().is_none()));
        assert!(!dir.path().join(PENDING_FILE).exists());
    }

    #[test]
    fn an_interrupted_compaction_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SaltStore::open(dir.path()).unwrap();
        let a = Sha256Digest::of(b"a");
        store.insert_all([(&a, &[1u8; 32])]).unwrap();
        store.flush().unwrap();
        drop(store);
        fs::write(dir.path().join(PENDING_FILE), "1").unwrap();
        fs::create_dir(dir.path().join("salts-7")).unwrap();
        let store = SaltStore::open(dir.path()).unwrap();
        assert_eq!(store.get(&a).unwrap(), Some([1u8; 32]));
        assert!(!dir.path().join(PENDING_FILE).exists());
        assert!(!dir.path().join("salts-7").exists() && !dir.path().join("salts-0").exists());
    }
}
