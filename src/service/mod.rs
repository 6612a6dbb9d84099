//! `Service`: the application's state and every operation the HTTP handlers expose.
//! Handlers only decode requests and encode responses; the logic is here, where tests
//! and tools can call it without HTTP. One file per group of operations:
//!
//! - `stamp`: signing and appending, receipts and lookups by content;
//! - `verify`: verdicts for content, receipts, uploads and URLs;
//! - `credentials`, `text_credentials`: Content Credentials for images and for text;
//! - `prompt`: prompt checks and erasure of the prompt link;
//! - `admin`: authentication and the admin API (tokens, erasure register);
//! - `log_api`: the log's read API (checkpoint, proofs, entries);
//! - `witnessing`: asking the policy's witnesses to cosign checkpoints (a thread of its
//!   own); `witnessed`: serving the witnessed checkpoint and receipts proven against it;
//! - `ops`: readiness, metrics and online backups, for operators;
//! - `proxies`, `metrics`, `signing`, `config`: what is behind them.
//!
//! The backend is opened once, by `crate::storage::open`; the service then asks it what
//! it can do (backups, remote reads) and never which one it is.

mod admin;
mod config;
mod credentials;
mod decodes;
mod identity;
mod key_rollout;
mod log_api;
pub(crate) mod metrics;
mod ops;
mod private;
mod prompt;
pub(crate) mod proxies;
mod sbr;
mod signing;
mod similar;
mod stamp;
mod text_credentials;
mod tlog;
mod verify;
mod witnessed;
mod witnessing;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

pub use config::ServiceConfig;
pub(crate) use config::{
    DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_IDLE_SECS,
};
pub(crate) use key_rollout::RotationStatus;
pub(crate) use ops::BackupReport;
pub(crate) use sbr::{DEFAULT_RESULTS as SBR_DEFAULT_RESULTS, MAX_RESULTS as SBR_MAX_RESULTS};
pub(crate) use stamp::{ContentQuery, MAX_LOOKUP};
pub(crate) use text_credentials::TEXT_CREDENTIAL_MEDIA_TYPE;

use crate::content::fetch::FetchConfig;
use crate::content::StreamLimits;
use crate::error::ApiError;
use crate::keys::{Keyring, KeysInUse, PublicKeyInfo};
use crate::log::checkpoint::{NoteSigner, NoteVerifier};
use crate::log::policy::Policy;
use crate::log::Log;
use crate::records::erasure::ErasureRegister;
use crate::records::ratelimit::RateLimiter;
use crate::records::tokens::TokenStore;
use crate::storage::{Backups, Location};
use crate::verify::check_cache::CheckCache;
use crate::verify::TrustAnchors;
use key_rollout::{Follower, KeySync};
use metrics::Metrics;
use private::{make_keys_private, make_private};
use proxies::TrustedProxies;
use signing::Signing;

pub struct Service {
    log: Log,
    /// The statement key in use (rotated while serving) and the trust anchors.
    signing: Arc<Signing>,
    /// This node's part in the rollout of the log's statement keys.
    key_sync: Arc<KeySync>,
    /// Runs `key_sync` every second; stopping it records that this node left.
    _follower: Follower,
    tokens: TokenStore,
    erasures: ErasureRegister,
    /// Signature checks that passed before, so popular content verifies cheaply.
    checks: CheckCache,
    stamp_limiter: RateLimiter,
    prompt_limiter: RateLimiter,
    /// Public content lookups (`/sbr/v1/matches/*`), per client address.
    lookup_limiter: RateLimiter,
    upload_limits: StreamLimits,
    max_text_bytes: usize,
    fetch: FetchConfig,
    metrics: Metrics,
    trusted_proxies: TrustedProxies,
    backup_dir: Option<PathBuf>,
    /// Whether the backend takes backups itself.
    backups: Backups,
    /// Whether the backend's reads go over the network (see `Storage::remote_reads`).
    remote_reads: bool,
    /// Where bodies that must be read whole (images for credentials) are spooled: the
    /// data directory, private to this user.
    spool_dir: PathBuf,
    public_url: String,
    max_image_bytes: u64,
    /// The witnesses that cosign this log's checkpoints, and their quorum.
    witness_policy: Option<Arc<Policy>>,
    /// The newest witnessed checkpoint, read from the store (with a policy only).
    witnessed: Option<witnessing::WitnessedView>,
    /// Submits checkpoints to the witnesses while this node sequences.
    _witnessing: Option<witnessing::Witnessing>,
    /// Slots for image decodes (fingerprints), issuers' apart from the public's.
    decodes: decodes::Decodes,
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
        let note_signer = |origin: &str| {
            NoteSigner::new(origin, keyring.checkpoint_key().signing_key().clone())
                .context("the origin cannot name a checkpoint key")
        };
        // Refused before anything is created with it.
        if let Some(origin) = &config.origin {
            note_signer(origin)?;
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
        let location = Location::new(&config.data_dir, config.database.as_deref());
        let storage = crate::storage::open(&location, keyring.checkpoint_key().signing_key())
            .with_context(|| format!("opening the log in {location}"))?;
        let wanted = identity::Wanted {
            origin: config.origin.as_deref(),
            new_log: config.new_log,
            location: location.to_string(),
        };
        let identity = identity::establish(storage.log.store.as_ref(), &keyring, &wanted)?;
        let signer = note_signer(&identity.origin)?;
        let tables = storage.tables;
        let erasures = ErasureRegister::on(tables.erasures);
        let metrics = Metrics::new(erasures.count()?);
        let store = storage.log.store.clone();
        let witness_store = store.clone();
        let log = Log::open(storage.log, signer, metrics.log_observer())
            .with_context(|| format!("opening the log in {location}"))?;
        log.load_similarity_index_in_background();
        let stamp_limiter = RateLimiter::on(config.stamp_rate, tables.buckets.clone(), "stamp");
        let prompt_limiter = RateLimiter::on(config.prompt_check_rate, tables.buckets.clone(), "prompt");
        let lookup_limiter = RateLimiter::on(config.lookup_rate, tables.buckets, "lookup");
        let tokens = TokenStore::on(tables.tokens);
        // After opening: whatever the database and keyring created is there now.
        let restricting = |dir: &Path| format!("restricting {} to this user", dir.display());
        make_private(&config.data_dir).with_context(|| restricting(&config.data_dir))?;
        make_keys_private(&config.keys_dir).with_context(|| restricting(&config.keys_dir))?;
        let certs =
            keyring.c2pa_certs(&identity.origin).context("opening the C2PA certificates in the keys directory")?;
        let signing = Arc::new(Signing::new(keyring, certs, log.verifier().clone(), in_use));
        // Before serving: a node signs only once it has read the log's statement keys.
        let key_sync = Arc::new(
            KeySync::join(store, crate::storage::node_name(), signing.clone())
                .context("joining the log's record of its statement keys")?,
        );
        // A node on another machine whose keys directory lacks the log's key refuses to
        // start, saying what to copy; once running, such a node answers 503 instead.
        if let Some(kid) = signing.lacks_active_key() {
            key_sync.leave();
            anyhow::bail!(
                "the log {} signs statements with the key {kid}, whose private key is not in the keys directory {}: \
                 copy {kid}.key from a node of the log (or its whole keys directory) into it, then start again",
                identity.origin,
                config.keys_dir.display()
            );
        }
        let follower = Follower::start(key_sync.clone()).context("starting the key rollout thread")?;
        let witness_policy = config.witness_policy.clone().map(Arc::new);
        let witnessed = witness_policy
            .as_ref()
            .map(|_| witnessing::WitnessedView::new(witness_store.clone(), log.verifier().clone()));
        let witnessing = match (&witness_policy, &witnessed) {
            (Some(policy), Some(view)) => Some(
                witnessing::Witnessing::start(
                    log.clone(),
                    witness_store,
                    policy.clone(),
                    metrics.witnessing(),
                    view.clone(),
                )
                .context("starting witnessing (--witness-policy)")?,
            ),
            _ => None,
        };
        Ok(Self {
            log,
            signing,
            key_sync,
            _follower: follower,
            tokens,
            erasures,
            checks: CheckCache::default(),
            stamp_limiter,
            prompt_limiter,
            lookup_limiter,
            upload_limits: StreamLimits { max_bytes: config.max_upload_bytes, idle: config.upload_idle },
            max_text_bytes: config.max_text_bytes,
            fetch: config.fetch.clone(),
            metrics,
            trusted_proxies: config.trusted_proxies.clone(),
            backup_dir: config.backup_dir.clone(),
            backups: storage.backups,
            remote_reads: storage.remote_reads,
            spool_dir: config.data_dir.clone(),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            max_image_bytes: config.max_image_bytes,
            witness_policy,
            witnessed,
            _witnessing: witnessing,
            decodes: decodes::Decodes::default(),
        })
    }

    /// The address that keys per-client rate limits, for a request from `peer` (none
    /// when unknown) carrying the `X-Forwarded-For` values `forwarded_for`: see
    /// [`TrustedProxies::client`].
    pub fn client_address(&self, peer: Option<std::net::IpAddr>, forwarded_for: &[&str]) -> String {
        peer.map_or_else(|| "unknown".to_owned(), |ip| self.trusted_proxies.client(ip, forwarded_for).to_string())
    }

    /// What tells when the log's integration loop has ended, once the service is dropped:
    /// its stamps answered, its sequencer lease handed over. `serve` waits for it.
    pub fn log_stopped(&self) -> crate::log::LogStopped {
        self.log.stopped()
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

    /// The witnesses that cosign this log's checkpoints and the quorum they must reach, as
    /// the operator configured them (`--witness-policy`).
    pub fn witness_policy(&self) -> Option<&Policy> {
        self.witness_policy.as_deref()
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
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}
