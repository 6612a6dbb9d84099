//! Verdicts: checking a receipt against content and trust anchors, one named check at a
//! time (docs/contract.md §2). Pure functions over data, so the server, the offline CLI and tests
//! share exactly the same rules; only "is it in *our* log" needs the server's store.

pub mod audit;
pub mod check_cache;
mod checks;
mod consistency;
pub mod credential;

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::content::ContentHashes;
use crate::jcs;
use crate::keys::{KeyPurpose, PublicKeyInfo};
use crate::log::checkpoint::NoteVerifier;
use crate::log::policy::Policy;
use crate::statement::receipt::{statement_of_leaf, Receipt};
use crate::statement::{Disclosure, Generator, HumanOversight, Kind};
use crate::time::Timestamp;
use crate::verify::check_cache::CheckCache;
pub(crate) use consistency::Consistency;

/// What a verifier trusts: the service's published keys, and the log's note key.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    pub keys: Vec<PublicKeyInfo>,
    pub log: Option<NoteVerifier>,
    /// The keys above, decoded once: decoding an Ed25519 public key decompresses a curve
    /// point, which costs as much as the rest of a cached verdict. Looked up by the
    /// key's base64 text, so a key added to or changed in `keys` is decoded when used.
    decoded: HashMap<String, VerifyingKey>,
    /// The service's C2PA root certificates (DER): the trust anchors of its Content
    /// Credentials.
    pub c2pa_roots: Vec<Vec<u8>>,
    /// The reader's witness policy (C2SP tlog-policy): with one, every receipt's
    /// checkpoint must be cosigned by its quorum (the `witnesses` check).
    pub policy: Option<Arc<Policy>>,
}

impl TrustAnchors {
    pub fn new(keys: Vec<PublicKeyInfo>, log: Option<NoteVerifier>) -> Self {
        let decoded = keys.iter().filter_map(|k| Some((k.public_key.clone(), k.verifying_key().ok()?))).collect();
        Self { keys, log, decoded, c2pa_roots: Vec::new(), policy: None }
    }

    /// These anchors, requiring `policy`'s quorum of witnesses on every checkpoint.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// These anchors, trusting the C2PA root certificate `der` too.
    pub fn with_c2pa_root(mut self, der: &[u8]) -> Self {
        self.c2pa_roots.push(der.to_vec());
        self
    }

    /// The decoded key of `info`, or `None` when it is not a valid Ed25519 key.
    pub(crate) fn verifying_key(&self, info: &PublicKeyInfo) -> Option<VerifyingKey> {
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
        let mut anchors = Self::new(keys, log);
        // Documents from before Content Credentials have no `c2pa` member.
        for root in doc["c2pa"]["roots"].as_array().into_iter().flatten() {
            let pem = root["pem"].as_str().ok_or("c2pa.roots: each root needs its pem")?;
            anchors.c2pa_roots.extend(crate::keys::from_pem(pem).map_err(|e| format!("c2pa.roots: {e}"))?);
        }
        Ok(anchors)
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
    pub fn new(name: &str, passed: bool, code: &str, message: impl Into<String>) -> Self {
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
    /// The log that recorded the stamp: the origin line of the receipt's checkpoint
    /// (which the `checkpoint` check holds to the trusted log key), e.g.
    /// `transparency.example.com/ai-provenance`. Receipts name no other log.
    #[serde(default)]
    pub log_origin: String,
    /// Who operates that log and signs with its keys: the host its origin starts with
    /// (C2SP tlog-checkpoint origins are schema-less URLs, so the host is the domain of
    /// whoever publishes the log). A reader then meets a name, not "this service".
    #[serde(default)]
    pub log_operator: String,
}

/// The host an origin starts with (`example.com` of `example.com/log`), the origin itself
/// when it has no `/`.
fn operator_of(origin: &str) -> &str {
    origin.split('/').next().unwrap_or(origin)
}

impl StampSummary {
    fn of(receipt: &Receipt) -> Self {
        let statement = &receipt.statement;
        let log_origin = receipt.log.checkpoint.lines().next().unwrap_or_default().to_owned();
        Self {
            id: receipt.id.to_string(),
            kind: statement.kind,
            digital_source_type: statement.digital_source_type.as_str().to_owned(),
            generator: statement.generator.clone(),
            disclosure: statement.disclosure.clone(),
            human_oversight: statement.human_oversight,
            issuer: statement.issuer.to_string(),
            issued_at: statement.issued_at,
            log_index: receipt.log.index.0,
            log_operator: operator_of(&log_origin).to_owned(),
            log_origin,
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verified: bool,
    /// Whether content (a text, a file, a hash or a URL) was checked against the stamp.
    /// A receipt checked alone proves the stamp genuine, not that any content is the one
    /// it was made for; the summary says so too.
    #[serde(default)]
    pub content_checked: bool,
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
        let content_checked = checks.iter().any(|c| c.name == "content");
        let summary = match (&stamp, verified) {
            // Who vouches, by name: the issuer, and the log (origin and operator) whose
            // key signed the statement and whose checkpoint includes it.
            (Some(s), true) if content_checked => format!(
                "Genuine AI disclosure: issued by \"{}\" on {}, signed by {}, the operator of the public log \"{}\", and recorded in that log at index {}.",
                s.issuer,
                s.issued_at.to_rfc3339(),
                s.log_operator,
                s.log_origin,
                s.log_index
            ),
            (Some(s), true) => format!(
                "Genuine receipt, but no content was checked: it was issued by \"{}\" on {}, signed by {}, the operator of the public log \"{}\", and recorded in that log at index {}; send the text or file with it to check that it is the content this stamp was made for.",
                s.issuer,
                s.issued_at.to_rfc3339(),
                s.log_operator,
                s.log_origin,
                s.log_index
            ),
            _ => match checks.iter().find(|c| !c.passed) {
                Some(failed) => format!("Not verified: {}", failed.message),
                None => "Not verified: nothing to check.".into(),
            },
        };
        Self { verified, content_checked, summary, checks, stamp }
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
    verify_receipt_with(receipt, content, trust, trust.policy.as_deref(), None)
}

/// [`verify_receipt`] under `policy` (rather than the anchors' own), with the service's
/// memo of signature checks that passed before.
pub fn verify_receipt_with(
    receipt: &Value,
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
    policy: Option<&Policy>,
    cache: Option<&CheckCache>,
) -> (Vec<Check>, Option<StampSummary>) {
    // With the path of what is wrong: "statement.subject.sha256: ...".
    let parsed = match serde_path_to_error::deserialize::<_, Receipt>(receipt)
        .map_err(|e| e.to_string())
        .and_then(|r| r.statement.check_type().map(|()| r))
    {
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
    verify_parsed(&parsed, statement_jcs, content, trust, policy, cache)
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
    verify_parsed(receipt, statement_jcs, content, trust, trust.policy.as_deref(), cache)
}

/// Runs every named check, in the order a reader meets them in a verdict.
fn verify_parsed(
    parsed: &Receipt,
    statement_jcs: Result<Vec<u8>, jcs::JcsError>,
    content: Option<&ContentHashes>,
    trust: &TrustAnchors,
    policy: Option<&Policy>,
    cache: Option<&CheckCache>,
) -> (Vec<Check>, Option<StampSummary>) {
    let (key_check, key) = checks::key(parsed, trust);
    let checkpoint = checks::open_checkpoint(&parsed.log.checkpoint, trust, cache);
    let mut out = vec![key_check, checks::signature(parsed, key.as_ref(), &statement_jcs, cache)];
    if let Some(content) = content {
        out.push(checks::content(parsed, content));
    }
    out.push(checks::log(parsed, &statement_jcs, checkpoint.as_ref()));
    out.push(checks::checkpoint(trust, checkpoint.as_ref()));
    out.push(checks::disclosure(parsed));
    if let Some(policy) = policy {
        out.push(checks::witnesses(&parsed.log.checkpoint, trust, policy));
    }
    (out, Some(StampSummary::of(parsed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keyring;
    use crate::log::checkpoint::NoteSigner;
    use crate::log::merkle::{self, MemoryTree};
    use crate::log::LogIndex;
    use crate::statement::receipt::{sign_statement, LogProof, SignedStatement, StampId};
    use crate::statement::request::{prepare, StampRequest};
    use crate::statement::IssuerName;
    use crate::time::Timestamp;
    use proptest::prelude::*;
    use serde_json::json;
    use std::sync::OnceLock;

    /// A genuine receipt (leaf 2 of a 5-leaf log), its content and trust anchors, built
    /// with the library's own pieces, once for all cases.
    fn fixture() -> &'static (Vec<u8>, ContentHashes, TrustAnchors) {
        static F: OnceLock<(Vec<u8>, ContentHashes, TrustAnchors)> = OnceLock::new();
        F.get_or_init(|| receipt_with(|_| ()))
    }

    /// A genuine receipt of a statement changed by `edit` before it is signed.
    fn receipt_with(edit: impl FnOnce(&mut crate::statement::Statement)) -> (Vec<u8>, ContentHashes, TrustAnchors) {
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
        let mut prepared = prepare(req, IssuerName::parse("Acme").unwrap(), [3; 32], Timestamp::now()).unwrap();
        edit(&mut prepared.statement);
        let signature = sign_statement(&prepared.statement, ring.statement_key()).unwrap();
        let signed = SignedStatement { statement: prepared.statement, signature };
        let leaf_hash = merkle::leaf_hash(&signed.leaf_bytes().unwrap());
        let mut tree = MemoryTree::new();
        for i in 0..5u8 {
            tree.push(if i == 2 { leaf_hash } else { merkle::leaf_hash(&[i]) });
        }
        let checkpoint = crate::log::checkpoint::Checkpoint {
            origin: "test.example/log".into(),
            size: 5,
            root: tree.root(),
            extensions: vec![],
        };
        let receipt = crate::statement::receipt::Receipt {
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
    fn a_v1_statement_verifies_but_not_with_a_content_code_and_no_other_type_does() {
        use crate::statement::StatementType;
        let (bytes, content, trust) = receipt_with(|s| {
            s.statement_type = StatementType::V1;
            s.subject.iscc = None;
        });
        assert!(verdict_of(&bytes, &content, &trust), "a receipt issued before fingerprints still verifies");
        let (bytes, content, trust) = receipt_with(|s| {
            s.statement_type = StatementType::V1;
            assert!(s.subject.iscc.is_some(), "the fixture's text has a Content-Code");
        });
        let receipt: Value = serde_json::from_slice(&bytes).unwrap();
        let (checks, _) = verify_receipt(&receipt, Some(&content), &trust);
        assert_eq!(checks[0].code, "receipt.malformed", "{checks:?}");
        assert!(checks[0].message.contains("statement.subject.iscc"), "{}", checks[0].message);
        let mut other = receipt.clone();
        other["statement"]["type"] = json!("ai-provenance/statement/v3");
        let (checks, _) = verify_receipt(&other, Some(&content), &trust);
        assert_eq!(checks[0].code, "receipt.malformed", "{checks:?}");
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

    /// The fixture's receipt with `lines` appended to its checkpoint note.
    fn with_cosignatures(lines: &[String]) -> Value {
        let mut receipt: Value = serde_json::from_slice(&fixture().0).unwrap();
        let mut note = receipt["log"]["checkpoint"].as_str().unwrap().to_owned();
        for line in lines {
            note.push_str(line);
        }
        receipt["log"]["checkpoint"] = Value::String(note);
        receipt
    }

    fn body_of(receipt: &Value) -> String {
        let note = receipt["log"]["checkpoint"].as_str().unwrap();
        note[..=note.find("\n\n").unwrap()].to_owned()
    }

    fn witness(name: &str, seed: u8) -> crate::log::cosignature::CosignatureSigner {
        crate::log::cosignature::CosignatureSigner::new(name, ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
            .unwrap()
    }

    /// `log_line`: the policy's `log` line, if any.
    fn two_of_two(log_line: &str) -> Policy {
        Policy::parse(&format!(
            "{log_line}witness A {}\nwitness B {}\ngroup both all A B\nquorum both\n",
            witness("a.example", 11).verifier().to_vkey_string(),
            witness("b.example", 12).verifier().to_vkey_string()
        ))
        .unwrap()
    }

    fn witness_check(receipt: &Value, trust: &TrustAnchors) -> (Option<Check>, bool) {
        let (checks, stamp) = verify_receipt(receipt, Some(&fixture().1), trust);
        let check = checks.iter().find(|c| c.name == "witnesses").cloned();
        (check, Verdict::from_checks(checks, stamp).verified)
    }

    #[test]
    fn the_witnesses_check_needs_the_quorum_of_cosignatures_over_this_checkpoint() {
        let (_, _, trust) = fixture();
        let body = body_of(&with_cosignatures(&[]));
        let (a, b) = (witness("a.example", 11), witness("b.example", 12));
        let log_line = format!("log {}\n", trust.log.as_ref().unwrap().to_vkey_string());
        let trust = trust.clone().with_policy(two_of_two(&log_line));

        let both =
            with_cosignatures(&[a.cosign(&body, 1_700_000_000).unwrap(), b.cosign(&body, 1_700_000_001).unwrap()]);
        let (check, verified) = witness_check(&both, &trust);
        let check = check.unwrap();
        assert_eq!((check.code.as_str(), check.passed, verified), ("witness.quorum", true, true), "{check:?}");
        assert!(check.message.contains("A, B") && check.message.contains("group both (2 of 2)"), "{check:?}");

        let one = with_cosignatures(&[a.cosign(&body, 1_700_000_000).unwrap()]);
        let (check, verified) = witness_check(&one, &trust);
        let check = check.unwrap();
        assert_eq!((check.code.as_str(), check.passed, verified), ("witness.no_quorum", false, false));
        assert!(check.message.contains("cosigned by A,"), "{check:?}");

        // B's cosignature of another checkpoint of this log (a smaller tree) is B's, and
        // genuine, but not of this checkpoint: it must not count.
        let other_body = body.replacen("\n5\n", "\n4\n", 1);
        assert_ne!(other_body, body);
        let copied = with_cosignatures(&[
            a.cosign(&body, 1_700_000_000).unwrap(),
            b.cosign(&other_body, 1_700_000_000).unwrap(),
        ]);
        let (check, verified) = witness_check(&copied, &trust);
        assert_eq!(check.unwrap().code, "witness.no_quorum");
        assert!(!verified);
    }

    #[test]
    fn a_policy_that_lists_other_logs_fails_and_no_policy_adds_no_check() {
        let (_, _, trust) = fixture();
        let body = body_of(&with_cosignatures(&[]));
        let both = with_cosignatures(&[
            witness("a.example", 11).cosign(&body, 1_700_000_000).unwrap(),
            witness("b.example", 12).cosign(&body, 1_700_000_000).unwrap(),
        ]);
        let other = NoteSigner::new("other.example/log", ed25519_dalek::SigningKey::from_bytes(&[42; 32])).unwrap();
        let policy = two_of_two(&format!("log {}\n", other.verifier().to_vkey_string()));
        let (check, verified) = witness_check(&both, &trust.clone().with_policy(policy));
        assert_eq!(check.unwrap().code, "witness.unknown_log");
        assert!(!verified);
        // A policy of witnesses only holds for any log.
        let (check, verified) = witness_check(&both, &trust.clone().with_policy(two_of_two("")));
        assert_eq!(check.unwrap().code, "witness.quorum");
        assert!(verified);
        // Without the log's key, a policy that lists logs cannot be held to.
        let mut keyless =
            trust.clone().with_policy(two_of_two(&format!("log {}\n", other.verifier().to_vkey_string())));
        keyless.log = None;
        assert_eq!(witness_check(&both, &keyless).0.unwrap().code, "witness.unknown_log");
        // No policy, no check: the receipt verifies as before.
        let (check, verified) = witness_check(&both, trust);
        assert!(check.is_none() && verified);
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics_the_verifier(s in "\\PC{0,400}") {
            let (_, content, trust) = fixture();
            let _ = verdict_of(s.as_bytes(), content, trust);
        }
    }
}
