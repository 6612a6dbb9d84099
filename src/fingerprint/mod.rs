//! Fingerprints: what finds the stamp of content that is no longer byte for byte what
//! was stamped. The ISCC Content-Code (ISO 24138) of an image or a text, the C2PA soft
//! binding `io.iscc.v0` that carries it (IEP-0020), and the hashes of a text's sentences.
//! Computed here from content that passes through the service; never taken from an
//! issuer (nothing could check it, and it could poison the index).

pub mod code;
pub(crate) mod image;
pub mod seq;
pub mod text;

pub use code::{similarity, CodeKind, ContentCode};

use crate::Sha256Digest;

/// The C2PA soft-binding algorithm of the Content-Code (IEP-0020).
pub const ISCC_ALG: &str = "io.iscc.v0";

/// The name under which sentence matches are reported.
pub const SENTENCE_ALG: &str = "ai-provenance.sentence.v1";

/// The largest Hamming distance (of 256 bits) at which a code of `kind` is reported as
/// similar. Chosen from measurements (README, "Finding content that changed"): above
/// what the transformations it must survive produce, well below the distances between
/// unrelated content.
pub fn max_distance(kind: CodeKind) -> u32 {
    match kind {
        CodeKind::Image => 23,
        CodeKind::Text => 48,
    }
}

/// The Image-Code of an image file within the default bounds, as stamping computes it;
/// `None` when it cannot be decoded within them.
pub fn image_code(bytes: &[u8]) -> Option<ContentCode> {
    Fingerprints::of_image(bytes, image::ImageBounds::DEFAULT).code
}

/// What a stamp is found by besides its hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// The Content-Code, for an image or a text within bounds.
    pub code: Option<ContentCode>,
    /// The hashes of a text's sentences ([`text::sentence_hashes`]).
    pub sentences: Vec<Sha256Digest>,
}

impl Fingerprints {
    /// A text's fingerprints.
    pub fn of_text(text: &str) -> Self {
        Self { code: text::text_code(text), sentences: text::sentence_hashes(text) }
    }

    /// An image file's fingerprint, or none when it cannot be decoded within `bounds`
    /// (the stamp is still made; its verdicts say it has no fingerprint).
    pub(crate) fn of_image(bytes: &[u8], bounds: image::ImageBounds) -> Self {
        match image::image_code_body(bytes, bounds) {
            Ok(body) => Self { code: Some(ContentCode::new(CodeKind::Image, body)), sentences: Vec::new() },
            Err(e) => {
                tracing::debug!(error = %e, "image not fingerprinted");
                Self::default()
            }
        }
    }
}
