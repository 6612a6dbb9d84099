//! `Service`: the application's state and every operation the HTTP handlers expose.
//! Handlers only decode requests and encode responses; the logic is here, where tests
//! and tools can call it without HTTP. One file per group of operations:
//!
//! - `stamp`: signing and appending, receipts and lookups by content;
//! - `verify`: verdicts for content, receipts, uploads and URLs;
//! - `prompt`: prompt checks and erasure of the prompt link;
//! - `admin`: authentication and the admin API (tokens, erasure register);
//! - `log_api`: the log's read API (checkpoint, proofs, entries);
//! - `ops`: readiness, metrics and online backups, for operators;
//! - [`tokens`], [`erasure`], [`ratelimit`], [`proxies`], [`metrics`]: the stores,
//!   limiters and counters behind them.

mod admin;
mod config;
mod credentials;
pub mod erasure;
mod log_api;
pub mod metrics;
mod ops;
mod private;
mod prompt;
pub mod proxies;
pub mod ratelimit;
mod signing;
mod stamp;
mod tlog;
pub mod tokens;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

pub use config::{ServiceConfig, DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_IDLE_SECS};
pub use credentials::Credentialed;
pub use log_api::{LogEntries, MAX_ENTRIES_PAGE};
pub use ops::{BackupReport, Readiness};
pub use prompt::{ErasureOutcome, PromptCheck};
pub use stamp::{ContentQuery, MAX_LOOKUP};

use crate::content::fetch::FetchConfig;
use crate::content::StreamLimits;
use crate::error::ApiError;
use crate::keys::{Keyring, KeysInUse, PublicKeyInfo};
use crate::log::checkpoint::{NoteSigner, NoteVerifier};
use crate::log::{LocalStore, Log};
use crate::pg::{start_sequencer, Pg, PgStore, SaltSeal, SequencerConfig};
use crate::verify::check_cache::CheckCache;
use crate::verify::TrustAnchors;
use erasure::ErasureRegister;
use metrics::Metrics;
use private::{make_keys_private, make_private};
use proxies::TrustedProxies;
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
    metrics: Metrics,
    trusted_proxies: TrustedProxies,
    backup_dir: Option<PathBuf>,
    /// Whether the log is in a database that several nodes share (`--database`).
    shared: bool,
    /// Where bodies that must be read whole (images for credentials) are spooled: the
    /// data directory, private to this user.
    spool_dir: PathBuf,
    public_url: String,
    max_image_bytes: u64,
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
        let signer = NoteSigner::new(&config.origin, keyring.checkpoint_key().signing_key().clone())
            .context("the origin cannot name a checkpoint key")?;
        let (log, tokens, erasures, metrics, stamp_limiter, prompt_limiter) = match &config.database {
            None => {
                let db = open_db(&config.data_dir)?;
                let store = LocalStore::open(&db, &config.data_dir)
                    .with_context(|| format!("opening the log in {}", config.data_dir.display()))?;
                let erasures = ErasureRegister::open(&db)?;
                let metrics = Metrics::new(erasures.count()?);
                let log = Log::open_observed(Arc::new(store), signer, metrics.log_observer())?;
                let limiters = (RateLimiter::new(config.stamp_rate), RateLimiter::new(config.prompt_check_rate));
                (log, TokenStore::open(&db)?, erasures, metrics, limiters.0, limiters.1)
            }
            Some(url) => {
                std::fs::create_dir_all(&config.data_dir)
                    .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
                let pg = Pg::connect(url)?;
                let seal = SaltSeal::from_checkpoint_key(keyring.checkpoint_key().signing_key());
                let store = PgStore::new(pg.clone(), seal.clone());
                let erasures = ErasureRegister::on(pg.clone());
                let metrics = Metrics::new(erasures.count()?);
                let node = SequencerConfig { pg: pg.clone(), node: node_name(), seal };
                let log = Log::open_sequenced(Arc::new(store), signer, metrics.log_observer(), |integration| {
                    start_sequencer(node, integration)
                })
                .with_context(|| format!("opening the log in {}", pg.url()))?;
                let limiters = (
                    RateLimiter::shared(config.stamp_rate, pg.clone(), "stamp"),
                    RateLimiter::shared(config.prompt_check_rate, pg.clone(), "prompt"),
                );
                (log, TokenStore::on(pg.clone()), erasures, metrics, limiters.0, limiters.1)
            }
        };
        // After opening: whatever the database and keyring created is there now.
        let restricting = |dir: &Path| format!("restricting {} to this user", dir.display());
        make_private(&config.data_dir).with_context(|| restricting(&config.data_dir))?;
        make_keys_private(&config.keys_dir).with_context(|| restricting(&config.keys_dir))?;
        let certs =
            keyring.c2pa_certs(&config.origin).context("opening the C2PA certificates in the keys directory")?;
        let signing = Signing::new(keyring, certs, log.verifier().clone(), in_use);
        Ok(Self {
            log,
            signing,
            tokens,
            erasures,
            checks: CheckCache::default(),
            stamp_limiter,
            prompt_limiter,
            upload_limits: StreamLimits { max_bytes: config.max_upload_bytes, idle: config.upload_idle },
            max_text_bytes: config.max_text_bytes,
            fetch: config.fetch.clone(),
            metrics,
            trusted_proxies: config.trusted_proxies.clone(),
            backup_dir: config.backup_dir.clone(),
            shared: config.database.is_some(),
            spool_dir: config.data_dir.clone(),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            max_image_bytes: config.max_image_bytes,
        })
    }

    /// The address that keys per-client rate limits, for a request from `peer` (none
    /// when unknown) carrying the `X-Forwarded-For` values `forwarded_for`: see
    /// [`TrustedProxies::client`].
    pub fn client_address(&self, peer: Option<std::net::IpAddr>, forwarded_for: &[&str]) -> String {
        peer.map_or_else(|| "unknown".to_owned(), |ip| self.trusted_proxies.client(ip, forwarded_for).to_string())
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

    /// The C2PA certificate chain: the root (the trust anchor to publish) and the leaf
    /// of every statement key.
    pub fn c2pa_certs(&self) -> crate::keys::C2paCerts {
        self.signing.c2pa_certs()
    }
}

/// This process's name in the sequencer lease: host, process id and a random part, so
/// that a restarted process never mistakes its predecessor's lease for its own.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let mut random = [0u8; 4];
    let _ = getrandom::getrandom(&mut random);
    format!("{host}/{}/{}", std::process::id(), hex::encode(random))
}

/// Opens the sled database of a data directory, creating the directory on first start.
/// The log, the issuer tokens and the erasure register share it.
///
/// # Errors
/// When the directory cannot be created or another process holds the database.
pub fn open_db(data_dir: &Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    crate::log::open_db(data_dir).map_err(|e| {
        // sled refuses a second process with a lock error; say so only then.
        let hint = if e.to_string().contains("lock") { " (is another aiprov using it?)" } else { "" };
        anyhow::anyhow!("opening the database in {}{hint}: {e}", data_dir.display())
    })
}

/// Spends one request of `key`'s budget, or says how long to wait.
async fn limit(limiter: &RateLimiter, key: &str) -> Result<(), ApiError> {
    limiter
        .take(key)
        .await
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
