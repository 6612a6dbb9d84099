//! Streamed uploads: `POST /v1/stamps/upload` and `POST /v1/verify/upload`, with the
//! memory they cost the real binary, their limits and their errors.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai_provenance::content::StreamingHasher;
use ai_provenance::Sha256Digest;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::binary::{create_token, serve_with, BIN};
use crate::helpers::{assert_error, check_code, spawn_app, spawn_app_with, TestApp};

const PROMPT: &str = "a red fox in the snow, watercolour, for the winter campaign";

fn metadata() -> Value {
    json!({
        "kind": "image",
        "generator": {"provider": "ExampleAI", "model": "painter", "model_version": "3"},
        "prompt": PROMPT,
        "disclosure": {"text": "This image was generated with AI.", "lang": "en"},
        "human_oversight": "reviewed"
    })
}

/// `POST {base}/v1/stamps/upload`, each header optional: the status and JSON body.
async fn post_upload(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    metadata: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut req = client.post(format!("{base}/v1/stamps/upload")).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(m) = metadata {
        req = req.header("Aiprov-Metadata", m);
    }
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

impl TestApp {
    async fn upload(&self, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Value {
        let meta = metadata().to_string();
        let (status, v) =
            post_upload(&self.client, &self.url(""), Some(&self.token), Some(&meta), content_type, body).await;
        assert_eq!(status, 201, "upload answered {status}: {v}");
        v
    }

    async fn verify_upload(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self.client.post(self.url("/v1/verify/upload")).body(body).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// `VmRSS` or `VmHWM` of process `pid`, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_streams_through_the_real_binary_in_bounded_memory() {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: u64 = 1024;
    const MAX_GROWTH_KIB: u64 = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    let server = serve_with(dir.path(), &[]);
    let pid = server.pid();
    let client = reqwest::Client::new();
    let meta = metadata().to_string();

    // Warm-up: one 8 MiB upload, so buffers and pools the server keeps exist already.
    let (status, body) = post_upload(&client, &server.base, Some(&token), Some(&meta), None, vec![3u8; 8 << 20]).await;
    assert_eq!(status, 201, "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = proc_status_kib(pid, "VmRSS");
    let hwm_before = proc_status_kib(pid, "VmHWM");

    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(proc_status_kib(pid, "VmRSS"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // 1 GiB made on the fly: a 1 MiB pattern, each chunk numbered so no two are alike,
    // hashed here as it is sent.
    let pattern: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let hasher = Arc::new(Mutex::new(StreamingHasher::new(0)));
    let sent_hasher = hasher.clone();
    let chunks = futures_util::stream::iter(0..CHUNKS).map(move |i| {
        let mut chunk = pattern.clone();
        chunk[..8].copy_from_slice(&i.to_le_bytes());
        sent_hasher.lock().unwrap().update(&chunk);
        Ok::<_, std::io::Error>(chunk)
    });
    let started = Instant::now();
    let (status, receipt) = post_upload(
        &client,
        &server.base,
        Some(&token),
        Some(&meta),
        Some("application/octet-stream"),
        reqwest::Body::wrap_stream(chunks),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(status, 201, "{receipt}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_after = proc_status_kib(pid, "VmRSS");
    let hwm_after = proc_status_kib(pid, "VmHWM");
    let peak = peak.load(Ordering::Relaxed);

    let sent = Arc::try_unwrap(hasher).ok().unwrap().into_inner().unwrap().finish();
    assert_eq!(sent.size, CHUNKS * CHUNK as u64);
    let subject = &receipt["statement"]["subject"];
    assert_eq!(subject["sha256"], sent.sha256.to_hex(), "the receipt records the hash of the bytes sent");
    assert_eq!(subject["size"], sent.size);
    assert_eq!(subject["media_type"], "application/octet-stream");
    assert!(subject.get("normalized_text_sha256").is_none());

    println!(
        "1 GiB streamed in {seconds:.1} s ({:.0} MiB/s); server RSS before {} MiB, peak during {} MiB (+{} MiB), \
         after {} MiB; VmHWM {} -> {} MiB",
        1024.0 / seconds,
        rss_before / 1024,
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024,
        rss_after / 1024,
        hwm_before / 1024,
        hwm_after / 1024,
    );
    assert!(peak.saturating_sub(rss_before) < MAX_GROWTH_KIB, "RSS grew by {} KiB", peak - rss_before);
    assert!(hwm_after.saturating_sub(hwm_before) < MAX_GROWTH_KIB, "peak RSS grew by {} KiB", hwm_after - hwm_before);
    // The prompt travelled in a header: no log line may hold it.
    let logs = server.logs();
    assert!(logs.iter().any(|l| l.contains("/v1/stamps/upload")), "the access log saw the uploads");
    assert!(!logs.iter().any(|l| l.contains("red fox")), "a prompt reached the log: {logs:#?}");
}

#[tokio::test]
async fn uploaded_bytes_verify_by_upload_by_hash_and_by_receipt() {
    let app = spawn_app().await;
    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let stamped = app.upload(Some("image/png"), bytes.clone()).await;
    let id = stamped["id"].as_str().unwrap();
    let digest = Sha256Digest::of(&bytes).to_hex();
    assert_eq!(stamped["statement"]["subject"]["sha256"], digest);
    assert_eq!(stamped["statement"]["subject"]["size"], bytes.len());
    assert_eq!(stamped["statement"]["subject"]["media_type"], "image/png", "taken from Content-Type");
    assert_eq!(stamped["statement"]["issuer"], "Acme Test");
    assert!(stamped["prompt_salt"].as_str().is_some_and(|s| s.len() == 64), "{stamped}");
    assert!(stamped["statement"]["prompt_commitment"].is_string());

    let (status, verdict) = app.verify_upload(bytes.clone()).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["matches"][0], id);
    assert_eq!(check_code(&verdict, "content"), "content.hash.match");

    let verdict = app.verify(&json!({"sha256": digest})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["matches"][0], id);

    let (status, receipt) = app.get_json(&format!("/v1/stamps/{id}")).await;
    assert_eq!(status, 200);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let verdict = app.verify(&json!({"content_base64": b64, "receipt": receipt})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");

    let mut altered = bytes;
    altered[1000] ^= 1;
    let (_, verdict) = app.verify_upload(altered).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "content"), "content.unknown");

    // No stamp is of empty content: an empty body is refused, as when stamping.
    let (status, body) = app.verify_upload(Vec::new()).await;
    assert_eq!(assert_error(status, &body, 422), "invalid_content");
    let resp = app.client.post(app.url("/v1/verify/upload")).header("Content-Encoding", "gzip").body("x").send();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    assert_eq!(assert_error(status, &resp.json().await.unwrap(), 415), "unsupported_media_type");
}

#[tokio::test]
async fn text_upload_is_found_by_its_normalised_text() {
    let app = spawn_app().await;
    let text = "Autumn sale:\n30%  off every\u{00A0}jacket.\n";
    let stamped = app.upload(Some("text/plain; charset=utf-8"), text).await;
    let subject = &stamped["statement"]["subject"];
    assert_eq!(subject["media_type"], "text/plain; charset=utf-8");
    assert_eq!(subject["normalized_text_sha256"], Sha256Digest::of(b"Autumn sale: 30% off every jacket.").to_hex());

    let verdict = app.verify(&json!({"text": "Autumn sale: 30% off every jacket."})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["matches"][0], stamped["id"]);
    let (_, verdict) = app.verify_upload("  Autumn sale:   30% off\r\nevery jacket.").await;
    assert_eq!(verdict["verified"], true, "found by the normalised text: {verdict}");

    // Binary media types are never normalised, even when the bytes are UTF-8.
    let stamped = app.upload(Some("image/svg+xml"), "<svg/>").await;
    assert!(stamped["statement"]["subject"].get("normalized_text_sha256").is_none(), "{stamped}");
}

#[tokio::test]
async fn missing_or_bad_token_and_metadata_are_refused_with_json_errors() {
    let app = spawn_app().await;
    let base = app.url("");
    let meta = metadata().to_string();
    let c = &app.client;

    let (status, body) = post_upload(c, &base, None, Some(&meta), None, "x").await;
    assert_eq!(assert_error(status, &body, 401), "unauthorized");
    let (status, body) = post_upload(c, &base, Some("aiprov_wrong"), Some(&meta), None, "x").await;
    assert_eq!(assert_error(status, &body, 401), "unauthorized");

    let tok = Some(app.token.as_str());
    let (status, body) = post_upload(c, &base, tok, None, None, "x").await;
    assert_eq!(assert_error(status, &body, 400), "missing_metadata");
    assert!(body["error"]["message"].as_str().unwrap().contains("Aiprov-Metadata"), "{body}");
    let (status, body) = post_upload(c, &base, tok, Some("{\"kind\": "), None, "x").await;
    assert_eq!(assert_error(status, &body, 400), "invalid_metadata");
    let (status, body) = post_upload(c, &base, tok, Some(r#"{"kind": "image"}"#), None, "x").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_metadata");
    assert!(body["error"]["message"].as_str().unwrap().contains("generator"), "names the missing field: {body}");
    let mut with_content = metadata();
    with_content["sha256"] = json!(Sha256Digest::of(b"x").to_hex());
    let (status, body) = post_upload(c, &base, tok, Some(&with_content.to_string()), None, "x").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_metadata");
    let mut bad_field = metadata();
    bad_field["generator"]["provider"] = json!("");
    let (status, body) = post_upload(c, &base, tok, Some(&bad_field.to_string()), None, "x").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_field");
    assert_eq!(body["error"]["field"], "generator.provider");
    let (status, body) = post_upload(c, &base, tok, Some(&meta), Some("not a type"), "x").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_field");

    let (status, body) = post_upload(c, &base, tok, Some(&meta), None, "").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_content");
    let resp = c
        .post(app.url("/v1/stamps/upload"))
        .bearer_auth(&app.token)
        .header("Aiprov-Metadata", &meta)
        .header("Content-Encoding", "gzip")
        .body("x")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(assert_error(status, &resp.json().await.unwrap(), 415), "unsupported_media_type");

    let (_, entries) = app.get_json("/v1/log/entries?start=0").await;
    assert_eq!(entries["tree_size"], 0, "nothing was stamped by the refused uploads: {entries}");
}

/// Sends `head` then `body` on a raw connection without finishing the request, and
/// reads the answer: it can only come if the server answers before the body ends.
fn answer_before_the_body_ends(addr: std::net::SocketAddr, head: String, body: Vec<u8>) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // The server may stop reading once it has answered: a failed write is expected.
    let _ = s.write_all(&body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if answer.is_empty() => panic!("no answer before the body ended: {e}"),
            Err(_) => break,
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok());
            if len.is_some_and(|n| rest.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_as_soon_as_they_cross_it() {
    const LIMIT: u64 = 1 << 20;
    let app = spawn_app_with(|c| c.max_upload_bytes = LIMIT).await;
    let meta = metadata().to_string();

    // Exactly the limit is accepted.
    let stamped = app.upload(None, vec![9u8; LIMIT as usize]).await;
    assert_eq!(stamped["statement"]["subject"]["size"], LIMIT);

    // A Content-Length over the limit: refused before any byte of the body is sent.
    let head = |framing: String| {
        format!(
            "POST /v1/stamps/upload HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAiprov-Metadata: {meta}\r\n{framing}\r\n",
            app.addr, app.token
        )
    };
    let addr = app.addr;
    let h = head(format!("Content-Length: {}\r\n", LIMIT + 1));
    let (status, body) =
        tokio::task::spawn_blocking(move || answer_before_the_body_ends(addr, h, Vec::new())).await.unwrap();
    assert_eq!(assert_error(status, &body, 413), "payload_too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("Content-Length"), "{body}");

    // A chunked body that crosses the limit and never ends: refused when it crosses.
    let mut chunked = Vec::new();
    for _ in 0..(LIMIT / 65536 + 2) {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend_from_slice(&[5u8; 65536]);
        chunked.extend_from_slice(b"\r\n");
    }
    let h = head("Transfer-Encoding: chunked\r\n".into());
    let (status, body) =
        tokio::task::spawn_blocking(move || answer_before_the_body_ends(addr, h, chunked)).await.unwrap();
    assert_eq!(assert_error(status, &body, 413), "payload_too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("--max-upload-bytes"), "{body}");

    // The same through reqwest, and for the verify route.
    let (status, body) =
        post_upload(&app.client, &app.url(""), Some(&app.token), Some(&meta), None, vec![0u8; LIMIT as usize + 1])
            .await;
    assert_eq!(assert_error(status, &body, 413), "payload_too_large");
    let (status, body) = app.verify_upload(vec![0u8; LIMIT as usize + 1]).await;
    assert_eq!(assert_error(status, &body, 413), "payload_too_large");
}

#[tokio::test]
async fn the_stamp_command_streams_large_files_and_keeps_hash_only_on_request() {
    // The upload limit sits between the two files: the smaller one must be streamed
    // (it is over the inline limit, and the test JSON limit is 256 KiB), the larger one
    // is refused unless only its hash is sent.
    let app = spawn_app_with(|c| c.max_upload_bytes = 5 << 20).await;
    let dir = tempfile::tempdir().unwrap();
    let poster = dir.path().join("poster.png");
    let poster_bytes: Vec<u8> = (0..(5u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::write(&poster, &poster_bytes).unwrap();
    let huge = dir.path().join("huge.mp4");
    let huge_bytes = vec![1u8; 6 << 20];
    std::fs::write(&huge, &huge_bytes).unwrap();
    let out = dir.path().join("receipts.jsonl");
    let run = |file: &std::path::Path, extra: &'static [&'static str]| {
        let (file, out, url, token) = (file.to_owned(), out.clone(), app.url(""), app.token.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(BIN)
                .arg("stamp")
                .arg(&file)
                .args(["--url", &url, "--token", &token, "--kind", "image", "--provider", "P", "--model", "M"])
                .args(["--disclosure", "Generated with AI.", "--prompt", PROMPT, "--out"])
                .arg(&out)
                .args(extra)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        })
    };
    let streamed = run(&poster, &[]).await.unwrap();
    assert!(streamed.status.success(), "{}", String::from_utf8_lossy(&streamed.stderr));
    let refused = run(&huge, &[]).await.unwrap();
    assert!(!refused.status.success(), "6 MiB is over the 5 MiB upload limit");
    let hash_only = run(&huge, &["--hash-only"]).await.unwrap();
    assert!(hash_only.status.success(), "{}", String::from_utf8_lossy(&hash_only.stderr));

    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let subject = &lines[0]["receipt"]["statement"]["subject"];
    assert_eq!(subject["sha256"], Sha256Digest::of(&poster_bytes).to_hex(), "{}", lines[0]);
    assert_eq!(subject["size"], poster_bytes.len());
    assert_eq!(subject["media_type"], "image/png");
    assert!(lines[1]["error"].as_str().unwrap().contains("413"), "{}", lines[1]);
    let subject = &lines[2]["receipt"]["statement"]["subject"];
    assert_eq!(subject["sha256"], Sha256Digest::of(&huge_bytes).to_hex(), "{}", lines[2]);
    assert_eq!(subject["size"], huge_bytes.len());
    assert_eq!(subject["media_type"], "video/mp4");
}

#[tokio::test]
async fn an_upload_that_stops_sending_is_refused_with_408() {
    let app = spawn_app_with(|c| c.upload_idle = Duration::from_secs(1)).await;
    let meta = metadata().to_string();
    let head = format!(
        "POST /v1/stamps/upload HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAiprov-Metadata: {meta}\r\nContent-Length: 1000\r\n\r\n",
        app.addr, app.token
    );
    let addr = app.addr;
    let started = std::time::Instant::now();
    // Ten bytes of the announced thousand, then silence.
    let (status, body) =
        tokio::task::spawn_blocking(move || answer_before_the_body_ends(addr, head, vec![7u8; 10])).await.unwrap();
    assert_eq!(assert_error(status, &body, 408), "request_timeout");
    assert!(body["error"]["message"].as_str().unwrap().contains("after 10 bytes"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(8), "refused after the idle limit, not at the socket's timeout");
    let (_, entries) = app.get_json("/v1/log/entries?start=0").await;
    assert_eq!(entries["tree_size"], 0, "nothing was stamped: {entries}");
}
