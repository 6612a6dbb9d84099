//! `aiprov serve`: opens the service, binds, and serves until SIGINT or SIGTERM.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::args::ServeArgs;
use super::local_admin::LocalAdmin;
use crate::http::{server, Limits};
use crate::service::Service;
use crate::statement::IssuerName;

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.service_config()?;
    if config.fetch.disabled {
        tracing::info!("--fetch-disabled: verification by URL is refused; the service fetches nothing");
    } else if config.fetch.allow_private {
        tracing::warn!("--fetch-allow-private: verification by URL may reach loopback and private addresses");
    }
    super::runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        if args.public_url.is_none() {
            // The port really bound, when --listen asked for any (port 0).
            config.public_url = format!("http://{addr}");
        }
        let service = Arc::new(Service::open(&config)?);
        // Before "listening" is logged: whoever waits for that line may run `token create`.
        local_admin(&service, &config.data_dir, &format!("http://{addr}"), config.database.is_some()).await?;
        tracing::info!(addr = %addr, data = %config.data_dir.display(), keys = %config.keys_dir.display(), "listening on http://{addr}");
        let limits = Limits { max_json_bytes: args.max_json_bytes };
        let stopped = service.log_stopped();
        server::run(listener, service, limits, shutdown_signal()).await.context("server failed")?;
        // The requests are answered and the service dropped: let the log answer the stamps
        // it holds and hand its lease over before the process ends.
        let ended = tokio::task::spawn_blocking(move || stopped.wait(LOG_STOP_WAIT)).await.unwrap_or(false);
        if !ended {
            tracing::warn!("the log did not stop within {LOG_STOP_WAIT:?}; exiting anyway");
        }
        Ok(())
    })
}

/// How long a stopping service waits for its log: longer than a stamp handed to another
/// node may wait for it.
const LOG_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(35);

/// Completes on SIGINT (Ctrl-C) or SIGTERM (systemd, containers).
pub(super) async fn shutdown_signal() {
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

/// Makes sure the local commands (`aiprov token ...`, `aiprov erasures`) can reach this
/// service while it holds the data directory: a local admin credential in the data
/// directory, created when there is none or it no longer works (see `local_admin`).
async fn local_admin(service: &Service, data_dir: &Path, url: &str, shared: bool) -> anyhow::Result<()> {
    let working = match LocalAdmin::read(data_dir)? {
        Some(admin) => service.authenticate_admin(Some(&format!("Bearer {}", admin.token))).await.is_ok(),
        None => false,
    };
    if working {
        return LocalAdmin::update(data_dir, url, shared);
    }
    let issuer = IssuerName::parse("Local operator").map_err(anyhow::Error::msg)?;
    let token = service.create_token(issuer, true)?;
    LocalAdmin { url: url.to_owned(), token: token.secret, shared }.write(data_dir)?;
    tracing::info!(
        id = %token.id,
        "created the local admin token in {}: `aiprov token create --issuer NAME` works while the service runs",
        data_dir.join("local-admin.json").display()
    );
    Ok(())
}
