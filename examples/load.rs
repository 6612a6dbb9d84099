//! Load benchmark: the machine's limits and the real service, measured in one run, each
//! service figure printed as a ratio of its limit.
//!
//! ```sh
//! cargo run --release --example load                     # 4,000 requests per phase, 64 clients
//! cargo run --release --example load -- 20000 64         # COUNT CONCURRENCY
//! ```
//! Limits, measured in-process: Ed25519 signatures/s and verifications/s on all cores,
//! SHA-256 MB/s on one core, and the requests/s of an actix-web no-op endpoint driven by
//! the same client as the service. Then the real server (sled in a temp dir, durable
//! stamps with group commit) over loopback: stamps/s, verifies/s and lookups/s with p50
//! and p99 latency. The client shares the machine with the server in every phase, the
//! no-op baseline included, so the ratios compare like with like.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use ai_provenance::http::Limits;
use ai_provenance::ratelimit::RateLimit;
use ai_provenance::server::Application;
use ai_provenance::service::ServiceConfig;
use ai_provenance::statement::IssuerName;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::json;

struct Phase {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of this whole process (client and server) per request.
    cpu_per_req: Duration,
}

/// CPU time (user + system) this process has used so far, from /proc (Linux only; zero
/// elsewhere). Client and server share the process, so this is the cost of a request end
/// to end on this machine.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name; in
    // USER_HZ, which is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Runs `count` requests with `concurrency` in flight; `make(i)` builds request `i`.
async fn drive<F>(concurrency: usize, count: usize, make: F) -> Phase
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu_start = process_cpu();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                let resp = make(i).send().await.expect("request");
                assert!(resp.status().is_success(), "request {i} failed: {}", resp.status());
                let _ = resp.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    let elapsed = start.elapsed();
    let cpu_per_req = (process_cpu() - cpu_start) / count as u32;
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Phase { per_sec: count as f64 / elapsed.as_secs_f64(), p50: pct(0.50), p99: pct(0.99), cpu_per_req }
}

/// Runs `op` on every core for about `secs` seconds; operations per second in total.
fn on_all_cores(secs: f64, op: impl Fn() + Send + Sync + Copy + 'static) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let handles: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed().as_secs_f64() < secs {
                    for _ in 0..64 {
                        op();
                    }
                    n += 64;
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn row(name: &str, value: f64, unit: &str, limit: Option<(&str, f64)>, p: Option<&Phase>) {
    let lat = p.map_or(String::new(), |p| {
        format!("p50 {:>6.2} ms  p99 {:>6.2} ms  cpu {:>4} us", ms(p.p50), ms(p.p99), p.cpu_per_req.as_micros())
    });
    let ratio = limit.map_or(String::new(), |(what, l)| format!("{:>5.1}% of {what}", 100.0 * value / l));
    println!("{name:<34} {value:>12.0} {unit:<6} {lat:<44} {ratio}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("load: {count} requests per phase, {concurrency} concurrent clients, {cores} cores\n");

    // (a) limits
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| SigningKey::from_bytes(&[7; 32]));
    let msg = [42u8; 600]; // about one canonical statement
    let sig = key.sign(&msg);
    let sign_s = on_all_cores(1.0, move || {
        std::hint::black_box(KEY.get().unwrap().sign(std::hint::black_box(&msg)));
    });
    let verify_s = on_all_cores(1.0, move || {
        let _ = std::hint::black_box(KEY.get().unwrap().verifying_key().verify(std::hint::black_box(&msg), &sig));
    });
    let buf = vec![0xA5u8; 256 << 20];
    let t = Instant::now();
    std::hint::black_box(ai_provenance::Sha256Digest::of(&buf));
    let sha_mb_s = 256.0 / t.elapsed().as_secs_f64();

    let noop = HttpServer::new(|| App::new().route("/noop", web::get().to(|| async { HttpResponse::Ok().finish() })))
        .bind("127.0.0.1:0")?;
    let noop_addr = noop.addrs()[0];
    let noop_server = noop.run();
    let noop_handle = noop_server.handle();
    tokio::spawn(noop_server);
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let c = client.clone();
    let noop_phase = drive(concurrency, count, move |_| c.get(format!("http://{noop_addr}/noop"))).await;
    noop_handle.stop(true).await;

    // (b) the real service
    let dir = tempfile::tempdir()?;
    let mut config = ServiceConfig::new(dir.path().join("data"), dir.path().join("keys"), "load.test/log".into());
    config.stamp_rate = RateLimit { per_second: 1e9, burst: u32::MAX };
    let app = Application::build(&config, "127.0.0.1:0".parse()?, Limits::default())?;
    let token = app.service().tokens().create(IssuerName::parse("Load")?, false)?.secret;
    let addr = app.local_addr();
    tokio::spawn(app.into_server());
    let base = format!("http://{addr}");
    let body = |i: usize| {
        json!({
            "text": format!("Generated product description number {i}: light, warm, made for trails."),
            "kind": "marketing_copy",
            "generator": {"provider": "ExampleAI", "model": "copywriter", "model_version": "2026-10"},
            "prompt": "describe the jacket",
            "disclosure": {"text": "This text was generated with AI.", "lang": "en"}
        })
    };
    let (c, b, t) = (client.clone(), base.clone(), token.clone());
    let stamp_phase =
        drive(concurrency, count, move |i| c.post(format!("{b}/v1/stamps")).bearer_auth(&t).json(&body(i))).await;
    let (c, b) = (client.clone(), base.clone());
    let verify_phase = drive(concurrency, count, move |i| {
        c.post(format!("{b}/v1/verify")).json(&json!({
            "text": format!("Generated product description number {i}: light, warm, made for trails.")
        }))
    })
    .await;
    let (c, b) = (client.clone(), base.clone());
    let lookup_phase = drive(concurrency, count, move |i| {
        let text = format!("Generated product description number {i}: light, warm, made for trails.");
        let sha = ai_provenance::Sha256Digest::of(text.as_bytes());
        c.get(format!("{b}/v1/stamps?sha256={sha}&limit=1"))
    })
    .await;

    println!("{:<34} {:>12} {:<6} {:<44} ratio", "what", "rate", "", "latency");
    println!("-- limits, in process --");
    row("Ed25519 signatures, all cores", sign_s, "/s", None, None);
    row("Ed25519 verifications, all cores", verify_s, "/s", None, None);
    row("SHA-256, one core", sha_mb_s, "MB/s", None, None);
    row("actix-web no-op endpoint", noop_phase.per_sec, "req/s", None, Some(&noop_phase));
    println!("-- the service, over loopback --");
    row("durable stamps", stamp_phase.per_sec, "/s", Some(("no-op", noop_phase.per_sec)), Some(&stamp_phase));
    row("  (stamps vs signatures)", stamp_phase.per_sec, "/s", Some(("sign", sign_s)), None);
    row(
        "verifies (content lookup + checks)",
        verify_phase.per_sec,
        "/s",
        Some(("no-op", noop_phase.per_sec)),
        Some(&verify_phase),
    );
    row("  (verifies vs verifications)", verify_phase.per_sec, "/s", Some(("verify", verify_s)), None);
    row("lookups by sha256", lookup_phase.per_sec, "/s", Some(("no-op", noop_phase.per_sec)), Some(&lookup_phase));
    Ok(())
}
