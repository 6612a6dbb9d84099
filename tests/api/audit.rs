//! `aiprov audit`, offline on a copy of the data and remotely over HTTP.

use std::ffi::OsStr;

use ai_provenance::tlog::tiles;
use serde_json::Value;

use crate::binary::{copy_dir, create_token, run, serve};
use crate::helpers::{copy_request, spawn_app};

async fn stamp_n(base: &str, token: &str, n: usize, tag: &str) {
    let client = reqwest::Client::new();
    for i in 0..n {
        let resp = client
            .post(format!("{base}/v1/stamps"))
            .bearer_auth(token)
            .json(&copy_request(&format!("{tag} asset {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
}

fn audit_data(data: &std::path::Path, keys: &std::path::Path) -> (bool, String) {
    let out =
        run(&[OsStr::new("audit"), OsStr::new("--data"), data.as_os_str(), OsStr::new("--keys"), keys.as_os_str()]);
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn offline_audit_passes_then_names_the_leaf_with_a_flipped_byte() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    let server = serve(dir.path());
    stamp_n(&server.base, &token, 12, "Audit").await;
    drop(server);
    let (data, keys) = (dir.path().join("data"), dir.path().join("keys"));

    let (ok, out) = audit_data(&data, &keys);
    assert!(ok, "a clean log passes: {out}");
    assert!(out.contains("leaves audited: 12"), "{out}");

    // A copy, in which one byte of leaf 7 is flipped (as a dishonest operator or a bad
    // disk would), the bundle staying readable.
    let copy = dir.path().join("copy");
    copy_dir(&data, &copy);
    {
        // Leaves live in entry bundle files (tlog-tiles layout); leaf 7 is in bundle 0.
        let path = copy.join("tiles/tile/entries/000");
        let mut bundle = std::fs::read(&path).unwrap();
        let before: usize = tiles::decode_bundle(&bundle).unwrap()[..7].iter().map(|e| 2 + e.len()).sum();
        let len = tiles::decode_bundle(&bundle).unwrap()[7].len();
        bundle[before + 2 + len / 2] ^= 0x01;
        std::fs::write(&path, bundle).unwrap();
    }
    let (ok, out) = audit_data(&copy, &keys);
    assert!(!ok, "the altered copy fails: {out}");
    assert!(out.contains("PROBLEM leaf 7:"), "the flipped leaf is named by index: {out}");
    assert!(!out.contains("PROBLEM leaf 6:") && !out.contains("PROBLEM leaf 8:"), "only leaf 7 is blamed: {out}");
}

#[tokio::test]
async fn remote_audit_checks_growth_against_the_saved_checkpoint() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.stamp_ok(&copy_request(&format!("Remote audit {i}"))).await;
    }
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    let url = app.url("");
    let audit = {
        let state = state.clone();
        move || {
            let out = run(&[
                OsStr::new("audit"),
                OsStr::new("--url"),
                OsStr::new(&url),
                OsStr::new("--state"),
                state.as_os_str(),
            ]);
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            )
        }
    };
    let first = audit.clone();
    let (ok, out) = tokio::task::spawn_blocking(first).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("leaves audited: 5"), "{out}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved["checkpoint"].as_str().unwrap().contains("\n5\n"), "{saved}");

    for i in 0..4 {
        app.stamp_ok(&copy_request(&format!("Later asset {i}"))).await;
    }
    let second = audit.clone();
    let (ok, out) = tokio::task::spawn_blocking(second).await.unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("leaves audited: 9")
            && out.contains("consistency with the checkpoint saved by the previous audit: checked"),
        "{out}"
    );

    // A saved checkpoint from a different log (another key) is not silently accepted.
    let other = spawn_app().await;
    other.stamp_ok(&copy_request("elsewhere")).await;
    let foreign = other.get("/v1/log/checkpoint").await.text().await.unwrap();
    let mut tampered = saved.clone();
    tampered["checkpoint"] = Value::String(foreign);
    std::fs::write(&state, tampered.to_string()).unwrap();
    let (ok, out) = tokio::task::spawn_blocking(audit).await.unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains("PROBLEM the saved checkpoint does not verify"), "{out}");
}
