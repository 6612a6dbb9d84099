//! Content Credentials: an image stamped as an upload is, and returned carrying a C2PA
//! manifest that links to its stamp (`POST /v1/credentials`, docs/contract.md §8).
//!
//! The body is spooled to an unnamed file in the data directory while it is hashed (the
//! C2PA SDK needs to seek in it), so memory stays bounded however it arrives. Nothing is
//! stamped before the image is known to take a manifest: a trial embedding, with a
//! placeholder link, runs first, and an image the SDK cannot parse is refused with `422`.
//! Only then is the statement signed and logged, and the real manifest, which names the
//! stamp's id and log index, embedded.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use futures_util::Stream;

use super::{blocking, limit, Service};
use crate::api::StampResponse;
use crate::content::{hash_stream_into, HashedContent, StreamLimits};
use crate::credentials::{embed, EmbedError, ImageFormat, StampLink};
use crate::error::ApiError;
use crate::fingerprint::image::ImageBounds;
use crate::fingerprint::Fingerprints;
use crate::log::LogIndex;
use crate::records::tokens::Principal;
use crate::statement::receipt::StampId;
use crate::statement::request::{prepare_content, StampContent, StampMetadata};
use crate::statement::{Kind, MediaType, Statement};

/// An image with its credentials, and the stamp they link to.
#[derive(Debug)]
pub struct Credentialed {
    /// The credentialed image, positioned at its start (an unnamed file: it disappears
    /// once closed).
    pub image: File,
    pub len: u64,
    pub format: ImageFormat,
    /// The stamp of the image as uploaded, with the prompt salt when a prompt was given.
    pub stamp: StampResponse,
}

impl Service {
    /// Stamps the image streamed in `body` exactly as [`Service::stamp_upload`] does, and
    /// returns it carrying a C2PA manifest signed with the statement key that links to
    /// the stamp.
    ///
    /// # Errors
    /// As [`Service::stamp_upload`]; `422 invalid_metadata` when `kind` is not `image` or
    /// `media_type` names another format; `413` past `--max-image-bytes`; `422
    /// invalid_image` when the body is not an image of `format`; `503` when the active
    /// statement key has no C2PA certificate (the root key was offline at its rotation).
    pub async fn credential<S, B, E>(
        self: &Arc<Self>,
        who: Principal,
        mut metadata: StampMetadata,
        declared: Option<u64>,
        format: ImageFormat,
        body: S,
    ) -> Result<Credentialed, ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        limit(&self.stamp_limiter, who.token_id.as_str()).await?;
        metadata.validate()?;
        check_metadata(&mut metadata, format)?;
        self.require_c2pa_certificate()?;
        let (hashed, source) = self.spool_image(declared, body).await?;
        if hashed.size == 0 {
            return Err(ApiError::unprocessable("invalid_content", "the body is empty: send the image's bytes"));
        }
        let this = self.clone();
        let (source, statement) = blocking(move || this.trial_embed(source, format, &metadata, &hashed)).await?;
        let stamp = self
            .sign_and_append(who.issuer, move |issuer, salt, at| {
                prepare_content(StampContent::Streamed(statement.0), statement.1, statement.2, issuer, salt, at)
            })
            .await?;
        let this = self.clone();
        let link = self.stamp_link(&stamp.receipt.statement, &stamp.receipt.id, stamp.receipt.log.index);
        let statement = stamp.receipt.statement.clone();
        let (image, len) = blocking(move || {
            let mut source = source;
            this.embed_into_new_file(&mut source, format, &statement, &link).map_err(|e| {
                // The stamp is made and stays valid; only its credentialed copy failed.
                tracing::error!(id = %link.stamp_id, error = %e, "stamped, but embedding the C2PA manifest failed");
                ApiError::internal(anyhow::anyhow!("embedding the manifest of stamp {}: {e}", link.stamp_id))
            })
        })
        .await?;
        tracing::info!(id = %stamp.receipt.id, size = len, format = format.media_type(), "credentialed");
        Ok(Credentialed { image, len, format, stamp })
    }

    /// `503` when the active statement key has no C2PA certificate (the root key was
    /// offline at its rotation): no manifest can be signed.
    pub(super) fn require_c2pa_certificate(&self) -> Result<(), ApiError> {
        if self.signing.sign_c2pa(|_, leaf| leaf.is_none()) {
            return Err(no_c2pa_certificate());
        }
        Ok(())
    }

    /// The link to stamp `id` of `statement` at `index`, for its manifest, as the
    /// service publishes it.
    pub(super) fn stamp_link(&self, statement: &Statement, id: &StampId, index: LogIndex) -> StampLink {
        StampLink::new(statement, &id.to_string(), index.0, self.log.verifier().name(), &self.public_url)
    }

    /// Hashes `body` into an unnamed file of the data directory, under the upload limits
    /// and the image limit.
    async fn spool_image<S, B, E>(&self, declared: Option<u64>, body: S) -> Result<(HashedContent, File), ApiError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]> + Send + 'static,
        E: std::fmt::Display,
    {
        let max_bytes = self.upload_limits.max_bytes.min(self.max_image_bytes);
        if let Some(n) = declared.filter(|n| *n > max_bytes) {
            return Err(ApiError::PayloadTooLarge(format!(
                "Content-Length announces {n} bytes; this service gives credentials to images of at most \
                 {max_bytes} bytes (--max-image-bytes, --max-upload-bytes)"
            )));
        }
        let file = tempfile::tempfile_in(&self.spool_dir).map_err(ApiError::internal)?;
        let limits = StreamLimits { max_bytes, ..self.upload_limits };
        let (hashed, mut file) = hash_stream_into(body, limits, 0, file).await?;
        file.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
        Ok((hashed, file))
    }

    /// Checks that `source` is an image of `format` that takes a manifest, by embedding
    /// one with a placeholder link into a scratch file (blocking). Returns the source,
    /// rewound, and what the stamp is prepared from.
    #[allow(clippy::type_complexity)]
    fn trial_embed(
        &self,
        mut source: File,
        format: ImageFormat,
        metadata: &StampMetadata,
        hashed: &HashedContent,
    ) -> Result<(File, (HashedContent, StampMetadata, Fingerprints)), ApiError> {
        let mut head = [0u8; 12];
        let n = read_up_to(&mut source, &mut head).map_err(ApiError::internal)?;
        if ImageFormat::sniff(&head[..n]) != Some(format) {
            let found = ImageFormat::sniff(&head[..n]).map_or("no image format this service knows", |f| f.media_type());
            return Err(ApiError::unprocessable(
                "invalid_image",
                format!("the body is not a {} image (its first bytes say {found}): send the image's own bytes with its Content-Type", format.media_type()),
            ));
        }
        source.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
        let fingerprints = fingerprint_file(&mut source, hashed.size)?;
        // A statement shaped like the real one, for the placeholder manifest only.
        let placeholder = prepare_content(
            StampContent::Streamed(hashed.clone()),
            metadata.clone(),
            fingerprints.clone(),
            crate::statement::IssuerName::parse("Placeholder").map_err(ApiError::internal)?,
            [0; 32],
            crate::time::Timestamp::now(),
        )?;
        let link = StampLink::new(&placeholder.statement, &"0".repeat(64), 0, "placeholder", &self.public_url);
        self.embed_into_new_file(&mut source, format, &placeholder.statement, &link).map_err(|e| match e {
            EmbedError::Image { .. } => ApiError::unprocessable("invalid_image", e.to_string()),
            EmbedError::Internal(_) => ApiError::internal(e),
        })?;
        Ok((source, (hashed.clone(), metadata.clone(), fingerprints)))
    }

    /// Embeds a manifest for `statement` and `link` into a copy of `source` in a new
    /// unnamed file (blocking); returns the new file rewound and its length. Signed with
    /// the statement key in use, under the lock a rotation waits for.
    fn embed_into_new_file(
        &self,
        source: &mut File,
        format: ImageFormat,
        statement: &Statement,
        link: &StampLink,
    ) -> Result<(File, u64), EmbedError> {
        let io = |e: std::io::Error| EmbedError::Internal(e.to_string());
        let mut dest = tempfile::tempfile_in(&self.spool_dir).map_err(io)?;
        source.seek(SeekFrom::Start(0)).map_err(io)?;
        self.signing.sign_c2pa(|key, leaf| {
            let leaf = leaf.ok_or_else(|| EmbedError::Internal("no C2PA certificate for the statement key".into()))?;
            embed(format, source, &mut dest, statement, link, key, leaf)
        })?;
        let len = dest.seek(SeekFrom::End(0)).map_err(io)?;
        dest.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok((dest, len))
    }
}

/// `503`: the statement key in use has no C2PA certificate, so no manifest can be signed.
pub(super) fn no_c2pa_certificate() -> ApiError {
    ApiError::Unavailable(
        "the statement key in use has no C2PA certificate yet: the operator must put the C2PA root key \
         (keys/c2pa-root.key) back and restart the service"
            .into(),
    )
}

/// An image's credentials: `kind` must be `image`, and a `media_type` in the
/// metadata must name the request's format. Sets `media_type` to the format's.
fn check_metadata(metadata: &mut StampMetadata, format: ImageFormat) -> Result<(), ApiError> {
    if metadata.kind != Kind::Image {
        return Err(ApiError::Unprocessable {
            code: "invalid_metadata",
            field: Some("kind".into()),
            message: format!(
                "kind: an image body is an image: use \"image\", not \"{}\" (send a text as text/plain)",
                metadata.kind.as_str()
            ),
        });
    }
    if let Some(given) = &metadata.media_type {
        if ImageFormat::from_media_type(given.as_str()) != Some(format) {
            return Err(ApiError::Unprocessable {
                code: "invalid_metadata",
                field: Some("media_type".into()),
                message: format!(
                    "media_type: {} does not match the request's Content-Type {}; leave it out",
                    given.as_str(),
                    format.media_type()
                ),
            });
        }
    }
    metadata.media_type = Some(MediaType::parse(format.media_type()).map_err(ApiError::internal)?);
    Ok(())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The fingerprint of the spooled image in `source` (`size` bytes), read whole when
/// within the fingerprint bounds; `source` is rewound.
fn fingerprint_file(source: &mut File, size: u64) -> Result<Fingerprints, ApiError> {
    let bounds = ImageBounds::DEFAULT;
    if size > bounds.max_bytes {
        return Ok(Fingerprints::default());
    }
    let mut bytes = Vec::with_capacity(size as usize);
    source.read_to_end(&mut bytes).map_err(ApiError::internal)?;
    source.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
    Ok(Fingerprints::of_image(&bytes, bounds))
}
