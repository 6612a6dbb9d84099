//! Running the real `aiprov` binary: `serve` as a child process, `token create`, `audit`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

pub const BIN: &str = env!("CARGO_BIN_EXE_aiprov");

pub struct Served {
    child: Child,
    pub base: String,
    /// Every line the server wrote to stderr so far.
    logs: Arc<Mutex<Vec<String>>>,
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log lines so far (stderr).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as an orchestrator stopping the node does.
    pub fn terminate(&self) {
        // SAFETY: kill(2) with a child's pid and a signal number has no memory effects.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }

    /// How the server exited, if it does within `within`.
    pub fn exit_within(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path) -> Served {
    serve_with(dir, &[])
}

/// [`serve`] with more flags.
pub fn serve_with(dir: &Path, flags: &[&str]) -> Served {
    serve_env(dir, flags, &[])
}

/// `aiprov serve` on a free loopback port with `flags`, `--data` and `--keys` under
/// `dir`, and `envs`, its stderr piped: started, not yet read.
fn spawn_serve(dir: &Path, flags: &[&str], envs: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(flags)
        .envs(envs.iter().copied())
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--keys")
        .arg(dir.join("keys"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiprov starts")
}

/// [`serve_with`] with environment variables.
pub fn serve_env(dir: &Path, flags: &[&str], envs: &[(&str, &str)]) -> Served {
    listening(spawn_serve(dir, flags, envs), &format!("aiprov serve {flags:?}"))
}

/// `aiprov witness serve` on a free loopback port with `--data data` and `flags` (the
/// `--log` keys), its stderr piped, once it listens.
pub fn witness(data: &Path, flags: &[&str]) -> Served {
    let child = Command::new(BIN)
        .args(["witness", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(flags)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiprov starts");
    listening(child, "aiprov witness serve")
}

/// Waits for `child` to log "listening on http://ADDR" (`what` names it if it stops
/// first), then keeps draining its stderr.
fn listening(mut child: Child, what: &str) -> Served {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let base = loop {
        let Some(line) = lines.next() else {
            panic!("{what} stopped before listening:\n{}", logs.lock().unwrap().join("\n"));
        };
        let line = line.unwrap();
        let found = line.find("listening on http://").map(|at| {
            let rest = &line[at + "listening on ".len()..];
            // Up to a space, or a quote in a JSON log line.
            rest.split(|c: char| c.is_whitespace() || c == '"').next().unwrap().to_owned()
        });
        logs.lock().unwrap().push(line);
        if let Some(base) = found {
            break base;
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    let kept = logs.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    Served { child, base, logs }
}

/// Starts `aiprov serve` with `flags` (and `--data`/`--keys` under `dir`) expecting it to
/// refuse to start: its exit status and what it wrote to stderr.
pub fn refused(dir: &Path, flags: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = spawn_serve(dir, flags, &[]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < until {
        if child.try_wait().expect("the child can be waited for").is_some() {
            let out = child.wait_with_output().expect("its output");
            return (out.status, String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("its output");
    panic!("aiprov serve {flags:?} did not refuse to start: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn create_token(dir: &Path) -> String {
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

/// Runs `aiprov ARGS...` to completion.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(BIN).args(args).env("NO_COLOR", "1").output().expect("aiprov runs")
}

/// Copies a directory tree (a sled data directory) file by file.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `POST {base}/v1/stamps` with `token`: the status and JSON body.
pub async fn post_stamp(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = client.post(format!("{base}/v1/stamps")).bearer_auth(token).json(body).send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// `POST {base}/v1/verify`: the verdict.
pub async fn post_verify(client: &reqwest::Client, base: &str, body: &serde_json::Value) -> serde_json::Value {
    client.post(format!("{base}/v1/verify")).json(body).send().await.expect("request").json().await.expect("verdict")
}

/// `GET url` as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.expect("request").json().await.expect("JSON")
}

/// Checks that the stamp `stamp` (as `GET /v1/stamps/{id}` returns it) is included in
/// `checkpoint`, with `base`'s inclusion proof and nothing but the leaf rebuilt from
/// the statement and signature; `Err` says why not.
pub async fn check_included(
    client: &reqwest::Client,
    base: &str,
    stamp: &serde_json::Value,
    checkpoint: &ai_provenance::tlog::checkpoint::Checkpoint,
) -> Result<(), String> {
    use ai_provenance::tlog::merkle;
    let leaf =
        serde_jcs::to_vec(&serde_json::json!({"statement": stamp["statement"], "signature": stamp["signature"]}))
            .map_err(|e| e.to_string())?;
    let index = stamp["log"]["index"].as_u64().ok_or("a stamp without a log index")?;
    let size = checkpoint.size;
    let proof = get_json(client, &format!("{base}/v1/log/proof/inclusion?index={index}&tree_size={size}")).await;
    let path: Vec<ai_provenance::Sha256Digest> =
        serde_json::from_value(proof["inclusion_proof"].clone()).map_err(|e| e.to_string())?;
    merkle::verify_inclusion(&merkle::leaf_hash(&leaf), index, size, &path, &checkpoint.root)
        .map_err(|e| format!("stamp {index} is not in the checkpoint of size {size}: {e}"))
}
