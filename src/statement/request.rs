//! Turning a stamp request into a statement: decoding and hashing the content, the
//! prompt commitment (docs/contract.md §4), defaults and validation. Pure: no I/O, no clock
//! other than `issued_at`, so every rule is unit-tested here.

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::content::{decode_base64, HashedContent};
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::{ContentCode, Fingerprints};
use crate::normalize::Normalization;
use crate::statement::pii::{self, PersonalData};
use crate::statement::{
    not_null, DigitalSourceType, Disclosure, Explanation, FieldError, Generator, HumanOversight, IssuerName, Kind,
    MediaType, Statement, Subject, STATEMENT_TYPE,
};
use crate::time::Timestamp;
use crate::Sha256Digest;

/// Why a stamp request cannot become a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A field breaks its rule.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The content is missing, given in more than one form, or empty.
    #[error("{message}")]
    Content { field: Option<&'static str>, message: String },
    /// `content_base64` is not standard base64.
    #[error("content_base64 is not valid standard base64: {0}")]
    Base64(String),
    /// A free-text field that reaches the log looks like it identifies a person.
    #[error(transparent)]
    PersonalData(#[from] PersonalData),
}

/// Longest prompt accepted (characters). Prompts are hashed, never stored.
pub const MAX_PROMPT_CHARS: usize = 200_000;

/// Largest `size` a `sha256`-only stamp may record: 2^53 - 1 bytes (9 PiB), the largest
/// integer every JSON reader holds exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
pub const MAX_SIZE: u64 = (1 << 53) - 1;

/// A number of bytes as JSON Schema reads `integer`: a whole number from 0, written
/// `1234` or `1234.0` (which some JSON writers make of every number).
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    match (n.as_u64(), n.as_f64()) {
        (Some(n), _) => Ok(Some(n)),
        // Saturates past u64::MAX, and MAX_SIZE refuses that later, naming the limit.
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom(format!("must be a whole number of bytes from 0, not {n}"))),
    }
}

/// The body of `POST /v1/stamps` (also sent by the client, hence `Serialize`).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StampRequest {
    /// The content as UTF-8 text (marketing copy, explanations).
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The content as standard base64 (images and other binary assets).
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// Only the SHA-256 of content that stays private (either case; kept lower-case).
    #[serde(default, deserialize_with = "crate::digest::any_case", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
    /// With `sha256` only: the content's size in bytes, if the issuer wants it recorded.
    #[serde(default, deserialize_with = "whole_number", skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    pub kind: Kind,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub digital_source_type: Option<DigitalSourceType>,
    pub generator: Generator,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub disclosure: Disclosure,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub human_oversight: Option<HumanOversight>,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A statement ready to sign, and what must be kept beside it.
pub struct PreparedStamp {
    pub statement: Statement,
    /// The hashes of the text's sentences, for the excerpt index (not signed).
    pub sentences: Vec<Sha256Digest>,
    /// The salt of the prompt commitment: returned to the issuer once, stored erasably.
    pub prompt_salt: Option<[u8; 32]>,
}

impl std::fmt::Debug for PreparedStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedStamp").field("statement", &self.statement).finish_non_exhaustive()
    }
}

/// `SHA-256(salt || prompt)`.
pub fn prompt_commitment(salt: &[u8; 32], prompt: &str) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(prompt.as_bytes());
    Sha256Digest::from_hasher(h)
}

/// Everything of a stamp request but the content: what `POST /v1/stamps` takes beside
/// `text` / `content_base64` / `sha256` / `size`, and the JSON of the `Aiprov-Metadata`
/// header of the streamed upload (`POST /v1/stamps/upload`).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StampMetadata {
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    pub kind: Kind,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub digital_source_type: Option<DigitalSourceType>,
    pub generator: Generator,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub disclosure: Disclosure,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub human_oversight: Option<HumanOversight>,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

impl std::fmt::Debug for StampMetadata {
    // A prompt must never reach a log line, not even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampMetadata")
            .field("media_type", &self.media_type)
            .field("kind", &self.kind)
            .field("generator", &self.generator)
            .field("prompt", &self.prompt.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The names of the forms given, in order: which content forms a request holds, so that
/// an error can name the one to drop.
pub fn named_if_given<const N: usize>(forms: [(&'static str, bool); N]) -> Vec<&'static str> {
    forms.into_iter().filter_map(|(name, given)| given.then_some(name)).collect()
}

/// The content of a stamp, in the forms it can arrive in.
pub enum StampContent {
    /// UTF-8 text sent whole (`text`).
    Text(String),
    /// Bytes sent whole (`content_base64`, decoded).
    Bytes(Vec<u8>),
    /// Only a digest, for content that stays private (`sha256`, optional `size`).
    Digest { sha256: Sha256Digest, size: Option<u64> },
    /// Bytes hashed as they streamed in (`POST /v1/stamps/upload`).
    Streamed(HashedContent),
}

impl std::fmt::Debug for StampRequest {
    // A prompt must never reach a log line, not even through `{:?}`; nor the content,
    // which may be an unpublished asset.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampRequest")
            .field("text", &self.text.as_ref().map(|t| format!("<{} bytes>", t.len())))
            .field("content_base64", &self.content_base64.as_ref().map(|b| format!("<{} chars>", b.len())))
            .field("sha256", &self.sha256)
            .field("media_type", &self.media_type)
            .field("kind", &self.kind)
            .field("generator", &self.generator)
            .field("prompt", &self.prompt.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl StampRequest {
    /// A request with `metadata` and no content yet (the client sets one content field).
    pub fn from_metadata(metadata: StampMetadata) -> Self {
        Self {
            text: None,
            content_base64: None,
            sha256: None,
            size: None,
            media_type: metadata.media_type,
            kind: metadata.kind,
            digital_source_type: metadata.digital_source_type,
            generator: metadata.generator,
            prompt: metadata.prompt,
            disclosure: metadata.disclosure,
            human_oversight: metadata.human_oversight,
            explanation: metadata.explanation,
        }
    }

    /// Splits the request into its content and its metadata.
    ///
    /// # Errors
    /// `422` unless exactly one content form is given (and `size` only with `sha256`);
    /// `400` for undecodable base64.
    pub fn into_parts(self) -> Result<(StampContent, StampMetadata), RequestError> {
        let given = named_if_given([
            ("text", self.text.is_some()),
            ("content_base64", self.content_base64.is_some()),
            ("sha256", self.sha256.is_some()),
        ]);
        // With none, `text` is the field to add; with more, the second one to remove.
        let not_one = || RequestError::Content {
            field: Some(given.get(1).copied().unwrap_or("text")),
            message: match given.len() {
                0 => "send the content as exactly one of text, content_base64 or sha256; there is none".into(),
                _ => format!(
                    "send the content as exactly one of text, content_base64 or sha256, not {}",
                    given.join(" and ")
                ),
            },
        };
        if given.len() != 1 {
            return Err(not_one());
        }
        if self.size.is_some() && self.sha256.is_none() {
            return Err(FieldError::new("size", "is computed from the content; send it only with sha256").into());
        }
        if let Some(size) = self.size.filter(|s| *s > MAX_SIZE) {
            return Err(FieldError::new("size", format!("must be at most {MAX_SIZE} bytes, not {size}")).into());
        }
        let content = match (self.text, self.content_base64, self.sha256) {
            (Some(text), _, _) => StampContent::Text(text),
            (_, Some(b64), _) => {
                StampContent::Bytes(decode_base64(&b64).map_err(|e| RequestError::Base64(e.to_string()))?)
            }
            (_, _, Some(sha256)) => StampContent::Digest { sha256, size: self.size },
            (None, None, None) => return Err(not_one()),
        };
        let metadata = StampMetadata {
            media_type: self.media_type,
            kind: self.kind,
            digital_source_type: self.digital_source_type,
            generator: self.generator,
            prompt: self.prompt,
            disclosure: self.disclosure,
            human_oversight: self.human_oversight,
            explanation: self.explanation,
        };
        Ok((content, metadata))
    }
}

impl StampContent {
    /// What this content is found by besides its hashes (`crate::fingerprint`): text is
    /// given a Text-Code and its sentences' hashes, an image (`image/*`) an Image-Code
    /// when it decodes within bounds; a digest, nothing. Computed before the statement
    /// is signed: decoding an image takes milliseconds, which must not hold the signer.
    pub fn fingerprints(&self, media_type: Option<&MediaType>) -> Fingerprints {
        let image = media_type.is_some_and(MediaType::is_image);
        let text = |bytes: &[u8]| std::str::from_utf8(bytes).map(Fingerprints::of_text).unwrap_or_default();
        match self {
            Self::Text(t) => Fingerprints::of_text(t),
            Self::Bytes(b) if image => Fingerprints::of_image(b, ImageBounds::DEFAULT),
            Self::Bytes(b) if media_type.is_some_and(MediaType::is_text) => text(b),
            Self::Streamed(h) => match &h.small {
                Some(b) if image => Fingerprints::of_image(b, ImageBounds::DEFAULT),
                Some(b) if media_type.is_some_and(MediaType::is_text) => text(b),
                _ => Fingerprints::default(),
            },
            Self::Bytes(_) | Self::Digest { .. } => Fingerprints::default(),
        }
    }

    /// The statement's subject: the content's hashes (hashing it here when it came
    /// whole), size and media type (`media_type`, or the default for the form).
    ///
    /// # Errors
    /// `422` for empty content, or text with a media type that is not `text/*`.
    pub fn into_subject(
        self,
        media_type: Option<MediaType>,
        code: Option<ContentCode>,
    ) -> Result<Subject, RequestError> {
        let octet_stream = || MediaType::parse("application/octet-stream");
        let empty = |field: &str, what: &str| FieldError::new(field, format!("{what} must not be empty"));
        Ok(match self {
            Self::Text(text) => {
                if text.trim().is_empty() {
                    return Err(empty("text", "text").into());
                }
                let media_type = match media_type {
                    Some(m) if !m.is_text() => {
                        return Err(FieldError::new("media_type", "text content needs a text/* media type").into())
                    }
                    Some(m) => m,
                    None => MediaType::parse("text/plain; charset=utf-8")?,
                };
                Subject {
                    sha256: Sha256Digest::of(text.as_bytes()),
                    media_type,
                    size: Some(text.len() as u64),
                    normalized_text_sha256: Some(Normalization::V2.sha256(&text)),
                    iscc: code,
                }
            }
            Self::Bytes(bytes) => {
                if bytes.is_empty() {
                    return Err(empty("content_base64", "content").into());
                }
                let media_type = match media_type {
                    Some(m) => m,
                    None => octet_stream()?,
                };
                let normalized = if media_type.is_text() {
                    std::str::from_utf8(&bytes).ok().map(|t| Normalization::V2.sha256(t))
                } else {
                    None
                };
                Subject {
                    sha256: Sha256Digest::of(&bytes),
                    media_type,
                    size: Some(bytes.len() as u64),
                    normalized_text_sha256: normalized,
                    iscc: code,
                }
            }
            Self::Digest { sha256, size } => Subject {
                sha256,
                media_type: match media_type {
                    Some(m) => m,
                    None => octet_stream()?,
                },
                size,
                normalized_text_sha256: None,
                iscc: None,
            },
            Self::Streamed(hashed) => {
                if hashed.size == 0 {
                    return Err(RequestError::Content {
                        field: None,
                        message: "the request body is empty: send the asset's bytes".into(),
                    });
                }
                let media_type = match media_type {
                    Some(m) => m,
                    None => octet_stream()?,
                };
                // Only text small enough to have been kept is normalised (see
                // `content`): a larger text is stamped by its exact hash alone.
                let normalized = if media_type.is_text() { hashed.hashes().normalized_v2_sha256 } else { None };
                Subject {
                    sha256: hashed.sha256,
                    media_type,
                    size: Some(hashed.size),
                    normalized_text_sha256: normalized,
                    iscc: code,
                }
            }
        })
    }
}

impl StampMetadata {
    /// Checks every rule of the metadata (generator, disclosure, explanation, prompt),
    /// and keeps personal data out of every free-text field that reaches the log, so a
    /// streamed upload can be refused before its body is read.
    ///
    /// # Errors
    /// `422` naming the field at fault.
    pub fn validate(&self) -> Result<(), RequestError> {
        self.generator.validate()?;
        self.disclosure.validate()?;
        // The prompt is not among these: it is only ever hashed, never logged.
        let logged = [
            ("generator.provider", Some(self.generator.provider.as_str())),
            ("generator.model", Some(self.generator.model.as_str())),
            ("generator.model_version", self.generator.model_version.as_deref()),
            ("disclosure.text", Some(self.disclosure.text.as_str())),
            ("media_type", self.media_type.as_ref().map(MediaType::as_str)),
        ];
        for (field, value) in logged {
            if let Some(value) = value {
                pii::check(field, value)?;
            }
        }
        match (self.kind, &self.explanation) {
            (Kind::RecommendationExplanation, Some(e)) => {
                e.validate()?;
                pii::check_explanation(e)?;
            }
            (Kind::RecommendationExplanation, None) => {
                return Err(FieldError::new("explanation", "required for kind recommendation_explanation").into())
            }
            (_, Some(_)) => {
                return Err(FieldError::new("explanation", "only allowed for kind recommendation_explanation").into())
            }
            (_, None) => {}
        }
        if let Some(prompt) = &self.prompt {
            // Any character is allowed (prompts are hashed, never shown); only empty
            // and oversized prompts are refused.
            let chars = prompt.chars().count();
            if prompt.trim().is_empty() || chars > MAX_PROMPT_CHARS {
                return Err(FieldError::new(
                    "prompt",
                    format!("must be 1 to {MAX_PROMPT_CHARS} characters (got {chars}); omit it when there is none"),
                )
                .into());
            }
        }
        Ok(())
    }
}

/// Validates `req` and builds the statement for `issuer`. `salt` is the random salt to
/// commit to the prompt with (passed in so that this stays deterministic in tests).
///
/// # Errors
/// `400` for undecodable content, `422` naming the field for anything else.
pub fn prepare(
    req: StampRequest,
    issuer: IssuerName,
    salt: [u8; 32],
    issued_at: Timestamp,
) -> Result<PreparedStamp, RequestError> {
    let (content, metadata) = req.into_parts()?;
    let fingerprints = content.fingerprints(metadata.media_type.as_ref());
    prepare_content(content, metadata, fingerprints, issuer, salt, issued_at)
}

/// [`prepare`] for content already split from its metadata (a streamed upload): the
/// content hashed into the subject, then validation, defaults and the prompt commitment.
///
/// # Errors
/// As [`prepare`].
pub fn prepare_content(
    content: StampContent,
    metadata: StampMetadata,
    fingerprints: Fingerprints,
    issuer: IssuerName,
    salt: [u8; 32],
    issued_at: Timestamp,
) -> Result<PreparedStamp, RequestError> {
    let subject = content.into_subject(metadata.media_type.clone(), fingerprints.code)?;
    metadata.validate()?;
    let (prompt_commitment, prompt_salt) = match &metadata.prompt {
        Some(prompt) => (Some(prompt_commitment(&salt, prompt)), Some(salt)),
        None => (None, None),
    };
    let statement = Statement {
        statement_type: STATEMENT_TYPE,
        subject,
        kind: metadata.kind,
        digital_source_type: metadata
            .digital_source_type
            .unwrap_or_else(|| metadata.kind.default_digital_source_type()),
        generator: metadata.generator,
        prompt_commitment,
        disclosure: metadata.disclosure,
        human_oversight: metadata.human_oversight.unwrap_or_default(),
        issuer,
        issued_at,
        explanation: metadata.explanation,
    };
    Ok(PreparedStamp { statement, sentences: fingerprints.sentences, prompt_salt })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> StampRequest {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({
            "text": "Our new  running shoe.\n",
            "kind": "marketing_copy",
            "generator": {"provider": "ExampleAI", "model": "writer", "model_version": "2026-10"},
            "prompt": "write a slogan for a running shoe",
            "disclosure": {"text": "This text was generated with AI.", "lang": "en"}
        })
    }

    /// [`base`] naming its content by `sha256` alone.
    fn by_hash(sha256: &str) -> serde_json::Value {
        let mut v = base();
        v.as_object_mut().unwrap().remove("text");
        v["sha256"] = json!(sha256);
        v
    }

    fn issuer() -> IssuerName {
        IssuerName::parse("Acme").unwrap()
    }

    #[test]
    fn text_stamp_gets_hashes_defaults_and_commitment() {
        let salt = [7u8; 32];
        let p = prepare(req(base()), issuer(), salt, Timestamp::now()).unwrap();
        let s = &p.statement;
        assert_eq!(s.subject.sha256, Sha256Digest::of(b"Our new  running shoe.\n"));
        assert_eq!(s.subject.normalized_text_sha256, Some(Sha256Digest::of(b"Our new running shoe.")));
        assert_eq!(s.subject.media_type.as_str(), "text/plain; charset=utf-8");
        assert_eq!(s.digital_source_type, Kind::MarketingCopy.default_digital_source_type());
        assert_eq!(s.human_oversight, HumanOversight::None);
        assert_eq!(s.prompt_commitment, Some(prompt_commitment(&salt, "write a slogan for a running shoe")));
        assert_eq!(p.prompt_salt, Some(salt));
        let json = serde_json::to_string(s).unwrap();
        assert!(!json.contains("slogan"), "the prompt must never be in the statement: {json}");
    }

    #[test]
    fn commitment_is_salted_sha256_of_salt_then_prompt() {
        let salt = [1u8; 32];
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(b"hello");
        assert_eq!(prompt_commitment(&salt, "hello"), Sha256Digest::of(&bytes));
    }

    #[test]
    fn exactly_one_content_form() {
        let mut two = base();
        two["content_base64"] = json!("aGk=");
        assert!(matches!(prepare(req(two), issuer(), [0; 32], Timestamp::now()), Err(RequestError::Content { .. })));
        let mut none = base();
        none.as_object_mut().unwrap().remove("text");
        assert!(matches!(prepare(req(none), issuer(), [0; 32], Timestamp::now()), Err(RequestError::Content { .. })));
    }

    #[test]
    fn a_recorded_size_is_at_most_2_to_the_53_minus_1() {
        let mut v = by_hash(&"ab".repeat(32));
        v["size"] = json!(MAX_SIZE);
        let p = prepare(req(v.clone()), issuer(), [0; 32], Timestamp::now()).unwrap();
        assert_eq!(p.statement.subject.size, Some(MAX_SIZE));
        v["size"] = json!(MAX_SIZE + 1);
        match prepare(req(v), issuer(), [0; 32], Timestamp::now()) {
            Err(RequestError::Field(e)) => assert_eq!(e.field, "size"),
            other => panic!("{:?}", other.map(|p| p.statement)),
        }
    }

    #[test]
    fn a_size_is_a_whole_number_as_json_schema_reads_integer() {
        let mut v = by_hash(&"ab".repeat(32));
        for (sent, recorded) in [(json!(1234), Some(1234)), (json!(1234.0), Some(1234)), (json!(0), Some(0))] {
            v["size"] = sent.clone();
            let p = prepare(req(v.clone()), issuer(), [0; 32], Timestamp::now()).unwrap();
            assert_eq!(p.statement.subject.size, recorded, "{sent}");
        }
        for bad in [json!(-1), json!(1.5), json!("12"), json!(null), json!(1e300)] {
            v["size"] = bad.clone();
            let refused = serde_json::from_value::<StampRequest>(v.clone())
                .map_err(|e| e.to_string())
                .and_then(|r| prepare(r, issuer(), [0; 32], Timestamp::now()).map(|_| ()).map_err(|e| e.to_string()));
            assert!(refused.is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_base64_is_a_400() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("text");
        v["content_base64"] = json!("not base64!!");
        assert!(matches!(prepare(req(v), issuer(), [0; 32], Timestamp::now()), Err(RequestError::Base64(_))));
    }

    #[test]
    fn explanation_rules() {
        let mut v = base();
        v["kind"] = json!("recommendation_explanation");
        assert!(prepare(req(v.clone()), issuer(), [0; 32], Timestamp::now()).is_err());
        v["explanation"] = json!({"item": "sku-123", "factors": [{"name": "viewed similar items", "weight": 0.7}], "data_categories": ["browsing history"], "legal_basis": "consent"});
        let p = prepare(req(v), issuer(), [0; 32], Timestamp::now()).unwrap();
        assert_eq!(p.statement.digital_source_type, Kind::RecommendationExplanation.default_digital_source_type());
        let mut other = base();
        other["explanation"] = json!({"item": "x", "factors": [{"name": "y", "weight": 1}], "data_categories": [], "legal_basis": "consent"});
        assert!(prepare(req(other), issuer(), [0; 32], Timestamp::now()).is_err());
    }

    #[test]
    fn streamed_content_gets_the_same_subject_as_content_sent_whole() {
        let text = "Our new  running shoe.\n";
        let mut whole = base();
        whole.as_object_mut().unwrap().remove("text");
        whole["content_base64"] = json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text));
        whole["media_type"] = json!("text/plain");
        let from_json = prepare(req(whole.clone()), issuer(), [3; 32], Timestamp::now()).unwrap();

        let (_, metadata) = req(whole).into_parts().unwrap();
        let hashed = StampContent::Streamed(crate::content::hash_reader(text.as_bytes(), 1024).unwrap());
        let fingerprints = hashed.fingerprints(metadata.media_type.as_ref());
        assert_eq!(fingerprints.code, from_json.statement.subject.iscc, "the same Text-Code either way");
        assert!(fingerprints.code.is_some());
        let streamed =
            prepare_content(hashed, metadata.clone(), fingerprints, issuer(), [3; 32], Timestamp::now()).unwrap();
        assert_eq!(streamed.statement.subject, from_json.statement.subject);
        assert_eq!(streamed.statement.prompt_commitment, from_json.statement.prompt_commitment);

        // Too big to have been kept: the exact hash and size only.
        let big = crate::content::hash_reader(text.as_bytes(), 4).unwrap();
        let subject = StampContent::Streamed(big).into_subject(metadata.media_type.clone(), None).unwrap();
        assert_eq!((subject.sha256, subject.size), (Sha256Digest::of(text.as_bytes()), Some(text.len() as u64)));
        assert_eq!(subject.normalized_text_sha256, None);

        let empty = crate::content::hash_reader(&b""[..], 4).unwrap();
        assert!(matches!(StampContent::Streamed(empty).into_subject(None, None), Err(RequestError::Content { .. })));
    }

    #[test]
    fn metadata_is_validated_alone_and_never_prints_the_prompt() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("text");
        let mut metadata: StampMetadata = serde_json::from_value(v.clone()).unwrap();
        metadata.validate().unwrap();
        assert!(!format!("{metadata:?}").contains("slogan"));
        metadata.prompt = Some("  ".into());
        assert!(matches!(metadata.validate(), Err(RequestError::Field(FieldError { field, .. })) if field == "prompt"));
        v["text"] = json!("content is not metadata");
        assert!(serde_json::from_value::<StampMetadata>(v).is_err(), "content fields are unknown fields here");
    }

    #[test]
    fn personal_data_is_refused_in_every_logged_field_but_not_in_the_prompt() {
        let cases = [
            ("/disclosure/text", "Questions? jane.doe@example.com", "disclosure.text"),
            ("/generator/provider", "ExampleAI, call +1 555 123 4567", "generator.provider"),
            ("/generator/model", "jane at example dot com", "generator.model"),
            ("/generator/model_version", "jane(at)example.com", "generator.model_version"),
            ("/media_type", "text/plain; owner=\"jane@example.com\"", "media_type"),
        ];
        for (pointer, value, field) in cases {
            let mut v = base();
            v["media_type"] = json!("text/plain");
            *v.pointer_mut(pointer).unwrap() = json!(value);
            match prepare(req(v), issuer(), [0; 32], Timestamp::now()) {
                Err(RequestError::PersonalData(e)) => assert_eq!(e.field, field, "{value}"),
                other => panic!("{field} = {value:?}: {:?}", other.map(|p| p.statement)),
            }
        }
        let mut v = base();
        v["prompt"] = json!("a slogan for jane.doe@example.com, +44 20 7946 0958");
        assert!(prepare(req(v), issuer(), [0; 32], Timestamp::now()).is_ok(), "the prompt is hashed, never logged");
    }

    #[test]
    fn content_errors_name_the_field_to_fix() {
        let mut two = base();
        two["sha256"] = json!("ab".repeat(32));
        match prepare(req(two), issuer(), [0; 32], Timestamp::now()) {
            Err(RequestError::Content { field, message }) => {
                assert_eq!(field, Some("sha256"));
                assert!(message.contains("not text and sha256"), "{message}");
            }
            other => panic!("{:?}", other.map(|p| p.statement)),
        }
    }

    #[test]
    fn an_upper_case_sha256_is_stamped_in_lower_case() {
        let v = by_hash(&"AB".repeat(32));
        let p = prepare(req(v), issuer(), [0; 32], Timestamp::now()).unwrap();
        assert_eq!(p.statement.subject.sha256.to_hex(), "ab".repeat(32));
    }

    #[test]
    fn debug_output_never_shows_the_prompt() {
        let shown = format!("{:?}", req(base()));
        assert!(!shown.contains("slogan") && !shown.contains("running shoe"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut v = base();
        v["colour"] = json!("blue");
        assert!(serde_json::from_value::<StampRequest>(v).is_err());
    }
}
