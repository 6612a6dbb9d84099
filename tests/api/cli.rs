//! `aiprov stamp` and `aiprov verify` against the real server.

use std::ffi::OsString;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::binary::BIN;
use crate::helpers::{copy_request, public_receipt, spawn_app};

pub async fn aiprov(args: Vec<OsString>, stdin: Option<&'static str>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aiprov runs");
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

pub fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// Stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test]
async fn offline_verify_with_saved_keys_a_url_or_a_bare_key() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let content = "Offline verification, as a journalist would do it.";
    let stamped = app.stamp_ok(&copy_request(content)).await;
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("receipt.json");
    std::fs::write(&receipt, stamped.to_string()).unwrap();
    let (_, keys) = app.get_json("/v1/keys").await;
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();
    let (_, other_keys) = other.get_json("/v1/keys").await;
    let other_keys_file = dir.path().join("other-keys.json");
    std::fs::write(&other_keys_file, other_keys.to_string()).unwrap();
    let r = receipt.to_str().unwrap();

    let out =
        aiprov(args(&["verify", "--receipt", r, "--text", content, "--key", keys_file.to_str().unwrap()]), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("PASS signature.validated") && text(&out).contains("PASS log.included"),
        "{}",
        text(&out)
    );

    let out = aiprov(
        args(&["verify", "--receipt", r, "--text", "Altered words.", "--key", keys_file.to_str().unwrap()]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("check content failed (content.hash.mismatch)"), "{}", text(&out));

    let file = dir.path().join("copy.txt");
    std::fs::write(&file, content).unwrap();
    let url = app.url("");
    let out = aiprov(args(&["verify", "--receipt", r, "--file", file.to_str().unwrap(), "--key", &url]), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let kid = stamped["signature"]["kid"].as_str().unwrap();
    let key = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let log_key = keys["log"]["verifier_key"].as_str().unwrap().to_owned();
    let out = aiprov(args(&["verify", "--receipt", r, "--key", &key, "--log-key", &log_key]), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A receipt alone is a genuine stamp, but says nothing about any content: the output
    // must say so rather than call it a genuine disclosure of something.
    assert!(text(&out).contains("no content was checked"), "{}", text(&out));
    assert!(!text(&out).contains("Genuine AI disclosure"), "{}", text(&out));
    let out = aiprov(args(&["verify", "--receipt", r, "--key", &key]), None).await;
    assert_eq!(out.status.code(), Some(1), "without the log key the log cannot be checked: {}", text(&out));

    let out =
        aiprov(args(&["verify", "--receipt", r, "--key", other_keys_file.to_str().unwrap(), "--json"]), None).await;
    assert_eq!(out.status.code(), Some(1));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["verified"], false);
    assert!(verdict["checks"].as_array().unwrap().iter().any(|c| c["code"] == "key.unknown"), "{verdict}");

    let out = aiprov(args(&["verify", "--receipt", "/nonexistent.json", "--key", &key]), None).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[tokio::test]
async fn stamp_a_folder_and_stdin_writing_jsonl_receipts() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let assets = dir.path().join("assets");
    std::fs::create_dir_all(assets.join("week2")).unwrap();
    std::fs::write(assets.join("headline.txt"), "Lighter than ever.").unwrap();
    std::fs::write(assets.join("week2/body.md"), "Our *new* shoe, made for trails.").unwrap();
    std::fs::write(assets.join("hero.png"), [0x89u8, b'P', b'N', b'G', 1, 2, 3]).unwrap();
    let out_file = dir.path().join("receipts.jsonl");
    let common = [
        "--url",
        &app.url(""),
        "--token",
        &app.token,
        "--provider",
        "ExampleAI",
        "--model",
        "copywriter",
        "--disclosure",
        "Generated with AI.",
        "--out",
        out_file.to_str().unwrap(),
    ]
    .map(String::from);
    let mut a = vec![OsString::from("stamp"), assets.clone().into_os_string()];
    a.extend(common.iter().map(OsString::from));
    a.extend(args(&["--concurrency", "3", "--prompt", "a slogan"]));
    let out = aiprov(a, None).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stamped 3, failed 0"), "{}", text(&out));

    let mut b = vec![OsString::from("stamp"), OsString::from("-")];
    b.extend(common.iter().map(OsString::from));
    let out = aiprov(b, Some("Piped from a generator.")).await;
    assert!(out.status.success(), "{}", text(&out));

    let lines: Vec<Value> =
        std::fs::read_to_string(&out_file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert!(line.get("error").is_none(), "{line}");
        // The line keeps the salt for the issuer; the public endpoint takes the receipt without it.
        let verdict = app.verify(&serde_json::json!({"receipt": public_receipt(&line["receipt"])})).await;
        assert_eq!(verdict["verified"], true, "{line}");
    }
    let png = lines.iter().find(|l| l["file"].as_str().unwrap().ends_with("hero.png")).unwrap();
    assert_eq!(png["receipt"]["statement"]["subject"]["media_type"], "image/png");
    assert_eq!(png["receipt"]["prompt_salt"].as_str().unwrap().len(), 64, "the salt is kept for the issuer");
    let verdict = app.verify(&serde_json::json!({"text": "Piped from a generator."})).await;
    assert_eq!(verdict["verified"], true);

    // Run again: every file is recorded with its content, so nothing is sent.
    let mut again = vec![OsString::from("stamp"), assets.into_os_string()];
    again.extend(common.iter().map(OsString::from));
    let out = aiprov(again, None).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stamped 0, failed 0, skipped 3 already stamped"), "{}", text(&out));
}
