//! `aiprov audit`: the whole log recomputed and checked, from a copy of the data
//! directory, from the PostgreSQL database the service uses (read-only), or over HTTP
//! from a running service.

use anyhow::Context;

use super::args::AuditArgs;
use crate::storage::{open_reader, Location};
use crate::verify::audit::{audit_log, audit_remote, public_keys_from_dir, AuditState};

pub(super) fn audit(args: &AuditArgs) -> anyhow::Result<()> {
    let bar = super::progress::bar();
    let tick = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = if let Some(url) = &args.target.database {
        let keys = public_keys_from_dir(&args.keys.keys)?;
        let log = open_reader(&Location::Postgres(url.clone()))?;
        audit_log(&log, &keys, tick)?
    } else if let Some(data) = &args.target.data {
        if !data.exists() {
            anyhow::bail!("no data directory at {}", data.display());
        }
        let keys = public_keys_from_dir(&args.keys.keys)?;
        let log = open_reader(&Location::Local(data.clone()))
            .with_context(|| format!("opening {} (audit a copy while the server runs)", data.display()))?;
        audit_log(&log, &keys, tick)?
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
