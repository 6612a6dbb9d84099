//! The verify page and the badge snippet in a real browser: headless Chromium driven by
//! chromedriver over the W3C WebDriver protocol (plain HTTP, with reqwest), against the
//! real server, in a desktop window and in a phone-sized one. Skipped, saying why, where
//! chromedriver is not installed. `BROWSER_SCREENSHOT=/tmp/verify-page.png` keeps the
//! screenshots: that file, and the phone's beside it (`/tmp/verify-page-phone-390.png`, ...).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{copy_request, spawn_app};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';
/// The longest wait for anything: chromedriver starting, a verdict, a badge.
const WAIT: Duration = Duration::from_secs(10);

/// A script answering, when the verdict is wholly in the viewport and near its top (as
/// after a link scrolled it there), its `[top, bottom, viewport height]`; else null.
const VERDICT_IN_SIGHT: &str = "var r = document.getElementById('verdict').getBoundingClientRect();
    return r.top > -1 && r.top < 100 && r.bottom <= window.innerHeight ? [r.top, r.bottom, window.innerHeight] : null;";

/// One browser at a time: two Chromiums at once, beside the other tests on a small
/// machine, would make the waits above a lottery.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |dir| dir.join(n))).find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// chromedriver with one headless browser session. Dropping it, on failure too, kills
/// chromedriver's whole process group: chromedriver and every browser process it started.
struct Browser {
    driver: Child,
    port: u16,
    http: reqwest::Client,
    session: String,
    /// The browser's fresh profile, deleted after the processes are gone.
    profile: tempfile::TempDir,
    /// Held until the processes are gone (fields drop after [`Drop::drop`]).
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (process_group(0) below).
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session, or says why not.
    async fn start() -> Option<Self> {
        let Some(chromedriver) = find_program(&["chromedriver"]) else {
            eprintln!("skipping browser test: chromedriver not installed; install chromium chromium-driver");
            return None;
        };
        let turn = ONE_BROWSER.lock().await;
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("temp dir");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let mut browser = Browser { driver, port, http, session: String::new(), profile, _turn: turn };

        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(status) = browser.call(Method::GET, "/status", None).await {
                if status["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let user_data_dir = format!("--user-data-dir={}", browser.profile.path().display());
        let mut options = json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1000,1400", "--lang=en-US", user_data_dir,
        ]});
        if let Some(chromium) = find_program(&["chromium", "chromium-browser", "google-chrome"]) {
            options["binary"] = json!(chromium);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let session = browser.call(Method::POST, "/session", Some(caps)).await.expect("a browser session starts");
        browser.session = session["sessionId"].as_str().expect("a session id").to_owned();
        Some(browser)
    }

    /// One WebDriver command; its `value`, or the driver's error message.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("http://127.0.0.1:{}{path}", self.port));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {} {}", body["value"]["error"], body["value"]["message"]));
        }
        Ok(body["value"].clone())
    }

    /// A command of this session, failing the test when the driver refuses it.
    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    async fn goto(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> Result<String, String> {
        let path = format!("/session/{}/element", self.session);
        let found = self.call(Method::POST, &path, Some(json!({"using": "css selector", "value": css}))).await?;
        Ok(found[ELEMENT].as_str().expect("an element reference").to_owned())
    }

    async fn count(&self, css: &str) -> usize {
        let found = self.cmd(Method::POST, "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        found.as_array().map_or(0, Vec::len)
    }

    async fn element(&self, css: &str) -> String {
        self.find(css).await.unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    async fn send_keys(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    /// The rendered text of the element, as a person sees it.
    async fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        let text = self.call(Method::GET, &format!("/session/{}/element/{e}/text", self.session), None).await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Polls the element's text until `done` holds, for at most [`WAIT`].
    async fn wait_text(&self, css: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text(css).await.unwrap_or_default();
            if done(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "waited {WAIT:?} for {what} in {css}; it shows {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the verdict after a verification was started, and returns its text.
    async fn verdict(&self) -> String {
        self.wait_text("#verdict", "a verdict", |t| !t.is_empty() && !t.contains("Verifying")).await
    }

    /// Presses keys on the keyboard, wherever the focus is (`\u{E004}` Tab, `\u{E007}` Enter).
    async fn press(&self, keys: &[char]) {
        let actions: Vec<Value> = keys
            .iter()
            .flat_map(|k| {
                [json!({"type": "keyDown", "value": k.to_string()}), json!({"type": "keyUp", "value": k.to_string()})]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.cmd(Method::POST, "/actions", Some(body)).await;
    }

    async fn focused_id(&self) -> Value {
        self.exec("return document.activeElement && document.activeElement.id;", json!([])).await
    }

    /// Runs `script` (a function body; its `arguments` are `args`) in the page.
    async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Polls `script` until it returns something other than null, for at most [`WAIT`].
    async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.exec(script, json!([])).await;
            if !found.is_null() {
                return found;
            }
            assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resizes the window so that the page's viewport is `width` CSS pixels wide, as on a
    /// phone held upright, and waits for the page to be laid out at that width.
    async fn set_window(&self, width: u32, height: u32) {
        self.cmd(Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
        let script = format!("return window.innerWidth === {width} ? true : null;");
        self.wait_for(&format!("a viewport {width} px wide"), &script).await;
    }

    /// Has the page ask for less motion (`prefers-reduced-motion: reduce`), through
    /// chromedriver's Chrome DevTools extension; it lasts for the tab.
    async fn reduce_motion(&self) {
        let features = json!([{"name": "prefers-reduced-motion", "value": "reduce"}]);
        let body = json!({"cmd": "Emulation.setEmulatedMedia", "params": {"features": features}});
        self.cmd(Method::POST, "/goog/cdp/execute", Some(body)).await;
    }

    /// Whether the element is shown (not inside a closed `<details>`, not `display:none`).
    async fn displayed(&self, css: &str) -> bool {
        let e = self.element(css).await;
        self.cmd(Method::GET, &format!("/element/{e}/displayed"), None).await == true
    }

    /// The widths that would make the page scroll sideways: `[scrollWidth, clientWidth]`
    /// of the document, and the elements reaching past its right edge.
    async fn sideways(&self) -> Value {
        self.exec(
            "var d = document.documentElement, out = [];
            document.querySelectorAll('body *').forEach(function (e) {
                var r = e.getBoundingClientRect();
                if (r.right > d.clientWidth + 0.5) out.push(e.tagName + '#' + e.id + '.' + e.className);
            });
            return [d.scrollWidth, d.clientWidth, out];",
            json!([]),
        )
        .await
    }

    /// Asserts that nothing on the page reaches past the window's right edge.
    async fn assert_no_sideways_scroll(&self, when: &str) {
        let widths = self.sideways().await;
        assert!(
            widths[0].as_f64().unwrap() <= widths[1].as_f64().unwrap()
                && widths[2].as_array().is_some_and(Vec::is_empty),
            "{when}: the page scrolls sideways: [scrollWidth, clientWidth, too wide] = {widths}"
        );
    }

    async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.cmd(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("base64")).expect("a PNG");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real screenshot: {} bytes", png.len());
        png
    }

    /// Takes a screenshot into `dir` as `<name>.png` and, with `BROWSER_SCREENSHOT=/tmp/x.png`,
    /// keeps it: `/tmp/x.png` for the first (`name` "genuine"), `/tmp/x-<name>.png` for others.
    async fn keep_screenshot(&self, dir: &Path, name: &str) {
        let png = self.screenshot().await;
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if let Some(copy) = std::env::var_os("BROWSER_SCREENSHOT") {
            let copy = PathBuf::from(copy);
            let copy = if name == "genuine" {
                copy
            } else {
                let stem = copy.file_stem().unwrap_or_default().to_string_lossy();
                copy.with_file_name(format!("{stem}-{name}.png"))
            };
            std::fs::write(copy, &png).unwrap();
        }
    }

    /// Opens the badge snippet of `examples/badge.html`, pointed at the service at `base`,
    /// on a frontend of another origin, and waits for its badge: `[alt, width, link]`.
    async fn badge_frontend(&self, base: &str) -> Value {
        let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/badge.html")).unwrap();
        let page = example.replace("data-base=\"http://127.0.0.1:8080\"", &format!("data-base=\"{base}\""));
        assert_ne!(page, example, "the example names its service in data-base");
        self.goto(&serve_frontend(page)).await;
        let script = "var i = document.querySelector('.aiprov-badge a img');
            return i && i.complete && i.naturalWidth > 0 ? [i.alt, i.naturalWidth, i.parentNode.href] : null;";
        self.wait_for("the badge on the frontend", script).await
    }

    /// Ends the session (the browser quits); Drop then ends chromedriver.
    async fn quit(self) {
        let path = format!("/session/{}", self.session);
        let _ = self.call(Method::DELETE, &path, None).await;
    }
}

/// Serves `html` at `/` on its own loopback port: a frontend on another origin.
fn serve_frontend(html: String) -> String {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let html = html.clone();
        App::new().route(
            "/",
            web::get().to(move || std::future::ready(HttpResponse::Ok().content_type("text/html").body(html.clone()))),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_person_verifies_text_a_file_and_a_badge_in_a_real_browser() {
    let Some(browser) = Browser::start().await else { return };
    let started = Instant::now();
    let app = spawn_app().await;
    let base = app.url("");
    let dir = tempfile::tempdir().unwrap();

    let text = "Run further. Feel lighter.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let id = stamped["id"].as_str().unwrap().to_owned();
    let disclosure = stamped["statement"]["disclosure"]["text"].as_str().unwrap().to_owned();
    let mut receipt = stamped.clone();
    receipt.as_object_mut().unwrap().remove("prompt_salt");

    // A binary asset (not UTF-8), stamped whole; the page is given only the file.
    let image: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).chain([0xff, 0xfe]).collect();
    let mut req = copy_request("x");
    let obj = req.as_object_mut().unwrap();
    obj.remove("text");
    obj.insert("content_base64".into(), json!(base64::engine::general_purpose::STANDARD.encode(&image)));
    obj.insert("media_type".into(), json!("image/png"));
    obj.insert("kind".into(), json!("image"));
    obj.insert("disclosure".into(), json!({"text": "Image generated with AI.", "lang": "en"}));
    app.stamp_ok(&req).await;
    let image_path = dir.path().join("campaign-visual.png");
    std::fs::write(&image_path, &image).unwrap();
    let image_sha = ai_provenance::Sha256Digest::of(&image).to_hex();

    // 1. Genuine text, pasted with other spacing: verified, issuer and disclosure shown.
    browser.goto(&format!("{base}/verify")).await;
    browser.send_keys("#text", "Run further.\n   Feel lighter.").await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine AI disclosure"), "{verdict}");
    assert!(verdict.contains(&disclosure), "the disclosure is in the headline box: {verdict}");
    let details = browser.text("#details").await.unwrap();
    for shown in
        ["Acme Test", disclosure.as_str(), "ExampleAI copywriter (version 2026-10)", "Reviewed by a person", &id]
    {
        assert!(details.contains(shown), "{shown:?} not shown in {details}");
    }
    assert_eq!(browser.count("#checks li.pass").await, 6, "{details}");
    assert_eq!(browser.count("#checks li.fail").await, 0, "{details}");
    assert!(details.contains("Signature: passed."), "{details}");
    browser.keep_screenshot(dir.path(), "genuine").await;

    // 2. Altered text with the genuine receipt: not verified, the content check named.
    browser.click("#clear").await;
    browser.wait_text("#verdict", "the result cleared", str::is_empty).await;
    browser.send_keys("#text", "Run further. Feel heavier.").await;
    browser.send_keys("#receipt", &receipt.to_string()).await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Not verified"), "{verdict}");
    let failed = browser.text("#checks li[data-code='content.hash.mismatch']").await.unwrap();
    assert!(failed.contains("Content: failed."), "{failed}");
    let details = browser.text("#details").await.unwrap();
    assert!(details.contains("What the receipt claims (not proven)"), "{details}");

    // 3. Text nobody stamped, by keyboard alone: Tab from the text past the file and the
    //    receipt to the button, Enter.
    browser.click("#clear").await;
    browser.send_keys("#text", "Never stamped by anyone.").await;
    assert_eq!(browser.focused_id().await, "text");
    browser.press(&[TAB, TAB, TAB]).await;
    assert_eq!(browser.focused_id().await, "verify", "Tab order: text, file, receipt, Verify");
    browser.press(&[ENTER]).await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("No stamp found"), "{verdict}");
    assert_eq!(browser.count("#checks li[data-code='content.unknown']").await, 1);

    // 4. A file chosen in the file input: hashed in the browser, only the hash sent.
    browser.click("#clear").await;
    browser.send_keys("#file", image_path.to_str().unwrap()).await;
    browser.wait_text("#file-status", "the chosen file", |t| t.contains("campaign-visual.png")).await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine AI disclosure") && verdict.contains("Image generated with AI."), "{verdict}");
    let status = browser.text("#file-status").await.unwrap();
    assert!(status.contains(&image_sha), "the browser computed the file's SHA-256: {status}");

    // 5. The badge snippet on a frontend of another origin: it finds the stamp (CORS),
    //    shows the badge with the disclosure as alt text, and links to a verdict.
    let img = browser.badge_frontend(&base).await;
    assert_eq!(img[0], disclosure.as_str(), "alt text: {img}");
    assert!(img[1].as_u64().unwrap() >= 100, "the SVG loaded: {img}");
    assert_eq!(img[2], format!("{base}/verify#id={id}").as_str());
    browser.click(".aiprov-badge a").await;
    let verdict = browser.verdict().await;
    // The link proves the stamp, not the content beside the badge (anyone can copy a
    // badge): nothing is green, and the headline says what was and was not checked.
    assert!(verdict.contains("Genuine stamp, content not checked"), "the badge's link lands on a verdict: {verdict}");
    assert!(!verdict.contains("Genuine AI disclosure"), "{verdict}");
    assert!(verdict.contains("Paste the text or drop the file"), "it invites the reader to check: {verdict}");
    let box_style = "var b = document.querySelector('#verdict .verdict'); \
                     return [b.className, getComputedStyle(b).backgroundColor];";
    let style = browser.exec(box_style, json!([])).await;
    assert_eq!(style[0], "verdict unchecked", "{style}");
    assert_ne!(style[1], "rgb(234, 246, 237)", "not the verified green: {style}");
    assert_eq!(browser.count("#checks li[data-code='content.not_checked']").await, 1, "the check not made is listed");
    // Who vouches, by name: the log's origin and its operator.
    assert!(verdict.contains("the operator of the public log \"test.example/log\""), "{verdict}");
    let details = browser.text("#details").await.unwrap();
    assert!(details.contains("test.example/log") && details.contains("Log operator"), "{details}");
    // Scrolled (smoothly) into sight, its heading focused.
    browser.wait_for("the verdict scrolled into sight", VERDICT_IN_SIGHT).await;
    assert_eq!(browser.focused_id().await, "headline");
    // The invitation takes the reader to the text box; the text pasted there is checked
    // against the link's stamp, and only then is the verdict green.
    browser.click("#check-content").await;
    assert_eq!(browser.focused_id().await, "text");
    browser.send_keys("#text", text).await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine AI disclosure"), "{verdict}");
    let style = browser.exec(box_style, json!([])).await;
    assert_eq!(style[0], "verdict verified", "{style}");
    assert_eq!(browser.count("#checks li[data-code='content.hash.match']").await, 1, "the content was checked");

    browser.quit().await;
    eprintln!("browser test: 5 scenarios in {:.1} s", started.elapsed().as_secs_f64());
}

/// A reader on a phone (390 px wide, then 320) follows a badge's link: the verdict is in
/// sight with the focus on it, the stamp reads as facts with a local date and good
/// English counts, its JSON stays folded until asked for, and nothing scrolls sideways.
#[tokio::test]
async fn a_phone_reader_follows_a_badge_link_to_a_verdict_in_sight() {
    let Some(browser) = Browser::start().await else { return };
    let app = spawn_app().await;
    let base = app.url("");
    let dir = tempfile::tempdir().unwrap();
    // The log's one stamp: its checks count "1 entry".
    let text = "Run further. Feel lighter.";
    let stamped = app.stamp_ok(&copy_request(text)).await;
    let id = stamped["id"].as_str().unwrap().to_owned();
    let issued_at = stamped["statement"]["issued_at"].as_str().unwrap().to_owned();

    browser.set_window(390, 844).await;
    browser.reduce_motion().await;
    let img = browser.badge_frontend(&base).await;
    assert_eq!(img[2], format!("{base}/verify#id={id}").as_str());
    browser.click(".aiprov-badge a").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine stamp, content not checked"), "{verdict}");

    // The verdict, below the form, is at the top of the window as soon as it is shown (the
    // reader asked for less motion: no smooth scroll), and its heading has the focus, for
    // screen readers to announce.
    let in_sight = browser.exec(VERDICT_IN_SIGHT, json!([])).await;
    let rect =
        "var r = document.getElementById('verdict').getBoundingClientRect(); return [r.top, r.bottom, innerHeight];";
    assert!(!in_sight.is_null(), "verdict [top, bottom, viewport height]: {}", browser.exec(rect, json!([])).await);
    assert_eq!(browser.focused_id().await, "headline");
    browser.keep_screenshot(dir.path(), "phone-390").await;
    browser.assert_no_sideways_scroll("390 px, the verdict").await;

    // Dates in the reader's locale, the exact value kept in <time datetime>.
    let time = browser
        .exec(
            "var t = document.querySelector('#facts [data-fact=issued] time');
            return [t.getAttribute('datetime'), t.textContent];",
            json!([]),
        )
        .await;
    assert_eq!(time[0], issued_at.as_str(), "{time}");
    let shown = time[1].as_str().unwrap();
    assert!(!shown.is_empty() && !shown.contains(&issued_at[..10]), "a local date, not ISO 8601: {time}");
    assert!(shown.contains(&issued_at[..4]), "the year is shown: {time}");
    assert!(!verdict.contains(&issued_at), "the summary's date is local too: {verdict}");
    let summary_time =
        browser.exec("return document.querySelector('#verdict time').getAttribute('datetime');", json!([]));
    assert_eq!(summary_time.await, issued_at.as_str());

    // Counts in good English: this log has one entry.
    let log = browser.text("#checks li[data-code='log.included']").await.unwrap();
    assert!(log.contains("tree of 1 entry (") && !log.contains("entries"), "{log}");
    let checkpoint = browser.text("#checks li[data-code='checkpoint.validated']").await.unwrap();
    assert!(checkpoint.contains(", 1 entry)"), "{checkpoint}");

    // Facts, not JSON: the receipt box stays empty and the receipt is folded away.
    let facts = browser.text("#facts").await.unwrap();
    for fact in ["Issuer", "Acme Test", "AI model", "ExampleAI copywriter", "Log index", "Signing key", &id] {
        assert!(facts.contains(fact), "{fact:?} not among the facts: {facts}");
    }
    let kid = stamped["signature"]["kid"].as_str().unwrap();
    assert_eq!(browser.text("#facts [data-fact=signing-key]").await.unwrap(), kid);
    let receipt_box = browser.exec("return document.getElementById('receipt').value;", json!([])).await;
    assert_eq!(receipt_box, "", "no raw JSON in the receipt box");
    let details = browser.text("#details").await.unwrap();
    assert!(!details.contains("\"signature\""), "no JSON shown before it is asked for: {details}");
    assert!(!browser.displayed("#receipt-json pre").await);
    browser.click("#receipt-json summary").await;
    assert!(browser.displayed("#receipt-json pre").await, "the receipt unfolds");
    let json_shown = browser.text("#receipt-json pre").await.unwrap();
    assert!(json_shown.contains("\"signature\"") && json_shown.contains(&id), "{json_shown}");
    assert!(!json_shown.contains("prompt_salt"), "{json_shown}");
    browser.assert_no_sideways_scroll("390 px, the receipt unfolded").await;

    // The link's receipt stays in use: text pasted now is checked against that stamp.
    let status = browser.text("#receipt-status").await.unwrap();
    assert!(status.contains("receipt of the stamp in the link is used"), "{status}");
    browser.send_keys("#text", "Run further. Feel heavier.").await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Not verified"), "checked against the link's stamp: {verdict}");
    assert_eq!(browser.count("#checks li[data-code='content.hash.mismatch']").await, 1);
    assert_eq!(browser.focused_id().await, "verify", "a submit leaves the focus on the button");

    // 320 px, the narrowest phones: still nothing wider than the window.
    browser.set_window(320, 700).await;
    browser.assert_no_sideways_scroll("320 px, a failed verdict").await;
    browser.click("#receipt-json summary").await;
    assert!(browser.displayed("#receipt-json pre").await, "the receipt unfolds");
    browser.assert_no_sideways_scroll("320 px, the receipt unfolded").await;
    browser.exec("window.scrollTo(0, 0);", json!([])).await;
    browser.assert_no_sideways_scroll("320 px, the form").await;
    browser.keep_screenshot(dir.path(), "phone-320-form").await;

    // The text itself, pasted on the phone: one stamp matches, said in the singular.
    browser.click("#clear").await;
    browser.wait_text("#verdict", "the result cleared", str::is_empty).await;
    browser.send_keys("#text", text).await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine AI disclosure") && !verdict.contains(&issued_at), "{verdict}");
    let matches = browser.wait_text("#matches", "the count of matches", |t| !t.is_empty()).await;
    assert_eq!(matches, "1 stamp matches this content.");
    browser.assert_no_sideways_scroll("320 px, a text verified").await;
    browser.keep_screenshot(dir.path(), "phone-320-text").await;

    browser.quit().await;
}

/// Under the operator's witness policy, a receipt whose checkpoint its witness cosigned:
/// the page shows the `witnesses` check, names the witness, and says that this is the
/// operator's policy, pointing to `aiprov verify --policy` for the reader's own.
#[tokio::test]
async fn the_page_names_the_operators_witnesses_and_whose_policy_it_is() {
    use ai_provenance::tlog::cosignature::CosignatureSigner;
    use ai_provenance::tlog::policy::Policy;
    let Some(browser) = Browser::start().await else { return };
    let witness = CosignatureSigner::new("w1.example", ed25519_dalek::SigningKey::from_bytes(&[21; 32])).unwrap();
    let policy =
        Policy::parse(&format!("witness W1 {} https://w1.example/\nquorum W1\n", witness.verifier().to_vkey_string()))
            .unwrap();
    let app = crate::helpers::spawn_app_with(|c| c.witness_policy = Some(policy)).await;
    let stamped = app.stamp_ok(&copy_request("Seen by a witness.")).await;
    let mut receipt = crate::helpers::public_receipt(&stamped);
    let note = receipt["log"]["checkpoint"].as_str().unwrap().to_owned();
    let body = &note[..=note.find("\n\n").unwrap()];
    let line = witness.cosign(body, 1_700_000_000).unwrap();
    receipt["log"]["checkpoint"] = json!(format!("{note}{line}"));

    browser.goto(&format!("{}/verify", app.url(""))).await;
    browser.send_keys("#receipt", &receipt.to_string()).await;
    browser.click("#verify").await;
    let verdict = browser.verdict().await;
    assert!(verdict.contains("Genuine stamp, content not checked"), "{verdict}");
    let check = browser.text("#checks li[data-code='witness.quorum']").await.unwrap();
    assert!(check.contains("Witnesses: passed.") && check.contains("W1"), "{check}");
    let note = browser.text("#witnesses-note").await.unwrap();
    for said in ["W1", "operator's witness policy", "aiprov verify --receipt receipt.json", "--policy"] {
        assert!(note.contains(said), "{said:?} not in {note}");
    }
    browser.quit().await;
}

/// Script: where the lead to the original disclosure is, when it is wholly in the window.
const LEAD_IN_SIGHT: &str = "var r = document.getElementById('similar-lead').getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight ? [r.top, r.bottom] : null;";

/// A reader with one sentence of a stamped text, then with a stamped image saved again as
/// a JPEG (its metadata gone, its bytes changed), on a phone and on a desktop: the page
/// shows its own state, "Similar to content declared AI-generated", with the original's
/// disclosure, issuer and date in sight at once, a link to that stamp, and says truthfully
/// that it sent the image itself.
#[tokio::test]
async fn a_copied_sentence_or_a_resaved_image_leads_a_reader_to_the_original_disclosure() {
    use crate::corpus::images::{decode, encode, generated_png};
    use crate::corpus::{excerpt, marketing_text};
    let Some(browser) = Browser::start().await else { return };
    let app = spawn_app().await;
    let text = marketing_text(5);
    let stamped_text = app.stamp_ok(&copy_request(&text)).await;
    let png = generated_png(11);
    let stamped_image = app.stamp_image(&png, "image/png").await;
    let dir = tempfile::tempdir().unwrap();
    let resaved = dir.path().join("resaved.jpg");
    std::fs::write(&resaved, encode(&decode(&png), image::ImageFormat::Jpeg)).unwrap();
    let done = |t: &str| t.contains("Similar to") || t.contains("No stamp found") || t.contains("Not verified");

    for (width, height) in [(390, 844), (1280, 900)] {
        browser.set_window(width, height).await;
        browser.reduce_motion().await;
        browser.goto(&format!("{}/verify", app.url(""))).await;
        browser.send_keys("#text", &excerpt(&text)).await;
        browser.click("#verify").await;
        let verdict = browser.wait_text("#verdict", "a similar verdict", done).await;
        assert!(verdict.contains("Similar to content declared AI-generated"), "{width} px: {verdict}");
        assert!(verdict.contains("declared AI-generated on") && verdict.contains("Acme Test"), "{verdict}");
        let disclosure = stamped_text["statement"]["disclosure"]["text"].as_str().unwrap();
        assert!(browser.text("#similar-lead").await.unwrap().contains(disclosure));
        assert!(!browser.exec(LEAD_IN_SIGHT, json!([])).await.is_null(), "{width} px: the lead is in sight");
        let href = browser.exec("return document.querySelector('#similar-lead a').getAttribute('href');", json!([]));
        assert_eq!(href.await, format!("verify?id={}", stamped_text["id"].as_str().unwrap()).as_str());
        assert_eq!(
            browser.count(&format!("#similar li[data-stamp='{}']", stamped_text["id"].as_str().unwrap())).await,
            1
        );
        browser.assert_no_sideways_scroll(&format!("{width} px, similar text")).await;
        browser.keep_screenshot(dir.path(), &format!("similar-text-{width}")).await;

        browser.goto(&format!("{}/verify", app.url(""))).await;
        browser.send_keys("#file", resaved.to_str().unwrap()).await;
        browser.click("#verify").await;
        let verdict = browser.wait_text("#verdict", "a similar verdict", done).await;
        assert!(verdict.contains("Similar to content declared AI-generated"), "{width} px: {verdict}");
        let status = browser.text("#file-status").await.unwrap();
        assert!(status.contains("the image itself") && status.contains("is being sent"), "said truthfully: {status}");
        let id = stamped_image["id"].as_str().unwrap();
        assert_eq!(browser.count(&format!("#similar li[data-stamp='{id}']")).await, 1);
        assert!(!browser.exec(LEAD_IN_SIGHT, json!([])).await.is_null(), "{width} px: the image's lead is in sight");
        browser.assert_no_sideways_scroll(&format!("{width} px, similar image")).await;
        browser.keep_screenshot(dir.path(), &format!("similar-image-{width}")).await;
    }
    browser.quit().await;
}

/// A credentialed text file on the verify page, on a phone and on a desktop: as it was
/// made, a genuine disclosure; edited, its own state, "Edited after its AI disclosure was
/// made", with the original's disclosure in sight at once and a link to its stamp, the
/// note in words about a text (not an image), and the page saying that it sent the text.
#[tokio::test]
async fn a_credentialed_text_file_verifies_and_its_edit_leads_to_the_original_disclosure() {
    let Some(browser) = Browser::start().await else { return };
    let app = spawn_app().await;
    let text = "Meet the Trailblazer 3: the lightest running shoe we have ever made, built for long days on \
                rough trails. Order today and your first pair ships free within two days.";
    let answer = app
        .credential_with(
            Some(&app.token),
            Some(&json!({
                "kind": "marketing_copy",
                "generator": {"provider": "ExampleAI", "model": "copywriter"},
                "disclosure": {"text": "This text was generated with AI.", "lang": "en"}
            })),
            Some("text/plain; charset=utf-8"),
            text.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let id = answer.header("aiprov-stamp-id").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let intact = dir.path().join("launch.txt");
    std::fs::write(&intact, &answer.body).unwrap();
    let edited = dir.path().join("launch-edited.txt");
    std::fs::write(&edited, String::from_utf8(answer.body.clone()).unwrap().replacen("lightest", "lighter", 1))
        .unwrap();
    let done = |t: &str| ["Edited after", "Genuine", "No stamp found", "Not verified"].iter().any(|w| t.contains(w));

    browser.goto(&format!("{}/verify", app.url(""))).await;
    browser.send_keys("#file", intact.to_str().unwrap()).await;
    browser.click("#verify").await;
    let verdict = browser.wait_text("#verdict", "a verdict", done).await;
    assert!(verdict.contains("Genuine AI disclosure"), "{verdict}");
    let status = browser.text("#file-status").await.unwrap();
    assert!(status.contains("the text itself") && status.contains("is being sent"), "said truthfully: {status}");

    for (width, height) in [(390, 844), (1280, 900)] {
        browser.set_window(width, height).await;
        browser.reduce_motion().await;
        browser.goto(&format!("{}/verify", app.url(""))).await;
        browser.send_keys("#file", edited.to_str().unwrap()).await;
        browser.click("#verify").await;
        let verdict = browser.wait_text("#verdict", "a verdict", done).await;
        assert!(verdict.contains("Edited after its AI disclosure was made"), "{width} px: {verdict}");
        assert!(browser.text("#similar-lead").await.unwrap().contains("This text was generated with AI."));
        assert!(!browser.exec(LEAD_IN_SIGHT, json!([])).await.is_null(), "{width} px: the lead is in sight");
        let href = browser.exec("return document.querySelector('#similar-lead a').getAttribute('href');", json!([]));
        assert_eq!(href.await, format!("verify?id={id}").as_str());
        let note = browser.text("#similar-note").await.unwrap();
        assert!(note.contains("The text's Content Credentials were made for the original text"), "{note}");
        browser.assert_no_sideways_scroll(&format!("{width} px, edited text")).await;
        browser.keep_screenshot(dir.path(), &format!("edited-text-{width}")).await;
    }
    browser.quit().await;
}
