//! Issuer tokens: bearer secrets that let a content pipeline stamp in an issuer's name.
//!
//! Only SHA-256 of a token is stored, keyed by that hash: a leaked database does not
//! leak usable tokens, and a lookup by hash reveals nothing about a near-miss token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::statement::{IssuerName, Timestamp};
use crate::Sha256Digest;

/// Every token starts with this, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "aiprov_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored token record is damaged: {0}")]
    Corrupt(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// What is stored for each token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub issuer: IssuerName,
    pub created_at: Timestamp,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// A freshly created token: the only moment the secret exists outside its holder.
pub struct NewToken {
    pub secret: String,
    pub id: Sha256Digest,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewToken({}, <redacted>)", self.id)
    }
}

/// Token storage in its own sled tree.
#[derive(Clone)]
pub struct TokenStore {
    tree: sled::Tree,
}

impl TokenStore {
    /// # Errors
    /// When the tree cannot be opened.
    pub fn open(db: &sled::Db) -> Result<Self, TokenError> {
        Ok(Self {
            tree: db.open_tree("issuer_tokens")?,
        })
    }

    /// Creates a token for `issuer` and stores its hash durably.
    ///
    /// # Errors
    /// On storage or randomness failure.
    pub fn create(&self, issuer: IssuerName) -> Result<NewToken, TokenError> {
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| TokenError::Random(e.to_string()))?;
        let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        let id = Sha256Digest::of(secret.as_bytes());
        let record = TokenRecord {
            issuer,
            created_at: Timestamp::now(),
            revoked_at: None,
        };
        let value = serde_json::to_vec(&record).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        self.tree.insert(id.as_bytes(), value)?;
        self.tree.flush()?;
        Ok(NewToken { secret, id })
    }

    /// The issuer of a valid, unrevoked token, or `None`.
    ///
    /// # Errors
    /// On storage failure or a damaged record.
    pub fn authenticate(&self, secret: &str) -> Result<Option<IssuerName>, TokenError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let id = Sha256Digest::of(secret.as_bytes());
        // Looked up by hash: any timing difference of the B-tree search can only tell an
        // attacker about a hash of their guess, never about a stored token.
        let Some(value) = self.tree.get(id.as_bytes())? else {
            return Ok(None);
        };
        let record: TokenRecord = serde_json::from_slice(&value).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        Ok(record.revoked_at.is_none().then_some(record.issuer))
    }

    /// Whether any token exists (to tell the operator how to create the first one).
    ///
    /// # Errors
    /// On storage failure.
    pub fn is_empty(&self) -> Result<bool, TokenError> {
        Ok(self.tree.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> TokenStore {
        let db = sled::Config::new().temporary(true).open().unwrap();
        TokenStore::open(&db).unwrap()
    }

    #[test]
    fn created_tokens_authenticate_and_others_do_not() {
        let s = store();
        assert!(s.is_empty().unwrap());
        let issuer = IssuerName::parse("Acme").unwrap();
        let t = s.create(issuer.clone()).unwrap();
        assert!(t.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(s.authenticate(&t.secret).unwrap(), Some(issuer));
        let mut wrong = t.secret.clone();
        wrong.pop();
        wrong.push('A');
        assert_eq!(s.authenticate(&wrong).unwrap(), None);
        assert_eq!(s.authenticate("").unwrap(), None);
        assert_eq!(s.authenticate("Bearer x").unwrap(), None);
    }

    #[test]
    fn only_the_hash_is_stored() {
        let s = store();
        let t = s.create(IssuerName::parse("Acme").unwrap()).unwrap();
        for item in s.tree.iter() {
            let (k, v) = item.unwrap();
            let raw = [k.as_ref(), v.as_ref()].concat();
            assert!(!raw.windows(t.secret.len()).any(|w| w == t.secret.as_bytes()));
        }
    }
}
