//! ai-provenance: signed, logged, verifiable disclosures of AI involvement in content.
//!
//! A content pipeline stamps an AI-generated asset; the service signs a statement about
//! it (Ed25519 over RFC 8785 canonical JSON), appends it to an RFC 6962 transparency log
//! kept in sled, and returns a receipt that anyone can verify offline.
//!
//! # Layout
//! - [`digest`]: `Sha256Digest`, the type of every hash.
//! - [`jcs`]: RFC 8785 canonical JSON, the only way signed bytes are made.
//! - [`normalize`]: the normalised text hash that survives copy and paste.
//! - [`statement`]: the signed statement and its validated field types.
//! - [`stamp`]: a stamp request to a statement (content hashing, prompt commitment).
//! - [`pii`]: rejects personal identifiers in explanations.
//! - [`receipt`]: signatures, log leaves, stamp ids, receipts.
//! - [`keys`]: the keyring in the keys directory.
//! - [`salts`]: erasable prompt salts, compacted so erased ones leave no trace.
//! - [`tokens`]: issuer bearer tokens, stored hashed.
//! - [`erasure`]: the register of erased prompt links.
//! - [`ratelimit`]: per-token and per-address token buckets.
//! - [`memo`]: a bounded map for values that never change for their key.
//! - [`merkle`]: RFC 6962 / 9162 hashing and proofs over a node store.
//! - [`checkpoint`]: C2SP tlog-checkpoint signed notes.
//! - [`check_cache`]: the verify endpoint's memo of signature checks that passed.
//! - [`store`]: the `LogStore` trait and its sled backend.
//! - [`log`]: the single-writer log with group commit and checkpoints.
//! - [`verify`]: verdicts, named check by named check.
//! - [`badge`]: the "AI-generated" SVG badge of a stamp.
//! - [`audit`]: recomputing and checking the whole log, locally or over HTTP.
//! - [`service`]: the operations behind the HTTP API.
//! - [`client`]: a reqwest client of the API with retries, for tools and examples.
//! - [`batch`]: files to stamp requests, stamped concurrently.
//! - [`error`]: `ApiError`, the one mapping of errors to HTTP.
//! - [`content`]: SHA-256 of content streamed chunk by chunk (uploads, URLs, files).
//! - [`upload`]: the streamed routes' metadata header, media type and size limit.
//! - [`fetch`]: fetching a URL to verify it, refusing private addresses.
//! - [`http`]: routes and handlers; [`server`]: binding and running; [`config`]: flags.

pub mod audit;
pub mod badge;
pub mod batch;
pub mod check_cache;
pub mod checkpoint;
pub mod client;
pub mod config;
pub mod content;
pub mod digest;
pub mod erasure;
pub mod error;
pub mod fetch;
pub mod http;
pub mod jcs;
pub mod keys;
pub mod log;
pub mod memo;
pub mod merkle;
pub mod normalize;
pub mod pii;
pub mod ratelimit;
pub mod receipt;
pub mod salts;
pub mod server;
pub mod service;
pub mod stamp;
pub mod statement;
pub mod store;
pub mod tokens;
pub mod upload;
pub mod verify;

pub use digest::Sha256Digest;
