//! Stamping many files: how a file becomes a stamp request, and running many requests
//! concurrently with the [`Client`], one outcome per file (written as JSONL by callers),
//! stopping at the first failure that every other file would meet too.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::OnceLock;

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;

use crate::api::StampResponse;
use crate::cli::client::{Client, ClientError};
use crate::cli::receipts::Outcome;
use crate::content::hash_file;
use crate::statement::request::{RequestError, StampMetadata, StampRequest};
use crate::statement::{DigitalSourceType, Disclosure, Explanation, Generator, HumanOversight, Kind, MediaType};

/// Files up to this size are sent whole in JSON (as `text` or `content_base64`);
/// larger ones are streamed to `POST /v1/stamps/upload`, so they never hit the JSON
/// body limit and are never held whole in memory on either side.
pub const INLINE_LIMIT: u64 = 4 * 1024 * 1024;

/// What of a file reaches the service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transfer {
    /// The bytes: inline in JSON up to [`INLINE_LIMIT`], streamed above it. The
    /// receipt then records a hash the service computed itself.
    #[default]
    Content,
    /// Only the SHA-256 and size, hashed locally, for assets that must stay private.
    /// Text then gets no normalised text hash.
    HashOnly,
    /// JPEG, PNG and WebP images to `POST /v1/credentials`, which answers each with a
    /// copy carrying a C2PA manifest; every other file as [`Transfer::Content`].
    Credentials,
}

/// How one file is sent.
#[derive(Debug)]
pub enum FileStamp {
    /// As a JSON stamp request (inline content, or a digest).
    Json(StampRequest),
    /// Streamed from its path to the upload route.
    Upload { path: PathBuf, metadata: StampMetadata },
    /// Sent from its path to the Content Credentials route.
    Credential { path: PathBuf, metadata: StampMetadata },
}

/// What every stamp of a batch shares.
#[derive(Debug, Clone)]
pub struct StampTemplate {
    pub kind: Kind,
    pub generator: Generator,
    pub disclosure: Disclosure,
    pub digital_source_type: Option<DigitalSourceType>,
    pub human_oversight: Option<HumanOversight>,
    pub prompt: Option<String>,
    /// Required with, and only allowed with, [`Kind::RecommendationExplanation`].
    pub explanation: Option<Explanation>,
}

impl StampTemplate {
    /// Checks every rule the service checks on the fields a batch shares, so a bad
    /// flag fails once, before any request, and not once per file.
    ///
    /// # Errors
    /// The first rule broken, naming its field.
    pub fn validate(&self) -> Result<(), RequestError> {
        self.metadata(None).validate()
    }

    fn request(&self) -> StampRequest {
        StampRequest::from_metadata(self.metadata(None))
    }

    /// The metadata of every stamp of this batch, for a streamed upload.
    pub fn metadata(&self, media_type: Option<MediaType>) -> StampMetadata {
        StampMetadata {
            media_type,
            kind: self.kind,
            digital_source_type: self.digital_source_type.clone(),
            generator: self.generator.clone(),
            prompt: self.prompt.clone(),
            disclosure: self.disclosure.clone(),
            human_oversight: self.human_oversight,
            explanation: self.explanation.clone(),
        }
    }

    /// A sha256-only request for content hashed locally (see [`Transfer::HashOnly`]).
    pub fn for_digest(&self, content: &crate::content::HashedContent, media_type: Option<MediaType>) -> StampRequest {
        let mut req = self.request();
        req.sha256 = Some(content.sha256);
        req.size = Some(content.size);
        req.media_type = media_type.or_else(|| MediaType::parse("application/octet-stream").ok());
        req
    }

    /// A request for content held in memory (stdin, generated copy).
    pub fn for_bytes(&self, bytes: Vec<u8>, media_type: Option<MediaType>) -> StampRequest {
        let mut req = self.request();
        let is_text = media_type.as_ref().is_none_or(MediaType::is_text);
        match String::from_utf8(bytes) {
            Ok(text) if is_text => req.text = Some(text),
            Ok(text) => req.content_base64 = Some(STANDARD.encode(text.as_bytes())),
            Err(e) => req.content_base64 = Some(STANDARD.encode(e.as_bytes())),
        }
        req.media_type = media_type
            .or_else(|| req.content_base64.as_ref().and_then(|_| MediaType::parse("application/octet-stream").ok()));
        req
    }

    /// How to stamp a file: inline when small, streamed when large (see
    /// [`INLINE_LIMIT`]), or by its hash alone with [`Transfer::HashOnly`]. Reads and
    /// hashes block: call it off the async executor.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn for_file(&self, path: &Path, transfer: Transfer) -> std::io::Result<FileStamp> {
        let media_type = media_type_for(path);
        if transfer == Transfer::HashOnly {
            return Ok(FileStamp::Json(self.for_digest(&hash_file(path, 0)?, media_type)));
        }
        if transfer == Transfer::Credentials
            && media_type.as_ref().is_some_and(|m| matches!(m.as_str(), "image/jpeg" | "image/png" | "image/webp"))
        {
            let mut metadata = self.metadata(media_type);
            // A credentialed asset is an image, whatever the batch's kind for its other files.
            metadata.kind = Kind::Image;
            return Ok(FileStamp::Credential { path: path.to_owned(), metadata });
        }
        let size = std::fs::metadata(path)?.len();
        if size <= INLINE_LIMIT {
            return Ok(FileStamp::Json(self.for_bytes(std::fs::read(path)?, media_type)));
        }
        Ok(FileStamp::Upload { path: path.to_owned(), metadata: self.metadata(media_type) })
    }
}

/// The media type of a file by its extension, for the common asset types.
pub fn media_type_for(path: &Path) -> Option<MediaType> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let mt = match ext.as_str() {
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        _ => return None,
    };
    MediaType::parse(mt).ok()
}

/// A failure that every later request of a batch would meet too: the batch stops at
/// the first one rather than send the rest to fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// 401 or 403: the token is wrong, revoked, or not one that may stamp.
    #[error("the service refused the token ({status}: {message})")]
    TokenRefused { status: StatusCode, message: String },
    /// No connection could be made, after the client's short retries.
    #[error(transparent)]
    Unreachable(ClientError),
}

/// The stop `error` calls for, when it would recur for every file of a batch.
///
/// # Errors
/// The [`Stop`]; `Ok` gives the error back when it concerns one file only.
pub fn stop_for(error: ClientError) -> Result<ClientError, Stop> {
    match error {
        ClientError::Status { status, message, .. } if matches!(status.as_u16(), 401 | 403) => {
            Err(Stop::TokenRefused { status, message })
        }
        e @ ClientError::Unreachable { .. } => Err(Stop::Unreachable(e)),
        e => Ok(e),
    }
}

/// A batch that stopped early, and how many of its files it did not stamp.
#[derive(Debug, thiserror::Error)]
#[error("{reason}; {unstamped} file(s) not stamped")]
pub struct Stopped {
    pub reason: Stop,
    pub unstamped: usize,
}

/// The receipts-file line of one stamp, or the stop its failure calls for.
///
/// # Errors
/// A [`Stop`] when the failure would recur for every other file.
pub fn outcome(file: String, result: Result<StampResponse, ClientError>) -> Result<Outcome, Stop> {
    match result {
        Ok(r) => Ok(Outcome { file, receipt: Some(r), ..Default::default() }),
        Err(e) => {
            let error = stop_for(e)?;
            Ok(Outcome { file, error: Some(error.to_string()), ..Default::default() })
        }
    }
}

/// Stamps every file with at most `concurrency` requests in flight; `on_done` sees each
/// outcome as it completes (for progress and streaming output). Files are sent as
/// [`Transfer::Content`].
///
/// # Errors
/// As [`stamp_files_with`].
pub async fn stamp_files(
    client: &Client,
    template: &StampTemplate,
    files: Vec<PathBuf>,
    concurrency: usize,
    on_done: impl FnMut(Outcome),
) -> Result<(), Stopped> {
    stamp_files_with(client, template, files, concurrency, Transfer::Content, on_done).await
}

/// [`stamp_files`], choosing what of each file reaches the service.
///
/// # Errors
/// [`Stopped`] at the first failure that would recur for every file (see [`Stop`]):
/// no further file is sent, the requests in flight finish, and `on_done` sees none of
/// the failures that stopped it. The first file is sent alone, so a wrong token or a
/// service that is down costs one request, not one per slot of `concurrency`.
pub async fn stamp_files_with(
    client: &Client,
    template: &StampTemplate,
    files: Vec<PathBuf>,
    concurrency: usize,
    transfer: Transfer,
    mut on_done: impl FnMut(Outcome),
) -> Result<(), Stopped> {
    let mut files = files.into_iter();
    if let Some(first) = files.next() {
        match stamp_one(client, template, first, transfer).await {
            Ok(outcome) => on_done(outcome),
            Err(reason) => return Err(Stopped { reason, unstamped: 1 + files.len() }),
        }
    }
    let stop = OnceLock::new();
    let stopped = &stop;
    let mut unstamped = 0;
    let mut results = stream::iter(files)
        .map(|path| async move {
            // Still queued when the batch stopped: not sent.
            if stopped.get().is_some() {
                return None;
            }
            Some(stamp_one(client, template, path, transfer).await)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        match result {
            Some(Ok(outcome)) => on_done(outcome),
            Some(Err(reason)) => {
                unstamped += 1;
                // The first stop is the one reported; later ones are the same failure.
                let _ = stop.set(reason);
            }
            None => unstamped += 1,
        }
    }
    drop(results);
    match stop.into_inner() {
        Some(reason) => Err(Stopped { reason, unstamped }),
        None => Ok(()),
    }
}

/// Reads (off the executor) and stamps one file.
async fn stamp_one(
    client: &Client,
    template: &StampTemplate,
    path: PathBuf,
    transfer: Transfer,
) -> Result<Outcome, Stop> {
    let file = path.display().to_string();
    let t = template.clone();
    // File reading and hashing block: keep them off the async executor.
    let how = match tokio::task::spawn_blocking(move || t.for_file(&path, transfer)).await {
        Ok(Ok(how)) => how,
        Ok(Err(e)) => return Ok(Outcome { file, error: Some(format!("cannot read: {e}")), ..Default::default() }),
        Err(e) => return Ok(Outcome { file, error: Some(e.to_string()), ..Default::default() }),
    };
    let result = match &how {
        FileStamp::Json(req) => client.stamp(req).await,
        FileStamp::Upload { path, metadata } => client.stamp_upload_file(path, metadata).await,
        FileStamp::Credential { path, metadata } => {
            return match client.credential_file(path, metadata).await {
                Ok((response, image)) => {
                    Ok(Outcome { file, receipt: Some(response), credential_image: Some(image), ..Default::default() })
                }
                Err(e) => outcome(file, Err(e)),
            };
        }
    };
    outcome(file, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> StampTemplate {
        StampTemplate {
            kind: Kind::MarketingCopy,
            generator: Generator { provider: "P".into(), model: "M".into(), model_version: None },
            disclosure: Disclosure { text: "AI".into(), lang: "en".into() },
            digital_source_type: None,
            human_oversight: None,
            prompt: None,
            explanation: None,
        }
    }

    fn json(stamp: FileStamp) -> StampRequest {
        match stamp {
            FileStamp::Json(req) => req,
            FileStamp::Upload { path, .. } | FileStamp::Credential { path, .. } => {
                panic!("{} would be streamed", path.display())
            }
        }
    }

    #[test]
    fn small_text_is_inline_binary_is_base64_large_is_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("a.txt");
        std::fs::write(&text, "hello").unwrap();
        let req = json(template().for_file(&text, Transfer::Content).unwrap());
        assert_eq!(req.text.as_deref(), Some("hello"));

        let png = dir.path().join("b.png");
        std::fs::write(&png, [0x89, b'P', b'N', b'G']).unwrap();
        let req = json(template().for_file(&png, Transfer::Content).unwrap());
        assert!(req.content_base64.is_some() && req.text.is_none());
        assert_eq!(req.media_type.unwrap().as_str(), "image/png");

        let big = dir.path().join("c.png");
        let data = vec![7u8; INLINE_LIMIT as usize + 1];
        std::fs::write(&big, &data).unwrap();
        match template().for_file(&big, Transfer::Content).unwrap() {
            FileStamp::Upload { path, metadata } => {
                assert_eq!(path, big);
                assert_eq!(metadata.media_type.unwrap().as_str(), "image/png");
            }
            FileStamp::Json(_) | FileStamp::Credential { .. } => panic!("a large file is streamed"),
        }
    }

    #[test]
    fn hash_only_sends_the_digest_of_every_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in [("small.txt", b"private copy".to_vec()), ("big.bin", vec![7u8; INLINE_LIMIT as usize + 1])]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, &data).unwrap();
            let req = json(template().for_file(&path, Transfer::HashOnly).unwrap());
            assert_eq!(req.sha256, Some(crate::Sha256Digest::of(&data)), "{name}");
            assert_eq!(req.size, Some(data.len() as u64));
            assert!(req.text.is_none() && req.content_base64.is_none(), "{name}: no content leaves the machine");
        }
    }
}
