//! `AIPROV_LOG_FORMAT=json`: one JSON object a line, the event's fields beside `message`.
//!
//! tracing-subscriber's own JSON format, with its fields flattened, also writes the
//! `log.file`, `log.line`, `log.module_path` and `log.target` fields that the bridge from
//! the `log` crate adds to events of dependencies (actix-server, sled): paths into the
//! build machine's `~/.cargo/registry`, which say nothing to an operator and leak the
//! build's home directory. This format drops them, and names such an event by its `log`
//! target, as the text format does.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON line format: `timestamp` (RFC 3339, UTC, microseconds), `level`, `message`,
/// the event's own fields, and `target`.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let mut line = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.extend(fields.map);
        let target = fields.log_target.unwrap_or_else(|| meta.target().to_owned());
        line.insert("target".into(), target.into());
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values; the `log` bridge's metadata fields left out but its
/// target kept.
#[derive(Default)]
struct Fields {
    map: Map<String, Value>,
    log_target: Option<String>,
}

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => self.log_target = value.as_str().map(str::to_owned),
            name if name.starts_with("log.") => {}
            name => {
                self.map.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN nor infinity: those are written as strings.
        let v = serde_json::Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.insert(field, v);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` arrives as format arguments, whose Debug is their text.
        self.insert(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `emit` logs through [`JsonLines`], parsed.
    fn lines(emit: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().event_format(JsonLines).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
    }

    #[test]
    fn fields_stand_beside_the_message_with_their_types() {
        let out = lines(|| {
            tracing::info!(target: "aiprov::access", method = "GET", status = 200u16, duration_ms = 1.5, ok = true, "answered");
        });
        assert_eq!(out.len(), 1);
        let v = &out[0];
        assert_eq!(v["message"], "answered", "{v}");
        assert_eq!(v["target"], "aiprov::access", "{v}");
        assert_eq!(v["level"], "INFO", "{v}");
        assert_eq!(v["method"], "GET", "{v}");
        assert_eq!(v["status"], 200, "{v}");
        assert_eq!(v["duration_ms"], 1.5, "{v}");
        assert_eq!(v["ok"], true, "{v}");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 27), "{v}");
    }

    /// What the `log` bridge adds to a dependency's event: its file in the registry is
    /// dropped, its target kept.
    #[test]
    fn a_dependencys_source_paths_are_left_out() {
        let out = lines(|| {
            tracing::info!(
                log.target = "actix_server::builder",
                log.module_path = "actix_server::builder",
                log.file =
                    "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/actix-server-2.6.0/src/builder.rs",
                log.line = 178u64,
                "starting 2 workers"
            );
        });
        let v = &out[0];
        assert_eq!(v["target"], "actix_server::builder", "{v}");
        assert_eq!(v["message"], "starting 2 workers", "{v}");
        let text = v.to_string();
        assert!(!text.contains("log.") && !text.contains(".cargo/registry"), "{text}");
    }
}
