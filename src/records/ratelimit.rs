//! Per-key token buckets (per issuer token for stamping, per client address for prompt
//! checks). On one machine they are in memory: limits protect this process, and a
//! restart forgiving everyone is acceptable. Nodes sharing a database share the buckets
//! in it, so that a limit holds for the service and not once per node. Written here rather than taken from actix-governor,
//! whose GPL-3.0 licence this project cannot use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// Keys kept at most; beyond it, buckets that have refilled are forgotten (they carry
/// no state worth keeping), so memory stays bounded under many distinct keys.
const MAX_KEYS: usize = 100_000;

pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// The buckets every node shares, and the prefix of this limiter's keys in them.
    shared: Option<(std::sync::Arc<dyn crate::storage::RateBuckets>, &'static str)>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self { limit, buckets: Mutex::new(HashMap::new()), shared: None }
    }

    /// A limiter whose buckets are `buckets` (shared by every node) when given, under
    /// keys starting `name:`; else in this process's memory.
    pub(crate) fn on(
        limit: RateLimit,
        buckets: Option<std::sync::Arc<dyn crate::storage::RateBuckets>>,
        name: &'static str,
    ) -> Self {
        Self { shared: buckets.map(|b| (b, name)), ..Self::new(limit) }
    }

    /// Takes one token for `key`, or says how long until one is available: from the
    /// shared database's bucket when there is one, else as [`RateLimiter::check`].
    ///
    /// # Errors
    /// The wait before a retry can succeed.
    pub(crate) async fn take(&self, key: &str) -> Result<(), Duration> {
        let Some((buckets, name)) = &self.shared else { return self.check(key) };
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        match buckets.take(format!("{name}:{key}"), rate, burst).await {
            Ok(taken) => taken,
            Err(e) => {
                // The request that follows needs the database too and will say it is
                // unavailable; a limiter that cannot count lets it through.
                tracing::warn!(error = %e, "the shared rate limit could not be checked");
                Ok(())
            }
        }
    }

    /// Takes one token for `key` from this process's buckets, or says how long until
    /// one is available.
    ///
    /// # Errors
    /// The wait before a retry can succeed.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        // A poisoned lock holds plain numbers that are always valid; carry on.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let l = RateLimiter::new(RateLimit { per_second: 1.0, burst: 3 });
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(l.check("b").is_ok(), "keys are independent");
    }

    #[test]
    fn refills_over_time() {
        let l = RateLimiter::new(RateLimit { per_second: 1000.0, burst: 1 });
        assert!(l.check("a").is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("a").is_ok());
    }
}
