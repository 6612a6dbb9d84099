//! `aiprov stamp`: a file, a folder (recursively) or stdin, stamped through a running
//! service; one JSON line per file appended to the receipts file.
//!
//! A run fails well: flags are checked before any request ([`template`]); a folder
//! resumes (files the receipts file records with the same path and content are skipped)
//! and names what it leaves out; the first failure that every file would meet (a
//! refused token, a service that cannot be reached) stops the run and is said once;
//! retries are summarised ([`report`]).

mod report;
mod template;

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::args::StampArgs;
use super::batch::{outcome, stamp_files_with, StampTemplate, Stopped, Transfer};
use super::client::Client;
use super::walk::walk;
use report::Report;

pub(super) fn stamp(args: StampArgs) -> anyhow::Result<()> {
    let run = Run {
        template: template::template(&args)?,
        client: Client::new(&args.url, Some(args.token.clone()))?,
        runtime: super::runtime()?,
        transfer: match (args.hash_only, args.c2pa) {
            (true, _) => Transfer::HashOnly,
            (_, true) => Transfer::Credentials,
            _ => Transfer::Content,
        },
    };
    let mut report = Report::open(&args.out)?;
    let stopped = match args.path.as_deref() {
        None => run.stdin(&mut report)?,
        Some(p) if p.as_os_str() == "-" => run.stdin(&mut report)?,
        Some(path) => run.folder(path, &args, &mut report)?,
    };
    report.finish(&run.client, stopped)
}

/// What every stamp of a run shares.
struct Run {
    runtime: tokio::runtime::Runtime,
    client: Client,
    template: StampTemplate,
    transfer: Transfer,
}

impl Run {
    fn stdin(&self, report: &mut Report) -> anyhow::Result<Option<Stopped>> {
        let req = if self.transfer == Transfer::HashOnly {
            let hashed = crate::content::hash_reader(std::io::stdin().lock(), 0).context("reading stdin")?;
            self.template.for_digest(&hashed, None)
        } else {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
            self.template.for_bytes(bytes, None)
        };
        match outcome("-".into(), self.runtime.block_on(self.client.stamp(&req))) {
            Ok(o) => {
                report.record(o);
                Ok(None)
            }
            Err(reason) => Ok(Some(Stopped { reason, unstamped: 1 })),
        }
    }

    fn folder(&self, root: &Path, args: &StampArgs, report: &mut Report) -> anyhow::Result<Option<Stopped>> {
        let walked = walk(root, args.include_hidden).with_context(|| format!("reading {}", root.display()))?;
        for line in walked.skipped_report() {
            eprintln!("aiprov: {line}");
        }
        let files = if args.restamp { walked.files } else { report.not_yet_stamped(walked.files)? };
        report.bar.set_length(files.len() as u64);
        let batch =
            stamp_files_with(&self.client, &self.template, files, usize::from(args.concurrency), self.transfer, |o| {
                report.record(o)
            });
        let result = self.runtime.block_on(batch);
        report.bar.finish_and_clear();
        Ok(result.err())
    }
}
