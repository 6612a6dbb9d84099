//! The routes the code registers, read from the source text of `src/http/*.rs`.
//!
//! actix-web cannot list its routes at run time, so the registrations are read from the
//! source instead: a small Rust tokenizer (strings, raw strings, char literals and
//! comments handled, `#[cfg(test)]` items skipped) and a matcher for the registration
//! forms this project uses. Anything that looks like a registration in another form
//! panics with the place it was found, so a route can never slip past the scan unseen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// An HTTP method and a path template as OpenAPI writes it (`/v1/stamps/{id}`).
pub type Route = (String, String);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// A token and the line it starts on, for messages.
#[derive(Debug, Clone)]
struct Spanned {
    tok: Tok,
    line: usize,
}

fn tokenize(src: &str) -> Vec<Spanned> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' || (c == 'b' && at(i + 1) == '"') {
            i += if c == 'b' { 2 } else { 1 };
            let mut s = String::new();
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                s.push(at(i));
                i += 1;
            }
            i += 1;
            out.push(Spanned { tok: Tok::Str(s), line: start_line });
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r')) && {
            let j = if c == 'b' { i + 2 } else { i + 1 };
            let mut k = j;
            while at(k) == '#' {
                k += 1;
            }
            at(k) == '"'
        } {
            // A raw string: r"..." or r#"..."# (any number of #), maybe b-prefixed.
            i += if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            let mut s = String::new();
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    i += 1 + hashes;
                    break;
                }
                line += usize::from(chars[i] == '\n');
                s.push(chars[i]);
                i += 1;
            }
            out.push(Spanned { tok: Tok::Str(s), line: start_line });
        } else if c == '\'' {
            // A char literal ('a', '\n', '"') or a lifetime ('a).
            if at(i + 1) == '\\' {
                // Past the quote, the backslash and the escaped character ('\'', '\u{..}').
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                out.push(Spanned { tok: Tok::Punct('\''), line });
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Spanned { tok: Tok::Ident(s), line });
        } else {
            out.push(Spanned { tok: Tok::Punct(c), line });
            i += 1;
        }
    }
    out
}

/// Drops every item under `#[cfg(test)]` (unit tests may build throwaway apps).
fn without_test_items(toks: Vec<Spanned>) -> Vec<Spanned> {
    let cfg_test = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let is_cfg_test = toks.len() - i >= cfg_test.len()
            && toks[i..i + cfg_test.len()].iter().zip(&cfg_test).all(|(a, b)| &a.tok == b);
        if !is_cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip to the item's end: its `;`, or the `}` matching its first `{`.
        i += cfg_test.len();
        while i < toks.len() && toks[i].tok != Tok::Punct('{') && toks[i].tok != Tok::Punct(';') {
            i += 1;
        }
        if i < toks.len() && toks[i].tok == Tok::Punct('{') {
            i = closing(&toks, i);
        }
        i += 1;
    }
    out
}

/// The index of the bracket closing the one at `open`.
fn closing(toks: &[Spanned], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets from line {}", toks[open].line)
}

fn is(toks: &[Spanned], i: usize, pattern: &[&str]) -> bool {
    pattern.iter().enumerate().all(|(k, p)| match toks.get(i + k).map(|t| &t.tok) {
        Some(Tok::Ident(s)) => s == p,
        Some(Tok::Punct(c)) => p.len() == 1 && p.starts_with(*c),
        Some(Tok::Str(_)) => *p == "\"",
        None => false,
    })
}

fn string_at(toks: &[Spanned], i: usize) -> Option<&str> {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Str(s)) => Some(s),
        _ => None,
    }
}

fn ident_at(toks: &[Spanned], i: usize) -> Option<&str> {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// `web::METHOD()` at `i`, as an upper-case method name.
fn method_at(toks: &[Spanned], i: usize, file: &str) -> Option<String> {
    if !is(toks, i, &["web", ":", ":"]) || !is(toks, i + 4, &["(", ")"]) {
        return None;
    }
    let m = ident_at(toks, i + 3)?;
    match m {
        "get" | "post" | "put" | "delete" | "patch" | "head" => Some(m.to_ascii_uppercase()),
        other => panic!("{file}:{}: web::{other}() is not a method the route scan knows", toks[i].line),
    }
}

/// Turns an actix path (`/stamps/{id}`, `/x/{id:\d+}`) into an OpenAPI template.
fn template(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' if in_param => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// One file's registrations: (method, path as written, token index).
fn registrations(toks: &[Spanned], file: &str) -> Vec<(String, String, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let line = toks[i].line;
        if is(toks, i, &["#", "["])
            && matches!(ident_at(toks, i + 2), Some("get" | "post" | "put" | "delete" | "patch" | "route" | "routes"))
        {
            panic!("{file}:{line}: route macros are not understood by the route scan; register with .route(\"PATH\", web::METHOD().to(handler))");
        }
        if is(toks, i, &["web", ":", ":", "method", "("]) {
            panic!("{file}:{line}: web::method(...) is not understood by the route scan");
        }
        if is(toks, i, &[".", "route", "("]) {
            let Some(path) = string_at(toks, i + 3) else {
                panic!("{file}:{line}: a .route( call whose first argument is not a string literal");
            };
            let method = is(toks, i + 4, &[","])
                .then(|| method_at(toks, i + 5, file))
                .flatten()
                .unwrap_or_else(|| panic!("{file}:{line}: .route(\"{path}\", ...) is not followed by web::METHOD()"));
            found.push((method, path.to_owned(), i));
            i = closing(toks, i + 2);
            continue;
        }
        if is(toks, i, &["web", ":", ":", "resource", "("]) {
            let path = string_at(toks, i + 5)
                .unwrap_or_else(|| panic!("{file}:{line}: web::resource( without a string literal path"));
            let mut j = closing(toks, i + 4) + 1;
            let mut methods = 0;
            while is(toks, j, &["."]) {
                let name = ident_at(toks, j + 1).unwrap_or("");
                if !is(toks, j + 2, &["("]) {
                    break;
                }
                match name {
                    "route" => {
                        let method = method_at(toks, j + 3, file).unwrap_or_else(|| {
                            panic!("{file}:{}: web::resource(\"{path}\").route( without web::METHOD()", toks[j].line)
                        });
                        found.push((method, path.to_owned(), j));
                        methods += 1;
                    }
                    "name" | "guard" | "wrap" | "app_data" | "default_service" => {}
                    other => panic!(
                        "{file}:{}: web::resource(\"{path}\").{other}(...) is not understood by the route scan",
                        toks[j].line
                    ),
                }
                j = closing(toks, j + 2) + 1;
            }
            assert!(methods > 0, "{file}:{line}: web::resource(\"{path}\") with no .route(web::METHOD()...)");
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

/// The name of the innermost function whose body holds token `at`.
fn enclosing_fn(toks: &[Spanned], at: usize) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for i in 0..at {
        if toks[i].tok != Tok::Ident("fn".into()) {
            continue;
        }
        let Some(name) = ident_at(toks, i + 1) else { continue };
        let Some(open) = (i..toks.len()).find(|&k| matches!(toks[k].tok, Tok::Punct('{' | ';'))) else { continue };
        if toks[open].tok == Tok::Punct('{') && open < at && at < closing(toks, open) {
            best = Some((i, name.to_owned()));
        }
    }
    best.map(|(_, name)| name)
}

/// Every (method, path template) registered in `src/http/*.rs`, with scope prefixes.
///
/// `src/http/mod.rs` registers top-level routes and `.configure(module::function)`
/// calls, some inside `web::scope("/v1")`: routes registered in a function configured
/// inside it get `/v1`, the others none.
pub fn registered_routes(http_dir: &Path) -> BTreeSet<Route> {
    let mut files: BTreeMap<String, Vec<Spanned>> = BTreeMap::new();
    for entry in std::fs::read_dir(http_dir).expect("src/http is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            panic!("{}: a directory under src/http; extend the route scan to read it", path.display());
        }
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let src = std::fs::read_to_string(&path).expect("a readable source file");
            files.insert(name, without_test_items(tokenize(&src)));
        }
    }
    let root = files.get("mod").expect("src/http/mod.rs exists");

    // Each `web::scope("/prefix") ...` (`/v1`, `/sbr/v1`), with its span: up to the
    // bracket closing the call that holds it. Scopes are not nested.
    let scopes: Vec<(&str, std::ops::Range<usize>)> = (0..root.len())
        .filter(|&i| is(root, i, &["web", ":", ":", "scope", "("]))
        .map(|at| {
            let prefix = string_at(root, at + 5)
                .unwrap_or_else(|| panic!("src/http/mod.rs:{}: web::scope( must name its prefix", root[at].line));
            let mut depth = 0i32;
            let mut k = at;
            let end = loop {
                match root.get(k).map(|t| &t.tok) {
                    Some(Tok::Punct('(' | '[' | '{')) => depth += 1,
                    Some(Tok::Punct(')' | ']' | '}')) if depth == 0 => break k,
                    Some(Tok::Punct(')' | ']' | '}')) => depth -= 1,
                    Some(_) => {}
                    None => panic!("the {prefix} scope in src/http/mod.rs never closes"),
                }
                k += 1;
            };
            (prefix, at..end)
        })
        .collect();
    assert!(scopes.iter().any(|(p, _)| *p == "/v1"), "src/http/mod.rs has no web::scope(\"/v1\")");
    let prefix_of = |i: usize| scopes.iter().find(|(_, span)| span.contains(&i)).map_or("", |(p, _)| p);

    // `.configure(module::function)` calls, each with the prefix it sits under.
    let mut configured: BTreeMap<(String, String), &str> = BTreeMap::new();
    for i in 0..root.len() {
        if is(root, i, &[".", "configure", "("]) {
            let target = (ident_at(root, i + 3), is(root, i + 4, &[":", ":"]), ident_at(root, i + 6));
            let (Some(module), true, Some(function)) = target else {
                panic!("src/http/mod.rs:{}: .configure( must name module::function for the route scan", root[i].line)
            };
            let previous = configured.insert((module.to_owned(), function.to_owned()), prefix_of(i));
            assert!(previous.is_none(), "src/http/mod.rs configures {module}::{function} twice");
        }
    }

    let mut routes = BTreeSet::new();
    for (name, toks) in &files {
        if name != "mod" {
            if let Some(i) = (0..toks.len()).find(|&i| is(toks, i, &["web", ":", ":", "scope", "("])) {
                panic!("src/http/{name}.rs:{}: web::scope outside mod.rs; extend the route scan", toks[i].line);
            }
        }
        for (method, path, at) in registrations(toks, &format!("src/http/{name}.rs")) {
            let prefix = if name == "mod" {
                prefix_of(at)
            } else {
                let function = enclosing_fn(toks, at)
                    .unwrap_or_else(|| panic!("src/http/{name}.rs registers {method} {path} outside any function"));
                configured.get(&(name.clone(), function.clone())).copied().unwrap_or_else(|| {
                    panic!("src/http/{name}.rs: fn {function} registers {method} {path}, but src/http/mod.rs never configures {name}::{function}")
                })
            };
            assert!(path.starts_with('/'), "src/http/{name}.rs: route path {path:?} does not start with /");
            let route = (method.clone(), template(&format!("{prefix}{path}")));
            assert!(routes.insert(route), "src/http/{name}.rs registers {method} {prefix}{path} twice");
        }
    }
    routes
}

#[test]
fn tokenizer_skips_comments_strings_and_test_items() {
    let src = r##"
        // .route("/commented", web::get())
        /* .route("/block", web::get()) */
        let s = "not .route(\"/in-string\", web::get())";
        let c = '"';
        let q = '\'';
        let r = r#"raw .route("/raw", web::post())"#;
        cfg.route("/real", web::get().to(h)).route("/x/{id:\d+}", web::delete().to(h));
        #[cfg(test)]
        mod tests { fn f() { App::new().route("/test-only", web::get().to(h)); } }
        cfg.service(web::resource("/res").name("r").route(web::put().to(h)).route(web::post().to(h)));
    "##;
    let toks = without_test_items(tokenize(src));
    let found: Vec<(String, String)> =
        registrations(&toks, "example").into_iter().map(|(m, p, _)| (m, template(&p))).collect();
    assert_eq!(
        found,
        [("GET", "/real"), ("DELETE", "/x/{id}"), ("PUT", "/res"), ("POST", "/res")]
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
}

#[test]
fn prefixes_follow_the_configured_function() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, src: &str| std::fs::write(dir.path().join(name), src).unwrap();
    write(
        "mod.rs",
        r#"pub fn configure(cfg: &mut web::ServiceConfig) {
            cfg.route("/healthz", web::get().to(healthz))
                .configure(page::routes)
                .service(web::scope("/v1").configure(page::api).configure(other::routes).route("/x", web::post().to(x)))
                .default_service(web::to(not_found));
        }"#,
    );
    write(
        "page.rs",
        r#"pub fn routes(cfg: &mut web::ServiceConfig) { cfg.route("/verify", web::get().to(p)); }
        pub fn api(cfg: &mut web::ServiceConfig) { cfg.route("/verify/upload", web::post().to(u)); }"#,
    );
    write("other.rs", r#"pub fn routes(cfg: &mut web::ServiceConfig) { cfg.route("/o/{id}", web::delete().to(o)); }"#);
    let routes: Vec<(String, String)> = registered_routes(dir.path()).into_iter().collect();
    let expected = [
        ("DELETE", "/v1/o/{id}"),
        ("GET", "/healthz"),
        ("GET", "/verify"),
        ("POST", "/v1/verify/upload"),
        ("POST", "/v1/x"),
    ]
    .map(|(m, p)| (m.to_owned(), p.to_owned()));
    assert_eq!(routes, expected);

    write("stray.rs", r#"pub fn routes(cfg: &mut web::ServiceConfig) { cfg.route("/stray", web::get().to(s)); }"#);
    let unconfigured = std::panic::catch_unwind(|| registered_routes(dir.path()));
    assert!(unconfigured.is_err(), "a module that registers routes but is never configured must fail the scan");
}
