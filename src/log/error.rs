//! [`LogError`]: why the log could not do what it was asked.

use crate::log::checkpoint::NoteError;
use crate::log::merkle::TreeError;
use crate::log::store::StoreError;
use crate::log::tiles;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Merkle tree: {0}")]
    Tree(#[from] TreeError<StoreError>),
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("this data directory belongs to the log with origin {stored:?}, not {configured:?}")]
    OriginMismatch { stored: String, configured: String },
    #[error("the log writer has stopped")]
    WriterGone,
    #[error("the append failed: {0}")]
    AppendFailed(String),
    #[error(
        "the log's newest checkpoint does not verify with this node's checkpoint key ({0}): \
         every node of a service must use the same keys directory"
    )]
    KeyMismatch(String),
    #[error("a leaf of {len} bytes cannot be an entry of the log (at most {max})", max = tiles::MAX_ENTRY_LEN)]
    LeafTooLarge { len: usize },
}
