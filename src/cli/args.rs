//! Every command-line flag and its environment variable, each defined once: the only
//! place that reads the environment. Each flag of `serve` also works as `AIPROV_*`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::content::fetch::FetchConfig;
use crate::keys::Passphrase;
use crate::log::policy::Policy;
use crate::records::ratelimit::RateLimit;
use crate::service::proxies::TrustedProxies;
use crate::service::{
    ServiceConfig, DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_IDLE_SECS,
};
use crate::statement::{DigitalSourceType, HumanOversight, Kind, IPTC_DST_CODES};

/// The keys directory, the one definition of `--keys`.
#[derive(Debug, Clone, Args)]
pub struct KeysDirArg {
    /// Directory of the signing keys (created with mode 0600 on first start).
    #[arg(long = "keys", env = "AIPROV_KEYS", default_value = "./keys")]
    pub keys: PathBuf,
}

/// Where the service's state lives.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Directory of the sled database (with --database: only spooled uploads).
    #[arg(long = "data", env = "AIPROV_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// A PostgreSQL database (postgres://user@host:port/name) that holds the log, tokens,
    /// erasure register and rate limits instead of the data directory; several `serve`
    /// processes on one database are one service.
    #[arg(long = "database", env = "AIPROV_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    #[command(flatten)]
    pub keys: KeysDirArg,
    /// Origin line of a new log's checkpoints and name of its note key: a host name and
    /// path you control, as C2SP tlog-checkpoint recommends. Default for a new log:
    /// localhost/ai-provenance/ and 8 hex digits of its random id; an existing log keeps
    /// its own.
    #[arg(long = "origin", env = "AIPROV_ORIGIN")]
    pub origin: Option<String>,
}

impl StateArgs {
    pub fn service_config(&self) -> ServiceConfig {
        let mut config = ServiceConfig::new(self.data.clone(), self.keys.keys.clone(), String::new());
        config.origin.clone_from(&self.origin);
        config.database.clone_from(&self.database);
        config
    }
}

/// Reads and parses a C2SP tlog-policy file.
///
/// # Errors
/// When the file cannot be read or breaks the specification, naming the file and line.
pub fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the policy {}", path.display()))?;
    Policy::parse(&text).with_context(|| format!("the policy {} is not a valid C2SP tlog-policy", path.display()))
}

impl ServeArgs {
    /// The service configuration these flags describe (the key passphrase comes from the
    /// environment alone: see [`key_passphrase`]).
    ///
    /// # Errors
    /// When `AIPROV_KEY_PASSPHRASE` is not UTF-8.
    pub fn service_config(&self) -> anyhow::Result<ServiceConfig> {
        let mut config = self.state.service_config();
        config.new_log = self.new_log;
        config.key_passphrase = key_passphrase()?;
        config.stamp_rate = RateLimit { per_second: self.stamp_rate, burst: self.stamp_burst };
        config.lookup_rate = RateLimit { per_second: self.lookup_rate, burst: self.lookup_burst };
        config.trusted_proxies = TrustedProxies::new(self.trusted_proxies.clone());
        config.backup_dir.clone_from(&self.backup_dir);
        config.public_url = self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen));
        config.max_image_bytes = self.max_image_bytes;
        if let Some(path) = &self.witness_policy {
            config.witness_policy = Some(read_policy(path)?);
        }
        self.apply_limits(&mut config);
        Ok(config)
    }

    /// Applies the body and fetch limits of these flags to `config`.
    pub fn apply_limits(&self, config: &mut ServiceConfig) {
        config.max_upload_bytes = self.max_upload_bytes;
        config.upload_idle = std::time::Duration::from_secs(self.upload_idle_secs.max(1));
        config.max_text_bytes = self.max_json_bytes;
        config.fetch = FetchConfig {
            max_bytes: self.fetch_max_bytes,
            timeout: std::time::Duration::from_secs(self.fetch_timeout_secs.max(1)),
            allow_private: self.fetch_allow_private,
            disabled: self.fetch_disabled,
        };
    }
}

/// Flags of `aiprov serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Let a keys directory that already signs for another log sign for this new, empty
    /// one too (under another origin). Without it, such a start is refused: two logs
    /// under one key are easy to mistake for a fork.
    #[arg(long = "new-log")]
    pub new_log: bool,
    /// Address to listen on; port 0 picks a free port (logged at start).
    #[arg(long = "listen", env = "AIPROV_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest JSON request body in bytes.
    #[arg(long = "max-json-bytes", env = "AIPROV_MAX_JSON_BYTES", default_value_t = DEFAULT_MAX_TEXT_BYTES)]
    pub max_json_bytes: usize,
    /// Stamps per second allowed per issuer token (sustained); past it: 429 with Retry-After.
    #[arg(long = "stamp-rate", env = "AIPROV_STAMP_RATE", default_value_t = ServiceConfig::DEFAULT_STAMP_RATE.per_second)]
    pub stamp_rate: f64,
    /// Stamps a token may send at once above the sustained rate.
    #[arg(long = "stamp-burst", env = "AIPROV_STAMP_BURST", default_value_t = ServiceConfig::DEFAULT_STAMP_RATE.burst)]
    pub stamp_burst: u32,
    /// Content lookups per second allowed per client address through the C2PA Soft
    /// Binding Resolution API (/sbr/v1/matches/*, sustained); past it: 429 with Retry-After.
    #[arg(long = "lookup-rate", env = "AIPROV_LOOKUP_RATE", default_value_t = ServiceConfig::DEFAULT_LOOKUP_RATE.per_second)]
    pub lookup_rate: f64,
    /// Lookups a client address may send at once above the sustained rate.
    #[arg(long = "lookup-burst", env = "AIPROV_LOOKUP_BURST", default_value_t = ServiceConfig::DEFAULT_LOOKUP_RATE.burst)]
    pub lookup_burst: u32,
    /// Largest streamed body (POST /v1/stamps/upload, /v1/verify/upload) in bytes; past it: 413.
    #[arg(long = "max-upload-bytes", env = "AIPROV_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Longest pause, in seconds, within a streamed body before it is refused with 408.
    #[arg(long = "upload-idle-secs", env = "AIPROV_UPLOAD_IDLE_SECS", default_value_t = DEFAULT_UPLOAD_IDLE_SECS)]
    pub upload_idle_secs: u64,
    /// Verification by URL may fetch loopback, private and other non-public addresses
    /// (off by default: the public must not reach the operator's own network through it).
    /// The variable takes 1/0, true/false, yes/no, on/off.
    #[arg(
        long = "fetch-allow-private",
        env = "AIPROV_FETCH_ALLOW_PRIVATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub fetch_allow_private: bool,
    /// Verification by URL is refused (422 url_disabled) before the URL is even parsed:
    /// the service never resolves a name nor connects anywhere for a client. The
    /// variable takes 1/0, true/false, yes/no, on/off.
    #[arg(
        long = "fetch-disabled",
        env = "AIPROV_FETCH_DISABLED",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub fetch_disabled: bool,
    /// Largest body fetched for verification by URL, in bytes.
    #[arg(long = "fetch-max-bytes", env = "AIPROV_FETCH_MAX_BYTES", default_value_t = FetchConfig::default().max_bytes)]
    pub fetch_max_bytes: u64,
    /// Time limit of one fetch for verification by URL (redirects and body included), in seconds.
    #[arg(long = "fetch-timeout-secs", env = "AIPROV_FETCH_TIMEOUT_SECS", default_value_t = FetchConfig::default().timeout.as_secs())]
    pub fetch_timeout_secs: u64,
    /// A reverse proxy (address or CIDR network) whose X-Forwarded-For names the client
    /// of per-address rate limits; repeat it for several. The variable takes a
    /// comma-separated list. Without it the header is ignored: anyone can write one.
    #[arg(
        long = "trusted-proxy",
        env = "AIPROV_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = TrustedProxies::parse_net
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Directory where `aiprov backup NAME` (POST /v1/admin/backup) writes backups of
    /// the running service; without it, backups are refused.
    #[arg(long = "backup-dir", env = "AIPROV_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// The URL the public reaches this service at (behind a proxy: the proxy's), without
    /// a trailing slash; the verify links in Content Credentials start with it. Default:
    /// http:// and the listening address.
    #[arg(long = "public-url", env = "AIPROV_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest image, in bytes, given Content Credentials (POST /v1/credentials; past it:
    /// 413) or read for its C2PA manifest when verified (larger ones are checked by hash).
    #[arg(long = "max-image-bytes", env = "AIPROV_MAX_IMAGE_BYTES", default_value_t = DEFAULT_MAX_IMAGE_BYTES)]
    pub max_image_bytes: u64,
    /// A C2SP tlog-policy file naming the witnesses (with their submission URLs) that
    /// cosign this log's checkpoints, and the quorum it must reach. Without it the log is
    /// not witnessed.
    #[arg(long = "witness-policy", env = "AIPROV_WITNESS_POLICY", value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Parser)]
#[command(name = "aiprov", version, about = "Signed, logged, verifiable disclosures of AI involvement in content")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Manage issuer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Stamp a file, a folder (recursively) or stdin through a running service.
    Stamp(StampArgs),
    /// Verify a receipt, or a whole receipts file, offline with the service's public keys only.
    Verify(VerifyArgs),
    /// Audit the log: recompute the tree from every leaf, check every signature and the
    /// newest checkpoint. Exits non-zero and lists each problem (with its leaf index).
    Audit(AuditArgs),
    /// Manage the signing keys: `keys rotate --url` has a running service rotate its own,
    /// `keys rotate` alone rotates a keys directory no service runs on.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Export the erasure register (when, which stamp, by whom) as JSON lines.
    Erasures {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Create the signing keys in the keys directory if there are none yet, and print them.
    Keygen {
        #[command(flatten)]
        keys: KeysDirArg,
    },
    /// Have the running service back up its data directory into its --backup-dir, while
    /// it goes on stamping. The backup is a data directory: `aiprov serve --data` opens
    /// it, with the same keys directory (keys are not in it: back them up apart).
    Backup(BackupArgs),
    /// Convert a data directory written by an older aiprov (storage format 1: a key per
    /// leaf and per Merkle node) to the current format (tiles and entry bundles), in
    /// place, with the service stopped. Back the directory up first. The log's root, and
    /// so every receipt, stays the same.
    Migrate {
        /// Directory of the data to convert.
        #[arg(long = "data", env = "AIPROV_DATA", default_value = "./data")]
        data: PathBuf,
    },
    /// Run a transparency-log witness (C2SP tlog-witness): it cosigns a log's checkpoints
    /// once it has checked that each is consistent with the last one it saw.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve POST /add-checkpoint for the logs given with --log; creates the witness key
    /// on first start.
    Serve(WitnessServeArgs),
    /// Print the witness's verifier key (last line), creating the key if there is none.
    Key(WitnessKeyArgs),
}

/// The witness's directory and name, shared by `witness serve` and `witness key`.
#[derive(Debug, Clone, Args)]
pub struct WitnessKeyArgs {
    /// Directory of the witness's key and of the checkpoints it holds.
    #[arg(long = "data", env = "AIPROV_WITNESS_DATA", default_value = "./witness")]
    pub data: PathBuf,
    /// Name of a new witness key (a schema-less URL you control). Default:
    /// localhost/aiprov-witness/ and 8 hex digits of the key; an existing key keeps its own.
    #[arg(long = "name", env = "AIPROV_WITNESS_NAME")]
    pub name: Option<String>,
}

/// Flags of `aiprov witness serve`.
#[derive(Debug, Clone, Args)]
pub struct WitnessServeArgs {
    /// Address to listen on; port 0 picks a free port (logged at start).
    #[arg(long = "listen", env = "AIPROV_WITNESS_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// A log to witness: its note verifier key, as `GET /v1/log/verifier-key` serves it
    /// (`origin+8hex+base64`). Repeat it for several logs, or several keys of one log.
    /// The variable takes a comma-separated list.
    #[arg(
        long = "log",
        env = "AIPROV_WITNESS_LOGS",
        value_name = "VKEY",
        required = true,
        value_delimiter = ',',
        value_parser = parse_log_vkey
    )]
    pub logs: Vec<crate::log::checkpoint::NoteVerifier>,
    /// Checkpoints per second a log may submit (sustained); past it: 429 with Retry-After.
    #[arg(long = "rate", env = "AIPROV_WITNESS_RATE", default_value_t = crate::witness::DEFAULT_RATE.per_second)]
    pub rate: f64,
    /// Checkpoints a log may submit at once above the sustained rate.
    #[arg(long = "burst", env = "AIPROV_WITNESS_BURST", default_value_t = crate::witness::DEFAULT_RATE.burst)]
    pub burst: u32,
    #[command(flatten)]
    pub key: WitnessKeyArgs,
}

fn parse_log_vkey(s: &str) -> Result<crate::log::checkpoint::NoteVerifier, String> {
    crate::log::checkpoint::NoteVerifier::parse(s.trim()).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The backup's name: a new directory in the service's --backup-dir (letters,
    /// digits, '.', '_', '-').
    pub name: String,
    /// The service's base URL.
    #[arg(long, env = "AIPROV_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An admin token.
    #[arg(long, env = "AIPROV_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(clap::Args)]
pub struct StampArgs {
    /// A file or folder to stamp (a folder recursively; hidden entries and symbolic links
    /// are skipped and listed); `-` or nothing reads stdin.
    pub path: Option<PathBuf>,
    /// The service's base URL (http or https).
    #[arg(long, env = "AIPROV_URL", default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub url: String,
    /// The issuer token (from `aiprov token create`); prefer the variable, a flag shows in `ps`.
    #[arg(long, env = "AIPROV_TOKEN", hide_env_values = true)]
    pub token: String,
    /// What kind of asset is stamped.
    #[arg(long, value_enum, default_value = "marketing_copy")]
    pub kind: Kind,
    /// The provider of the generating system, such as a company name (1 to 200 characters).
    #[arg(long)]
    pub provider: String,
    /// The model or system that generated the content (1 to 200 characters).
    #[arg(long)]
    pub model: String,
    /// The model's version, if known (1 to 200 characters).
    #[arg(long)]
    pub model_version: Option<String>,
    /// The disclosure text shown to readers (1 to 2000 characters).
    #[arg(long)]
    pub disclosure: String,
    /// The language of the disclosure text: a BCP 47 tag such as en, de or de-CH.
    #[arg(long, default_value = "en", value_name = "TAG")]
    pub lang: String,
    /// How the content came about, as a code of the IPTC Digital Source Type vocabulary
    /// (or its full http://cv.iptc.org/newscodes/digitalsourcetype/ URI). Default:
    /// trainedAlgorithmicMedia, and algorithmicMedia for --kind recommendation_explanation.
    #[arg(long, value_parser = SourceTypeParser, value_name = "CODE")]
    pub digital_source_type: Option<DigitalSourceType>,
    /// Whether a person was in the loop before publication (default: none).
    #[arg(long, value_enum)]
    pub human_oversight: Option<HumanOversight>,
    #[command(flatten)]
    pub prompt: PromptArgs,
    /// A JSON file holding the statement's explanation: {"item": ..., "factors":
    /// [{"name": ..., "weight": ...}], "data_categories": [...], "legal_basis": one of
    /// consent, contract, legal_obligation, vital_interests, public_task,
    /// legitimate_interests}. Required with --kind recommendation_explanation, refused
    /// with any other kind.
    #[arg(long, value_name = "FILE")]
    pub explanation: Option<PathBuf>,
    /// Send only each file's SHA-256 and size, hashed here, for assets that must stay
    /// private (otherwise small files go inline and larger ones are streamed).
    #[arg(long)]
    pub hash_only: bool,
    /// Content Credentials: send each JPEG, PNG and WebP image to POST /v1/credentials and
    /// write the copy it returns, carrying a C2PA manifest, under `credentialed/` beside
    /// the receipts file (at the image's path as given); other files are stamped as usual.
    #[arg(long, conflicts_with = "hash_only")]
    pub c2pa: bool,
    /// Requests in flight at once (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// The receipts file: one JSON line per file (receipt and salt, or the error) is
    /// appended to it. Files it records as stamped, with the same path and content, are
    /// skipped: an interrupted run resumes where it stopped.
    #[arg(long, default_value = "receipts.jsonl", value_name = "FILE")]
    pub out: PathBuf,
    /// Stamp every file again, even those the receipts file records as stamped.
    #[arg(long)]
    pub restamp: bool,
    /// Also stamp hidden files and folders (names starting with `.`).
    #[arg(long)]
    pub include_hidden: bool,
}

/// The prompt, at most one way: a flag on the command line shows in `ps` and shell
/// history, a file does not.
#[derive(clap::Args)]
#[group(multiple = false)]
pub struct PromptArgs {
    /// The prompt, committed to with a salt and never stored by the service. Visible to
    /// other users in `ps` and kept in shell history: prefer --prompt-file.
    #[arg(long)]
    pub prompt: Option<String>,
    /// A file holding the prompt (UTF-8; one trailing newline is dropped).
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
}

impl clap::ValueEnum for Kind {
    fn value_variants<'a>() -> &'a [Self] {
        &[Kind::MarketingCopy, Kind::Image, Kind::Video, Kind::Audio, Kind::RecommendationExplanation, Kind::Other]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Kind::MarketingCopy => "generated text: slogans, product copy, articles",
            Kind::Image => "a generated or edited image",
            Kind::Video => "a generated or edited video",
            Kind::Audio => "generated speech, music or sound",
            Kind::RecommendationExplanation => "why an item was recommended; needs --explanation",
            Kind::Other => "anything else",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl clap::ValueEnum for HumanOversight {
    fn value_variants<'a>() -> &'a [Self] {
        &[HumanOversight::None, HumanOversight::Reviewed, HumanOversight::Edited]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            HumanOversight::None => ("none", "published without a person checking it"),
            HumanOversight::Reviewed => ("reviewed", "a person read and approved it"),
            HumanOversight::Edited => ("edited", "a person changed it"),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

/// `--digital-source-type`: a bare code of the IPTC vocabulary or its full URI; the
/// codes are the flag's possible values, so `--help` lists them.
#[derive(Clone)]
struct SourceTypeParser;

impl TypedValueParser for SourceTypeParser {
    type Value = DigitalSourceType;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<DigitalSourceType, clap::Error> {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let value = value.to_string_lossy();
        DigitalSourceType::from_code(&value).or_else(|_| DigitalSourceType::parse(&value)).map_err(|_| {
            // The error clap gives for any value outside a list, naming the allowed ones.
            let mut err = clap::Error::new(ErrorKind::InvalidValue).with_cmd(cmd);
            if let Some(arg) = arg {
                err.insert(ContextKind::InvalidArg, ContextValue::String(arg.to_string()));
            }
            err.insert(ContextKind::InvalidValue, ContextValue::String(value.into_owned()));
            let codes = IPTC_DST_CODES.iter().map(|c| (*c).to_owned()).collect();
            err.insert(ContextKind::ValidValue, ContextValue::Strings(codes));
            err
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(IPTC_DST_CODES.iter().map(|code| PossibleValue::new(*code))))
    }
}

#[derive(clap::Args)]
#[group(id = "content", multiple = false)]
pub struct VerifyContent {
    /// With --receipt: the content, as a file, that the receipt must hold.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// With --receipt: the content, as text, that the receipt must hold.
    #[arg(long)]
    pub text: Option<String>,
}

/// What to verify: one receipt, or every line of a receipts file (or neither, for an
/// image or a text with Content Credentials given with `--file`: its manifest names its
/// stamp).
#[derive(clap::Args)]
#[group(id = "receipt_source", required = false, multiple = false)]
pub struct ReceiptSource {
    /// A receipt (JSON): a stamp response, a plain receipt, or one line of a receipts file.
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// A receipts file (JSON lines, as `aiprov stamp` writes it): every receipt in it is
    /// verified, each against its file's content when the file is there; one line per
    /// file and a summary are printed.
    #[arg(long, value_name = "FILE", conflicts_with = "content")]
    pub receipts: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: ReceiptSource,
    #[command(flatten)]
    pub content: VerifyContent,
    /// With --receipts: the directory the receipts' relative file paths start from (the
    /// one `aiprov stamp` ran in). Default: the current directory.
    #[arg(long, value_name = "DIR", requires = "receipts")]
    pub dir: Option<PathBuf>,
    /// The service's keys: its base URL (fetches /v1/keys), a saved copy of /v1/keys,
    /// or one base64 Ed25519 statement key (then give --log-key too). Default: --url.
    #[arg(long, value_name = "URL|FILE|KEY", required_unless_present = "url")]
    pub key: Option<String>,
    /// Without a receipt: the service to look --file or --text up at (its base URL). It
    /// names the stamps that hold the content; the newest exact match's receipt is then
    /// fetched and verified here, with the keys --key (default: this URL) names. When
    /// nothing matches exactly, similar stamps are listed, and the content is not verified.
    #[arg(long, value_name = "URL", conflicts_with_all = ["receipt", "receipts"])]
    pub url: Option<String>,
    /// The log's note verifier key (from /v1/log/verifier-key), with a bare --key.
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub log_key: Option<String>,
    /// Your own witness policy (a C2SP tlog-policy file): every receipt's checkpoint must
    /// carry cosignatures of its quorum of witnesses (check `witnesses`), and the log's
    /// key must be one it lists, if it lists logs.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// With --receipt: a C2SP tlog-proof of the receipt's stamp (GET
    /// /v1/stamps/{id}/tlog-proof); the receipt's statement is checked as included at
    /// the proof's index under the proof's checkpoint, with its cosignatures, instead of
    /// the receipt's own.
    #[arg(long, value_name = "FILE", requires = "receipt")]
    pub tlog_proof: Option<PathBuf>,
    /// Print the verdict as JSON (with --receipts: one JSON line per file).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct AuditTarget {
    /// A data directory to audit offline. Use a copy: sled opens a directory in one process only.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The base URL of a running service to audit remotely.
    #[arg(long)]
    pub url: Option<String>,
    /// A PostgreSQL database holding a log (as `serve --database`), audited directly.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: AuditTarget,
    /// With --data: the keys directory whose keyring.json holds the public keys.
    #[command(flatten)]
    pub keys: KeysDirArg,
    /// With --url: the file remembering the last audited checkpoint and the log's key;
    /// the next audit checks that the log only grew since.
    #[arg(long, default_value = "aiprov-audit.json")]
    pub state: PathBuf,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Retire the statement-signing key and create a new one. The retired key stays
    /// published, so receipts it signed keep verifying; its private key file is removed.
    /// The checkpoint key, the log's identity, is not rotated. With --url, the running
    /// service rotates the log's key on every node of the log (admin token), with no
    /// restart and no window in which any node signs with a retired key: the new key
    /// signs once every live node holds it (copy its .key file to nodes on other
    /// machines, or --force); without --url, the keys directory is rotated offline, which
    /// is refused while a service runs on it. Offline with AIPROV_KEY_PASSPHRASE set, the
    /// new key file is encrypted (a service uses its own passphrase).
    Rotate(RotateArgs),
}

/// Where `keys rotate` rotates: a running service, or a keys directory no service uses.
#[derive(clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub keys: KeysDirArg,
    /// The base URL of the running service to rotate (POST /v1/admin/keys/rotate).
    #[arg(long, env = "AIPROV_URL")]
    pub url: Option<String>,
    /// An admin token of that service. Without it, the local admin token that `serve`
    /// keeps in <data>/local-admin.json is used, as `aiprov token create` does.
    #[arg(long, env = "AIPROV_TOKEN", hide_env_values = true, requires = "url")]
    pub token: Option<String>,
    /// With --url and no --token: the data directory of that service, where `serve`
    /// keeps its local admin credential.
    #[arg(long = "data", env = "AIPROV_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// With --url: activate the new key (or the one a rotation staged earlier) even if
    /// some nodes of the log do not hold it yet; they answer 503, naming it, until its
    /// .key file reaches their keys directory.
    #[arg(long, requires = "url")]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an issuer token; the token is printed alone on the last line of stdout.
    Create {
        /// The issuer's name, written into every statement stamped with this token.
        #[arg(long)]
        issuer: String,
        /// An admin token: manages tokens, erases any stamp's prompt link, exports the
        /// erasure register.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// List every token (never the secrets) as JSON lines.
    List {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke a token by its id (from `token list`); it fails from the next request on.
    Revoke {
        id: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// `AIPROV_KEY_PASSPHRASE`: decrypts passphrase-protected key files and encrypts new
/// ones. Taken from the environment alone, never a flag: a flag shows in `ps`.
///
/// # Errors
/// When the variable is set but not UTF-8.
pub fn key_passphrase() -> anyhow::Result<Option<Passphrase>> {
    match std::env::var("AIPROV_KEY_PASSPHRASE") {
        Ok(p) => Ok(Some(Passphrase::new(p))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("AIPROV_KEY_PASSPHRASE is not valid UTF-8"),
    }
}

/// How logs are filtered (`AIPROV_LOG`, as `tracing`'s `EnvFilter` directives; default
/// `info`), written (`AIPROV_LOG_FORMAT`: `text`, the default, or `json`, one object a
/// line for a log collector) and whether text is coloured (on a terminal, unless
/// `NO_COLOR` is set).
pub struct LogSettings {
    pub filter: String,
    pub json: bool,
    pub color: bool,
}

impl LogSettings {
    /// # Errors
    /// When `AIPROV_LOG_FORMAT` is neither `text` nor `json`.
    pub fn from_env() -> Result<Self, String> {
        let json = match std::env::var("AIPROV_LOG_FORMAT").as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("" | "text") => false,
            Ok("json") => true,
            _ => return Err("AIPROV_LOG_FORMAT must be text or json".into()),
        };
        Ok(Self {
            filter: std::env::var("AIPROV_LOG").unwrap_or_else(|_| "info".into()),
            json,
            color: std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none(),
        })
    }
}

impl VerifyArgs {
    /// What `--key` names, or the `--url` looked up at when it is absent.
    pub fn key(&self) -> &str {
        self.key.as_deref().or(self.url.as_deref()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[derive(Parser)]
    struct StampCli {
        #[command(flatten)]
        stamp: StampArgs,
    }

    fn stamp(extra: &[&str]) -> Result<StampArgs, clap::Error> {
        let base = ["aiprov", "--token", "t", "--provider", "P", "--model", "M", "--disclosure", "AI"];
        StampCli::try_parse_from(base.iter().chain(extra)).map(|c| c.stamp)
    }

    #[test]
    fn listed_values_are_the_wire_names() {
        // The flags list the names serde reads, so a value --help offers is one the
        // service accepts.
        for kind in <Kind as clap::ValueEnum>::value_variants() {
            let name = clap::ValueEnum::to_possible_value(kind).unwrap().get_name().to_owned();
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
        }
        for oversight in <HumanOversight as clap::ValueEnum>::value_variants() {
            let name = clap::ValueEnum::to_possible_value(oversight).unwrap().get_name().to_owned();
            assert_eq!(serde_json::to_value(oversight).unwrap(), name);
        }
        let args = stamp(&["--kind", "image", "--human-oversight", "edited"]).unwrap();
        assert_eq!((args.kind, args.human_oversight), (Kind::Image, Some(HumanOversight::Edited)));
        let err = stamp(&["--kind", "poster"]).err().unwrap().to_string();
        assert!(err.contains("recommendation_explanation"), "{err}");
    }

    #[test]
    fn digital_source_type_by_code_or_uri() {
        let by_code = stamp(&["--digital-source-type", "compositeSynthetic"]).unwrap().digital_source_type;
        let uri = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic";
        let by_uri = stamp(&["--digital-source-type", uri]).unwrap().digital_source_type;
        assert_eq!(by_code.as_ref().map(DigitalSourceType::as_str), Some(uri));
        assert_eq!(by_code, by_uri);
        let err = stamp(&["--digital-source-type", "aiMadeIt"]).err().unwrap().to_string();
        assert!(err.contains("aiMadeIt") && err.contains("trainedAlgorithmicMedia"), "{err}");
    }

    #[test]
    fn one_prompt_source_at_most() {
        assert!(stamp(&["--prompt", "p", "--prompt-file", "f"]).is_err());
        assert_eq!(stamp(&["--prompt-file", "f"]).unwrap().prompt.prompt_file, Some(PathBuf::from("f")));
        assert!(stamp(&["--concurrency", "0"]).is_err());
    }

    #[test]
    fn upload_and_fetch_flags_reach_the_service_config() {
        let cli = Cli::parse_from([
            "aiprov",
            "--max-json-bytes",
            "1000",
            "--max-upload-bytes",
            "5000",
            "--fetch-allow-private",
            "--fetch-max-bytes",
            "77",
            "--fetch-timeout-secs",
            "3",
            "--fetch-disabled",
        ]);
        let mut config = cli.serve.state.service_config();
        cli.serve.apply_limits(&mut config);
        assert_eq!((config.max_upload_bytes, config.max_text_bytes), (5000, 1000));
        assert!(config.fetch.allow_private && config.fetch.disabled);
        assert_eq!((config.fetch.max_bytes, config.fetch.timeout.as_secs()), (77, 3));

        let defaults = Cli::parse_from(["aiprov"]);
        let mut config = defaults.serve.state.service_config();
        defaults.serve.apply_limits(&mut config);
        assert_eq!(config.max_upload_bytes, 16 << 30);
        assert!(!config.fetch.allow_private, "private addresses are refused unless asked for");
        assert!(!config.fetch.disabled, "verification by URL is on unless turned off");
    }

    #[test]
    fn trusted_proxies_repeat_and_refuse_what_is_not_an_address() {
        let cli = Cli::parse_from(["aiprov", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1,192.0.2.7"]);
        let config = cli.serve.service_config().unwrap();
        let expected = ["10.0.0.0/8", "::1", "192.0.2.7"].map(|s| TrustedProxies::parse_net(s).unwrap());
        assert_eq!(config.trusted_proxies, TrustedProxies::new(expected.to_vec()));
        assert!(Cli::try_parse_from(["aiprov", "--trusted-proxy", "proxy.internal"]).is_err());
        let defaults = Cli::parse_from(["aiprov"]).serve.service_config().unwrap();
        assert!(defaults.trusted_proxies.is_empty(), "no proxy is trusted unless named");
        assert_eq!(defaults.backup_dir, None, "no backups unless a directory is named");
    }
}
