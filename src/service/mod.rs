//! `Service`: the application's state and every operation the HTTP handlers expose.
//! Handlers only decode requests and encode responses; the logic is here, where tests
//! and tools can call it without HTTP. One file per group of operations:
//!
//! - `stamp`: signing and appending, receipts and lookups by content;
//! - `verify`: verdicts for content, receipts, uploads and URLs;
//! - `prompt`: prompt checks and erasure of the prompt link;
//! - `admin`: authentication and the admin API (tokens, erasure register);
//! - `log_api`: the log's read API (checkpoint, proofs, entries);
//! - [`tokens`], [`erasure`], [`ratelimit`]: the stores and limiters behind them.

mod admin;
mod config;
pub mod erasure;
mod log_api;
mod prompt;
pub mod ratelimit;
mod signing;
mod stamp;
pub mod tokens;
mod verify;

use std::sync::Arc;

use anyhow::Context;

pub use config::{ServiceConfig, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_IDLE_SECS};
pub use log_api::{LogEntries, MAX_ENTRIES_PAGE};
pub use prompt::{ErasureOutcome, PromptCheck};
pub use stamp::{ContentQuery, MAX_LOOKUP};

use crate::content::fetch::FetchConfig;
use crate::content::StreamLimits;
use crate::error::ApiError;
use crate::keys::{Keyring, KeysInUse, PublicKeyInfo};
use crate::log::checkpoint::{NoteSigner, NoteVerifier};
use crate::log::{Log, SledStore};
use crate::verify::check_cache::CheckCache;
use crate::verify::TrustAnchors;
use erasure::ErasureRegister;
use ratelimit::RateLimiter;
use signing::Signing;
use tokens::TokenStore;

pub struct Service {
    log: Log,
    /// The statement key in use (rotated while serving) and the trust anchors.
    signing: Signing,
    tokens: TokenStore,
    erasures: ErasureRegister,
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
        std::fs::create_dir_all(&config.keys_dir)
            .with_context(|| format!("creating the keys directory {}", config.keys_dir.display()))?;
        let in_use = KeysInUse::shared(&config.keys_dir)?;
        let keyring =
            Keyring::open_or_create_with(&config.keys_dir, config.key_passphrase.as_ref().map(|p| p.as_str()))
                .context("opening the keys directory")?;
        let db = open_db(&config.data_dir)?;
        let store = SledStore::open(&db, &config.data_dir)
            .with_context(|| format!("opening the log in {}", config.data_dir.display()))?;
        let tokens = TokenStore::open(&db)?;
        let erasures = ErasureRegister::open(&db)?;
        let signer = NoteSigner::new(&config.origin, keyring.checkpoint_key().signing_key().clone())
            .context("the origin cannot name a checkpoint key")?;
        let log = Log::open(Arc::new(store), signer)?;
        let signing = Signing::new(keyring, log.verifier().clone(), in_use);
        Ok(Self {
            log,
            signing,
            tokens,
            erasures,
            checks: CheckCache::default(),
            stamp_limiter: RateLimiter::new(config.stamp_rate),
            prompt_limiter: RateLimiter::new(config.prompt_check_rate),
            upload_limits: StreamLimits { max_bytes: config.max_upload_bytes, idle: config.upload_idle },
            max_text_bytes: config.max_text_bytes,
            fetch: config.fetch.clone(),
        })
    }

    /// The log itself, for tools that prepare a large log in bulk (the load tool);
    /// handlers use the operations above, which apply the service's rules.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Every public key this service has published, retired ones included.
    pub fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.signing.public_keys()
    }

    /// The log's note verifier: its origin and checkpoint key.
    pub fn log_verifier(&self) -> &NoteVerifier {
        self.log.verifier()
    }

    /// What this service's own verdicts trust: its keys and its log.
    pub fn trust(&self) -> Arc<TrustAnchors> {
        self.signing.trust()
    }
}

/// Opens the sled database of a data directory, creating the directory on first start.
/// The log, the issuer tokens and the erasure register share it.
///
/// # Errors
/// When the directory cannot be created or another process holds the database.
pub fn open_db(data_dir: &std::path::Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    crate::log::open_db(data_dir).map_err(|e| {
        // sled refuses a second process with a lock error; say so only then.
        let hint = if e.to_string().contains("lock") { " (is another aiprov using it?)" } else { "" };
        anyhow::anyhow!("opening the database in {}{hint}: {e}", data_dir.display())
    })
}

/// Spends one request of `key`'s budget, or says how long to wait.
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
