//! `aiprov verify`: a receipt checked offline, with the service's public keys only.

use std::process::ExitCode;

use anyhow::Context;

use super::args::VerifyArgs;
use super::client::Client;
use crate::content::{hash_file, ContentHashes};
use crate::http::Limits;
use crate::verify::{verify_receipt, TrustAnchors, Verdict};

/// Exit codes: 0 verified, 1 not verified (the failing check is named), 2 could not run.
pub(super) fn verify(args: &VerifyArgs) -> ExitCode {
    match verify_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn verify_inner(args: &VerifyArgs) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.receipt).with_context(|| format!("reading {}", args.receipt.display()))?;
    let receipt: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", args.receipt.display()))?;
    let trust = if args.key.starts_with("http://") || args.key.starts_with("https://") {
        let client = Client::new(&args.key, None)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(client.trust_anchors())?
    } else if std::path::Path::new(&args.key).is_file() {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args.key)?)
            .with_context(|| format!("{} is not a saved /v1/keys document", args.key))?;
        TrustAnchors::from_keys_document(&doc).map_err(anyhow::Error::msg)?
    } else {
        TrustAnchors::from_public_key(&args.key, args.log_key.as_deref()).map_err(anyhow::Error::msg)?
    };
    let content = match (&args.content.file, &args.content.text) {
        // Hashed piece by piece, so a video is never read whole; a text file up to the
        // default JSON limit also gets its normalised text hash.
        (Some(f), _) => Some(
            hash_file(f, Limits::default().max_json_bytes)
                .with_context(|| format!("reading {}", f.display()))?
                .hashes(),
        ),
        (None, Some(t)) => Some(ContentHashes::of_text(t)),
        (None, None) => None,
    };
    let (checks, stamp) = verify_receipt(&receipt, content.as_ref(), &trust);
    let verdict = Verdict::from_checks(checks, stamp);
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
