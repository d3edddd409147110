//! The system's parameters, and the bounds the properties derive from them.

use super::catalog::NodeId;
use crate::discovery::resolve::{InstanceId, ScheduledCrash};
use crate::discovery::swim::{self, SwimConfig};
use crate::raft;
use crate::services::RateSchedule;
use crate::services::policy::BalancerConfig;
use ruckus_sim::{Distribution, Duration, ProcessId, Topology};
use serde::{Deserialize, Serialize};

/// Which kind of health check agents run for their instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The instance must refresh the check within `ttl`.
    #[default]
    Ttl,
    /// The agent probes the instance every `check_interval`.
    Active,
}

/// How callers resolve a service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolveMode {
    /// Look up, then cache the answer for `cache_ttl` (as DNS does).
    #[default]
    Dns,
    /// Hold a blocking query and update the view on every change.
    Watch,
    /// Ask the local agent per call; the agent caches with blocking queries.
    Agent,
}

/// Switches that re-introduce known mistakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// DNS-mode callers never expire a cached answer.
    pub cache_without_expiry: bool,
    /// Agents do not persist registrations, so a restarted agent forgets them.
    pub registrations_not_persisted: bool,
}

/// An instance that deregisters through its agent at a set time, then shuts down
/// `deregister_grace` after the agent acknowledged it (a graceful shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledDeregistration {
    /// Index of the instance (0-based among instances).
    pub instance: u32,
    /// True time it asks to be deregistered.
    pub at: Duration,
}

/// Parameters of the Consul-like system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The catalog servers' Raft (servers, timeouts, bug switches). Its client settings
    /// (`client_timeout`, `client_attempts`) time agents' and the leader's catalog commands;
    /// its workload fields are unused.
    pub raft: raft::Config,
    /// The LAN gossip pool every server and agent is a member of (memberlist's LAN defaults).
    pub swim: SwimConfig,
    /// How often the leader compares the pool's verdicts with the catalog's node health
    /// (besides on every change it hears of).
    pub reconcile_interval: Duration,
    /// Instance hosts, one agent each (hosts after the servers').
    pub nodes: u32,
    /// Number of services; instance `i` serves `i % services`.
    pub services: u32,
    /// Service instances, placed round-robin on the nodes.
    pub instances: u32,
    /// Callers, placed round-robin on the nodes; caller `c` calls service `c % services`.
    pub callers: u32,
    /// The health check every instance gets.
    pub check: CheckKind,
    /// TTL checks: how long a refresh keeps the check passing.
    pub ttl: Duration,
    /// TTL checks: how often an instance refreshes.
    pub ttl_refresh: Duration,
    /// Active checks: time between probes.
    pub check_interval: Duration,
    /// Active checks: how long a probe may take.
    pub check_timeout: Duration,
    /// Active checks: failed probes in a row that make the check critical (at least 1).
    pub failures_before_critical: u32,
    /// Agents' anti-entropy: read the node back from the catalog and fix what differs.
    pub sync_interval: Duration,
    /// How long a blocking query is held at most.
    pub watch_wait: Duration,
    /// How long past `watch_wait` a query may take before it is retried elsewhere.
    pub query_timeout: Duration,
    /// Any server answers queries from its own state (possibly stale).
    pub stale_reads: bool,
    /// How callers resolve.
    pub resolve: ResolveMode,
    /// DNS mode: how long an answer is cached.
    pub cache_ttl: Duration,
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
    /// The balancer over the passing instances.
    pub balancer: BalancerConfig,
    /// Instances that crash for good at set times.
    pub crashes: Vec<ScheduledCrash>,
    /// Instances that deregister and shut down gracefully at set times.
    pub deregistrations: Vec<ScheduledDeregistration>,
    /// How long a deregistered instance keeps serving before it stops.
    pub deregister_grace: Duration,
    /// Bug switches.
    pub bugs: Bugs,
    /// The gossip pool's bug switches (the SWIM component's own: `no_suspicion`,
    /// `no_incarnation_bump`), for every server and agent.
    pub swim_bugs: swim::Bugs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            raft: raft::Config {
                servers: 3,
                clients: 0,
                client_timeout: Duration::from_millis(400),
                ..raft::Config::default()
            },
            swim: SwimConfig::default(),
            reconcile_interval: Duration::from_secs(1),
            nodes: 3,
            services: 1,
            instances: 6,
            callers: 3,
            check: CheckKind::Ttl,
            ttl: Duration::from_secs(3),
            ttl_refresh: Duration::from_secs(1),
            check_interval: Duration::from_secs(1),
            check_timeout: Duration::from_millis(500),
            failures_before_critical: 2,
            sync_interval: Duration::from_secs(5),
            watch_wait: Duration::from_secs(10),
            query_timeout: Duration::from_secs(1),
            stale_reads: false,
            resolve: ResolveMode::Dns,
            cache_ttl: Duration::from_secs(5),
            call_interval: Duration::from_millis(100),
            schedule: RateSchedule::default(),
            call_timeout: Duration::from_millis(100),
            balancer: BalancerConfig::default(),
            crashes: Vec::new(),
            deregistrations: Vec::new(),
            deregister_grace: Duration::from_secs(10),
            bugs: Bugs::default(),
            swim_bugs: swim::Bugs::default(),
        }
    }
}

impl Config {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        self.raft.validate().map_err(|e| format!("raft: {e}"))?;
        self.swim.validate().map_err(|e| format!("swim: {e}"))?;
        if self.nodes == 0 || self.services == 0 {
            return Err("nodes and services must be at least 1".into());
        }
        for (name, d) in [
            ("reconcile_interval", self.reconcile_interval),
            ("ttl", self.ttl),
            ("ttl_refresh", self.ttl_refresh),
            ("check_interval", self.check_interval),
            ("check_timeout", self.check_timeout),
            ("sync_interval", self.sync_interval),
            ("query_timeout", self.query_timeout),
            ("cache_ttl", self.cache_ttl),
            ("call_interval", self.call_interval),
            ("call_timeout", self.call_timeout),
        ] {
            if d == Duration::ZERO {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.ttl_refresh >= self.ttl {
            return Err(format!(
                "ttl_refresh ({}) must be below ttl ({})",
                self.ttl_refresh, self.ttl
            ));
        }
        if self.failures_before_critical == 0 {
            return Err("failures_before_critical must be at least 1".into());
        }
        let mut leaving = vec![false; self.instances as usize];
        let scheduled = self.crashes.iter().map(|c| ("crashes", c.instance)).chain(
            self.deregistrations
                .iter()
                .map(|d| ("deregistrations", d.instance)),
        );
        for (list, instance) in scheduled {
            let Some(slot) = leaving.get_mut(instance as usize) else {
                return Err(format!(
                    "{list}: instance {instance} does not exist ({} instances)",
                    self.instances
                ));
            };
            if *slot {
                return Err(format!(
                    "{list}: instance {instance} already crashes or deregisters"
                ));
            }
            *slot = true;
        }
        Ok(())
    }

    /// Hosts: one per server, then one per node.
    pub fn hosts(&self) -> u32 {
        self.raft.servers + self.nodes
    }

    /// One switch, every host on it.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts(),
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    /// Members of the gossip pool: the servers, then one agent per node.
    pub fn pool_members(&self) -> u32 {
        self.raft.servers + self.nodes
    }

    /// Process number of node `k`'s agent (also its member index in the pool).
    pub fn agent_pid(&self, node: NodeId) -> ProcessId {
        ProcessId(self.raft.servers + node)
    }

    /// Process number of instance `i`.
    pub fn instance_pid(&self, i: u32) -> InstanceId {
        self.raft.servers + self.nodes + i
    }

    /// How long a check takes to turn critical after its instance dies.
    pub fn check_detection(&self) -> Duration {
        match self.check {
            CheckKind::Ttl => self.ttl,
            CheckKind::Active => {
                // Saturating: absurd parameters give an absurd bound, not an overflow.
                self.check_interval
                    .saturating_mul(u64::from(self.failures_before_critical))
                    .saturating_add(self.check_timeout)
            }
        }
    }

    /// How long the pool may take to declare a whole node dead: until some member probes it
    /// (a pass over the pool, stretched by the worst local health multiplier), the longest
    /// suspicion, then ten gossip rounds to reach the leader.
    pub fn node_detection(&self) -> Duration {
        let s = &self.swim;
        let n = self.pool_members();
        let rounds = u64::from(n) + u64::from(s.awareness_max_multiplier);
        s.probe_interval
            .saturating_mul(rounds)
            .saturating_add(s.suspicion_timeout_max(n))
            .saturating_add(s.gossip_interval.saturating_mul(10))
    }

    /// How long after a heal a node the pool had declared dead may take to be alive in the
    /// leader's view again: the later of a push-pull and a reconnect round, a join retry, and
    /// ten gossip rounds.
    pub fn node_rejoin(&self) -> Duration {
        let s = &self.swim;
        s.push_pull_interval_scaled(self.pool_members())
            .max(s.reconnect_interval)
            .saturating_add(s.join_retry_interval)
            .saturating_add(s.gossip_interval.saturating_mul(10))
    }

    /// How long a catalog write may take: a leader within `raft.liveness_within`, a few
    /// client attempts.
    pub fn commit_bound(&self) -> Duration {
        self.raft
            .liveness_within
            .saturating_add(self.raft.client_timeout.saturating_mul(2))
    }

    /// How long a caller's view may lag the catalog in its resolve mode.
    pub fn view_staleness(&self) -> Duration {
        match self.resolve {
            ResolveMode::Dns => self.cache_ttl.saturating_add(self.query_timeout),
            ResolveMode::Watch => self.watch_wait.saturating_add(self.query_timeout),
            ResolveMode::Agent => self
                .watch_wait
                .saturating_add(self.query_timeout.saturating_mul(2)),
        }
    }

    /// The design's bound on routing to an instance dead since after the heal: its check's
    /// detection, the catalog write, then the resolve mode's staleness. (Once the faults are
    /// over, every agent runs: an instance that dies then is found by its check. A whole node
    /// lost mid-run is found by the pool within [`node_detection`](Config::node_detection).)
    pub fn routing_bound(&self) -> Duration {
        self.check_detection()
            .saturating_add(self.commit_bound())
            .saturating_add(self.view_staleness())
    }

    /// Within how long of the heal every caller's view is exactly the live instances: nodes
    /// rejoin the pool, the leader marks them passing, agents' anti-entropy repairs what the
    /// faults left, and the news reaches the callers.
    pub fn views_converge_bound(&self) -> Duration {
        self.node_rejoin()
            .saturating_add(self.reconcile_interval)
            .saturating_add(self.sync_interval)
            .saturating_add(self.routing_bound())
    }
}
