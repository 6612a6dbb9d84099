//! The local admin credential: how `aiprov token ...` and `aiprov erasures` work while
//! `serve` holds the data directory.
//!
//! sled lets one process open a database, so a command that edits tokens cannot open the
//! data directory of a running service. Instead, on its first start (no token exists
//! yet) `serve` creates an admin token and writes it, with the URL it listens on, to
//! `<data>/local-admin.json`, mode 0600; every later start refreshes the URL. Whoever can
//! read the data directory can already read every salt in it, so the file grants nothing
//! new; the secret never reaches a log line. Revoking that token (`aiprov token revoke`)
//! ends it like any other.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const FILE: &str = "local-admin.json";

#[derive(Serialize, Deserialize)]
pub(super) struct LocalAdmin {
    /// Where the service listens, e.g. `http://127.0.0.1:8080`.
    pub(super) url: String,
    /// An admin token of that service.
    pub(super) token: String,
    /// Whether that service keeps its state in a database (`--database`): then the
    /// data directory holds no tokens, and the commands must go through the service
    /// (or be given `--database`) even when they could open the directory.
    #[serde(default)]
    pub(super) shared: bool,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

impl LocalAdmin {
    /// The credential a running service left in `data_dir`, if any.
    pub(super) fn read(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the credential, replacing any (atomically, created 0600).
    pub(super) fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = path(data_dir);
        // A temporary name of this process's own: nodes that share a data directory and
        // start together each write theirs, and the last rename wins whole.
        let tmp = data_dir.join(format!("{FILE}.{}.tmp", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Refreshes the URL of an existing credential (the port may change between starts)
    /// and whether the service uses a database.
    pub(super) fn update(data_dir: &Path, url: &str, shared: bool) -> anyhow::Result<()> {
        if let Some(mut admin) = Self::read(data_dir)? {
            if admin.url != url || admin.shared != shared {
                admin.url = url.to_owned();
                admin.shared = shared;
                admin.write(data_dir)?;
            }
        }
        Ok(())
    }

    /// Calls the running service's admin API: `method` on `path` (under `/v1/admin`).
    pub(super) fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}/v1/admin{path}", self.url.trim_end_matches('/'));
        super::runtime()?.block_on(async {
            let mut req = reqwest::Client::new().request(method, &url).bearer_auth(&self.token);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.with_context(|| format!("the service at {} does not answer", self.url))?;
            let status = resp.status();
            let body: Value = resp.json().await.with_context(|| format!("{url}: not a JSON answer"))?;
            if !status.is_success() {
                let message = body["error"]["message"].as_str().unwrap_or("no message");
                anyhow::bail!("the service refused ({status}): {message}");
            }
            Ok(body)
        })
    }
}
