//! A stamp waiting for the log ([`Job`]), and how it is answered: with where its leaf is
//! and a checkpoint that covers it ([`Appended`]), once that checkpoint is durable.

use tokio::sync::oneshot;

use crate::log::publish::SignedCheckpoint;
use crate::log::store::NewLeaf;
use crate::log::LogIndex;

/// The result of one append: where the leaf is, and a checkpoint that includes it.
#[derive(Debug, Clone)]
pub struct Appended {
    pub index: LogIndex,
    pub checkpoint: SignedCheckpoint,
}

/// A leaf waiting to be appended, and who waits for the answer.
pub(crate) struct Job {
    pub(crate) leaf: NewLeaf,
    pub(crate) reply: oneshot::Sender<Result<Appended, String>>,
}

impl Job {
    /// Answers the caller: `Ok` only once a durable checkpoint covers the leaf. The
    /// caller may have gone away (client disconnected); the leaf is in the log regardless.
    pub(crate) fn answer(self, result: Result<Appended, String>) {
        let _ = self.reply.send(result);
    }
}

/// Answers every job with `why`.
pub(crate) fn fail(jobs: impl IntoIterator<Item = Job>, why: &str) {
    for job in jobs {
        job.answer(Err(why.to_owned()));
    }
}

/// Answers the jobs of a batch that starts at `size_before` with `checkpoint`.
pub(crate) fn acknowledge(jobs: Vec<Job>, size_before: u64, checkpoint: &SignedCheckpoint) {
    for (offset, job) in jobs.into_iter().enumerate() {
        job.answer(Ok(Appended { index: LogIndex(size_before + offset as u64), checkpoint: checkpoint.clone() }));
    }
}
