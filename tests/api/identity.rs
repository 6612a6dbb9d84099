//! One log, one identity (docs/contract.md §10): a keys directory that signs for a log
//! refuses a second one; nodes with another key set are refused; replicas started at
//! once share one key set; a fork or a rollback is reported by verify (the API and
//! `aiprov verify --key URL`) and audit; a rolling restart of a cluster under load fails
//! no stamp.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai_provenance::verify::audit::audit_remote;
use ai_provenance::TempDatabase;
use serde_json::{json, Value};

use crate::binary::{copy_dir, create_token, get_json, post_stamp, refused, run, serve, serve_with, Served};
use crate::helpers::{copy_request, embedded_only, postgres_only, public_receipt};

/// The origin line of the log `base` serves.
async fn origin(client: &reqwest::Client, base: &str) -> String {
    let note = client.get(format!("{base}/tlog/checkpoint")).send().await.unwrap().text().await.unwrap();
    note.lines().next().unwrap().to_owned()
}

fn token_for(db: &TempDatabase) -> String {
    let out = run(&["token", "create", "--issuer", "Identity Co", "--database", db.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
}

/// The README in order: the walkthrough's embedded log, then a database with the same
/// keys. That used to publish two trees under one key and origin.
#[tokio::test(flavor = "multi_thread")]
async fn a_keys_directory_that_signs_for_a_log_refuses_a_second_one() {
    postgres_only!();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let first = serve(dir.path());
    let token = create_token(dir.path());
    let (status, body) = post_stamp(&client, &first.base, &token, &copy_request("Walkthrough copy.")).await;
    assert_eq!(status, 201, "{body}");
    let first_origin = origin(&client, &first.base).await;
    assert!(first_origin.starts_with("localhost/ai-provenance/"), "a unique default origin: {first_origin}");
    drop(first);

    let db = TempDatabase::create().unwrap();
    let (status, stderr) = refused(dir.path(), &["--database", db.url()]);
    assert!(!status.success());
    assert!(
        stderr.contains("already signs for the log") && stderr.contains(&first_origin) && stderr.contains("--new-log"),
        "the refusal names the log and the way out: {stderr}"
    );
    // Not even on purpose under the same origin: that is the fork itself.
    let (status, stderr) = refused(dir.path(), &["--database", db.url(), "--new-log", "--origin", &first_origin]);
    assert!(!status.success());
    assert!(stderr.contains("two logs of one origin and one key are a fork"), "{stderr}");

    // On purpose, under another origin, it starts: a second log, told apart by its name.
    let second = serve_with(dir.path(), &["--database", db.url(), "--new-log"]);
    let second_origin = origin(&client, &second.base).await;
    assert_ne!(second_origin, first_origin);
    drop(second);
    // Both logs start again with the same keys, each with its own origin.
    let first = serve(dir.path());
    assert_eq!(origin(&client, &first.base).await, first_origin);
    drop(first);
    let (status, stderr) = refused(dir.path(), &["--origin", "example.com/another"]);
    assert!(!status.success());
    assert!(stderr.contains("a log keeps its origin for ever"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_with_another_key_set_is_refused() {
    postgres_only!();
    let db = TempDatabase::create().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = serve_with(a.path(), &["--database", db.url()]);
    // Another machine with keys of its own, not a copy of the log's.
    let (status, stderr) = refused(b.path(), &["--database", db.url()]);
    assert!(!status.success());
    assert!(stderr.contains("signs its checkpoints with the key") && stderr.contains("Copy the"), "{stderr}");
    // A copy of the log's keys directory is the log's key set.
    copy_dir(&a.path().join("keys"), &b.path().join("keys"));
    let other = serve_with(b.path(), &["--database", db.url()]);
    let client = reqwest::Client::new();
    assert_eq!(origin(&client, &node.base).await, origin(&client, &other.base).await);
}

/// As an orchestrator starts replicas: at the same moment, on an empty database and one
/// empty keys directory they all mount.
#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_started_at_once_come_up_with_one_key_set() {
    postgres_only!();
    let db = TempDatabase::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_owned();
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (path, url) = (dir.path().to_owned(), url.clone());
            std::thread::spawn(move || serve_with(&path, &["--database", &url]))
        })
        .collect();
    let nodes: Vec<Served> = starts.into_iter().map(|s| s.join().expect("every node starts")).collect();
    let client = reqwest::Client::new();
    let mut keys = Vec::new();
    for node in &nodes {
        let verifier =
            client.get(format!("{}/v1/log/verifier-key", node.base)).send().await.unwrap().text().await.unwrap();
        keys.push((verifier, get_json(&client, &format!("{}/v1/keys", node.base)).await));
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one checkpoint key and one statement key set: {keys:?}");
    let token = token_for(&db);
    for node in &nodes {
        let (status, body) = post_stamp(&client, &node.base, &token, &copy_request(&format!("at {}", node.base))).await;
        assert_eq!(status, 201, "{body}");
    }
}

/// A fork made as it happens by mistake: a data directory restored from a backup (with
/// its keys) while the original goes on, both stamping. Each tree is sound alone; only
/// comparing them shows the fork, which verify and audit then do.
#[tokio::test(flavor = "multi_thread")]
async fn a_fork_and_a_rollback_are_reported_by_verify_and_audit() {
    embedded_only!();
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let client = reqwest::Client::new();
    let node = serve(a.path());
    let token = create_token(a.path());
    let (status, body) = post_stamp(&client, &node.base, &token, &copy_request("Before the fork.")).await;
    assert_eq!(status, 201, "{body}");
    drop(node);
    // The copies: B will fork, C stays at one leaf (an older backup).
    copy_dir(a.path(), b.path());
    copy_dir(a.path(), c.path());

    let node_a = serve(a.path());
    let (_, stamped_a) = post_stamp(&client, &node_a.base, &token, &copy_request("Only in A.")).await;
    let (audit_a, state_a) = audit_remote(&client, &node_a.base, None, |_, _| {}).await.unwrap();
    assert!(audit_a.ok(), "{:?}", audit_a.problems);
    drop(node_a);
    let node_b = serve(b.path());
    let (status, body) = post_stamp(&client, &node_b.base, &token, &copy_request("Only in B.")).await;
    assert_eq!(status, 201, "{body}");

    // A's receipt, checked by B: signed with B's key, of a tree B holds another way.
    let verdict: Value = client
        .post(format!("{}/v1/verify", node_b.base))
        .json(&json!({"receipt": public_receipt(&stamped_a)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["verified"], false, "{verdict}");
    let check = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == "consistency").unwrap().clone();
    assert_eq!(check["code"], "log.equivocation", "{verdict}");
    assert!(check["message"].as_str().unwrap().contains("The log has forked"), "{check}");
    let metrics = client.get(format!("{}/metrics", node_b.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("aiprov_log_equivocations_total 1"), "counted:\n{metrics}");
    // `aiprov verify --key URL` holds the receipt against the log B serves, and says so
    // in the service's words.
    let (code, cli_verdict) = cli_verify(&stamped_a, &node_b.base);
    assert_eq!((code, consistency(&cli_verdict)), (Some(1), consistency(&verdict)), "{cli_verdict}");
    let receipt_a = a.path().join("receipt-a.json");
    std::fs::write(&receipt_a, stamped_a.to_string()).unwrap();
    let out = run(&["verify", "--receipt", receipt_a.to_str().unwrap(), "--key", &node_b.base]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("check consistency failed (log.equivocation)"), "{stderr}");
    // B's own receipts are consistent with B.
    let own = verdict_of(&client, &node_b.base, &body).await;
    assert_eq!(own["verified"], true, "{own}");
    let (code, cli_own) = cli_verify(&body, &node_b.base);
    assert_eq!((code, consistency(&cli_own)), (Some(0), consistency(&own)), "{cli_own}");
    assert_eq!(consistency(&cli_own)["code"], "log.consistent", "{cli_own}");
    // So does --receipts, a file at a time.
    let receipts = tempfile::NamedTempFile::new().unwrap();
    let lines = [json!({"file": "-", "receipt": body}), json!({"file": "-", "receipt": stamped_a})];
    std::fs::write(receipts.path(), lines.map(|l| format!("{l}\n")).concat()).unwrap();
    let out = run(&["verify", "--receipts", receipts.path().to_str().unwrap(), "--key", &node_b.base]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL -: log.equivocation (line 2): The log has forked"), "{stdout}");
    // Offline keys name no log to compare with: no consistency check, no network.
    let keys = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(keys.path(), get_json(&client, &format!("{}/v1/keys", node_b.base)).await.to_string()).unwrap();
    let (code, offline) = cli_verify(&stamped_a, keys.path().to_str().unwrap());
    assert_eq!((code, consistency(&offline)), (Some(0), Value::Null), "{offline}");
    // The auditor who saw A sees B's tree of the same size with another root.
    let (audit_b, _) = audit_remote(&client, &node_b.base, Some(&state_a), |_, _| {}).await.unwrap();
    assert!(audit_b.problems.iter().any(|p| p.what.starts_with("log.equivocation")), "{:?}", audit_b.problems);
    drop(node_b);

    // C, the older backup, holds one leaf: A's receipt is of a larger tree.
    let node_c = serve(c.path());
    let verdict = verdict_of(&client, &node_c.base, &stamped_a).await;
    let check = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == "consistency").unwrap().clone();
    assert_eq!(
        (verdict["verified"].clone(), check["code"].clone()),
        (json!(false), json!("log.rollback")),
        "{verdict}"
    );
    let (code, cli_verdict) = cli_verify(&stamped_a, &node_c.base);
    assert_eq!((code, consistency(&cli_verdict)), (Some(1), check), "{cli_verdict}");
    let (audit_c, _) = audit_remote(&client, &node_c.base, Some(&state_a), |_, _| {}).await.unwrap();
    assert!(audit_c.problems.iter().any(|p| p.what.starts_with("log.rollback")), "{:?}", audit_c.problems);
}

/// The `consistency` check of a verdict, `null` when it has none.
fn consistency(verdict: &Value) -> Value {
    let mut checks = verdict["checks"].as_array().into_iter().flatten();
    checks.find(|c| c["name"] == "consistency").cloned().unwrap_or(Value::Null)
}

/// `aiprov verify --receipt R --key KEY --json`: its exit code and verdict.
fn cli_verify(stamped: &Value, key: &str) -> (Option<i32>, Value) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), stamped.to_string()).unwrap();
    let out = run(&["verify", "--receipt", file.path().to_str().unwrap(), "--key", key, "--json"]);
    let verdict = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("a verdict: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), verdict)
}

async fn verdict_of(client: &reqwest::Client, base: &str, stamped: &Value) -> Value {
    client
        .post(format!("{base}/v1/verify"))
        .json(&json!({"receipt": public_receipt(stamped)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Three nodes restarted one after the other (SIGTERM, start again) while clients stamp
/// through the nodes that are up, as behind a load balancer that drains a node first: no
/// stamp fails, and none is made twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_restart_of_three_nodes_under_load_fails_no_stamp() {
    postgres_only!();
    let db = TempDatabase::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--database", db.url()];
    let mut nodes: Vec<Served> = vec![serve_with(dir.path(), &flags)];
    nodes.push(serve_with(dir.path(), &flags));
    nodes.push(serve_with(dir.path(), &flags));
    let token = token_for(&db);
    let up: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(nodes.iter().map(|n| n.base.clone()).collect()));
    let running = Arc::new(AtomicBool::new(true));
    let (failed, sent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let longest = Arc::new(Mutex::new(Duration::ZERO));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|c| {
            let (client, up, token, running) = (client.clone(), up.clone(), token.clone(), running.clone());
            let (failed, sent, longest, ids) = (failed.clone(), sent.clone(), longest.clone(), ids.clone());
            tokio::spawn(async move {
                let mut i = 0usize;
                while running.load(Ordering::Relaxed) {
                    i += 1;
                    let base = {
                        let up = up.lock().unwrap();
                        up[(c + i) % up.len()].clone()
                    };
                    let started = Instant::now();
                    let body = copy_request(&format!("rolling client {c} stamp {i}"));
                    let resp = client.post(format!("{base}/v1/stamps")).bearer_auth(&token).json(&body).send().await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    let took = started.elapsed();
                    match resp {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = r.json().await.unwrap();
                            ids.lock().unwrap().push(v["id"].as_str().unwrap().to_owned());
                            let mut l = longest.lock().unwrap();
                            *l = (*l).max(took);
                        }
                        Ok(r) => {
                            let status = r.status();
                            eprintln!("a stamp failed with {status}: {}", r.text().await.unwrap_or_default());
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("a stamp failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in nodes.iter_mut() {
        let base = node.base.clone();
        // The balancer stops sending to it, and what it sent settles, then SIGTERM.
        up.lock().unwrap().retain(|b| *b != base);
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.terminate();
        let status = node.exit_within(Duration::from_secs(40)).expect("a node stops within 40 s of SIGTERM");
        assert!(status.success(), "a clean stop: {status}");
        *node = serve_with(dir.path(), &flags);
        up.lock().unwrap().push(node.base.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (failed, sent) = (failed.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
    let longest = *longest.lock().unwrap();
    eprintln!("rolling restart: {sent} stamps sent, {failed} failed, longest stamp {longest:?}");
    assert_eq!(failed, 0, "no stamp fails during a rolling restart");
    let mut ids = ids.lock().unwrap().clone();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "no stamp made twice");
    // Every acknowledged stamp is in the log the nodes now serve. A frontend publishes
    // the tree it follows every 100 ms, so give it a moment to catch up first.
    let settled = Instant::now();
    let mut size = 0;
    while settled.elapsed() < Duration::from_secs(10) {
        size = get_json(&client, &format!("{}/healthz", nodes[0].base)).await["tree_size"].as_u64().unwrap();
        if size as usize >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(size as usize >= count, "{size} leaves for {count} acknowledged stamps");
    for id in &ids {
        let status = client.get(format!("{}/v1/stamps/{id}", nodes[0].base)).send().await.unwrap().status();
        assert_eq!(status, 200, "acknowledged stamp {id} is in the log");
    }
}

fn admin_token_for(db: &TempDatabase) -> String {
    let out = run(&["token", "create", "--issuer", "Identity Ops", "--admin", "--database", db.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
}

/// Stamps through `bases` in turn until `running` is cleared: every answer, with when its
/// request was sent.
fn stamp_until(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    running: &Arc<AtomicBool>,
    worker: usize,
) -> tokio::task::JoinHandle<Vec<(Instant, u16, Value)>> {
    let (client, bases, token, running) = (client.clone(), bases.to_vec(), token.to_owned(), running.clone());
    tokio::spawn(async move {
        let mut out = Vec::new();
        let mut i = 0usize;
        while running.load(Ordering::Relaxed) {
            i += 1;
            let base = &bases[(worker + i) % bases.len()];
            let sent = Instant::now();
            let (status, body) = post_stamp(&client, base, &token, &copy_request(&format!("w{worker} #{i}"))).await;
            out.push((sent, status, body));
        }
        out
    })
}

/// The statement key each stamp was signed with.
fn kid_of(stamp: &Value) -> &str {
    stamp["signature"]["kid"].as_str().unwrap()
}

/// `aiprov keys rotate --url` against one node of three while stamps flow through all of
/// them: the new key reaches every node (a shared keys directory) before it signs, no
/// stamp fails, every stamp sent after the rotation returned is signed by the new key,
/// and every receipt verifies against the published keys, the old key's retirement
/// date included.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_through_one_node_of_three_reaches_every_node_while_stamping() {
    postgres_only!();
    let db = TempDatabase::create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--database", db.url()];
    let nodes: Vec<Served> = (0..3).map(|_| serve_with(dir.path(), &flags)).collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let (token, admin) = (token_for(&db), admin_token_for(&db));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let old = get_json(&client, &format!("{}/v1/keys", bases[0])).await;
    let running = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..6).map(|w| stamp_until(&client, &bases, &token, &running, w)).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let base = bases[1].clone();
    let out =
        tokio::task::spawn_blocking(move || run(&["keys", "rotate", "--url", &base, "--token", &admin])).await.unwrap();
    let rotated = Instant::now();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("every node of the log signs with it"), "{said}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    running.store(false, Ordering::Relaxed);
    let mut answers = Vec::new();
    for w in workers {
        answers.extend(w.await.unwrap());
    }
    let failed: Vec<_> = answers.iter().filter(|(_, status, _)| *status != 201).collect();
    assert!(failed.is_empty(), "no stamp fails during a rotation: {failed:?}");

    let keys = get_json(&client, &format!("{}/v1/keys", bases[0])).await;
    for base in &bases[1..] {
        assert_eq!(get_json(&client, &format!("{base}/v1/keys")).await, keys, "every node publishes one key set");
    }
    let statement_keys: Vec<&Value> =
        keys["keys"].as_array().unwrap().iter().filter(|k| k["purpose"] == "statement").collect();
    let old_kid = old["keys"].as_array().unwrap().iter().find(|k| k["purpose"] == "statement").unwrap()["kid"].clone();
    let retired = statement_keys.iter().find(|k| k["kid"] == old_kid).unwrap();
    assert!(retired["retired_at"].is_string(), "the old key is retired: {keys}");
    let new_kid =
        statement_keys.iter().find(|k| k["retired_at"].is_null()).unwrap()["kid"].as_str().unwrap().to_owned();
    let after: Vec<_> = answers.iter().filter(|(sent, _, _)| *sent > rotated).collect();
    assert!(after.len() > 10, "stamps went on after the rotation: {}", after.len());
    for (_, _, stamp) in &after {
        assert_eq!(kid_of(stamp), new_kid, "a stamp sent after the rotation is signed by the new key");
    }
    let old_signed = answers.iter().filter(|(_, _, s)| kid_of(s) == old_kid.as_str().unwrap()).count();
    eprintln!(
        "rotation: {} stamps, {old_signed} by the old key, {} after the rotation returned",
        answers.len(),
        after.len()
    );

    // Offline, with the published keys: the retirement rule holds for every receipt.
    let trust = ai_provenance::verify::TrustAnchors::from_keys_document(&keys).expect("keys document");
    for (_, _, stamp) in &answers {
        let (checks, verdict) = ai_provenance::verify::verify_receipt(&public_receipt(stamp), None, &trust);
        let verdict = ai_provenance::verify::Verdict::from_checks(checks, verdict);
        assert!(verdict.verified, "{}", serde_json::to_string(&verdict).unwrap());
    }
}

/// Nodes on separate machines: the new key file must be copied to them. Until it is,
/// the rotation waits for them; forced, a node without the key answers 503 naming it,
/// and picks the key up as soon as its file arrives.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_the_new_key_holds_the_rotation_back_or_refuses_to_sign_when_forced() {
    postgres_only!();
    let db = TempDatabase::create().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let flags = ["--database", db.url()];
    let node_a = serve_with(a.path(), &flags);
    copy_dir(&a.path().join("keys"), &b.path().join("keys"));
    let node_b = serve_with(b.path(), &flags);
    let (token, admin) = (token_for(&db), admin_token_for(&db));
    let client = reqwest::Client::new();

    let base = node_a.base.clone();
    let admin2 = admin.clone();
    let out = tokio::task::spawn_blocking(move || run(&["keys", "rotate", "--url", &base, "--token", &admin2]))
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("staged") && said.contains("waiting for nodes"), "{said}");
    // Staged, not active: both nodes still sign with the old key.
    for base in [&node_a.base, &node_b.base] {
        let (status, body) = post_stamp(&client, base, &token, &copy_request(&format!("staged at {base}"))).await;
        assert_eq!(status, 201, "{body}");
    }
    let base = node_a.base.clone();
    let out =
        tokio::task::spawn_blocking(move || run(&["keys", "rotate", "--url", &base, "--token", &admin, "--force"]))
            .await
            .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    let new_kid = said.split("new statement key ").nth(1).unwrap().split(':').next().unwrap().trim().to_owned();
    // B learns of the activation within a second, and refuses rather than sign with the
    // old key.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = post_stamp(&client, &node_b.base, &token, &copy_request("forced at B")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&new_kid), "names the missing key: {body}");
    let (status, body) = post_stamp(&client, &node_a.base, &token, &copy_request("forced at A")).await;
    assert_eq!((status, kid_of(&body)), (201, new_kid.as_str()), "{body}");

    // A node started now with the old keys directory is refused, told what to copy.
    let c = tempfile::tempdir().unwrap();
    copy_dir(&b.path().join("keys"), &c.path().join("keys"));
    let (status, said) = refused(c.path(), &flags);
    assert!(!status.success() && said.contains(&format!("copy {new_kid}.key")), "{said}");

    // The operator copies the key file: B signs with it soon after.
    let file = format!("{new_kid}.key");
    std::fs::copy(a.path().join("keys").join(&file), b.path().join("keys").join(&file)).unwrap();
    let started = Instant::now();
    loop {
        let (status, body) = post_stamp(&client, &node_b.base, &token, &copy_request("copied to B")).await;
        if status == 201 {
            assert_eq!(kid_of(&body), new_kid);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "B picks the key up: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
