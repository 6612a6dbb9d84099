//! Hostile HTTP input: every answer is a 4xx JSON error, the server stays up, and the log
//! still passes a full audit afterwards.

use ai_provenance::verify::audit::audit_remote;
use serde_json::Value;

use crate::helpers::{copy_request, spawn_app};

fn deep(n: usize) -> Vec<u8> {
    let mut v = vec![b'['; n];
    v.extend(std::iter::repeat_n(b']', n));
    v
}

#[tokio::test]
async fn hostile_bodies_paths_and_queries_get_4xx_json_and_the_log_stays_sound() {
    let app = spawn_app().await;
    app.stamp_ok(&copy_request("Before the storm.")).await;
    let genuine = serde_json::to_string(&copy_request("x")).unwrap();

    let bodies: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated JSON", b"{\"text\": \"a".to_vec(), "application/json"),
        ("not an object", b"[1,2,3]".to_vec(), "application/json"),
        ("null", b"null".to_vec(), "application/json"),
        ("empty body", Vec::new(), "application/json"),
        ("wrong content type", genuine.clone().into_bytes(), "text/plain"),
        ("xml", b"<stamp/>".to_vec(), "application/xml"),
        ("deep nesting", deep(100_000), "application/json"),
        ("invalid UTF-8", b"{\"text\": \"\xff\xfe\"}".to_vec(), "application/json"),
        ("lone surrogate", br#"{"text": "\ud800"}"#.to_vec(), "application/json"),
        ("bad escape", br#"{"text": "\uZZZZ"}"#.to_vec(), "application/json"),
        ("enormous float", genuine.replacen('{', r#"{"size": 1e400, "#, 1).into_bytes(), "application/json"),
        (
            "enormous integer",
            genuine.replacen('{', r#"{"size": 123456789012345678901234567890, "#, 1).into_bytes(),
            "application/json",
        ),
        ("negative size", genuine.replacen('{', r#"{"size": -1, "#, 1).into_bytes(), "application/json"),
        ("duplicate keys", genuine.replacen('{', r#"{"kind": "image", "#, 1).into_bytes(), "application/json"),
        ("huge body", vec![b' '; 10 * 1024 * 1024], "application/json"),
    ];
    let mut tried = 0;
    for path in ["/v1/stamps", "/v1/verify"] {
        for (label, body, ct) in &bodies {
            let resp = app
                .client
                .post(app.url(path))
                .bearer_auth(&app.token)
                .header("Content-Type", *ct)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let json: Value = resp.json().await.unwrap_or(Value::Null);
            assert!((400..500).contains(&status), "{path} {label}: {status} {json}");
            assert!(json["error"]["code"].is_string(), "{path} {label}: not a JSON error: {json}");
            tried += 1;
        }
    }
    // A receipt with a repeated member name is refused, not half-read.
    let dup = br#"{"receipt": {"id": "a", "id": "b"}}"#.to_vec();
    let resp = app.client.post(app.url("/v1/verify")).header("Content-Type", "application/json").body(dup).send().await;
    assert_eq!(resp.unwrap().status(), 422);

    let long_id = "a".repeat(10_000);
    let paths = [
        "/v1/stamps/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/v1/stamps/..%2F..%2Fkeys",
        "/v1/stamps/%00",
        &format!("/v1/stamps/{long_id}"),
        "/v1/stamps?sha256=%ff%fe",
        "/v1/stamps?text=%ff",
        "/v1/log/proof/inclusion?index=-1&tree_size=1",
        "/v1/log/proof/inclusion?index=0&tree_size=-5",
        "/v1/log/proof/inclusion?index=18446744073709551616&tree_size=1",
        "/v1/log/proof/inclusion?index=18446744073709551615&tree_size=18446744073709551615",
        "/v1/log/proof/consistency?first=-1&second=1",
        "/v1/log/proof/consistency?first=18446744073709551615&second=18446744073709551615",
        "/v1/log/proof/consistency?first=0&second=18446744073709551615",
        "/v1/log/entries?start=18446744073709551615&end=18446744073709551615",
        "/v1/log/entries?start=-3",
        "/v1/log/entries?start=1&end=0",
    ];
    for path in paths {
        let resp = app.get(path).await;
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap_or(Value::Null);
        assert!((400..500).contains(&status), "{path}: {status} {json}");
        assert!(json["error"]["code"].is_string(), "{path}: {json}");
        tried += 1;
    }
    eprintln!("hostile input: {tried} requests tried, all answered 4xx JSON");

    // Still up, still consistent.
    app.stamp_ok(&copy_request("After the storm.")).await;
    let (report, _) = audit_remote(&reqwest::Client::new(), &app.url(""), None, |_, _| {}).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.leaves, 2);
}
