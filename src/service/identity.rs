//! The log's identity (docs/contract.md §10): its origin and checkpoint key, one pair,
//! one tree, for ever. The store records it when the log is created (in the database
//! for PostgreSQL, since keys are often mounted read-only), with a random log id and the
//! statement keys the log's nodes sign with; the keys directory records which logs it
//! signs for (`keys::Bindings`). Every node checks both at start and refuses, saying what
//! differs and what to do, rather than sign a second tree under one identity: a fork
//! that any auditor would report.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::{Bindings, BoundLog, KeyError, Keyring};
use crate::log::{LogStore, StoreError};

/// The setting of the store that holds the identity.
const IDENTITY: &str = "identity";
/// The default origin of a new log is this, then the first 8 hex digits of its id: unique
/// per log, so that logs of different operators never share a name.
const DEFAULT_ORIGIN_PREFIX: &str = "localhost/ai-provenance/";

/// What the store records of the log it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogIdentity {
    /// 32 random hex digits, made when the log was created.
    pub(crate) log_id: String,
    pub(crate) origin: String,
    /// The checkpoint public key, standard base64.
    pub(crate) checkpoint_key: String,
    /// Every statement key (kid) the log's nodes sign with, active and retired.
    pub(crate) statement_keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("the log's identity record is damaged: {0}")]
    Corrupt(String),
    #[error(
        "the log in {location} (origin {origin}) signs its checkpoints with the key {stored}, but the keys \
         directory {keys} holds the checkpoint key {ours}: every node of a log must use that log's keys. Copy the \
         keys directory of the node that created the log to this machine, or point --keys at it."
    )]
    CheckpointKey { location: String, origin: String, stored: String, ours: String, keys: String },
    #[error(
        "the log in {location} is signed with statement keys {missing} that the keys directory {keys} does not \
         have: it is another key set. Copy the log's keys directory to this machine."
    )]
    StatementKeys { location: String, missing: String, keys: String },
    #[error(
        "the log in {location} has the origin {stored}, not {configured}: a log keeps its origin for ever. Start \
         without --origin (or with --origin {stored}); a log of another origin is a new log, with a store of its own."
    )]
    Origin { location: String, stored: String, configured: String },
    #[error(
        "the keys directory {keys} already signs for the log {bound}, and {location} holds a new, empty log: a \
         second log under the same keys would look like a fork of the first. Give the new log its own keys \
         directory (--keys with a new, empty directory); or, to sign it with these keys on purpose, start it \
         once with --new-log and another --origin."
    )]
    BoundElsewhere { keys: String, bound: String, location: String },
    #[error(
        "the keys directory {keys} already signs for a log of origin {origin} (id {other}): two logs of one \
         origin and one key are a fork. Give this log another --origin."
    )]
    SameOrigin { keys: String, origin: String, other: String },
}

/// What the operator asked for.
pub(crate) struct Wanted<'a> {
    /// `--origin`, if given.
    pub(crate) origin: Option<&'a str>,
    /// `--new-log`: a keys directory that signs for other logs may sign for this new one.
    pub(crate) new_log: bool,
    /// Where the store is, for messages.
    pub(crate) location: String,
}

fn describe(logs: &[BoundLog]) -> String {
    logs.iter().map(|l| format!("{} (id {})", l.origin, l.log_id)).collect::<Vec<_>>().join(", ")
}

fn new_log_id() -> Result<String, IdentityError> {
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(hex::encode(id))
}

/// The identity of the log in `store`, created now if it has none, and checked against
/// this node's keys and the operator's wishes; the keys directory is bound to it.
///
/// # Errors
/// [`IdentityError`] naming what differs and what to do; storage and key failures.
pub(crate) fn establish(
    store: &dyn LogStore,
    keyring: &Keyring,
    wanted: &Wanted<'_>,
) -> Result<LogIdentity, IdentityError> {
    let keys = keyring.dir().display().to_string();
    let ours_key = STANDARD.encode(keyring.checkpoint_key().verifying_key().as_bytes());
    let ours_kids: Vec<String> = keyring.statement_kids().iter().map(|k| k.as_str().to_owned()).collect();
    // Held until the keys directory is bound: replicas starting together take turns.
    let mut bindings = Bindings::read(keyring.dir())?;
    let identity = match read(store)? {
        Some(identity) => identity,
        None => {
            let legacy_origin = store.meta("origin")?.map(|o| String::from_utf8_lossy(&o).into_owned());
            // A log written before identities were recorded is adopted; an empty store is
            // a new log.
            let existing = legacy_origin.is_some() || store.size()? > 0;
            if !existing && !bindings.logs().is_empty() && !wanted.new_log {
                return Err(IdentityError::BoundElsewhere {
                    keys,
                    bound: describe(bindings.logs()),
                    location: wanted.location.clone(),
                });
            }
            let log_id = new_log_id()?;
            let origin = match (legacy_origin, wanted.origin) {
                (Some(stored), Some(configured)) if stored != configured => {
                    return Err(IdentityError::Origin {
                        location: wanted.location.clone(),
                        stored,
                        configured: configured.to_owned(),
                    })
                }
                (Some(stored), _) => stored,
                (None, Some(configured)) => configured.to_owned(),
                (None, None) => format!("{DEFAULT_ORIGIN_PREFIX}{}", &log_id[..8]),
            };
            // Refused before anything is recorded in the store.
            if let Some(other) = bindings.logs().iter().find(|l| l.origin == origin) {
                return Err(IdentityError::SameOrigin { keys, origin, other: other.log_id.clone() });
            }
            let ours =
                LogIdentity { log_id, origin, checkpoint_key: ours_key.clone(), statement_keys: ours_kids.clone() };
            let text = serde_json::to_vec(&ours).map_err(|e| IdentityError::Corrupt(e.to_string()))?;
            // Another node may have created the log a moment before: its identity wins.
            parse(&store.claim_meta(IDENTITY, &text)?)?
        }
    };
    if identity.checkpoint_key != ours_key {
        return Err(IdentityError::CheckpointKey {
            location: wanted.location.clone(),
            origin: identity.origin,
            stored: identity.checkpoint_key,
            ours: ours_key,
            keys,
        });
    }
    if let Some(configured) = wanted.origin.filter(|o| *o != identity.origin) {
        return Err(IdentityError::Origin {
            location: wanted.location.clone(),
            stored: identity.origin,
            configured: configured.to_owned(),
        });
    }
    // Once the log keeps a record of its statement keys, that record decides which key
    // a node signs with (`keys::rollout`): a node that lacks it refuses to sign, naming
    // it, and picks it up when its file arrives.
    let rolled_out = store.meta(super::key_rollout::RECORD)?.is_some();
    let missing: Vec<&str> =
        identity.statement_keys.iter().filter(|k| !rolled_out && !ours_kids.contains(k)).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(IdentityError::StatementKeys {
            location: wanted.location.clone(),
            missing: missing.join(", "),
            keys,
        });
    }
    let mut identity = identity;
    if ours_kids.iter().any(|k| !identity.statement_keys.contains(k)) {
        // This keys directory was rotated since (a new statement key, the old ones kept):
        // the log's key set grows with it.
        identity.statement_keys = ours_kids;
        let text = serde_json::to_vec(&identity).map_err(|e| IdentityError::Corrupt(e.to_string()))?;
        store.set_meta(IDENTITY, &text)?;
    }
    bind(&mut bindings, &identity, &keys)?;
    Ok(identity)
}

/// Records in the keys directory that it signs for `identity`'s log.
fn bind(bindings: &mut Bindings, identity: &LogIdentity, keys: &str) -> Result<(), IdentityError> {
    let log = BoundLog { log_id: identity.log_id.clone(), origin: identity.origin.clone() };
    if bindings.logs().contains(&log) {
        return Ok(());
    }
    if let Some(other) = bindings.logs().iter().find(|l| l.origin == log.origin) {
        return Err(IdentityError::SameOrigin {
            keys: keys.to_owned(),
            origin: log.origin,
            other: other.log_id.clone(),
        });
    }
    // A log created just now (with `--new-log` where others are bound), or one this
    // directory signed before logs were recorded, or whose keys came from a node that
    // bound them since: the store's identity says this key signs it.
    Ok(bindings.bind(log)?)
}

fn read(store: &dyn LogStore) -> Result<Option<LogIdentity>, IdentityError> {
    store.meta(IDENTITY)?.map(|bytes| parse(&bytes)).transpose()
}

fn parse(bytes: &[u8]) -> Result<LogIdentity, IdentityError> {
    serde_json::from_slice(bytes).map_err(|e| IdentityError::Corrupt(e.to_string()))
}
