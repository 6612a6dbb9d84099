//! The streamed routes: `POST /v1/stamps/upload` (issuer token) and
//! `POST /v1/verify/upload` (public). The body is the asset's raw bytes, handed to the
//! service as the stream it arrives as; the stamp metadata is in `Aiprov-Metadata`.
//!
//! The metadata travels in a header, not in the query string, because the access log
//! prints the request line and a prompt must never reach a log line; no log prints
//! request headers.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin::authorization;
use super::extract::from_json;
use crate::api::METADATA_HEADER;
use crate::error::ApiError;
use crate::service::Service;
use crate::statement::request::StampMetadata;
use crate::statement::MediaType;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stamps/upload").route(web::post().to(stamp_upload)))
        .service(web::resource("/verify/upload").route(web::post().to(verify_upload)));
}

pub(super) fn header_bytes(req: &HttpRequest, name: impl header::AsHeaderName) -> Option<&[u8]> {
    req.headers().get(name).map(|v| v.as_bytes())
}

/// The `Content-Length` the client announced (actix has already refused malformed ones).
pub(super) fn declared_length(req: &HttpRequest) -> Option<u64> {
    header_bytes(req, header::CONTENT_LENGTH).and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse().ok())
}

async fn stamp_upload(req: HttpRequest, svc: web::Data<Service>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate(authorization(&req)).await?;
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let mut metadata = parse_metadata(header_bytes(&req, METADATA_HEADER))?;
    if metadata.media_type.is_none() {
        metadata.media_type = media_type_from_content_type(header_bytes(&req, header::CONTENT_TYPE))?;
    }
    let svc = svc.into_inner();
    let resp = svc.stamp_upload(who, metadata, declared_length(&req), body).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/stamps/{}", resp.receipt.id))).json(resp))
}

async fn verify_upload(
    req: HttpRequest,
    svc: web::Data<Service>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let svc = svc.into_inner();
    let resp = svc.verify_upload(declared_length(&req), body).await?;
    Ok(HttpResponse::Ok().json(resp))
}

/// Parses the `Aiprov-Metadata` header: the JSON fields of `POST /v1/stamps` without
/// the content fields. Raw UTF-8 in the header is accepted, though clients should
/// escape non-ASCII characters as `\uXXXX` (header values are meant to be ASCII).
///
/// # Errors
/// `400 missing_metadata` without the header, `400 invalid_metadata` when it is not
/// UTF-8 JSON, `422 invalid_metadata` when the JSON breaks the schema.
pub(super) fn parse_metadata(raw: Option<&[u8]>) -> Result<StampMetadata, ApiError> {
    let raw = raw.ok_or_else(|| {
        ApiError::bad_request(
            "missing_metadata",
            "the Aiprov-Metadata header is required: the stamp's JSON fields (kind, generator, disclosure, \
             prompt, ...) without the content fields",
        )
        .with_field("Aiprov-Metadata")
    })?;
    std::str::from_utf8(raw).map_err(|_| {
        ApiError::bad_request("invalid_metadata", "the Aiprov-Metadata header is not UTF-8")
            .with_field("Aiprov-Metadata")
    })?;
    from_json("the Aiprov-Metadata header", raw).map_err(|e| match e {
        // The JSON path inside the header names the field, as for POST /v1/stamps.
        ApiError::Unprocessable { field, message, .. } => ApiError::Unprocessable {
            code: "invalid_metadata",
            field,
            message: format!("Aiprov-Metadata: {message} (content fields such as text or sha256 do not belong here)"),
        },
        ApiError::BadRequest { message, .. } => {
            ApiError::bad_request("invalid_metadata", message).with_field("Aiprov-Metadata")
        }
        other => other,
    })
}

/// The media type a `Content-Type` header gives a streamed asset whose metadata names
/// none: the header's, unless it is absent or the generic `application/octet-stream`.
///
/// # Errors
/// `422` when the header is not a media type.
pub(super) fn media_type_from_content_type(raw: Option<&[u8]>) -> Result<Option<MediaType>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || {
        let message = "Content-Type: must be a MIME type such as text/plain or image/png";
        ApiError::unprocessable("invalid_field", message).with_field("media_type")
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
pub(super) fn check_content_encoding(raw: Option<&[u8]>) -> Result<(), ApiError> {
    match raw.map(|r| String::from_utf8_lossy(r).trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(e) if e.is_empty() || e == "identity" => Ok(()),
        Some(e) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {e} is not accepted: send the asset's own bytes, unencoded"
        ))),
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
            Err(ApiError::Unprocessable { code: "invalid_metadata", message, field }) => {
                assert_eq!(field.as_deref(), Some("kind"));
                assert!(message.contains("kind: is required"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        let bad_model =
            br#"{"kind":"image","generator":{"provider":"P","model":7},"disclosure":{"text":"AI","lang":"en"}}"#;
        let e = parse_metadata(Some(bad_model)).unwrap_err();
        assert_eq!(e.field(), Some("generator.model"), "{e}");
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
    fn transport_encodings_are_refused() {
        assert!(check_content_encoding(Some(b"identity")).is_ok());
        assert!(matches!(check_content_encoding(Some(b"gzip")), Err(ApiError::UnsupportedMediaType(_))));
    }
}
