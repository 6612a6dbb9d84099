//! Which logs a keys directory signs for (`logs.json`). A checkpoint key and an origin
//! are a log's identity: one pair, one tree (docs/contract.md §10). A keys directory
//! that signs checkpoints for a log therefore records it, so that pointing it at another
//! store (a new database, an empty data directory) is refused instead of starting a
//! second tree under the same key, which every auditor would report as a fork. Signing
//! a second log with the same keys is an explicit step (`aiprov serve --new-log`), and
//! only under another origin.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::lock::Creating;
use super::{io_err, sync_dir, KeyError};

pub(super) const LOGS_FILE: &str = "logs.json";

/// A log this keys directory signs for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundLog {
    /// The log's random id, recorded in its store when it was created.
    pub log_id: String,
    pub origin: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsFile {
    logs: Vec<BoundLog>,
}

/// The logs of a keys directory, read and changed under its creation lock: replicas that
/// start together see each other's binding.
#[derive(Debug)]
pub struct Bindings {
    _creating: Creating,
    dir: std::path::PathBuf,
    logs: Vec<BoundLog>,
}

impl Bindings {
    /// Waits for the creation lock of `dir` and reads its logs.
    ///
    /// # Errors
    /// When the lock or the file cannot be had, or the file is damaged.
    pub fn read(dir: &Path) -> Result<Self, KeyError> {
        let creating = Creating::take(dir)?;
        let path = dir.join(LOGS_FILE);
        let logs = match fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str::<LogsFile>(&text)
                    .map_err(|e| KeyError::Corrupt { path: path.clone(), reason: e.to_string() })?
                    .logs
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(Self { _creating: creating, dir: dir.to_owned(), logs })
    }

    /// The logs this directory signs for (none for a new directory, or one from before
    /// logs were recorded).
    pub fn logs(&self) -> &[BoundLog] {
        &self.logs
    }

    /// Records `log`, durably, unless it is recorded already.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn bind(&mut self, log: BoundLog) -> Result<(), KeyError> {
        if self.logs.contains(&log) {
            return Ok(());
        }
        self.logs.push(log);
        let path = self.dir.join(LOGS_FILE);
        let tmp = self.dir.join(format!("{LOGS_FILE}.tmp"));
        let text = serde_json::to_string_pretty(&LogsFile { logs: self.logs.clone() })
            .map_err(|e| KeyError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        // Write-then-rename so that a crash leaves either the old or the new list.
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_kept_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = BoundLog { log_id: "a1".into(), origin: "example.com/log".into() };
        let mut bindings = Bindings::read(dir.path()).unwrap();
        assert!(bindings.logs().is_empty());
        bindings.bind(log.clone()).unwrap();
        bindings.bind(log.clone()).unwrap();
        drop(bindings);
        assert_eq!(Bindings::read(dir.path()).unwrap().logs(), &[log]);
    }
}
