//! The receipts file: one JSON line per file a `stamp` run handled, appended run after
//! run: `{"file": PATH, "receipt": {...}}` (the stamp response, with its `prompt_salt`)
//! or `{"file": PATH, "error": "..."}`. `PATH` is the file's path as the run named it
//! (relative to the directory it ran in, unless the folder was given as an absolute
//! path); stdin is `-`. Read back to resume a run and by `aiprov verify --receipts`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::api::StampResponse;
use crate::content::hash_file;
use crate::Sha256Digest;

/// One line of the receipts file, as written.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<StampResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the credentialed copy of an image was written (`stamp --c2pa`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentialed: Option<String>,
    /// That copy's bytes, until the report writes them next to the receipts file.
    #[serde(skip)]
    pub credential_image: Option<Vec<u8>>,
}

/// One line of the receipts file, as read back. The receipt stays the JSON it was, as
/// a verifier must check exactly what it received.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Stamped { file: String, receipt: Value },
    Failed { file: String, error: String },
}

impl Line {
    pub fn file(&self) -> &str {
        match self {
            Self::Stamped { file, .. } | Self::Failed { file, .. } => file,
        }
    }

    /// # Errors
    /// Why `text` is not a line of a receipts file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        let file = value.get("file").and_then(Value::as_str).ok_or("no \"file\" string")?.to_owned();
        match (value.get("receipt"), value.get("error").and_then(Value::as_str)) {
            (Some(receipt @ Value::Object(_)), _) => Ok(Self::Stamped { file, receipt: receipt.clone() }),
            (None, Some(error)) => Ok(Self::Failed { file, error: error.to_owned() }),
            _ => Err("neither a \"receipt\" object nor an \"error\" string".into()),
        }
    }
}

/// Reads every line of the receipts file at `path` in order, handing `each` its line
/// number (from 1) and the line or why it does not parse. Blank lines are passed over;
/// a file that does not exist has no lines.
///
/// # Errors
/// When the file exists but cannot be read.
pub fn read_lines(path: &Path, mut each: impl FnMut(usize, Result<Line, String>)) -> std::io::Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut bytes = Vec::new();
    for number in 1.. {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => each(number, Line::parse(text)),
            Err(_) => each(number, Err("not UTF-8".into())),
        }
    }
    Ok(())
}

/// What identifies a file across runs: its absolute path, without `.` components, so
/// `./out/a.txt` and `out/a.txt` from the same directory are one file. Symbolic links
/// are not resolved (a batch never follows them).
pub(super) fn path_key(file: &Path) -> PathBuf {
    std::path::absolute(file).unwrap_or_else(|_| file.to_owned())
}

/// The files a receipts file records as stamped: a path *and* the SHA-256 of the
/// content stamped, so a file changed since its stamp is stamped again. Lines that
/// record a failure do not count.
#[derive(Debug, Default)]
pub struct Stamped {
    by_path: HashMap<PathBuf, HashSet<Sha256Digest>>,
    /// Lines that could not be read, by line number, with the reason: reported, not
    /// fatal (an interrupted run may leave half a line).
    pub bad_lines: Vec<(usize, String)>,
}

impl Stamped {
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let mut out = Self::default();
        read_lines(path, |number, line| match line {
            Ok(Line::Stamped { file, receipt }) => {
                let sha256 = receipt["statement"]["subject"]["sha256"].as_str().map(Sha256Digest::from_hex);
                match sha256 {
                    Some(Ok(sha256)) => {
                        out.by_path.entry(path_key(Path::new(&file))).or_default().insert(sha256);
                    }
                    _ => out.bad_lines.push((number, "the receipt has no statement.subject.sha256".into())),
                }
            }
            Ok(Line::Failed { .. }) => {}
            Err(reason) => out.bad_lines.push((number, reason)),
        })?;
        Ok(out)
    }

    /// Whether `file`, as it is now, was stamped. Hashes the file only when its path
    /// is recorded; blocks while it does.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn contains(&self, file: &Path) -> std::io::Result<bool> {
        match self.by_path.get(&path_key(file)) {
            Some(hashes) => Ok(hashes.contains(&hash_file(file, 0)?.sha256)),
            None => Ok(false),
        }
    }
}

/// The receipts file, open for appending.
#[derive(Debug)]
pub struct Appender {
    file: std::fs::File,
}

impl Appender {
    /// Opens (or creates) the receipts file at `path`. When an interrupted run left the
    /// last line unfinished, ends it first, so the new lines start whole (the broken one
    /// is then reported as unreadable, and its file stamped again).
    ///
    /// # Errors
    /// When the file cannot be opened or written.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new().read(true).create(true).append(true).open(path)?;
        if file.seek(SeekFrom::End(0))? > 0 {
            file.seek(SeekFrom::End(-1))?;
            let mut last = [0u8];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Self { file })
    }

    /// Appends one line with a single write, so an interruption loses at most that line.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn append(&mut self, outcome: &Outcome) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(outcome)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_parse_as_written() {
        let failed = Outcome { file: "a.txt".into(), error: Some("422: too big".into()), ..Default::default() };
        let text = serde_json::to_string(&failed).unwrap();
        assert_eq!(Line::parse(&text), Ok(Line::Failed { file: "a.txt".into(), error: "422: too big".into() }));
        let stamped = json!({"file": "b.txt", "receipt": {"id": "x"}}).to_string();
        assert_eq!(Line::parse(&stamped), Ok(Line::Stamped { file: "b.txt".into(), receipt: json!({"id": "x"}) }));
        for bad in ["{\"file\": \"c\"", "{\"receipt\": {}}", "{\"file\": \"c\"}", "[1]"] {
            assert!(Line::parse(bad).is_err(), "{bad}");
        }
    }

    fn receipt_line(file: &str, content: &[u8]) -> String {
        let sha = Sha256Digest::of(content).to_hex();
        json!({"file": file, "receipt": {"statement": {"subject": {"sha256": sha}}}}).to_string()
    }

    #[test]
    fn a_file_is_stamped_by_its_path_and_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a.txt"), dir.path().join("b.txt"), dir.path().join("c.txt"));
        std::fs::write(&a, "same").unwrap();
        std::fs::write(&b, "changed since").unwrap();
        std::fs::write(&c, "same").unwrap();
        let receipts = dir.path().join("receipts.jsonl");
        // `/./` names the same file; the last line was cut short.
        let lines = [
            receipt_line(&format!("{}/./a.txt", dir.path().display()), b"same"),
            receipt_line(&b.display().to_string(), b"as stamped"),
            json!({"file": c.display().to_string(), "error": "503"}).to_string(),
            "{\"file\": \"d.txt\", \"rec".to_owned(),
        ];
        std::fs::write(&receipts, lines.join("\n")).unwrap();
        let stamped = Stamped::read(&receipts).unwrap();
        assert!(stamped.contains(&a).unwrap());
        assert!(!stamped.contains(&b).unwrap(), "a changed file is stamped again");
        assert!(!stamped.contains(&c).unwrap(), "a failed stamp is not a stamp");
        assert_eq!(stamped.bad_lines.len(), 1);
        assert_eq!(stamped.bad_lines[0].0, 4);

        // Appending after the cut line starts a new line.
        let mut out = Appender::open(&receipts).unwrap();
        out.append(&Outcome { file: "e.txt".into(), error: Some("x".into()), ..Default::default() }).unwrap();
        let mut read = Vec::new();
        read_lines(&receipts, |n, l| read.push((n, l.is_ok()))).unwrap();
        assert_eq!(read, vec![(1, true), (2, true), (3, true), (4, false), (5, true)]);
    }

    #[test]
    fn a_missing_file_has_no_lines() {
        let stamped = Stamped::read(Path::new("/nonexistent/receipts.jsonl")).unwrap();
        assert!(stamped.bad_lines.is_empty() && !stamped.contains(Path::new("/etc/hostname")).unwrap());
    }
}
