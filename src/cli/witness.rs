//! `aiprov witness serve` and `aiprov witness key`.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;

use super::args::{WitnessKeyArgs, WitnessServeArgs};
use crate::records::ratelimit::RateLimit;
use crate::witness::state::{DataDir, State};
use crate::witness::{self, key, Witness};

pub(super) fn serve(args: &WitnessServeArgs) -> anyhow::Result<()> {
    // Locked first: the key and the state belong to one process at a time.
    let dir = DataDir::lock(&args.key.data)?;
    let signer = key::open_or_create(&args.key.data, args.key.name.as_deref())?;
    let state = State::open(&dir, args.logs.iter().map(|v| v.name()))?;
    let rate = RateLimit { per_second: args.rate, burst: args.burst };
    let witness = Arc::new(Witness::new(signer, &args.logs, state, rate));
    for log in &args.logs {
        tracing::info!(log = %log.to_vkey_string(), "witnessing log {}", log.name());
    }
    super::runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(
            vkey = %witness.signer().verifier().to_vkey_string(),
            data = %args.key.data.display(),
            "witness {} listening on http://{addr}",
            witness.signer().name()
        );
        witness::http::run(listener, witness, super::serve::shutdown_signal()).await.context("server failed")?;
        drop(dir);
        Ok(())
    })
}

pub(super) fn key(args: &WitnessKeyArgs) -> anyhow::Result<()> {
    let signer = key::open_or_create(&args.data, args.name.as_deref())?;
    println!("{}", signer.verifier().to_vkey_string());
    Ok(())
}
