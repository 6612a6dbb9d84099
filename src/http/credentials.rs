//! `POST /v1/credentials` (issuer token): an image in, the same image out with a C2PA
//! manifest that links to its stamp (docs/contract.md §8). Body and `Aiprov-Metadata` as
//! for `POST /v1/stamps/upload`; the answer is the image itself.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin::authorization;
use super::upload::{check_content_encoding, declared_length, header_bytes, parse_metadata};
use crate::api::{METADATA_HEADER, PROMPT_SALT_HEADER, STAMP_ID_HEADER};
use crate::credentials::ImageFormat;
use crate::error::ApiError;
use crate::service::Service;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/credentials").route(web::post().to(credential)));
}

async fn credential(req: HttpRequest, svc: web::Data<Service>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let who = svc.authenticate(authorization(&req)).await?;
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let metadata = parse_metadata(header_bytes(&req, METADATA_HEADER))?;
    let format = image_format(header_bytes(&req, header::CONTENT_TYPE))?;
    let svc = svc.into_inner();
    let done = svc.credential(who, metadata, declared_length(&req), format, body).await?;
    let id = done.stamp.receipt.id.to_string();
    let mut resp = HttpResponse::Created();
    resp.content_type(done.format.media_type())
        .insert_header((header::LOCATION, format!("/v1/stamps/{id}")))
        .insert_header((STAMP_ID_HEADER, id))
        // The salt is the issuer's secret, returned once: nothing may keep a copy.
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(salt) = &done.stamp.prompt_salt {
        resp.insert_header((PROMPT_SALT_HEADER, salt.as_str()));
    }
    let file = tokio::fs::File::from_std(done.image);
    Ok(resp.no_chunking(done.len).streaming(tokio_util::io::ReaderStream::new(file)))
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
            "Content Credentials are made for image/jpeg, image/png and image/webp; the Content-Type is {given}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_image_types_are_taken() {
        assert_eq!(image_format(Some(b"image/webp")).unwrap(), ImageFormat::Webp);
        for bad in [None, Some(&b"image/gif"[..]), Some(b"application/octet-stream"), Some(&[0xff][..])] {
            assert!(matches!(image_format(bad), Err(ApiError::UnsupportedMediaType(_))), "{bad:?}");
        }
    }
}
