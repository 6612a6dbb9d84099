//! A log of 1,000,000 entries (`AIPROV_BIG_LOG` entries when set): the real binary opens
//! it without replaying it, stamps and verifies in it, and its memory stays bounded.

use std::time::Instant;

use ai_provenance::tlog::merkle;
use ai_provenance::{open_bulk, Location, NewLeaf, Sha256Digest};

use crate::binary::{create_token, post_stamp, post_verify, serve};
use crate::helpers::{copy_request, public_receipt};

/// Leaves written per batch while filling.
const FILL_BATCH: u64 = 8192;

/// Fills the log of data directory `data` with `n` synthetic JSON leaves through the
/// backend's own sequencer and transaction, with one sync at the end.
fn fill(data: &std::path::Path, n: u64) {
    // The key seals salts only in a database; the embedded backend needs none.
    let mut log =
        open_bulk(&Location::Local(data.to_owned()), &ed25519_dalek::SigningKey::from_bytes(&[7; 32])).unwrap();
    let pad = "x".repeat(200);
    let mut size = log.size().unwrap();
    while size < n {
        let count = FILL_BATCH.min(n - size);
        let leaves: Vec<NewLeaf> = (size..size + count)
            .map(|i| {
                let leaf = format!(r#"{{"synthetic":{i},"pad":"{pad}"}}"#).into_bytes();
                NewLeaf {
                    leaf_hash: merkle::leaf_hash(&leaf),
                    content_sha256: Sha256Digest::of(&i.to_be_bytes()),
                    normalized_text_sha256: None,
                    code: None,
                    sentences: Vec::new(),
                    prompt_salt: None,
                    leaf,
                }
            })
            .collect();
        let refs: Vec<&NewLeaf> = leaves.iter().collect();
        log.append(&refs).unwrap();
        size += count;
    }
    log.finish().unwrap();
    // No checkpoint: the service signs one for the stored tree at start, as after a crash.
}

/// A process's resident memory and its peak, in MiB, from /proc.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_entry_log_reopens_at_once_and_stamps_with_bounded_memory() {
    crate::helpers::embedded_only!();
    let n: u64 = std::env::var("AIPROV_BIG_LOG").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    let data = dir.path().join("data");
    let started = Instant::now();
    tokio::task::spawn_blocking(move || fill(&data, n)).await.unwrap();
    eprintln!("filled {n} entries in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let server = serve(dir.path());
    let startup = started.elapsed();
    let client = reqwest::Client::new();
    let checkpoint = client.get(format!("{}/tlog/checkpoint", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(checkpoint.lines().nth(1) == Some(&n.to_string()), "{checkpoint}");

    let mut receipts = Vec::new();
    for round in 0..20 {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
                tokio::spawn(async move {
                    post_stamp(&client, &base, &token, &copy_request(&format!("Big log stamp {round}-{i}"))).await
                })
            })
            .collect();
        for t in tasks {
            let (status, receipt) = t.await.unwrap();
            assert_eq!(status, 201, "{receipt}");
            receipts.push(receipt);
        }
    }
    assert_eq!(receipts.iter().map(|r| r["log"]["index"].as_u64().unwrap()).min(), Some(n));
    let verdict =
        post_verify(&client, &server.base, &serde_json::json!({ "receipt": public_receipt(&receipts[0]) })).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    let first: serde_json::Value =
        client.get(format!("{}/v1/log/entries?start=0&end=1", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(first["entries"][0]["leaf"]["synthetic"], 0, "the first leaf is read back: {first}");
    let (rss, peak) = memory_mib(server.pid());
    eprintln!(
        "log of {n} entries: start-up {:.0} ms, server memory {rss} MiB resident, {peak} MiB peak, after 320 stamps",
        startup.as_secs_f64() * 1000.0
    );
    assert!(peak < 200, "the server's memory must not grow with the log: {peak} MiB peak at {n} entries");
    assert!(startup.as_secs() < 10, "start-up must not replay the log: {startup:?}");
}
