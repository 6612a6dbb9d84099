//! Operating the service: readiness, metrics and online backups.

use std::fs;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{make_private, Service};
use crate::error::ApiError;
use crate::storage::Backups;

/// The answer of `GET /readyz`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready`, or `not_ready`.
    pub status: String,
    /// Whether the log writer takes appends.
    pub log_writer: bool,
    /// Leaves in the newest signed checkpoint.
    pub tree_size: u64,
    pub checkpoint_age_seconds: f64,
    pub message: String,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// The answer of `POST /v1/admin/backup`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackupReport {
    pub name: String,
    /// Where the backup is, on the service's machine.
    pub path: String,
    /// The backup holds exactly the log of this checkpoint.
    pub tree_size: u64,
    pub checkpoint: String,
}

impl Service {
    /// Whether the service can do its work: its log is open, a checkpoint is signed (both
    /// hold once [`Service::open`] returned) and the log writer still takes appends.
    pub fn readiness(&self) -> Readiness {
        let log_writer = self.log.is_writing();
        let (status, message) = if log_writer {
            ("ready", "the log is open, its checkpoint signed, and its writer takes appends")
        } else {
            ("not_ready", "the log writer has stopped: nothing can be stamped until the service restarts (see its log)")
        };
        Readiness {
            status: status.into(),
            log_writer,
            tree_size: self.log.published_size(),
            checkpoint_age_seconds: self.log.checkpoint_age().as_secs_f64(),
            message: message.into(),
        }
    }

    /// What this node does for the log: `Sequencer` alone, or one of several nodes.
    pub fn role(&self) -> crate::log::Role {
        self.log.role()
    }

    /// Leaves in the newest checkpoint this node serves.
    pub fn tree_size(&self) -> u64 {
        self.log.published_size()
    }

    /// Every metric in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.log)
    }

    /// Counts one answer for `GET /metrics`; `route` is the pattern the request matched.
    pub fn count_request(&self, route: Option<String>, method: &str, status: u16) {
        self.metrics.request(route, method, status);
    }

    /// Writes a consistent copy of the data directory, as the newest checkpoint has it,
    /// into the new directory `name` of the backup directory, while stamping goes on
    /// (blocking). The copy is a data directory: `aiprov serve --data` opens it, with the
    /// same keys directory (keys are not in it; they are backed up apart).
    ///
    /// # Errors
    /// `403` when the service has no backup directory; `422` for a name that is not one
    /// plain file name; `409` when a backup of that name exists or is being written.
    pub fn backup(&self, name: &str) -> Result<BackupReport, ApiError> {
        let backup = match &self.backups {
            Backups::Online(backup) => backup.clone(),
            Backups::Elsewhere(how) => return Err(ApiError::Forbidden((*how).into())),
        };
        let root = self.backup_dir.as_deref().ok_or_else(|| {
            ApiError::Forbidden("this service takes no backups: start it with --backup-dir DIR".into())
        })?;
        check_backup_name(name)?;
        let target = root.join(name);
        if target.exists() {
            return Err(ApiError::Conflict(format!("a backup named {name} exists already")));
        }
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display())).map_err(ApiError::internal)?;
        // Written under another name and renamed once complete: a backup that carries its
        // name is whole.
        let partial = root.join(format!(".{name}.partial"));
        match fs::create_dir(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ApiError::Conflict(format!(
                    "a backup named {name} is being written (if none is, a stopped one left {}: remove it)",
                    partial.display()
                )))
            }
            Err(e) => return Err(ApiError::internal(anyhow::anyhow!("creating {}: {e}", partial.display()))),
        }
        // Published means durable: every leaf, tile and salt it covers is written.
        let checkpoint = self.log.latest_checkpoint();
        let written = backup
            .backup(&partial, checkpoint.checkpoint.size, &checkpoint.note)
            .context("copying the log")
            .and_then(|()| finish_backup(root, &partial, &target));
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&partial);
            return Err(ApiError::internal(e.context(format!("writing the backup {name}"))));
        }
        Ok(BackupReport {
            name: name.to_owned(),
            path: target.display().to_string(),
            tree_size: checkpoint.checkpoint.size,
            checkpoint: checkpoint.note.to_string(),
        })
    }
}

/// A backup name is one plain file name: 1 to 100 ASCII letters, digits, `.`, `_` or
/// `-`, not starting with `.` (so never `..`, and never a hidden partial backup).
fn check_backup_name(name: &str) -> Result<(), ApiError> {
    let fine = (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fine {
        return Ok(());
    }
    Err(ApiError::Unprocessable {
        code: "invalid_field",
        field: Some("name".into()),
        message: "name: 1 to 100 letters, digits, '.', '_' or '-', not starting with '.'".into(),
    })
}

/// Makes a written backup private, gives it its name, and makes the rename durable.
fn finish_backup(root: &Path, partial: &Path, target: &Path) -> anyhow::Result<()> {
    make_private(partial).with_context(|| format!("restricting {}", partial.display()))?;
    fs::rename(partial, target).with_context(|| format!("renaming {} to {}", partial.display(), target.display()))?;
    fs::File::open(root).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_are_plain_file_names() {
        for good in ["nightly", "2026-01-31T02.00", "a_b-c.d", &"x".repeat(100)] {
            assert!(check_backup_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "../x", "/abs", "a b", "é", &"x".repeat(101)] {
            assert!(check_backup_name(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
