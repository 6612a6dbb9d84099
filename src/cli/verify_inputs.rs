//! What both verify commands (`verify` and `verify --receipts`) read: the trust
//! anchors `--key` names, the log a `--key URL` serves, and a file's hashes.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::args::VerifyArgs;
use super::client::Client;
use crate::content::{hash_file, ContentHashes};
use crate::http::Limits;
use crate::log::checkpoint::{Checkpoint, NoteVerifier};
use crate::verify::{Check, Consistency, TrustAnchors};
use crate::Sha256Digest;

/// Whether `--key` is the service's base URL rather than keys on disk.
fn is_url(key: &str) -> bool {
    key.starts_with("http://") || key.starts_with("https://")
}

/// The trust anchors `--key` (and `--log-key`) name, under the reader's `--policy`.
///
/// # Errors
/// When the keys cannot be fetched, read or parsed.
pub(super) fn trust_anchors(args: &VerifyArgs) -> anyhow::Result<TrustAnchors> {
    let trust = service_anchors(args)?;
    // The reader's own policy: the service's word on its witnesses would prove nothing.
    Ok(match &args.policy {
        Some(path) => trust.with_policy(super::args::read_policy(path)?),
        None => trust,
    })
}

/// The service's keys, as `--key` names them.
fn service_anchors(args: &VerifyArgs) -> anyhow::Result<TrustAnchors> {
    if is_url(args.key()) {
        let client = Client::new(args.key(), None)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(runtime.block_on(client.trust_anchors())?)
    } else if Path::new(args.key()).is_file() {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(args.key())?)
            .with_context(|| format!("{} is not a saved /v1/keys document", args.key()))?;
        TrustAnchors::from_keys_document(&doc).map_err(anyhow::Error::msg)
    } else {
        TrustAnchors::from_public_key(args.key(), args.log_key.as_deref()).map_err(anyhow::Error::msg)
    }
}

/// How long a receipt's tree larger than the log's is given to appear, in steps: a node
/// of several publishes a tree a moment after the node that answered the stamp (it
/// follows the sequencer every 100 ms), and that is no rollback.
const CATCH_UP: [Duration; 4] =
    [Duration::from_millis(100), Duration::from_millis(200), Duration::from_millis(300), Duration::from_millis(400)];

/// The log the service at `--key URL` serves, as it stands now: its signed checkpoint
/// (C2SP tlog-tiles `/tlog/checkpoint`), which every receipt's checkpoint signed with
/// the same key is compared with, as `POST /v1/verify` compares it with the log it
/// holds (docs/contract.md §10). Offline keys (a file, a bare key) name no log to ask.
pub(super) struct ServedLog {
    client: Client,
    runtime: tokio::runtime::Runtime,
    verifier: NoteVerifier,
    /// The log's newest checkpoint, opened with its key.
    now: Checkpoint,
    /// Consistency proofs to `now`, by the receipt's tree size: a receipts file holds
    /// many receipts of a few sizes.
    proofs: HashMap<u64, Vec<Sha256Digest>>,
    /// Whether a larger tree was already waited for: a log that did go back would
    /// otherwise make every later receipt wait again.
    waited: bool,
}

impl ServedLog {
    /// The log at `--key` when it is a URL and its keys name the log's key; `None`
    /// otherwise (no network then).
    ///
    /// # Errors
    /// When the checkpoint cannot be fetched, or does not verify with the log's key.
    pub(super) fn of(args: &VerifyArgs, trust: &TrustAnchors) -> anyhow::Result<Option<Self>> {
        let Some(verifier) = trust.log.clone().filter(|_| is_url(args.key())) else { return Ok(None) };
        let client = Client::new(args.key(), None)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let now = fetch_checkpoint(&client, &runtime, &verifier)?;
        Ok(Some(Self { client, runtime, verifier, now, proofs: HashMap::new(), waited: false }))
    }

    /// The `consistency` check of `receipt` against this log, in the words of the
    /// service's own; `None` for a receipt whose checkpoint this log's key did not sign
    /// (its `checkpoint` check fails, or it is another log's).
    ///
    /// # Errors
    /// When the log cannot be asked for a consistency proof.
    pub(super) fn check(&mut self, receipt: &Value) -> anyhow::Result<Option<Check>> {
        let Some(note) = receipt["log"]["checkpoint"].as_str() else { return Ok(None) };
        let Ok(theirs) = Checkpoint::open_signed(note, &self.verifier) else { return Ok(None) };
        if theirs.size > self.now.size && !self.waited {
            self.waited = true;
            for pause in CATCH_UP {
                std::thread::sleep(pause);
                let newer = fetch_checkpoint(&self.client, &self.runtime, &self.verifier)?;
                // Behind a balancer a node further behind may answer: keep the newest.
                if newer.size > self.now.size {
                    self.now = newer;
                    self.proofs.clear();
                }
                if theirs.size <= self.now.size {
                    break;
                }
            }
        }
        if theirs.size > self.now.size {
            return Ok(Some(Consistency::Rollback { log_size: self.now.size }.check(&theirs)));
        }
        let proof = match self.proofs.get(&theirs.size) {
            Some(proof) => proof,
            // Two trees of one size are consistent only when they are the same: no proof.
            None if theirs.size == self.now.size => &Vec::new(),
            None => {
                let proof = self.fetch_proof(theirs.size)?;
                self.proofs.entry(theirs.size).or_insert(proof)
            }
        };
        Ok(Some(Consistency::judge(&theirs, &self.now, proof).check(&theirs)))
    }

    /// The log's consistency proof from the tree of `first` leaves to `now`'s. The log
    /// is not trusted for it: a proof that does not link the two roots is a fork.
    fn fetch_proof(&self, first: u64) -> anyhow::Result<Vec<Sha256Digest>> {
        let path = format!("/v1/log/proof/consistency?first={first}&second={}", self.now.size);
        let answer = self
            .runtime
            .block_on(self.client.get_json(&path))
            .with_context(|| format!("asking the log for a consistency proof from tree size {first}"))?;
        serde_json::from_value(answer["consistency_proof"].clone())
            .with_context(|| format!("{}{path}: consistency_proof is not a list of hex hashes", self.client.base_url()))
    }
}

/// The newest checkpoint of the log `client` asks, opened with the log's key.
fn fetch_checkpoint(
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    verifier: &NoteVerifier,
) -> anyhow::Result<Checkpoint> {
    let note = runtime.block_on(client.get_text("/tlog/checkpoint")).context("fetching the log's checkpoint")?;
    Checkpoint::open_signed(&note, verifier).with_context(|| {
        format!(
            "{}/tlog/checkpoint does not verify with the log's key from /v1/keys ({})",
            client.base_url(),
            verifier.to_vkey_string()
        )
    })
}

/// The hashes of the file at `path`, hashed piece by piece so a video is never read
/// whole; a text file up to the default JSON limit also gets its normalised text hash.
///
/// # Errors
/// When the file cannot be read.
pub(super) fn file_hashes(path: &Path) -> anyhow::Result<ContentHashes> {
    Ok(hash_file(path, Limits::default().max_json_bytes)
        .with_context(|| format!("reading {}", path.display()))?
        .hashes())
}
