//! `aiprov backup NAME`: the running service writes a backup of its data directory into
//! its `--backup-dir` (sled lets one process open a database, so the service itself
//! must make the copy).

use super::args::BackupArgs;
use super::client::Client;

pub(super) fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.url, Some(args.token.clone()))?;
    let report = super::runtime()?.block_on(client.backup(&args.name))?;
    println!(
        "Backup {} written by the service: the log up to tree size {}, with its tokens, erasure register and \
         prompt salts (not the keys). To restore: stop the service, copy this directory to the data directory, \
         start it with the same keys directory.",
        report.name, report.tree_size
    );
    println!("{}", report.path);
    Ok(())
}
