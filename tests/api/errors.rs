//! Every bad input gets a clear JSON error with the right status.

use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_error_at, copy_request, spawn_app, TEST_MAX_JSON};

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

/// `copy_request("x")` with `change` applied to it.
fn copy_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut body = copy_request("x");
    change(&mut body);
    body
}

/// `copy_with`, as a recommendation explanation with these factors.
fn explained(factors: Value) -> Value {
    copy_with(|b| {
        b["kind"] = json!("recommendation_explanation");
        b["explanation"] =
            json!({"item": "sku-1", "factors": factors, "data_categories": [], "legal_basis": "consent"});
    })
}

#[tokio::test]
async fn bad_bodies_are_4xx_json_naming_the_field() {
    let app = spawn_app().await;
    let without_text = |change: fn(&mut Value)| {
        copy_with(|b| {
            b.as_object_mut().unwrap().remove("text");
            change(b);
        })
    };
    let iptc = "http://cv.iptc.org/newscodes/digitalsourcetype/";
    // (label, body, status, code, field, words the message must hold)
    type Case = (&'static str, Value, u16, &'static str, Option<&'static str>, &'static [&'static str]);
    let cases: Vec<Case> = vec![
        (
            "unknown field",
            copy_with(|b| b["colour"] = json!("blue")),
            422,
            "invalid_field",
            Some("colour"),
            &["unknown field"],
        ),
        (
            "unknown nested field",
            copy_with(|b| b["generator"]["temperature"] = json!(0.7)),
            422,
            "invalid_field",
            Some("generator.temperature"),
            &["unknown field"],
        ),
        (
            "missing generator",
            copy_with(|b| {
                b.as_object_mut().unwrap().remove("generator");
            }),
            422,
            "invalid_field",
            Some("generator"),
            &["required"],
        ),
        (
            "missing model",
            copy_with(|b| {
                b["generator"].as_object_mut().unwrap().remove("model");
            }),
            422,
            "invalid_field",
            Some("generator.model"),
            &["required"],
        ),
        (
            "model of the wrong type",
            copy_with(|b| b["generator"]["model"] = json!(42)),
            422,
            "invalid_field",
            Some("generator.model"),
            &["invalid type"],
        ),
        (
            "bad base64",
            without_text(|b| b["content_base64"] = json!("%%% not base64")),
            400,
            "invalid_base64",
            Some("content_base64"),
            &["base64"],
        ),
        (
            "bad hex",
            without_text(|b| b["sha256"] = json!("xyz")),
            422,
            "invalid_field",
            Some("sha256"),
            &["64 hex digits"],
        ),
        (
            "negative size",
            without_text(|b| {
                b["sha256"] = json!("ab".repeat(32));
                b["size"] = json!(-1);
            }),
            422,
            "invalid_field",
            Some("size"),
            &[],
        ),
        ("size without sha256", copy_with(|b| b["size"] = json!(5)), 422, "invalid_field", Some("size"), &["sha256"]),
        (
            "bad kind",
            copy_with(|b| b["kind"] = json!("hologram")),
            422,
            "invalid_field",
            Some("kind"),
            &["marketing_copy", "recommendation_explanation"],
        ),
        (
            "bad oversight",
            copy_with(|b| b["human_oversight"] = json!("maybe")),
            422,
            "invalid_field",
            Some("human_oversight"),
            &["none", "reviewed", "edited"],
        ),
        (
            "source type not IPTC",
            copy_with(|b| b["digital_source_type"] = json!("http://example.com/made-up")),
            422,
            "invalid_field",
            Some("digital_source_type"),
            &["must be an IPTC URI starting with http://cv.iptc.org/newscodes/digitalsourcetype/"],
        ),
        (
            "unknown IPTC code",
            copy_with(|b| b["digital_source_type"] = json!(format!("{iptc}madeUp"))),
            422,
            "invalid_field",
            Some("digital_source_type"),
            &["trainedAlgorithmicMedia", "digitalCapture", "compositeWithTrainedAlgorithmicMedia"],
        ),
        (
            "bad media type",
            copy_with(|b| b["media_type"] = json!("text")),
            422,
            "invalid_field",
            Some("media_type"),
            &["MIME"],
        ),
        (
            "media type parameter without a value",
            copy_with(|b| b["media_type"] = json!("text/plain; charset")),
            422,
            "invalid_field",
            Some("media_type"),
            &["MIME", "name=value"],
        ),
        (
            "null for an optional member",
            copy_with(|b| b["explanation"] = json!(null)),
            422,
            "invalid_field",
            Some("explanation"),
            &["null"],
        ),
        (
            "two contents",
            copy_with(|b| b["sha256"] = json!("00".repeat(32))),
            422,
            "invalid_content",
            Some("sha256"),
            &["text and sha256"],
        ),
        ("no content", without_text(|_| {}), 422, "invalid_content", Some("text"), &["exactly one"]),
        (
            "empty disclosure",
            copy_with(|b| b["disclosure"]["text"] = json!("   ")),
            422,
            "invalid_field",
            Some("disclosure.text"),
            &["empty"],
        ),
        (
            "bad lang",
            copy_with(|b| b["disclosure"]["lang"] = json!("english please")),
            422,
            "invalid_field",
            Some("disclosure.lang"),
            &["BCP 47"],
        ),
        (
            "weight of the wrong type",
            explained(
                json!([{"name": "a", "weight": 1}, {"name": "b", "weight": 1}, {"name": "c", "weight": "heavy"}]),
            ),
            422,
            "invalid_field",
            Some("explanation.factors[2].weight"),
            &["invalid type"],
        ),
        (
            "weight out of range",
            explained(json!([{"name": "a", "weight": 1}, {"name": "b", "weight": -835268}])),
            422,
            "invalid_field",
            Some("explanation.factors[1].weight"),
            &["from 0 to 1"],
        ),
        (
            "bad legal basis",
            copy_with(|b| {
                b["kind"] = json!("recommendation_explanation");
                b["explanation"] = json!({"item": "sku-1", "factors": [{"name": "a", "weight": 1}], "data_categories": [], "legal_basis": "because"});
            }),
            422,
            "invalid_field",
            Some("explanation.legal_basis"),
            &["consent", "legitimate_interests"],
        ),
        (
            "explanation missing",
            copy_with(|b| b["kind"] = json!("recommendation_explanation")),
            422,
            "invalid_field",
            Some("explanation"),
            &["required"],
        ),
        (
            "personal data",
            explained(json!([{"name": "bought by jane.doe@example.com", "weight": 1}])),
            422,
            "personal_data",
            Some("explanation.factors[0].name"),
            &["e-mail"],
        ),
    ];
    for (label, body, status, code, field, says) in cases {
        let resp = app.stamp(&body).await;
        let got = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_error_at(got, &body, (status, code, field), label);
        let message = body["error"]["message"].as_str().unwrap();
        for word in says {
            assert!(message.contains(word), "{label}: {word:?} not in {message:?}");
        }
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
    assert_eq!(body["error"]["field"], "explanation.data_categories[0]", "{body}");
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
async fn bad_ids_queries_and_routes_name_the_parameter() {
    let app = spawn_app().await;
    app.stamp_ok(&copy_request("One stamp, so the log has a tree of size 1.")).await;
    let ab = "ab".repeat(32);
    for (path, status, code, field) in [
        ("/v1/stamps/not-an-id", 400, "invalid_id", Some("id")),
        ("/v1/stamps/..%2F..%2Fetc%2Fpasswd", 400, "invalid_id", Some("id")),
        ("/v1/stamps/not-an-id/badge.svg", 400, "invalid_id", Some("id")),
        (&format!("/v1/stamps/{ab}"), 404, "not_found", None),
        ("/v1/stamps?sha256=zz", 400, "invalid_hex", Some("sha256")),
        ("/v1/stamps", 400, "invalid_query", Some("sha256")),
        ("/v1/stamps?sha256=00&text=x", 400, "invalid_query", Some("text")),
        ("/v1/stamps?text=x&limit=100000", 400, "invalid_query", Some("limit")),
        ("/v1/stamps?text=x&limit=-1", 400, "invalid_query", Some("limit")),
        ("/v1/stamps?text=x&colour=blue", 400, "invalid_query", Some("colour")),
        (&format!("/v1/stamps?text={}", "a".repeat(4097)), 400, "invalid_query", Some("text")),
        ("/v1/log/proof/inclusion", 400, "invalid_query", Some("index")),
        ("/v1/log/proof/inclusion?index=first", 400, "invalid_query", Some("index")),
        ("/v1/log/proof/inclusion?index=7", 400, "invalid_proof_request", Some("index")),
        ("/v1/log/proof/inclusion?index=0&tree_size=9", 400, "invalid_proof_request", Some("tree_size")),
        ("/v1/log/proof/consistency?first=1&second=9", 400, "invalid_proof_request", Some("second")),
        ("/v1/log/proof/consistency", 400, "invalid_query", Some("first")),
        ("/v1/log/entries?start=5", 400, "invalid_range", Some("start")),
        ("/v1/log/entries?start=1&end=0", 400, "invalid_range", Some("end")),
        ("/v1/log/entries?start=x", 400, "invalid_query", Some("start")),
        ("/v1/nothing-here", 404, "not_found", None),
    ] {
        let (s, b) = app.get_json(path).await;
        assert_error_at(s, &b, (status, code, field), path);
        if let Some(field) = field {
            let message = b["error"]["message"].as_str().unwrap();
            assert!(message.contains(field), "{path}: the message should name {field}: {message}");
        }
    }
    // The longest ?text= of the widest characters still reaches the service (the HTTP
    // server refuses a request line of 64 KiB without a JSON answer).
    let widest = "\u{10FFFF}".repeat(4096);
    let query: String = form_urlencoded::byte_serialize(widest.as_bytes()).collect();
    let (s, b) = app.get_json(&format!("/v1/stamps?text={query}")).await;
    assert_eq!((s, &b["stamps"]), (200, &json!([])), "{b}");
    let (s, b) = app.get_json(&format!("/v1/stamps?text={query}%F4%8F%BF%BF")).await;
    assert_error_at(s, &b, (400, "invalid_query", Some("text")), "4097 characters");
    let resp = app.client.delete(app.url("/v1/admin/tokens/nothex")).bearer_auth(&app.admin_token).send().await;
    let resp = resp.unwrap();
    let s = resp.status().as_u16();
    assert_error_at(s, &resp.json().await.unwrap(), (400, "invalid_id", Some("id")), "token id");
    let (s, b) = app.post_json("/v1/stamps/xyz/prompt/verify", &json!({"prompt": "p"})).await;
    assert_error_at(s, &b, (400, "invalid_id", Some("id")), "prompt check id");
    let (s, b) = app.post_json(&format!("/v1/stamps/{ab}/prompt/verify"), &json!({"prompt": 5})).await;
    assert_error_at(s, &b, (422, "invalid_field", Some("prompt")), "prompt of the wrong type");

    for (label, body, expected) in [
        ("nothing", json!({}), (422, "nothing_to_verify", None)),
        ("bad base64", json!({"content_base64": "***"}), (400, "invalid_base64", Some("content_base64"))),
        ("bad hex", json!({"sha256": "123"}), (422, "invalid_field", Some("sha256"))),
        ("two contents", json!({"text": "a", "sha256": "00".repeat(32)}), (422, "invalid_content", Some("sha256"))),
        ("text of the wrong type", json!({"text": 5}), (422, "invalid_field", Some("text"))),
        ("unknown member", json!({"text": "a", "reciept": {}}), (422, "invalid_field", Some("reciept"))),
        ("not a URL", json!({"url": "not a url"}), (422, "invalid_url", Some("url"))),
    ] {
        let (s, b) = app.post_json("/v1/verify", &body).await;
        assert_error_at(s, &b, expected, label);
    }
}

#[tokio::test]
async fn upload_metadata_errors_name_the_header_or_the_field_in_it() {
    let app = spawn_app().await;
    let upload = |metadata: Option<&'static str>| {
        let mut req = app.client.post(app.url("/v1/stamps/upload")).bearer_auth(&app.token).body("bytes");
        if let Some(m) = metadata {
            req = req.header("Aiprov-Metadata", m);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = upload(None).await;
    assert_error_at(s, &b, (400, "missing_metadata", Some("Aiprov-Metadata")), "no header");
    let (s, b) = upload(Some("{not json")).await;
    assert_error_at(s, &b, (400, "invalid_metadata", Some("Aiprov-Metadata")), "not JSON");
    let (s, b) = upload(Some(
        r#"{"kind": "image", "generator": {"provider": "P"}, "disclosure": {"text": "AI", "lang": "en"}}"#,
    ))
    .await;
    assert_error_at(s, &b, (422, "invalid_metadata", Some("generator.model")), "missing model");
    let (s, b) = upload(Some(r#"{"kind": "image", "generator": {"provider": "P", "model": "M"}, "disclosure": {"text": "Ask jane@example.com", "lang": "en"}}"#)).await;
    assert_error_at(s, &b, (422, "personal_data", Some("disclosure.text")), "personal data in the header");
}

#[tokio::test]
async fn upper_case_sha256_is_accepted_and_kept_lower_case() {
    let app = spawn_app().await;
    let lower = ai_provenance::Sha256Digest::of(b"a private asset").to_hex();
    let upper = lower.to_uppercase();
    let mut body = copy_request("x");
    body.as_object_mut().unwrap().remove("text");
    body["sha256"] = json!(upper);
    let stamped = app.stamp_ok(&body).await;
    assert_eq!(stamped["statement"]["subject"]["sha256"], lower.as_str(), "stored in its canonical form");
    let id = stamped["id"].as_str().unwrap();
    assert_eq!(id, id.to_lowercase(), "a stamp id is always written in lower case");

    let verdict = app.verify(&json!({"sha256": upper})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["matches"][0], id);
    let (s, found) = app.get_json(&format!("/v1/stamps?sha256={upper}")).await;
    assert_eq!((s, &found["stamps"][0]["id"]), (200, &json!(id)), "{found}");
    let (s, receipt) = app.get_json(&format!("/v1/stamps/{}", id.to_uppercase())).await;
    assert_eq!((s, &receipt["id"]), (200, &json!(id)), "{receipt}");

    // Inside a receipt, one spelling only: an upper-cased digest is a malformed receipt.
    let mut altered = receipt.clone();
    altered["statement"]["subject"]["sha256"] = json!(upper);
    let verdict = app.verify(&json!({"receipt": altered})).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    let message = verdict["checks"][0]["message"].as_str().unwrap();
    assert!(message.contains("statement.subject.sha256"), "the malformed receipt's path is named: {message}");
}

#[tokio::test]
async fn real_organisation_names_are_issuers() {
    let app = spawn_app().await;
    let create = |issuer: &str| {
        let req = app.client.post(app.url("/v1/admin/tokens")).bearer_auth(&app.admin_token);
        let req = req.json(&json!({ "issuer": issuer }));
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    for issuer in ["Procter & Gamble", "Acme, Inc.", "L'Oréal", "Müller + Söhne GmbH", "株式会社アクメ"] {
        let (s, created) = create(issuer).await;
        assert_eq!(s, 201, "{issuer}: {created}");
        let stamped = app.stamp_ok_with(created["token"].as_str().unwrap(), &copy_request(issuer)).await;
        assert_eq!(stamped["statement"]["issuer"], issuer);
        let verdict = app.verify(&json!({"text": issuer})).await;
        assert_eq!(verdict["verified"], true, "{issuer}: {verdict}");
        assert_eq!(verdict["stamp"]["issuer"], issuer);
        let badge = app.get(&format!("/v1/stamps/{}/badge.svg", stamped["id"].as_str().unwrap())).await;
        assert_eq!(badge.status(), 200, "{issuer}");
        let svg = badge.text().await.unwrap();
        assert!(!svg.contains("Procter & Gamble") && !svg.contains("L'Oréal\""), "escaped in the SVG: {svg}");
    }
    for issuer in ["", " Acme", "Acme  Inc", "Acme\u{202e}cnI", "Acme\u{200b}", "Acme\nInc", &"a".repeat(201)] {
        let (s, b) = create(issuer).await;
        assert_error_at(s, &b, (422, "invalid_field", Some("issuer")), issuer);
    }
}

#[tokio::test]
async fn a_statement_too_large_for_a_log_entry_is_refused_before_anything_is_logged() {
    let app = spawn_app().await;
    // Every field within its limits (50 factors and 50 categories of 200 characters),
    // but in four-byte characters: the statement would pass 65,535 bytes.
    let wide = "𝕏".repeat(200);
    let mut body = explained(json!((0..50).map(|_| json!({"name": wide, "weight": 0.5})).collect::<Vec<_>>()));
    body["explanation"]["data_categories"] = json!((0..50).map(|_| wide.clone()).collect::<Vec<_>>());
    let resp = app.stamp(&body).await;
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(assert_error(status, &answer, 422), "statement_too_large", "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("65535"), "{answer}");
    let checkpoint = app.get("/tlog/checkpoint").await.text().await.unwrap();
    assert_eq!(checkpoint.lines().nth(1), Some("0"), "nothing was logged");
}
