//! Command-line flags and their environment variables: the only place that reads the
//! environment. Each flag of `serve` also works as `AIPROV_*`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::fetch::FetchConfig;
use crate::service::ServiceConfig;

/// The default origin line of checkpoints; operators set their own (a host name and
/// path they control, as C2SP tlog-checkpoint recommends).
pub const DEFAULT_ORIGIN: &str = "localhost/ai-provenance";

/// Where the service's state lives.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Directory of the sled database.
    #[arg(long = "data", env = "AIPROV_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Directory of the signing keys (created with mode 0600 on first start).
    #[arg(long = "keys", env = "AIPROV_KEYS", default_value = "./keys")]
    pub keys: PathBuf,
    /// Origin line of the log's checkpoints and name of its note key.
    #[arg(long = "origin", env = "AIPROV_ORIGIN", default_value = DEFAULT_ORIGIN)]
    pub origin: String,
}

impl StateArgs {
    pub fn service_config(&self) -> ServiceConfig {
        ServiceConfig::new(self.data.clone(), self.keys.clone(), self.origin.clone())
    }
}

impl ServeArgs {
    /// Applies the body and fetch limits of these flags to `config`.
    pub fn apply_limits(&self, config: &mut ServiceConfig) {
        config.max_upload_bytes = self.max_upload_bytes;
        config.upload_idle = std::time::Duration::from_secs(self.upload_idle_secs.max(1));
        config.max_text_bytes = self.max_json_bytes;
        config.fetch = FetchConfig {
            max_bytes: self.fetch_max_bytes,
            timeout: std::time::Duration::from_secs(self.fetch_timeout_secs.max(1)),
            allow_private: self.fetch_allow_private,
        };
    }
}

/// Flags of `aiprov serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (logged at start).
    #[arg(long = "listen", env = "AIPROV_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest JSON request body in bytes.
    #[arg(long = "max-json-bytes", env = "AIPROV_MAX_JSON_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_json_bytes: usize,
    /// Stamps per second allowed per issuer token (sustained); past it: 429 with Retry-After.
    #[arg(long = "stamp-rate", env = "AIPROV_STAMP_RATE", default_value_t = ServiceConfig::DEFAULT_STAMP_RATE.per_second)]
    pub stamp_rate: f64,
    /// Stamps a token may send at once above the sustained rate.
    #[arg(long = "stamp-burst", env = "AIPROV_STAMP_BURST", default_value_t = ServiceConfig::DEFAULT_STAMP_RATE.burst)]
    pub stamp_burst: u32,
    /// Largest streamed body (POST /v1/stamps/upload, /v1/verify/upload) in bytes; past it: 413.
    #[arg(long = "max-upload-bytes", env = "AIPROV_MAX_UPLOAD_BYTES", default_value_t = crate::upload::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Longest pause, in seconds, within a streamed body before it is refused with 408.
    #[arg(long = "upload-idle-secs", env = "AIPROV_UPLOAD_IDLE_SECS", default_value_t = crate::upload::DEFAULT_UPLOAD_IDLE_SECS)]
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
    /// Largest body fetched for verification by URL, in bytes.
    #[arg(long = "fetch-max-bytes", env = "AIPROV_FETCH_MAX_BYTES", default_value_t = FetchConfig::default().max_bytes)]
    pub fetch_max_bytes: u64,
    /// Time limit of one fetch for verification by URL (redirects and body included), in seconds.
    #[arg(long = "fetch-timeout-secs", env = "AIPROV_FETCH_TIMEOUT_SECS", default_value_t = FetchConfig::default().timeout.as_secs())]
    pub fetch_timeout_secs: u64,
    #[command(flatten)]
    pub state: StateArgs,
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
        ]);
        let mut config = cli.serve.state.service_config();
        cli.serve.apply_limits(&mut config);
        assert_eq!((config.max_upload_bytes, config.max_text_bytes), (5000, 1000));
        assert!(config.fetch.allow_private);
        assert_eq!((config.fetch.max_bytes, config.fetch.timeout.as_secs()), (77, 3));

        let defaults = Cli::parse_from(["aiprov"]);
        let mut config = defaults.serve.state.service_config();
        defaults.serve.apply_limits(&mut config);
        assert_eq!(config.max_upload_bytes, 16 << 30);
        assert!(!config.fetch.allow_private, "private addresses are refused unless asked for");
    }
}
