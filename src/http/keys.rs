//! `GET /v1/keys`: every public key, and the log's note verifier key.

use actix_web::{web, HttpResponse};

use crate::service::Service;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys").route(web::get().to(keys)));
}

async fn keys(svc: web::Data<Service>) -> HttpResponse {
    let verifier = svc.log_verifier();
    HttpResponse::Ok().json(serde_json::json!({
        "keys": svc.public_keys(),
        "log": { "origin": verifier.name(), "verifier_key": verifier.to_vkey_string() },
    }))
}
