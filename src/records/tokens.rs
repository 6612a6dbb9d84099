//! Issuer tokens: bearer secrets that let a content pipeline stamp in an issuer's name.
//!
//! Only SHA-256 of a token is stored, keyed by that hash: a leaked database does not
//! leak usable tokens, and a lookup by hash reveals nothing about a near-miss token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::log::StoreError;
use crate::statement::IssuerName;
use crate::storage::TokenTable;
use crate::time::Timestamp;
use crate::Sha256Digest;

/// Every token starts with this, so secret scanners and people can recognise one.
pub(crate) const TOKEN_PREFIX: &str = "aiprov_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored token record is damaged: {0}")]
    Corrupt(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// What is stored for each token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub issuer: IssuerName,
    /// Admin tokens may manage tokens, erase any stamp's prompt link and export the
    /// erasure register; they stamp like issuer tokens.
    #[serde(default)]
    pub admin: bool,
    pub created_at: Timestamp,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// The public id of a token: the first 16 hex digits of its hash. Safe to show, log and
/// use to revoke; it cannot be turned back into the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(String);

impl TokenId {
    fn of(hash: &Sha256Digest) -> Self {
        Self(hash.to_hex()[..16].to_owned())
    }

    /// # Errors
    /// Unless `s` is 16 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err("a token id is 16 lowercase hex digits (see `aiprov token list`)".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: TokenId,
    pub issuer: IssuerName,
    pub admin: bool,
}

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: TokenId,
    #[serde(flatten)]
    pub record: TokenRecord,
}

/// A freshly created token: the only moment the secret exists outside its holder.
pub struct NewToken {
    pub secret: String,
    pub id: TokenId,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewToken({}, <redacted>)", self.id)
    }
}

/// Issuer tokens, in whichever table the backend keeps them.
#[derive(Clone)]
pub(crate) struct TokenStore {
    table: std::sync::Arc<dyn TokenTable>,
}

fn decode(value: &str) -> Result<TokenRecord, TokenError> {
    serde_json::from_str(value).map_err(|e| TokenError::Corrupt(e.to_string()))
}

fn encode(record: &TokenRecord) -> Result<String, TokenError> {
    serde_json::to_string(record).map_err(|e| TokenError::Corrupt(e.to_string()))
}

impl TokenStore {
    /// The tokens in `table`.
    pub(crate) fn on(table: std::sync::Arc<dyn TokenTable>) -> Self {
        Self { table }
    }

    /// Creates a token for `issuer` and stores its hash durably.
    ///
    /// # Errors
    /// On storage or randomness failure.
    pub(crate) fn create(&self, issuer: IssuerName, admin: bool) -> Result<NewToken, TokenError> {
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| TokenError::Random(e.to_string()))?;
        let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        let hash = Sha256Digest::of(secret.as_bytes());
        let record = TokenRecord { issuer, admin, created_at: Timestamp::now(), revoked_at: None };
        self.table.insert(&hash, encode(&record)?)?;
        Ok(NewToken { secret, id: TokenId::of(&hash) })
    }

    /// Who a valid, unrevoked token speaks for, or `None`. Reads the store every time, so
    /// a revocation takes effect on the very next request.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub(crate) async fn authenticate(&self, secret: &str) -> Result<Option<Principal>, TokenError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let id = Sha256Digest::of(secret.as_bytes());
        // Looked up by hash: any timing difference of the search can only tell an
        // attacker about a hash of their guess, never about a stored token.
        let Some(value) = self.table.get(&id).await? else { return Ok(None) };
        let record = decode(&value)?;
        Ok(record.revoked_at.is_none().then(|| Principal {
            token_id: TokenId::of(&id),
            issuer: record.issuer,
            admin: record.admin,
        }))
    }

    /// Every token: its hash and record, unsorted.
    fn all(&self) -> Result<Vec<(Sha256Digest, TokenRecord)>, TokenError> {
        self.table.all()?.into_iter().map(|(k, v)| Ok((k, decode(&v)?))).collect()
    }

    /// Every token, without secrets, oldest first.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub(crate) fn list(&self) -> Result<Vec<TokenInfo>, TokenError> {
        let mut out = Vec::new();
        for (hash, record) in self.all()? {
            out.push(TokenInfo { id: TokenId::of(&hash), record });
        }
        out.sort_by_key(|t| t.record.created_at);
        Ok(out)
    }

    /// Revokes the token with public id `id`; returns it, or `None` when there is none.
    /// Revoking twice keeps the first revocation time.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub(crate) fn revoke(&self, id: &TokenId) -> Result<Option<TokenInfo>, TokenError> {
        // Ids are hash prefixes: look up by the prefix bytes (8 bytes = 16 hex digits).
        let prefix = hex::decode(id.as_str()).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let Some((hash, value)) = self.table.by_prefix(&prefix)? else { return Ok(None) };
        let mut record = decode(&value)?;
        if record.revoked_at.is_none() {
            record.revoked_at = Some(Timestamp::now());
            self.table.update(&hash, encode(&record)?)?;
        }
        Ok(Some(TokenInfo { id: id.clone(), record }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (TokenStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let tables = crate::storage::open_tables(&crate::storage::Location::Local(dir.path().to_owned())).unwrap();
        (TokenStore::on(tables.tokens), dir)
    }

    #[tokio::test]
    async fn created_tokens_authenticate_and_others_do_not() {
        let (s, _dir) = store();
        assert!(s.list().unwrap().is_empty());
        let issuer = IssuerName::parse("Acme").unwrap();
        let t = s.create(issuer.clone(), false).unwrap();
        assert!(t.secret.starts_with(TOKEN_PREFIX));
        let who = s.authenticate(&t.secret).await.unwrap().unwrap();
        assert_eq!((who.issuer, who.admin, who.token_id), (issuer, false, t.id));
        let mut wrong = t.secret.clone();
        // Always a different last character (a fixed one would match 1 time in 64).
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(s.authenticate(&wrong).await.unwrap(), None);
        assert_eq!(s.authenticate("").await.unwrap(), None);
        assert_eq!(s.authenticate("Bearer x").await.unwrap(), None);
    }

    #[test]
    fn only_the_hash_is_stored() {
        let (s, _dir) = store();
        let t = s.create(IssuerName::parse("Acme").unwrap(), true).unwrap();
        for (k, record) in s.all().unwrap() {
            let raw = [k.as_bytes().to_vec(), serde_json::to_vec(&record).unwrap()].concat();
            assert!(!raw.windows(t.secret.len()).any(|w| w == t.secret.as_bytes()));
        }
    }

    #[tokio::test]
    async fn revoked_tokens_fail_at_once_and_are_listed_as_revoked() {
        let (s, _dir) = store();
        let a = s.create(IssuerName::parse("A").unwrap(), false).unwrap();
        let b = s.create(IssuerName::parse("B").unwrap(), true).unwrap();
        assert_eq!(s.list().unwrap().len(), 2);
        let revoked = s.revoke(&a.id).unwrap().unwrap();
        assert!(revoked.record.revoked_at.is_some());
        assert_eq!(s.authenticate(&a.secret).await.unwrap(), None);
        assert!(s.authenticate(&b.secret).await.unwrap().unwrap().admin);
        let again = s.revoke(&a.id).unwrap().unwrap();
        assert_eq!(again.record.revoked_at, revoked.record.revoked_at);
        assert!(s.revoke(&TokenId::parse("0000000000000000").unwrap()).unwrap().is_none());
        let listed = s.list().unwrap();
        assert!(listed.iter().any(|t| t.id == a.id && t.record.revoked_at.is_some()));
        assert!(!serde_json::to_string(&listed).unwrap().contains(&a.secret));
    }
}
