//! SWIM clusters of 100 to 10,000 members in steady state, for the `swim` bench.
//!
//! memberlist's LAN defaults with Lifeguard, one member per host (latency uniform 1-5 ms), no
//! faults. The members start as a cluster that converged long ago (`joined`): a cluster that
//! starts all at once first goes through a join storm (every joiner learns the whole cluster
//! from a seed and rebroadcasts each member it learns, `n` updates sent `4 ceil(log10(n + 1))`
//! times by each of `n` members), which is a different workload from the one the issue asks
//! about, the cost of running the protocol. For the same reason no member announces its first
//! life at the start (announced long ago): at 10,000 members those `n` announcements, each
//! gossiped `4 ceil(log10(n + 1))` times, took the first ~20 s of virtual time (175,000 gossip
//! messages). Properties are off: the convergence check reads every member's whole table (`n²`
//! entries); [`all_see_everyone_alive`] runs it once after a run instead.
//!
//! Only the public API of `ruckus_models::discovery::swim::model` is used.

use ruckus_models::discovery::swim::Status;
use ruckus_models::discovery::swim::model::{Config, SwimNode, setup};
use ruckus_sim::{Duration, Limits, ProcessId, Sim, SimConfig};

/// What the bench runs: how many members, for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwimLoad {
    /// Cluster size.
    pub members: u32,
    /// Virtual time the run lasts.
    pub horizon: Duration,
}

impl SwimLoad {
    /// `members` for `secs` seconds of virtual time.
    pub fn new(members: u32, secs: u64) -> SwimLoad {
        SwimLoad {
            members,
            horizon: Duration::from_secs(secs),
        }
    }

    /// The model's parameters for this load.
    pub fn config(&self) -> Config {
        Config {
            members: self.members,
            seeds: 1,
            joined: true,
            ..Config::default()
        }
    }

    /// The run's virtual length in seconds.
    pub fn horizon_secs(&self) -> f64 {
        self.horizon.as_nanos() as f64 / 1e9
    }

    /// Protocol periods (probe intervals) the run lasts.
    pub fn periods(&self) -> f64 {
        let period = self.config().swim.probe_interval.as_nanos() as f64;
        self.horizon.as_nanos() as f64 / period
    }

    /// Member-periods in a run: the unit of the cost per member per period.
    pub fn member_periods(&self) -> f64 {
        f64::from(self.members) * self.periods()
    }
}

/// Builds the run (not started).
pub fn build_swim(load: &SwimLoad, seed: u64) -> Sim<SwimNode> {
    build_swim_with(load, &load.config(), seed)
}

/// Builds the run of `load` with the model's parameters given (not started).
pub fn build_swim_with(load: &SwimLoad, config: &Config, seed: u64) -> Sim<SwimNode> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon: load.horizon,
        max_events: u64::MAX,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &config.topology());
    setup(&mut sim, config);
    sim
}

/// Every member sees every other alive (what a fault-free run must end with).
pub fn all_see_everyone_alive(sim: &Sim<SwimNode>, members: u32) -> Result<(), String> {
    for i in 0..members {
        let node = sim
            .process(ProcessId(i))
            .ok_or_else(|| format!("p{i} is not running"))?;
        if let Some((j, s)) = node
            .swim
            .statuses()
            .enumerate()
            .find(|&(_, s)| s != Status::Alive)
        {
            return Err(format!("p{i} sees member {j} {s:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::Verdict;

    #[test]
    fn a_joined_cluster_stays_converged_with_steady_load() {
        let load = SwimLoad::new(40, 20);
        let mut sim = build_swim(&load, 1);
        let report = sim.run();
        assert_eq!(report.verdict, Verdict::Held, "{report}");
        all_see_everyone_alive(&sim, load.members).unwrap();
        let m = sim.metrics();
        assert_eq!(m.counter("swim.suspicions"), 0);
        let sent = m.counter("swim.messages_sent") as f64 / load.member_periods();
        assert!(
            (1.9..2.5).contains(&sent),
            "{sent} messages per member per period"
        );
    }

    /// A run to profile (`perf record` the test binary, built with `--profile profiling` for line
    /// tables): `SWIM_MEMBERS` members for `SWIM_SECS` virtual seconds (defaults 2,000 and 20);
    /// `SWIM_PUSH_PULL_SECS` sets the push-pull interval (before its scaling above 32 members).
    #[test]
    #[ignore]
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of a whole run
    fn profile_run() {
        let get = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
        let load = SwimLoad::new(get("SWIM_MEMBERS", 2_000) as u32, get("SWIM_SECS", 20));
        // CPU time of this thread (the machine may be shared): /proc/thread-self/schedstat.
        let cpu_ns = || -> u64 {
            let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
            text.split_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0)
        };
        let start = std::time::Instant::now();
        let mut config = load.config();
        if let Some(secs) = std::env::var("SWIM_PUSH_PULL_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.swim.push_pull_interval = Duration::from_secs(secs);
        }
        let mut sim = build_swim_with(&load, &config, 1);
        let (built, cpu_built) = (start.elapsed(), cpu_ns());
        let report = sim.run();
        let cpu_run = (cpu_ns() - cpu_built) as f64 / 1e9;
        let per = cpu_run * 1e9 / (f64::from(load.members) * load.periods());
        println!(
            "{report}\nbuild {built:?}, run {:?} wall, {cpu_run:.3} s CPU, {per:.0} ns CPU per member per period",
            start.elapsed() - built
        );
    }
}
