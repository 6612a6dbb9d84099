//! Crash safety: SIGKILL the real server at random moments while clients stamp, restart
//! it on the same data directory, and prove that every acknowledged stamp survived, still
//! verifies, and that the log after the crash extends every checkpoint seen before it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteVerifier};
use ai_provenance::tlog::merkle;
use ai_provenance::Sha256Digest;
use serde_json::Value;

use crate::binary::{check_included, create_token, get_json, serve};
use crate::helpers::copy_request;

const KILLS: usize = 4;
const CLIENTS: usize = 8;

fn digests(v: &Value) -> Vec<Sha256Digest> {
    serde_json::from_value(v.clone()).unwrap()
}

#[tokio::test]
async fn acknowledged_stamps_survive_repeated_sigkill() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let acked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut verifier: Option<NoteVerifier> = None;
    // Pseudo-random but reproducible kill moments (no RNG dependency needed).
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;

    for round in 0..KILLS {
        let server = serve(dir.path());
        let base = server.base.clone();
        if verifier.is_none() {
            let vkey = client.get(format!("{base}/v1/log/verifier-key")).send().await.unwrap().text().await.unwrap();
            verifier = Some(NoteVerifier::parse(vkey.trim()).unwrap());
        }
        let running = Arc::new(AtomicBool::new(true));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, base, token, acked, running) =
                (client.clone(), base.clone(), token.clone(), acked.clone(), running.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while running.load(Ordering::Relaxed) {
                    i += 1;
                    let body = copy_request(&format!("round {round} client {c} stamp {i}"));
                    let sent = client.post(format!("{base}/v1/stamps")).bearer_auth(&token).json(&body).send().await;
                    // Only a 201 with a full receipt is an acknowledgement; anything cut
                    // off by the kill was never acknowledged.
                    if let Ok(resp) = sent {
                        if resp.status() == 201 {
                            if let Ok(receipt) = resp.json::<Value>().await {
                                acked.lock().unwrap().push(receipt);
                            }
                        }
                    }
                }
            }));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(150 + seed % 350)).await;
        drop(server); // SIGKILL mid-traffic
        running.store(false, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
    }

    // Restart once more and check everything that was acknowledged.
    let server = serve(dir.path());
    let base = &server.base;
    let v = verifier.unwrap();
    let note = client.get(format!("{base}/v1/log/checkpoint")).send().await.unwrap().text().await.unwrap();
    let latest = Checkpoint::open_signed(&note, &v).unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILLS, "the clients got stamps through: {}", acked.len());
    let mut lost = 0;
    let mut seen_sizes = std::collections::BTreeMap::new();
    for receipt in &acked {
        let id = receipt["id"].as_str().unwrap();
        let resp = client.get(format!("{base}/v1/stamps/{id}")).send().await.unwrap();
        if resp.status() != 200 {
            lost += 1;
            continue;
        }
        let now: Value = resp.json().await.unwrap();
        assert_eq!(now["statement"], receipt["statement"]);
        assert_eq!(now["log"]["index"], receipt["log"]["index"]);
        // Included in the new checkpoint, with nothing but the log key and the leaf.
        check_included(&client, base, &now, &latest).await.expect("included in the checkpoint after the crashes");
        let old = Checkpoint::open_signed(receipt["log"]["checkpoint"].as_str().unwrap(), &v).unwrap();
        seen_sizes.insert(old.size, old.root);
    }
    // Every checkpoint handed out before a crash is a prefix of the log after it.
    for (size, root) in &seen_sizes {
        let proof =
            get_json(&client, &format!("{base}/v1/log/proof/consistency?first={size}&second={}", latest.size)).await;
        merkle::verify_consistency(*size, latest.size, root, &latest.root, &digests(&proof["consistency_proof"]))
            .unwrap_or_else(|e| panic!("checkpoint of size {size} is not a prefix of the log after the crashes: {e}"));
    }
    // The tiles and bundles the restarted server serves hold exactly that tree: nothing a
    // checkpoint covers was left undurable by a kill.
    let (tiles, leaves) = crate::tlog::fetch_tiles(&client, base, latest.size).await;
    assert_eq!(merkle::root(&ai_provenance::tlog::tiles::TileNodes(tiles), latest.size).unwrap(), latest.root);
    let mut tree = merkle::MemoryTree::new();
    leaves.iter().for_each(|l| tree.push(merkle::leaf_hash(l)));
    assert_eq!(tree.root(), latest.root, "the entry bundles hold the checkpoint's leaves");
    eprintln!(
        "crash test: {KILLS} kills survived, {} acknowledged stamps checked, {} checkpoints proven consistent, losses: {lost}",
        acked.len(),
        seen_sizes.len()
    );
    assert_eq!(lost, 0, "acknowledged stamps were lost");
}
