//! Image decodes, each on the blocking pool, at most a few at a time. Two pools of slots:
//! issuers' (stamping, credentials) and the public's (verify uploads, `byContent`
//! lookups), so that anonymous requests can never take the decodes issuers need.

use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::blocking;
use super::metrics::Metrics;
use crate::error::ApiError;

/// Concurrent decodes for issuers.
pub(crate) const ISSUER_DECODES: usize = 2;
/// Concurrent decodes for the public.
pub(crate) const PUBLIC_DECODES: usize = 2;
/// How long a decode waits for a slot before it is refused (503).
const WAIT: Duration = Duration::from_secs(10);

/// Whose slots a decode takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DecodePool {
    Issuer,
    Public,
}

impl DecodePool {
    fn label(self) -> &'static str {
        match self {
            DecodePool::Issuer => "issuer",
            DecodePool::Public => "public",
        }
    }
}

pub(crate) struct Decodes {
    issuer: Semaphore,
    public: Semaphore,
}

impl Default for Decodes {
    fn default() -> Self {
        Self { issuer: Semaphore::new(ISSUER_DECODES), public: Semaphore::new(PUBLIC_DECODES) }
    }
}

impl Decodes {
    /// Runs `decode` on the blocking pool once a slot of `pool` is free.
    ///
    /// # Errors
    /// `503` when no slot freed up within 10 s.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        pool: DecodePool,
        metrics: &Metrics,
        decode: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slots = match pool {
            DecodePool::Issuer => &self.issuer,
            DecodePool::Public => &self.public,
        };
        let Ok(Ok(_slot)) = tokio::time::timeout(WAIT, slots.acquire()).await else {
            metrics.decode_refused(pool.label());
            return Err(ApiError::Unavailable(
                "every image decode slot stayed busy for 10 s: try again in a moment".into(),
            ));
        };
        let started = Instant::now();
        let done = blocking(move || Ok(decode())).await?;
        tracing::debug!(pool = pool.label(), took_ms = started.elapsed().as_millis() as u64, "image decoded");
        Ok(done)
    }
}
