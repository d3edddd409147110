//! The Eureka model's configuration and its bug switches.

use crate::discovery::resolve::{InstanceId, ScheduledCrash};
use crate::services::RateSchedule;
use crate::services::policy::BalancerConfig;
use ruckus_sim::{Distribution, Duration, Topology};
use serde::{Deserialize, Serialize};

/// Switches that re-introduce known mistakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// Evict without self-preservation.
    pub no_self_preservation: bool,
}

/// Parameters of the Eureka-style system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Registry servers (hosts `0..registries`).
    pub registries: u32,
    /// Instance hosts (after the registries').
    pub nodes: u32,
    /// Number of services; instance `i` serves `i % services`.
    pub services: u32,
    /// Instances, round-robin on the nodes.
    pub instances: u32,
    /// Callers, round-robin on the nodes; caller `c` calls service `c % services`.
    pub callers: u32,
    /// How often an instance renews its lease.
    pub renewal_interval: Duration,
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How often servers evict expired leases.
    pub eviction_interval: Duration,
    /// Self-preservation engages when renewals fall to this fraction of the expected.
    pub renewal_percent_threshold: f64,
    /// How often the expected renewal count is reset to the registry's size.
    pub threshold_update_interval: Duration,
    /// How often servers refresh the cache fetches are answered from.
    pub response_cache_interval: Duration,
    /// How often callers fetch the registry.
    pub fetch_interval: Duration,
    /// How long a fetch, registration or renewal may take before the next server is tried.
    pub request_timeout: Duration,
    /// Mean time between a caller's calls (uniform 0.5x-1.5x).
    pub call_interval: Duration,
    /// How each caller's call rate changes over the run: steps `{ at, rate }` and ramps
    /// `{ at, ramp_to, over }` in calls per second, starting from one per `call_interval`.
    /// The mean interval at each moment is one over the rate then (gaps stay uniform
    /// 0.5x-1.5x of it); empty: the rate never changes.
    #[serde(skip_serializing_if = "RateSchedule::is_empty")]
    pub schedule: RateSchedule,
    /// How long a caller waits for an instance's answer.
    pub call_timeout: Duration,
    /// The balancer over the listed instances.
    pub balancer: BalancerConfig,
    /// Instances that crash for good at set times.
    pub crashes: Vec<ScheduledCrash>,
    /// Bug switches.
    pub bugs: Bugs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            registries: 1,
            nodes: 5,
            services: 1,
            instances: 10,
            callers: 3,
            renewal_interval: Duration::from_secs(30),
            lease_duration: Duration::from_secs(90),
            eviction_interval: Duration::from_secs(60),
            renewal_percent_threshold: 0.85,
            threshold_update_interval: Duration::from_secs(15 * 60),
            response_cache_interval: Duration::from_secs(30),
            fetch_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            call_interval: Duration::from_millis(500),
            schedule: RateSchedule::default(),
            call_timeout: Duration::from_millis(100),
            balancer: BalancerConfig::default(),
            crashes: Vec::new(),
            bugs: Bugs::default(),
        }
    }
}

impl Config {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.registries == 0 || self.nodes == 0 || self.services == 0 {
            return Err("registries, nodes and services must be at least 1".into());
        }
        for (name, d) in [
            ("renewal_interval", self.renewal_interval),
            ("eviction_interval", self.eviction_interval),
            ("threshold_update_interval", self.threshold_update_interval),
            ("response_cache_interval", self.response_cache_interval),
            ("fetch_interval", self.fetch_interval),
            ("request_timeout", self.request_timeout),
            ("call_interval", self.call_interval),
            ("call_timeout", self.call_timeout),
        ] {
            if d == Duration::ZERO {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.lease_duration <= self.renewal_interval {
            return Err(format!(
                "lease_duration ({}) must exceed renewal_interval ({})",
                self.lease_duration, self.renewal_interval
            ));
        }
        if !(0.0..=1.0).contains(&self.renewal_percent_threshold) {
            return Err("renewal_percent_threshold must be within 0..1".into());
        }
        for c in &self.crashes {
            if c.instance >= self.instances {
                return Err(format!(
                    "crashes: instance {} does not exist ({} instances)",
                    c.instance, self.instances
                ));
            }
        }
        Ok(())
    }

    /// Hosts: one per registry server, then one per node.
    pub fn hosts(&self) -> u32 {
        self.registries + self.nodes
    }

    /// One switch, every host on it.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts(),
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    /// Process number of instance `i`.
    pub fn instance_pid(&self, i: u32) -> InstanceId {
        self.registries + i
    }

    /// The design's bound on routing to a dead instance: its lease runs out, the next eviction
    /// removes it, the response cache refreshes, callers fetch (plus a timed-out fetch).
    pub fn routing_bound(&self) -> Duration {
        // Saturating: absurd parameters give an absurd bound, not an overflow.
        [
            self.eviction_interval,
            self.response_cache_interval,
            self.fetch_interval,
            self.request_timeout,
        ]
        .into_iter()
        .fold(self.lease_duration, Duration::saturating_add)
    }

    /// How long an instance must have been up to be in every caller's view: a renewal (a 404
    /// makes it re-register), a cache refresh, a fetch (plus a timed-out fetch).
    pub fn listing_window(&self) -> Duration {
        [
            self.request_timeout.saturating_mul(2),
            self.response_cache_interval,
            self.fetch_interval,
        ]
        .into_iter()
        .fold(self.renewal_interval, Duration::saturating_add)
    }
}
