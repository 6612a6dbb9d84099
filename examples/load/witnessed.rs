//! The load tool's witnessed mode (`load -- witnessed [COUNT] [CONCURRENCY] [RUNS]`):
//! three witnesses in this process (the real `aiprov witness` code on loopback, each at
//! its default rate limit) and a 2-of-3 policy. Each run stamps COUNT times on a fresh
//! service without witnesses and on a fresh one with them (the order alternates), and
//! the witnessed runs measure the lag from a stamp's acknowledgement to the first
//! witnessed checkpoint that covers it. Goals: p99 lag under 2 s; median throughput with
//! witnesses within 10% of the median without.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_provenance::statement::IssuerName;
use ai_provenance::tlog::checkpoint::NoteVerifier;
use ai_provenance::tlog::policy::Policy;
use ai_provenance::witness::state::{DataDir, State};
use ai_provenance::witness::{self, key, Witness};
use ai_provenance::{Limits, Service};
use tokio::sync::oneshot;

/// What a run started, stopped when dropped.
#[derive(Default)]
struct Running {
    shutdown: Vec<oneshot::Sender<()>>,
    locks: Vec<DataDir>,
    dirs: Vec<tempfile::TempDir>,
}

/// Three witnesses of the log `log` in this process; the policy naming them, 2 of 3.
fn witnesses(log: &NoteVerifier, running: &mut Running) -> anyhow::Result<String> {
    let mut policy = String::new();
    for name in ["a", "b", "c"] {
        let dir = tempfile::tempdir()?;
        let data = DataDir::lock(dir.path())?;
        let signer = key::open_or_create(dir.path(), None)?;
        let state = State::open(&data, [log.name()])?;
        let vkey = signer.verifier().to_vkey_string();
        let w = Arc::new(Witness::new(signer, std::slice::from_ref(log), state, witness::DEFAULT_RATE));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        policy.push_str(&format!("witness {name} {vkey} http://{}\n", listener.local_addr()?));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(witness::http::run(listener, w, async move {
            let _ = rx.await;
        }));
        running.shutdown.push(tx);
        running.locks.push(data);
        running.dirs.push(dir);
    }
    policy.push_str("group two-of-three 2 a b c\nquorum two-of-three\n");
    Ok(policy)
}

/// A service on a fresh directory, witnessed or not: its URL, a token, the service.
fn start(witnessed: bool, running: &mut Running) -> anyhow::Result<(String, String, Arc<Service>)> {
    let dir = tempfile::tempdir()?;
    let mut config = super::config_in(dir.path());
    if witnessed {
        // Opened once for the log's key, which the witnesses must know, then again with
        // the policy that names them.
        let first = Service::open(&config)?;
        let log = first.log_verifier().clone();
        let stopped = first.log_stopped();
        drop(first);
        anyhow::ensure!(stopped.wait(Duration::from_secs(10)), "the first service did not stop");
        config.witness_policy = Some(Policy::parse(&witnesses(&log, running)?)?);
    }
    let service = Arc::new(Service::open(&config)?);
    let token = service.create_token(IssuerName::parse("Load")?, false)?.secret;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(ai_provenance::run(listener, service.clone(), Limits::default(), async move {
        let _ = rx.await;
    }));
    running.shutdown.push(tx);
    running.dirs.push(dir);
    Ok((base, token, service))
}

/// `count` stamps by `concurrency` clients: stamps per second, and each stamp's log
/// index with the moment its acknowledgement arrived.
async fn stamp_acks(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    count: usize,
    concurrency: usize,
) -> (f64, Vec<(u64, Instant)>) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, b, t, next) = (client.clone(), base.to_owned(), token.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let resp = c.post(format!("{b}/v1/stamps")).bearer_auth(&t).json(&super::stamp_body(i)).send().await;
                let resp = resp.expect("request");
                assert!(resp.status().is_success(), "stamp {i} failed: {}", resp.status());
                let body: serde_json::Value = resp.json().await.expect("a receipt");
                acks.push((body["log"]["index"].as_u64().expect("a log index"), Instant::now()));
            }
            acks
        }));
    }
    let mut acks = Vec::with_capacity(count);
    for t in tasks {
        acks.extend(t.await.expect("client task"));
    }
    (count as f64 / started.elapsed().as_secs_f64(), acks)
}

/// Watches the service's witnessed checkpoint until `stop`: when each new tree size was
/// first seen.
fn watch(service: Arc<Service>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<(Instant, u64)>> {
    tokio::task::spawn_blocking(move || {
        let mut seen: Vec<(Instant, u64)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(w) = service.witnessed_checkpoint() {
                if seen.last().is_none_or(|(_, size)| *size < w.tree_size) {
                    seen.push((Instant::now(), w.tree_size));
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        seen
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) async fn main(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    println!("load witnessed: {count} stamps a run, {concurrency} clients, {runs} runs; 3 witnesses, 2 of 3\n");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let (mut plain, mut witnessed, mut lags) = (Vec::new(), Vec::new(), Vec::new());
    let mut uncovered = 0usize;
    for run in 0..runs {
        // Alternate which goes first, so that neither always runs on a warmer machine.
        for with in if run % 2 == 0 { [false, true] } else { [true, false] } {
            let mut running = Running::default();
            let (base, token, service) = start(with, &mut running)?;
            let stop = Arc::new(AtomicBool::new(false));
            let watcher = with.then(|| watch(service.clone(), stop.clone()));
            let (per_sec, acks) = stamp_acks(&client, &base, &token, count, concurrency).await;
            let Some(watcher) = watcher else {
                println!("run {run}: without witnesses {per_sec:>8.0} stamps/s");
                plain.push(per_sec);
                continue;
            };
            // Until the last stamp is witnessed (or 15 s).
            let last = acks.iter().map(|(i, _)| *i).max().unwrap_or(0);
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until {
                if service.witnessed_checkpoint().is_ok_and(|w| w.tree_size > last) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stop.store(true, Ordering::Relaxed);
            let seen = watcher.await?;
            let mut run_lags = Vec::new();
            for (index, ack) in &acks {
                match seen.iter().find(|(_, size)| size > index) {
                    Some((at, _)) => run_lags.push(at.saturating_duration_since(*ack)),
                    None => uncovered += 1,
                }
            }
            run_lags.sort_unstable();
            let p = |q: f64| run_lags.get(((run_lags.len() as f64 * q) as usize).min(run_lags.len().saturating_sub(1)));
            println!(
                "run {run}: with witnesses    {per_sec:>8.0} stamps/s  lag p50 {:>6.0} ms  p99 {:>6.0} ms  ({} witnessed checkpoints)",
                p(0.5).map_or(f64::NAN, |d| super::ms(*d)),
                p(0.99).map_or(f64::NAN, |d| super::ms(*d)),
                seen.len()
            );
            witnessed.push(per_sec);
            lags.extend(run_lags);
            drop(service);
        }
    }
    lags.sort_unstable();
    let pct = |q: f64| lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1))).copied();
    let (m_plain, m_witnessed) = (median(plain), median(witnessed));
    println!();
    println!("{:<44} {m_plain:>8.0} stamps/s", "median throughput without witnesses");
    println!(
        "{:<44} {m_witnessed:>8.0} stamps/s  {:+.1}% (goal: within 10%)",
        "median throughput with witnesses",
        100.0 * (m_witnessed / m_plain - 1.0)
    );
    println!(
        "{:<44} p50 {:>6.0} ms  p99 {:>6.0} ms  (goal: p99 under 2,000 ms; {} stamps, {uncovered} not covered within 15 s)",
        "stamp acknowledged -> witnessed checkpoint",
        pct(0.5).map_or(f64::NAN, super::ms),
        pct(0.99).map_or(f64::NAN, super::ms),
        lags.len()
    );
    Ok(())
}
