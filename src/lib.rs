//! ai-provenance: signed, logged, verifiable disclosures of AI involvement in content.
//!
//! A content pipeline stamps an AI-generated asset; the service signs a statement about
//! it (Ed25519 over RFC 8785 canonical JSON), appends it to an RFC 6962 transparency log,
//! and returns a receipt that anyone can verify offline. `docs/contract.md` is the public
//! contract: formats, verdict codes and endpoints.
//!
//! # Layout
//! Dependencies point down this list: a module uses only those above it.
//! - Primitives: `digest` (`Sha256Digest`, the type of every hash), `jcs` (RFC 8785
//!   canonical JSON, the only way signed bytes are made), `normalize` (the normalised
//!   text hash that survives copy and paste), `memo` (a bounded map for values that
//!   never change for their key), `time` (`Timestamp`), [`fingerprint`] (ISCC
//!   Content-Codes of images and texts, the `io.iscc.v0` soft-binding values, sentence
//!   hashes: what finds content that is no longer byte for byte what was stamped).
//! - [`keys`]: the keyring in the keys directory, sealed key files, rotation, and the
//!   log's record of its statement keys that a rotation across nodes moves forward.
//! - `log`: the transparency log, whatever stores it: Merkle maths, checkpoints and
//!   signed notes, C2SP tiles, tlog-policy, cosignatures and tlog-proofs; the traits a backend implements (`LogStore`,
//!   `ContentIndex`, `CodeStore`, `SaltStore`, `Sequencer`); the in-memory similarity
//!   index built from a `CodeStore`; the one integration loop every backend
//!   shares (batching, the right edge, signing, acknowledging) and its syncer; the `Log`
//!   handle.
//! - `storage`: the backends, a folder each (`local/`: files, fjall and sled in the data
//!   directory; `postgres/`: a database several nodes share), the service's tables
//!   they also keep, and the one place a backend is chosen (`storage::open`).
//! - [`content`]: content known by its hashes; streamed hashing; fetching a URL.
//! - [`statement`]: the signed statement and its field types, the stamp request, the
//!   personal-data guard, receipts, the badge.
//! - `credentials`: C2PA manifests for images.
//! - [`verify`]: verdicts, one function per named check; the check memo; the audit.
//! - `records`: the service's own records over the backend's tables: issuer tokens,
//!   the erasure register, rate limits.
//! - [`api`]: the wire types the server and its clients share.
//! - `error`: `ApiError`, the one mapping of every domain error to HTTP.
//! - `service`: the `Service`, split by operation (stamp, verify, prompt, admin, log
//!   reads, ops: readiness, metrics, backups), with trusted proxies and its metrics;
//!   asking witnesses to cosign checkpoints, and serving the witnessed one.
//! - `http`: routes and thin handlers over `Service`; `run`.
//! - [`witness`]: a C2SP tlog-witness for other logs: request parsing, cosignatures, the
//!   checkpoint it holds per log, its one route.
//! - [`cli`]: the `aiprov` commands, their flags (the only reader of the environment),
//!   the HTTP client, batch stamping, the folder walk and the receipts file.
//!
//! # Public interface
//! What the binary, the tests and the examples use, and nothing else: the service, its
//! configuration and its server ([`Service`], [`ServiceConfig`], [`run`]); the HTTP
//! client and commands ([`cli`]); the offline verifier ([`verify`]) and the formats of
//! the public log for independent checkers ([`tlog`]); the API and statement types
//! ([`api`], [`statement`], [`content`], [`keys`]); and what tools open a stored log with
//! ([`Location`], [`open_reader`], [`open_bulk`], [`TempDatabase`]).

#![deny(unreachable_pub)]

pub mod api;
pub mod cli;
pub mod content;
mod credentials;
mod digest;
mod error;
pub mod fingerprint;
mod http;
mod jcs;
pub mod keys;
mod log;
mod memo;
pub mod normalize;
mod records;
mod service;
pub mod statement;
mod storage;
mod time;
pub mod verify;
pub mod witness;

pub use digest::{DigestParseError, Sha256Digest};
pub use http::{server::run, Limits};
pub use log::similar::{Similar, SimilarityIndex};
pub use log::{BulkAppend, LogIndex, LogReader, LogStopped, NewLeaf, StoreError};
pub use records::ratelimit::RateLimit;
pub use service::proxies::TrustedProxies;
pub use service::{Service, ServiceConfig};
pub use storage::postgres::TempDatabase;
pub use storage::{open_bulk, open_reader, Location};

/// The formats of the public log, for anyone who checks it without this service's code
/// paths: C2SP signed-note checkpoints, RFC 6962 hashing and proofs, C2SP tlog-tiles.
pub mod tlog {
    /// C2SP `tlog-checkpoint` in a C2SP `signed-note`.
    pub mod checkpoint {
        pub use crate::log::checkpoint::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
    }
    /// C2SP `tlog-cosignature`: witnesses' `cosignature/v1` lines.
    pub mod cosignature {
        pub use crate::log::cosignature::{
            signed_message, CosignatureError, CosignatureSigner, CosignatureVerifier, Cosigned,
        };
    }
    /// C2SP `tlog-policy`: known logs and witnesses, and the quorum a checkpoint needs.
    pub mod policy {
        pub use crate::log::policy::{Policy, PolicyError, PolicyLog, PolicyWitness, Witnessed};
    }
    /// C2SP `tlog-proof`: one entry's inclusion, with its (cosigned) checkpoint, as text.
    pub mod proof {
        pub use crate::log::tlog_proof::{TlogProof, TlogProofError, VerifiedProof, FILE_EXTENSION, HEADER};
    }
    /// RFC 6962 / 9162 hashing and proofs.
    pub mod merkle {
        pub use crate::log::merkle::{
            consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion, MemoryTree,
            NodeId, NodeSource,
        };
    }
    /// C2SP tlog-tiles: paths, bundles, which tiles a tree has.
    pub mod tiles {
        pub use crate::log::tiles::{
            build_tiles, decode_bundle, tile_for_size, tiles_for_size, BundleId, TileId, TileNodes, TilePath, TileWidth,
        };
    }
}
