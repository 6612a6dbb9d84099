//! What the witness remembers: the latest checkpoint it cosigned for each log, one file
//! per log in `<data>/checkpoints/<hex SHA-256 of the origin>`, holding the signed note
//! as the log sent it (so it can be served to monitors later, log signature included).
//!
//! Why files and not sled: one small value per log, replaced whole, and the rule is
//! "never forget, never go back". A new checkpoint is written to a temporary file,
//! fsynced, renamed over the old one and the directory fsynced, so after a crash the file
//! is the old checkpoint or the new one, never a mix, and a cosignature is only handed
//! out after its checkpoint is on disk.
//!
//! Check-and-persist is atomic against concurrent requests through one mutex per log
//! ([`LogSlot::lock`]), held from the comparison with the stored size to the end of the
//! write; and against other processes through an exclusive lock on the data directory
//! ([`DataDir::lock`]), so two witnesses never share one state.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::digest::Sha256Digest;
use crate::log::checkpoint::Checkpoint;

const CHECKPOINTS_DIR: &str = "checkpoints";
const LOCK_FILE: &str = "witness.lock";

/// Why the state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("another witness process holds {0}")]
    InUse(PathBuf),
    #[error("{path} does not hold a checkpoint of {origin}: {reason}")]
    Corrupt { path: PathBuf, origin: String, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_owned(), source }
}

/// A checkpoint the witness cosigned: its parsed body and the note it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub checkpoint: Checkpoint,
    pub note: String,
}

/// The data directory, held exclusively by this process while the value lives.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates `path` if needed and locks it (an advisory `flock` the system releases
    /// however the process ends, so a SIGKILL leaves nothing behind).
    ///
    /// # Errors
    /// [`StateError::InUse`] when another process holds it; I/O errors.
    pub fn lock(path: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(path.join(CHECKPOINTS_DIR)).map_err(io(path))?;
        let lock_path = path.join(LOCK_FILE);
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io(&lock_path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path: path.to_owned(), _lock: file }),
            Err(TryLockError::WouldBlock) => Err(StateError::InUse(path.to_owned())),
            Err(TryLockError::Error(e)) => Err(StateError::Io { path: lock_path, source: e }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The state of every configured log, each behind its own mutex.
#[derive(Debug)]
pub struct State {
    logs: HashMap<String, LogSlot>,
}

/// One log's latest cosigned checkpoint and the file it is kept in.
#[derive(Debug)]
pub struct LogSlot {
    file: PathBuf,
    latest: Mutex<Option<Stored>>,
}

impl State {
    /// Loads the latest checkpoint of each of `origins` from `dir`.
    ///
    /// # Errors
    /// When a file cannot be read or does not hold a checkpoint of its log: the witness
    /// must not start having forgotten what it cosigned.
    pub fn open<'a>(dir: &DataDir, origins: impl IntoIterator<Item = &'a str>) -> Result<Self, StateError> {
        let mut logs = HashMap::new();
        for origin in origins {
            let file = dir.path.join(CHECKPOINTS_DIR).join(Sha256Digest::of(origin.as_bytes()).to_hex());
            let latest = match fs::read_to_string(&file) {
                Ok(note) => Some(parse_stored(&file, origin, note)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(StateError::Io { path: file, source: e }),
            };
            logs.insert(origin.to_owned(), LogSlot { file, latest: Mutex::new(latest) });
        }
        Ok(Self { logs })
    }

    /// The slot of `origin`, if it is a configured log.
    pub fn log(&self, origin: &str) -> Option<&LogSlot> {
        self.logs.get(origin)
    }
}

fn parse_stored(file: &Path, origin: &str, note: String) -> Result<Stored, StateError> {
    let corrupt = |reason: String| StateError::Corrupt { path: file.to_owned(), origin: origin.to_owned(), reason };
    let split = note.rfind("\n\n").ok_or_else(|| corrupt("no signature block".into()))?;
    let checkpoint = Checkpoint::parse_body(&note[..=split]).map_err(|e| corrupt(e.to_string()))?;
    if checkpoint.origin != origin {
        return Err(corrupt(format!("its origin is {:?}", checkpoint.origin)));
    }
    Ok(Stored { checkpoint, note })
}

impl LogSlot {
    /// Takes this log's lock: whoever holds it may compare and then [`Locked::replace`].
    pub fn lock(&self) -> Locked<'_> {
        // A panic while the lock was held left the last value that was durably written
        // (the write happens before the value changes): keep going with it.
        Locked { file: &self.file, latest: self.latest.lock().unwrap_or_else(|e| e.into_inner()) }
    }
}

/// A log's state, locked.
pub struct Locked<'a> {
    file: &'a Path,
    latest: MutexGuard<'a, Option<Stored>>,
}

impl Locked<'_> {
    pub fn latest(&self) -> Option<&Stored> {
        self.latest.as_ref()
    }

    /// Durably replaces the stored checkpoint with `new`, then remembers it.
    ///
    /// # Errors
    /// I/O errors; the remembered checkpoint is then unchanged.
    pub fn replace(&mut self, new: Stored) -> Result<(), StateError> {
        write_durably(self.file, new.note.as_bytes())?;
        *self.latest = Some(new);
        Ok(())
    }
}

/// Temporary file, fsync, rename, fsync of the directory: the file holds the old bytes
/// or the new, whatever the moment of a crash.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(origin: &str, size: u64) -> Stored {
        let checkpoint =
            Checkpoint { origin: origin.into(), size, root: Sha256Digest::of(&size.to_be_bytes()), extensions: vec![] };
        let note = format!("{}\n\u{2014} {origin} AAAA\n", checkpoint.to_body());
        Stored { checkpoint, note }
    }

    #[test]
    fn a_replaced_checkpoint_survives_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let dir = DataDir::lock(tmp.path()).unwrap();
            let state = State::open(&dir, ["a.example/log", "b.example/log"]).unwrap();
            assert!(state.log("a.example/log").unwrap().lock().latest().is_none());
            state.log("a.example/log").unwrap().lock().replace(stored("a.example/log", 3)).unwrap();
            state.log("a.example/log").unwrap().lock().replace(stored("a.example/log", 7)).unwrap();
            assert!(state.log("c.example/log").is_none());
        }
        let dir = DataDir::lock(tmp.path()).unwrap();
        let state = State::open(&dir, ["a.example/log", "b.example/log"]).unwrap();
        assert_eq!(state.log("a.example/log").unwrap().lock().latest(), Some(&stored("a.example/log", 7)));
        assert!(state.log("b.example/log").unwrap().lock().latest().is_none());
    }

    #[test]
    fn one_process_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = DataDir::lock(tmp.path()).unwrap();
        assert!(matches!(DataDir::lock(tmp.path()), Err(StateError::InUse(_))));
    }

    #[test]
    fn a_damaged_file_stops_the_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::lock(tmp.path()).unwrap();
        let file = tmp.path().join(CHECKPOINTS_DIR).join(Sha256Digest::of(b"a.example/log").to_hex());
        fs::write(&file, "a.example/log\nnot a size\n").unwrap();
        assert!(matches!(State::open(&dir, ["a.example/log"]), Err(StateError::Corrupt { .. })));
        // Another log's checkpoint under this log's name is as bad.
        fs::write(&file, stored("b.example/log", 1).note).unwrap();
        assert!(matches!(State::open(&dir, ["a.example/log"]), Err(StateError::Corrupt { .. })));
    }
}
