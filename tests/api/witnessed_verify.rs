//! Verifiers that require witnesses: a receipt whose checkpoint two real `aiprov witness
//! serve` cosigned passes a reader's 2-of-2 policy with `aiprov verify --policy`, and fails
//! it with one cosignature removed; the stamp's C2SP tlog-proof verifies with the CLI; the
//! service reports the `witnesses` check under its operator's policy.

use std::path::Path;

use serde_json::Value;

use crate::binary::{create_token, post_stamp, post_verify, run, serve, serve_with, witness, Served};
use crate::cli::{aiprov, args, text};
use crate::helpers::{check_code, copy_request, embedded_only, public_receipt};

/// The cosigning key of the witness whose data directory is `data`.
fn witness_vkey(data: &Path) -> String {
    let out = run(&["witness", "key", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
}

/// The cosignature line `witness` answers for `note`, submitted as its first checkpoint.
async fn cosign(client: &reqwest::Client, witness: &Served, note: &str) -> String {
    let resp = client.post(format!("{}/add-checkpoint", witness.base)).body(format!("old 0\n\n{note}")).send().await;
    let resp = resp.unwrap();
    let status = resp.status().as_u16();
    let line = resp.text().await.unwrap();
    assert_eq!(status, 200, "{line}");
    line
}

/// `receipt` with its checkpoint note replaced by `note`.
fn with_note(receipt: &Value, note: &str) -> Value {
    let mut r = receipt.clone();
    r["log"]["checkpoint"] = Value::String(note.to_owned());
    r
}

async fn verify_cli(list: &[&str]) -> (Option<i32>, String) {
    let out = aiprov(args(list), None).await;
    (out.status.code(), text(&out))
}

/// `aiprov verify --receipt R --tlog-proof P --key URL [--policy FILE]`.
async fn verify_proof(receipt: &str, proof: &str, key: &str, policy: Option<&str>) -> (Option<i32>, String) {
    let mut list = vec!["verify", "--receipt", receipt, "--tlog-proof", proof, "--key", key];
    if let Some(policy) = policy {
        list.extend(["--policy", policy]);
    }
    verify_cli(&list).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_readers_policy_requires_the_witnesses_it_names() {
    embedded_only!();
    let (a, w) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let client = reqwest::Client::new();
    let mut log = serve(a.path());
    let token = create_token(a.path());
    let (status, stamped) = post_stamp(&client, &log.base, &token, &copy_request("Witnessed, twice.")).await;
    assert_eq!(status, 201, "{stamped}");
    let receipt = public_receipt(&stamped);
    let id = receipt["id"].as_str().unwrap().to_owned();
    let vkey = client.get(format!("{}/v1/log/verifier-key", log.base)).send().await.unwrap().text().await.unwrap();
    let vkey = vkey.trim().to_owned();

    // Two witnesses of this log; each cosigns the receipt's checkpoint when asked.
    let (d1, d2) = (w.path().join("w1"), w.path().join("w2"));
    let (k1, k2) = (witness_vkey(&d1), witness_vkey(&d2));
    let w1 = witness(&d1, &["--log", &vkey]);
    let w2 = witness(&d2, &["--log", &vkey]);
    let note = receipt["log"]["checkpoint"].as_str().unwrap().to_owned();
    let (line1, line2) = (cosign(&client, &w1, &note).await, cosign(&client, &w2, &note).await);
    let both = with_note(&receipt, &format!("{note}{line1}{line2}"));
    let one = with_note(&receipt, &format!("{note}{line1}"));

    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let both_file = file("both.json", &both.to_string());
    let one_file = file("one.json", &one.to_string());
    let policy = file(
        "policy.txt",
        &format!(
            "# the reader's own\nlog {vkey} {}\nwitness W1 {k1} {}\nwitness W2 {k2} {}\ngroup both all W1 W2\nquorum both\n",
            log.base, w1.base, w2.base
        ),
    );

    // 2 of 2: passes, naming both. One removed: fails, exit 1.
    let (code, out) = verify_cli(&["verify", "--receipt", &both_file, "--key", &log.base, "--policy", &policy]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS witness.quorum") && out.contains("W1, W2"), "{out}");
    let (code, out) = verify_cli(&["verify", "--receipt", &one_file, "--key", &log.base, "--policy", &policy]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL witness.no_quorum") && out.contains("cosigned by W1,"), "{out}");
    // A receipts file is held to the policy too, line by line.
    let lines = format!(
        "{}\n{}\n",
        serde_json::json!({"file": "-", "receipt": both}),
        serde_json::json!({"file": "-", "receipt": one})
    );
    let receipts = file("receipts.jsonl", &lines);
    let (code, out) = verify_cli(&["verify", "--receipts", &receipts, "--key", &log.base, "--policy", &policy]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("witness.no_quorum (line 2)"), "{out}");
    // Without a policy the log's signature is all that is asked, as before.
    let (code, out) = verify_cli(&["verify", "--receipt", &one_file, "--key", &log.base]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("witness."), "{out}");

    // The stamp's tlog-proof, against the newest checkpoint (the receipt's: one stamp).
    let resp = client.get(format!("{}/v1/stamps/{id}/tlog-proof", log.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"{id}.tlog-proof\""));
    let proof = resp.text().await.unwrap();
    assert!(proof.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n"), "{proof}");
    assert!(proof.ends_with(&format!("\n\n{note}")), "{proof}");
    let plain = file("plain.tlog-proof", &proof);
    let cosigned = file("cosigned.tlog-proof", &format!("{proof}{line1}{line2}"));
    let receipt_file = file("receipt.json", &receipt.to_string());
    let (code, out) = verify_proof(&receipt_file, &plain, &log.base, None).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS log.included"), "{out}");
    // The proof's checkpoint, not the receipt's, is what the policy is held to.
    let (code, out) = verify_proof(&receipt_file, &plain, &log.base, Some(&policy)).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL witness.no_quorum"), "{out}");
    let (code, out) = verify_proof(&receipt_file, &cosigned, &log.base, Some(&policy)).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS witness.quorum"), "{out}");
    // A proof of another index does not prove this receipt's leaf.
    let moved = file("moved.tlog-proof", &proof.replacen("\nindex 0\n", "\nindex 1\n", 1));
    let (code, out) = verify_proof(&receipt_file, &moved, &log.base, None).await;
    assert_eq!(code, Some(1), "{out}");

    // The service, under its operator's policy, reports the check for a receipt sent to
    // it; its own lookups (by content) carry no witnesses check.
    log.terminate();
    assert!(log.exit_within(std::time::Duration::from_secs(40)).is_some(), "serve stops on SIGTERM");
    let log = serve_with(a.path(), &["--witness-policy", &policy]);
    let verdict = post_verify(&client, &log.base, &serde_json::json!({"receipt": both})).await;
    assert_eq!(check_code(&verdict, "witnesses"), "witness.quorum", "{verdict}");
    assert_eq!(verdict["verified"], true, "{verdict}");
    let verdict = post_verify(&client, &log.base, &serde_json::json!({"receipt": one})).await;
    assert_eq!(check_code(&verdict, "witnesses"), "witness.no_quorum", "{verdict}");
    assert_eq!(verdict["verified"], false, "{verdict}");
    let verdict = post_verify(&client, &log.base, &serde_json::json!({"text": "Witnessed, twice."})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert!(verdict["checks"].as_array().unwrap().iter().all(|c| c["name"] != "witnesses"), "{verdict}");
}
