//! Erasure, prompt checks, issuer management and abuse limits against the real server.

use std::path::Path;

use ai_provenance::RateLimit;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, assert_error_at, check_code, copy_request, public_receipt, spawn_app, spawn_app_with, TestApp,
};

async fn send(app: &TestApp, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = app;
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn erase(app: &TestApp, id: &str, token: &str) -> (u16, Value) {
    send(app, app.client.delete(app.url(&format!("/v1/stamps/{id}/prompt"))).bearer_auth(token)).await
}

async fn check_prompt(app: &TestApp, id: &str, prompt: &str) -> (u16, Value) {
    send(app, app.client.post(app.url(&format!("/v1/stamps/{id}/prompt/verify"))).json(&json!({ "prompt": prompt })))
        .await
}

/// Whether any file under `dir` contains `needle`, searched byte by byte.
fn raw_files_contain(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).map(|b| b.windows(needle.len()).any(|w| w == needle)).unwrap_or(false) {
                return true;
            }
        }
    }
    false
}

/// Whether the salt is stored: its file bytes in the data directory (embedded), or its
/// sealed row in the database (PostgreSQL, where it is never in clear: see below).
async fn salt_is_stored(app: &TestApp, salt: &[u8]) -> bool {
    match &app.db {
        None => raw_files_contain(&app.data_dir, salt),
        Some(db) => {
            let client = crate::helpers::pg_connect(db.url()).await;
            client.query_one("SELECT count(*) FROM log_salts", &[]).await.unwrap().get::<_, i64>(0) > 0
        }
    }
}

/// Whether the salt can be read in clear anywhere the service keeps data: the data
/// directory, and on PostgreSQL the server's files of the test database and its
/// write-ahead log, after a checkpoint has written every page out (dead tuples included).
async fn salt_in_clear(app: &TestApp, salt: &[u8]) -> bool {
    if raw_files_contain(&app.data_dir, salt) {
        return true;
    }
    let Some(db) = &app.db else { return false };
    let client = crate::helpers::pg_connect(db.url()).await;
    client.batch_execute("CHECKPOINT").await.unwrap();
    let dir: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
    let oid: u32 =
        client.query_one("SELECT oid FROM pg_database WHERE datname = current_database()", &[]).await.unwrap().get(0);
    let (base, wal) = (Path::new(&dir).join("base").join(oid.to_string()), Path::new(&dir).join("pg_wal"));
    if std::fs::read_dir(&base).is_err() {
        eprintln!("{} is not readable here: the database's files are not searched", base.display());
        return false;
    }
    raw_files_contain(&base, salt) || raw_files_contain(&wal, salt)
}

#[tokio::test]
async fn prompt_checks_then_erasure_leaves_receipts_valid_and_no_salt_on_disk() {
    let app = spawn_app().await;
    let body = copy_request("Crisp autumn mornings, warmer jackets.");
    let prompt = body["prompt"].as_str().unwrap().to_owned();
    let stamped = app.stamp_ok(&body).await;
    let id = stamped["id"].as_str().unwrap();
    let salt = hex::decode(stamped["prompt_salt"].as_str().unwrap()).unwrap();
    assert!(salt_is_stored(&app, &salt).await, "the salt is stored before erasure (else the test proves nothing)");
    assert!(app.db.is_none() || !salt_in_clear(&app, &salt).await, "PostgreSQL never holds a salt in clear");

    let (s, b) = check_prompt(&app, id, &prompt).await;
    assert_eq!((s, &b["matches"]), (200, &json!(true)), "{b}");
    let (s, b) = check_prompt(&app, id, "some other prompt").await;
    assert_eq!((s, &b["matches"]), (200, &json!(false)), "{b}");

    // Another issuer may not erase it; its own issuer may.
    let (s, b) = erase(&app, id, &app.other_token).await;
    assert_eq!(assert_error(s, &b, 403), "forbidden");
    let (s, b) = erase(&app, id, &app.token).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["erased"], true);
    assert_eq!(b["record"]["erased_by"], "Acme Test");

    // Nothing can confirm the prompt any more, and no file holds the salt.
    let (s, b) = check_prompt(&app, id, &prompt).await;
    assert_eq!(assert_error(s, &b, 410), "gone");
    assert!(!salt_is_stored(&app, &salt).await, "the erased salt is not stored any more");
    assert!(!salt_in_clear(&app, &salt).await, "an erased salt must not survive in clear in any file");

    // The receipt and its log proof stay valid.
    let (_, receipt) = app.get_json(&format!("/v1/stamps/{id}")).await;
    let verdict = app.verify(&json!({"text": "Crisp autumn mornings, warmer jackets.", "receipt": receipt})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(check_code(&verdict, "log"), "log.included");

    // Erasing twice is harmless; the register has one record, for admins only.
    let (s, b) = erase(&app, id, &app.token).await;
    assert_eq!((s, &b["erased"]), (200, &json!(false)), "{b}");
    let (s, b) = send(&app, app.client.get(app.url("/v1/admin/erasures")).bearer_auth(&app.token)).await;
    assert_eq!(assert_error(s, &b, 403), "forbidden");
    let (s, b) = send(&app, app.client.get(app.url("/v1/admin/erasures")).bearer_auth(&app.admin_token)).await;
    assert_eq!(s, 200);
    assert_eq!(b["erasures"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["erasures"][0]["stamp_id"], id);
}

#[tokio::test]
async fn admins_erase_any_stamp_and_stamps_without_prompt_have_nothing_to_erase() {
    let app = spawn_app().await;
    let stamped = app.stamp_ok(&copy_request("Admin erasure.")).await;
    let id = stamped["id"].as_str().unwrap();
    let (s, b) = erase(&app, id, &app.admin_token).await;
    assert_eq!((s, &b["erased"], &b["record"]["admin"]), (200, &json!(true), &json!(true)), "{b}");

    let mut no_prompt = copy_request("No prompt here.");
    no_prompt.as_object_mut().unwrap().remove("prompt");
    let stamped = app.stamp_ok(&no_prompt).await;
    let id = stamped["id"].as_str().unwrap();
    // The stamp exists, its prompt link never did: nothing to erase, no prompt matches.
    let (s, b) = erase(&app, id, &app.token).await;
    assert_eq!((s, &b["erased"], &b["record"]), (200, &json!(false), &Value::Null), "{b}");
    assert!(b["message"].as_str().unwrap().contains("without a prompt"), "{b}");
    let (s, b) = check_prompt(&app, id, "x").await;
    assert_eq!((s, &b["matches"]), (200, &json!(false)), "{b}");
    assert!(b["message"].as_str().unwrap().contains("without a prompt"), "{b}");
    let (_, register) = send(&app, app.client.get(app.url("/v1/admin/erasures")).bearer_auth(&app.admin_token)).await;
    assert_eq!(register["erasures"].as_array().unwrap().len(), 1, "only the real erasure is recorded: {register}");

    let unknown = "ab".repeat(32);
    let (s, b) = erase(&app, &unknown, &app.token).await;
    assert_eq!(assert_error(s, &b, 404), "not_found");
    let (s, b) = erase(&app, "..%2F..%2Fetc", &app.token).await;
    assert_eq!(assert_error(s, &b, 400), "invalid_id");
    let (s, b) = send(&app, app.client.delete(app.url(&format!("/v1/stamps/{unknown}/prompt")))).await;
    assert_eq!(assert_error(s, &b, 401), "unauthorized");
}

#[tokio::test]
async fn a_stamp_is_erasable_the_moment_it_is_acknowledged() {
    // A fuzzer saw DELETE /v1/stamps/{id}/prompt answer 404 right after the stamp: a
    // stamp made without a prompt, then 404 "nothing to erase". Every lookup by id now
    // also goes through the published checkpoint, as GET /v1/stamps/{id} does. Stamp and
    // erase at once, many times, from several clients at a time, so that stamps land in
    // every position of the log's batches.
    let app = std::sync::Arc::new(spawn_app().await);
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let mut body = copy_request(&format!("Tight loop {task}-{i}."));
                    let with_prompt = i % 4 != 3;
                    if !with_prompt {
                        body.as_object_mut().unwrap().remove("prompt");
                    }
                    let stamped = app.stamp_ok(&body).await;
                    let id = stamped["id"].as_str().unwrap();
                    let (s, b) = erase(&app, id, &app.token).await;
                    assert_eq!((s, &b["erased"]), (200, &json!(with_prompt)), "{task}-{i}: {b}");
                    let (s, b) = app.get_json(&format!("/v1/stamps/{id}")).await;
                    assert_eq!(s, 200, "{task}-{i}: {b}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("no task failed");
    }
    let (_, b) = send(&app, app.client.get(app.url("/v1/admin/erasures")).bearer_auth(&app.admin_token)).await;
    let with_prompt = 8 * (0..25).filter(|i| i % 4 != 3).count();
    assert_eq!(b["erasures"].as_array().unwrap().len(), with_prompt, "one record per prompt erased");
}

#[tokio::test]
async fn tokens_created_and_revoked_through_the_admin_api() {
    let app = spawn_app().await;
    let (s, b) =
        send(&app, app.client.post(app.url("/v1/admin/tokens")).bearer_auth(&app.token).json(&json!({"issuer": "X"})))
            .await;
    assert_eq!(assert_error(s, &b, 403), "forbidden", "issuers cannot mint tokens");
    let (s, created) = send(
        &app,
        app.client.post(app.url("/v1/admin/tokens")).bearer_auth(&app.admin_token).json(&json!({"issuer": "Agency B"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    let token_id = created["id"].as_str().unwrap().to_owned();

    let resp =
        app.client.post(app.url("/v1/stamps")).bearer_auth(&secret).json(&copy_request("By agency B.")).send().await;
    let stamped: Value = resp.unwrap().json().await.unwrap();
    assert_eq!(stamped["statement"]["issuer"], "Agency B", "the token's issuer is written into the statement");

    let (s, list) = send(&app, app.client.get(app.url("/v1/admin/tokens")).bearer_auth(&app.admin_token)).await;
    assert_eq!(s, 200);
    assert!(!list.to_string().contains(&secret), "listing never shows secrets");
    assert!(list["tokens"].as_array().unwrap().iter().any(|t| t["id"] == token_id.as_str()));

    let (s, b) =
        send(&app, app.client.delete(app.url(&format!("/v1/admin/tokens/{token_id}"))).bearer_auth(&app.admin_token))
            .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["revoked_at"].is_string(), "{b}");
    let resp = app.client.post(app.url("/v1/stamps")).bearer_auth(&secret).json(&copy_request("Revoked.")).send().await;
    let resp = resp.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(assert_error(status, &body, 401), "unauthorized", "a revoked token fails at once");

    for (path, status, code) in
        [("/v1/admin/tokens/nothex", 400, "invalid_id"), ("/v1/admin/tokens/0000000000000000", 404, "not_found")]
    {
        let (s, b) = send(&app, app.client.delete(app.url(path)).bearer_auth(&app.admin_token)).await;
        assert_eq!(assert_error(s, &b, status), code, "{path}");
    }
    let (s, b) = send(
        &app,
        app.client.post(app.url("/v1/admin/tokens")).bearer_auth(&app.admin_token).json(&json!({"issuer": " bad "})),
    )
    .await;
    assert_eq!(assert_error(s, &b, 422), "invalid_field");
}

#[tokio::test]
async fn a_burst_past_the_rate_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.stamp_rate = RateLimit { per_second: 0.2, burst: 3 };
        c.prompt_check_rate = RateLimit { per_second: 0.2, burst: 2 };
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..5 {
        let resp = app.stamp(&copy_request(&format!("Burst {i}"))).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    assert!(retry_after.is_some_and(|s| (1..=5).contains(&s)), "{retry_after:?}");
    // Limits are per token: another issuer is unaffected.
    let resp =
        app.client.post(app.url("/v1/stamps")).bearer_auth(&app.other_token).json(&copy_request("Other")).send().await;
    assert_eq!(resp.unwrap().status(), 201);

    // Prompt checks are limited per client address, against online guessing.
    let stamped = app.stamp_ok_with(&app.other_token, &copy_request("Guess my prompt")).await;
    let id = stamped["id"].as_str().unwrap();
    let mut codes = Vec::new();
    for guess in ["a", "b", "c"] {
        codes.push(check_prompt(&app, id, guess).await.0);
    }
    assert_eq!(codes, [200, 200, 429]);
}

/// Sets the member at JSON pointer `at` of a copy-stamp request (a recommendation
/// explanation when the pointer is inside one) to `value`.
fn request_with(at: &str, value: &str) -> Value {
    let mut body = copy_request("Personal data guard.");
    body["media_type"] = json!("text/plain");
    if at.starts_with("/explanation") {
        body["kind"] = json!("recommendation_explanation");
        body["explanation"] = json!({
            "item": "sku-1",
            "factors": [{"name": "viewed similar items", "weight": 0.6}, {"name": "segment: runners", "weight": 0.4}],
            "data_categories": ["browsing history"],
            "legal_basis": "consent"
        });
    }
    *body.pointer_mut(at).unwrap_or_else(|| panic!("no {at} in the request")) = json!(value);
    body
}

#[tokio::test]
async fn personal_data_is_kept_out_of_every_logged_field() {
    let app = spawn_app().await;
    for (at, value, field) in [
        ("/disclosure/text", "Generated with AI. Questions: jane.doe@example.com", "disclosure.text"),
        ("/disclosure/text", "Generated with AI; ask jane.doe at example dot com", "disclosure.text"),
        ("/disclosure/text", "Generated with AI. Reviewed by Mrs Jane Doe, 12 Baker Street.", "disclosure.text"),
        ("/disclosure/text", "KI-generiert. Rückfragen: 030 1234567", "disclosure.text"),
        ("/generator/provider", "ExampleAI (jane [at] example [dot] com)", "generator.provider"),
        ("/generator/model", "copywriter for jane(at)example.com", "generator.model"),
        ("/generator/model_version", "call +44 20 7946 0958", "generator.model_version"),
        ("/media_type", "text/plain; owner=\"jane@example.com\"", "media_type"),
        ("/explanation/item", "gift for customer Jane Doe, 5 Main Street", "explanation.item"),
        ("/explanation/factors/1/name", "bought by jane at example dot com", "explanation.factors[1].name"),
        ("/explanation/data_categories/0", "phone (555) 123-4567", "explanation.data_categories[0]"),
    ] {
        let resp = app.stamp(&request_with(at, value)).await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_error_at(status, &body, (422, "personal_data", Some(field)), value);
        assert!(!body.to_string().contains("jane"), "the error does not repeat the identifier: {body}");
    }
    // An issuer name goes into every statement its token stamps.
    for issuer in ["jane.doe@example.com", "Jane Doe, +44 20 7946 0958"] {
        let req = app.client.post(app.url("/v1/admin/tokens")).bearer_auth(&app.admin_token);
        let (status, body) = send(&app, req.json(&json!({ "issuer": issuer }))).await;
        assert_error_at(status, &body, (422, "personal_data", Some("issuer")), issuer);
    }
}

#[tokio::test]
async fn ordinary_copy_product_names_and_codes_are_stamped() {
    let app = spawn_app().await;
    for (at, value) in [
        ("/disclosure/text", "This text was generated with AI."),
        ("/disclosure/text", "Dieser Text wurde mit KI erstellt und von unserem Team geprüft."),
        ("/disclosure/text", "Image generated with AI (Stable Diffusion XL 1.0). Shop at example.com"),
        ("/generator/model", "Model 3000"),
        ("/generator/model", "claude-3-5-sonnet-20241022"),
        ("/generator/model_version", "2026-10-22"),
        ("/explanation/item", "EAN 4006381333931"),
        ("/explanation/item", "SKU 1234567890"),
        ("/explanation/item", "sku-1234567"),
        ("/explanation/factors/0/name", "viewed Model 3000 Pro, 2 colours"),
        ("/explanation/data_categories/0", "purchase history, last 30 days"),
    ] {
        let stamped = app.stamp_ok(&request_with(at, value)).await;
        let field = at.trim_start_matches('/').replace('/', ".");
        assert!(stamped["statement"].to_string().contains(value), "{field} = {value:?} is in the statement");
    }
}

#[tokio::test]
async fn a_receipt_with_its_prompt_salt_is_refused_by_the_public_verify() {
    let app = spawn_app().await;
    let text = "Salted receipts stay private.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let salt = stamped["prompt_salt"].as_str().unwrap().to_owned();
    for body in [json!({"receipt": stamped}), json!({"text": text, "receipt": stamped})] {
        let (status, answer) = app.post_json("/v1/verify", &body).await;
        assert_error_at(status, &answer, (422, "invalid_field", Some("receipt.prompt_salt")), "salted receipt");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("remove prompt_salt"), "{message}");
        assert!(!answer.to_string().contains(&salt), "the answer does not echo the secret: {answer}");
    }
    // The receipt without it, or as GET /v1/stamps/{id} serves it, verifies.
    let verdict = app.verify(&json!({"text": text, "receipt": public_receipt(&stamped)})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    let (_, receipt) = app.get_json(&format!("/v1/stamps/{}", stamped["id"].as_str().unwrap())).await;
    assert_eq!(app.verify(&json!({"text": text, "receipt": receipt})).await["verified"], true);
}
