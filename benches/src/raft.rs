//! The healthy Raft cluster under a steady client load, for the `raft` bench.
//!
//! Five servers (the model's default cluster: election timeout 150-300 ms, heartbeat 50 ms,
//! latency uniform 1-5 ms) and open-loop clients whose operations arrive at Poisson times, so the
//! offered load is the same whatever the cluster's latency does. No faults. Every property of the
//! model is on (the per-event safety invariants, linearizability of the whole history at the
//! end, liveness), because that is what a user's property test pays for per seed.
//!
//! Only the public API of `ruckus_models::raft` is used: [`Config`], [`setup`](raft::setup), [`properties`](raft::properties)
//! and [`Config::topology`].

use ruckus_models::linearizability::History;
use ruckus_models::linearizability::kv::{KvInput, KvOutput};
use ruckus_models::raft::{self, Config, Raft};
use ruckus_sim::{Duration, Limits, Sim, SimConfig};

/// What the bench runs: the cluster, how long, and whether the properties are checked.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftLoad {
    /// The model's parameters.
    pub config: Config,
    /// Virtual time the run lasts.
    pub horizon: Duration,
    /// Check the model's properties while running (what a property test does).
    pub properties: bool,
}

impl Default for RaftLoad {
    fn default() -> Self {
        RaftLoad {
            config: Config {
                clients: 10,
                open_loop: true,
                // 10 clients x 100 operations per second: 1,000 operations per second offered.
                open_loop_mean_interval: Duration::from_millis(10),
                // Room for the ~30 arrivals per client during the first election, so none is
                // shed and the whole offered load is served.
                open_loop_max_outstanding: 64,
                // Spread over 50 keys (20 operations per key per second), so the end-of-run
                // linearizability check stays a small part of the run. With the default 3 keys
                // the checker's budget runs out (inconclusive) within 2 s of this load.
                keys: 50,
                ..Config::default()
            },
            horizon: Duration::from_secs(10),
            properties: true,
        }
    }
}

impl RaftLoad {
    /// Operations per virtual second the clients offer on average.
    pub fn offered_per_second(&self) -> f64 {
        let per_client = 1e9 / self.config.open_loop_mean_interval.as_nanos() as f64;
        f64::from(self.config.clients) * per_client
    }

    /// The run's virtual length in seconds.
    pub fn horizon_secs(&self) -> f64 {
        self.horizon.as_nanos() as f64 / 1e9
    }
}

/// A ready-to-run Raft simulation (building it is kept out of the timed part). Fails with the
/// model's own message if the config is invalid.
pub fn build_raft(load: &RaftLoad, seed: u64) -> Result<Sim<Raft>, String> {
    load.config.validate()?;
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon: load.horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &load.config.topology());
    raft::setup(&mut sim, &load.config);
    if load.properties {
        for p in raft::properties(&load.config) {
            sim.add_property(p);
        }
    }
    Ok(sim)
}

/// A real client history of at least `min_ops` completed-or-unknown operations on 10 keys,
/// from a healthy 5-server cluster with 10 closed-loop clients (the checker bench's input).
/// Recorded with properties off, so the bench times the checker alone.
pub fn history_10_keys(min_ops: usize, seed: u64) -> History<KvInput, KvOutput> {
    let config = Config {
        keys: 10,
        clients: 10,
        ..Config::default()
    };
    let mut secs = 20;
    loop {
        let load = RaftLoad {
            config: config.clone(),
            horizon: Duration::from_secs(secs),
            properties: false,
        };
        let mut sim = build_raft(&load, seed).expect("valid config");
        sim.run();
        let history = raft::history_of(sim.history()).expect("well-formed history");
        if history.operations().len() >= min_ops {
            return history;
        }
        secs *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::Verdict;

    fn short(properties: bool) -> RaftLoad {
        RaftLoad {
            horizon: Duration::from_secs(2),
            properties,
            ..RaftLoad::default()
        }
    }

    #[test]
    fn the_checker_input_is_large_and_linearizable() {
        let h = history_10_keys(2_000, 1);
        assert!(h.operations().len() >= 2_000);
        let r = ruckus_models::linearizability::check(
            &ruckus_models::linearizability::kv::KvSpec,
            &h,
            Default::default(),
        );
        assert!(r.is_linearizable());
    }

    #[test]
    fn the_benched_cluster_holds_and_serves_the_offered_load() {
        let load = short(true);
        let mut sim = build_raft(&load, 1).expect("valid config");
        let report = sim.run();
        assert_eq!(report.verdict, Verdict::Held, "{report}");
        let m = sim.metrics();
        // Healthy: one election, nothing lost or shed, and nearly every offered operation
        // completed (arrivals are Poisson, so allow a generous margin around the mean).
        assert_eq!(m.counter("raft.leaders_elected"), 1, "{:?}", m.counters());
        assert_eq!(m.counter("raft.client.unknown"), 0, "{:?}", m.counters());
        assert_eq!(m.counter("raft.client.shed"), 0, "{:?}", m.counters());
        let offered = load.offered_per_second() * load.horizon_secs();
        let ok = m.counter("raft.client.ok") as f64;
        assert!(
            ok > 0.8 * offered && ok < 1.2 * offered,
            "{ok} ok of ~{offered} offered"
        );
    }

    #[test]
    fn properties_do_not_change_the_run() {
        // Checkers only observe: the same seed gives the same events with or without them.
        let with = build_raft(&short(true), 5).expect("valid").run();
        let without = build_raft(&short(false), 5).expect("valid").run();
        assert_eq!(with.fingerprint, without.fingerprint);
        assert_eq!(with.events, without.events);
        assert_ne!(
            build_raft(&short(false), 6).expect("valid").run().fingerprint,
            without.fingerprint
        );
    }

    #[test]
    fn a_bad_config_is_an_error_not_a_panic() {
        let mut load = RaftLoad::default();
        load.config.servers = 0;
        let err = build_raft(&load, 1).expect_err("servers = 0 is invalid");
        assert!(err.contains("servers"), "{err}");
    }
}
