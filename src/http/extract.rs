//! Extractors for JSON bodies and query strings whose errors name the field at fault.
//!
//! actix-web's own `Json` and `Query` answer with serde's message alone ("missing field
//! `model` at line 1 column 52"): which `model`, in which object, the client has to
//! guess. These decode through `serde_path_to_error` and put the path
//! (`generator.model`, `explanation.factors[2].weight`, `limit`) in the error's `field`,
//! with a message that starts with it and carries no line and column.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::{Decompress, Payload};
use actix_web::http::header;
use actix_web::{mime, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::Limits;
use crate::error::ApiError;

/// A JSON request body of type `T`, at most [`Limits::max_json_bytes`] long, sent with a
/// JSON `Content-Type` (`application/json` or any `+json` type).
pub(super) struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<Limits>().copied().unwrap_or_default().max_json_bytes;
        let announced = check_headers(req, limit);
        // As actix's own extractor: a body sent with Content-Encoding gzip is inflated,
        // and the limit applies to the inflated bytes.
        let mut body = Decompress::from_headers(payload.take(), req.headers());
        Box::pin(async move {
            announced?;
            let mut buf = Vec::new();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request("invalid_body", format!("the request body could not be read: {e}"))
                })?;
                if buf.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(format!("the body exceeds {limit} bytes")));
                }
                buf.extend_from_slice(&chunk);
            }
            from_json("the body", &buf).map(Json)
        })
    }
}

/// Refuses, before the body is read, a body that is not JSON or announces more than `limit` bytes.
fn check_headers(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let is_json = matches!(req.mime_type(), Ok(Some(m)) if m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType("send JSON with Content-Type: application/json".into()));
    }
    let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match length {
        Some(length) if length > limit => Err(ApiError::PayloadTooLarge(format!(
            "the body is {length} bytes; at most {limit} are accepted (use the streamed upload for large assets)"
        ))),
        _ => Ok(()),
    }
}

/// Decodes JSON text (`what` says where it came from, for the message): `400
/// invalid_json` when it is not JSON (with serde's line and column, which locate a
/// syntax error), `422 invalid_field` naming the field when it is JSON of the wrong shape.
///
/// # Errors
/// As above.
pub(super) fn from_json<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let not_json =
        |e: serde_json::Error| ApiError::bad_request("invalid_json", format!("{what} is not valid JSON: {e}"));
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => {
            de.end().map_err(not_json)?;
            Ok(value)
        }
        Err(e) if e.inner().is_data() => {
            let (field, message) = describe(&e);
            Err(ApiError::Unprocessable { code: "invalid_field", field, message })
        }
        Err(e) => Err(not_json(e.into_inner())),
    }
}

/// The field a JSON schema error is about, and a message that names it: serde's text
/// without "at line 1 column N", which says nothing a client can act on.
pub(super) fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> (Option<String>, String) {
    let inner = e.inner();
    let text = inner.to_string();
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    name_field(e.path(), text.strip_suffix(&position).unwrap_or(&text))
}

/// `path` as a field name (`None` at the top level), with the member a "missing field" or
/// "unknown field" message is about appended: serde reports those at the object that
/// lacks or holds them.
fn name_field(path: &serde_path_to_error::Path, text: &str) -> (Option<String>, String) {
    let at = (!path.iter().all(|s| matches!(s, Segment::Unknown))).then(|| path.to_string());
    let member = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    let field = match (at, member) {
        (Some(at), Some(m)) if at != m && !at.ends_with(&format!(".{m}")) => Some(format!("{at}.{m}")),
        (None, Some(m)) => Some(m.to_owned()),
        (at, _) => at,
    };
    let text = if text.starts_with("missing field `") { "is required" } else { text };
    let message = match &field {
        Some(f) => format!("{f}: {text}"),
        None => text.to_owned(),
    };
    (field, message)
}

/// A query string decoded into `T`; errors are `400 invalid_query` naming the parameter.
pub(super) struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        ready(serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let (field, message) = name_field(e.path(), &e.inner().to_string());
            let err = ApiError::bad_request("invalid_query", message);
            match field {
                Some(f) => err.with_field(f),
                None => err,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        generator: Generator,
        factors: Option<Vec<Factor>>,
        kind: Option<crate::statement::Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Generator {
        model: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Factor {
        weight: f64,
    }

    fn error(v: serde_json::Value) -> ApiError {
        from_json::<Body>("the body", v.to_string().as_bytes()).unwrap_err()
    }

    #[test]
    fn schema_errors_name_the_field_without_a_position() {
        for (body, field, says) in [
            (json!({}), "generator", "generator: is required"),
            (json!({"generator": {}}), "generator.model", "generator.model: is required"),
            (json!({"generator": {"model": 5}}), "generator.model", "invalid type: integer `5`"),
            (json!({"generator": {"model": "m"}, "colour": 1}), "colour", "unknown field `colour`"),
            (json!({"generator": {"model": "m", "size": 1}}), "generator.size", "unknown field `size`"),
            (
                json!({"generator": {"model": "m"}, "factors": [{"weight": 1}, {"weight": 1}, {"weight": "x"}]}),
                "factors[2].weight",
                "invalid type: string",
            ),
            (json!({"generator": {"model": "m"}, "kind": "hologram"}), "kind", "expected one of `marketing_copy`"),
        ] {
            let e = error(body.clone());
            assert_eq!(e.field(), Some(field), "{body}");
            let message = e.to_string();
            assert!(message.starts_with(&format!("{field}: ")) && message.contains(says), "{body}: {message}");
            assert!(!message.contains("line 1"), "{message}");
            assert!(matches!(e, ApiError::Unprocessable { code: "invalid_field", .. }), "{e:?}");
        }
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        for bad in [&b"{\"generator\": "[..], b"{\"generator\": {\"model\": \"m\"}} x", b"\xff"] {
            match from_json::<Body>("the body", bad) {
                Err(ApiError::BadRequest { code: "invalid_json", message, .. }) => {
                    assert!(message.contains("line 1"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
