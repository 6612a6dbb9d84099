//! `GET /verify` (with `/verify.js` and `/verify.css`): the verify page for people.
//! Plain HTML, CSS and JavaScript compiled into the binary: no build step, no other host.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const HTML: &str = include_str!("../../assets/verify.html");
const JS: &str = include_str!("../../assets/verify.js");
const CSS: &str = include_str!("../../assets/verify.css");

/// The page loads and calls nothing but this service: no inline script or style, no
/// other origin, no plugins, and it may not be framed (clickjacking).
const CSP: &str =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/verify").route(web::get().to(|| async { asset("text/html; charset=utf-8", HTML) })))
        .service(
            web::resource("/verify.js").route(web::get().to(|| async { asset("text/javascript; charset=utf-8", JS) })),
        )
        .service(web::resource("/verify.css").route(web::get().to(|| async { asset("text/css; charset=utf-8", CSS) })));
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // A link such as /verify?sha256=... says what a reader checks: keep it to this site.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Short: the three files change together with a new release.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body)
}
