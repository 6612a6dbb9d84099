//! What both verify commands (`verify` and `verify --receipts`) read: the trust
//! anchors `--key` names, and a file's hashes.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::args::VerifyArgs;
use super::client::Client;
use crate::content::{hash_file, ContentHashes};
use crate::http::Limits;
use crate::verify::TrustAnchors;

/// The trust anchors `--key` (and `--log-key`) name.
///
/// # Errors
/// When the keys cannot be fetched, read or parsed.
pub(super) fn trust_anchors(args: &VerifyArgs) -> anyhow::Result<TrustAnchors> {
    if args.key.starts_with("http://") || args.key.starts_with("https://") {
        let client = Client::new(&args.key, None)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(runtime.block_on(client.trust_anchors())?)
    } else if Path::new(&args.key).is_file() {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&args.key)?)
            .with_context(|| format!("{} is not a saved /v1/keys document", args.key))?;
        TrustAnchors::from_keys_document(&doc).map_err(anyhow::Error::msg)
    } else {
        TrustAnchors::from_public_key(&args.key, args.log_key.as_deref()).map_err(anyhow::Error::msg)
    }
}

/// The hashes of the file at `path`, hashed piece by piece so a video is never read
/// whole; a text file up to the default JSON limit also gets its normalised text hash.
///
/// # Errors
/// When the file cannot be read.
pub(super) fn file_hashes(path: &Path) -> anyhow::Result<ContentHashes> {
    Ok(hash_file(path, Limits::default().max_json_bytes)
        .with_context(|| format!("reading {}", path.display()))?
        .hashes())
}
