//! Content Credentials: the C2PA certificate chain the service issues for itself and
//! publishes, `POST /v1/credentials`, and C2PA manifests read back when verifying.

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// The C2PA section of `GET /v1/keys`.
async fn c2pa_keys(app: &TestApp) -> Value {
    let (status, keys) = app.get_json("/v1/keys").await;
    assert_eq!(status, 200);
    keys["c2pa"].clone()
}

fn der_of(pem: &str) -> Vec<u8> {
    let ders = ai_provenance::keys::from_pem(pem).expect("PEM");
    assert_eq!(ders.len(), 1, "one certificate in {pem}");
    ders.into_iter().next().unwrap()
}

#[tokio::test]
async fn the_c2pa_root_is_published_and_every_statement_key_gets_a_leaf() {
    let app = spawn_app().await;
    let resp = app.get("/v1/c2pa/anchors.pem").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pem-certificate-chain");
    let anchors = resp.text().await.unwrap();
    let c2pa = c2pa_keys(&app).await;
    assert_eq!(c2pa["anchors"], "/v1/c2pa/anchors.pem");
    assert_eq!(c2pa["roots"][0]["pem"], anchors.as_str(), "the same root in both places");
    let root_der = der_of(&anchors);
    let (_, root) = x509_parser::parse_x509_certificate(&root_der).unwrap();
    assert!(root.is_ca());
    assert_eq!(c2pa["roots"][0]["sha256"], ai_provenance::Sha256Digest::of(&root_der).to_hex());

    let keys_dir = app.config.keys_dir.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys_dir.join("c2pa-root.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the root key is owner-only");
    }

    // A rotation through the running service issues the new key's leaf at once.
    let resp = app.client.post(app.url("/v1/admin/keys/rotate")).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let rotation: Value = resp.json().await.unwrap();
    let c2pa = c2pa_keys(&app).await;
    let leaves = c2pa["certificates"].as_array().unwrap();
    assert_eq!(leaves.len(), 2, "{c2pa}");
    for kid in [&rotation["retired"]["kid"], &rotation["active"]["kid"]] {
        let leaf = leaves.iter().find(|l| &l["kid"] == kid).unwrap_or_else(|| panic!("no leaf for {kid}"));
        let der = der_of(leaf["pem"].as_str().unwrap());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.verify_signature(Some(root.public_key())).expect("issued by the published root");
        assert!(!cert.is_ca());
    }
    let active = leaves.iter().find(|l| l["kid"] == rotation["active"]["kid"]).unwrap();
    let der = der_of(active["pem"].as_str().unwrap());
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let public_key = rotation["active"]["public_key"].as_str().unwrap();
    use base64::Engine;
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        base64::engine::general_purpose::STANDARD.decode(public_key).unwrap(),
        "the leaf certifies the statement key itself"
    );
}
