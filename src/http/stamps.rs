//! `POST /v1/stamps`, `GET /v1/stamps/{id}[?witnessed=true]`, `GET /v1/stamps?sha256=|text=`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{Json, Query};
use crate::error::ApiError;
use crate::service::{blocking, ContentQuery, Service, MAX_LOOKUP};
use crate::statement::receipt::StampId;
use crate::statement::request::StampRequest;
use crate::Sha256Digest;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stamps").route(web::post().to(create)).route(web::get().to(lookup)))
        // After `/stamps/upload` (src/http/mod.rs): `upload` would be taken for an id.
        .service(web::resource("/stamps/{id}").route(web::get().to(get)));
}

async fn create(req: HttpRequest, svc: web::Data<Service>, body: Json<StampRequest>) -> Result<HttpResponse, ApiError> {
    let auth = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let who = svc.authenticate(auth).await?;
    let svc: Arc<Service> = svc.into_inner();
    let resp = svc.stamp(who, body.0).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/stamps/{}", resp.receipt.id))).json(resp))
}

/// Parses a stamp id from the path parameter `id`: 64 hex digits, nothing else (no traversal).
///
/// # Errors
/// `400 invalid_id` naming `id`.
pub(super) fn parse_id(raw: &str) -> Result<StampId, ApiError> {
    Sha256Digest::from_hex(raw).map(StampId).map_err(|e| {
        ApiError::bad_request("invalid_id", format!("id: a stamp id is 64 hex digits: {e}")).with_field("id")
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GetQuery {
    /// Proven against the newest witnessed checkpoint rather than the newest one.
    #[serde(default)]
    pub(super) witnessed: bool,
}

async fn get(
    svc: web::Data<Service>,
    path: web::Path<String>,
    Query(q): Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let svc = svc.into_inner();
    let receipt = blocking(move || if q.witnessed { svc.witnessed_receipt(&id) } else { svc.receipt(&id) }).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

/// Longest `?text=` (characters): percent-encoded, a character is at most 12 bytes, so
/// 4096 of them still fit the request line the HTTP server reads (64 KiB), which would
/// refuse a longer one without a JSON error. Longer text is for `POST /v1/verify`.
const MAX_QUERY_TEXT: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    sha256: Option<String>,
    text: Option<String>,
    limit: Option<usize>,
}

/// Whether a raw query string percent-decodes to UTF-8. The query extractor decodes
/// lossily (invalid bytes become U+FFFD), which would search for other text than sent.
fn decodes_to_utf8(raw: &str) -> bool {
    let hex = |b: &u8| (*b as char).to_digit(16).map(|d| d as u8);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::str::from_utf8(&out).is_ok()
}

async fn lookup(
    req: HttpRequest,
    svc: web::Data<Service>,
    Query(q): Query<LookupQuery>,
) -> Result<HttpResponse, ApiError> {
    if !decodes_to_utf8(req.query_string()) {
        return Err(ApiError::bad_request("invalid_query", "the query string is not valid UTF-8 once percent-decoded"));
    }
    let query = match (q.sha256, q.text) {
        (Some(hex), None) => ContentQuery::Sha256(
            Sha256Digest::from_hex(&hex)
                .map_err(|e| ApiError::bad_request("invalid_hex", format!("sha256: {e}")).with_field("sha256"))?,
        ),
        (None, Some(text)) if text.chars().count() > MAX_QUERY_TEXT => {
            let message = format!(
                "text: at most {MAX_QUERY_TEXT} characters in a query string; send longer text to POST /v1/verify"
            );
            return Err(ApiError::bad_request("invalid_query", message).with_field("text"));
        }
        (None, Some(text)) => ContentQuery::Text(text),
        // Both: the second is the one to drop; neither: sha256 is the first to give.
        (sha256, text) => {
            let field = if sha256.is_some() && text.is_some() { "text" } else { "sha256" };
            let err = ApiError::bad_request("invalid_query", "give exactly one of sha256=<hex> or text=<text>");
            return Err(err.with_field(field));
        }
    };
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LOOKUP {
        let err = ApiError::bad_request("invalid_query", format!("limit: must be 1 to {MAX_LOOKUP}"));
        return Err(err.with_field("limit"));
    }
    let svc = svc.into_inner();
    let stamps = blocking(move || svc.lookup(&query, limit)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "stamps": stamps })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_utf8_check() {
        assert!(super::decodes_to_utf8("text=caf%C3%A9&limit=2"));
        assert!(super::decodes_to_utf8("text=100%"));
        assert!(!super::decodes_to_utf8("text=%ff"));
        assert!(!super::decodes_to_utf8("text=%C3"));
    }
}
