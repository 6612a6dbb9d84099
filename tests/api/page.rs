//! The verify page's files, the badge and CORS, over HTTP (the page in a browser is in
//! `browser.rs`).

use serde_json::{json, Value};

use crate::helpers::{assert_error, copy_request, spawn_app};

#[tokio::test]
async fn verify_page_and_its_files_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    for (path, media_type, marker) in [
        ("/verify", "text/html; charset=utf-8", "<form id=\"verify-form\""),
        ("/verify.js", "text/javascript; charset=utf-8", "crypto.subtle.digest('SHA-256'"),
        ("/verify.css", "text/css; charset=utf-8", ".verdict"),
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_eq!(header("content-type"), media_type, "{path}");
        let csp = header("content-security-policy");
        assert!(csp.starts_with("default-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{path}: only this origin: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(marker), "{path} lacks {marker}");
    }
    // The page itself holds no inline script or style for the policy to block, and names
    // no other host.
    let html = app.get("/verify").await.text().await.unwrap();
    assert!(html.contains("<script src=\"verify.js\" defer></script>"));
    assert_eq!(html.matches("<script").count(), 1, "one script, from a file");
    assert!(!html.contains("style=") && !html.contains("<style"), "no inline style");
    let handler = html.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "no inline event handler: on{}", handler.unwrap_or_default());
    assert!(!html.contains("http://") && !html.contains("https://"), "no other host");
    // Every form control has a label.
    for id in ["text", "file", "receipt"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "no label for #{id}");
    }
    assert!(html.contains("aria-live=\"polite\""), "the verdict is a live region");
}

#[tokio::test]
async fn badge_names_the_disclosure_escaped_and_is_cacheable() {
    let app = spawn_app().await;
    let mut req = copy_request("Hand-picked <b>deals</b> & more.");
    req["disclosure"]["text"] = json!("Written by AI <script>alert(\"x\")</script> & checked by Tom's team.");
    let stamped = app.stamp_ok(&req).await;
    let id = stamped["id"].as_str().unwrap();

    let resp = app.get(&format!("/v1/stamps/{id}/badge.svg")).await;
    assert_eq!(resp.status(), 200);
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(header("content-type"), "image/svg+xml; charset=utf-8");
    assert!(header("cache-control").starts_with("public, max-age="), "{}", header("cache-control"));
    assert_eq!(header("content-security-policy"), "default-src 'none'");
    assert_eq!(header("access-control-allow-origin"), "*");
    let svg = resp.text().await.unwrap();
    let escaped = "Written by AI &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; checked by Tom&apos;s team.";
    assert!(svg.contains(&format!("<title lang=\"en\">{escaped}</title>")), "{svg}");
    assert!(svg.contains(&format!("aria-label=\"AI-generated text: {escaped}\"")), "{svg}");
    assert!(svg.contains("role=\"img\""));
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("Acme Test"), "the issuer is named in the description: {svg}");
}

#[tokio::test]
async fn badge_of_unknown_or_malformed_ids_is_a_json_error() {
    let app = spawn_app().await;
    let (status, body) = app.get_json(&format!("/v1/stamps/{}/badge.svg", "ab".repeat(32))).await;
    assert_eq!(assert_error(status, &body, 404), "not_found");
    for bad in ["xyz", "..%2F..%2Fetc", &"AB".repeat(33)] {
        let (status, body) = app.get_json(&format!("/v1/stamps/{bad}/badge.svg")).await;
        assert_eq!(assert_error(status, &body, 400), "invalid_id", "{bad}");
    }
}

#[tokio::test]
async fn public_endpoints_allow_other_origins_and_token_endpoints_do_not() {
    let app = spawn_app().await;
    let text = "Cross-origin copy.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let id = stamped["id"].as_str().unwrap();
    let origin = "https://shop.example";
    let sha = stamped["statement"]["subject"]["sha256"].as_str().unwrap();

    // Simple requests: the answer says any origin may read it, and asks for no credentials.
    for path in [
        format!("/v1/stamps?sha256={sha}&limit=1"),
        format!("/v1/stamps/{id}"),
        format!("/v1/stamps/{id}/badge.svg"),
        "/v1/keys".to_owned(),
        "/v1/log/checkpoint".to_owned(),
        format!("/v1/stamps/{}", "0".repeat(64)), // errors too, so a page can read them
    ] {
        let resp = app.client.get(app.url(&path)).header("Origin", origin).send().await.unwrap();
        assert_eq!(resp.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]), "{path}");
        assert!(resp.headers().get("access-control-allow-credentials").is_none(), "{path}");
    }
    let resp =
        app.client.post(app.url("/v1/verify")).header("Origin", origin).json(&json!({"text": text})).send().await;
    let resp = resp.unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.json::<Value>().await.unwrap()["verified"], true);

    // JSON makes POST /v1/verify a preflighted request: OPTIONS answers it.
    let preflight = |path: &str, method: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let resp = preflight("/v1/verify", "POST").await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.headers()["access-control-allow-methods"], "POST");
    assert!(resp.headers()["access-control-allow-headers"].to_str().unwrap().eq_ignore_ascii_case("content-type"));

    // Endpoints behind a token get no CORS at all: a page elsewhere cannot use a token.
    for (path, method) in
        [("/v1/stamps", "POST"), ("/v1/admin/tokens", "GET"), (&format!("/v1/stamps/{id}/prompt") as &str, "DELETE")]
    {
        let resp = preflight(path, method).await.unwrap();
        assert!(resp.headers().get("access-control-allow-origin").is_none(), "{method} {path}");
        assert!(resp.headers().get("access-control-allow-methods").is_none(), "{method} {path}");
        // A plain OPTIONS answer (the path's Allow), which a browser takes as a refusal.
        assert_eq!(resp.status(), 204, "{method} {path}");
        assert!(resp.headers()["allow"].to_str().unwrap().contains(method), "{method} {path}");
    }
    let resp = app.client.post(app.url("/v1/stamps")).header("Origin", origin).bearer_auth(&app.token);
    let resp = resp.json(&copy_request("Other copy.")).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
