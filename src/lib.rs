//! ai-provenance: signed, logged, verifiable disclosures of AI involvement in content.
//!
//! A content pipeline stamps an AI-generated asset; the service signs a statement about
//! it (Ed25519 over RFC 8785 canonical JSON), appends it to an RFC 6962 transparency log,
//! and returns a receipt that anyone can verify offline. `docs/contract.md` is the public
//! contract: formats, verdict codes and endpoints.
//!
//! # Layout
//! Dependencies point down this list: a module uses only those above it.
//! - Primitives: [`digest`] (`Sha256Digest`, the type of every hash), [`jcs`] (RFC 8785
//!   canonical JSON, the only way signed bytes are made), [`normalize`] (the normalised
//!   text hash that survives copy and paste), [`memo`] (a bounded map for values that
//!   never change for their key), [`time`] (`Timestamp`).
//! - [`keys`]: the keyring in the keys directory, sealed key files, rotation.
//! - [`log`]: the transparency log: Merkle maths, checkpoints and signed notes, C2SP
//!   tiles, the storage trait and its sled backend, the single writer with group commit,
//!   salts.
//! - [`pg`]: the PostgreSQL backend: the log and the service's tables in a database that
//!   several nodes share, one sequencer among them.
//! - [`content`]: content known by its hashes; streamed hashing; fetching a URL.
//! - [`statement`]: the signed statement and its field types, the stamp request, the
//!   personal-data guard, receipts, the badge.
//! - [`verify`]: verdicts, one function per named check; the check memo; the audit.
//! - [`api`]: the wire types the server and its clients share.
//! - [`error`]: `ApiError`, the one mapping of every domain error to HTTP.
//! - [`service`]: the `Service`, split by operation (stamp, verify, prompt, admin, log
//!   reads, ops: readiness, metrics, backups), with tokens, the erasure register, rate
//!   limits, trusted proxies and its metrics registry.
//! - [`http`]: routes and thin handlers over `Service`; `http::server::run`.
//! - [`cli`]: the `aiprov` commands, their flags (the only reader of the environment),
//!   the HTTP client, batch stamping, the folder walk and the receipts file.

#![deny(unreachable_pub)]

pub mod api;
pub mod cli;
pub mod content;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod http;
pub mod jcs;
pub mod keys;
pub mod log;
pub mod memo;
pub mod normalize;
pub mod pg;
pub mod service;
pub mod statement;
pub mod time;
pub mod verify;

pub use digest::Sha256Digest;
pub use http::server::run;
pub use service::{Service, ServiceConfig};
