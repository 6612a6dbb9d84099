//! `Service`: the application's state and every operation the HTTP handlers expose.
//! Handlers only decode requests and encode responses; the logic is here, where tests
//! and tools can call it without HTTP.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::check_cache::CheckCache;
use crate::checkpoint::NoteSigner;
use crate::content::{hash_stream, HashedContent, StreamLimits};
use crate::erasure::{ErasureRecord, ErasureRegister};
use crate::error::ApiError;
use crate::fetch::FetchConfig;
use crate::jcs;
use crate::keys::{Keyring, PublicKeyInfo};
use crate::log::{Log, SignedCheckpoint};
use crate::merkle::NodeId;
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::receipt::{
    leaf_bytes_from_canonical, sign_canonical, LogIndex, LogProof, Receipt, SignedStatement, StampId,
};
use crate::stamp::{
    prepare, prepare_content, prompt_commitment, PreparedStamp, StampContent, StampMetadata, StampRequest,
};
use crate::statement::{IssuerName, Timestamp};
use crate::store::{NewLeaf, SledStore};
use crate::tokens::{Principal, TokenStore};
use crate::verify::{verify_own_receipt, verify_receipt_with, Check, ContentHashes, TrustAnchors, Verdict};
use crate::Sha256Digest;

/// Most stamps one lookup returns.
pub const MAX_LOOKUP: usize = 100;

/// Where the service keeps its state, and its abuse limits.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub data_dir: PathBuf,
    pub keys_dir: PathBuf,
    /// The log's origin line, also the name of its checkpoint key.
    pub origin: String,
    /// Stamps per issuer token.
    pub stamp_rate: RateLimit,
    /// Prompt checks per client address: each check is an online guess at a prompt, so
    /// this is what keeps short prompts from being brute-forced through the endpoint.
    pub prompt_check_rate: RateLimit,
    /// Decrypts passphrase-protected key files (and encrypts new ones).
    pub key_passphrase: Option<crate::keys::Passphrase>,
    /// Largest body of a streamed upload (`/v1/stamps/upload`, `/v1/verify/upload`).
    pub max_upload_bytes: u64,
    /// Longest pause within a streamed upload before it is refused (`408`).
    pub upload_idle: std::time::Duration,
    /// Streamed or fetched bodies up to this size are kept in memory for the normalised
    /// text hash; larger ones are known by their exact hash alone. Set it to the JSON
    /// body limit: text that could have been sent as JSON `text` is treated alike.
    pub max_text_bytes: usize,
    /// The limits of verification by URL.
    pub fetch: FetchConfig,
}

impl ServiceConfig {
    pub const DEFAULT_STAMP_RATE: RateLimit = RateLimit { per_second: 500.0, burst: 1000 };
    pub const DEFAULT_PROMPT_CHECK_RATE: RateLimit = RateLimit { per_second: 0.2, burst: 10 };

    /// A configuration with the default limits.
    pub fn new(data_dir: PathBuf, keys_dir: PathBuf, origin: String) -> Self {
        Self {
            data_dir,
            keys_dir,
            origin,
            stamp_rate: Self::DEFAULT_STAMP_RATE,
            prompt_check_rate: Self::DEFAULT_PROMPT_CHECK_RATE,
            key_passphrase: None,
            max_upload_bytes: crate::upload::DEFAULT_MAX_UPLOAD_BYTES,
            upload_idle: std::time::Duration::from_secs(crate::upload::DEFAULT_UPLOAD_IDLE_SECS),
            max_text_bytes: 16 * 1024 * 1024,
            fetch: FetchConfig::default(),
        }
    }
}

/// The answer to a prompt check.
#[derive(Debug, Serialize, Deserialize)]
pub struct PromptCheck {
    pub stamp_id: StampId,
    pub matches: bool,
    pub message: String,
}

/// The answer to an erasure request.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErasureOutcome {
    pub stamp_id: StampId,
    /// False when there was nothing left to erase (erased before).
    pub erased: bool,
    pub record: Option<ErasureRecord>,
    pub message: String,
}

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
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub content_base64: Option<String>,
    #[serde(default)]
    pub sha256: Option<Sha256Digest>,
    /// An `http(s)` URL whose content the service fetches and verifies (see `fetch`).
    #[serde(default)]
    pub url: Option<String>,
    /// A receipt as JSON, checked exactly as given; repeated member names are refused.
    #[serde(default)]
    pub receipt: Option<crate::jcs::StrictValue>,
}

/// A verdict and, for content-only verification, every stamp the content matched.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyResponse {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Ids of the stamps in this log that match the content, newest first.
    #[serde(default)]
    pub matches: Vec<StampId>,
}

/// How to find stamps by content.
#[derive(Debug, Clone)]
pub enum ContentQuery {
    Sha256(Sha256Digest),
    /// Text: matched exactly, then by its normalised form.
    Text(String),
}

pub struct Service {
    log: Log,
    keyring: Keyring,
    tokens: TokenStore,
    erasures: ErasureRegister,
    trust: TrustAnchors,
    /// Signature checks that passed before, so popular content verifies cheaply.
    checks: CheckCache,
    stamp_limiter: RateLimiter,
    prompt_limiter: RateLimiter,
    upload_limits: StreamLimits,
    max_text_bytes: usize,
    fetch: FetchConfig,
}

impl Service {
    /// Opens the database and keys (creating both on first start) and starts the log.
    ///
    /// # Errors
    /// When the data or keys directory cannot be opened, or belongs to another log.
    pub fn open(config: &ServiceConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        let keyring =
            Keyring::open_or_create_with(&config.keys_dir, config.key_passphrase.as_ref().map(|p| p.as_str()))
                .context("opening the keys directory")?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
        let store = SledStore::open(&config.data_dir).map_err(|e| {
            // sled refuses a second process with a lock error; say so only then.
            let hint = if e.to_string().contains("lock") { " (is another aiprov using it?)" } else { "" };
            anyhow::anyhow!("opening the database in {}{hint}: {e}", config.data_dir.display())
        })?;
        let tokens = TokenStore::open(store.db())?;
        let erasures = ErasureRegister::open(store.db())?;
        let signer = NoteSigner::new(&config.origin, keyring.checkpoint_key().signing_key().clone())
            .context("the origin cannot name a checkpoint key")?;
        let log = Log::open(Arc::new(store), signer)?;
        let trust = TrustAnchors::new(keyring.public_keys().to_vec(), Some(log.verifier().clone()));
        Ok(Self {
            log,
            keyring,
            tokens,
            erasures,
            trust,
            checks: CheckCache::default(),
            stamp_limiter: RateLimiter::new(config.stamp_rate),
            prompt_limiter: RateLimiter::new(config.prompt_check_rate),
            upload_limits: StreamLimits { max_bytes: config.max_upload_bytes, idle: config.upload_idle },
            max_text_bytes: config.max_text_bytes,
            fetch: config.fetch.clone(),
        })
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    pub fn public_keys(&self) -> &[PublicKeyInfo] {
        self.keyring.public_keys()
    }

    pub fn trust(&self) -> &TrustAnchors {
        &self.trust
    }

    /// Who an `Authorization: Bearer` header value speaks for.
    ///
    /// # Errors
    /// `401` when the header is missing, malformed, or the token is unknown or revoked.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let header = authorization.ok_or_else(|| {
            ApiError::Unauthorized("stamping needs an issuer token: Authorization: Bearer <token>".into())
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be: Bearer <token>".into()))?;
        self.tokens
            .authenticate(token)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::Unauthorized("the issuer token is not valid".into()))
    }

    /// Like [`Service::authenticate`], for admin-only operations.
    ///
    /// # Errors
    /// `401` as there; `403` for a valid token that is not an admin token.
    pub fn authenticate_admin(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let who = self.authenticate(authorization)?;
        if !who.admin {
            return Err(ApiError::Forbidden("this needs an admin token".into()));
        }
        Ok(who)
    }

    /// Stamps content: builds and signs the statement, appends it durably to the log,
    /// and returns the receipt with an inclusion proof.
    ///
    /// # Errors
    /// `429` past the token's rate; `4xx` for bad requests; `503` when the log cannot append.
    pub async fn stamp(self: &Arc<Self>, who: Principal, req: StampRequest) -> Result<StampResponse, ApiError> {
        limit(&self.stamp_limiter, who.token_id.as_str())?;
        self.sign_and_append(who.issuer, move |issuer, salt, at| prepare(req, issuer, salt, at)).await
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
        limit(&self.stamp_limiter, who.token_id.as_str())?;
        // Refuse bad metadata before a possibly huge body is read, not after.
        metadata.validate()?;
        // Only text is normalised, so only text bodies are kept (when small enough).
        let keep = if metadata.media_type.as_ref().is_some_and(|m| m.is_text()) { self.max_text_bytes } else { 0 };
        let hashed = self.hash_body(declared, body, keep).await?;
        tracing::debug!(size = hashed.size, "upload hashed");
        self.sign_and_append(who.issuer, move |issuer, salt, at| {
            prepare_content(StampContent::Streamed(hashed), metadata, issuer, salt, at)
        })
        .await
    }

    /// Hashes a streamed request body under the upload limit, keeping it whole when it is
    /// at most `keep` bytes (for the normalised text hash).
    ///
    /// # Errors
    /// `413` at once when `declared` (the Content-Length) is over the limit, else as soon
    /// as the body goes past it; `408` when it pauses too long; `400` when it breaks off.
    async fn hash_body<S, B, E>(&self, declared: Option<u64>, body: S, keep: usize) -> Result<HashedContent, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        crate::upload::check_declared_length(declared, self.upload_limits.max_bytes)?;
        hash_stream(body, self.upload_limits, keep).await.map_err(crate::upload::stream_error)
    }

    /// What every stamp shares once its statement can be prepared: a fresh salt, the
    /// signature, the durable append, and the receipt with its inclusion proof.
    async fn sign_and_append(
        self: &Arc<Self>,
        issuer: IssuerName,
        prepare: impl FnOnce(IssuerName, [u8; 32], Timestamp) -> Result<PreparedStamp, ApiError> + Send + 'static,
    ) -> Result<StampResponse, ApiError> {
        let this = self.clone();
        // Decoding, hashing and signing are CPU work: off the async executor.
        let (signed, leaf, salt) = blocking(move || {
            let mut salt = [0u8; 32];
            getrandom::getrandom(&mut salt).map_err(|e| ApiError::internal(anyhow::anyhow!("random: {e}")))?;
            let prepared = prepare(issuer, salt, Timestamp::now())?;
            // Canonicalised once: the signature and the log leaf both cover these bytes.
            let canonical = jcs::to_vec(&prepared.statement).map_err(ApiError::internal)?;
            let key = this.keyring.statement_key();
            let signature = sign_canonical(&canonical, key);
            if let Some(sig) = signature.signature_bytes() {
                this.checks.record_own_statement(&key.verifying_key(), &canonical, &sig);
            }
            let bytes = leaf_bytes_from_canonical(&canonical, &signature).map_err(ApiError::internal)?;
            let signed = SignedStatement { statement: prepared.statement, signature };
            let leaf = NewLeaf {
                leaf_hash: crate::merkle::leaf_hash(&bytes),
                leaf: bytes,
                content_sha256: signed.statement.subject.sha256,
                normalized_text_sha256: signed.statement.subject.normalized_text_sha256,
                prompt_salt: prepared.prompt_salt,
            };
            Ok((signed, leaf, prepared.prompt_salt))
        })
        .await?;
        let leaf_hash = leaf.leaf_hash;
        let appended = self.log.append(leaf).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
        tracing::info!(id = %leaf_hash, index = appended.index.0, issuer = %signed.statement.issuer, kind = signed.statement.kind.as_str(), "stamped");
        let this = self.clone();
        let receipt =
            blocking(move || this.build_receipt(signed, appended.index, leaf_hash, &appended.checkpoint)).await?;
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
        let inclusion_proof = self.log.inclusion_proof(index, size).map_err(ApiError::internal)?;
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
    fn receipt_at(&self, index: LogIndex, checkpoint: &SignedCheckpoint) -> Result<Receipt, ApiError> {
        self.receipt_and_leaf_at(index, checkpoint).map(|(receipt, _)| receipt)
    }

    /// [`Service::receipt_at`], with the stored leaf bytes it was built from (blocking).
    fn receipt_and_leaf_at(
        &self,
        index: LogIndex,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(Receipt, Vec<u8>), ApiError> {
        let store = self.log.store();
        let bytes = store
            .leaf(index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("leaf {index} is indexed but missing")))?;
        let signed: SignedStatement = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("leaf {index} does not parse: {e}")))?;
        let receipt = self.build_receipt(signed, index, crate::merkle::leaf_hash(&bytes), checkpoint)?;
        Ok((receipt, bytes))
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

    /// Where stamp `id` is, if a published checkpoint covers it (blocking).
    fn published_index(&self, id: &StampId, checkpoint: &SignedCheckpoint) -> Result<LogIndex, ApiError> {
        match self.log.store().index_of(&id.0).map_err(ApiError::internal)? {
            Some(index) if index.0 < checkpoint.checkpoint.size => Ok(index),
            _ => Err(ApiError::NotFound(format!("no stamp has id {id}"))),
        }
    }

    /// The statement of stamp `id`, without proofs (blocking): for what only shows it,
    /// such as the badge. Unknown in the same cases as [`Service::receipt`].
    ///
    /// # Errors
    /// `404` when no stamp has this id.
    pub fn statement(&self, id: &StampId) -> Result<crate::statement::Statement, ApiError> {
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
    fn find_hashes(&self, hashes: &ContentHashes, limit: usize) -> Result<(Vec<LogIndex>, SignedCheckpoint), ApiError> {
        let limit = limit.clamp(1, MAX_LOOKUP);
        let store = self.log.store();
        let mut indices = store.find_by_content(&hashes.sha256, limit).map_err(ApiError::internal)?;
        if let Some(norm) = &hashes.normalized_text_sha256 {
            indices.extend(store.find_by_normalized_text(norm, limit).map_err(ApiError::internal)?);
        }
        indices.sort_unstable_by(|a, b| b.cmp(a));
        indices.dedup();
        indices.truncate(limit);
        let checkpoint = self.log.latest_checkpoint();
        indices.retain(|i| i.0 < checkpoint.checkpoint.size);
        Ok((indices, checkpoint))
    }

    /// Refuses a request with more than one content form (`url` included).
    fn check_one_content_form(req: &VerifyRequest) -> Result<(), ApiError> {
        let given = [req.text.is_some(), req.content_base64.is_some(), req.sha256.is_some(), req.url.is_some()]
            .iter()
            .filter(|g| **g)
            .count();
        if given > 1 {
            return Err(ApiError::unprocessable(
                "invalid_content",
                "send the content as at most one of text, content_base64, sha256 or url",
            ));
        }
        Ok(())
    }

    /// The hashes of the content of `req` given as `text`, `content_base64` or `sha256`
    /// (CPU work for large base64: call it off the executor).
    fn content_of(req: &VerifyRequest) -> Result<Option<ContentHashes>, ApiError> {
        Ok(if let Some(text) = &req.text {
            Some(ContentHashes::of_text(text))
        } else if let Some(b64) = &req.content_base64 {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| {
                ApiError::bad_request("invalid_base64", format!("content_base64 is not valid standard base64: {e}"))
            })?;
            Some(ContentHashes::of_bytes(&bytes))
        } else {
            req.sha256.map(ContentHashes::of_sha256)
        })
    }

    /// A verdict for every form of `POST /v1/verify`: content and/or a receipt, the
    /// content given inline or as a `url`, which is fetched under the fetch limits and
    /// its body verified as content. Anything wrong with the receipt itself is a failed
    /// check, never an error.
    ///
    /// # Errors
    /// `4xx` when the request holds nothing to verify, more than one content form or
    /// undecodable content, and the fetch errors of [`crate::fetch::FetchError`].
    pub async fn verify_request(self: &Arc<Self>, mut req: VerifyRequest) -> Result<VerifyResponse, ApiError> {
        Self::check_one_content_form(&req)?;
        let receipt = req.receipt.take().map(|r| r.0);
        let this = self.clone();
        let Some(url) = req.url.take() else {
            return blocking(move || this.verify_hashes(Self::content_of(&req)?, receipt)).await;
        };
        let fetched = crate::fetch::fetch(&url, &self.fetch, self.max_text_bytes).await?;
        tracing::debug!(
            host = fetched.final_url.host_str().unwrap_or_default(),
            size = fetched.content.size,
            "URL fetched for verification"
        );
        let hashes = fetched.content.hashes();
        blocking(move || this.verify_hashes(Some(hashes), receipt)).await
    }

    /// A verdict for a body streamed in `body`, hashed chunk by chunk (the exact hash,
    /// and the normalised text hash when it is small UTF-8 text), as content-only
    /// [`Service::verify_request`].
    ///
    /// # Errors
    /// `413` past the upload limit.
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
        let hashed = self.hash_body(declared, body, self.max_text_bytes).await?;
        let hashes = hashed.hashes();
        let this = self.clone();
        blocking(move || this.verify_hashes(Some(hashes), None)).await
    }

    /// A verdict for content known by its hashes and/or a receipt (blocking).
    ///
    /// # Errors
    /// `422` when there is neither; storage failures.
    pub fn verify_hashes(
        &self,
        content: Option<ContentHashes>,
        receipt: Option<serde_json::Value>,
    ) -> Result<VerifyResponse, ApiError> {
        if let Some(receipt) = &receipt {
            let (checks, stamp) = verify_receipt_with(receipt, content.as_ref(), &self.trust, Some(&self.checks));
            return Ok(VerifyResponse { verdict: Verdict::from_checks(checks, stamp), matches: Vec::new() });
        }
        let Some(hashes) = content else {
            return Err(ApiError::unprocessable(
                "nothing_to_verify",
                "send content (text, content_base64, sha256 or url), a receipt, or both",
            ));
        };
        // Only the newest match is verified; the others are named by id, which is the
        // leaf hash the tree already holds, so no receipt is built for them.
        let (indices, checkpoint) = self.find_hashes(&hashes, 10)?;
        let store = self.log.store();
        let matches = indices
            .iter()
            .map(|&i| store.node(NodeId { level: 0, index: i.0 }).map(StampId))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        let Some(&newest) = indices.first() else {
            let check = Check {
                name: "content".into(),
                code: "content.unknown".into(),
                passed: false,
                message: "No stamp in this log matches this content, exactly or after whitespace normalisation.".into(),
            };
            return Ok(VerifyResponse { verdict: Verdict::from_checks(vec![check], None), matches });
        };
        let (receipt, leaf) = self.receipt_and_leaf_at(newest, &checkpoint)?;
        let (checks, stamp) = verify_own_receipt(&receipt, &leaf, Some(&hashes), &self.trust, Some(&self.checks));
        Ok(VerifyResponse { verdict: Verdict::from_checks(checks, stamp), matches })
    }
}

impl Service {
    /// The stored statement of stamp `id` (blocking).
    fn signed_statement(&self, id: &StampId) -> Result<SignedStatement, ApiError> {
        let index = self.log.store().index_of(&id.0).map_err(ApiError::internal)?;
        let index = index.ok_or_else(|| ApiError::NotFound(format!("no stamp has id {id}")))?;
        self.signed_statement_at(id, index)
    }

    /// The stored statement of stamp `id` at `index` (blocking).
    fn signed_statement_at(&self, id: &StampId, index: LogIndex) -> Result<SignedStatement, ApiError> {
        let bytes = self.log.store().leaf(index).map_err(ApiError::internal)?;
        let bytes = bytes.ok_or_else(|| ApiError::NotFound(format!("no stamp has id {id}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("leaf {index} does not parse: {e}")))
    }

    /// Erases the link between stamp `id` and its prompt by destroying the salt
    /// (crypto-shredding). The statement, its commitment, the log and every proof stay
    /// valid; no one can confirm a prompt for it afterwards. Blocking.
    ///
    /// # Errors
    /// `404` for an unknown stamp or one without a prompt; `403` when `who` is neither
    /// the stamp's issuer nor an admin.
    pub fn erase_prompt(&self, who: &Principal, id: &StampId) -> Result<ErasureOutcome, ApiError> {
        let signed = self.signed_statement(id)?;
        if !who.admin && signed.statement.issuer != who.issuer {
            return Err(ApiError::Forbidden(format!(
                "stamp {id} was issued by another issuer; only its issuer or an admin may erase it"
            )));
        }
        if signed.statement.prompt_commitment.is_none() {
            return Err(ApiError::NotFound(format!("stamp {id} was made without a prompt: there is nothing to erase")));
        }
        let erased = self.log.store().erase_prompt_salt(&id.0).map_err(ApiError::internal)?;
        if !erased {
            let record = self.erasures.find(id).map_err(ApiError::internal)?;
            return Ok(ErasureOutcome {
                stamp_id: *id,
                erased: false,
                record,
                message: "the prompt link was already erased".into(),
            });
        }
        let record = ErasureRecord {
            stamp_id: *id,
            erased_at: Timestamp::now(),
            erased_by: who.issuer.clone(),
            token_id: who.token_id.clone(),
            admin: who.admin,
        };
        self.erasures.record(&record).map_err(ApiError::internal)?;
        tracing::info!(stamp = %id, by = %who.issuer, token = %who.token_id, "prompt link erased");
        Ok(ErasureOutcome {
            stamp_id: *id,
            erased: true,
            record: Some(record),
            message: "the prompt salt was destroyed: no prompt can be confirmed for this stamp any more".into(),
        })
    }

    /// Whether `prompt` is the prompt stamp `id` committed to (blocking). `client` keys
    /// the rate limit (the caller's address).
    ///
    /// # Errors
    /// `429` past the rate; `404` unknown stamp or no prompt; `410` once erased.
    pub fn check_prompt(&self, client: &str, id: &StampId, prompt: &str) -> Result<PromptCheck, ApiError> {
        limit(&self.prompt_limiter, client)?;
        let signed = self.signed_statement(id)?;
        let Some(commitment) = signed.statement.prompt_commitment else {
            return Err(ApiError::NotFound(format!("stamp {id} was made without a prompt")));
        };
        let Some(salt) = self.log.store().prompt_salt(&id.0).map_err(ApiError::internal)? else {
            return Err(ApiError::Gone(format!(
                "the prompt link of stamp {id} was erased: no prompt can be confirmed"
            )));
        };
        // `Sha256Digest` compares in constant time.
        let matches = prompt_commitment(&salt, prompt) == commitment;
        let message = if matches {
            "the prompt matches the stamp's commitment".to_owned()
        } else {
            "the prompt does not match the stamp's commitment".to_owned()
        };
        Ok(PromptCheck { stamp_id: *id, matches, message })
    }

    /// The erasure register (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn erasures(&self) -> Result<Vec<ErasureRecord>, ApiError> {
        self.erasures.list().map_err(ApiError::internal)
    }
}

fn limit(limiter: &RateLimiter, key: &str) -> Result<(), ApiError> {
    limiter
        .check(key)
        .map_err(|wait| ApiError::TooManyRequests { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 })
}

/// Runs blocking work (sled, hashing, signing) on the blocking pool.
///
/// # Errors
/// The closure's error, or `500` when the pool task panicked.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}
