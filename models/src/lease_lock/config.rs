//! The lease-lock configuration and the stress run built from it.

use ruckus_sim::{Distribution, Duration, FaultProfile, FaultRate, HostId, Sim, SimConfig, Topology};
use serde::{Deserialize, Serialize};

use super::{LeaseLock, properties, setup};

/// Parameters of a lease-lock run, including the switches that plant known bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaseLockConfig {
    /// Number of client processes (each on its own host).
    pub clients: u32,
    /// Lease length, in the lock server's local clock.
    pub lease: Duration,
    /// Share of the lease a client gives up as a safety margin against clock drift.
    pub drift_margin_percent: u64,
    /// How long a client waits for a reply before retrying.
    pub request_timeout: Duration,
    /// Lock requests a client sends for one acquisition before backing off.
    pub acquire_tries_max: u32,
    /// Work between checking the lease and sending a write (where a pause hurts).
    pub work: Duration,
    /// Writes a client makes under one lease before releasing it.
    pub writes_per_lease: u32,
    /// Longest pause between a client's attempts (uniform from 1 ms).
    pub think_max: Duration,
    /// Bound of the `writes_resume` liveness property, from the heal.
    pub liveness_bound: Duration,
    /// Planted bug: the storage accepts writes under any token (no fencing).
    pub bug_no_fencing: bool,
    /// Planted bug: the lock server does not sync the token before granting.
    pub bug_no_sync: bool,
    /// Planted bug: the lock server uses its local clock reading as the token.
    pub bug_clock_tokens: bool,
}

impl Default for LeaseLockConfig {
    fn default() -> Self {
        LeaseLockConfig {
            clients: 3,
            lease: Duration::from_millis(400),
            drift_margin_percent: 25,
            request_timeout: Duration::from_millis(50),
            acquire_tries_max: 4,
            work: Duration::from_millis(30),
            writes_per_lease: 3,
            think_max: Duration::from_millis(100),
            liveness_bound: Duration::from_millis(2_000),
            bug_no_fencing: false,
            bug_no_sync: false,
            bug_clock_tokens: false,
        }
    }
}

impl LeaseLockConfig {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("clients", u64::from(self.clients)),
            ("acquire_tries_max", u64::from(self.acquire_tries_max)),
            ("writes_per_lease", u64::from(self.writes_per_lease)),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let times = [
            ("lease", self.lease),
            ("request_timeout", self.request_timeout),
            ("work", self.work),
            ("think_max", self.think_max),
            ("liveness_bound", self.liveness_bound),
        ];
        for (name, value) in times {
            // Clients think for at least 1 ms; work may be zero.
            let least = if name == "think_max" {
                Duration::from_millis(1)
            } else {
                Duration(1)
            };
            if name != "work" && value < least {
                return Err(format!(
                    "{name} must be at least {}",
                    ruckus_sim::nanos_with_unit(least.0)
                ));
            }
        }
        if self.drift_margin_percent >= 100 {
            return Err(format!(
                "drift_margin_percent must be below 100 (got {}): a client would never trust its lease",
                self.drift_margin_percent
            ));
        }
        if self.clients > 1_000 {
            return Err(format!("clients must be at most 1000 (got {})", self.clients));
        }
        // Refuse times whose sums (twice a lease, a deadline past now) would overflow.
        let max = Duration(u64::MAX / 16);
        for (name, value) in times {
            if value > max {
                return Err(format!(
                    "{name} is too large ({}; at most {})",
                    ruckus_sim::nanos_with_unit(value.0),
                    ruckus_sim::nanos_with_unit(max.0)
                ));
            }
        }
        Ok(())
    }

    /// Hosts in the run: the lock server, the storage, then one per client.
    pub fn hosts(&self) -> u32 {
        2 + self.clients
    }

    /// The host of client `i` (0-based).
    pub fn client_host(&self, i: u32) -> HostId {
        HostId(2 + i)
    }

    /// The standard topology: every pair of hosts sees latency uniform in 1..=5 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts(),
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    pub(super) fn lease(&self) -> Duration {
        self.lease
    }
}

/// A fault profile that exercises every way this model can go wrong: every fault kind, each
/// starting about once every 1.5 s and lasting 50 ms to 1 s, at most one host down at once,
/// and a quiet final `quiet` stretch in which liveness is judged.
pub fn stress_profile(quiet: Duration) -> FaultProfile {
    let mut profile = FaultProfile::everything(FaultRate {
        mean_interval: Duration::from_millis(1_500),
        duration_min: Duration::from_millis(50),
        duration_max: Duration::from_millis(1_000),
    });
    profile.quiet_period = quiet;
    profile
}

/// Builds a ready-to-run simulation: the model, its properties and the plan `profile` expands
/// to for `seed` over `horizon`. Panics on an invalid config or profile (validate first).
pub fn build_sim(
    config: &LeaseLockConfig,
    seed: u64,
    horizon: Duration,
    profile: &FaultProfile,
) -> Sim<LeaseLock> {
    let topology = config.topology();
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits.horizon = horizon;
    let mut sim = Sim::new(sim_config, &topology);
    if let Err(e) = profile.validate() {
        panic!("invalid fault profile: {e}");
    }
    let plan = profile.plan(seed, topology.hosts(), horizon);
    sim.set_fault_plan(plan)
        .expect("a generated plan names only existing hosts");
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}
