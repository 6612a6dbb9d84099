//! Who is asking (bearer tokens), and the admin API: issuer tokens and the erasure
//! register.

use super::RotationStatus;
use super::Service;
use crate::error::ApiError;
use crate::records::erasure::ErasureRecord;
use crate::records::tokens::{NewToken, Principal, TokenId, TokenInfo};
use crate::statement::{pii, IssuerName};

impl Service {
    /// Who an `Authorization: Bearer` header value speaks for.
    ///
    /// # Errors
    /// `401` when the header is missing, malformed, or the token is unknown or revoked.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let header = authorization.ok_or_else(|| {
            ApiError::Unauthorized("stamping needs an issuer token: Authorization: Bearer <token>".into())
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be: Bearer <token>".into()))?;
        self.tokens
            .authenticate(token)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::Unauthorized("the issuer token is not valid".into()))
    }

    /// Like [`Service::authenticate`], for admin-only operations.
    ///
    /// # Errors
    /// `401` as there; `403` for a valid token that is not an admin token.
    pub async fn authenticate_admin(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let who = self.authenticate(authorization).await?;
        if !who.admin {
            return Err(ApiError::Forbidden("this needs an admin token".into()));
        }
        Ok(who)
    }

    /// Creates a token for `issuer` (blocking); the secret exists only in the answer.
    ///
    /// The issuer name goes into every statement the token stamps, and so into the
    /// public log for good: it gets the personal-data guard. An organisation's name never
    /// needs an e-mail address or a phone number; a sole trader's own name stays
    /// allowed, since the issuer is who vouches for the stamps. The guard applies only
    /// here, not when a name is read back (a token store or a receipt), so nothing
    /// created before it stops working.
    ///
    /// # Errors
    /// `422 personal_data` naming `issuer`; storage failures.
    pub fn create_token(&self, issuer: IssuerName, admin: bool) -> Result<NewToken, ApiError> {
        pii::check("issuer", issuer.as_str())?;
        self.tokens.create(issuer, admin).map_err(ApiError::from)
    }

    /// Every token, never the secrets (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, ApiError> {
        self.tokens.list().map_err(ApiError::from)
    }

    /// Revokes token `id` (blocking).
    ///
    /// # Errors
    /// `404` when no token has this id; storage failures.
    pub fn revoke_token(&self, id: &TokenId) -> Result<TokenInfo, ApiError> {
        self.tokens
            .revoke(id)
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no token has id {id}")))
    }

    /// Rotates the log's statement key through this node, without a restart and on every
    /// node of the log (blocking: writes a key file, and waits up to a few seconds for
    /// the other nodes): see `keys::rollout`. With `force`, the new key (or the one a
    /// rotation staged earlier) is activated even if some nodes do not hold it yet; they
    /// refuse to sign until they do.
    ///
    /// # Errors
    /// `409` while another rotation is in progress; when the keys directory or the store
    /// cannot be written.
    pub(crate) fn rotate_statement_key(&self, force: bool) -> Result<RotationStatus, ApiError> {
        self.key_sync.rotate(force)
    }

    /// The erasure register (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn erasures(&self) -> Result<Vec<ErasureRecord>, ApiError> {
        self.erasures.list().map_err(ApiError::from)
    }
}
