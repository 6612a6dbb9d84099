//! HTTP routes. Handlers decode, call [`Service`](crate::service::Service), encode;
//! decoding failures of every kind become [`ApiError`] JSON here.

mod admin;
mod badge;
mod cors;
mod keys;
mod log;
mod openapi;
mod ops;
mod page;
mod prompt;
pub mod server;
mod stamps;
mod upload;
mod verify;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
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

/// Registers every route and the JSON/query error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, limits: Limits) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(limits.max_json_bytes)
            .content_type_required(true)
            .error_handler(|err, _req| json_error(err).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _req| query_error(err).into()))
    .app_data(
        web::PathConfig::default()
            .error_handler(|err, _req| ApiError::bad_request("invalid_path", err.to_string()).into()),
    )
    .route("/healthz", web::get().to(healthz))
    .configure(ops::routes)
    .configure(page::routes)
    .configure(openapi::routes)
    .service(
        web::scope("/v1")
            .wrap(actix_web::middleware::from_fn(cors::public_cors))
            .configure(badge::routes)
            .configure(upload::routes)
            .configure(stamps::routes)
            .configure(prompt::routes)
            .configure(admin::routes)
            .configure(verify::routes)
            .configure(keys::routes)
            .configure(log::routes),
    )
    .default_service(web::to(not_found));
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::PayloadTooLarge(format!(
            "the body is {length} bytes; at most {limit} are accepted (use the streamed upload for large assets)"
        )),
        JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(format!("the body exceeds {limit} bytes")),
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("send JSON with Content-Type: application/json".into())
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::unprocessable("invalid_field", e.to_string()),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::bad_request("invalid_body", other.to_string()),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::bad_request("invalid_query", err.to_string())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())))
}
