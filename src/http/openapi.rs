//! `GET /openapi.json`: the OpenAPI 3.1 document of this API, written by hand in
//! `assets/openapi.json` and embedded at build time, so the binary needs no files.
//! `tests/api/openapi.rs` keeps it honest: every registered route is documented, every
//! documented route is served, and real responses match the documented shapes.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};

/// The document, served byte for byte as written.
pub(super) const OPENAPI_JSON: &str = include_str!("../../assets/openapi.json");

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi)));
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_json_for_this_version() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).expect("assets/openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        // Bump info.version with the crate's version, so a client can tell which API it reads.
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    }
}
