//! Content: what was stamped or is being verified, known by its hashes. Hashing bytes
//! that arrive in pieces (streamed bodies, files) and fetching a URL to verify it.

pub mod fetch;
mod hash;

pub use hash::{
    hash_file, hash_reader, hash_stream, hash_stream_into, HashedContent, StreamError, StreamLimits, StreamingHasher,
};

use base64::Engine;

use crate::normalize::{normalized_text_sha256, Normalization};
use crate::Sha256Digest;

/// The bytes of a `content_base64` member: standard base64 with padding (RFC 4648 §4),
/// spaces, tabs and line breaks allowed around it (a `base64` tool's trailing newline),
/// and nothing else: the document's `Base64` pattern says the same.
///
/// # Errors
/// When the text is not that, with the decoder's reason.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text.trim_matches([' ', '\t', '\r', '\n']))
}

/// The hashes of the content a verifier holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHashes {
    pub sha256: Sha256Digest,
    /// Present when the content is text: its normalised hash under v1 (what statements
    /// `ai-provenance/statement/v1` carry).
    pub normalized_text_sha256: Option<Sha256Digest>,
    /// Present when the content is text: its normalised hash under v2 (statements v2).
    pub normalized_v2_sha256: Option<Sha256Digest>,
}

impl ContentHashes {
    pub fn of_text(text: &str) -> Self {
        Self {
            sha256: Sha256Digest::of(text.as_bytes()),
            normalized_text_sha256: Some(normalized_text_sha256(text)),
            normalized_v2_sha256: Some(Normalization::V2.sha256(text)),
        }
    }

    /// Bytes: treated as text too when they are valid UTF-8, so a saved `.txt` file
    /// matches the stamp of the copy it holds.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::of_text(text),
            Err(_) => Self::of_sha256(Sha256Digest::of(bytes)),
        }
    }

    /// The normalised text hashes, newest normalisation first (what a lookup sends).
    pub fn normalized(&self) -> Vec<Sha256Digest> {
        let mut all: Vec<Sha256Digest> =
            [self.normalized_v2_sha256, self.normalized_text_sha256].into_iter().flatten().collect();
        all.dedup();
        all
    }

    pub fn of_sha256(sha256: Sha256Digest) -> Self {
        Self { sha256, normalized_text_sha256: None, normalized_v2_sha256: None }
    }
}

#[cfg(test)]
mod base64_tests {
    use super::decode_base64;

    #[test]
    fn base64_content_is_canonical_padded_base64_with_ascii_white_space_around() {
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64(" aGk=\r\n").unwrap(), b"hi");
        assert_eq!(decode_base64("").unwrap(), b"");
        for bad in ["aGk", "aGl=", "aG k=", "aGk=\u{a0}", "\u{3000}aGk=", "aGk=\x0c", "aGk=aGk="] {
            assert!(decode_base64(bad).is_err(), "{bad:?}");
        }
    }
}
