//! `GET /v1/stamps/{id}/tlog-proof`: a stamp's inclusion as a C2SP tlog-proof, for
//! readers who check logs with standard tools rather than our receipts.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::extract::Query;
use super::stamps::{parse_id, GetQuery};
use crate::error::ApiError;
use crate::log::tlog_proof::FILE_EXTENSION;
use crate::service::{blocking, Service};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stamps/{id}/tlog-proof").route(web::get().to(tlog_proof)));
}

async fn tlog_proof(
    svc: web::Data<Service>,
    path: web::Path<String>,
    Query(q): Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let filename = format!("{id}.{FILE_EXTENSION}");
    let svc = svc.into_inner();
    let proof = blocking(move || svc.tlog_proof(&id, q.witnessed)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(proof))
}
