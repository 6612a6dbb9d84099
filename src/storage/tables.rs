//! The service's own records, as every backend stores them: issuer tokens, the erasure
//! register and shared rate limits. Plain tables: the rules (hashing tokens, what a
//! record holds, how a bucket refills) are `crate::records`'s; a backend stores, finds
//! and counts.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::log::StoreError;
use crate::Sha256Digest;

/// Issuer tokens: a JSON record by the SHA-256 of the token.
pub(crate) trait TokenTable: Send + Sync + 'static {
    /// Stores the record of a new token, durably.
    ///
    /// # Errors
    /// On storage failure.
    fn insert(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError>;
    /// Replaces the record of a token, durably.
    ///
    /// # Errors
    /// On storage failure.
    fn update(&self, hash: &Sha256Digest, record: String) -> Result<(), StoreError>;
    /// The record of the token with this hash. Awaited by every authenticated request,
    /// so a backend that asks a server does not block the caller's thread.
    fn get(&self, hash: &Sha256Digest) -> BoxFuture<'static, Result<Option<String>, StoreError>>;
    /// Every token: its hash and record.
    ///
    /// # Errors
    /// On storage failure.
    fn all(&self) -> Result<Vec<(Sha256Digest, String)>, StoreError>;
    /// The token whose hash starts with `prefix` (a token id), if any.
    ///
    /// # Errors
    /// On storage failure.
    fn by_prefix(&self, prefix: &[u8]) -> Result<Option<(Sha256Digest, String)>, StoreError>;
}

/// The erasure register: JSON records in the order they were made.
pub(crate) trait ErasureTable: Send + Sync + 'static {
    /// Appends a record, durably.
    ///
    /// # Errors
    /// On storage failure.
    fn append(&self, stamp_id: &str, record: String) -> Result<(), StoreError>;
    /// How many records there are.
    ///
    /// # Errors
    /// On storage failure.
    fn count(&self) -> Result<u64, StoreError>;
    /// Records, oldest first; only those of `stamp_id` when given.
    ///
    /// # Errors
    /// On storage failure.
    fn list(&self, stamp_id: Option<&str>) -> Result<Vec<String>, StoreError>;
}

/// Token buckets every node of a service shares, so that a limit holds for the service
/// and not once per node. A backend that one process owns has none: that process's
/// buckets in memory are the service's.
pub(crate) trait RateBuckets: Send + Sync + 'static {
    /// Takes one token of `key`'s bucket (`rate` per second, at most `burst`), or says
    /// how long until one is there.
    fn take(&self, key: String, rate: f64, burst: f64) -> BoxFuture<'static, Result<Result<(), Duration>, StoreError>>;
}
