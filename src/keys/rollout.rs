//! How a new statement key reaches every node of a log before it signs, and how the key
//! it replaces is retired with a date no node's signature is later than.
//!
//! The log's store holds one record of it (the nodes of a cluster read and swap it):
//! the log's statement keys as published, the active key, a staged key that nodes are
//! still picking up, the key being retired, and what each node reported last (the keys
//! it holds, the one it signs with, the latest date it signed with each, on its own
//! clock). This module is the record and its rules; `service::key_rollout` runs them.
//!
//! A rotation moves forward through three steps, never back:
//! 1. **Staged**: a node made a new key and recorded it. Each node that can read its
//!    private key (a shared keys directory, or the file copied to its machine) says so.
//! 2. **Active**: once every live node holds it (or the operator forces it), the staged
//!    key becomes the active one and the old one is *retiring*. A node signs only with
//!    the key the record names active, and only while its view of the record is fresher
//!    than [`LEASE`]; a node without the active key refuses to sign, naming it.
//! 3. **Retired**: once every node has reported that it signs with the new key, or has
//!    left, or is gone, the old key's `retired_at` becomes the latest date any node
//!    signed with it: each node's own report, or, for a node that vanished while it still
//!    signed with it, its last report's date plus its lease. Dates on each node's own clock
//!    bound that node's signatures, so skew between nodes cannot make a receipt signed
//!    with the old key look later than the key's retirement.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{KeyId, PublicKeyInfo};
use crate::time::Timestamp;

/// How long a node may sign after it last wrote its report: past it, it refuses until it
/// reaches the record again, so a node cut off from the store stops signing with a key
/// that may have been retired meanwhile. Generous, since a node reports every second: a
/// busy machine must not refuse stamps because its report thread ran late; what a long
/// lease costs is only a later retirement date when a node vanishes mid-rotation.
pub const LEASE: Duration = Duration::from_secs(30);
/// A node whose report has not changed for this long, watched on another node's clock,
/// has stopped: its lease ran out. Its keys no longer hold a rotation back.
pub const GONE_AFTER: Duration = Duration::from_secs(60);

/// The record of the log's statement keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Every statement key of the log, as `GET /v1/keys` publishes them.
    pub keys: Vec<PublicKeyInfo>,
    /// The key every node signs with.
    pub active: KeyId,
    /// A new key the nodes are picking up.
    #[serde(default)]
    pub staged: Option<KeyId>,
    /// The key `active` replaced, until its retirement date is known.
    #[serde(default)]
    pub retiring: Option<KeyId>,
    /// What each node said last, by node name.
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeReport>,
    /// The C2PA leaf certificate (PEM) the staging node issued for a new key, so that
    /// every node presents the same one.
    #[serde(default)]
    pub certificates: BTreeMap<KeyId, String>,
}

/// What one node said of its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeReport {
    /// The statement keys whose private key it holds.
    pub holds: Vec<KeyId>,
    /// The key it signs with; `None` while it refuses (it lacks the active key).
    pub signs_with: Option<KeyId>,
    /// The latest `issued_at` it signed with each key, on its own clock.
    #[serde(default)]
    pub last_signed: BTreeMap<KeyId, Timestamp>,
    /// Counts its reports: a number that stops changing is a node that stopped.
    pub beat: u64,
    /// Its own clock when it made this report.
    pub at: Timestamp,
    /// It stopped on purpose, after it stopped signing.
    #[serde(default)]
    pub left: bool,
}

/// Why a rotation cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error(
        "a rotation is in progress: key {0} is still being rolled out; wait for it to finish (see GET /v1/keys), or \
         force it"
    )]
    InProgress(KeyId),
}

/// Whether a node is live, as the caller watched its reports.
pub trait Liveness {
    fn is_gone(&self, node: &str, report: &NodeReport) -> bool;
}

impl<F: Fn(&str, &NodeReport) -> bool> Liveness for F {
    fn is_gone(&self, node: &str, report: &NodeReport) -> bool {
        self(node, report)
    }
}

impl Rollout {
    /// The record of a log whose statement keys are `keys`, `active` among them.
    pub fn new(keys: Vec<PublicKeyInfo>, active: KeyId) -> Self {
        Self { keys, active, staged: None, retiring: None, nodes: BTreeMap::new(), certificates: BTreeMap::new() }
    }

    /// Records a new key for the nodes to pick up.
    ///
    /// # Errors
    /// [`RolloutError::InProgress`] while another key is staged or retiring.
    pub fn stage(&mut self, key: PublicKeyInfo, certificate: Option<String>) -> Result<(), RolloutError> {
        if let Some(busy) = self.staged.as_ref().or(self.retiring.as_ref()) {
            return Err(RolloutError::InProgress(busy.clone()));
        }
        self.staged = Some(key.kid.clone());
        // Only the newest is needed: the nodes that switched keep theirs.
        self.certificates.clear();
        self.certificates.extend(certificate.map(|pem| (key.kid.clone(), pem)));
        self.keys.push(key);
        Ok(())
    }

    /// The live nodes that do not hold the staged key yet (none when nothing is staged).
    pub fn waiting_for(&self, liveness: &impl Liveness) -> Vec<String> {
        let Some(staged) = &self.staged else { return Vec::new() };
        self.nodes
            .iter()
            .filter(|(name, report)| !report.left && !liveness.is_gone(name, report) && !report.holds.contains(staged))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Makes the staged key the active one (whether or not every node holds it); `false`
    /// when nothing is staged.
    pub fn activate(&mut self) -> bool {
        let Some(staged) = self.staged.take() else { return false };
        self.retiring = Some(std::mem::replace(&mut self.active, staged));
        true
    }

    /// Records `node`'s report; its beat counts on from the last one.
    pub fn report(&mut self, node: &str, mut report: NodeReport) {
        report.beat = self.nodes.get(node).map_or(0, |r| r.beat.wrapping_add(1));
        self.nodes.insert(node.to_owned(), report);
    }

    /// Retires the retiring key once no node can sign with it any more, as of the latest
    /// date one did (or could have, see the module docs), and forgets nodes that have left
    /// or are gone. Returns the key and its date, `None` while a node still signs with it.
    pub fn retire(&mut self, liveness: &impl Liveness, now: Timestamp) -> Option<(KeyId, Timestamp)> {
        let old = self.retiring.clone()?;
        let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
        let mut latest: Option<Timestamp> = None;
        for (name, report) in &self.nodes {
            let signed = report.last_signed.get(&old).copied();
            let bound = if report.signs_with.as_ref() != Some(&old) || report.left {
                signed
            } else if liveness.is_gone(name, report) {
                // It may have signed until its lease ran out, after its last report.
                Some(Timestamp::from_datetime(report.at.as_datetime() + lease)).max(signed)
            } else {
                return None;
            };
            latest = latest.max(bound);
        }
        let retired_at = latest.unwrap_or(now);
        if let Some(info) = self.keys.iter_mut().find(|k| k.kid == old) {
            info.retired_at = Some(retired_at);
        }
        self.retiring = None;
        self.nodes.retain(|name, report| !report.left && !liveness.is_gone(name, report));
        Some((old, retired_at))
    }

    /// Forgets the nodes that left or are gone, unless a key is being retired (their
    /// reports still bound its date): without it, every restart of a node would add one
    /// more report to the record for good.
    pub fn forget_departed(&mut self, liveness: &impl Liveness) {
        if self.retiring.is_none() {
            self.nodes.retain(|name, report| !report.left && !liveness.is_gone(name, report));
        }
    }

    /// Marks `node` as stopped: it signs no more, and no rotation waits for it.
    pub fn leave(&mut self, node: &str) {
        if let Some(report) = self.nodes.get_mut(node) {
            report.left = true;
            report.signs_with = None;
        }
    }

    /// Takes over a rotation made offline in a node's keys directory (`aiprov keys rotate`
    /// with the node stopped): its active key is new to the record and it retired the
    /// record's active key. Only between rotations; `true` when it did.
    pub fn adopt_offline_rotation(&mut self, keys: &[PublicKeyInfo], active: &KeyId) -> bool {
        let retired_here = keys.iter().any(|k| k.kid == self.active && k.retired_at.is_some());
        if self.staged.is_some() || self.retiring.is_some() || self.key(active).is_some() || !retired_here {
            return false;
        }
        for key in keys.iter().filter(|k| k.purpose == super::KeyPurpose::Statement) {
            match self.keys.iter_mut().find(|k| k.kid == key.kid) {
                Some(known) => known.retired_at = known.retired_at.or(key.retired_at),
                None => self.keys.push(key.clone()),
            }
        }
        self.active = active.clone();
        true
    }

    /// The published facts of key `kid`.
    pub fn key(&self, kid: &KeyId) -> Option<&PublicKeyInfo> {
        self.keys.iter().find(|k| &k.kid == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPurpose;

    fn kid(n: u8) -> KeyId {
        KeyId::try_from(format!("{n:016x}")).unwrap()
    }

    fn info(n: u8) -> PublicKeyInfo {
        PublicKeyInfo {
            kid: kid(n),
            algorithm: "Ed25519".into(),
            purpose: KeyPurpose::Statement,
            public_key: String::new(),
            created_at: at(0),
            retired_at: None,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_datetime(chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap())
    }

    fn report(holds: &[u8], signs_with: Option<u8>, last: &[(u8, i64)], now: i64) -> NodeReport {
        NodeReport {
            holds: holds.iter().map(|n| kid(*n)).collect(),
            signs_with: signs_with.map(kid),
            last_signed: last.iter().map(|(n, t)| (kid(*n), at(*t))).collect(),
            beat: 0,
            at: at(now),
            left: false,
        }
    }

    const ALL_LIVE: fn(&str, &NodeReport) -> bool = |_, _| false;

    #[test]
    fn a_key_becomes_active_when_every_live_node_holds_it_and_is_retired_as_of_the_last_signature() {
        let mut r = Rollout::new(vec![info(1)], kid(1));
        r.report("a", report(&[1], Some(1), &[(1, 10)], 10));
        r.report("b", report(&[1], Some(1), &[(1, 12)], 10));
        r.stage(info(2), None).unwrap();
        assert_eq!(r.stage(info(3), None), Err(RolloutError::InProgress(kid(2))), "one rotation at a time");
        r.report("a", report(&[1, 2], Some(1), &[(1, 11)], 11));
        assert_eq!(r.waiting_for(&ALL_LIVE), vec!["b".to_owned()]);
        // b is gone (its reports stopped): it no longer holds the key back.
        assert!(r.waiting_for(&|n: &str, _: &NodeReport| n == "b").is_empty());
        r.report("b", report(&[1, 2], Some(1), &[(1, 13)], 13));
        assert!(r.waiting_for(&ALL_LIVE).is_empty());
        assert!(r.activate());
        assert_eq!((r.active.clone(), r.retiring.clone()), (kid(2), Some(kid(1))));

        // a switched, b still signs with the old key: not retired yet.
        r.report("a", report(&[1, 2], Some(2), &[(1, 14), (2, 15)], 15));
        assert_eq!(r.retire(&ALL_LIVE, at(16)), None);
        // b switches, having signed with the old key last at 17 on its own clock, which
        // is ahead of the others: the retirement date is that, not the finisher's now.
        r.report("b", report(&[1, 2], Some(2), &[(1, 17), (2, 18)], 18));
        assert_eq!(r.retire(&ALL_LIVE, at(16)), Some((kid(1), at(17))));
        assert_eq!(r.key(&kid(1)).unwrap().retired_at, Some(at(17)));
        assert_eq!(r.retiring, None);
        assert_eq!(r.nodes.len(), 2);
    }

    #[test]
    fn a_node_that_vanished_while_signing_with_the_old_key_bounds_it_by_its_lease() {
        let mut r = Rollout::new(vec![info(1)], kid(1));
        r.report("a", report(&[1], Some(1), &[(1, 10)], 10));
        r.report("gone", report(&[1], Some(1), &[(1, 20)], 21));
        r.report("left", report(&[1], Some(1), &[(1, 30)], 30));
        r.leave("left");
        r.stage(info(2), None).unwrap();
        r.activate();
        r.report("a", report(&[1, 2], Some(2), &[(1, 11)], 12));
        let gone = |n: &str, _: &NodeReport| n == "gone";
        // "gone" reported at 21 and could sign for a lease after; "left" stopped signing
        // before it said so, at 30.
        let lease = LEASE.as_secs() as i64;
        assert_eq!(r.retire(&gone, at(12)), Some((kid(1), at((21 + lease).max(30)))));
        assert_eq!(r.nodes.keys().collect::<Vec<_>>(), vec!["a"], "who left or is gone is forgotten");
        // Between rotations, too.
        r.report("b", report(&[2], Some(2), &[], 13));
        r.leave("b");
        r.report("c", report(&[2], Some(2), &[], 13));
        r.forget_departed(&|n: &str, _: &NodeReport| n == "c");
        assert_eq!(r.nodes.keys().collect::<Vec<_>>(), vec!["a"]);
        let mut r2 = Rollout::new(vec![info(1)], kid(1));
        r2.report("gone", report(&[1], Some(1), &[(1, 20)], 21));
        r2.stage(info(2), None).unwrap();
        r2.activate();
        assert_eq!(r2.retire(&gone, at(12)), Some((kid(1), at(21 + lease))));
    }

    #[test]
    fn beats_count_on_and_the_record_round_trips_as_json() {
        let mut r = Rollout::new(vec![info(1)], kid(1));
        r.report("a", report(&[1], Some(1), &[], 1));
        r.report("a", report(&[1], Some(1), &[(1, 2)], 2));
        assert_eq!(r.nodes["a"].beat, 1);
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Rollout>(&text).unwrap(), r);
    }
}
