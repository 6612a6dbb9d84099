//! Hashing content that arrives in pieces: an HTTP body streamed to the service, a page
//! fetched by URL, a file on disk. SHA-256 is computed chunk by chunk as the bytes
//! arrive, so an asset of any size costs one chunk of memory, never the whole asset.
//! Only a small body (at most `keep_up_to` bytes) is also kept, because the normalised
//! text hash needs the whole text in memory; past that limit it is dropped and the
//! content is known by its exact hash alone.

use std::io::Read;

use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::content::ContentHashes;
use crate::normalize::normalized_text_sha256;
use crate::Sha256Digest;

/// Size of the read buffer for files: large enough that syscalls do not dominate.
const READ_CHUNK: usize = 1 << 20;

/// SHA-256 and byte count of content fed piece by piece, keeping the bytes themselves
/// only while they fit in `keep_up_to`.
pub struct StreamingHasher {
    sha: Sha256,
    size: u64,
    keep_up_to: usize,
    kept: Option<Vec<u8>>,
}

impl StreamingHasher {
    /// A hasher that also keeps the content while it is at most `keep_up_to` bytes
    /// (0: keep nothing).
    pub fn new(keep_up_to: usize) -> Self {
        Self { sha: Sha256::new(), size: 0, keep_up_to, kept: (keep_up_to > 0).then(Vec::new) }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.sha.update(chunk);
        self.size += chunk.len() as u64;
        if let Some(kept) = &mut self.kept {
            if self.size <= self.keep_up_to as u64 {
                kept.extend_from_slice(chunk);
            } else {
                // Too big to normalise: free it now, not at the end of the upload.
                self.kept = None;
            }
        }
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> HashedContent {
        HashedContent { sha256: Sha256Digest::from_hasher(self.sha), size: self.size, small: self.kept }
    }
}

/// Content known by its hash and size, and by its bytes too when it was small.
#[derive(Clone)]
pub struct HashedContent {
    pub sha256: Sha256Digest,
    pub size: u64,
    /// The whole content, when it was at most the hasher's `keep_up_to` bytes.
    pub small: Option<Vec<u8>>,
}

impl std::fmt::Debug for HashedContent {
    // The bytes may be anything (an unpublished asset): never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashedContent")
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .field("small", &self.small.is_some())
            .finish()
    }
}

impl HashedContent {
    /// The content as text, when it was kept and is UTF-8.
    pub fn small_text(&self) -> Option<&str> {
        self.small.as_deref().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The normalised text hash, when the content was kept and is UTF-8.
    pub fn normalized_text_sha256(&self) -> Option<Sha256Digest> {
        self.small_text().map(normalized_text_sha256)
    }

    /// The hashes a verifier looks content up by: the exact hash, and the normalised
    /// text hash when the content is small UTF-8 text (as [`ContentHashes::of_bytes`]).
    pub fn hashes(&self) -> ContentHashes {
        match self.small_text() {
            Some(text) => ContentHashes { sha256: self.sha256, ..ContentHashes::of_text(text) },
            None => ContentHashes::of_sha256(self.sha256),
        }
    }
}

/// Why a stream could not be hashed to the end.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E> {
    /// The stream went past `max_bytes`; `seen` bytes had arrived when it was stopped.
    #[error("the content exceeds {max_bytes} bytes")]
    TooLarge { max_bytes: u64, seen: u64 },
    /// The source failed (connection closed, read error).
    #[error("{0}")]
    Source(E),
    /// Nothing arrived for `idle`; `seen` bytes had arrived by then.
    #[error("no byte of the content arrived for {idle:?}")]
    Idle { idle: std::time::Duration, seen: u64 },
    /// The hashing thread failed (it panicked): an internal error, not the client's.
    #[error("the hashing thread failed: {0}")]
    Hasher(String),
    /// Writing the body where it is spooled failed: an internal error too.
    #[error("spooling the body failed: {0}")]
    Sink(std::io::Error),
}

/// How much a streamed body may hold, and how long it may pause.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub max_bytes: u64,
    /// Longest wait for the next piece of the body.
    pub idle: std::time::Duration,
}

/// Hashes `stream` to its end, refusing it as soon as it goes past `max_bytes` or
/// pauses longer than `idle`.
///
/// Receiving and hashing are pipelined: this task takes chunks off the connection while
/// a blocking-pool thread hashes the ones before them. On a fast link the two cost about
/// the same (a kernel copy, then SHA-256 at 1 to 2 GB/s), so on two cores the pipeline
/// runs at nearly the speed of SHA-256 alone instead of the two added up. Chunks cross
/// in batches of about [`PIPELINE_BATCH`] bytes so the handoff costs next to nothing;
/// they are reference-counted buffers, moved, never copied. The queue between the two
/// is bounded, so a slow hasher slows the upload down instead of filling memory.
///
/// # Errors
/// [`StreamError::TooLarge`] past `max_bytes`; [`StreamError::Idle`] after a pause
/// longer than `idle`; [`StreamError::Source`] when the stream fails.
pub async fn hash_stream<S, B, E>(
    stream: S,
    limits: StreamLimits,
    keep_up_to: usize,
) -> Result<HashedContent, StreamError<E>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]> + Send + 'static,
{
    hash_stream_into(stream, limits, keep_up_to, std::io::sink()).await.map(|(hashed, _)| hashed)
}

/// [`hash_stream`], writing every byte to `sink` too (a file the body is spooled to, for
/// what needs the whole of it afterwards), on the hashing thread; returns the sink.
///
/// # Errors
/// As [`hash_stream`]; [`StreamError::Sink`] when writing to `sink` fails.
pub async fn hash_stream_into<S, B, E, W>(
    stream: S,
    limits: StreamLimits,
    keep_up_to: usize,
    mut sink: W,
) -> Result<(HashedContent, W), StreamError<E>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]> + Send + 'static,
    W: std::io::Write + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<B>>(PIPELINE_DEPTH);
    let hashing = tokio::task::spawn_blocking(move || {
        let mut hasher = StreamingHasher::new(keep_up_to);
        let mut written = Ok(());
        while let Some(batch) = rx.blocking_recv() {
            for chunk in &batch {
                hasher.update(chunk.as_ref());
                if written.is_ok() {
                    written = sink.write_all(chunk.as_ref());
                }
            }
        }
        written.and_then(|()| sink.flush()).map(|()| (hasher, sink))
    });
    let mut seen = 0u64;
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    let StreamLimits { max_bytes, idle } = limits;
    let mut stream = std::pin::pin!(stream);
    loop {
        // A sender that stops sending would hold a connection and a hashing thread for
        // as long as it likes: past `idle` without a byte, the upload is refused.
        let Ok(next) = tokio::time::timeout(idle, stream.next()).await else {
            return Err(StreamError::Idle { idle, seen });
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(StreamError::Source)?;
        let len = chunk.as_ref().len();
        seen += len as u64;
        if seen > max_bytes {
            return Err(StreamError::TooLarge { max_bytes, seen });
        }
        batch.push(chunk);
        batch_bytes += len;
        if batch_bytes >= PIPELINE_BATCH {
            batch_bytes = 0;
            // Fails only if the hashing thread died, which the join below reports.
            if tx.send(std::mem::take(&mut batch)).await.is_err() {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let (hasher, sink) = hashing.await.map_err(|e| StreamError::Hasher(e.to_string()))?.map_err(StreamError::Sink)?;
    Ok((hasher.finish(), sink))
}

/// Bytes handed to the hashing thread at a time.
const PIPELINE_BATCH: usize = 256 * 1024;
/// Batches in flight between the receiving task and the hashing thread.
const PIPELINE_DEPTH: usize = 4;

/// Hashes everything `reader` yields, in 1 MiB reads (blocking: call it off the
/// executor, e.g. in `spawn_blocking`).
///
/// # Errors
/// When reading fails.
pub fn hash_reader(mut reader: impl Read, keep_up_to: usize) -> std::io::Result<HashedContent> {
    let mut hasher = StreamingHasher::new(keep_up_to);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finish())
}

/// Hashes the file at `path` without reading it whole (blocking).
///
/// # Errors
/// When the file cannot be opened or read.
pub fn hash_file(path: &std::path::Path, keep_up_to: usize) -> std::io::Result<HashedContent> {
    hash_reader(std::fs::File::open(path)?, keep_up_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_hash_equals_one_shot_hash() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = StreamingHasher::new(0);
        for chunk in data.chunks(977) {
            h.update(chunk);
        }
        let done = h.finish();
        assert_eq!(done.sha256, Sha256Digest::of(&data));
        assert_eq!(done.size, data.len() as u64);
        assert!(done.small.is_none(), "keep_up_to 0 keeps nothing");
    }

    #[test]
    fn keeps_small_content_and_drops_it_past_the_limit() {
        let mut h = StreamingHasher::new(10);
        h.update(b"Hello,  ");
        h.update(b"you");
        let done = h.finish();
        assert!(done.small.is_none(), "11 bytes > 10");
        let mut h = StreamingHasher::new(11);
        h.update(b"Hello,  ");
        h.update(b"you");
        let done = h.finish();
        assert_eq!(done.small_text(), Some("Hello,  you"));
        assert_eq!(done.hashes().normalized_text_sha256, Some(Sha256Digest::of(b"Hello, you")));
        let binary = hash_reader(&[0xff, 0xfe][..], 100).unwrap();
        assert_eq!(binary.hashes().normalized_text_sha256, None, "not UTF-8: no text hash");
    }

    #[test]
    fn hashes_the_same_as_content_hashes_of_bytes() {
        let text = "Warm days,\n warmer jackets.";
        let streamed = hash_reader(text.as_bytes(), 1024).unwrap().hashes();
        let whole = ContentHashes::of_bytes(text.as_bytes());
        assert_eq!(streamed.sha256, whole.sha256);
        assert_eq!(streamed.normalized_text_sha256, whole.normalized_text_sha256);
    }

    fn limits(max_bytes: u64) -> StreamLimits {
        StreamLimits { max_bytes, idle: std::time::Duration::from_secs(5) }
    }

    #[tokio::test]
    async fn stream_is_refused_as_soon_as_it_crosses_the_limit() {
        let chunks = futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![1u8; 100])));
        match hash_stream(chunks, limits(450), 0).await {
            Err(StreamError::TooLarge { max_bytes: 450, seen: 500 }) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let chunks = futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![1u8; 100])));
        let done = hash_stream(chunks, limits(1000), 0).await.unwrap();
        assert_eq!((done.size, done.sha256), (1000, Sha256Digest::of(&[1u8; 1000])));
    }

    #[tokio::test]
    async fn a_stream_that_stalls_is_refused_after_the_idle_limit() {
        let start = futures_util::stream::iter([Ok::<_, std::io::Error>(vec![1u8; 10])]);
        let stalled = start.chain(futures_util::stream::pending());
        let idle = std::time::Duration::from_millis(50);
        match hash_stream(stalled, StreamLimits { max_bytes: 1000, idle }, 0).await {
            Err(StreamError::Idle { seen: 10, .. }) => {}
            other => panic!("expected Idle, got {other:?}"),
        }
    }
}
