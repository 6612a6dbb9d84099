//! `aiprov verify --file F | --text T --url URL` without a receipt: the service names the
//! stamps that hold the content; the newest exact match's receipt is fetched and verified
//! here, offline, with the service's published keys (or `--key`), so the answer does not
//! rest on the service's word. Similar stamps are listed when nothing matches exactly:
//! leads to a disclosure, never proof.

use anyhow::Context;

use super::args::VerifyArgs;
use super::client::{Client, LookUp};
use super::verify::print;
use super::verify_inputs::{file_hashes, trust_anchors};
use crate::content::ContentHashes;
use crate::verify::{verify_receipt, Verdict};

/// Looks the content of `args` up at `url`; whether it verified.
///
/// # Errors
/// Without `--file` or `--text`, or when the service cannot be asked.
pub(super) fn look_up(args: &VerifyArgs, url: &str) -> anyhow::Result<bool> {
    let (content, hashes) = match (&args.content.file, &args.content.text) {
        (Some(file), _) => {
            let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            (LookUp::Bytes(bytes), file_hashes(file)?)
        }
        (None, Some(text)) => (LookUp::Text(text.clone()), ContentHashes::of_text(text)),
        (None, None) => anyhow::bail!("give --file FILE or --text TEXT to look up at {url}"),
    };
    let client = Client::new(url, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer =
        runtime.block_on(client.look_up(&content)).with_context(|| format!("looking the content up at {url}"))?;
    let Some(id) = answer.matches.first() else {
        // Nothing to verify: the service's own verdict, with the similar stamps it found.
        let verified = print(args, &answer.verdict)?;
        if !args.json {
            for s in &answer.similar {
                println!(
                    "SIMILAR {} ({}, similarity {}): \"{}\" declared by {} on {}: {}",
                    s.stamp_id,
                    s.algorithm,
                    s.similarity,
                    s.kind.as_str(),
                    s.issuer,
                    s.issued_at.to_rfc3339(),
                    s.disclosure.text
                );
            }
        } else if !answer.similar.is_empty() {
            println!("{}", serde_json::to_string_pretty(&answer.similar)?);
        }
        return Ok(verified);
    };
    let receipt = runtime
        .block_on(client.get_json(&format!("/v1/stamps/{id}")))
        .with_context(|| format!("fetching the receipt of stamp {id}"))?;
    let trust = trust_anchors(args)?;
    let (checks, stamp) = verify_receipt(&receipt, Some(&hashes), &trust);
    print(args, &Verdict::from_checks(checks, stamp))
}
