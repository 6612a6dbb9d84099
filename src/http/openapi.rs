//! `GET /openapi.json`: the OpenAPI 3.1 document of this API, written by hand in
//! `assets/openapi.json` and embedded at build time, so the binary needs no files.
//! `tests/api/openapi.rs` keeps it honest: every registered route is documented, every
//! documented route is served, and real responses match the documented shapes.

use std::sync::OnceLock;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::service::Service;

/// The document, served byte for byte as written (unless this instance turned a feature
/// off: see [`document`]).
pub(super) const OPENAPI_JSON: &str = include_str!("../../assets/openapi.json");

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi)));
}

async fn openapi(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(document(svc.fetches_urls()))
}

/// The document of this instance: a service started with `--fetch-disabled` refuses every
/// `url` in `POST /v1/verify`, so its document does not offer one (a client generated
/// from it, or a fuzzer, then never sends what is refused for certain).
fn document(fetches_urls: bool) -> &'static str {
    static WITHOUT_URL: OnceLock<String> = OnceLock::new();
    if fetches_urls {
        return OPENAPI_JSON;
    }
    WITHOUT_URL.get_or_init(|| without_url(OPENAPI_JSON))
}

/// `doc` without `url` in `VerifyRequest`, saying why in its description.
fn without_url(doc: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(doc) else { return doc.to_owned() };
    let request = &mut doc["components"]["schemas"]["VerifyRequest"];
    if let Some(properties) = request["properties"].as_object_mut() {
        properties.remove("url");
    }
    if let Some(Value::String(description)) = request.get_mut("description") {
        description.push_str(
            " This service does not fetch URLs (`--fetch-disabled`): `url` is refused with `422 url_disabled`.",
        );
    }
    doc.to_string()
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

    #[test]
    fn a_service_that_fetches_no_urls_does_not_offer_url() {
        let with: serde_json::Value = serde_json::from_str(super::document(true)).unwrap();
        let without: serde_json::Value = serde_json::from_str(super::document(false)).unwrap();
        let url =
            |doc: &serde_json::Value| doc["components"]["schemas"]["VerifyRequest"]["properties"].get("url").cloned();
        assert!(url(&with).is_some());
        assert!(url(&without).is_none());
        assert_eq!(
            without["components"]["schemas"]["VerifyRequest"]["additionalProperties"], false,
            "so url is refused"
        );
        assert_eq!(with["paths"], without["paths"], "nothing else changes");
    }
}
