//! CORS for the public read and verify endpoints, so that a web page on another origin
//! can look up a stamp, show its badge and verify content from the browser.
//!
//! Answers carry `Access-Control-Allow-Origin: *` and never `Allow-Credentials`: browsers
//! then send no cookies, and none of these endpoints uses any. Endpoints that need a
//! token (stamping, erasure, admin) get no CORS headers at all, so a page on another
//! origin cannot call them with a user's token: their preflight gets the plain `OPTIONS`
//! answer (`204` with `Allow`, from `methods`), which a browser takes as a refusal.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpResponse;

/// Whether `method path` is a public endpoint other origins may call.
pub(super) fn is_public(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => {
            path == "/v1/stamps"
                || path.starts_with("/v1/stamps/")
                || path == "/v1/keys"
                || path == "/v1/c2pa/anchors.pem"
                || path.starts_with("/v1/log/")
        }
        Method::POST => path == "/v1/verify",
        _ => false,
    }
}

/// Middleware (for [`actix_web::middleware::from_fn`]): answers preflight requests for
/// public endpoints and marks their responses as readable from any origin.
///
/// # Errors
/// Only those of the wrapped service.
pub(super) async fn public_cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    if req.method() == Method::OPTIONS {
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        if let Some(method) = requested.filter(|m| is_public(m, req.path())) {
            let resp = HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, method.as_str()))
                // JSON bodies make POST /v1/verify a non-simple request.
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
                .finish();
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    let public = is_public(req.method(), req.path());
    let mut resp = next.call(req).await?;
    if public {
        resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    Ok(resp.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_endpoints_are_shared() {
        for (method, path) in [
            (Method::GET, "/v1/stamps"),
            (Method::GET, "/v1/stamps/abc"),
            (Method::GET, "/v1/stamps/abc/badge.svg"),
            (Method::HEAD, "/v1/keys"),
            (Method::GET, "/v1/log/checkpoint"),
            (Method::POST, "/v1/verify"),
        ] {
            assert!(is_public(&method, path), "{method} {path}");
        }
        for (method, path) in [
            (Method::POST, "/v1/stamps"),
            (Method::DELETE, "/v1/stamps/abc/prompt"),
            (Method::POST, "/v1/stamps/abc/prompt/verify"),
            (Method::GET, "/v1/admin/tokens"),
            (Method::POST, "/v1/admin/tokens"),
            (Method::GET, "/v1/stampsx"),
            (Method::GET, "/v1/keysx"),
            (Method::PUT, "/v1/verify"),
            (Method::GET, "/verify"),
        ] {
            assert!(!is_public(&method, path), "{method} {path}");
        }
    }
}
