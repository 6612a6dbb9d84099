//! The witness's HTTP interface: `POST /add-checkpoint` (submission prefix `/`), and the
//! one place where an [`AddError`] becomes a status. Bodies are plain text, as the
//! spec's are; a 500 says nothing of its cause, which is logged instead.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};

use super::{AddError, Witness};

/// The largest request body: 63 proof lines are under 3 KiB, and a checkpoint with a
/// few dozen signatures a few more; 64 KiB leaves room and bounds the work.
const MAX_BODY: usize = 64 * 1024;

/// The media type of a 409's body (tlog-witness).
const TLOG_SIZE: &str = "text/x.tlog.size";

impl ResponseError for AddError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Request(_) | Self::Note(_) | Self::OldSizeTooLarge { .. } => StatusCode::BAD_REQUEST,
            Self::UnknownLog(_) => StatusCode::NOT_FOUND,
            Self::Signature(_) => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::State(_) | Self::Cosign(_) | Self::Worker => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        match self {
            Self::Conflict { held, .. } => resp.content_type(TLOG_SIZE).body(format!("{held}\n")),
            Self::RateLimited(wait) => resp
                .insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()))
                .content_type(ContentType::plaintext())
                .body(format!("{self}\n")),
            Self::State(_) | Self::Cosign(_) | Self::Worker => {
                tracing::error!(error = ?self, "add-checkpoint failed");
                resp.content_type(ContentType::plaintext()).body("internal error\n")
            }
            _ => resp.content_type(ContentType::plaintext()).body(format!("{self}\n")),
        }
    }
}

/// Registers the witness's routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY))
        .service(web::resource("/add-checkpoint").route(web::post().to(add_checkpoint)));
}

async fn add_checkpoint(witness: web::Data<Witness>, body: web::Bytes) -> Result<HttpResponse, AddError> {
    let witness = witness.into_inner();
    // Signature checks and an fsync: off the executor.
    let answer = web::block(move || witness.add_checkpoint(&body)).await.unwrap_or(Err(AddError::Worker));
    match &answer {
        Ok(_) => tracing::debug!("cosigned a checkpoint"),
        Err(e) if e.status_code().is_client_error() => tracing::info!(error = %e, "add-checkpoint refused"),
        Err(_) => {}
    }
    Ok(HttpResponse::Ok().content_type(ContentType::plaintext()).body(answer?))
}

/// Serves `witness` on `listener` until `shutdown` completes, then finishes the requests
/// in flight.
///
/// # Errors
/// When the listener cannot be served.
pub async fn run(
    listener: TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let data = web::Data::from(witness);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(configure))
        .disable_signals()
        .listen(listener)?
        .run();
    crate::http::server::run_until(server, shutdown).await
}
