//! The README's shell blocks, run as written: the walkthrough, then the blocks that follow
//! on from it (key rotation, checking the log with Go's tlog packages), command by
//! command, against the real binary on a fresh directory. Only what cannot be the same in
//! a test changes: `cargo run --release [-q] --` becomes the test build of `aiprov` (a
//! release build would cost minutes), the port is a free one instead of 8080, and curl
//! fails on an HTTP error (`--fail-with-body`), so that a step that stops working fails
//! this test.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// The shell block that follows the "## Walkthrough with curl" heading.
fn walkthrough() -> String {
    let readme = readme();
    let section = readme.split("## Walkthrough with curl").nth(1).expect("a walkthrough section");
    let block = section.split("```sh\n").nth(1).expect("a sh block");
    block.split("\n```").next().expect("the block's end").to_owned()
}

/// The one shell block of the README that holds `needle`.
pub(crate) fn sh_block_with(needle: &str) -> String {
    let readme = readme();
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .filter(|b| b.contains(needle))
        .collect();
    assert_eq!(blocks.len(), 1, "one sh block of the README holds {needle:?}: {blocks:#?}");
    blocks[0].to_owned()
}

/// What a script run left: its exit status (`None`: killed after the time limit), stdout
/// and stderr.
pub(crate) struct Ran {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub(crate) fn assert_success(&self, what: &str) {
        assert!(
            self.status.is_some_and(|s| s.success()),
            "{what} failed ({:?})\n--- stdout\n{}\n--- stderr (each command after +)\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs README commands in `dir` as the README's reader would, changed only as the module
/// documentation says, with `envs` set; everything it started in the background is
/// killed when it ends or after `limit`.
pub(crate) fn run_readme_script(script: &str, dir: &Path, port: u16, envs: &[(&str, &str)], limit: Duration) -> Ran {
    let script = script
        .replace("cargo run --release -q -- ", "\"$AIPROV\" ")
        .replace("cargo run --release -- ", "\"$AIPROV\" ")
        .replace("curl -s ", "curl -sS --fail-with-body ")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    assert!(!script.contains("cargo "), "every cargo command was replaced:\n{script}");
    let script = format!("set -euxo pipefail\n{script}\n");
    // Output goes to files, not pipes: a server the script starts in the background
    // would hold a pipe open after the script ends.
    let (out_path, err_path) = (dir.join(".readme-stdout"), dir.join(".readme-stderr"));
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("AIPROV", crate::binary::BIN)
        .env("AIPROV_LISTEN", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Its own process group, so that the servers it starts end with the test.
    std::os::unix::process::CommandExt::process_group(&mut bash, 0);
    let mut child = bash.spawn().expect("bash runs");
    let group = child.id();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Quietly: the group is usually gone already.
    let _ =
        Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).stderr(std::process::Stdio::null()).status();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    Ran { status, stdout, stderr }
}

/// A free loopback port, for a server the script starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    // The walkthrough, then the key rotation of "Security and privacy" while the service
    // runs (through it: the local admin token, then an admin token made as the README
    // says), then, with the service stopped, the offline rotation.
    let script = format!(
        "{}\n{}\nkill $SERVER_PID; wait $SERVER_PID || true\n{}\n",
        walkthrough().replacen("serve &\n", "serve &\nSERVER_PID=$!\n", 1),
        sh_block_with("keys rotate --url"),
        sh_block_with("keys rotate --keys ./keys"),
    );
    let ran = run_readme_script(&script, dir.path(), free_port(), &[], Duration::from_secs(180));
    ran.assert_success("the walkthrough and the key rotation");
    let stdout = &ran.stdout;
    assert!(stdout.contains("\"verified\":true"), "step 5's first verification passes:\n{stdout}");
    assert!(stdout.contains("content.hash.mismatch"), "step 5's altered text fails as the README says:\n{stdout}");
    let stamp = std::fs::read_to_string(dir.path().join("stamp.json")).expect("step 3 wrote stamp.json");
    assert!(stamp.contains("\"prompt_salt\""), "the issuer keeps the salt: {stamp}");
    let receipt = std::fs::read_to_string(dir.path().join("receipt.json")).expect("step 3 wrote receipt.json");
    assert!(!receipt.contains("prompt_salt"), "the public receipt has none: {receipt}");
    // Four rotations: the local admin token, the admin token by the CLI and by curl, and
    // offline. Each printed its new key.
    assert_eq!(stdout.matches("new statement key").count(), 3, "three CLI rotations:\n{stdout}");
    assert!(stdout.contains("\"retired\":"), "the curl rotation answered:\n{stdout}");
    let keyring: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("keys/keyring.json")).unwrap()).unwrap();
    let statement_keys = keyring.to_string().matches("\"statement\"").count();
    assert_eq!(statement_keys, 5, "the first key and four rotations: {keyring}");
}

/// The two-node quick start of "Several nodes on one PostgreSQL database", as written,
/// on the test server: a database and a keys directory of its own, so that following the
/// README in order never points a second log at the walkthrough's `./keys` or at the
/// `postgres` database (issue 23, point 10).
#[test]
fn the_readme_two_node_quick_start_runs_as_written() {
    crate::helpers::postgres_only!();
    let block = sh_block_with("--data ./node2");
    assert!(!block.contains("./keys ") && !block.contains("5432/postgres --"), "its own keys and database:\n{block}");
    assert!(!block.contains("127.0.0.1:8080"), "its own ports, beside the walkthrough's service:\n{block}");
    // The server the suite uses (maybe a throwaway cluster), and a database name of this
    // run's own, dropped at the end.
    let probe = crate::helpers::test_database();
    let server = probe.server().rsplit_once('/').expect("a server URL").0.to_owned();
    let name = format!("aiprov_nodes_{}", probe.name().trim_start_matches("aiprov_test_"));
    let (node1, node2) = (free_port(), free_port());
    let script = block
        .replace("postgres://postgres@127.0.0.1:5432", &server)
        .replace("aiprov_nodes", &name)
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{node1}"))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{node2}"));
    let dir = tempfile::tempdir().unwrap();
    let ran = run_readme_script(&script, dir.path(), free_port(), &[], Duration::from_secs(120));
    let dropped = Command::new("psql")
        .args([&format!("{server}/postgres"), "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
        .output();
    ran.assert_success("the two-node quick start");
    assert!(dropped.is_ok_and(|o| o.status.success()), "the quick start's database is dropped");
    let out = &ran.stdout;
    assert!(out.contains("\"role\":\"sequencer\"") && out.contains("\"role\":\"frontend\""), "{out}");
    assert!(out.contains("\"verified\":true"), "stamped on one node, verified on the other:\n{out}");
    assert!(dir.path().join("nodes-keys/keyring.json").is_file(), "the nodes' keys are their own");
    assert!(!dir.path().join("keys").exists(), "the walkthrough's ./keys is not touched");
}
