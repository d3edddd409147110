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
//! | task (spawned by a node agent per allocation of a crash-looping job, `scheduler.crashing_jobs`) | the scheduler's `Task` alone |
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
//! - `slo_outside_blast_windows` (safety, [`check_slo_outside_blast`]): once the platform is
//!   up, every SLO window (consecutive `slo.window`s from the warm-up) that overlaps no fault
//!   window extended by `slo.blast_grace` (30 s) meets the SLO. The fault windows are the
//!   engine's record of what each fault really did (`Metrics::fault_windows`).
//!
//! ## Metrics
//!
//! Clients record `requests.ok` / `requests.failed` over time (the run report's success-rate
//! chart); every caller the backend of each attempt ([`process::ROUTES`]); tiers their
//! `tierN.*` counters; the scheduler `sched.*`, discovery `consul.*`.
//! [`summarize`] gives the figures experiments compare: success ratio, requests lost,
//! time below the SLO, the number and mean length of outages (mean time to recover), the
//! longest, the scheduler's replacement time, and per failure ([`self_healing`]) the time to
//! the first client error, to the last request sent to a dead instance, and to the desired
//! count running again. The run report marks detection, rescheduling and recovery once per
//! episode over the shaded fault windows (`marks`).

mod config;
mod marks;
pub mod process;
#[cfg(test)]
mod tests;

pub use config::{Config, Layout, Slo, Tier};
pub use marks::{DetectionMarks, RecoveryMarks, RescheduleMarks};
pub use process::{Client, Instance, NodeAgent, Platform, PlatformMsg, PlatformOp, PlatformTimer, Shared};

use crate::discovery::consul::{self, HealthCatalog};
use crate::discovery::swim::{Roster, Swim};
use crate::raft;
use crate::scheduler::{self, placement::NodeId};
use ruckus_sim::{Duration, FaultKind, HostId, Instant, Metrics, Model, ProcessId, Property, Sim, View};
use std::cell::Cell;
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
        let pid = sim.spawn(
            HostId(i),
            Platform::SchedServer(server, RescheduleMarks::new(&shared)),
        );
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
    let swim_config = Rc::new(discovery.swim);
    let member = |i: u32| {
        Swim::new(
            Rc::clone(&swim_config),
            discovery.swim_bugs,
            Rc::clone(&roster),
            i,
            Rc::clone(&seeds),
        )
    };
    for i in 0..layout.catalog_servers {
        let server = consul::CatalogServer::new(
            raft::Server::with_members(i, catalog_members.clone(), discovery.raft.clone()),
            member(i),
            raft::Client::submitter(discovery.raft.clone(), catalog_members.clone()),
            discovery.nodes,
            discovery.reconcile_interval,
            discovery.stale_reads,
        );
        let pid = sim.spawn(
            layout.catalog_host(i),
            Platform::CatalogServer(server, DetectionMarks::new(Rc::clone(&shared))),
        );
        assert_eq!(pid, layout.catalog_server(i));
    }

    let settings = sched.agent_settings();
    for k in 0..layout.nodes {
        let host = layout.node_host(k);
        let zone = sim.hosts()[host.index()].zone.clone();
        let attributes = scheduler::node_attributes(&sched, k, zone.as_deref());
        let agent = NodeAgent::new(
            scheduler::Agent::with_env(
                settings,
                NodeId(k),
                sched.node_capacity,
                attributes,
                Rc::clone(&shared),
            ),
            consul::Agent::new(
                k,
                Rc::clone(&discovery),
                member(layout.catalog_servers + k),
                raft::Client::submitter(discovery.raft.clone(), catalog_members.clone()),
                Rc::clone(&catalog_servers),
            ),
            discovery.sync_interval,
        );
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
    let (ok, failed) = (
        between(metrics.timed("requests.ok"), from, to).len() as u64,
        between(metrics.timed("requests.failed"), from, to).len() as u64,
    );
    let total = ok + failed;
    (if total == 0 { 0.0 } else { ok as f64 / total as f64 }, total)
}

/// The samples of a timed series stamped within `[from, to)`. A process stamps its samples
/// with the time it records them, so every series is in time order: two binary searches.
fn between(series: &[(Instant, u64)], from: Instant, to: Instant) -> &[(Instant, u64)] {
    let a = series.partition_point(|(at, _)| *at < from);
    let b = series.partition_point(|(at, _)| *at < to).max(a);
    &series[a..b]
}

/// How far [`check_slo_outside_blast`] has judged a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SloProgress {
    /// The first SLO window not yet judged (0: the one starting at the warm-up).
    pub next_window: u64,
    /// Whether the platform is up: some window since the warm-up met the SLO. Windows before
    /// that are its start (the catalog filling, the clients' first answers), not outages.
    pub up: bool,
}

/// Whether every SLO window (consecutive `slo.window`s from the warm-up) that ended by `now`,
/// from `progress` on, met the SLO if it overlaps no fault's blast window (its fault window
/// extended by `slo.blast_grace`) and the platform was up (see [`SloProgress::up`]).
/// Returns how far it got.
pub fn check_slo_outside_blast(
    metrics: &Metrics,
    config: &Config,
    progress: SloProgress,
    now: Instant,
) -> Result<SloProgress, String> {
    let slo = config.slo;
    let w = slo.window.as_nanos().max(1);
    let start = Instant::ZERO + config.warmup();
    let mut p = progress;
    loop {
        let from = Instant(start.0 + p.next_window * w);
        let to = Instant(from.0 + w);
        if to > now {
            return Ok(p);
        }
        p.next_window += 1;
        let (rate, total) = success_between(metrics, from, to);
        let met = total > 0 && rate >= slo.success_rate;
        if !p.up {
            p.up = met;
            continue;
        }
        let blasted = metrics
            .fault_windows()
            .iter()
            .any(|f| f.blast_overlaps(slo.blast_grace, from, to));
        if blasted || met {
            continue;
        }
        return Err(if total == 0 {
            format!(
                "no client request in [{from}, {to}), {} or more from any fault",
                slo.blast_grace
            )
        } else {
            format!(
                "{rate:.4} of the {total} client requests in [{from}, {to}) succeeded, below the SLO {}, with no fault within {} of it",
                slo.success_rate, slo.blast_grace
            )
        });
    }
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
    if let Some(max) = config.node_outage_max {
        props.push(node_accuracy(config, max));
    }
    let blast = config.clone();
    let progress = Cell::new((SloProgress::default(), Instant::ZERO));
    props.push(Property::always_every(
        "slo_outside_blast_windows",
        Duration::from_secs(1),
        move |v: &View<'_, Platform>| {
            let (mut p, last) = progress.get();
            if v.now() < last {
                p = SloProgress::default(); // the closure reused in a new run
            }
            let p = check_slo_outside_blast(v.metrics(), &blast, p, v.now())?;
            progress.set((p, v.now()));
            Ok(())
        },
    ));
    props
}

/// `node_accuracy` (with `node_outage_max`): the catalog leader never starts marking a node
/// critical while the node's host is up and has never crashed. Judged on the marks' Raft
/// invocations in the history, so one that the node clears a moment later still counts: its
/// instances left the listings meanwhile.
fn node_accuracy(config: &Config, max: Duration) -> Property<Platform> {
    let layout = config.layout();
    let cursor = Cell::new((0usize, Instant::ZERO));
    Property::always("node_accuracy", move |v: &View<'_, Platform>| {
        let history = v.history();
        let (mut from, last) = cursor.get();
        if v.now() < last || from > history.len() {
            from = 0; // the closure reused in a new run
        }
        cursor.set((history.len(), v.now()));
        for e in &history[from..] {
            let Some(consul::ConsulOp::Catalog(raft::Record::Invoke {
                input:
                    consul::HealthCommand::NodeHealth {
                        node,
                        health: consul::Health::Critical,
                    },
                ..
            })) = e.operation.as_consul()
            else {
                continue;
            };
            let host = layout.node_host(*node);
            let crashed = v
                .metrics()
                .fault_windows()
                .iter()
                .any(|w| w.kind == FaultKind::Crash && w.hosts.contains(&host));
            if v.host_up(host) && !crashed {
                return Err(format!(
                    "the catalog marked node {node} (h{}) critical at {}, deregistering its instances, though its host never crashed and no fault kept it out of reach for longer than {max}",
                    host.0, e.time
                ));
            }
        }
        Ok(())
    })
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
/// allocation lost to its replacement running. Per failure, from the fault windows the engine
/// recorded ([`self_healing`]): `time_to_first_error_s`, `time_to_stop_routing_s` and
/// `time_to_desired_count_s` (each left out when no fault gave it a sample).
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
    let healing = self_healing(config, metrics, end);
    for (key, samples) in [
        ("time_to_first_error_s", &healing.first_error),
        ("time_to_stop_routing_s", &healing.stop_routing),
        ("time_to_desired_count_s", &healing.desired_count),
    ] {
        if !samples.is_empty() {
            let sum: u64 = samples.iter().map(|d| d.as_nanos()).sum();
            out.insert(key.into(), sum as f64 / samples.len() as f64 / 1e9);
        }
    }
    out
}

/// Per-failure self-healing times of a run, from the engine's fault windows and what the
/// platform recorded (see [`self_healing`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelfHealing {
    /// Per fault onset (faults beginning at one instant are one onset) that found the
    /// clients without errors in the second before it and was followed by a client error
    /// before the next onset and within its blast window: the time to that first error.
    pub first_error: Vec<Duration>,
    /// Per instance death (a crash of its host, or a kill): the time to the last request any
    /// caller sent it while it was dead (zero if none was): until the kill ended, or for good
    /// after a crash (an instance does not come back with its host).
    pub stop_routing: Vec<Duration>,
    /// Per fault onset followed by a shortfall of running allocations (the agents' samples on
    /// the scheduler's one-second grid, less the instances a kill holds down) against the
    /// desired ones: the time to the end of the last shortfall that began within its blast
    /// window, with no later onset before it (the desired count running again; the last grid
    /// time if it never ended).
    pub desired_count: Vec<Duration>,
}

/// The instants faults began at, each with the end of its faults' blast windows (the latest
/// end plus the grace; `end` for one still open).
fn onsets(metrics: &Metrics, grace: Duration, end: Instant) -> Vec<(Instant, Instant)> {
    let mut out: Vec<(Instant, Instant)> = Vec::new();
    for w in metrics.fault_windows() {
        let blast_end = w.end.map_or(end, |e| e.saturating_add(grace));
        match out.iter_mut().find(|(b, _)| *b == w.begin) {
            Some((_, e)) => *e = (*e).max(blast_end),
            None => out.push((w.begin, blast_end)),
        }
    }
    out.sort();
    out
}

/// The self-healing figures of a run ending at `end` (see [`SelfHealing`]): each measured
/// from what happened in the run, never from the configuration.
pub fn self_healing(config: &Config, metrics: &Metrics, end: Instant) -> SelfHealing {
    let mut out = SelfHealing::default();
    let warm = Instant::ZERO + config.warmup();
    let grace = config.slo.blast_grace;
    let onsets = onsets(metrics, grace, end);
    let next_onset = |k: usize| onsets.get(k + 1).map_or(end, |(b, _)| *b);

    let failures = metrics.timed("requests.failed");
    for (k, &(b, blast_end)) in onsets.iter().enumerate() {
        let quiet_before = between(failures, b.saturating_sub(Duration::from_secs(1)), b).is_empty();
        if b < warm || !quiet_before {
            continue;
        }
        if let Some((at, _)) = between(failures, b, next_onset(k).min(blast_end)).first() {
            out.first_error.push(at.saturating_since(b));
        }
    }

    let instances = config.layout().boot_processes();
    let routes = metrics.timed(process::ROUTES);
    let windows = metrics.fault_windows();
    for w in windows {
        let until = match w.kind {
            FaultKind::KillProcess => w.end_or(end),
            FaultKind::Crash => end,
            _ => continue,
        };
        for p in w.processes.iter().filter(|p| p.0 >= instances) {
            let last = between(routes, w.begin, until)
                .iter()
                .rev()
                .find(|(_, to)| *to == u64::from(p.0));
            out.stop_routing
                .push(last.map_or(Duration::ZERO, |(at, _)| at.saturating_since(w.begin)));
        }
    }

    // Running allocations per grid time, less the instances a kill holds down (their agents
    // still count them) unless their host crashed since (then its agent counts nothing).
    let per_tick = |name: &str| {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for &t in metrics.samples(name) {
            *m.entry(t).or_insert(0) += 1;
        }
        m
    };
    let desired = per_tick(scheduler::server::DESIRED_AT);
    let running = per_tick(scheduler::client::RUNNING_AT);
    let killed_at = |t: Instant| {
        windows
            .iter()
            .filter(|w| w.kind == FaultKind::KillProcess && w.begin <= t && t < w.end_or(end))
            .filter(|w| {
                !windows.iter().any(|c| {
                    c.kind == FaultKind::Crash
                        && c.begin >= w.begin
                        && c.begin <= t
                        && c.hosts.iter().any(|h| w.hosts.contains(h))
                })
            })
            .map(|w| w.processes.iter().filter(|p| p.0 >= instances).count() as u64)
            .sum::<u64>()
    };
    let mut shortfalls: Vec<(Instant, Instant)> = Vec::new();
    let (mut was_full, mut short_since, mut last) = (false, None, Instant::ZERO);
    for (&tick, &want) in &desired {
        let t = Instant(tick);
        last = t;
        let have = running
            .get(&tick)
            .copied()
            .unwrap_or(0)
            .saturating_sub(killed_at(t));
        if have >= want {
            if let Some(s) = short_since.take() {
                shortfalls.push((s, t));
            }
            was_full = true;
        } else if was_full && short_since.is_none() {
            short_since = Some(t);
        }
    }
    if let Some(s) = short_since {
        shortfalls.push((s, last));
    }
    let mut per_onset: BTreeMap<usize, Duration> = BTreeMap::new();
    for (s, e) in shortfalls {
        let Some(k) = onsets.iter().rposition(|(b, _)| *b <= s) else {
            continue;
        };
        // The latest onset before it, if the shortfall began within its blast window.
        let (b, blast_end) = onsets[k];
        if s < blast_end {
            let d = per_onset.entry(k).or_insert(Duration::ZERO);
            *d = (*d).max(e.saturating_since(b));
        }
    }
    out.desired_count = per_onset.into_values().collect();
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
    /// The probes of the Raft servers inside this model.
    fn probes() -> &'static [&'static str] {
        crate::raft::SERVER_PROBES
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
