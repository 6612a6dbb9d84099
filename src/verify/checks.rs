//! One function per named check of a verdict (docs/contract.md §2): `key`, `signature`,
//! `content`, `log`, `checkpoint`, `disclosure`, `witnesses`. Each returns a [`Check`] with a stable
//! code and a sentence for people; none fails, every problem is a failed check.

use ed25519_dalek::{Signature, VerifyingKey};

use super::check_cache::CheckCache;
use super::{Check, TrustAnchors};
use crate::content::ContentHashes;
use crate::jcs::JcsError;
use crate::keys::KeyPurpose;
use crate::log::checkpoint::{Checkpoint, NoteError};
use crate::log::merkle;
use crate::log::policy::Policy;
use crate::normalize::Normalization;
use crate::statement::receipt::{leaf_bytes_from_canonical, Receipt, ALG_ED25519};

/// The receipt's checkpoint, opened with the log's key when one is known (`None`
/// without a log key). Shared by the `log` and `checkpoint` checks.
pub(super) fn open_checkpoint(
    note: &str,
    trust: &TrustAnchors,
    cache: Option<&CheckCache>,
) -> Option<Result<Checkpoint, NoteError>> {
    trust.log.as_ref().map(|v| match cache {
        Some(cache) => cache.open_checkpoint(note, v),
        None => Checkpoint::open_signed(note, v),
    })
}

/// `key`: the signing key is one of this service's published statement keys, and was
/// not retired before the statement's date. Also returns the key for `signature`.
pub(super) fn key(parsed: &Receipt, trust: &TrustAnchors) -> (Check, Option<VerifyingKey>) {
    let kid = &parsed.signature.kid;
    let key_info = trust.keys.iter().find(|k| &k.kid == kid && k.purpose == KeyPurpose::Statement);
    let key = key_info.and_then(|k| trust.verifying_key(k));
    let check = match (key_info, key) {
        (Some(info), Some(_)) => match &info.retired_at {
            // A retired key signs nothing new: a statement dated after the retirement
            // was signed by something still holding the old key (a stolen copy).
            Some(t) if !info.may_sign_at(parsed.statement.issued_at) => Check::new(
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
            None => Check::new(
                "key",
                true,
                "key.known",
                format!("Signed with key {kid}, one of this service's published statement keys."),
            ),
        },
        _ => Check::new(
            "key",
            false,
            "key.unknown",
            format!("Key {kid} is not among this service's published statement keys."),
        ),
    };
    (check, key)
}

/// `signature`: Ed25519 over the statement's canonical bytes.
pub(super) fn signature(
    parsed: &Receipt,
    key: Option<&VerifyingKey>,
    statement_jcs: &Result<Vec<u8>, JcsError>,
    cache: Option<&CheckCache>,
) -> Check {
    match (key, parsed.signature.signature_bytes(), statement_jcs) {
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
        (Some(key), Some(sig), Ok(bytes)) => match verify_signature(cache, key, bytes, &sig) {
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
    }
}

fn verify_signature(cache: Option<&CheckCache>, key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    match cache {
        Some(cache) => cache.verify_statement(key, message, signature),
        None => key.verify_strict(message, signature).is_ok(),
    }
}

/// `content`: the content's exact hash, or for text its normalised hash, is the one
/// the statement names.
pub(super) fn content(parsed: &Receipt, content: &ContentHashes) -> Check {
    let subject = &parsed.statement.subject;
    if subject.sha256 == content.sha256 {
        Check::new("content", true, "content.hash.match", "The content's SHA-256 matches the statement exactly.")
    } else if subject.normalized_text_sha256.is_some()
        && presented_normalized(parsed, content) == subject.normalized_text_sha256
    {
        let how = match parsed.statement.normalization() {
            Normalization::V1 => "normalisation v1 (white space and Unicode composition)",
            Normalization::V2 => {
                "normalisation v2 (white space, Unicode composition, and typographic variants: curly quotes, \
                 dashes, ellipses, invisible characters)"
            }
        };
        Check::new("content", true, "content.hash.match", format!("The text matches the statement after {how}."))
    } else {
        Check::new(
            "content",
            false,
            "content.hash.mismatch",
            "The content does not match the statement's hash: it is different or was altered.",
        )
    }
}

/// The presented text's normalised hash under the statement's own normalisation.
fn presented_normalized(parsed: &Receipt, content: &ContentHashes) -> Option<crate::Sha256Digest> {
    match parsed.statement.normalization() {
        Normalization::V1 => content.normalized_text_sha256,
        Normalization::V2 => content.normalized_v2_sha256,
    }
}

/// `log`: the leaf rebuilt from statement and signature is the receipt's id and leaf
/// hash, and the inclusion proof leads from it to the checkpoint's root.
pub(super) fn log(
    parsed: &Receipt,
    statement_jcs: &Result<Vec<u8>, JcsError>,
    checkpoint: Option<&Result<Checkpoint, NoteError>>,
) -> Check {
    let log = &parsed.log;
    let leaf_hash = match statement_jcs {
        Ok(bytes) => leaf_bytes_from_canonical(bytes, &parsed.signature)
            .map(|b| merkle::leaf_hash(&b))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match (&leaf_hash, checkpoint) {
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
                "The proof is for a tree of {} but the checkpoint has {}; rejected.",
                count(log.tree_size, "leaf", "leaves"),
                cp.size
            ),
        ),
        (Ok(h), Some(Ok(cp))) => {
            match merkle::verify_inclusion(h, log.index.0, cp.size, &log.inclusion_proof, &cp.root) {
                Ok(()) => Check::new(
                    "log",
                    true,
                    "log.included",
                    format!(
                        "Entry {} is included in the log's tree of {} (RFC 6962 inclusion proof).",
                        log.index,
                        count(cp.size, "entry", "entries")
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
    }
}

/// `checkpoint`: the receipt's checkpoint is a signed note of this log's key.
pub(super) fn checkpoint(trust: &TrustAnchors, checkpoint: Option<&Result<Checkpoint, NoteError>>) -> Check {
    match (&trust.log, checkpoint) {
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
                "The checkpoint (origin {}, {}) is signed by the log key {}.",
                cp.origin,
                count(cp.size, "entry", "entries"),
                v.to_vkey_string()
            ),
        ),
        (Some(_), Some(Err(e))) => Check::new(
            "checkpoint",
            false,
            "checkpoint.invalid",
            format!("The checkpoint is not validly signed by this log: {e}."),
        ),
    }
}

/// "1 entry", "2 entries": these sentences are read by people (the verify page shows them).
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `disclosure`: the statement carries a disclosure text to show readers.
pub(super) fn disclosure(parsed: &Receipt) -> Check {
    let text = parsed.statement.disclosure.text.trim();
    if text.is_empty() {
        Check::new("disclosure", false, "disclosure.missing", "The statement carries no disclosure text.")
    } else {
        Check::new(
            "disclosure",
            true,
            "disclosure.present",
            format!("Disclosure ({}): \"{}\"", parsed.statement.disclosure.lang, text),
        )
    }
}

/// `witnesses`: which of the policy's witnesses cosigned the receipt's checkpoint note, and
/// whether they meet its quorum. A cosignature counts only over this very checkpoint body
/// ([`Policy::witnessed`] checks each against it), so one copied from another checkpoint
/// of the same log counts for nothing. A policy that lists logs must list this log's key.
pub(super) fn witnesses(note: &str, trust: &TrustAnchors, policy: &Policy) -> Check {
    // Without the log's key, only a policy that names no log can be held to.
    let accepted = trust.log.as_ref().map_or(policy.logs().is_empty(), |log| policy.accepts_log(log));
    if !accepted {
        let key = trust.log.as_ref().map_or("unknown".into(), |l| l.to_vkey_string());
        return Check::new(
            "witnesses",
            false,
            "witness.unknown_log",
            format!("The witness policy does not list this log (key {key}) among the logs it accepts."),
        );
    }
    let witnessed = policy.witnessed(note);
    let by = match witnessed.cosigned_by.as_slice() {
        [] => "no witness of the policy".to_owned(),
        names => names.join(", "),
    };
    let quorum = policy.describe_quorum();
    if witnessed.quorum_met {
        Check::new(
            "witnesses",
            true,
            "witness.quorum",
            format!("The checkpoint is cosigned by {by}, which meets the policy's quorum ({quorum})."),
        )
    } else {
        Check::new(
            "witnesses",
            false,
            "witness.no_quorum",
            format!("The checkpoint is cosigned by {by}, which does not meet the policy's quorum ({quorum})."),
        )
    }
}
