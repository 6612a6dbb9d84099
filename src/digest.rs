//! `Sha256Digest`: the one type for every SHA-256 value in the service (content
//! hashes, leaf and node hashes, roots, prompt commitments), so a hash is never
//! confused with an arbitrary string and is always compared in constant time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A SHA-256 output. Serialises as 64 lowercase hex digits.
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

/// Why a string or byte slice is not a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    #[error("a SHA-256 digest is 64 hex digits, got {0} characters")]
    HexLength(usize),
    #[error("a SHA-256 digest must contain only hex digits 0-9, a-f")]
    HexDigit,
    #[error("a SHA-256 digest is 32 bytes, got {0}")]
    ByteLength(usize),
}

impl Sha256Digest {
    pub const LEN: usize = 32;

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// # Errors
    /// [`DigestParseError::ByteLength`] unless `bytes` is exactly 32 bytes long.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self, DigestParseError> {
        <[u8; 32]>::try_from(bytes).map(Self).map_err(|_| DigestParseError::ByteLength(bytes.len()))
    }

    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Finishes an incremental hasher, for content that arrives in pieces.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Self(hasher.finalize().into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits; upper case is accepted, output is always lower case.
    ///
    /// # Errors
    /// When `s` is not exactly 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, DigestParseError> {
        if s.len() != 64 {
            return Err(DigestParseError::HexLength(s.chars().count()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| DigestParseError::HexDigit)?;
        Ok(Self(out))
    }
}

impl PartialEq for Sha256Digest {
    // Constant time: digests are compared against attacker-supplied values
    // (receipts, proofs, commitments).
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for Sha256Digest {
    // Consistent with `eq`: equal digests have equal bytes.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    // In JSON only the canonical lower-case form is accepted: one digest, one spelling,
    // so a receipt cannot be altered (A for a) and still verify. Query parameters, typed
    // by people, go through the lenient `from_hex`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("a SHA-256 digest in JSON is 64 lower-case hex digits"));
        }
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Deserializes an optional digest in either case, for the fields of a request in which
/// a client names content by its hash (`sha256` of `POST /v1/stamps` and
/// `POST /v1/verify`): many tools print SHA-256 in upper case, and nothing signed or
/// logged holds this spelling, which is normalised to lower case at once. Receipts,
/// statements and proofs keep the strict [`Deserialize`] of [`Sha256Digest`].
///
/// # Errors
/// Unless the value is 64 hex digits (`null` too: an optional member is omitted, never
/// `null`; see `statement::not_null`).
pub(crate) fn any_case<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha256Digest>, D::Error> {
    let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
    Sha256Digest::from_hex(&s).map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_empty_input() {
        // FIPS 180-4 / RFC 6234: SHA-256("").
        assert_eq!(Sha256Digest::of(b"").to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn hex_round_trip_and_upper_case() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(Sha256Digest::from_hex(&d.to_hex()).unwrap(), d);
        assert_eq!(Sha256Digest::from_hex(&d.to_hex().to_uppercase()).unwrap(), d);
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!(Sha256Digest::from_hex("ab"), Err(DigestParseError::HexLength(2)));
        let bad = "g".repeat(64);
        assert_eq!(Sha256Digest::from_hex(&bad), Err(DigestParseError::HexDigit));
        // A multi-byte character must not panic on a byte-length check.
        let odd = "é".repeat(32);
        assert!(Sha256Digest::from_hex(&odd).is_err());
    }

    #[test]
    fn serde_as_hex_string() {
        let d = Sha256Digest::of(b"x");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", d.to_hex()));
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Sha256Digest>(&json.to_uppercase()).is_err(), "JSON takes lower case only");
    }

    #[test]
    fn request_fields_take_either_case_and_keep_lower_case() {
        #[derive(serde::Deserialize)]
        struct Req {
            #[serde(default, deserialize_with = "super::any_case")]
            sha256: Option<Sha256Digest>,
        }
        let d = Sha256Digest::of(b"x");
        let upper: Req = serde_json::from_value(serde_json::json!({"sha256": d.to_hex().to_uppercase()})).unwrap();
        assert_eq!(upper.sha256, Some(d));
        assert_eq!(serde_json::to_string(&upper.sha256).unwrap(), format!("\"{}\"", d.to_hex()));
        assert_eq!(serde_json::from_str::<Req>("{}").unwrap().sha256, None);
        assert!(serde_json::from_str::<Req>(r#"{"sha256": "ABC"}"#).is_err());
        assert!(serde_json::from_str::<Req>(r#"{"sha256": null}"#).is_err(), "omitted, never null");
    }
}
