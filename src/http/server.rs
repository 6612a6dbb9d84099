//! Building and running the HTTP server. `Application::build` binds the listener first,
//! so callers (tests, `serve --listen 127.0.0.1:0`) learn the real port before serving.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::http::{self, Limits};
use crate::service::{Service, ServiceConfig};

pub struct Application {
    server: Server,
    addr: SocketAddr,
    service: Arc<Service>,
}

impl Application {
    /// Opens the service and binds `listen`.
    ///
    /// # Errors
    /// When the service cannot open its state or the address cannot be bound.
    pub fn build(config: &ServiceConfig, listen: SocketAddr, limits: Limits) -> anyhow::Result<Self> {
        let service = Arc::new(Service::open(config)?);
        let listener = TcpListener::bind(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let data = web::Data::from(service.clone());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms").log_target("aiprov::access"))
                .app_data(data.clone())
                .configure(|cfg| http::configure(cfg, limits))
        })
        .listen(listener)?
        .run();
        Ok(Self { server, addr, service })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The server future; it ends on SIGINT/SIGTERM after finishing in-flight requests.
    pub fn into_server(self) -> Server {
        self.server
    }
}
