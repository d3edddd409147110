//! The platform's parameters: the scheduler, discovery and the service as sections of their
//! own, each the component's own configuration.

use crate::discovery::consul;
use crate::scheduler::{
    self,
    placement::{Attribute, Constraint, Job, JobKind, Resources, TaskGroup, TaskSpec},
};
use crate::services::policy::{
    Backoff, Balance, BalancerConfig, BreakerConfig, EjectionConfig, RetryBudgetConfig, RetryPolicy,
};
use crate::services::{CallerConfig, RateSchedule, TierConfig, Workload};
use ruckus_sim::{Distribution, Duration, HostId, ProcessId, Topology};
use serde::{Deserialize, Serialize};

/// One tier of the service: a scheduler job whose instances register in discovery under the
/// tier's name and serve (and call the next tier) as the services model's servers do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The tier's name: its job's name, its discovery service and its role (`"api"`).
    pub name: String,
    /// How its instances serve (`servers` is the job's count: the instances wanted), and how
    /// they call the next tier (`caller`).
    pub serve: TierConfig,
    /// What each instance needs of a node.
    #[serde(default = "default_resources")]
    pub resources: Resources,
}

fn default_resources() -> Resources {
    Resources::new(500, 512)
}

/// The service level the platform is held to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slo {
    /// Fraction of client requests (per `window`) that must succeed.
    pub success_rate: f64,
    /// The window success is measured over.
    pub window: Duration,
    /// After the heal, the platform is back at its desired count and within the SLO this
    /// long later at the latest (None: [`Config::recovery_bound`] computes it).
    pub recover_within: Option<Duration>,
    /// How long after a fault ends its blast window lasts: every SLO window that overlaps
    /// no fault window extended by this much must meet the SLO.
    pub blast_grace: Duration,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            success_rate: 0.99,
            window: Duration::from_secs(10),
            recover_within: None,
            blast_grace: Duration::from_secs(30),
        }
    }
}

/// Parameters of the platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The cluster scheduler (servers, nodes, their capacity, zones and racks, placement,
    /// heartbeats, restart and reschedule policies, bug switches). The platform's jobs are its
    /// tiers, plus `crashing_jobs` crash-looping jobs beside them (each task fails
    /// `crash_after` after every start, needing `service_resources`; they serve no tier, so
    /// the reschedule policy has failures to act on): the scheduler's generated jobs
    /// (`service_jobs`, `batch_jobs`) are not used, and `jobs` must stay empty.
    pub scheduler: scheduler::Config,
    /// Discovery, Consul-like (catalog servers' Raft, the gossip pool, health checks, how
    /// clients resolve, bug switches). `nodes` and `services` follow the scheduler's nodes and
    /// the tiers, and its own workload (`instances`, `callers`) is not used: the scheduler
    /// starts the instances, so `crashes` and `deregistrations` must stay empty.
    pub discovery: consul::Config,
    /// The service, front to back (`edge -> api -> storage`): tier `i` calls tier `i + 1`.
    pub tiers: Vec<Tier>,
    /// Each tier's instances are spread over the nodes' zones (Nomad's `spread`); otherwise
    /// the scheduler's fit algorithm alone places them.
    pub spread_over_zones: bool,
    /// Each tier places at most one instance per node.
    pub distinct_hosts: bool,
    /// Client processes (one host each, after the nodes), calling the front tier.
    pub clients: u32,
    /// Their load (per client).
    pub workload: Workload,
    /// How the open workload's rate changes over the run, as in the services model (steps
    /// `{ at, rate }` and ramps `{ at, ramp_to, over }`, per client, times from the start;
    /// empty: constant).
    #[serde(skip_serializing_if = "RateSchedule::is_empty")]
    pub schedule: RateSchedule,
    /// How clients call the front tier (timeouts, retries, budget, breaker, hedging,
    /// balancing with outlier ejection).
    pub client: CallerConfig,
    /// How often an instance asks its node's agent for the next tier's passing instances.
    pub resolve_every: Duration,
    /// The service level.
    pub slo: Slo,
    /// Client requests count towards the summary's figures from this time on (the platform
    /// starts empty: jobs are placed and instances register first).
    pub warmup: Duration,
    /// The scenario's promise that no fault keeps a node out of reach for longer than this
    /// (at most half the gossip pool's suspicion floor). With it, property `node_accuracy`
    /// holds that the catalog never marks a node critical (its agent dead, every instance on it
    /// out of the listings) unless its host crashed: a node paused or cut off that briefly is
    /// alive and refutes in time. Unset: the property is off (the chaos family cuts nodes off
    /// for long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_outage_max: Option<Duration>,
}

/// Power of two choices with outlier ejection: 3 failures in a row take a backend out for
/// 5 s, at most half of them at once.
pub fn balancer_with_ejection() -> BalancerConfig {
    BalancerConfig {
        policy: Balance::PowerOfTwo,
        ejection: Some(EjectionConfig {
            consecutive_failures: 3,
            ejection_time: Duration::from_secs(5),
            max_ejected_fraction: 0.5,
        }),
    }
}

impl Default for Config {
    /// The flagship scenario's settings (`scenarios/data/platform.toml` writes them out).
    fn default() -> Self {
        let scheduler = scheduler::Config {
            servers: 3,
            nodes: 9,
            zones: 3,
            racks: 3,
            algorithm: scheduler::placement::FitAlgorithm::Spread,
            service_jobs: 0,
            batch_jobs: 0,
            submit_at: Duration::from_secs(2),
            ..scheduler::Config::default()
        };
        let discovery = consul::Config {
            raft: crate::raft::Config {
                servers: 3,
                clients: 0,
                election_timeout_min: Duration::from_millis(150),
                election_timeout_max: Duration::from_millis(300),
                heartbeat_interval: Duration::from_millis(50),
                client_timeout: Duration::from_millis(400),
                liveness_within: Duration::from_secs(4),
                ..crate::raft::Config::default()
            },
            nodes: scheduler.nodes,
            services: 3,
            instances: 0,
            callers: 0,
            crashes: Vec::new(),
            deregistrations: Vec::new(),
            ..consul::Config::default()
        };
        let tier = |name: &str, mean_ms: u64, timeout_ms: Option<u64>| Tier {
            name: name.into(),
            serve: TierConfig {
                servers: 3,
                concurrency: 16,
                service_time: Distribution::Exponential {
                    mean: Duration::from_millis(mean_ms),
                },
                caller: CallerConfig {
                    timeout: Duration::from_millis(timeout_ms.unwrap_or(1000)),
                    retry: RetryPolicy {
                        max_attempts: 2,
                        ..RetryPolicy::default()
                    },
                    balancer: balancer_with_ejection(),
                    ..CallerConfig::default()
                },
                ..TierConfig::default()
            },
            resources: default_resources(),
        };
        Config {
            scheduler,
            discovery,
            tiers: vec![
                tier("edge", 2, Some(100)),
                tier("api", 5, Some(80)),
                tier("storage", 5, None),
            ],
            spread_over_zones: true,
            distinct_hosts: true,
            clients: 3,
            workload: Workload::Open { rate: 50.0 },
            schedule: RateSchedule::default(),
            client: CallerConfig {
                timeout: Duration::from_millis(300),
                hedge_after: Some(Duration::from_millis(150)),
                retry: RetryPolicy {
                    backoff: Backoff::FullJitter,
                    base: Duration::from_millis(10),
                    cap: Duration::from_millis(200),
                    max_attempts: 3,
                },
                budget: Some(RetryBudgetConfig {
                    ratio: 0.2,
                    max_tokens: 20.0,
                    initial_tokens: 10.0,
                }),
                breaker: Some(BreakerConfig {
                    window: 20,
                    min_calls: 10,
                    failure_ratio: 0.5,
                    open_for: Duration::from_secs(2),
                    half_open_probes: 2,
                }),
                balancer: balancer_with_ejection(),
                ..CallerConfig::default()
            },
            resolve_every: Duration::from_secs(1),
            slo: Slo::default(),
            warmup: Duration::from_secs(20),
            node_outage_max: None,
        }
    }
}

/// Where each role lives: hosts and process numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Scheduler servers: processes and hosts `0..sched_servers`.
    pub sched_servers: u32,
    /// Catalog servers: hosts `sched_servers..sched_servers + catalog_servers`.
    pub catalog_servers: u32,
    /// Nodes: one host each, after the servers'.
    pub nodes: u32,
    /// Clients: one host each, after the nodes'.
    pub clients: u32,
}

impl Layout {
    /// The job submitter's process (on host 0, after the scheduler servers).
    pub fn submitter(&self) -> ProcessId {
        ProcessId(self.sched_servers)
    }
    /// Catalog server `i`'s process.
    pub fn catalog_server(&self, i: u32) -> ProcessId {
        ProcessId(self.sched_servers + 1 + i)
    }
    /// Catalog server `i`'s host.
    pub fn catalog_host(&self, i: u32) -> HostId {
        HostId(self.sched_servers + i)
    }
    /// Node `k`'s agent process.
    pub fn node_agent(&self, k: u32) -> ProcessId {
        ProcessId(self.sched_servers + 1 + self.catalog_servers + k)
    }
    /// Node `k`'s host.
    pub fn node_host(&self, k: u32) -> HostId {
        HostId(self.sched_servers + self.catalog_servers + k)
    }
    /// Client `c`'s host.
    pub fn client_host(&self, c: u32) -> HostId {
        HostId(self.sched_servers + self.catalog_servers + self.nodes + c)
    }
    /// Hosts the platform needs.
    pub fn hosts(&self) -> u32 {
        self.sched_servers + self.catalog_servers + self.nodes + self.clients
    }
    /// The processes started at setup (instances come after them, spawned by the agents).
    pub fn boot_processes(&self) -> u32 {
        self.sched_servers + 1 + self.catalog_servers + self.nodes + self.clients
    }
}

impl Config {
    /// When the summary's figures start counting.
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// Where each role lives.
    pub fn layout(&self) -> Layout {
        Layout {
            sched_servers: self.scheduler.servers,
            catalog_servers: self.discovery.raft.servers,
            nodes: self.scheduler.nodes,
            clients: self.clients,
        }
    }

    /// The scheduler's configuration with the tiers (and `crashing_jobs`) as its jobs.
    pub fn scheduler_config(&self) -> scheduler::Config {
        let mut constraints = Vec::new();
        if self.distinct_hosts {
            constraints.push(Constraint::DistinctHosts);
        }
        let jobs = self
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| Job {
                name: t.name.clone(),
                kind: JobKind::Service,
                groups: vec![TaskGroup {
                    count: t.serve.servers,
                    resources: t.resources,
                    constraints: constraints.clone(),
                    spread: self.spread_over_zones.then_some(Attribute::Zone),
                    task: TaskSpec {
                        service: Some(i as u32),
                        ..TaskSpec::default()
                    },
                }],
            })
            .collect();
        scheduler::Config {
            jobs,
            service_jobs: 0,
            batch_jobs: 0,
            ..self.scheduler.clone()
        }
    }

    /// Discovery's configuration, its nodes and services those of the platform.
    pub fn discovery_config(&self) -> consul::Config {
        consul::Config {
            nodes: self.scheduler.nodes,
            services: self.tiers.len() as u32,
            instances: 0,
            callers: 0,
            ..self.discovery.clone()
        }
    }

    /// How long after the heal the platform must be whole again: the scheduler's own bound
    /// (a leader, nodes back, replacements placed and running), then discovery's (the
    /// catalog's leader, checks passing, the clients' caches expired), then one SLO window
    /// measured entirely after that.
    pub fn recovery_bound(&self) -> Duration {
        if let Some(d) = self.slo.recover_within {
            return d;
        }
        let d = self.discovery_config();
        self.scheduler_config().liveness_within()
            + d.raft.liveness_within
            + d.ttl
            + d.cache_ttl.max(d.watch_wait)
            + self.resolve_every
            + self.slo.window
    }

    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.scheduler;
        if !s.jobs.is_empty() {
            return Err("scheduler: jobs must be empty: the platform's jobs are its tiers".into());
        }
        let d = &self.discovery;
        if !d.crashes.is_empty() || !d.deregistrations.is_empty() {
            return Err("discovery: crashes and deregistrations must be empty: the scheduler starts and stops the instances".into());
        }
        if d.resolve == consul::ResolveMode::Agent {
            return Err("discovery.resolve = \"agent\" is for callers on a node; the platform's clients are outside the cluster: use \"dns\" or \"watch\"".into());
        }
        if self.tiers.is_empty() {
            return Err("tiers: at least one tier".into());
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if t.name.is_empty() || self.tiers[..i].iter().any(|o| o.name == t.name) {
                return Err(format!("tiers[{i}]: each tier needs a name of its own"));
            }
            if t.serve.servers == 0 || t.serve.concurrency == 0 {
                return Err(format!(
                    "tiers[{i}] ({}): servers and concurrency must be at least 1",
                    t.name
                ));
            }
        }
        if self.clients == 0 {
            return Err("clients must be at least 1".into());
        }
        self.scheduler_config()
            .validate()
            .map_err(|e| format!("scheduler: {e}"))?;
        self.discovery_config()
            .validate()
            .map_err(|e| format!("discovery: {e}"))?;

        if let Workload::Open { rate } = self.workload
            && !(rate > 0.0 && rate.is_finite())
        {
            return Err(format!("workload.rate must be positive, got {rate}"));
        }
        if !self.schedule.is_empty() && !matches!(self.workload, Workload::Open { .. }) {
            return Err("schedule changes an open workload's rate: it needs workload.open".into());
        }
        if self.resolve_every == Duration::ZERO || self.slo.window == Duration::ZERO {
            return Err("resolve_every and slo.window must be positive".into());
        }
        if let Some(max) = self.node_outage_max {
            let d = self.discovery_config();
            let pool = d.raft.servers + self.scheduler.nodes;
            let floor = d.swim.suspicion_timeout_min(pool);
            if max.as_nanos() * 2 > floor.as_nanos() {
                return Err(format!(
                    "node_outage_max ({max}) must be at most half the gossip pool's suspicion floor ({floor}) for node_accuracy to be a fair promise"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.slo.success_rate) {
            return Err(format!(
                "slo.success_rate must be within 0..1, got {}",
                self.slo.success_rate
            ));
        }
        Ok(())
    }

    /// Three zones (or the scheduler's `zones`), hosts round-robin over them, 1-2 ms within a
    /// zone and 5-10 ms between zones.
    pub fn topology(&self) -> Topology {
        Topology::zoned(
            self.layout().hosts(),
            self.scheduler.zones,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(2)),
            Distribution::uniform(Duration::from_millis(5), Duration::from_millis(10)),
        )
    }
}
