//! A data directory on a read-only or full filesystem at start: a clear error and a
//! non-zero exit, never a panic, and no damage to data already there. Uses tmpfs mounts
//! in a private mount namespace (`unshare -m`, as root); where that is not allowed the
//! test says so and skips.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::binary::{create_token, post_stamp, post_verify, serve, BIN};
use crate::helpers::copy_request;

/// Runs `script` (sh) in a private mount namespace; `None` when namespaces or mounts
/// are not allowed here.
fn in_mount_namespace(script: &str) -> Option<std::process::Output> {
    let probe = Command::new("unshare").args(["-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED disk test: cannot mount a tmpfs in a private mount namespace here (needs root and unshare)");
        return None;
    }
    Some(Command::new("unshare").args(["-m", "sh", "-c", script]).env("NO_COLOR", "1").output().expect("unshare runs"))
}

fn assert_clean_failure(out: &std::process::Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("aiprov: error:") && stderr.contains(expect), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn read_only_and_full_filesystems_at_start_fail_clearly() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let (mnt, keys) = (dir.path().join("mnt"), dir.path().join("keys"));
    std::fs::create_dir_all(&mnt).unwrap();
    let (m, k) = (mnt.display(), keys.display());
    let serve = format!("timeout 20 {BIN} serve --listen 127.0.0.1:0 --data {m}/data --keys {k}");
    let Some(out) = in_mount_namespace(&format!("mount -t tmpfs -o ro,size=1m tmpfs {m} && {serve}")) else { return };
    assert_clean_failure(&out, "Read-only file system");

    let fill = format!("mkdir {m}/data && (dd if=/dev/zero of={m}/fill bs=64k 2>/dev/null; true)");
    let out = in_mount_namespace(&format!("mount -t tmpfs -o size=1m tmpfs {m} && {fill} && {serve}")).unwrap();
    assert_clean_failure(&out, "No space left on device");
}

#[tokio::test]
async fn existing_data_on_a_filesystem_turned_read_only_is_refused_and_left_intact() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    let server = serve(dir.path());
    let client = reqwest::Client::new();
    let stamped: Value =
        post_stamp(&client, &server.base, &token, &copy_request("Written before the disk went read-only.")).await.1;
    drop(server);

    let data: &Path = &dir.path().join("data");
    let d = data.display();
    let keys = dir.path().join("keys");
    let script = format!(
        "mount --bind {d} {d} && mount -o remount,ro,bind {d} && timeout 20 {BIN} serve --listen 127.0.0.1:0 --data {d} --keys {}",
        keys.display()
    );
    let Some(out) = tokio::task::spawn_blocking(move || in_mount_namespace(&script)).await.unwrap() else { return };
    assert_clean_failure(&out, "Read-only file system");

    // Writable again (the mount lived only in that namespace): nothing was damaged.
    let server = serve(dir.path());
    let id = stamped["id"].as_str().unwrap();
    let receipt: Value =
        client.get(format!("{}/v1/stamps/{id}", server.base)).send().await.unwrap().json().await.unwrap();
    let verdict: Value = post_verify(&client, &server.base, &serde_json::json!({ "receipt": receipt })).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
}
