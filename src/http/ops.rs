//! For operators and people arriving at the root: `GET /` (to the verify page),
//! `GET /readyz`, `GET /metrics`, and the middleware that counts every answer.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::service::metrics::CONTENT_TYPE;
use crate::service::Service;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(root)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// A person who types the service's address wants the verify page: 303 to it, with a
/// link for clients that do not follow redirects.
async fn root() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/verify"))
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html>\n<title>ai-provenance</title>\n<p><a href=\"/verify\">Verify an AI disclosure</a></p>\n")
}

/// 200 once the service can stamp (log open, checkpoint signed, writer running), else
/// 503; `/healthz` only says the process answers.
async fn readyz(svc: web::Data<Service>) -> HttpResponse {
    let readiness = svc.readiness();
    let mut resp = if readiness.is_ready() { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    resp.insert_header((header::CACHE_CONTROL, "no-store")).json(readiness)
}

async fn metrics(svc: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(svc.render_metrics())
}

/// Counts every answer by the route pattern it matched (never the path itself, whose
/// values are unbounded), its method and its status.
pub(super) async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let svc = req.app_data::<web::Data<Service>>().cloned();
    let route = req.match_pattern();
    let method = req.method().clone();
    let res = next.call(req).await;
    if let Some(svc) = svc {
        let status = match &res {
            Ok(r) => r.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        svc.count_request(route, method.as_str(), status.as_u16());
    }
    res
}
