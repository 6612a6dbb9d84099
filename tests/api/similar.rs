//! Finding the disclosure of text that is no longer byte for byte what was stamped: 200
//! marketing texts stamped through the real server, then looked up as a content
//! management system publishes them (normalisation v2), one sentence at a time (the
//! sentence index), and with one word changed, added or removed (the ISCC Text-Code).
//! The found rates are printed and must be 95% or more; the README's table is this run's.

use serde_json::{json, Value};

use crate::corpus::{edit_one_word, excerpt, marketing_text, typeset};
use crate::helpers::{check_code, copy_request, run_reference, spawn_app, TestApp};

const TEXTS: u64 = 200;

async fn stamp_texts(app: &TestApp) -> Vec<(String, String)> {
    let mut stamped = Vec::new();
    for i in 0..TEXTS {
        let text = marketing_text(i);
        let body = app.stamp_ok(&copy_request(&text)).await;
        stamped.push((text, body["id"].as_str().unwrap().to_owned()));
    }
    stamped
}

/// Whether a verdict leads to stamp `id`: as the verified match, or among the similar.
fn leads_to(verdict: &Value, id: &str) -> (bool, bool) {
    let exact = verdict["verified"] == true && verdict["matches"][0] == id;
    let similar = verdict["similar"].as_array().is_some_and(|s| s.iter().any(|c| c["stamp_id"] == id));
    (exact, similar)
}

#[tokio::test]
async fn typeset_excerpted_and_edited_texts_lead_to_their_stamps() {
    let app = spawn_app().await;
    let stamped = stamp_texts(&app).await;
    let (mut typeset_found, mut excerpt_found, mut edited_found) = (0, 0, 0);
    for (i, (text, id)) in stamped.iter().enumerate() {
        // As published: verified, under normalisation v2, and the check says so.
        let verdict = app.verify(&json!({"text": typeset(text)})).await;
        if leads_to(&verdict, id).0 {
            typeset_found += 1;
            let content = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == "content").unwrap();
            assert!(content["message"].as_str().unwrap().contains("normalisation v2"), "{verdict}");
        }
        // One sentence: similar, never verified.
        let verdict = app.verify(&json!({"text": excerpt(text)})).await;
        let (exact, similar) = leads_to(&verdict, id);
        assert!(!exact, "an excerpt is not the stamped text: {verdict}");
        if similar {
            excerpt_found += 1;
            assert_eq!(check_code(&verdict, "content"), "content.similar", "{verdict}");
        }
        // One word changed, added or removed.
        let edited = edit_one_word(text, i as u64, i as u64 * 7);
        let verdict = app.verify(&json!({"text": edited})).await;
        if leads_to(&verdict, id).1 {
            edited_found += 1;
        }
    }
    let pct = |n: u64| n as f64 * 100.0 / TEXTS as f64;
    println!("| text variant ({TEXTS} texts) | found |");
    println!("| --- | --- |");
    println!("| typeset (curly quotes, en dash, no-break space) | {:.1}% verified |", pct(typeset_found));
    println!("| one sentence of 8+ words | {:.1}% similar |", pct(excerpt_found));
    println!("| one word changed, added or removed | {:.1}% similar |", pct(edited_found));
    for (what, found) in [("typeset", typeset_found), ("excerpt", excerpt_found), ("edited", edited_found)] {
        assert!(pct(found) >= 95.0, "{what}: {found} of {TEXTS} found");
    }
}

#[tokio::test]
async fn a_similar_verdict_names_the_issuer_and_date_in_plain_words() {
    let app = spawn_app().await;
    let text = marketing_text(7);
    let stamped = app.stamp_ok(&copy_request(&text)).await;
    let verdict = app.verify(&json!({"text": excerpt(&text)})).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    let summary = verdict["summary"].as_str().unwrap();
    let date = &stamped["statement"]["issued_at"].as_str().unwrap()[..10];
    assert_eq!(
        summary,
        format!(
            "Not the stamped content itself, but very similar to content that Acme Test declared AI-generated on {date}."
        )
    );
    let candidate = &verdict["similar"][0];
    assert_eq!(candidate["stamp_id"], stamped["id"]);
    assert_eq!(candidate["issuer"], "Acme Test");
    assert_eq!(candidate["kind"], "marketing_copy");
    assert_eq!(candidate["disclosure"], stamped["statement"]["disclosure"]);
    assert_eq!(candidate["algorithm"], "ai-provenance.sentence.v1");
    assert_eq!(candidate["similarity"], 100);
    // The statement carries the Text-Code, as a v2 statement.
    assert_eq!(stamped["statement"]["type"], "ai-provenance/statement/v2");
    assert!(stamped["statement"]["subject"]["iscc"].as_str().unwrap().starts_with("ISCC:EA"), "{stamped}");
    // Unrelated text is unknown, and says what it was compared by.
    let verdict = app.verify(&json!({"text": marketing_text(10_000)})).await;
    assert_eq!(check_code(&verdict, "content"), "content.unknown", "{verdict}");
    assert!(verdict.get("similar").is_none(), "{verdict}");
}

#[tokio::test]
async fn the_soft_binding_resolution_api_finds_text_by_binding_and_by_content() {
    let app = spawn_app().await;
    let text = marketing_text(3);
    let stamped = app.stamp_ok(&copy_request(&text)).await;
    let id = stamped["id"].as_str().unwrap();
    let code: ai_provenance::fingerprint::ContentCode =
        stamped["statement"]["subject"]["iscc"].as_str().unwrap().parse().unwrap();
    let value = ai_provenance::fingerprint::seq::encode_value(&[code]);

    let (status, algs) = app.get_json("/sbr/v1/services/supportedAlgorithms").await;
    assert_eq!(status, 200);
    assert_eq!(algs, json!({"watermarks": [], "fingerprints": [{"alg": "io.iscc.v0"}]}));

    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("alg", "io.iscc.v0")
        .append_pair("value", &value)
        .finish();
    let (status, found) = app.get_json(&format!("/sbr/v1/matches/byBinding?{query}&maxResults=5")).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found, json!({"matches": [{"manifestId": id, "similarityScore": 100}]}));
    // As POST, JSON and form.
    let (status, posted) =
        app.post_json("/sbr/v1/matches/byBinding", &json!({"alg": "io.iscc.v0", "value": value})).await;
    assert_eq!((status, &posted), (200, &found));
    let resp = app
        .client
        .post(app.url("/sbr/v1/matches/byBinding"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), found);

    // By content: the text edited by one word, as the raw body.
    let resp = app
        .client
        .post(app.url("/sbr/v1/matches/byContent?alg=io.iscc.v0"))
        .header("content-type", "text/plain; charset=utf-8")
        .body(edit_one_word(&text, 1, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["matches"][0]["manifestId"], id, "{found}");
    assert!(found["matches"][0]["similarityScore"].as_u64().unwrap() >= 80, "{found}");

    // Refusals name the parameter.
    for (path, field) in [
        (format!("/sbr/v1/matches/byBinding?alg=com.example.other&value={value}"), "alg"),
        ("/sbr/v1/matches/byBinding?alg=io.iscc.v0&value=not*base64".to_owned(), "value"),
        (format!("/sbr/v1/matches/byBinding?{query}&maxResults=0"), "maxResults"),
        ("/sbr/v1/matches/byBinding?alg=io.iscc.v0".to_owned(), "value"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
}

/// The Text-Codes the service computes are ISCC's: compared with iscc-core (PyPI, ISCC's
/// reference implementation in Python, pinned in `tests/reference/iscc_texts.py`) on the
/// 200 marketing texts, their typeset and edited versions, and texts in other scripts.
/// Skipped, saying why, when Python or PyPI is missing, unless AIPROV_REQUIRE_REFERENCE=1.
#[tokio::test]
async fn text_codes_are_those_of_iscc_core() {
    let mut texts: Vec<String> = Vec::new();
    for i in 0..TEXTS {
        let text = marketing_text(i);
        texts.push(typeset(&text));
        texts.push(edit_one_word(&text, i, i * 3));
        texts.push(text);
    }
    texts.extend(
        [
            "Hello World",
            "Café crème brûlée – 20 % günstiger, nur heute!",
            "東京で一番軽いランニングシューズ。今すぐ予約してください。",
            "Легчайшие кроссовки сезона: бегите дальше, тратьте меньше.",
            "Emoji too 👟🔥 and a zero\u{200b}width space, m² and ＡＢＣ.",
        ]
        .map(str::to_owned),
    );
    let Some(codes) = run_reference("iscc_texts.py", "iscc-core-reference", &json!(texts)) else { return };
    let expected: Vec<String> = serde_json::from_value(codes).expect("a JSON list of codes");
    assert_eq!(expected.len(), texts.len());
    let mismatches: Vec<String> = texts
        .iter()
        .zip(&expected)
        .filter_map(|(text, want)| {
            let got = ai_provenance::fingerprint::text::text_code(text).map(|c| c.to_string()).unwrap_or_default();
            (&got != want).then(|| format!("{text:?}: ours {got}, iscc-core {want}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{} of {} differ:\n{}", mismatches.len(), texts.len(), mismatches.join("\n"));
}
