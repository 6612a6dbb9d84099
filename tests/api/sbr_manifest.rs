//! `GET /sbr/v1/manifests/{manifestId}`: the detached C2PA manifest store of a stamped
//! image, made without the image (its hard binding is the statement's `subject.sha256`),
//! checked against the image by the c2pa crate and by c2pa-python (the C2PA SDK's binding).

use std::io::Cursor;

use base64::Engine;
use serde_json::{json, Value};

use crate::credentials::picture;
use crate::helpers::{assert_error_at, c2pa_reference, copy_request, spawn_app, spawn_app_with, TestApp};

/// A stamp request for a PNG sent whole, as `POST /v1/stamps` takes it.
fn image_request(png: &[u8]) -> Value {
    json!({
        "content_base64": base64::engine::general_purpose::STANDARD.encode(png),
        "media_type": "image/png",
        "kind": "image",
        "generator": {"provider": "ExampleAI", "model": "painter", "model_version": "3"},
        "prompt": "a lighthouse at dusk",
        "disclosure": {"text": "This image was generated with AI.", "lang": "en"},
        "human_oversight": "none"
    })
}

/// An answer of the manifests endpoint.
pub struct Store {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Store {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl TestApp {
    pub async fn manifest_store(&self, path: &str) -> Store {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        Store { status, content_type: content_type.unwrap_or_default(), body: resp.bytes().await.unwrap().to_vec() }
    }
}

/// The validation of `asset` (of media type `format`) against the sidecar `manifest` by the c2pa crate,
/// trusting `anchors` (PEM): the state, and the codes of the active manifest's statuses
/// that passed and failed. A data hash the SDK refuses outright counts as its mismatch.
pub fn validate(
    anchors: &str,
    manifest: &[u8],
    asset: &[u8],
    format: &str,
) -> (c2pa::ValidationState, Vec<String>, Vec<String>) {
    let context = c2pa::Context::new()
        .with_settings(json!({
            "trust": {"trust_anchors": anchors},
            "verify": {"verify_trust": true, "remote_manifest_fetch": false, "ocsp_fetch": false}
        }))
        .unwrap();
    let reader = c2pa::Reader::from_context(context).with_manifest_data_and_stream(
        manifest,
        format,
        Cursor::new(asset.to_vec()),
    );
    let reader = match reader {
        Ok(r) => r,
        Err(c2pa::Error::HashMismatch(_)) => {
            return (c2pa::ValidationState::Invalid, Vec::new(), vec!["assertion.dataHash.mismatch".into()])
        }
        Err(e) => panic!("the c2pa crate cannot read the store: {e}"),
    };
    let results = reader.validation_results().and_then(|r| r.active_manifest()).expect("validation results");
    let code = |s: &c2pa::validation_status::ValidationStatus| s.code().to_owned();
    let passed = results.success().iter().chain(results.informational()).map(code).collect();
    let failed = results.failure().iter().map(code).collect();
    (reader.validation_state(), passed, failed)
}

#[tokio::test]
async fn a_stamped_image_has_one_detached_manifest_that_validates_against_it_and_not_against_an_edit() {
    let app = spawn_app().await;
    let anchors = app.get("/v1/c2pa/anchors.pem").await.text().await.unwrap();
    let png = picture(image::ImageFormat::Png, 5);
    let stamped = app.stamp_ok(&image_request(&png)).await;
    let id = stamped["id"].as_str().unwrap().to_owned();
    let iscc: ai_provenance::fingerprint::ContentCode =
        stamped["statement"]["subject"]["iscc"].as_str().expect("an image stamp has a Content-Code").parse().unwrap();

    let first = app.manifest_store(&format!("/sbr/v1/manifests/{id}")).await;
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    assert_eq!(first.content_type, "application/c2pa");
    // The same bytes every time: made and signed once, then kept.
    for path in [
        format!("/sbr/v1/manifests/{id}"),
        format!("/sbr/v1/manifests/{id}?returnActiveManifest=true"),
        format!("/sbr/v1/manifests/{id}?returnActiveManifest=false"),
    ] {
        let again = app.manifest_store(&path).await;
        assert_eq!(again.status, 200, "{path}");
        assert!(again.body == first.body, "{path}: other bytes than the first answer");
    }

    // The original validates, trusted under the published root, its data hash matching.
    let (state, passed, failed) = validate(&anchors, &first.body, &png, "image/png");
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(state, c2pa::ValidationState::Trusted, "{passed:?}");
    for code in ["claimSignature.validated", "signingCredential.trusted", "assertion.dataHash.match"] {
        assert!(passed.iter().any(|c| c == code), "no {code} in {passed:?}");
    }
    // The same assertions as an embedded manifest, the soft binding included.
    let context = c2pa::Context::new().with_settings(json!({"verify": {"verify_trust": false}})).unwrap();
    let reader = c2pa::Reader::from_context(context)
        .with_manifest_data_and_stream(&first.body, "image/png", Cursor::new(png.clone()))
        .unwrap();
    let manifest = reader.active_manifest().expect("an active manifest");
    let actions: Value = manifest.find_assertion("c2pa.actions.v2").expect("c2pa.actions");
    assert_eq!(actions["actions"][0]["action"], "c2pa.created");
    assert_eq!(
        actions["actions"][0]["digitalSourceType"],
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    );
    let link: Value = manifest.find_assertion("org.ai-provenance.stamp").expect("the stamp link");
    assert_eq!(link["stamp_id"], id.as_str());
    assert_eq!(link["subject_sha256"], ai_provenance::Sha256Digest::of(&png).to_hex());
    let binding: Value = manifest.find_assertion("c2pa.soft-binding").expect("the soft binding");
    assert_eq!(binding["alg"], "io.iscc.v0");
    let value: Vec<u8> = serde_json::from_value(binding["blocks"][0]["value"].clone()).unwrap();
    assert_eq!(value, ai_provenance::fingerprint::seq::encode_seq(&[iscc]));
    // The hard binding covers the whole asset: a data hash with no exclusions.
    let detailed: Value = serde_json::from_str(&reader.detailed_json()).unwrap();
    let hashes = find_all(&detailed, "c2pa.hash.data");
    assert_eq!(hashes.len(), 1, "one data hash in {detailed}");
    let exclusions = &hashes[0]["exclusions"];
    assert!(exclusions.is_null() || exclusions.as_array().is_some_and(|a| a.is_empty()), "{}", hashes[0]);
    assert!(!reader.json().contains("lighthouse"), "the prompt never enters the manifest");

    // An image changed by one byte fails, by its data hash.
    let mut changed = png.clone();
    let last = changed.len() - 20;
    changed[last] ^= 1;
    let (state, _, failed) = validate(&anchors, &first.body, &changed, "image/png");
    assert_eq!(state, c2pa::ValidationState::Invalid);
    assert!(failed.iter().any(|c| c == "assertion.dataHash.mismatch"), "{failed:?}");

    reference_check(&first.body, &png, &changed);
}

/// Every value under a key named `key`, anywhere in `json`.
fn find_all<'a>(json: &'a Value, key: &str) -> Vec<&'a Value> {
    match json {
        Value::Object(map) => map.iter().flat_map(|(k, v)| if k == key { vec![v] } else { find_all(v, key) }).collect(),
        Value::Array(items) => items.iter().flat_map(|v| find_all(v, key)).collect(),
        _ => Vec::new(),
    }
}

/// The store checked by c2pa-python (the C2PA SDK's Python binding, from PyPI in a venv),
/// against the original and a changed image.
fn reference_check(manifest: &[u8], original: &[u8], changed: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("stamp.c2pa");
    std::fs::write(&store, manifest).unwrap();
    let [original_path, changed_path] = ["original.png", "changed.png"].map(|n| dir.path().join(n));
    std::fs::write(&original_path, original).unwrap();
    std::fs::write(&changed_path, changed).unwrap();
    let jobs = json!([
        {"store": store, "asset": original_path, "format": "image/png"},
        {"store": store, "asset": changed_path, "format": "image/png"},
    ]);
    let Some(results) = c2pa_reference(&jobs) else { return };
    let has = |v: &Value, list: &str, code: &str| v[list].as_array().is_some_and(|a| a.iter().any(|c| c == code));
    let original = &results[0];
    assert!(has(original, "passed", "assertion.dataHash.match"), "c2pa-python, original: {original}");
    assert!(has(original, "passed", "claimSignature.validated"), "c2pa-python, original: {original}");
    // Untrusted there (it is not given our root): the only failure allowed is that.
    for code in original["failed"].as_array().unwrap() {
        assert_eq!(code, "signingCredential.untrusted", "c2pa-python, original: {original}");
    }
    let changed = &results[1];
    eprintln!("c2pa-python: original {original}; changed {changed}");
    // It reports the mismatch, or refuses the store outright naming it.
    let refused = changed["error"].as_str().is_some_and(|e| e.to_lowercase().contains("mismatch"));
    assert!(refused || has(changed, "failed", "assertion.dataHash.mismatch"), "c2pa-python, changed: {changed}");
}

#[tokio::test]
async fn unknown_stamps_other_content_and_bad_parameters_are_answered_in_json() {
    let app = spawn_app().await;
    // A video, stamped by its hash: no manifest is made for what is neither image nor text.
    let mut video = copy_request("unused");
    let video = video.as_object_mut().unwrap();
    video.remove("text");
    video.insert("sha256".into(), json!("cd".repeat(32)));
    video.insert("kind".into(), json!("video"));
    video.insert("media_type".into(), json!("video/mp4"));
    let text = app.stamp_ok(&json!(video)).await;
    let text_id = text["id"].as_str().unwrap();
    let unknown = "ab".repeat(32);
    let cases = [
        (format!("/sbr/v1/manifests/{unknown}"), (404, "not_found", None)),
        (format!("/sbr/v1/manifests/{text_id}"), (404, "not_found", None)),
        ("/sbr/v1/manifests/not-hex".to_owned(), (400, "invalid_id", Some("manifestId"))),
        (
            format!("/sbr/v1/manifests/{text_id}?returnActiveManifest=maybe"),
            (400, "invalid_query", Some("returnActiveManifest")),
        ),
    ];
    for (path, expected) in cases {
        let answer = app.manifest_store(&path).await;
        assert!(answer.content_type.starts_with("application/json"), "{path}: {}", answer.content_type);
        assert_error_at(answer.status, &answer.json(), expected, &path);
    }
    let answer = app.manifest_store(&format!("/sbr/v1/manifests/{text_id}")).await;
    let message = answer.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("images and texts only"), "the 404 says why: {message}");
}

#[tokio::test]
async fn manifest_lookups_are_limited_per_client_like_the_other_lookups() {
    let app = spawn_app_with(|c| c.lookup_rate = ai_provenance::RateLimit { per_second: 0.01, burst: 2 }).await;
    let png = picture(image::ImageFormat::Png, 6);
    let id = app.stamp_ok(&image_request(&png)).await["id"].as_str().unwrap().to_owned();
    let path = format!("/sbr/v1/manifests/{id}");
    for _ in 0..2 {
        assert_eq!(app.manifest_store(&path).await.status, 200);
    }
    let answer = app.manifest_store(&path).await;
    assert_eq!(answer.status, 429, "{}", String::from_utf8_lossy(&answer.body));
}
