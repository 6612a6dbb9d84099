//! The service's metrics, in the Prometheus text format (`GET /metrics`).
//!
//! One registry per [`Service`](super::Service), never a process-global one: tests run
//! many services in one process, and each must count only its own. Built on
//! `prometheus-client`, the official Prometheus client for Rust: a registry is a plain
//! value, and it adds four small crates to the build (no HTTP server of its own; the
//! service serves `/metrics` from actix like any other route).
//!
//! Labels are bounded: a route is the pattern it matched (`/v1/stamps/{id}`, never the
//! path asked for), `unmatched` when none did; a method outside the standard ones is
//! `other`; a status is one of the few the service answers.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::log::{Log, LogObserver};

/// The media type of `GET /metrics`: the Prometheus text format, version 0.0.4.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The route label of a request that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// Latency buckets: 0.5 ms to 8 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Leaves-per-batch buckets: 1 to 1,024 (the writer's largest batch), doubling.
fn leaves() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// What the log writer reports: batch sizes and syncs.
#[derive(Clone)]
struct LogMetrics {
    batch_leaves: Histogram,
    sync_leaves: Histogram,
    sync_seconds: Histogram,
}

impl LogObserver for LogMetrics {
    fn batch_written(&self, leaves: usize) {
        self.batch_leaves.observe(leaves as f64);
    }

    fn synced(&self, leaves: usize, took: Duration) {
        self.sync_leaves.observe(leaves as f64);
        self.sync_seconds.observe(took.as_secs_f64());
    }
}

/// What witnessing reports, per witness (`witness` is its name in the policy: a bounded
/// label, the policy lists at most a few hundred).
#[derive(Clone)]
pub(crate) struct WitnessMetrics {
    cosigned_size: Family<WitnessLabel, Gauge>,
    cosign_lag: Family<WitnessLabel, Gauge<f64, AtomicU64>>,
    refusals: Family<RefusalLabels, Counter>,
    witnessed_size: Gauge,
    witnessed_lag: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabel {
    witness: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    witness: String,
    kind: &'static str,
}

impl Default for WitnessMetrics {
    fn default() -> Self {
        Self {
            cosigned_size: Family::default(),
            cosign_lag: Family::default(),
            refusals: Family::default(),
            witnessed_size: Gauge::default(),
            witnessed_lag: latency(),
        }
    }
}

impl WitnessMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "witness_cosigned_tree_size",
            "Tree size of the newest checkpoint each witness cosigned",
            self.cosigned_size.clone(),
        );
        registry.register_with_unit(
            "witness_cosign_lag",
            "Time from the publication of the checkpoint a witness last cosigned to its cosignature",
            Unit::Seconds,
            self.cosign_lag.clone(),
        );
        registry.register(
            "witness_refusals",
            "Submissions a witness did not cosign, by kind (inconsistent, ahead_of_log, unreachable, ...)",
            self.refusals.clone(),
        );
        registry.register(
            "log_witnessed_tree_size",
            "Tree size of the newest checkpoint whose cosignatures meet the witness policy's quorum",
            self.witnessed_size.clone(),
        );
        registry.register_with_unit(
            "log_witnessed_lag",
            "Time from the publication of a checkpoint to the first witnessed checkpoint that covers it",
            Unit::Seconds,
            self.witnessed_lag.clone(),
        );
    }

    pub(crate) fn cosigned(&self, witness: &str, size: u64, lag: Duration) {
        let label = WitnessLabel { witness: witness.to_owned() };
        self.cosigned_size.get_or_create(&label).set(i64::try_from(size).unwrap_or(i64::MAX));
        self.cosign_lag.get_or_create(&label).set(lag.as_secs_f64());
    }

    pub(crate) fn refused(&self, witness: &str, kind: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { witness: witness.to_owned(), kind }).inc();
    }

    pub(crate) fn witnessed(&self, size: u64) {
        self.witnessed_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    pub(crate) fn witnessed_lag(&self, lag: Duration) {
        self.witnessed_lag.observe(lag.as_secs_f64());
    }
}

/// Every metric of one service.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    stamp_seconds: Histogram,
    verify_seconds: Histogram,
    erasures: Counter,
    equivocations: Counter,
    log: LogMetrics,
    // Read from the log at each scrape.
    tree_size: Gauge,
    checkpoint_age: Gauge<f64, AtomicU64>,
    queue_depth: Gauge,
    writer_running: Gauge,
    sequencer: Gauge,
    witnessing: WitnessMetrics,
    fingerprint_seconds: Histogram,
    fingerprints: Family<FingerprintLabels, Counter>,
    similar_seconds: Histogram,
    decode_waits: Family<DecodeLabels, Counter>,
    // Read from the log at each scrape.
    similarity_codes: Family<KindLabel, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FingerprintLabels {
    /// `made`, or `none` when the image could not be decoded within bounds.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecodeLabels {
    /// `issuer` (stamping, credentials) or `public` (verify uploads, byContent).
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

impl Metrics {
    /// A registry with every metric at zero but the erasure count, which starts at the
    /// number of erasures in the register (`erased_before`): it counts them all, not
    /// only this process's.
    pub(crate) fn new(erased_before: u64) -> Self {
        let mut registry = Registry::with_prefix("aiprov");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        let (stamp_seconds, verify_seconds) = (latency(), latency());
        registry.register_with_unit(
            "stamp_duration",
            "Stamping: signing, the durable append (group commit) and the receipt; not receiving or hashing the content",
            Unit::Seconds,
            stamp_seconds.clone(),
        );
        registry.register_with_unit(
            "verify_duration",
            "Verification: the lookups, proofs and checks of a verdict; not receiving, hashing or fetching the content",
            Unit::Seconds,
            verify_seconds.clone(),
        );
        let equivocations = Counter::default();
        registry.register(
            "log_equivocations",
            "Receipts whose checkpoint, signed with this log's key, disagrees with this log: a fork or a rollback",
            equivocations.clone(),
        );
        let erasures = Counter::default();
        erasures.inc_by(erased_before);
        registry.register(
            "prompt_erasures",
            "Prompt links erased (crypto-shredding), as in the erasure register",
            erasures.clone(),
        );
        let log = LogMetrics { batch_leaves: leaves(), sync_leaves: leaves(), sync_seconds: latency() };
        registry.register(
            "log_batch_leaves",
            "Leaves per batch the log writer wrote, each batch with one checkpoint",
            log.batch_leaves.clone(),
        );
        registry.register(
            "log_sync_leaves",
            "Leaves made durable per sync: the group commit, one fsync for all of them",
            log.sync_leaves.clone(),
        );
        registry.register_with_unit(
            "log_sync_duration",
            "Time of one sync (the salt and log databases flushed)",
            Unit::Seconds,
            log.sync_seconds.clone(),
        );
        let tree_size = Gauge::default();
        registry.register("log_tree_size", "Leaves in the log's newest published checkpoint", tree_size.clone());
        let checkpoint_age = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "log_checkpoint_age",
            "Time since this process published the newest checkpoint (from its start for the one it started with)",
            Unit::Seconds,
            checkpoint_age.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("log_writer_queue_depth", "Appends waiting in front of the log writer", queue_depth.clone());
        let writer_running = Gauge::default();
        registry.register(
            "log_writer_running",
            "1 while the log writer takes appends, 0 once it stopped (see /readyz)",
            writer_running.clone(),
        );
        let sequencer = Gauge::default();
        registry.register(
            "log_sequencer",
            "1 while this node extends the log (always on one machine), 0 while it is a frontend of a shared database",
            sequencer.clone(),
        );
        let witnessing = WitnessMetrics::default();
        witnessing.register(&mut registry);
        let (fingerprint_seconds, similar_seconds) = (latency(), latency());
        registry.register_with_unit(
            "fingerprint_duration",
            "Decoding an image and computing its ISCC Image-Code",
            Unit::Seconds,
            fingerprint_seconds.clone(),
        );
        let fingerprints = Family::<FingerprintLabels, Counter>::default();
        registry.register(
            "image_fingerprints",
            "Images given an ISCC Image-Code (made), or not (none: undecodable or past the bounds)",
            fingerprints.clone(),
        );
        registry.register_with_unit(
            "similar_lookup_duration",
            "Looking up similar content: the similarity index, sentence hashes and the candidates' entries",
            Unit::Seconds,
            similar_seconds.clone(),
        );
        let decode_waits = Family::<DecodeLabels, Counter>::default();
        registry.register(
            "image_decodes_refused",
            "Image decodes refused (503) because every decode slot of the pool stayed busy",
            decode_waits.clone(),
        );
        let similarity_codes = Family::<KindLabel, Gauge>::default();
        registry.register(
            "similarity_index_codes",
            "ISCC Content-Codes in this node's similarity index, by kind",
            similarity_codes.clone(),
        );
        Self {
            registry,
            requests,
            stamp_seconds,
            verify_seconds,
            erasures,
            equivocations,
            log,
            tree_size,
            checkpoint_age,
            queue_depth,
            writer_running,
            sequencer,
            witnessing,
            fingerprint_seconds,
            fingerprints,
            similar_seconds,
            decode_waits,
            similarity_codes,
        }
    }

    pub(super) fn fingerprinted(&self, took: Duration, made: bool) {
        self.fingerprint_seconds.observe(took.as_secs_f64());
        self.fingerprints.get_or_create(&FingerprintLabels { result: if made { "made" } else { "none" } }).inc();
    }

    pub(super) fn looked_up_similar(&self, took: Duration) {
        self.similar_seconds.observe(took.as_secs_f64());
    }

    pub(super) fn decode_refused(&self, pool: &'static str) {
        self.decode_waits.get_or_create(&DecodeLabels { pool }).inc();
    }

    /// What witnessing reports to.
    pub(crate) fn witnessing(&self) -> WitnessMetrics {
        self.witnessing.clone()
    }

    /// What the log writer reports to, for [`Log::open_observed`].
    pub(crate) fn log_observer(&self) -> Arc<dyn LogObserver> {
        Arc::new(self.log.clone())
    }

    /// Counts one answer. `route` is the pattern the request matched, if any.
    pub(crate) fn request(&self, route: Option<String>, method: &str, status: u16) {
        let labels = RequestLabels {
            route: route.unwrap_or_else(|| UNMATCHED.to_owned()),
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
    }

    pub(super) fn stamped(&self, took: Duration) {
        self.stamp_seconds.observe(took.as_secs_f64());
    }

    pub(super) fn verified(&self, took: Duration) {
        self.verify_seconds.observe(took.as_secs_f64());
    }

    pub(super) fn erased(&self) {
        self.erasures.inc();
    }

    /// A receipt of this log's key disagreed with this log (a fork or a rollback).
    pub(super) fn equivocation(&self) {
        self.equivocations.inc();
    }

    /// Every metric in the Prometheus text format, the log's state read now.
    pub(crate) fn render(&self, log: &Log) -> String {
        self.tree_size.set(i64::try_from(log.published_size()).unwrap_or(i64::MAX));
        for kind in crate::fingerprint::CodeKind::ALL {
            let codes = i64::try_from(log.similarity_codes(kind)).unwrap_or(i64::MAX);
            self.similarity_codes.get_or_create(&KindLabel { kind: kind.as_str() }).set(codes);
        }
        self.checkpoint_age.set(log.checkpoint_age().as_secs_f64());
        self.queue_depth.set(i64::try_from(log.queue_depth()).unwrap_or(i64::MAX));
        self.writer_running.set(i64::from(log.is_writing()));
        self.sequencer.set(i64::from(log.role() == crate::log::Role::Sequencer));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// A method as a label: the standard ones as they are, anything else `other` (a client
/// may send any token as a method, and each would be a new series).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_metrics_are_per_registry() {
        let (a, b) = (Metrics::new(3), Metrics::new(0));
        a.request(Some("/v1/stamps/{id}".into()), "GET", 200);
        a.request(None, "BREW", 404);
        let text = {
            let mut t = String::new();
            prometheus_text::encode(&mut t, &a.registry).unwrap();
            t
        };
        assert!(
            text.contains(r#"aiprov_http_requests_total{route="/v1/stamps/{id}",method="GET",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aiprov_http_requests_total{route="unmatched",method="other",status="404"} 1"#),
            "{text}"
        );
        assert!(text.contains("aiprov_prompt_erasures_total 3"), "{text}");
        let mut other = String::new();
        prometheus_text::encode(&mut other, &b.registry).unwrap();
        assert!(!other.contains("route=\""), "another service counted these requests: {other}");
    }
}
