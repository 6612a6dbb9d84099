//! The streamed routes: `POST /v1/stamps/upload` (issuer token) and
//! `POST /v1/verify/upload` (public). The body is the asset's raw bytes, handed to the
//! service as the stream it arrives as; the stamp metadata is in `Aiprov-Metadata`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin::authorization;
use crate::error::ApiError;
use crate::service::Service;
use crate::upload::{check_content_encoding, media_type_from_content_type, parse_metadata, METADATA_HEADER};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stamps/upload", web::post().to(stamp_upload)).route("/verify/upload", web::post().to(verify_upload));
}

fn header_bytes(req: &HttpRequest, name: impl header::AsHeaderName) -> Option<&[u8]> {
    req.headers().get(name).map(|v| v.as_bytes())
}

/// The `Content-Length` the client announced (actix has already refused malformed ones).
fn declared_length(req: &HttpRequest) -> Option<u64> {
    header_bytes(req, header::CONTENT_LENGTH).and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse().ok())
}

async fn stamp_upload(req: HttpRequest, svc: web::Data<Service>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate(authorization(&req))?;
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let mut metadata = parse_metadata(header_bytes(&req, METADATA_HEADER))?;
    if metadata.media_type.is_none() {
        metadata.media_type = media_type_from_content_type(header_bytes(&req, header::CONTENT_TYPE))?;
    }
    let svc = svc.into_inner();
    let resp = svc.stamp_upload(who, metadata, declared_length(&req), body).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/stamps/{}", resp.receipt.id))).json(resp))
}

async fn verify_upload(
    req: HttpRequest,
    svc: web::Data<Service>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let svc = svc.into_inner();
    let resp = svc.verify_upload(declared_length(&req), body).await?;
    Ok(HttpResponse::Ok().json(resp))
}
