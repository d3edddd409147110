//! The whole stack: a cluster scheduler places a multi-tier service, its instances register
//! in discovery with health checks, clients resolve the front tier and call it, and each tier
//! calls the next with timeouts, retries, budgets, breakers, hedging and load balancing.
//! Faults of every kind (the chaos family included) hit every layer, and the platform is
//! judged by whether it heals on its own.
//!
//! Nothing here copies a component. Each role is an existing part, embedded through a
//! [`Scope`](ruckus_sim::Scope) over the platform's own message and timer enums:
//!
//! | process | built from |
//! |---|---|
//! | scheduler server (`p0..`) | `scheduler::Server` (Raft-replicated cluster state, broker, workers, plan applier) |
//! | submitter | `scheduler::Submitter`, submitting one service job per tier |
//! | catalog server | `consul::CatalogServer` (Raft-replicated health catalog, gossip member, blocking queries) |
//! | node agent (one per node) | `scheduler::Agent` and `consul::Agent` side by side, as Nomad and Consul agents run on every node |
//! | instance (spawned by a node agent per allocation) | the scheduler's `Task`, discovery's `ConsulInstance` (registration and TTL check), the services model's `Server` (queue, concurrency, service time, a `Caller` to the next tier) |
//! | client (outside the cluster) | the services model's `Client` (open or closed load, a `Caller`), resolving the front tier by DNS cache or watch |
//!
//! The glue is small and lives in [`process`]: an instance asks its node's agent for the next
//! tier's passing instances every `resolve_every` and hands them to its caller
//! (`Caller::set_backends`); a client does the same with the catalog servers; a node agent
//! deregisters the instances of allocations that stopped (Nomad's client does this for Consul).
//!
//! ## Layout
//!
//! Hosts: the scheduler servers', the catalog servers', one per node, one per client, spread
//! round-robin over the zones of a `zoned` topology (so a zone outage takes a scheduler
//! server, a catalog server, a third of the nodes and of the clients). Nodes carry their
//! host's zone as the scheduler's `zone` attribute, and tiers spread over zones by default.
//!
//! ## Properties
//!
//! - The scheduler's own (`scheduler.capacity`, `scheduler.constraints`, `scheduler.count`,
//!   `scheduler.acknowledged_registrations_kept`, `scheduler.jobs_at_count`...) and its Raft's
//!   invariants, through `scheduler::properties_in`.
//! - The catalog's own (`catalog.catalog_linearizable`,
//!   `catalog.acknowledged_registrations_kept`, Raft's invariants, a leader after the heal).
//! - `discovery_matches_scheduler` (liveness): within [`Config::recovery_bound`] of the heal,
//!   every tier runs at least its count of live instances and the catalog leader lists exactly
//!   the live instances as passing.
//! - `client_views_converge` (liveness): within the same bound, every client's view of the
//!   front tier is the catalog's passing list.
//! - `slo_after_heal` (liveness): within the same bound, a whole SLO window of client requests
//!   succeeds at `slo.success_rate` or better.
//!
//! ## Metrics
//!
//! Clients record `requests.ok` / `requests.failed` over time (the run report's success-rate
//! chart); tiers their `tierN.*` counters; the scheduler `sched.*`, discovery `consul.*`.
//! [`summarize`] gives the figures experiments compare: success ratio, requests lost,
//! time below the SLO, the number and mean length of outages (mean time to recover), the
//! longest, and the scheduler's replacement time.

mod config;
pub mod process;
#[cfg(test)]
mod tests;

pub use config::{Config, Layout, Slo, Tier};
pub use process::{Client, Instance, NodeAgent, Platform, PlatformMsg, PlatformOp, PlatformTimer, Shared};

use crate::discovery::consul::{self, HealthCatalog};
use crate::discovery::swim::{self, Roster, Swim};
use crate::raft;
use crate::scheduler::{self, placement::NodeId};
use ruckus_sim::{Duration, HostId, Instant, Metrics, Model, ProcessId, Property, Sim, View};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Builds the platform (see the module docs for where each role lives).
///
/// Panics with [`Config::validate`]'s message on a bad config, or if the topology has fewer
/// hosts than the layout needs.
pub fn setup(sim: &mut Sim<Platform>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid platform config: {e}");
    }
    let layout = config.layout();
    let hosts = sim.hosts().len() as u32;
    assert!(
        hosts >= layout.hosts(),
        "the platform needs {} hosts, the topology has {hosts}",
        layout.hosts()
    );
    let sched = config.scheduler_config();
    let discovery = Rc::new(config.discovery_config());
    let catalog_members: Vec<ProcessId> = (0..layout.catalog_servers)
        .map(|i| layout.catalog_server(i))
        .collect();
    let catalog_servers: Rc<[ProcessId]> = catalog_members.iter().copied().collect();
    let shared = Rc::new(Shared {
        config: config.clone(),
        discovery: Rc::clone(&discovery),
        catalog_servers: Rc::clone(&catalog_servers),
    });

    let sched_members: Vec<ProcessId> = (0..layout.sched_servers).map(ProcessId).collect();
    for i in 0..layout.sched_servers {
        let server = scheduler::Server::new(sched.server_settings(), i, sched_members.clone(), sched.raft());
        let pid = sim.spawn(HostId(i), Platform::SchedServer(server));
        assert_eq!(
            pid, sched_members[i as usize],
            "scheduler servers are the first processes"
        );
    }
    let pid = sim.spawn(HostId(0), Platform::Submitter(scheduler::Submitter::new(&sched)));
    assert_eq!(pid, layout.submitter());

    // The gossip pool: catalog servers first (member index = Raft id), then the node agents.
    let pool: Vec<ProcessId> = catalog_members
        .iter()
        .copied()
        .chain((0..layout.nodes).map(|k| layout.node_agent(k)))
        .collect();
    let roster = Rc::new(Roster::new(pool));
    let seeds: Rc<[u32]> = (0..layout.catalog_servers).collect();
    let member = |i: u32| {
        Swim::new(
            discovery.swim,
            swim::Bugs::default(),
            Rc::clone(&roster),
            i,
            Rc::clone(&seeds),
        )
    };
    for i in 0..layout.catalog_servers {
        let server = consul::CatalogServer::new(
            raft::Server::with_members(i, catalog_members.clone(), discovery.raft),
            member(i),
            raft::Client::submitter(discovery.raft, catalog_members.clone()),
            discovery.nodes,
            discovery.reconcile_interval,
            discovery.stale_reads,
        );
        let pid = sim.spawn(layout.catalog_host(i), Platform::CatalogServer(server));
        assert_eq!(pid, layout.catalog_server(i));
    }

    let settings = sched.agent_settings();
    for k in 0..layout.nodes {
        let host = layout.node_host(k);
        let zone = sim.hosts()[host.index()].zone.clone();
        let attributes = scheduler::node_attributes(&sched, k, zone.as_deref());
        let agent = NodeAgent {
            sched: scheduler::Agent::with_env(
                settings,
                NodeId(k),
                sched.node_capacity,
                attributes,
                Rc::clone(&shared),
            ),
            consul: consul::Agent::new(
                k,
                Rc::clone(&discovery),
                member(layout.catalog_servers + k),
                raft::Client::submitter(discovery.raft, catalog_members.clone()),
                Rc::clone(&catalog_servers),
            ),
            sync_every: discovery.sync_interval,
        };
        let pid = sim.spawn(host, Platform::NodeAgent(agent));
        assert_eq!(pid, layout.node_agent(k));
    }
    for c in 0..layout.clients {
        let client = Client::new(Rc::clone(&shared), c);
        sim.spawn(layout.client_host(c), Platform::Client(client));
    }
}

fn renamed<P: ruckus_sim::Process>(prefix: &str, props: Vec<Property<P>>) -> Vec<Property<P>> {
    props
        .into_iter()
        .map(|mut p| {
            p.name = format!("{prefix}.{}", p.name);
            p
        })
        .collect()
}

/// The catalog's leader of the highest term.
fn catalog_leader<'v>(v: &View<'v, Platform>) -> Result<&'v raft::Server<HealthCatalog>, String> {
    v.processes()
        .filter_map(|(_, _, p)| p.as_catalog_raft())
        .filter(|s| s.role == raft::Role::Leader)
        .max_by_key(|s| s.term)
        .ok_or_else(|| "no catalog leader".into())
}

/// Whether discovery agrees with the scheduler: every tier runs at least its count of live
/// instances, and the catalog leader lists exactly the live ones as passing.
pub fn check_discovery_matches(v: &View<'_, Platform>, config: &Config) -> Result<(), String> {
    let leader = catalog_leader(v)?;
    for (t, tier) in config.tiers.iter().enumerate() {
        let live: BTreeSet<u32> = v
            .processes()
            .filter(|(id, _, p)| v.process_up(*id) && p.as_instance().is_some_and(|i| i.tier == t as u32))
            .map(|(id, _, _)| id.0)
            .collect();
        if (live.len() as u32) < tier.serve.servers {
            return Err(format!(
                "tier {}: {} live instances of count {}",
                tier.name,
                live.len(),
                tier.serve.servers
            ));
        }
        let passing: BTreeSet<u32> = leader.state.listing(t as u32).passing().into_iter().collect();
        if passing != live {
            return Err(format!(
                "tier {}: the catalog lists {passing:?} as passing, the live instances are {live:?}",
                tier.name
            ));
        }
    }
    Ok(())
}

/// Whether every client's view of the front tier is what the catalog leader lists as passing.
pub fn check_client_views(v: &View<'_, Platform>) -> Result<(), String> {
    let leader = catalog_leader(v)?;
    let passing: BTreeSet<u32> = leader.state.listing(0).passing().into_iter().collect();
    for (id, _, p) in v.processes() {
        if let Some(c) = p.as_client()
            && v.process_up(id)
        {
            let view: BTreeSet<u32> = c.client.caller().backends().iter().map(|b| b.0).collect();
            if view != passing {
                return Err(format!(
                    "client p{}'s view of the front tier is {view:?}, the catalog lists {passing:?}",
                    id.0
                ));
            }
        }
    }
    Ok(())
}

/// The client requests' success rate within `[from, to)`, and how many there were.
pub fn success_between(metrics: &Metrics, from: Instant, to: Instant) -> (f64, u64) {
    let count = |name: &str| {
        metrics
            .timed(name)
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .count() as u64
    };
    let (ok, failed) = (count("requests.ok"), count("requests.failed"));
    let total = ok + failed;
    (if total == 0 { 0.0 } else { ok as f64 / total as f64 }, total)
}

/// The components' properties and the platform's own (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<Platform>> {
    let sched = config.scheduler_config();
    let discovery = config.discovery_config();
    let mut props = renamed(
        "scheduler",
        raft::server_properties(&sched.raft(), Platform::as_sched_raft),
    );
    props.extend(renamed(
        "scheduler",
        scheduler::properties_in(
            &sched,
            scheduler::Embedding {
                as_server: Platform::as_sched_server,
                as_op: PlatformOp::as_sched,
            },
        ),
    ));
    let mut catalog = consul::catalog_properties_in::<Platform>(
        &discovery.raft,
        Platform::as_catalog_raft,
        PlatformOp::as_consul,
    );
    catalog.push(raft::leader_and_progress_after_heal::<Platform, HealthCatalog>(
        discovery.raft.liveness_within,
        false,
        Platform::as_catalog_raft,
    ));
    props.extend(renamed("catalog", catalog));
    let bound = config.recovery_bound();
    let matches = config.clone();
    props.push(Property::eventually(
        "discovery_matches_scheduler",
        bound,
        move |v| check_discovery_matches(v, &matches),
    ));
    props.push(Property::eventually(
        "client_views_converge",
        bound,
        check_client_views,
    ));
    let slo = config.slo;
    props.push(Property::eventually(
        "slo_after_heal",
        bound,
        move |v: &View<'_, Platform>| {
            let now = v.now();
            let from = Instant(now.0.saturating_sub(slo.window.0));
            let (rate, total) = success_between(v.metrics(), from, now);
            if total == 0 {
                return Err(format!("no client request in the last {}", slo.window));
            }
            if rate < slo.success_rate {
                return Err(format!(
                    "{:.4} of the last {}'s {total} requests succeeded, below the SLO {}",
                    rate, slo.window, slo.success_rate
                ));
            }
            Ok(())
        },
    ));
    props
}

/// Outages seen by the clients: `window`-long buckets from `from` whose success rate is below
/// `slo`, merged when consecutive. Returns each outage's (start, length).
pub fn outages(
    metrics: &Metrics,
    from: Instant,
    end: Instant,
    window: Duration,
    slo: f64,
) -> Vec<(Instant, Duration)> {
    let w = window.0.max(1);
    let buckets = end.saturating_since(from).0 / w;
    let mut found: Vec<(Instant, Duration)> = Vec::new();
    let mut open: Option<Instant> = None;
    for k in 0..buckets {
        let start = Instant(from.0 + k * w);
        let (rate, total) = success_between(metrics, start, Instant(start.0 + w));
        let bad = total > 0 && rate < slo;
        match (bad, open) {
            (true, None) => open = Some(start),
            (false, Some(s)) => {
                found.push((s, start.saturating_since(s)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        found.push((s, Instant(from.0 + buckets * w).saturating_since(s)));
    }
    found
}

/// The figures a run is judged by, from client requests started after the warm-up:
/// `success_ratio` and `requests_failed` (failed after every retry: lost for good),
/// `goodput_per_s`, and from one-second
/// buckets below the SLO rate: `outages`, `mttr_s` (their mean length), `longest_outage_s`,
/// `time_below_slo_s`; and `replacement_running_s`, the scheduler's mean time from an
/// allocation lost to its replacement running.
pub fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let from = Instant::ZERO + config.warmup();
    let after = |name: &str| metrics.timed(name).iter().filter(|(at, _)| *at >= from).count() as f64;
    let (ok, failed) = (after("requests.ok"), after("requests.failed"));
    out.insert(
        "success_ratio".into(),
        if ok + failed > 0.0 {
            ok / (ok + failed)
        } else {
            0.0
        },
    );
    out.insert("requests_failed".into(), failed);
    out.insert(
        "goodput_per_s".into(),
        ok / (end.saturating_since(from).0.max(1) as f64 / 1e9),
    );
    let found = outages(
        metrics,
        from,
        end,
        Duration::from_secs(1),
        config.slo.success_rate,
    );
    let total: u64 = found.iter().map(|(_, d)| d.0).sum();
    out.insert("outages".into(), found.len() as f64);
    out.insert("time_below_slo_s".into(), total as f64 / 1e9);
    out.insert(
        "mttr_s".into(),
        if found.is_empty() {
            0.0
        } else {
            total as f64 / found.len() as f64 / 1e9
        },
    );
    out.insert(
        "longest_outage_s".into(),
        found.iter().map(|(_, d)| d.0).max().unwrap_or(0) as f64 / 1e9,
    );
    let replaced = metrics.samples("sched.replacement_running_ns");
    if !replaced.is_empty() {
        out.insert(
            "replacement_running_s".into(),
            replaced.iter().sum::<u64>() as f64 / replaced.len() as f64 / 1e9,
        );
    }
    out
}

/// The platform as a model the command line can run.
#[derive(Debug)]
pub struct PlatformModel;

impl Model for PlatformModel {
    const NAME: &'static str = "platform";
    const ABOUT: &'static str = "the whole stack: a Raft-replicated scheduler places a three-tier service, instances register in a Consul-like catalog with health checks, clients call through discovery with HA policies";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1)];
    type Config = Config;
    type Process = Platform;
    fn setup(sim: &mut Sim<Platform>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Platform>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        let need = config.layout().hosts();
        if hosts < need {
            return Err(format!(
                "{} scheduler servers, {} catalog servers, {} nodes and {} clients need {need} hosts, the topology has {hosts}",
                config.scheduler.servers,
                config.discovery.raft.servers,
                config.scheduler.nodes,
                config.clients
            ));
        }
        Ok(())
    }
    fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        summarize(config, metrics, end)
    }
}
