//! Runs seen over time: timed samples bucketed into rates, success rates and latency
//! percentiles, and the fault windows and marked moments that explain them.
//!
//! Models record timed samples with `Context::observe_timed` (by convention `<group>.ok` and
//! `<group>.failed`, valued by latency in nanoseconds) and moments with `Context::mark`; this
//! module turns them into chart series for `ruckus run --report` and `ruckus explore`.

use crate::chart::{Band, Mark};
use ruckus_sim::{Duration, FaultPlan, Instant, Metrics};

/// Charts never get more buckets than this: long runs get wider buckets instead.
pub const MAX_BUCKETS: u64 = 600;

/// Time cut into equal buckets from zero to the end of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buckets {
    /// Width of one bucket.
    pub width: Duration,
    /// How many buckets cover the run.
    pub count: usize,
}

impl Buckets {
    /// Buckets of `width` covering `[0, end)`, widened to a round width (1, 2 or 5 times a
    /// power of ten) when that would make more than [`MAX_BUCKETS`].
    pub fn over(end: Instant, width: Duration) -> Buckets {
        let span = end.as_nanos().max(1);
        let mut w = width.as_nanos().max(1);
        if span.div_ceil(w) > MAX_BUCKETS {
            let need = span.div_ceil(MAX_BUCKETS);
            let mut magnitude = 1u64;
            w = loop {
                if let Some(step) = [1u64, 2, 5]
                    .iter()
                    .map(|m| m.saturating_mul(magnitude))
                    .find(|s| *s >= need)
                {
                    break step;
                }
                magnitude = magnitude.saturating_mul(10);
            };
        }
        Buckets {
            width: Duration::from_nanos(w),
            count: span.div_ceil(w).max(1) as usize,
        }
    }

    /// The bucket holding time `t` (the last one for times at or past the end).
    pub fn index(&self, t: Instant) -> usize {
        ((t.as_nanos() / self.width.as_nanos().max(1)) as usize).min(self.count - 1)
    }

    /// The middle of bucket `k`, in seconds: where its point goes on a chart.
    pub fn midpoint_s(&self, k: usize) -> f64 {
        (k as f64 + 0.5) * self.width.as_nanos() as f64 / 1e9
    }

    /// Bucket width in seconds.
    pub fn width_s(&self) -> f64 {
        self.width.as_nanos() as f64 / 1e9
    }
}

/// Samples per second in each bucket.
pub fn rate(samples: &[(Instant, u64)], buckets: Buckets) -> Vec<f64> {
    let mut counts = vec![0u64; buckets.count];
    for &(t, _) in samples {
        counts[buckets.index(t)] += 1;
    }
    let w = buckets.width_s();
    counts.into_iter().map(|c| c as f64 / w).collect()
}

/// The fraction of outcomes that succeeded in each bucket: `ok / (ok + failed)`, NaN for a
/// bucket with no outcomes (nothing was asked, so nothing failed or succeeded).
pub fn success_rate(ok: &[(Instant, u64)], failed: &[(Instant, u64)], buckets: Buckets) -> Vec<f64> {
    let mut good = vec![0u64; buckets.count];
    let mut all = vec![0u64; buckets.count];
    for &(t, _) in ok {
        let k = buckets.index(t);
        good[k] += 1;
        all[k] += 1;
    }
    for &(t, _) in failed {
        all[buckets.index(t)] += 1;
    }
    good.iter()
        .zip(&all)
        .map(|(&g, &a)| if a == 0 { f64::NAN } else { g as f64 / a as f64 })
        .collect()
}

/// The `q`-quantile (nearest rank) of the sample values in each bucket; NaN where empty.
pub fn quantile(samples: &[(Instant, u64)], buckets: Buckets, q: f64) -> Vec<f64> {
    let mut values: Vec<Vec<u64>> = vec![Vec::new(); buckets.count];
    for &(t, v) in samples {
        values[buckets.index(t)].push(v);
    }
    values
        .into_iter()
        .map(|mut v| {
            if v.is_empty() {
                return f64::NAN;
            }
            v.sort_unstable();
            let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1] as f64
        })
        .collect()
}

/// The groups that have outcomes over time: every `<group>` with a `<group>.ok` timed series.
pub fn outcome_groups(metrics: &Metrics) -> Vec<String> {
    metrics
        .timed_series()
        .keys()
        .filter_map(|k| k.strip_suffix(".ok"))
        .map(str::to_owned)
        .collect()
}

/// The timed series that are not outcomes of a group (charted as plain rates).
pub fn other_series(metrics: &Metrics) -> Vec<String> {
    let groups = outcome_groups(metrics);
    metrics
        .timed_series()
        .keys()
        .filter(|k| {
            !groups
                .iter()
                .any(|g| **k == format!("{g}.ok") || **k == format!("{g}.failed"))
        })
        .cloned()
        .collect()
}

/// Every fault window of `plan` as a shaded band (in seconds; instant faults get a sliver),
/// cut at `end`.
pub fn fault_bands(plan: &FaultPlan, end: Instant) -> Vec<Band> {
    let end_s = end.as_nanos() as f64 / 1e9;
    plan.actions
        .iter()
        .map(|a| {
            let from = a.at.as_nanos() as f64 / 1e9;
            let to =
                a.at.saturating_add(a.fault.duration().unwrap_or_default())
                    .as_nanos() as f64
                    / 1e9;
            Band {
                from: from.min(end_s),
                to: to.min(end_s),
                label: format!("{} at {}", a.fault, a.at),
            }
        })
        .filter(|b| b.from < end_s)
        .collect()
}

/// The fault windows the engine recorded in `metrics` as shaded bands (in seconds), cut at
/// `end`: each as it really was (cut short by the heal, still open at the end) and, on hover,
/// what it hit (a role fault's processes, a crash's victims).
pub fn window_bands(metrics: &Metrics, end: Instant) -> Vec<Band> {
    let s = |t: Instant| t.min(end).as_nanos() as f64 / 1e9;
    metrics
        .fault_windows()
        .iter()
        .filter(|w| w.begin < end)
        .map(|w| {
            let mut label = format!("{} at {}", w.label, w.begin);
            if !w.processes.is_empty() {
                let hit: Vec<String> = w.processes.iter().map(|p| p.to_string()).collect();
                label.push_str(&format!(" (hit {})", hit.join(", ")));
            } else if !w.hosts.is_empty() {
                let hit: Vec<String> = w.hosts.iter().map(|h| h.to_string()).collect();
                label.push_str(&format!(" (on {})", hit.join(", ")));
            }
            Band {
                from: s(w.begin),
                to: s(w.end_or(end)),
                label,
            }
        })
        .collect()
}

/// The model's marked moments, and the heal, as chart marks (in seconds).
pub fn marks(metrics: &Metrics, plan: &FaultPlan, end: Instant) -> Vec<Mark> {
    let mut out: Vec<Mark> = metrics
        .marks()
        .iter()
        .map(|(t, label)| Mark {
            at: t.as_nanos() as f64 / 1e9,
            label: label.clone(),
        })
        .collect();
    if !plan.actions.is_empty() && plan.faults_end() < end {
        out.push(Mark {
            at: plan.faults_end().as_nanos() as f64 / 1e9,
            label: "heal".into(),
        });
    }
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Fault, FaultAction, HostId};

    fn at(s: u64) -> Instant {
        Instant(s * 1_000_000_000)
    }

    #[test]
    fn buckets_widen_to_a_round_width_for_long_runs() {
        let b = Buckets::over(at(10), Duration::from_secs(1));
        assert_eq!((b.width, b.count), (Duration::from_secs(1), 10));
        assert_eq!(b.index(at(3)), 3);
        assert_eq!(b.index(at(99)), 9, "late samples land in the last bucket");
        assert_eq!(b.midpoint_s(0), 0.5);
        // 3,600 s at 1 s would be 3,600 buckets: widened to 10 s (the first round width >= 6 s).
        let b = Buckets::over(at(3_600), Duration::from_secs(1));
        assert_eq!((b.width, b.count), (Duration::from_secs(10), 360));
    }

    #[test]
    fn success_rate_rate_and_quantiles_per_bucket() {
        let b = Buckets::over(at(3), Duration::from_secs(1));
        let ok = [(at(0), 10), (at(0), 30), (Instant(1_500_000_000), 20)];
        let failed = [(at(1), 0), (at(1), 0), (at(1), 0)];
        let s = success_rate(&ok, &failed, b);
        assert_eq!(s[0], 1.0);
        assert_eq!(s[1], 0.25);
        assert!(s[2].is_nan(), "no outcomes: no rate, not zero");
        assert_eq!(rate(&ok, b), vec![2.0, 1.0, 0.0]);
        let p50 = quantile(&ok, b, 0.5);
        assert_eq!(p50[0], 10.0);
        assert_eq!(p50[1], 20.0);
        assert!(p50[2].is_nan());
        assert_eq!(quantile(&ok, b, 1.0)[0], 30.0);
    }

    #[test]
    fn groups_bands_and_marks_come_from_metrics_and_plan() {
        let mut m = Metrics::default();
        m.observe_at("calls.ok", at(1), 5);
        m.observe_at("calls.failed", at(2), 0);
        m.observe_at("api.ok", at(1), 5);
        m.observe_at("evictions", at(2), 1);
        m.mark(at(4), "node down");
        assert_eq!(outcome_groups(&m), ["api", "calls"]);
        assert_eq!(other_series(&m), ["evictions"]);
        let plan = FaultPlan {
            actions: vec![FaultAction {
                at: at(2),
                fault: Fault::CrashHost {
                    host: HostId(1),
                    down_for: Duration::from_secs(3),
                },
            }],
            heal_at: None,
        };
        let bands = fault_bands(&plan, at(10));
        assert_eq!((bands[0].from, bands[0].to), (2.0, 5.0));
        assert!(bands[0].label.starts_with("crash"), "{}", bands[0].label);
        let marks = marks(&m, &plan, at(10));
        let labels: Vec<_> = marks.iter().map(|k| (k.at, k.label.as_str())).collect();
        assert_eq!(labels, [(4.0, "node down"), (5.0, "heal")]);
        // A band that starts after the end is dropped; one that runs past it is cut.
        assert!(fault_bands(&plan, at(1)).is_empty());
        // The engine's windows: as they really were, with what they hit.
        m.fault_began(ruckus_sim::FaultWindow {
            index: 0,
            kind: ruckus_sim::FaultKind::Crash,
            label: "crash h1".into(),
            begin: at(2),
            end: None,
            hosts: vec![HostId(1)],
            processes: vec![ruckus_sim::ProcessId(4)],
        });
        let real = window_bands(&m, at(10));
        assert_eq!((real[0].from, real[0].to), (2.0, 10.0), "open: to the end");
        assert!(real[0].label.ends_with("(hit p4)"), "{}", real[0].label);
        assert_eq!(fault_bands(&plan, at(3))[0].to, 3.0);
    }
}
