//! Auditing the log without trusting the operator (docs/contract.md §3): recompute the Merkle tree
//! from every leaf, check every leaf's signature, compare with the signed checkpoint,
//! and (remotely) check that the log only grew since the last audit.
//!
//! [`Auditor`] consumes leaves in order and is fed either from a copy of the sled data
//! ([`audit_log`]) or over HTTP ([`audit_remote`]), so both audits apply the same rules.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::jcs;
use crate::keys::{KeyId, KeyPurpose, PublicKeyInfo};
use crate::log::checkpoint::{Checkpoint, NoteVerifier};
use crate::log::merkle::{self, MemoryTree, NodeSource};
use crate::log::{LogIndex, LogReader};
use crate::statement::receipt::SignedStatement;
use crate::Sha256Digest;

/// One thing wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The leaf concerned, when there is one.
    pub index: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "leaf {i}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub leaves: u64,
    pub root: Sha256Digest,
    /// The checkpoint audited against (its note text).
    pub checkpoint: Option<String>,
    /// Leaves beyond the checkpoint's size: checked one by one, but not yet committed to
    /// by a signed checkpoint (after a crash the server signs one at its next start).
    pub uncovered: u64,
    pub problems: Vec<Problem>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks leaves one by one and rebuilds the tree.
pub struct Auditor {
    keys: HashMap<KeyId, (VerifyingKey, PublicKeyInfo)>,
    tree: MemoryTree,
    problems: Vec<Problem>,
}

/// At most this many problems are listed; a wholly rewritten log would otherwise
/// produce a report as large as the log.
const MAX_PROBLEMS: usize = 1000;

impl Auditor {
    /// An auditor that accepts statement signatures by any of `keys`, retired ones for
    /// what they signed before their retirement (the rule of [`PublicKeyInfo::may_sign_at`]).
    pub fn new(keys: &[PublicKeyInfo]) -> Self {
        let keys = keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::Statement)
            .filter_map(|k| Some((k.kid.clone(), (k.verifying_key().ok()?, k.clone()))))
            .collect();
        Self { keys, tree: MemoryTree::new(), problems: Vec::new() }
    }

    fn problem(&mut self, index: Option<u64>, what: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { index, what: what.into() });
        }
    }

    /// The number of leaves consumed so far (the next index expected).
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// Checks the next leaf and adds it to the tree. `stored_hash` is the leaf hash the
    /// log itself holds for it (its Merkle level-0 node), when the audit can see it.
    pub fn add_leaf(&mut self, leaf: &[u8], stored_hash: Option<Sha256Digest>) -> Sha256Digest {
        let index = self.tree.size();
        let hash = merkle::leaf_hash(leaf);
        self.tree.push(hash);
        if stored_hash.is_some_and(|s| s != hash) {
            self.problem(Some(index), "the leaf bytes do not hash to the leaf hash in the tree: the leaf was altered");
        }
        let signed: SignedStatement = match serde_json::from_slice(leaf) {
            Ok(s) => s,
            Err(e) => {
                self.problem(Some(index), format!("the leaf is not a signed statement: {e}"));
                return hash;
            }
        };
        match jcs::to_vec(&signed) {
            Ok(canonical) if canonical == leaf => {}
            _ => self.problem(Some(index), "the leaf is not in canonical (JCS) form"),
        }
        let Some((key, info)) = self.keys.get(&signed.signature.kid) else {
            self.problem(
                Some(index),
                format!("signed with key {} which this log does not publish", signed.signature.kid),
            );
            return hash;
        };
        // Judged while the key is borrowed, reported after: no copy of the key per leaf.
        let retired = (!info.may_sign_at(signed.statement.issued_at)).then(|| {
            format!(
                "signed with key {}, retired on {}, but dated {} (key.retired)",
                info.kid,
                info.retired_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                signed.statement.issued_at.to_rfc3339()
            )
        });
        let valid = match (signed.signature.signature_bytes(), jcs::to_vec(&signed.statement)) {
            (Some(sig), Ok(bytes)) => key.verify_strict(&bytes, &sig).is_ok(),
            _ => false,
        };
        if let Some(retired) = retired {
            self.problem(Some(index), retired);
        }
        if !valid {
            self.problem(Some(index), "the statement's signature does not verify: statement or signature altered");
        }
        hash
    }

    /// Compares the rebuilt tree with a signed checkpoint and ends the audit.
    pub fn finish(mut self, checkpoint: Option<(&str, &NoteVerifier)>) -> AuditReport {
        let root = self.tree.root();
        let mut note = None;
        let mut uncovered = 0;
        match checkpoint {
            None => self.problem(None, "no checkpoint to audit against"),
            Some((text, verifier)) => {
                note = Some(text.to_owned());
                match Checkpoint::open_signed(text, verifier) {
                    Err(e) => self.problem(None, format!("the checkpoint is not validly signed by the log key: {e}")),
                    Ok(cp) if cp.size > self.tree.size() => self.problem(
                        None,
                        format!(
                            "the checkpoint commits to {} leaves but the log holds only {}: leaves were lost",
                            cp.size,
                            self.tree.size()
                        ),
                    ),
                    Ok(cp) => {
                        // A checkpoint commits to a prefix of the log: compare with the
                        // root of that prefix.
                        uncovered = self.tree.size() - cp.size;
                        match merkle::root(&self.tree, cp.size) {
                            Ok(prefix_root) if prefix_root == cp.root => {}
                            Ok(prefix_root) => self.problem(
                                None,
                                format!(
                                    "the root recomputed from the first {} leaves ({prefix_root}) differs from the signed checkpoint's ({})",
                                    cp.size, cp.root
                                ),
                            ),
                            Err(e) => self.problem(None, format!("cannot recompute the root: {e}")),
                        }
                    }
                }
            }
        }
        AuditReport { leaves: self.tree.size(), root, checkpoint: note, uncovered, problems: self.problems }
    }

    /// The rebuilt tree, to compare stored nodes with.
    pub fn tree(&self) -> &MemoryTree {
        &self.tree
    }
}

/// Errors that stop an audit from running at all (as opposed to problems it finds).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("storage: {0}")]
    Store(#[from] crate::log::StoreError),
    #[error("keys: {0}")]
    Keys(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("state file {path}: {reason}")]
    State { path: String, reason: String },
}

/// Reads the public keys and the log's verifier from a keys directory's `keyring.json`
/// (no private key is read).
///
/// # Errors
/// When `keyring.json` is missing or does not parse.
pub fn public_keys_from_dir(dir: &Path) -> Result<Vec<PublicKeyInfo>, AuditError> {
    #[derive(Deserialize)]
    struct File {
        keys: Vec<PublicKeyInfo>,
    }
    let path = dir.join("keyring.json");
    let text = std::fs::read_to_string(&path).map_err(|e| AuditError::Keys(format!("{}: {e}", path.display())))?;
    let file: File = serde_json::from_str(&text).map_err(|e| AuditError::Keys(format!("{}: {e}", path.display())))?;
    Ok(file.keys)
}

/// Audits a log's data directory (use a copy: sled allows one process at a time).
/// `on_leaf` is called after each leaf with the count done and the total (progress).
///
/// # Errors
/// Only when the store cannot be read or the keys are unusable; everything wrong with
/// the log itself is in the report.
pub fn audit_log(
    store: &LogReader,
    keys: &[PublicKeyInfo],
    mut on_leaf: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditError> {
    let size = store.size()?;
    let origin = store.origin()?.unwrap_or_default();
    let checkpoint_key = keys
        .iter()
        .find(|k| k.purpose == KeyPurpose::Checkpoint && k.retired_at.is_none())
        .ok_or_else(|| AuditError::Keys("no checkpoint key in the keyring".into()))?;
    let verifier =
        NoteVerifier::new(&origin, checkpoint_key.verifying_key().map_err(|e| AuditError::Keys(e.to_string()))?)
            .map_err(|e| AuditError::Keys(format!("origin {origin:?}: {e}")))?;
    let mut auditor = Auditor::new(keys);
    for i in 0..size {
        let stored = store.node(merkle::NodeId { level: 0, index: i }).ok();
        match store.leaf(LogIndex(i))? {
            Some(leaf) => {
                auditor.add_leaf(&leaf, stored);
            }
            None => {
                auditor.problem(Some(i), "the leaf is missing");
                auditor.tree.push(stored.unwrap_or_else(|| merkle::leaf_hash(b"")));
            }
        }
        on_leaf(i + 1, size);
    }
    // Stored interior nodes serve every proof: they must match the recomputed tree.
    let mut bad_nodes = Vec::new();
    for level in 1..64u8 {
        let count = size >> level;
        if count == 0 {
            break;
        }
        for index in 0..count {
            let id = merkle::NodeId { level, index };
            let ok = matches!((store.node(id), auditor.tree().node(id)), (Ok(a), Ok(b)) if a == b);
            if !ok {
                bad_nodes.push(id);
            }
        }
    }
    for id in bad_nodes {
        auditor.problem(
            None,
            format!("stored Merkle node (level {}, index {}) differs from the recomputed tree", id.level, id.index),
        );
    }
    let note = store.latest_checkpoint()?;
    Ok(auditor.finish(note.as_deref().map(|n| (n, &verifier))))
}

/// What a remote audit remembers between runs, to check that the log only grew.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditState {
    pub verifier_key: String,
    pub checkpoint: String,
}

/// Audits a running service over HTTP: every leaf, every signature, the checkpoint,
/// and consistency with `previous` (the state saved by the last audit of that log).
///
/// # Errors
/// When the service cannot be reached or answers nonsense.
pub async fn audit_remote(
    client: &reqwest::Client,
    base_url: &str,
    previous: Option<&AuditState>,
    mut on_leaf: impl FnMut(u64, u64),
) -> Result<(AuditReport, AuditState), AuditError> {
    let base = base_url.trim_end_matches('/');
    let get_text = |path: String| async move {
        let resp = client.get(&path).send().await.map_err(|e| AuditError::Http(format!("{path}: {e}")))?;
        if !resp.status().is_success() {
            return Err(AuditError::Http(format!("{path}: status {}", resp.status())));
        }
        resp.text().await.map_err(|e| AuditError::Http(format!("{path}: {e}")))
    };
    let get_json = |path: String| async move {
        let text = get_text(path.clone()).await?;
        serde_json::from_str::<serde_json::Value>(&text).map_err(|e| AuditError::Http(format!("{path}: {e}")))
    };

    let vkey = get_text(format!("{base}/v1/log/verifier-key")).await?.trim().to_owned();
    let mut extra = Vec::new();
    if let Some(prev) = previous {
        if prev.verifier_key != vkey {
            extra.push(Problem {
                index: None,
                what: format!("the log's verifier key changed from {} to {vkey}", prev.verifier_key),
            });
        }
    }
    // Trust on first use; afterwards the saved key is the one that counts.
    let pinned = previous.map_or(vkey.as_str(), |p| p.verifier_key.as_str());
    let verifier = NoteVerifier::parse(pinned).map_err(|e| AuditError::Keys(format!("verifier key: {e}")))?;
    let note = get_text(format!("{base}/v1/log/checkpoint")).await?;
    let checkpoint =
        Checkpoint::open_signed(&note, &verifier).map_err(|e| AuditError::Keys(format!("checkpoint: {e}")))?;

    let keys_json = get_json(format!("{base}/v1/keys")).await?;
    let keys: Vec<PublicKeyInfo> =
        serde_json::from_value(keys_json["keys"].clone()).map_err(|e| AuditError::Http(format!("/v1/keys: {e}")))?;

    if let Some(prev) = previous {
        match Checkpoint::open_signed(&prev.checkpoint, &verifier) {
            Err(e) => extra.push(Problem { index: None, what: format!("the saved checkpoint does not verify: {e}") }),
            Ok(old) if old.size > checkpoint.size => extra.push(Problem {
                index: None,
                what: format!(
                    "log.rollback: the log shrank from {} to {} leaves since the last audit (restored from an older backup, or a fork)",
                    old.size, checkpoint.size
                ),
            }),
            Ok(old) => {
                let proof =
                    get_json(format!("{base}/v1/log/proof/consistency?first={}&second={}", old.size, checkpoint.size))
                        .await?;
                let hashes: Result<Vec<Sha256Digest>, _> =
                    serde_json::from_value::<Vec<Sha256Digest>>(proof["consistency_proof"].clone());
                let consistent = hashes
                    .map(|h| {
                        merkle::verify_consistency(old.size, checkpoint.size, &old.root, &checkpoint.root, &h).is_ok()
                    })
                    .unwrap_or(false);
                if !consistent {
                    extra.push(Problem {
                        index: None,
                        what: format!(
                            "log.equivocation: the log has forked: it is not consistent with the checkpoint saved by the last audit ({} leaves), signed with the same key; history was rewritten",
                            old.size
                        ),
                    });
                }
            }
        }
    }

    let mut auditor = Auditor::new(&keys);
    while auditor.size() < checkpoint.size {
        let start = auditor.size();
        let page = get_json(format!("{base}/v1/log/entries?start={start}&end={}", checkpoint.size)).await?;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            return Err(AuditError::Http(format!("the log returned no entries from {start}")));
        }
        for e in entries {
            let leaf = e["leaf_base64"]
                .as_str()
                .and_then(|b| STANDARD.decode(b).ok())
                .ok_or_else(|| AuditError::Http(format!("entry {}: no leaf_base64", auditor.size())))?;
            auditor.add_leaf(&leaf, None);
            on_leaf(auditor.size(), checkpoint.size);
        }
    }
    let mut report = auditor.finish(Some((&note, &verifier)));
    report.problems.extend(extra);
    Ok((report, AuditState { verifier_key: pinned.to_owned(), checkpoint: note }))
}
