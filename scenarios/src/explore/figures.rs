//! The figures of one run an experiment can compare: generic ones every run has, and the
//! model's own summary (`Model::summarize`).

use crate::registry::ModelRef;
use ruckus_sim::{Instant, Metrics};
use std::collections::BTreeMap;

/// The statistics of every distribution `NAME` a run observed: `NAME.mean`, `NAME.p99`...
pub const STATISTICS: [&str; 6] = ["mean", "count", "p50", "p99", "p999", "max"];

/// Every figure of one run an experiment can name: the model's own summary where it has one,
/// then for every counter its value, and for every distribution `NAME.mean`, `.p50`, `.p99`,
/// `.p999`, `.max` and `.count`, plus `end_time_s`.
pub fn figures(
    model: &ModelRef,
    params: &toml::Table,
    metrics: &Metrics,
    end: Instant,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, v) in metrics.counters() {
        out.insert(name.clone(), *v as f64);
    }
    for (name, samples) in metrics.distributions() {
        if samples.is_empty() {
            continue;
        }
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / samples.len() as f64;
        out.insert(format!("{name}.mean"), mean);
        out.insert(format!("{name}.count"), samples.len() as f64);
        for (suffix, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)] {
            out.insert(
                format!("{name}.{suffix}"),
                metrics.quantile(name, q).unwrap_or(0) as f64,
            );
        }
    }
    out.insert("end_time_s".into(), end.as_nanos() as f64 / 1e9);
    out.extend(model.entry().summarize(params, metrics, end));
    out
}
