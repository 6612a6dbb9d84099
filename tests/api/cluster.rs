//! Several `aiprov serve` processes on one PostgreSQL database are one service: any node
//! stamps and serves everything, one integrates, and when it dies another takes over.
//! Run by the `api_pg` suite (each test has a database of its own).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteVerifier};
use ai_provenance::tlog::merkle;
use ai_provenance::Sha256Digest;
use futures_util::StreamExt;
use serde_json::Value;

use crate::binary::{check_included, get_json, run, serve_with, Served};
use crate::helpers::{copy_request, pg_connect, postgres_only, spawn_app};

fn digests(v: &Value) -> Vec<Sha256Digest> {
    serde_json::from_value(v.clone()).unwrap()
}

async fn role(client: &reqwest::Client, base: &str) -> Option<String> {
    let health: Value = client.get(format!("{base}/healthz")).send().await.ok()?.json().await.ok()?;
    health["role"].as_str().map(str::to_owned)
}

/// Stamps from `clients` tasks, each sending to the nodes of `bases` in turn, until
/// `running` is cleared; acknowledged receipts go to `acked` with when they came.
fn load(
    clients: usize,
    bases: Arc<Mutex<Vec<String>>>,
    token: &str,
    running: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(Instant, Value)>>>,
    failed: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(40)).build().unwrap();
    (0..clients)
        .map(|c| {
            let (client, bases, token, running, acked, failed) =
                (client.clone(), bases.clone(), token.to_owned(), running.clone(), acked.clone(), failed.clone());
            tokio::spawn(async move {
                let mut i = 0usize;
                while running.load(Ordering::Relaxed) {
                    i += 1;
                    let base = {
                        let bases = bases.lock().unwrap();
                        bases[(c + i) % bases.len()].clone()
                    };
                    let body = copy_request(&format!("cluster client {c} stamp {i}"));
                    let sent = client.post(format!("{base}/v1/stamps")).bearer_auth(&token).json(&body).send().await;
                    match sent {
                        Ok(resp) if resp.status() == 201 => match resp.json::<Value>().await {
                            Ok(receipt) => acked.lock().unwrap().push((Instant::now(), receipt)),
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let body: Value = resp.json().await.unwrap_or_default();
                            // Never a 500, never an answer without a JSON error.
                            assert_eq!(status, 503, "a stamp failed with {status}: {body}");
                            assert_eq!(body["error"]["code"], "unavailable", "{body}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            // The killed node's connections.
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test]
async fn three_nodes_stamp_and_one_takes_over_when_the_sequencer_is_killed() {
    postgres_only!();
    let db = crate::helpers::test_database();
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--database", db.url()];
    // The first node creates the keys every node then shares.
    let mut nodes: Vec<Option<Served>> = vec![Some(serve_with(dir.path(), &flags))];
    nodes.push(Some(serve_with(dir.path(), &flags)));
    nodes.push(Some(serve_with(dir.path(), &flags)));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let out = run(&["token", "create", "--issuer", "Cluster Co", "--database", db.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned();
    let bases: Vec<String> = nodes.iter().map(|n| n.as_ref().unwrap().base.clone()).collect();
    // Without --database, the command finds the running service's credential in the
    // data directory and goes through it: the token is in the database, valid on every
    // node (not in an empty sled database that the directory would also open).
    let data = dir.path().join("data");
    let out = run(&[
        "token".as_ref(),
        "create".as_ref(),
        "--issuer".as_ref(),
        "Via Service".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let via_service = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned();
    for base in &bases {
        let (status, body) =
            crate::binary::post_stamp(&client, base, &via_service, &copy_request(&format!("via {base}"))).await;
        assert_eq!(status, 201, "{body}");
    }

    // Exactly one node integrates (the lease is taken within moments of the first start).
    let mut roles = Vec::new();
    let settled = Instant::now();
    while settled.elapsed() < Duration::from_secs(5) {
        roles.clear();
        for base in &bases {
            roles.push(role(&client, base).await.unwrap());
        }
        if roles.iter().any(|r| r == "sequencer") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = || nodes.iter().flatten().flat_map(|n| n.logs()).collect::<Vec<_>>().join("\n");
    assert_eq!(roles.iter().filter(|r| *r == "sequencer").count(), 1, "{roles:?}\n{}", logs());
    let sequencer = roles.iter().position(|r| r == "sequencer").unwrap();

    let targets = Arc::new(Mutex::new(bases.clone()));
    let (running, acked, failed) = (Arc::new(AtomicBool::new(true)), Arc::default(), Arc::default());
    let tasks = load(6, targets.clone(), &token, running.clone(), Arc::clone(&acked), Arc::clone(&failed));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acked.lock().unwrap().len();
    // SIGKILL (Child::kill) the sequencer mid-load; clients move to the other nodes.
    let killed_at = Instant::now();
    nodes[sequencer] = None;
    targets.lock().unwrap().retain(|b| *b != bases[sequencer]);
    let survivors: Vec<String> = targets.lock().unwrap().clone();
    // Another node takes over without help.
    let mut new_sequencer = None;
    while new_sequencer.is_none() && killed_at.elapsed() < Duration::from_secs(15) {
        for base in &survivors {
            if role(&client, base).await.as_deref() == Some("sequencer") {
                new_sequencer = Some(base.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let takeover = killed_at.elapsed();
    assert!(new_sequencer.is_some(), "no node took over within 15 s");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<(Instant, Value)> = std::mem::take(&mut *acked.lock().unwrap());
    let after_kill = acked.iter().filter(|(at, _)| *at > killed_at + takeover).count();
    assert!(before_kill > 0 && after_kill > 0, "stamps went through before ({before_kill}) and after ({after_kill})");

    // Every acknowledged stamp is served by every surviving node, at the same index, and
    // included in that node's newest checkpoint.
    let verifier = NoteVerifier::parse(
        client.get(format!("{}/v1/log/verifier-key", survivors[0])).send().await.unwrap().text().await.unwrap().trim(),
    )
    .unwrap();
    let mut checkpoints: BTreeMap<u64, Sha256Digest> = BTreeMap::new();
    let mut remember = |c: &Checkpoint| {
        let root = *checkpoints.entry(c.size).or_insert(c.root);
        assert_eq!(root, c.root, "two checkpoints of size {} with different roots", c.size);
    };
    for base in &survivors {
        let note = client.get(format!("{base}/v1/log/checkpoint")).send().await.unwrap().text().await.unwrap();
        let latest = Checkpoint::open_signed(&note, &verifier).unwrap();
        remember(&latest);
        // Checked 16 at a time: thousands of stamps, two nodes.
        let checks = acked.iter().map(|(_, receipt)| {
            let (client, latest) = (&client, &latest);
            async move {
                let id = receipt["id"].as_str().unwrap();
                let resp = client.get(format!("{base}/v1/stamps/{id}")).send().await.unwrap();
                assert_eq!(resp.status(), 200, "acknowledged stamp {id} is missing on {base}");
                let now: Value = resp.json().await.unwrap();
                assert_eq!(now["log"]["index"], receipt["log"]["index"]);
                check_included(client, base, &now, latest).await.unwrap_or_else(|e| panic!("on {base}: {e}"));
            }
        });
        futures_util::stream::iter(checks).buffer_unordered(16).collect::<Vec<()>>().await;
    }
    // Every checkpoint any node handed out, the killed one's included, is a prefix of the
    // newest: one tree, whichever node signed.
    for (_, receipt) in &acked {
        remember(&Checkpoint::open_signed(receipt["log"]["checkpoint"].as_str().unwrap(), &verifier).unwrap());
    }
    let (&newest, &newest_root) = checkpoints.iter().next_back().unwrap();
    for (&size, root) in &checkpoints {
        let proof =
            get_json(&client, &format!("{}/v1/log/proof/consistency?first={size}&second={newest}", survivors[0])).await;
        merkle::verify_consistency(size, newest, root, &newest_root, &digests(&proof["consistency_proof"]))
            .unwrap_or_else(|e| panic!("checkpoint {size} is not a prefix of checkpoint {newest}: {e}"));
    }
    // The audit of the database passes.
    let keys = dir.path().join("keys");
    let out = run(&["audit".as_ref(), "--database".as_ref(), db.url().as_ref(), "--keys".as_ref(), keys.as_os_str()]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("audit passed"),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "cluster test: {} stamps acknowledged ({before_kill} before the kill, {after_kill} after the takeover), \
         {} failed or cut off, new sequencer after {takeover:?}, {} checkpoints proven consistent",
        acked.len(),
        failed.load(Ordering::Relaxed),
        checkpoints.len()
    );
}

#[tokio::test]
async fn a_database_outage_answers_503_then_stamping_recovers_with_nothing_lost() {
    postgres_only!();
    let app = spawn_app().await;
    let db = app.db.as_ref().unwrap();
    // From another database of the server: one cannot lock oneself out.
    let admin = pg_connect(&db.url().replace(db.name(), "postgres")).await;
    let targets = Arc::new(Mutex::new(vec![format!("http://{}", app.addr)]));
    let (running, acked, failed) = (Arc::new(AtomicBool::new(true)), Arc::default(), Arc::default());
    let tasks = load(4, targets, &app.token, running.clone(), Arc::clone(&acked), Arc::clone(&failed));
    tokio::time::sleep(Duration::from_millis(700)).await;
    // What a restart does to the service: every connection dropped, new ones refused for
    // a while. (Not a restart of the server itself, which the other tests share.)
    let name = db.name();
    admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .unwrap();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let failed_while_down = failed.load(Ordering::Relaxed);
    admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await.unwrap();
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<(Instant, Value)> = std::mem::take(&mut *acked.lock().unwrap());
    assert!(failed_while_down > 0, "stamps failed (503) while the database was away");
    let recovered = acked.iter().filter(|(at, _)| *at > up).count();
    assert!(recovered > 0, "stamping recovered once the database was back");
    for (_, receipt) in &acked {
        let id = receipt["id"].as_str().unwrap();
        let (status, now) = app.get_json(&format!("/v1/stamps/{id}")).await;
        assert_eq!(status, 200, "acknowledged stamp {id} was lost");
        assert_eq!(now["log"]["index"], receipt["log"]["index"]);
    }
    eprintln!(
        "outage test: {} acknowledged, {} answered 503 (the database away {:?}), {recovered} after it came back",
        acked.len(),
        failed.load(Ordering::Relaxed),
        up - down
    );
}
