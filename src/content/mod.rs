//! Content: what was stamped or is being verified, known by its hashes. Hashing bytes
//! that arrive in pieces (streamed bodies, files) and fetching a URL to verify it.

pub mod fetch;
mod hash;

pub use hash::{
    hash_file, hash_reader, hash_stream, hash_stream_into, HashedContent, StreamError, StreamLimits, StreamingHasher,
};

use crate::normalize::normalized_text_sha256;
use crate::Sha256Digest;

/// The hashes of the content a verifier holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHashes {
    pub sha256: Sha256Digest,
    /// Present when the content is text.
    pub normalized_text_sha256: Option<Sha256Digest>,
}

impl ContentHashes {
    pub fn of_text(text: &str) -> Self {
        Self { sha256: Sha256Digest::of(text.as_bytes()), normalized_text_sha256: Some(normalized_text_sha256(text)) }
    }

    /// Bytes: treated as text too when they are valid UTF-8, so a saved `.txt` file
    /// matches the stamp of the copy it holds.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::of_text(text),
            Err(_) => Self { sha256: Sha256Digest::of(bytes), normalized_text_sha256: None },
        }
    }

    pub fn of_sha256(sha256: Sha256Digest) -> Self {
        Self { sha256, normalized_text_sha256: None }
    }
}
