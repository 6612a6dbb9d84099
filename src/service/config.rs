//! [`ServiceConfig`]: where the service keeps its state, and its limits. Filled from the
//! command line in `cli::args`; tests and the load tool build one directly.

use std::path::PathBuf;
use std::time::Duration;

use crate::content::fetch::FetchConfig;
use crate::keys::Passphrase;
use crate::log::policy::Policy;
use crate::records::ratelimit::RateLimit;
use crate::service::proxies::TrustedProxies;

/// Default upper bound of a streamed body: 16 GiB.
pub(crate) const DEFAULT_MAX_UPLOAD_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Default longest pause within a streamed body: 30 s, long enough for a slow mobile
/// link, short enough that a stalled sender does not hold a connection for long.
pub(crate) const DEFAULT_UPLOAD_IDLE_SECS: u64 = 30;

/// Where the service keeps its state, and its abuse limits.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The sled database and spooled uploads; with `database`, spooled uploads alone.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL: the log and the service's tables live there, shared by every
    /// node given the same URL (and the same keys).
    pub database: Option<String>,
    pub keys_dir: PathBuf,
    /// The log's origin line, also the name of its checkpoint key: for a new log, unique
    /// by default (`localhost/ai-provenance/` and 8 hex digits of its random id); an
    /// existing log keeps its own, and refuses another.
    pub origin: Option<String>,
    /// Lets a keys directory that signs for other logs sign for this new, empty one too
    /// (under another origin): `--new-log`.
    pub new_log: bool,
    /// Stamps per issuer token.
    pub stamp_rate: RateLimit,
    /// Prompt checks per client address: each check is an online guess at a prompt, so
    /// this is what keeps short prompts from being brute-forced through the endpoint.
    pub prompt_check_rate: RateLimit,
    /// Public content lookups (the Soft Binding Resolution API) per client address.
    pub lookup_rate: RateLimit,
    /// Decrypts passphrase-protected key files (and encrypts new ones).
    pub key_passphrase: Option<Passphrase>,
    /// Largest body of a streamed upload (`/v1/stamps/upload`, `/v1/verify/upload`).
    pub max_upload_bytes: u64,
    /// Longest pause within a streamed upload before it is refused (`408`).
    pub upload_idle: Duration,
    /// Streamed or fetched bodies up to this size are kept in memory for the normalised
    /// text hash; larger ones are known by their exact hash alone. Set it to the JSON
    /// body limit: text that could have been sent as JSON `text` is treated alike.
    pub max_text_bytes: usize,
    /// The limits of verification by URL.
    pub fetch: FetchConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client of a rate limit.
    pub trusted_proxies: TrustedProxies,
    /// Where `POST /v1/admin/backup` writes backups; none: backups are refused.
    pub backup_dir: Option<PathBuf>,
    /// The URL this service is reached at by the public, without a trailing `/`: the
    /// verify links in C2PA manifests start with it.
    pub public_url: String,
    /// Largest image given credentials or read for its C2PA manifest: the C2PA SDK holds
    /// an image in memory while it parses it, so this bounds what one request may cost.
    pub max_image_bytes: u64,
    /// The witnesses that cosign this log's checkpoints and the quorum they must reach
    /// (C2SP tlog-policy); none: the log is not witnessed.
    pub witness_policy: Option<Policy>,
}

/// Default largest text kept whole (`--max-json-bytes`: the JSON body limit, so that
/// text that could have been sent as JSON `text` is treated alike): 16 MiB.
pub(crate) const DEFAULT_MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// Default upper bound of an image given or read for credentials: 256 MiB.
pub(crate) const DEFAULT_MAX_IMAGE_BYTES: u64 = 256 * 1024 * 1024;

impl ServiceConfig {
    pub const DEFAULT_STAMP_RATE: RateLimit = RateLimit { per_second: 500.0, burst: 1000 };
    pub const DEFAULT_PROMPT_CHECK_RATE: RateLimit = RateLimit { per_second: 0.2, burst: 10 };
    pub const DEFAULT_LOOKUP_RATE: RateLimit = RateLimit { per_second: 20.0, burst: 100 };

    /// A configuration with the default limits.
    pub fn new(data_dir: PathBuf, keys_dir: PathBuf, origin: String) -> Self {
        Self {
            data_dir,
            database: None,
            keys_dir,
            origin: Some(origin),
            new_log: false,
            stamp_rate: Self::DEFAULT_STAMP_RATE,
            prompt_check_rate: Self::DEFAULT_PROMPT_CHECK_RATE,
            lookup_rate: Self::DEFAULT_LOOKUP_RATE,
            key_passphrase: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            upload_idle: Duration::from_secs(DEFAULT_UPLOAD_IDLE_SECS),
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
            fetch: FetchConfig::default(),
            trusted_proxies: TrustedProxies::default(),
            backup_dir: None,
            public_url: "http://127.0.0.1:8080".into(),
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            witness_policy: None,
        }
    }
}
