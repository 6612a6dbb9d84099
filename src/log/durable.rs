//! The syncer: makes committed batches durable, publishes their checkpoint and answers
//! their stamps, for a backend whose commits are visible at once but durable only after
//! a sync ([`Committed::NeedsSync`](crate::log::Committed)).
//!
//! Why a thread of its own: building a batch costs CPU, making it durable costs waiting
//! on the disk. Pipelined, the integration loop builds and commits batch N+1 while batch
//! N is being synced, and one sync covers every batch committed before it started. A
//! stamp is still acknowledged only after a sync that covers it returned, and a
//! checkpoint is published (to readers and receipts) only for a synced tree.

use std::sync::Arc;
use std::time::Instant;

use crate::log::job::{acknowledge, fail, Job};
use crate::log::publish::{LogObserver, Publisher, SignedCheckpoint};
use crate::log::store::{LogStore, StoreError};

/// Committed batches waiting for the syncer; the loop waits (backpressure) past this.
pub(crate) const SYNC_QUEUE: usize = 16;

/// A batch committed to the store, not yet durable.
pub(crate) struct Written {
    pub(crate) jobs: Vec<Job>,
    pub(crate) size_before: u64,
    pub(crate) checkpoint: SignedCheckpoint,
}

pub(crate) struct Syncer {
    pub(crate) store: Arc<dyn LogStore>,
    pub(crate) publisher: Publisher,
    pub(crate) observer: Arc<dyn LogObserver>,
}

impl Syncer {
    pub(crate) fn run(self, rx: std::sync::mpsc::Receiver<Written>) {
        while let Ok(first) = rx.recv() {
            // Every batch committed by now is covered by the one sync below.
            let mut batches = vec![first];
            batches.extend(rx.try_iter());
            let Some(newest) = batches.last().map(|b| b.checkpoint.clone()) else { continue };
            let started = Instant::now();
            match self.sync(&newest) {
                Ok(()) => {
                    self.observer.synced(batches.iter().map(|b| b.jobs.len()).sum(), started.elapsed());
                    self.publisher.publish(newest);
                    for b in batches {
                        acknowledge(b.jobs, b.size_before, &b.checkpoint);
                    }
                }
                Err(e) => {
                    let count: usize = batches.iter().map(|b| b.jobs.len()).sum();
                    tracing::error!(error = %e, stamps = count, "log sync failed; no stamp of these batches was acknowledged");
                    for b in batches {
                        fail(b.jobs, &e.to_string());
                    }
                }
            }
        }
        tracing::info!("log syncer stopped");
    }

    fn sync(&self, newest: &SignedCheckpoint) -> Result<(), StoreError> {
        self.store.sync()?;
        // After the sync, so a stored checkpoint never describes a tree that is not durable.
        self.store.set_latest_checkpoint(&newest.note)
    }
}
