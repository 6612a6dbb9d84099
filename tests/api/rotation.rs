//! Admin commands while serving. Every receipt acknowledged before, during and after a
//! key rotation under stamping load verifies in the service, offline and in the audit; an
//! offline rotation is refused while a service runs on the keys; and the token commands
//! work while a service holds the data directory.

use std::sync::Arc;

use ai_provenance::verify::audit::audit_remote;
use ai_provenance::verify::{verify_receipt, TrustAnchors, Verdict};
use serde_json::{json, Value};

use crate::helpers::{copy_request, spawn_app, TestApp};

/// Stamps `count` texts one after the other; every acknowledged stamp response.
async fn stamp_many(app: Arc<TestApp>, worker: usize, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..count {
        out.push(app.stamp_ok(&copy_request(&format!("Worker {worker}, copy {i}: rotate me if you can."))).await);
    }
    out
}

async fn rotate(app: &TestApp) -> Value {
    let resp =
        app.client.post(app.url("/v1/admin/keys/rotate")).bearer_auth(&app.admin_token).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

#[tokio::test]
async fn receipts_from_before_during_and_after_rotations_under_load_all_verify() {
    let app = Arc::new(spawn_app().await);
    let workers: Vec<_> = (0..6).map(|w| tokio::spawn(stamp_many(app.clone(), w, 60))).collect();
    // Two rotations while the workers stamp, a moment apart.
    let mut rotations = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        rotations.push(rotate(&app).await);
    }
    let mut stamped = Vec::new();
    for w in workers {
        stamped.extend(w.await.expect("worker"));
    }
    assert_eq!(stamped.len(), 360);
    let kids: std::collections::HashSet<&str> =
        stamped.iter().map(|s| s["signature"]["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 3, "stamps were signed by the first key and by each rotation's new key: {kids:?}");
    assert_eq!(rotations[0]["active"]["kid"], rotations[1]["retired"]["kid"]);

    // Offline, with the published keys as they are now (retired keys included).
    let (_, keys) = app.get_json("/v1/keys").await;
    let trust = TrustAnchors::from_keys_document(&keys).expect("keys document");
    for s in &stamped {
        let mut receipt = s.clone();
        receipt.as_object_mut().unwrap().remove("prompt_salt");
        let (checks, stamp) = verify_receipt(&receipt, None, &trust);
        let verdict = Verdict::from_checks(checks, stamp);
        assert!(verdict.verified, "offline: {}", serde_json::to_string(&verdict).unwrap());

        // In the service, with its newest proof.
        let (status, fresh) = app.get_json(&format!("/v1/stamps/{}", s["id"].as_str().unwrap())).await;
        assert_eq!(status, 200);
        let verdict = app.verify(&json!({"receipt": fresh})).await;
        assert_eq!(verdict["verified"], true, "service: {verdict}");
    }

    // And the audit, which applies the same retirement rule.
    let (report, _) = audit_remote(&app.client, &app.url(""), None, |_, _| {}).await.expect("audit runs");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.leaves, 360);
}

#[tokio::test]
async fn rotation_needs_an_admin_token() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/v1/admin/keys/rotate")).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app.client.post(app.url("/v1/admin/keys/rotate")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // A malformed flag is a JSON error naming it, before anything is rotated.
    let resp = app
        .client
        .post(app.url("/v1/admin/keys/rotate?force=null"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("invalid_query"), Some("force")),
        "{body}"
    );
}

#[test]
fn the_cli_rotates_a_running_service_through_it_and_refuses_to_rotate_under_it() {
    crate::helpers::embedded_only!();
    use crate::binary::{run, serve};
    let dir = tempfile::tempdir().unwrap();
    let admin = {
        let out = run(&[
            "token".as_ref(),
            "create".as_ref(),
            "--issuer".as_ref(),
            "Operator".as_ref(),
            "--admin".as_ref(),
            "--data".as_ref(),
            dir.path().join("data").as_os_str(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
    };
    let server = serve(dir.path());
    let keys = dir.path().join("keys");

    let offline = run(&["keys".as_ref(), "rotate".as_ref(), "--keys".as_ref(), keys.as_os_str()]);
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(!offline.status.success(), "an offline rotation under a running service must fail");
    assert!(stderr.contains("in use by a running service") && stderr.contains("--url"), "{stderr}");

    let online = run(&["keys", "rotate", "--url", &server.base, "--token", &admin]);
    let stdout = String::from_utf8_lossy(&online.stdout);
    assert!(online.status.success(), "{stdout}{}", String::from_utf8_lossy(&online.stderr));
    assert!(stdout.contains("retired statement key") && stdout.contains("new statement key"), "{stdout}");

    // No token given: the local admin credential `serve` keeps in its data directory, as
    // `aiprov token create` uses it (issue 23, point 2).
    let data = dir.path().join("data");
    let local = run(&[
        "keys".as_ref(),
        "rotate".as_ref(),
        "--url".as_ref(),
        server.base.as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&local.stdout);
    assert!(local.status.success(), "{stdout}{}", String::from_utf8_lossy(&local.stderr));
    assert!(stdout.contains("new statement key"), "{stdout}");
    // Neither a token nor a credential: it says where a token comes from.
    let nowhere = run(&[
        "keys".as_ref(),
        "rotate".as_ref(),
        "--url".as_ref(),
        server.base.as_ref(),
        "--data".as_ref(),
        dir.path().join("elsewhere").as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&nowhere.stderr);
    assert!(!nowhere.status.success(), "no token, no credential");
    assert!(
        stderr.contains("--token") && stderr.contains("local-admin.json") && stderr.contains("token create"),
        "{stderr}"
    );
    drop(server);

    // With the service gone, the offline rotation works.
    let offline = run(&["keys".as_ref(), "rotate".as_ref(), "--keys".as_ref(), keys.as_os_str()]);
    assert!(offline.status.success(), "{}", String::from_utf8_lossy(&offline.stderr));
}

/// `aiprov keys --help` must not say "with the server stopped" when `keys rotate --url`
/// rotates a running service.
#[test]
fn keys_help_agrees_with_rotation_through_the_service() {
    let out = crate::binary::run(&["keys", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(!help.contains("server stopped"), "{help}");
    assert!(help.contains("--url"), "{help}");
    let out = crate::binary::run(&["keys", "rotate", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("local-admin.json"), "{help}");
}

#[tokio::test]
async fn token_and_erasure_commands_work_while_the_service_runs() {
    crate::helpers::embedded_only!();
    use crate::binary::{create_token, run, serve};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_token(dir.path());
    let server = serve(dir.path());
    let aiprov = |args: &[&str]| {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend(["--data".as_ref(), data.as_os_str()]);
        let out = run(&all);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "aiprov {args:?}: {stdout}{stderr}");
        stdout.into_owned()
    };
    let created = aiprov(&["token", "create", "--issuer", "Procter Co"]);
    let secret = created.lines().last().unwrap().trim();
    assert!(secret.starts_with("aiprov_"), "{created}");
    let listed = aiprov(&["token", "list"]);
    let id = listed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|t| t["issuer"] == "Procter Co")
        .expect("the new token is listed")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(aiprov(&["token", "revoke", &id]).contains("revoked token"));
    assert_eq!(aiprov(&["erasures"]), "", "no erasure yet");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/stamps", server.base))
        .bearer_auth(secret)
        .json(&copy_request("Stamped with a revoked token."))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the revoked token no longer stamps");
}
