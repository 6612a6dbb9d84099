//! The service's own records, whatever backend keeps them: issuer tokens (`tokens`),
//! the erasure register (`erasure`) and rate limits (`ratelimit`). Each keeps its rules
//! here and stores through a table of `crate::storage` (`TokenTable`, `ErasureTable`,
//! `RateBuckets`).

pub(crate) mod erasure;
pub(crate) mod ratelimit;
pub(crate) mod tokens;
