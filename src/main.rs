//! `aiprov`: the ai-provenance service and its tools. Parses flags, sets up logging,
//! and hands the command to the library's `cli`; nothing else lives here.

use std::process::ExitCode;

use clap::Parser;

use ai_provenance::cli::{self, args::Cli, args::LogSettings};

fn main() -> ExitCode {
    let logs = LogSettings::from_env();
    tracing_subscriber::fmt()
        .with_ansi(logs.color)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&logs.filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::run(Cli::parse())
}
