//! The prompt link of a stamp: erasure (issuer or admin) and checks (public, limited).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::admin::authorization;
use super::extract::Json;
use super::stamps::parse_id;
use crate::error::ApiError;
use crate::service::{blocking, Service};
use crate::statement::request::MAX_PROMPT_CHARS;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stamps/{id}/prompt").route(web::delete().to(erase)))
        .service(web::resource("/stamps/{id}/prompt/verify").route(web::post().to(check)));
}

async fn erase(req: HttpRequest, svc: web::Data<Service>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let who = svc.authenticate(authorization(&req)).await?;
    let svc = svc.into_inner();
    let outcome = blocking(move || svc.erase_prompt(&who, &id)).await?;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptBody {
    prompt: String,
}

async fn check(
    req: HttpRequest,
    svc: web::Data<Service>,
    path: web::Path<String>,
    Json(body): Json<PromptBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let prompt = body.prompt;
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        let message = format!("prompt: at most {MAX_PROMPT_CHARS} characters");
        return Err(ApiError::unprocessable("invalid_field", message).with_field("prompt"));
    }
    // X-Forwarded-For only from a trusted proxy: from anyone else it is forged at will.
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").map(|v| v.to_str().unwrap_or("")).collect();
    let client = svc.client_address(req.peer_addr().map(|a| a.ip()), &forwarded);
    let svc = svc.into_inner();
    svc.spend_prompt_check(&client).await?;
    let answer = blocking(move || svc.check_prompt(&id, &prompt)).await?;
    Ok(HttpResponse::Ok().json(answer))
}
