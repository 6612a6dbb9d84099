//! `POST /v1/stamps`, `GET /v1/stamps/{id}`, `GET /v1/stamps?sha256=|text=`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::receipt::StampId;
use crate::service::{blocking, ContentQuery, Service, MAX_LOOKUP};
use crate::stamp::StampRequest;
use crate::Sha256Digest;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stamps", web::post().to(create))
        .route("/stamps", web::get().to(lookup))
        .route("/stamps/{id}", web::get().to(get));
}

async fn create(
    req: HttpRequest,
    svc: web::Data<Service>,
    body: web::Json<StampRequest>,
) -> Result<HttpResponse, ApiError> {
    let auth = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let who = svc.authenticate(auth)?;
    let svc: Arc<Service> = svc.into_inner();
    let resp = svc.stamp(who, body.into_inner()).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/stamps/{}", resp.receipt.id))).json(resp))
}

/// Parses a stamp id from a path segment: 64 hex digits, nothing else (no traversal).
pub fn parse_id(raw: &str) -> Result<StampId, ApiError> {
    Sha256Digest::from_hex(raw)
        .map(StampId)
        .map_err(|e| ApiError::bad_request("invalid_id", format!("a stamp id is 64 hex digits: {e}")))
}

async fn get(svc: web::Data<Service>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let svc = svc.into_inner();
    let receipt = blocking(move || svc.receipt(&id)).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    sha256: Option<String>,
    text: Option<String>,
    limit: Option<usize>,
}

async fn lookup(svc: web::Data<Service>, q: web::Query<LookupQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let query = match (q.sha256, q.text) {
        (Some(hex), None) => ContentQuery::Sha256(
            Sha256Digest::from_hex(&hex).map_err(|e| ApiError::bad_request("invalid_hex", format!("sha256: {e}")))?,
        ),
        (None, Some(text)) => ContentQuery::Text(text),
        _ => return Err(ApiError::bad_request("invalid_query", "give exactly one of sha256=<hex> or text=<text>")),
    };
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LOOKUP {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be 1 to {MAX_LOOKUP}")));
    }
    let svc = svc.into_inner();
    let stamps = blocking(move || svc.lookup(&query, limit)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "stamps": stamps })))
}
