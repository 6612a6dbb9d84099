//! The value of an `io.iscc.v0` soft binding (IEP-0020): an ISCC-SEQ, the binary
//! ISCC-UNITs (header and body) one after the other, in base64. Only 256-bit units are
//! full-length; this service indexes the Content-Codes of images and texts among them
//! and passes over the others (Meta-, Data-, Instance-Codes, shorter units).
//!
//! Followed: IEP-0020 as its test vectors stand in ISCC's C2PA resolver and iscc-core
//! (Vector 1, the reject vectors); see docs/contract.md §12.

use base64::Engine;

use crate::fingerprint::code::ContentCode;

/// Longest `value` accepted, in characters: 64 units of 34 bytes, in base64.
pub const MAX_VALUE_LEN: usize = 4 * (64 * 34usize).div_ceil(3);

/// Why a soft-binding value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeqError {
    #[error("is longer than {MAX_VALUE_LEN} characters")]
    TooLong,
    #[error("is not base64")]
    NotBase64,
    #[error("is not an ISCC-SEQ: {0}")]
    Malformed(&'static str),
    #[error("holds no 256-bit ISCC Content-Code of an image or a text, the only units this service indexes")]
    NothingSearchable,
}

/// The Content-Codes of images and texts in the base64 ISCC-SEQ `value`, in order,
/// without repeats. Lenient as IEP-0020 asks of decoders: padding optional, the URL-safe
/// alphabet too, a `+` that a client left unencoded (read as a space), white space around.
///
/// # Errors
/// When `value` is not base64 of a well-formed ISCC-SEQ, holds an ISCC-CODE or ISCC-ID,
/// or holds no unit this service can look up.
pub fn decode_value(value: &str) -> Result<Vec<ContentCode>, SeqError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(SeqError::TooLong);
    }
    let cleaned: String = value
        .trim()
        .chars()
        .map(|c| match c {
            ' ' => '+',
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .filter(|c| *c != '=')
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned).map_err(|_| SeqError::NotBase64)?;
    let units = split_units(&bytes)?;
    let mut codes = Vec::new();
    for unit in units {
        if let Ok(code) = ContentCode::from_unit_bytes(unit) {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    if codes.is_empty() {
        return Err(SeqError::NothingSearchable);
    }
    Ok(codes)
}

/// The ISCC-SEQ of `codes`: their units one after the other, as a C2PA soft binding
/// assertion carries it (a CBOR byte string, IEP-0020 Table 1).
pub fn encode_seq(codes: &[ContentCode]) -> Vec<u8> {
    codes.iter().flat_map(|c| c.unit_bytes()).collect()
}

/// `codes` as an `io.iscc.v0` value of the Soft Binding Resolution API: standard base64
/// with padding of their ISCC-SEQ.
pub fn encode_value(codes: &[ContentCode]) -> String {
    base64::engine::general_purpose::STANDARD.encode(encode_seq(codes))
}

/// Reads a header's nibbles.
struct Nibbles<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Nibbles<'_> {
    fn next(&mut self) -> Result<u32, SeqError> {
        let byte = *self.bytes.get(self.at / 2).ok_or(SeqError::Malformed("a unit's header is cut short"))?;
        let nibble = if self.at.is_multiple_of(2) { byte >> 4 } else { byte & 0x0f };
        self.at += 1;
        Ok(u32::from(nibble))
    }

    /// One variable-length nibble field (ISO 24138): `0xxx` is 0-7, `10xx xxxx` 8-71,
    /// `110x xxxx xxxx` 72-583, `1110 xxxx xxxx xxxx` 584-4679.
    fn varnibble(&mut self) -> Result<u32, SeqError> {
        let first = self.next()?;
        let (extra, base, mask) = match first {
            0..=7 => return Ok(first),
            8..=11 => (1, 8, 0x3),
            12..=13 => (2, 72, 0x1),
            14 => (3, 584, 0x0),
            _ => return Err(SeqError::Malformed("a header field is longer than ISO 24138 allows")),
        };
        let mut value = first & mask;
        for _ in 0..extra {
            value = (value << 4) | self.next()?;
        }
        Ok(base + value)
    }
}

/// Splits an ISCC-SEQ into its units (header and body each).
fn split_units(mut bytes: &[u8]) -> Result<Vec<&[u8]>, SeqError> {
    if bytes.is_empty() {
        return Err(SeqError::Malformed("it holds no ISCC-UNIT"));
    }
    let mut units = Vec::new();
    while !bytes.is_empty() {
        let mut header = Nibbles { bytes, at: 0 };
        let main_type = header.varnibble()?;
        let _sub_type = header.varnibble()?;
        let _version = header.varnibble()?;
        let length = header.varnibble()?;
        if !header.at.is_multiple_of(2) && header.next()? != 0 {
            return Err(SeqError::Malformed("a header's padding nibble is not zero"));
        }
        match main_type {
            0..=4 => {}
            5 => return Err(SeqError::Malformed("it holds an ISCC-CODE, not ISCC-UNITs")),
            6 => return Err(SeqError::Malformed("it holds an ISCC-ID, not ISCC-UNITs")),
            _ => return Err(SeqError::Malformed("a unit has an unknown main type")),
        }
        if length > 7 {
            return Err(SeqError::Malformed("a unit's length field is past 256 bits"));
        }
        let body = (length as usize + 1) * 4;
        let size = header.at / 2 + body;
        if bytes.len() < size {
            return Err(SeqError::Malformed("a unit's body is cut short"));
        }
        units.push(&bytes[..size]);
        bytes = &bytes[size..];
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    // IEP-0020 Test Vector 1: Meta-, Content (Text)-, Data- and Instance-Code, 256 bits each.
    const VECTOR_1: &str = "AAdXjHyPv721jyn2Pv6zhxVT+qdf+XRY1J7/XuTd82u2ySAHqIJIxTqFLI1+nFRwR8mjbEBStqyr7x4qTOFeWG4MswUwBwW0HzRySTIl0n7cvbYyNoRqU+4o3speNWGswMm734G1QAelIq9KLJy/aoCJJK/SrPoHkzR7k2Z49ZguIv3T3UoONw==";
    const CONTENT: &str = "ISCC:EAD2RASIYU5IKLENP2OFI4CHZGRWYQCSW2WKX3Y6FJGOCXSYNYGLGBI";

    fn b64(hex: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).unwrap())
    }

    #[test]
    fn vector_1_yields_its_content_code_and_the_others_are_passed_over() {
        let content: ContentCode = CONTENT.parse().unwrap();
        assert_eq!(decode_value(VECTOR_1).unwrap(), vec![content]);
        assert_eq!(encode_value(&[content]), b64(&hex::encode(content.unit_bytes())));
    }

    #[test]
    fn decoding_is_lenient_as_iep_0020_asks() {
        let content: ContentCode = CONTENT.parse().unwrap();
        for variant in [
            VECTOR_1.trim_end_matches('=').to_owned(),
            VECTOR_1.replace('+', "-").replace('/', "_"),
            VECTOR_1.replace('+', " "),
            format!("  {VECTOR_1}\n"),
        ] {
            assert_eq!(decode_value(&variant).unwrap(), vec![content], "{variant}");
        }
        let twice = encode_value(&[content, content]);
        assert_eq!(decode_value(&twice).unwrap(), vec![content]);
    }

    #[test]
    fn the_reject_vectors_are_refused() {
        for hex in [
            "",
            "28000100000000",
            &format!("200800{}", "00".repeat(36)),
            "3000000000",
            "30000000000000",
            "5005578c7c8fbfbdb58fa88248c53a852c8d05b41f3472493225a522af4a2c9cbf6a",
            "60100000000000000000",
        ] {
            assert!(matches!(decode_value(&b64(hex)), Err(SeqError::Malformed(_))), "{hex}");
        }
        assert_eq!(decode_value("not*base64"), Err(SeqError::NotBase64));
        assert_eq!(decode_value(&"A".repeat(MAX_VALUE_LEN + 1)), Err(SeqError::TooLong));
    }

    #[test]
    fn short_and_unknown_units_are_not_searchable() {
        // IEP-0020 Vector 2: 64- and 128-bit Content-Codes and a 256-bit Data-Code.
        let vector_2 = "21018c3585376ee22d5a22039f07f3ff9e0061ff3ef7cbffffef37ff300705b41f3472493225d27edcbdb63236846a53ee28deca5e3561acc0c9bbdf81b5";
        assert_eq!(decode_value(&b64(vector_2)), Err(SeqError::NothingSearchable));
        assert_eq!(decode_value(&b64("270000000000")), Err(SeqError::NothingSearchable));
    }
}
