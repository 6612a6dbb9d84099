//! A Rust client of the service (reqwest), shared by the `stamp` and `verify` commands,
//! the examples and the load tools. Transient failures (429, 502-504, a connection that
//! broke) are retried with exponential backoff, honouring `Retry-After`; a service that
//! cannot be reached at all gets a shorter budget. Retries are counted, not logged one
//! by one, so a command can summarise them once.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::api::StampResponse;
use crate::api::METADATA_HEADER;
use crate::service::BackupReport;
use crate::statement::request::{StampMetadata, StampRequest};
use crate::verify::TrustAnchors;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection could be made: refused, no such host, timed out. Every later
    /// request to the same service would most likely fail the same way.
    #[error("cannot reach the service at {url}: {reason}")]
    Unreachable { url: String, reason: String, source: reqwest::Error },
    /// The connection was made but the exchange failed (reset, closed early, too slow).
    #[error("{url}: {}", transport_reason(.source))]
    Http { url: String, source: reqwest::Error },
    #[error("{url}: {status}: {message}")]
    Status { url: String, status: StatusCode, message: String },
    #[error("{url}: unexpected answer: {reason}")]
    Decode { url: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl ClientError {
    /// Worth retrying: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Http { source, .. } => source.is_timeout() || source.is_request(),
            Self::Status { status, .. } => {
                matches!(status.as_u16(), 429 | 502 | 503 | 504)
            }
            Self::Decode { .. } | Self::Io { .. } => false,
        }
    }

    /// What a retry of this failure is counted under in [`Client::retries`].
    fn retry_label(&self) -> String {
        match self {
            Self::Unreachable { reason, .. } => reason.clone(),
            Self::Http { source, .. } => transport_reason(source),
            Self::Status { status, .. } => status.to_string(),
            Self::Decode { .. } | Self::Io { .. } => "other".into(),
        }
    }
}

/// Why a request did not get through, in a few words a user can act on. reqwest's own
/// message is "error sending request", true of every transport failure; the cause that
/// says which one (refused, reset, no such host) sits further down the source chain,
/// usually as an `io::Error`.
fn transport_reason(err: &reqwest::Error) -> String {
    let mut dns = false;
    let mut innermost = None;
    let mut cause = err.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if dns {
                // getaddrinfo's words, without std's preamble.
                let message = io.to_string();
                let why = message.strip_prefix("failed to lookup address information: ").unwrap_or(&message);
                return format!("cannot resolve the host name: {why}");
            }
            return io_reason(io);
        }
        // hyper-util's connector names a failed lookup only in its message.
        dns |= e.to_string() == "dns error";
        innermost = Some(e);
        cause = e.source();
    }
    if err.is_timeout() {
        return "timed out".into();
    }
    match innermost {
        Some(e) => e.to_string(),
        None => err.to_string(),
    }
}

/// An I/O failure of a connection, by its kind where the kind says it all.
fn io_reason(io: &std::io::Error) -> String {
    let words = match io.kind() {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset => "connection reset by the server",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::TimedOut => "timed out",
        ErrorKind::HostUnreachable => "host unreachable",
        ErrorKind::NetworkUnreachable => "network unreachable",
        ErrorKind::AddrNotAvailable => "address not available",
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe => "the server closed the connection",
        _ => return io.to_string(),
    };
    words.to_owned()
}

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all for a busy or failing service (429, 502-504, a broken connection).
    pub attempts: u32,
    /// Attempts in all when no connection can be made ([`ClientError::Unreachable`]):
    /// fewer, because a service that is down rarely comes back within seconds, and a
    /// user should hear so at once rather than after every backoff.
    pub unreachable_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            unreachable_attempts: 3,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Retries made so far, by what they were made after (`429 Too Many Requests`,
/// `connection refused`). Shared by a client's clones.
#[derive(Debug, Clone, Default)]
struct RetryCounts(Arc<Mutex<BTreeMap<String, u64>>>);

impl RetryCounts {
    fn add(&self, label: String) {
        // A poisoned count is still a count: a panic elsewhere must not stop stamping.
        *self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(label).or_default() += 1;
    }

    fn snapshot(&self) -> Vec<(String, u64)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    retry: RetryPolicy,
    retries: RetryCounts,
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
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            token,
            retry: RetryPolicy::default(),
            retries: RetryCounts::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// How many requests were retried, by what they failed with first (sorted by label):
    /// for a summary at the end of a run, where one warning per attempt would drown it.
    pub fn retries(&self) -> Vec<(String, u64)> {
        self.retries.snapshot()
    }

    /// Stamps one asset, retrying transient failures.
    ///
    /// # Errors
    /// The last error once retries are exhausted, or at once for a non-transient one.
    pub async fn stamp(&self, req: &StampRequest) -> Result<StampResponse, ClientError> {
        let url = format!("{}/v1/stamps", self.base);
        let value = self.with_retries(|| Ok(self.authorized(self.http.post(&url)).json(req))).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// Stamps the file at `path` by streaming it to `POST /v1/stamps/upload`: the file
    /// is read piece by piece as it is sent, never whole, so any size works (up to the
    /// server's `--max-upload-bytes`). Transient failures are retried from the start of
    /// the file. Without a media type in `metadata`, the server records
    /// `application/octet-stream`.
    ///
    /// # Errors
    /// As [`Client::stamp`]; [`ClientError::Io`] when the file cannot be opened.
    pub async fn stamp_upload_file(
        &self,
        path: &std::path::Path,
        metadata: &StampMetadata,
    ) -> Result<StampResponse, ClientError> {
        let url = format!("{}/v1/stamps/upload", self.base);
        let header = metadata_header(metadata);
        let io = |e: std::io::Error| ClientError::Io { path: path.display().to_string(), source: e };
        let size = std::fs::metadata(path).map_err(io)?.len();
        let value = self
            .with_retries(|| {
                // Reopened for every attempt: a stream cannot be sent twice.
                let file = tokio::fs::File::from_std(std::fs::File::open(path).map_err(io)?);
                Ok(self.upload_request(&url, &header, size, reqwest::Body::from(file)))
            })
            .await?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// Stamps what `reader` yields, streamed to `POST /v1/stamps/upload` as it is read.
    /// Not retried: a reader cannot be read twice.
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn stamp_upload(
        &self,
        reader: impl tokio::io::AsyncRead + Send + 'static,
        metadata: &StampMetadata,
    ) -> Result<StampResponse, ClientError> {
        let url = format!("{}/v1/stamps/upload", self.base);
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(reader, 1 << 20));
        // Unknown size: allow a slow link a long time (an hour), as curl would.
        let req = self.upload_request(&url, &metadata_header(metadata), 3600 << 20, body);
        let value = self.once(req).await.map_err(|(e, _)| e)?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// Sends the image at `path` to `POST /v1/credentials`: the service stamps it and
    /// answers the same image with an embedded C2PA manifest. Returns the stamp (its
    /// receipt, fetched at once, and the prompt salt, which comes back in a header) and
    /// the credentialed image. Not retried: a stamp that was made but whose answer was
    /// lost would be made twice.
    ///
    /// # Errors
    /// As [`Client::stamp`]; [`ClientError::Io`] when the file cannot be read.
    pub async fn credential_file(
        &self,
        path: &std::path::Path,
        metadata: &StampMetadata,
    ) -> Result<(StampResponse, Vec<u8>), ClientError> {
        let url = format!("{}/v1/credentials", self.base);
        // Images are bounded by the service's --max-image-bytes; the library that embeds
        // the manifest holds them whole on the service's side too.
        let image =
            tokio::fs::read(path).await.map_err(|e| ClientError::Io { path: path.display().to_string(), source: e })?;
        let media_type = metadata.media_type.as_ref().map_or("application/octet-stream", |m| m.as_str());
        let resp = self
            .authorized(self.http.post(&url))
            .header(METADATA_HEADER, metadata_header(metadata))
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(image)
            .send()
            .await
            .map_err(|source| self.transport_error(source))?;
        let status = resp.status();
        if !status.is_success() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
            return Err(ClientError::Status { url, status, message });
        }
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (id, prompt_salt) = (header("aiprov-stamp-id"), header("aiprov-prompt-salt"));
        let id =
            id.ok_or_else(|| ClientError::Decode { url: url.clone(), reason: "no Aiprov-Stamp-Id header".into() })?;
        let credentialed = resp.bytes().await.map_err(|source| ClientError::Http { url: url.clone(), source })?;
        let receipt = self.get_json(&format!("/v1/stamps/{id}")).await?;
        let receipt =
            serde_json::from_value(receipt).map_err(|e| ClientError::Decode { url, reason: e.to_string() })?;
        Ok((StampResponse { receipt, prompt_salt }, credentialed.to_vec()))
    }

    fn authorized(&self, mut r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// A streamed upload of `size` bytes. Its time limit grows with the size (two
    /// minutes plus one second per MiB), where a JSON request's is a flat two minutes.
    fn upload_request(&self, url: &str, header: &str, size: u64, body: reqwest::Body) -> reqwest::RequestBuilder {
        self.authorized(self.http.post(url))
            .header(METADATA_HEADER, header)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(Duration::from_secs(120 + (size >> 20)))
            .body(body)
    }

    /// `GET path` as JSON.
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        self.with_retries(|| Ok(self.http.get(&url))).await
    }

    /// `GET path` as UTF-8 text, such as the signed note `/tlog/checkpoint` serves;
    /// retried as [`Client::get_json`].
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let (url, body) = self.retried(|| Ok(self.http.get(&url))).await?;
        String::from_utf8(body).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// Has the service write a backup named `name` into its backup directory. Not retried:
    /// a second attempt after a lost answer would find the first backup (`409`).
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn backup(&self, name: &str) -> Result<BackupReport, ClientError> {
        let url = format!("{}/v1/admin/backup", self.base);
        // A large log takes a while to copy: far longer than a stamp.
        let req = self.authorized(self.http.post(&url)).json(&serde_json::json!({ "name": name }));
        let value = self.once(req.timeout(Duration::from_secs(3600))).await.map_err(|(e, _)| e)?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    /// What the service says of `content` without a receipt: its stamps, exact matches
    /// first, else similar ones (`POST /v1/verify` for text, `/v1/verify/upload` for a
    /// file's bytes). A lookup, not proof: the caller verifies a match's receipt itself.
    ///
    /// # Errors
    /// As [`Client::stamp`].
    pub async fn look_up(&self, content: &LookUp) -> Result<crate::api::VerifyResponse, ClientError> {
        let (url, value) = match content {
            LookUp::Text(text) => {
                let url = format!("{}/v1/verify", self.base);
                let value =
                    self.with_retries(|| Ok(self.http.post(&url).json(&serde_json::json!({ "text": text })))).await?;
                (url, value)
            }
            LookUp::Bytes(bytes) => {
                let url = format!("{}/v1/verify/upload", self.base);
                let value = self
                    .with_retries(|| {
                        Ok(self
                            .http
                            .post(&url)
                            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                            .body(bytes.clone()))
                    })
                    .await?;
                (url, value)
            }
        };
        serde_json::from_value(value).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
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

    async fn with_retries(
        &self,
        build: impl Fn() -> Result<reqwest::RequestBuilder, ClientError>,
    ) -> Result<Value, ClientError> {
        let (url, body) = self.retried(build).await?;
        json_body(url, &body)
    }

    /// The address and body of a successful answer, retrying transient failures. The
    /// body is decoded after: an answer that does not decode is not worth a retry.
    async fn retried(
        &self,
        build: impl Fn() -> Result<reqwest::RequestBuilder, ClientError>,
    ) -> Result<(String, Vec<u8>), ClientError> {
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            let result = self.once_raw(build()?).await;
            match result {
                Ok(v) => return Ok(v),
                Err((e, retry_after)) if e.is_transient() && attempt < self.attempts_for(&e) => {
                    let wait = retry_after.unwrap_or(backoff).min(self.retry.max_backoff);
                    // Debug, not warn: a batch would print one line per attempt per file.
                    // Callers summarise `retries()` instead.
                    tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "transient failure; retrying");
                    self.retries.add(e.retry_label());
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    fn attempts_for(&self, e: &ClientError) -> u32 {
        match e {
            ClientError::Unreachable { .. } => self.retry.unreachable_attempts,
            _ => self.retry.attempts,
        }
    }

    /// A request that got no answer: unreachable (said once, clearly), or broken off.
    fn transport_error(&self, source: reqwest::Error) -> ClientError {
        if source.is_connect() {
            ClientError::Unreachable { url: self.base.clone(), reason: transport_reason(&source), source }
        } else {
            let url = source.url().map(|u| u.to_string()).unwrap_or_default();
            ClientError::Http { url, source }
        }
    }

    async fn once(&self, req: reqwest::RequestBuilder) -> Result<Value, (ClientError, Option<Duration>)> {
        let (url, body) = self.once_raw(req).await?;
        json_body(url, &body).map_err(|e| (e, None))
    }

    /// One request: the address and body of a success, or the error the service's
    /// JSON error body names, with the wait its `Retry-After` asks for.
    async fn once_raw(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(String, Vec<u8>), (ClientError, Option<Duration>)> {
        let resp = req.send().await.map_err(|source| (self.transport_error(source), None))?;
        let url = resp.url().to_string();
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body =
            resp.bytes().await.map_err(|e| (ClientError::Decode { url: url.clone(), reason: e.to_string() }, None))?;
        if status.is_success() {
            return Ok((url, body.into()));
        }
        let body = json_body(url.clone(), &body).map_err(|e| (e, None))?;
        let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
        Err((ClientError::Status { url, status, message }, retry_after))
    }
}

/// The JSON body of an answer from `url`.
fn json_body(url: String, body: &[u8]) -> Result<Value, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
}

/// The `Aiprov-Metadata` header value: the metadata as JSON with every non-ASCII
/// character escaped as `\uXXXX`, since header values are meant to be ASCII.
pub fn metadata_header(metadata: &StampMetadata) -> String {
    // Serialising plain data (strings, numbers, enums) cannot fail.
    let json = serde_json::to_string(metadata).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            // Outside JSON strings there is only ASCII, so every such character is
            // inside a string, where \u escapes (UTF-16, surrogate pairs) are valid.
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Content to look up ([`Client::look_up`]).
pub enum LookUp {
    Text(String),
    Bytes(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_unreachable_said_once_in_plain_words() {
        // A port that was just free: nothing listens on it any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let quick = RetryPolicy { first_backoff: Duration::from_millis(1), ..RetryPolicy::default() };
        let client = Client::new(&base, None).unwrap().with_retry(quick);
        let err = client.get_json("/v1/keys").await.unwrap_err();
        assert_eq!(err.to_string(), format!("cannot reach the service at {base}: connection refused"));
        assert!(matches!(err, ClientError::Unreachable { .. }));
        let retried = RetryPolicy::default().unreachable_attempts as u64 - 1;
        assert_eq!(client.retries(), vec![("connection refused".to_owned(), retried)]);
    }

    #[test]
    fn metadata_header_is_ascii_and_round_trips() {
        let metadata: StampMetadata = serde_json::from_value(serde_json::json!({
            "kind": "image",
            "generator": {"provider": "Exämple", "model": "M"},
            "disclosure": {"text": "Mit KI erzeugt 🤖", "lang": "de"},
            "prompt": "ein Fuchs im Schnee, \"Aquarell\"\n"
        }))
        .unwrap();
        let header = metadata_header(&metadata);
        assert!(header.is_ascii() && !header.contains('\n'), "{header}");
        assert!(reqwest::header::HeaderValue::from_str(&header).is_ok());
        // What the server does with the header value once it is UTF-8 (http::upload).
        let back: StampMetadata = serde_json::from_str(&header).unwrap();
        assert_eq!(back.disclosure.text, "Mit KI erzeugt 🤖");
        assert_eq!(back.prompt, metadata.prompt);
        assert_eq!(back.generator, metadata.generator);
    }
}
