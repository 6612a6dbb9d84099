//! Running the HTTP server on a bound listener until a shutdown future completes, as in
//! tokio's mini-redis: the caller binds (port 0 in tests, so it learns the real port
//! before serving) and decides when to stop (a signal for `serve`, the end of a test).

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{middleware, web, App, HttpServer};

use crate::http::{self, Limits};
use crate::service::Service;

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting and
/// finishes the requests in flight (graceful shutdown).
///
/// # Errors
/// When the listener cannot be served.
pub async fn run(
    listener: TcpListener,
    service: Arc<Service>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let data = web::Data::from(service);
    let server = HttpServer::new(move || {
        App::new()
            // Innermost: the access log and the metrics see the method the client sent.
            .wrap(middleware::from_fn(http::methods::methods))
            .wrap(middleware::from_fn(http::ops::count))
            // Outermost: the access log times the whole answer, to its last byte.
            .wrap(middleware::from_fn(http::access::log))
            .app_data(data.clone())
            .configure(|cfg| http::configure(cfg, limits))
    })
    // The caller's shutdown future decides when to stop; actix must not install its own
    // signal handlers on top.
    .disable_signals()
    .listen(listener)?
    .run();
    run_until(server, shutdown).await
}

/// Runs `server` until `shutdown` completes, then stops accepting and finishes the
/// requests in flight: for every HTTP server of the crate (the service, the witness).
///
/// # Errors
/// When the server fails.
pub(crate) async fn run_until(
    server: actix_web::dev::Server,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handle = server.handle();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    // The stop request is answered by the server future itself, so it must be polled
    // while the stop is awaited: awaiting the stop first would wait for ever.
    let ((), result) = tokio::join!(handle.stop(true), server);
    result
}
