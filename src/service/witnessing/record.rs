//! What witnessing keeps in the store (one `LogStore` setting, so that on PostgreSQL it is
//! in the database): the size each witness last acknowledged, the checkpoint being
//! witnessed with the cosignatures collected for it, and the newest checkpoint that met
//! the quorum. Whichever node sequences next takes over from it, and every node serves
//! the witnessed checkpoint from it.
//!
//! Bounded: one size per witness of the policy, one checkpoint in progress and one
//! witnessed; older cosignatures are dropped as soon as a newer checkpoint is asked for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::log::{LogStore, StoreError};

/// The store's setting that holds the record.
pub(super) const RECORD: &str = "witnessing";

/// Swaps lost to another writer before an update gives up (a node taking over).
const SWAP_TRIES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log's witnessing record is damaged: {0}")]
    Corrupt(String),
    #[error("the log's witnessing record changed under this node {SWAP_TRIES} times in a row")]
    Busy,
}

/// A checkpoint and the cosignature lines collected for it, by witness name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Collecting {
    pub(super) size: u64,
    /// The log's signed note, without cosignatures.
    pub(super) note: String,
    /// Each witness's verified cosignature line, without its newline.
    pub(super) cosignatures: BTreeMap<String, String>,
}

/// The newest checkpoint that met the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WitnessedNote {
    pub(crate) size: u64,
    /// The log's signed note with the cosignature lines after the log's signature line.
    pub(crate) note: String,
    /// The witnesses (policy names) whose cosignature the note carries.
    pub(crate) cosigned_by: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Record {
    /// The tree size each witness last acknowledged (cosigned, or said it holds).
    pub(super) acknowledged: BTreeMap<String, u64>,
    pub(super) collecting: Option<Collecting>,
    pub(crate) witnessed: Option<WitnessedNote>,
}

impl Record {
    /// The record in `store` and its raw bytes (for the swap); an empty one when none.
    ///
    /// # Errors
    /// Storage errors; [`RecordError::Corrupt`] when it does not parse.
    pub(super) fn load(store: &dyn LogStore) -> Result<(Self, Option<Vec<u8>>), RecordError> {
        let raw = store.meta(RECORD)?;
        let record = match &raw {
            Some(bytes) => Self::parse(bytes)?,
            None => Self::default(),
        };
        Ok((record, raw))
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        serde_json::from_slice(bytes).map_err(|e| RecordError::Corrupt(e.to_string()))
    }

    /// Writes `self` over `expected` (what this node read or wrote last); on a lost swap
    /// (another node wrote in between) reads the record again, applies `merge` to it
    /// and tries again. Returns the bytes now stored.
    ///
    /// # Errors
    /// Storage errors; [`RecordError::Busy`] after [`SWAP_TRIES`] lost swaps.
    pub(super) fn save(
        &mut self,
        store: &dyn LogStore,
        mut expected: Option<Vec<u8>>,
        merge: impl Fn(&mut Self, &Self),
    ) -> Result<Vec<u8>, RecordError> {
        for _ in 0..SWAP_TRIES {
            let text = serde_json::to_vec(&*self).map_err(|e| RecordError::Corrupt(e.to_string()))?;
            if store.swap_meta(RECORD, expected.as_deref(), &text)? {
                return Ok(text);
            }
            let (mut theirs, raw) = Self::load(store)?;
            merge(&mut theirs, self);
            *self = theirs;
            expected = raw;
        }
        Err(RecordError::Busy)
    }

    /// Forgets witnesses no longer in the policy, so that the record stays bounded.
    pub(super) fn keep_only(&mut self, names: &[&str]) {
        self.acknowledged.retain(|name, _| names.contains(&name.as_str()));
        if let Some(c) = &mut self.collecting {
            c.cosignatures.retain(|name, _| names.contains(&name.as_str()));
        }
    }
}

/// `note` with `lines` (cosignature lines without newlines) after its signature lines.
pub(super) fn with_cosignatures<'a>(note: &str, lines: impl IntoIterator<Item = &'a String>) -> String {
    let mut out = note.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// As storage; a damaged record is a fault of this service (500), and a record that kept
/// changing under this node one it cannot answer from now (503). Here rather than in
/// `crate::error`, which sits above the service and cannot name its types (as
/// `key_rollout::SyncError`).
impl From<RecordError> for crate::error::ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Store(e) => e.into(),
            e @ RecordError::Busy => Self::Unavailable(e.to_string()),
            e @ RecordError::Corrupt(_) => Self::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosignatures_follow_the_log_signature_and_the_record_stays_bounded() {
        let note = "origin\n1\nroot=\n\n\u{2014} origin sig\n";
        let lines = ["\u{2014} a one".to_owned(), "\u{2014} b two".to_owned()];
        assert_eq!(with_cosignatures(note, &lines), format!("{note}\u{2014} a one\n\u{2014} b two\n"));
        let mut record = Record::default();
        record.acknowledged.insert("a".into(), 3);
        record.acknowledged.insert("gone".into(), 9);
        let cosignatures = [("a".to_owned(), "x".to_owned()), ("gone".to_owned(), "y".to_owned())].into();
        record.collecting = Some(Collecting { size: 3, note: note.into(), cosignatures });
        record.keep_only(&["a", "b"]);
        assert_eq!(record.acknowledged.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(record.collecting.as_ref().unwrap().cosignatures.len(), 1);
        let text = serde_json::to_vec(&record).unwrap();
        assert_eq!(Record::parse(&text).unwrap(), record);
        assert!(matches!(Record::parse(b"{"), Err(RecordError::Corrupt(_))));
    }
}
