//! The admin API (admin token): issuer tokens, the erasure register, online backups.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{Json, Query};
use crate::error::ApiError;
use crate::records::tokens::TokenId;
use crate::service::{blocking, Service};
use crate::statement::IssuerName;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/tokens").route(web::get().to(list_tokens)).route(web::post().to(create_token)))
        .service(web::resource("/admin/tokens/{id}").route(web::delete().to(revoke_token)))
        .service(web::resource("/admin/erasures").route(web::get().to(erasures)))
        .service(web::resource("/admin/keys/rotate").route(web::post().to(rotate_keys)))
        .service(web::resource("/admin/backup").route(web::post().to(backup)));
}

/// The `Authorization` header value, if any (a non-ASCII value counts as malformed).
pub(super) fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""))
}

async fn list_tokens(req: HttpRequest, svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    svc.authenticate_admin(authorization(&req)).await?;
    let svc = svc.into_inner();
    let tokens = blocking(move || svc.list_tokens()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    issuer: IssuerName,
    #[serde(default)]
    admin: bool,
}

async fn create_token(
    req: HttpRequest,
    svc: web::Data<Service>,
    Json(body): Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate_admin(authorization(&req)).await?;
    let CreateToken { issuer, admin } = body;
    let svc = svc.into_inner();
    let token = blocking(move || svc.create_token(issuer, admin)).await?;
    tracing::info!(by = %who.issuer, id = %token.id, admin, "token created");
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": token.id, "token": token.secret, "admin": admin })))
}

async fn revoke_token(
    req: HttpRequest,
    svc: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate_admin(authorization(&req)).await?;
    let id =
        TokenId::parse(&path).map_err(|m| ApiError::bad_request("invalid_id", format!("id: {m}")).with_field("id"))?;
    let svc = svc.into_inner();
    let lookup = id.clone();
    let revoked = blocking(move || svc.revoke_token(&lookup)).await?;
    tracing::info!(by = %who.issuer, id = %id, "token revoked");
    Ok(HttpResponse::Ok().json(revoked))
}

async fn erasures(req: HttpRequest, svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    svc.authenticate_admin(authorization(&req)).await?;
    let svc = svc.into_inner();
    let records = blocking(move || svc.erasures()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "erasures": records })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateQuery {
    #[serde(default)]
    force: bool,
}

async fn rotate_keys(
    req: HttpRequest,
    svc: web::Data<Service>,
    Query(query): Query<RotateQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate_admin(authorization(&req)).await?;
    let svc = svc.into_inner();
    let force = query.force;
    let status = blocking(move || svc.rotate_statement_key(force)).await?;
    tracing::info!(by = %who.issuer, state = status.state, retired = %status.retired.kid, active = %status.active.kid, force, "statement key rotation");
    let message = match status.state {
        "active" => "every node signs with the new key; the retired key stays published, so receipts it signed keep verifying",
        "retiring" => "the new key is active; the old one is retired as soon as every node has switched (GET /v1/keys shows its date)",
        _ => "the new key is staged: it becomes active once the nodes in waiting_for hold it (copy its .key file into their keys directories), or with ?force=true",
    };
    let mut response = if status.state == "active" { HttpResponse::Ok() } else { HttpResponse::Accepted() };
    Ok(response.json(serde_json::json!({
        "state": status.state,
        "retired": status.retired,
        "active": status.active,
        "waiting_for": status.waiting_for,
        "message": message,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    name: String,
}

async fn backup(
    req: HttpRequest,
    svc: web::Data<Service>,
    Json(body): Json<BackupRequest>,
) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate_admin(authorization(&req)).await?;
    let name = body.name;
    let svc = svc.into_inner();
    let report = blocking(move || svc.backup(&name)).await?;
    tracing::info!(by = %who.issuer, name = %report.name, path = %report.path, tree_size = report.tree_size, "backup written");
    Ok(HttpResponse::Created().json(report))
}
