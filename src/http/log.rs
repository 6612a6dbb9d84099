//! The transparency log's read API: checkpoint, proofs, entries, verifier key.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::log::LogError;
use crate::receipt::LogIndex;
use crate::service::{blocking, Service};

/// Most entries one page of `/v1/log/entries` returns.
pub const MAX_ENTRIES_PAGE: u64 = 256;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/log/checkpoint", web::get().to(checkpoint))
        .route("/log/verifier-key", web::get().to(verifier_key))
        .route("/log/proof/inclusion", web::get().to(inclusion))
        .route("/log/proof/consistency", web::get().to(consistency))
        .route("/log/entries", web::get().to(entries));
}

async fn checkpoint(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::plaintext()).body(svc.log().latest_checkpoint().note.to_string())
}

async fn verifier_key(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(format!("{}\n", svc.log().verifier().to_vkey_string()))
}

fn proof_error(e: LogError) -> ApiError {
    match e {
        LogError::Tree(t) => ApiError::bad_request("invalid_proof_request", t.to_string()),
        other => ApiError::internal(other),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: u64,
    tree_size: Option<u64>,
}

async fn inclusion(svc: web::Data<Service>, q: web::Query<InclusionQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let size = q.tree_size.unwrap_or_else(|| svc.log().published_size());
    let index = q.index;
    let proof = blocking(move || svc.log().inclusion_proof(LogIndex(index), size).map_err(proof_error)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "index": index, "tree_size": size, "inclusion_proof": proof })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

async fn consistency(svc: web::Data<Service>, q: web::Query<ConsistencyQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let second = q.second.unwrap_or_else(|| svc.log().published_size());
    let first = q.first;
    let proof = blocking(move || svc.log().consistency_proof(first, second).map_err(proof_error)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "first": first, "second": second, "consistency_proof": proof })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    start: u64,
    end: Option<u64>,
}

async fn entries(svc: web::Data<Service>, q: web::Query<EntriesQuery>) -> Result<HttpResponse, ApiError> {
    let svc = svc.into_inner();
    let size = svc.log().published_size();
    let start = q.start;
    let end =
        q.end.unwrap_or(start.saturating_add(MAX_ENTRIES_PAGE)).min(size).min(start.saturating_add(MAX_ENTRIES_PAGE));
    if start >= size || end <= start {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!("start must be below the published tree size {size} and end above start (pages hold at most {MAX_ENTRIES_PAGE} entries)"),
        ));
    }
    let leaves = blocking(move || {
        (start..end)
            .map(|i| {
                let leaf = svc.log().store().leaf(LogIndex(i)).map_err(ApiError::internal)?;
                let leaf = leaf.ok_or_else(|| ApiError::internal(anyhow::anyhow!("leaf {i} is missing")))?;
                // Leaves are JCS JSON: embed them as JSON, and keep the exact bytes in
                // base64 so an auditor hashes precisely what the tree committed to.
                use base64::Engine;
                let value: serde_json::Value = serde_json::from_slice(&leaf).map_err(ApiError::internal)?;
                Ok(serde_json::json!({
                    "index": i,
                    "leaf_base64": base64::engine::general_purpose::STANDARD.encode(&leaf),
                    "leaf": value,
                }))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "start": start, "end": end, "tree_size": size, "entries": leaves })))
}
