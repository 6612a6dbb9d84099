//! A Rust client of the service (reqwest), shared by the `stamp` and `verify` commands,
//! the examples and the load tools. Transient failures (connection errors, timeouts,
//! 429, 502-504) are retried with exponential backoff, honouring `Retry-After`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::service::StampResponse;
use crate::stamp::StampRequest;
use crate::verify::TrustAnchors;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url}: {status}: {message}")]
    Status { url: String, status: StatusCode, message: String },
    #[error("{url}: unexpected answer: {reason}")]
    Decode { url: String, reason: String },
}

impl ClientError {
    /// Worth retrying: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { source, .. } => source.is_connect() || source.is_timeout() || source.is_request(),
            Self::Status { status, .. } => {
                matches!(status.as_u16(), 429 | 502 | 503 | 504)
            }
            Self::Decode { .. } => false,
        }
    }
}

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 5, first_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(10) }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    retry: RetryPolicy,
}

impl Client {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:8080`); `token` is
    /// needed only for stamping.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS backend initialisation).
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| ClientError::Http { url: base_url.into(), source })?;
        Ok(Self { http, base: base_url.trim_end_matches('/').to_owned(), token, retry: RetryPolicy::default() })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Stamps one asset, retrying transient failures.
    ///
    /// # Errors
    /// The last error once retries are exhausted, or at once for a non-transient one.
    pub async fn stamp(&self, req: &StampRequest) -> Result<StampResponse, ClientError> {
        let url = format!("{}/v1/stamps", self.base);
        let value = self
            .with_retries(|| {
                let mut r = self.http.post(&url).json(req);
                if let Some(t) = &self.token {
                    r = r.bearer_auth(t);
                }
                r
            })
            .await?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// `GET path` as JSON.
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        self.with_retries(|| self.http.get(&url)).await
    }

    /// The service's trust anchors: its published keys and the log's verifier key.
    ///
    /// # Errors
    /// When `/v1/keys` cannot be fetched or does not parse.
    pub async fn trust_anchors(&self) -> Result<TrustAnchors, ClientError> {
        let keys = self.get_json("/v1/keys").await?;
        TrustAnchors::from_keys_document(&keys)
            .map_err(|reason| ClientError::Decode { url: format!("{}/v1/keys", self.base), reason })
    }

    async fn with_retries(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            let result = self.once(build()).await;
            match result {
                Ok(v) => return Ok(v),
                Err((e, retry_after)) if e.is_transient() && attempt < self.retry.attempts => {
                    let wait = retry_after.unwrap_or(backoff).min(self.retry.max_backoff);
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "transient failure; retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    async fn once(&self, req: reqwest::RequestBuilder) -> Result<Value, (ClientError, Option<Duration>)> {
        let resp = req.send().await.map_err(|source| {
            let url = source.url().map(|u| u.to_string()).unwrap_or_default();
            (ClientError::Http { url, source }, None)
        })?;
        let url = resp.url().to_string();
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body: Value =
            resp.json().await.map_err(|e| (ClientError::Decode { url: url.clone(), reason: e.to_string() }, None))?;
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
        Err((ClientError::Status { url, status, message }, retry_after))
    }
}
