use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

use crate::helpers::{copy_request, public_receipt, spawn_app};

#[tokio::test]
async fn stamp_then_get_then_lookup_exact_and_normalized() {
    let app = spawn_app().await;
    let text = "Run further.\nFeel lighter — the new TrailFox 3.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let id = stamped["id"].as_str().unwrap().to_owned();
    assert_eq!(stamped["statement"]["issuer"], "Acme Test");
    assert_eq!(stamped["statement"]["type"], "ai-provenance/statement/v2");
    assert_eq!(stamped["statement"]["human_oversight"], "reviewed");
    assert_eq!(
        stamped["statement"]["digital_source_type"],
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    );
    assert_eq!(stamped["log"]["index"], 0);
    assert_eq!(stamped["prompt_salt"].as_str().unwrap().len(), 64);
    // The prompt (and the e-mail address in it) is never stored or returned.
    let all = stamped.to_string();
    assert!(!all.contains("slogan") && !all.contains("jane@example.com"), "{all}");

    let (status, receipt) = app.get_json(&format!("/v1/stamps/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(receipt["statement"], stamped["statement"]);
    assert_eq!(receipt["signature"], stamped["signature"]);
    assert!(receipt.get("prompt_salt").is_none(), "public receipts never carry the salt");

    let sha = stamped["statement"]["subject"]["sha256"].as_str().unwrap();
    let (status, found) = app.get_json(&format!("/v1/stamps?sha256={sha}")).await;
    assert_eq!(status, 200);
    assert_eq!(found["stamps"][0]["id"], id.as_str());

    // Copied off a web page: line breaks and spacing changed.
    let copied = "  Run further. Feel   lighter — the new TrailFox 3. ";
    let resp = app.client.get(app.url("/v1/stamps")).query(&[("text", copied)]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["stamps"][0]["id"], id.as_str(), "normalised lookup: {found}");

    let resp = app.client.get(app.url("/v1/stamps")).query(&[("text", "something else")]).send().await.unwrap();
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["stamps"], json!([]));
}

/// Checks the signature with nothing but the public key from /v1/keys, an Ed25519
/// library and a JCS library: none of the service's own verification code.
#[tokio::test]
async fn signature_verifies_with_the_published_key_alone() {
    let app = spawn_app().await;
    let stamped = app.stamp_ok(&copy_request("Independent check.")).await;
    let (_, keys) = app.get_json("/v1/keys").await;
    let kid = stamped["signature"]["kid"].as_str().unwrap();
    let key = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("kid published");
    assert_eq!(key["algorithm"], "Ed25519");
    let public: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let vk = VerifyingKey::from_bytes(&public).unwrap();
    let sig: [u8; 64] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(stamped["signature"]["sig"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let canonical = serde_jcs::to_vec(&stamped["statement"]).unwrap();
    vk.verify(&canonical, &Signature::from_bytes(&sig)).expect("signature over JCS(statement) verifies");

    let mut altered = stamped["statement"].clone();
    altered["disclosure"]["text"] = json!("Written by a human.");
    assert!(vk.verify(&serde_jcs::to_vec(&altered).unwrap(), &Signature::from_bytes(&sig)).is_err());
}

#[tokio::test]
async fn binary_and_hash_only_stamps() {
    let app = spawn_app().await;
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 3, 255];
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let mut req = copy_request("x");
    let obj = req.as_object_mut().unwrap();
    obj.remove("text");
    obj.insert("content_base64".into(), json!(b64));
    obj.insert("media_type".into(), json!("image/png"));
    obj.insert("kind".into(), json!("image"));
    let stamped = app.stamp_ok(&req).await;
    let subject = &stamped["statement"]["subject"];
    assert_eq!(subject["size"], 9);
    assert_eq!(subject["media_type"], "image/png");
    assert!(subject.get("normalized_text_sha256").is_none());
    let sha = ai_provenance::Sha256Digest::of(&png).to_hex();
    assert_eq!(subject["sha256"], sha.as_str());

    let mut hash_only = copy_request("x");
    let obj = hash_only.as_object_mut().unwrap();
    obj.remove("text");
    obj.remove("prompt");
    let private = ai_provenance::Sha256Digest::of(b"private asset").to_hex();
    obj.insert("sha256".into(), json!(private));
    obj.insert("size".into(), json!(13));
    obj.insert("kind".into(), json!("video"));
    let stamped = app.stamp_ok(&hash_only).await;
    assert_eq!(stamped["statement"]["subject"]["sha256"], private.as_str());
    assert!(stamped["statement"].get("prompt_commitment").is_none());
    assert!(stamped.get("prompt_salt").is_none());
    let verdict = app.verify(&json!({"sha256": private})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
}

#[tokio::test]
async fn media_types_are_stamped_in_one_spelling() {
    let app = spawn_app().await;
    for (sent, stamped) in [
        ("  GTwR/v  ", "gtwr/v"),
        ("Image/PNG", "image/png"),
        ("text/plain;Charset=\"UTF-8\"", "text/plain; charset=utf-8"),
        ("text/plain ; format=Flowed", "text/plain; format=Flowed"),
    ] {
        let mut req = copy_request("x");
        req.as_object_mut().unwrap().remove("text");
        req["content_base64"] = json!("eA==");
        req["media_type"] = json!(sent);
        let receipt = app.stamp_ok(&req).await;
        assert_eq!(receipt["statement"]["subject"]["media_type"], stamped, "{sent:?}");
        // The receipt verifies as signed, with the normalised spelling.
        let verdict = app.verify(&json!({"receipt": public_receipt(&receipt)})).await;
        assert_eq!(verdict["verified"], true, "{sent:?}: {verdict}");
    }
}

#[tokio::test]
async fn recommendation_explanations_are_stamped_without_personal_data() {
    let app = spawn_app().await;
    let mut req = copy_request("Recommended because you viewed trail shoes.");
    req["kind"] = json!("recommendation_explanation");
    req["explanation"] = json!({
        "item": "sku-TF3",
        "factors": [{"name": "viewed similar items", "weight": 0.62}, {"name": "segment: trail runners", "weight": 0.38}],
        "data_categories": ["browsing history", "purchase history"],
        "legal_basis": "consent"
    });
    let stamped = app.stamp_ok(&req).await;
    assert_eq!(stamped["statement"]["explanation"]["factors"][0]["weight"], 0.62);
    assert_eq!(
        stamped["statement"]["digital_source_type"],
        "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    );
    let verdict = app.verify(&json!({"receipt": public_receipt(&stamped)})).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
}
