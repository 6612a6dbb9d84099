//! Verification by URL (`POST /v1/verify {"url": ...}`): loopback refused by default;
//! with private addresses allowed, a small web server in the test serves stamped and
//! unstamped content, redirects, oversized, slow and missing resources. All traffic
//! stays on 127.0.0.1.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{assert_error, check_code, copy_request, public_receipt, spawn_app, spawn_app_with, TestApp};

const STAMPED: &str = "Winter sale: everything 20% off.";
/// What the page serves: the stamped copy as a browser would lay it out.
const SERVED: &str = "Winter sale:\n    everything 20% off.\n";
const FETCH_MAX: u64 = 64 * 1024;

/// A web server on 127.0.0.1:0 with a few fixed pages; runs until the test ends.
fn pages() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(|| {
        let redirect =
            |to: &'static str| move || async move { HttpResponse::Found().insert_header(("Location", to)).finish() };
        App::new()
            .route(
                "/stamped.txt",
                web::get().to(|| async { HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(SERVED) }),
            )
            .route(
                "/unstamped.txt",
                web::get().to(|| async { HttpResponse::Ok().content_type("text/plain").body("Nobody stamped this.") }),
            )
            .route("/big", web::get().to(|| async { HttpResponse::Ok().body(vec![b'a'; FETCH_MAX as usize + 1]) }))
            .route(
                "/big-chunked",
                web::get().to(|| async {
                    let chunks = futures_util::stream::iter(
                        (0..100).map(|_| Ok::<_, std::io::Error>(web::Bytes::from_static(&[b'b'; 4096]))),
                    );
                    HttpResponse::Ok().streaming(chunks)
                }),
            )
            .route("/moved", web::get().to(redirect("/stamped.txt")))
            .route("/loop", web::get().to(redirect("/loop")))
            .route("/missing", web::get().to(|| async { HttpResponse::NotFound().body("no") }))
            .route(
                "/slow",
                web::get().to(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    HttpResponse::Ok().body("late")
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    addr
}

async fn verify_url(app: &TestApp, url: &str) -> (u16, Value) {
    app.post_json("/v1/verify", &json!({ "url": url })).await
}

async fn private_app() -> TestApp {
    spawn_app_with(|c| {
        c.fetch.allow_private = true;
        c.fetch.max_bytes = FETCH_MAX;
        c.fetch.timeout = Duration::from_secs(1);
    })
    .await
}

#[tokio::test]
async fn loopback_and_other_schemes_are_refused_by_default() {
    let app = spawn_app().await;
    let site = pages();
    for url in [
        format!("http://{site}/stamped.txt"),
        format!("http://localhost:{}/stamped.txt", site.port()),
        format!("http://[::1]:{}/", site.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
    ] {
        let (status, body) = verify_url(&app, &url).await;
        assert_eq!(assert_error(status, &body, 422), "url_forbidden", "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("only public addresses"), "{url}: {message}");
    }
    let (status, body) = verify_url(&app, &format!("http://{site}/")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("loopback"), "{status} {body}");
    let (status, body) = verify_url(&app, "file:///etc/passwd").await;
    assert_eq!(assert_error(status, &body, 422), "url_forbidden");
    let (status, body) = verify_url(&app, &format!("https://example.com/{}", "a".repeat(8192))).await;
    assert_eq!(assert_error(status, &body, 422), "invalid_url", "refused before anything is resolved");
    let (status, body) = verify_url(&app, "not a url").await;
    assert_eq!(assert_error(status, &body, 422), "invalid_url");
    let (status, body) = app.post_json("/v1/verify", &json!({"url": "http://127.0.0.1/", "text": "x"})).await;
    assert_eq!(assert_error(status, &body, 422), "invalid_content");
}

#[tokio::test]
async fn with_fetching_disabled_no_url_is_looked_at() {
    // Private addresses allowed, so that only the switch stands between the request and
    // a connection to this listener.
    let app = spawn_app_with(|c| {
        c.fetch.allow_private = true;
        c.fetch.disabled = true;
    })
    .await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let here = listener.local_addr().unwrap();
    for url in [format!("http://{here}/stamped.txt"), "https://example.com/".to_owned(), "not a url".to_owned()] {
        let (status, body) = verify_url(&app, &url).await;
        assert_eq!(assert_error(status, &body, 422), "url_disabled", "{url}: {body}");
        assert_eq!(body["error"]["field"], "url");
    }
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the service connected: {accepted:?}"
    );
    // Content sent whole is verified as ever.
    let verdict = app.verify(&json!({"text": "never stamped"})).await;
    assert_eq!(check_code(&verdict, "content"), "content.unknown");
}

#[tokio::test]
async fn stamped_and_unstamped_pages_with_private_addresses_allowed() {
    let app = private_app().await;
    let site = pages();
    let stamped = app.stamp_ok(&copy_request(STAMPED)).await;

    let (status, verdict) = verify_url(&app, &format!("http://{site}/stamped.txt")).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verified"], true, "found by its normalised text: {verdict}");
    assert_eq!(verdict["matches"][0], stamped["id"]);

    let (status, verdict) = verify_url(&app, &format!("http://localhost:{}/moved", site.port())).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verified"], true, "a redirect is followed: {verdict}");

    let (status, verdict) = verify_url(&app, &format!("http://{site}/unstamped.txt")).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "content"), "content.unknown");

    // With a receipt: the fetched content is checked against it.
    let (_, verdict) = app
        .post_json(
            "/v1/verify",
            &json!({"url": format!("http://{site}/unstamped.txt"), "receipt": public_receipt(&stamped)}),
        )
        .await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check_code(&verdict, "content"), "content.hash.mismatch");
}

#[tokio::test]
async fn oversized_slow_missing_looping_and_unreachable_urls_are_clear_errors() {
    let app = private_app().await;
    let site = pages();
    let cases = [
        ("/big", 422, "url_too_large"),
        ("/big-chunked", 422, "url_too_large"),
        ("/missing", 422, "url_status"),
        ("/loop", 422, "url_redirects"),
        ("/slow", 504, "url_timeout"),
    ];
    for (path, status, code) in cases {
        let (got, body) = verify_url(&app, &format!("http://{site}{path}")).await;
        assert_eq!(assert_error(got, &body, status), code, "{path}: {body}");
    }
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (status, body) = verify_url(&app, &format!("http://{closed}/")).await;
    assert_eq!(assert_error(status, &body, 502), "url_unreachable", "{body}");
}
