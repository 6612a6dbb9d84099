//! `aiprov`: the ai-provenance service and its tools. Parses flags, sets up logging,
//! and calls the library; nothing else lives here.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ai_provenance::config::{ServeArgs, StateArgs};
use ai_provenance::http::Limits;
use ai_provenance::keys::{Keyring, Passphrase};
use ai_provenance::server::Application;
use ai_provenance::statement::IssuerName;
use ai_provenance::store::SledStore;
use ai_provenance::tokens::TokenStore;

#[derive(Parser)]
#[command(name = "aiprov", version, about = "Signed, logged, verifiable disclosures of AI involvement in content")]
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
    /// Stamp a file, a folder (recursively) or stdin through a running service.
    Stamp(StampArgs),
    /// Verify a receipt offline, with the service's public keys only.
    Verify(VerifyArgs),
    /// Audit the log: recompute the tree from every leaf, check every signature and the
    /// newest checkpoint. Exits non-zero and lists each problem (with its leaf index).
    Audit(AuditArgs),
    /// Manage the signing keys (with the server stopped: it loads its keys at start).
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
        #[arg(long = "keys", env = "AIPROV_KEYS", default_value = "./keys")]
        keys: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct StampArgs {
    /// A file or folder to stamp; `-` or nothing reads stdin.
    path: Option<std::path::PathBuf>,
    /// The service's base URL.
    #[arg(long, env = "AIPROV_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The issuer token.
    #[arg(long, env = "AIPROV_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, value_parser = parse_kind, default_value = "marketing_copy")]
    kind: ai_provenance::statement::Kind,
    #[arg(long)]
    provider: String,
    #[arg(long)]
    model: String,
    #[arg(long)]
    model_version: Option<String>,
    /// The disclosure text shown to readers.
    #[arg(long)]
    disclosure: String,
    #[arg(long, default_value = "en")]
    lang: String,
    /// IPTC digital source type URI (default: by kind).
    #[arg(long)]
    digital_source_type: Option<String>,
    #[arg(long, value_parser = parse_oversight)]
    human_oversight: Option<ai_provenance::statement::HumanOversight>,
    /// The prompt, committed to with a salt and never stored by the service.
    #[arg(long)]
    prompt: Option<String>,
    /// Send only each file's SHA-256 and size, hashed here, for assets that must stay
    /// private (otherwise small files go inline and larger ones are streamed).
    #[arg(long)]
    hash_only: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Where to append one JSON line per file (receipt and salt, or the error).
    #[arg(long, default_value = "receipts.jsonl")]
    out: std::path::PathBuf,
}

fn parse_kind(s: &str) -> Result<ai_provenance::statement::Kind, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| "one of marketing_copy, image, video, audio, recommendation_explanation, other".to_owned())
}

fn parse_oversight(s: &str) -> Result<ai_provenance::statement::HumanOversight, String> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| "one of none, reviewed, edited".to_owned())
}

#[derive(clap::Args)]
#[group(id = "content", multiple = false)]
struct VerifyContent {
    /// The content as a file.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// The content as text.
    #[arg(long)]
    text: Option<String>,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The receipt (JSON) to verify.
    #[arg(long)]
    receipt: std::path::PathBuf,
    #[command(flatten)]
    content: VerifyContent,
    /// The service's keys: its base URL (fetches /v1/keys), a saved copy of /v1/keys,
    /// or one base64 Ed25519 statement key (then give --log-key too).
    #[arg(long)]
    key: String,
    /// The log's note verifier key (from /v1/log/verifier-key), with a bare --key.
    #[arg(long)]
    log_key: Option<String>,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
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
enum KeysCommand {
    /// Retire the statement-signing key and create a new one. The retired key stays
    /// published, so receipts it signed keep verifying; its private key file is removed.
    /// The checkpoint key, the log's identity, is not rotated. Stop the server first or
    /// restart it after: it signs with the key it loaded until its next start. With
    /// AIPROV_KEY_PASSPHRASE set, the new key file is encrypted.
    Rotate {
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
        Command::Token { command: TokenCommand::Create { issuer, admin, state } } => {
            token_create(&issuer, admin, &state)
        }
        Command::Token { command: TokenCommand::List { state } } => token_list(&state),
        Command::Token { command: TokenCommand::Revoke { id, state } } => token_revoke(&id, &state),
        Command::Erasures { state } => erasures(&state),
        Command::Keys { command: KeysCommand::Rotate { keys } } => keys_rotate(&keys),
        Command::Stamp(args) => stamp(args),
        Command::Verify(args) => return verify(&args),
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
        let mut config = args.state.service_config();
        config.key_passphrase = key_passphrase()?;
        config.stamp_rate = ai_provenance::ratelimit::RateLimit { per_second: args.stamp_rate, burst: args.stamp_burst };
        args.apply_limits(&mut config);
        if config.fetch.allow_private {
            tracing::warn!("--fetch-allow-private: verification by URL may reach loopback and private addresses");
        }
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

/// Opens the data directory for the offline commands (the server must be stopped: sled
/// allows one process; the admin API does the same while it runs).
fn open_store(state: &StateArgs) -> anyhow::Result<SledStore> {
    std::fs::create_dir_all(&state.data).with_context(|| format!("creating {}", state.data.display()))?;
    SledStore::open(&state.data).with_context(|| {
        format!("opening the database in {} (stop the server first, or use the admin API)", state.data.display())
    })
}

fn token_create(issuer: &str, admin: bool, state: &StateArgs) -> anyhow::Result<()> {
    let issuer = IssuerName::parse(issuer)?;
    let tokens = TokenStore::open(open_store(state)?.db())?;
    let token = tokens.create(issuer.clone(), admin)?;
    let role = if admin { "an admin" } else { "an issuer" };
    println!("Created {role} token for \"{issuer}\" (id {}). Only its hash is stored: copy it now.", token.id);
    println!("{}", token.secret);
    Ok(())
}

fn token_list(state: &StateArgs) -> anyhow::Result<()> {
    for t in TokenStore::open(open_store(state)?.db())?.list()? {
        println!("{}", serde_json::to_string(&t)?);
    }
    Ok(())
}

fn token_revoke(id: &str, state: &StateArgs) -> anyhow::Result<()> {
    let id = ai_provenance::tokens::TokenId::parse(id).map_err(anyhow::Error::msg)?;
    match TokenStore::open(open_store(state)?.db())?.revoke(&id)? {
        Some(t) => println!("revoked token {} of \"{}\"", t.id, t.record.issuer),
        None => anyhow::bail!("no token has id {id}"),
    }
    Ok(())
}

fn erasures(state: &StateArgs) -> anyhow::Result<()> {
    for r in ai_provenance::erasure::ErasureRegister::open(open_store(state)?.db())?.list()? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

fn stamp(args: StampArgs) -> anyhow::Result<()> {
    use ai_provenance::batch::{collect_files, stamp_files_with, Outcome, StampTemplate, Transfer};
    use ai_provenance::statement::{DigitalSourceType, Disclosure, Generator};
    use std::io::{Read, Write};

    let template = StampTemplate {
        kind: args.kind,
        generator: Generator { provider: args.provider, model: args.model, model_version: args.model_version },
        disclosure: Disclosure { text: args.disclosure, lang: args.lang },
        digital_source_type: args.digital_source_type.as_deref().map(DigitalSourceType::parse).transpose()?,
        human_oversight: args.human_oversight,
        prompt: args.prompt,
    };
    let client = ai_provenance::client::Client::new(&args.url, Some(args.token))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.out)
        .with_context(|| format!("opening {}", args.out.display()))?;
    let transfer = if args.hash_only { Transfer::HashOnly } else { Transfer::Content };
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut write = |o: Outcome| -> anyhow::Result<()> {
        if o.error.is_some() {
            failed += 1;
            eprintln!("aiprov: {}: {}", o.file, o.error.as_deref().unwrap_or_default());
        } else {
            ok += 1;
        }
        writeln!(out, "{}", serde_json::to_string(&o)?)?;
        Ok(())
    };
    match args.path.as_deref() {
        None => stamp_stdin(&runtime, &client, &template, transfer, &mut write)?,
        Some(p) if p.as_os_str() == "-" => stamp_stdin(&runtime, &client, &template, transfer, &mut write)?,
        Some(path) => {
            let files = collect_files(path).with_context(|| format!("reading {}", path.display()))?;
            let bar = progress_bar();
            bar.set_length(files.len() as u64);
            let mut result = Ok(());
            runtime.block_on(stamp_files_with(&client, &template, files, args.concurrency, transfer, |o| {
                bar.inc(1);
                if result.is_ok() {
                    result = write(o);
                }
            }));
            bar.finish_and_clear();
            result?;
        }
    }
    println!("stamped {ok}, failed {failed}; receipts appended to {}", args.out.display());
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be stamped");
    }
    return Ok(());

    fn stamp_stdin(
        runtime: &tokio::runtime::Runtime,
        client: &ai_provenance::client::Client,
        template: &StampTemplate,
        transfer: Transfer,
        write: &mut dyn FnMut(Outcome) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let req = if transfer == Transfer::HashOnly {
            let hashed = ai_provenance::content::hash_reader(std::io::stdin().lock(), 0).context("reading stdin")?;
            template.for_digest(&hashed, None)
        } else {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
            template.for_bytes(bytes, None)
        };
        let outcome = match runtime.block_on(client.stamp(&req)) {
            Ok(r) => Outcome { file: "-".into(), receipt: Some(r), error: None },
            Err(e) => Outcome { file: "-".into(), receipt: None, error: Some(e.to_string()) },
        };
        write(outcome)
    }
}

/// Exit codes: 0 verified, 1 not verified (the failing check is named), 2 could not run.
fn verify(args: &VerifyArgs) -> ExitCode {
    match verify_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn verify_inner(args: &VerifyArgs) -> anyhow::Result<bool> {
    use ai_provenance::verify::{verify_receipt, ContentHashes, TrustAnchors, Verdict};
    let text = std::fs::read_to_string(&args.receipt).with_context(|| format!("reading {}", args.receipt.display()))?;
    let receipt: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", args.receipt.display()))?;
    let trust = if args.key.starts_with("http://") || args.key.starts_with("https://") {
        let client = ai_provenance::client::Client::new(&args.key, None)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(client.trust_anchors())?
    } else if std::path::Path::new(&args.key).is_file() {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args.key)?)
            .with_context(|| format!("{} is not a saved /v1/keys document", args.key))?;
        TrustAnchors::from_keys_document(&doc).map_err(anyhow::Error::msg)?
    } else {
        TrustAnchors::from_public_key(&args.key, args.log_key.as_deref()).map_err(anyhow::Error::msg)?
    };
    let content = match (&args.content.file, &args.content.text) {
        // Hashed piece by piece, so a video is never read whole; a text file up to the
        // default JSON limit also gets its normalised text hash.
        (Some(f), _) => Some(
            ai_provenance::content::hash_file(f, ai_provenance::http::Limits::default().max_json_bytes)
                .with_context(|| format!("reading {}", f.display()))?
                .hashes(),
        ),
        (None, Some(t)) => Some(ContentHashes::of_text(t)),
        (None, None) => None,
    };
    let (checks, stamp) = verify_receipt(&receipt, content.as_ref(), &trust);
    let verdict = Verdict::from_checks(checks, stamp);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        for c in &verdict.checks {
            println!("{} {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.code, c.message);
        }
        println!("{}", verdict.summary);
        if let Some(failed) = verdict.first_failure() {
            eprintln!("aiprov: not verified: check {} failed ({})", failed.name, failed.code);
        }
    }
    Ok(verdict.verified)
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
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
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

/// AIPROV_KEY_PASSPHRASE, read here and only here: the library never reads the environment.
fn key_passphrase() -> anyhow::Result<Option<Passphrase>> {
    match std::env::var("AIPROV_KEY_PASSPHRASE") {
        Ok(p) => Ok(Some(Passphrase::new(p))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("AIPROV_KEY_PASSPHRASE is not valid UTF-8"),
    }
}

fn keys_rotate(dir: &std::path::Path) -> anyhow::Result<()> {
    let passphrase = key_passphrase()?;
    let report = ai_provenance::keys::rotate(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    println!("retired statement key {} (still published: receipts it signed keep verifying)", report.retired.kid);
    for path in &report.removed {
        println!("overwrote and removed {}", path.display());
    }
    for (path, e) in &report.not_removed {
        eprintln!("aiprov: warning: could not remove {}: {e}; delete it by hand", path.display());
    }
    let encrypted = if report.encrypted { "encrypted" } else { "plain" };
    println!("new statement key {} ({encrypted} key file); restart the server to sign with it", report.active.kid);
    Ok(())
}

fn keygen(dir: &std::path::Path) -> anyhow::Result<()> {
    let passphrase = key_passphrase()?;
    let ring = Keyring::open_or_create_with(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    for k in ring.public_keys() {
        println!("{} {:?} {} created {}", k.kid, k.purpose, k.public_key, k.created_at.to_rfc3339());
    }
    Ok(())
}
