//! C2SP `tlog-proof@v1`: one entry's inclusion in a log, offline-verifiable, as text: the
//! header line, an optional `extra` line, `index N`, the inclusion proof (base64, one hash
//! a line, leaf's sibling first), an empty line, then the signed checkpoint verbatim, its
//! witnesses' cosignatures included.
//!
//! This log writes no `extra` line: its leaf hash is the stamp id, which the reader already
//! holds with the receipt, and data that no signature covers has nothing to add. A proof
//! with one is read all the same (its bytes are returned, and trusted for nothing).
//!
//! Followed at C2SP/C2SP commit `ab17a74116563005f908b9167e6421cc929a5c2b`
//! (2026-05-22, `tlog-proof.md`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::checkpoint::{Checkpoint, NoteError, NoteVerifier, MAX_NOTE_SIZE};
use super::merkle::{self, ProofError};
use super::policy::{Policy, Witnessed};
use crate::Sha256Digest;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The suggested file extension (without its dot).
pub const FILE_EXTENSION: &str = "tlog-proof";

/// An inclusion proof of a 2^63-leaf tree has 63 hashes: more is never a valid proof,
/// and the bound keeps a hostile file's cost small.
const MAX_PROOF_HASHES: usize = 63;

/// A parsed (or built) `tlog-proof@v1`. Nothing in it is trusted until
/// [`TlogProof::verify`] says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The `extra` data, unauthenticated.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    /// RFC 6962 inclusion proof, leaf's sibling first.
    pub inclusion_proof: Vec<Sha256Digest>,
    /// The signed checkpoint note, cosignatures included, exactly as the log and its
    /// witnesses signed it.
    pub checkpoint: String,
}

/// Why a proof does not parse or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    #[error("line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("the checkpoint does not verify with the log's key: {0}")]
    Checkpoint(#[from] NoteError),
    #[error("the inclusion proof does not lead from the leaf to the checkpoint's root: {0}")]
    Inclusion(#[from] ProofError),
    #[error("the log's key is not among the logs the policy accepts")]
    UnknownLog,
    #[error("the checkpoint's cosignatures (by {}) do not meet the policy's quorum, {quorum}", cosigners(.cosigned_by))]
    NoQuorum { cosigned_by: Vec<String>, quorum: String },
}

fn cosigners(names: &[String]) -> String {
    if names.is_empty() {
        "no known witness".into()
    } else {
        names.join(", ")
    }
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    pub checkpoint: Checkpoint,
    /// With a policy: who cosigned (its quorum is met, or verification failed).
    pub witnessed: Option<Witnessed>,
}

impl TlogProof {
    /// The proof's text: header, `extra` when there is some, index, proof hashes, an
    /// empty line and the checkpoint note.
    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.inclusion_proof {
            out.push_str(&STANDARD.encode(hash.as_bytes()));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a proof's text strictly: canonical base64, a decimal index without leading
    /// zeros, no more than 63 proof hashes, a note of at most the size a checkpoint may be.
    ///
    /// # Errors
    /// [`TlogProofError::Malformed`] naming the first line that breaks the format.
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        let bad = |line, reason| TlogProofError::Malformed { line, reason };
        // A note at most as large as a checkpoint may be, 63 hash lines of 45 bytes, and
        // room for the header, an extra line and the index.
        if text.len() > MAX_NOTE_SIZE + 4096 + MAX_PROOF_HASHES * 45 {
            return Err(bad(1, "the proof is larger than any checkpoint and proof can be"));
        }
        let (head, checkpoint) = text.split_once("\n\n").ok_or(bad(1, "no empty line before the checkpoint"))?;
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(bad(1, "the first line is not c2sp.org/tlog-proof@v1")),
        }
        let (mut n, mut line) = lines.next().ok_or(bad(2, "no index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(STANDARD.decode(b64).map_err(|_| bad(n, "extra is not canonical base64"))?);
            (n, line) = lines.next().ok_or(bad(n + 1, "no index line"))?;
        }
        let digits = line.strip_prefix("index ").ok_or(bad(n, "expected index N"))?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let index = match digits.parse::<u64>() {
            Ok(i) if canonical => i,
            _ => return Err(bad(n, "the index is not a decimal number without leading zeros")),
        };
        let mut inclusion_proof = Vec::new();
        for (n, line) in lines {
            if inclusion_proof.len() == MAX_PROOF_HASHES {
                return Err(bad(n, "more than 63 inclusion proof hashes"));
            }
            let raw = STANDARD.decode(line).map_err(|_| bad(n, "a proof hash is not canonical base64"))?;
            inclusion_proof
                .push(Sha256Digest::try_from_slice(&raw).map_err(|_| bad(n, "a proof hash is not 32 bytes"))?);
        }
        Ok(Self { extra, index, inclusion_proof, checkpoint: checkpoint.to_owned() })
    }

    /// Verifies the proof for the entry whose RFC 6962 leaf hash is `leaf_hash`, as
    /// tlog-proof orders it: the checkpoint is signed by `log` (and its origin is the
    /// key's name); with a policy, the policy accepts that log (when it lists logs) and
    /// the cosignatures of its witnesses meet its quorum; the inclusion proof leads from
    /// the leaf to the checkpoint's root.
    ///
    /// # Errors
    /// The first step that fails.
    pub fn verify(
        &self,
        leaf_hash: &Sha256Digest,
        log: &NoteVerifier,
        policy: Option<&Policy>,
    ) -> Result<VerifiedProof, TlogProofError> {
        let checkpoint = Checkpoint::open_signed(&self.checkpoint, log)?;
        let witnessed = match policy {
            None => None,
            Some(policy) => {
                if !policy.accepts_log(log) {
                    return Err(TlogProofError::UnknownLog);
                }
                let witnessed = policy.witnessed(&self.checkpoint);
                if !witnessed.quorum_met {
                    return Err(TlogProofError::NoQuorum {
                        cosigned_by: witnessed.cosigned_by,
                        quorum: policy.describe_quorum(),
                    });
                }
                Some(witnessed)
            }
        };
        merkle::verify_inclusion(leaf_hash, self.index, checkpoint.size, &self.inclusion_proof, &checkpoint.root)?;
        Ok(VerifiedProof { checkpoint, witnessed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::checkpoint::NoteSigner;
    use crate::log::cosignature::CosignatureSigner;
    use crate::log::merkle::MemoryTree;
    use ed25519_dalek::SigningKey;

    struct Fixture {
        log: NoteSigner,
        witnesses: [CosignatureSigner; 2],
        leaf: Sha256Digest,
        proof: TlogProof,
        policy: Policy,
    }

    /// Leaf 3 of a 7-leaf tree, its checkpoint cosigned by both witnesses of a 2-of-2
    /// policy.
    fn fixture() -> Fixture {
        let log = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let witnesses = [
            CosignatureSigner::new("w1.example", SigningKey::from_bytes(&[2; 32])).unwrap(),
            CosignatureSigner::new("w2.example", SigningKey::from_bytes(&[3; 32])).unwrap(),
        ];
        let mut tree = MemoryTree::new();
        for i in 0..7u8 {
            tree.push(merkle::leaf_hash(&[i]));
        }
        let cp = Checkpoint { origin: "example.com/log".into(), size: 7, root: tree.root(), extensions: vec![] };
        let body = cp.to_body();
        let mut note = cp.sign(&log).unwrap();
        for w in &witnesses {
            note.push_str(&w.cosign(&body, 1_700_000_000).unwrap());
        }
        let policy = Policy::parse(&format!(
            "log {}\nwitness W1 {}\nwitness W2 {}\ngroup both all W1 W2\nquorum both\n",
            log.verifier().to_vkey_string(),
            witnesses[0].verifier().to_vkey_string(),
            witnesses[1].verifier().to_vkey_string()
        ))
        .unwrap();
        let proof = TlogProof {
            extra: None,
            index: 3,
            inclusion_proof: merkle::inclusion_proof(&tree, 3, 7).unwrap(),
            checkpoint: note,
        };
        Fixture { log, witnesses, leaf: merkle::leaf_hash(&[3]), proof, policy }
    }

    #[test]
    fn a_proof_round_trips_and_verifies_with_its_quorum() {
        let f = fixture();
        let text = f.proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 3\n"), "{text}");
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed, f.proof);
        let verified = parsed.verify(&f.leaf, &f.log.verifier(), Some(&f.policy)).unwrap();
        assert_eq!(verified.checkpoint.size, 7);
        assert_eq!(verified.witnessed.unwrap().cosigned_by, ["W1", "W2"]);
        // Without a policy only the log's signature and the inclusion are checked.
        assert!(parsed.verify(&f.leaf, &f.log.verifier(), None).unwrap().witnessed.is_none());
        // Another leaf is not proven.
        assert!(matches!(
            parsed.verify(&merkle::leaf_hash(&[4]), &f.log.verifier(), None),
            Err(TlogProofError::Inclusion(_))
        ));
    }

    #[test]
    fn an_extra_line_is_read_and_written() {
        let mut proof = fixture().proof;
        proof.extra = Some(b"stamp".to_vec());
        let text = proof.to_text();
        assert!(text.contains("\nextra c3RhbXA=\nindex 3\n"));
        assert_eq!(TlogProof::parse(&text).unwrap(), proof);
    }

    #[test]
    fn every_altered_line_fails() {
        let f = fixture();
        let text = f.proof.to_text();
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            // Each line altered in its middle character, or an empty line made
            // non-empty; the final empty piece after the last newline is no line.
            if i == lines.len() - 1 {
                continue;
            }
            let mut chars: Vec<char> = line.chars().collect();
            let altered_line: String = if chars.is_empty() {
                "x".to_owned()
            } else {
                let mid = chars.len() / 2;
                chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect()
            };
            let mut altered = lines.clone();
            altered[i] = &altered_line;
            let altered = altered.join("\n");
            let outcome = TlogProof::parse(&altered)
                .and_then(|p| p.verify(&f.leaf, &f.log.verifier(), Some(&f.policy)).map(|_| ()));
            assert!(outcome.is_err(), "line {} altered to {altered_line:?} still verifies", i + 1);
        }
    }

    #[test]
    fn a_missing_cosignature_or_an_unlisted_log_fails_the_policy() {
        let f = fixture();
        let mut proof = f.proof.clone();
        let last = proof.checkpoint.trim_end_matches('\n').rfind('\n').unwrap();
        proof.checkpoint.truncate(last + 1);
        match proof.verify(&f.leaf, &f.log.verifier(), Some(&f.policy)) {
            Err(TlogProofError::NoQuorum { cosigned_by, .. }) => assert_eq!(cosigned_by, ["W1"]),
            other => panic!("{other:?}"),
        }
        let other_log = NoteSigner::new("example.com/other", SigningKey::from_bytes(&[9; 32])).unwrap();
        let policy = Policy::parse(&format!(
            "log {}\nwitness W1 {}\nquorum W1\n",
            other_log.verifier().to_vkey_string(),
            f.witnesses[0].verifier().to_vkey_string()
        ))
        .unwrap();
        assert_eq!(f.proof.verify(&f.leaf, &f.log.verifier(), Some(&policy)), Err(TlogProofError::UnknownLog));
    }

    #[test]
    fn hostile_text_is_refused_without_panicking() {
        for text in [
            "",
            "c2sp.org/tlog-proof@v1\n",
            "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n",
            "c2sp.org/tlog-proof@v1\nindex -1\n\nx\n",
            "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nx\n",
            "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx\n",
            "c2sp.org/tlog-proof@v2\nindex 1\n\nx\n",
            "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx\n",
        ] {
            assert!(TlogProof::parse(text).is_err(), "{text:?}");
        }
        let many =
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{}\nx\n", format!("{}\n", "A".repeat(43) + "=").repeat(64));
        assert!(TlogProof::parse(&many).is_err());
    }
}
