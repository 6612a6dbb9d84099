//! `/tlog/`: the log served read-only as C2SP tlog-tiles, for monitors, witnesses and any
//! standard tile client: the checkpoint, hash tiles and entry bundles.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{middleware, web, HttpResponse};

use crate::error::ApiError;
use crate::log::tiles::TilePath;
use crate::service::{blocking, Service};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    // Public like /v1's reads (CORS), and gzip where the client asks: bundles of JSON
    // leaves shrink several-fold.
    cfg.service(
        web::resource("/tlog/checkpoint")
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(super::cors::public_cors))
            .route(web::get().to(checkpoint)),
    )
    .service(
        web::resource("/tlog/tile/{tile_path:.*}")
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(super::cors::public_cors))
            .route(web::get().to(tile)),
    );
}

/// The checkpoint changes with every batch: caches may keep it a moment, no longer.
const CHECKPOINT_MAX_AGE: u32 = 1;
/// A tile or bundle at a given path never changes: cache it for a year.
const TILE_MAX_AGE: u32 = 365 * 24 * 3600;

/// The newest checkpoint, or with a witness policy the newest witnessed one with its
/// cosignatures (`Service::served_checkpoint` says why).
async fn checkpoint(svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let note = if svc.serves_witnessed() {
        let svc = svc.into_inner();
        blocking(move || svc.served_checkpoint()).await?
    } else {
        svc.checkpoint_note()
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(CHECKPOINT_MAX_AGE)]))
        .body(note))
}

async fn tile(svc: web::Data<Service>, tile_path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let text = format!("tile/{}", tile_path.into_inner());
    let path: TilePath =
        text.parse().map_err(|e| ApiError::NotFound(format!("{text} is not a tile or entry bundle: {e}")))?;
    let svc = svc.into_inner();
    let bytes = blocking(move || svc.tlog_resource(path)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(TILE_MAX_AGE),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .insert_header((header::VARY, "Accept-Encoding"))
        .body(bytes))
}
