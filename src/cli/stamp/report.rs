//! What a `stamp` run did: each outcome written to the receipts file as it comes,
//! failures named (the first few), and one summary at the end that says why the run
//! stopped, if it did, and how often requests were retried.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::batch::{Stop, Stopped};
use crate::cli::client::Client;
use crate::cli::receipts::{Appender, Outcome, Stamped};
use crate::cli::walk::first_few;

/// Per-file failures printed before the rest are only counted (all are in the
/// receipts file).
const FAILURES_SHOWN: u64 = 10;

/// What a run did so far, written to the receipts file as it happens and summarised at
/// the end.
pub(super) struct Report {
    out: Appender,
    out_path: PathBuf,
    pub(super) bar: indicatif::ProgressBar,
    stamped: u64,
    failed: u64,
    already: usize,
    /// Lines appended to the receipts file by this run: the summary says "appended"
    /// only when there are some.
    written: u64,
    /// The first failure to write the receipts file: the run goes on (the receipts
    /// come back in the answers) but must not end as a success.
    write_error: Option<std::io::Error>,
}

impl Report {
    pub(super) fn open(out_path: &Path) -> anyhow::Result<Self> {
        let out = Appender::open(out_path).with_context(|| format!("opening {}", out_path.display()))?;
        Ok(Self {
            out,
            out_path: out_path.to_owned(),
            bar: crate::cli::progress::bar(),
            stamped: 0,
            failed: 0,
            already: 0,
            written: 0,
            write_error: None,
        })
    }

    /// `files` without those the receipts file records as stamped with their current
    /// content; lines it cannot read are reported, not fatal.
    pub(super) fn not_yet_stamped(&mut self, files: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
        let stamped = Stamped::read(&self.out_path).with_context(|| format!("reading {}", self.out_path.display()))?;
        if !stamped.bad_lines.is_empty() {
            let lines: Vec<String> = stamped.bad_lines.iter().map(|(n, why)| format!("line {n} ({why})")).collect();
            eprintln!(
                "aiprov: {}: {} unreadable line(s) ignored: {}",
                self.out_path.display(),
                lines.len(),
                first_few(&lines, 3)
            );
        }
        let mut todo = Vec::with_capacity(files.len());
        for file in files {
            // A file that cannot be read now is sent on: the batch names it with its error.
            if stamped.contains(&file).unwrap_or(false) {
                self.already += 1;
            } else {
                todo.push(file);
            }
        }
        Ok(todo)
    }

    pub(super) fn record(&mut self, mut o: Outcome) {
        self.bar.inc(1);
        if let Some(image) = o.credential_image.take() {
            match self.write_credentialed(&o.file, &image) {
                Ok(path) => o.credentialed = Some(path.display().to_string()),
                // The stamp exists and its receipt is kept: only the copy is missing.
                Err(e) => o.error = Some(format!("stamped, but the credentialed copy could not be written: {e}")),
            }
        }
        if let Some(error) = &o.error {
            self.failed += 1;
            if self.failed <= FAILURES_SHOWN {
                self.bar.suspend(|| eprintln!("aiprov: {}: {error}", o.file));
            }
        } else {
            self.stamped += 1;
        }
        match self.out.append(&o) {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.write_error.get_or_insert(e);
            }
        }
    }

    /// Writes the credentialed copy of `file` under `credentialed/` beside the receipts
    /// file, at the path the run named it by (made relative: a copy never lands outside
    /// that folder, nor over the original).
    fn write_credentialed(&self, file: &str, image: &[u8]) -> std::io::Result<PathBuf> {
        let relative: PathBuf =
            Path::new(file).components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
        let dir = self.out_path.parent().unwrap_or(Path::new("."));
        let path = dir.join("credentialed").join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, image)?;
        Ok(path)
    }

    pub(super) fn finish(self, client: &Client, stopped: Option<Stopped>) -> anyhow::Result<()> {
        if self.failed > FAILURES_SHOWN {
            eprintln!("aiprov: and {} more failed file(s)", self.failed - FAILURES_SHOWN);
        }
        let mut summary = format!("stamped {}, failed {}", self.stamped, self.failed);
        if self.already > 0 {
            summary += &format!(", skipped {} already stamped", self.already);
        }
        if let Some(s) = &stopped {
            // Running the same command again helps only once the cause is gone: a
            // refused token is refused again, so say what to fix first.
            let then = match s.reason {
                Stop::TokenRefused { .. } => "the token was refused: fix --token / AIPROV_TOKEN, then run again",
                Stop::Unreachable(_) => "run the same command again once the service answers to resume",
            };
            summary += &format!("; stopped, {} file(s) not stamped ({then})", s.unstamped);
        }
        match self.written {
            0 => println!("{summary}; nothing written to {}", self.out_path.display()),
            n => println!("{summary}; {n} receipt line(s) appended to {}", self.out_path.display()),
        }
        if let Some(e) = self.write_error {
            anyhow::bail!("writing {}: {e}", self.out_path.display());
        }
        match stopped.map(|s| s.reason) {
            Some(reason @ Stop::TokenRefused { .. }) => anyhow::bail!("{reason}: check --token / AIPROV_TOKEN"),
            Some(reason @ Stop::Unreachable(_)) => {
                anyhow::bail!("{reason}; check --url / AIPROV_URL and that the service is running")
            }
            None => {}
        }
        // Retries that ended well, or in a failure of one file, said once for the run.
        let retries = client.retries();
        if !retries.is_empty() {
            let total: u64 = retries.iter().map(|(_, n)| n).sum();
            let by: Vec<String> = retries.iter().map(|(why, n)| format!("{n} after {why}")).collect();
            eprintln!("aiprov: retried {total} request(s): {}", by.join(", "));
        }
        if self.failed > 0 {
            anyhow::bail!(
                "{} file(s) could not be stamped (each error is in {})",
                self.failed,
                self.out_path.display()
            );
        }
        Ok(())
    }
}
