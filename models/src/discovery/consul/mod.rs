//! A Consul-like service catalog: Raft-replicated catalog servers, a local agent on every
//! instance host that registers its instances, runs their health checks and syncs them to the
//! servers, and callers that resolve a service before calling it.
//!
//! - **Servers** ([`CatalogServer`]) embed `raft::Server<HealthCatalog>` (the project's Raft
//!   with the [`HealthCatalog`] state machine), so the catalog survives server crashes and
//!   refuses writes without a quorum. Around it they track agents' heartbeats (the leader
//!   writes a node critical after `node_timeout` of silence, as Consul's `serfHealth` check
//!   does) and answer **blocking queries**: a query carries the index the caller has seen and
//!   is held until the service's modify index passes it or `watch_wait` runs out. By default
//!   only the leader answers (from its own state, as Consul's default consistency mode does);
//!   with `stale_reads` any server answers.
//! - **Agents** ([`Agent`]) take their instances' registrations, persist them (synced to disk
//!   before acknowledging), run a check per instance (a TTL check the instance must refresh, or
//!   an active check with interval, timeout and failures-before-critical; checks start
//!   critical), push the node's whole state to the servers on every change and every
//!   `sync_interval` (anti-entropy), heartbeat to the servers, and in `agent` resolve mode
//!   answer callers from a cache they keep fresh with blocking queries.
//! - **Callers** ([`ConsulCaller`]) resolve through a DNS-like cache with a TTL, a watch
//!   (blocking query), or the local agent, route only to passing instances, and balance over
//!   them with `services::policy::Balancer`.
//!
//! ## Properties
//!
//! - `no_route_to_long_dead`: no call goes to an instance dead longer than
//!   [`Config::routing_bound`] (detection + commit + the resolve mode's staleness), counted from
//!   the later of its death and the heal.
//! - `acknowledged_registrations_kept` (at the end): every registration an agent acknowledged is
//!   still in the most advanced server's catalog (whatever its health).
//! - `views_converge_after_heal`: within the routing bound plus a sync interval of the heal,
//!   every caller's view is exactly the live instances of its service.
//! - Raft's own invariants through `raft::server_properties`, and a leader after the heal.
//!
//! ## Bug switches
//!
//! - `cache_without_expiry`: DNS-mode callers keep an answer for ever (health cached without
//!   expiry): they go on routing to an instance that died after their first lookup.
//! - `registrations_not_persisted`: agents keep registrations only in memory; an agent restart
//!   forgets them and its anti-entropy then removes them from the catalog.
//!
//! ## Measured
//!
//! | scenario | seeds failing | shrunk to |
//! |---|---|---|
//! | `consul` (DNS mode; host crashes, process kills, partitions, pauses, one permanent instance crash) | 0 of 1,000 | |
//! | `consul --set model.resolve='"watch"'` | 0 of 300 | |
//! | `consul --set model.resolve='"agent"'` | 0 of 300 | |
//! | `consul_cache_without_expiry` | 20 of 20 (first: index 0) | no fault at all, 1 caller, 1 instance |
//! | `consul_registrations_not_persisted` | 14 of 20 (first: index 0; 12 by `views_converge_after_heal`, 2 by `acknowledged_registrations_kept`); 0 of 20 with the switch off | one 4.9 ms kill of an agent |
//!
//! Commands: `ruckus sweep NAME --seeds N` (debug build, one job), then `ruckus shrink` on the
//! first failing trace.
//!
//! ## Consul-style against Eureka-style on an instance crash
//!
//! `ruckus explore discovery_crash`: 10 instances, 3 callers calling every 100 ms with round
//! robin, one instance dead for good at 200 s, no other fault; 20 seeds, means with 95 %
//! intervals. `stop` is the dead instance's age at the last call routed to it; every call
//! routed to it is a caller-visible error (a timeout). `errors` counts all failed calls,
//! including "no instance" calls before the callers' first lookup (Eureka's first fetch can
//! only see the registry once its 30 s response cache has been rebuilt).
//!
//! | variant | stop (s) | calls routed to the dead | errors | mean view age (s) |
//! |---|---|---|---|---|
//! | Consul, TTL 3 s, DNS cache 5 s | 5.13 ± 0.53 | 13.5 ± 1.5 | 18.2 ± 6.6 | 2.47 |
//! | Consul, TTL 3 s, watch | 1.78 ± 0.09 | 6.1 ± 0.1 | 12.4 ± 0.7 | 4.97 |
//! | Consul, TTL 3 s, agent cache | 1.78 ± 0.09 | 6.1 ± 0.2 | 6.1 ± 0.2 | 4.97 |
//! | Consul, active check (1 s, 500 ms, 2 failures), watch | 1.28 ± 0.09 | 4.7 ± 0.4 | 11.0 ± 0.9 | 4.98 |
//! | Eureka defaults (30 s / 90 s / 60 s / 30 s / 30 s) | 123.4 ± 2.3 | 348.5 ± 5.2 | 1,726 ± 57 | 14.8 |
//! | Eureka scaled down six times | 23.5 ± 0.4 | 67.9 ± 0.9 | 298 ± 10 | 2.50 |
//! | Eureka defaults, 6 instances | 183.7 ± 41.0 | 900 ± 213 | 2,254 ± 228 | 14.8 |
//!
//! Health-checked discovery stops routing to the dead within its check's detection time plus
//! the resolve path (the TTL's 2-3 s, plus up to the DNS TTL), about 25x sooner than Eureka's
//! defaults, whose lease (90 s), eviction period, response cache and fetch interval add up.
//! A watch's view is "older" on average (it is confirmed only when something changes) yet the
//! freshest in effect. With 6 instances one crash leaves 5/6 = 83 % of the expected renewals,
//! below Eureka's 85 % threshold: self-preservation keeps the dead instance for the rest of
//! many runs (the run ends 300 s after the crash).

pub mod catalog;
#[cfg(test)]
mod tests;

pub use catalog::{Health, HealthCatalog, HealthCommand, HealthOutput, Listing, NodeId, NodeService};

use super::resolve::{
    self, CallMsg, CallTimer, DeathSchedule, DiscoveryOp, InstanceId, Router, ScheduledCrash, ServiceId,
};
use crate::raft::{self, Answer, Message, MessageOf, Role};
use crate::services::policy::BalancerConfig;
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Scope,
    Sim, TimerId, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

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

/// Parameters of the Consul-like system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The catalog servers' Raft (servers, timeouts, bug switches). Its client settings
    /// (`client_timeout`) time the agents' catalog writes; its workload fields are unused.
    pub raft: raft::Config,
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
    /// Agents' periodic full sync (anti-entropy).
    pub sync_interval: Duration,
    /// Agents' heartbeats to the servers.
    pub heartbeat_interval: Duration,
    /// Silence after which the leader writes a node critical.
    pub node_timeout: Duration,
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
    /// How long a caller waits for an instance's answer.
    pub call_timeout: Duration,
    /// The balancer over the passing instances.
    pub balancer: BalancerConfig,
    /// Instances that crash for good at set times.
    pub crashes: Vec<ScheduledCrash>,
    /// Bug switches.
    pub bugs: Bugs,
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
            heartbeat_interval: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
            watch_wait: Duration::from_secs(10),
            query_timeout: Duration::from_secs(1),
            stale_reads: false,
            resolve: ResolveMode::Dns,
            cache_ttl: Duration::from_secs(5),
            call_interval: Duration::from_millis(100),
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
        self.raft.validate().map_err(|e| format!("raft: {e}"))?;
        if self.nodes == 0 || self.services == 0 {
            return Err("nodes and services must be at least 1".into());
        }
        for (name, d) in [
            ("ttl", self.ttl),
            ("ttl_refresh", self.ttl_refresh),
            ("check_interval", self.check_interval),
            ("check_timeout", self.check_timeout),
            ("sync_interval", self.sync_interval),
            ("heartbeat_interval", self.heartbeat_interval),
            ("node_timeout", self.node_timeout),
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
        if self.node_timeout <= self.heartbeat_interval {
            return Err("node_timeout must exceed heartbeat_interval".into());
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

    /// Process number of node `k`'s agent.
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

    /// The design's bound on routing to a dead instance: detection (its check, or its node's
    /// silence when the whole host is gone), then the catalog write (a leader within
    /// `raft.liveness_within`, a few client attempts), then the resolve mode's staleness.
    pub fn routing_bound(&self) -> Duration {
        let node = self.node_timeout.saturating_add(self.heartbeat_interval);
        let detection = self.check_detection().max(node);
        let commit = self
            .raft
            .liveness_within
            .saturating_add(self.raft.client_timeout.saturating_mul(2));
        detection
            .saturating_add(commit)
            .saturating_add(self.view_staleness())
    }
}

/// Messages of the system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConsulMsg {
    /// Raft: among servers, and agents' catalog writes.
    Raft(MessageOf<HealthCatalog>),
    /// An agent is alive.
    Heartbeat {
        /// Its node.
        node: NodeId,
    },
    /// A (possibly blocking) read of a service.
    Query {
        /// The asker's query number.
        id: u64,
        /// The service.
        service: ServiceId,
        /// Answer once the service's index is above this (0: at once).
        min_index: u64,
        /// Hold the query at most this long.
        wait: Duration,
    },
    /// A server's answer to a query.
    QueryReply {
        /// The query answered.
        id: u64,
        /// The listing, or `None` with a leader hint when this server may not answer.
        listing: Option<Listing>,
        /// The leader as this server knows it.
        hint: Option<u32>,
    },
    /// An instance asks its agent to register it.
    Register {
        /// The instance.
        instance: InstanceId,
        /// Its service.
        service: ServiceId,
    },
    /// The agent has the registration on disk.
    Registered,
    /// A TTL check refresh.
    TtlPass {
        /// The instance.
        instance: InstanceId,
    },
    /// An active check's probe.
    Probe {
        /// The probe's number.
        seq: u64,
    },
    /// The instance's answer to a probe.
    ProbeAck {
        /// The probe answered.
        seq: u64,
    },
    /// A caller asks its agent for a service's passing instances.
    Resolve {
        /// The caller's request number.
        id: u64,
        /// The service.
        service: ServiceId,
    },
    /// The agent's answer from its cache.
    Resolved {
        /// The request answered.
        id: u64,
        /// Passing instances.
        passing: Vec<InstanceId>,
        /// How old the agent's cache entry is.
        age: Duration,
    },
    /// Calls.
    Call(CallMsg),
}

/// Timers of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsulTimer {
    /// Raft server timers.
    Raft(raft::Timer),
    /// Server: look for silent nodes.
    NodeCheck,
    /// Server: a held query's wait is over.
    WatchExpire {
        /// The held query.
        key: u64,
    },
    /// Agent: anti-entropy.
    SyncEvery,
    /// Agent: a catalog write got no answer.
    SyncTimeout {
        /// The write.
        seq: u64,
    },
    /// Agent: heartbeat.
    Heartbeat,
    /// Agent: a TTL check expired unless refreshed since.
    TtlExpire {
        /// The instance.
        instance: InstanceId,
        /// Which refresh armed it.
        generation: u64,
    },
    /// Agent: probe an instance.
    ProbeEvery {
        /// The instance.
        instance: InstanceId,
    },
    /// Agent: a probe got no answer.
    ProbeTimeout {
        /// The instance.
        instance: InstanceId,
        /// The probe.
        seq: u64,
    },
    /// Agent or caller: a query got no answer.
    QueryTimeout {
        /// The query.
        id: u64,
    },
    /// Instance: retry registration.
    RegisterRetry,
    /// Instance: refresh the TTL check.
    TtlRefresh,
    /// Instance: the scheduled crash.
    Crash,
    /// Caller: time for the next call.
    CallEvery,
    /// Caller: call timeouts.
    Call(CallTimer),
}

/// A query a server holds until its service changes.
#[derive(Clone, Debug)]
struct Held {
    from: ProcessId,
    id: u64,
    service: ServiceId,
    min_index: u64,
    timer: TimerId,
}

/// A catalog server: Raft replicating the catalog, node liveness, blocking queries.
#[derive(Clone, Debug)]
pub struct CatalogServer {
    /// The embedded Raft server.
    pub raft: raft::Server<HealthCatalog>,
    nodes: u32,
    heartbeat_interval: Duration,
    node_timeout: Duration,
    stale_reads: bool,
    /// Local time each node was last heard.
    last_heard: BTreeMap<NodeId, Instant>,
    /// When this server last asked to mark each node critical.
    marked_at: BTreeMap<NodeId, Instant>,
    held: BTreeMap<u64, Held>,
    next_key: u64,
}

fn raft_scope<'s, 'a>(
    ctx: &'s mut Context<'a, ConsulNode>,
) -> Scope<'s, 'a, ConsulNode, MessageOf<HealthCatalog>, raft::Timer> {
    ctx.scope(ConsulMsg::Raft, ConsulTimer::Raft)
}

fn call_scope<'s, 'a>(ctx: &'s mut Context<'a, ConsulNode>) -> Scope<'s, 'a, ConsulNode, CallMsg, CallTimer> {
    ctx.scope(ConsulMsg::Call, ConsulTimer::Call)
}

impl CatalogServer {
    fn may_answer(&self) -> bool {
        self.stale_reads || self.raft.role == Role::Leader
    }

    fn leader_hint(&self) -> Option<u32> {
        self.raft.leader.filter(|&l| l != self.raft.id)
    }

    fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        self.raft.on_start(&mut raft_scope(ctx));
        let now = ctx.now();
        // A fresh server gives every node a full timeout before judging it.
        self.last_heard = (0..self.nodes).map(|n| (n, now)).collect();
        ctx.set_timer(self.heartbeat_interval, ConsulTimer::NodeCheck);
    }

    fn on_query(
        &mut self,
        ctx: &mut Context<'_, ConsulNode>,
        from: ProcessId,
        id: u64,
        service: ServiceId,
        min_index: u64,
        wait: Duration,
    ) {
        if !self.may_answer() {
            ctx.count("consul.queries_refused", 1);
            let hint = self.leader_hint();
            ctx.send(
                from,
                ConsulMsg::QueryReply {
                    id,
                    listing: None,
                    hint,
                },
            );
            return;
        }
        if self.raft.state.service_index(service) > min_index || wait == Duration::ZERO {
            let listing = Some(self.raft.state.listing(service));
            ctx.send(
                from,
                ConsulMsg::QueryReply {
                    id,
                    listing,
                    hint: None,
                },
            );
            return;
        }
        self.next_key += 1;
        let key = self.next_key;
        let timer = ctx.set_timer(wait, ConsulTimer::WatchExpire { key });
        self.held.insert(
            key,
            Held {
                from,
                id,
                service,
                min_index,
                timer,
            },
        );
    }

    /// Answers held queries whose service changed, and refuses them all if this server may no
    /// longer answer.
    fn serve_held(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        if self.held.is_empty() {
            return;
        }
        let may = self.may_answer();
        let ready: Vec<u64> = self
            .held
            .iter()
            .filter(|(_, h)| !may || self.raft.state.service_index(h.service) > h.min_index)
            .map(|(&k, _)| k)
            .collect();
        for key in ready {
            let h = self.held.remove(&key).expect("listed");
            ctx.cancel_timer(h.timer);
            let listing = may.then(|| self.raft.state.listing(h.service));
            let hint = self.leader_hint();
            ctx.send(
                h.from,
                ConsulMsg::QueryReply {
                    id: h.id,
                    listing,
                    hint,
                },
            );
        }
    }

    /// Leader: writes silent nodes critical (at most once per timeout each).
    fn check_nodes(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        ctx.set_timer(self.heartbeat_interval, ConsulTimer::NodeCheck);
        if self.raft.role != Role::Leader {
            return;
        }
        let now = ctx.now();
        for node in 0..self.nodes {
            let heard = self.last_heard.get(&node).copied().unwrap_or(now);
            let critical = self.raft.state.nodes.get(&node) == Some(&Health::Critical);
            let recently = self
                .marked_at
                .get(&node)
                .is_some_and(|&t| now.saturating_since(t) < self.node_timeout);
            if now.saturating_since(heard) > self.node_timeout && !critical && !recently {
                self.marked_at.insert(node, now);
                ctx.count("consul.nodes_marked_critical", 1);
                let session = ctx.random().next_u64();
                let me = ctx.id();
                let request = Message::Request {
                    session,
                    seq: 1,
                    input: HealthCommand::NodeHealth {
                        node,
                        health: Health::Critical,
                    },
                };
                self.raft.on_message(&mut raft_scope(ctx), me, request);
            }
        }
    }
}

/// An agent's record of one local instance.
#[derive(Clone, Debug)]
struct Local {
    service: ServiceId,
    health: Health,
    /// TTL: the refresh generation the live expiry timer belongs to.
    ttl_generation: u64,
    /// Active: failed probes in a row, and the probe in flight.
    failures: u32,
    probe: Option<(u64, TimerId)>,
}

/// A blocking query in flight (agent cache or caller watch).
#[derive(Clone, Debug)]
struct Asking {
    id: u64,
    timer: TimerId,
}

/// Talks to the catalog servers for reads: whom to ask, the query in flight.
#[derive(Clone, Debug)]
struct QueryClient {
    servers: u32,
    target: u32,
    next_id: u64,
    asking: Option<Asking>,
}

impl QueryClient {
    fn new(servers: u32) -> QueryClient {
        QueryClient {
            servers,
            target: 0,
            next_id: 0,
            asking: None,
        }
    }

    fn ask(
        &mut self,
        ctx: &mut Context<'_, ConsulNode>,
        service: ServiceId,
        min_index: u64,
        wait: Duration,
        timeout: Duration,
    ) {
        if let Some(a) = self.asking.take() {
            ctx.cancel_timer(a.timer);
        }
        self.next_id += 1;
        let id = self.next_id;
        let to = ProcessId(self.target % self.servers);
        ctx.send(
            to,
            ConsulMsg::Query {
                id,
                service,
                min_index,
                wait,
            },
        );
        let timer = ctx.set_timer(wait + timeout, ConsulTimer::QueryTimeout { id });
        self.asking = Some(Asking { id, timer });
    }

    /// The listing of a reply to the query in flight; redirects on a refusal (`None`).
    fn on_reply(
        &mut self,
        ctx: &mut Context<'_, ConsulNode>,
        id: u64,
        listing: Option<Listing>,
        hint: Option<u32>,
    ) -> Option<Option<Listing>> {
        if self.asking.as_ref().map(|a| a.id) != Some(id) {
            return None;
        }
        let a = self.asking.take().expect("checked");
        ctx.cancel_timer(a.timer);
        if listing.is_none() {
            self.target = match hint {
                Some(h) => h,
                None => self.target + 1,
            };
        }
        Some(listing)
    }

    /// Whether the timeout is for the query in flight (which is then dropped and the next
    /// server tried).
    fn on_timeout(&mut self, id: u64) -> bool {
        if self.asking.as_ref().map(|a| a.id) != Some(id) {
            return false;
        }
        self.asking = None;
        self.target += 1;
        true
    }
}

/// An agent's cached view of one service (agent resolve mode).
#[derive(Clone, Debug, Default)]
struct CacheEntry {
    listing: Option<Listing>,
    confirmed_at: Instant,
    /// Callers waiting for the first answer.
    waiting: Vec<(ProcessId, u64)>,
}

/// The local agent of one node.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Its node.
    pub node: NodeId,
    config: Rc<Config>,
    /// Registered instances by process number.
    local: BTreeMap<InstanceId, Local>,
    session: u64,
    seq: u64,
    leader: u32,
    /// The catalog write in flight, and whether the state changed since it was sent.
    writing: Option<(u64, TimerId)>,
    dirty: bool,
    probe_seq: u64,
    /// Agent resolve mode: the cache, one blocking query per service (one service at a time).
    cache: BTreeMap<ServiceId, CacheEntry>,
    cache_queries: BTreeMap<ServiceId, QueryClient>,
}

const REGISTRATIONS_KEY: &str = "agent.registrations";

impl Agent {
    fn snapshot(&self) -> Vec<NodeService> {
        self.local
            .iter()
            .map(|(&instance, l)| NodeService {
                service: l.service,
                instance,
                health: l.health,
            })
            .collect()
    }

    fn persist(&self, ctx: &mut Context<'_, ConsulNode>) {
        if self.config.bugs.registrations_not_persisted {
            return;
        }
        let mut bytes = Vec::with_capacity(8 * self.local.len());
        for (&instance, l) in &self.local {
            bytes.extend_from_slice(&instance.to_le_bytes());
            bytes.extend_from_slice(&l.service.to_le_bytes());
        }
        let mut storage = ctx.storage();
        storage.put(REGISTRATIONS_KEY, bytes);
        storage.sync();
    }

    fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        self.session = ctx.random().next_u64();
        self.seq = 0;
        self.leader = ctx.random().below(u64::from(self.config.raft.servers)) as u32;
        let saved = ctx.storage().get(REGISTRATIONS_KEY).map(<[u8]>::to_vec);
        for pair in saved.unwrap_or_default().chunks_exact(8) {
            let instance = u32::from_le_bytes(pair[0..4].try_into().expect("4 bytes"));
            let service = u32::from_le_bytes(pair[4..8].try_into().expect("4 bytes"));
            self.add(ctx, instance, service);
        }
        let jitter = Duration(ctx.random().below(self.config.sync_interval.0));
        ctx.set_timer(jitter, ConsulTimer::SyncEvery);
        ctx.set_timer(Duration::ZERO, ConsulTimer::Heartbeat);
    }

    /// Starts tracking an instance: its check starts critical.
    fn add(&mut self, ctx: &mut Context<'_, ConsulNode>, instance: InstanceId, service: ServiceId) {
        if self.local.contains_key(&instance) {
            return;
        }
        self.local.insert(
            instance,
            Local {
                service,
                health: Health::Critical,
                ttl_generation: 0,
                failures: 0,
                probe: None,
            },
        );
        match self.config.check {
            CheckKind::Ttl => {
                let timer = ConsulTimer::TtlExpire {
                    instance,
                    generation: 0,
                };
                ctx.set_timer(self.config.ttl, timer);
            }
            CheckKind::Active => {
                ctx.set_timer(Duration::ZERO, ConsulTimer::ProbeEvery { instance });
            }
        }
    }

    fn set_health(&mut self, ctx: &mut Context<'_, ConsulNode>, instance: InstanceId, health: Health) {
        let Some(l) = self.local.get_mut(&instance) else {
            return;
        };
        if l.health != health {
            l.health = health;
            ctx.count(
                match health {
                    Health::Passing => "consul.checks.passing",
                    Health::Critical => "consul.checks.critical",
                },
                1,
            );
            self.sync(ctx);
        }
    }

    /// Sends the node's state to the servers, or marks it dirty if a write is in flight.
    fn sync(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        if self.writing.is_some() {
            self.dirty = true;
            return;
        }
        self.dirty = false;
        self.seq += 1;
        self.send_write(ctx, self.seq);
    }

    fn send_write(&mut self, ctx: &mut Context<'_, ConsulNode>, seq: u64) {
        let input = HealthCommand::SyncNode {
            node: self.node,
            services: self.snapshot(),
        };
        let to = ProcessId(self.leader % self.config.raft.servers);
        let request = Message::Request {
            session: self.session,
            seq,
            input,
        };
        ctx.send(to, ConsulMsg::Raft(request));
        if let Some((_, t)) = self.writing.take() {
            ctx.cancel_timer(t);
        }
        let timer = ctx.set_timer(self.config.raft.client_timeout, ConsulTimer::SyncTimeout { seq });
        self.writing = Some((seq, timer));
    }

    fn on_raft(&mut self, ctx: &mut Context<'_, ConsulNode>, m: MessageOf<HealthCatalog>) {
        let Message::Reply { session, seq, answer } = m else {
            return;
        };
        if session != self.session || self.writing.map(|(s, _)| s) != Some(seq) {
            return;
        }
        match answer {
            Answer::Done(_) => {
                let (_, t) = self.writing.take().expect("checked");
                ctx.cancel_timer(t);
                ctx.count("consul.agent.syncs", 1);
                if self.dirty {
                    self.sync(ctx);
                }
            }
            Answer::NotLeader { hint } => {
                self.leader = hint.unwrap_or(self.leader + 1);
                // Resend as a new write: the snapshot may have changed.
                let (_, t) = self.writing.take().expect("checked");
                ctx.cancel_timer(t);
                self.sync(ctx);
            }
            Answer::Lost => {
                let (_, t) = self.writing.take().expect("checked");
                ctx.cancel_timer(t);
                self.leader += 1;
                self.sync(ctx);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, ConsulNode>, from: ProcessId, m: ConsulMsg) {
        match m {
            ConsulMsg::Raft(m) => self.on_raft(ctx, m),
            ConsulMsg::Register { instance, service } => {
                self.add(ctx, instance, service);
                self.persist(ctx);
                ctx.send(from, ConsulMsg::Registered);
                self.sync(ctx);
            }
            ConsulMsg::TtlPass { instance } => {
                let Some(l) = self.local.get_mut(&instance) else {
                    return;
                };
                if self.config.check != CheckKind::Ttl {
                    return;
                }
                l.ttl_generation += 1;
                let generation = l.ttl_generation;
                ctx.set_timer(self.config.ttl, ConsulTimer::TtlExpire { instance, generation });
                self.set_health(ctx, instance, Health::Passing);
            }
            ConsulMsg::ProbeAck { seq } => {
                let Some((&instance, _)) = self
                    .local
                    .iter()
                    .find(|(_, l)| l.probe.map(|(s, _)| s) == Some(seq))
                else {
                    return;
                };
                let l = self.local.get_mut(&instance).expect("found");
                let (_, t) = l.probe.take().expect("found");
                l.failures = 0;
                ctx.cancel_timer(t);
                self.set_health(ctx, instance, Health::Passing);
            }
            ConsulMsg::Resolve { id, service } => self.on_resolve(ctx, from, id, service),
            ConsulMsg::QueryReply { id, listing, hint } => {
                let Some((&service, _)) = self
                    .cache_queries
                    .iter()
                    .find(|(_, q)| q.asking.as_ref().map(|a| a.id) == Some(id))
                else {
                    return;
                };
                let q = self.cache_queries.get_mut(&service).expect("found");
                let Some(listing) = q.on_reply(ctx, id, listing, hint) else {
                    return;
                };
                if let Some(listing) = listing {
                    let now = ctx.now();
                    let entry = self.cache.entry(service).or_default();
                    entry.confirmed_at = now;
                    let passing = listing.passing();
                    entry.listing = Some(listing);
                    for (caller, id) in std::mem::take(&mut entry.waiting) {
                        let passing = passing.clone();
                        ctx.send(
                            caller,
                            ConsulMsg::Resolved {
                                id,
                                passing,
                                age: Duration::ZERO,
                            },
                        );
                    }
                }
                self.refresh_cache(ctx, service);
            }
            _ => {}
        }
    }

    fn on_resolve(
        &mut self,
        ctx: &mut Context<'_, ConsulNode>,
        from: ProcessId,
        id: u64,
        service: ServiceId,
    ) {
        let now = ctx.now();
        let entry = self.cache.entry(service).or_default();
        if let Some(listing) = &entry.listing {
            let age = now.saturating_since(entry.confirmed_at);
            ctx.send(
                from,
                ConsulMsg::Resolved {
                    id,
                    passing: listing.passing(),
                    age,
                },
            );
        } else {
            entry.waiting.push((from, id));
        }
        if !self.cache_queries.contains_key(&service) {
            let servers = self.config.raft.servers;
            self.cache_queries.insert(service, QueryClient::new(servers));
            self.refresh_cache(ctx, service);
        }
    }

    /// Keeps a blocking query open for a cached service.
    fn refresh_cache(&mut self, ctx: &mut Context<'_, ConsulNode>, service: ServiceId) {
        let min_index = self
            .cache
            .get(&service)
            .and_then(|e| e.listing.as_ref())
            .map_or(0, |l| l.index);
        let (wait, timeout) = (self.config.watch_wait, self.config.query_timeout);
        if let Some(q) = self.cache_queries.get_mut(&service) {
            q.ask(ctx, service, min_index, wait, timeout);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, ConsulNode>, t: ConsulTimer) {
        match t {
            ConsulTimer::SyncEvery => {
                ctx.set_timer(self.config.sync_interval, ConsulTimer::SyncEvery);
                self.sync(ctx);
            }
            ConsulTimer::SyncTimeout { seq } if self.writing.map(|(s, _)| s) == Some(seq) => {
                self.writing = None;
                self.leader += 1;
                ctx.count("consul.agent.sync_timeouts", 1);
                self.sync(ctx);
            }
            ConsulTimer::Heartbeat => {
                ctx.set_timer(self.config.heartbeat_interval, ConsulTimer::Heartbeat);
                for s in 0..self.config.raft.servers {
                    ctx.send(ProcessId(s), ConsulMsg::Heartbeat { node: self.node });
                }
            }
            ConsulTimer::TtlExpire { instance, generation }
                if self
                    .local
                    .get(&instance)
                    .is_some_and(|l| l.ttl_generation == generation) =>
            {
                self.set_health(ctx, instance, Health::Critical);
            }
            ConsulTimer::ProbeEvery { instance } => {
                let Some(l) = self.local.get_mut(&instance) else {
                    return;
                };
                ctx.set_timer(self.config.check_interval, ConsulTimer::ProbeEvery { instance });
                if l.probe.is_some() {
                    return;
                }
                self.probe_seq += 1;
                let seq = self.probe_seq;
                ctx.send(ProcessId(instance), ConsulMsg::Probe { seq });
                let timer = ctx.set_timer(
                    self.config.check_timeout,
                    ConsulTimer::ProbeTimeout { instance, seq },
                );
                l.probe = Some((seq, timer));
            }
            ConsulTimer::ProbeTimeout { instance, seq } => {
                let Some(l) = self.local.get_mut(&instance) else {
                    return;
                };
                if l.probe.map(|(s, _)| s) != Some(seq) {
                    return;
                }
                l.probe = None;
                l.failures += 1;
                if l.failures >= self.config.failures_before_critical {
                    self.set_health(ctx, instance, Health::Critical);
                }
            }
            ConsulTimer::QueryTimeout { id } => {
                let Some((&service, _)) = self
                    .cache_queries
                    .iter()
                    .find(|(_, q)| q.asking.as_ref().map(|a| a.id) == Some(id))
                else {
                    return;
                };
                if self
                    .cache_queries
                    .get_mut(&service)
                    .expect("found")
                    .on_timeout(id)
                {
                    self.refresh_cache(ctx, service);
                }
            }
            _ => {}
        }
    }
}

/// A service instance: registers through its agent, keeps its TTL check fresh, answers probes
/// and calls.
#[derive(Clone, Debug)]
pub struct ConsulInstance {
    /// Its service.
    pub service: ServiceId,
    agent: ProcessId,
    check: CheckKind,
    ttl_refresh: Duration,
    crash_at: Option<Instant>,
    /// Whether its agent acknowledged the registration.
    pub registered: bool,
}

impl ConsulInstance {
    fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        if let Some(at) = self.crash_at {
            let now = ctx.now();
            ctx.set_timer(at.saturating_since(now), ConsulTimer::Crash);
        }
        self.register(ctx);
        if self.check == CheckKind::Ttl {
            ctx.set_timer(Duration::ZERO, ConsulTimer::TtlRefresh);
        }
    }

    fn register(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        let instance = ctx.id().0;
        ctx.send(
            self.agent,
            ConsulMsg::Register {
                instance,
                service: self.service,
            },
        );
        ctx.set_timer(Duration::from_secs(1), ConsulTimer::RegisterRetry);
    }
}

/// A caller: resolves its service, then calls one passing instance.
#[derive(Clone, Debug)]
pub struct ConsulCaller {
    /// The service it calls.
    pub service: ServiceId,
    config: Rc<Config>,
    agent: ProcessId,
    /// Its view and balancer.
    pub router: Router,
    query: QueryClient,
    /// The index of the last listing seen (watch mode).
    index: u64,
    /// Calls waiting for a lookup (DNS mode after expiry).
    waiting_calls: u32,
    next_resolve: u64,
    resolving: Option<(u64, Instant)>,
}

impl ConsulCaller {
    fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        // Callers start at spread-out times, so their DNS caches expire at unrelated moments.
        let spread = match self.config.resolve {
            ResolveMode::Dns => self.config.call_interval.max(self.config.cache_ttl),
            ResolveMode::Watch | ResolveMode::Agent => self.config.call_interval,
        };
        let first = Duration(ctx.random().below(spread.0));
        ctx.set_timer(first, ConsulTimer::CallEvery);
        self.query.target = ctx.random().below(u64::from(self.config.raft.servers)) as u32;
        if self.config.resolve == ResolveMode::Watch {
            self.watch(ctx);
        }
    }

    fn watch(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        let (wait, timeout) = (self.config.watch_wait, self.config.query_timeout);
        self.query.ask(ctx, self.service, self.index, wait, timeout);
    }

    fn on_call_every(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        let mean = self.config.call_interval.0;
        let next = Duration(ctx.random().range_inclusive(mean / 2, mean + mean / 2));
        ctx.set_timer(next, ConsulTimer::CallEvery);
        let now = ctx.now();
        match self.config.resolve {
            ResolveMode::Watch => {
                self.router.call(&mut call_scope(ctx));
            }
            ResolveMode::Dns => {
                // The bug keeps any answer that listed instances for ever.
                let forever = self.config.bugs.cache_without_expiry && !self.router.healthy().is_empty();
                let fresh = self
                    .router
                    .confirmed_at()
                    .is_some_and(|at| forever || now.saturating_since(at) < self.config.cache_ttl);
                if fresh {
                    self.router.call(&mut call_scope(ctx));
                    return;
                }
                if self.router.confirmed_at().is_some() {
                    self.router.clear_view();
                }
                self.waiting_calls = (self.waiting_calls + 1).min(1);
                if self.query.asking.is_none() {
                    self.query
                        .ask(ctx, self.service, 0, Duration::ZERO, self.config.query_timeout);
                }
            }
            ResolveMode::Agent => {
                if let Some((_, sent)) = self.resolving {
                    if now.saturating_since(sent) < self.config.query_timeout {
                        return;
                    }
                    ctx.count("discovery.resolve.failed", 1);
                }
                self.next_resolve += 1;
                let id = self.next_resolve;
                self.resolving = Some((id, now));
                ctx.send(
                    self.agent,
                    ConsulMsg::Resolve {
                        id,
                        service: self.service,
                    },
                );
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, ConsulNode>, m: ConsulMsg) {
        let now = ctx.now();
        match m {
            ConsulMsg::QueryReply { id, listing, hint } => {
                let Some(listing) = self.query.on_reply(ctx, id, listing, hint) else {
                    return;
                };
                match (self.config.resolve, listing) {
                    (ResolveMode::Watch, Some(l)) => {
                        self.index = l.index;
                        self.router.set_view(l.passing(), now);
                        self.watch(ctx);
                    }
                    (ResolveMode::Watch, None) => self.watch(ctx),
                    (ResolveMode::Dns, Some(l)) => {
                        self.router.set_view(l.passing(), now);
                        for _ in 0..std::mem::take(&mut self.waiting_calls) {
                            self.router.call(&mut call_scope(ctx));
                        }
                    }
                    (ResolveMode::Dns, None) => {
                        let timeout = self.config.query_timeout;
                        self.query.ask(ctx, self.service, 0, Duration::ZERO, timeout);
                    }
                    (ResolveMode::Agent, _) => {}
                }
            }
            ConsulMsg::Resolved { id, passing, age } => {
                if self.resolving.map(|(r, _)| r) != Some(id) {
                    return;
                }
                self.resolving = None;
                self.router
                    .set_view(passing, Instant(now.0.saturating_sub(age.0)));
                self.router.call(&mut call_scope(ctx));
            }
            ConsulMsg::Call(m) => self.router.on_call_msg(&mut call_scope(ctx), m),
            _ => {}
        }
    }

    fn on_query_timeout(&mut self, ctx: &mut Context<'_, ConsulNode>, id: u64) {
        if !self.query.on_timeout(id) {
            return;
        }
        ctx.count("discovery.resolve.failed", 1);
        match self.config.resolve {
            ResolveMode::Watch => self.watch(ctx),
            ResolveMode::Dns => {
                let timeout = self.config.query_timeout;
                self.query.ask(ctx, self.service, 0, Duration::ZERO, timeout);
            }
            ResolveMode::Agent => {}
        }
    }
}

/// The system's process: one of four roles.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ConsulNode {
    /// A catalog server.
    Server(CatalogServer),
    /// A node's agent.
    Agent(Agent),
    /// A service instance.
    Instance(ConsulInstance),
    /// A caller.
    Caller(ConsulCaller),
}

impl ConsulNode {
    /// The catalog server, if this is one.
    pub fn as_server(&self) -> Option<&raft::Server<HealthCatalog>> {
        match self {
            ConsulNode::Server(s) => Some(&s.raft),
            _ => None,
        }
    }
}

impl Process for ConsulNode {
    type Message = ConsulMsg;
    type Timer = ConsulTimer;
    type Operation = DiscoveryOp;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            ConsulNode::Server(s) => s.on_start(ctx),
            ConsulNode::Agent(a) => a.on_start(ctx),
            ConsulNode::Instance(i) => i.on_start(ctx),
            ConsulNode::Caller(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: ConsulMsg) {
        match self {
            ConsulNode::Server(s) => {
                match m {
                    ConsulMsg::Raft(m) => s.raft.on_message(&mut raft_scope(ctx), from, m),
                    ConsulMsg::Heartbeat { node } => {
                        let now = ctx.now();
                        s.last_heard.insert(node, now);
                    }
                    ConsulMsg::Query {
                        id,
                        service,
                        min_index,
                        wait,
                    } => s.on_query(ctx, from, id, service, min_index, wait),
                    _ => {}
                }
                s.serve_held(ctx);
            }
            ConsulNode::Agent(a) => a.on_message(ctx, from, m),
            ConsulNode::Instance(i) => match m {
                ConsulMsg::Registered if !i.registered => {
                    i.registered = true;
                    let instance = ctx.id().0;
                    ctx.record(DiscoveryOp::Acknowledged {
                        instance,
                        service: i.service,
                    });
                }
                ConsulMsg::Probe { seq } => ctx.send(from, ConsulMsg::ProbeAck { seq }),
                ConsulMsg::Call(m) => resolve::answer_call(&mut call_scope(ctx), from, m),
                _ => {}
            },
            ConsulNode::Caller(c) => c.on_message(ctx, m),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: ConsulTimer) {
        match self {
            ConsulNode::Server(s) => {
                match t {
                    ConsulTimer::Raft(t) => s.raft.on_timer(&mut raft_scope(ctx), t),
                    ConsulTimer::NodeCheck => s.check_nodes(ctx),
                    ConsulTimer::WatchExpire { key } => {
                        if let Some(h) = s.held.remove(&key) {
                            let listing = s.may_answer().then(|| s.raft.state.listing(h.service));
                            let hint = s.leader_hint();
                            ctx.send(
                                h.from,
                                ConsulMsg::QueryReply {
                                    id: h.id,
                                    listing,
                                    hint,
                                },
                            );
                        }
                    }
                    _ => {}
                }
                s.serve_held(ctx);
            }
            ConsulNode::Agent(a) => a.on_timer(ctx, t),
            ConsulNode::Instance(i) => match t {
                ConsulTimer::RegisterRetry if !i.registered => i.register(ctx),
                ConsulTimer::TtlRefresh => {
                    ctx.set_timer(i.ttl_refresh, ConsulTimer::TtlRefresh);
                    let instance = ctx.id().0;
                    ctx.send(i.agent, ConsulMsg::TtlPass { instance });
                }
                ConsulTimer::Crash => {
                    ctx.count("discovery.scheduled_crashes", 1);
                    let me = ctx.id();
                    ctx.stop_process(me);
                }
                _ => {}
            },
            ConsulNode::Caller(c) => match t {
                ConsulTimer::CallEvery => c.on_call_every(ctx),
                ConsulTimer::QueryTimeout { id } => c.on_query_timeout(ctx, id),
                ConsulTimer::Call(t) => c.router.on_call_timer(&mut call_scope(ctx), t),
                _ => {}
            },
        }
    }
}

/// The scheduled deaths by process number.
fn death_schedule(config: &Config) -> DeathSchedule {
    Rc::new(
        config
            .crashes
            .iter()
            .map(|c| (config.instance_pid(c.instance), Instant::ZERO + c.at))
            .collect(),
    )
}

/// Places servers on hosts `0..servers`, then per node (host `servers + k`) its agent, the
/// instances `i` with `i % nodes == k` and the callers likewise; process numbers run servers,
/// agents, instances, callers.
///
/// Panics with [`Config::validate`]'s message on a bad config, or if the topology has fewer
/// hosts than [`Config::hosts`].
pub fn setup(sim: &mut Sim<ConsulNode>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid consul config: {e}");
    }
    let hosts = sim.hosts().len() as u32;
    assert!(
        hosts >= config.hosts(),
        "{} hosts needed, {hosts} given",
        config.hosts()
    );
    let shared = Rc::new(config.clone());
    let servers = config.raft.servers;
    let members: Vec<ProcessId> = (0..servers).map(ProcessId).collect();
    for i in 0..servers {
        let server = CatalogServer {
            raft: raft::Server::with_members(i, members.clone(), config.raft),
            nodes: config.nodes,
            heartbeat_interval: config.heartbeat_interval,
            node_timeout: config.node_timeout,
            stale_reads: config.stale_reads,
            last_heard: BTreeMap::new(),
            marked_at: BTreeMap::new(),
            held: BTreeMap::new(),
            next_key: 0,
        };
        sim.spawn(HostId(i), ConsulNode::Server(server));
    }
    let node_host = |k: u32| HostId(servers + k);
    for k in 0..config.nodes {
        let agent = Agent {
            node: k,
            config: Rc::clone(&shared),
            local: BTreeMap::new(),
            session: 0,
            seq: 0,
            leader: 0,
            writing: None,
            dirty: false,
            probe_seq: 0,
            cache: BTreeMap::new(),
            cache_queries: BTreeMap::new(),
        };
        let id = sim.spawn(node_host(k), ConsulNode::Agent(agent));
        assert_eq!(id, config.agent_pid(k));
    }
    let crash_at: BTreeMap<u32, Instant> = config
        .crashes
        .iter()
        .map(|c| (c.instance, Instant::ZERO + c.at))
        .collect();
    for i in 0..config.instances {
        let node = i % config.nodes;
        let instance = ConsulInstance {
            service: i % config.services,
            agent: config.agent_pid(node),
            check: config.check,
            ttl_refresh: config.ttl_refresh,
            crash_at: crash_at.get(&i).copied(),
            registered: false,
        };
        let id = sim.spawn(node_host(node), ConsulNode::Instance(instance));
        assert_eq!(id.0, config.instance_pid(i));
    }
    let deaths = death_schedule(config);
    for c in 0..config.callers {
        let node = c % config.nodes;
        let caller = ConsulCaller {
            service: c % config.services,
            config: Rc::clone(&shared),
            agent: config.agent_pid(node),
            router: Router::new(config.balancer, config.call_timeout, Rc::clone(&deaths)),
            query: QueryClient::new(servers),
            index: 0,
            waiting_calls: 0,
            next_resolve: 0,
            resolving: None,
        };
        sim.spawn(node_host(node), ConsulNode::Caller(caller));
    }
}

fn route_of(op: &DiscoveryOp) -> Option<InstanceId> {
    match *op {
        DiscoveryOp::Route { instance } => Some(instance),
        DiscoveryOp::Acknowledged { .. } | DiscoveryOp::EmptyView => None,
    }
}

/// Every property of the system (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<ConsulNode>> {
    let mut props = raft::server_properties(&config.raft, ConsulNode::as_server);
    let heal = Rc::new(Cell::new(None));
    props.push(resolve::heal_marker(Rc::clone(&heal)));
    let instances = (0..config.instances).map(|i| config.instance_pid(i)).collect();
    props.push(resolve::no_route_to_long_dead(
        config.routing_bound(),
        instances,
        heal,
        route_of,
        |_| false,
    ));
    let (first, services) = (config.instance_pid(0), config.services);
    props.push(resolve::views_converge_after_heal(
        config.routing_bound() + config.sync_interval,
        true,
        (0..config.instances).map(|i| config.instance_pid(i)).collect(),
        move |i| (i - first) % services,
        |p: &ConsulNode| match p {
            ConsulNode::Caller(c) => Some((c.service, c.router.healthy())),
            _ => None,
        },
    ));
    props.push(Property::at_end(
        "acknowledged_registrations_kept",
        |v: &View<'_, ConsulNode>| {
            let Some(best) = v.processes().filter_map(|(_, _, p)| p.as_server()).max_by_key(|s| s.applied) else {
                return Err("no catalog server".into());
            };
            for e in v.history() {
                if let DiscoveryOp::Acknowledged { instance, service } = e.operation
                    && !best.state.lists(service, instance)
                {
                    return Err(format!(
                        "p{instance}'s registration in service {service}, acknowledged at {}, is not in the catalog of p{} (applied {})",
                        e.time, best.id, best.applied
                    ));
                }
            }
            Ok(())
        },
    ));
    props.push(raft::leader_and_progress_after_heal(
        config.raft.liveness_within,
        false,
        ConsulNode::as_server,
    ));
    props
}

/// The figures a run is judged by: calls, errors, routing to the dead, view staleness (the
/// callers' figures, shared with the Eureka design).
pub fn summarize(metrics: &Metrics) -> BTreeMap<String, f64> {
    resolve::summarize(metrics)
}

/// The Consul-like system as a model the command line can run.
#[derive(Debug)]
pub struct ConsulModel;

impl Model for ConsulModel {
    const NAME: &'static str = "consul";
    const ABOUT: &'static str = "a Consul-like catalog: Raft servers, agents with health checks and anti-entropy, callers resolving by DNS cache, watch or agent";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("callers", 1), ("instances", 1)];
    type Config = Config;
    type Process = ConsulNode;
    fn setup(sim: &mut Sim<ConsulNode>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<ConsulNode>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.hosts() {
            return Err(format!(
                "{} servers and {} nodes need {} hosts, the topology has {hosts}",
                config.raft.servers,
                config.nodes,
                config.hosts()
            ));
        }
        Ok(())
    }
    fn summarize(_config: &Config, metrics: &Metrics, _end: Instant) -> BTreeMap<String, f64> {
        summarize(metrics)
    }
}
