//! Metrics a model records during a run: counters, distributions of samples, samples stamped
//! with the time they were taken (for charts over time), and marked moments.

use crate::time::Instant;
use std::collections::BTreeMap;

/// Counters and sample sets, keyed by name and kept in sorted order for stable reports.
///
/// Metrics are outside the fingerprint: recording more of them never changes a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    counters: BTreeMap<String, u64>,
    samples: BTreeMap<String, Vec<u64>>,
    timed: BTreeMap<String, Vec<(Instant, u64)>>,
    marks: Vec<(Instant, String)>,
}

impl Metrics {
    /// Adds `delta` to counter `name`.
    pub fn count(&mut self, name: &str, delta: u64) {
        match self.counters.get_mut(name) {
            Some(c) => *c += delta,
            None => {
                self.counters.insert(name.to_string(), delta);
            }
        }
    }

    /// Appends one sample to distribution `name`.
    pub fn observe(&mut self, name: &str, value: u64) {
        match self.samples.get_mut(name) {
            Some(s) => s.push(value),
            None => {
                self.samples.insert(name.to_string(), vec![value]);
            }
        }
    }

    /// A counter's value (0 if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// All counters, sorted by name.
    pub fn counters(&self) -> &BTreeMap<String, u64> {
        &self.counters
    }

    /// A distribution's samples in recording order (empty if none).
    pub fn samples(&self, name: &str) -> &[u64] {
        self.samples.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// All distributions, sorted by name.
    pub fn distributions(&self) -> &BTreeMap<String, Vec<u64>> {
        &self.samples
    }

    /// Appends one sample stamped with time `at`, for charts over time.
    ///
    /// Reports bucket these by time: the rate of each series, and percentiles of its values. By
    /// convention, series named `<group>.ok` and `<group>.failed` are outcomes of the same
    /// operations (values: latency in nanoseconds), and reports chart their success rate.
    pub fn observe_at(&mut self, name: &str, at: Instant, value: u64) {
        match self.timed.get_mut(name) {
            Some(s) => s.push((at, value)),
            None => {
                self.timed.insert(name.to_string(), vec![(at, value)]);
            }
        }
    }

    /// A timed series in recording order (empty if none).
    pub fn timed(&self, name: &str) -> &[(Instant, u64)] {
        self.timed.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// All timed series, sorted by name.
    pub fn timed_series(&self) -> &BTreeMap<String, Vec<(Instant, u64)>> {
        &self.timed
    }

    /// Marks a moment worth showing on a chart (a failure detected, work rescheduled, a
    /// recovery), labelled for a reader.
    pub fn mark(&mut self, at: Instant, label: &str) {
        self.marks.push((at, label.to_string()));
    }

    /// The marked moments in recording order.
    pub fn marks(&self) -> &[(Instant, String)] {
        &self.marks
    }

    /// The `q`-quantile (0.0..=1.0) of a distribution by the nearest-rank method, or `None`.
    pub fn quantile(&self, name: &str, q: f64) -> Option<u64> {
        let mut v = self.samples(name).to_vec();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_quantiles() {
        let mut m = Metrics::default();
        m.count("ok", 2);
        m.count("ok", 3);
        assert_eq!(m.counter("ok"), 5);
        assert_eq!(m.counter("missing"), 0);
        for v in 1..=100 {
            m.observe("lat", v);
        }
        assert_eq!(m.quantile("lat", 0.5), Some(50));
        assert_eq!(m.quantile("lat", 0.99), Some(99));
        assert_eq!(m.quantile("lat", 1.0), Some(100));
        assert_eq!(m.quantile("none", 0.5), None);
    }

    #[test]
    fn timed_samples_and_marks_keep_their_order_and_names() {
        let mut m = Metrics::default();
        m.observe_at("calls.ok", Instant(5), 10);
        m.observe_at("calls.failed", Instant(7), 0);
        m.observe_at("calls.ok", Instant(3), 20);
        assert_eq!(m.timed("calls.ok"), &[(Instant(5), 10), (Instant(3), 20)]);
        assert_eq!(m.timed("none"), &[]);
        assert_eq!(
            m.timed_series().keys().collect::<Vec<_>>(),
            ["calls.failed", "calls.ok"]
        );
        // A timed series is not a distribution of the same name.
        assert!(m.samples("calls.ok").is_empty());
        m.mark(Instant(9), "node down");
        assert_eq!(m.marks(), &[(Instant(9), "node down".to_string())]);
    }
}
