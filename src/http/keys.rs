//! `GET /v1/keys`: every public key, the log's note verifier key and the C2PA
//! certificates; `GET /v1/c2pa/anchors.pem`: the C2PA trust anchor.

use actix_web::{web, HttpResponse};

use crate::service::Service;

/// The path of the C2PA trust anchor, named in `GET /v1/keys`.
const ANCHORS_PATH: &str = "/v1/c2pa/anchors.pem";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys").route(web::get().to(keys)))
        .service(web::resource("/c2pa/anchors.pem").route(web::get().to(anchors)));
}

async fn keys(svc: web::Data<Service>) -> HttpResponse {
    let verifier = svc.log_verifier();
    let (root, leaves) = svc.c2pa_certs().infos();
    HttpResponse::Ok().json(serde_json::json!({
        "keys": svc.public_keys(),
        "log": { "origin": verifier.name(), "verifier_key": verifier.to_vkey_string() },
        "c2pa": { "anchors": ANCHORS_PATH, "roots": [root], "certificates": leaves },
    }))
}

/// The root certificate that signs this service's C2PA certificates, as PEM: add it to a
/// C2PA validator's trust anchors to trust its Content Credentials.
async fn anchors(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pem-certificate-chain")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(svc.c2pa_certs().root_pem())
}
