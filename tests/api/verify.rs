use serde_json::json;

use crate::helpers::{check_code, copy_request, public_receipt as receipt_of, spawn_app};

#[tokio::test]
async fn genuine_content_and_receipt_verify_with_every_check_named() {
    let app = spawn_app().await;
    let text = "Autumn sale: 30% off every jacket.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let verdict = app.verify(&json!({"text": text, "receipt": receipt_of(&stamped)})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    for (name, code) in [
        ("key", "key.known"),
        ("signature", "signature.validated"),
        ("content", "content.hash.match"),
        ("log", "log.included"),
        ("checkpoint", "checkpoint.validated"),
        ("disclosure", "disclosure.present"),
    ] {
        assert_eq!(check_code(&verdict, name), code, "{verdict}");
    }
    assert_eq!(verdict["stamp"]["issuer"], "Acme Test");
    assert!(verdict["summary"].as_str().unwrap().contains("Acme Test"), "who vouches is said plainly: {verdict}");
    // The log holds this one stamp: its sentences count in good English.
    let message = |name: &str| {
        let check = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        check["message"].as_str().unwrap().to_owned()
    };
    assert!(message("log").contains("the log's tree of 1 entry ("), "{}", message("log"));
    assert!(message("checkpoint").contains(", 1 entry)"), "{}", message("checkpoint"));

    // Content alone (as a journalist would paste it, respaced) finds and verifies it.
    let verdict = app.verify(&json!({"text": "Autumn sale:\n30% off   every jacket."})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["matches"][0], stamped["id"]);
    assert_eq!(verdict["stamp"]["disclosure"]["text"], stamped["statement"]["disclosure"]["text"]);

    assert_eq!(verdict["content_checked"], true, "{verdict}");
    // Who vouches, by name: the issuer, the log by its origin, and its operator.
    let summary = verdict["summary"].as_str().unwrap();
    assert!(summary.contains("issued by \"Acme Test\""), "{summary}");
    assert!(
        summary.contains("signed by test.example, the operator of the public log \"test.example/log\""),
        "{summary}"
    );
    assert!(!summary.contains("this service"), "{summary}");
    assert_eq!(verdict["stamp"]["log_origin"], "test.example/log", "{verdict}");
    assert_eq!(verdict["stamp"]["log_operator"], "test.example", "{verdict}");

    // A receipt alone verifies too, and says plainly that no content was checked.
    let verdict = app.verify(&json!({"receipt": receipt_of(&stamped)})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["content_checked"], false, "{verdict}");
    let summary = verdict["summary"].as_str().unwrap();
    assert!(summary.starts_with("Genuine receipt, but no content was checked"), "{summary}");
}

#[tokio::test]
async fn tampered_content_fails_the_content_check() {
    let app = spawn_app().await;
    let stamped = app.stamp_ok(&copy_request("Free shipping on all orders.")).await;
    let verdict = app.verify(&json!({"text": "Free shipping on some orders.", "receipt": receipt_of(&stamped)})).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "content"), "content.hash.mismatch");
    assert_eq!(check_code(&verdict, "signature"), "signature.validated");
    assert!(verdict["summary"].as_str().unwrap().starts_with("Not verified"));

    let verdict = app.verify(&json!({"text": "Never stamped by anyone."})).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "content"), "content.unknown");
}

#[tokio::test]
async fn tampered_statement_fails_the_signature_check() {
    let app = spawn_app().await;
    let text = "Limited edition colours.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    for (path, value) in [
        ("/statement/disclosure/text", json!("Made by hand.")),
        ("/statement/issuer", json!("Someone Else")),
        ("/statement/generator/model", json!("other-model")),
        ("/statement/human_oversight", json!("edited")),
    ] {
        let mut receipt = receipt_of(&stamped);
        *receipt.pointer_mut(path).unwrap() = value;
        let verdict = app.verify(&json!({"text": text, "receipt": receipt})).await;
        assert_eq!(verdict["verified"], false, "{path}: {verdict}");
        assert_eq!(check_code(&verdict, "signature"), "signature.mismatch", "{path}");
        assert_eq!(check_code(&verdict, "log"), "log.leaf.mismatch", "{path}");
    }
    // A statement that no longer parses is named as such, not a 500.
    let mut receipt = receipt_of(&stamped);
    receipt["statement"]["kind"] = json!("hologram");
    let verdict = app.verify(&json!({"receipt": receipt})).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "receipt"), "receipt.malformed");
}

#[tokio::test]
async fn receipts_signed_with_another_key_are_rejected() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let text = "Same words, other service.";
    let foreign = other.stamp_ok(&copy_request(text)).await;
    let verdict = app.verify(&json!({"text": text, "receipt": receipt_of(&foreign)})).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    assert_eq!(check_code(&verdict, "key"), "key.unknown");
    assert_eq!(check_code(&verdict, "checkpoint"), "checkpoint.invalid");

    // Forged: our kid, but a signature made with another key.
    let ours = app.stamp_ok(&copy_request(text)).await;
    let mut forged = receipt_of(&foreign);
    forged["signature"]["kid"] = ours["signature"]["kid"].clone();
    let verdict = app.verify(&json!({"text": text, "receipt": forged})).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "signature"), "signature.mismatch");
}

#[tokio::test]
async fn garbage_receipts_are_failed_checks_not_errors() {
    let app = spawn_app().await;
    for receipt in [json!(42), json!("receipt"), json!({}), json!({"statement": {}, "signature": 1})] {
        let verdict = app.verify(&json!({"receipt": receipt})).await;
        assert_eq!(verdict["verified"], false, "{receipt}");
        assert_eq!(check_code(&verdict, "receipt"), "receipt.malformed");
    }
}
