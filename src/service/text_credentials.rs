//! Content Credentials for text: a text stamped, and returned carrying a C2PA manifest
//! in C2PA's invisible text wrapper (`POST /v1/credentials` with `text/plain`,
//! docs/contract.md §8.1).
//!
//! The text is read whole (it is at most `--max-json-bytes`, as any stamped text), put
//! in NFC, stamped exactly as `POST /v1/stamps` stamps `text` (so lookups, fingerprints
//! and the similarity index treat it like any stamped text), and the manifest that
//! names the stamp is appended. A text that already carries a wrapper is refused before
//! anything is stamped: replacing someone's credentials would erase their provenance.

use std::sync::Arc;

use futures_util::Stream;

use super::{blocking, limit, Service};
use crate::api::StampResponse;
use crate::content::{hash_stream, StreamLimits};
use crate::credentials::text::{embed, nfc, unwrap};
use crate::error::ApiError;
use crate::fingerprint::Fingerprints;
use crate::records::tokens::Principal;
use crate::statement::request::{prepare_content, StampContent, StampMetadata};
use crate::statement::{Kind, MediaType};

/// The media type of a credentialed text, and of the stamp's `media_type`.
pub(crate) const TEXT_CREDENTIAL_MEDIA_TYPE: &str = "text/plain; charset=utf-8";

/// A text with its credentials, and the stamp they link to.
#[derive(Debug)]
pub struct CredentialedText {
    /// The text (NFC) followed by its C2PA text wrapper.
    pub text: String,
    /// The stamp of the text (NFC, without the wrapper), with the prompt salt when a
    /// prompt was given.
    pub stamp: StampResponse,
}

impl Service {
    /// Stamps the UTF-8 text streamed in `body` (put in NFC) and returns it followed by
    /// a C2PA manifest, signed with the statement key, that links to the stamp.
    ///
    /// # Errors
    /// As [`Service::stamp`]; `413` past `--max-json-bytes`; `422 invalid_metadata` for
    /// a `kind` that is not text or a `media_type` other than `text/plain`; `422
    /// invalid_content` for a body that is empty, not UTF-8, or already credentialed;
    /// `503` when the active statement key has no C2PA certificate.
    pub async fn credential_text<S, B, E>(
        self: &Arc<Self>,
        who: Principal,
        mut metadata: StampMetadata,
        declared: Option<u64>,
        body: S,
    ) -> Result<CredentialedText, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        limit(&self.stamp_limiter, who.token_id.as_str()).await?;
        metadata.validate()?;
        check_text_metadata(&mut metadata)?;
        self.require_c2pa_certificate()?;
        let text = self.read_text(declared, body).await?;
        let fingerprints = Fingerprints::of_text(&text);
        let content = StampContent::Text(text.clone());
        let stamp = self
            .sign_and_append(who.issuer, move |issuer, salt, at| {
                prepare_content(content, metadata, fingerprints, issuer, salt, at)
            })
            .await?;
        let link = self.stamp_link(&stamp.receipt.statement, &stamp.receipt.id, stamp.receipt.log.index);
        let statement = stamp.receipt.statement.clone();
        let this = self.clone();
        let text = blocking(move || {
            this.signing
                .sign_c2pa(|key, leaf| {
                    let leaf = leaf.ok_or_else(|| c2pa::Error::BadParam("no C2PA certificate".into()))?;
                    embed(&text, &statement, &link, key, leaf)
                })
                .map_err(|e| {
                    // The stamp is made and stays valid; only its credentialed copy failed.
                    tracing::error!(id = %link.stamp_id, error = %e, "stamped, but signing the text's C2PA manifest failed");
                    ApiError::internal(anyhow::anyhow!("the text manifest of stamp {}: {e}", link.stamp_id))
                })
        })
        .await?;
        tracing::info!(id = %stamp.receipt.id, size = text.len(), "text credentialed");
        Ok(CredentialedText { text, stamp })
    }

    /// The body as NFC text, read whole under `--max-json-bytes`.
    async fn read_text<S, B, E>(&self, declared: Option<u64>, body: S) -> Result<String, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        let max = self.max_text_bytes;
        if let Some(n) = declared.filter(|n| *n > max as u64) {
            return Err(ApiError::PayloadTooLarge(format!(
                "Content-Length announces {n} bytes; this service gives credentials to texts of at most {max} bytes \
                 (--max-json-bytes)"
            )));
        }
        let limits = StreamLimits { max_bytes: max as u64, ..self.upload_limits };
        let hashed = hash_stream(body, limits, max).await?;
        let bytes = hashed.small.unwrap_or_default();
        if bytes.is_empty() {
            return Err(ApiError::unprocessable("invalid_content", "the body is empty: send the text's bytes"));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            ApiError::unprocessable(
                "invalid_content",
                format!(
                    "the body is not UTF-8 text (byte {} is not UTF-8): text credentials are made for UTF-8 text",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        match unwrap(&text) {
            Ok(None) => Ok(nfc(&text)),
            Ok(Some(_)) | Err(_) => Err(ApiError::unprocessable(
                "invalid_content",
                "the text already carries C2PA Content Credentials (a C2PATXT wrapper of invisible characters): \
                 send it without them, or verify it with POST /v1/verify",
            )),
        }
    }
}

/// Text credentials are for text: `kind` must not be image, video or audio, and a
/// `media_type` in the metadata must be `text/plain` (UTF-8). Sets it to
/// [`TEXT_CREDENTIAL_MEDIA_TYPE`].
fn check_text_metadata(metadata: &mut StampMetadata) -> Result<(), ApiError> {
    if matches!(metadata.kind, Kind::Image | Kind::Video | Kind::Audio) {
        return Err(ApiError::Unprocessable {
            code: "invalid_metadata",
            field: Some("kind".into()),
            message: format!(
                "kind: a text/plain body is a text: use \"marketing_copy\", \"recommendation_explanation\" or \"other\", \
                 not \"{}\"",
                metadata.kind.as_str()
            ),
        });
    }
    if let Some(given) = &metadata.media_type {
        if !given.is_utf8_plain_text() {
            return Err(ApiError::Unprocessable {
                code: "invalid_metadata",
                field: Some("media_type".into()),
                message: format!(
                    "media_type: {} does not match the request's Content-Type {TEXT_CREDENTIAL_MEDIA_TYPE}; leave it out",
                    given.as_str()
                ),
            });
        }
    }
    metadata.media_type = Some(MediaType::parse(TEXT_CREDENTIAL_MEDIA_TYPE).map_err(ApiError::internal)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(kind: &str, media_type: Option<&str>) -> StampMetadata {
        let mut value = serde_json::json!({
            "kind": kind,
            "generator": {"provider": "ExampleAI", "model": "writer"},
            "disclosure": {"text": "Written with AI.", "lang": "en"},
        });
        if let Some(m) = media_type {
            value["media_type"] = m.into();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn text_kinds_and_plain_utf8_text_are_taken_and_the_media_type_is_set() {
        for (kind, given) in [
            ("marketing_copy", None),
            ("recommendation_explanation", Some("text/plain")),
            ("other", Some("TEXT/PLAIN; charset=UTF-8")),
        ] {
            let mut m = metadata(kind, given);
            check_text_metadata(&mut m).unwrap();
            assert_eq!(m.media_type.unwrap().as_str(), TEXT_CREDENTIAL_MEDIA_TYPE);
        }
    }

    #[test]
    fn media_kinds_and_other_media_types_are_refused_naming_the_field() {
        for (kind, given, field) in [
            ("image", None, "kind"),
            ("audio", None, "kind"),
            ("marketing_copy", Some("text/html"), "media_type"),
            ("marketing_copy", Some("text/plain; charset=iso-8859-1"), "media_type"),
        ] {
            match check_text_metadata(&mut metadata(kind, given)) {
                Err(ApiError::Unprocessable { field: Some(f), .. }) => assert_eq!(f, field, "{kind} {given:?}"),
                other => panic!("{kind} {given:?}: {other:?}"),
            }
        }
    }
}
