//! The log's read API: the newest checkpoint, proofs between published tree sizes, and
//! pages of entries. Sizes beyond the newest checkpoint are refused: nothing unpublished
//! is ever served.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use super::Service;
use crate::error::ApiError;
use crate::log::{LogError, LogIndex};
use crate::Sha256Digest;

/// Most entries one page of `/v1/log/entries` returns.
pub(crate) const MAX_ENTRIES_PAGE: u64 = 256;

/// One page of log entries.
#[derive(Debug, Serialize)]
pub struct LogEntries {
    pub start: u64,
    pub end: u64,
    pub tree_size: u64,
    pub entries: Vec<serde_json::Value>,
}

fn proof_error(e: LogError) -> ApiError {
    use crate::log::merkle::TreeError;
    let LogError::Tree(tree) = &e else { return ApiError::internal(e) };
    let field = match tree {
        TreeError::IndexOutOfRange { .. } => "index",
        TreeError::BadSizes { .. } => "first",
        _ => return ApiError::internal(e),
    };
    ApiError::bad_request("invalid_proof_request", format!("{field}: {tree}")).with_field(field)
}

impl Service {
    /// The newest checkpoint as signed-note text.
    pub fn checkpoint_note(&self) -> String {
        self.log.latest_checkpoint().note.to_string()
    }

    /// The size of the newest checkpoint.
    pub fn published_size(&self) -> u64 {
        self.log.published_size()
    }

    /// Inclusion proof of leaf `index` in the published tree of size `size` (blocking).
    ///
    /// # Errors
    /// `400` for an index or size out of range.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Sha256Digest>, ApiError> {
        self.check_published("tree_size", size)?;
        if index >= size {
            return Err(ApiError::bad_request(
                "invalid_proof_request",
                format!(
                    "index {index} is not in a tree of {size} {} (indices run from 0 to tree_size - 1)",
                    if size == 1 { "entry" } else { "entries" }
                ),
            )
            .with_field("index"));
        }
        self.log.inclusion_proof(LogIndex(index), size).map_err(proof_error)
    }

    /// Refuses a tree size (named `param` in the query) beyond the newest checkpoint: a
    /// proof may only be asked against a tree someone can hold a checkpoint for.
    fn check_published(&self, param: &str, size: u64) -> Result<(), ApiError> {
        let published = self.log.published_size();
        if size > published {
            return Err(ApiError::bad_request(
                "invalid_proof_request",
                format!("{param}: the tree size {size} is beyond the published tree size {published} (GET /v1/log/checkpoint)"),
            )
            .with_field(param));
        }
        Ok(())
    }

    /// Consistency proof between two published tree sizes (blocking).
    ///
    /// # Errors
    /// `400` for sizes out of order or range.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Sha256Digest>, ApiError> {
        self.check_published("second", second)?;
        if first > second {
            return Err(ApiError::bad_request(
                "invalid_proof_request",
                format!("first: the tree size {first} is larger than the second tree size {second}"),
            )
            .with_field("first"));
        }
        self.log.consistency_proof(first, second).map_err(proof_error)
    }

    /// Entries `start..end` of the published log, at most [`MAX_ENTRIES_PAGE`]
    /// (blocking). A page starting at the published size is empty, not an error: it is
    /// what a client that has read everything asks next (`start=0` on an empty log too).
    ///
    /// # Errors
    /// `400` when `start` is beyond the published size or `end` is below `start`.
    pub fn entries(&self, start: u64, end: Option<u64>) -> Result<LogEntries, ApiError> {
        let size = self.log.published_size();
        let range_error = |field: &str, why: String| {
            let message = format!(
                "{field}: {why} (GET /v1/log/checkpoint has the size; pages hold at most {MAX_ENTRIES_PAGE} entries)"
            );
            Err(ApiError::bad_request("invalid_range", message).with_field(field))
        };
        if start > size {
            return range_error("start", format!("{start} is beyond the published tree size {size}"));
        }
        if let Some(end) = end.filter(|end| *end < start) {
            return range_error("end", format!("{end} is below start {start}"));
        }
        let end = end.unwrap_or(u64::MAX).min(size).min(start.saturating_add(MAX_ENTRIES_PAGE));
        let entries = (start..end)
            .map(|i| {
                let leaf = self.log.leaf(LogIndex(i)).map_err(ApiError::from)?;
                let leaf = leaf.ok_or_else(|| ApiError::internal(anyhow::anyhow!("leaf {i} is missing")))?;
                // Leaves are JCS JSON: embed them as JSON, and keep the exact bytes in
                // base64 so an auditor hashes precisely what the tree committed to.
                let value: serde_json::Value = serde_json::from_slice(&leaf).map_err(ApiError::internal)?;
                Ok(serde_json::json!({ "index": i, "leaf_base64": STANDARD.encode(&leaf), "leaf": value }))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(LogEntries { start, end, tree_size: size, entries })
    }
}
