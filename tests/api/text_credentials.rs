//! Text credentials: `POST /v1/credentials` with `text/plain` returns the text (NFC)
//! followed by a C2PA manifest in C2PA's invisible text wrapper; verification recognises
//! it, intact or edited; and C2PA's own tools (c2pa-text, c2pa-python) read it back.

use serde_json::{json, Value};

use crate::credentials::{codes, failed, verify_file_offline, Answer};
use crate::helpers::{assert_error_at, c2pa_reference, check_code, spawn_app, spawn_app_with, TestApp};
use crate::sbr_manifest::validate;

/// Curly quotes and apostrophes, an accent written decomposed (e + U+0301), which NFC
/// composes, and three sentences of marketing copy.
const TEXT: &str = "Meet the \u{201c}Trailblazer 3\u{201d}: the lightest running shoe we\u{2019}ve ever made, \
                    built for long days on rough trails. Cafe\u{301} owners in Lyon wear it from opening to closing \
                    time without a single complaint. Order today and your first pair ships free within two days.";

/// An error answer expected: status, code, and the field it names.
type Expected = (u16, &'static str, Option<&'static str>);

fn text_metadata() -> Value {
    json!({
        "kind": "marketing_copy",
        "generator": {"provider": "ExampleAI", "model": "copywriter", "model_version": "2026-10"},
        "prompt": "Three sentences for the Trailblazer 3 launch",
        "disclosure": {"text": "This text was generated with AI and reviewed by our team.", "lang": "en"},
        "human_oversight": "reviewed"
    })
}

fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

impl TestApp {
    async fn credential_text(&self, text: &str) -> Answer {
        self.credential_with(
            Some(&self.token),
            Some(&text_metadata()),
            Some("text/plain; charset=utf-8"),
            text.as_bytes().to_vec(),
        )
        .await
    }

    async fn by_content(&self, text: &str) -> Value {
        let resp = self
            .client
            .post(self.url("/sbr/v1/matches/byContent?alg=io.iscc.v0"))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_credentialed_text_verifies_as_stamped_and_edits_are_explained_and_still_lead_to_it() {
    let app = spawn_app().await;
    let answer = app.credential_text(TEXT).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(answer.header("cache-control"), "no-store");
    let id = answer.header("aiprov-stamp-id").to_owned();
    assert_eq!(answer.header("location"), format!("/v1/stamps/{id}"));
    assert!(!answer.header("aiprov-prompt-salt").is_empty(), "the prompt's salt, once");
    let credentialed = String::from_utf8(answer.body.clone()).expect("UTF-8");

    // The visible text is the NFC text; what follows it is invisible: U+FEFF, then
    // variation selectors only.
    let visible = nfc(TEXT);
    assert_ne!(visible, TEXT);
    assert!(credentialed.starts_with(&visible), "the NFC text comes first");
    let wrapper = &credentialed[visible.len()..];
    assert!(wrapper.starts_with('\u{feff}'));
    assert!(
        wrapper.chars().skip(1).all(|c| matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)),
        "only variation selectors follow"
    );
    // The stamp is of the visible text: exactly what `POST /v1/stamps` would stamp.
    let (status, receipt) = app.get_json(&format!("/v1/stamps/{id}")).await;
    assert_eq!(status, 200);
    let subject = &receipt["statement"]["subject"];
    assert_eq!(subject["sha256"], ai_provenance::Sha256Digest::of(visible.as_bytes()).to_hex());
    assert_eq!(subject["media_type"], "text/plain; charset=utf-8");
    assert!(subject["iscc"].as_str().is_some_and(|c| c.starts_with("ISCC:")), "{subject}");

    // Intact, as JSON text and as an upload: verified by its credentials.
    for verdict in [app.verify(&json!({"text": credentialed})).await, app.verify_bytes(answer.body.clone()).await] {
        assert_eq!(verdict["verified"], true, "{verdict}");
        assert_eq!(verdict["matches"], json!([id]), "{verdict}");
        assert_eq!(check_code(&verdict, "credential"), "credential.linked", "{verdict}");
        let linked = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == "credential").unwrap();
        let iscc = subject["iscc"].as_str().unwrap();
        assert!(
            linked["message"].as_str().unwrap().contains(&format!("soft binding (io.iscc.v0) is {iscc}")),
            "{linked}"
        );
        assert_eq!(check_code(&verdict, "content"), "content.credential.match", "{verdict}");
        assert!(codes(&verdict).iter().any(|c| c == "assertion.dataHash.match"), "{verdict}");
        assert!(failed(&verdict).is_empty(), "{verdict}");
    }

    // Edited (one word), its credentials kept: not verified, the mismatch said in words,
    // the original's stamp named, and the text listed as similar to it.
    let edited = credentialed.replacen("lightest", "lighter", 1);
    let verdict = app.verify(&json!({"text": edited})).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    assert_eq!(check_code(&verdict, "content"), "content.credential.mismatch", "{verdict}");
    assert!(failed(&verdict).iter().any(|c| c == "assertion.dataHash.mismatch"), "{verdict}");
    let c2pa = verdict["checks"].as_array().unwrap().iter().find(|c| c["code"] == "assertion.dataHash.mismatch");
    let words = c2pa.unwrap()["message"].as_str().unwrap();
    assert!(words.starts_with("The text changed after its Content Credentials were signed"), "{words}");
    let summary = verdict["summary"].as_str().unwrap();
    assert!(summary.starts_with("Edited after its disclosure was made: this text's Content Credentials"), "{summary}");
    assert_eq!(verdict["stamp"]["id"], id.as_str(), "{verdict}");
    assert!(verdict["similar"].as_array().unwrap().iter().any(|s| s["stamp_id"] == id.as_str()), "{verdict}");

    // Without its wrapper (a system that drops invisible characters), or with its wrapper
    // cut short: the stamped text, found by its hash (normalisation v2 for the cut one).
    let cut: String = credentialed.chars().take(visible.chars().count() + 40).collect();
    for (label, text) in [("no wrapper", visible.as_str()), ("a cut wrapper", cut.as_str())] {
        let verdict = app.verify(&json!({"text": text})).await;
        assert_eq!(verdict["verified"], true, "{label}: {verdict}");
        assert_eq!(verdict["matches"][0], id.as_str(), "{label}: {verdict}");
    }
    // One sentence copied out of it: similar.
    let sentence = "Cafe\u{301} owners in Lyon wear it from opening to closing time without a single complaint.";
    let verdict = app.verify(&json!({"text": sentence})).await;
    assert_eq!(check_code(&verdict, "content"), "content.similar", "{verdict}");
    assert!(verdict["similar"].as_array().unwrap().iter().any(|s| s["stamp_id"] == id.as_str()), "{verdict}");
    // The Soft Binding Resolution API finds it from the credentialed text itself.
    let matches = app.by_content(&credentialed).await;
    assert_eq!(matches["matches"][0], json!({"manifestId": id, "similarityScore": 100}), "{matches}");

    // The detached manifest of the stamp validates against the visible text.
    let anchors = app.get("/v1/c2pa/anchors.pem").await.text().await.unwrap();
    let store = app.manifest_store(&format!("/sbr/v1/manifests/{id}")).await;
    assert_eq!((store.status, store.content_type.as_str()), (200, "application/c2pa"));
    let (state, passed, failures) = validate(&anchors, &store.body, visible.as_bytes(), "text/plain");
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(state, c2pa::ValidationState::Trusted, "{passed:?}");

    reference_check(&credentialed, &edited, &visible);
}

/// C2PA's reference implementation of the text wrapper (c2pa-text on PyPI) finds one
/// valid wrapper where the service put it, padded to the specification's deterministic
/// length, and the NFC text around it. c2pa-python validates the manifest it carries
/// against the whole text: the signature, and the data hash over every byte outside the
/// exclusion. Having no text/plain handler (0.38.1, C2PA SDK 0.91.3), it cannot locate
/// the wrapper in the text, and says so ("exclusion does not match the manifest
/// location"); besides that, the signer is untrusted there, as it is not given the
/// service's root. The edit fails the hash itself.
fn reference_check(credentialed: &str, edited: &str, visible: &str) {
    let dir = tempfile::tempdir().unwrap();
    let [intact_path, edited_path] = ["intact.txt", "edited.txt"].map(|n| dir.path().join(n));
    std::fs::write(&intact_path, credentialed).unwrap();
    std::fs::write(&edited_path, edited).unwrap();
    let Some(results) = c2pa_reference(&json!([{"text": intact_path}, {"text": edited_path}])) else { return };
    let intact = &results[0];
    assert_eq!(intact["valid"], true, "{intact}");
    assert_eq!(intact["issues"], json!([]), "{intact}");
    assert_eq!(intact["clean_text"], visible, "{intact}");
    let wrapper_len = credentialed.len() - visible.len();
    assert_eq!(intact["wrapper"], json!([visible.len(), wrapper_len]), "{intact}");
    assert_eq!(intact["worst_case_length"], json!(wrapper_len), "padded to the deterministic length");
    let ours = c2pa_text::extract_manifest(credentialed).unwrap().manifest.unwrap();
    assert_eq!(intact["manifest"].as_str().unwrap(), hex(&ours), "the same manifest bytes");
    eprintln!(
        "a text of {} bytes carries a manifest store of {} bytes in a wrapper of {wrapper_len} bytes",
        visible.len(),
        ours.len()
    );
    let has = |v: &Value, list: &str, code: &str| v[list].as_array().is_some_and(|a| a.iter().any(|c| c == code));
    let c2pa = &intact["c2pa"];
    eprintln!("c2pa-python on the credentialed text: {c2pa}");
    assert!(has(c2pa, "passed", "claimSignature.validated"), "{c2pa}");
    assert!(has(c2pa, "passed", "assertion.dataHash.match"), "{c2pa}");
    for failure in c2pa["explained"].as_array().unwrap() {
        let (code, why) = (failure[0].as_str().unwrap(), failure[1].as_str().unwrap());
        let located = code == "assertion.dataHash.mismatch" && why.contains("does not match the manifest location");
        assert!(code == "signingCredential.untrusted" || located, "{c2pa}");
    }
    let c2pa = &results[1]["c2pa"];
    eprintln!("c2pa-python on the edited text: {c2pa}");
    assert!(!has(c2pa, "passed", "assertion.dataHash.match"), "the edit: {c2pa}");
    let hash_failed = c2pa["explained"].as_array().unwrap().iter().any(|f| {
        f[0] == "assertion.dataHash.mismatch"
            && !f[1].as_str().unwrap().contains("does not match the manifest location")
    });
    let refused = c2pa["error"].as_str().is_some_and(|e| e.to_lowercase().contains("mismatch"));
    assert!(refused || hash_failed, "the edit fails the hash itself: {c2pa}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn text_that_cannot_be_credentialed_is_refused_by_name_and_nothing_is_stamped() {
    let app = spawn_app_with(|c| c.max_text_bytes = 64 * 1024).await;
    let tok = Some(app.token.as_str());
    let meta = text_metadata();
    let mut image_kind = meta.clone();
    image_kind["kind"] = json!("image");
    let mut html = meta.clone();
    html["media_type"] = json!("text/html");
    let first = app.credential_text("Already credentialed once, this text cannot be stamped a second time.").await;
    assert_eq!(first.status, 201);
    let credentialed = first.body.clone();
    let text = |t: &str| t.as_bytes().to_vec();
    let plain = Some("text/plain");
    let cases: Vec<(&str, Answer, Expected)> = vec![
        (
            "latin-1",
            app.credential_with(tok, Some(&meta), Some("text/plain; charset=iso-8859-1"), text("caf\u{e9}")).await,
            (415, "unsupported_media_type", None),
        ),
        (
            "not UTF-8",
            app.credential_with(tok, Some(&meta), plain, vec![b'c', b'a', b'f', 0xE9]).await,
            (422, "invalid_content", None),
        ),
        ("empty", app.credential_with(tok, Some(&meta), plain, Vec::new()).await, (422, "invalid_content", None)),
        (
            "an image kind",
            app.credential_with(tok, Some(&image_kind), plain, text("words")).await,
            (422, "invalid_metadata", Some("kind")),
        ),
        (
            "another media type",
            app.credential_with(tok, Some(&html), plain, text("words")).await,
            (422, "invalid_metadata", Some("media_type")),
        ),
        (
            "credentialed already",
            app.credential_with(tok, Some(&meta), plain, credentialed).await,
            (422, "invalid_content", None),
        ),
        (
            "too long",
            app.credential_with(tok, Some(&meta), plain, vec![b'a'; 64 * 1024 + 1]).await,
            (413, "payload_too_large", None),
        ),
    ];
    for (label, answer, expected) in cases {
        assert_error_at(answer.status, &answer.json(), expected, label);
    }
    let (_, entries) = app.get_json("/v1/log/entries?start=0").await;
    assert_eq!(entries["tree_size"], 1, "only the first text was stamped: {entries}");
}

/// The offline CLI reads a credentialed text file as it reads a credentialed image: the
/// manifest validated against the service's root, the stamp's receipt fetched from
/// `--key`, every check passed; an edited copy fails by its hard binding (exit 1).
#[tokio::test]
async fn aiprov_verify_file_checks_a_credentialed_text_and_its_edit() {
    let app = spawn_app().await;
    let answer = app.credential_text(TEXT).await;
    assert_eq!(answer.status, 201);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("launch.txt");
    std::fs::write(&good, &answer.body).unwrap();
    let edited = dir.path().join("edited.txt");
    std::fs::write(&edited, String::from_utf8(answer.body.clone()).unwrap().replacen("lightest", "lighter", 1))
        .unwrap();
    let out = verify_file_offline(&app, good).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for code in ["credential.linked", "assertion.dataHash.match", "content.credential.match", "log.included"] {
        assert!(stdout.contains(&format!("PASS {code}")), "{code}: {stdout}");
    }
    let out = verify_file_offline(&app, edited).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for code in ["assertion.dataHash.mismatch", "content.credential.mismatch"] {
        assert!(stdout.contains(&format!("FAIL {code}")), "{code}: {stdout}");
    }
    assert!(stdout.contains("The text changed after its Content Credentials were signed"), "{stdout}");
}
