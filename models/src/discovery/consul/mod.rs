//! A Consul-like service catalog: Raft-replicated catalog servers, a local agent on every
//! instance host that registers its instances, runs their health checks and syncs them to the
//! servers, one SWIM gossip pool for node failure detection, and callers that resolve a
//! service before calling it.
//!
//! - **Servers** ([`CatalogServer`], `server.rs`) embed `raft::Server<HealthCatalog>` (the
//!   project's Raft with the [`HealthCatalog`] state machine), so the catalog survives server
//!   crashes and refuses writes without a quorum. They answer **blocking queries**: a query
//!   carries the index the caller has seen and is held until the service's modify index passes
//!   it or `watch_wait` runs out. By default only the leader answers (from its own state, as
//!   Consul's default consistency mode does); with `stale_reads` any server answers.
//! - **Node failure detection** is Consul's: every server and every agent is a member of one
//!   LAN gossip pool, the SWIM component (`discovery::swim`, embedded through
//!   `ctx.scope(ConsulMsg::Swim, ConsulTimer::Swim)`). The Raft leader keeps each node's health
//!   in the catalog equal to its own member's verdict on that node's agent (the `serfHealth`
//!   check): critical when the pool declares it dead or it left, passing again when it
//!   rejoins, on every change it hears of and every `reconcile_interval`.
//! - **Agents** ([`Agent`], `agent.rs`) take their instances' registrations and
//!   deregistrations, persist them (synced to disk before acknowledging), run a check per
//!   instance (a TTL check the instance must refresh, or an active check with interval,
//!   timeout and failures-before-critical; checks start critical), push the node's whole state
//!   on every change, and every `sync_interval` read the node back from the catalog and push
//!   again if it differs (anti-entropy). In `agent` resolve mode they answer callers from a
//!   cache they keep fresh with blocking queries.
//! - **Catalog commands** of agents and of the leader go through `raft::Client::submit`, which
//!   finds the leader, retries, and records each command's invocation and completion: the
//!   history `catalog_linearizable` checks.
//! - **Instances** (`instance.rs`) register through their agent, and deregister at a set time
//!   (`deregistrations`), then shut down `deregister_grace` later: callers stop routing to them
//!   before they go.
//! - **Callers** ([`ConsulCaller`], `caller.rs`) resolve through a DNS-like cache with a TTL,
//!   a watch (blocking query), or the local agent, route only to passing instances, and
//!   balance over them with `services::policy::Balancer`.
//!
//! ## Properties
//!
//! - `catalog_linearizable` (at the end): the history of catalog commands (syncs,
//!   deregistrations, node-health writes, and agents' reads of their node), each invoked and
//!   completed with its result, is linearizable against [`HealthSpec`] (the replicas' own
//!   step), checked one node at a time by the shared checker.
//! - `no_route_to_long_dead`: no call goes to an instance dead longer than
//!   [`Config::routing_bound`] (check + commit + the resolve mode's staleness), counted from
//!   the later of its death and the heal.
//! - `acknowledged_registrations_kept` (at the end): every registration an agent acknowledged
//!   and the instance did not later deregister is still in the most advanced server's catalog
//!   (whatever its health).
//! - `views_converge_after_heal`: within [`Config::views_converge_bound`] of the heal (nodes
//!   rejoin the pool, the leader marks them passing, anti-entropy, the resolve path), every
//!   caller's view is exactly the live instances of its service.
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
//! | `consul` (DNS mode; host crashes, process kills, partitions, pauses, one permanent instance crash, one deregistration) | 0 of 300 | |
//! | `consul --set model.resolve='"watch"'` | 0 of 100 | |
//! | `consul --set model.resolve='"agent"'` | 0 of 100 | |
//! | `consul_cache_without_expiry` | 20 of 20 (first: index 0) | no fault at all |
//! | `consul_registrations_not_persisted` | 14 of 20 (first: index 0; all by `acknowledged_registrations_kept`, which outranks `views_converge_after_heal` whose deadline lies past the horizon); 0 of 20 with the switch off | one 1.2 ms kill of an agent, 1 caller, 2 instances |
//!
//! Commands: `ruckus sweep NAME --seeds N --jobs 1` (debug build), then `ruckus shrink` on the
//! first failing trace. Raft's `stale_read_deposed_leader` under short partitions makes
//! `catalog_linearizable` fail (an agent reads its node from a cut-off leader's stale catalog):
//! 2 of 40 seeds, 0 of 40 with it off (test
//! `a_stale_node_read_from_a_deposed_leader_fails_catalog_linearizable`).
//!
//! Node failure detection (test `node_detection_times`, 20 seeds): a node's host crashes; the
//! catalog holds it critical 5.92 ± 0.34 s later (at most 8.2 s: a failed probe, the 4 s
//! suspicion floor once two members confirm, gossip, a commit), about what the earlier
//! heartbeats to the servers gave with a 5 s timeout; when the host is back its agent rejoins
//! with a new life and the node is passing 15 ms later.
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
//! | Consul, TTL 3 s, DNS cache 5 s | 5.10 ± 0.54 | 13.5 ± 1.5 | 20.9 ± 8.2 | 2.47 |
//! | Consul, TTL 3 s, watch | 1.77 ± 0.09 | 6.1 ± 0.2 | 13.3 ± 0.7 | 4.97 |
//! | Consul, TTL 3 s, agent cache | 1.77 ± 0.09 | 6.1 ± 0.2 | 9.6 ± 0.4 | 4.97 |
//! | Consul, active check (1 s, 500 ms, 2 failures), watch | 1.27 ± 0.09 | 4.6 ± 0.4 | 11.9 ± 0.9 | 4.98 |
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
//!
//! The Consul rows were measured again after node failure detection moved to the gossip pool
//! and agents' writes to `raft::Client` (debug build, same seeds): stop times and calls to the
//! dead are unchanged within their intervals (an instance crash is the check's to find, not
//! the pool's). Errors are up by a few in every mode (agent cache 6.1 -> 9.6, about 1-3.5
//! more per run). On a checked seed they all fall in the first 2 s: "no instance" calls before
//! the first registrations reach the catalog, likely later now because the client pauses
//! between retries while no leader is known, where the agent used to resend at once.

mod agent;
mod caller;
pub mod catalog;
mod config;
mod instance;
pub(crate) mod query;
mod server;
#[cfg(test)]
mod tests;

pub use agent::Agent;
pub use caller::ConsulCaller;
pub use catalog::{
    Health, HealthCatalog, HealthCommand, HealthOutput, HealthSpec, Listing, NodeId, NodeService, NodeState,
};
pub use config::{Bugs, CheckKind, Config, ResolveMode, ScheduledDeregistration};
pub use instance::ConsulInstance;
pub use server::CatalogServer;

use super::resolve::{self, CallMsg, CallTimer, DeathSchedule, DiscoveryOp, InstanceId, Router, ServiceId};
use super::swim::{Roster, Swim, SwimMsg, SwimScope, SwimTimer};
use crate::raft::{self, MessageOf, RecordOf, Submitted};
use query::ListingQuery;
use ruckus_sim::{
    Context, Duration, HistoryEntry, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Scope,
    Sim, View,
};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Messages of the system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConsulMsg {
    /// Raft: among servers, and the catalog commands of agents and the leader.
    Raft(MessageOf<HealthCatalog>),
    /// The gossip pool of servers and agents.
    Swim(SwimMsg),
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
    /// An instance asks its agent to deregister it.
    Deregister {
        /// The instance.
        instance: InstanceId,
    },
    /// The agent has dropped the registration (and asked the catalog to).
    Deregistered,
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
    /// The timers of a server's or agent's catalog client.
    Catalog(raft::Timer),
    /// The gossip pool member's timers.
    Swim(SwimTimer),
    /// Server: compare the pool's verdicts with the catalog.
    Reconcile,
    /// Server: a held query's wait is over.
    WatchExpire {
        /// The held query.
        key: u64,
    },
    /// Agent: anti-entropy.
    SyncEvery,
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
    /// Instance: ask to be deregistered (again, until acknowledged).
    DeregisterAt,
    /// Instance: the grace after deregistering is over.
    ShutDown,
    /// Caller: time for the next call.
    CallEvery,
    /// Caller: call timeouts.
    Call(CallTimer),
}

/// What the system records for its checkers.
#[derive(Clone, Debug, PartialEq)]
pub enum ConsulOp {
    /// Callers' routing and instances' acknowledged registrations.
    Discovery(DiscoveryOp),
    /// A catalog command's invocation or completion.
    Catalog(RecordOf<HealthCatalog>),
    /// An instance's deregistration was acknowledged to it.
    Deregistered {
        /// The instance.
        instance: InstanceId,
        /// Its service.
        service: ServiceId,
    },
}

impl From<DiscoveryOp> for ConsulOp {
    fn from(op: DiscoveryOp) -> Self {
        ConsulOp::Discovery(op)
    }
}

impl From<RecordOf<HealthCatalog>> for ConsulOp {
    fn from(record: RecordOf<HealthCatalog>) -> Self {
        ConsulOp::Catalog(record)
    }
}

/// A server's or agent's client of the catalog: it sends only what its host submits.
type CatalogClient = raft::Client<Submitted<HealthCatalog>>;
/// A catalog command the client finished.
type CatalogCompletion = raft::Completion<HealthCommand, HealthOutput>;

/// A process that can host this system's parts (servers, agents, instances, callers): its
/// history takes what they record. [`ConsulNode`] is one; a larger system embeds the parts
/// through `ctx.scope(Wrap::Consul, WrapTimer::Consul)`.
pub trait ConsulHost:
    Process<Operation: From<ConsulOp> + From<RecordOf<HealthCatalog>> + From<DiscoveryOp>>
{
}

impl<P> ConsulHost for P where
    P: Process<Operation: From<ConsulOp> + From<RecordOf<HealthCatalog>> + From<DiscoveryOp>>
{
}

/// The view of a context the parts act through.
pub type ConsulScope<'s, 'a, P> = Scope<'s, 'a, P, ConsulMsg, ConsulTimer>;

type RaftScope<'s, 'a, P> = Scope<'s, 'a, P, MessageOf<HealthCatalog>, raft::Timer>;

fn raft_scope<P: ConsulHost, R>(
    cx: &mut ConsulScope<'_, '_, P>,
    f: impl FnOnce(&mut RaftScope<'_, '_, P>) -> R,
) -> R {
    cx.nest(ConsulMsg::Raft, ConsulTimer::Raft, f)
}

fn submit_scope<P: ConsulHost, R>(
    cx: &mut ConsulScope<'_, '_, P>,
    f: impl FnOnce(&mut RaftScope<'_, '_, P>) -> R,
) -> R {
    cx.nest(ConsulMsg::Raft, ConsulTimer::Catalog, f)
}

fn swim_scope<P: ConsulHost, R>(
    cx: &mut ConsulScope<'_, '_, P>,
    f: impl FnOnce(&mut SwimScope<'_, '_, P>) -> R,
) -> R {
    cx.nest(ConsulMsg::Swim, ConsulTimer::Swim, f)
}

fn call_scope<P: ConsulHost, R>(
    cx: &mut ConsulScope<'_, '_, P>,
    f: impl FnOnce(&mut Scope<'_, '_, P, CallMsg, CallTimer>) -> R,
) -> R {
    cx.nest(ConsulMsg::Call, ConsulTimer::Call, f)
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
    /// The catalog server's Raft, if this is a server.
    pub fn as_server(&self) -> Option<&raft::Server<HealthCatalog>> {
        match self {
            ConsulNode::Server(s) => Some(&s.raft),
            _ => None,
        }
    }

    /// The gossip pool member, if this is a server or an agent.
    pub fn as_member(&self) -> Option<&Swim> {
        match self {
            ConsulNode::Server(s) => Some(&s.swim),
            ConsulNode::Agent(a) => Some(&a.swim),
            _ => None,
        }
    }
}

impl Process for ConsulNode {
    type Message = ConsulMsg;
    type Timer = ConsulTimer;
    type Operation = ConsulOp;

    /// The catalog commands' invocations paired with their completions (the routing and
    /// deregistration records are not operations with a duration).
    fn operations(history: &[HistoryEntry<ConsulOp>]) -> Vec<ruckus_sim::OperationSpan> {
        raft::operation_spans_in(history, |op| match op {
            ConsulOp::Catalog(r) => Some(r),
            _ => None,
        })
    }

    /// `consul-N (leader, term T)` for catalog server N; `agent-NODE`, `instance`, `caller`.
    fn label(&self) -> Option<String> {
        Some(match self {
            ConsulNode::Server(s) => s.raft.label("consul"),
            ConsulNode::Agent(a) => format!("agent-{}", a.node),
            ConsulNode::Instance(_) => "instance".into(),
            ConsulNode::Caller(_) => "caller".into(),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            ConsulNode::Server(s) => s.on_start(cx),
            ConsulNode::Agent(a) => a.on_start(cx),
            ConsulNode::Instance(i) => i.on_start(cx),
            ConsulNode::Caller(c) => c.on_start(cx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: ConsulMsg) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            ConsulNode::Server(s) => s.on_message(cx, from, m),
            ConsulNode::Agent(a) => a.on_message(cx, from, m),
            ConsulNode::Instance(i) => i.on_message(cx, from, m),
            ConsulNode::Caller(c) => c.on_message(cx, m),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: ConsulTimer) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            ConsulNode::Server(s) => s.on_timer(cx, t),
            ConsulNode::Agent(a) => a.on_timer(cx, t),
            ConsulNode::Instance(i) => i.on_timer(cx, t),
            ConsulNode::Caller(c) => c.on_timer(cx, t),
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
/// agents, instances, callers. Servers and agents form the gossip pool (member index = process
/// number), joining through the servers.
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
    let server_pids: Rc<[ProcessId]> = members.iter().copied().collect();
    let roster = Rc::new(Roster::new((0..config.pool_members()).map(ProcessId).collect()));
    let seeds: Rc<[u32]> = (0..servers).collect();
    let swim_config = Rc::new(config.swim);
    let member = |i: u32| {
        Swim::new(
            Rc::clone(&swim_config),
            config.swim_bugs,
            Rc::clone(&roster),
            i,
            Rc::clone(&seeds),
        )
    };
    for i in 0..servers {
        let server = CatalogServer::new(
            raft::Server::with_members(i, members.clone(), config.raft.clone()),
            member(i),
            raft::Client::submitter(config.raft.clone(), members.clone()),
            config.nodes,
            config.reconcile_interval,
            config.stale_reads,
        );
        sim.spawn(HostId(i), ConsulNode::Server(server));
    }
    let node_host = |k: u32| HostId(servers + k);
    for k in 0..config.nodes {
        let pid = config.agent_pid(k);
        let agent = Agent::new(
            k,
            Rc::clone(&shared),
            member(pid.0),
            raft::Client::submitter(config.raft.clone(), members.clone()),
            Rc::clone(&server_pids),
        );
        let id = sim.spawn(node_host(k), ConsulNode::Agent(agent));
        assert_eq!(id, pid);
    }
    let at = |list: &mut dyn Iterator<Item = (u32, Duration)>| -> BTreeMap<u32, Instant> {
        list.map(|(i, d)| (i, Instant::ZERO + d)).collect()
    };
    let crash_at = at(&mut config.crashes.iter().map(|c| (c.instance, c.at)));
    let deregister_at = at(&mut config.deregistrations.iter().map(|d| (d.instance, d.at)));
    for i in 0..config.instances {
        let node = i % config.nodes;
        let instance = ConsulInstance {
            service: i % config.services,
            agent: config.agent_pid(node),
            check: config.check,
            ttl_refresh: config.ttl_refresh,
            crash_at: crash_at.get(&i).copied(),
            deregister_at: deregister_at.get(&i).copied(),
            deregister_grace: config.deregister_grace,
            registered: false,
            deregistering: false,
            deregistered: false,
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
            listing: ListingQuery::new(Rc::clone(&server_pids), c % config.services),
            waiting_calls: 0,
            next_resolve: 0,
            resolving: None,
        };
        sim.spawn(node_host(node), ConsulNode::Caller(caller));
    }
}

fn route_of(op: &ConsulOp) -> Option<InstanceId> {
    match *op {
        ConsulOp::Discovery(DiscoveryOp::Route { instance }) => Some(instance),
        _ => None,
    }
}

/// The catalog commands of a history, for the linearizability checker.
pub fn catalog_history(history: &[HistoryEntry<ConsulOp>]) -> Vec<HistoryEntry<RecordOf<HealthCatalog>>> {
    catalog_history_in(history, |op| Some(op))
}

/// [`catalog_history`] of a history whose records include the catalog's (`as_op` finds them).
pub fn catalog_history_in<O>(
    history: &[HistoryEntry<O>],
    as_op: fn(&O) -> Option<&ConsulOp>,
) -> Vec<HistoryEntry<RecordOf<HealthCatalog>>> {
    catalog_history_indexed(history, as_op).0
}

/// [`catalog_history_in`], with each entry's position in `history` (for `View::blame`).
pub fn catalog_history_indexed<O>(
    history: &[HistoryEntry<O>],
    as_op: fn(&O) -> Option<&ConsulOp>,
) -> (Vec<HistoryEntry<RecordOf<HealthCatalog>>>, Vec<usize>) {
    history
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match as_op(&e.operation) {
            Some(ConsulOp::Catalog(r)) => Some((
                HistoryEntry {
                    time: e.time,
                    process: e.process,
                    operation: r.clone(),
                },
                i,
            )),
            _ => None,
        })
        .unzip()
}

/// The catalog's own properties, for the catalog embedded in any system: Raft's invariants,
/// `catalog_linearizable` and `acknowledged_registrations_kept` (see the module docs).
/// `as_server` finds the catalog servers' Raft among the processes, `as_op` the catalog's
/// records in the history.
pub fn catalog_properties_in<P: Process>(
    raft_config: &raft::Config,
    as_server: fn(&P) -> Option<&raft::Server<HealthCatalog>>,
    as_op: fn(&P::Operation) -> Option<&ConsulOp>,
) -> Vec<Property<P>> {
    let mut props = raft::server_properties(raft_config, as_server);
    let raft_config = raft_config.clone();
    props.push(Property::at_end(
        "catalog_linearizable",
        move |v: &View<'_, P>| {
            let (entries, index) = catalog_history_indexed(v.history(), as_op);
            raft::check_linearizable_in(v, &HealthSpec, &raft_config, &entries, Some(&index))
        },
    ));
    props.push(Property::at_end(
        "acknowledged_registrations_kept",
        move |v: &View<'_, P>| {
            let Some(best) = v.processes().filter_map(|(_, _, p)| as_server(p)).max_by_key(|s| s.applied) else {
                return Err("no catalog server".into());
            };
            let deregistered: BTreeSet<InstanceId> = v
                .history()
                .iter()
                .filter_map(|e| match as_op(&e.operation) {
                    Some(ConsulOp::Deregistered { instance, .. }) => Some(*instance),
                    _ => None,
                })
                .collect();
            for e in v.history() {
                if let Some(&ConsulOp::Discovery(DiscoveryOp::Acknowledged { instance, service })) = as_op(&e.operation)
                    && !deregistered.contains(&instance)
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
    props
}

/// Every property of the system (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<ConsulNode>> {
    let mut props = catalog_properties_in(&config.raft, ConsulNode::as_server, |op| Some(op));
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
        config.views_converge_bound(),
        true,
        (0..config.instances).map(|i| config.instance_pid(i)).collect(),
        move |i| (i - first) % services,
        |p: &ConsulNode| match p {
            ConsulNode::Caller(c) => Some((c.service, c.router.healthy())),
            _ => None,
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
    const ABOUT: &'static str = "a Consul-like catalog: Raft servers, a SWIM pool for node failures, agents with health checks and anti-entropy, callers resolving by DNS cache, watch or agent";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("callers", 1), ("instances", 1)];
    type Config = Config;
    type Process = ConsulNode;
    fn setup(sim: &mut Sim<ConsulNode>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<ConsulNode>> {
        properties(config)
    }
    /// The probes of the Raft servers inside this model.
    fn probes() -> &'static [&'static str] {
        crate::raft::SERVER_PROBES
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
