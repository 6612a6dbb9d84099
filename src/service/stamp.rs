//! Stamping: a request becomes a signed statement, appended durably to the log, and a
//! receipt with its inclusion proof; and the reads that give receipts back (by id and
//! by content).

use std::sync::Arc;

use futures_util::Stream;

use super::decodes::DecodePool;
use super::{blocking, limit, Service};
use crate::api::StampResponse;
use crate::content::{hash_stream, ContentHashes, HashedContent};
use crate::error::ApiError;
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::Fingerprints;
use crate::jcs;
use crate::log::merkle;
use crate::log::{LogIndex, NewLeaf, SignedCheckpoint};
use crate::records::tokens::Principal;
use crate::statement::receipt::{
    leaf_bytes_from_canonical, sign_canonical, LogProof, Receipt, SignedStatement, StampId,
};
use crate::statement::request::{
    prepare_content, PreparedStamp, RequestError, StampContent, StampMetadata, StampRequest,
};
use crate::statement::{IssuerName, Statement};
use crate::time::Timestamp;
use crate::Sha256Digest;

/// Most stamps one lookup returns.
pub(crate) const MAX_LOOKUP: usize = 100;

/// How to find stamps by content.
#[derive(Debug, Clone)]
pub enum ContentQuery {
    Sha256(Sha256Digest),
    /// Text: matched exactly, then by its normalised form.
    Text(String),
}

impl Service {
    /// Stamps content: builds and signs the statement, appends it durably to the log,
    /// and returns the receipt with an inclusion proof.
    ///
    /// # Errors
    /// `429` past the token's rate; `4xx` for bad requests; `503` when the log cannot append.
    pub async fn stamp(self: &Arc<Self>, who: Principal, req: StampRequest) -> Result<StampResponse, ApiError> {
        limit(&self.stamp_limiter, who.token_id.as_str()).await?;
        let (content, metadata) = req.into_parts()?;
        let (content, fingerprints) = self.fingerprint(content, &metadata).await?;
        self.sign_and_append(who.issuer, move |issuer, salt, at| {
            prepare_content(content, metadata, fingerprints, issuer, salt, at)
        })
        .await
    }

    /// The fingerprints of stamped content ([`StampContent::fingerprints`]), with the
    /// content handed back: an image's on the blocking pool, in the issuers' decode
    /// slots (the content moves there and back, never copied); a text's inline
    /// (microseconds for marketing copy).
    pub(super) async fn fingerprint(
        &self,
        content: StampContent,
        metadata: &StampMetadata,
    ) -> Result<(StampContent, Fingerprints), ApiError> {
        let Some(image) = metadata.media_type.clone().filter(|m| m.is_image()) else {
            let fingerprints = content.fingerprints(metadata.media_type.as_ref());
            return Ok((content, fingerprints));
        };
        let started = std::time::Instant::now();
        let (content, fingerprints) = self
            .decodes
            .run(DecodePool::Issuer, &self.metrics, move || {
                let fingerprints = content.fingerprints(Some(&image));
                (content, fingerprints)
            })
            .await?;
        self.metrics.fingerprinted(started.elapsed(), fingerprints.code.is_some());
        Ok((content, fingerprints))
    }

    /// Stamps an asset streamed in `body`: hashed chunk by chunk as it arrives, never
    /// held whole, then signed and appended exactly as [`Service::stamp`]. `declared`
    /// is the request's `Content-Length`, if any.
    ///
    /// # Errors
    /// As [`Service::stamp`]; `413` as soon as the body goes past the upload limit (at
    /// once when `declared` does), `422` for an empty body or bad metadata, checked
    /// before the body is read.
    pub async fn stamp_upload<S, B, E>(
        self: &Arc<Self>,
        who: Principal,
        metadata: StampMetadata,
        declared: Option<u64>,
        body: S,
    ) -> Result<StampResponse, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        limit(&self.stamp_limiter, who.token_id.as_str()).await?;
        // Refuse bad metadata before a possibly huge body is read, not after.
        metadata.validate()?;
        // Only text is normalised and only text and images fingerprinted, so only their
        // bodies are kept (when small enough).
        let keep = match &metadata.media_type {
            Some(m) if m.is_text() => self.max_text_bytes,
            Some(m) if m.is_image() => ImageBounds::DEFAULT.max_bytes as usize,
            _ => 0,
        };
        let hashed = self.hash_body(declared, body, keep).await?;
        tracing::debug!(size = hashed.size, "upload hashed");
        let (content, fingerprints) = self.fingerprint(StampContent::Streamed(hashed), &metadata).await?;
        self.sign_and_append(who.issuer, move |issuer, salt, at| {
            prepare_content(content, metadata, fingerprints, issuer, salt, at)
        })
        .await
    }

    /// Hashes a streamed request body under the upload limit, keeping it whole when it is
    /// at most `keep` bytes (for the normalised text hash).
    ///
    /// # Errors
    /// `413` at once when `declared` (the Content-Length) is over the limit, else as soon
    /// as the body goes past it; `408` when it pauses too long; `400` when it breaks off.
    pub(super) async fn hash_body<S, B, E>(
        &self,
        declared: Option<u64>,
        body: S,
        keep: usize,
    ) -> Result<HashedContent, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        self.refuse_announced(declared)?;
        Ok(hash_stream(body, self.upload_limits, keep).await?)
    }

    /// `413` when the `Content-Length` `declared` is over the upload limit.
    pub(super) fn refuse_announced(&self, declared: Option<u64>) -> Result<(), ApiError> {
        match declared.filter(|n| *n > self.upload_limits.max_bytes) {
            Some(n) => Err(ApiError::PayloadTooLarge(format!(
                "Content-Length announces {n} bytes; this service accepts at most {} for a streamed upload \
                 (--max-upload-bytes)",
                self.upload_limits.max_bytes
            ))),
            None => Ok(()),
        }
    }

    /// What every stamp shares once its statement can be prepared: a fresh salt, the
    /// signature, the durable append, and the receipt with its inclusion proof.
    pub(super) async fn sign_and_append(
        self: &Arc<Self>,
        issuer: IssuerName,
        prepare: impl FnOnce(IssuerName, [u8; 32], Timestamp) -> Result<PreparedStamp, RequestError> + Send + 'static,
    ) -> Result<StampResponse, ApiError> {
        let started = std::time::Instant::now();
        let this = self.clone();
        // Run here, not on the blocking pool: preparing and signing a statement takes tens
        // of microseconds (content was hashed before), less than the two thread hand-offs
        // a trip to the pool costs, and a stamp already waits for the writer thread.
        let (signed, leaf, salt) = (move || {
            let mut salt = [0u8; 32];
            getrandom::getrandom(&mut salt).map_err(|e| ApiError::internal(anyhow::anyhow!("random: {e}")))?;
            // Dated and signed under the signing lock, so that a rotation retires the old
            // key no earlier than the date of anything it signed (see service::signing).
            let (prepared, canonical, signature, key) =
                this.signing.sign(|issued_at, key| -> Result<_, ApiError> {
                    let prepared = prepare(issuer, salt, issued_at)?;
                    // Canonicalised once: the signature and the log leaf both cover these bytes.
                    let canonical = jcs::to_vec(&prepared.statement).map_err(ApiError::internal)?;
                    let signature = sign_canonical(&canonical, key);
                    Ok((prepared, canonical, signature, key.verifying_key()))
                })??;
            if let Some(sig) = signature.signature_bytes() {
                this.checks.record_own_statement(&key, &canonical, &sig);
            }
            let bytes = leaf_bytes_from_canonical(&canonical, &signature).map_err(ApiError::internal)?;
            let signed = SignedStatement { statement: prepared.statement, signature };
            let leaf = NewLeaf {
                leaf_hash: merkle::leaf_hash(&bytes),
                leaf: bytes,
                content_sha256: signed.statement.subject.sha256,
                normalized_text_sha256: signed.statement.subject.normalized_text_sha256,
                code: signed.statement.subject.iscc,
                sentences: prepared.sentences,
                prompt_salt: prepared.prompt_salt,
            };
            Ok::<_, ApiError>((signed, leaf, prepared.prompt_salt))
        })()?;
        let leaf_hash = leaf.leaf_hash;
        // A statement too long for a log entry is refused there (422), before it is queued.
        let appended = self.log.append(leaf).await?;
        tracing::info!(id = %leaf_hash, index = appended.index.0, issuer = %signed.statement.issuer, kind = signed.statement.kind.as_str(), "stamped");
        let receipt = if self.remote_reads {
            // The proof's new nodes are in tiles in the database: a round trip or more,
            // which must not hold the HTTP worker (it would stall every other request).
            let this = self.clone();
            blocking(move || this.build_receipt(signed, appended.index, leaf_hash, &appended.checkpoint)).await?
        } else {
            // Inline: the proof's nodes are memoised, or read from the tile the writer has
            // just written (in the page cache).
            self.build_receipt(signed, appended.index, leaf_hash, &appended.checkpoint)?
        };
        self.metrics.stamped(started.elapsed());
        Ok(StampResponse { receipt, prompt_salt: salt.map(hex::encode) })
    }

    fn build_receipt(
        &self,
        signed: SignedStatement,
        index: LogIndex,
        leaf_hash: Sha256Digest,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Receipt, ApiError> {
        let size = checkpoint.checkpoint.size;
        let inclusion_proof = self.log.inclusion_proof(index, size).map_err(ApiError::from)?;
        Ok(Receipt {
            id: StampId(leaf_hash),
            statement: signed.statement,
            signature: signed.signature,
            log: LogProof {
                index,
                leaf_hash,
                tree_size: size,
                inclusion_proof,
                checkpoint: checkpoint.note.to_string(),
            },
        })
    }

    /// The receipt of the leaf at `index`, proven against the newest checkpoint (blocking).
    pub(super) fn receipt_at(&self, index: LogIndex, checkpoint: &SignedCheckpoint) -> Result<Receipt, ApiError> {
        self.receipt_and_leaf_at(index, checkpoint).map(|(receipt, _)| receipt)
    }

    /// [`Service::receipt_at`], with the stored leaf bytes it was built from (blocking).
    pub(super) fn receipt_and_leaf_at(
        &self,
        index: LogIndex,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(Receipt, Vec<u8>), ApiError> {
        let (signed, bytes) = self.indexed_leaf(index)?;
        let receipt = self.build_receipt(signed, index, merkle::leaf_hash(&bytes), checkpoint)?;
        Ok((receipt, bytes))
    }

    /// The statement of the leaf at `index`, which an index named, and the leaf's bytes
    /// (blocking). A missing or unreadable leaf there is the store's fault: `500`.
    pub(super) fn indexed_leaf(&self, index: LogIndex) -> Result<(SignedStatement, Vec<u8>), ApiError> {
        let bytes = self
            .log
            .leaf(index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("leaf {index} is indexed but missing")))?;
        let signed: SignedStatement = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("leaf {index} does not parse: {e}")))?;
        Ok((signed, bytes))
    }

    /// The public receipt of stamp `id` (blocking).
    ///
    /// # Errors
    /// `404` when no stamp has this id.
    pub fn receipt(&self, id: &StampId) -> Result<Receipt, ApiError> {
        let checkpoint = self.log.latest_checkpoint();
        let index = self.published_index(id, &checkpoint)?;
        self.receipt_at(index, &checkpoint)
    }

    /// Stamp `id`'s inclusion as a C2SP tlog-proof, against the newest checkpoint as its
    /// receipt is, or with `witnessed` against the newest witnessed one, its cosignatures
    /// included (blocking).
    ///
    /// # Errors
    /// As [`Service::receipt`] and [`Service::witnessed_receipt`].
    pub fn tlog_proof(&self, id: &StampId, witnessed: bool) -> Result<String, ApiError> {
        let receipt = if witnessed { self.witnessed_receipt(id)? } else { self.receipt(id)? };
        Ok(receipt.tlog_proof().to_text())
    }

    /// Where stamp `id` is, if a published checkpoint covers it (blocking). Every
    /// lookup by id goes through here, so a stamp is found by all of them or by none:
    /// a leaf is written before its batch is synced, but the checkpoint that covers it
    /// is published, and only then the stamp acknowledged, after the sync
    /// (`log::writer`). An acknowledged stamp is always found; one being written is not
    /// found yet, whether it is read, shown as a badge, checked or erased.
    pub(super) fn published_index(&self, id: &StampId, checkpoint: &SignedCheckpoint) -> Result<LogIndex, ApiError> {
        match self.log.index_of(&id.0).map_err(ApiError::from)? {
            Some(index) if index.0 < checkpoint.checkpoint.size => Ok(index),
            _ => Err(ApiError::NotFound(format!("no stamp has id {id}"))),
        }
    }

    /// The statement of stamp `id`, without proofs (blocking): for what only shows it,
    /// such as the badge. Unknown in the same cases as [`Service::receipt`].
    ///
    /// # Errors
    /// `404` when no stamp has this id.
    pub fn statement(&self, id: &StampId) -> Result<Statement, ApiError> {
        let index = self.published_index(id, &self.log.latest_checkpoint())?;
        Ok(self.signed_statement_at(id, index)?.statement)
    }

    /// Receipts of the stamps for some content, newest first (blocking).
    ///
    /// # Errors
    /// Only on storage failure.
    pub fn lookup(&self, query: &ContentQuery, limit: usize) -> Result<Vec<Receipt>, ApiError> {
        let hashes = match query {
            ContentQuery::Sha256(d) => ContentHashes::of_sha256(*d),
            ContentQuery::Text(t) => ContentHashes::of_text(t),
        };
        self.lookup_hashes(&hashes, limit)
    }

    /// Receipts of the stamps whose content has the exact hash, or (when given) the
    /// normalised text hash, newest first (blocking).
    ///
    /// # Errors
    /// Only on storage failure.
    pub fn lookup_hashes(&self, hashes: &ContentHashes, limit: usize) -> Result<Vec<Receipt>, ApiError> {
        let (indices, checkpoint) = self.find_hashes(hashes, limit)?;
        indices.into_iter().map(|i| self.receipt_at(i, &checkpoint)).collect()
    }

    /// Indices of the stamps for some content, newest first, within the newest
    /// checkpoint, which is returned too (blocking).
    pub(super) fn find_hashes(
        &self,
        hashes: &ContentHashes,
        limit: usize,
    ) -> Result<(Vec<LogIndex>, SignedCheckpoint), ApiError> {
        let limit = limit.clamp(1, MAX_LOOKUP);
        self.log.find_content(&hashes.sha256, &hashes.normalized(), limit).map_err(ApiError::from)
    }

    /// The stored statement of stamp `id` (blocking). Found exactly when
    /// [`Service::receipt`] finds it: once the stamp was acknowledged, never before.
    pub(super) fn signed_statement(&self, id: &StampId) -> Result<SignedStatement, ApiError> {
        let index = self.published_index(id, &self.log.latest_checkpoint())?;
        self.signed_statement_at(id, index)
    }

    /// The stored statement of stamp `id` at `index` (blocking).
    pub(super) fn signed_statement_at(&self, id: &StampId, index: LogIndex) -> Result<SignedStatement, ApiError> {
        let bytes = self.log.leaf(index).map_err(ApiError::from)?;
        let bytes = bytes.ok_or_else(|| ApiError::NotFound(format!("no stamp has id {id}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("leaf {index} does not parse: {e}")))
    }
}
