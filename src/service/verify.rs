//! Verification: a verdict for content (inline, uploaded or fetched by URL) and/or a
//! receipt, checked against this service's keys and log.

use std::sync::Arc;

use std::io::Seek;

use futures_util::{Stream, StreamExt};

use super::similar::Probe;
use super::{blocking, Service};
use crate::api::SimilarStamp;
use crate::api::{VerifyRequest, VerifyResponse};
use crate::content::{hash_stream_into, ContentHashes};
use crate::credentials::{self, Asset, Credential, ImageFormat};
use crate::error::ApiError;
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::Fingerprints;
use crate::log::checkpoint::Checkpoint;
use crate::statement::receipt::StampId;
use crate::statement::request::named_if_given;
use crate::verify::{credential, verify_own_receipt, verify_receipt_with, Check, Consistency, Verdict};
use crate::Sha256Digest;

/// What [`Service::credential_verdict`] makes of an asset (not to be confused with
/// `credentials::Credentialed`, an image given credentials).
enum CredentialVerdict {
    /// It carries Content Credentials, or a manifest that cannot be read: the verdict.
    Verdict(Box<VerifyResponse>),
    /// It carries none: its bytes, handed back.
    None(Vec<u8>),
}

/// Longest `url` to verify (characters): far beyond any real page's address, short
/// enough that no one sends the service a novel to parse.
const MAX_URL: usize = 8192;

impl Service {
    /// Whether this service verifies content by URL (not `--fetch-disabled`): its API
    /// document offers `url` only then.
    pub fn fetches_urls(&self) -> bool {
        !self.fetch.disabled
    }

    /// Refuses a request with more than one content form (`url` included), naming the
    /// second, a `url` over [`MAX_URL`] characters, and a receipt that carries its prompt
    /// salt.
    fn check_request(req: &VerifyRequest) -> Result<(), ApiError> {
        let given = named_if_given([
            ("text", req.text.is_some()),
            ("content_base64", req.content_base64.is_some()),
            ("sha256", req.sha256.is_some()),
            ("url", req.url.is_some()),
        ]);
        if req.url.as_ref().is_some_and(|u| u.chars().count() > MAX_URL) {
            let message = format!("url: at most {MAX_URL} characters");
            return Err(ApiError::unprocessable("invalid_url", message).with_field("url"));
        }
        if let [_, second, ..] = given[..] {
            let message = format!(
                "send the content as at most one of text, content_base64, sha256 or url, not {}",
                given.join(" and ")
            );
            return Err(ApiError::unprocessable("invalid_content", message).with_field(second));
        }
        // The salt is the issuer's secret (docs/contract.md §2.7): a public endpoint must
        // not take it, even to ignore it, or clients learn to send it to any verifier.
        if req.receipt.as_ref().is_some_and(|r| r.0.get("prompt_salt").is_some()) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "receipt.prompt_salt: remove prompt_salt before sending a receipt to be verified. It is the \
                 secret of the prompt commitment, returned once to the issuer; verification does not use it, \
                 and no one else should see it. GET /v1/stamps/{id} gives the public receipt.",
            )
            .with_field("receipt.prompt_salt"));
        }
        Ok(())
    }

    /// The hashes of the content of `req` given as `text`, `content_base64` or `sha256`
    /// (CPU work for large base64: call it off the executor).
    fn content_of(req: &mut VerifyRequest) -> Result<(Option<ContentHashes>, Probe), ApiError> {
        Ok(if let Some(text) = req.text.take() {
            (Some(ContentHashes::of_text(&text)), Probe::Bytes(text.into_bytes()))
        } else if let Some(b64) = &req.content_base64 {
            let bytes = crate::content::decode_base64(b64).map_err(|e| {
                let message = format!("content_base64 is not valid standard base64: {e}");
                ApiError::bad_request("invalid_base64", message).with_field("content_base64")
            })?;
            (Some(ContentHashes::of_bytes(&bytes)), Probe::Bytes(bytes))
        } else {
            (req.sha256.map(ContentHashes::of_sha256), Probe::Nothing)
        })
    }

    /// A verdict for every form of `POST /v1/verify`: content and/or a receipt, the
    /// content given inline or as a `url`, which is fetched under the fetch limits and
    /// its body verified as content. Anything wrong with the receipt itself is a failed
    /// check, never an error.
    ///
    /// # Errors
    /// `4xx` when the request holds nothing to verify, more than one content form,
    /// undecodable content or a receipt with its `prompt_salt`, and the fetch errors of
    /// [`crate::content::fetch::FetchError`].
    pub async fn verify_request(self: &Arc<Self>, mut req: VerifyRequest) -> Result<VerifyResponse, ApiError> {
        Self::check_request(&req)?;
        let receipt = req.receipt.take().map(|r| r.0);
        let this = self.clone();
        let Some(url) = req.url.take() else {
            return blocking(move || {
                let (content, probe) = Self::content_of(&mut req)?;
                this.verify_hashes(content, receipt, probe)
            })
            .await;
        };
        let fetched = crate::content::fetch::fetch(&url, &self.fetch, self.max_text_bytes).await?;
        tracing::debug!(
            host = fetched.final_url.host_str().unwrap_or_default(),
            size = fetched.content.size,
            "URL fetched for verification"
        );
        let hashes = fetched.content.hashes();
        let probe = fetched.content.small.map_or(Probe::Nothing, Probe::Bytes);
        blocking(move || this.verify_hashes(Some(hashes), receipt, probe)).await
    }

    /// A verdict for a body streamed in `body`, hashed chunk by chunk (the exact hash,
    /// and the normalised text hash when it is small UTF-8 text), as content-only
    /// [`Service::verify_request`].
    ///
    /// # Errors
    /// `413` past the upload limit; `422` for an empty body, which no stamp can be of
    /// (stamping refuses empty content).
    pub async fn verify_upload<S, B, E>(
        self: &Arc<Self>,
        declared: Option<u64>,
        body: S,
    ) -> Result<VerifyResponse, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        // An image is spooled so that its C2PA manifest can be read afterwards; anything
        // else is only hashed, as it streams.
        let mut body = Box::pin(body.peekable());
        let first = tokio::time::timeout(self.upload_limits.idle, body.as_mut().peek()).await;
        let format = match first {
            Ok(Some(Ok(chunk))) => ImageFormat::sniff(chunk.as_ref()),
            _ => None,
        };
        let this = self.clone();
        let Some(format) = format else {
            let hashed = self.hash_body(declared, body, self.max_text_bytes).await?;
            if hashed.size == 0 {
                let message = "the request body is empty: send the bytes of the content to verify";
                return Err(ApiError::unprocessable("invalid_content", message));
            }
            let hashes = hashed.hashes();
            let probe = hashed.small.map_or(Probe::Nothing, Probe::Bytes);
            return blocking(move || this.verify_hashes(Some(hashes), None, probe)).await;
        };
        self.refuse_announced(declared)?;
        let file = tempfile::tempfile_in(&self.spool_dir).map_err(ApiError::internal)?;
        let (hashed, file) = hash_stream_into(body, self.upload_limits, 0, file).await?;
        blocking(move || this.verify_image(hashed.hashes(), hashed.size, format, file)).await
    }

    /// A verdict for an uploaded image (blocking): by its hash when it is stamped as it
    /// is, else by its Content Credentials when it carries any (docs/contract.md §8).
    fn verify_image(
        &self,
        hashes: ContentHashes,
        size: u64,
        format: ImageFormat,
        mut file: std::fs::File,
    ) -> Result<VerifyResponse, ApiError> {
        let (indices, _) = self.find_hashes(&hashes, 1)?;
        if !indices.is_empty() || size > self.max_image_bytes {
            return self.verify_hashes(Some(hashes), None, Probe::Nothing);
        }
        file.seek(std::io::SeekFrom::Start(0)).map_err(ApiError::internal)?;
        let mut bytes = Vec::new();
        if size <= ImageBounds::DEFAULT.max_bytes {
            std::io::Read::read_to_end(&mut file, &mut bytes).map_err(ApiError::internal)?;
            file.seek(std::io::SeekFrom::Start(0)).map_err(ApiError::internal)?;
        }
        let started = std::time::Instant::now();
        let read = credentials::read(format, std::io::BufReader::new(file), &self.trust().c2pa_roots);
        match self.credential_verdict(Asset::Image, read, bytes)? {
            CredentialVerdict::Verdict(answer) => {
                self.metrics.verified(started.elapsed());
                Ok(*answer)
            }
            CredentialVerdict::None(bytes) => self.verify_hashes(Some(hashes), None, Probe::Bytes(bytes)),
        }
    }

    /// A verdict for an asset that carries Content Credentials (blocking), from what
    /// reading them gave (`read`) and the asset's bytes, which look for similar stamps
    /// when the asset changed after its credentials were signed. Handed back without a
    /// verdict when the asset has no credentials.
    fn credential_verdict(
        &self,
        asset: Asset,
        read: Result<Option<Credential>, credentials::ReadError>,
        bytes: Vec<u8>,
    ) -> Result<CredentialVerdict, ApiError> {
        let trust = self.trust();
        let credential = match read {
            Ok(None) => return Ok(CredentialVerdict::None(bytes)),
            Ok(Some(c)) => c,
            Err(e) => {
                let verdict = Verdict::from_checks(vec![credential::unreadable_check(asset, &e)], None);
                return Ok(CredentialVerdict::Verdict(Box::new(VerifyResponse {
                    verdict,
                    matches: Vec::new(),
                    similar: Vec::new(),
                })));
            }
        };
        let (check, link) = credential::credential_check(&credential, &trust);
        let mut checks = vec![check];
        checks.extend(credential::c2pa_checks(&credential));
        let mut matches = Vec::new();
        let mut stamp = None;
        let mut edited = false;
        if let Some(link) = link {
            let checkpoint = self.log.latest_checkpoint();
            let found = Sha256Digest::from_hex(&link.stamp_id)
                .ok()
                .map(StampId)
                .and_then(|id| self.published_index(&id, &checkpoint).ok());
            match found {
                None => checks.push(credential::stamp_unknown_check(&link)),
                Some(index) => {
                    let (receipt, leaf) = self.receipt_and_leaf_at(index, &checkpoint)?;
                    let (receipt_checks, summary) =
                        verify_own_receipt(&receipt, &leaf, None, &trust, Some(&self.checks));
                    let content = credential::content_check(&credential, &link, &receipt);
                    edited = !content.passed && link.stamp_id == receipt.id.to_string();
                    checks.extend(credential::with_content(receipt_checks, content));
                    matches.push(receipt.id);
                    stamp = summary;
                }
            }
        }
        let mut verdict = Verdict::from_checks(checks, stamp);
        let mut similar = Vec::new();
        if edited {
            if let Some(s) = &verdict.stamp {
                let noun = asset.noun();
                let how = match asset {
                    Asset::Image => "re-encoded, resized or edited",
                    Asset::Text => "words or characters edited, added or removed",
                };
                verdict.summary = format!(
                    "Edited after its disclosure was made: this {noun}'s Content Credentials name a stamp that \"{}\" \
                     issued on {} for the original {noun}, but it changed after the credentials were signed ({how}). \
                     It is not the stamped {noun} itself.",
                    s.issuer,
                    s.issued_at.to_rfc3339().get(..10).unwrap_or_default()
                );
            }
            similar = self.similar_stamps(&self.probe_fingerprints(Probe::Bytes(bytes))?, 10)?;
        }
        Ok(CredentialVerdict::Verdict(Box::new(VerifyResponse { verdict, matches, similar })))
    }

    /// A verdict for content known by its hashes and/or a receipt (blocking).
    ///
    /// # Errors
    /// `422` when there is neither; storage failures.
    pub(crate) fn verify_hashes(
        &self,
        content: Option<ContentHashes>,
        receipt: Option<serde_json::Value>,
        probe: Probe,
    ) -> Result<VerifyResponse, ApiError> {
        let started = std::time::Instant::now();
        let answer = self.verdict(content, receipt, probe);
        if answer.is_ok() {
            self.metrics.verified(started.elapsed());
        }
        answer
    }

    fn verdict(
        &self,
        content: Option<ContentHashes>,
        receipt: Option<serde_json::Value>,
        probe: Probe,
    ) -> Result<VerifyResponse, ApiError> {
        if let Some(receipt) = &receipt {
            let (mut checks, stamp) = verify_receipt_with(
                receipt,
                content.as_ref(),
                &self.trust(),
                self.witness_policy(),
                Some(&self.checks),
            );
            checks.extend(self.fork_check(receipt)?);
            return Ok(VerifyResponse {
                verdict: Verdict::from_checks(checks, stamp),
                matches: Vec::new(),
                similar: Vec::new(),
            });
        }
        let Some(hashes) = content else {
            return Err(ApiError::unprocessable(
                "nothing_to_verify",
                "send content (text, content_base64, sha256 or url), a receipt, or both",
            ));
        };
        // A text that carries Content Credentials is judged by them: intact, they bind it
        // to its stamp; edited, they still name the stamp of the original. A damaged
        // wrapper (cut short in copying, or doubled) is passed over: the visible text is
        // looked up as any text is, and normalisation v2 ignores the wrapper's characters.
        let probe = match probe {
            Probe::Bytes(bytes) if std::str::from_utf8(&bytes).is_ok_and(|t| t.contains('\u{feff}')) => {
                let text = std::str::from_utf8(&bytes).unwrap_or_default();
                let read = credentials::text::read(text, &self.trust().c2pa_roots).or_else(|e| {
                    tracing::debug!(code = %e.code, "a damaged C2PA text wrapper is passed over; the text is looked up");
                    Ok(None)
                });
                match self.credential_verdict(Asset::Text, read, bytes)? {
                    CredentialVerdict::Verdict(answer) => return Ok(*answer),
                    CredentialVerdict::None(bytes) => Probe::Bytes(bytes),
                }
            }
            probe => probe,
        };
        // Only the newest match is verified; the others are named by id, which is the
        // leaf hash the tree already holds, so no receipt is built for them.
        let (indices, checkpoint) = self.find_hashes(&hashes, 10)?;
        let matches = indices
            .iter()
            .map(|&i| self.log.leaf_hash(i).map(StampId))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        let Some(&newest) = indices.first() else {
            let fingerprints = self.probe_fingerprints(probe)?;
            let similar = self.similar_stamps(&fingerprints, 10)?;
            return Ok(VerifyResponse { verdict: not_found_verdict(&fingerprints, &similar), matches, similar });
        };
        let (receipt, leaf) = self.receipt_and_leaf_at(newest, &checkpoint)?;
        let (checks, stamp) = verify_own_receipt(&receipt, &leaf, Some(&hashes), &self.trust(), Some(&self.checks));
        Ok(VerifyResponse { verdict: Verdict::from_checks(checks, stamp), matches, similar: Vec::new() })
    }

    /// Compares a receipt whose checkpoint this log's key signed with this log
    /// (docs/contract.md §10): a different root at that tree size, or a different leaf at
    /// its index, means the log has forked (`log.equivocation`); a tree larger than this
    /// log's means it went back, a restore from an older backup (`log.rollback`). `None`
    /// for a receipt of another log, or whose checkpoint does not verify (other checks
    /// say so). The checks' words are [`Consistency::check`]'s, which `aiprov verify
    /// --key URL` uses too.
    fn fork_check(&self, receipt: &serde_json::Value) -> Result<Option<Check>, ApiError> {
        let log = &receipt["log"];
        let Some(note) = log["checkpoint"].as_str() else { return Ok(None) };
        let Ok(theirs) = Checkpoint::open_signed(note, self.log.verifier()) else { return Ok(None) };
        let origin = &theirs.origin;
        if theirs.size > self.log.published_size() {
            // A node of several may not have published the newest tree yet: only a tree
            // larger than the store holds is a rollback.
            let ours = self.log.stored_size().map_err(ApiError::internal)?;
            if theirs.size <= ours {
                return Ok(None);
            }
            self.metrics.equivocation();
            tracing::error!(receipt_tree_size = theirs.size, tree_size = ours, origin = %origin, "a receipt's checkpoint is of a larger tree than this log: the log went back (rollback)");
            return Ok(Some(Consistency::Rollback { log_size: ours }.check(&theirs)));
        }
        let root = self.log.root_at(theirs.size).map_err(ApiError::internal)?;
        let leaf_differs = match (log["index"].as_u64(), log["leaf_hash"].as_str()) {
            (Some(index), Some(hash)) if index < theirs.size => {
                self.log.leaf_hash(crate::log::LogIndex(index)).map_err(ApiError::internal)?.to_hex() != hash
            }
            _ => false,
        };
        if root != theirs.root || leaf_differs {
            self.metrics.equivocation();
            tracing::error!(tree_size = theirs.size, origin = %origin, "a receipt's checkpoint, signed with this log's key, disagrees with this log: the log has forked");
            return Ok(Some(Consistency::Equivocation.check(&theirs)));
        }
        Ok(Some(Consistency::Consistent.check(&theirs)))
    }
}

/// The verdict for content that no stamp matches exactly or after normalisation: similar
/// stamps named when there are any (`content.similar`), else `content.unknown`, saying
/// what the content could and could not be compared by.
fn not_found_verdict(fingerprints: &Fingerprints, similar: &[SimilarStamp]) -> Verdict {
    let Some(best) = similar.first() else {
        let compared = match (&fingerprints.code, fingerprints.sentences.is_empty()) {
            (Some(_), true) => "exactly, after normalisation, or by its ISCC fingerprint",
            (Some(_), false) => "exactly, after normalisation, by its ISCC fingerprint or by its sentences",
            (None, false) => "exactly, after normalisation or by its sentences",
            (None, true) => {
                "exactly or after normalisation (it has no fingerprint: only images and text the service can read \
                 are compared by similarity)"
            }
        };
        let check = Check {
            name: "content".into(),
            code: "content.unknown".into(),
            passed: false,
            message: format!("No stamp in this log matches this content, {compared}."),
        };
        return Verdict::from_checks(vec![check], None);
    };
    let how = match best.algorithm.as_str() {
        crate::fingerprint::SENTENCE_ALG => "its sentences appear word for word in",
        _ => "its ISCC fingerprint is close to that of",
    };
    let check = Check {
        name: "content".into(),
        code: "content.similar".into(),
        passed: false,
        message: format!(
            "Not the stamped content itself: {how} stamp {} (similarity {} of 100). {} similar stamp(s) are listed; \
             none proves anything about this content.",
            best.stamp_id,
            best.similarity,
            similar.len()
        ),
    };
    let mut verdict = Verdict::from_checks(vec![check], None);
    verdict.summary = format!(
        "Not the stamped content itself, but very similar to content that {} declared AI-generated on {}.",
        best.issuer,
        best.issued_at.to_rfc3339().get(..10).unwrap_or_default()
    );
    verdict
}
