//! Verdicts: checking a receipt against content and trust anchors, one named check at a
//! time (DESIGN §2). Pure functions over data, so the server, the offline CLI and tests
//! share exactly the same rules; only "is it in *our* log" needs the server's store.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check_cache::CheckCache;
use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::jcs;
use crate::keys::{KeyPurpose, PublicKeyInfo};
use crate::merkle;
use crate::normalize::normalized_text_sha256;
use crate::receipt::{leaf_bytes_from_canonical, statement_of_leaf, Receipt, ALG_ED25519};
use crate::statement::{Disclosure, Generator, HumanOversight, Kind, Timestamp};
use crate::Sha256Digest;

/// The hashes of the content a verifier holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHashes {
    pub sha256: Sha256Digest,
    /// Present when the content is text.
    pub normalized_text_sha256: Option<Sha256Digest>,
}

impl ContentHashes {
    pub fn of_text(text: &str) -> Self {
        Self { sha256: Sha256Digest::of(text.as_bytes()), normalized_text_sha256: Some(normalized_text_sha256(text)) }
    }

    /// Bytes: treated as text too when they are valid UTF-8, so a saved `.txt` file
    /// matches the stamp of the copy it holds.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::of_text(text),
            Err(_) => Self { sha256: Sha256Digest::of(bytes), normalized_text_sha256: None },
        }
    }

    pub fn of_sha256(sha256: Sha256Digest) -> Self {
        Self { sha256, normalized_text_sha256: None }
    }
}

/// What a verifier trusts: the service's published keys, and the log's note key.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    pub keys: Vec<PublicKeyInfo>,
    pub log: Option<NoteVerifier>,
    /// The keys above, decoded once: decoding an Ed25519 public key decompresses a curve
    /// point, which costs as much as the rest of a cached verdict. Looked up by the
    /// key's base64 text, so a key added to or changed in `keys` is decoded when used.
    decoded: HashMap<String, VerifyingKey>,
}

impl TrustAnchors {
    pub fn new(keys: Vec<PublicKeyInfo>, log: Option<NoteVerifier>) -> Self {
        let decoded = keys.iter().filter_map(|k| Some((k.public_key.clone(), k.verifying_key().ok()?))).collect();
        Self { keys, log, decoded }
    }

    /// The decoded key of `info`, or `None` when it is not a valid Ed25519 key.
    fn verifying_key(&self, info: &PublicKeyInfo) -> Option<VerifyingKey> {
        self.decoded.get(&info.public_key).copied().or_else(|| info.verifying_key().ok())
    }

    /// Trust anchors from the JSON document `GET /v1/keys` serves
    /// (`{"keys": [...], "log": {"verifier_key": ...}}`), fetched or saved to a file.
    ///
    /// # Errors
    /// A sentence saying what is missing or malformed.
    pub fn from_keys_document(doc: &Value) -> Result<Self, String> {
        let keys: Vec<PublicKeyInfo> = serde_json::from_value(doc["keys"].clone())
            .map_err(|e| format!("\"keys\" is not a list of public keys: {e}"))?;
        let log = match doc["log"]["verifier_key"].as_str() {
            Some(v) => Some(NoteVerifier::parse(v).map_err(|e| format!("log.verifier_key: {e}"))?),
            None => None,
        };
        Ok(Self::new(keys, log))
    }

    /// Trust anchors from one base64 Ed25519 statement key and, optionally, the log's
    /// note verifier key string. Without the latter the log checks cannot pass.
    ///
    /// # Errors
    /// When either key does not parse.
    pub fn from_public_key(public_key_b64: &str, log_verifier_key: Option<&str>) -> Result<Self, String> {
        let key = crate::keys::decode_public_key(public_key_b64).map_err(|e| format!("--key: {e}"))?;
        let info = PublicKeyInfo {
            kid: crate::keys::KeyId::for_key(&key),
            algorithm: "Ed25519".into(),
            purpose: KeyPurpose::Statement,
            public_key: public_key_b64.trim().to_owned(),
            // Not known offline; only the key itself matters for verification.
            created_at: Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH),
            retired_at: None,
        };
        let log = log_verifier_key.map(NoteVerifier::parse).transpose().map_err(|e| format!("--log-key: {e}"))?;
        Ok(Self::new(vec![info], log))
    }
}

/// One check, with a stable `code` in the spirit of C2PA validation status codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked: `receipt`, `key`, `signature`, `content`, `log`, `checkpoint`, `disclosure`.
    pub name: String,
    /// Stable outcome code, e.g. `signature.validated` or `content.hash.mismatch`.
    pub code: String,
    pub passed: bool,
    /// A sentence a person can read.
    pub message: String,
}

impl Check {
    fn new(name: &str, passed: bool, code: &str, message: impl Into<String>) -> Self {
        Self { name: name.into(), code: code.into(), passed, message: message.into() }
    }
}

/// The public facts of a stamp, for showing alongside a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StampSummary {
    pub id: String,
    pub kind: Kind,
    pub digital_source_type: String,
    pub generator: Generator,
    pub disclosure: Disclosure,
    pub human_oversight: HumanOversight,
    pub issuer: String,
    pub issued_at: Timestamp,
    pub log_index: u64,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verified: bool,
    /// One sentence: what was verified and who vouches for it.
    pub summary: String,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamp: Option<StampSummary>,
}

impl Verdict {
    /// A verdict from checks: verified only when every check passed.
    pub fn from_checks(checks: Vec<Check>, stamp: Option<StampSummary>) -> Self {
        let verified = !checks.is_empty() && checks.iter().all(|c| c.passed);
        let summary = match (&stamp, verified) {
            (Some(s), true) => format!(
                "Genuine AI disclosure: issued by \"{}\" on {}, signed by this service's key and recorded in its public log at index {}.",
                s.issuer,
                s.issued_at.to_rfc3339(),
                s.log_index
            ),
            _ => match checks.iter().find(|c| !c.passed) {
                Some(failed) => format!("Not verified: {}", failed.message),
                None => "Not verified: nothing to check.".into(),
            },
        };
        Self { verified, summary, checks, stamp }
    }

    /// The first failing check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.passed)
    }
}

/// Checks a receipt (as JSON, exactly as received) against the trust anchors and,
/// when given, the content. Never fails: every problem becomes a failed check.
pub fn verify_receipt(
    receipt: &Value,
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
) -> (Vec<Check>, Option<StampSummary>) {
    verify_receipt_with(receipt, content, trust, None)
}

/// [`verify_receipt`], with the service's memo of signature checks that passed before.
pub fn verify_receipt_with(
    receipt: &Value,
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
    cache: Option<&CheckCache>,
) -> (Vec<Check>, Option<StampSummary>) {
    let parsed = match Receipt::deserialize(receipt) {
        Ok(r) => r,
        Err(e) => {
            let check = Check::new(
                "receipt",
                false,
                "receipt.malformed",
                format!("The receipt is not a valid ai-provenance receipt: {e}."),
            );
            return (vec![check], None);
        }
    };
    // The signature covers the statement exactly as received, so it is checked on the
    // received JSON, not on our re-serialisation of it.
    let statement_jcs = jcs::to_vec(receipt.get("statement").unwrap_or(&Value::Null));
    verify_parsed(&parsed, statement_jcs, content, trust, cache)
}

/// Checks a receipt this service built from its own log (content lookups) from `leaf`,
/// the stored leaf it came from: the signature is checked over the statement's bytes as
/// they stand in the log, which spares canonicalising the statement again.
pub fn verify_own_receipt(
    receipt: &Receipt,
    leaf: &[u8],
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
    cache: Option<&CheckCache>,
) -> (Vec<Check>, Option<StampSummary>) {
    let statement_jcs = match statement_of_leaf(leaf, &receipt.signature) {
        Some(bytes) => Ok(bytes.to_vec()),
        // Not a leaf of this statement and signature: check what the receipt says.
        None => jcs::to_vec(&receipt.statement),
    };
    verify_parsed(receipt, statement_jcs, content, trust, cache)
}

fn verify_parsed(
    parsed: &Receipt,
    statement_jcs: Result<Vec<u8>, jcs::JcsError>,
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
    cache: Option<&CheckCache>,
) -> (Vec<Check>, Option<StampSummary>) {
    let mut checks = Vec::new();
    let summary = StampSummary {
        id: parsed.id.to_string(),
        kind: parsed.statement.kind,
        digital_source_type: parsed.statement.digital_source_type.as_str().to_owned(),
        generator: parsed.statement.generator.clone(),
        disclosure: parsed.statement.disclosure.clone(),
        human_oversight: parsed.statement.human_oversight,
        issuer: parsed.statement.issuer.to_string(),
        issued_at: parsed.statement.issued_at,
        log_index: parsed.log.index.0,
    };

    // key
    let kid = &parsed.signature.kid;
    let key_info = trust.keys.iter().find(|k| &k.kid == kid && k.purpose == KeyPurpose::Statement);
    let key: Option<VerifyingKey> = key_info.and_then(|k| trust.verifying_key(k));
    checks.push(match (key_info, key) {
        (Some(info), Some(_)) => match &info.retired_at {
            // A retired key signs nothing new: a statement dated after the retirement
            // was signed by a server still running on the old key, or with a stolen one.
            Some(t) if parsed.statement.issued_at > *t => Check::new(
                "key",
                false,
                "key.retired",
                format!("Key {kid} was retired on {} but this statement is dated later.", t.to_rfc3339()),
            ),
            Some(t) => Check::new(
                "key",
                true,
                "key.known",
                format!(
                    "Signed with key {kid}, one of this service's published statement keys (retired on {}; it still verifies what it signed before).",
                    t.to_rfc3339()
                ),
            ),
            None => Check::new("key", true, "key.known", format!("Signed with key {kid}, one of this service's published statement keys.")),
        },
        _ => Check::new("key", false, "key.unknown", format!("Key {kid} is not among this service's published statement keys.")),
    });

    // signature
    checks.push(match (key, parsed.signature.signature_bytes(), &statement_jcs) {
        _ if parsed.signature.alg != ALG_ED25519 => Check::new(
            "signature",
            false,
            "signature.algorithm.unsupported",
            format!("Signature algorithm {:?} is not Ed25519.", parsed.signature.alg),
        ),
        (None, _, _) => Check::new(
            "signature",
            false,
            "signature.unverifiable",
            "The signature cannot be checked without a known key.",
        ),
        (_, None, _) => {
            Check::new("signature", false, "signature.malformed", "The signature is not base64url of 64 bytes.")
        }
        (_, _, Err(e)) => {
            Check::new("signature", false, "signature.malformed", format!("The statement has no canonical form: {e}."))
        }
        (Some(key), Some(sig), Ok(bytes)) => match verify_signature(cache, &key, bytes, &sig) {
            true => Check::new(
                "signature",
                true,
                "signature.validated",
                "The Ed25519 signature over the canonical statement is valid.",
            ),
            false => Check::new(
                "signature",
                false,
                "signature.mismatch",
                "The signature does not match the statement: the statement or signature was altered.",
            ),
        },
    });

    // content
    if let Some(content) = content {
        let subject = &parsed.statement.subject;
        checks.push(if subject.sha256 == content.sha256 {
            Check::new("content", true, "content.hash.match", "The content's SHA-256 matches the statement exactly.")
        } else if content.normalized_text_sha256.is_some()
            && content.normalized_text_sha256 == subject.normalized_text_sha256
        {
            Check::new(
                "content",
                true,
                "content.hash.match",
                "The text matches the statement after whitespace and Unicode normalisation.",
            )
        } else {
            Check::new(
                "content",
                false,
                "content.hash.mismatch",
                "The content does not match the statement's hash: it is different or was altered.",
            )
        });
    }

    // log: the leaf hash and the inclusion proof
    let log = &parsed.log;
    let leaf_hash = match &statement_jcs {
        Ok(bytes) => leaf_bytes_from_canonical(bytes, &parsed.signature)
            .map(|b| merkle::leaf_hash(&b))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let checkpoint = trust.log.as_ref().map(|v| match cache {
        Some(cache) => cache.open_checkpoint(&log.checkpoint, v),
        None => Checkpoint::open_signed(&log.checkpoint, v),
    });
    checks.push(match (&leaf_hash, &checkpoint) {
        (Err(e), _) => Check::new("log", false, "log.leaf.malformed", format!("The log leaf cannot be rebuilt: {e}.")),
        (Ok(h), _) if *h != log.leaf_hash || *h != parsed.id.0 => Check::new(
            "log",
            false,
            "log.leaf.mismatch",
            "The receipt's id or leaf hash does not match its statement and signature.",
        ),
        (Ok(_), None) => Check::new(
            "log",
            false,
            "log.unverifiable",
            "No log key is known, so the inclusion proof cannot be checked.",
        ),
        (Ok(_), Some(Err(_))) => Check::new(
            "log",
            false,
            "log.unverifiable",
            "The inclusion proof cannot be checked because the checkpoint is not valid.",
        ),
        (Ok(_), Some(Ok(cp))) if cp.size != log.tree_size => Check::new(
            "log",
            false,
            "log.inclusion.mismatch",
            format!(
                "The proof is for a tree of {} leaves but the checkpoint has {}; rejected.",
                log.tree_size, cp.size
            ),
        ),
        (Ok(h), Some(Ok(cp))) => {
            match merkle::verify_inclusion(h, log.index.0, cp.size, &log.inclusion_proof, &cp.root) {
                Ok(()) => Check::new(
                    "log",
                    true,
                    "log.included",
                    format!(
                        "Entry {} is included in the log's tree of {} entries (RFC 6962 inclusion proof).",
                        log.index, cp.size
                    ),
                ),
                Err(e) => Check::new(
                    "log",
                    false,
                    "log.inclusion.mismatch",
                    format!("The inclusion proof does not verify: {e}."),
                ),
            }
        }
    });

    // checkpoint
    checks.push(match (&trust.log, checkpoint) {
        (None, _) | (_, None) => Check::new(
            "checkpoint",
            false,
            "checkpoint.unverifiable",
            "No log key is known to check the checkpoint with.",
        ),
        (Some(v), Some(Ok(cp))) => Check::new(
            "checkpoint",
            true,
            "checkpoint.validated",
            format!(
                "The checkpoint (origin {}, {} entries) is signed by the log key {}.",
                cp.origin,
                cp.size,
                v.to_vkey_string()
            ),
        ),
        (Some(_), Some(Err(e))) => Check::new(
            "checkpoint",
            false,
            "checkpoint.invalid",
            format!("The checkpoint is not validly signed by this log: {e}."),
        ),
    });

    // disclosure
    let text = parsed.statement.disclosure.text.trim();
    checks.push(if text.is_empty() {
        Check::new("disclosure", false, "disclosure.missing", "The statement carries no disclosure text.")
    } else {
        Check::new(
            "disclosure",
            true,
            "disclosure.present",
            format!("Disclosure ({}): \"{}\"", parsed.statement.disclosure.lang, text),
        )
    });

    (checks, Some(summary))
}

fn verify_signature(
    cache: Option<&CheckCache>,
    key: &VerifyingKey,
    message: &[u8],
    signature: &ed25519_dalek::Signature,
) -> bool {
    match cache {
        Some(cache) => cache.verify_statement(key, message, signature),
        None => key.verify_strict(message, signature).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::NoteSigner;
    use crate::keys::Keyring;
    use crate::merkle::MemoryTree;
    use crate::receipt::{sign_statement, LogIndex, LogProof, SignedStatement, StampId};
    use crate::stamp::{prepare, StampRequest};
    use crate::statement::{IssuerName, Timestamp};
    use proptest::prelude::*;
    use serde_json::json;
    use std::sync::OnceLock;

    /// A genuine receipt (leaf 2 of a 5-leaf log), its content and trust anchors, built
    /// with the library's own pieces, once for all cases.
    fn fixture() -> &'static (Vec<u8>, ContentHashes, TrustAnchors) {
        static F: OnceLock<(Vec<u8>, ContentHashes, TrustAnchors)> = OnceLock::new();
        F.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let ring = Keyring::open_or_create(dir.path()).unwrap();
            let signer = NoteSigner::new("test.example/log", ring.checkpoint_key().signing_key().clone()).unwrap();
            let text = "Bit flips must not survive.";
            let req: StampRequest = serde_json::from_value(json!({
                "text": text, "kind": "marketing_copy", "prompt": "p",
                "generator": {"provider": "P", "model": "M"},
                "disclosure": {"text": "AI-generated — reviewed.", "lang": "en"}
            }))
            .unwrap();
            let prepared = prepare(req, IssuerName::parse("Acme").unwrap(), [3; 32], Timestamp::now()).unwrap();
            let signature = sign_statement(&prepared.statement, ring.statement_key()).unwrap();
            let signed = SignedStatement { statement: prepared.statement, signature };
            let leaf_hash = merkle::leaf_hash(&signed.leaf_bytes().unwrap());
            let mut tree = MemoryTree::new();
            for i in 0..5u8 {
                tree.push(if i == 2 { leaf_hash } else { merkle::leaf_hash(&[i]) });
            }
            let checkpoint = crate::checkpoint::Checkpoint {
                origin: "test.example/log".into(),
                size: 5,
                root: tree.root(),
                extensions: vec![],
            };
            let receipt = crate::receipt::Receipt {
                id: StampId(leaf_hash),
                statement: signed.statement,
                signature: signed.signature,
                log: LogProof {
                    index: LogIndex(2),
                    leaf_hash,
                    tree_size: 5,
                    inclusion_proof: merkle::inclusion_proof(&tree, 2, 5).unwrap(),
                    checkpoint: checkpoint.sign(&signer).unwrap(),
                },
            };
            let trust = TrustAnchors::new(ring.public_keys().to_vec(), Some(signer.verifier()));
            (serde_json::to_vec(&receipt).unwrap(), ContentHashes::of_text(text), trust)
        })
    }

    fn verdict_of(bytes: &[u8], content: &ContentHashes, trust: &TrustAnchors) -> bool {
        // What the server does: strict I-JSON first, then the checks.
        match serde_json::from_slice::<crate::jcs::StrictValue>(bytes) {
            Ok(v) => {
                let (checks, stamp) = verify_receipt(&v.0, Some(content), trust);
                Verdict::from_checks(checks, stamp).verified
            }
            Err(_) => false,
        }
    }

    #[test]
    fn the_genuine_receipt_verifies() {
        let (bytes, content, trust) = fixture();
        assert!(verdict_of(bytes, content, trust));
    }

    #[test]
    fn a_statement_dated_after_its_keys_retirement_fails_the_key_check() {
        let (bytes, content, trust) = fixture();
        let receipt: Value = serde_json::from_slice(bytes).unwrap();
        let issued = receipt["statement"]["issued_at"].as_str().unwrap();
        let issued = chrono::DateTime::parse_from_rfc3339(issued).unwrap().with_timezone(&chrono::Utc);
        let mut retired = trust.clone();
        for (when, expect) in [(issued - chrono::Duration::seconds(1), "key.retired"), (issued, "key.known")] {
            for k in retired.keys.iter_mut().filter(|k| k.purpose == KeyPurpose::Statement) {
                k.retired_at = Some(Timestamp::from_datetime(when));
            }
            let (checks, _) = verify_receipt(&receipt, Some(content), &retired);
            assert_eq!(checks.iter().find(|c| c.name == "key").unwrap().code, expect);
        }
    }

    #[test]
    fn every_single_bit_change_fails_verification() {
        // Exhaustive rather than sampled: the receipt is small enough to flip every bit.
        let (bytes, content, trust) = fixture();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[i] ^= 1 << bit;
                assert!(
                    !verdict_of(&altered, content, trust),
                    "flipping bit {bit} of byte {i} ({:?}) still verifies",
                    bytes[i] as char
                );
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics_the_verifier(s in "\\PC{0,400}") {
            let (_, content, trust) = fixture();
            let _ = verdict_of(s.as_bytes(), content, trust);
        }
    }
}
