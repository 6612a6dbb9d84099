//! The end-to-end suite of `tests/api/` again, on PostgreSQL: the same modules, compiled
//! into a second test binary (`tests/api/helpers.rs` tells the two apart by crate name).
//! A file of its own rather than `tests/api/main.rs` named twice in Cargo.toml, which made
//! every `cargo` command warn that the file is in several build targets.
//! `tests/api/suites.rs` checks that this list and `tests/api/main.rs` name the same modules.

#[path = "../api/audit.rs"]
mod audit;
#[path = "../api/batch.rs"]
mod batch;
#[path = "../api/big_log.rs"]
mod big_log;
#[path = "../api/binary.rs"]
mod binary;
#[path = "../api/browser.rs"]
mod browser;
#[path = "../api/cli.rs"]
mod cli;
#[path = "../api/cluster.rs"]
mod cluster;
#[path = "../corpus/mod.rs"]
mod corpus;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/credentials.rs"]
mod credentials;
#[path = "../api/disk.rs"]
mod disk;
#[path = "../api/errors.rs"]
mod errors;
#[path = "../api/fetch.rs"]
mod fetch;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/hostile.rs"]
mod hostile;
#[path = "../api/identity.rs"]
mod identity;
#[path = "../api/keys.rs"]
mod keys;
#[path = "../api/log.rs"]
mod log;
#[path = "../api/openapi.rs"]
mod openapi;
#[path = "../api/ops.rs"]
mod ops;
#[path = "../api/page.rs"]
mod page;
#[path = "../api/privacy.rs"]
mod privacy;
#[path = "../api/readme.rs"]
mod readme;
#[path = "../api/restart.rs"]
mod restart;
#[path = "../api/rotation.rs"]
mod rotation;
#[path = "../api/sbr_manifest.rs"]
mod sbr_manifest;
#[path = "../api/similar.rs"]
mod similar;
#[path = "../api/similar_images.rs"]
mod similar_images;
#[path = "../api/stamps.rs"]
mod stamps;
#[path = "../api/suites.rs"]
mod suites;
#[path = "../api/text_credentials.rs"]
mod text_credentials;
#[path = "../api/tlog.rs"]
mod tlog;
#[path = "../api/tlog_go.rs"]
mod tlog_go;
#[path = "../api/upload.rs"]
mod upload;
#[path = "../api/verify.rs"]
mod verify;
#[path = "../api/witness.rs"]
mod witness;
#[path = "../api/witnessed_verify.rs"]
mod witnessed_verify;
#[path = "../api/witnessing.rs"]
mod witnessing;
