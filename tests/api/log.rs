//! The transparency log over HTTP: proofs that a third party can check with nothing but
//! the log's verifier key.

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteVerifier};
use ai_provenance::tlog::merkle;
use ai_provenance::Sha256Digest;
use serde_json::{json, Value};

use crate::helpers::{assert_error, copy_request, spawn_app, TestApp};

async fn verifier(app: &TestApp) -> NoteVerifier {
    let vkey = app.get("/v1/log/verifier-key").await.text().await.unwrap();
    NoteVerifier::parse(vkey.trim()).expect("verifier key parses")
}

async fn checkpoint(app: &TestApp, v: &NoteVerifier) -> Checkpoint {
    let resp = app.get("/v1/log/checkpoint").await;
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    Checkpoint::open_signed(&resp.text().await.unwrap(), v).expect("checkpoint verifies")
}

fn digests(v: &Value) -> Vec<Sha256Digest> {
    v.as_array().unwrap().iter().map(|h| Sha256Digest::from_hex(h.as_str().unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn concurrent_stamps_all_carry_valid_proofs_and_checkpoints_stay_consistent() {
    let app = std::sync::Arc::new(spawn_app().await);
    let v = verifier(&app).await;
    assert_eq!(v.name(), "test.example/log");
    let empty = checkpoint(&app, &v).await;
    assert_eq!(empty.size, 0);

    const N: usize = 48;
    let mut tasks = Vec::new();
    for i in 0..N {
        let app = app.clone();
        tasks.push(tokio::spawn(async move { app.stamp_ok(&copy_request(&format!("Asset number {i}"))).await }));
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    let middle = checkpoint(&app, &v).await;
    let mut indices: Vec<u64> = receipts.iter().map(|r| r["log"]["index"].as_u64().unwrap()).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..N as u64).collect::<Vec<_>>(), "every stamp got its own index");

    for r in &receipts {
        let log = &r["log"];
        let cp = Checkpoint::open_signed(log["checkpoint"].as_str().unwrap(), &v).expect("receipt checkpoint verifies");
        assert_eq!(cp.size, log["tree_size"].as_u64().unwrap());
        let leaf = serde_jcs::to_vec(&json!({"statement": r["statement"], "signature": r["signature"]})).unwrap();
        let leaf_hash = merkle::leaf_hash(&leaf);
        assert_eq!(leaf_hash.to_hex(), log["leaf_hash"].as_str().unwrap());
        assert_eq!(leaf_hash.to_hex(), r["id"].as_str().unwrap());
        let index = log["index"].as_u64().unwrap();
        assert!(index < cp.size, "the receipt's checkpoint contains it");
        merkle::verify_inclusion(&leaf_hash, index, cp.size, &digests(&log["inclusion_proof"]), &cp.root)
            .expect("inclusion proof verifies");
    }

    // Two checkpoints of different sizes: the later extends the earlier.
    let first = receipts.iter().map(|r| r["log"]["tree_size"].as_u64().unwrap()).min().unwrap();
    let first_cp = receipts.iter().find(|r| r["log"]["tree_size"] == first).unwrap()["log"]["checkpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_cp = Checkpoint::open_signed(&first_cp, &v).unwrap();
    assert_eq!(middle.size, N as u64);
    let (status, proof) =
        app.get_json(&format!("/v1/log/proof/consistency?first={}&second={}", first_cp.size, middle.size)).await;
    assert_eq!(status, 200, "{proof}");
    merkle::verify_consistency(
        first_cp.size,
        middle.size,
        &first_cp.root,
        &middle.root,
        &digests(&proof["consistency_proof"]),
    )
    .expect("consistency proof verifies");

    // Inclusion proofs on demand, against the newest tree.
    let (status, proof) = app.get_json(&format!("/v1/log/proof/inclusion?index=3&tree_size={}", middle.size)).await;
    assert_eq!(status, 200);
    let (_, entries) = app.get_json("/v1/log/entries?start=3&end=4").await;
    let leaf = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        entries["entries"][0]["leaf_base64"].as_str().unwrap(),
    )
    .unwrap();
    merkle::verify_inclusion(
        &merkle::leaf_hash(&leaf),
        3,
        middle.size,
        &digests(&proof["inclusion_proof"]),
        &middle.root,
    )
    .unwrap();

    // The whole tree, recomputed from the entries as an auditor would.
    let (_, all) = app.get_json("/v1/log/entries?start=0").await;
    let mut tree = merkle::MemoryTree::new();
    for e in all["entries"].as_array().unwrap() {
        let leaf =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, e["leaf_base64"].as_str().unwrap())
                .unwrap();
        tree.push(merkle::leaf_hash(&leaf));
    }
    assert_eq!(tree.size(), middle.size);
    assert_eq!(tree.root(), middle.root);
}

#[tokio::test]
async fn bad_proof_and_page_requests_are_400() {
    let app = spawn_app().await;
    app.stamp_ok(&copy_request("one")).await;
    app.stamp_ok(&copy_request("two")).await;
    for (path, code) in [
        ("/v1/log/proof/inclusion?index=5&tree_size=2", "invalid_proof_request"),
        ("/v1/log/proof/inclusion?index=0&tree_size=99", "invalid_proof_request"),
        ("/v1/log/proof/inclusion?index=-1", "invalid_query"),
        ("/v1/log/proof/inclusion?index=18446744073709551615&tree_size=18446744073709551615", "invalid_proof_request"),
        ("/v1/log/proof/inclusion?index=99999999999999999999999", "invalid_query"),
        ("/v1/log/proof/consistency?first=2&second=1", "invalid_proof_request"),
        ("/v1/log/proof/consistency?first=1&second=50", "invalid_proof_request"),
        ("/v1/log/proof/consistency", "invalid_query"),
        ("/v1/log/entries?start=3", "invalid_range"),
        ("/v1/log/entries?start=2&end=1", "invalid_range"),
        ("/v1/log/entries?start=x", "invalid_query"),
    ] {
        let (s, b) = app.get_json(path).await;
        assert_eq!(assert_error(s, &b, 400), code, "{path}: {b}");
    }
    // The message names the parameter and calls a tree size a tree size.
    let (_, b) = app.get_json("/v1/log/proof/consistency?first=1&second=50").await;
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("second: the tree size 50 is beyond the published tree size 2"), "{message}");
    // The README's examples: proofs against the newest checkpoint by default.
    for path in ["/v1/log/proof/consistency?first=1", "/v1/log/proof/inclusion?index=0"] {
        let (s, b) = app.get_json(path).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
    let (s, page) = app.get_json("/v1/log/entries?start=0&end=100000").await;
    assert_eq!(s, 200);
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "pages end at the tree size");
}

#[tokio::test]
async fn a_page_from_the_end_of_the_log_is_empty() {
    let app = spawn_app().await;
    // What a client that has read everything asks next, on an empty log too.
    let (s, page) = app.get_json("/v1/log/entries?start=0").await;
    assert_eq!((s, page), (200, json!({"start": 0, "end": 0, "tree_size": 0, "entries": []})));
    app.stamp_ok(&copy_request("one")).await;
    for path in ["/v1/log/entries?start=1", "/v1/log/entries?start=1&end=7", "/v1/log/entries?start=0&end=0"] {
        let (s, page) = app.get_json(path).await;
        assert_eq!(s, 200, "{path}: {page}");
        assert_eq!(page["entries"], json!([]), "{path}");
        assert_eq!(page["tree_size"], 1, "{path}");
    }
    let (s, page) = app.get_json("/v1/log/entries?start=0&end=7").await;
    assert_eq!((s, page["end"].clone(), page["entries"].as_array().map(Vec::len)), (200, json!(1), Some(1)));
}
