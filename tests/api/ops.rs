//! What operators use, against the real server: `/metrics`, `/readyz`, `GET /`, the
//! trusted-proxy setting of rate limits, online backups and their restore, private
//! file modes and JSON logs (the last two through the real binary).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use ai_provenance::verify::audit::{audit_log, audit_remote, public_keys_from_dir};
use ai_provenance::RateLimit;
use ai_provenance::TrustedProxies;
use ai_provenance::{open_reader, Location};
use serde_json::{json, Value};

use crate::binary::{self, copy_dir, post_stamp, BIN};
use crate::helpers::{assert_error, check_code, copy_request, public_receipt, spawn_app, spawn_app_with, TestApp};

/// The value of the series `series` (name and labels exactly as printed) in a scrape.
fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no series {series} in:\n{scrape}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{series}: {e}"))
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    resp.text().await.unwrap()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn metrics_count_routes_statuses_latencies_and_the_log() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    // Concurrent stamps, so that the writer may group them.
    let stamps = futures_util::future::join_all((0..4).map(|i| {
        let app = &app;
        async move { app.stamp_ok(&copy_request(&format!("Metrics, stamp {i}: run further."))).await }
    }))
    .await;
    let id = stamps[0]["id"].as_str().unwrap();
    for _ in 0..2 {
        app.verify(&json!({"text": "Metrics, stamp 0: run further."})).await;
    }
    assert_eq!(app.get(&format!("/v1/stamps/{id}")).await.status(), 200);
    assert_eq!(app.get(&format!("/v1/stamps/{}", "0".repeat(64))).await.status(), 404);
    assert_eq!(app.get("/no/such/route/b5f1c2").await.status(), 404);
    let resp = app.client.delete(app.url(&format!("/v1/stamps/{id}/prompt"))).bearer_auth(&app.token).send().await;
    assert_eq!(resp.unwrap().status(), 200);

    let m = scrape(&app).await;
    let requests = |route: &str, method: &str, status: u16| {
        value(&m, &format!(r#"aiprov_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#))
    };
    assert_eq!(requests("/v1/stamps", "POST", 201), 4.0);
    assert_eq!(requests("/v1/verify", "POST", 200), 2.0);
    // The route is the pattern, never the path: ids and unknown paths are not labels.
    assert_eq!(requests("/v1/stamps/{id}", "GET", 200), 1.0);
    assert_eq!(requests("/v1/stamps/{id}", "GET", 404), 1.0);
    assert_eq!(requests("unmatched", "GET", 404), 1.0);
    assert!(!m.contains(id) && !m.contains("b5f1c2"), "a path reached a label:\n{m}");
    assert_eq!(value(&m, "aiprov_stamp_duration_seconds_count"), 4.0);
    assert!(value(&m, "aiprov_stamp_duration_seconds_sum") > 0.0);
    assert_eq!(value(&m, r#"aiprov_stamp_duration_seconds_bucket{le="+Inf"}"#), 4.0);
    assert_eq!(value(&m, "aiprov_verify_duration_seconds_count"), 2.0);
    assert_eq!(value(&m, "aiprov_log_tree_size"), 4.0);
    // Every leaf went through one written batch and one sync, however they were grouped.
    assert_eq!(value(&m, "aiprov_log_batch_leaves_sum"), 4.0);
    let batches = value(&m, "aiprov_log_batch_leaves_count");
    assert!((1.0..=4.0).contains(&batches), "{batches} batches for 4 leaves");
    assert_eq!(value(&m, "aiprov_log_sync_leaves_sum"), 4.0);
    assert!(value(&m, "aiprov_log_sync_duration_seconds_count") >= 1.0);
    assert_eq!(value(&m, "aiprov_log_writer_queue_depth"), 0.0);
    assert_eq!(value(&m, "aiprov_log_writer_running"), 1.0);
    assert_eq!(value(&m, "aiprov_log_sequencer"), 1.0, "one node: it extends the log");
    let age = value(&m, "aiprov_log_checkpoint_age_seconds");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(value(&m, "aiprov_prompt_erasures_total"), 1.0);

    // Each service has its own registry: the other one counted nothing of this.
    let o = scrape(&other).await;
    assert_eq!(value(&o, "aiprov_log_tree_size"), 0.0);
    assert_eq!(value(&o, "aiprov_stamp_duration_seconds_count"), 0.0);
    assert!(!o.contains(r#"route="/v1/stamps""#), "{o}");
}

#[tokio::test]
async fn readyz_is_ready_and_the_root_leads_to_the_verify_page() {
    let app = spawn_app().await;
    app.stamp_ok(&copy_request("Ready to stamp.")).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["status"], &body["log_writer"], &body["tree_size"]), (&json!("ready"), &json!(true), &json!(1)));
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    // One node is always the sequencer: alone, or the only node on its database.
    assert_eq!(health, json!({"status": "ok", "role": "sequencer", "tree_size": 1}));

    let resp = app.get("/").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/verify");
    assert!(resp.text().await.unwrap().contains(r#"<a href="/verify">"#), "a link for clients that do not follow");
    assert_eq!(app.get("/verify").await.status(), 200, "and the page is there");
}

/// Checks a prompt from this test's loopback address with `X-Forwarded-For` values.
#[tokio::test]
async fn sigterm_stops_the_server_after_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = binary::serve(dir.path());
    let client = reqwest::Client::new();
    let health = client.get(format!("{}/healthz", served.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let pid = libc::pid_t::try_from(served.pid()).unwrap();
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // It once waited for ever: the stop command was never carried out.
    let status = served.exit_within(std::time::Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}; logs: {:?}", served.logs());
    assert!(served.logs().iter().any(|l| l.contains("shutting down")), "{:?}", served.logs());
}

async fn check_from(app: &TestApp, id: &str, forwarded_for: &[&str]) -> u16 {
    let mut req = app.client.post(app.url(&format!("/v1/stamps/{id}/prompt/verify"))).json(&json!({"prompt": "x"}));
    for value in forwarded_for {
        req = req.header("X-Forwarded-For", *value);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forwarded_for_keys_the_rate_limit_only_behind_a_trusted_proxy() {
    let limit = RateLimit { per_second: 0.001, burst: 2 };
    // No trusted proxy: a spoofed header changes nothing, every check counts against
    // the peer's own address.
    let app = spawn_app_with(|c| c.prompt_check_rate = limit).await;
    let id = app.stamp_ok(&copy_request("Spoof me if you can.")).await["id"].as_str().unwrap().to_owned();
    let codes = [
        check_from(&app, &id, &["198.51.100.1"]).await,
        check_from(&app, &id, &["198.51.100.2"]).await,
        check_from(&app, &id, &["198.51.100.3"]).await,
        check_from(&app, &id, &[]).await,
    ];
    assert_eq!(codes, [200, 200, 429, 429], "a header from an untrusted peer changed the rate-limit key");

    // Behind a trusted proxy (this test's loopback address), the right-most untrusted
    // address of the header is the client.
    let proxied = spawn_app_with(|c| {
        c.prompt_check_rate = limit;
        c.trusted_proxies = TrustedProxies::new(vec![TrustedProxies::parse_net("127.0.0.1").unwrap()]);
    })
    .await;
    let id = proxied.stamp_ok(&copy_request("Behind a proxy.")).await["id"].as_str().unwrap().to_owned();
    let first = [
        check_from(&proxied, &id, &["198.51.100.1"]).await,
        check_from(&proxied, &id, &["198.51.100.1"]).await,
        check_from(&proxied, &id, &["198.51.100.1"]).await,
    ];
    assert_eq!(first, [200, 200, 429]);
    // What a client wrote before the proxy appended its address does not help it.
    assert_eq!(check_from(&proxied, &id, &["203.0.113.50, 198.51.100.1"]).await, 429);
    assert_eq!(check_from(&proxied, &id, &["203.0.113.50", "198.51.100.1"]).await, 429);
    // Another client behind the same proxy has its own budget.
    assert_eq!(check_from(&proxied, &id, &["198.51.100.2"]).await, 200);
}

#[tokio::test]
async fn a_backup_taken_while_stamping_restores_to_a_log_that_verifies_and_audits() {
    // On PostgreSQL the database's own backups apply (openapi.rs checks the 403).
    crate::helpers::embedded_only!();
    let app = spawn_app().await;
    let text = |i: usize| format!("Backed up, take {i}.");
    let mut before = Vec::new();
    for i in 0..5 {
        before.push(app.stamp_ok(&copy_request(&text(i))).await);
    }
    let erased_id = before[0]["id"].as_str().unwrap().to_owned();
    let resp = app.client.delete(app.url(&format!("/v1/stamps/{erased_id}/prompt"))).bearer_auth(&app.token).send();
    assert_eq!(resp.await.unwrap().status(), 200);

    // Stamps in flight while the backup is written: each is in it or not, never half.
    let during = futures_util::future::join_all((5..25).map(|i| {
        let (app, body) = (&app, copy_request(&text(i)));
        async move { app.stamp_ok(&body).await }
    }));
    let name = json!({"name": "nightly"});
    let backup = post(&app, "/v1/admin/backup", Some(&app.admin_token), &name);
    let (during, (status, report)) = tokio::join!(during, backup);
    assert_eq!(status, 201, "{report}");
    let size = report["tree_size"].as_u64().unwrap();
    assert!((5..=25).contains(&size), "{report}");
    let path = std::path::PathBuf::from(report["path"].as_str().unwrap());
    assert_eq!(path, app.config.backup_dir.as_ref().unwrap().join("nightly"));
    let mut after = Vec::new();
    for i in 25..28 {
        after.push(app.stamp_ok(&copy_request(&text(i))).await);
    }

    // Refusals: the same name, a name that is a path, no admin token, no backup directory.
    let (s, b) = post(&app, "/v1/admin/backup", Some(&app.admin_token), &json!({"name": "nightly"})).await;
    assert_eq!(assert_error(s, &b, 409), "conflict");
    let (s, b) = post(&app, "/v1/admin/backup", Some(&app.admin_token), &json!({"name": "../escape"})).await;
    assert_eq!((assert_error(s, &b, 422), &b["error"]["field"]), ("invalid_field".into(), &json!("name")));
    let (s, b) = post(&app, "/v1/admin/backup", Some(&app.token), &json!({"name": "mine"})).await;
    assert_eq!(assert_error(s, &b, 403), "forbidden");
    let no_dir = spawn_app_with(|c| c.backup_dir = None).await;
    let (s, b) = post(&no_dir, "/v1/admin/backup", Some(&no_dir.admin_token), &json!({"name": "x"})).await;
    assert!(
        assert_error(s, &b, 403) == "forbidden" && b["error"]["message"].as_str().unwrap().contains("--backup-dir")
    );
    assert_private(&path);

    // The backup audits clean offline, exactly at its checkpoint.
    let keys = public_keys_from_dir(&app.config.keys_dir).unwrap();
    let audit = audit_log(&open_reader(&Location::Local(path.clone())).unwrap(), &keys, |_, _| {}).unwrap();
    assert!(audit.ok(), "{:?}", audit.problems);
    assert_eq!((audit.leaves, audit.uncovered), (size, 0));
    assert_eq!(audit.checkpoint.as_deref(), report["checkpoint"].as_str());

    // Restore as the README says: a copy of the backup becomes a data directory, served
    // with the same keys.
    let restored_dir = tempfile::tempdir().unwrap();
    copy_dir(&path, &restored_dir.path().join("data"));
    let keys_dir = app.config.keys_dir.clone();
    let restored = spawn_app_with(|c| {
        c.data_dir = restored_dir.path().join("data");
        c.keys_dir = keys_dir;
    })
    .await;
    let checkpoint = restored.get("/v1/log/checkpoint").await.text().await.unwrap();
    assert_eq!(checkpoint, report["checkpoint"].as_str().unwrap(), "the restored log ends at the backup's checkpoint");
    // Every stamp acknowledged before the backup was asked for is there and verifies.
    for (i, stamp) in before.iter().enumerate() {
        let verdict = restored.verify(&json!({"text": text(i), "receipt": public_receipt(stamp)})).await;
        assert_eq!(verdict["verified"], true, "stamp {i}: {verdict}");
        let id = stamp["id"].as_str().unwrap();
        assert_eq!(restored.get(&format!("/v1/stamps/{id}")).await.status(), 200);
    }
    // Salts, tokens and the erasure register came along: prompts check, the erased one
    // stays erased, the original tokens still stamp.
    let prompt = copy_request("")["prompt"].clone();
    let id1 = before[1]["id"].as_str().unwrap();
    let (s, b) = post(&restored, &format!("/v1/stamps/{id1}/prompt/verify"), None, &json!({"prompt": prompt})).await;
    assert_eq!((s, &b["matches"]), (200, &json!(true)), "{b}");
    let (s, _) =
        post(&restored, &format!("/v1/stamps/{erased_id}/prompt/verify"), None, &json!({"prompt": prompt})).await;
    assert_eq!(s, 410);
    let next = restored.stamp_ok_with(&app.token, &copy_request("After the restore.")).await;
    assert_eq!(next["log"]["index"], json!(size), "the restored log goes on where the backup ends");
    let verdict = restored.verify(&json!({"text": "After the restore.", "receipt": public_receipt(&next)})).await;
    assert_eq!(check_code(&verdict, "log"), "log.included", "{verdict}");
    // Those stamped meanwhile are there exactly when the backup's tree covers them, also
    // once the restored log has grown past it (no index entry outlived the copy).
    for stamp in &during {
        let id = stamp["id"].as_str().unwrap();
        let expected = if stamp["log"]["index"].as_u64().unwrap() < size { 200 } else { 404 };
        assert_eq!(restored.get(&format!("/v1/stamps/{id}")).await.status(), expected, "{id}");
    }
    for stamp in &after {
        let id = stamp["id"].as_str().unwrap();
        assert_eq!(restored.get(&format!("/v1/stamps/{id}")).await.status(), 404, "stamped after the backup");
    }
    // A new erasure is recorded after the restored one, not over it.
    let resp = restored.client.delete(restored.url(&format!("/v1/stamps/{id1}/prompt"))).bearer_auth(&app.token);
    assert_eq!(resp.send().await.unwrap().status(), 200);
    let resp = restored.client.get(restored.url("/v1/admin/erasures")).bearer_auth(&restored.admin_token).send();
    let register: Value = resp.await.unwrap().json().await.unwrap();
    let erased: Vec<&Value> = register["erasures"].as_array().unwrap().iter().map(|r| &r["stamp_id"]).collect();
    assert_eq!(erased, [&json!(erased_id), &json!(id1)], "{register}");

    let (report, _) = audit_remote(&reqwest::Client::new(), &restored.url(""), None, |_, _| {}).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.leaves, size + 1);
}

/// Every file under `dir` is mode 0600 and every directory 0700.
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no file at all under {}", dir.display());
}

/// Runs `aiprov ARGS` with `envs` to completion: its exit code, stdout and stderr.
fn aiprov<S: AsRef<OsStr>>(args: &[S], envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).envs(envs.iter().copied()).env("NO_COLOR", "1").output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn the_real_binary_keeps_its_files_private_and_backs_up_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (data, keys, backups) = (dir.path().join("data"), dir.path().join("keys"), dir.path().join("backups"));
    let (code, out, err) =
        aiprov(&["token", "create", "--issuer", "Ops", "--admin", "--data", data.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    let admin = out.lines().last().unwrap().trim().to_owned();
    let served = binary::serve_with(dir.path(), &["--backup-dir", backups.to_str().unwrap()]);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, body) = post_stamp(&client, &served.base, &admin, &copy_request(&format!("Private {i}."))).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // An erasure writes a new salt directory long after the start: the umask covers it.
    let resp = client.delete(format!("{}/v1/stamps/{}/prompt", served.base, ids[0])).bearer_auth(&admin).send().await;
    assert_eq!(resp.unwrap().status(), 200);

    let (code, out, err) = tokio::task::spawn_blocking({
        let (base, admin) = (served.base.clone(), admin.clone());
        move || aiprov(&["backup", "weekly", "--url", &base], &[("AIPROV_TOKEN", &admin)])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    let path = std::path::PathBuf::from(out.lines().last().unwrap());
    assert_eq!(path, backups.join("weekly"), "{out}");
    for d in [&data, &keys, &backups] {
        assert_private(d);
    }

    // The backup audits clean with the CLI, while the service still runs.
    let (code, out, err) = aiprov(&["audit", "--data", path.to_str().unwrap(), "--keys", keys.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("leaves audited: 3"), "{out}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let served = binary::serve_env(dir.path(), &[], &[("AIPROV_LOG_FORMAT", "json")]);
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{}/healthz", served.base)).send().await.unwrap().status(), 200);
    let logs = wait_for(|| served.logs().into_iter().find(|l| l.contains("aiprov::access")).map(|_| served.logs()));
    for line in &logs {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string() && v["timestamp"].is_string(), "{line}");
    }
    let listening = logs.iter().find(|l| l.contains("listening on")).unwrap();
    let v: Value = serde_json::from_str(listening).unwrap();
    assert!(v["addr"].as_str().is_some_and(|a| served.base.ends_with(a)), "fields stand beside the message: {v}");

    // The access log's parts are fields, not one preformatted message (issue 23, point 4).
    let access: Value = serde_json::from_str(logs.iter().find(|l| l.contains("aiprov::access")).unwrap()).unwrap();
    assert_eq!(access["target"], "aiprov::access", "{access}");
    assert_eq!(access["method"], "GET", "{access}");
    assert_eq!(access["route"], "/healthz", "{access}");
    assert_eq!(access["path"], "/healthz", "{access}");
    assert_eq!(access["status"], 200, "{access}");
    assert!(access["bytes"].as_u64().is_some_and(|b| b > 0), "{access}");
    assert!(access["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{access}");
    assert_eq!(access["client"], "127.0.0.1", "{access}");
    assert!(access["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{access}");
    assert!(!access["message"].as_str().unwrap().contains("/healthz"), "not preformatted: {access}");
    // A path nothing matches, with a query string that stays out of the log.
    let resp = client.get(format!("{}/no/such/path?text=secret-copy", served.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let line = wait_for(|| served.logs().into_iter().find(|l| l.contains("\"/no/such/path\"")));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((v["route"].as_str(), v["status"].as_u64()), (Some("unmatched"), Some(404)), "{v}");
    assert!(!line.contains("secret-copy"), "{line}");
    assert_ne!(v["request_id"], access["request_id"], "one id per request");
    // Events of dependencies (actix-server's, through the `log` bridge) name their
    // target, never a source file in the build machine's cargo registry.
    for line in served.logs() {
        assert!(!line.contains("log.file") && !line.contains(".cargo/registry"), "{line}");
    }
    assert!(served.logs().iter().any(|l| l.contains("\"target\":\"actix_server")), "{:#?}", served.logs());

    let (code, _, err) =
        aiprov(&["keygen", "--keys", dir.path().join("k").to_str().unwrap()], &[("AIPROV_LOG_FORMAT", "xml")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("AIPROV_LOG_FORMAT must be text or json"), "{err}");
}

/// Polls `f` for up to 5 s.
fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(t) = f() {
            return t;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("gave up waiting")
}
