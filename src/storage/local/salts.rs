//! Prompt salts, kept apart from the immutable log so they can be erased for good
//! (docs/contract.md §4, crypto-shredding).
//!
//! Salts live in segment files under `<data>/salts/`: segment `n` holds the 32-byte
//! slots of leaves `n·4096 .. (n+1)·4096`, at offset `32·(index mod 4096)`, all zeros
//! where a leaf has no salt. An erasure overwrites its one slot with zeros in place and
//! syncs the file: it costs the same in a log of a thousand leaves or of a billion, and
//! afterwards no file under the data directory holds the salt (the database never held
//! it). Appends write the slots of every new leaf, zeros included, so a slot left by a
//! batch that never became durable is overwritten by the leaf that later takes its index.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::log::LogIndex;
use crate::log::{io_error as io, StoreError};

/// Leaves per segment file: 4,096 slots of 32 bytes, 128 KiB.
const SEGMENT: u64 = 4096;
const SLOT: u64 = 32;
const DIR: &str = "salts";

/// The erasable store of prompt salts, by leaf index.
pub(super) struct SaltFiles {
    dir: PathBuf,
    /// Segments written since the last sync (the files to sync before the log's batch),
    /// and whether one of them was created (then the directory is synced too).
    dirty: Mutex<(BTreeSet<u64>, bool)>,
}

impl SaltFiles {
    /// Opens (or creates) the salt store of data directory `data_dir`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub(super) fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.join(DIR);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Self { dir, dirty: Mutex::new((BTreeSet::new(), false)) })
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:012}.salts"))
    }

    /// Writes the slots of leaves `first..first + salts.len()`, zeros where `None`:
    /// readable at once, durable after the next [`SaltFiles::sync`].
    ///
    /// # Errors
    /// On I/O errors.
    pub(super) fn write(&self, first: u64, salts: &[Option<[u8; 32]>]) -> Result<(), StoreError> {
        let mut done = 0usize;
        while done < salts.len() {
            let index = first + done as u64;
            let segment = index / SEGMENT;
            let take = ((SEGMENT - index % SEGMENT) as usize).min(salts.len() - done);
            let mut bytes = Vec::with_capacity(take * SLOT as usize);
            for salt in &salts[done..done + take] {
                bytes.extend_from_slice(salt.as_ref().unwrap_or(&[0; 32]));
            }
            let path = self.path(segment);
            let (file, created) = match OpenOptions::new().write(true).open(&path) {
                Ok(file) => (file, false),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    (OpenOptions::new().create(true).write(true).truncate(false).open(&path).map_err(io(&path))?, true)
                }
                Err(e) => return Err(io(&path)(e)),
            };
            file.write_all_at(&bytes, (index % SEGMENT) * SLOT).map_err(io(&path))?;
            let mut dirty = crate::memo::lock(&self.dirty);
            dirty.0.insert(segment);
            dirty.1 |= created;
            done += take;
        }
        Ok(())
    }

    /// Makes every slot written so far durable: the files, and the directory for new ones.
    ///
    /// # Errors
    /// On I/O errors.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        let (segments, created) = std::mem::take(&mut *crate::memo::lock(&self.dirty));
        for segment in &segments {
            let path = self.path(*segment);
            File::open(&path).and_then(|f| f.sync_data()).map_err(io(&path))?;
        }
        if created {
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        }
        Ok(())
    }

    /// The salt of leaf `index`, unless it has none or it was erased.
    ///
    /// # Errors
    /// On I/O errors.
    pub(super) fn get(&self, index: LogIndex) -> Result<Option<[u8; 32]>, StoreError> {
        let path = self.path(index.0 / SEGMENT);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut slot = [0u8; 32];
        match file.read_exact_at(&mut slot, (index.0 % SEGMENT) * SLOT) {
            Ok(()) => Ok((slot != [0; 32]).then_some(slot)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Overwrites the salt of leaf `index` with zeros and syncs its file; whether there
    /// was a salt to erase.
    ///
    /// # Errors
    /// On I/O errors.
    pub(super) fn erase(&self, index: LogIndex) -> Result<bool, StoreError> {
        if self.get(index)?.is_none() {
            return Ok(false);
        }
        let path = self.path(index.0 / SEGMENT);
        let file = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
        file.write_all_at(&[0; 32], (index.0 % SEGMENT) * SLOT).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))?;
        Ok(true)
    }

    /// Copies the salts of leaves `0..size` into the data directory `data_dir`.
    ///
    /// # Errors
    /// On I/O errors.
    pub(super) fn backup(&self, data_dir: &Path, size: u64) -> Result<(), StoreError> {
        let to = SaltFiles::open(data_dir)?;
        for segment in 0..size.div_ceil(SEGMENT) {
            let from = self.path(segment);
            let mut bytes = match fs::read(&from) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&from)(e)),
            };
            // Slots past `size` belong to leaves the copy does not have.
            bytes.truncate(((size - segment * SEGMENT).min(SEGMENT) * SLOT) as usize);
            let path = to.path(segment);
            fs::write(&path, &bytes).map_err(io(&path))?;
            let mut dirty = crate::memo::lock(&to.dirty);
            dirty.0.insert(segment);
            dirty.1 = true;
        }
        to.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        let mut dirs = vec![dir.to_owned()];
        while let Some(d) = dirs.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn salts_round_trip_across_segments_and_erase_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = SaltFiles::open(dir.path()).unwrap();
        let salts: Vec<Option<[u8; 32]>> =
            (0..5000u32).map(|i| (i % 3 != 0).then(|| [(i % 251) as u8 + 1; 32])).collect();
        store.write(4000, &salts[..100]).unwrap();
        store.write(4100, &salts[100..]).unwrap();
        store.sync().unwrap();
        for (i, salt) in salts.iter().enumerate() {
            assert_eq!(store.get(LogIndex(4000 + i as u64)).unwrap(), *salt, "leaf {}", 4000 + i);
        }
        assert_eq!(store.get(LogIndex(10)).unwrap(), None, "never written");
        assert_eq!(store.get(LogIndex(1 << 40)).unwrap(), None, "past every segment");

        let secret = [0xFE; 32]; // unlike every other salt here (those are 1 to 251)
        store.write(9000, &[Some(secret)]).unwrap();
        store.sync().unwrap();
        assert!(files_contain(dir.path(), &secret));
        assert!(store.erase(LogIndex(9000)).unwrap());
        assert!(!store.erase(LogIndex(9000)).unwrap(), "a second erasure finds nothing");
        assert_eq!(store.get(LogIndex(9000)).unwrap(), None);
        assert!(!files_contain(dir.path(), &secret), "an erased salt must be gone from every file");
        assert_eq!(store.get(LogIndex(4001)).unwrap(), salts[1], "its neighbours are kept");
    }

    #[test]
    fn a_backup_keeps_only_the_salts_below_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = SaltFiles::open(dir.path()).unwrap();
        store.write(0, &[Some([1; 32]), Some([2; 32]), Some([3; 32])]).unwrap();
        let copy = tempfile::tempdir().unwrap();
        store.backup(copy.path(), 2).unwrap();
        let copied = SaltFiles::open(copy.path()).unwrap();
        assert_eq!(copied.get(LogIndex(1)).unwrap(), Some([2; 32]));
        assert_eq!(copied.get(LogIndex(2)).unwrap(), None);
    }
}
