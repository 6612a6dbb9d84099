//! The transparency log's read API: checkpoint, witnessed checkpoint, proofs, entries,
//! verifier key.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::Query;
use crate::error::ApiError;
use crate::service::{blocking, Service};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/log/checkpoint").route(web::get().to(checkpoint)))
        .service(web::resource("/log/witnessed").route(web::get().to(witnessed)))
        .service(web::resource("/log/verifier-key").route(web::get().to(verifier_key)))
        .service(web::resource("/log/proof/inclusion").route(web::get().to(inclusion)))
        .service(web::resource("/log/proof/consistency").route(web::get().to(consistency)))
        .service(web::resource("/log/entries").route(web::get().to(entries)));
}

async fn checkpoint(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::plaintext()).body(svc.checkpoint_note())
}

async fn witnessed(svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let witnessed = blocking(move || svc.witnessed_checkpoint()).await?;
    Ok(HttpResponse::Ok().json(witnessed))
}

async fn verifier_key(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::plaintext()).body(format!("{}\n", svc.log_verifier().to_vkey_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: u64,
    tree_size: Option<u64>,
}

async fn inclusion(svc: web::Data<Service>, Query(q): Query<InclusionQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let size = q.tree_size.unwrap_or_else(|| svc.published_size());
    let index = q.index;
    let proof = blocking(move || svc.inclusion_proof(index, size)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "index": index, "tree_size": size, "inclusion_proof": proof })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

async fn consistency(svc: web::Data<Service>, Query(q): Query<ConsistencyQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let second = q.second.unwrap_or_else(|| svc.published_size());
    let first = q.first;
    let proof = blocking(move || svc.consistency_proof(first, second)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "first": first, "second": second, "consistency_proof": proof })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    start: u64,
    end: Option<u64>,
}

async fn entries(svc: web::Data<Service>, Query(q): Query<EntriesQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let (start, end) = (q.start, q.end);
    let page = blocking(move || svc.entries(start, end)).await?;
    Ok(HttpResponse::Ok().json(page))
}
