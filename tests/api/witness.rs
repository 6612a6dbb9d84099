//! `aiprov witness serve` against a real `aiprov serve`: the log's checkpoints are
//! cosigned when consistent, and every refusal of C2SP tlog-witness has its status;
//! what the witness holds survives a SIGKILL; two forks of one log are never both
//! cosigned.

use std::path::Path;

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteSigner};
use ai_provenance::tlog::cosignature::CosignatureVerifier;
use ai_provenance::Sha256Digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::binary::{copy_dir, create_token, get_json, post_stamp, run, serve, witness, Served};
use crate::helpers::{copy_request, embedded_only};

/// The log's current checkpoint note, and its parsed body.
async fn checkpoint(client: &reqwest::Client, log: &Served) -> (String, Checkpoint) {
    let note = client.get(format!("{}/tlog/checkpoint", log.base)).send().await.unwrap().text().await.unwrap();
    let body = &note[..note.rfind("\n\n").expect("a signed note") + 1];
    (note.clone(), Checkpoint::parse_body(body).unwrap())
}

/// The log's consistency proof between two sizes, as base64 lines.
async fn proof(client: &reqwest::Client, log: &Served, first: u64, second: u64) -> Vec<String> {
    let url = format!("{}/v1/log/proof/consistency?first={first}&second={second}", log.base);
    let hashes: Vec<Sha256Digest> = serde_json::from_value(get_json(client, &url).await["consistency_proof"].clone())
        .expect("a proof of hex hashes");
    hashes.iter().map(|h| STANDARD.encode(h.as_bytes())).collect()
}

fn body(old: u64, proof: &[String], note: &str) -> String {
    let lines: String = proof.iter().map(|l| format!("{l}\n")).collect();
    format!("old {old}\n{lines}\n{note}")
}

/// POST /add-checkpoint: status, content type, body.
async fn add(client: &reqwest::Client, witness: &Served, body: String) -> (u16, String, String) {
    let resp = client.post(format!("{}/add-checkpoint", witness.base)).body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

async fn stamp(client: &reqwest::Client, log: &Served, token: &str, text: &str) {
    let (status, body) = post_stamp(client, &log.base, token, &copy_request(text)).await;
    assert_eq!(status, 201, "{body}");
}

fn witness_key(data: &Path) -> CosignatureVerifier {
    let out = run(&["witness", "key", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    CosignatureVerifier::parse(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_witness_cosigns_a_real_log_and_refuses_what_the_spec_refuses() {
    embedded_only!();
    let (a, b, w) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wdata = w.path().join("witness");
    let client = reqwest::Client::new();
    let log = serve(a.path());
    let token = create_token(a.path());
    stamp(&client, &log, &token, "First.").await;
    stamp(&client, &log, &token, "Second.").await;
    let vkey = client.get(format!("{}/v1/log/verifier-key", log.base)).send().await.unwrap().text().await.unwrap();
    let vkey = vkey.trim().to_owned();

    // The key exists before the witness ever ran, and serve keeps it.
    let wkey = witness_key(&wdata);
    let mut wit = witness(&wdata, &["--log", &vkey]);
    assert!(wit.logs().iter().any(|l| l.contains(&wkey.to_vkey_string())), "{:?}", wit.logs());

    // First checkpoint: old 0, no proof.
    let (note1, cp1) = checkpoint(&client, &log).await;
    assert!(cp1.size >= 2, "{note1}");
    let (status, ctype, lines) = add(&client, &wit, body(0, &[], &note1)).await;
    assert_eq!(status, 200, "{lines}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    assert!(lines.starts_with('\u{2014}') && lines.ends_with('\n'), "{lines:?}");
    let cosigned = format!("{note1}{lines}");
    let seen = wkey.verify_note(&cosigned).expect("a valid cosignature");
    assert_eq!(seen.body, cp1.to_body());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(seen.timestamp.abs_diff(now) < 300, "{} vs {now}", seen.timestamp);
    // The log's signature still opens, the cosignature being just another line.
    let log_key = ai_provenance::tlog::checkpoint::NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(Checkpoint::open_signed(&cosigned, &log_key).unwrap(), cp1);

    // A bigger checkpoint with the log's consistency proof.
    stamp(&client, &log, &token, "Third.").await;
    stamp(&client, &log, &token, "Fourth.").await;
    let (note2, cp2) = checkpoint(&client, &log).await;
    assert!(cp2.size > cp1.size);
    let proof12 = proof(&client, &log, cp1.size, cp2.size).await;
    let (status, _, lines) = add(&client, &wit, body(cp1.size, &proof12, &note2)).await;
    assert_eq!(status, 200, "{lines}");
    assert_eq!(wkey.verify_line(&cp2.to_body(), &lines).map(|_| ()), Ok(()));
    // The same again: cosigned again.
    let (status, _, lines) = add(&client, &wit, body(cp2.size, &[], &note2)).await;
    assert_eq!(status, 200, "{lines}");

    // A stale old size: 409, the size held, as text/x.tlog.size.
    let (status, ctype, text) = add(&client, &wit, body(cp1.size, &proof12, &note2)).await;
    assert_eq!((status, ctype.as_str(), text.clone()), (409, "text/x.tlog.size", format!("{}\n", cp2.size)));
    // An older checkpoint, however presented: 409.
    let (status, _, text) = add(&client, &wit, body(0, &[], &note1)).await;
    assert_eq!((status, text), (409, format!("{}\n", cp2.size)));

    // A proof that does not verify: 422; then the right one is accepted.
    stamp(&client, &log, &token, "Fifth.").await;
    let (note3, cp3) = checkpoint(&client, &log).await;
    let proof23 = proof(&client, &log, cp2.size, cp3.size).await;
    let mut bad = proof23.clone();
    bad[0] = STANDARD.encode(Sha256Digest::of(b"not a node").as_bytes());
    let (status, _, text) = add(&client, &wit, body(cp2.size, &bad, &note3)).await;
    assert_eq!(status, 422, "{text}");

    // Unknown origin: 404. A signature by another key under the log's name: 403.
    let stranger = NoteSigner::new("stranger.example/log", ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap();
    let unknown = Checkpoint { origin: "stranger.example/log".into(), ..cp3.clone() }.sign(&stranger).unwrap();
    let (status, _, text) = add(&client, &wit, body(cp2.size, &proof23, &unknown)).await;
    assert_eq!(status, 404, "{text}");
    let forger = NoteSigner::new(&cp3.origin, ed25519_dalek::SigningKey::from_bytes(&[6; 32])).unwrap();
    let (status, _, text) = add(&client, &wit, body(cp2.size, &proof23, &cp3.sign(&forger).unwrap())).await;
    assert_eq!(status, 403, "{text}");
    // 64 proof lines: 400.
    let (status, _, text) = add(&client, &wit, body(cp2.size, &vec![proof23[0].clone(); 64], &note3)).await;
    assert_eq!(status, 400, "{text}");
    let (status, _, lines) = add(&client, &wit, body(cp2.size, &proof23, &note3)).await;
    assert_eq!(status, 200, "{lines}");

    // SIGKILL, then a restart on the same directory: it still holds cp3, and its key.
    drop(wit);
    wit = witness(&wdata, &["--log", &vkey]);
    let (status, ctype, text) = add(&client, &wit, body(cp2.size, &proof23, &note3)).await;
    assert_eq!((status, ctype.as_str(), text), (409, "text/x.tlog.size", format!("{}\n", cp3.size)));
    let (status, _, lines) = add(&client, &wit, body(cp3.size, &[], &note3)).await;
    assert_eq!(status, 200, "{lines}");
    assert!(wkey.verify_line(&cp3.to_body(), &lines).is_ok());

    // A fork: a copy of the log under the same key grows another way. Both forks ask for
    // a cosignature of the same size at once: at most one gets it.
    drop(log);
    copy_dir(a.path(), b.path());
    let (log_a, log_b) = (serve(a.path()), serve(b.path()));
    stamp(&client, &log_a, &token, "Only in A.").await;
    stamp(&client, &log_b, &token, "Only in B.").await;
    let ((note_a, cp_a), (note_b, cp_b)) = (checkpoint(&client, &log_a).await, checkpoint(&client, &log_b).await);
    assert_eq!(cp_a.size, cp_b.size);
    assert_ne!(cp_a.root, cp_b.root, "the logs forked");
    let (proof_a, proof_b) =
        (proof(&client, &log_a, cp3.size, cp_a.size).await, proof(&client, &log_b, cp3.size, cp_b.size).await);
    let ((status_a, _, text_a), (status_b, _, text_b)) = tokio::join!(
        add(&client, &wit, body(cp3.size, &proof_a, &note_a)),
        add(&client, &wit, body(cp3.size, &proof_b, &note_b)),
    );
    let mut statuses = [status_a, status_b];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{text_a} / {text_b}");
    // And afterwards, the loser is refused whatever it claims.
    let (loser_note, loser_proof) = if status_a == 200 { (&note_b, &proof_b) } else { (&note_a, &proof_a) };
    let (status, _, text) = add(&client, &wit, body(cp_a.size, &[], loser_note)).await;
    assert_eq!(status, 422, "same size, another root: {text}");
    let (status, _, _) = add(&client, &wit, body(cp3.size, loser_proof, loser_note)).await;
    assert_eq!(status, 409);
}
