use std::net::SocketAddr;

use ai_provenance::statement::IssuerName;
use ai_provenance::Limits;
use ai_provenance::{Service, ServiceConfig};
use serde_json::{json, Value};

/// Largest JSON body in tests: small, so that the 413 path is cheap to reach.
pub const TEST_MAX_JSON: usize = 256 * 1024;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// An issuer token of "Acme Test".
    pub token: String,
    /// An issuer token of another issuer, "Other Co".
    pub other_token: String,
    /// An admin token ("Operator").
    pub admin_token: String,
    pub data_dir: std::path::PathBuf,
    /// The configuration it was started with.
    pub config: ServiceConfig,
    /// The test's own PostgreSQL database when the suite runs on that backend; dropped
    /// when the test ends.
    pub db: Option<ai_provenance::TempDatabase>,
    /// Deleted when the test ends; held for that alone.
    _dir: tempfile::TempDir,
}

/// Whether this binary runs the suite on PostgreSQL: the same tests are built twice,
/// as `api` (the embedded backend) and `api_pg` (Cargo.toml).
pub fn on_postgres() -> bool {
    env!("CARGO_CRATE_NAME") == "api_pg"
}

/// Ends a test that is about the embedded backend's data directory (files, sled, crash
/// recovery of the files) when the suite runs on PostgreSQL, saying so.
macro_rules! embedded_only {
    () => {
        if crate::helpers::on_postgres() {
            eprintln!("about the embedded backend's data directory: not run on PostgreSQL");
            return;
        }
    };
}
pub(crate) use embedded_only;

/// Ends a test that needs PostgreSQL (several nodes on one database) unless the suite
/// runs on it, saying so.
macro_rules! postgres_only {
    () => {
        if !crate::helpers::on_postgres() {
            eprintln!("about nodes sharing a PostgreSQL database: run by the api_pg suite");
            return;
        }
    };
}
pub(crate) use postgres_only;

/// A PostgreSQL database of the test's own, dropped with the value: on the machine's
/// server, or on a throwaway cluster started from its binaries (`src/pg/cluster.rs`).
///
/// Where there is neither, every test of the `api_pg` binary would need what cannot be
/// had: the binary ends there, passing, after `TempDatabase::for_test` said in one line
/// why and how to enable it (install PostgreSQL, or set `AIPROV_TEST_POSTGRES`). With
/// `AIPROV_REQUIRE_POSTGRES=1` (CI) that is a failure instead.
pub fn test_database() -> ai_provenance::TempDatabase {
    ai_provenance::TempDatabase::for_test().unwrap_or_else(|| std::process::exit(0))
}

/// A connection to the PostgreSQL database at `url`.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    client
}

fn init_logs() {
    // Quiet unless TEST_LOG is set, as in zero-to-production.
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    }
}

pub fn config_in(dir: &std::path::Path) -> ServiceConfig {
    let mut config = ServiceConfig::new(dir.join("data"), dir.join("keys"), "test.example/log".into());
    config.backup_dir = Some(dir.join("backups"));
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the configuration adjusted first (rate limits, ...).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut ServiceConfig)) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config_in(dir.path());
    let db = on_postgres().then(test_database);
    config.database = db.as_ref().map(|db| db.url().to_owned());
    adjust(&mut config);
    let service = std::sync::Arc::new(Service::open(&config).expect("the service opens"));
    let token =
        |issuer: &str, admin| service.create_token(IssuerName::parse(issuer).unwrap(), admin).expect("token").secret;
    let (token, other_token, admin_token) =
        (token("Acme Test", false), token("Other Co", false), token("Operator", true));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    let limits = Limits { max_json_bytes: TEST_MAX_JSON };
    tokio::spawn(ai_provenance::run(listener, service, limits, std::future::pending()));
    // Redirects are answers to check, not to follow.
    // Idle connections are dropped before the server's 5 s keep-alive closes them: on a
    // loaded machine a request sent on a connection the server is closing at that very
    // moment fails with IncompleteMessage, a race of the test client, not of the service.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("a client");
    let data_dir = config.data_dir.clone();
    TestApp { addr, client, token, other_token, admin_token, data_dir, config, db, _dir: dir }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn stamp(&self, body: &Value) -> reqwest::Response {
        self.client.post(self.url("/v1/stamps")).bearer_auth(&self.token).json(body).send().await.expect("request")
    }

    /// Stamps and returns the 201 body, failing the test otherwise.
    pub async fn stamp_ok(&self, body: &Value) -> Value {
        self.stamp_ok_with(&self.token, body).await
    }

    /// [`TestApp::stamp_ok`] with another token.
    pub async fn stamp_ok_with(&self, token: &str, body: &Value) -> Value {
        let resp =
            self.client.post(self.url("/v1/stamps")).bearer_auth(token).json(body).send().await.expect("request");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 201, "stamp failed: {body}");
        body
    }

    /// Stamps an image through the streamed upload (an image is often larger than a JSON
    /// body may be here), as a content pipeline would; the 201 body.
    pub async fn stamp_image(&self, file: &[u8], media_type: &str) -> Value {
        let mut metadata = copy_request("");
        let body = metadata.as_object_mut().expect("an object");
        body.remove("text");
        body.insert("kind".into(), json!("image"));
        body.insert("disclosure".into(), json!({"text": "This image was generated with AI.", "lang": "en"}));
        let resp = self
            .client
            .post(self.url("/v1/stamps/upload"))
            .bearer_auth(&self.token)
            .header("aiprov-metadata", metadata.to_string())
            .header("content-type", media_type)
            .body(file.to_vec())
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 201, "stamp failed: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json body"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self.client.post(self.url(path)).json(body).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json body"))
    }

    pub async fn verify(&self, body: &Value) -> Value {
        let (status, v) = self.post_json("/v1/verify", body).await;
        assert_eq!(status, 200, "verify answered {status}: {v}");
        v
    }
}

/// A typical marketing-copy stamp request.
pub fn copy_request(text: &str) -> Value {
    json!({
        "text": text,
        "kind": "marketing_copy",
        "generator": {"provider": "ExampleAI", "model": "copywriter", "model_version": "2026-10"},
        "prompt": "Write a two-line slogan for a trail running shoe. Customer: jane@example.com",
        "disclosure": {"text": "This text was generated with AI and reviewed by our team.", "lang": "en"},
        "human_oversight": "reviewed"
    })
}

/// The public receipt in a stamp response: the response without its secret
/// `prompt_salt`, which `POST /v1/verify` refuses.
pub fn public_receipt(stamped: &Value) -> Value {
    let mut r = stamped.clone();
    r.as_object_mut().expect("a stamp response is an object").remove("prompt_salt");
    r
}

/// The code of the check named `name` in a verdict.
pub fn check_code(verdict: &Value, name: &str) -> String {
    verdict["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .map(|c| c["code"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("no check {name} in {verdict}"))
}

/// Asserts the shared JSON error shape, and returns the error code.
pub fn assert_error(status: u16, body: &Value, expected_status: u16) -> String {
    assert_eq!(status, expected_status, "body: {body}");
    let code = body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code in {body}"));
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
    code.to_owned()
}

/// Asserts the shared JSON error shape with its status, code and `field` (`None`: no
/// field), and that a schema error reads as a sentence, not as a parser position.
pub fn assert_error_at(status: u16, body: &Value, expected: (u16, &str, Option<&str>), label: &str) {
    let (expected_status, expected_code, expected_field) = expected;
    assert_eq!(status, expected_status, "{label}: {body}");
    assert_eq!(body["error"]["code"], expected_code, "{label}: {body}");
    assert_eq!(body["error"]["field"].as_str(), expected_field, "{label}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_else(|| panic!("{label}: no message in {body}"));
    assert!(!message.is_empty(), "{label}: {body}");
    if expected_code == "invalid_field" {
        assert!(!message.contains(" at line "), "{label}: a position is no use to a client: {message}");
    }
}

/// A reference script of `tests/reference/` (it installs its pinned packages from PyPI
/// into a venv of its own under the target directory, `workdir`), given `jobs` as JSON
/// on stdin: the JSON it writes on stdout. `None`, having said why, when Python or PyPI
/// cannot be had here (the script's exit status 3), unless `AIPROV_REQUIRE_REFERENCE=1`.
pub fn run_reference(script: &str, workdir: &str, jobs: &Value) -> Option<Value> {
    use std::io::Write;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), std::path::PathBuf::from);
    let required = std::env::var("AIPROV_REQUIRE_REFERENCE").is_ok_and(|v| v == "1");
    let child = std::process::Command::new("python3")
        .arg(root.join("tests/reference").join(script))
        .arg(target.join(workdir))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(!required, "AIPROV_REQUIRE_REFERENCE=1, but python3 could not be run: {e}");
            eprintln!("skipped the reference check of {script}: python3 could not be run: {e}");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(jobs.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) {
        assert!(!required, "AIPROV_REQUIRE_REFERENCE=1, but {script} could not install its packages: {stderr}");
        eprintln!("skipped the reference check of {script}: {stderr}");
        return None;
    }
    assert!(output.status.success(), "{script} failed: {stderr}");
    Some(serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script} wrote no JSON: {e}")))
}

/// C2PA's own Python tools (c2pa-python, c2pa-text; pinned in
/// `tests/reference/c2pa_reference.py`) run on `jobs` (see the script): one result per
/// job, or `None` as [`run_reference`] says.
pub fn c2pa_reference(jobs: &Value) -> Option<Vec<Value>> {
    let results = run_reference("c2pa_reference.py", "c2pa-reference", jobs)?;
    Some(serde_json::from_value(results).expect("a JSON list of results"))
}
