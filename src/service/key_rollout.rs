//! Runs the log's statement-key rollout (`keys::rollout`) on this node: once a second,
//! and whenever a rotation asks, it reads the log's record of its keys, follows it (picks
//! up a staged key, switches to the active one), writes its report, moves the rotation
//! on where it can (activates a key every live node holds, retires the old key once no
//! node signs with it) and swaps the record back, all in one compare-and-swap so that
//! nodes never overwrite each other. A node signs only while its last report is fresher
//! than the lease (`service::signing`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::signing::Signing;
use crate::error::ApiError;
use crate::keys::{KeyId, NodeReport, PublicKeyInfo, Rollout, RolloutError, GONE_AFTER};
use crate::log::{LogStore, StoreError};
use crate::memo::lock;
use crate::time::Timestamp;

/// The store's setting that holds the record.
pub(super) const RECORD: &str = "statement-keys";
/// How often a node reads the record and reports: well inside the lease.
const EVERY: Duration = Duration::from_secs(1);
/// Swaps lost to other nodes before a round gives up (it runs again a second later).
const SWAP_TRIES: usize = 50;
/// How long a rotation asked of this node waits for every node to switch to the new key.
const ROTATE_WAIT: Duration = Duration::from_secs(10);
/// How long a stopping node waits for its last report.
const LEAVE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub(super) enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log's record of its statement keys is damaged: {0}")]
    Corrupt(String),
    #[error("the log's record of its statement keys changed under this node {SWAP_TRIES} times in a row")]
    Busy,
    #[error(transparent)]
    Rollout(#[from] RolloutError),
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(e) => e.into(),
            SyncError::Rollout(e) => ApiError::Conflict(e.to_string()),
            e @ (SyncError::Busy | SyncError::Corrupt(_)) => ApiError::Unavailable(e.to_string()),
        }
    }
}

/// This node's part in the rollout.
pub(super) struct KeySync {
    store: Arc<dyn LogStore>,
    node: String,
    signing: Arc<Signing>,
    /// Each node's last beat and when this node first saw it, on this node's clock: a
    /// beat unchanged for `GONE_AFTER` is a node that stopped.
    seen: Mutex<HashMap<String, (u64, Instant)>>,
}

/// What a rotation asked of this node achieved.
#[derive(Debug, Serialize)]
pub(crate) struct RotationStatus {
    /// `active`: every node signs with the new key and the old one is retired;
    /// `retiring`: the new key is active, and the old one's retirement waits for nodes
    /// still switching; `staged`: the new key waits for the nodes named in `waiting_for`.
    pub(crate) state: &'static str,
    /// The new key.
    pub(crate) active: PublicKeyInfo,
    /// The key it replaces, with its retirement date once it is known.
    pub(crate) retired: PublicKeyInfo,
    /// Live nodes that do not hold the new key yet.
    pub(crate) waiting_for: Vec<String>,
}

impl KeySync {
    /// Joins the rollout: reads (or creates) the record, adopts a rotation made offline
    /// in this node's keys directory, and reports. Called once before the node serves.
    ///
    /// # Errors
    /// When the store cannot be read or written, or the record is damaged.
    pub(super) fn join(store: Arc<dyn LogStore>, node: String, signing: Arc<Signing>) -> Result<Self, SyncError> {
        let sync = Self { store, node, signing, seen: Mutex::default() };
        let ours = sync.signing.first_rollout();
        sync.step(|r| {
            if r.adopt_offline_rotation(&ours.keys, &ours.active) {
                tracing::info!(active = %ours.active, "adopted the statement key rotated offline in this node's keys directory");
            }
            Ok(())
        })?;
        Ok(sync)
    }

    /// One round (see the module docs), with `change` applied to the record first.
    ///
    /// # Errors
    /// `change`'s error; storage errors; [`SyncError::Busy`] when other nodes kept
    /// swapping the record first.
    pub(super) fn step(&self, change: impl Fn(&mut Rollout) -> Result<(), RolloutError>) -> Result<Rollout, SyncError> {
        for _ in 0..SWAP_TRIES {
            let (reached, at) = (Instant::now(), Timestamp::now());
            let raw = self.store.meta(RECORD)?;
            let mut record = match &raw {
                Some(bytes) => serde_json::from_slice(bytes).map_err(|e| SyncError::Corrupt(e.to_string()))?,
                None => self.signing.first_rollout(),
            };
            self.observe(&record, reached);
            change(&mut record)?;
            self.report(&mut record, at);
            let gone = |name: &str, report: &NodeReport| self.is_gone(name, report, reached);
            if record.staged.is_some() && record.waiting_for(&gone).is_empty() && record.activate() {
                tracing::info!(active = %record.active, "every live node holds the new statement key: it is active");
                self.report(&mut record, at);
            }
            let retired = record.retire(&gone, at);
            record.forget_departed(&gone);
            let text = serde_json::to_vec(&record).map_err(|e| SyncError::Corrupt(e.to_string()))?;
            if self.store.swap_meta(RECORD, raw.as_deref(), &text)? {
                self.signing.renew(reached);
                if let Some((old, retired_at)) = retired {
                    tracing::info!(kid = %old, retired_at = %retired_at.to_rfc3339(), "no node signs with the old statement key any more: it is retired");
                    // Only once the record holds it: following a retirement forgets when
                    // this node last signed with the old key, which a lost swap still needs.
                    self.signing.follow(&record);
                }
                return Ok(record);
            }
        }
        Err(SyncError::Busy)
    }

    fn report(&self, record: &mut Rollout, at: Timestamp) {
        let (following, last_signed) = self.signing.follow(record);
        let report = NodeReport {
            holds: following.holds,
            signs_with: following.signs_with,
            last_signed,
            beat: 0,
            at,
            left: false,
        };
        record.report(&self.node, report);
    }

    /// Remembers when each node's beat changed, as this node sees it.
    fn observe(&self, record: &Rollout, now: Instant) {
        let mut seen = lock(&self.seen);
        seen.retain(|name, _| record.nodes.contains_key(name));
        for (name, report) in &record.nodes {
            match seen.get(name) {
                Some((beat, _)) if *beat == report.beat => {}
                _ => {
                    seen.insert(name.clone(), (report.beat, now));
                }
            }
        }
    }

    fn is_gone(&self, name: &str, report: &NodeReport, now: Instant) -> bool {
        if name == self.node {
            return false;
        }
        report.left || lock(&self.seen).get(name).is_some_and(|(_, since)| now.duration_since(*since) >= GONE_AFTER)
    }

    /// Rotates the log's statement key through this node: stages a new key (or, with
    /// `force`, activates the one already staged), activates it when every live node holds
    /// it (at once with `force`), and waits a while for the old key's retirement.
    ///
    /// # Errors
    /// `409` while another rotation is in progress; storage and key file failures.
    pub(super) fn rotate(&self, force: bool) -> Result<RotationStatus, ApiError> {
        let now = self.step(|_| Ok(()))?;
        let kid = match (&now.staged, &now.retiring) {
            (Some(staged), _) if force => staged.clone(),
            (None, None) => {
                let (info, certificate) = self.signing.stage().map_err(ApiError::internal)?;
                let kid = info.kid.clone();
                // A rotation that lost the race to another leaves an unused key file.
                self.step(|r| r.stage(info.clone(), certificate.clone()))?;
                tracing::info!(kid = %kid, "staged a new statement key for every node to pick up");
                kid
            }
            (Some(busy), _) | (None, Some(busy)) => {
                return Err(SyncError::Rollout(RolloutError::InProgress(busy.clone())).into())
            }
        };
        if force {
            self.step(|r| {
                if r.staged.as_ref() == Some(&kid) && r.activate() {
                    tracing::warn!(kid = %kid, "the new statement key was activated by force: nodes without it refuse to sign");
                }
                Ok(())
            })?;
        }
        let deadline = Instant::now() + ROTATE_WAIT;
        loop {
            let record = self.step(|_| Ok(()))?;
            let done = record.active == kid && record.retiring.is_none();
            if done || Instant::now() >= deadline {
                return self.status(&record, &kid, &now.active);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status(&self, record: &Rollout, kid: &KeyId, old: &KeyId) -> Result<RotationStatus, ApiError> {
        let state = if record.staged.as_ref() == Some(kid) {
            "staged"
        } else if record.retiring.is_some() {
            "retiring"
        } else {
            "active"
        };
        let reached = Instant::now();
        let gone = |name: &str, report: &NodeReport| self.is_gone(name, report, reached);
        let info = |k: &KeyId| {
            record.key(k).cloned().ok_or_else(|| ApiError::internal(SyncError::Corrupt(format!("key {k} vanished"))))
        };
        Ok(RotationStatus { state, active: info(kid)?, retired: info(old)?, waiting_for: record.waiting_for(&gone) })
    }

    /// Says in the record that this node stops: it signs no more, and no rotation waits
    /// for it.
    pub(super) fn leave(&self) {
        self.signing.stop();
        let node = self.node.clone();
        for _ in 0..SWAP_TRIES {
            let Ok(Some(raw)) = self.store.meta(RECORD) else { return };
            let Ok(mut record) = serde_json::from_slice::<Rollout>(&raw) else { return };
            record.leave(&node);
            let Ok(text) = serde_json::to_vec(&record) else { return };
            match self.store.swap_meta(RECORD, Some(&raw), &text) {
                Ok(true) | Err(_) => return,
                Ok(false) => {}
            }
        }
    }
}

/// The thread that runs a round every second; stopped (and the node's leaving recorded)
/// when dropped.
pub(super) struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Behind a lock only so that the service stays `Sync`.
    done: Mutex<mpsc::Receiver<()>>,
}

impl Follower {
    pub(super) fn start(sync: Arc<KeySync>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tell, done) = mpsc::channel();
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("key-rollout".into()).spawn(move || {
            let mut failing = false;
            while !stopping.load(Ordering::Acquire) {
                std::thread::park_timeout(EVERY);
                if stopping.load(Ordering::Acquire) {
                    break;
                }
                match sync.step(|_| Ok(())) {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("this node reaches the log's record of its statement keys again");
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::error!(error = %e, "this node cannot reach the log's record of its statement keys: it stops signing when its lease runs out");
                    }
                    Err(_) => {}
                }
            }
            sync.leave();
            let _ = tell.send(());
        })?;
        Ok(Self { stop, thread: Some(thread), done: Mutex::new(done) })
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // Bounded: a store that does not answer must not hold the shutdown.
            if lock(&self.done).recv_timeout(LEAVE_WAIT).is_ok() {
                let _ = thread.join();
            }
        }
    }
}
