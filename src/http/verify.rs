//! `POST /v1/verify`: public, no token.

use actix_web::{web, HttpResponse};

use super::extract::Json;
use crate::api::VerifyRequest;
use crate::error::ApiError;
use crate::service::Service;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/verify").route(web::post().to(verify)));
}

async fn verify(svc: web::Data<Service>, Json(body): Json<VerifyRequest>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let resp = svc.verify_request(body).await?;
    Ok(HttpResponse::Ok().json(resp))
}
