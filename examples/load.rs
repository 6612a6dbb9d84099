//! Load benchmark: the machine's limits and the real service, measured in one run, each
//! service figure printed as a ratio of its limit.
//!
//! ```sh
//! cargo run --release --example load                          # 20,000 requests a phase, 64 clients, 1M-entry log
//! cargo run --release --example load -- 4000 64 100000        # COUNT CONCURRENCY BIG_LOG_SIZE
//! cargo run --release --example load -- witnessed 5000 64 5    # COUNT CONCURRENCY RUNS
//! cargo run --release --example load -- similar 10000000 1000   # CODES LOOKUPS
//! ```
//! `similar` measures fingerprints instead (`load/similar.rs`): the distances between
//! unrelated texts and images, lookups among 10,000,000 codes and their memory, and
//! `byContent` lookups of a 1-megapixel JPEG beside the machine's JPEG decode rate.
//! `witnessed` measures the log with three witnesses instead (`load/witnessed.rs`): the
//! lag from a stamp to a witnessed checkpoint, and stamps/s with and without witnesses.
//! (a) Limits, measured in-process: Ed25519 signatures/s and verifications/s on all
//! cores, SHA-256 MB/s on one core, and the requests/s of an actix-web no-op endpoint
//! driven by the same client as the service.
//! (b) The real server (sled in a temp dir, durable stamps with group commit) over
//! loopback: stamps/s, verifies/s and lookups/s with p50 and p99 latency and the CPU
//! time per request; a 1 GiB streamed upload, hashed by the server as it arrives.
//! The same stamps and verifies against PostgreSQL (the machine's, or the one
//! `AIPROV_TEST_POSTGRES` names; a fresh database each), with one node and with two nodes
//! of one service sharing it, each as a ratio of the sled figure of the same run.
//! (c) Each as a ratio of its limit (durable stamps against `1 / (1/signatures per s +
//! 1/no-op requests per s)`); stamp latency in a log of 1,000 entries and in one of
//! BIG_LOG_SIZE entries (filled through the writer's batch path with synthetic leaves of
//! a real leaf's size, so that tiles, bundles and indexes are as large as real ones);
//! start-up time and disk bytes per entry on the big log; peak resident memory while
//! filling it. The client shares the machine and the process with the server in every
//! phase, the no-op baseline included, so the ratios compare like with like.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use ai_provenance::statement::IssuerName;
use ai_provenance::Limits;
use ai_provenance::RateLimit;
use ai_provenance::TempDatabase;
use ai_provenance::{Service, ServiceConfig};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::json;

// Shared with the tests, which use all of it; this tool only part.
#[allow(dead_code)]
#[path = "../tests/corpus/mod.rs"]
mod corpus;
#[path = "load/similar.rs"]
mod similar;
#[path = "load/witnessed.rs"]
mod witnessed;

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

/// A service on a fresh temp dir, with a token that no rate limit slows down.
struct Bench {
    base: String,
    token: String,
    dir: tempfile::TempDir,
}

fn start_service() -> anyhow::Result<Bench> {
    start_service_in(tempfile::tempdir()?)
}

fn config_in(dir: &std::path::Path) -> ServiceConfig {
    let mut config = ServiceConfig::new(dir.join("data"), dir.join("keys"), "load.test/log".into());
    config.stamp_rate = RateLimit { per_second: 1e9, burst: u32::MAX };
    config.lookup_rate = RateLimit { per_second: 1e9, burst: u32::MAX };
    config
}

/// The service on the data in `dir` (created when new).
fn start_service_in(dir: tempfile::TempDir) -> anyhow::Result<Bench> {
    let service = Arc::new(Service::open(&config_in(dir.path()))?);
    let token = service.create_token(IssuerName::parse("Load")?, false)?.secret;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(ai_provenance::run(listener, service.clone(), Limits::default(), std::future::pending()));
    Ok(Bench { base, token, dir })
}

fn stamp_body(i: usize) -> serde_json::Value {
    json!({
        "text": copy_text(i),
        "kind": "marketing_copy",
        "generator": {"provider": "ExampleAI", "model": "copywriter", "model_version": "2026-10"},
        "prompt": "describe the jacket",
        "disclosure": {"text": "This text was generated with AI.", "lang": "en"}
    })
}

fn copy_text(i: usize) -> String {
    format!("Generated product description number {i}: light, warm, made for trails.")
}

/// Durable stamps by `concurrency` clients, `count` of them, numbered from `first`.
async fn stamps(client: &reqwest::Client, bench: &Bench, first: usize, count: usize, concurrency: usize) -> Phase {
    stamps_on(client, std::slice::from_ref(&bench.base), &bench.token, first, count, concurrency).await
}

/// [`stamps`], request `i` sent to node `i % bases.len()` of one service.
async fn stamps_on(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Phase {
    let (c, b, t) = (client.clone(), bases.to_vec(), token.to_owned());
    drive(concurrency, count, move |i| {
        c.post(format!("{}/v1/stamps", b[i % b.len()])).bearer_auth(&t).json(&stamp_body(first + i))
    })
    .await
}

/// Verifications of the texts `0..count` (stamped before), spread over the nodes.
async fn verifies_on(client: &reqwest::Client, bases: &[String], count: usize, concurrency: usize) -> Phase {
    let (c, b) = (client.clone(), bases.to_vec());
    drive(concurrency, count, move |i| {
        c.post(format!("{}/v1/verify", b[i % b.len()])).json(&json!({ "text": copy_text(i) }))
    })
    .await
}

/// `nodes` nodes of one service on a fresh PostgreSQL database, sharing one keys
/// directory, in this process (as `serve --database` processes on one machine would).
fn start_pg_service(nodes: usize) -> anyhow::Result<(Vec<String>, String, tempfile::TempDir, TempDatabase)> {
    let db = TempDatabase::create()?;
    let dir = tempfile::tempdir()?;
    let mut config = config_in(dir.path());
    config.database = Some(db.url().to_owned());
    let mut bases = Vec::new();
    let mut token = None;
    for _ in 0..nodes {
        let service = Arc::new(Service::open(&config)?);
        if token.is_none() {
            token = Some(service.create_token(IssuerName::parse("Load")?, false)?.secret);
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        bases.push(format!("http://{}", listener.local_addr()?));
        tokio::spawn(ai_provenance::run(listener, service, Limits::default(), std::future::pending()));
    }
    Ok((bases, token.unwrap_or_default(), dir, db))
}

/// Stamps then verifies on PostgreSQL with `nodes` nodes; `None` (saying why) when no
/// PostgreSQL server answers.
async fn pg_phases(
    client: &reqwest::Client,
    nodes: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Option<(Phase, Phase)>> {
    let (bases, token, _dir, _db) = match start_pg_service(nodes) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("PostgreSQL phases skipped: {e}");
            return Ok(None);
        }
    };
    let stamped = stamps_on(client, &bases, &token, 0, count, concurrency).await;
    let verified = verifies_on(client, &bases, count, concurrency).await;
    Ok(Some((stamped, verified)))
}

/// Bytes of one synthetic leaf: a real one is about 900 bytes of canonical JSON.
const LEAF_BYTES: usize = 882;

/// Fills the log in `dir` (no service running on it) with `n` synthetic leaves of a
/// real leaf's size, each with a content hash, a normalised-text hash and a salt, through
/// the backend's own sequencer and transaction (`BulkAppend`) with one sync at the end:
/// the log, its tiles and its indexes are as large as real ones. The service signs a
/// checkpoint for them when it opens the directory.
fn fill_log(dir: &std::path::Path, n: u64) -> anyhow::Result<()> {
    use ai_provenance::{open_bulk, Location, NewLeaf, Sha256Digest};
    let data = dir.join("data");
    // The key seals salts only in a database; the embedded backend needs none.
    let mut log = open_bulk(&Location::Local(data), &SigningKey::from_bytes(&[7; 32]))?;
    let started = Instant::now();
    let mut size = log.size()?;
    while size < n {
        let count = 4096.min(n - size);
        let leaves: Vec<NewLeaf> = (size..size + count)
            .map(|i| {
                let mut leaf = format!("{{\"synthetic\":{i},\"pad\":\"").into_bytes();
                leaf.resize(LEAF_BYTES - 2, b'x');
                leaf.extend_from_slice(b"\"}");
                let content = Sha256Digest::of(&i.to_be_bytes());
                NewLeaf {
                    leaf_hash: ai_provenance::tlog::merkle::leaf_hash(&leaf),
                    leaf,
                    content_sha256: content,
                    normalized_text_sha256: Some(Sha256Digest::of(content.as_bytes())),
                    code: None,
                    sentences: Vec::new(),
                    prompt_salt: Some(*Sha256Digest::of(&i.to_le_bytes()).as_bytes()),
                }
            })
            .collect();
        let refs: Vec<&NewLeaf> = leaves.iter().collect();
        log.append(&refs)?;
        size += count;
        if size % 1_000_000 < 4096 && size >= 1_000_000 {
            eprintln!("  filled {size} entries in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    log.finish()?;
    Ok(())
}

/// Bytes of every file under `dir`.
fn disk_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => dirs.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Streams `total` bytes to the upload endpoint; MB/s end to end.
async fn upload(client: &reqwest::Client, bench: &Bench, total: usize) -> anyhow::Result<f64> {
    // One static chunk sent over and over: the client copies nothing, so the figure is
    // the server's (and the loopback's) speed.
    let chunk: &'static [u8] = Box::leak(vec![0x5Au8; 1 << 20].into_boxed_slice());
    let chunks = total / chunk.len();
    let body = futures_util::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk)));
    let meta: ai_provenance::statement::request::StampMetadata = serde_json::from_value(json!({
        "kind": "video",
        "generator": {"provider": "ExampleAI", "model": "video-gen"},
        "disclosure": {"text": "This video was generated with AI.", "lang": "en"}
    }))?;
    let t = Instant::now();
    let resp = client
        .post(format!("{}/v1/stamps/upload", bench.base))
        .bearer_auth(&bench.token)
        .header("Aiprov-Metadata", ai_provenance::cli::client::metadata_header(&meta))
        .header(reqwest::header::CONTENT_LENGTH, (chunks << 20).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "upload answered {}", resp.status());
    let _ = resp.bytes().await?;
    Ok((chunks << 20) as f64 / 1e6 / t.elapsed().as_secs_f64())
}

/// This process's resident memory now and at its peak, in MiB (Linux).
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:") / 1024, kib("VmHWM:") / 1024)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "witnessed") {
        args.next();
        return witnessed::main(args).await;
    }
    if args.peek().is_some_and(|a| a == "similar") {
        args.next();
        return similar::main(args).await;
    }
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let big_log: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "load: {count} requests per phase, {concurrency} concurrent clients, {cores} cores, big log {big_log} entries\n"
    );

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
    let sha_mb_s = 268.435456 / t.elapsed().as_secs_f64();
    drop(buf);
    // The hashing buffer above is not the service's memory: start the peak over (Linux).
    let _ = std::fs::write("/proc/self/clear_refs", "5");

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

    // (b) the real service: a log of 1,000 entries first, then the phases
    let small: u64 = 1000;
    let bench = start_service()?;
    let stamp_phase = stamps(&client, &bench, 0, count, concurrency).await;
    let verify_phase = verifies_on(&client, std::slice::from_ref(&bench.base), count, concurrency).await;
    let (c, b) = (client.clone(), bench.base.clone());
    let lookup_phase = drive(concurrency, count, move |i| {
        let sha = ai_provenance::Sha256Digest::of(copy_text(i).as_bytes());
        c.get(format!("{b}/v1/stamps?sha256={sha}&limit=1"))
    })
    .await;
    let upload_mb_s = upload(&client, &bench, 1 << 30).await?;
    let (rss_after_load, _) = memory_mib();
    // The same stamps and verifies on PostgreSQL: one node, then two sharing the database.
    drop(bench);
    let pg_one = pg_phases(&client, 1, count, concurrency).await?;
    let pg_two = pg_phases(&client, 2, count, concurrency).await?;

    // (c) stamp latency in a small log and in a big one: the same stamps, the same
    // clients, logs filled the same way, each on a fresh service.
    let scale_clients = 16;
    let small_dir = tempfile::tempdir()?;
    fill_log(small_dir.path(), small)?;
    let small_log = start_service_in(small_dir)?;
    let at_small = stamps(&client, &small_log, 0, count.min(2000), scale_clients).await;
    drop(small_log);
    // Peak memory from here on: the bulk fill and the service on the big log.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let big_dir = tempfile::tempdir()?;
    let t = Instant::now();
    let path = big_dir.path().to_owned();
    tokio::task::spawn_blocking(move || fill_log(&path, big_log)).await??;
    let fill_secs = t.elapsed().as_secs_f64();
    let (_, fill_peak) = memory_mib();
    let t = Instant::now();
    let big = start_service_in(big_dir)?;
    let startup = t.elapsed();
    let disk = disk_bytes(&big.dir.path().join("data"));
    let at_big = stamps(&client, &big, 0, count.min(2000), scale_clients).await;
    let (_, big_peak) = memory_mib();
    println!("{:<34} {:>12} {:<6} {:<44} ratio", "what", "rate", "", "latency and CPU per request (whole process)");
    println!("-- limits, in process --");
    row("Ed25519 signatures, all cores", sign_s, "/s", None, None);
    row("Ed25519 verifications, all cores", verify_s, "/s", None, None);
    row("SHA-256, one core", sha_mb_s, "MB/s", None, None);
    row("actix-web no-op endpoint", noop_phase.per_sec, "req/s", None, Some(&noop_phase));
    println!("-- the service, over loopback --");
    // A stamp is one Ed25519 signature (spread over the cores) and one HTTP exchange.
    let stamp_limit = 1.0 / (1.0 / sign_s + 1.0 / noop_phase.per_sec);
    row("stamp path limit (sign + no-op)", stamp_limit, "/s", None, None);
    row("durable stamps", stamp_phase.per_sec, "/s", Some(("limit", stamp_limit)), Some(&stamp_phase));
    println!("{:<34} {:>12} {:<6} {:<44} target 50% of limit, p99 < 20 ms", "", "", "", "");
    row(
        "verifies (content lookup + checks)",
        verify_phase.per_sec,
        "/s",
        Some(("no-op", noop_phase.per_sec)),
        Some(&verify_phase),
    );
    println!("{:<34} {:>12} {:<6} {:<44} target 50% of no-op", "", "", "", "");
    row("lookups by sha256", lookup_phase.per_sec, "/s", Some(("no-op", noop_phase.per_sec)), Some(&lookup_phase));
    row("streamed upload, 1 GiB, hashed", upload_mb_s, "MB/s", Some(("SHA-256", sha_mb_s)), None);
    println!("-- the same on PostgreSQL (127.0.0.1; nodes in this process) --");
    for (nodes, phases) in [(1, &pg_one), (2, &pg_two)] {
        let Some((stamped, verified)) = phases else {
            println!("{:<34} skipped: no PostgreSQL server answered", format!("{nodes} node(s)"));
            continue;
        };
        let name = |what: &str| format!("{what}, {nodes} node{}", if nodes == 1 { "" } else { "s" });
        row(&name("durable stamps"), stamped.per_sec, "/s", Some(("sled", stamp_phase.per_sec)), Some(stamped));
        row(&name("verifies"), verified.per_sec, "/s", Some(("sled", verify_phase.per_sec)), Some(verified));
    }
    println!("{:<34} {:>12} {:<6} {:<44} target 50% of sled", "", "", "", "");
    println!("-- stamp latency against log size ({scale_clients} clients) --");
    row(&format!("stamps, log of {small} entries"), at_small.per_sec, "/s", None, Some(&at_small));
    row(&format!("stamps, log of {big_log} entries"), at_big.per_sec, "/s", None, Some(&at_big));
    println!(
        "{:<34} p50 {:.2}x  p99 {:.2}x  (target 1.3x; big log filled in {fill_secs:.0} s, {:.0} entries/s)",
        "  big vs small log latency",
        at_big.p50.as_secs_f64() / at_small.p50.as_secs_f64(),
        at_big.p99.as_secs_f64() / at_small.p99.as_secs_f64(),
        big_log as f64 / fill_secs,
    );
    println!("-- the big log at rest --");
    println!("{:<34} {:>12.0} ms     (goal: under 1 s)", "start-up on it (keys, sled, log)", ms(startup));
    println!(
        "{:<34} {:>12.0} bytes  {:.2}x the {LEAF_BYTES}-byte leaf (goal: under 1.5x)",
        "disk per entry",
        disk as f64 / big_log as f64,
        disk as f64 / big_log as f64 / LEAF_BYTES as f64
    );
    println!("-- memory (client and server share the process) --");
    println!("{:<34} {rss_after_load:>12} MiB after the load phases", "resident memory");
    println!("{:<34} {fill_peak:>12} MiB peak while filling {big_log} entries (limit 512 MiB)", "");
    println!("{:<34} {big_peak:>12} MiB peak with the service stamping on it", "");
    Ok(())
}
