//! `Timestamp`: the one representation of a point in time in statements, keys, tokens
//! and registers: RFC 3339, UTC, millisecond precision.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as statements carry it: RFC 3339, UTC, millisecond precision.
/// Fixed precision keeps the text form stable, which matters for signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        // Truncate to whole milliseconds so that the value survives a text round trip.
        let now = Utc::now();
        let millis = now.timestamp_millis();
        Self(DateTime::from_timestamp_millis(millis).unwrap_or(now))
    }

    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        Self(DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t))
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|e| serde::de::Error::custom(format!("not an RFC 3339 time: {e}")))
    }
}
