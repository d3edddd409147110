//! The scheduler model's parameters: bug switches, drains, updates and [`Config`].

use super::*;

/// Switches that re-introduce scheduler bugs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// The plan applier commits plans without re-checking them: two workers planning on the
    /// same snapshot oversubscribe a node.
    pub applier_trusts_snapshot: bool,
    /// Lost allocations keep counting towards their group: they are never replaced.
    pub lost_allocs_not_replaced: bool,
    /// Failed allocations are replaced at once, without the reschedule delay.
    pub reschedule_without_backoff: bool,
    /// The heartbeat TTL stays at the minimum however large the cluster: the servers get more
    /// heartbeats per second than `max_heartbeats_per_second`.
    pub fixed_heartbeat_ttl: bool,
    /// Evaluations live only in the leader's broker: a new leader does not restore the
    /// pending ones from the replicated state, so a leader change loses them and their jobs
    /// stay below count.
    pub evals_in_leader_memory: bool,
    /// A rolling update ignores `max_parallel` and health: every allocation of an older
    /// version gets its replacement at once and is stopped at once, so the group runs
    /// nothing healthy until the new version is up.
    pub update_ignores_max_parallel: bool,
}

/// What the history records: the submitter's view of its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// The servers acknowledged a job's registration (it is committed).
    JobAcknowledged {
        /// The job.
        job: String,
        /// The term of the leader that committed it: every leader of this term or a later
        /// one must hold it.
        term: u64,
    },
}

/// A drain an operator starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainSpec {
    /// The node index.
    pub node: u32,
    /// When (from the start of the run).
    pub at: Duration,
    /// How long its allocations have to leave.
    pub deadline: Duration,
}

/// A job update the operator makes: at `at`, every service job gets version 1, with the
/// changes given (none: the same specification redeployed), rolled out under `policy`.
/// Batch jobs are not updated in place (as in Nomad, a batch job's new version applies to
/// allocations placed from then on; here batch jobs are simply left alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateSpec {
    /// When (from the start of the run).
    pub at: Duration,
    /// How the allocations move to the new version.
    pub policy: UpdatePolicy,
    /// The new version's resources per allocation (`None`: unchanged).
    pub resources: Option<Resources>,
    /// A bad version: its tasks crash this long after every start, so it never turns
    /// healthy and the deployment fails.
    pub fail_after: Option<Duration>,
}

impl Default for UpdateSpec {
    fn default() -> Self {
        UpdateSpec {
            at: Duration::from_secs(60),
            policy: UpdatePolicy::default(),
            resources: None,
            fail_after: None,
        }
    }
}

/// Parameters of a scheduler run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Scheduler servers (one host each, hosts `0..servers`), replicating the state with Raft.
    pub servers: u32,
    /// Raft: shortest election timeout.
    pub election_timeout_min: Duration,
    /// Raft: longest election timeout.
    pub election_timeout_max: Duration,
    /// Raft: how often the leader heartbeats its followers.
    pub raft_heartbeat_interval: Duration,
    /// Client nodes (one host each, after the servers' hosts).
    pub nodes: u32,
    /// What each node offers.
    pub node_capacity: Resources,
    /// Nodes get zones `z0..` round-robin (unless the topology names the host's zone).
    pub zones: u32,
    /// Nodes get racks `r0..` round-robin.
    pub racks: u32,
    /// Nodes get classes `c0..` round-robin.
    pub classes: u32,
    /// Scheduler workers on the leader.
    pub workers: u32,
    /// Planning time per node examined (decision time).
    pub scheduling_cost_per_node: Duration,
    /// How node fit is scored.
    pub algorithm: FitAlgorithm,
    /// Heartbeat TTL policy.
    pub heartbeat: HeartbeatPolicy,
    /// Agents resend an unanswered registration or heartbeat, and the submitter an
    /// unacknowledged job or drain, after this long (to the next server).
    pub client_retry: Duration,
    /// Restart policy of service tasks.
    pub service_restart: RestartPolicy,
    /// Restart policy of batch tasks.
    pub batch_restart: RestartPolicy,
    /// Reschedule policy of service jobs.
    pub service_reschedule: ReschedulePolicy,
    /// Reschedule policy of batch jobs.
    pub batch_reschedule: ReschedulePolicy,
    /// Mean time between random crashes of every task (`None`: none).
    pub task_mean_time_to_failure: Option<Duration>,
    /// Generated service jobs.
    pub service_jobs: u32,
    /// Allocations per service job.
    pub service_count: u32,
    /// What each service allocation needs.
    pub service_resources: Resources,
    /// Service jobs place at most one allocation per node.
    pub service_distinct_hosts: bool,
    /// Service jobs spread over this attribute.
    pub service_spread: Option<Attribute>,
    /// Generated batch jobs.
    pub batch_jobs: u32,
    /// Allocations per batch job.
    pub batch_count: u32,
    /// What each batch allocation needs.
    pub batch_resources: Resources,
    /// How long a batch task runs.
    pub batch_run_for: Duration,
    /// Generated crash-looping service jobs (count 1, failing `crash_after` every start).
    pub crashing_jobs: u32,
    /// How long a crash-looping task lives.
    pub crash_after: Duration,
    /// Further jobs, as written.
    pub jobs: Vec<Job>,
    /// When the first job is submitted.
    pub submit_at: Duration,
    /// Between consecutive submissions.
    pub submit_interval: Duration,
    /// Drains the operator starts.
    pub drains: Vec<DrainSpec>,
    /// Allocations of a task group migrated off draining nodes at once (Nomad's
    /// `migrate.max_parallel`, default 1; the same for every group, since groups carry no
    /// migrate block here). An original is stopped only once its replacement runs; the drain
    /// deadline stops whatever is left together.
    pub migrate_max_parallel: u32,
    /// What happens to the allocations of a node that misses its heartbeats: kept unknown for
    /// `lost_after` (default 0: replaced at once), and who stays when it comes back.
    pub disconnect: DisconnectPolicy,
    /// Utilisation sampling period.
    pub sample_every: Duration,
    /// A rolling update of the service jobs (`None`: jobs keep their first version).
    pub update: Option<UpdateSpec>,
    /// Bug switches (all off: a correct scheduler).
    pub bugs: Bugs,
    /// The servers' Raft bug switches (all off), passed to [`Config::raft`].
    pub raft_bugs: raft::Bugs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            servers: 3,
            election_timeout_min: Duration::from_secs(1),
            election_timeout_max: Duration::from_secs(2),
            raft_heartbeat_interval: Duration::from_millis(200),
            nodes: 8,
            node_capacity: Resources::new(4000, 8192),
            zones: 3,
            racks: 4,
            classes: 1,
            workers: 2,
            scheduling_cost_per_node: Duration::from_millis(1),
            algorithm: FitAlgorithm::Binpack,
            heartbeat: HeartbeatPolicy::default(),
            client_retry: Duration::from_secs(1),
            service_restart: RestartPolicy::default(),
            batch_restart: RestartPolicy {
                attempts: 3,
                interval: Duration::from_secs(24 * 3600),
                delay: Duration::from_secs(15),
            },
            service_reschedule: ReschedulePolicy::default(),
            batch_reschedule: ReschedulePolicy::batch_default(),
            task_mean_time_to_failure: None,
            service_jobs: 4,
            service_count: 3,
            service_resources: Resources::new(500, 512),
            service_distinct_hosts: false,
            service_spread: None,
            batch_jobs: 2,
            batch_count: 2,
            batch_resources: Resources::new(1000, 1024),
            batch_run_for: Duration::from_secs(60),
            crashing_jobs: 0,
            crash_after: Duration::from_secs(5),
            jobs: Vec::new(),
            submit_at: Duration::from_secs(1),
            submit_interval: Duration::from_millis(100),
            drains: Vec::new(),
            migrate_max_parallel: 1,
            disconnect: DisconnectPolicy::default(),
            sample_every: Duration::from_secs(1),
            update: None,
            bugs: Bugs::default(),
            raft_bugs: raft::Bugs::default(),
        }
    }
}

impl Config {
    /// Every job the submitter submits, in order: services, batch, crash-looping, then `jobs`.
    pub fn all_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        let mut service_constraints = Vec::new();
        if self.service_distinct_hosts {
            service_constraints.push(Constraint::DistinctHosts);
        }
        for i in 0..self.service_jobs {
            jobs.push(Job {
                name: format!("service-{i}"),
                kind: JobKind::Service,
                groups: vec![TaskGroup {
                    count: self.service_count,
                    resources: self.service_resources,
                    constraints: service_constraints.clone(),
                    spread: self.service_spread,
                    task: TaskSpec::default(),
                }],
            });
        }
        for i in 0..self.batch_jobs {
            jobs.push(Job {
                name: format!("batch-{i}"),
                kind: JobKind::Batch,
                groups: vec![TaskGroup {
                    count: self.batch_count,
                    resources: self.batch_resources,
                    constraints: Vec::new(),
                    spread: None,
                    task: TaskSpec {
                        run_for: Some(self.batch_run_for),
                        fail_after: None,
                        service: None,
                    },
                }],
            });
        }
        for i in 0..self.crashing_jobs {
            jobs.push(Job {
                name: format!("crashing-{i}"),
                kind: JobKind::Service,
                groups: vec![TaskGroup {
                    count: 1,
                    resources: self.service_resources,
                    constraints: Vec::new(),
                    spread: None,
                    task: TaskSpec {
                        run_for: None,
                        fail_after: Some(self.crash_after),
                        service: None,
                    },
                }],
            });
        }
        jobs.extend(self.jobs.iter().cloned());
        jobs
    }

    /// The configured update's new versions (version 1) of the service jobs, in
    /// [`Config::all_jobs`] order; empty without an update.
    pub fn updated_jobs(&self) -> Vec<Job> {
        let Some(update) = self.update else {
            return Vec::new();
        };
        self.all_jobs()
            .into_iter()
            .filter(|j| j.kind == JobKind::Service)
            .map(|mut j| {
                for g in &mut j.groups {
                    if let Some(r) = update.resources {
                        g.resources = r;
                    }
                    if update.fail_after.is_some() {
                        g.task.fail_after = update.fail_after;
                    }
                }
                j
            })
            .collect()
    }

    /// Hosts the model needs: one per server and one per node.
    pub fn hosts(&self) -> u32 {
        self.servers + self.nodes
    }

    /// The host of node `i`.
    pub fn node_host(&self, i: u32) -> HostId {
        HostId(self.servers + i)
    }

    /// The Raft parameters of the servers.
    pub fn raft(&self) -> raft::Config {
        raft::Config {
            servers: self.servers,
            clients: 0,
            election_timeout_min: self.election_timeout_min,
            election_timeout_max: self.election_timeout_max,
            heartbeat_interval: self.raft_heartbeat_interval,
            bugs: self.raft_bugs,
            ..raft::Config::default()
        }
    }

    /// After the heal, every job that fits runs at its count within this bound. It adds, in
    /// series, the worst case of every step between the heal and a replacement running:
    ///
    /// - a leader: two election timeouts (one split vote) plus a third to be established;
    /// - every agent finds it: one `client_retry` per server tried;
    /// - a node that missed its deadline during the faults is marked down: a new leader arms
    ///   every deadline afresh, so at most the longest TTL (twice the base for the cluster's
    ///   size, with the stagger) plus the grace (plus the time to find the leader, above);
    /// - the node's allocations are then replaced by one plan per job
    ///   (`scheduling_cost_per_node` x nodes examined, at worst every job in turn on one
    ///   worker), committed within an election timeout;
    /// - a node whose push was lost is re-synced at its next heartbeat (the longest TTL) and
    ///   starts the task within a `client_retry`;
    /// - a task that failed waits the restart delay, and a failed allocation the first
    ///   reschedule delay, before its replacement.
    ///
    /// With the defaults and 6 nodes: 6 + 3 + (20 + 10) + (0.036 + 2) + (20 + 1) + 15 + 30
    /// = 107 s.
    pub fn liveness_within(&self) -> Duration {
        let election = self.election_timeout_max * 3;
        let find_leader = self.client_retry * u64::from(self.servers);
        let longest_ttl = self
            .heartbeat
            .base_ttl(self.nodes as usize, self.bugs.fixed_heartbeat_ttl)
            * 2;
        let marked_down = longest_ttl + self.heartbeat.heartbeat_grace + self.disconnect.lost_after;
        let jobs = self.all_jobs().len() as u64;
        let plans =
            self.scheduling_cost_per_node * (u64::from(self.nodes) * jobs) + self.election_timeout_max;
        let resync = longest_ttl + self.client_retry;
        let restart = self.service_restart.delay.max(self.batch_restart.delay);
        let reschedule = self.service_reschedule.delay.max(self.batch_reschedule.delay);
        let rollout = self.update.map_or(Duration::ZERO, |u| {
            // One step per `max_parallel` allocations of the largest group: the replacement is
            // planned and committed, reaches its node (at worst at its next heartbeat) and
            // reports, runs `min_healthy_time`, and the health check's plan commits.
            let largest = self
                .updated_jobs()
                .iter()
                .flat_map(|j| j.groups.iter().map(|g| g.count))
                .max()
                .unwrap_or(0);
            let steps = u64::from(largest.div_ceil(u.policy.max_parallel.max(1)));
            let step = plans + resync + u.policy.min_healthy_time + self.election_timeout_max;
            step * steps
        });
        election + find_leader + marked_down + plans + resync + restart + reschedule + rollout
    }

    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 {
            return Err("nodes must be at least 1".into());
        }
        if self.zones == 0 || self.racks == 0 || self.classes == 0 {
            return Err("zones, racks and classes must be at least 1".into());
        }
        if self.workers == 0 {
            return Err("workers must be at least 1".into());
        }
        if self.migrate_max_parallel == 0 {
            return Err("migrate_max_parallel must be at least 1".into());
        }
        if let Some(u) = self.update {
            if u.policy.max_parallel == 0 {
                return Err("update.policy.max_parallel must be at least 1".into());
            }
            if u.policy.healthy_deadline <= u.policy.min_healthy_time {
                return Err("update.policy.healthy_deadline must exceed min_healthy_time".into());
            }
        }
        if self.servers == 0 || self.servers > 64 {
            return Err("servers must be between 1 and 64".into());
        }
        self.raft().validate()?;
        if self.client_retry == Duration::ZERO {
            return Err("client_retry must be positive".into());
        }
        if self.sample_every == Duration::ZERO {
            return Err("sample_every must be positive".into());
        }
        if self.heartbeat.min_heartbeat_ttl == Duration::ZERO || self.heartbeat.max_heartbeats_per_second == 0
        {
            return Err(
                "heartbeat.min_heartbeat_ttl and heartbeat.max_heartbeats_per_second must be positive".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for job in self.all_jobs() {
            if !names.insert(job.name.clone()) {
                return Err(format!("two jobs are named {:?}", job.name));
            }
            if job.groups.is_empty() {
                return Err(format!("job {:?} has no task group", job.name));
            }
        }
        if let Some(d) = self.drains.iter().find(|d| d.node >= self.nodes) {
            return Err(format!(
                "drain of node {} but there are {} nodes",
                d.node, self.nodes
            ));
        }
        Ok(())
    }

    /// A single-switch topology with the servers' hosts and one per node, latency 1-5 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts(),
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    /// What each node's agent is built with.
    pub fn agent_settings(&self) -> AgentSettings {
        AgentSettings {
            servers: self.servers,
            service_restart: self.service_restart,
            batch_restart: self.batch_restart,
            retry: self.client_retry,
            task_mean_time_to_failure: self.task_mean_time_to_failure,
            sample_every: self.sample_every,
        }
    }

    /// What each server is built with.
    pub fn server_settings(&self) -> ServerSettings {
        ServerSettings {
            workers: self.workers,
            scheduling_cost_per_node: self.scheduling_cost_per_node,
            heartbeat: self.heartbeat,
            planning: Settings {
                algorithm: self.algorithm,
                service_reschedule: self.service_reschedule,
                batch_reschedule: self.batch_reschedule,
                lost_allocs_not_replaced: self.bugs.lost_allocs_not_replaced,
                reschedule_without_backoff: self.bugs.reschedule_without_backoff,
                migrate_max_parallel: self.migrate_max_parallel,
                disconnect: self.disconnect,
                update_ignores_max_parallel: self.bugs.update_ignores_max_parallel,
            },
            applier_trusts_snapshot: self.bugs.applier_trusts_snapshot,
            fixed_heartbeat_ttl: self.bugs.fixed_heartbeat_ttl,
            sample_every: self.sample_every,
            heartbeat_warmup: self.heartbeat.base_ttl(self.nodes as usize, false) * 2
                + self.heartbeat.heartbeat_grace,
            evals_in_leader_memory: self.bugs.evals_in_leader_memory,
            failover_grace: self.client_retry * u64::from(self.servers),
        }
    }
}
