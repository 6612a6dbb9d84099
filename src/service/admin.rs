//! Who is asking (bearer tokens), and the admin API: issuer tokens and the erasure
//! register.

use super::Service;
use crate::error::ApiError;
use crate::keys::RotationReport;
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

    /// Retires the statement key in use and signs with a new one from now on, without a
    /// restart (blocking: writes the key files). See `service::signing` for why this is
    /// the only safe way to rotate the keys of a running service.
    ///
    /// # Errors
    /// When the keys directory cannot be written; nothing changed then.
    pub fn rotate_statement_key(&self) -> Result<RotationReport, ApiError> {
        let report = self.signing.rotate().map_err(ApiError::internal)?;
        for (path, e) in &report.not_removed {
            tracing::warn!(path = %path.display(), error = %e, "a retired private key file could not be removed: delete it by hand");
        }
        Ok(report)
    }

    /// The erasure register (blocking).
    ///
    /// # Errors
    /// On storage failure.
    pub fn erasures(&self) -> Result<Vec<ErasureRecord>, ApiError> {
        self.erasures.list().map_err(ApiError::from)
    }
}
