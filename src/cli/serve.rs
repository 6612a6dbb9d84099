//! `aiprov serve`: opens the service, binds, and serves until SIGINT or SIGTERM.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;

use super::args::ServeArgs;
use crate::http::{server, Limits};
use crate::service::Service;

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.service_config()?;
    if config.fetch.allow_private {
        tracing::warn!("--fetch-allow-private: verification by URL may reach loopback and private addresses");
    }
    super::runtime()?.block_on(async move {
        let service = Arc::new(Service::open(&config)?);
        let listener = TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(addr = %addr, data = %config.data_dir.display(), keys = %config.keys_dir.display(), "listening on http://{addr}");
        if service.has_no_tokens()? {
            tracing::warn!(
                "no issuer token exists yet; create one with: aiprov token create --issuer NAME --data {}",
                config.data_dir.display()
            );
        }
        let limits = Limits { max_json_bytes: args.max_json_bytes };
        server::run(listener, service, limits, shutdown_signal()).await.context("server failed")
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (systemd, containers).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing requests in flight");
}
