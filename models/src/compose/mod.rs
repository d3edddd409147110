//! Components composed into one system: a service catalog replicated by Raft, the service
//! instances that register in it, and the callers that look instances up and call them.
//!
//! Nothing here copies Raft. The system has its own process, message and timer enums
//! ([`Stack`], [`StackMsg`], [`StackTimer`]) and embeds the Raft components as variants:
//!
//! - **Catalog servers** are `raft::Server<Catalog>`: Raft replicating the [`Catalog`] state
//!   machine instead of the key-value store, driven through `ctx.scope(StackMsg::Raft,
//!   StackTimer::Raft)`.
//! - **Service instances** ([`Instance`]) hold a `raft::Client<Registrar>` that keeps their
//!   registration fresh (and now and then deregisters), and answer callers' [`CallMsg`]s
//!   through their own scope (`StackMsg::Call`): two components in one process.
//! - **Callers** ([`Caller`]) hold a `raft::Client<Lister>`; each list the catalog answers is
//!   handed back to the caller, which calls one listed instance with its own timeout timer.
//!
//! [`properties`] reuses Raft's invariants through [`raft::server_properties`], checks the
//! catalog history for linearizability against [`CatalogSpec`] with the shared checker, checks
//! that every acknowledged registration is still listed at the end unless a deregistration could
//! have removed it, and that after the heal a leader exists, the catalog answers and calls reach
//! serving instances again.
//!
//! Under host crashes and partitions (3 servers, 6 instances, 3 callers, 10 s) all of 200 seeds
//! hold; per run about 5 registrations are checked at the end, 518 calls are served, 9.5 are
//! refused by an instance a stale list still named, and 1.6 catalog commands end with an unknown
//! outcome (`cargo test -p ruckus-models --release -- --ignored --nocapture catalog_stack_sweep`).
//! Raft's bug switches work through the component: with `stale_read_deposed_leader` a cut-off
//! leader answers lists from a stale catalog and `catalog_linearizable` fails on 42 of 200 seeds
//! of a 3 s partition hunt (0 of 200 with the switch off; `stale_list_seed_counts`).

pub mod catalog;
#[cfg(test)]
mod tests;

pub use catalog::{
    Catalog, CatalogCommand, CatalogOutput, CatalogSpec, InstanceId, Lister, Registrar, ServiceId,
};

use crate::linearizability::Outcome;
use crate::raft::{self, Completion, MessageOf, RecordOf};
use ruckus_sim::{
    Context, Duration, HistoryEntry, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Scope,
    Sim, TimerId, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;

/// Parameters of the catalog system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Raft cluster (servers, timeouts, read mode, bug switches) and the client settings
    /// its clients use (timeout, attempts, think time). Its key-value workload fields
    /// (`clients`, `writers`, `readers_per_host`, `keys`, `read_percent`) are not used.
    pub raft: raft::Config,
    /// Number of services; instance `i` serves service `i % services`.
    pub services: u32,
    /// Number of service instances (spread round-robin over all hosts).
    pub instances: u32,
    /// Number of callers (spread round-robin over all hosts, after the instances).
    pub callers: u32,
    /// Percentage of an instance's catalog commands that deregister it (the rest refresh its
    /// registration).
    pub deregister_percent: u32,
    /// How long a caller waits for an instance's answer.
    pub call_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            raft: raft::Config {
                servers: 3,
                clients: 0,
                client_think_time: Duration::from_millis(50),
                ..raft::Config::default()
            },
            services: 2,
            instances: 6,
            callers: 3,
            deregister_percent: 10,
            call_timeout: Duration::from_millis(100),
        }
    }
}

impl Config {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        self.raft.validate().map_err(|e| format!("raft: {e}"))?;
        if self.services == 0 {
            return Err("services must be at least 1".into());
        }
        if self.deregister_percent > 100 {
            return Err(format!(
                "deregister_percent must be at most 100, got {}",
                self.deregister_percent
            ));
        }
        if self.call_timeout == Duration::ZERO {
            return Err("call_timeout must be positive".into());
        }
        Ok(())
    }

    /// One host per server, as Raft's own topology.
    pub fn topology(&self) -> Topology {
        self.raft.topology()
    }
}

/// What a caller and an instance say to each other (the call component's messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallMsg {
    /// A caller's request.
    Call {
        /// Which call of the caller this is.
        id: u64,
    },
    /// The instance's answer: whether it is serving (an instance that deregistered refuses).
    Answer {
        /// The call answered.
        id: u64,
        /// Whether the instance served it.
        served: bool,
    },
}

/// The call component's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTimer {
    /// A call got no answer in time.
    Timeout {
        /// The call.
        id: u64,
    },
}

/// The system's messages: each component's own type, wrapped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StackMsg {
    /// Raft traffic (servers among themselves, and catalog clients with servers).
    Raft(MessageOf<Catalog>),
    /// Calls from callers to instances.
    Call(CallMsg),
}

/// The system's timers: each component's own type, wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackTimer {
    /// Raft server and catalog client timers.
    Raft(raft::Timer),
    /// Call timeouts.
    Call(CallTimer),
}

/// A service instance: registers itself through its catalog client and answers calls.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The embedded Raft client that keeps the registration fresh.
    pub catalog: raft::Client<Registrar>,
    /// Whether its last catalog command that took effect registered it (it refuses calls
    /// while it believes it is deregistered).
    pub serving: bool,
}

impl Instance {
    /// Learns what its catalog command did.
    fn on_catalog(&mut self, done: Completion<CatalogCommand, CatalogOutput>) {
        match (done.command, done.outcome) {
            (CatalogCommand::Register { .. }, Outcome::Ok(_)) => self.serving = true,
            // An unknown deregistration may have taken effect: stop serving to be safe.
            (CatalogCommand::Deregister { .. }, Outcome::Ok(_) | Outcome::Unknown) => self.serving = false,
            _ => {}
        }
    }

    /// Answers a call.
    pub fn on_call<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>,
        from: ProcessId,
        m: CallMsg,
    ) {
        if let CallMsg::Call { id } = m {
            cx.count("compose.instance.calls", 1);
            cx.send(
                from,
                CallMsg::Answer {
                    id,
                    served: self.serving,
                },
            );
        }
    }
}

/// A caller: lists a service through its catalog client, then calls one listed instance.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The embedded Raft client that lists services.
    pub catalog: raft::Client<Lister>,
    call_timeout: Duration,
    next_call: u64,
    /// Calls awaiting an answer, with their timeout and when they were sent.
    calls: BTreeMap<u64, (TimerId, Instant)>,
}

impl Caller {
    /// Calls a random instance of a list the catalog returned.
    pub fn on_catalog<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>,
        done: Completion<CatalogCommand, CatalogOutput>,
    ) {
        let Outcome::Ok(CatalogOutput::Instances(list)) = done.outcome else {
            return;
        };
        if list.is_empty() {
            cx.count("compose.calls.no_instance", 1);
            cx.observe_timed("compose.calls.failed", 0);
            return;
        }
        let target = list[cx.random().index(list.len())];
        self.next_call += 1;
        let id = self.next_call;
        cx.send(ProcessId(target), CallMsg::Call { id });
        let timer = cx.set_timer(self.call_timeout, CallTimer::Timeout { id });
        self.calls.insert(id, (timer, cx.now()));
    }

    /// Handles an instance's answer.
    pub fn on_call_msg<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>, m: CallMsg) {
        let CallMsg::Answer { id, served } = m else {
            return;
        };
        let Some((timer, sent)) = self.calls.remove(&id) else {
            return;
        };
        cx.cancel_timer(timer);
        if served {
            let took = cx.now().saturating_since(sent).0;
            cx.count("compose.calls.ok", 1);
            cx.observe("compose.calls.latency_ns", took);
            cx.observe_timed("compose.calls.ok", took);
        } else {
            // The catalog listed an instance that had deregistered (or not yet re-registered).
            cx.count("compose.calls.refused", 1);
            cx.observe_timed("compose.calls.failed", cx.now().saturating_since(sent).0);
        }
    }

    /// Handles a call timeout.
    pub fn on_call_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>, t: CallTimer) {
        let CallTimer::Timeout { id } = t;
        if let Some((_, sent)) = self.calls.remove(&id) {
            cx.count("compose.calls.timeout", 1);
            cx.observe_timed("compose.calls.failed", cx.now().saturating_since(sent).0);
        }
    }
}

/// The system's process: one of three roles, built from the components above.
// One value per process, stored in place: boxing the server would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Stack {
    /// A catalog server.
    Server(raft::Server<Catalog>),
    /// A service instance.
    Instance(Instance),
    /// A caller.
    Caller(Caller),
}

impl Stack {
    /// The catalog server, if this is one.
    pub fn as_server(&self) -> Option<&raft::Server<Catalog>> {
        match self {
            Stack::Server(s) => Some(s),
            Stack::Instance(_) | Stack::Caller(_) => None,
        }
    }
}

/// The scope Raft components act through inside the system.
fn raft_scope<'s, 'a>(
    ctx: &'s mut Context<'a, Stack>,
) -> Scope<'s, 'a, Stack, MessageOf<Catalog>, raft::Timer> {
    ctx.scope(StackMsg::Raft, StackTimer::Raft)
}

/// The scope the call components act through inside the system.
fn call_scope<'s, 'a>(ctx: &'s mut Context<'a, Stack>) -> Scope<'s, 'a, Stack, CallMsg, CallTimer> {
    ctx.scope(StackMsg::Call, StackTimer::Call)
}

impl Process for Stack {
    type Message = StackMsg;
    type Timer = StackTimer;
    type Operation = RecordOf<Catalog>;

    /// The catalog commands' invocations paired with their completions.
    fn operations(history: &[ruckus_sim::HistoryEntry<RecordOf<Catalog>>]) -> Vec<ruckus_sim::OperationSpan> {
        raft::operation_spans(history)
    }

    /// `catalog-N (leader, term T)` for catalog server N; `instance`, `caller`.
    fn label(&self) -> Option<String> {
        Some(match self {
            Stack::Server(s) => s.label("catalog"),
            Stack::Instance(_) => "instance".into(),
            Stack::Caller(_) => "caller".into(),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let cx = &mut raft_scope(ctx);
        match self {
            Stack::Server(s) => s.on_start(cx),
            Stack::Instance(i) => i.catalog.on_start(cx),
            Stack::Caller(c) => c.catalog.on_start(cx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: StackMsg) {
        match (self, message) {
            (Stack::Server(s), StackMsg::Raft(m)) => s.on_message(&mut raft_scope(ctx), from, m),
            (Stack::Instance(i), StackMsg::Raft(m)) => {
                if let Some(done) = i.catalog.on_message(&mut raft_scope(ctx), from, m) {
                    i.on_catalog(done);
                }
            }
            (Stack::Instance(i), StackMsg::Call(m)) => i.on_call(&mut call_scope(ctx), from, m),
            (Stack::Caller(c), StackMsg::Raft(m)) => {
                if let Some(done) = c.catalog.on_message(&mut raft_scope(ctx), from, m) {
                    c.on_catalog(&mut call_scope(ctx), done);
                }
            }
            (Stack::Caller(c), StackMsg::Call(m)) => c.on_call_msg(&mut call_scope(ctx), m),
            (Stack::Server(_), StackMsg::Call(_)) => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: StackTimer) {
        match (self, timer) {
            (Stack::Server(s), StackTimer::Raft(t)) => s.on_timer(&mut raft_scope(ctx), t),
            (Stack::Instance(i), StackTimer::Raft(t)) => {
                if let Some(done) = i.catalog.on_timer(&mut raft_scope(ctx), t) {
                    i.on_catalog(done);
                }
            }
            (Stack::Caller(c), StackTimer::Raft(t)) => {
                if let Some(done) = c.catalog.on_timer(&mut raft_scope(ctx), t) {
                    c.on_catalog(&mut call_scope(ctx), done);
                }
            }
            (Stack::Caller(c), StackTimer::Call(t)) => c.on_call_timer(&mut call_scope(ctx), t),
            (Stack::Server(_) | Stack::Instance(_), StackTimer::Call(_)) => {}
        }
    }
}

/// Places servers on hosts `0..servers` (processes `p0..`), then the instances and the callers
/// round-robin over all hosts. An instance's id is its process number, so callers reach it at
/// `ProcessId(instance)`.
///
/// Panics with [`Config::validate`]'s message on a bad config, or if the topology has fewer
/// hosts than servers.
pub fn setup(sim: &mut Sim<Stack>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid catalog config: {e}");
    }
    let hosts = sim.hosts().len() as u32;
    let servers = config.raft.servers;
    assert!(
        hosts >= servers,
        "one host per server: {servers} servers, {hosts} hosts"
    );
    let members: Vec<ProcessId> = (0..servers).map(ProcessId).collect();
    for i in 0..servers {
        let server = raft::Server::with_members(i, members.clone(), config.raft.clone());
        let id = sim.spawn(HostId(i), Stack::Server(server));
        assert_eq!(id, members[i as usize]);
    }
    for i in 0..config.instances {
        let instance = servers + i;
        let registrar = Registrar {
            service: i % config.services,
            instance,
            deregister_percent: config.deregister_percent,
        };
        let catalog = raft::Client::with_workload(config.raft.clone(), members.clone(), registrar);
        let id = sim.spawn(
            HostId(i % hosts),
            Stack::Instance(Instance {
                catalog,
                serving: false,
            }),
        );
        assert_eq!(id, ProcessId(instance), "instance ids are process numbers");
    }
    for i in 0..config.callers {
        let lister = Lister {
            services: config.services,
        };
        let caller = Caller {
            catalog: raft::Client::with_workload(config.raft.clone(), members.clone(), lister),
            call_timeout: config.call_timeout,
            next_call: 0,
            calls: BTreeMap::new(),
        };
        sim.spawn(HostId(i % hosts), Stack::Caller(caller));
    }
}

/// The registrations that must still be listed at the end, by instance: the last acknowledged
/// registration of each instance, if it was invoked after every deregistration of the instance
/// had been acknowledged. A deregistration still open or with an unknown outcome may take
/// effect at any later time, so it excuses the instance for the rest of the run.
pub fn registrations_that_must_hold(
    history: &[HistoryEntry<RecordOf<Catalog>>],
) -> BTreeMap<InstanceId, ServiceId> {
    #[derive(Default)]
    struct Seen {
        /// History position of the last acknowledged registration's invocation, and its service.
        registered: Option<(usize, ServiceId)>,
        /// History position where the last acknowledged deregistration completed.
        deregistered: Option<usize>,
        /// Deregistrations not (or not certainly) settled.
        unsettled: u32,
    }
    let mut invoked: BTreeMap<(u64, u64), (usize, CatalogCommand)> = BTreeMap::new();
    let mut seen: BTreeMap<InstanceId, Seen> = BTreeMap::new();
    for (pos, e) in history.iter().enumerate() {
        match &e.operation {
            raft::Record::Invoke { session, seq, input } => {
                invoked.insert((*session, *seq), (pos, *input));
                if let CatalogCommand::Deregister { instance, .. } = *input {
                    seen.entry(instance).or_default().unsettled += 1;
                }
            }
            raft::Record::Complete {
                session,
                seq,
                outcome,
            } => {
                let Some(&(at, command)) = invoked.get(&(*session, *seq)) else {
                    continue;
                };
                match (command, outcome) {
                    (CatalogCommand::Register { service, instance }, Outcome::Ok(_)) => {
                        seen.entry(instance).or_default().registered = Some((at, service));
                    }
                    (CatalogCommand::Deregister { instance, .. }, Outcome::Ok(_)) => {
                        let s = seen.entry(instance).or_default();
                        s.unsettled -= 1;
                        s.deregistered = Some(pos);
                    }
                    (CatalogCommand::Deregister { instance, .. }, Outcome::Failed) => {
                        seen.entry(instance).or_default().unsettled -= 1;
                    }
                    _ => {}
                }
            }
        }
    }
    seen.into_iter()
        .filter_map(|(instance, s)| {
            let (at, service) = s.registered?;
            let after = s.deregistered.is_none_or(|d| d < at);
            (s.unsettled == 0 && after).then_some((instance, service))
        })
        .collect()
}

/// Raft's invariants, linearizability of the catalog history, registrations kept, and
/// liveness after the heal (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<Stack>> {
    let mut props = raft::server_properties(&config.raft, Stack::as_server);
    let raft_config = config.raft.clone();
    props.push(Property::at_end(
        "catalog_linearizable",
        move |v: &View<'_, Stack>| {
            raft::check_linearizable_in(v, &CatalogSpec, &raft_config, v.history(), None)
        },
    ));
    props.push(Property::at_end(
        "acknowledged_registrations_kept",
        |v: &View<'_, Stack>| {
            let must = registrations_that_must_hold(v.history());
            // The most advanced replica: it has applied everything any server acknowledged once
            // the cluster has settled (the liveness property checks that it does).
            let Some(best) = v
                .processes()
                .filter_map(|(_, _, p)| p.as_server())
                .max_by_key(|s| s.applied)
            else {
                return Err("no catalog server".into());
            };
            for (&instance, &service) in &must {
                if !best.state.lists(service, instance) {
                    return Err(format!(
                        "instance {instance}'s acknowledged registration in service {service} is lost: \
                     p{} (applied {}) lists {:?}",
                        best.id,
                        best.applied,
                        best.state.services.get(&service)
                    ));
                }
            }
            Ok(())
        },
    ));
    let need_client = config.instances + config.callers > 0;
    props.push(raft::leader_and_progress_after_heal(
        config.raft.liveness_within,
        need_client,
        Stack::as_server,
    ));
    if config.instances > 0 && config.callers > 0 && config.deregister_percent < 100 {
        let baseline: Cell<Option<u64>> = Cell::new(None);
        props.push(Property::eventually(
            "calls_served_after_heal",
            config.raft.liveness_within,
            move |v: &View<'_, Stack>| {
                let ok = v.metrics().counter("compose.calls.ok");
                let base = *baseline.get().get_or_insert(ok);
                baseline.set(Some(base));
                if ok > base {
                    Ok(())
                } else {
                    Err("no call reached a serving instance since the heal".into())
                }
            },
        ));
    }
    props
}

/// The catalog system as a model the command line can run.
#[derive(Debug)]
pub struct CatalogStackModel;

impl Model for CatalogStackModel {
    const NAME: &'static str = "catalog_stack";
    const ABOUT: &'static str = "a service catalog replicated by Raft, with self-registering instances and callers (components composed)";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] =
        &[("instances", 0), ("callers", 0), ("services", 1)];
    type Config = Config;
    type Process = Stack;
    fn setup(sim: &mut Sim<Stack>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Stack>> {
        properties(config)
    }
    /// The probes of the Raft servers inside this model.
    fn probes() -> &'static [&'static str] {
        crate::raft::SERVER_PROBES
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.raft.servers {
            return Err(format!(
                "{} catalog servers need one host each, the topology has {hosts}",
                config.raft.servers
            ));
        }
        Ok(())
    }
    fn summarize(_config: &Config, metrics: &Metrics, _end: Instant) -> BTreeMap<String, f64> {
        let ok = metrics.counter("compose.calls.ok") as f64;
        let tried =
            ok + (metrics.counter("compose.calls.refused") + metrics.counter("compose.calls.timeout")) as f64;
        let mut out = BTreeMap::new();
        out.insert("calls_ok".into(), ok);
        out.insert(
            "call_success_ratio".into(),
            if tried > 0.0 { ok / tried } else { 0.0 },
        );
        out
    }
}
