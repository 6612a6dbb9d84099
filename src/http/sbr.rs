//! The C2PA Soft Binding Resolution API, mounted at `/sbr/v1` (docs/contract.md §12):
//! the supported algorithms, matches by soft binding value and by content, and the
//! manifests of the matches (a detached manifest store per stamped image or text).
//! Public, no token; lookups limited per client address.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{from_json, Query};
use super::upload::{check_content_encoding, declared_length, header_bytes, media_type_from_content_type};
use crate::credentials::C2PA_MEDIA_TYPE;
use crate::error::ApiError;
use crate::fingerprint::seq::decode_value;
use crate::fingerprint::ISCC_ALG;
use crate::service::{blocking, Service, SBR_DEFAULT_RESULTS, SBR_MAX_RESULTS};
use crate::statement::receipt::StampId;
use crate::Sha256Digest;

/// Largest `POST byBinding` body: a value of the longest length, with room for the rest.
const MAX_BINDING_BODY: usize = 16 * 1024;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/services/supportedAlgorithms").route(web::get().to(supported_algorithms)))
        .service(
            web::resource("/matches/byBinding")
                .route(web::get().to(by_binding_get))
                .route(web::post().to(by_binding_post)),
        )
        .service(web::resource("/matches/byContent").route(web::post().to(by_content)))
        .service(web::resource("/manifests/{manifestId}").route(web::get().to(manifest)));
}

async fn supported_algorithms() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"watermarks": [], "fingerprints": [{"alg": ISCC_ALG}]}))
}

/// The parameters of `byBinding`, from the query string or a body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingQuery {
    alg: String,
    value: String,
    #[serde(default)]
    max_results: Option<Whole>,
}

/// A whole number as JSON Schema reads `integer`: `37`, `37.0` (which some JSON writers
/// make of every number), or its text in a query string or form.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Whole {
    Int(u64),
    Float(f64),
    Text(String),
}

impl Whole {
    fn value(&self) -> Option<u64> {
        let float = |f: f64| (f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64);
        match self {
            Whole::Int(n) => Some(*n),
            Whole::Float(f) => float(*f),
            Whole::Text(t) => t.parse().ok().or_else(|| t.parse().ok().and_then(float)),
        }
    }
}

/// The parameters of `manifests/{manifestId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestQuery {
    /// Only the active manifest rather than the whole store: the same here, since the
    /// store holds one manifest, the active one. Checked all the same.
    #[serde(default)]
    return_active_manifest: bool,
}

/// The parameters of `byContent`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentQuery {
    alg: String,
    #[serde(default)]
    max_results: Option<Whole>,
}

fn check_alg(alg: &str) -> Result<(), ApiError> {
    if alg == ISCC_ALG {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "unsupported_algorithm",
        format!("alg: this service resolves {ISCC_ALG} only (GET /sbr/v1/services/supportedAlgorithms)"),
    )
    .with_field("alg"))
}

fn max_results(asked: Option<Whole>) -> Result<usize, ApiError> {
    let Some(asked) = asked else { return Ok(SBR_DEFAULT_RESULTS) };
    match asked.value() {
        Some(n) if (1..=SBR_MAX_RESULTS as u64).contains(&n) => Ok(n as usize),
        _ => Err(ApiError::bad_request(
            "invalid_query",
            format!("maxResults: a whole number from 1 to {SBR_MAX_RESULTS}, not {asked:?}"),
        )
        .with_field("maxResults")),
    }
}

/// The client a lookup is counted against (`X-Forwarded-For` from trusted proxies only).
fn client(req: &HttpRequest, svc: &Service) -> String {
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").map(|v| v.to_str().unwrap_or("")).collect();
    svc.client_address(req.peer_addr().map(|a| a.ip()), &forwarded)
}

async fn by_binding_get(
    req: HttpRequest,
    svc: web::Data<Service>,
    Query(query): Query<BindingQuery>,
) -> Result<HttpResponse, ApiError> {
    by_binding(&req, svc, query).await
}

async fn by_binding_post(
    req: HttpRequest,
    svc: web::Data<Service>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if body.len() > MAX_BINDING_BODY {
        return Err(ApiError::PayloadTooLarge(format!("a byBinding body is at most {MAX_BINDING_BODY} bytes")));
    }
    let content_type = header_bytes(&req, header::CONTENT_TYPE).map(String::from_utf8_lossy).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let query: BindingQuery = match essence.as_str() {
        "application/json" => from_json("the request body", &body)?,
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request("invalid_body", format!("the form body: {e}")))?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send alg and value as application/json or application/x-www-form-urlencoded".into(),
            ))
        }
    };
    by_binding(&req, svc, query).await
}

async fn by_binding(req: &HttpRequest, svc: web::Data<Service>, query: BindingQuery) -> Result<HttpResponse, ApiError> {
    check_alg(&query.alg)?;
    let max = max_results(query.max_results)?;
    let codes = decode_value(&query.value)
        .map_err(|e| ApiError::bad_request("invalid_value", format!("value: {e}")).with_field("value"))?;
    svc.spend_lookup(&client(req, &svc)).await?;
    let svc = svc.into_inner();
    let matches = blocking(move || svc.matches_by_codes(&codes, max)).await?;
    Ok(HttpResponse::Ok().json(matches))
}

async fn by_content(
    req: HttpRequest,
    svc: web::Data<Service>,
    Query(query): Query<ContentQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_alg(&query.alg)?;
    let max = max_results(query.max_results)?;
    check_content_encoding(header_bytes(&req, header::CONTENT_ENCODING))?;
    let media_type = media_type_from_content_type(header_bytes(&req, header::CONTENT_TYPE))?.ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "send the asset with its own Content-Type (image/jpeg, image/png, text/plain, ...)".into(),
        )
    })?;
    svc.spend_lookup(&client(&req, &svc)).await?;
    let svc = svc.into_inner();
    let matches = svc.matches_by_content(&media_type, declared_length(&req), body, max).await?;
    Ok(HttpResponse::Ok().json(matches))
}

/// `GET /manifests/{manifestId}`: the detached C2PA manifest store of a stamped image or
/// text, `manifestId` being the stamp id. The same bytes at every request: they never
/// change once made, so caches may keep them.
async fn manifest(
    req: HttpRequest,
    svc: web::Data<Service>,
    path: web::Path<String>,
    Query(query): Query<ManifestQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = Sha256Digest::from_hex(&path.into_inner()).map(StampId).map_err(|e| {
        ApiError::bad_request("invalid_id", format!("manifestId: a manifest id here is a stamp id, 64 hex digits: {e}"))
            .with_field("manifestId")
    })?;
    svc.spend_lookup(&client(&req, &svc)).await?;
    tracing::debug!(%id, active_only = query.return_active_manifest, "manifest store asked for");
    let svc = svc.into_inner();
    let bytes = blocking(move || svc.sbr_manifest(&id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(C2PA_MEDIA_TYPE)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.c2pa\"")))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_results_is_a_whole_number_however_it_is_written() {
        let parse = |json: &str| max_results(serde_json::from_str::<BindingQuery>(json).unwrap().max_results);
        let body = |n: &str| format!(r#"{{"alg": "io.iscc.v0", "value": "x", "maxResults": {n}}}"#);
        assert_eq!(parse(&body("37")).unwrap(), 37);
        assert_eq!(parse(&body("37.0")).unwrap(), 37);
        assert_eq!(parse(&body("\"5\"")).unwrap(), 5);
        assert_eq!(parse(r#"{"alg": "io.iscc.v0", "value": "x"}"#).unwrap(), SBR_DEFAULT_RESULTS);
        for bad in ["0", "101", "37.5", "-1", "\"many\""] {
            assert_eq!(parse(&body(bad)).unwrap_err().field(), Some("maxResults"), "{bad}");
        }
        let form: BindingQuery = serde_urlencoded::from_str("alg=io.iscc.v0&value=x&maxResults=12").unwrap();
        assert_eq!(max_results(form.max_results).unwrap(), 12);
    }
}
