//! Metrics a model records during a run: counters and distributions of samples.

use std::collections::BTreeMap;

/// Counters and sample sets, keyed by name and kept in sorted order for stable reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    counters: BTreeMap<String, u64>,
    samples: BTreeMap<String, Vec<u64>>,
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
}
