//! The ISCC Content-Code (ISO 24138) of an image or a text, at the 256 bits that IEP-0020
//! requires of the C2PA soft-binding algorithm `io.iscc.v0`: two bytes of header (main
//! type Content, sub-type Text or Image, version 0, length 256) and a 32-byte body whose
//! bits are compared by Hamming distance.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a Content-Code was computed from. Codes of different kinds are never compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeKind {
    Text,
    Image,
}

impl CodeKind {
    pub const ALL: [CodeKind; 2] = [CodeKind::Text, CodeKind::Image];

    /// The ISCC sub-type of a Content-Code of this kind (ISO 24138, `ST_CC`).
    fn subtype(self) -> u8 {
        match self {
            CodeKind::Text => 0,
            CodeKind::Image => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Text => "text",
            CodeKind::Image => "image",
        }
    }
}

/// Bits in a code's body.
pub const CODE_BITS: u32 = 256;

/// An ISCC Content-Code of 256 bits: its kind and its body.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentCode {
    kind: CodeKind,
    body: [u8; 32],
}

/// Why a string or unit is not a 256-bit Content-Code of a kind this service computes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeParseError {
    #[error("not an ISCC: {0}")]
    NotIscc(String),
    #[error("not a 256-bit ISCC Content-Code of an image or a text")]
    WrongType,
}

impl ContentCode {
    pub fn new(kind: CodeKind, body: [u8; 32]) -> Self {
        Self { kind, body }
    }

    pub fn kind(&self) -> CodeKind {
        self.kind
    }

    pub fn body(&self) -> &[u8; 32] {
        &self.body
    }

    /// The body as four words, the form the similarity index compares.
    pub(crate) fn words(&self) -> [u64; 4] {
        std::array::from_fn(|i| u64::from_be_bytes(self.body[i * 8..i * 8 + 8].try_into().expect("8 bytes")))
    }

    pub(crate) fn from_words(kind: CodeKind, words: [u64; 4]) -> Self {
        let mut body = [0u8; 32];
        for (i, w) in words.iter().enumerate() {
            body[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
        }
        Self { kind, body }
    }

    /// The ISCC-UNIT in binary: header then body (34 bytes), as an ISCC-SEQ holds it.
    pub fn unit_bytes(&self) -> [u8; 34] {
        let mut unit = [0u8; 34];
        // Main type Content (2) and the sub-type, one nibble each; version 0 and the
        // length index 7 (256 bits = (7 + 1) * 32), one nibble each.
        unit[0] = 0x20 | self.kind.subtype();
        unit[1] = 0x07;
        unit[2..].copy_from_slice(&self.body);
        unit
    }

    /// The binary unit `bytes` (exactly one 256-bit Content-Code of an image or text).
    ///
    /// # Errors
    /// When it is anything else.
    pub fn from_unit_bytes(bytes: &[u8]) -> Result<Self, CodeParseError> {
        let [first, 0x07, body @ ..] = bytes else { return Err(CodeParseError::WrongType) };
        let kind = match first {
            0x20 => CodeKind::Text,
            0x21 => CodeKind::Image,
            _ => return Err(CodeParseError::WrongType),
        };
        let body: [u8; 32] = body.try_into().map_err(|_| CodeParseError::WrongType)?;
        Ok(Self { kind, body })
    }

    /// Bits that differ from `other`'s body (the kinds are the caller's to match).
    pub fn distance(&self, other: &ContentCode) -> u32 {
        self.body.iter().zip(&other.body).map(|(a, b)| (a ^ b).count_ones()).sum()
    }
}

/// A Hamming distance as a similarity score from 0 to 100 (the C2PA Soft Binding
/// Resolution API's `similarityScore`): the share of equal bits, rounded down.
pub fn similarity(distance: u32) -> u8 {
    let equal = CODE_BITS.saturating_sub(distance);
    (equal * 100 / CODE_BITS) as u8
}

impl fmt::Display for ContentCode {
    /// The canonical form, `ISCC:` and base32 without padding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ISCC:{}", iscc_lib::codec::encode_base32(&self.unit_bytes()))
    }
}

impl fmt::Debug for ContentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for ContentCode {
    type Err = CodeParseError;

    /// `ISCC:` and base32, as [`fmt::Display`] writes it (the prefix optional, case
    /// ignored, as ISCC's own decoders allow).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.strip_prefix("ISCC:").unwrap_or(s);
        let bytes = iscc_lib::codec::decode_base32(code).map_err(|e| CodeParseError::NotIscc(e.to_string()))?;
        Self::from_unit_bytes(&bytes)
    }
}

impl Serialize for ContentCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Content-Code of IEP-0020's Test Vector 1 (a Text-Code).
    const VECTOR_1_CONTENT: &str = "ISCC:EAD2RASIYU5IKLENP2OFI4CHZGRWYQCSW2WKX3Y6FJGOCXSYNYGLGBI";

    #[test]
    fn the_iep_0020_content_code_round_trips() {
        let code: ContentCode = VECTOR_1_CONTENT.parse().unwrap();
        assert_eq!(code.kind(), CodeKind::Text);
        assert_eq!(code.to_string(), VECTOR_1_CONTENT);
        assert_eq!(hex::encode(&code.unit_bytes()[..4]), "2007a882");
        assert_eq!(ContentCode::from_words(code.kind(), code.words()), code);
    }

    #[test]
    fn iscc_lib_and_this_type_agree_on_the_text_code() {
        let made = iscc_lib::gen_text_code_v0("Hello World", 256).unwrap().iscc;
        let code: ContentCode = made.parse().unwrap();
        assert_eq!(code.to_string(), made);
    }

    #[test]
    fn other_units_are_refused() {
        for other in [
            "ISCC:AADVPDD4R6733NMPFH3D57VTQ4KVH6VHL74XIWGUT37V5ZG56NV3NSI", // Meta-Code
            "ISCC:GADQLNA7GRZESMRF2J7NZPNWGI3II2ST5YUN5SS6GVQ2ZQGJXPPYDNI", // Data-Code
            "ISCC:EAASKDNZNYGUUF5A",                                        // 64-bit Content-Code
        ] {
            assert_eq!(other.parse::<ContentCode>(), Err(CodeParseError::WrongType), "{other}");
        }
        assert!(matches!("ISCC:!!".parse::<ContentCode>(), Err(CodeParseError::NotIscc(_))));
    }

    #[test]
    fn distance_and_similarity() {
        let a = ContentCode::new(CodeKind::Image, [0; 32]);
        let mut body = [0; 32];
        body[0] = 0b1010_0000;
        body[31] = 1;
        let b = ContentCode::new(CodeKind::Image, body);
        assert_eq!(a.distance(&b), 3);
        assert_eq!(similarity(0), 100);
        assert_eq!(similarity(3), 98);
        assert_eq!(similarity(128), 50);
        assert_eq!(similarity(256), 0);
    }
}
