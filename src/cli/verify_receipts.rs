//! `aiprov verify --receipts`: every receipt of a receipts file verified offline, each
//! against its file's content when the file is there (and, with `--key URL`, against
//! the log the service serves); one line per file, then a summary.
//!
//! A file may have several receipts: a run stamps a file again once it has changed.
//! Every receipt must be genuine (every check but `content` passes), and a file that is
//! there must match one of its receipts: an older stamp of an earlier version does not
//! fail a file, an edit made after its last stamp does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

use super::args::VerifyArgs;
use super::receipts::{path_key, read_lines, Line};
use super::verify_inputs::{file_hashes, trust_anchors, ServedLog};
use super::walk::first_few;
use crate::content::ContentHashes;
use crate::verify::{verify_receipt, Check, TrustAnchors};

/// What the receipts of one file showed.
struct FileResult {
    /// As the receipts file names it.
    file: String,
    /// The file's content, `None` when it is not there (or is stdin, `-`).
    content: Option<Result<ContentHashes, String>>,
    /// Lines with a receipt for this file.
    lines: Vec<usize>,
    /// The log index of a receipt that holds the file's current content.
    matched: Option<u64>,
    /// Checks other than `content` that failed, with their line.
    failures: Vec<(usize, Check)>,
    /// The newest receipt's failed `content` check, for when none matched.
    mismatch: Option<(usize, Check)>,
}

impl FileResult {
    fn new(file: String, path: Option<&Path>) -> Self {
        let content = path.filter(|p| p.exists()).map(|p| file_hashes(p).map_err(|e| format!("{e:#}")));
        Self { file, content, lines: Vec::new(), matched: None, failures: Vec::new(), mismatch: None }
    }

    /// Checks one receipt of this file; with `log`, against the log the service serves
    /// too.
    ///
    /// # Errors
    /// When the log cannot be asked for a consistency proof.
    fn check(
        &mut self,
        line: usize,
        receipt: &Value,
        trust: &TrustAnchors,
        log: Option<&mut ServedLog>,
    ) -> anyhow::Result<()> {
        self.lines.push(line);
        let content = match &self.content {
            Some(Ok(hashes)) => Some(hashes),
            _ => None,
        };
        let (mut checks, stamp) = verify_receipt(receipt, content, trust);
        if let Some(log) = log {
            checks.extend(log.check(receipt)?);
        }
        let genuine = checks.iter().all(|c| c.passed || c.name == "content");
        for c in checks {
            match (c.passed, c.name.as_str()) {
                (true, "content") if genuine => self.matched = stamp.as_ref().map(|s| s.log_index),
                (false, "content") => self.mismatch = Some((line, c)),
                (false, _) => self.failures.push((line, c)),
                (true, _) => {}
            }
        }
        Ok(())
    }

    fn verified(&self) -> bool {
        let content_ok = match &self.content {
            None => true,
            Some(Ok(_)) => self.matched.is_some(),
            Some(Err(_)) => false,
        };
        self.failures.is_empty() && content_ok
    }

    /// One line: PASS or FAIL, the file, and why.
    fn describe(&self) -> String {
        let lines = || first_few(&self.lines.iter().map(ToString::to_string).collect::<Vec<_>>(), 3);
        let why = if let Some((line, c)) = self.failures.first() {
            let more = match self.failures.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more failed check(s))"),
            };
            format!("{} (line {line}): {}{more}", c.code, c.message)
        } else {
            match (&self.content, self.matched, &self.mismatch) {
                (Some(Err(e)), _, _) => format!("cannot read the file: {e}"),
                (Some(Ok(_)), Some(index), _) => format!("verified, content matches (log index {index})"),
                (Some(Ok(_)), None, Some((line, c))) => {
                    format!(
                        "{} (line {line}): the file is not the content stamped; it changed after its last stamp",
                        c.code
                    )
                }
                (Some(Ok(_)), None, None) => "no receipt holds this content".into(),
                (None, _, _) if self.file == "-" => format!("genuine receipt of stdin (line {})", lines()),
                (None, _, _) => {
                    format!("genuine receipt, but the file is not there: content not checked (line {})", lines())
                }
            }
        };
        format!("{} {}: {why}", if self.verified() { "PASS" } else { "FAIL" }, self.file)
    }

    fn to_json(&self) -> Value {
        let failures: Vec<Value> = self
            .failures
            .iter()
            .chain(self.mismatch.iter().filter(|_| self.matched.is_none()))
            .map(|(line, c)| json!({"line": line, "name": c.name, "code": c.code, "message": c.message}))
            .collect();
        json!({
            "file": self.file,
            "verified": self.verified(),
            "content_checked": matches!(self.content, Some(Ok(_))),
            "lines": self.lines,
            "failures": failures,
        })
    }
}

/// Where the file a receipts-file line names is: a relative path starts from `dir`.
/// `None` for stdin (`-`).
fn resolve(dir: &Path, file: &str) -> Option<PathBuf> {
    (file != "-").then(|| path_key(&dir.join(file)))
}

/// Verifies every line of the receipts file at `path`; true when every file passed
/// and every line could be read.
///
/// # Errors
/// When the receipts file or the keys cannot be read.
pub(super) fn verify_all(args: &VerifyArgs, path: &Path) -> anyhow::Result<bool> {
    std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let trust = trust_anchors(args)?;
    let mut log = ServedLog::of(args, &trust)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut files: Vec<FileResult> = Vec::new();
    // By where the file is, so `./a.txt` and `a.txt` are one file, as when resuming.
    let mut index: HashMap<Option<PathBuf>, usize> = HashMap::new();
    let (mut failed_stamps, mut bad_lines) = (0usize, Vec::new());
    // The first failure to reach the log: it stops the run, as unreadable keys do.
    let mut unreachable = None;
    read_lines(path, |number, line| match line {
        _ if unreachable.is_some() => {}
        Ok(Line::Stamped { file, receipt }) => {
            let at_path = resolve(&dir, &file);
            let at = *index.entry(at_path.clone()).or_insert_with(|| {
                files.push(FileResult::new(file, at_path.as_deref()));
                files.len() - 1
            });
            if let Err(e) = files[at].check(number, &receipt, &trust, log.as_mut()) {
                unreachable = Some(e.context(format!("line {number}")));
            }
        }
        Ok(Line::Failed { .. }) => failed_stamps += 1,
        Err(why) => bad_lines.push((number, why)),
    })
    .with_context(|| format!("reading {}", path.display()))?;
    if let Some(e) = unreachable {
        return Err(e);
    }

    let failed: Vec<String> = files.iter().filter(|f| !f.verified()).map(|f| f.file.clone()).collect();
    if args.json {
        for f in &files {
            println!("{}", f.to_json());
        }
        for (line, why) in &bad_lines {
            println!("{}", json!({"line": line, "error": why}));
        }
    } else {
        for f in &files {
            println!("{}", f.describe());
        }
        let unchecked = files.iter().filter(|f| f.content.is_none()).count();
        let mut summary = format!("{} of {} file(s) verified", files.len() - failed.len(), files.len());
        if unchecked > 0 {
            summary += &format!(
                " ({unchecked} without their file: receipt only; relative paths start from --dir, by default the \
                 current directory)"
            );
        }
        if !failed.is_empty() {
            summary += &format!("; failed: {}", first_few(&failed, 5));
        }
        if failed_stamps > 0 {
            summary += &format!("; {failed_stamps} line(s) record a failed stamp (no receipt)");
        }
        if !bad_lines.is_empty() {
            let lines: Vec<String> = bad_lines.iter().map(|(n, why)| format!("line {n} ({why})")).collect();
            summary += &format!("; {} unreadable line(s): {}", lines.len(), first_few(&lines, 3));
        }
        println!("{summary}");
        if files.is_empty() {
            eprintln!("aiprov: not verified: {} holds no receipt", path.display());
        }
    }
    Ok(!files.is_empty() && failed.is_empty() && bad_lines.is_empty())
}
