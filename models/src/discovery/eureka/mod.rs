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

use super::resolve::{
    self, CallMsg, CallTimer, DeathSchedule, DiscoveryOp, InstanceId, Router, ScheduledCrash, ServiceId,
};
use crate::services::policy::BalancerConfig;
use crate::services::{RateSchedule, interval_gap};
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Scope,
    Sim, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

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

/// One lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The instance's service.
    pub service: ServiceId,
    /// Wall-clock time of the last renewal (or registration). Eureka's registry stamps leases
    /// with the wall clock, as here, so a clock stepped forward on the registry's host expires
    /// leases early: that is Eureka's behaviour, kept on purpose.
    pub last_renewal: Instant,
}

/// The disk key that tells a restarted server from a first start.
const BOOTED_KEY: &str = "eureka.booted";

/// A registry server.
#[derive(Clone, Debug)]
pub struct RegistryServer {
    config: Rc<Config>,
    peers: Vec<ProcessId>,
    /// Leases by instance.
    pub leases: BTreeMap<InstanceId, Lease>,
    /// Clients expected to renew (Eureka's `expectedNumberOfClientsSendingRenews`).
    pub expected_clients: u32,
    renewals_this_minute: u64,
    /// Renewals in the last full minute (`None` before the first one ends).
    pub renewals_last_minute: Option<u64>,
    /// Whether self-preservation holds evictions back now.
    pub preserving: bool,
    response_cache: Vec<Entry>,
    /// Whether this is a restart (it then waits before serving), when the first registration
    /// reached it since, and when its response cache was last built (local times).
    restarted: bool,
    first_contact: Option<Instant>,
    cache_built_at: Instant,
}

impl RegistryServer {
    /// Eureka's `numberOfRenewsPerMinThreshold`.
    pub fn renewal_threshold(&self) -> u64 {
        let per_minute = Duration::from_secs(60).0 as f64 / self.config.renewal_interval.0 as f64;
        (f64::from(self.expected_clients) * per_minute * self.config.renewal_percent_threshold) as u64
    }

    /// Whether evictions may run now.
    pub fn lease_expiration_enabled(&self) -> bool {
        self.config.bugs.no_self_preservation
            || self
                .renewals_last_minute
                .is_some_and(|n| n > self.renewal_threshold())
    }

    fn update_preserving(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        let preserving = !self.lease_expiration_enabled() && self.expected_clients > 0;
        if preserving && !self.preserving {
            ctx.count("eureka.self_preservation_entered", 1);
        }
        self.preserving = preserving;
    }

    fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        let mut disk = ctx.storage();
        self.restarted = disk.get(BOOTED_KEY).is_some();
        disk.put(BOOTED_KEY, vec![1]);
        disk.sync();
        ctx.set_timer(self.config.eviction_interval, EurekaTimer::EvictEvery);
        ctx.set_timer(Duration::ZERO, EurekaTimer::CacheRefresh);
        ctx.set_timer(Duration::from_secs(60), EurekaTimer::MinuteTick);
        ctx.set_timer(
            self.config.threshold_update_interval,
            EurekaTimer::ThresholdUpdate,
        );
    }

    fn register(&mut self, ctx: &mut Context<'_, EurekaNode>, instance: InstanceId, service: ServiceId) {
        let now = ctx.now();
        let lease = Lease {
            service,
            last_renewal: now,
        };
        if self.leases.insert(instance, lease).is_none() {
            self.expected_clients += 1;
        }
    }

    fn replicate(&self, ctx: &mut Context<'_, EurekaNode>, m: &EurekaMsg) {
        let me = ctx.id();
        for &p in &self.peers {
            if p != me {
                ctx.send(p, m.clone());
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, from: ProcessId, m: EurekaMsg) {
        // A registration proves a lease exists (a renewal may be of a lease it lost).
        if matches!(m, EurekaMsg::Register { .. }) && self.first_contact.is_none() {
            self.first_contact = Some(ctx.now());
        }
        match m {
            EurekaMsg::Register {
                instance,
                service,
                replicated,
            } => {
                self.register(ctx, instance, service);
                if !replicated {
                    ctx.send(from, EurekaMsg::Registered);
                    let copy = EurekaMsg::Register {
                        instance,
                        service,
                        replicated: true,
                    };
                    self.replicate(ctx, &copy);
                }
            }
            EurekaMsg::Renew {
                instance,
                service,
                replicated,
            } => {
                self.renewals_this_minute += 1;
                let now = ctx.now();
                let known = match self.leases.get_mut(&instance) {
                    Some(lease) => {
                        lease.last_renewal = now;
                        true
                    }
                    None if replicated => {
                        self.register(ctx, instance, service);
                        true
                    }
                    None => false,
                };
                if !replicated {
                    ctx.send(from, EurekaMsg::Renewed { known });
                    if known {
                        let copy = EurekaMsg::Renew {
                            instance,
                            service,
                            replicated: true,
                        };
                        self.replicate(ctx, &copy);
                    }
                }
            }
            EurekaMsg::Fetch { id } => {
                let settle = self.config.renewal_interval + self.config.request_timeout;
                let serving = !self.restarted
                    || self
                        .first_contact
                        .is_some_and(|f| self.cache_built_at >= f.saturating_add(settle));
                let registry = serving.then(|| self.response_cache.clone());
                ctx.send(from, EurekaMsg::FetchReply { id, registry });
            }
            _ => {}
        }
    }

    fn evict(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.update_preserving(ctx);
        if !self.lease_expiration_enabled() {
            return;
        }
        let now = ctx.now();
        let mut expired: Vec<InstanceId> = self
            .leases
            .iter()
            .filter(|(_, l)| now.saturating_since(l.last_renewal) > self.config.lease_duration)
            .map(|(&i, _)| i)
            .collect();
        let size = self.leases.len();
        let keep = (size as f64 * self.config.renewal_percent_threshold) as usize;
        let limit = size - keep.min(size);
        ctx.random().shuffle(&mut expired);
        for i in expired.into_iter().take(limit) {
            self.leases.remove(&i);
            ctx.count("eureka.evictions", 1);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::EvictEvery => {
                ctx.set_timer(self.config.eviction_interval, EurekaTimer::EvictEvery);
                self.evict(ctx);
            }
            EurekaTimer::CacheRefresh => {
                ctx.set_timer(self.config.response_cache_interval, EurekaTimer::CacheRefresh);
                self.response_cache = self.leases.iter().map(|(&i, l)| (i, l.service)).collect();
                self.cache_built_at = ctx.now();
            }
            EurekaTimer::MinuteTick => {
                ctx.set_timer(Duration::from_secs(60), EurekaTimer::MinuteTick);
                self.renewals_last_minute = Some(std::mem::take(&mut self.renewals_this_minute));
                self.update_preserving(ctx);
            }
            EurekaTimer::ThresholdUpdate => {
                ctx.set_timer(
                    self.config.threshold_update_interval,
                    EurekaTimer::ThresholdUpdate,
                );
                let count = self.leases.len() as f64;
                let floor = self.config.renewal_percent_threshold * f64::from(self.expected_clients);
                if count > floor || self.config.bugs.no_self_preservation {
                    self.expected_clients = count as u32;
                }
            }
            _ => {}
        }
    }
}

/// A service instance: registers, renews, answers calls.
#[derive(Clone, Debug)]
pub struct EurekaInstance {
    /// Its service.
    pub service: ServiceId,
    config: Rc<Config>,
    /// The server it talks to (index into the registries).
    server: u32,
    crash_at: Option<Instant>,
    registered: bool,
    seq: u64,
    waiting: Option<u64>,
}

impl EurekaInstance {
    fn send(&mut self, ctx: &mut Context<'_, EurekaNode>, register: bool) {
        let (instance, service) = (ctx.id().0, self.service);
        let m = if register {
            EurekaMsg::Register {
                instance,
                service,
                replicated: false,
            }
        } else {
            EurekaMsg::Renew {
                instance,
                service,
                replicated: false,
            }
        };
        ctx.send(ProcessId(self.server % self.config.registries), m);
        self.seq += 1;
        self.waiting = Some(self.seq);
        let seq = self.seq;
        ctx.set_timer(self.config.request_timeout, EurekaTimer::RequestTimeout { seq });
    }

    fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        if let Some(at) = self.crash_at {
            let now = ctx.now();
            ctx.set_timer(at.saturating_since(now), EurekaTimer::Crash);
        }
        self.send(ctx, true);
        // Instances start at spread-out times: renewals are not in step with the eviction timer.
        let first = Duration(ctx.random().range_inclusive(1, self.config.renewal_interval.0));
        ctx.set_timer(first, EurekaTimer::RenewEvery);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, from: ProcessId, m: EurekaMsg) {
        match m {
            EurekaMsg::Registered => {
                self.registered = true;
                self.waiting = None;
            }
            EurekaMsg::Renewed { known } => {
                self.waiting = None;
                if !known {
                    ctx.count("eureka.reregistrations", 1);
                    self.send(ctx, true);
                }
            }
            EurekaMsg::Call(m) => resolve::answer_call(&mut call_scope(ctx), from, m),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::RenewEvery => {
                ctx.set_timer(self.config.renewal_interval, EurekaTimer::RenewEvery);
                let register = !self.registered;
                self.send(ctx, register);
            }
            EurekaTimer::RequestTimeout { seq } if self.waiting == Some(seq) => {
                self.waiting = None;
                self.server += 1;
                if !self.registered {
                    self.send(ctx, true);
                }
            }
            EurekaTimer::Crash => {
                ctx.count("discovery.scheduled_crashes", 1);
                let me = ctx.id();
                ctx.stop_process(me);
            }
            _ => {}
        }
    }
}

/// A caller: fetches and caches the registry, calls listed instances.
#[derive(Clone, Debug)]
pub struct EurekaCaller {
    /// The service it calls.
    pub service: ServiceId,
    config: Rc<Config>,
    server: u32,
    /// Its view and balancer.
    pub router: Router,
    next_fetch: u64,
    fetching: Option<u64>,
}

impl EurekaCaller {
    fn fetch(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.next_fetch += 1;
        let id = self.next_fetch;
        self.fetching = Some(id);
        ctx.send(
            ProcessId(self.server % self.config.registries),
            EurekaMsg::Fetch { id },
        );
        ctx.set_timer(self.config.request_timeout, EurekaTimer::FetchTimeout { id });
    }

    fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.server = ctx.random().below(u64::from(self.config.registries)) as u32;
        self.fetch(ctx);
        // Callers started at spread-out times fetch out of step with each other and the server.
        let next = Duration(ctx.random().range_inclusive(1, self.config.fetch_interval.0));
        ctx.set_timer(next, EurekaTimer::FetchEvery);
        let first = Duration(ctx.random().below(self.config.call_interval.0));
        ctx.set_timer(first, EurekaTimer::CallEvery);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, m: EurekaMsg) {
        match m {
            EurekaMsg::FetchReply { id, registry } if self.fetching == Some(id) => {
                self.fetching = None;
                match registry {
                    Some(entries) => {
                        let mine = entries
                            .iter()
                            .filter(|(_, s)| *s == self.service)
                            .map(|(i, _)| *i)
                            .collect();
                        let now = ctx.monotonic();
                        self.router.set_view(mine, now);
                    }
                    None => self.server += 1,
                }
            }
            EurekaMsg::Call(m) => self.router.on_call_msg(&mut call_scope(ctx), m),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::FetchEvery => {
                ctx.set_timer(self.config.fetch_interval, EurekaTimer::FetchEvery);
                self.fetch(ctx);
            }
            EurekaTimer::FetchTimeout { id } if self.fetching == Some(id) => {
                // Keep the cached registry; ask the next server next time.
                self.fetching = None;
                self.server += 1;
                ctx.count("discovery.resolve.failed", 1);
            }
            EurekaTimer::CallEvery => {
                let now = ctx.now().as_nanos();
                let (interval, schedule) = (self.config.call_interval, &self.config.schedule);
                let next = interval_gap(interval, schedule, ctx.random(), now);
                ctx.set_timer(next, EurekaTimer::CallEvery);
                self.router.call(&mut call_scope(ctx));
            }
            EurekaTimer::Call(t) => self.router.on_call_timer(&mut call_scope(ctx), t),
            _ => {}
        }
    }
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

fn route_of(op: &DiscoveryOp) -> Option<InstanceId> {
    match *op {
        DiscoveryOp::Route { instance } => Some(instance),
        DiscoveryOp::Acknowledged { .. } | DiscoveryOp::EmptyView => None,
    }
}

/// Every property of the system (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<EurekaNode>> {
    let heal = Rc::new(Cell::new(None));
    let instances: Vec<InstanceId> = (0..config.instances).map(|i| config.instance_pid(i)).collect();
    let preserving = |v: &View<'_, EurekaNode>| {
        v.processes()
            .filter_map(|(_, _, p)| p.as_registry())
            .any(|r| r.preserving)
    };
    let mut props = vec![
        resolve::heal_marker(Rc::clone(&heal)),
        resolve::no_route_to_long_dead(
            config.routing_bound(),
            instances.clone(),
            heal,
            route_of,
            preserving,
        ),
    ];
    let (first, n_services) = (config.instance_pid(0), config.services);
    props.push(resolve::views_converge_after_heal(
        config.listing_window() + config.routing_bound(),
        false,
        instances.clone(),
        move |i| (i - first) % n_services,
        |p: &EurekaNode| match p {
            EurekaNode::Caller(c) => Some((c.service, c.router.healthy())),
            _ => None,
        },
    ));
    let window = config.listing_window();
    let services = config.services;
    let up_since: RefCell<(usize, BTreeMap<InstanceId, Instant>)> = RefCell::new((0, BTreeMap::new()));
    props.push(Property::always(
        "callers_keep_live_instances",
        move |v: &View<'_, EurekaNode>| {
            let now = v.now();
            let mut s = up_since.borrow_mut();
            let (cursor, up) = &mut *s;
            for &i in &instances {
                if v.process(ProcessId(i)).is_some() {
                    up.entry(i).or_insert(now);
                } else {
                    up.remove(&i);
                }
            }
            let history = v.history();
            let from = *cursor;
            *cursor = history.len();
            for e in &history[from..] {
                if e.operation != DiscoveryOp::EmptyView {
                    continue;
                }
                let Some(EurekaNode::Caller(c)) = v.process(e.process) else {
                    continue;
                };
                let long_up = up.iter().find(|&(&i, &since)| {
                    (i - instances[0]) % services == c.service && e.time.saturating_since(since) >= window
                });
                if let Some((i, since)) = long_up {
                    return Err(format!(
                        "{} found service {} empty at {} though p{i} has been up since {since}",
                        e.process, c.service, e.time
                    ));
                }
            }
            Ok(())
        },
    ));
    props
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
