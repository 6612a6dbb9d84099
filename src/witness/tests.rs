//! `Witness::add_checkpoint` against a log kept in memory: every answer of the spec.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;

use super::state::{DataDir, State};
use super::*;
use crate::log::checkpoint::NoteSigner;
use crate::log::cosignature::{CosignatureSigner, CosignatureVerifier};
use crate::log::merkle::{consistency_proof, leaf_hash, MemoryTree};

const ORIGIN: &str = "example.com/log";

/// A log in memory that signs its checkpoints.
struct Log {
    tree: MemoryTree,
    signer: NoteSigner,
}

impl Log {
    fn new(seed: u8) -> Self {
        Self { tree: MemoryTree::new(), signer: NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap() }
    }

    fn grow(&mut self, n: u64, tag: &str) -> &mut Self {
        for i in 0..n {
            self.tree.push(leaf_hash(format!("{tag}{i}").as_bytes()));
        }
        self
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint { origin: ORIGIN.into(), size: self.tree.size(), root: self.tree.root(), extensions: vec![] }
    }

    fn note(&self) -> String {
        self.checkpoint().sign(&self.signer).unwrap()
    }

    /// An add-checkpoint body from `old` to the current size, with the log's proof.
    fn request(&self, old: u64) -> String {
        let proof = consistency_proof(&self.tree, old, self.tree.size()).unwrap();
        body(old, &proof, &self.note())
    }
}

fn body(old: u64, proof: &[Sha256Digest], note: &str) -> String {
    let lines: String = proof.iter().map(|h| format!("{}\n", STANDARD.encode(h.as_bytes()))).collect();
    format!("old {old}\n{lines}\n{note}")
}

struct Fixture {
    witness: Witness,
    verifier: CosignatureVerifier,
    _dir: DataDir,
    _tmp: tempfile::TempDir,
}

fn witness_for(logs: &[&Log], rate: RateLimit) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::lock(tmp.path()).unwrap();
    let state = State::open(&dir, [ORIGIN]).unwrap();
    let signer = CosignatureSigner::new("witness.example/w", SigningKey::from_bytes(&[9; 32])).unwrap();
    let verifier = signer.verifier();
    let keys: Vec<NoteVerifier> = logs.iter().map(|l| l.signer.verifier()).collect();
    Fixture { witness: Witness::new(signer, &keys, state, rate), verifier, _dir: dir, _tmp: tmp }
}

const LOOSE: RateLimit = RateLimit { per_second: 1000.0, burst: 1000 };

#[test]
fn first_checkpoint_then_a_consistent_one_then_the_same_again() {
    let mut log = Log::new(1);
    log.grow(5, "a");
    let f = witness_for(&[&log], LOOSE);
    let lines = f.witness.add_checkpoint(log.request(0).as_bytes()).unwrap();
    let timestamp = f.verifier.verify_line(&log.checkpoint().to_body(), &lines).unwrap();
    assert!(timestamp > 1_700_000_000, "{timestamp}");
    // The answer appended to the checkpoint makes a cosigned note.
    let cosigned = format!("{}{lines}", log.note());
    assert_eq!(f.verifier.verify_note(&cosigned).unwrap().body, log.checkpoint().to_body());

    log.grow(8, "b");
    let lines = f.witness.add_checkpoint(log.request(5).as_bytes()).unwrap();
    assert!(f.verifier.verify_line(&log.checkpoint().to_body(), &lines).is_ok());
    // The checkpoint it holds, again: cosigned again, without a write (a write replaces
    // the file, so its inode would change).
    let file = f._tmp.path().join("checkpoints").join(Sha256Digest::of(ORIGIN.as_bytes()).to_hex());
    let inode = || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap());
    let before = inode();
    let again = f.witness.add_checkpoint(log.request(13).as_bytes()).unwrap();
    assert!(f.verifier.verify_line(&log.checkpoint().to_body(), &again).is_ok());
    assert_eq!(inode(), before, "a resubmission is not written again");
    log.grow(1, "c");
    f.witness.add_checkpoint(log.request(13).as_bytes()).unwrap();
    assert_ne!(inode(), before, "a new checkpoint is");
}

#[test]
fn every_refusal_of_the_spec() {
    let mut log = Log::new(1);
    log.grow(5, "a");
    let f = witness_for(&[&log], LOOSE);
    f.witness.add_checkpoint(log.request(0).as_bytes()).unwrap();
    let at5 = log.checkpoint();
    log.grow(3, "b");
    let good_proof = consistency_proof(&log.tree, 5, 8).unwrap();

    let stranger = Log::new(2);
    let mut forged = Log::new(3);
    forged.grow(8, "a");
    let mut other_origin = Log::new(1);
    other_origin.signer = NoteSigner::new("other.example/log", SigningKey::from_bytes(&[1; 32])).unwrap();
    let other_cp = Checkpoint { origin: "other.example/log".into(), ..log.checkpoint() };
    let mut bad_proof = good_proof.clone();
    bad_proof[0] = Sha256Digest::of(b"not a node");
    let bad_sig = {
        // The log's own signature line with one signature byte changed.
        let note = log.note();
        let (text, sig) = note.rsplit_once(' ').unwrap();
        let mut raw = STANDARD.decode(sig.trim_end()).unwrap();
        raw[10] ^= 1;
        format!("{text} {}\n", STANDARD.encode(raw))
    };
    let mut empty = Log::new(1);
    empty.grow(0, "");
    let bad_empty = Checkpoint { root: Sha256Digest::of(b"x"), ..empty.checkpoint() }.sign(&log.signer).unwrap();

    let cases: Vec<(&str, String, u16)> = vec![
        ("the next checkpoint", body(5, &good_proof, &log.note()), 200),
        ("stale old size", body(5, &good_proof, &log.note()), 409),
        ("old size 0 once one is held", body(0, &[], &log.note()), 409),
        ("a smaller checkpoint", body(5, &[], &at5.sign(&log.signer).unwrap()), 409),
        ("unknown origin", body(8, &[], &other_cp.sign(&other_origin.signer).unwrap()), 404),
        ("signed by another key only", body(8, &[], &forged.note()), 403),
        ("a bad signature by the log's key", body(8, &[], &bad_sig), 403),
        ("old size past the checkpoint", body(9, &[], &log.note()), 400),
        ("not a note", "old 8\n\nexample.com/log\n8\n".to_owned(), 400),
        ("64 proof lines", body(8, &vec![Sha256Digest::of(b"h"); 64], &log.note()), 400),
        ("same size, a proof", body(8, &good_proof, &log.note()), 422),
        ("empty note", "old 8\n\n".to_owned(), 400),
        (
            "stranger's checkpoint",
            body(
                8,
                &[],
                &Checkpoint { origin: ORIGIN.into(), ..stranger.checkpoint() }.sign(&stranger.signer).unwrap(),
            ),
            403,
        ),
        ("size 0 with a root that is not the empty tree's", body(0, &[], &bad_empty), 409),
    ];
    for (label, request, want) in cases {
        let got = match f.witness.add_checkpoint(request.as_bytes()) {
            Ok(_) => 200,
            Err(e) => actix_web::ResponseError::status_code(&e).as_u16(),
        };
        assert_eq!(got, want, "{label}");
    }
    // A 409 says what the witness holds.
    let err = f.witness.add_checkpoint(body(5, &good_proof, &log.note()).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::Conflict { old: 5, held: 8 }), "{err:?}");
}

#[test]
fn inconsistent_checkpoints_are_422() {
    let mut log = Log::new(1);
    log.grow(5, "a");
    let f = witness_for(&[&log], LOOSE);
    f.witness.add_checkpoint(log.request(0).as_bytes()).unwrap();
    // A fork: the same first 4 leaves, another 5th, then more.
    let mut fork = Log::new(1);
    fork.grow(4, "a").grow(4, "fork");
    let err = f.witness.add_checkpoint(fork.request(5).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::Inconsistent(_)), "{err:?}");
    // Same size, another root.
    let mut twin = Log::new(1);
    twin.grow(4, "a").grow(1, "twin");
    let err = f.witness.add_checkpoint(twin.request(5).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::Inconsistent(_)), "{err:?}");
    // A proof from old size 0 must be empty.
    let g = witness_for(&[&log], LOOSE);
    let err = g.witness.add_checkpoint(body(0, &[Sha256Digest::of(b"x")], &log.note()).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::Inconsistent(_)), "{err:?}");
    // Size 0 must be the empty tree.
    let bad_empty = Checkpoint { origin: ORIGIN.into(), size: 0, root: Sha256Digest::of(b"x"), extensions: vec![] };
    let err = g.witness.add_checkpoint(body(0, &[], &bad_empty.sign(&log.signer).unwrap()).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::Inconsistent(_)), "{err:?}");
    assert!(g.witness.add_checkpoint(Log::new(1).request(0).as_bytes()).is_ok(), "the empty tree itself");
}

#[test]
fn two_keys_of_one_log_both_count() {
    let mut old_key = Log::new(1);
    old_key.grow(3, "a");
    let mut new_key = Log::new(4);
    new_key.grow(3, "a").grow(2, "b");
    let f = witness_for(&[&old_key, &new_key], LOOSE);
    f.witness.add_checkpoint(old_key.request(0).as_bytes()).unwrap();
    f.witness.add_checkpoint(new_key.request(3).as_bytes()).unwrap();
}

#[test]
fn submissions_past_the_burst_are_429() {
    let mut log = Log::new(1);
    log.grow(2, "a");
    let f = witness_for(&[&log], RateLimit { per_second: 0.001, burst: 2 });
    f.witness.add_checkpoint(log.request(0).as_bytes()).unwrap();
    f.witness.add_checkpoint(log.request(2).as_bytes()).unwrap();
    let err = f.witness.add_checkpoint(log.request(2).as_bytes()).unwrap_err();
    assert!(matches!(err, AddError::RateLimited(_)), "{err:?}");
    // Forgeries do not use up the log's budget, and are still told apart.
    let forged = Log::new(3);
    assert!(matches!(f.witness.add_checkpoint(forged.request(0).as_bytes()), Err(AddError::Signature(_))));
}

#[test]
fn diverging_checkpoints_submitted_at_once_are_never_both_cosigned() {
    for round in 0..20 {
        let mut a = Log::new(1);
        a.grow(3, "common").grow(2, "a");
        let mut b = Log::new(1);
        b.grow(3, "common").grow(2, "b");
        let f = Arc::new(witness_for(&[&a], LOOSE));
        let requests = [a.request(0), b.request(0)];
        let results: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = requests
                .iter()
                .map(|r| {
                    let f = f.clone();
                    s.spawn(move || f.witness.add_checkpoint(r.as_bytes()).is_ok())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "round {round}: {results:?}");
    }
}
