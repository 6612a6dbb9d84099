//! Perceptual fingerprints of content: codes that stay close when the content is re-encoded.
pub(crate) mod image;
