//! The witnessed checkpoint as the service serves it: `GET /tlog/checkpoint` (the newest
//! checkpoint whose cosignatures meet the witness policy's quorum, where a policy is set),
//! `GET /v1/log/witnessed`, and receipts proven against it
//! (`GET /v1/stamps/{id}?witnessed=true`).

use serde::Serialize;

use super::Service;
use crate::error::ApiError;
use crate::statement::receipt::{Receipt, StampId};

/// `GET /v1/log/witnessed`.
#[derive(Debug, Serialize)]
pub struct WitnessedCheckpoint {
    /// The log's signed note with the witnesses' cosignature lines after its signature.
    pub checkpoint: String,
    pub tree_size: u64,
    /// The policy names of the witnesses whose cosignature it carries.
    pub cosigned_by: Vec<String>,
    /// The policy's quorum, in words.
    pub quorum: String,
}

impl Service {
    /// The note `GET /tlog/checkpoint` serves (blocking: may read the store). Without a
    /// witness policy, the newest checkpoint. With one, the newest witnessed checkpoint:
    /// clients that require cosignatures can only use a cosigned one, and it is what
    /// witnesses have checked; until a first checkpoint met the quorum, the newest
    /// unwitnessed one (a new log is readable from its first stamp, and a client that
    /// requires cosignatures refuses it as it would refuse no answer).
    ///
    /// # Errors
    /// When the witnessing record cannot be read.
    pub fn served_checkpoint(&self) -> Result<String, ApiError> {
        match self.witnessed_now()? {
            Some(w) => Ok(w.checkpoint.note.to_string()),
            None => Ok(self.checkpoint_note()),
        }
    }

    /// Whether `GET /tlog/checkpoint` may read the store: only with a witness policy.
    pub fn serves_witnessed(&self) -> bool {
        self.witnessed.is_some()
    }

    fn witnessed_now(&self) -> Result<Option<std::sync::Arc<super::witnessing::Witnessed>>, ApiError> {
        match &self.witnessed {
            Some(view) => Ok(view.get()?),
            None => Ok(None),
        }
    }

    /// The newest witnessed checkpoint (blocking).
    ///
    /// # Errors
    /// `404` without a witness policy, or before a checkpoint met its quorum.
    pub fn witnessed_checkpoint(&self) -> Result<WitnessedCheckpoint, ApiError> {
        let Some(policy) = self.witness_policy() else {
            return Err(ApiError::NotFound("this log has no witness policy (serve --witness-policy)".into()));
        };
        let Some(w) = self.witnessed_now()? else {
            return Err(ApiError::NotFound(format!(
                "no checkpoint has met the witness quorum ({}) yet",
                policy.describe_quorum()
            )));
        };
        Ok(WitnessedCheckpoint {
            checkpoint: w.checkpoint.note.to_string(),
            tree_size: w.checkpoint.checkpoint.size,
            cosigned_by: w.cosigned_by.clone(),
            quorum: policy.describe_quorum(),
        })
    }

    /// The receipt of stamp `id` proven against the newest witnessed checkpoint, whose
    /// note (with its cosignatures) it carries (blocking).
    ///
    /// # Errors
    /// `404` when no stamp has this id, or the log has no witness policy; `409` while no
    /// witnessed checkpoint covers the stamp yet (a second or so after it was stamped).
    pub fn witnessed_receipt(&self, id: &StampId) -> Result<Receipt, ApiError> {
        if self.witness_policy().is_none() {
            return Err(ApiError::NotFound(
                "this log has no witness policy (serve --witness-policy): ask without witnessed=true".into(),
            ));
        }
        let index = self.published_index(id, &self.log.latest_checkpoint())?;
        let witnessed = self.witnessed_now()?;
        match witnessed {
            Some(w) if index.0 < w.checkpoint.checkpoint.size => self.receipt_at(index, &w.checkpoint),
            w => Err(ApiError::Conflict(format!(
                "stamp {id} (log index {index}) is not covered by a witnessed checkpoint yet (the newest covers {} \
                 entries); witnesses cosign a new checkpoint within a few seconds: ask again",
                w.map_or(0, |w| w.checkpoint.checkpoint.size)
            ))),
        }
    }
}
