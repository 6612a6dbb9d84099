//! `aiprov stamp`: a file, a folder (recursively) or stdin, stamped through a running
//! service; one JSON line per file appended to the receipts file.

use std::io::{Read, Write};

use anyhow::Context;

use super::args::StampArgs;
use super::batch::{collect_files, stamp_files_with, Outcome, StampTemplate, Transfer};
use super::client::Client;
use crate::statement::{DigitalSourceType, Disclosure, Generator};

pub(super) fn stamp(args: StampArgs) -> anyhow::Result<()> {
    let template = StampTemplate {
        kind: args.kind,
        generator: Generator { provider: args.provider, model: args.model, model_version: args.model_version },
        disclosure: Disclosure { text: args.disclosure, lang: args.lang },
        digital_source_type: args.digital_source_type.as_deref().map(DigitalSourceType::parse).transpose()?,
        human_oversight: args.human_oversight,
        prompt: args.prompt,
    };
    let client = Client::new(&args.url, Some(args.token))?;
    let runtime = super::runtime()?;
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
            let bar = super::progress::bar();
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
        client: &Client,
        template: &StampTemplate,
        transfer: Transfer,
        write: &mut dyn FnMut(Outcome) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let req = if transfer == Transfer::HashOnly {
            let hashed = crate::content::hash_reader(std::io::stdin().lock(), 0).context("reading stdin")?;
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
