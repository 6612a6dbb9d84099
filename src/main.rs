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
    /// Create the signing keys in the keys directory if there are none yet, and print them.
    Keygen {
        #[arg(long = "keys", env = "AIPROV_KEYS", default_value = "./keys")]
        keys: std::path::PathBuf,
    },
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
