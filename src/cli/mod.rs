//! The `aiprov` command line: one file per command, the flags in [`args`], and what the
//! `stamp` command (and the examples) build on: the HTTP [`client`], [`batch`] stamping,
//! the folder [`walk`] and the [`receipts`] file. `main.rs` parses, sets up logging and
//! calls [`run`].

pub mod args;
mod audit;
pub mod batch;
pub mod client;
mod keys;
mod progress;
pub mod receipts;
mod serve;
mod stamp;
mod token;
mod verify;
mod verify_receipts;
pub mod walk;

use std::process::ExitCode;

use args::{Cli, Command, KeysCommand, TokenCommand};

/// Runs a parsed command line. Exit codes: 0 success; 1 failure; `verify` has its own
/// (0 verified, 1 not verified, 2 could not run).
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Token { command: TokenCommand::Create { issuer, admin, state } } => {
            token::create(&issuer, admin, &state)
        }
        Command::Token { command: TokenCommand::List { state } } => token::list(&state),
        Command::Token { command: TokenCommand::Revoke { id, state } } => token::revoke(&id, &state),
        Command::Erasures { state } => token::erasures(&state),
        Command::Keys { command: KeysCommand::Rotate { keys } } => keys::rotate(&keys.keys),
        Command::Keygen { keys } => keys::keygen(&keys.keys),
        Command::Stamp(args) => stamp::stamp(args),
        Command::Verify(args) => return verify::verify(&args),
        Command::Audit(args) => audit::audit(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A runtime for one command's network or server work.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
