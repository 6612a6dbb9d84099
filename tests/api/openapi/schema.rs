//! Checking a real response against the document: the status is documented for the
//! operation, the media type is one documented for that status, required headers are
//! there, and a JSON body satisfies the documented schema.
//!
//! The schema check is a small JSON Schema (2020-12) validator for the keywords the
//! document uses. A keyword or format it does not know, or a pattern it cannot compile,
//! is reported as an error rather than skipped, so nothing in the document goes
//! unchecked unnoticed.

use serde_json::Value;

/// A response as received.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn from(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("a response body").to_vec();
        Self { status, headers, body }
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The media type without parameters, lower-case (`text/plain`).
    pub fn media_type(&self) -> Option<String> {
        let ct = self.headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
        Some(ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }
}

/// Follows `$ref`s (local JSON pointers only) until a non-reference object.
pub fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').ok_or_else(|| format!("non-local $ref {r}"))?;
                v = doc.pointer(pointer).ok_or_else(|| format!("$ref {r} does not resolve"))?;
            }
            None => return Ok(v),
        }
    }
    Err("a $ref chain longer than 16".into())
}

/// Every problem with `reply` as an answer of `method template`, empty when it matches.
pub fn check_reply(doc: &Value, method: &str, template: &str, reply: &Reply) -> Vec<String> {
    let what = format!("{method} {template} answered {}", reply.status);
    let Some(op) = doc["paths"][template].get(method.to_ascii_lowercase()) else {
        return vec![format!("{method} {template} is not in the document")];
    };
    let responses = op["responses"].as_object().cloned().unwrap_or_default();
    let Some(documented) = responses.get(&reply.status.to_string()) else {
        let listed: Vec<&String> = responses.keys().collect();
        return vec![format!("{what}, which is not documented (documented: {listed:?}); body: {}", lossy(&reply.body))];
    };
    check_response(doc, documented, &what, reply)
}

/// Every problem with `reply` as the documented response `documented` (a response object
/// or a `$ref` to one); `what` starts each message.
pub fn check_response(doc: &Value, documented: &Value, what: &str, reply: &Reply) -> Vec<String> {
    let mut errors = Vec::new();
    let documented = match resolve(doc, documented) {
        Ok(d) => d,
        Err(e) => return vec![format!("{what}: {e}")],
    };
    if let Some(headers) = documented["headers"].as_object() {
        for (name, header) in headers {
            let header = resolve(doc, header).unwrap_or(&Value::Null);
            let present = reply.headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            match present {
                None if header["required"] == true => errors.push(format!("{what} without the {name} header")),
                Some(value) => {
                    let parsed = value.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(value));
                    validate(doc, &header["schema"], &parsed, &format!("header {name}"), &mut errors);
                }
                None => {}
            }
        }
    }
    let Some(content) = documented["content"].as_object() else {
        if !reply.body.is_empty() {
            errors.push(format!("{what} with a body where none is documented"));
        }
        return prefixed(what, errors);
    };
    let Some(media_type) = reply.media_type() else {
        return vec![format!("{what} without a Content-Type (documented: {:?})", content.keys().collect::<Vec<_>>())];
    };
    let Some(entry) = content.get(&media_type).or_else(|| content.get("*/*")) else {
        return vec![format!(
            "{what} as {media_type}, not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        )];
    };
    let schema = entry.get("schema").unwrap_or(&Value::Bool(true));
    if media_type == "application/json" {
        match reply.json() {
            Some(body) => validate(doc, schema, &body, "body", &mut errors),
            None => errors.push(format!("the body is not JSON: {}", lossy(&reply.body))),
        }
    } else if media_type.starts_with("text/") && std::str::from_utf8(&reply.body).is_err() {
        errors.push("a text body that is not UTF-8".into());
    }
    prefixed(what, errors)
}

fn prefixed(what: &str, errors: Vec<String>) -> Vec<String> {
    errors.into_iter().map(|e| format!("{what}: {e}")).collect()
}

fn lossy(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

/// Adds to `errors` every way `value` (at JSON path `at`) breaks `schema`.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: nothing is allowed here"));
        }
        return;
    };
    for (keyword, arg) in keywords {
        match keyword.as_str() {
            "$ref" => match resolve(doc, schema) {
                Ok(target) => validate(doc, target, value, at, errors),
                Err(e) => errors.push(format!("{at}: {e}")),
            },
            "type" => {
                let types: Vec<&str> = match arg {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !types.iter().any(|t| has_type(value, t)) {
                    errors.push(format!("{at}: {} is not of type {types:?}", short(value)));
                }
            }
            "const" if value != arg => errors.push(format!("{at}: {} is not {arg}", short(value))),
            "enum" if !arg.as_array().is_some_and(|a| a.contains(value)) => {
                errors.push(format!("{at}: {} is not one of {arg}", short(value)));
            }
            "properties" => {
                if let (Some(props), Some(obj)) = (arg.as_object(), value.as_object()) {
                    for (name, sub) in props {
                        if let Some(v) = obj.get(name) {
                            validate(doc, sub, v, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "required" => {
                if let Some(obj) = value.as_object() {
                    for name in arg.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if !obj.contains_key(name) {
                            errors.push(format!("{at}: the required member {name} is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(obj) = value.as_object() {
                    let props = keywords.get("properties").and_then(Value::as_object);
                    for (name, v) in obj {
                        if !props.is_some_and(|p| p.contains_key(name)) {
                            validate(doc, arg, v, &format!("{at}.{name} (undocumented member)"), errors);
                        }
                    }
                }
            }
            "items" => {
                for (k, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(doc, arg, item, &format!("{at}[{k}]"), errors);
                }
            }
            "minItems" | "maxItems" => {
                if let (Some(a), Some(n)) = (value.as_array(), arg.as_u64()) {
                    let ok = if keyword == "minItems" { a.len() as u64 >= n } else { a.len() as u64 <= n };
                    if !ok {
                        errors.push(format!("{at}: {} items breaks {keyword} {n}", a.len()));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(s), Some(n)) = (value.as_str(), arg.as_u64()) {
                    let len = s.chars().count() as u64;
                    if (keyword == "minLength" && len < n) || (keyword == "maxLength" && len > n) {
                        errors.push(format!("{at}: length {len} breaks {keyword} {n}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(n)) = (value.as_f64(), arg.as_f64()) {
                    if (keyword == "minimum" && x < n) || (keyword == "maximum" && x > n) {
                        errors.push(format!("{at}: {x} breaks {keyword} {n}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str() {
                    match matches_pattern(arg.as_str().unwrap_or_default(), s) {
                        Ok(true) => {}
                        Ok(false) => errors.push(format!("{at}: {s:?} does not match {arg}")),
                        Err(e) => errors.push(format!("{at}: {e}")),
                    }
                }
            }
            "format" => {
                if let Some(s) = value.as_str() {
                    match arg.as_str() {
                        Some("date-time") => {
                            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                                errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
                            }
                        }
                        Some("uri") => {
                            if !s.contains(':') {
                                errors.push(format!("{at}: {s:?} is not a URI"));
                            }
                        }
                        // Bytes as they are: any string is some bytes.
                        Some("binary") => {}
                        other => errors.push(format!("{at}: the check does not know format {other:?}")),
                    }
                }
            }
            "contentEncoding" => {
                use base64::Engine;
                if let Some(s) = value.as_str() {
                    if arg != "base64" {
                        errors.push(format!("{at}: the check does not know contentEncoding {arg}"));
                    } else if base64::engine::general_purpose::STANDARD.decode(s).is_err() {
                        errors.push(format!("{at}: not standard base64"));
                    }
                }
            }
            "allOf" => {
                for sub in arg.as_array().into_iter().flatten() {
                    validate(doc, sub, value, at, errors);
                }
            }
            "dependentRequired" | "dependentSchemas" => {
                let (Some(object), Some(rules)) = (value.as_object(), arg.as_object()) else { continue };
                for (present, rule) in rules.iter().filter(|(name, _)| object.contains_key(name.as_str())) {
                    if keyword == "dependentSchemas" {
                        validate(doc, rule, value, at, errors);
                    }
                    for needed in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if keyword == "dependentRequired" && !object.contains_key(needed) {
                            errors.push(format!("{at}: {present} needs {needed}"));
                        }
                    }
                }
            }
            "if" => {
                let mut e = Vec::new();
                validate(doc, arg, value, at, &mut e);
                let branch = if e.is_empty() { "then" } else { "else" };
                if let Some(sub) = schema.get(branch) {
                    validate(doc, sub, value, at, errors);
                }
            }
            // Applied by "if".
            "then" | "else" => {}
            "not" => {
                let mut e = Vec::new();
                validate(doc, arg, value, at, &mut e);
                if e.is_empty() {
                    errors.push(format!("{at}: {} matches the schema under not", short(value)));
                }
            }
            "anyOf" | "oneOf" => {
                let subs = arg.as_array().cloned().unwrap_or_default();
                let passing = subs
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        validate(doc, sub, value, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if passing == 0 || (keyword == "oneOf" && passing > 1) {
                    errors.push(format!("{at}: {} matches {passing} of the {keyword} alternatives", short(value)));
                }
            }
            // Annotations: they say something to people and tools, they do not constrain.
            "description" | "title" | "examples" | "example" | "default" | "contentMediaType" | "deprecated" => {}
            "const" | "enum" => {}
            other => errors.push(format!("{at}: the check does not know the keyword {other}")),
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().nth(80).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

/// A JSON Schema `pattern` (ECMA-262, unanchored) checked with regex-lite: the document
/// keeps to the syntax both share (no lookaround, no `\p{..}` classes).
fn matches_pattern(pattern: &str, s: &str) -> Result<bool, String> {
    let re = regex_lite::Regex::new(pattern).map_err(|e| format!("the pattern {pattern:?} does not compile: {e}"))?;
    Ok(re.is_match(s))
}

#[test]
fn the_validator_catches_what_it_should() {
    let doc = serde_json::json!({"components": {"schemas": {
        "Hex": {"type": "string", "pattern": "^[0-9a-f]{4}$"},
        "Thing": {"type": "object", "required": ["id"], "additionalProperties": false,
                  "properties": {"id": {"$ref": "#/components/schemas/Hex"},
                                 "at": {"type": ["string", "null"], "format": "date-time"},
                                 "tag": {"pattern": "^aiprov_"}}}}}});
    let thing = serde_json::json!({"$ref": "#/components/schemas/Thing"});
    let check = |v: Value| {
        let mut e = Vec::new();
        validate(&doc, &thing, &v, "body", &mut e);
        e
    };
    assert!(check(serde_json::json!({"id": "00af", "at": null, "tag": "aiprov_x"})).is_empty());
    assert!(check(serde_json::json!({"id": "00af", "at": "2026-11-22T23:10:00.123Z"})).is_empty());
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"id": "00AF"}),
        serde_json::json!({"id": "00a"}),
        serde_json::json!({"id": "00af", "extra": 1}),
        serde_json::json!({"id": "00af", "at": "yesterday"}),
        serde_json::json!({"id": "00af", "at": 5}),
        serde_json::json!({"id": "00af", "tag": "token"}),
    ] {
        assert!(!check(bad.clone()).is_empty(), "{bad} should fail");
    }
    let mut e = Vec::new();
    validate(&doc, &serde_json::json!({"pattern": "^\\p{L}(?=x)"}), &Value::from("ax"), "x", &mut e);
    assert!(!e.is_empty(), "a pattern the check cannot compile must be reported, not skipped");
    let mut e = Vec::new();
    validate(&doc, &serde_json::json!({"frobnicate": true}), &Value::from("ax"), "x", &mut e);
    assert!(!e.is_empty(), "an unknown keyword must be reported, not skipped");
    // `not`, with a pattern beyond the Basic Multilingual Plane (an issuer name's rule).
    let not_private = serde_json::json!({"not": {"pattern": "[\\u{F0000}-\\u{10FFFF}]"}});
    for (name, passes) in [("Acme", true), ("Acme \u{1F600}", true), ("Acme \u{F4DBB}", false)] {
        let mut e = Vec::new();
        validate(&doc, &not_private, &Value::from(name), "x", &mut e);
        assert_eq!(e.is_empty(), passes, "{name:?}: {e:?}");
    }
}
