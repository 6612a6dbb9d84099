//! `POST /v1/credentials` (issuer token): an image in, the same image out with a C2PA
//! manifest that links to its stamp (docs/contract.md §8); or a UTF-8 text in, the text
//! out (NFC) followed by its manifest in C2PA's invisible text wrapper (§8.1). Body and
//! `Aiprov-Metadata` as for `POST /v1/stamps/upload`; the answer is the asset itself.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::admin::authorization;
use super::upload::{check_content_encoding, declared_length, header_bytes, parse_metadata};
use crate::api::{StampResponse, METADATA_HEADER, PROMPT_SALT_HEADER, STAMP_ID_HEADER};
use crate::credentials::ImageFormat;
use crate::error::ApiError;
use crate::service::{Service, TEXT_CREDENTIAL_MEDIA_TYPE};
use crate::statement::MediaType;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/credentials").route(web::post().to(credential)));
}

async fn credential(req: HttpRequest, svc: web::Data<Service>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate(authorization(&req)).await?;
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let metadata = parse_metadata(header_bytes(&req, METADATA_HEADER))?;
    let svc = svc.into_inner();
    Ok(match asset_type(header_bytes(&req, header::CONTENT_TYPE))? {
        Upload::Text => {
            let done = svc.credential_text(who, metadata, declared_length(&req), body).await?;
            created(&done.stamp, TEXT_CREDENTIAL_MEDIA_TYPE).body(done.text)
        }
        Upload::Image(format) => {
            let done = svc.credential(who, metadata, declared_length(&req), format, body).await?;
            let file = tokio::fs::File::from_std(done.image);
            created(&done.stamp, done.format.media_type())
                .no_chunking(done.len)
                .streaming(tokio_util::io::ReaderStream::new(file))
        }
    })
}

/// `201` with the headers every credentialed asset is answered with.
fn created(stamp: &StampResponse, media_type: &str) -> HttpResponseBuilder {
    let id = stamp.receipt.id.to_string();
    let mut resp = HttpResponse::Created();
    resp.content_type(media_type)
        .insert_header((header::LOCATION, format!("/v1/stamps/{id}")))
        .insert_header((STAMP_ID_HEADER, id))
        // The salt is the issuer's secret, returned once: nothing may keep a copy.
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(salt) = &stamp.prompt_salt {
        resp.insert_header((PROMPT_SALT_HEADER, salt.as_str()));
    }
    resp
}

/// What a request asks credentials for.
#[derive(Debug, PartialEq, Eq)]
enum Upload {
    Image(ImageFormat),
    /// `text/plain`, UTF-8.
    Text,
}

/// What the request's `Content-Type` names: an image format, or UTF-8 plain text.
///
/// # Errors
/// `415` when it is missing, names no format credentials are made for, or names text
/// in another charset than UTF-8.
fn asset_type(raw: Option<&[u8]>) -> Result<Upload, ApiError> {
    let text = raw.and_then(|r| std::str::from_utf8(r).ok()).unwrap_or_default().trim();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("text/plain") {
        return if MediaType::recorded(text).is_ok_and(|m| m.is_utf8_plain_text()) {
            Ok(Upload::Text)
        } else {
            Err(ApiError::UnsupportedMediaType(format!(
                "text credentials are made for UTF-8 text: send it as {TEXT_CREDENTIAL_MEDIA_TYPE}, not {text}"
            )))
        };
    }
    image_format(raw).map(Upload::Image)
}

/// The image format the request's `Content-Type` names.
///
/// # Errors
/// `415` when it is missing or names no format credentials are made for.
fn image_format(raw: Option<&[u8]>) -> Result<ImageFormat, ApiError> {
    let text = raw.and_then(|r| std::str::from_utf8(r).ok()).unwrap_or_default();
    ImageFormat::from_media_type(text).ok_or_else(|| {
        let given = if text.is_empty() { "none".to_owned() } else { text.to_owned() };
        ApiError::UnsupportedMediaType(format!(
            "Content Credentials are made for image/jpeg, image/png, image/webp and text/plain (UTF-8); the \
             Content-Type is {given}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_plain_text_is_taken_and_other_charsets_are_refused() {
        for ok in [&b"text/plain"[..], b"text/plain; charset=utf-8", b"Text/Plain;Charset=\"UTF-8\""] {
            assert_eq!(asset_type(Some(ok)).unwrap(), Upload::Text, "{ok:?}");
        }
        assert_eq!(asset_type(Some(b"image/png")).unwrap(), Upload::Image(ImageFormat::Png));
        for bad in [&b"text/plain; charset=iso-8859-1"[..], b"text/html", b"text/markdown"] {
            assert!(matches!(asset_type(Some(bad)), Err(ApiError::UnsupportedMediaType(_))), "{bad:?}");
        }
    }

    #[test]
    fn only_the_three_image_types_are_taken() {
        assert_eq!(image_format(Some(b"image/webp")).unwrap(), ImageFormat::Webp);
        for bad in [None, Some(&b"image/gif"[..]), Some(b"application/octet-stream"), Some(&[0xff][..])] {
            assert!(matches!(image_format(bad), Err(ApiError::UnsupportedMediaType(_))), "{bad:?}");
        }
    }
}
