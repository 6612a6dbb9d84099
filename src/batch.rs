//! Stamping many files: how a file becomes a stamp request, and running many requests
//! concurrently with the [`Client`], one outcome per file (written as JSONL by callers).

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::service::StampResponse;
use crate::stamp::StampRequest;
use crate::statement::{DigitalSourceType, Disclosure, Generator, HumanOversight, Kind, MediaType};
use crate::Sha256Digest;

/// Files up to this size are sent whole (as `text` or `content_base64`); larger ones
/// are hashed locally and only `sha256` and `size` are sent, so big assets never leave
/// the machine and never hit the JSON body limit.
pub const INLINE_LIMIT: u64 = 4 * 1024 * 1024;

/// What every stamp of a batch shares.
#[derive(Debug, Clone)]
pub struct StampTemplate {
    pub kind: Kind,
    pub generator: Generator,
    pub disclosure: Disclosure,
    pub digital_source_type: Option<DigitalSourceType>,
    pub human_oversight: Option<HumanOversight>,
    pub prompt: Option<String>,
}

impl StampTemplate {
    fn request(&self) -> StampRequest {
        StampRequest {
            text: None,
            content_base64: None,
            sha256: None,
            size: None,
            media_type: None,
            kind: self.kind,
            digital_source_type: self.digital_source_type.clone(),
            generator: self.generator.clone(),
            prompt: self.prompt.clone(),
            disclosure: self.disclosure.clone(),
            human_oversight: self.human_oversight,
            explanation: None,
        }
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

    /// A request for a file: inline when small, hash-only when large (see [`INLINE_LIMIT`]).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn for_file(&self, path: &Path) -> std::io::Result<StampRequest> {
        let media_type = media_type_for(path);
        let size = std::fs::metadata(path)?.len();
        if size <= INLINE_LIMIT {
            return Ok(self.for_bytes(std::fs::read(path)?, media_type));
        }
        let mut req = self.request();
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        req.sha256 = Some(Sha256Digest::from_hasher(hasher));
        req.size = Some(size);
        req.media_type = media_type.or_else(|| MediaType::parse("application/octet-stream").ok());
        Ok(req)
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

/// Every regular file under `root` (or `root` itself), sorted, skipping hidden entries.
///
/// # Errors
/// When a directory cannot be read.
pub fn collect_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(root.to_owned());
        return Ok(out);
    }
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ty = entry.file_type()?;
            if ty.is_dir() {
                dirs.push(entry.path());
            } else if ty.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One line of the receipts JSONL file.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<StampResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Stamps every file with at most `concurrency` requests in flight; `on_done` sees each
/// outcome as it completes (for progress and streaming output).
pub async fn stamp_files(
    client: &Client,
    template: &StampTemplate,
    files: Vec<PathBuf>,
    concurrency: usize,
    mut on_done: impl FnMut(Outcome),
) {
    let mut results = stream::iter(files)
        .map(|path| async move {
            let file = path.display().to_string();
            let t = template.clone();
            // File reading and hashing block: keep them off the async executor.
            let req = match tokio::task::spawn_blocking(move || t.for_file(&path)).await {
                Ok(Ok(req)) => req,
                Ok(Err(e)) => return Outcome { file, receipt: None, error: Some(format!("cannot read: {e}")) },
                Err(e) => return Outcome { file, receipt: None, error: Some(e.to_string()) },
            };
            match client.stamp(&req).await {
                Ok(r) => Outcome { file, receipt: Some(r), error: None },
                Err(e) => Outcome { file, receipt: None, error: Some(e.to_string()) },
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(outcome) = results.next().await {
        on_done(outcome);
    }
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
        }
    }

    #[test]
    fn small_text_is_inline_binary_is_base64_large_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("a.txt");
        std::fs::write(&text, "hello").unwrap();
        let req = template().for_file(&text).unwrap();
        assert_eq!(req.text.as_deref(), Some("hello"));

        let png = dir.path().join("b.png");
        std::fs::write(&png, [0x89, b'P', b'N', b'G']).unwrap();
        let req = template().for_file(&png).unwrap();
        assert!(req.content_base64.is_some() && req.text.is_none());
        assert_eq!(req.media_type.unwrap().as_str(), "image/png");

        let big = dir.path().join("c.bin");
        let data = vec![7u8; INLINE_LIMIT as usize + 1];
        std::fs::write(&big, &data).unwrap();
        let req = template().for_file(&big).unwrap();
        assert_eq!(req.sha256, Some(Sha256Digest::of(&data)));
        assert_eq!(req.size, Some(data.len() as u64));
        assert!(req.content_base64.is_none());
    }

    #[test]
    fn collects_files_recursively_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("x.txt"), "1").unwrap();
        std::fs::write(dir.path().join("sub/y.txt"), "2").unwrap();
        std::fs::write(dir.path().join(".hidden"), "3").unwrap();
        let files = collect_files(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
    }
}
