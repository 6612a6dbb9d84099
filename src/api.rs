//! The wire types the server and its clients share: what `POST /v1/stamps`, the verify
//! endpoints and the streamed routes send and answer. The server
//! builds them in `service`, the CLI and the examples read them; neither side has its
//! own copy (docs/contract.md §2 and §6).

use serde::{Deserialize, Serialize};

use crate::jcs::StrictValue;
use crate::statement::not_null;
use crate::statement::receipt::{Receipt, StampId};
use crate::statement::{Disclosure, Kind};
use crate::time::Timestamp;
use crate::verify::Verdict;
use crate::Sha256Digest;

/// The header of the streamed routes that holds the stamp metadata as JSON (header
/// names are case-insensitive).
pub const METADATA_HEADER: &str = "aiprov-metadata";

/// The header of `POST /v1/credentials`' answer that holds the stamp id (the body is the image).
pub const STAMP_ID_HEADER: &str = "aiprov-stamp-id";

/// The header of `POST /v1/credentials`' answer that holds the prompt salt, once, when a
/// prompt was given: the `prompt_salt` of a stamp response.
pub const PROMPT_SALT_HEADER: &str = "aiprov-prompt-salt";

/// The response to a stamp: the public receipt plus, once, the prompt salt.
#[derive(Debug, Serialize, Deserialize)]
pub struct StampResponse {
    #[serde(flatten)]
    pub receipt: Receipt,
    /// Hex of the 32-byte salt of the prompt commitment. Returned only here: keep it to
    /// prove later which prompt produced the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_salt: Option<String>,
}

/// The body of `POST /v1/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default, deserialize_with = "not_null")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub content_base64: Option<String>,
    /// Either case; kept lower-case.
    #[serde(default, deserialize_with = "crate::digest::any_case")]
    pub sha256: Option<Sha256Digest>,
    /// An `http(s)` URL whose content the service fetches and verifies.
    #[serde(default, deserialize_with = "not_null")]
    pub url: Option<String>,
    /// A receipt as JSON, checked exactly as given; repeated member names are refused.
    /// Any JSON value is checked, `null` too: what is not a receipt fails the check.
    #[serde(default, deserialize_with = "not_null")]
    pub receipt: Option<StrictValue>,
}

/// A verdict and, for content-only verification, every stamp the content matched.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyResponse {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Ids of the stamps in this log that match the content, newest first.
    #[serde(default)]
    pub matches: Vec<StampId>,
    /// When nothing matches exactly or after normalisation: stamps of similar content,
    /// most similar first (docs/contract.md §12). Never proof: the verdict is not verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub similar: Vec<SimilarStamp>,
}

/// A stamp whose content is similar to the content verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarStamp {
    pub stamp_id: StampId,
    pub issuer: String,
    pub kind: Kind,
    pub issued_at: Timestamp,
    pub disclosure: Disclosure,
    /// How it was found: `io.iscc.v0` (the ISCC Content-Code, by Hamming distance) or
    /// `ai-provenance.sentence.v1` (sentences of the stamped text, word for word).
    pub algorithm: String,
    /// For `io.iscc.v0`: bits of the 256 that differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    /// 0 to 100. For `io.iscc.v0`, the share of equal bits; for sentences, the share of
    /// the verified text's sentences (of 8 words or more) found in the stamped text.
    pub similarity: u8,
}

/// The answer of the C2PA Soft Binding Resolution API's `matches` queries
/// (`/sbr/v1/matches/byBinding`, `/byContent`): best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbrMatches {
    pub matches: Vec<SbrMatch>,
}

/// One manifest whose content matches: its id (the stamp id here) and how similar the
/// content is, 0 to 100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbrMatch {
    pub manifest_id: String,
    pub similarity_score: u8,
}
