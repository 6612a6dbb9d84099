//! Signing statements and the receipt that proves a stamp (DESIGN §2 and §3, contract).
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
use crate::merkle;
use crate::statement::Statement;
use crate::Sha256Digest;

pub const ALG_ED25519: &str = "Ed25519";

/// A position in the log: leaves are numbered from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogIndex(pub u64);

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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
    let bytes = jcs::to_vec(statement)?;
    let sig = key.sign(&bytes);
    Ok(SignatureEnvelope {
        alg: ALG_ED25519.into(),
        kid: key.kid().clone(),
        sig: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
    })
}

#[derive(Serialize)]
struct LeafRef<'a, S: Serialize> {
    statement: &'a S,
    signature: &'a SignatureEnvelope,
}

/// The log leaf bytes: `JCS({"statement": statement, "signature": signature})`.
/// Generic over the statement's representation so that a verifier can rebuild the leaf
/// from the statement exactly as received (a `serde_json::Value`).
///
/// # Errors
/// When the statement has no canonical JSON form.
pub fn leaf_bytes<S: Serialize>(statement: &S, signature: &SignatureEnvelope) -> Result<Vec<u8>, JcsError> {
    jcs::to_vec(&LeafRef { statement, signature })
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
