//! The log asks witnesses (issue 22): the node that sequences submits the newest
//! checkpoint to every witness of the `--witness-policy` (C2SP tlog-witness), checks the
//! cosignatures they return against the policy's keys, and keeps the newest checkpoint
//! whose cosignatures meet the quorum. Every node serves that checkpoint from the store
//! ([`WitnessedView`]).
//!
//! All of it runs on a thread of its own with its own small runtime, so that a slow or
//! dead witness never slows stamping: the log only publishes checkpoints, and this
//! thread reads the newest one when it is ready for it.
//!
//! - `record`: what is kept in the store, so that another node can take over.
//! - `submit`: one `add-checkpoint` request and the meaning of its answer.
//! - this file: [`Witnessing`], the thread, and the rules: one submission in flight per
//!   witness, at most one every [`MIN_INTERVAL`], always of the checkpoint being
//!   collected (the newest published once the previous one met the quorum, so that the
//!   witnesses cosign the same checkpoint and a quorum is reached under steady load);
//!   exponential backoff after a refusal.

mod record;
mod submit;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use record::{with_cosignatures, Collecting, Record};
pub(crate) use record::{RecordError, WitnessedNote};
use submit::{Answer, Refusal};

use super::metrics::WitnessMetrics;
use crate::log::checkpoint::{Checkpoint, NoteVerifier};
use crate::log::cosignature::CosignatureVerifier;
use crate::log::policy::Policy;
use crate::log::{Log, LogStore, Role, SignedCheckpoint};
use crate::memo::lock;

/// Least time between two submissions to one witness: a witness limits each log's rate
/// (this crate's to 2 a second), and a checkpoint every half second keeps the lag from a
/// stamp to its witnessed checkpoint around a second.
const MIN_INTERVAL: Duration = Duration::from_millis(500);
/// How often the thread looks for a new checkpoint, a free witness or a change of role.
const TICK: Duration = Duration::from_millis(20);
/// First wait after a refusal; doubled at each one in a row, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A checkpoint that has not met the quorum after this long is given up for the newest
/// one: the witnesses that did cosign it can then cosign a checkpoint with the others.
const MOVE_ON: Duration = Duration::from_secs(3);
/// How long a served witnessed checkpoint may be out of date on a node that does not
/// submit (it reads the store again after this).
const FRESH: Duration = Duration::from_millis(150);
/// Least time between two writes of the record for what can wait (sizes acknowledged,
/// cosignatures still short of the quorum): each write is a sync of the log's store,
/// beside the log's own. A new witnessed checkpoint is written at once. What a crash
/// loses of the rest costs a 409 and a resubmission.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long a stopping node waits for its thread.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Why witnessing cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(
        "the witness policy lists witness {0} without a URL: the log submits its checkpoints to each witness \
         at its URL (`witness <name> <vkey> <url>`)"
    )]
    NoUrl(String),
    #[error("the witness policy lists no witness: the log has no one to ask for cosignatures")]
    NoWitness,
    #[error("starting the witnessing thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("building the HTTP client for witnesses: {0}")]
    Client(String),
}

/// The newest witnessed checkpoint, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Witnessed {
    /// Its note carries the cosignature lines after the log's signature.
    pub(crate) checkpoint: SignedCheckpoint,
    pub(crate) cosigned_by: Vec<String>,
}

/// The witnessed checkpoint as this node serves it: read from the store at most every
/// [`FRESH`], or set at once by the thread when this node submits.
#[derive(Clone)]
pub(crate) struct WitnessedView {
    store: Arc<dyn LogStore>,
    verifier: NoteVerifier,
    cached: Arc<Mutex<Cached>>,
}

#[derive(Default)]
struct Cached {
    read_at: Option<Instant>,
    raw: Option<Vec<u8>>,
    value: Option<Arc<Witnessed>>,
}

impl WitnessedView {
    pub(crate) fn new(store: Arc<dyn LogStore>, verifier: NoteVerifier) -> Self {
        Self { store, verifier, cached: Arc::default() }
    }

    /// The newest witnessed checkpoint, if any (blocking: may read the store).
    ///
    /// # Errors
    /// When the store cannot be read or its record is damaged.
    pub(crate) fn get(&self) -> Result<Option<Arc<Witnessed>>, RecordError> {
        {
            let cached = lock(&self.cached);
            if cached.read_at.is_some_and(|at| at.elapsed() < FRESH) {
                return Ok(cached.value.clone());
            }
        }
        let raw = self.store.meta(record::RECORD)?;
        let mut cached = lock(&self.cached);
        if raw != cached.raw {
            let value = match &raw {
                Some(bytes) => self.parse(&Record::parse(bytes)?)?,
                None => None,
            };
            cached.value = value;
            cached.raw = raw;
        }
        cached.read_at = Some(Instant::now());
        Ok(cached.value.clone())
    }

    /// What this node has just written.
    fn set(&self, raw: Vec<u8>, record: &Record) {
        match self.parse(record) {
            Ok(value) => *lock(&self.cached) = Cached { read_at: Some(Instant::now()), raw: Some(raw), value },
            Err(e) => tracing::error!(error = %e, "the witnessed checkpoint just written does not open"),
        }
    }

    fn parse(&self, record: &Record) -> Result<Option<Arc<Witnessed>>, RecordError> {
        let Some(w) = &record.witnessed else { return Ok(None) };
        let checkpoint = Checkpoint::open_signed(&w.note, &self.verifier)
            .map_err(|e| RecordError::Corrupt(format!("the witnessed checkpoint does not open: {e}")))?;
        let checkpoint = SignedCheckpoint { checkpoint, note: w.note.as_str().into() };
        Ok(Some(Arc::new(Witnessed { checkpoint, cosigned_by: w.cosigned_by.clone() })))
    }
}

/// The thread that submits checkpoints while this node sequences; stopped when dropped.
pub(crate) struct Witnessing {
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    thread: Option<JoinHandle<()>>,
    /// Behind a lock only so that the service stays `Sync`.
    done: Mutex<mpsc::Receiver<()>>,
}

impl Witnessing {
    /// Starts submitting `log`'s checkpoints to the witnesses of `policy`.
    ///
    /// # Errors
    /// [`StartError::NoUrl`] naming a witness the policy gives no URL; when the thread
    /// cannot start.
    pub(crate) fn start(
        log: Log,
        store: Arc<dyn LogStore>,
        policy: Arc<Policy>,
        metrics: WitnessMetrics,
        view: WitnessedView,
    ) -> Result<Self, StartError> {
        if policy.witnesses().is_empty() {
            return Err(StartError::NoWitness);
        }
        let peers = policy
            .witnesses()
            .iter()
            .map(|w| match &w.url {
                Some(url) => Ok(Peer::new(&w.name, w.verifier.clone(), submit::endpoint(url))),
                None => Err(StartError::NoUrl(w.name.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = reqwest::Client::builder()
            .timeout(submit::TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("aiprov/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StartError::Client(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());
        let (tell, done) = mpsc::channel();
        let driver = Driver {
            log,
            store,
            policy,
            metrics,
            view,
            client,
            peers,
            record: Record::default(),
            raw: None,
            loaded: false,
            collecting_since: Instant::now(),
            target_published: Instant::now(),
            first_unwitnessed: None,
            dirty: false,
            urgent: false,
            saved_at: Instant::now(),
        };
        let (stopping, woken) = (stop.clone(), wake.clone());
        let thread = std::thread::Builder::new().name("witnessing".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => {
                    runtime.block_on(driver.run(stopping, woken));
                    // Submissions in flight are dropped; proofs being read finish first.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                }
                Err(e) => tracing::error!(error = %e, "the witnessing thread could not start its runtime"),
            }
            let _ = tell.send(());
        })?;
        Ok(Self { stop, wake, thread: Some(thread), done: Mutex::new(done) })
    }
}

impl Drop for Witnessing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // Bounded: a witness or store that does not answer must not hold the shutdown.
            if lock(&self.done).recv_timeout(STOP_WAIT).is_ok() {
                let _ = thread.join();
            }
        }
    }
}

/// One witness as the thread sees it.
struct Peer {
    name: String,
    verifier: CosignatureVerifier,
    url: String,
    /// A submission is in flight.
    busy: bool,
    /// Not before then: the pace, or a backoff.
    next_at: Instant,
    /// Refusals in a row.
    failures: u32,
}

impl Peer {
    fn new(name: &str, verifier: CosignatureVerifier, url: String) -> Self {
        Self { name: name.to_owned(), verifier, url, busy: false, next_at: Instant::now(), failures: 0 }
    }
}

/// A submission made: to whom, of what, and the answer.
struct Submitted {
    peer: usize,
    old: u64,
    size: u64,
    note: String,
    answer: Answer,
}

struct Driver {
    log: Log,
    store: Arc<dyn LogStore>,
    policy: Arc<Policy>,
    metrics: WitnessMetrics,
    view: WitnessedView,
    client: reqwest::Client,
    peers: Vec<Peer>,
    record: Record,
    /// The record's bytes as last read or written: what the next swap expects.
    raw: Option<Vec<u8>>,
    /// Whether `record` was read since this node became the sequencer.
    loaded: bool,
    /// When the checkpoint being collected was chosen, and when it was published.
    collecting_since: Instant,
    target_published: Instant,
    /// The first checkpoint seen beyond the witnessed one, and when it was published:
    /// the lag is measured until a witnessed checkpoint covers it.
    first_unwitnessed: Option<(u64, Instant)>,
    /// The record changed since it was last written; `urgent`: its witnessed checkpoint.
    dirty: bool,
    urgent: bool,
    saved_at: Instant,
}

impl Driver {
    async fn run(mut self, stop: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) {
        let mut inflight: JoinSet<Submitted> = JoinSet::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        while !stop.load(Ordering::Acquire) {
            let mut changed = false;
            tokio::select! {
                () = wake.notified() => continue,
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Ok(submitted) = done {
                        changed |= self.answered(submitted);
                    }
                }
                _ = tick.tick() => {}
            }
            if self.log.role() != Role::Sequencer {
                if self.loaded {
                    // Another node submits now; it takes over from the record.
                    inflight.abort_all();
                    self.loaded = false;
                    self.peers.iter_mut().for_each(|p| p.busy = false);
                }
                continue;
            }
            if !self.loaded {
                match self.load().await {
                    Ok(()) => self.loaded = true,
                    Err(e) => {
                        if !failing {
                            tracing::error!(error = %e, "cannot read the log's witnessing record");
                        }
                        failing = true;
                        continue;
                    }
                }
            }
            changed |= self.advance();
            self.dirty |= changed;
            if self.dirty && (self.urgent || self.saved_at.elapsed() >= SAVE_EVERY) {
                match self.save().await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("this node writes the log's witnessing record again");
                    }
                    Ok(()) => {}
                    Err(e) => {
                        if !failing {
                            tracing::error!(error = %e, "cannot write the log's witnessing record");
                        }
                        failing = true;
                        // Tried again after SAVE_EVERY, not at every tick.
                        (self.urgent, self.saved_at) = (false, Instant::now());
                    }
                }
            }
            self.submit_to_free(&mut inflight);
        }
    }

    /// Reads the record another node (or this one, before a restart) left.
    async fn load(&mut self) -> Result<(), RecordError> {
        let store = self.store.clone();
        let (mut record, raw) = tokio::task::spawn_blocking(move || Record::load(store.as_ref()))
            .await
            .map_err(|e| RecordError::Corrupt(format!("the read failed: {e}")))??;
        let names: Vec<&str> = self.peers.iter().map(|p| p.name.as_str()).collect();
        record.keep_only(&names);
        self.record = record;
        self.raw = raw;
        self.collecting_since = Instant::now();
        self.target_published = Instant::now();
        self.first_unwitnessed = None;
        for peer in &mut self.peers {
            peer.next_at = Instant::now();
            peer.failures = 0;
        }
        if let Some(w) = &self.record.witnessed {
            self.metrics.witnessed(w.size);
        }
        Ok(())
    }

    /// Writes the record; on a lost swap keeps whichever witnessed checkpoint is newer.
    async fn save(&mut self) -> Result<(), RecordError> {
        let (store, mut record, expected) = (self.store.clone(), self.record.clone(), self.raw.clone());
        let (record, raw) = tokio::task::spawn_blocking(move || {
            let raw = record.save(store.as_ref(), expected, |theirs, ours| {
                let newer = match (&theirs.witnessed, &ours.witnessed) {
                    (Some(t), Some(o)) if t.size > o.size => theirs.witnessed.clone(),
                    _ => ours.witnessed.clone(),
                };
                *theirs = Record { witnessed: newer, ..ours.clone() };
            })?;
            Ok::<_, RecordError>((record, raw))
        })
        .await
        .map_err(|e| RecordError::Corrupt(format!("the write failed: {e}")))??;
        self.view.set(raw.clone(), &record);
        self.record = record;
        self.raw = Some(raw);
        (self.dirty, self.urgent, self.saved_at) = (false, false, Instant::now());
        Ok(())
    }

    /// Chooses the checkpoint to collect cosignatures for: the newest published, once
    /// the one being collected met the quorum (or was given up). Whether it changed.
    fn advance(&mut self) -> bool {
        let latest = self.log.latest_checkpoint();
        let size = latest.checkpoint.size;
        // An empty tree proves nothing: nothing to witness yet.
        if size == 0 {
            return false;
        }
        let published_at = Instant::now().checked_sub(self.log.checkpoint_age()).unwrap_or_else(Instant::now);
        let witnessed = self.record.witnessed.as_ref().map_or(0, |w| w.size);
        if size > witnessed && self.first_unwitnessed.is_none() {
            self.first_unwitnessed = Some((size, published_at));
        }
        let move_on = match &self.record.collecting {
            None => true,
            Some(c) if c.size > size => {
                tracing::error!(collecting = c.size, published = size, "the witnessing record holds a checkpoint larger than the log's: the log went back (restored from an older backup?)");
                true
            }
            Some(c) => size > c.size && (c.size <= witnessed || self.collecting_since.elapsed() >= MOVE_ON),
        };
        if !move_on {
            return false;
        }
        self.record.collecting =
            Some(Collecting { size, note: latest.note.to_string(), cosignatures: Default::default() });
        self.collecting_since = Instant::now();
        self.target_published = published_at;
        true
    }

    /// Starts a submission to every witness that is free, due, and has not cosigned the
    /// checkpoint being collected.
    fn submit_to_free(&mut self, inflight: &mut JoinSet<Submitted>) {
        let Some(c) = &self.record.collecting else { return };
        let now = Instant::now();
        for (i, peer) in self.peers.iter_mut().enumerate() {
            if peer.busy || now < peer.next_at || c.cosignatures.contains_key(&peer.name) {
                continue;
            }
            let old = self.record.acknowledged.get(&peer.name).copied().unwrap_or(0);
            // It holds a larger tree already: it waits for the next checkpoint.
            if old > c.size {
                continue;
            }
            peer.busy = true;
            peer.next_at = now + MIN_INTERVAL;
            let (log, client, url, size, note) =
                (self.log.clone(), self.client.clone(), peer.url.clone(), c.size, c.note.clone());
            inflight.spawn(async move {
                let answer = match proof(&log, old, size).await {
                    Ok(proof) => submit::submit(&client, &url, submit::body(old, &proof, &note)).await,
                    Err(e) => Answer::Refused(Refusal::Proof(e)),
                };
                Submitted { peer: i, old, size, note, answer }
            });
        }
    }

    /// Takes a witness's answer in. Whether the record changed.
    fn answered(&mut self, s: Submitted) -> bool {
        let Some(peer) = self.peers.get_mut(s.peer) else { return false };
        peer.busy = false;
        let name = peer.name.clone();
        match s.answer {
            Answer::Cosigned(lines) => {
                let body = &s.note[..s.note.find("\n\n").map_or(s.note.len(), |i| i + 1)];
                let mut last_error = None;
                let good = lines.into_iter().find(|line| match peer.verifier.verify_line(body, line) {
                    Ok(_) => true,
                    Err(e) => {
                        last_error = Some(e.to_string());
                        false
                    }
                });
                let Some(line) = good else {
                    let why = last_error.unwrap_or_else(|| "no lines".into());
                    self.refused(s.peer, Refusal::BadCosignature(why));
                    return false;
                };
                peer.failures = 0;
                self.record.acknowledged.insert(name.clone(), s.size);
                self.metrics.cosigned(&name, s.size, self.target_published.elapsed());
                tracing::debug!(witness = %name, size = s.size, "cosigned");
                if let Some(c) = self.record.collecting.as_mut().filter(|c| c.size == s.size && c.note == s.note) {
                    c.cosignatures.insert(name, line);
                    self.check_quorum();
                }
                true
            }
            Answer::Holds(held) => {
                let published = self.log.published_size();
                if held > published {
                    self.refused(s.peer, Refusal::AheadOfLog { held, published });
                    false
                } else if held == s.old {
                    // It says it holds what it was told it holds: a broken witness.
                    let why = format!("409 naming the size {held} the request gave as old");
                    self.refused(s.peer, Refusal::Status(409, why));
                    false
                } else {
                    tracing::debug!(witness = %name, held, "the witness holds another size: asking again with its proof");
                    peer.next_at = Instant::now();
                    self.record.acknowledged.insert(name, held);
                    true
                }
            }
            Answer::Refused(refusal) => {
                self.refused(s.peer, refusal);
                false
            }
        }
    }

    /// Counts a refusal, logs it, and backs the witness off.
    fn refused(&mut self, i: usize, refusal: Refusal) {
        let Some(peer) = self.peers.get_mut(i) else { return };
        peer.failures = peer.failures.saturating_add(1);
        let doubled = FIRST_BACKOFF.saturating_mul(1u32 << peer.failures.saturating_sub(1).min(16));
        let mut wait = doubled.min(MAX_BACKOFF);
        if let Refusal::RateLimited(Some(asked)) = &refusal {
            wait = wait.max(*asked).min(MAX_BACKOFF);
        }
        peer.next_at = Instant::now() + wait;
        self.metrics.refused(&peer.name, refusal.kind());
        match &refusal {
            Refusal::AheadOfLog { .. } => tracing::error!(
                witness = %peer.name, url = %peer.url, kind = refusal.kind(), retry_in_ms = wait.as_millis() as u64,
                "a witness holds a larger tree than this log: the log went back (restored from an older backup?) \
                 or the witness saw a fork: {refusal}"
            ),
            _ => tracing::warn!(
                witness = %peer.name, url = %peer.url, kind = refusal.kind(), retry_in_ms = wait.as_millis() as u64,
                "a witness did not cosign this log's checkpoint: {refusal}"
            ),
        }
    }

    /// Makes the checkpoint being collected the witnessed one if its cosignatures meet
    /// the quorum (again, with more of them, once it did).
    fn check_quorum(&mut self) {
        let Some(c) = &self.record.collecting else { return };
        let flags: Vec<bool> = self.policy.witnesses().iter().map(|w| c.cosignatures.contains_key(&w.name)).collect();
        if !self.policy.quorum_met(&flags) {
            return;
        }
        let witnessed = self.record.witnessed.as_ref();
        if witnessed.is_some_and(|w| w.size > c.size) {
            return;
        }
        let first = witnessed.is_none_or(|w| w.size < c.size);
        // In the policy's order, so that every node writes the same note.
        let names: Vec<String> = self
            .policy
            .witnesses()
            .iter()
            .filter(|w| c.cosignatures.contains_key(&w.name))
            .map(|w| w.name.clone())
            .collect();
        let note = with_cosignatures(&c.note, names.iter().filter_map(|n| c.cosignatures.get(n)));
        let size = c.size;
        self.record.witnessed = Some(WitnessedNote { size, note, cosigned_by: names });
        self.urgent = true;
        self.metrics.witnessed(size);
        if first {
            tracing::debug!(size, "a checkpoint met the witness quorum");
            if let Some((_, at)) = self.first_unwitnessed.filter(|(seen, _)| *seen <= size) {
                self.metrics.witnessed_lag(at.elapsed());
                self.first_unwitnessed = None;
            }
        }
    }
}

/// The consistency proof from `old` to `size` (none from an empty tree or to the same).
async fn proof(log: &Log, old: u64, size: u64) -> Result<Vec<crate::Sha256Digest>, String> {
    if old == 0 || old >= size {
        return Ok(Vec::new());
    }
    let log = log.clone();
    tokio::task::spawn_blocking(move || log.consistency_proof(old, size))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
