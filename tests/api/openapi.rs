//! The OpenAPI document (`assets/openapi.json`, served at `GET /openapi.json`) against
//! the code, both ways: every route registered in `src/http/*.rs` is documented, every
//! documented route is really served, every `$ref` resolves, and real responses have a
//! documented status, media type, headers and schema.

// Paths spelled out: `tests/api_pg/main.rs` includes this file with `#[path]`, and a file
// included so resolves its own `mod` declarations beside itself, not in `openapi/`.
#[path = "openapi/scan.rs"]
mod scan;
#[path = "openapi/schema.rs"]
mod schema;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use self::schema::{check_reply, resolve, Reply};
use crate::helpers::{copy_request, public_receipt, spawn_app, TestApp, TEST_MAX_JSON};

/// Documented routes that other branches are adding (the verify page, the badge, the
/// streamed uploads). Until they are merged this server answers them with the "no
/// route" 404, and the served-routes test says so for each instead of failing. Empty
/// this list once they are merged: the test fails for any route in it that is served.
const PENDING_ROUTES: &[(&str, &str)] = &[];

const METHODS: [&str; 6] = ["get", "post", "put", "delete", "patch", "head"];

fn document() -> Value {
    serde_json::from_str(include_str!("../../assets/openapi.json")).expect("assets/openapi.json is JSON")
}

/// Every (METHOD, path template) the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

fn is_pending(method: &str, path: &str) -> bool {
    PENDING_ROUTES.iter().any(|(m, p)| *m == method && *p == path)
}

#[test]
fn every_registered_route_is_documented() {
    let doc = document();
    let registered = scan::registered_routes(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"));
    assert!(!registered.is_empty(), "the route scan found no routes at all in src/http: it is broken");
    // Anchors: a top-level route, a /v1 route, and this document's own route. If these
    // are not found as written, the scan's prefixes are wrong.
    for anchor in [("GET", "/healthz"), ("POST", "/v1/stamps"), ("GET", "/v1/stamps/{id}"), ("GET", "/openapi.json")] {
        let anchor = (anchor.0.to_owned(), anchor.1.to_owned());
        assert!(registered.contains(&anchor), "the route scan missed {anchor:?}; found {registered:?}");
    }
    let documented = documented_routes(&doc);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(undocumented.is_empty(), "registered in src/http but not in assets/openapi.json: {undocumented:?}");
    // The other way round is proven against the running server below; here it checks
    // the scan itself: a served route that the scan cannot see means the scan is blind.
    let unseen: Vec<_> = documented.difference(&registered).filter(|(m, p)| !is_pending(m, p)).collect::<Vec<_>>();
    assert!(
        unseen.is_empty(),
        "documented but not found by the route scan (extend it, or fix the document): {unseen:?}"
    );
    println!("{} registered routes, all documented", registered.len());
}

#[test]
fn the_document_is_sound() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"), "bump info.version with the crate");

    // Every $ref resolves.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "only {} $refs: is this the whole document?", all.len());
    let broken: Vec<&&str> = all.iter().filter(|r| !r.starts_with("#/") || doc.pointer(&r[1..]).is_none()).collect();
    assert!(broken.is_empty(), "$refs that do not resolve: {broken:?}");

    let mut operation_ids = BTreeSet::new();
    for (method, path) in documented_routes(&doc) {
        let item = &doc["paths"][&path];
        let op = &item[method.to_ascii_lowercase()];
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
        assert!(!responses.is_empty(), "{method} {path} documents no response");
        for (status, r) in responses {
            let r = resolve(&doc, r).unwrap();
            assert!(r["description"].is_string(), "{method} {path} {status} has no description");
        }
        // Each {param} of the path is declared as a required path parameter, and only those.
        let params: Vec<&Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(op["parameters"].as_array().into_iter().flatten())
            .map(|p| resolve(&doc, p).unwrap())
            .collect();
        let in_template: BTreeSet<&str> =
            path.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name).collect();
        let declared: BTreeSet<&str> =
            params.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(in_template, declared, "{method} {path}: path parameters in the template vs declared");
        assert!(params.iter().filter(|p| p["in"] == "path").all(|p| p["required"] == true), "{method} {path}");
        // A route behind a token documents what happens without one.
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            assert!(responses.contains_key("401"), "{method} {path} needs a token but documents no 401");
        }
        if responses.contains_key("429") {
            let r = resolve(&doc, &responses["429"]).unwrap();
            assert!(r["headers"]["Retry-After"].is_object(), "{method} {path}: 429 without Retry-After");
        }
    }
}

/// Fills every `{param}` of a template with 64 zeros (a well-formed, unknown stamp id).
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        rest = after.split_once('}').map_or("", |(_, r)| r);
        out.push_str(&"0".repeat(64));
    }
    out.push_str(rest);
    out
}

/// The default service's answer for a path and method nothing is registered for.
fn is_no_route(reply: &Reply) -> bool {
    reply.status == 404
        && reply.json().is_some_and(|b| {
            b["error"]["code"] == "not_found"
                && b["error"]["message"].as_str().is_some_and(|m| m.starts_with("no route for"))
        })
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let doc = document();
    let app = spawn_app().await;
    let mut problems = Vec::new();
    for (method, template) in documented_routes(&doc) {
        let url = app.url(&fill(&template));
        // Anonymous, then with an admin token: different branches of the same handler.
        for token in [None, Some(app.admin_token.as_str())] {
            let mut req = app.client.request(method.parse().unwrap(), &url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if method == "POST" || method == "PUT" || method == "PATCH" {
                req = req.json(&json!({}));
            }
            let reply = Reply::from(req.send().await.expect("request")).await;
            let who = if token.is_some() { "admin" } else { "anonymous" };
            match (is_no_route(&reply), is_pending(&method, &template)) {
                (true, true) => {
                    println!("PENDING, not served on this branch yet: {method} {template} ({who})");
                    continue;
                }
                (true, false) => problems.push(format!("{method} {template} ({who}): documented but not served")),
                (false, true) => problems.push(format!(
                    "{method} {template} ({who}) is served now: remove it from PENDING_ROUTES in tests/api/openapi.rs"
                )),
                (false, false) => {}
            }
            problems.extend(check_reply(&doc, &method, &template, &reply).into_iter().map(|e| format!("{e} ({who})")));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// What `Allow` must say for a path documenting `methods`: those, `HEAD` where `GET` is,
/// and `OPTIONS`.
fn expected_allow(methods: &[String]) -> BTreeSet<String> {
    let mut allow: BTreeSet<String> = methods.iter().cloned().collect();
    if allow.contains("GET") {
        allow.insert("HEAD".into());
    }
    allow.insert("OPTIONS".into());
    allow
}

fn allow_of(reply: &Reply) -> BTreeSet<String> {
    let allow = reply.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
    allow.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect()
}

#[tokio::test]
async fn undocumented_methods_answer_405_with_allow() {
    let doc = document();
    let app = spawn_app().await;
    let component = json!({"$ref": "#/components/responses/MethodNotAllowed"});
    let mut by_path: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (method, path) in documented_routes(&doc) {
        by_path.entry(path).or_default().push(method);
    }
    let mut problems = Vec::new();
    let mut answered = 0;
    for (template, methods) in &by_path {
        let url = app.url(&fill(template));
        let allow = expected_allow(methods);
        // The methods a fuzzer tries on a path (schemathesis: every method it does not
        // document), with an admin token so that no 401 comes first.
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "TRACE", "QUERY"] {
            if methods.iter().any(|m| m == method) {
                continue;
            }
            let req = app.client.request(method.parse().unwrap(), &url).bearer_auth(&app.admin_token);
            let reply = Reply::from(req.send().await.expect("request")).await;
            let what = format!("{method} {template} answered {}", reply.status);
            if reply.status != 405 {
                problems.push(format!("{what}, not 405: {}", String::from_utf8_lossy(&reply.body)));
                continue;
            }
            problems.extend(schema::check_response(&doc, &component, &what, &reply));
            if allow_of(&reply) != allow {
                problems.push(format!("{what} with Allow {:?}, not {allow:?}", allow_of(&reply)));
            }
            if reply.json().is_some_and(|b| b["error"]["code"] != "method_not_allowed") {
                problems.push(format!("{what} without the code method_not_allowed"));
            }
            answered += 1;
        }
        let options = Reply::from(app.client.request(reqwest::Method::OPTIONS, &url).send().await.unwrap()).await;
        if options.status != 204 || allow_of(&options) != allow {
            problems.push(format!(
                "OPTIONS {template}: {} with Allow {:?}, not 204 with {allow:?}",
                options.status,
                allow_of(&options)
            ));
        }
        if methods.iter().any(|m| m == "GET") {
            // HEAD is the GET answer without its body.
            let get = Reply::from(app.client.get(&url).send().await.unwrap()).await;
            let head = Reply::from(app.client.head(&url).send().await.unwrap()).await;
            let content_type = |r: &Reply| r.headers.get("content-type").cloned();
            if (head.status, content_type(&head)) != (get.status, content_type(&get)) || !head.body.is_empty() {
                problems.push(format!(
                    "HEAD {template}: {} {:?} with {} body bytes; GET: {} {:?}",
                    head.status,
                    content_type(&head),
                    head.body.len(),
                    get.status,
                    content_type(&get)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(answered > 100, "only {answered} undocumented methods tried");
}

/// The request side of the shapes test: a body of some kind.
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// Sends a request and checks the reply against the document, expecting `status`.
struct Probe<'a> {
    app: &'a TestApp,
    doc: Value,
    problems: Vec<String>,
    /// (METHOD template, status) pairs exercised, to report coverage.
    seen: BTreeSet<(String, String, u16)>,
}

impl Probe<'_> {
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        status: u16,
    ) -> Value {
        let mut req = self.app.client.request(method.parse().unwrap(), self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(content_type, bytes) => req.header("Content-Type", content_type).body(bytes),
        };
        let reply = Reply::from(req.send().await.expect("request")).await;
        if reply.status != status {
            self.problems.push(format!(
                "{method} {path}: expected {status}, got {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        self.problems.extend(check_reply(&self.doc, method, template, &reply));
        self.seen.insert((method.to_owned(), template.to_owned(), reply.status));
        reply.json().unwrap_or(Value::Null)
    }
}

#[tokio::test]
async fn documented_shapes_match_real_responses() {
    let app = spawn_app().await;
    let mut p = Probe { app: &app, doc: document(), problems: Vec::new(), seen: BTreeSet::new() };
    let (token, other, admin) = (app.token.clone(), app.other_token.clone(), app.admin_token.clone());
    let zeros = "0".repeat(64);
    use Body::{Json, None as NoBody, Raw};

    p.call("GET", "/healthz", "/healthz", None, NoBody, 200).await;
    p.call("GET", "/readyz", "/readyz", None, NoBody, 200).await;
    p.call("GET", "/", "/", None, NoBody, 303).await;
    let resp = app.get("/openapi.json").await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), include_str!("../../assets/openapi.json"), "served as written");
    p.call("GET", "/openapi.json", "/openapi.json", None, NoBody, 200).await;

    // Stamping: with a prompt (salt returned), an explanation by hash, and the errors.
    let text = "OpenAPI shapes: run further.";
    let stamped = p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Json(copy_request(text)), 201).await;
    assert!(stamped["prompt_salt"].is_string(), "{stamped}");
    let id = stamped["id"].as_str().expect("an id").to_owned();
    let explained = json!({
        "sha256": "ab".repeat(32), "size": 1234, "kind": "recommendation_explanation",
        "generator": {"provider": "ExampleAI", "model": "recommender"},
        "disclosure": {"text": "Recommended by an algorithm.", "lang": "en"},
        "explanation": {"item": "sku-1", "factors": [{"name": "viewed similar items", "weight": 0.6}],
                        "data_categories": ["browsing history"], "legal_basis": "consent"}
    });
    let no_prompt = p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Json(explained), 201).await;
    let no_prompt_id = no_prompt["id"].as_str().unwrap_or_default().to_owned();
    p.call("POST", "/v1/stamps", "/v1/stamps", None, Json(copy_request("x")), 401).await;
    p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Raw("application/json", b"{".to_vec()), 400).await;
    p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Raw("text/plain", b"hello".to_vec()), 415).await;
    let mut unknown = copy_request("x");
    unknown["colour"] = json!("blue");
    p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Json(unknown), 422).await;
    let huge = copy_request(&"a".repeat(TEST_MAX_JSON + 1));
    p.call("POST", "/v1/stamps", "/v1/stamps", Some(&token), Json(huge), 413).await;

    // Reading stamps.
    let one = "/v1/stamps/{id}";
    p.call("GET", one, &format!("/v1/stamps/{id}"), None, NoBody, 200).await;
    p.call("GET", one, "/v1/stamps/not-an-id", None, NoBody, 400).await;
    p.call("GET", one, &format!("/v1/stamps/{zeros}"), None, NoBody, 404).await;
    let found =
        p.call("GET", "/v1/stamps", "/v1/stamps?text=OpenAPI%20shapes%3A%20%20run%20further.", None, NoBody, 200).await;
    assert_eq!(found["stamps"][0]["id"], id.as_str());
    p.call("GET", "/v1/stamps", &format!("/v1/stamps?sha256={}&limit=5", "ab".repeat(32)), None, NoBody, 200).await;
    p.call("GET", "/v1/stamps", "/v1/stamps?limit=0&text=x", None, NoBody, 400).await;

    // Verifying: content, a receipt, a broken receipt, and the errors.
    let v = "/v1/verify";
    let verdict = p.call("POST", v, v, None, Json(json!({"text": text})), 200).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    p.call("POST", v, v, None, Json(json!({"text": text, "receipt": public_receipt(&stamped)})), 200).await;
    p.call("POST", v, v, None, Json(json!({"text": text, "receipt": stamped})), 422).await;
    p.call("POST", v, v, None, Json(json!({"text": "never stamped"})), 200).await;
    p.call("POST", v, v, None, Json(json!({"receipt": {"id": 1}})), 200).await;
    p.call("POST", v, v, None, Json(json!({"receipt": null})), 200).await;
    p.call("POST", v, v, None, Json(json!({"text": null})), 422).await;
    p.call("POST", v, v, None, Json(json!({})), 422).await;
    p.call("POST", v, v, None, Raw("application/json", b"[".to_vec()), 400).await;
    p.call("POST", v, v, None, Raw("text/plain", b"x".to_vec()), 415).await;
    let vu = "/v1/verify/upload";
    p.call("POST", vu, vu, None, Raw("text/plain", text.as_bytes().to_vec()), 200).await;
    p.call("POST", vu, vu, None, Raw("application/octet-stream", Vec::new()), 422).await;

    // Keys and the log.
    p.call("GET", "/v1/keys", "/v1/keys", None, NoBody, 200).await;
    p.call("GET", "/v1/log/checkpoint", "/v1/log/checkpoint", None, NoBody, 200).await;
    p.call("GET", "/v1/log/verifier-key", "/v1/log/verifier-key", None, NoBody, 200).await;
    let inc = "/v1/log/proof/inclusion";
    p.call("GET", inc, &format!("{inc}?index=0"), None, NoBody, 200).await;
    p.call("GET", inc, &format!("{inc}?index=0&tree_size=2"), None, NoBody, 200).await;
    p.call("GET", inc, &format!("{inc}?index=7"), None, NoBody, 400).await;
    p.call("GET", inc, inc, None, NoBody, 400).await;
    let cons = "/v1/log/proof/consistency";
    p.call("GET", cons, &format!("{cons}?first=1"), None, NoBody, 200).await;
    p.call("GET", cons, &format!("{cons}?first=1&second=9"), None, NoBody, 400).await;
    let entries = "/v1/log/entries";
    p.call("GET", entries, &format!("{entries}?start=0"), None, NoBody, 200).await;
    p.call("GET", entries, &format!("{entries}?start=2"), None, NoBody, 200).await;
    p.call("GET", entries, &format!("{entries}?start=5"), None, NoBody, 400).await;

    // The prompt link: check, refuse another issuer, erase (twice), then gone.
    let check = "/v1/stamps/{id}/prompt/verify";
    let check_path = format!("/v1/stamps/{id}/prompt/verify");
    let prompt = copy_request(text)["prompt"].clone();
    let answer = p.call("POST", check, &check_path, None, Json(json!({"prompt": prompt})), 200).await;
    assert_eq!(answer["matches"], true, "{answer}");
    p.call("POST", check, &check_path, None, Json(json!({"prompt": 5})), 422).await;
    p.call("POST", check, &format!("/v1/stamps/{zeros}/prompt/verify"), None, Json(json!({"prompt": "p"})), 404).await;
    let no_prompt_check = format!("/v1/stamps/{no_prompt_id}/prompt/verify");
    let answer = p.call("POST", check, &no_prompt_check, None, Json(json!({"prompt": "p"})), 200).await;
    assert_eq!(answer["matches"], false, "{answer}");
    let erase = "/v1/stamps/{id}/prompt";
    let erase_path = format!("/v1/stamps/{id}/prompt");
    p.call("DELETE", erase, &erase_path, None, NoBody, 401).await;
    p.call("DELETE", erase, &erase_path, Some(&other), NoBody, 403).await;
    p.call("DELETE", erase, &format!("/v1/stamps/{no_prompt_id}/prompt"), Some(&token), NoBody, 200).await;
    p.call("DELETE", erase, &format!("/v1/stamps/{zeros}/prompt"), Some(&token), NoBody, 404).await;
    p.call("DELETE", erase, "/v1/stamps/xyz/prompt", Some(&token), NoBody, 400).await;
    let erased = p.call("DELETE", erase, &erase_path, Some(&token), NoBody, 200).await;
    assert_eq!(erased["erased"], true, "{erased}");
    p.call("DELETE", erase, &erase_path, Some(&admin), NoBody, 200).await;
    p.call("POST", check, &check_path, None, Json(json!({"prompt": "p"})), 410).await;

    // Admin: tokens and the erasure register.
    let tokens = "/v1/admin/tokens";
    p.call("GET", tokens, tokens, None, NoBody, 401).await;
    p.call("GET", tokens, tokens, Some(&token), NoBody, 403).await;
    p.call("GET", tokens, tokens, Some(&admin), NoBody, 200).await;
    p.call("POST", tokens, tokens, Some(&admin), Json(json!({"issuer": "  "})), 422).await;
    p.call("POST", tokens, tokens, Some(&token), Json(json!({"issuer": "Shapes Co"})), 403).await;
    let created = p.call("POST", tokens, tokens, Some(&admin), Json(json!({"issuer": "Shapes Co"})), 201).await;
    let revoke = "/v1/admin/tokens/{id}";
    let new_id = created["id"].as_str().unwrap_or_default();
    let revoked = p.call("DELETE", revoke, &format!("{tokens}/{new_id}"), Some(&admin), NoBody, 200).await;
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    p.call("DELETE", revoke, &format!("{tokens}/0000000000000000"), Some(&admin), NoBody, 404).await;
    p.call("DELETE", revoke, &format!("{tokens}/nope"), Some(&admin), NoBody, 400).await;
    p.call("DELETE", revoke, &format!("{tokens}/{new_id}"), None, NoBody, 401).await;
    p.call("GET", "/v1/admin/erasures", "/v1/admin/erasures", Some(&admin), NoBody, 200).await;
    let backup = "/v1/admin/backup";
    p.call("POST", backup, backup, None, Json(json!({"name": "shapes"})), 401).await;
    p.call("POST", backup, backup, Some(&token), Json(json!({"name": "shapes"})), 403).await;
    if crate::helpers::on_postgres() {
        // The database's own backups apply: the service refuses, saying so.
        p.call("POST", backup, backup, Some(&admin), Json(json!({"name": "shapes"})), 403).await;
    } else {
        p.call("POST", backup, backup, Some(&admin), Json(json!({"name": "a/b"})), 422).await;
        let written = p.call("POST", backup, backup, Some(&admin), Json(json!({"name": "shapes"})), 201).await;
        assert!(written["tree_size"].as_u64().is_some_and(|n| n >= 2), "{written}");
        p.call("POST", backup, backup, Some(&admin), Json(json!({"name": "shapes"})), 409).await;
    }
    p.call("GET", "/metrics", "/metrics", None, NoBody, 200).await;

    // Past the prompt-check rate (bursts of 10 per address): 429 with Retry-After.
    let mut limited = false;
    for _ in 0..20 {
        let resp = app.client.post(app.url(&check_path)).json(&json!({"prompt": "p"})).send().await.unwrap();
        if resp.status() == 429 {
            let reply = Reply::from(resp).await;
            p.problems.extend(check_reply(&p.doc, "POST", check, &reply));
            p.seen.insert(("POST".into(), check.into(), 429));
            limited = true;
            break;
        }
    }
    assert!(limited, "the prompt check never answered 429");

    assert!(p.problems.is_empty(), "{} mismatches with the document:\n{}", p.problems.len(), p.problems.join("\n"));
    let documented: usize = documented_routes(&p.doc)
        .iter()
        .map(|(m, path)| p.doc["paths"][path][m.to_ascii_lowercase()]["responses"].as_object().map_or(0, |r| r.len()))
        .sum();
    println!("exercised {} of {documented} documented (route, status) answers", p.seen.len());
}

/// The requests schemathesis' positive-data phase found schema-valid yet refused (issue
/// 23, point 8), where a schema can say why: the document now refuses each of them, and
/// the service does too. (The rules no schema can state are listed in .ci/fuzz_hooks.py.)
#[tokio::test]
async fn what_the_service_refuses_the_document_refuses_too() {
    let doc = document();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let fails = |schema: &Value, value: &Value| {
        let mut errors = Vec::new();
        self::schema::validate(&doc, schema, value, "x", &mut errors);
        !errors.is_empty()
    };
    let stamp = |extra: Value| {
        let mut body = json!({"kind": "audio", "generator": {"provider": "0", "model": "0"},
                              "disclosure": {"text": "0", "lang": "A"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let app = spawn_app().await;
    // Stamps: content that is empty once decoded, or text that is only white space.
    for body in [stamp(json!({"content_base64": " "})), stamp(json!({"text": " \t"}))] {
        assert!(fails(&schema("StampRequest"), &body), "the document allows {body}");
        assert_eq!(app.stamp(&body).await.status(), 422, "{body}");
    }
    // Each check discriminates: the same bodies with content pass.
    let mut errors = Vec::new();
    self::schema::validate(&doc, &schema("StampRequest"), &stamp(json!({"text": "Run."})), "x", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    // An explanation goes only with its kind (if/then/else), both ways.
    let explanation = json!({"item": "0", "factors": [{"name": "0", "weight": 0.0}], "data_categories": [],
                             "legal_basis": "consent"});
    assert!(fails(
        &schema("UploadMetadata"),
        &json!({"kind": "audio", "generator": {"provider": "0", "model": "0"},
        "disclosure": {"text": "0", "lang": "A"}, "explanation": explanation})
    ));
    // Content Credentials are for images and texts, never audio or video.
    let audio = json!({"kind": "audio", "generator": {"provider": "0", "model": "0"}, "disclosure": {"text": "0", "lang": "A"}});
    assert!(!fails(&schema("UploadMetadata"), &audio), "an upload's metadata without explanation");
    assert!(fails(&schema("CredentialMetadata"), &audio));
    let mut image = audio.clone();
    image["kind"] = json!("image");
    let mut errors = Vec::new();
    self::schema::validate(&doc, &schema("CredentialMetadata"), &image, "x", &mut errors);
    assert!(errors.is_empty(), "an image's metadata is allowed: {errors:?}");
    // An issuer name with a supplementary-plane private-use character.
    let issuer = Value::from("Acme \u{F4DBB}");
    assert!(fails(&schema("IssuerName"), &issuer));
    let resp = app
        .client
        .post(app.url("/v1/admin/tokens"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"issuer": issuer}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert!(!fails(&schema("IssuerName"), &Value::from("Acme \u{1F600} L'Oréal")), "other characters pass");
    // A lookup names exactly one of sha256 and text.
    let lookup = &doc["paths"]["/v1/stamps"]["get"]["parameters"][0]["schema"];
    assert!(fails(lookup, &json!({"limit": 20})) && fails(lookup, &json!({"text": "a", "sha256": "0".repeat(64)})));
    assert!(!fails(lookup, &json!({"text": "a", "limit": 5})));
    assert_eq!(app.get("/v1/stamps?limit=20").await.status(), 400);
    // Streamed bodies have at least one byte.
    let upload = &doc["paths"]["/v1/verify/upload"]["post"]["requestBody"]["content"]["application/octet-stream"];
    assert_eq!(upload["schema"]["minLength"], 1);
    let resp = app.client.post(app.url("/v1/verify/upload")).body(Vec::new()).send().await.unwrap();
    assert_eq!(resp.status(), 422);
}

/// A service that does not fetch URLs serves a document without `url` (issue 23, point 8).
#[tokio::test]
async fn a_service_that_fetches_no_urls_documents_no_url() {
    let app = crate::helpers::spawn_app_with(|c| c.fetch.disabled = true).await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    let request = &served["components"]["schemas"]["VerifyRequest"];
    assert!(request["properties"].get("url").is_none(), "{request}");
    assert!(request["properties"].get("text").is_some());
    let (status, body) = app.post_json("/v1/verify", &json!({"url": "https://example.com/"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("url_disabled")), "{body}");
    let app = spawn_app().await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(served["components"]["schemas"]["VerifyRequest"]["properties"].get("url").is_some());
}
