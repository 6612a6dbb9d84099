//! `aiprov verify`: a receipt checked offline, with the service's public keys only; a
//! whole receipts file is [`super::verify_receipts`]. Given the service's URL, the
//! receipt's checkpoint is also held against the log the service serves now, which
//! shows a fork or a rollback ([`ServedLog`]). Under the reader's `--policy` every receipt
//! must carry its quorum of witnesses' cosignatures; `--tlog-proof` checks the receipt's
//! statement under a C2SP tlog-proof's (possibly cosigned) checkpoint instead of its own.

use std::io::{Read, Seek};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::args::VerifyArgs;
use super::client::Client;
use super::receipts::Line;
use super::verify_inputs::{file_hashes, trust_anchors, ServedLog};
use crate::content::ContentHashes;
use crate::credentials::{self, Asset, ImageFormat};
use crate::log::checkpoint::Checkpoint;
use crate::log::tlog_proof::TlogProof;
use crate::service::DEFAULT_MAX_TEXT_BYTES;
use crate::verify::{credential, verify_receipt, Verdict};

/// Exit codes: 0 verified, 1 not verified (the failing check is named), 2 could not run.
pub(super) fn verify(args: &VerifyArgs) -> ExitCode {
    let result = match &args.source.receipts {
        Some(receipts) => super::verify_receipts::verify_all(args, receipts),
        None => verify_one(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The receipt in a file that holds a receipt, a stamp response (a receipt with its
/// `prompt_salt`), or one line of a receipts file (the receipt under `receipt`).
///
/// # Errors
/// When the file is not JSON, or is a receipts-file line that records a failure.
fn read_receipt(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| {
        format!("{} is not one JSON receipt (for a receipts file of JSON lines, use --receipts)", path.display())
    })?;
    if value.get("statement").is_some() || value.get("file").is_none() {
        // A receipt, or something the checks will call malformed, in their words.
        return Ok(value);
    }
    match Line::parse(&text) {
        Ok(Line::Stamped { receipt, .. }) => Ok(receipt),
        Ok(Line::Failed { file, error }) => {
            anyhow::bail!("{} records a failed stamp of {file} ({error}): there is no receipt", path.display())
        }
        Err(why) => anyhow::bail!("{} is not a receipt nor a receipts-file line: {why}", path.display()),
    }
}

fn verify_one(args: &VerifyArgs) -> anyhow::Result<bool> {
    if let Some(file) = &args.content.file {
        if let Some(verdict) = credentialed(args, file)? {
            return print(args, &verdict);
        }
    }
    if let Some(url) = &args.url {
        return super::lookup::look_up(args, url);
    }
    let Some(path) = &args.source.receipt else {
        anyhow::bail!("give --receipt FILE or --receipts FILE (a receipt may be left out only for an image or a text with Content Credentials)")
    };
    let mut receipt = read_receipt(path)?;
    if let Some(proof) = &args.tlog_proof {
        with_tlog_proof(&mut receipt, proof)?;
    }
    let trust = trust_anchors(args)?;
    let content = match (&args.content.file, &args.content.text) {
        (Some(f), _) => Some(file_hashes(f)?),
        (None, Some(t)) => Some(ContentHashes::of_text(t)),
        (None, None) => None,
    };
    let (mut checks, stamp) = verify_receipt(&receipt, content.as_ref(), &trust);
    if let Some(mut log) = ServedLog::of(args, &trust)? {
        checks.extend(log.check(&receipt)?);
    }
    print(args, &Verdict::from_checks(checks, stamp))
}

/// Replaces the receipt's log proof with the one of the C2SP tlog-proof at `path`: the
/// receipt's statement and signature give the leaf, the proof its index, inclusion proof
/// and (cosigned) checkpoint. Every check then runs as on a receipt, so the proof is held
/// to the same log key, policy and log as the receipt would be.
///
/// # Errors
/// When the file cannot be read or is not a tlog-proof.
fn with_tlog_proof(receipt: &mut Value, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let proof = TlogProof::parse(&text).with_context(|| format!("{} is not a C2SP tlog-proof", path.display()))?;
    // The proof's tree size is its checkpoint's; a checkpoint that does not parse keeps
    // the receipt's, and fails the `checkpoint` check.
    let size = proof
        .checkpoint
        .find("\n\n")
        .and_then(|end| Checkpoint::parse_body(&proof.checkpoint[..=end]).ok())
        .map(|cp| cp.size);
    let Some(log) = receipt.get_mut("log").and_then(Value::as_object_mut) else {
        // Not a receipt: the checks say what is wrong with it.
        return Ok(());
    };
    log.insert("index".into(), proof.index.into());
    if let Some(size) = size {
        log.insert("tree_size".into(), size.into());
    }
    let hashes: Vec<String> = proof.inclusion_proof.iter().map(|h| h.to_hex()).collect();
    log.insert("inclusion_proof".into(), hashes.into());
    log.insert("checkpoint".into(), proof.checkpoint.into());
    Ok(())
}

/// The verdict for `file` when it is an image or a text carrying Content Credentials
/// (docs/contract.md §8.1): its C2PA manifest validated against the service's C2PA root,
/// then the stamp it links checked with `--receipt`, or fetched from `--key` when that is
/// the service's URL. `None` when the file is neither or carries no manifest.
///
/// # Errors
/// When the file cannot be read, or the stamp's receipt is needed and cannot be had.
fn credentialed(args: &VerifyArgs, file: &Path) -> anyhow::Result<Option<Verdict>> {
    let mut opened = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut head = [0u8; 12];
    let n = std::io::Read::read(&mut opened, &mut head).with_context(|| format!("reading {}", file.display()))?;
    // What the file is, before anything is fetched: an image, or a text that may carry a
    // wrapper (read whole only when no larger than any text the service stamps).
    let carrier = match ImageFormat::sniff(&head[..n]) {
        Some(format) => Carrier::Image(format),
        None => {
            let size = opened.metadata().with_context(|| format!("reading {}", file.display()))?.len();
            if size > MAX_TEXT_FILE {
                return Ok(None);
            }
            let mut bytes = head[..n].to_vec();
            opened.read_to_end(&mut bytes).with_context(|| format!("reading {}", file.display()))?;
            match String::from_utf8(bytes) {
                Ok(text) if text.contains('\u{feff}') => Carrier::Text(text),
                _ => return Ok(None),
            }
        }
    };
    let trust = trust_anchors(args)?;
    let (asset, read) = match carrier {
        Carrier::Text(text) => (Asset::Text, credentials::text::read(&text, &trust.c2pa_roots)),
        Carrier::Image(format) => {
            opened.seek(std::io::SeekFrom::Start(0))?;
            (Asset::Image, credentials::read(format, std::io::BufReader::new(opened), &trust.c2pa_roots))
        }
    };
    let found = match read {
        Ok(None) => return Ok(None),
        Ok(Some(c)) => c,
        Err(e) => return Ok(Some(Verdict::from_checks(vec![credential::unreadable_check(asset, &e)], None))),
    };
    let (check, link) = credential::credential_check(&found, &trust);
    let mut checks = vec![check];
    checks.extend(credential::c2pa_checks(&found));
    let Some(link) = link else { return Ok(Some(Verdict::from_checks(checks, None))) };
    let receipt = match &args.source.receipt {
        Some(path) => read_receipt(path)?,
        None if args.key().starts_with("http://") || args.key().starts_with("https://") => {
            let client = Client::new(args.key(), None)?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let path = format!("/v1/stamps/{}", link.stamp_id);
            runtime
                .block_on(client.get_json(&path))
                .with_context(|| format!("fetching the receipt of stamp {}", link.stamp_id))?
        }
        None => anyhow::bail!(
            "{} links stamp {}: give its receipt with --receipt (from {}), or the service's URL with --key",
            file.display(),
            link.stamp_id,
            link.receipt_url
        ),
    };
    let (mut receipt_checks, stamp) = verify_receipt(&receipt, None, &trust);
    if let Some(mut log) = ServedLog::of(args, &trust)? {
        receipt_checks.extend(log.check(&receipt)?);
    }
    match serde_json::from_value::<crate::statement::receipt::Receipt>(receipt) {
        Ok(parsed) => {
            checks.extend(credential::with_content(receipt_checks, credential::content_check(&found, &link, &parsed)))
        }
        Err(_) => checks.extend(receipt_checks),
    }
    Ok(Some(Verdict::from_checks(checks, stamp)))
}

/// What a file may carry Content Credentials in.
enum Carrier {
    Image(ImageFormat),
    /// A UTF-8 text with a U+FEFF, where a C2PA text wrapper starts.
    Text(String),
}

/// Largest text file read whole for Content Credentials: the service's default
/// `--max-json-bytes` (the largest text it stamps), plus room for the wrapper.
const MAX_TEXT_FILE: u64 = DEFAULT_MAX_TEXT_BYTES as u64 + 1024 * 1024;

/// Prints a verdict, as `--json` asks; `true` when it is verified.
pub(super) fn print(args: &VerifyArgs, verdict: &Verdict) -> anyhow::Result<bool> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        for c in &verdict.checks {
            println!("{} {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.code, c.message);
        }
        println!("{}", verdict.summary);
        if let Some(failed) = verdict.first_failure() {
            eprintln!("aiprov: not verified: check {} failed ({})", failed.name, failed.code);
        }
    }
    Ok(verdict.verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_receipt_file_holds_a_receipt_or_one_receipts_file_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        let receipt = json!({"id": "x", "statement": {}, "prompt_salt": "00"});
        let read = |text: String| {
            std::fs::write(&file, text).unwrap();
            read_receipt(&file).map_err(|e| e.to_string())
        };
        assert_eq!(read(receipt.to_string()), Ok(receipt.clone()));
        assert_eq!(read(json!({"file": "a.txt", "receipt": receipt}).to_string()), Ok(receipt.clone()));
        let failed = read(json!({"file": "a.txt", "error": "503"}).to_string()).unwrap_err();
        assert!(failed.contains("records a failed stamp of a.txt (503)"), "{failed}");
        let two_lines = format!("{receipt}\n{receipt}\n");
        assert!(read(two_lines).unwrap_err().contains("use --receipts"));
    }
}
