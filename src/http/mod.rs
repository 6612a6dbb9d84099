//! HTTP routes. Handlers decode, call [`Service`](crate::service::Service), encode;
//! decoding failures of every kind become [`ApiError`] JSON here.

mod access;
mod admin;
mod badge;
mod cors;
mod credentials;
mod extract;
mod keys;
mod log;
mod methods;
mod openapi;
mod ops;
mod page;
mod prompt;
mod sbr;
pub(crate) mod server;
mod stamps;
mod tlog;
mod tlog_proof;
mod upload;
mod verify;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Limits applied to request bodies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON body accepted (base64 content counts here).
    pub max_json_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_json_bytes: 16 * 1024 * 1024 }
    }
}

/// Registers every route, and the limits the JSON extractor (`extract::Json`) reads.
///
/// Each path is one `web::resource` listing every method it serves, so that any other
/// method is answered `405` with `Allow` (see `methods`, which the server wraps around
/// all of this); a path that is not registered is `404`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, limits: Limits) {
    cfg.app_data(limits)
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _req| ApiError::bad_request("invalid_path", err.to_string()).into()),
        )
        .service(web::resource("/healthz").route(web::get().to(healthz)))
        .configure(ops::routes)
        .configure(page::routes)
        .configure(openapi::routes)
        .service(
            web::scope("/v1")
                .wrap(actix_web::middleware::from_fn(cors::public_cors))
                .configure(badge::routes)
                .configure(tlog_proof::routes)
                // Before stamps: a path is matched by the first resource that fits it, and
                // `/stamps/{id}` fits `/stamps/upload`.
                .configure(upload::routes)
                .configure(credentials::routes)
                .configure(stamps::routes)
                .configure(prompt::routes)
                .configure(admin::routes)
                .configure(verify::routes)
                .configure(keys::routes)
                .configure(log::routes),
        )
        .service(web::scope("/sbr/v1").wrap(actix_web::middleware::from_fn(cors::public_cors)).configure(sbr::routes))
        .configure(tlog::routes)
        .default_service(web::to(not_found));
}

/// The process answers; with its role in the log (`sequencer` or `frontend`: of nodes
/// sharing a database, one is the sequencer) and the tree size it serves.
async fn healthz(svc: web::Data<crate::service::Service>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok", "role": svc.role(), "tree_size": svc.tree_size()}))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())))
}
