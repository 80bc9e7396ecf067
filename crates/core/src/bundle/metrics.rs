//! A manifest's metrics: free-form JSON from training, shown by `inspect`, the console and
//! the packages' `manifest()`. Nothing that prices reads them, so format 2's encoded form
//! is checked when the bundle is verified and turned into JSON only when asked for: a cold
//! start neither compiles nor runs the JSON builder (V8 compiles each wasm function at its
//! first call). With the two other load changes of 2026-12-02 (the rules not copied, the
//! built-in key decoded at build) the first decision compiles 84.9 KB of wasm instead of
//! 93.6 KB; lean Node package, bytes to first decision, medians of fresh processes
//! interleaved: 13.69 -> 12.71 ms (25 each), 16.24 -> 15.94 ms (40 each, a slower hour).
//! Invariant: two `Metrics` are equal, serialize and deserialize as their JSON value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::binary;

#[derive(Clone, Debug)]
pub struct Metrics(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Json(Value),
    /// Format 2's encoding (`binary`), already checked to read as a JSON value.
    Wire(Vec<u8>),
}

impl Metrics {
    /// Bytes `binary::skip_metrics` accepted, which `binary::read_metrics` reads.
    pub(super) fn wire(bytes: Vec<u8>) -> Self {
        Metrics(Repr::Wire(bytes))
    }

    /// The metrics as JSON.
    pub fn value(&self) -> Value {
        match &self.0 {
            Repr::Json(v) => v.clone(),
            // Cannot fail: the same bytes passed `skip_metrics` at verification, which
            // accepts exactly what `read_metrics` reads (the tests hold them to it).
            Repr::Wire(bytes) => binary::read_metrics(bytes).unwrap_or(Value::Null),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics(Repr::Json(Value::Null))
    }
}

impl From<Value> for Metrics {
    fn from(v: Value) -> Self {
        Metrics(Repr::Json(v))
    }
}

impl PartialEq for Metrics {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Metrics::from)
    }
}
