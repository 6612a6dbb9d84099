//! `aiprov`: the ai-provenance service and its tools. Parses flags, sets up logging,
//! and calls the library; nothing else lives here.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ai_provenance::config::{ServeArgs, StateArgs};
use ai_provenance::http::Limits;
use ai_provenance::keys::Keyring;
use ai_provenance::server::Application;
use ai_provenance::statement::IssuerName;
use ai_provenance::store::SledStore;
use ai_provenance::tokens::TokenStore;

#[derive(Parser)]
#[command(
    name = "aiprov",
    version,
    about = "Signed, logged, verifiable disclosures of AI involvement in content"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Manage issuer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Audit the log: recompute the tree from every leaf, check every signature and the
    /// newest checkpoint. Exits non-zero and lists each problem (with its leaf index).
    Audit(AuditArgs),
    /// Create the signing keys in the keys directory if there are none yet, and print them.
    Keygen {
        #[arg(long = "keys", env = "AIPROV_KEYS", default_value = "./keys")]
        keys: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct AuditTarget {
    /// A data directory to audit offline. Use a copy: sled opens a directory in one process only.
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// The base URL of a running service to audit remotely.
    #[arg(long)]
    url: Option<String>,
}

#[derive(clap::Args)]
struct AuditArgs {
    #[command(flatten)]
    target: AuditTarget,
    /// With --data: the keys directory whose keyring.json holds the public keys.
    #[arg(long, default_value = "./keys")]
    keys: std::path::PathBuf,
    /// With --url: the file remembering the last audited checkpoint and the log's key;
    /// the next audit checks that the log only grew since.
    #[arg(long, default_value = "aiprov-audit.json")]
    state: std::path::PathBuf,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an issuer token; the token is printed alone on the last line of stdout.
    Create {
        /// The issuer's name, written into every statement stamped with this token.
        #[arg(long)]
        issuer: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIPROV_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Token {
            command: TokenCommand::Create { issuer, state },
        } => token_create(&issuer, &state),
        Command::Audit(args) => audit(&args),
        Command::Keygen { keys } => keygen(&keys),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let config = args.state.service_config();
        let app = Application::build(&config, args.listen, Limits { max_json_bytes: args.max_json_bytes })?;
        tracing::info!(addr = %app.local_addr(), data = %config.data_dir.display(), keys = %config.keys_dir.display(), "listening on http://{}", app.local_addr());
        if app.service().tokens().is_empty()? {
            tracing::warn!(
                "no issuer token exists yet; create one with: aiprov token create --issuer NAME --data {}",
                config.data_dir.display()
            );
        }
        app.into_server().await.context("server failed")
    })
}

fn token_create(issuer: &str, state: &StateArgs) -> anyhow::Result<()> {
    let issuer = IssuerName::parse(issuer)?;
    std::fs::create_dir_all(&state.data).with_context(|| format!("creating {}", state.data.display()))?;
    let store = SledStore::open(&state.data).with_context(|| {
        format!(
            "opening the database in {} (stop the server first, or use the admin API)",
            state.data.display()
        )
    })?;
    let tokens = TokenStore::open(store.db())?;
    let token = tokens.create(issuer.clone())?;
    println!("Created an issuer token for \"{issuer}\". Only its hash is stored: copy it now.");
    println!("{}", token.secret);
    Ok(())
}

fn progress_bar() -> indicatif::ProgressBar {
    // Drawn on stderr, and only when it is a terminal: logs and CI stay clean.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} leaves ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn audit(args: &AuditArgs) -> anyhow::Result<()> {
    use ai_provenance::audit::{audit_remote, audit_store, public_keys_from_dir, AuditState};
    let bar = progress_bar();
    let tick = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = if let Some(data) = &args.target.data {
        if !data.exists() {
            anyhow::bail!("no data directory at {}", data.display());
        }
        let keys = public_keys_from_dir(&args.keys)?;
        let store = SledStore::open(data)
            .with_context(|| format!("opening {} (audit a copy while the server runs)", data.display()))?;
        audit_store(&store, &keys, tick)?
    } else {
        let url = args.target.url.as_deref().unwrap_or_default();
        let previous: Option<AuditState> = match std::fs::read_to_string(&args.state) {
            Ok(text) => Some(serde_json::from_str(&text).with_context(|| format!("reading {}", args.state.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", args.state.display())),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let (report, state) = runtime.block_on(audit_remote(&client, url, previous.as_ref(), tick))?;
        if report.ok() {
            // Only a clean audit becomes the reference for the next one.
            std::fs::write(&args.state, serde_json::to_string_pretty(&state)?)
                .with_context(|| format!("writing {}", args.state.display()))?;
        }
        if previous.is_some() {
            println!("consistency with the checkpoint saved by the previous audit: checked");
        }
        report
    };
    bar.finish_and_clear();
    println!("leaves audited: {}", report.leaves);
    println!("root recomputed from the leaves: {}", report.root);
    if report.uncovered > 0 {
        println!(
            "leaves newer than the stored checkpoint: {} (checked one by one; the server signs a checkpoint for them at its next start)",
            report.uncovered
        );
    }
    if report.ok() {
        println!("audit passed: every leaf is signed by a published key, and the tree matches the signed checkpoint");
        return Ok(());
    }
    for p in &report.problems {
        println!("PROBLEM {p}");
    }
    anyhow::bail!("audit found {} problem(s)", report.problems.len())
}

fn keygen(dir: &std::path::Path) -> anyhow::Result<()> {
    let ring = Keyring::open_or_create(dir)?;
    for k in ring.public_keys() {
        println!(
            "{} {:?} {} created {}",
            k.kid,
            k.purpose,
            k.public_key,
            k.created_at.to_rfc3339()
        );
    }
    Ok(())
}
