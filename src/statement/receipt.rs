//! Signing statements and the receipt that proves a stamp (docs/contract.md §2 and §3, contract).
//!
//! - signature: Ed25519 over `JCS(statement)`, carried as `{"alg","kid","sig"}` with
//!   `sig` in base64url without padding;
//! - log leaf: `JCS({"statement": ..., "signature": ...})`;
//! - stamp id: the RFC 6962 leaf hash of that leaf, so an id can be recomputed from a
//!   receipt by anyone and cannot be chosen by the operator.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::jcs::{self, JcsError};
use crate::keys::{KeyId, SecretKey};
use crate::log::merkle;
use crate::log::tlog_proof::TlogProof;
use crate::log::LogIndex;
use crate::statement::Statement;
use crate::Sha256Digest;

pub const ALG_ED25519: &str = "Ed25519";

/// The id of a stamp: the RFC 6962 leaf hash of its log leaf, shown as 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StampId(pub Sha256Digest);

impl fmt::Display for StampId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The signature part of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureEnvelope {
    pub alg: String,
    pub kid: KeyId,
    /// base64url, no padding, of the 64-byte Ed25519 signature.
    pub sig: String,
}

impl SignatureEnvelope {
    /// The raw signature, or `None` when `sig` is not base64url of 64 bytes.
    pub fn signature_bytes(&self) -> Option<ed25519_dalek::Signature> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.sig).ok()?;
        let arr: [u8; 64] = bytes.try_into().ok()?;
        Some(ed25519_dalek::Signature::from_bytes(&arr))
    }
}

/// Signs `JCS(statement)` with `key`.
///
/// # Errors
/// When the statement has no canonical JSON form.
pub fn sign_statement(statement: &Statement, key: &SecretKey) -> Result<SignatureEnvelope, JcsError> {
    Ok(sign_canonical(&jcs::to_vec(statement)?, key))
}

/// Signs canonical statement bytes (`JCS(statement)`, already computed) with `key`.
pub fn sign_canonical(statement_jcs: &[u8], key: &SecretKey) -> SignatureEnvelope {
    let sig = key.sign(statement_jcs);
    SignatureEnvelope { alg: ALG_ED25519.into(), kid: key.kid().clone(), sig: URL_SAFE_NO_PAD.encode(sig.to_bytes()) }
}

/// The log leaf `JCS({"statement": ..., "signature": ...})`.
///
/// # Errors
/// When the statement has no canonical JSON form.
pub fn leaf_bytes<S: Serialize>(statement: &S, signature: &SignatureEnvelope) -> Result<Vec<u8>, JcsError> {
    leaf_bytes_from_canonical(&jcs::to_vec(statement)?, signature)
}

/// The log leaf from the statement's canonical bytes, which signing already computed:
/// canonicalising a statement is a good part of a stamp's cost, so it is done once.
/// In JCS the members sort as `signature` < `statement`, and a canonical object is its
/// members' canonical forms joined without white space, so this is exactly
/// `JCS({"statement": ..., "signature": ...})` (a unit test holds it to that).
///
/// # Errors
/// When the signature envelope has no canonical form (it always has one).
pub fn leaf_bytes_from_canonical(statement_jcs: &[u8], signature: &SignatureEnvelope) -> Result<Vec<u8>, JcsError> {
    let signature_jcs = jcs::to_vec(signature)?;
    let mut leaf = Vec::with_capacity(statement_jcs.len() + signature_jcs.len() + 28);
    leaf.extend_from_slice(b"{\"signature\":");
    leaf.extend_from_slice(&signature_jcs);
    leaf.extend_from_slice(b",\"statement\":");
    leaf.extend_from_slice(statement_jcs);
    leaf.push(b'}');
    Ok(leaf)
}

/// The canonical statement bytes inside a log leaf: the inverse of
/// [`leaf_bytes_from_canonical`]. `None` when `leaf` is not the leaf of a statement
/// signed by `signature`.
pub fn statement_of_leaf<'a>(leaf: &'a [u8], signature: &SignatureEnvelope) -> Option<&'a [u8]> {
    let signature_jcs = jcs::to_vec(signature).ok()?;
    let rest = leaf.strip_prefix(b"{\"signature\":".as_slice())?;
    let rest = rest.strip_prefix(signature_jcs.as_slice())?;
    let rest = rest.strip_prefix(b",\"statement\":".as_slice())?;
    rest.strip_suffix(b"}")
}

/// A statement with its signature, as stored in a log leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedStatement {
    pub statement: Statement,
    pub signature: SignatureEnvelope,
}

impl SignedStatement {
    /// # Errors
    /// When the statement has no canonical JSON form.
    pub fn leaf_bytes(&self) -> Result<Vec<u8>, JcsError> {
        leaf_bytes(&self.statement, &self.signature)
    }

    /// # Errors
    /// When the statement has no canonical JSON form.
    pub fn id(&self) -> Result<StampId, JcsError> {
        Ok(StampId(merkle::leaf_hash(&self.leaf_bytes()?)))
    }
}

/// Where a stamp sits in the log, and the proof that it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogProof {
    pub index: LogIndex,
    pub leaf_hash: Sha256Digest,
    /// Size of the tree the proof is against (equal to the checkpoint's size).
    pub tree_size: u64,
    /// RFC 9162 inclusion proof, leaf to root, as hex.
    pub inclusion_proof: Vec<Sha256Digest>,
    /// The signed checkpoint note (C2SP tlog-checkpoint) whose root the proof reaches.
    pub checkpoint: String,
}

/// Everything a verifier needs, with the public key, to check a stamp offline.
///
/// Unknown top-level fields are ignored (a stamp response, which also carries
/// `prompt_salt`, is a valid receipt); the signed statement itself stays strict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: StampId,
    pub statement: Statement,
    pub signature: SignatureEnvelope,
    pub log: LogProof,
}

impl Receipt {
    /// This receipt's inclusion as a C2SP tlog-proof: its index, inclusion proof and
    /// checkpoint note (with whatever cosignatures it carries), and no `extra` line: the
    /// leaf hash is the stamp id, which the reader holds with the receipt.
    pub fn tlog_proof(&self) -> TlogProof {
        TlogProof {
            extra: None,
            index: self.log.index.0,
            inclusion_proof: self.log.inclusion_proof.clone(),
            checkpoint: self.log.checkpoint.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn envelope(sig: &str) -> SignatureEnvelope {
        serde_json::from_value(json!({"alg": "Ed25519", "kid": "0123456789abcdef", "sig": sig})).unwrap()
    }

    /// The leaf as the contract states it: JCS of the two-member object.
    fn reference_leaf(statement: &Value, signature: &SignatureEnvelope) -> Vec<u8> {
        jcs::to_vec(&json!({"statement": statement, "signature": signature})).unwrap()
    }

    proptest! {
        #[test]
        fn leaf_from_canonical_bytes_is_the_jcs_of_the_pair(
            text in "\\PC{0,40}",
            key in "[a-zA-Z_\u{e9}\u{1F600}]{1,8}",
            n in proptest::num::f64::NORMAL,
            sig in "[A-Za-z0-9_-]{0,86}",
        ) {
            let statement = json!({"zeta": text, key: [n, 1, null, true], "a": {"b": "c", "A": text}});
            let signature = envelope(&sig);
            let canonical = jcs::to_vec(&statement).unwrap();
            prop_assert_eq!(leaf_bytes_from_canonical(&canonical, &signature).unwrap(), reference_leaf(&statement, &signature));
            prop_assert_eq!(leaf_bytes(&statement, &signature).unwrap(), reference_leaf(&statement, &signature));
            let leaf = reference_leaf(&statement, &signature);
            prop_assert_eq!(statement_of_leaf(&leaf, &signature), Some(canonical.as_slice()));
            prop_assert_eq!(statement_of_leaf(&leaf, &envelope("other")), None);
            let mut trailing = leaf.clone();
            trailing.push(b' ');
            prop_assert_eq!(statement_of_leaf(&trailing, &signature), None);
        }
    }
}
