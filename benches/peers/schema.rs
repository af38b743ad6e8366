//! The results file, `docs/bench-results.json`: written by the `peers` bench, read by the
//! `chart` bench (which includes this file with `#[path]`), so both agree on one schema.
//!
//! ```text
//! { "meta": Meta,
//!   "scenarios": [ { "key", "title", "about", "load", "seconds",
//!                    "metrics": [ { "key", "label", "higher_is_better" } ],
//!                    "rows": [ { "peer", "label", "reference", "note",
//!                                "values": { METRIC KEY: { "median", "min", "max",
//!                                                          "samples": [..] } } } ] } ],
//!   "targets": [ { "target", "measured", "met" } ] }
//! ```
//!
//! A number that was not measured (NaN) is written as `null` and read back as NaN.
//! `values` keeps the order of `metrics`.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The whole file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Results {
    pub(crate) meta: Meta,
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) targets: Vec<Target>,
}

/// Where and how the run was made.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Seconds since the Unix epoch when the run ended.
    pub(crate) date_unix: u64,
    /// The CPU's model name.
    pub(crate) cpu: String,
    /// CPUs available to the process.
    pub(crate) cpus: usize,
    /// `uname -r`.
    pub(crate) kernel: String,
    /// `rustc -V`.
    pub(crate) rustc: String,
    /// The command line that made the run.
    pub(crate) command: String,
    pub(crate) reps: usize,
    pub(crate) quick: bool,
    /// The capacity of every channel.
    pub(crate) capacity: usize,
    /// The load average (1/5/15 min) at the start and at the end.
    pub(crate) load_start: String,
    pub(crate) load_end: String,
    /// How long the run took.
    pub(crate) seconds: f64,
}

/// One scenario's table.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Scenario {
    pub(crate) key: String,
    pub(crate) title: String,
    pub(crate) about: String,
    /// The load average when the scenario started.
    pub(crate) load: String,
    pub(crate) seconds: f64,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) rows: Vec<Row>,
}

/// One column.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Metric {
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) higher_is_better: bool,
}

/// One row: a peer (`peer` is its key) or a variant of one.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) peer: String,
    pub(crate) label: String,
    /// A physical reference, not a peer.
    pub(crate) reference: bool,
    pub(crate) note: String,
    pub(crate) values: Values,
}

/// A row's numbers per metric key, in the order of the scenario's `metrics`.
#[derive(Debug, Default)]
pub(crate) struct Values(pub(crate) Vec<(String, Value)>);

impl Values {
    pub(crate) fn get(&self, metric: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == metric).map(|(_, v)| v)
    }
}

/// One metric of one row over the repetitions.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Value {
    #[serde(deserialize_with = "nan_if_null")]
    pub(crate) median: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub(crate) min: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub(crate) max: f64,
    /// One per repetition, in the order they ran.
    #[serde(deserialize_with = "nans_if_null")]
    pub(crate) samples: Vec<f64>,
}

/// One of the project's targets, checked against the run.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) target: String,
    pub(crate) measured: String,
    /// `null` when the run cannot tell.
    pub(crate) met: Option<bool>,
}

// serde_json writes a non-finite f64 as `null`; these read it back.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nans_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<Option<f64>>::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;

        impl<'de> Visitor<'de> for InOrder {
            type Value = Values;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of metric values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Values(out))
            }
        }

        d.deserialize_map(InOrder)
    }
}
