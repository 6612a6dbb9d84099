//! The log checked with someone else's code: the README's block that builds and runs
//! `examples/go-tlog-check` (Go's `golang.org/x/mod/sumdb/note` and `sumdb/tlog`, from
//! Debian's golang-golang-x-mod-dev), as written, against the real server: a first run
//! that saves the checkpoint, stamps across a tile's edge, a second run that proves the
//! log only grew; then a wrong key and a forked state, both refused.

use std::path::Path;

use futures_util::StreamExt;
use std::time::Duration;

use crate::helpers::{copy_request, spawn_app};
use crate::readme::{run_readme_script, sh_block_with};

/// Debian's copy of golang.org/x/mod, which the program builds against.
const GO_SOURCES: &str = "/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog";

/// Why the Go toolchain or Go's sumdb packages cannot be had here, if they cannot.
fn go_missing() -> Option<String> {
    let go = std::process::Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return Some("no go command".into());
    }
    (!Path::new(GO_SOURCES).is_dir()).then(|| format!("no {GO_SOURCES}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_packages_check_the_log_as_the_readme_shows() {
    if let Some(why) = go_missing() {
        eprintln!("skipped: {why} (apt-get install golang-go golang-golang-x-mod-dev; .ci/run installs them)");
        return;
    }
    let app = spawn_app().await;
    for i in 0..3 {
        app.stamp_ok(&copy_request(&format!("Checked in Go, line {i}."))).await;
    }
    let script = sh_block_with("go-tlog-check");
    let lines: Vec<&str> = script.lines().collect();
    let last = lines.last().expect("the block's last line runs the check again").to_string();
    // The block runs from the repository's root (`./examples/go-tlog-check`; Go without
    // modules builds no absolute path): the test's directory gets a link to it.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"), dir.path().join("examples")).unwrap();
    let port = app.addr.port();
    // Go's build cache in cargo's scratch directory for tests: kept between runs (the
    // standard library is compiled once), nothing written to $HOME.
    let envs = [("GOCACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/go-build-cache"))];
    let run = |script: String| {
        let dir = dir.path().to_owned();
        let envs: Vec<(String, String)> = envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        tokio::task::spawn_blocking(move || {
            let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_readme_script(&script, &dir, port, &envs, Duration::from_secs(300))
        })
    };

    // The block as written, but for its last line: build, pin the key, check (3 leaves).
    let first = run(lines[..lines.len() - 1].join("\n")).await.unwrap();
    first.assert_success("the Go check");
    assert!(first.stdout.contains("checkpoint: test.example/log, 3 entries"), "{}", first.stdout);
    assert!(first.stdout.contains("3 inclusion proofs verified") && first.stdout.ends_with("OK\n"), "{}", first.stdout);

    // Past the first tile's edge (256 leaves): full and partial tiles, levels 0 and 1.
    let stamps = (0..297).map(|i| copy_request(&format!("Growing the log, line {i}.")));
    let app_ref = &app;
    futures_util::stream::iter(stamps)
        .for_each_concurrent(16, |body| async move {
            app_ref.stamp_ok(&body).await;
        })
        .await;
    let vkey = app.get("/v1/log/verifier-key").await.text().await.unwrap();
    let again = run(format!("VKEY='{}'\n{last}", vkey.trim())).await.unwrap();
    again.assert_success("the Go check, again");
    assert!(again.stdout.contains("300 entries"), "{}", again.stdout);
    assert!(again.stdout.contains("consistency: 3 -> 300 entries proven"), "{}", again.stdout);

    // Another key of the same name: the checkpoint does not verify, and it says so.
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let other =
        ai_provenance::tlog::checkpoint::NoteVerifier::new("test.example/log", other_key).unwrap().to_vkey_string();
    let wrong = run(format!("VKEY='{other}'\n{last}")).await.unwrap();
    assert_eq!(wrong.status.and_then(|s| s.code()), Some(1), "{}{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stderr.contains("FAIL: the checkpoint's signature"), "{}", wrong.stderr);

    // A saved checkpoint of another history (a fork): same size, another root, signed
    // by the same key. The program refuses the log as no extension of it.
    let forked = fork_of_saved_checkpoint(&app);
    std::fs::write(dir.path().join("tlog-state.txt"), forked).unwrap();
    let fork = run(format!("VKEY='{}'\n{last}", vkey.trim())).await.unwrap();
    assert_eq!(fork.status.and_then(|s| s.code()), Some(1), "{}{}", fork.stdout, fork.stderr);
    assert!(fork.stderr.contains("FAIL: the log is not an extension of the saved checkpoint"), "{}", fork.stderr);
}

/// A checkpoint of 3 leaves with another root, signed with the test log's own key: what a
/// log that showed two histories would have handed out.
fn fork_of_saved_checkpoint(app: &crate::helpers::TestApp) -> String {
    use ai_provenance::tlog::checkpoint::{Checkpoint, NoteSigner};
    let keyring = ai_provenance::keys::Keyring::open_or_create(&app.config.keys_dir).expect("the test's keys");
    let signer = NoteSigner::new("test.example/log", keyring.checkpoint_key().signing_key().clone()).unwrap();
    let other_root = ai_provenance::Sha256Digest::of(b"another history");
    let forked = Checkpoint { origin: "test.example/log".into(), size: 3, root: other_root, extensions: Vec::new() };
    forked.sign(&signer).expect("a signed checkpoint")
}
