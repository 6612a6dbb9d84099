//! The README's walkthrough, run as written: its shell block, command by command, against
//! the real binary on a fresh directory. Only what cannot be the same in a test changes:
//! `cargo run --release [-q] --` becomes the test build of `aiprov` (a release build
//! would cost minutes), the port is a free one instead of 8080, and curl fails on an
//! HTTP error (`--fail-with-body`), so that a step that stops working fails this test.

use std::process::Command;
use std::time::Duration;

/// The shell block that follows the "## Walkthrough with curl" heading.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let section = readme.split("## Walkthrough with curl").nth(1).expect("a walkthrough section");
    let block = section.split("```sh\n").nth(1).expect("a sh block");
    block.split("\n```").next().expect("the block's end").to_owned()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    crate::helpers::embedded_only!();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = walkthrough()
        .replace("cargo run --release -q -- ", "\"$AIPROV\" ")
        .replace("cargo run --release -- ", "\"$AIPROV\" ")
        .replace("curl -s ", "curl -sS --fail-with-body ")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    assert!(!script.contains("cargo "), "every cargo command was replaced:\n{script}");
    let script = format!("set -euxo pipefail\n{script}\n");
    let dir = tempfile::tempdir().unwrap();
    // Output goes to files, not pipes: the server the script starts in the background
    // would hold a pipe open after the script ends.
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("AIPROV", crate::binary::BIN)
        .env("AIPROV_LISTEN", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Its own process group, so that the server it starts ends with the test.
    std::os::unix::process::CommandExt::process_group(&mut bash, 0);
    let mut child = bash.spawn().expect("bash runs");
    let group = child.id();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "the walkthrough failed ({status:?})\n--- stdout\n{stdout}\n--- stderr (each command after +)\n{stderr}"
    );
    assert!(stdout.contains("\"verified\":true"), "step 5's first verification passes:\n{stdout}");
    assert!(stdout.contains("content.hash.mismatch"), "step 5's altered text fails as the README says:\n{stdout}");
    let stamp = std::fs::read_to_string(dir.path().join("stamp.json")).expect("step 3 wrote stamp.json");
    assert!(stamp.contains("\"prompt_salt\""), "the issuer keeps the salt: {stamp}");
    let receipt = std::fs::read_to_string(dir.path().join("receipt.json")).expect("step 3 wrote receipt.json");
    assert!(!receipt.contains("prompt_salt"), "the public receipt has none: {receipt}");
}
