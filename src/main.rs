//! `aiprov`: the ai-provenance service and its tools. Parses flags, sets up logging,
//! and hands the command to the library's `cli`; nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use ai_provenance::cli::{self, args::Cli, args::LogSettings};

fn main() -> ExitCode {
    let logs = match LogSettings::from_env() {
        Ok(logs) => logs,
        Err(e) => {
            eprintln!("aiprov: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The C2PA SDK logs every phase of every read at info: quiet unless asked for by name.
    let wanted = if logs.filter.contains("c2pa") { logs.filter.clone() } else { format!("{},c2pa=warn", logs.filter) };
    let filter = EnvFilter::try_new(&wanted).unwrap_or_else(|_| EnvFilter::new("info,c2pa=warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if logs.json {
        // One JSON object a line, the event's fields beside `message` (cli::json_logs).
        fmt.event_format(cli::json_logs::JsonLines).init();
    } else {
        fmt.with_ansi(logs.color).init();
    }
    cli::run(Cli::parse())
}
