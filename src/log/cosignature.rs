//! C2SP `tlog-cosignature`, the Ed25519 `cosignature/v1` type (signature type 0x04):
//! making a witness's cosignature line over a checkpoint, and checking one.
//!
//! - Key ID: `SHA-256(name || "\n" || 0x04 || 32-byte public key)[:4]`.
//! - Signature line: `— <name> base64(key ID || u64 timestamp, big-endian || Ed25519 sig)`.
//! - Signed message: `cosignature/v1\ntime <timestamp>\n` then the checkpoint's note body
//!   (its final newline included, no signature line).
//! - Verifier key: `<name>+<8 hex key ID>+base64(0x04 || public key)`.
//!
//! The type byte differs from a log's note key (0x01) on purpose: the same Ed25519 key
//! can never have one of its note signatures read as a cosignature or the reverse, since
//! the messages differ in their first line and the key IDs differ.
//!
//! Followed at C2SP/C2SP commit `95978ca8038c058314b6ead7d6c1fa43af3bebec`
//! (2026-07-06; `tlog-cosignature.md`, `signed-note.md`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::log::checkpoint::{is_valid_name, SIG_PREFIX};

/// The signed-note signature type of timestamped Ed25519 checkpoint cosignatures.
pub(crate) const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The first line of every signed message: the domain separation of `cosignature/v1`.
const HEADER: &str = "cosignature/v1\n";

/// Bytes of the base64 payload: key ID, timestamp, Ed25519 signature.
const PAYLOAD_LEN: usize = 4 + 8 + 64;

/// Why a cosignature (or a cosigner's verifier key) was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("a cosigner name must be non-empty and contain no spaces, control characters or '+'")]
    InvalidName,
    #[error("a cosigner verifier key has the form <name>+<8 hex digits>+<base64(0x04 || key)>")]
    MalformedVerifierKey,
    #[error("the verifier key's ID does not match its name and public key")]
    KeyIdMismatch,
    #[error("the verifier key has signature type 0x{0:02x}, not 0x04 (cosignature/v1)")]
    WrongType(u8),
    #[error("the verifier key does not hold a valid, strong Ed25519 public key")]
    InvalidPublicKey,
    #[error("the note has no signature block")]
    NotANote,
    #[error("the note holds no cosignature by {name}")]
    Missing { name: String },
    #[error("the cosignature line is malformed: {0}")]
    Malformed(&'static str),
    #[error("the cosignature timestamp {0} is zero or larger than 2^63 - 1")]
    BadTimestamp(u64),
    #[error("the cosignature by {name} does not verify")]
    Invalid { name: String },
}

/// The key ID of an Ed25519 cosigner key.
fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    typed_key_id(name, ALG_COSIGNATURE_V1, key.as_bytes())
}

/// signed-note's recommended key ID: `SHA-256(name || 0x0A || type || public key)[:4]`.
fn typed_key_id(name: &str, alg: u8, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(key);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// The message a `cosignature/v1` signs: header line, time line, checkpoint body.
pub fn signed_message(checkpoint_body: &str, timestamp: u64) -> Vec<u8> {
    format!("{HEADER}time {timestamp}\n{checkpoint_body}").into_bytes()
}

/// A witness's cosigning key: an Ed25519 key under a name. Never prints the key.
pub struct CosignatureSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for CosignatureSigner {
    // Hand-written so the private key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl CosignatureSigner {
    /// # Errors
    /// [`CosignatureError::InvalidName`] when `name` breaks the signed-note key name rules.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, CosignatureError> {
        if !is_valid_name(name) {
            return Err(CosignatureError::InvalidName);
        }
        Ok(Self { id: key_id(name, &key.verifying_key()), name: name.to_owned(), key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// The signature line (`— name base64...\n`) cosigning `checkpoint_body` at `timestamp`
    /// (POSIX seconds).
    ///
    /// # Errors
    /// [`CosignatureError::BadTimestamp`] for zero (tlog-witness forbids omitting it) or a
    /// time past 2^63 - 1.
    pub fn cosign(&self, checkpoint_body: &str, timestamp: u64) -> Result<String, CosignatureError> {
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(CosignatureError::BadTimestamp(timestamp));
        }
        let sig = self.key.sign(&signed_message(checkpoint_body, timestamp));
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.extend_from_slice(&timestamp.to_be_bytes());
        payload.extend_from_slice(&sig.to_bytes());
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(payload)))
    }
}

/// A cosigner's public key under its name: checks its cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

/// A checkpoint body a cosigner vouched for, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The note body the cosignature covers.
    pub body: String,
    /// The cosignature's timestamp (POSIX seconds).
    pub timestamp: u64,
}

impl CosignatureVerifier {
    /// Parses `<name>+<8 hex key ID>+base64(0x04 || 32-byte key)`.
    ///
    /// # Errors
    /// When the string is not of that form, holds another type or a weak key, or its
    /// key ID is not the one of its name and key.
    pub fn parse(vkey: &str) -> Result<Self, CosignatureError> {
        let vkey = vkey.trim();
        let (name, rest) = vkey.split_once('+').ok_or(CosignatureError::MalformedVerifierKey)?;
        let (id_hex, key64) = rest.split_once('+').ok_or(CosignatureError::MalformedVerifierKey)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) || !is_valid_name(name) {
            return Err(CosignatureError::MalformedVerifierKey);
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| CosignatureError::MalformedVerifierKey)?;
        let typed = STANDARD.decode(key64).map_err(|_| CosignatureError::MalformedVerifierKey)?;
        let Some((&alg, raw)) = typed.split_first() else {
            return Err(CosignatureError::MalformedVerifierKey);
        };
        if alg != ALG_COSIGNATURE_V1 {
            return Err(CosignatureError::WrongType(alg));
        }
        let raw: [u8; 32] = raw.try_into().map_err(|_| CosignatureError::InvalidPublicKey)?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| CosignatureError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(CosignatureError::InvalidPublicKey);
        }
        if key_id(name, &key) != id {
            return Err(CosignatureError::KeyIdMismatch);
        }
        Ok(Self { name: name.to_owned(), id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// `<name>+<key ID as 8 lowercase hex>+base64(0x04 || key)`.
    pub fn to_vkey_string(&self) -> String {
        let mut typed = vec![ALG_COSIGNATURE_V1];
        typed.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(typed))
    }

    /// Checks this cosigner's cosignature in a signed checkpoint `note` (the log's own
    /// signature and other cosigners' lines are left alone: check the log's with
    /// [`Checkpoint::open_signed`](crate::tlog::checkpoint::Checkpoint::open_signed)).
    /// Lines by other keys are skipped, as signed-note requires; a line with this
    /// cosigner's name and key ID must verify.
    ///
    /// # Errors
    /// [`CosignatureError::Missing`] when no line has this name and key ID;
    /// [`CosignatureError::Malformed`], [`CosignatureError::BadTimestamp`] or
    /// [`CosignatureError::Invalid`] for a line of this key that fails.
    pub fn verify_note(&self, note: &str) -> Result<Cosigned, CosignatureError> {
        let split = note.rfind("\n\n").ok_or(CosignatureError::NotANote)?;
        let (body, sigs) = (&note[..=split], &note[split + 2..]);
        for line in sigs.lines() {
            let Some((name, b64)) = line.strip_prefix(SIG_PREFIX).and_then(|rest| rest.split_once(' ')) else {
                continue;
            };
            if name != self.name {
                continue;
            }
            let Ok(raw) = STANDARD.decode(b64) else { continue };
            if raw.get(..4) != Some(&self.id.to_be_bytes()[..]) {
                continue;
            }
            let timestamp = self.verify_payload(body, &raw)?;
            return Ok(Cosigned { body: body.to_owned(), timestamp });
        }
        Err(CosignatureError::Missing { name: self.name.clone() })
    }

    /// Checks one signature line (as `add-checkpoint` answers it) over `checkpoint_body`;
    /// returns its timestamp.
    ///
    /// # Errors
    /// As [`CosignatureVerifier::verify_note`]; a line by another key is
    /// [`CosignatureError::Missing`].
    pub fn verify_line(&self, checkpoint_body: &str, line: &str) -> Result<u64, CosignatureError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(CosignatureError::Malformed("no em dash and space"))?;
        let (name, b64) = rest.split_once(' ').ok_or(CosignatureError::Malformed("no space after the name"))?;
        let raw = STANDARD.decode(b64).map_err(|_| CosignatureError::Malformed("not canonical base64"))?;
        if name != self.name || raw.get(..4) != Some(&self.id.to_be_bytes()[..]) {
            return Err(CosignatureError::Missing { name: self.name.clone() });
        }
        self.verify_payload(checkpoint_body, &raw)
    }

    fn verify_payload(&self, body: &str, raw: &[u8]) -> Result<u64, CosignatureError> {
        if raw.len() != PAYLOAD_LEN {
            return Err(CosignatureError::Malformed("not key ID, timestamp and Ed25519 signature"));
        }
        let (ts, sig) = raw[4..].split_at(8);
        let mut be = [0u8; 8];
        be.copy_from_slice(ts);
        let timestamp = u64::from_be_bytes(be);
        if timestamp > i64::MAX as u64 {
            return Err(CosignatureError::BadTimestamp(timestamp));
        }
        let sig = Signature::from_slice(sig).map_err(|_| CosignatureError::Malformed("signature"))?;
        self.key
            .verify_strict(&signed_message(body, timestamp), &sig)
            .map_err(|_| CosignatureError::Invalid { name: self.name.clone() })?;
        Ok(timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::checkpoint::{Checkpoint, NoteSigner};

    /// The checkpoint body of the tlog-cosignature and tlog-witness examples.
    const SOFA_BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn signer() -> CosignatureSigner {
        CosignatureSigner::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    #[test]
    fn the_signed_note_example_key_id() {
        // signed-note.md, "Verifier keys" example: the key ID formula with type 0x01.
        let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let typed = STANDARD.decode(vkey.rsplit('+').next().unwrap()).unwrap();
        assert_eq!(typed[0], 0x01);
        assert_eq!(typed_key_id("example.com/foo", typed[0], &typed[1..]), 0x530d_903a);
        // And the example note it verifies, through the log's note code.
        let verifier = crate::log::checkpoint::NoteVerifier::parse(vkey).unwrap();
        let note = "This is an example message.\n\n\u{2014} example.com/foo \
                    Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        assert!(crate::log::checkpoint::open(note, &[verifier]).is_ok());
    }

    #[test]
    fn the_cosignature_example_line_and_message() {
        // tlog-cosignature.md: its cosignature line is key ID || timestamp || 64 bytes, and its
        // timestamp is the one of its signed-message example. (The spec publishes no key
        // for witness.example.com/w1, so the signature itself cannot be checked.)
        let b64 =
            "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        let raw = STANDARD.decode(b64).unwrap();
        assert_eq!(raw.len(), PAYLOAD_LEN);
        assert_eq!(u64::from_be_bytes(raw[4..12].try_into().unwrap()), 1_679_315_147);
        let spec_message = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
                            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(signed_message(SOFA_BODY, 1_679_315_147), spec_message.as_bytes());
    }

    #[test]
    fn a_cosignature_checked_by_an_independent_reading_of_the_spec() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let line = signer().cosign(SOFA_BODY, 1_700_000_000).unwrap();
        // Rebuilt from the spec's text alone, without this module's functions.
        let rest = line.strip_prefix("\u{2014} witness.example/w1 ").unwrap().strip_suffix('\n').unwrap();
        let raw = STANDARD.decode(rest).unwrap();
        let mut id_input = b"witness.example/w1\n".to_vec();
        id_input.push(0x04);
        id_input.extend_from_slice(key.verifying_key().as_bytes());
        assert_eq!(raw[..4], Sha256::digest(&id_input)[..4], "key ID");
        assert_eq!(raw[4..12], 1_700_000_000u64.to_be_bytes(), "big-endian timestamp");
        let message = format!("cosignature/v1\ntime {}\n{}", 1_700_000_000, SOFA_BODY);
        let sig = Signature::from_slice(&raw[12..]).unwrap();
        key.verifying_key().verify_strict(message.as_bytes(), &sig).expect("the signature verifies");
        assert_eq!(raw.len(), 76);
    }

    #[test]
    fn round_trip_and_tampering() {
        let s = signer();
        let v = CosignatureVerifier::parse(&s.verifier().to_vkey_string()).unwrap();
        assert_eq!(v, s.verifier());
        assert!(v.to_vkey_string().starts_with(&format!("witness.example/w1+{:08x}+B", v.key_id())));
        let line = s.cosign(SOFA_BODY, 42).unwrap();
        assert_eq!(v.verify_line(SOFA_BODY, &line), Ok(42));
        let other_body = SOFA_BODY.replace("20852163", "20852164");
        assert_eq!(
            v.verify_line(&other_body, &line),
            Err(CosignatureError::Invalid { name: "witness.example/w1".into() })
        );

        // In a note beside the log's own signature and another cosigner's.
        let log = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 5,
            root: crate::Sha256Digest::of(b"r"),
            extensions: vec![],
        };
        let other = CosignatureSigner::new("other.example/w", SigningKey::from_bytes(&[2; 32])).unwrap();
        let note = format!(
            "{}{}{}",
            cp.sign(&log).unwrap(),
            other.cosign(&cp.to_body(), 9).unwrap(),
            s.cosign(&cp.to_body(), 10).unwrap()
        );
        assert_eq!(v.verify_note(&note), Ok(Cosigned { body: cp.to_body(), timestamp: 10 }));
        assert_eq!(Checkpoint::open_signed(&note, &log.verifier()).unwrap(), cp);
        assert_eq!(other.verifier().verify_note(&note).map(|c| c.timestamp), Ok(9));
        let only_log = cp.sign(&log).unwrap();
        assert_eq!(v.verify_note(&only_log), Err(CosignatureError::Missing { name: "witness.example/w1".into() }));
        // Our line moved onto another checkpoint does not verify there.
        let moved = format!(
            "{}{}",
            Checkpoint { size: 6, ..cp.clone() }.sign(&log).unwrap(),
            s.cosign(&cp.to_body(), 10).unwrap()
        );
        assert!(matches!(v.verify_note(&moved), Err(CosignatureError::Invalid { .. })));
    }

    #[test]
    fn refusals() {
        let s = signer();
        assert_eq!(s.cosign(SOFA_BODY, 0), Err(CosignatureError::BadTimestamp(0)));
        assert_eq!(s.cosign(SOFA_BODY, 1 << 63), Err(CosignatureError::BadTimestamp(1 << 63)));
        assert!(CosignatureSigner::new("two words", SigningKey::from_bytes(&[7; 32])).is_err());
        // A log's note key (type 0x01) is not a cosigner key, though the Ed25519 key is the same.
        let log = NoteSigner::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap();
        assert_eq!(CosignatureVerifier::parse(&log.verifier().to_vkey_string()), Err(CosignatureError::WrongType(1)));
        let good = s.verifier().to_vkey_string();
        let bad_id = good.replacen(&format!("{:08x}", s.verifier().key_id()), "00000000", 1);
        assert_eq!(CosignatureVerifier::parse(&bad_id), Err(CosignatureError::KeyIdMismatch));
        for junk in ["", "a+b", "name+1234567+BA==", "name+zzzzzzzz+BA==", "a b+00000000+BA=="] {
            assert!(CosignatureVerifier::parse(junk).is_err(), "{junk}");
        }
        let line = s.cosign(SOFA_BODY, 5).unwrap();
        let v = s.verifier();
        assert!(matches!(v.verify_line(SOFA_BODY, "no dash"), Err(CosignatureError::Malformed(_))));
        let short = format!("\u{2014} witness.example/w1 {}\n", STANDARD.encode(v.key_id().to_be_bytes()));
        assert!(matches!(v.verify_line(SOFA_BODY, &short), Err(CosignatureError::Malformed(_))));
        assert_eq!(
            v.verify_line(SOFA_BODY, &line.replace("w1", "w2")),
            Err(CosignatureError::Missing { name: "witness.example/w1".into() })
        );
    }
}
