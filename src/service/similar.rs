//! Stamps of content that is not the stamped content itself but close to it: by the
//! ISCC Content-Code within the kind's threshold, and by the sentences of a text
//! (docs/contract.md §12). What the verdicts and the Soft Binding Resolution API list.

use std::collections::BTreeMap;

use super::decodes::DecodePool;
use super::Service;
use crate::api::SimilarStamp;
use crate::credentials::ImageFormat;
use crate::error::ApiError;
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::{max_distance, similarity, ContentCode, Fingerprints, ISCC_ALG, SENTENCE_ALG};
use crate::log::LogIndex;
use crate::statement::receipt::StampId;

/// Most sentences of a verified text looked up one by one.
const MAX_QUERY_SENTENCES: usize = 32;

/// What a verifier presented, for the similar lookup when nothing matched exactly.
pub(crate) enum Probe {
    /// Only a hash: nothing to compare.
    Nothing,
    /// Text, or bytes that may be text or an image.
    Bytes(Vec<u8>),
}

/// One match before its statement is read.
struct Found {
    algorithm: &'static str,
    distance: Option<u32>,
    similarity: u8,
}

impl Service {
    /// The fingerprints of what a verifier presented (blocking): text's at once, an
    /// image's in the public decode slots.
    ///
    /// # Errors
    /// `503` when every public decode slot stayed busy.
    pub(super) fn probe_fingerprints(&self, probe: Probe) -> Result<Fingerprints, ApiError> {
        Ok(match probe {
            Probe::Nothing => Fingerprints::default(),
            Probe::Bytes(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => Fingerprints::of_text(text),
                Err(_) if ImageFormat::sniff(&bytes).is_some() || looks_like_image(&bytes) => {
                    let code = tokio::runtime::Handle::current().block_on(self.public_image_code(bytes))?;
                    Fingerprints { code, sentences: Vec::new() }
                }
                Err(_) => Fingerprints::default(),
            },
        })
    }

    /// The Content-Code of an image file's bytes, decoded in the public slots (async).
    ///
    /// # Errors
    /// `503` when every public decode slot stayed busy.
    pub(super) async fn public_image_code(&self, bytes: Vec<u8>) -> Result<Option<ContentCode>, ApiError> {
        let started = std::time::Instant::now();
        let fingerprints = self
            .decodes
            .run(DecodePool::Public, &self.metrics, move || Fingerprints::of_image(&bytes, ImageBounds::DEFAULT))
            .await?;
        self.metrics.fingerprinted(started.elapsed(), fingerprints.code.is_some());
        Ok(fingerprints.code)
    }

    /// Stamps similar to content with `fingerprints`: most similar first, then newest,
    /// at most `limit`, among those the newest checkpoint covers (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub(crate) fn similar_stamps(
        &self,
        fingerprints: &Fingerprints,
        limit: usize,
    ) -> Result<Vec<SimilarStamp>, ApiError> {
        let started = std::time::Instant::now();
        let mut found: BTreeMap<LogIndex, Found> = BTreeMap::new();
        let mut better = |index: LogIndex, candidate: Found| {
            let keep = found.get(&index).is_none_or(|f| f.similarity < candidate.similarity);
            if keep {
                found.insert(index, candidate);
            }
        };
        if let Some(code) = &fingerprints.code {
            let (similar, _) = self.log.find_similar(code, max_distance(code.kind()), limit)?;
            for s in similar {
                let f = Found { algorithm: ISCC_ALG, distance: Some(s.distance), similarity: similarity(s.distance) };
                better(s.index, f);
            }
        }
        let sentences = &fingerprints.sentences[..fingerprints.sentences.len().min(MAX_QUERY_SENTENCES)];
        let mut hits: BTreeMap<LogIndex, usize> = BTreeMap::new();
        for sentence in sentences {
            let (indices, _) = self.log.find_sentences(std::slice::from_ref(sentence), limit)?;
            for index in indices {
                *hits.entry(index).or_default() += 1;
            }
        }
        for (index, n) in hits {
            let share = (n * 100 / sentences.len().max(1)).min(100) as u8;
            better(index, Found { algorithm: SENTENCE_ALG, distance: None, similarity: share });
        }
        let mut ranked: Vec<(LogIndex, Found)> = found.into_iter().collect();
        ranked.sort_by(|a, b| b.1.similarity.cmp(&a.1.similarity).then(b.0.cmp(&a.0)));
        ranked.truncate(limit);
        let mut stamps = Vec::with_capacity(ranked.len());
        for (index, f) in ranked {
            let (signed, bytes) = self.indexed_leaf(index)?;
            let st = signed.statement;
            stamps.push(SimilarStamp {
                stamp_id: StampId(crate::log::merkle::leaf_hash(&bytes)),
                issuer: st.issuer.to_string(),
                kind: st.kind,
                issued_at: st.issued_at,
                disclosure: st.disclosure,
                algorithm: f.algorithm.to_owned(),
                distance: f.distance,
                similarity: f.similarity,
            });
        }
        self.metrics.looked_up_similar(started.elapsed());
        Ok(stamps)
    }
}

/// Formats the image decoder reads that [`ImageFormat`] (the C2PA formats) does not
/// name: GIF.
fn looks_like_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")
}
