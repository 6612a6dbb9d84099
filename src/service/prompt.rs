//! The prompt link of a stamp: checking a prompt against its commitment, and erasing
//! the link for good (crypto-shredding, docs/contract.md §4).

use serde::{Deserialize, Serialize};

use super::{limit, Service};
use crate::error::ApiError;
use crate::records::erasure::ErasureRecord;
use crate::records::tokens::Principal;
use crate::statement::receipt::StampId;
use crate::statement::request::prompt_commitment;
use crate::time::Timestamp;

/// The answer to a prompt check.
#[derive(Debug, Serialize, Deserialize)]
pub struct PromptCheck {
    pub stamp_id: StampId,
    pub matches: bool,
    pub message: String,
}

/// The answer to an erasure request.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErasureOutcome {
    pub stamp_id: StampId,
    /// False when there was nothing left to erase (erased before).
    pub erased: bool,
    pub record: Option<ErasureRecord>,
    pub message: String,
}

impl Service {
    /// Erases the link between stamp `id` and its prompt by destroying the salt
    /// (crypto-shredding). The statement, its commitment, the log and every proof stay
    /// valid; no one can confirm a prompt for it afterwards. Blocking.
    ///
    /// A stamp made without a prompt has no link to erase: the answer says so with
    /// `erased: false`, as for a link erased before. Either way, what the caller asked
    /// for holds: no prompt can be confirmed for the stamp.
    ///
    /// # Errors
    /// `404` for an unknown stamp; `403` when `who` is neither the stamp's issuer nor
    /// an admin.
    pub fn erase_prompt(&self, who: &Principal, id: &StampId) -> Result<ErasureOutcome, ApiError> {
        let signed = self.signed_statement(id)?;
        if !who.admin && signed.statement.issuer != who.issuer {
            return Err(ApiError::Forbidden(format!(
                "stamp {id} was issued by another issuer; only its issuer or an admin may erase it"
            )));
        }
        if signed.statement.prompt_commitment.is_none() {
            return Ok(ErasureOutcome {
                stamp_id: *id,
                erased: false,
                record: None,
                message: "the stamp was made without a prompt: there is no prompt link to erase".into(),
            });
        }
        let erased = self.log.erase_prompt_salt(&id.0).map_err(ApiError::from)?;
        if !erased {
            let record = self.erasures.find(id).map_err(ApiError::from)?;
            return Ok(ErasureOutcome {
                stamp_id: *id,
                erased: false,
                record,
                message: "the prompt link was already erased".into(),
            });
        }
        let record = ErasureRecord {
            stamp_id: *id,
            erased_at: Timestamp::now(),
            erased_by: who.issuer.clone(),
            token_id: who.token_id.clone(),
            admin: who.admin,
        };
        self.erasures.record(&record).map_err(ApiError::from)?;
        self.metrics.erased();
        tracing::info!(stamp = %id, by = %who.issuer, token = %who.token_id, "prompt link erased");
        Ok(ErasureOutcome {
            stamp_id: *id,
            erased: true,
            record: Some(record),
            message: "the prompt salt was destroyed: no prompt can be confirmed for this stamp any more".into(),
        })
    }

    /// Spends one prompt check of `client` (the caller's address), before
    /// [`Service::check_prompt`]: each check is an online guess at a prompt.
    ///
    /// # Errors
    /// `429` past the rate.
    pub async fn spend_prompt_check(&self, client: &str) -> Result<(), ApiError> {
        limit(&self.prompt_limiter, client).await
    }

    /// Whether `prompt` is the prompt stamp `id` committed to (blocking; spend a check
    /// with [`Service::spend_prompt_check`] first). No prompt matches a stamp made
    /// without one, and the message says why.
    ///
    /// # Errors
    /// `404` unknown stamp; `410` once erased.
    pub fn check_prompt(&self, id: &StampId, prompt: &str) -> Result<PromptCheck, ApiError> {
        let signed = self.signed_statement(id)?;
        let Some(commitment) = signed.statement.prompt_commitment else {
            return Ok(PromptCheck {
                stamp_id: *id,
                matches: false,
                message: "the stamp was made without a prompt: no prompt matches it".into(),
            });
        };
        let Some(salt) = self.log.prompt_salt(&id.0).map_err(ApiError::from)? else {
            return Err(ApiError::Gone(format!(
                "the prompt link of stamp {id} was erased: no prompt can be confirmed"
            )));
        };
        // `Sha256Digest` compares in constant time.
        let matches = prompt_commitment(&salt, prompt) == commitment;
        let message = if matches {
            "the prompt matches the stamp's commitment".to_owned()
        } else {
            "the prompt does not match the stamp's commitment".to_owned()
        };
        Ok(PromptCheck { stamp_id: *id, matches, message })
    }
}
