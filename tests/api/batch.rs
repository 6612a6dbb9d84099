//! `aiprov stamp DIR` failing well, run as the real binary against the real server: a
//! refused token and a service that is down are said once and stop the run, a run
//! resumes from its receipts file, skipped entries are named, and the receipts file
//! verifies offline (issue 14, point 5).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{aiprov, args, text};
use ai_provenance::RateLimit;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// The flags of a stamp run against `url`, writing `out`.
fn stamp_args(url: &str, token: &str, path: &Path, out: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut a = vec![OsString::from("stamp"), path.as_os_str().to_owned()];
    a.extend(args(&["--url", url, "--token", token, "--provider", "ExampleAI", "--model", "copywriter"]));
    a.extend(args(&["--disclosure", "Generated with AI.", "--out"]));
    a.push(out.as_os_str().to_owned());
    a.extend(args(extra));
    a
}

/// A folder of `n` small text files, `copy-000.txt` onwards.
fn folder(root: &Path, n: usize) -> PathBuf {
    let dir = root.join("generated");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("copy-{i:03}.txt")), format!("Tagline number {i}.")).unwrap();
    }
    dir
}

fn stderr_lines(o: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr).lines().map(str::to_owned).collect()
}

/// The size of the log's newest checkpoint: how many stamps the server made.
async fn log_size(app: &TestApp) -> u64 {
    let note = app.get("/v1/log/checkpoint").await.text().await.unwrap();
    note.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("no size in {note}"))
}

/// A loopback TCP proxy in front of `target` that counts the stamp requests passing
/// through it: what reached the server, whatever the client says it sent.
async fn counting_proxy(target: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    const NEEDLE: &[u8] = b"POST /v1/stamps";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let count = counted.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut from_client, mut to_client) = inbound.split();
                let (mut from_server, mut to_server) = outbound.split();
                let up = async {
                    let (mut buf, mut seen) = (vec![0u8; 1 << 16], Vec::new());
                    loop {
                        let n = from_client.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        // Request lines may straddle reads: search what is new plus a tail.
                        seen.extend_from_slice(&buf[..n]);
                        count.fetch_add(seen.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count(), Ordering::SeqCst);
                        seen.drain(..seen.len().saturating_sub(NEEDLE.len() - 1));
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = to_server.shutdown().await;
                };
                let down = tokio::io::copy(&mut from_server, &mut to_client);
                let _ = tokio::join!(up, down);
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_refused_token_stops_the_run_after_one_request_and_says_so_once() {
    let app = spawn_app().await;
    let (proxy, requests) = counting_proxy(app.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let assets = folder(dir.path(), 50);
    let out_file = dir.path().join("receipts.jsonl");
    let url = format!("http://{proxy}");
    let out = aiprov(stamp_args(&url, "aiprov_wrong", &assets, &out_file, &["--concurrency", "8"]), None).await;

    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let errors = stderr_lines(&out);
    assert_eq!(errors.len(), 1, "one line, not one per file: {errors:?}");
    assert!(errors[0].contains("the service refused the token (401 Unauthorized"), "{errors:?}");
    assert!(errors[0].contains("check --token / AIPROV_TOKEN"), "{errors:?}");
    assert!(text(&out).contains("50 file(s) not stamped"), "{}", text(&out));
    // The same command fails the same way: it says to fix the token, and that nothing
    // was written, rather than "run the same command again" and "receipts appended".
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the token was refused: fix --token / AIPROV_TOKEN"), "{stdout}");
    assert!(stdout.contains("nothing written to"), "{stdout}");
    assert!(!stdout.contains("run the same command again") && !stdout.contains("appended"), "{stdout}");
    assert_eq!(requests.load(Ordering::SeqCst), 1, "the first file goes alone; the other 49 are never sent");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "", "no line per file for a run that never started");

    // The right token through the same proxy: all 50 are stamped.
    let out = aiprov(stamp_args(&url, &app.token, &assets, &out_file, &[]), None).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(log_size(&app).await, 50);
}

#[tokio::test]
async fn a_service_that_is_down_is_said_once_within_seconds() {
    // A port that was just free: nothing listens on it any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let assets = folder(dir.path(), 50);
    let started = Instant::now();
    let out = aiprov(stamp_args(&url, "aiprov_any", &assets, &dir.path().join("r.jsonl"), &[]), None).await;
    let took = started.elapsed();

    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let errors = stderr_lines(&out);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(&format!("cannot reach the service at {url}: connection refused")), "{errors:?}");
    assert!(!text(&out).contains("error sending request"), "{}", text(&out));
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
}

#[tokio::test]
async fn retries_past_a_rate_limit_are_summarised_once() {
    // As many requests in flight as the burst allows, so every retry after the
    // service's Retry-After finds a token and the run converges.
    let app = spawn_app_with(|c| c.stamp_rate = RateLimit { per_second: 20.0, burst: 4 }).await;
    let dir = tempfile::tempdir().unwrap();
    let assets = folder(dir.path(), 12);
    let flags = ["--concurrency", "4"];
    let out = aiprov(stamp_args(&app.url(""), &app.token, &assets, &dir.path().join("r.jsonl"), &flags), None).await;

    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stamped 12, failed 0"), "{}", text(&out));
    let errors = stderr_lines(&out);
    assert_eq!(errors.len(), 1, "one summary, not a warning per attempt: {errors:?}");
    assert!(
        errors[0].starts_with("aiprov: retried ") && errors[0].ends_with(" after 429 Too Many Requests"),
        "{errors:?}"
    );
    assert_eq!(log_size(&app).await, 12);
}

#[tokio::test]
async fn a_second_run_stamps_only_new_and_changed_files_and_names_what_it_skips() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let assets = folder(dir.path(), 4);
    std::fs::write(assets.join(".DS_Store"), "finder state").unwrap();
    std::os::unix::fs::symlink(assets.join("copy-000.txt"), assets.join("latest.txt")).unwrap();
    let out_file = dir.path().join("receipts.jsonl");
    let run =
        |extra: &'static [&'static str]| aiprov(stamp_args(&app.url(""), &app.token, &assets, &out_file, extra), None);

    let out = run(&[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stamped 4, failed 0;"), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        report.contains("skipped 1 hidden entry (--include-hidden stamps them): ") && report.contains(".DS_Store"),
        "{report}"
    );
    assert!(report.contains("skipped 1 symbolic link") && report.contains("latest.txt"), "{report}");

    // An interrupted run: its last line was cut short. That file is stamped again, and
    // the broken line is reported, not fatal.
    let written = std::fs::read_to_string(&out_file).unwrap();
    let last: Value = serde_json::from_str(written.lines().last().unwrap()).unwrap();
    let cut = written.trim_end().len() - 40;
    std::fs::write(&out_file, &written[..cut]).unwrap();
    // One file changed, one new.
    std::fs::write(assets.join("copy-001.txt"), "Tagline number 1, reworded.").unwrap();
    std::fs::write(assets.join("copy-new.txt"), "A new tagline.").unwrap();

    let out = run(&["--include-hidden"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let changed = ["copy-001.txt", "copy-new.txt", ".DS_Store", last["file"].as_str().unwrap()];
    let expected: std::collections::BTreeSet<_> = changed.iter().map(|f| Path::new(f).file_name().unwrap()).collect();
    assert!(
        text(&out).contains(&format!(
            "stamped {}, failed 0, skipped {} already stamped",
            expected.len(),
            6 - expected.len()
        )),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("receipts.jsonl: 1 unreadable line(s) ignored: line 4"), "{}", text(&out));
    assert_eq!(log_size(&app).await, 4 + expected.len() as u64, "only new and changed files reach the service");

    // The receipts file verifies offline: the stale receipt of copy-001.txt does not
    // fail it (a newer one holds its content) but the cut line does.
    let (_, keys) = app.get_json("/v1/keys").await;
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();
    let verify = |receipts: PathBuf| {
        let mut a = args(&["verify", "--key", keys_file.to_str().unwrap(), "--receipts"]);
        a.push(receipts.into_os_string());
        aiprov(a, None)
    };
    let out = verify(out_file.clone()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("6 of 6 file(s) verified; 1 unreadable line(s): line 4"), "{}", text(&out));
    // Without the broken line, everything verifies.
    let clean = dir.path().join("clean.jsonl");
    let written = std::fs::read_to_string(&out_file).unwrap();
    let whole: Vec<&str> = written.lines().filter(|l| serde_json::from_str::<Value>(l).is_ok()).collect();
    std::fs::write(&clean, whole.join("\n") + "\n").unwrap();
    let out = verify(clean.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("PASS ") && !text(&out).contains("FAIL "), "{}", text(&out));

    // An edit after the last stamp fails verification, naming the file.
    std::fs::write(assets.join("copy-002.txt"), "Tagline number 2, edited after stamping.").unwrap();
    let out = verify(clean).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let failed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("copy-002.txt: content.hash.mismatch"), "{failed:?}");
}

#[tokio::test]
async fn a_prompt_file_and_an_explanation_file_stamp_and_verify_offline() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let prompt_file = dir.path().join("prompt.txt");
    std::fs::write(&prompt_file, "why this jacket, for a returning customer\n").unwrap();
    let explanation_file = dir.path().join("explanation.json");
    let explanation = json!({
        "item": "sku-4411",
        "factors": [{"name": "viewed similar items", "weight": 0.7}, {"name": "season", "weight": 0.3}],
        "data_categories": ["browsing history"],
        "legal_basis": "consent"
    });
    std::fs::write(&explanation_file, explanation.to_string()).unwrap();
    let explained = dir.path().join("why.txt");
    std::fs::write(&explained, "Recommended because you viewed similar jackets.").unwrap();
    let out_file = dir.path().join("receipts.jsonl");
    let flags = [
        "--kind",
        "recommendation_explanation",
        "--explanation",
        explanation_file.to_str().unwrap(),
        "--prompt-file",
        prompt_file.to_str().unwrap(),
    ];
    let out = aiprov(stamp_args(&app.url(""), &app.token, &explained, &out_file, &flags), None).await;
    assert!(out.status.success(), "{}", text(&out));

    let line: Value = serde_json::from_str(std::fs::read_to_string(&out_file).unwrap().trim()).unwrap();
    let statement = &line["receipt"]["statement"];
    assert_eq!(statement["kind"], "recommendation_explanation");
    assert_eq!(statement["explanation"], explanation);
    let id = line["receipt"]["id"].as_str().unwrap();
    let prompt = json!({"prompt": "why this jacket, for a returning customer"});
    let (status, body) = app.post_json(&format!("/v1/stamps/{id}/prompt/verify"), &prompt).await;
    assert_eq!(
        (status, &body["matches"]),
        (200, &json!(true)),
        "the file's trailing newline is not the prompt's: {body}"
    );

    // `--receipt` takes a receipts-file line, salt and all.
    let line_file = dir.path().join("line.json");
    std::fs::write(&line_file, line.to_string()).unwrap();
    assert!(line["receipt"]["prompt_salt"].is_string());
    let out = aiprov(
        args(&[
            "verify",
            "--receipt",
            line_file.to_str().unwrap(),
            "--file",
            explained.to_str().unwrap(),
            "--key",
            &app.url(""),
        ]),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The kind and the explanation go together, refused before any request.
    let down = "http://127.0.0.1:9";
    let out =
        aiprov(stamp_args(down, "t", &explained, &out_file, &["--kind", "recommendation_explanation"]), None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--kind recommendation_explanation needs --explanation FILE"), "{}", text(&out));
    let out = aiprov(
        stamp_args(
            down,
            "t",
            &explained,
            &out_file,
            &["--kind", "image", "--explanation", explanation_file.to_str().unwrap()],
        ),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("--explanation is only for --kind recommendation_explanation, not --kind image"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn help_lists_the_allowed_values() {
    let out = aiprov(args(&["stamp", "--help"]), None).await;
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for value in [
        "marketing_copy",
        "recommendation_explanation",
        "reviewed",
        "edited",
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "BCP 47",
        "--prompt-file",
        "--include-hidden",
        "legitimate_interests",
    ] {
        assert!(help.contains(value), "--help does not mention {value}:\n{help}");
    }
}
