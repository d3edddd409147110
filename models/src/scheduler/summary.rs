//! What a scheduler run reports: availability over time and the figures experiments compare.

use super::*;

fn mean(samples: &[u64]) -> Option<f64> {
    if samples.is_empty() {
        None
    } else {
        Some(samples.iter().map(|&x| x as f64).sum::<f64>() / samples.len() as f64)
    }
}

/// Availability over a run, from the sample grid: the agents' [`client::RUNNING_AT`] (what
/// really runs, a crashed host records nothing) against the server's [`server::DESIRED_AT`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Availability {
    /// Mean over grid times (with allocations desired) of running / desired, capped at 1.
    pub running_fraction: f64,
    /// The longest stretch short of the desired allocations that began after every desired
    /// allocation first ran: from its first short grid time to the next full one (or the last
    /// grid time, if it never ended).
    pub longest_shortfall: Duration,
    /// All time short of the desired allocations after they first all ran.
    pub total_shortfall: Duration,
    /// Whether the run ended short.
    pub ended_short: bool,
}

fn per_grid_time(samples: &[u64]) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for &t in samples {
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

/// Availability from a run's metrics (`None` before anything was desired).
pub fn availability(metrics: &Metrics) -> Option<Availability> {
    let desired = per_grid_time(metrics.samples(server::DESIRED_AT));
    let running = per_grid_time(metrics.samples(client::RUNNING_AT));
    if desired.is_empty() {
        return None;
    }
    let mut fraction_sum = 0.0;
    let (mut longest, mut total) = (0u64, 0u64);
    let mut was_full = false;
    let mut short_since: Option<u64> = None;
    let mut last = 0;
    for (&t, &want) in &desired {
        let have = running.get(&t).copied().unwrap_or(0);
        fraction_sum += have.min(want) as f64 / want as f64;
        last = t;
        if have >= want {
            if let Some(since) = short_since.take() {
                longest = longest.max(t - since);
                total += t - since;
            }
            was_full = true;
        } else if was_full && short_since.is_none() {
            short_since = Some(t);
        }
    }
    let ended_short = short_since.is_some();
    if let Some(since) = short_since {
        longest = longest.max(last - since);
        total += last - since;
    }
    Some(Availability {
        running_fraction: fraction_sum / desired.len() as f64,
        longest_shortfall: Duration::from_nanos(longest),
        total_shortfall: Duration::from_nanos(total),
        ended_short,
    })
}

/// The figures an experiment compares: time from submission to running and from loss or
/// failure to a running replacement (mean, p99, seconds), mean CPU utilisation and
/// fragmentation (per cent of free CPU stranded, [`ClusterState::fragmentation`]), evaluations
/// (and per second of the run),
/// partial commits (and their fraction of plans), rejected placements, allocations moved,
/// nodes used (mean and most, by the servers' view) and availability ([`availability`]).
pub fn summarize(_config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, key) in [
        ("sched.submit_to_running_ns", "submit_to_running"),
        ("sched.replacement_running_ns", "replacement_running"),
    ] {
        if let Some(m) = mean(metrics.samples(name)) {
            out.insert(format!("{key}_mean_s"), m / 1e9);
        }
        if let Some(p) = metrics.quantile(name, 0.99) {
            out.insert(format!("{key}_p99_s"), p as f64 / 1e9);
        }
    }
    if let Some(u) = mean(metrics.samples("sched.cpu_utilisation_pct")) {
        out.insert("cpu_utilisation_mean_pct".into(), u);
    }
    if let Some(f) = mean(metrics.samples("sched.fragmentation_pct")) {
        out.insert("fragmentation_mean_pct".into(), f);
    }
    let secs = end.saturating_since(Instant::ZERO).as_secs_f64();
    if secs > 0.0 {
        out.insert(
            "evaluations_per_s".into(),
            metrics.counter("sched.evals") as f64 / secs,
        );
    }
    for (counter, key) in [
        ("sched.evals", "evaluations"),
        ("sched.plans_partial", "partial_commits"),
        ("sched.placements_rejected", "placements_rejected"),
        ("sched.allocs_moved", "allocs_moved"),
        ("sched.nodes_down", "nodes_down"),
    ] {
        out.insert(key.into(), metrics.counter(counter) as f64);
    }
    let plans = metrics.counter("sched.plans");
    if plans > 0 {
        out.insert(
            "partial_commit_fraction".into(),
            metrics.counter("sched.plans_partial") as f64 / plans as f64,
        );
    }
    let used = metrics.samples(server::NODES_USED);
    if let Some(m) = mean(used) {
        out.insert("nodes_used_mean".into(), m);
        out.insert(
            "nodes_used_max".into(),
            used.iter().copied().max().unwrap_or(0) as f64,
        );
    }
    if let Some(a) = availability(metrics) {
        out.insert("running_fraction".into(), a.running_fraction);
        out.insert(
            "longest_shortfall_s".into(),
            a.longest_shortfall.as_nanos() as f64 / 1e9,
        );
        out.insert(
            "total_shortfall_s".into(),
            a.total_shortfall.as_nanos() as f64 / 1e9,
        );
        out.insert("ended_short".into(), f64::from(u8::from(a.ended_short)));
    }
    out
}
