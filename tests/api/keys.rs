//! Key rotation through the real binary: stamp, stop the server, rotate the keys
//! directory with the library, restart, stamp again; both receipts verify.

use serde_json::{json, Value};

use crate::binary::{create_token, serve, Served};
use crate::helpers::copy_request;

async fn stamp(client: &reqwest::Client, server: &Served, token: &str, text: &str) -> Value {
    let resp = client
        .post(format!("{}/v1/stamps", server.base))
        .bearer_auth(token)
        .json(&copy_request(text))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn get(client: &reqwest::Client, server: &Served, path: &str) -> Value {
    let resp = client.get(format!("{}{path}", server.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

async fn verify(client: &reqwest::Client, server: &Served, receipt: &Value) -> Value {
    let resp =
        client.post(format!("{}/v1/verify", server.base)).json(&json!({"receipt": receipt})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn key_check(verdict: &Value) -> &Value {
    verdict["checks"].as_array().and_then(|cs| cs.iter().find(|c| c["name"] == "key")).expect("a key check")
}

#[tokio::test]
async fn a_rotated_key_signs_new_stamps_while_old_receipts_keep_verifying() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let token = create_token(dir.path());
    let client = reqwest::Client::new();

    let first = serve(dir.path());
    let old = stamp(&client, &first, &token, "Stamped before the rotation.").await;
    drop(first); // The server must be stopped: it keeps the keys it loaded at start.

    let report = ai_provenance::keys::rotate(&keys_dir, None).expect("rotation");
    assert_eq!(report.retired.kid.as_str(), old["signature"]["kid"], "the key that signed is the one retired");
    assert!(!keys_dir.join(format!("{}.key", report.retired.kid)).exists(), "its private key is gone");

    let second = serve(dir.path());
    let new = stamp(&client, &second, &token, "Stamped after the rotation.").await;
    assert_ne!(new["signature"]["kid"], old["signature"]["kid"]);
    assert_eq!(new["signature"]["kid"], report.active.kid.as_str());

    let keys = get(&client, &second, "/v1/keys").await;
    let statement_keys: Vec<&Value> =
        keys["keys"].as_array().unwrap().iter().filter(|k| k["purpose"] == "statement").collect();
    assert_eq!(statement_keys.len(), 2, "{keys}");
    let published = |kid: &Value| statement_keys.iter().find(|k| &k["kid"] == kid).copied().expect("published");
    let retired_at = &published(&old["signature"]["kid"])["retired_at"];
    assert_eq!(retired_at.as_str(), Some(report.retired.retired_at.unwrap().to_rfc3339().as_str()), "{keys}");
    assert!(published(&new["signature"]["kid"])["retired_at"].is_null(), "{keys}");

    let old_receipt = get(&client, &second, &format!("/v1/stamps/{}", old["id"].as_str().unwrap())).await;
    let verdict = verify(&client, &second, &old_receipt).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    let check = key_check(&verdict);
    assert_eq!(check["code"], "key.known", "{verdict}");
    assert!(check["message"].as_str().unwrap().contains("retired"), "{check}");

    let new_receipt = get(&client, &second, &format!("/v1/stamps/{}", new["id"].as_str().unwrap())).await;
    let verdict = verify(&client, &second, &new_receipt).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert!(!key_check(&verdict)["message"].as_str().unwrap().contains("retired"), "{verdict}");
}

#[test]
fn encrypted_keys_need_the_passphrase_to_serve() {
    crate::helpers::embedded_only!();
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = Command::new(crate::binary::BIN)
        .arg("keygen")
        .arg("--keys")
        .arg(&keys)
        .env("AIPROV_KEY_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for entry in std::fs::read_dir(&keys).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "key") {
            assert!(std::fs::read_to_string(&path).unwrap().starts_with("aiprov-key-v1:argon2id:"), "{path:?}");
        }
    }
    let serve = |passphrase: Option<&str>| {
        let mut c = Command::new(crate::binary::BIN);
        c.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(dir.path().join("data")).arg("--keys").arg(&keys);
        c.env("NO_COLOR", "1").env_remove("AIPROV_KEY_PASSPHRASE");
        if let Some(p) = passphrase {
            c.env("AIPROV_KEY_PASSPHRASE", p);
        }
        c
    };
    for wrong in [None, Some("wrong")] {
        let out = serve(wrong).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("passphrase"), "{stderr}");
    }
    let mut child = serve(Some("correct horse battery staple")).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let started = lines.any(|l| l.is_ok_and(|l| l.contains("listening on http://")));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "the server starts with the right passphrase");
}

/// `serve` makes its keys private, not the files of the checkout that share `./keys`
/// (`keys/README.md`, `keys/.gitignore`): their modes are the repository's, and a changed
/// mode shows in `git status`.
#[cfg(unix)]
#[tokio::test]
async fn serve_restricts_the_keys_but_not_the_checkouts_files_beside_them() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut keys_dir = std::path::PathBuf::new();
    let app = crate::helpers::spawn_app_with(|config| {
        keys_dir = config.keys_dir.clone();
        std::fs::create_dir_all(&keys_dir).unwrap();
        std::fs::set_permissions(&keys_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["README.md", ".gitignore"] {
            std::fs::write(keys_dir.join(name), "the repository's own file\n").unwrap();
            std::fs::set_permissions(keys_dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    })
    .await;
    assert_eq!(mode(&keys_dir), 0o700, "the keys directory");
    for name in ["README.md", ".gitignore"] {
        assert_eq!(mode(&keys_dir.join(name)), 0o644, "{name} keeps its mode");
    }
    let mut keyring_files = 0;
    for entry in std::fs::read_dir(&keys_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != "README.md" && name != ".gitignore" {
            assert_eq!(mode(&keys_dir.join(&name)), 0o600, "{name}");
            keyring_files += 1;
        }
    }
    assert!(keyring_files >= 4, "the keyring, two keys and the C2PA root are written");
    assert_eq!(mode(&app.data_dir), 0o700, "the data directory");
}
