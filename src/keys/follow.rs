//! A keyring that follows the log's record of its statement keys (`keys::rollout`): it
//! makes the key a rotation stages, picks up a staged key whose private key reached its
//! directory, and signs with whichever key the log made active, if it holds it.

use super::rotate::remove_retired_private_keys;
use super::{
    create_key, lock, read_private_key, write_keyring, KeyError, KeyId, KeyPurpose, Keyring, Passphrase, PublicKeyInfo,
    Rollout,
};
use crate::time::Timestamp;

/// Where a keyring stands against the log's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Following {
    /// The statement keys whose private key it holds.
    pub holds: Vec<KeyId>,
    /// The key it signs with: the record's active key, when it holds it.
    pub signs_with: Option<KeyId>,
    /// The key it signed with until now, when it just switched to the active one.
    pub switched_from: Option<KeyId>,
}

impl Keyring {
    /// Creates the private key of a new statement key in the keys directory and keeps it
    /// staged: it signs nothing until the log activates it. `keyring.json` is not changed:
    /// it names the new key once the rollout is over.
    ///
    /// # Errors
    /// When the key file cannot be written.
    pub fn stage_statement_key(&mut self) -> Result<PublicKeyInfo, KeyError> {
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        let (key, info) = create_key(&self.dir, KeyPurpose::Statement, passphrase, Timestamp::now())?;
        self.staged = Some(key);
        Ok(info)
    }

    /// Issues the C2PA leaf certificate of the staged key into `certs`, and returns it as
    /// PEM for the log's record; `None` when nothing is staged.
    ///
    /// # Errors
    /// As [`super::C2paCerts::issue_leaf`] (the root key may be offline).
    pub fn issue_staged_c2pa_leaf(
        &self,
        certs: &mut super::C2paCerts,
        organisation: &str,
    ) -> Result<Option<String>, KeyError> {
        let Some(staged) = &self.staged else { return Ok(None) };
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        certs.issue_leaf(&self.dir, staged, passphrase, organisation)?;
        Ok(certs.leaf(&staged.kid).map(super::to_pem))
    }

    /// Brings this keyring in line with `rollout`: its published keys become the record's,
    /// the staged key is read once its private key file is here, and the active key is the
    /// one that signs from now on. `keyring.json` is rewritten (and retired private keys
    /// removed) only between rotations, so that it never names two active keys.
    ///
    /// A key file that cannot be read is not fatal: this node then does not hold that key,
    /// says so in its report, and refuses to sign while it is the active one.
    pub fn follow(&mut self, rollout: &Rollout) -> Following {
        // In the keyring's own order, new keys last: an unchanged record changes nothing.
        let mut infos: Vec<PublicKeyInfo> = self
            .infos
            .iter()
            .filter_map(|k| if k.purpose == KeyPurpose::Statement { rollout.key(&k.kid) } else { Some(k) })
            .cloned()
            .collect();
        infos.extend(rollout.keys.iter().filter(|k| !self.infos.iter().any(|ours| ours.kid == k.kid)).cloned());
        if infos != self.infos {
            self.infos = infos;
            if rollout.staged.is_none() && rollout.retiring.is_none() {
                self.write_infos();
            }
        }
        if let Some(staged) = rollout.staged.as_ref().and_then(|kid| rollout.key(kid)) {
            if self.staged.as_ref().is_none_or(|k| k.kid != staged.kid) {
                self.staged = self.read_key(staged);
            }
        }
        let mut switched_from = None;
        if self.statement.kid != rollout.active {
            let key = match self.staged.take() {
                Some(k) if k.kid == rollout.active => Some(k),
                other => {
                    self.staged = other;
                    rollout.key(&rollout.active).and_then(|info| self.read_key(info))
                }
            };
            if let Some(key) = key {
                tracing::info!(from = %self.statement.kid, to = %key.kid, "now signing with the log's new statement key");
                // The old private key leaves memory here (SigningKey wipes itself on drop).
                switched_from = Some(std::mem::replace(&mut self.statement, key).kid);
            }
        }
        if self.staged.as_ref().is_some_and(|k| Some(&k.kid) != rollout.staged.as_ref()) {
            self.staged = None;
        }
        let mut holds = vec![self.statement.kid.clone()];
        holds.extend(self.staged.as_ref().map(|k| k.kid.clone()));
        let signs_with = (self.statement.kid == rollout.active).then(|| rollout.active.clone());
        Following { holds, signs_with, switched_from }
    }

    /// The private key of `info`, if this directory has it and it opens.
    fn read_key(&self, info: &PublicKeyInfo) -> Option<super::SecretKey> {
        let passphrase = self.passphrase.as_ref().map(Passphrase::as_str);
        match read_private_key(&self.dir, info, passphrase) {
            Ok(key) => Some(key),
            Err(KeyError::MissingPrivateKey { .. }) => None,
            Err(e) => {
                tracing::warn!(kid = %info.kid, error = %e, "cannot read the private key of a statement key of the log");
                None
            }
        }
    }

    /// Writes `keyring.json` as this keyring now has it, and removes the private keys of
    /// retired keys; a read-only keys directory (a mounted secret) is only warned about.
    fn write_infos(&self) {
        // Nodes sharing the directory write the same file: one at a time.
        let _one_at_a_time = match lock::Creating::take(&self.dir) {
            Ok(held) => held,
            Err(e) => return tracing::warn!(dir = %self.dir.display(), error = %e, "cannot lock the keys directory"),
        };
        if let Err(e) = write_keyring(&self.dir, &self.infos) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot record the log's statement keys in keyring.json");
        }
        for (path, e) in remove_retired_private_keys(&self.dir, &self.infos).1 {
            tracing::warn!(path = %path.display(), error = %e, "a retired private key file could not be removed: delete it by hand");
        }
    }
}
