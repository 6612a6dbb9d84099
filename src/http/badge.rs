//! `GET /v1/stamps/{id}/badge.svg`: the stamp's "AI-generated" badge (see [`crate::statement::badge`]).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::stamps::parse_id;
use crate::error::ApiError;
use crate::service::{blocking, Service};
use crate::statement::badge::Badge;

/// A stamp never changes, so its badge may be cached; a week rather than forever so that
/// a new badge design reaches pages in reasonable time.
const CACHE_CONTROL: &str = "public, max-age=604800";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stamps/{id}/badge.svg").route(web::get().to(badge)));
}

async fn badge(svc: web::Data<Service>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let svc = svc.into_inner();
    let statement = blocking(move || svc.statement(&id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        // Opened on its own, an SVG is a document: allow it nothing but its own markup.
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(Badge::of(&statement).to_svg()))
}
