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

pub const PROMPT: &str = "a lighthouse at dusk, oil on canvas, for the autumn campaign";

/// The `Aiprov-Metadata` of an image stamp.
pub fn image_metadata() -> Value {
    serde_json::json!({
        "kind": "image",
        "generator": {"provider": "ExampleAI", "model": "painter", "model_version": "3"},
        "prompt": PROMPT,
        "disclosure": {"text": "This image was generated with AI.", "lang": "en"},
        "human_oversight": "reviewed"
    })
}

/// The three formats credentials are made for, with their media types.
pub const FORMATS: [(image::ImageFormat, &str); 3] = [
    (image::ImageFormat::Png, "image/png"),
    (image::ImageFormat::Jpeg, "image/jpeg"),
    (image::ImageFormat::WebP, "image/webp"),
];

/// A small picture (a gradient, different for each `seed`) in `format`.
pub fn picture(format: image::ImageFormat, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(48, 32, |x, y| {
        image::Rgb([(x * 5) as u8 ^ seed, (y * 7) as u8, seed.wrapping_mul(31).wrapping_add((x + y) as u8)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).expect("encodes");
    out.into_inner()
}

/// The decoded pixels of an image, as RGBA.
pub fn pixels(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).expect("decodes").to_rgba8()
}

/// An answer of `POST /v1/credentials`.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
    }
}

impl TestApp {
    pub async fn credential_with(
        &self,
        token: Option<&str>,
        metadata: Option<&Value>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut req = self.client.post(self.url("/v1/credentials")).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(m) = metadata {
            req = req.header("Aiprov-Metadata", m.to_string());
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Answer { status, headers, body: resp.bytes().await.expect("body").to_vec() }
    }

    /// Credentials for `bytes` of `content_type`, failing the test unless `201`.
    pub async fn credential(&self, content_type: &str, bytes: Vec<u8>) -> Answer {
        let answer = self.credential_with(Some(&self.token), Some(&image_metadata()), Some(content_type), bytes).await;
        assert_eq!(
            answer.status,
            201,
            "credentials answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        answer
    }
}

/// A C2PA reader of the `c2pa` crate itself, trusting `anchors` (PEM) as a C2PA trust list.
pub fn c2pa_reader(media_type: &str, bytes: &[u8], anchors: &str) -> c2pa::Result<c2pa::Reader> {
    let context = c2pa::Context::new().with_settings(serde_json::json!({
        "trust": {"trust_anchors": anchors},
        "verify": {"verify_trust": true, "remote_manifest_fetch": false, "ocsp_fetch": false}
    }))?;
    c2pa::Reader::from_context(context).with_stream(media_type, std::io::Cursor::new(bytes.to_vec()))
}

#[tokio::test]
async fn each_format_comes_back_credentialed_trusted_under_the_published_root_with_its_pixels() {
    let app = spawn_app().await;
    let anchors = app.get("/v1/c2pa/anchors.pem").await.text().await.unwrap();
    for (format, media_type) in FORMATS {
        let original = picture(format, 1);
        let answer = app.credential(media_type, original.clone()).await;
        assert_eq!(answer.header("content-type"), media_type);
        let id = answer.header("aiprov-stamp-id").to_owned();
        assert_eq!(answer.header("location"), format!("/v1/stamps/{id}"));
        assert_eq!(answer.header("aiprov-prompt-salt").len(), 64, "the salt, once");
        assert_ne!(answer.body, original, "{media_type}: a manifest was embedded");

        // The stamp is of the image as uploaded.
        let (status, receipt) = app.get_json(&format!("/v1/stamps/{id}")).await;
        assert_eq!(status, 200);
        let subject = &receipt["statement"]["subject"];
        assert_eq!(subject["sha256"], ai_provenance::Sha256Digest::of(&original).to_hex(), "{media_type}");
        assert_eq!(subject["media_type"], media_type);
        assert_eq!(receipt["statement"]["kind"], "image");

        // Any C2PA reader trusting our root validates it as trusted.
        let reader = c2pa_reader(media_type, &answer.body, &anchors).expect("the c2pa crate reads it");
        assert_eq!(reader.validation_state(), c2pa::ValidationState::Trusted, "{media_type}: {}", reader.json());
        let manifest = reader.active_manifest().expect("an active manifest");
        let actions: Value = manifest.find_assertion("c2pa.actions.v2").expect("c2pa.actions");
        let created = &actions["actions"][0];
        assert_eq!(created["action"], "c2pa.created");
        assert_eq!(
            created["digitalSourceType"],
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
        );
        assert_eq!(created["softwareAgent"]["name"], "ExampleAI painter");
        assert_eq!(created["description"], "This image was generated with AI.");
        let link: Value = manifest.find_assertion("org.ai-provenance.stamp").expect("the stamp link");
        assert_eq!(link["stamp_id"], id.as_str());
        assert_eq!(link["log_index"], receipt["log"]["index"]);
        assert!(link["verify_url"].as_str().unwrap().ends_with(&format!("/verify#id={id}")), "{link}");
        assert_eq!(link["human_oversight"], "reviewed");
        assert_eq!(link["subject_sha256"], subject["sha256"]);
        // The soft binding io.iscc.v0: the ISCC-SEQ of the statement's Content-Code, as
        // a CBOR byte string (the SDK's JSON view shows it as an array of numbers).
        let iscc: ai_provenance::fingerprint::ContentCode =
            subject["iscc"].as_str().expect("a Content-Code").parse().unwrap();
        let binding: Value = manifest.find_assertion("c2pa.soft-binding").expect("the soft binding");
        assert_eq!(binding["alg"], "io.iscc.v0", "{media_type}");
        let value: Vec<u8> = serde_json::from_value(binding["blocks"][0]["value"].clone()).expect("bytes");
        assert_eq!(value, ai_provenance::fingerprint::seq::encode_seq(&[iscc]), "{media_type}");
        let signature = manifest.signature_info().expect("signed");
        assert_eq!(signature.alg, Some(c2pa::SigningAlg::Ed25519));
        assert_eq!(signature.issuer.as_deref(), Some("test.example/log"), "the organisation is the log's origin");

        // The prompt never enters the manifest.
        let text = String::from_utf8_lossy(&answer.body);
        assert!(!text.contains("lighthouse") && !reader.json().contains("lighthouse"), "{media_type}");
        // The pixels are untouched.
        assert_eq!(pixels(&answer.body), pixels(&original), "{media_type}: decoded pixels differ");
    }
}

#[tokio::test]
async fn bad_inputs_are_answered_with_json_errors_and_nothing_is_stamped() {
    let app = spawn_app().await;
    let png = picture(image::ImageFormat::Png, 2);
    let meta = image_metadata();
    let tok = Some(app.token.as_str());
    let cases: Vec<(&str, Answer, u16, &str)> = vec![
        ("no token", app.credential_with(None, Some(&meta), Some("image/png"), png.clone()).await, 401, "unauthorized"),
        ("no metadata", app.credential_with(tok, None, Some("image/png"), png.clone()).await, 400, "missing_metadata"),
        (
            "a gif",
            app.credential_with(tok, Some(&meta), Some("image/gif"), b"GIF89a".to_vec()).await,
            415,
            "unsupported_media_type",
        ),
        ("no type", app.credential_with(tok, Some(&meta), None, png.clone()).await, 415, "unsupported_media_type"),
        (
            "not a png",
            app.credential_with(tok, Some(&meta), Some("image/png"), b"hello, world".to_vec()).await,
            422,
            "invalid_image",
        ),
        (
            "a jpeg sent as png",
            app.credential_with(tok, Some(&meta), Some("image/png"), picture(image::ImageFormat::Jpeg, 2)).await,
            422,
            "invalid_image",
        ),
        (
            "a corrupt png",
            app.credential_with(tok, Some(&meta), Some("image/png"), png[..40].to_vec()).await,
            422,
            "invalid_image",
        ),
        ("empty", app.credential_with(tok, Some(&meta), Some("image/png"), Vec::new()).await, 422, "invalid_content"),
    ];
    for (label, answer, status, code) in cases {
        let body = answer.json();
        assert_eq!(answer.status, status, "{label}: {body}");
        assert_eq!(body["error"]["code"], code, "{label}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{label}");
    }
    let mut copy = meta.clone();
    copy["kind"] = serde_json::json!("marketing_copy");
    let answer = app.credential_with(tok, Some(&copy), Some("image/png"), png.clone()).await;
    assert_eq!((answer.status, answer.json()["error"]["field"].as_str()), (422, Some("kind")), "{}", answer.json());
    let (_, entries) = app.get_json("/v1/log/entries?start=0").await;
    assert_eq!(entries["tree_size"], 0, "nothing was stamped: {entries}");
}

/// The pieces of an image file: a header, then units (PNG chunks, JPEG segments before
/// the scan, WebP chunks), then the rest; `true` marks the units that hold a C2PA manifest.
/// A file's units, each marked `true` when it holds the C2PA manifest.
type Units = Vec<(bool, Vec<u8>)>;

fn units(media_type: &str, bytes: &[u8]) -> (Vec<u8>, Units, Vec<u8>) {
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
    let le32 = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    match media_type {
        "image/png" => {
            let mut at = 8;
            while at < bytes.len() {
                let end = at + 12 + be32(&bytes[at..]);
                out.push((&bytes[at + 4..at + 8] == b"caBX", bytes[at..end].to_vec()));
                at = end;
            }
            (bytes[..8].to_vec(), out, Vec::new())
        }
        "image/jpeg" => {
            let mut at = 2;
            while bytes[at + 1] != 0xDA {
                let end = at + 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
                out.push((bytes[at + 1] == 0xEB, bytes[at..end].to_vec()));
                at = end;
            }
            (bytes[..2].to_vec(), out, bytes[at..].to_vec())
        }
        _ => {
            let mut at = 12;
            while at < bytes.len() {
                let size = le32(&bytes[at + 4..]);
                let end = (at + 8 + size + (size & 1)).min(bytes.len());
                out.push((&bytes[at..at + 4] == b"C2PA", bytes[at..end].to_vec()));
                at = end;
            }
            (bytes[..12].to_vec(), out, Vec::new())
        }
    }
}

/// `into` with its C2PA manifest replaced by the one of `from` (both credentialed).
fn transplant(media_type: &str, from: &[u8], into: &[u8]) -> Vec<u8> {
    let (_, donor, _) = units(media_type, from);
    let manifest: Vec<u8> = donor.iter().filter(|(m, _)| *m).flat_map(|(_, u)| u.clone()).collect();
    assert!(!manifest.is_empty(), "{media_type}: no manifest found to transplant");
    let (head, target, tail) = units(media_type, into);
    let at = target.iter().position(|(m, _)| *m).expect("a manifest to replace");
    let mut out = head;
    for (i, (is_manifest, unit)) in target.iter().enumerate() {
        if i == at {
            out.extend_from_slice(&manifest);
        }
        if !is_manifest {
            out.extend_from_slice(unit);
        }
    }
    out.extend_from_slice(&tail);
    if media_type == "image/webp" {
        let size = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&size.to_le_bytes());
    }
    out
}

/// The picture of `seed` with one pixel changed.
fn edited_picture(format: image::ImageFormat, seed: u8) -> Vec<u8> {
    let mut img = image::load_from_memory(&picture(format, seed)).unwrap().to_rgb8();
    let p = img.get_pixel_mut(10, 10);
    p.0 = [255 - p.0[0], 255 - p.0[1], 255 - p.0[2]];
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).unwrap();
    out.into_inner()
}

impl TestApp {
    pub async fn verify_bytes(&self, bytes: Vec<u8>) -> Value {
        let resp = self.client.post(self.url("/v1/verify/upload")).body(bytes).send().await.expect("request");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("a verdict")
    }
}

pub fn codes(verdict: &Value) -> Vec<String> {
    verdict["checks"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect()
}

pub fn failed(verdict: &Value) -> Vec<String> {
    let checks = verdict["checks"].as_array().unwrap();
    checks.iter().filter(|c| c["passed"] == false).map(|c| c["code"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_credentialed_image_verifies_and_edits_swaps_and_truncation_fail_by_name() {
    let app = spawn_app().await;
    for (format, media_type) in FORMATS {
        let image = app.credential(media_type, picture(format, 1)).await;
        let id = image.header("aiprov-stamp-id").to_owned();
        let verdict = app.verify_bytes(image.body.clone()).await;
        assert_eq!(verdict["verified"], true, "{media_type}: {verdict}");
        assert_eq!(verdict["matches"][0], id.as_str());
        let all = codes(&verdict);
        for code in [
            "credential.linked",
            "claimSignature.validated",
            "signingCredential.trusted",
            "assertion.dataHash.match",
            "key.known",
            "signature.validated",
            "content.credential.match",
            "log.included",
            "checkpoint.validated",
            "disclosure.present",
        ] {
            assert!(all.iter().any(|c| c == code), "{media_type}: no {code} in {all:?}");
        }
        assert_eq!(verdict["stamp"]["id"], id.as_str());
        assert!(verdict["summary"].as_str().unwrap().starts_with("Genuine AI disclosure"), "{verdict}");

        // One pixel edited after credentialing (the manifest kept, as a careless editor does).
        let edited = app.credential(media_type, edited_picture(format, 1)).await;
        let verdict = app.verify_bytes(transplant(media_type, &image.body, &edited.body)).await;
        assert_eq!(verdict["verified"], false, "{media_type}: {verdict}");
        let bad = failed(&verdict);
        assert!(bad.contains(&"assertion.dataHash.mismatch".to_owned()), "{media_type}: {bad:?}");
        assert!(bad.contains(&"content.credential.mismatch".to_owned()), "{media_type}: {bad:?}");
        // Said in plain words: edited since, and the stamp is the original's.
        let summary = verdict["summary"].as_str().unwrap();
        assert!(summary.starts_with("Edited after its disclosure was made"), "{verdict}");
        assert!(summary.contains("It is not the stamped image itself."), "{summary}");
        let c2pa = verdict["checks"].as_array().unwrap().iter().find(|c| c["code"] == "assertion.dataHash.mismatch");
        assert!(c2pa.unwrap()["message"].as_str().unwrap().starts_with("The file's bytes changed after"), "{verdict}");

        // Another image's manifest swapped in.
        let other = app.credential(media_type, picture(format, 9)).await;
        let verdict = app.verify_bytes(transplant(media_type, &other.body, &image.body)).await;
        assert_eq!(verdict["verified"], false, "{media_type}: {verdict}");
        assert!(failed(&verdict).contains(&"assertion.dataHash.mismatch".to_owned()), "{media_type}: {verdict}");

        // Truncated: the end of the file is cut off.
        let truncated = image.body[..image.body.len() - 16].to_vec();
        let verdict = app.verify_bytes(truncated).await;
        assert_eq!(verdict["verified"], false, "{media_type}: {verdict}");
        let bad = failed(&verdict);
        println!("{media_type} truncated: {bad:?}");
        assert!(
            bad.iter().any(|c| c == "assertion.dataHash.mismatch" || c == "manifest.unreadable"),
            "{media_type}: {verdict}"
        );
    }
}

#[tokio::test]
async fn another_issuers_manifest_is_reported_as_theirs_not_as_unknown() {
    let app = spawn_app().await;
    let signer = c2pa::EphemeralSigner::new("Other Studio Signer").expect("an ephemeral signer");
    let context = c2pa::Context::new()
        .with_settings(serde_json::json!({"verify": {"verify_after_sign": false}}))
        .expect("settings");
    let mut builder = c2pa::Builder::from_context(context)
        .with_definition(serde_json::json!({
            "claim_generator_info": [{"name": "Other Studio", "version": "1.0"}],
            "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}}]
        }))
        .expect("a definition");
    let mut source = std::io::Cursor::new(picture(image::ImageFormat::Png, 4));
    let mut dest = std::io::Cursor::new(Vec::new());
    builder.sign(&signer, "image/png", &mut source, &mut dest).expect("signed by the other issuer");

    let verdict = app.verify_bytes(dest.into_inner()).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    let credential = verdict["checks"].as_array().unwrap().iter().find(|c| c["name"] == "credential").unwrap();
    assert_eq!(credential["code"], "credential.other_issuer", "{verdict}");
    let message = credential["message"].as_str().unwrap();
    assert!(message.contains("Other Studio"), "says whose: {message}");
    assert!(message.contains("valid"), "says whether valid: {message}");
    assert!(!codes(&verdict).contains(&"content.unknown".to_owned()), "{verdict}");
    assert!(codes(&verdict).contains(&"claimSignature.validated".to_owned()), "{verdict}");
    assert!(verdict["summary"].as_str().unwrap().contains("Other Studio"), "{verdict}");
}

/// `aiprov verify --key <the app> --file FILE`, run off the async workers.
pub async fn verify_file_offline(app: &TestApp, file: std::path::PathBuf) -> std::process::Output {
    let url = app.url("");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::binary::BIN).args(["verify", "--key", &url, "--file"]).arg(&file).output()
    })
    .await
    .unwrap()
    .expect("aiprov runs")
}

#[tokio::test]
async fn aiprov_verify_file_checks_a_credentialed_image_and_fetches_its_receipt() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("ad.png");
    std::fs::write(&good, app.credential("image/png", picture(image::ImageFormat::Png, 5)).await.body).unwrap();
    let plain = dir.path().join("plain.png");
    std::fs::write(&plain, picture(image::ImageFormat::Png, 6)).unwrap();
    let out = verify_file_offline(&app, good).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for code in ["credential.linked", "assertion.dataHash.match", "content.credential.match", "log.included"] {
        assert!(stdout.contains(&format!("PASS {code}")), "{code}: {stdout}");
    }
    // No manifest and no receipt: nothing to follow, said plainly (exit 2).
    let out = verify_file_offline(&app, plain).await;
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--receipt"));
}

#[tokio::test]
async fn aiprov_stamp_c2pa_writes_credentialed_copies_beside_the_receipts() {
    let app = spawn_app().await;
    let anchors = app.get("/v1/c2pa/anchors.pem").await.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assets = dir.path().join("assets");
    std::fs::create_dir_all(assets.join("spring")).unwrap();
    let original = picture(image::ImageFormat::Png, 7);
    std::fs::write(assets.join("spring/hero.png"), &original).unwrap();
    std::fs::write(assets.join("copy.txt"), "Spring is here. Fresh colours for every room.").unwrap();
    let out_file = dir.path().join("receipts.jsonl");
    let (url, token) = (app.url(""), app.token.clone());
    let (assets_arg, out_arg) = (assets.clone(), out_file.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::binary::BIN)
            .args(["stamp", "--c2pa", "--url", &url, "--token", &token])
            .args(["--provider", "ExampleAI", "--model", "painter", "--disclosure", "Made with AI."])
            .arg("--out")
            .arg(&out_arg)
            .arg(&assets_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<Value> =
        std::fs::read_to_string(&out_file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let image_line = lines.iter().find(|l| l["file"].as_str().unwrap().ends_with("hero.png")).expect("the image");
    let text_line = lines.iter().find(|l| l["file"].as_str().unwrap().ends_with("copy.txt")).expect("the text");
    assert!(text_line.get("credentialed").is_none(), "text is stamped as usual: {text_line}");
    assert_eq!(image_line["receipt"]["statement"]["kind"], "image");
    assert_eq!(image_line["receipt"]["prompt_salt"], Value::Null, "no prompt, no salt");
    let copy = std::path::PathBuf::from(image_line["credentialed"].as_str().expect("the copy's path"));
    assert!(copy.starts_with(dir.path().join("credentialed")), "beside the receipts: {}", copy.display());
    assert!(copy.ends_with("spring/hero.png"), "{}", copy.display());
    let bytes = std::fs::read(&copy).unwrap();
    let reader = c2pa_reader("image/png", &bytes, &anchors).expect("the c2pa crate reads the copy");
    assert_eq!(reader.validation_state(), c2pa::ValidationState::Trusted, "{}", reader.json());
    let link: Value = reader.active_manifest().unwrap().find_assertion("org.ai-provenance.stamp").unwrap();
    assert_eq!(link["stamp_id"], image_line["receipt"]["id"]);
    assert_eq!(pixels(&bytes), pixels(&original), "the copy's pixels are the original's");
    assert_eq!(std::fs::read(assets.join("spring/hero.png")).unwrap(), original, "the original is untouched");
}
