//! The real binary: token creation, first start creating keys, and data surviving a
//! hard kill and restart on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::copy_request;

const BIN: &str = env!("CARGO_BIN_EXE_aiprov");

struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--keys")
        .arg(dir.join("keys"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiprov starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("aiprov logs the address it listens on").unwrap();
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, base }
}

fn create_token(dir: &Path) -> String {
    let out = Command::new(BIN)
        .args(["token", "create", "--issuer", "Restart Co"])
        .arg("--data")
        .arg(dir.join("data"))
        .output()
        .expect("token create runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_owned()
}

#[tokio::test]
async fn data_and_keys_survive_a_hard_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    assert!(token.starts_with("aiprov_"), "{token}");
    let client = reqwest::Client::new();

    let first = serve(dir.path());
    let keys_before: Value = client
        .get(format!("{}/v1/keys", first.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut stamped = Vec::new();
    for i in 0..5 {
        let resp = client
            .post(format!("{}/v1/stamps", first.base))
            .bearer_auth(&token)
            .json(&copy_request(&format!("Survives restarts, take {i}.")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        stamped.push(resp.json::<Value>().await.unwrap());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let kid = keys_before["keys"][0]["kid"].as_str().unwrap();
        let mode = std::fs::metadata(dir.path().join("keys").join(format!("{kid}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(first); // SIGKILL: no graceful shutdown, only what was flushed survives.

    let second = serve(dir.path());
    let keys_after: Value = client
        .get(format!("{}/v1/keys", second.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys_before, keys_after, "keys are loaded, not recreated");
    for s in &stamped {
        let id = s["id"].as_str().unwrap();
        let resp = client
            .get(format!("{}/v1/stamps/{id}", second.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "stamp {id} survived");
        let receipt: Value = resp.json().await.unwrap();
        assert_eq!(receipt["statement"], s["statement"]);
        let verdict: Value = client
            .post(format!("{}/v1/verify", second.base))
            .json(&json!({"receipt": receipt}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verdict["verified"], true, "{verdict}");
    }
    // The log continues where it stopped.
    let resp = client
        .post(format!("{}/v1/stamps", second.base))
        .bearer_auth(&token)
        .json(&copy_request("After the restart."))
        .send()
        .await
        .unwrap();
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["log"]["index"], 5, "{after}");
}
