//! Eureka-style client-side discovery, the alternative to the Consul-like catalog: no health
//! checks and no consensus, only leases.
//!
//! - **Registry servers** ([`RegistryServer`]) hold leases in memory. An instance registers,
//!   then renews every `renewal_interval` (30 s); a lease not renewed for `lease_duration`
//!   (90 s) is evicted by a timer every `eviction_interval` (60 s), at most
//!   `size - floor(size x 0.85)` leases per run (Eureka's eviction limit, picked at random).
//!   **Self-preservation**: evictions stop while the renewals of the last full minute are at or
//!   below `floor(expected clients x 60 s / renewal_interval x renewal_percent_threshold)`; the
//!   expected count grows with each new registration and is reset to the registry's size every
//!   `threshold_update_interval` (15 min) if that size is above 85 % of it. Fetches are answered
//!   from a response cache refreshed every `response_cache_interval` (30 s). Servers replicate
//!   registrations and renewals to their peers (a replicated renewal of an unknown lease
//!   registers it). A restarted server is empty (leases live in memory) and answers no fetch
//!   until its cache was built a renewal interval (plus a request timeout) after the first
//!   registration reached it, so every instance that can reach it and hear back has
//!   re-registered (one that cannot may still be missing): a variant of Eureka's
//!   wait after an empty start-up sync (`waitTimeInMsWhenSyncEmpty`), which counts from the
//!   start and so can serve an empty registry when the restarted server was cut off meanwhile.
//! - **Instances** ([`EurekaInstance`]) register, renew, re-register on a 404, and move to the
//!   next server when one does not answer.
//! - **Callers** ([`EurekaCaller`]) fetch the registry every `fetch_interval` (30 s), keep their
//!   cached copy when a fetch fails, and route over the instances it lists with a
//!   `services::policy` balancer.
//!
//! ## Properties
//!
//! - `no_route_to_long_dead`: no call goes to an instance dead longer than
//!   [`Config::routing_bound`] (lease + eviction period + response cache + fetch), counted from
//!   the latest of its death, the heal and the last moment a server was self-preserving (while
//!   it is, Eureka knowingly keeps dead instances).
//! - `callers_keep_live_instances`: a caller whose view once listed instances never finds it
//!   empty while an instance of its service has been up for [`Config::listing_window`].
//! - `views_converge_after_heal`: within the listing window plus the routing bound of the heal,
//!   every caller's view lists every live instance of its service (dead ones may linger while
//!   a server self-preserves).
//!
//! ## Bug switch
//!
//! - `no_self_preservation`: servers evict whatever has not renewed, even when most renewals are
//!   missing. A partition that cuts a server off from the instances empties its registry;
//!   after the heal callers fetch an empty registry while every instance runs.
//!
//! ## Measured
//!
//! | scenario | seeds failing | shrunk to |
//! |---|---|---|
//! | `eureka` (crashes, kills, partitions up to 5 min, pauses, one permanent crash; 40 min) | 0 of 1,000 | |
//! | `eureka_no_self_preservation` (partitions of 8-15 min) | 24 of 50 (first: index 4); 0 of 50 with the switch off | two partitions (halves, 749 s and 501 s) |
//!
//! Commands: `ruckus sweep NAME --seeds N` (debug build, one job), then `ruckus shrink` on the
//! first failing trace. The comparison with the Consul-like design is in `consul`'s docs.
//!
//! Instances renew and callers fetch at random phases (as if started at different times); the
//! server's eviction and cache timers run from its own start. Not modelled: delta fetches, Eureka's known extra lease
//! period before eviction (it evicts after twice `lease_duration`), zones, and start-up
//! registry sync from peers.

#[cfg(test)]
mod tests;

use super::resolve::{self, CallMsg, CallTimer, DeathSchedule, DiscoveryOp, InstanceId, Router, ServiceId};
use ruckus_sim::{Context, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Scope, Sim};
use std::collections::BTreeMap;
use std::rc::Rc;

mod caller;
mod checks;
mod config;
mod instance;
mod registry;

pub use caller::EurekaCaller;
pub use checks::properties;
pub use config::{Bugs, Config};
pub use instance::EurekaInstance;
pub use registry::{Lease, RegistryServer};

/// One registered instance as a fetch lists it.
pub type Entry = (InstanceId, ServiceId);

/// Messages of the system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EurekaMsg {
    /// Register a lease (from an instance, or replicated from a peer).
    Register {
        /// The instance.
        instance: InstanceId,
        /// Its service.
        service: ServiceId,
        /// Sent by a peer (not replicated further).
        replicated: bool,
    },
    /// Renew a lease.
    Renew {
        /// The instance.
        instance: InstanceId,
        /// Its service (a peer that lacks the lease registers it).
        service: ServiceId,
        /// Sent by a peer.
        replicated: bool,
    },
    /// A registration took effect.
    Registered,
    /// A renewal's result: `false` is a 404 (unknown lease: register again).
    Renewed {
        /// Whether the lease was known.
        known: bool,
    },
    /// A caller fetches the registry.
    Fetch {
        /// The fetch's number.
        id: u64,
    },
    /// The registry from the response cache, or `None` while the server does not serve.
    FetchReply {
        /// The fetch answered.
        id: u64,
        /// Every lease in the cache.
        registry: Option<Vec<Entry>>,
    },
    /// Calls.
    Call(CallMsg),
}

/// Timers of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EurekaTimer {
    /// Server: evict expired leases.
    EvictEvery,
    /// Server: refresh the response cache.
    CacheRefresh,
    /// Server: a minute of renewals is complete.
    MinuteTick,
    /// Server: reset the expected renewal count.
    ThresholdUpdate,
    /// Instance: renew.
    RenewEvery,
    /// Instance: a registration or renewal went unanswered.
    RequestTimeout {
        /// Which request.
        seq: u64,
    },
    /// Instance: the scheduled crash.
    Crash,
    /// Caller: fetch.
    FetchEvery,
    /// Caller: a fetch went unanswered.
    FetchTimeout {
        /// The fetch.
        id: u64,
    },
    /// Caller: time for the next call.
    CallEvery,
    /// Caller: call timeouts.
    Call(CallTimer),
}

fn call_scope<'s, 'a>(ctx: &'s mut Context<'a, EurekaNode>) -> Scope<'s, 'a, EurekaNode, CallMsg, CallTimer> {
    ctx.scope(EurekaMsg::Call, EurekaTimer::Call)
}

/// The system's process: one of three roles.
#[derive(Clone, Debug)]
pub enum EurekaNode {
    /// A registry server.
    Registry(RegistryServer),
    /// A service instance.
    Instance(EurekaInstance),
    /// A caller.
    Caller(EurekaCaller),
}

impl EurekaNode {
    /// The registry server, if this is one.
    pub fn as_registry(&self) -> Option<&RegistryServer> {
        match self {
            EurekaNode::Registry(r) => Some(r),
            _ => None,
        }
    }
}

impl Process for EurekaNode {
    type Message = EurekaMsg;
    type Timer = EurekaTimer;
    type Operation = DiscoveryOp;

    /// `eureka-registry`, `instance`, `caller`.
    fn label(&self) -> Option<String> {
        Some(
            match self {
                EurekaNode::Registry(_) => "eureka-registry",
                EurekaNode::Instance(_) => "instance",
                EurekaNode::Caller(_) => "caller",
            }
            .into(),
        )
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            EurekaNode::Registry(r) => r.on_start(ctx),
            EurekaNode::Instance(i) => i.on_start(ctx),
            EurekaNode::Caller(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: EurekaMsg) {
        match self {
            EurekaNode::Registry(r) => r.on_message(ctx, from, m),
            EurekaNode::Instance(i) => i.on_message(ctx, from, m),
            EurekaNode::Caller(c) => c.on_message(ctx, m),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: EurekaTimer) {
        match self {
            EurekaNode::Registry(r) => r.on_timer(ctx, t),
            EurekaNode::Instance(i) => i.on_timer(ctx, t),
            EurekaNode::Caller(c) => c.on_timer(ctx, t),
        }
    }
}

/// Places registry servers on hosts `0..registries`, then instances and callers round-robin
/// on the node hosts; process numbers run servers, instances, callers.
///
/// Panics with [`Config::validate`]'s message on a bad config, or with too few hosts.
pub fn setup(sim: &mut Sim<EurekaNode>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid eureka config: {e}");
    }
    let hosts = sim.hosts().len() as u32;
    assert!(
        hosts >= config.hosts(),
        "{} hosts needed, {hosts} given",
        config.hosts()
    );
    let shared = Rc::new(config.clone());
    let peers: Vec<ProcessId> = (0..config.registries).map(ProcessId).collect();
    for r in 0..config.registries {
        let server = RegistryServer {
            config: Rc::clone(&shared),
            peers: peers.clone(),
            leases: BTreeMap::new(),
            expected_clients: 0,
            renewals_this_minute: 0,
            renewals_last_minute: None,
            preserving: false,
            response_cache: Vec::new(),
            restarted: false,
            first_contact: None,
            cache_built_at: Instant::ZERO,
        };
        sim.spawn(HostId(r), EurekaNode::Registry(server));
    }
    let node_host = |k: u32| HostId(config.registries + k % config.nodes);
    let crash_at: BTreeMap<u32, Instant> = config
        .crashes
        .iter()
        .map(|c| (c.instance, Instant::ZERO + c.at))
        .collect();
    for i in 0..config.instances {
        let instance = EurekaInstance {
            service: i % config.services,
            config: Rc::clone(&shared),
            server: i % config.registries,
            crash_at: crash_at.get(&i).copied(),
            registered: false,
            seq: 0,
            waiting: None,
        };
        let id = sim.spawn(node_host(i), EurekaNode::Instance(instance));
        assert_eq!(id.0, config.instance_pid(i));
    }
    let deaths: DeathSchedule = Rc::new(
        config
            .crashes
            .iter()
            .map(|c| (config.instance_pid(c.instance), Instant::ZERO + c.at))
            .collect(),
    );
    for c in 0..config.callers {
        let caller = EurekaCaller {
            service: c % config.services,
            config: Rc::clone(&shared),
            server: 0,
            router: Router::new(config.balancer, config.call_timeout, Rc::clone(&deaths)),
            next_fetch: 0,
            fetching: None,
        };
        sim.spawn(node_host(c), EurekaNode::Caller(caller));
    }
}

/// The figures a run is judged by (as the Consul model's, plus evictions).
pub fn summarize(metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut out = resolve::summarize(metrics);
    out.insert("evictions".into(), metrics.counter("eureka.evictions") as f64);
    out.insert(
        "self_preservation_entered".into(),
        metrics.counter("eureka.self_preservation_entered") as f64,
    );
    out
}

/// The Eureka-style system as a model the command line can run.
#[derive(Debug)]
pub struct EurekaModel;

impl Model for EurekaModel {
    const NAME: &'static str = "eureka";
    const ABOUT: &'static str = "Eureka-style discovery: leases renewed every 30 s, eviction, self-preservation, callers caching fetched registries";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("callers", 1), ("instances", 1)];
    type Config = Config;
    type Process = EurekaNode;
    fn setup(sim: &mut Sim<EurekaNode>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<EurekaNode>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.hosts() {
            return Err(format!(
                "{} registries and {} nodes need {} hosts, the topology has {hosts}",
                config.registries,
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
