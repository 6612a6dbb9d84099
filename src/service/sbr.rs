//! The C2PA Soft Binding Resolution API (the specification's decoupled-manifest chapter):
//! which stamps match a soft binding value or an asset, and the manifest store of a
//! stamped image or text. Public, limited per client address, its image decodes in the
//! public slots (`decodes`).

use std::sync::Arc;

use futures_util::Stream;

use super::credentials::no_c2pa_certificate;
use super::{blocking, limit, Service};
use crate::api::{SbrMatch, SbrMatches};
use crate::content::ContentHashes;
use crate::credentials::detached;
use crate::error::ApiError;
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::{ContentCode, Fingerprints};
use crate::log::LogIndex;
use crate::statement::receipt::StampId;
use crate::statement::MediaType;

/// The prefix of the log setting that keeps a stamp's detached manifest store.
const MANIFEST_SETTING: &str = "sbr-manifest/";

/// Default and largest `maxResults`.
pub(crate) const DEFAULT_RESULTS: usize = 10;
pub(crate) const MAX_RESULTS: usize = 100;

impl Service {
    /// Spends one public lookup of `client`'s allowance.
    ///
    /// # Errors
    /// `429` past the lookup rate (`--lookup-rate`).
    pub async fn spend_lookup(&self, client: &str) -> Result<(), ApiError> {
        limit(&self.lookup_limiter, client).await
    }

    /// Stamps whose Content-Code is near one of `codes` (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn matches_by_codes(&self, codes: &[ContentCode], max_results: usize) -> Result<SbrMatches, ApiError> {
        let mut all = Vec::new();
        for code in codes {
            let fingerprints = Fingerprints { code: Some(*code), sentences: Vec::new() };
            all.extend(
                self.similar_stamps(&fingerprints, max_results)?
                    .into_iter()
                    .map(|s| SbrMatch { manifest_id: s.stamp_id.to_string(), similarity_score: s.similarity }),
            );
        }
        Ok(best_first(all, max_results))
    }

    /// Stamps of an asset streamed in `body` with media type `media_type`: exactly (by
    /// its hashes, score 100), then by its fingerprints.
    ///
    /// # Errors
    /// `413` for an asset past what this service fingerprints, `415` for a media type it
    /// cannot fingerprint, `422` for an empty body, `503` when the decode slots stay busy.
    pub async fn matches_by_content<S, B, E>(
        self: &Arc<Self>,
        media_type: &MediaType,
        declared: Option<u64>,
        body: S,
        max_results: usize,
    ) -> Result<SbrMatches, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        let keep = if media_type.is_image() {
            ImageBounds::DEFAULT.max_bytes as usize
        } else if media_type.is_text() {
            self.max_text_bytes
        } else {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{}: this service fingerprints images (image/*) and text (text/*)",
                media_type.as_str()
            )));
        };
        if declared.is_some_and(|n| n > keep as u64) {
            return Err(too_large(keep));
        }
        let hashed = self.hash_body(declared, body, keep).await?;
        if hashed.size == 0 {
            return Err(ApiError::unprocessable(
                "invalid_content",
                "the request body is empty: send the asset's bytes",
            ));
        }
        let hashes = hashed.hashes();
        let Some(bytes) = hashed.small else { return Err(too_large(keep)) };
        let this = self.clone();
        if media_type.is_image() {
            let fingerprints = Fingerprints { code: self.public_image_code(bytes).await?, sentences: Vec::new() };
            return blocking(move || this.matches_of(&hashes, &fingerprints, max_results)).await;
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            ApiError::unprocessable("invalid_content", "the body is not UTF-8 text, as its text/* type says")
        })?;
        // A text's fingerprints cost time in proportion to it: off the async worker.
        blocking(move || this.matches_of(&hashes, &Fingerprints::of_text(&text), max_results)).await
    }

    /// The detached C2PA manifest store of stamp `id`, an image or a text (`GET
    /// /sbr/v1/manifests/{manifestId}`), blocking. Made and signed once, at the first
    /// request, and kept in the log's settings (`sbr-manifest/<id>`) by a claim that the
    /// first writer wins: every later request, on every node, answers the same bytes, and
    /// no anonymous request costs a signature after the first.
    ///
    /// # Errors
    /// `404` when no stamp has this id, or when the stamp is of neither an image nor a
    /// text (by its `media_type`); `503` when
    /// the statement key in use has no C2PA certificate; `500` on storage failure.
    pub fn sbr_manifest(&self, id: &StampId) -> Result<Vec<u8>, ApiError> {
        let index = self.published_index(id, &self.log.latest_checkpoint())?;
        let name = format!("{MANIFEST_SETTING}{id}");
        if let Some(stored) = self.log.setting(&name)? {
            return Ok(stored);
        }
        let statement = self.signed_statement_at(id, index)?.statement;
        let media_type = &statement.subject.media_type;
        if !media_type.is_image() && !media_type.is_text() {
            return Err(ApiError::NotFound(format!(
                "stamp {id} is of {}: this service makes C2PA manifests for stamped images and texts only",
                media_type.as_str()
            )));
        }
        let link = self.stamp_link(&statement, id, index);
        let made = self.signing.sign_c2pa(|key, leaf| {
            let leaf = leaf.ok_or_else(no_c2pa_certificate)?;
            detached(&statement, &link, key, leaf)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("signing the C2PA manifest of stamp {id}: {e}")))
        })?;
        let stored = self.log.claim_setting(&name, &made)?;
        tracing::info!(%id, size = stored.len(), "made the detached C2PA manifest of a stamp");
        Ok(stored)
    }

    fn matches_of(
        &self,
        hashes: &ContentHashes,
        fingerprints: &Fingerprints,
        max_results: usize,
    ) -> Result<SbrMatches, ApiError> {
        let (exact, _) = self.find_hashes(hashes, max_results)?;
        let mut all: Vec<SbrMatch> = exact
            .into_iter()
            .map(|i: LogIndex| {
                Ok(SbrMatch {
                    manifest_id: self.log.leaf_hash(i).map_err(ApiError::internal)?.to_string(),
                    similarity_score: 100,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        all.extend(
            self.similar_stamps(fingerprints, max_results)?
                .into_iter()
                .map(|s| SbrMatch { manifest_id: s.stamp_id.to_string(), similarity_score: s.similarity }),
        );
        Ok(best_first(all, max_results))
    }
}

/// Best score first, each manifest once (at its best score), at most `max`.
fn best_first(mut all: Vec<SbrMatch>, max: usize) -> SbrMatches {
    all.sort_by(|a, b| b.similarity_score.cmp(&a.similarity_score).then(a.manifest_id.cmp(&b.manifest_id)));
    let mut seen = std::collections::HashSet::new();
    all.retain(|m| seen.insert(m.manifest_id.clone()));
    all.truncate(max);
    SbrMatches { matches: all }
}

fn too_large(keep: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("this service fingerprints assets of at most {keep} bytes"))
}
