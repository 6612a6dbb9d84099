//! The log asks witnesses (`serve --witness-policy`), against real `aiprov witness serve`
//! processes: `/tlog/checkpoint` soon carries cosignatures that meet a 2-of-3 policy and
//! covers the stamps; a dead witness does not stop the quorum; receipts proven against
//! the witnessed checkpoint verify; a witness that holds a fork of the log refuses it,
//! and the log reports that.

use std::path::Path;
use std::time::{Duration, Instant};

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteVerifier};
use ai_provenance::tlog::cosignature::CosignatureVerifier;
use ai_provenance::tlog::merkle;
use ai_provenance::tlog::policy::Policy;
use ai_provenance::tlog::proof::TlogProof;
use ai_provenance::Sha256Digest;

use crate::binary::{
    check_included, copy_dir, create_token, get_json, post_stamp, run, serve, serve_with, witness, Served,
};
use crate::helpers::{copy_request, embedded_only, postgres_only};

/// How long a checkpoint may take to be witnessed here: the goal is about a second.
const WITHIN: Duration = Duration::from_secs(20);

fn witness_key(data: &Path) -> CosignatureVerifier {
    let out = run(&["witness", "key", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    CosignatureVerifier::parse(stdout.lines().last().unwrap()).unwrap()
}

async fn text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

async fn verifier_key(client: &reqwest::Client, log: &Served) -> String {
    text(client, &format!("{}/v1/log/verifier-key", log.base)).await.trim().to_owned()
}

/// Three witnesses of the log `vkey`, each in `dir/<name>`, and the policy text naming
/// them with a 2-of-3 quorum.
fn three_witnesses(dir: &Path, vkey: &str) -> (Vec<Served>, String) {
    let mut policy = String::new();
    let mut served = Vec::new();
    for name in ["a", "b", "c"] {
        let data = dir.join(format!("witness-{name}"));
        let key = witness_key(&data);
        let w = witness(&data, &["--log", vkey]);
        // A trailing slash: the submission prefix may have one.
        policy.push_str(&format!("witness {name} {} {}/\n", key.to_vkey_string(), w.base));
        served.push(w);
    }
    policy.push_str("group two-of-three 2 a b c\nquorum two-of-three\n");
    (served, policy)
}

async fn stamp(client: &reqwest::Client, log: &Served, token: &str, text: &str) -> serde_json::Value {
    let (status, body) = post_stamp(client, &log.base, token, &copy_request(text)).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Waits for `/tlog/checkpoint` to carry cosignatures meeting `policy` on a tree of at
/// least `size` leaves; the note and its checkpoint.
async fn witnessed(client: &reqwest::Client, log: &Served, policy: &Policy, size: u64) -> (String, Checkpoint) {
    let started = Instant::now();
    loop {
        let note = text(client, &format!("{}/tlog/checkpoint", log.base)).await;
        let body = &note[..note.rfind("\n\n").expect("a signed note") + 1];
        let checkpoint = Checkpoint::parse_body(body).unwrap();
        if checkpoint.size >= size && policy.witnessed(&note).quorum_met {
            return (note, checkpoint);
        }
        assert!(
            started.elapsed() < WITHIN,
            "no checkpoint of {size} leaves met the quorum within {WITHIN:?}; the last: {note}\n{}",
            log.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `/metrics` has a line starting with `prefix` whose value is at least 1.
async fn counted(client: &reqwest::Client, log: &Served, prefix: &str) {
    let started = Instant::now();
    loop {
        let metrics = text(client, &format!("{}/metrics", log.base)).await;
        let value = metrics.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok());
        if value.is_some_and(|v: f64| v >= 1.0) {
            return;
        }
        assert!(started.elapsed() < WITHIN, "{prefix} was not counted within {WITHIN:?}:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_witnessed_log_serves_checkpoints_that_meet_its_policy_even_with_a_witness_down() {
    embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // The log first, for its verifier key; then the witnesses; then the log with them.
    let log = serve(dir.path());
    let vkey = verifier_key(&client, &log).await;
    drop(log);
    let (mut witnesses, policy_text) = three_witnesses(dir.path(), &vkey);
    let policy_file = dir.path().join("policy.txt");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let log = serve_with(dir.path(), &["--witness-policy", policy_file.to_str().unwrap()]);
    let token = create_token(dir.path());

    // Before any stamp: nothing witnessed yet.
    let resp = client.get(format!("{}/v1/log/witnessed", log.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    let mut stamps = Vec::new();
    for i in 0..3 {
        stamps.push(stamp(&client, &log, &token, &format!("Witnessed text number {i}.")).await);
    }
    let (note, checkpoint) = witnessed(&client, &log, &policy, 3).await;
    let log_key = NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(Checkpoint::open_signed(&note, &log_key).unwrap(), checkpoint, "the log's signature still opens");
    for s in &stamps {
        check_included(&client, &log.base, s, &checkpoint).await.unwrap();
    }
    let w = get_json(&client, &format!("{}/v1/log/witnessed", log.base)).await;
    assert!(w["tree_size"].as_u64().unwrap() >= 3, "{w}");
    assert!(w["cosigned_by"].as_array().unwrap().len() >= 2, "{w}");
    assert_eq!(w["quorum"], "group two-of-three (2 of 3)");
    assert!(policy.witnessed(w["checkpoint"].as_str().unwrap()).quorum_met, "{w}");

    // A receipt proven against the witnessed checkpoint.
    let id = stamps[1]["id"].as_str().unwrap();
    let receipt = get_json(&client, &format!("{}/v1/stamps/{id}?witnessed=true", log.base)).await;
    let r_note = receipt["log"]["checkpoint"].as_str().unwrap_or_else(|| panic!("{receipt}"));
    assert!(policy.witnessed(r_note).quorum_met, "{receipt}");
    let r_checkpoint = Checkpoint::open_signed(r_note, &log_key).unwrap();
    let proof: Vec<Sha256Digest> = serde_json::from_value(receipt["log"]["inclusion_proof"].clone()).unwrap();
    let leaf: Sha256Digest = serde_json::from_value(receipt["log"]["leaf_hash"].clone()).unwrap();
    let index = receipt["log"]["index"].as_u64().unwrap();
    assert_eq!(receipt["log"]["tree_size"].as_u64(), Some(r_checkpoint.size));
    merkle::verify_inclusion(&leaf, index, r_checkpoint.size, &proof, &r_checkpoint.root).unwrap();
    // The same, exported as a C2SP tlog-proof: it verifies under the policy alone.
    let url = format!("{}/v1/stamps/{id}/tlog-proof?witnessed=true", log.base);
    let exported = TlogProof::parse(&text(&client, &url).await).unwrap();
    let verified = exported.verify(&leaf, &log_key, Some(&policy)).expect("the witnessed tlog-proof verifies");
    assert_eq!(verified.checkpoint.size, r_checkpoint.size);

    // One witness dies: two of three still meet the quorum, and new checkpoints are
    // witnessed.
    drop(witnesses.remove(0));
    let mut last = serde_json::Value::Null;
    for i in 0..3 {
        last = stamp(&client, &log, &token, &format!("Stamped with a witness down, {i}.")).await;
    }
    let size = last["log"]["index"].as_u64().unwrap() + 1;
    let (note, checkpoint) = witnessed(&client, &log, &policy, size).await;
    let by = policy.witnessed(&note).cosigned_by;
    assert_eq!(by, ["b", "c"], "{note}");
    check_included(&client, &log.base, &last, &checkpoint).await.unwrap();
    counted(&client, &log, r#"aiprov_witness_refusals_total{witness="a",kind="unreachable"}"#).await;
    let metrics = text(&client, &format!("{}/metrics", log.base)).await;
    assert!(metrics.contains(&format!("aiprov_log_witnessed_tree_size {}", checkpoint.size)), "{metrics}");
    assert!(metrics.contains("aiprov_witness_cosigned_tree_size{witness=\"b\"}"), "{metrics}");
    assert!(metrics.contains("aiprov_log_witnessed_lag_seconds_count"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_witness_that_holds_a_fork_refuses_the_log_and_the_log_says_so() {
    embedded_only!();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let client = reqwest::Client::new();
    let log = serve(a.path());
    let token = create_token(a.path());
    stamp(&client, &log, &token, "Before the fork, one.").await;
    stamp(&client, &log, &token, "Before the fork, two.").await;
    let vkey = verifier_key(&client, &log).await;
    drop(log);
    // The fork: a copy of the log, with its keys, grows another way.
    copy_dir(a.path(), b.path());
    let fork = serve(b.path());
    stamp(&client, &fork, &token, "Only in the fork.").await;
    let fork_note = text(&client, &format!("{}/tlog/checkpoint", fork.base)).await;
    drop(fork);

    let (witnesses, policy_text) = three_witnesses(a.path(), &vkey);
    // Witness c cosigns the fork first: it holds a tree of 3 the real log never had.
    let resp = client
        .post(format!("{}/add-checkpoint", witnesses[2].base))
        .body(format!("old 0\n\n{fork_note}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let policy_file = a.path().join("policy.txt");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let log = serve_with(a.path(), &["--witness-policy", policy_file.to_str().unwrap()]);
    // The log (2 leaves) is behind what c holds (3): to c, the log went back.
    counted(&client, &log, r#"aiprov_witness_refusals_total{witness="c",kind="ahead_of_log"}"#).await;
    assert!(
        log.logs().iter().any(|l| l.contains("ERROR") && l.contains("witness holds a larger tree than this log")),
        "{}",
        log.logs().join("\n")
    );
    // Past the fork's size, c checks the proof from its tree, and it fails: 422.
    stamp(&client, &log, &token, "After the fork, three.").await;
    stamp(&client, &log, &token, "After the fork, four.").await;
    counted(&client, &log, r#"aiprov_witness_refusals_total{witness="c",kind="inconsistent"}"#).await;
    // a and b still meet the quorum; c's cosignature is never there.
    let (note, _) = witnessed(&client, &log, &policy, 4).await;
    assert_eq!(policy.witnessed(&note).cosigned_by, ["a", "b"], "{note}");
    drop(witnesses);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_every_node_serves_the_witnessed_checkpoint_and_a_new_sequencer_goes_on() {
    postgres_only!();
    let db = crate::helpers::test_database();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let flags = ["--database", db.url()];
    let first = serve_with(dir.path(), &flags);
    let vkey = verifier_key(&client, &first).await;
    drop(first);
    let (_witnesses, policy_text) = three_witnesses(dir.path(), &vkey);
    let policy_file = dir.path().join("policy.txt");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let with_policy = ["--database", db.url(), "--witness-policy", policy_file.to_str().unwrap()];
    let mut nodes = vec![serve_with(dir.path(), &with_policy), serve_with(dir.path(), &with_policy)];
    let out = run(&["token", "create", "--issuer", "Witnessed Co", "--database", db.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned();

    // Stamped on either node, witnessed on both: the state is in the database.
    let a = stamp(&client, &nodes[0], &token, "Witnessed on PostgreSQL, one.").await;
    let b = stamp(&client, &nodes[1], &token, "Witnessed on PostgreSQL, two.").await;
    let size = a["log"]["index"].as_u64().unwrap().max(b["log"]["index"].as_u64().unwrap()) + 1;
    for node in &nodes {
        let (_, checkpoint) = witnessed(&client, node, &policy, size).await;
        check_included(&client, &node.base, &a, &checkpoint).await.unwrap();
    }

    // The sequencer dies (whichever it is); the other takes over and goes on asking.
    let health = get_json(&client, &format!("{}/healthz", nodes[0].base)).await;
    let sequencer = usize::from(health["role"] != "sequencer");
    drop(nodes.remove(sequencer));
    let survivor = &nodes[0];
    // Until the survivor holds the lease, stamps answer 503.
    let killed = Instant::now();
    let c = loop {
        let (status, body) =
            post_stamp(&client, &survivor.base, &token, &copy_request("Witnessed after the takeover.")).await;
        if status == 201 {
            break body;
        }
        assert!(status == 503 && killed.elapsed() < WITHIN, "{status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let size = c["log"]["index"].as_u64().unwrap() + 1;
    let (_, checkpoint) = witnessed(&client, survivor, &policy, size).await;
    check_included(&client, &survivor.base, &c, &checkpoint).await.unwrap();
}

#[test]
fn a_policy_witness_without_a_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = witness_key(&dir.path().join("witness"));
    let policy = dir.path().join("policy.txt");
    std::fs::write(&policy, format!("witness lonely {}\nquorum lonely\n", key.to_vkey_string())).unwrap();
    let (status, stderr) = crate::binary::refused(dir.path(), &["--witness-policy", policy.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("witness lonely without a URL"), "{stderr}");
}
