//! The results of one scenario as the runner collects them: its metrics, and one row per
//! peer (or per variant) holding one sample per metric and repetition.

use crate::peers::Peer;
use crate::perf::loadavg;
use crate::stats::stat;

/// One column of a scenario's table.
pub(crate) struct Metric {
    /// The key in the JSON (`values`).
    pub(crate) key: &'static str,
    /// The column header.
    pub(crate) label: &'static str,
    pub(crate) higher_is_better: bool,
}

impl Metric {
    pub(crate) const fn new(
        key: &'static str,
        label: &'static str,
        higher_is_better: bool,
    ) -> Self {
        Metric {
            key,
            label,
            higher_is_better,
        }
    }
}

/// One row: a peer, or a variant of one (`label`).
pub(crate) struct Row {
    pub(crate) peer: Peer,
    /// The label shown, when it is not the peer's name.
    pub(crate) label: Option<String>,
    /// Samples per metric (one per repetition), aligned with `Table::metrics`.
    pub(crate) samples: Vec<Vec<f64>>,
    /// Free text shown in a last column when any row has one.
    pub(crate) note: String,
}

impl Row {
    /// The label shown: the variant's or the peer's name, with "(reference)" for the
    /// physical references.
    pub(crate) fn label(&self) -> String {
        match &self.label {
            Some(l) if self.peer.is_reference() => format!("{l} (reference)"),
            Some(l) => l.clone(),
            None => self.peer.display_name(),
        }
    }
}

/// One scenario's results.
pub(crate) struct Table {
    pub(crate) key: &'static str,
    pub(crate) title: String,
    /// What was measured and how: the paragraph above the table.
    pub(crate) about: String,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) rows: Vec<Row>,
    /// The load average when the scenario started.
    pub(crate) load: String,
    /// How long the scenario took.
    pub(crate) seconds: f64,
}

impl Table {
    pub(crate) fn new(
        key: &'static str,
        title: String,
        about: String,
        metrics: Vec<Metric>,
    ) -> Self {
        Table {
            key,
            title,
            about,
            metrics,
            rows: Vec::new(),
            load: loadavg(),
            seconds: 0.0,
        }
    }

    pub(crate) fn row_mut(&mut self, peer: Peer, label: Option<&str>) -> &mut Row {
        let label = label.map(str::to_string);
        let i = match self
            .rows
            .iter()
            .position(|r| r.peer == peer && r.label == label)
        {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    peer,
                    label,
                    samples: (0..self.metrics.len()).map(|_| Vec::new()).collect(),
                    note: String::new(),
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    /// Adds one repetition's values (one per metric) to the row of `peer` / `label`.
    pub(crate) fn add(&mut self, peer: Peer, label: Option<&str>, values: &[f64]) {
        let row = self.row_mut(peer, label);
        for (s, v) in row.samples.iter_mut().zip(values) {
            s.push(*v);
        }
    }

    /// A row's samples of one metric, one per repetition in the order they ran.
    pub(crate) fn samples(&self, peer: Peer, label: Option<&str>, metric: &str) -> Option<&[f64]> {
        let m = self.metrics.iter().position(|x| x.key == metric)?;
        let row = self
            .rows
            .iter()
            .find(|r| r.peer == peer && r.label.as_deref() == label)?;
        Some(&row.samples[m])
    }

    /// (median, min, max) of a row's metric.
    pub(crate) fn stat(
        &self,
        peer: Peer,
        label: Option<&str>,
        metric: &str,
    ) -> Option<(f64, f64, f64)> {
        stat(self.samples(peer, label, metric)?)
    }
}
