//! Every bad input gets a clear JSON error with the right status.

use serde_json::json;

use crate::helpers::{assert_error, copy_request, spawn_app, TEST_MAX_JSON};

#[tokio::test]
async fn missing_malformed_and_wrong_tokens_are_401() {
    let app = spawn_app().await;
    let body = copy_request("Token test.");
    let cases: [(&str, Option<String>); 4] = [
        ("missing", None),
        ("not bearer", Some(format!("Basic {}", app.token))),
        ("wrong", Some("Bearer aiprov_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())),
        ("empty", Some("Bearer ".into())),
    ];
    for (label, header) in cases {
        let mut req = app.client.post(app.url("/v1/stamps")).json(&body);
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        assert_eq!(resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"), "{label}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(assert_error(status, &body, 401), "unauthorized", "{label}");
    }
}

#[tokio::test]
async fn bad_bodies_are_4xx_json() {
    let app = spawn_app().await;
    let mut unknown = copy_request("x");
    unknown["colour"] = json!("blue");
    let mut bad_b64 = copy_request("x");
    bad_b64.as_object_mut().unwrap().remove("text");
    bad_b64["content_base64"] = json!("%%% not base64");
    let mut bad_hex = copy_request("x");
    bad_hex.as_object_mut().unwrap().remove("text");
    bad_hex["sha256"] = json!("xyz");
    let mut bad_kind = copy_request("x");
    bad_kind["kind"] = json!("hologram");
    let mut bad_dst = copy_request("x");
    bad_dst["digital_source_type"] = json!("http://example.com/made-up");
    let mut two_contents = copy_request("x");
    two_contents["sha256"] = json!("00".repeat(32));
    let mut empty_disclosure = copy_request("x");
    empty_disclosure["disclosure"]["text"] = json!("   ");
    let mut bad_lang = copy_request("x");
    bad_lang["disclosure"]["lang"] = json!("english please");
    let mut pii = copy_request("x");
    pii["kind"] = json!("recommendation_explanation");
    pii["explanation"] = json!({"item": "sku-1", "factors": [{"name": "bought by jane.doe@example.com", "weight": 1}], "data_categories": [], "legal_basis": "consent"});
    let mut missing_generator = copy_request("x");
    missing_generator.as_object_mut().unwrap().remove("generator");

    let cases = [
        ("unknown field", unknown, 422, "invalid_field"),
        ("bad base64", bad_b64, 400, "invalid_base64"),
        ("bad hex", bad_hex, 422, "invalid_field"),
        ("bad kind", bad_kind, 422, "invalid_field"),
        ("bad source type", bad_dst, 422, "invalid_field"),
        ("two contents", two_contents, 422, "invalid_content"),
        ("empty disclosure", empty_disclosure, 422, "invalid_field"),
        ("bad lang", bad_lang, 422, "invalid_field"),
        ("personal data", pii, 422, "personal_data"),
        ("missing generator", missing_generator, 422, "invalid_field"),
    ];
    for (label, body, status, code) in cases {
        let resp = app.stamp(&body).await;
        let got = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(assert_error(got, &body, status), code, "{label}: {body}");
    }
}

#[tokio::test]
async fn personal_data_error_names_the_field() {
    let app = spawn_app().await;
    let mut body = copy_request("x");
    body["kind"] = json!("recommendation_explanation");
    body["explanation"] = json!({"item": "sku-1", "factors": [{"name": "recent", "weight": 1}], "data_categories": ["call +1 555 123 4567"], "legal_basis": "consent"});
    let resp = app.stamp(&body).await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "explanation.data_categories", "{body}");
}

#[tokio::test]
async fn malformed_json_wrong_type_and_oversized_bodies() {
    let app = spawn_app().await;
    let send = |body: Vec<u8>, ct: &'static str| {
        let req = app.client.post(app.url("/v1/stamps")).bearer_auth(&app.token).header("Content-Type", ct).body(body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, b) = send(b"{\"text\": ".to_vec(), "application/json").await;
    assert_eq!(assert_error(s, &b, 400), "invalid_json");
    let (s, b) = send(b"\xff\xfe{}".to_vec(), "application/json").await;
    assert_eq!(assert_error(s, &b, 400), "invalid_json");
    let (s, b) = send(b"text=hello".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(assert_error(s, &b, 415), "unsupported_media_type");
    let big = serde_json::to_vec(&copy_request(&"a".repeat(TEST_MAX_JSON + 1))).unwrap();
    let (s, b) = send(big, "application/json").await;
    assert_eq!(assert_error(s, &b, 413), "payload_too_large");
}

#[tokio::test]
async fn bad_ids_queries_and_routes() {
    let app = spawn_app().await;
    for (path, status, code) in [
        ("/v1/stamps/not-an-id", 400, "invalid_id"),
        ("/v1/stamps/..%2F..%2Fetc%2Fpasswd", 400, "invalid_id"),
        (&format!("/v1/stamps/{}", "ab".repeat(32)), 404, "not_found"),
        ("/v1/stamps?sha256=zz", 400, "invalid_hex"),
        ("/v1/stamps", 400, "invalid_query"),
        ("/v1/stamps?sha256=00&text=x", 400, "invalid_query"),
        ("/v1/stamps?text=x&limit=100000", 400, "invalid_query"),
        ("/v1/stamps?text=x&limit=-1", 400, "invalid_query"),
        ("/v1/nothing-here", 404, "not_found"),
    ] {
        let (s, b) = app.get_json(path).await;
        assert_eq!(assert_error(s, &b, status), code, "{path}: {b}");
    }
    let (s, b) = app.post_json("/v1/verify", &json!({})).await;
    assert_eq!(assert_error(s, &b, 422), "nothing_to_verify");
    let (s, b) = app.post_json("/v1/verify", &json!({"content_base64": "***"})).await;
    assert_eq!(assert_error(s, &b, 400), "invalid_base64");
    let (s, b) = app.post_json("/v1/verify", &json!({"sha256": "123"})).await;
    assert_eq!(assert_error(s, &b, 422), "invalid_field");
    let (s, b) = app.post_json("/v1/verify", &json!({"text": "a", "sha256": "00".repeat(32)})).await;
    assert_eq!(assert_error(s, &b, 422), "invalid_content");
}
