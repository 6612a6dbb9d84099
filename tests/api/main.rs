//! End-to-end tests: each starts the real server on a random loopback port with a fresh
//! data directory and keys, and talks HTTP to it. One test binary, so it links once.

mod audit;
mod batch;
mod big_log;
mod binary;
mod browser;
mod cli;
mod cluster;
#[path = "../corpus/mod.rs"]
mod corpus;
mod crash;
mod credentials;
mod disk;
mod errors;
mod fetch;
mod helpers;
mod hostile;
mod identity;
mod keys;
mod log;
mod openapi;
mod ops;
mod page;
mod privacy;
mod readme;
mod restart;
mod rotation;
mod sbr_manifest;
mod similar;
mod similar_images;
mod stamps;
mod suites;
mod text_credentials;
mod tlog;
mod tlog_go;
mod upload;
mod verify;
mod witness;
mod witnessed_verify;
mod witnessing;
