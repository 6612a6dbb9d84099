//! The methods of each path (RFC 9110 §9): a path answers a method it does not serve
//! with `405` and `Allow`, `OPTIONS` with `204` and `Allow`, and `HEAD` wherever it
//! serves `GET`.
//!
//! Each path is one actix `Resource` that lists its methods (the modules' `routes`), and
//! actix answers a method a resource does not list with an empty `405` whose `Allow`
//! names the methods it does. This middleware turns that answer into the service's JSON
//! error and adds the methods every path serves. CORS preflights for the public
//! endpoints do not reach it as `OPTIONS`: `cors` answers those first.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

/// Middleware (for [`actix_web::middleware::from_fn`]), innermost, so that the access
/// log and the metrics see the method the client sent.
///
/// # Errors
/// Only those of the wrapped service.
pub(super) async fn methods(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let method = req.method().clone();
    if method == Method::HEAD {
        // HEAD is GET without the body: actix-http's HTTP/1 codec noted that the request
        // was a HEAD when it decoded it, and sends the GET answer's headers alone.
        req.head_mut().method = Method::GET;
    }
    let resp = next.call(req).await?;
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(resp.map_into_left_body());
    }
    let allow = allow(resp.headers().get(header::ALLOW));
    let (req, _) = resp.into_parts();
    let answer = if method == Method::OPTIONS {
        HttpResponse::NoContent().insert_header((header::ALLOW, allow)).finish()
    } else {
        ApiError::MethodNotAllowed { method: method.to_string(), path: req.path().to_owned(), allow }.error_response()
    };
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}

/// The `Allow` value of a path, from the methods actix found registered for it: those,
/// `HEAD` when `GET` is among them, and `OPTIONS`.
fn allow(registered: Option<&HeaderValue>) -> String {
    let mut methods: Vec<&str> = registered
        .and_then(|v| v.to_str().ok())
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.push("OPTIONS");
    let mut unique = Vec::with_capacity(methods.len());
    for m in methods {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    unique.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_allows_options_and_head_where_it_allows_get() {
        let allow_of = |v: &'static str| allow(Some(&HeaderValue::from_static(v)));
        assert_eq!(allow_of("GET"), "GET, HEAD, OPTIONS");
        assert_eq!(allow_of("POST, GET"), "POST, GET, HEAD, OPTIONS");
        assert_eq!(allow_of("DELETE"), "DELETE, OPTIONS");
        assert_eq!(allow_of("GET, HEAD"), "GET, HEAD, OPTIONS");
        assert_eq!(allow(None), "OPTIONS");
    }
}
