//! The `aiprov` command line: one file per command, the flags in [`args`], and what the
//! `stamp` command (and the examples) build on: the HTTP [`client`], [`batch`] stamping,
//! the folder [`walk`] and the [`receipts`] file. `main.rs` parses, sets up logging and
//! calls [`run`].

pub mod args;
mod audit;
mod backup;
pub mod batch;
pub mod client;
pub mod json_logs;
mod keys;
mod local_admin;
mod lookup;
mod migrate;
mod progress;
pub mod receipts;
mod serve;
mod stamp;
mod token;
mod verify;
mod verify_inputs;
mod verify_receipts;
pub mod walk;
mod witness;

use std::process::ExitCode;

use args::{Cli, Command, KeysCommand, TokenCommand, WitnessCommand};

/// Runs a parsed command line. Exit codes: 0 success; 1 failure; `verify` has its own
/// (0 verified, 1 not verified, 2 could not run).
pub fn run(cli: Cli) -> ExitCode {
    private_files();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Token { command: TokenCommand::Create { issuer, admin, state } } => {
            token::create(&issuer, admin, &state)
        }
        Command::Token { command: TokenCommand::List { state } } => token::list(&state),
        Command::Token { command: TokenCommand::Revoke { id, state } } => token::revoke(&id, &state),
        Command::Erasures { state } => token::erasures(&state),
        Command::Keys { command: KeysCommand::Rotate(args) } => keys::rotate(&args),
        Command::Keygen { keys } => keys::keygen(&keys.keys),
        Command::Stamp(args) => stamp::stamp(args),
        Command::Verify(args) => return verify::verify(&args),
        Command::Audit(args) => audit::audit(&args),
        Command::Backup(args) => backup::backup(&args),
        Command::Migrate { data } => migrate::migrate(&data),
        Command::Witness { command: WitnessCommand::Serve(args) } => witness::serve(&args),
        Command::Witness { command: WitnessCommand::Key(args) } => witness::key(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiprov: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every file and directory this process creates is its user's alone (0600 and 0700):
/// the data directory (sled creates files of its own long after it opened, and each
/// erasure a new salt directory, so only the umask covers them all), the keys, backups
/// and `stamp`'s receipts, which hold prompt salts. Set before any thread starts, since
/// the umask belongs to the whole process.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask(2) only sets the process's file mode creation mask; it cannot fail
    // and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// A runtime for one command's network or server work.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
