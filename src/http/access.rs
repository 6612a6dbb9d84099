//! The access log: one event per answer, target `aiprov::access`, its parts as fields
//! (`method`, `route`, `path`, `status`, `bytes`, `duration_ms`, `client`, `request_id`)
//! so that a JSON log line can be queried by field instead of parsed out of a sentence.
//!
//! Like actix-web's `Logger`, which it replaces, it writes when the body has been sent
//! (or dropped: the client went away), so `bytes` counts what was sent and `duration_ms`
//! runs to the last byte. The path is logged without its query string: a lookup's
//! `?text=` would put copied text into the log. No header is logged, at any level (a
//! prompt can travel in `Aiprov-Metadata`).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};

use crate::service::metrics::UNMATCHED;
use crate::service::Service;

/// Logs the answer to `req` once its body is sent.
pub(super) async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AccessLogged>, actix_web::Error> {
    let started = Instant::now();
    // X-Forwarded-For counts only from a trusted proxy (as for rate limits): from anyone
    // else it is whatever the client wrote.
    let client = match req.app_data::<web::Data<Service>>() {
        Some(svc) => {
            let forwarded: Vec<&str> =
                req.headers().get_all("x-forwarded-for").map(|v| v.to_str().unwrap_or("")).collect();
            svc.client_address(req.peer_addr().map(|a| a.ip()), &forwarded)
        }
        None => req.peer_addr().map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string()),
    };
    let record = Record {
        method: req.method().to_string(),
        route: req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned()),
        path: req.path().to_owned(),
        client,
        request_id: next_request_id(),
        started,
        status: 0,
    };
    match next.call(req).await {
        Ok(res) => {
            let status = res.status().as_u16();
            Ok(res.map_body(|_, body| AccessLogged {
                body: body.boxed(),
                bytes: 0,
                record: Some(Record { status, ..record }),
            }))
        }
        Err(e) => {
            Record { status: e.as_response_error().status_code().as_u16(), ..record }.write(0);
            Err(e)
        }
    }
}

/// A request id unique in this process and, by its random prefix, across restarts and
/// nodes: `<8 hex digits>-<counter>`.
fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut random = [0u8; 4];
        // Without randomness the ids are still unique in this process.
        let _ = getrandom::getrandom(&mut random);
        hex::encode(random)
    });
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// What is known of a request before its body is sent.
struct Record {
    method: String,
    route: String,
    path: String,
    client: String,
    request_id: String,
    started: Instant,
    status: u16,
}

impl Record {
    fn write(self, bytes: u64) {
        let duration_ms = (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        tracing::info!(
            target: "aiprov::access",
            method = %self.method,
            route = %self.route,
            path = %self.path,
            status = self.status,
            bytes,
            duration_ms,
            client = %self.client,
            request_id = %self.request_id,
            "answered"
        );
    }
}

/// A response body that counts the bytes sent and writes the access log when it is done.
pub(super) struct AccessLogged {
    body: BoxBody,
    bytes: u64,
    record: Option<Record>,
}

impl MessageBody for AccessLogged {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.bytes += chunk.len() as u64;
        }
        polled
    }
}

impl Drop for AccessLogged {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record.write(self.bytes);
        }
    }
}
