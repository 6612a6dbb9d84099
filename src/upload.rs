//! The rules of the streamed routes (`POST /v1/stamps/upload`, `POST /v1/verify/upload`)
//! that are not hashing: the `Aiprov-Metadata` header, the media type taken from
//! `Content-Type`, the size limit, and how a failed stream becomes an [`ApiError`].
//!
//! The metadata travels in a header, not in the query string, because the access log
//! prints the request line and a prompt must never reach a log line; no log prints
//! request headers.

use crate::content::StreamError;
use crate::error::ApiError;
use crate::stamp::StampMetadata;
use crate::statement::MediaType;

/// The header holding the stamp metadata as JSON (header names are case-insensitive).
pub const METADATA_HEADER: &str = "aiprov-metadata";

/// Default upper bound of a streamed body: 16 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Default longest pause within a streamed body: 30 s, long enough for a slow mobile
/// link, short enough that a stalled sender does not hold a connection for long.
pub const DEFAULT_UPLOAD_IDLE_SECS: u64 = 30;

/// Parses the `Aiprov-Metadata` header: the JSON fields of `POST /v1/stamps` without
/// the content fields. Raw UTF-8 in the header is accepted, though clients should
/// escape non-ASCII characters as `\uXXXX` (header values are meant to be ASCII).
///
/// # Errors
/// `400 missing_metadata` without the header, `400 invalid_metadata` when it is not
/// UTF-8 JSON, `422 invalid_metadata` when the JSON breaks the schema.
pub fn parse_metadata(raw: Option<&[u8]>) -> Result<StampMetadata, ApiError> {
    let raw = raw.ok_or_else(|| {
        ApiError::bad_request(
            "missing_metadata",
            "the Aiprov-Metadata header is required: the stamp's JSON fields (kind, generator, disclosure, \
             prompt, ...) without the content fields",
        )
    })?;
    let text = std::str::from_utf8(raw)
        .map_err(|_| ApiError::bad_request("invalid_metadata", "the Aiprov-Metadata header is not UTF-8"))?;
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ApiError::Unprocessable {
                code: "invalid_metadata",
                field: None,
                message: format!("Aiprov-Metadata: {e} (content fields such as text or sha256 do not belong here)"),
            }
        } else {
            ApiError::bad_request("invalid_metadata", format!("the Aiprov-Metadata header is not valid JSON: {e}"))
        }
    })
}

/// The media type a `Content-Type` header gives a streamed asset whose metadata names
/// none: the header's, unless it is absent or the generic `application/octet-stream`.
///
/// # Errors
/// `422` when the header is not a media type.
pub fn media_type_from_content_type(raw: Option<&[u8]>) -> Result<Option<MediaType>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || ApiError::Unprocessable {
        code: "invalid_field",
        field: Some("media_type".into()),
        message: "Content-Type: must be a MIME type such as text/plain or image/png".into(),
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad())?;
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.is_empty() || essence.eq_ignore_ascii_case("application/octet-stream") {
        return Ok(None);
    }
    MediaType::parse(text.trim()).map(Some).map_err(|_| bad())
}

/// Refuses a body encoded for transport (`Content-Encoding: gzip`, ...): the service
/// hashes the bytes as they arrive, and those would not be the asset's bytes.
///
/// # Errors
/// `415` for any encoding but `identity`.
pub fn check_content_encoding(raw: Option<&[u8]>) -> Result<(), ApiError> {
    match raw.map(|r| String::from_utf8_lossy(r).trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(e) if e.is_empty() || e == "identity" => Ok(()),
        Some(e) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {e} is not accepted: send the asset's own bytes, unencoded"
        ))),
    }
}

/// The 413 of a body over `max_bytes`.
pub fn too_large(max_bytes: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the body exceeds the {max_bytes} bytes this service accepts for a streamed upload (--max-upload-bytes)"
    ))
}

/// Refuses at once a body whose `Content-Length` announces more than `max_bytes`.
///
/// # Errors
/// `413` past the limit.
pub fn check_declared_length(declared: Option<u64>, max_bytes: u64) -> Result<(), ApiError> {
    match declared {
        Some(n) if n > max_bytes => Err(ApiError::PayloadTooLarge(format!(
            "Content-Length announces {n} bytes; this service accepts at most {max_bytes} for a streamed upload \
             (--max-upload-bytes)"
        ))),
        _ => Ok(()),
    }
}

/// The error of a streamed body that could not be hashed to its end.
pub fn stream_error<E: std::fmt::Display>(e: StreamError<E>) -> ApiError {
    match e {
        StreamError::TooLarge { max_bytes, .. } => too_large(max_bytes),
        StreamError::Source(e) => {
            ApiError::bad_request("incomplete_body", format!("the request body could not be read to its end: {e}"))
        }
        StreamError::Idle { idle, seen } => ApiError::RequestTimeout(format!(
            "the request body stopped after {seen} bytes: nothing arrived for {} s (--upload-idle-secs)",
            idle.as_secs()
        )),
        StreamError::Hasher(e) => ApiError::internal(anyhow::anyhow!("hashing a streamed body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_header_errors_name_the_problem() {
        assert!(matches!(parse_metadata(None), Err(ApiError::BadRequest { code: "missing_metadata", .. })));
        assert!(matches!(
            parse_metadata(Some(b"{not json")),
            Err(ApiError::BadRequest { code: "invalid_metadata", .. })
        ));
        assert!(matches!(
            parse_metadata(Some(&[0xff, 0xfe])),
            Err(ApiError::BadRequest { code: "invalid_metadata", .. })
        ));
        let missing_kind = br#"{"generator":{"provider":"P","model":"M"},"disclosure":{"text":"AI","lang":"en"}}"#;
        match parse_metadata(Some(missing_kind)) {
            Err(ApiError::Unprocessable { code: "invalid_metadata", message, .. }) => {
                assert!(message.contains("kind"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        let ok = br#"{"kind":"image","generator":{"provider":"P","model":"M"},"disclosure":{"text":"AI","lang":"en"},"prompt":"caf\u00e9"}"#;
        assert_eq!(parse_metadata(Some(ok)).unwrap().prompt.as_deref(), Some("café"));
        let raw_utf8 = r#"{"kind":"image","generator":{"provider":"P","model":"M"},"disclosure":{"text":"KI","lang":"de"},"prompt":"café"}"#;
        assert_eq!(parse_metadata(Some(raw_utf8.as_bytes())).unwrap().prompt.as_deref(), Some("café"));
    }

    #[test]
    fn content_type_gives_the_media_type_unless_generic() {
        assert_eq!(media_type_from_content_type(None).unwrap(), None);
        assert_eq!(media_type_from_content_type(Some(b"application/octet-stream")).unwrap(), None);
        assert_eq!(
            media_type_from_content_type(Some(b"Text/Plain; charset=UTF-8")).unwrap().unwrap().as_str(),
            "text/plain; charset=utf-8"
        );
        assert!(media_type_from_content_type(Some(b"nonsense")).is_err());
    }

    #[test]
    fn declared_length_and_encoding() {
        assert!(check_declared_length(Some(10), 10).is_ok());
        assert!(matches!(check_declared_length(Some(11), 10), Err(ApiError::PayloadTooLarge(_))));
        assert!(check_declared_length(None, 10).is_ok());
        assert!(check_content_encoding(Some(b"identity")).is_ok());
        assert!(matches!(check_content_encoding(Some(b"gzip")), Err(ApiError::UnsupportedMediaType(_))));
    }
}
