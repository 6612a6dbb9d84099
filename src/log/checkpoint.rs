//! C2SP tlog-checkpoint bodies inside C2SP signed-note envelopes, signed with Ed25519.
//!
//! This is the format the log publishes its tree heads in, so that any tool that
//! speaks the ecosystem's format (Go's `golang.org/x/mod/sumdb/note`, Sigstore
//! Rekor v2, witnesses) can check them without knowing anything about this service.
//!
//! - Signed note (<https://c2sp.org/signed-note>): a text ending in `\n`, a blank
//!   line, then one or more lines `— <key name> <base64(key hash || signature)>\n`.
//!   The Ed25519 signature covers the text exactly, final newline included.
//! - Checkpoint (<https://c2sp.org/tlog-checkpoint>): a note text of the lines
//!   origin, tree size (decimal), root hash (base64), then optional extension lines.
//! - Verifier key: `<name>+<8 hex digits of key hash>+<base64(0x01 || public key)>`.
//!
//! [`open`] follows the rules of Go's `note.Open` (the reference implementation),
//! because a verifier that is more lenient than the reference is a verifier that
//! can be fooled by notes other tools would reject. Where this module departs
//! from it (always towards refusing more, except for a verifier listed twice),
//! the comment at the spot says why.

use std::collections::HashSet;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;

/// The signature type byte of plain Ed25519 note signatures (C2SP signed-note).
pub(crate) const ALG_ED25519: u8 = 0x01;

/// The most signature lines [`open`] reads, as in Go's `note.Open`, so a hostile
/// note cannot make us run unbounded numbers of signature checks.
pub(crate) const MAX_SIGNATURES: usize = 100;

/// The largest note, in bytes, that [`open`] reads or [`NoteSigner::sign`] makes.
/// A checkpoint is a few hundred bytes; the cap only bounds what hostile input costs.
pub(crate) const MAX_NOTE_SIZE: usize = 1 << 20;

/// The prefix of every signature line: U+2014 EM DASH, then a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Length in bytes of an Ed25519 public key and of a signature.
const ED25519_KEY_LEN: usize = 32;
const ED25519_SIG_LEN: usize = 64;

/// Base64 as Go's `base64.StdEncoding` decodes it: standard alphabet, padding
/// required, but non-zero unused bits in the last character accepted. Verifier keys
/// are decoded with it so that every key Go's `note` package accepts is accepted here.
///
/// Signature lines are NOT: they are decoded canonically (unused bits must be zero).
/// Otherwise two spellings of one signature line would both verify, and a receipt that
/// embeds the note could be altered by a bit and still verify. Every note this service
/// signs is canonical, so it still opens under Go's rules; only non-canonical notes
/// from elsewhere are refused here, a deliberate, stricter choice.
const GO_STD_BASE64: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true));

/// Everything that can go wrong making, parsing or opening notes and checkpoints.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum NoteError {
    #[error("a key name must be non-empty and contain no spaces, control characters or '+'")]
    InvalidKeyName,
    #[error("a verifier key must have the form <name>+<8 hex digits>+<base64 key>")]
    MalformedVerifierKey,
    #[error("the verifier key's hash does not match its name and public key")]
    KeyHashMismatch,
    #[error("unknown signature algorithm 0x{0:02x} in the verifier key (only Ed25519, 0x01, is supported)")]
    UnknownAlgorithm(u8),
    #[error("an Ed25519 public key is 32 bytes, the verifier key holds {0}")]
    InvalidKeyLength(usize),
    #[error("the verifier key does not hold a valid Ed25519 public key")]
    InvalidPublicKey,
    #[error("the verifier key is a weak (small-order) Ed25519 key, which would accept forged signatures")]
    WeakPublicKey,
    #[error("the note is {size} bytes, more than the {max} allowed")]
    NoteTooLarge { size: usize, max: usize },
    #[error("the note contains an ASCII control character other than newline (a carriage return, for example)")]
    ControlCharacter,
    #[error("the note text must end with a newline")]
    MissingFinalNewline,
    #[error("the note has no blank line between its text and its signatures")]
    MissingSignatureBlock,
    #[error("the note's signature block is empty")]
    NoSignatures,
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("the note has more than {max} signature lines")]
    TooManySignatures { max: usize },
    #[error("more than one known key is named {name}+{key_hash:08x}")]
    AmbiguousKey { name: String, key_hash: u32 },
    #[error("invalid signature for key {name}+{key_hash:08x}")]
    InvalidSignature { name: String, key_hash: u32 },
    #[error(
        "the note has no valid signature from a known key ({unverified} signature(s) by unknown keys were ignored)"
    )]
    NoVerifiedSignature { unverified: usize },
    #[error("a checkpoint has at least three lines (origin, size, root hash), this one has {got}")]
    TooFewLines { got: usize },
    #[error("the checkpoint origin line is empty")]
    EmptyOrigin,
    #[error("a checkpoint line must not contain a newline")]
    FieldContainsNewline,
    #[error("the checkpoint tree size must be plain decimal digits (no sign, spaces or other characters)")]
    TreeSizeNotDecimal,
    #[error("the checkpoint tree size has a leading zero")]
    TreeSizeLeadingZero,
    #[error("the checkpoint tree size does not fit in 64 bits")]
    TreeSizeOverflow,
    #[error("the checkpoint root hash is not canonical padded standard base64")]
    RootHashNotBase64,
    #[error("the checkpoint root hash must be 32 bytes, got {0}")]
    RootHashLength(usize),
    #[error("checkpoint extension line {index} is empty")]
    EmptyExtensionLine { index: usize },
    #[error("the checkpoint origin {origin:?} is not the name of the key that signed it, {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
}

/// The C2SP key hash (key ID) of an Ed25519 key:
/// the first four bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || public key).
pub(crate) fn key_hash(name: &str, public_key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key.as_bytes());
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Key name rules of the note package: non-empty, no Unicode white space (Rust's
/// `char::is_whitespace` and Go's `unicode.IsSpace` both follow the Unicode
/// White_Space property), no '+'. Control characters are refused as well: Go
/// accepts them in names, but no note carrying such a name could ever be opened.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_ascii_control())
}

/// Go's `note.Open` rule: nothing below U+0020 except the newline. (DEL and the
/// C1 controls are allowed there, so they are allowed here.)
fn has_forbidden_control(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 && b != b'\n')
}

/// Keeps error messages about attacker-supplied text short.
fn clip(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    match s.char_indices().nth(MAX_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A known log key: checks note signatures made by one named Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under the key name `name`.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] when `name` breaks the key name rules;
    /// [`NoteError::WeakPublicKey`] for a small-order key.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        // A small-order key lets anyone make signatures that verify under the
        // lenient Ed25519 equation; refuse it where the key enters the system.
        if key.is_weak() {
            return Err(NoteError::WeakPublicKey);
        }
        Ok(Self { hash: key_hash(name, &key), name: name.to_owned(), key })
    }

    /// Parses a verifier key string `<name>+<8 hex digits>+<base64(0x01 || key)>`,
    /// checking the stated key hash against the one computed from name and key.
    /// Hex digits may be upper or lower case, as in Go's `note.NewVerifier`.
    ///
    /// # Errors
    /// [`NoteError::MalformedVerifierKey`] when the string is not of that form or the
    /// name is invalid; [`NoteError::KeyHashMismatch`], [`NoteError::UnknownAlgorithm`],
    /// [`NoteError::InvalidKeyLength`], [`NoteError::InvalidPublicKey`] or
    /// [`NoteError::WeakPublicKey`] for a well-formed string holding a bad key.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        // Split at the first two '+': the name has none, and base64 may contain '+'.
        let (name, rest) = vkey.split_once('+').ok_or(NoteError::MalformedVerifierKey)?;
        let (hash16, key64) = rest.split_once('+').ok_or(NoteError::MalformedVerifierKey)?;
        // Checked digit by digit: `u32::from_str_radix` alone would also take a sign.
        if hash16.len() != 8 || !hash16.bytes().all(|b| b.is_ascii_hexdigit()) || !is_valid_name(name) {
            return Err(NoteError::MalformedVerifierKey);
        }
        let hash = u32::from_str_radix(hash16, 16).map_err(|_| NoteError::MalformedVerifierKey)?;
        let key = GO_STD_BASE64.decode(key64).map_err(|_| NoteError::MalformedVerifierKey)?;
        let Some((&alg, raw)) = key.split_first() else {
            return Err(NoteError::MalformedVerifierKey);
        };
        // Same order as Go: the hash covers the algorithm byte and key as written,
        // so a key with a bad hash is reported as such whatever else is wrong.
        let computed = {
            let mut h = Sha256::new();
            h.update(name.as_bytes());
            h.update(b"\n");
            h.update(&key);
            let sum = h.finalize();
            u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
        };
        if computed != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        if alg != ALG_ED25519 {
            return Err(NoteError::UnknownAlgorithm(alg));
        }
        let raw: [u8; ED25519_KEY_LEN] = raw.try_into().map_err(|_| NoteError::InvalidKeyLength(raw.len()))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| NoteError::InvalidPublicKey)?;
        Self::new(name, key)
    }

    /// The key name (for a log, its origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash that signature lines by this key carry.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The Ed25519 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The verifier key string, `<name>+<hash as 8 lowercase hex digits>+<base64(0x01 || key)>`.
    pub fn to_vkey_string(&self) -> String {
        let mut typed = Vec::with_capacity(1 + ED25519_KEY_LEN);
        typed.push(ALG_ED25519);
        typed.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.hash, STANDARD.encode(typed))
    }

    /// Strict Ed25519 verification: rejects non-canonical and small-order points as
    /// well as a non-canonical S, so a signature cannot be altered into another
    /// valid one and a weak key cannot verify everything.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // A signature of the wrong length is simply invalid, as in Go.
        Signature::from_slice(sig).is_ok_and(|sig| self.key.verify_strict(msg, &sig).is_ok())
    }
}

/// Signs note bodies with a named Ed25519 key.
pub struct NoteSigner {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    // Deliberately hand-written: the signing key must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `key` under the key name `name` (for a log, its origin).
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] when `name` breaks the key name rules.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        Ok(Self { hash: key_hash(name, &key.verifying_key()), name: name.to_owned(), key })
    }

    /// The verifier for this signer's public key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), hash: self.hash, key: self.key.verifying_key() }
    }

    /// Signs `body` and returns the whole signed note: the body, a blank line and
    /// one signature line. The body is checked against the same rules [`open`]
    /// applies, so everything this returns can be opened.
    ///
    /// # Errors
    /// [`NoteError::MissingFinalNewline`] when `body` is empty or does not end in
    /// `\n`; [`NoteError::ControlCharacter`]; [`NoteError::NoteTooLarge`] when the
    /// signed note would exceed [`MAX_NOTE_SIZE`].
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        if !body.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        if has_forbidden_control(body) {
            return Err(NoteError::ControlCharacter);
        }
        let sig = self.key.sign(body.as_bytes());
        let mut payload = Vec::with_capacity(4 + ED25519_SIG_LEN);
        payload.extend_from_slice(&self.hash.to_be_bytes());
        payload.extend_from_slice(&sig.to_bytes());
        let line = format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(payload));
        let size = body.len() + 1 + line.len();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::NoteTooLarge { size, max: MAX_NOTE_SIZE });
        }
        let mut note = String::with_capacity(size);
        note.push_str(body);
        note.push('\n');
        note.push_str(&line);
        Ok(note)
    }
}

/// The result of opening a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenedNote {
    /// The signed text, final newline included.
    pub body: String,
    /// Names of the known keys whose signatures verified, in note order; a name
    /// appears once per distinct (name, key hash).
    pub verified_by: Vec<String>,
    /// Distinct signature lines by keys not among the verifiers; ignored, as the
    /// spec requires (they may be witnesses' cosignatures or a rotated key).
    pub unverified: usize,
}

/// Opens a signed note: checks its syntax and its signatures against `verifiers`.
///
/// Follows Go's `note.Open`: the signature block is what follows the last blank
/// line; every signature line must be well-formed; lines from unknown keys are
/// ignored; a line from a known key that fails to verify rejects the note; at
/// least one known key must have signed. Repeated signatures by one key are
/// checked once, as in Go.
///
/// # Errors
/// [`NoteError::NoteTooLarge`], [`NoteError::ControlCharacter`],
/// [`NoteError::MissingFinalNewline`], [`NoteError::MissingSignatureBlock`],
/// [`NoteError::NoSignatures`], [`NoteError::TooManySignatures`] and
/// [`NoteError::MalformedSignatureLine`] for a badly formed note;
/// [`NoteError::AmbiguousKey`] when two different verifiers share a name and key
/// hash that a signature uses; [`NoteError::InvalidSignature`] when a known key's
/// signature fails; [`NoteError::NoVerifiedSignature`] when no known key signed.
pub(crate) fn open(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    // Size first, before any other work on hostile input.
    if note.len() > MAX_NOTE_SIZE {
        return Err(NoteError::NoteTooLarge { size: note.len(), max: MAX_NOTE_SIZE });
    }
    // UTF-8 validity is guaranteed by `&str`.
    if has_forbidden_control(note) {
        return Err(NoteError::ControlCharacter);
    }
    if !note.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    // The text may itself contain blank lines: the signatures start after the last.
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
    let (body, sigs) = (&note[..=split], &note[split + 2..]);
    if sigs.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    // Counted before any parsing or signature checking, so the cap bounds the work.
    if sigs.bytes().filter(|&b| b == b'\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures { max: MAX_SIGNATURES });
    }

    let mut verified_by = Vec::new();
    let mut seen_known: HashSet<(&str, u32)> = HashSet::new();
    let mut seen_unknown: HashSet<&str> = HashSet::new();
    // `sigs` ends in '\n', so the last piece of the split is empty and skipped.
    for (index, line) in sigs.split_terminator('\n').enumerate() {
        let malformed = |reason| NoteError::MalformedSignatureLine { line: index + 1, reason };
        let rest =
            line.strip_prefix(SIG_PREFIX).ok_or_else(|| malformed("it does not start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| malformed("there is no space after the key name"))?;
        if !is_valid_name(name) {
            return Err(malformed("the key name is not valid"));
        }
        let raw =
            STANDARD.decode(b64).map_err(|_| malformed("the signature is not canonical, padded standard base64"))?;
        let (hash, sig) = match raw.as_slice() {
            [h0, h1, h2, h3, sig @ ..] if !sig.is_empty() => (u32::from_be_bytes([*h0, *h1, *h2, *h3]), sig),
            _ => return Err(malformed("the signature is shorter than a key hash and one byte")),
        };

        let mut matching = verifiers.iter().filter(|v| v.hash == hash && v.name == name);
        let Some(verifier) = matching.next() else {
            // Unknown key: ignored, but counted once per distinct line.
            seen_unknown.insert(line);
            continue;
        };
        // Go refuses any duplicate here; identical duplicates are harmless (a
        // caller passing the same key twice), so only differing keys are refused.
        if matching.any(|other| other.key != verifier.key) {
            return Err(NoteError::AmbiguousKey { name: name.to_owned(), key_hash: hash });
        }
        if !seen_known.insert((name, hash)) {
            continue;
        }
        if !verifier.verify(body.as_bytes(), sig) {
            return Err(NoteError::InvalidSignature { name: name.to_owned(), key_hash: hash });
        }
        verified_by.push(name.to_owned());
    }

    if verified_by.is_empty() {
        return Err(NoteError::NoVerifiedSignature { unverified: seen_unknown.len() });
    }
    Ok(OpenedNote { body: body.to_owned(), verified_by, unverified: seen_unknown.len() })
}

/// A transparency log checkpoint (C2SP tlog-checkpoint): the log's identity and
/// the Merkle tree head at one size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity; also the name of the key that signs its checkpoints.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 Merkle tree root at `size`.
    pub root: Sha256Digest,
    /// Opaque extension lines, each non-empty (the spec discourages them).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note body: origin, size, base64 root, extension lines, each ending in `\n`.
    /// Does not validate; [`Checkpoint::sign`] does before signing.
    pub fn to_body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root.as_bytes()));
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body (the note text, final newline included).
    ///
    /// The root hash must be canonical base64 so that `parse_body` and `to_body` are
    /// exact inverses: what is returned is always exactly what was signed.
    ///
    /// # Errors
    /// [`NoteError::NoteTooLarge`], [`NoteError::ControlCharacter`],
    /// [`NoteError::MissingFinalNewline`], [`NoteError::TooFewLines`],
    /// [`NoteError::EmptyOrigin`], [`NoteError::TreeSizeNotDecimal`],
    /// [`NoteError::TreeSizeLeadingZero`], [`NoteError::TreeSizeOverflow`],
    /// [`NoteError::RootHashNotBase64`], [`NoteError::RootHashLength`],
    /// [`NoteError::EmptyExtensionLine`].
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        if body.len() > MAX_NOTE_SIZE {
            return Err(NoteError::NoteTooLarge { size: body.len(), max: MAX_NOTE_SIZE });
        }
        if has_forbidden_control(body) {
            return Err(NoteError::ControlCharacter);
        }
        let text = body.strip_suffix('\n').ok_or(NoteError::MissingFinalNewline)?;
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(NoteError::TooFewLines { got: text.split('\n').count() });
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        let size = parse_tree_size(size)?;
        let root = STANDARD.decode(root).map_err(|_| NoteError::RootHashNotBase64)?;
        let root = Sha256Digest::try_from_slice(&root).map_err(|_| NoteError::RootHashLength(root.len()))?;
        let extensions = lines
            .enumerate()
            .map(|(index, ext)| {
                if ext.is_empty() {
                    Err(NoteError::EmptyExtensionLine { index: index + 1 })
                } else {
                    Ok(ext.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { origin: origin.to_owned(), size, root, extensions })
    }

    /// Signs the checkpoint and returns the signed note text.
    ///
    /// The origin must be the signer's key name: [`Checkpoint::open_signed`]
    /// requires it, so a checkpoint signed any other way could never be opened.
    ///
    /// # Errors
    /// [`NoteError::OriginMismatch`] when the origin is not the signer's name;
    /// [`NoteError::EmptyOrigin`], [`NoteError::FieldContainsNewline`],
    /// [`NoteError::ControlCharacter`] or [`NoteError::EmptyExtensionLine`] for
    /// fields that cannot be written as a checkpoint body; the errors of
    /// [`NoteSigner::sign`].
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        if self.origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        if self.origin.contains('\n') || self.extensions.iter().any(|e| e.contains('\n')) {
            return Err(NoteError::FieldContainsNewline);
        }
        if let Some(index) = self.extensions.iter().position(String::is_empty) {
            return Err(NoteError::EmptyExtensionLine { index: index + 1 });
        }
        if self.origin != signer.name {
            return Err(NoteError::OriginMismatch { origin: clip(&self.origin), key_name: signer.name.clone() });
        }
        signer.sign(&self.to_body())
    }

    /// Opens a signed checkpoint note, verifies it with `verifier`, and checks that
    /// the origin line equals the verifier's name. Signatures by other keys (for
    /// example witnesses) are ignored.
    ///
    /// # Errors
    /// Any error of [`open`] (the signature is checked before the body is trusted),
    /// any error of [`Checkpoint::parse_body`], and [`NoteError::OriginMismatch`].
    pub fn open_signed(note: &str, verifier: &NoteVerifier) -> Result<Self, NoteError> {
        let opened = open(note, std::slice::from_ref(verifier))?;
        let checkpoint = Self::parse_body(&opened.body)?;
        if checkpoint.origin != verifier.name {
            return Err(NoteError::OriginMismatch {
                origin: clip(&checkpoint.origin),
                key_name: verifier.name.clone(),
            });
        }
        Ok(checkpoint)
    }
}

/// ASCII decimal, no sign, no leading zero (except "0" itself), fits in u64.
fn parse_tree_size(s: &str) -> Result<u64, NoteError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NoteError::TreeSizeNotDecimal);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(NoteError::TreeSizeLeadingZero);
    }
    s.parse().map_err(|_| NoteError::TreeSizeOverflow)
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_canonical_signature_base64_is_refused() {
        // One signed note; the same signature re-spelled with a non-zero unused bit in
        // its last base64 character must not open (see `GO_STD_BASE64`).
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let signer = NoteSigner::new("example.com/log", key).unwrap();
        let note = signer.sign("example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n").unwrap();
        assert!(open(&note, &[signer.verifier()]).is_ok());
        let sig_line = note.lines().last().unwrap();
        let b64 = sig_line.rsplit(' ').next().unwrap();
        let trimmed = b64.trim_end_matches('=');
        let last = trimmed.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let pos = alphabet.find(last).unwrap();
        let respelled_char = alphabet.chars().nth(pos ^ 1).unwrap();
        let respelled = format!("{}{}{}", &trimmed[..trimmed.len() - 1], respelled_char, &b64[trimmed.len()..]);
        assert_eq!(
            GO_STD_BASE64.decode(&respelled).unwrap(),
            STANDARD.decode(b64).unwrap(),
            "same bytes, other spelling"
        );
        let altered = note.replace(b64, &respelled);
        assert!(matches!(open(&altered, &[signer.verifier()]), Err(NoteError::MalformedSignatureLine { .. })));
    }

    use super::*;
    use proptest::prelude::*;

    // ---- Known answers from golang.org/x/mod, sumdb/note/note_test.go ----------
    // (TestNewVerifier, TestNewSigner, TestSign, TestOpen; repository golang/mod,
    // read at commit 02c991387e35f9e4c0a9b7ce137717055f8d716d.) The same strings are
    // in the package documentation of note.go.
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // ---- Known answers from C2SP ------------------------------------------------
    // The worked example of c2sp.org/signed-note (C2SP/C2SP signed-note.md, section
    // on verifier keys): a verifier key and a note it signs. That the signature
    // verifies is itself a check that both strings were copied correctly.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    // The opening example of C2SP/C2SP signed-note.md (read at commit
    // 055287621bf3cd13ff4394418a3e8efc2d5e8ed7): a text with a blank line inside it.
    // Its key is not published, so it can only be checked as well-formed.
    const QUASIMODO_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    // The example of C2SP/C2SP tlog-checkpoint.md (read at commit
    // 2793893976c835db049c194d8f2c4f946dcb70ba); its key is not published either.
    const SPEC_CHECKPOINT_NOTE: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    const ORIGIN: &str = "example.com/log";

    /// A signer from a Go `note` signer key, `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    fn go_signer(skey: &str) -> NoteSigner {
        let rest = skey.strip_prefix("PRIVATE+KEY+").unwrap();
        let mut parts = rest.splitn(3, '+');
        let (name, hash, key) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let key = STANDARD.decode(key).unwrap();
        assert_eq!(key[0], ALG_ED25519);
        let seed: [u8; 32] = key[1..].try_into().unwrap();
        let signer = NoteSigner::new(name, SigningKey::from_bytes(&seed)).unwrap();
        assert_eq!(format!("{:08x}", signer.verifier().key_hash()), hash);
        signer
    }

    fn verifier(vkey: &str) -> NoteVerifier {
        NoteVerifier::parse(vkey).unwrap()
    }

    fn log_signer() -> NoteSigner {
        NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint { origin: ORIGIN.into(), size: 42, root: Sha256Digest::of(b"root"), extensions: vec![] }
    }

    #[test]
    fn c2sp_spec_verifier_key() {
        let v = verifier(SPEC_VKEY);
        assert_eq!(v.name(), "example.com/foo");
        assert_eq!(v.key_hash(), 0x530d_903a);
        assert_eq!(key_hash(v.name(), v.key()), 0x530d_903a);
        assert_eq!(v.to_vkey_string(), SPEC_VKEY);
        assert_eq!(NoteVerifier::new(v.name(), *v.key()).unwrap(), v);
    }

    #[test]
    fn c2sp_spec_note_opens() {
        let opened = open(SPEC_NOTE, &[verifier(SPEC_VKEY)]).unwrap();
        assert_eq!(opened.body, "This is an example message.\n");
        assert_eq!(opened.verified_by, vec!["example.com/foo".to_owned()]);
        assert_eq!(opened.unverified, 0);
    }

    #[test]
    fn c2sp_examples_without_keys_are_well_formed() {
        // Well-formed notes by a key we do not know: ignored, so nothing verifies.
        let other = verifier(PETER_VKEY);
        assert_eq!(
            open(QUASIMODO_NOTE, std::slice::from_ref(&other)),
            Err(NoteError::NoVerifiedSignature { unverified: 1 })
        );
        assert_eq!(open(SPEC_CHECKPOINT_NOTE, &[other]), Err(NoteError::NoVerifiedSignature { unverified: 1 }));

        let body = SPEC_CHECKPOINT_NOTE.split_once("\n\n").unwrap().0.to_owned() + "\n";
        let cp = Checkpoint::parse_body(&body).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20_852_163);
        assert_eq!(STANDARD.encode(cp.root.as_bytes()), "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_body(), body);
    }

    #[test]
    fn go_keys_parse_and_match() {
        let peter = verifier(PETER_VKEY);
        assert_eq!((peter.name(), peter.key_hash()), ("PeterNeumann", 0xc74f_20a3));
        assert_eq!(peter.to_vkey_string(), PETER_VKEY);
        let enoch = verifier(ENOCH_VKEY);
        assert_eq!((enoch.name(), enoch.key_hash()), ("EnochRoot", 0xaf0c_fe78));
        assert_eq!(enoch.to_vkey_string(), ENOCH_VKEY);
        // The signer key derives the same public key.
        assert_eq!(go_signer(PETER_SKEY).verifier(), peter);
    }

    #[test]
    fn go_sign_is_byte_for_byte() {
        // Ed25519 is deterministic, so the note must equal Go's TestSign output.
        let want = format!("{GO_TEXT}\n{PETER_SIG}");
        assert_eq!(go_signer(PETER_SKEY).sign(GO_TEXT).unwrap(), want);
    }

    #[test]
    fn go_open_cases() {
        let peter = verifier(PETER_VKEY);
        let enoch = verifier(ENOCH_VKEY);
        let both = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");

        // One verified, one unknown.
        let n = open(&both, std::slice::from_ref(&peter)).unwrap();
        assert_eq!(n.body, GO_TEXT);
        assert_eq!((n.verified_by, n.unverified), (vec!["PeterNeumann".to_owned()], 1));
        // Both verified.
        let n = open(&both, &[peter.clone(), enoch.clone()]).unwrap();
        assert_eq!((n.verified_by, n.unverified), (vec!["PeterNeumann".to_owned(), "EnochRoot".to_owned()], 0));
        // Neither known.
        assert_eq!(open(&both, &[]), Err(NoteError::NoVerifiedSignature { unverified: 2 }));
        // Too many signatures.
        let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
        assert_eq!(open(&many, std::slice::from_ref(&peter)), Err(NoteError::TooManySignatures { max: 100 }));
        assert_eq!(open(&many, &[]), Err(NoteError::TooManySignatures { max: 100 }));
        // Exactly 100 is allowed.
        let hundred = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(open(&hundred, std::slice::from_ref(&peter)).unwrap().verified_by.len(), 1);
        // Invalid signature by a known key ("ABCD" inserted at byte 60, as in Go).
        let bad = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert_eq!(
            open(&bad, std::slice::from_ref(&peter)),
            Err(NoteError::InvalidSignature { name: "PeterNeumann".into(), key_hash: 0xc74f_20a3 })
        );
        // Duplicated verified and unverified signatures.
        let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let dup = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
        let n = open(&dup, std::slice::from_ref(&peter)).unwrap();
        assert_eq!((n.verified_by, n.unverified), (vec!["PeterNeumann".to_owned()], 2));
        // A verifier listed twice is not ambiguous; two different keys under one
        // name and hash are.
        assert!(open(&format!("{GO_TEXT}\n{ENOCH_SIG}"), &[enoch.clone(), peter.clone(), enoch.clone()]).is_ok());
        let impostor = NoteVerifier { key: *peter.key(), ..enoch.clone() };
        assert_eq!(
            open(&format!("{GO_TEXT}\n{ENOCH_SIG}"), &[enoch, impostor]),
            Err(NoteError::AmbiguousKey { name: "EnochRoot".into(), key_hash: 0xaf0c_fe78 })
        );
    }

    #[test]
    fn go_bad_messages_are_rejected() {
        let peter = [verifier(PETER_VKEY)];
        let sig_no_nl = &PETER_SIG[..PETER_SIG.len() - 1];
        let cases: Vec<(String, NoteError)> = vec![
            (GO_TEXT.to_owned(), NoteError::MissingSignatureBlock),
            (format!("{GO_TEXT}\n"), NoteError::NoSignatures),
            (format!("{GO_TEXT}\n{sig_no_nl}"), NoteError::MissingFinalNewline),
            // Go's own bad-name case has no final newline either.
            (
                format!("{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
                NoteError::MissingFinalNewline,
            ),
            (format!("\x01{GO_TEXT}\n{PETER_SIG}"), NoteError::ControlCharacter),
            (
                format!("{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
                NoteError::MalformedSignatureLine { line: 1, reason: "the signature is not canonical, padded standard base64" },
            ),
            (
                format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
                NoteError::MalformedSignatureLine { line: 2, reason: "it does not start with an em dash and a space" },
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(open(&msg, &peter), Err(want), "{msg:?}");
        }
        // Go's "\xff" case is invalid UTF-8, which a `&str` cannot hold at all.
    }

    #[test]
    fn go_mangled_verifier_keys_are_rejected() {
        // TestNewVerifier: every proper substring and every single-byte increment fails.
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(NoteVerifier::parse(s).is_err(), "{s}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(NoteVerifier::parse(&s).is_err(), "{s}");
        }
        // Wrong key length and unknown algorithm, each with a matching key hash.
        assert_eq!(
            NoteVerifier::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
            Err(NoteError::InvalidKeyLength(36))
        );
        assert_eq!(
            NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::UnknownAlgorithm(0x65))
        );
    }

    #[test]
    fn verifier_key_errors() {
        let key = *verifier(PETER_VKEY).key();
        assert_eq!(NoteVerifier::parse("PeterNeumann"), Err(NoteError::MalformedVerifierKey));
        assert_eq!(
            NoteVerifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap().key(),
            &key,
            "upper-case hex is accepted, as in Go"
        );
        assert_eq!(
            NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::KeyHashMismatch)
        );
        assert_eq!(
            NoteVerifier::parse("PeterNeumann+-74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::MalformedVerifierKey)
        );
        for name in ["", "a b", "a+b", "a\u{a0}b", "a\u{2003}b", "a\nb", "a\x01b"] {
            assert_eq!(NoteVerifier::new(name, key), Err(NoteError::InvalidKeyName), "{name:?}");
            assert!(NoteSigner::new(name, SigningKey::from_bytes(&[1; 32])).is_err(), "{name:?}");
        }
        // The identity point is a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(NoteVerifier::new("weak", weak), Err(NoteError::WeakPublicKey));
    }

    #[test]
    fn signer_debug_hides_the_key() {
        let seed = [7u8; 32];
        let shown = format!("{:?}", log_signer());
        assert!(shown.contains(ORIGIN));
        assert!(!shown.contains(&hex::encode(seed)));
        assert!(!shown.contains(&format!("{seed:?}")));
        assert!(!shown.contains(&STANDARD.encode(seed)));
    }

    #[test]
    fn checkpoint_round_trip() {
        let signer = log_signer();
        let mut cp = checkpoint();
        let note = cp.sign(&signer).unwrap();
        assert!(
            note.starts_with(&format!("{ORIGIN}\n42\n{}\n\n\u{2014} {ORIGIN} ", STANDARD.encode(cp.root.as_bytes())))
        );
        assert_eq!(Checkpoint::open_signed(&note, &signer.verifier()).unwrap(), cp);

        cp.extensions = vec!["ext one".into(), "ext two".into()];
        cp.size = 0;
        let note = cp.sign(&signer).unwrap();
        assert_eq!(Checkpoint::open_signed(&note, &signer.verifier()).unwrap(), cp);
        // And it opens under a verifier made from the vkey string.
        let v = NoteVerifier::parse(&signer.verifier().to_vkey_string()).unwrap();
        assert_eq!(Checkpoint::open_signed(&note, &v).unwrap(), cp);
    }

    #[test]
    fn checkpoint_tampering_is_detected() {
        let signer = log_signer();
        let v = signer.verifier();
        let invalid = Err(NoteError::InvalidSignature { name: ORIGIN.into(), key_hash: v.key_hash() });
        let note = checkpoint().sign(&signer).unwrap();

        // Tampered body: the size changes from 42 to 43.
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(Checkpoint::open_signed(&tampered, &v), invalid);

        // Tampered signature: one base64 character well past the key hash.
        let (body, sigs) = note.split_at(note.rfind("\n\n").unwrap() + 2);
        let at = sigs.len() - 20;
        let flipped = if &sigs[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{body}{}{flipped}{}", &sigs[..at], &sigs[at + 1..]);
        assert_eq!(Checkpoint::open_signed(&tampered, &v), invalid);

        // Wrong key, same name: a different key hash, so the signature is unknown.
        let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[8; 32])).unwrap();
        assert_eq!(
            Checkpoint::open_signed(&note, &other.verifier()),
            Err(NoteError::NoVerifiedSignature { unverified: 1 })
        );

        // Missing final newline, CRLF line endings.
        assert_eq!(Checkpoint::open_signed(note.trim_end_matches('\n'), &v), Err(NoteError::MissingFinalNewline));
        assert_eq!(Checkpoint::open_signed(&note.replace('\n', "\r\n"), &v), Err(NoteError::ControlCharacter));

        // Malformed signature line: no signature after the name.
        let malformed = format!("{note}\u{2014} witness.example\n");
        assert_eq!(
            Checkpoint::open_signed(&malformed, &v),
            Err(NoteError::MalformedSignatureLine { line: 2, reason: "there is no space after the key name" })
        );
        // A line that is not a signature line at all, or an ASCII dash.
        let malformed = format!("{note}-- {ORIGIN} AAAA\n");
        assert!(matches!(
            Checkpoint::open_signed(&malformed, &v),
            Err(NoteError::MalformedSignatureLine { line: 2, .. })
        ));
        let short = format!("{note}\u{2014} witness.example AAAAAA==\n");
        assert!(matches!(Checkpoint::open_signed(&short, &v), Err(NoteError::MalformedSignatureLine { line: 2, .. })));
    }

    #[test]
    fn extra_signature_from_unknown_key_is_ignored() {
        let signer = log_signer();
        let witness = NoteSigner::new("witness.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let cp = checkpoint();
        let note = cp.sign(&signer).unwrap();
        let witness_line = witness.sign(&cp.to_body()).unwrap();
        let witness_line = witness_line.rsplit_once("\n\n").unwrap().1;
        let cosigned = format!("{note}{witness_line}");
        assert_eq!(Checkpoint::open_signed(&cosigned, &signer.verifier()).unwrap(), cp);
        let opened = open(&cosigned, &[signer.verifier()]).unwrap();
        assert_eq!((opened.verified_by.len(), opened.unverified), (1, 1));
        // With both keys known, both verify.
        let opened = open(&cosigned, &[signer.verifier(), witness.verifier()]).unwrap();
        assert_eq!(opened.verified_by, vec![ORIGIN.to_owned(), "witness.example".to_owned()]);
    }

    #[test]
    fn origin_must_be_the_key_name() {
        let signer = log_signer();
        let mut cp = checkpoint();
        cp.origin = "example.com/other".into();
        let mismatch = NoteError::OriginMismatch { origin: "example.com/other".into(), key_name: ORIGIN.into() };
        assert_eq!(cp.sign(&signer), Err(mismatch.clone()));
        // Signed anyway, through the raw note signer: the signature is good, the origin is not.
        let note = signer.sign(&cp.to_body()).unwrap();
        assert!(open(&note, &[signer.verifier()]).is_ok());
        assert_eq!(Checkpoint::open_signed(&note, &signer.verifier()), Err(mismatch));
    }

    #[test]
    fn checkpoint_sign_validates_fields() {
        let signer = log_signer();
        let with = |f: fn(&mut Checkpoint)| {
            let mut cp = checkpoint();
            f(&mut cp);
            cp.sign(&signer)
        };
        assert_eq!(with(|c| c.origin.clear()), Err(NoteError::EmptyOrigin));
        assert_eq!(with(|c| c.extensions = vec!["a\nb".into()]), Err(NoteError::FieldContainsNewline));
        assert_eq!(
            with(|c| c.extensions = vec!["a".into(), String::new()]),
            Err(NoteError::EmptyExtensionLine { index: 2 })
        );
        assert_eq!(with(|c| c.extensions = vec!["a\rb".into()]), Err(NoteError::ControlCharacter));
        assert_eq!(signer.sign("no newline"), Err(NoteError::MissingFinalNewline));
        assert_eq!(signer.sign(""), Err(NoteError::MissingFinalNewline));
        let huge = "a".repeat(MAX_NOTE_SIZE) + "\n";
        assert!(matches!(signer.sign(&huge), Err(NoteError::NoteTooLarge { .. })));
        assert!(matches!(open(&huge, &[signer.verifier()]), Err(NoteError::NoteTooLarge { .. })));
    }

    #[test]
    fn parse_body_errors() {
        let root = STANDARD.encode([0u8; 32]);
        let body = |size: &str, root: &str| format!("{ORIGIN}\n{size}\n{root}\n");
        let cases: Vec<(String, NoteError)> = vec![
            (body("042", &root), NoteError::TreeSizeLeadingZero),
            (body("00", &root), NoteError::TreeSizeLeadingZero),
            (body("+42", &root), NoteError::TreeSizeNotDecimal),
            (body("-42", &root), NoteError::TreeSizeNotDecimal),
            (body(" 42", &root), NoteError::TreeSizeNotDecimal),
            (body("", &root), NoteError::TreeSizeNotDecimal),
            (body("4\u{0664}", &root), NoteError::TreeSizeNotDecimal), // ARABIC-INDIC DIGIT FOUR
            (body("18446744073709551616", &root), NoteError::TreeSizeOverflow),
            (body("42", &STANDARD.encode([0u8; 31])), NoteError::RootHashLength(31)),
            (body("42", &STANDARD.encode([0u8; 33])), NoteError::RootHashLength(33)),
            (body("42", ""), NoteError::RootHashLength(0)),
            // The URL-safe alphabet is not the standard one.
            (body("42", &base64::engine::general_purpose::URL_SAFE.encode([0xff; 32])), NoteError::RootHashNotBase64),
            (body("42", root.trim_end_matches('=')), NoteError::RootHashNotBase64),
            // Non-zero unused bits: not canonical, so it could not round-trip.
            (body("42", &root.replace("AA=", "AB=")), NoteError::RootHashNotBase64),
            (format!("{ORIGIN}\n42\n{root}"), NoteError::MissingFinalNewline),
            (format!("{ORIGIN}\n42\n"), NoteError::TooFewLines { got: 2 }),
            (format!("\n42\n{root}\n"), NoteError::EmptyOrigin),
            (format!("{ORIGIN}\n42\n{root}\next\n\n"), NoteError::EmptyExtensionLine { index: 2 }),
            (format!("{ORIGIN}\r\n42\n{root}\n"), NoteError::ControlCharacter),
        ];
        for (b, want) in cases {
            assert_eq!(Checkpoint::parse_body(&b), Err(want), "{b:?}");
        }
        assert_eq!(Checkpoint::parse_body(&body("18446744073709551615", &root)).unwrap().size, u64::MAX);
        assert_eq!(Checkpoint::parse_body(&body("0", &root)).unwrap().size, 0);
    }

    #[test]
    fn bad_bodies_are_rejected_after_the_signature_checks_out() {
        // A log key that signed a bad body: the note opens, the checkpoint does not parse.
        let signer = log_signer();
        let v = signer.verifier();
        let root = STANDARD.encode([0u8; 32]);
        for (size, want) in [
            ("042", NoteError::TreeSizeLeadingZero),
            ("-1", NoteError::TreeSizeNotDecimal),
            ("99999999999999999999", NoteError::TreeSizeOverflow),
        ] {
            let note = signer.sign(&format!("{ORIGIN}\n{size}\n{root}\n")).unwrap();
            assert_eq!(Checkpoint::open_signed(&note, &v), Err(want));
        }
        let note = signer.sign(&format!("{ORIGIN}\n1\n{}\n", STANDARD.encode([0u8; 31]))).unwrap();
        assert_eq!(Checkpoint::open_signed(&note, &v), Err(NoteError::RootHashLength(31)));
    }

    #[test]
    fn error_messages_clip_hostile_text() {
        let long = "x".repeat(10_000);
        let e = NoteError::OriginMismatch { origin: clip(&long), key_name: ORIGIN.into() };
        assert!(e.to_string().len() < 200);
        assert_eq!(clip("short"), "short");
    }

    // ---- No panics on hostile input --------------------------------------------

    fn signed_fixture() -> (String, Checkpoint, NoteVerifier) {
        let signer = log_signer();
        let cp = Checkpoint { extensions: vec!["ext".into()], ..checkpoint() };
        (cp.sign(&signer).unwrap(), cp, signer.verifier())
    }

    /// Edits applied to a note's characters: (kind, position, character).
    fn apply_edits(note: &str, edits: &[(u8, usize, char)]) -> String {
        let mut chars: Vec<char> = note.chars().collect();
        for &(kind, pos, c) in edits {
            let at = pos % (chars.len() + 1);
            match kind % 3 {
                0 => chars.insert(at, c),
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ if at < chars.len() => chars[at] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            Just('\n'),
            Just('\r'),
            Just(' '),
            Just('+'),
            Just('='),
            Just('0'),
            Just('\u{2014}'),
            Just('\u{a0}'),
            any::<char>(),
            proptest::char::range('A', 'z'),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_strings_never_panic(s in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9+/= \n\r\u{2014}.-]{0,200}",
        ]) {
            let (_, _, v) = signed_fixture();
            let _ = open(&s, std::slice::from_ref(&v));
            let _ = Checkpoint::open_signed(&s, &v);
            let _ = Checkpoint::parse_body(&s);
            let _ = NoteVerifier::parse(&s);
        }

        #[test]
        fn mutated_notes_never_panic_and_never_lie(
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), interesting_char()), 1..6)
        ) {
            let (note, cp, v) = signed_fixture();
            let mutated = apply_edits(&note, &edits);
            let _ = open(&mutated, std::slice::from_ref(&v));
            // Whatever the edit, a note that still opens says what was signed.
            if let Ok(got) = Checkpoint::open_signed(&mutated, &v) {
                prop_assert_eq!(got, cp);
            }
        }

        #[test]
        fn mutated_verifier_keys_never_panic(
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), interesting_char()), 1..4)
        ) {
            let mutated = apply_edits(PETER_VKEY, &edits);
            if let Ok(v) = NoteVerifier::parse(&mutated) {
                // Anything accepted is self-consistent.
                prop_assert_eq!(key_hash(v.name(), v.key()), v.key_hash());
            }
        }

        #[test]
        fn any_valid_checkpoint_round_trips(
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[^\u{0}-\u{1f}]{1,20}", 0..3),
        ) {
            let signer = log_signer();
            let cp = Checkpoint { origin: ORIGIN.into(), size, root: Sha256Digest::from_bytes(root), extensions };
            prop_assert_eq!(Checkpoint::parse_body(&cp.to_body()).unwrap(), cp.clone());
            let note = cp.sign(&signer).unwrap();
            prop_assert_eq!(Checkpoint::open_signed(&note, &signer.verifier()).unwrap(), cp);
        }
    }
}
