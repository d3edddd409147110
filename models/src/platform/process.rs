//! The platform's processes, messages and timers: each role is built from the components'
//! own parts, and each component's traffic travels wrapped in a variant of its own.

use super::config::Config;
use super::marks::{DetectionMarks, RecoveryMarks, RescheduleMarks};
use crate::discovery::consul::{
    self, ConsulInstance, ConsulMsg, ConsulOp, ConsulScope, ConsulTimer, HealthCatalog, ResolveMode,
    query::ListingQuery,
};
use crate::discovery::resolve::DiscoveryOp;
use crate::raft::{self, RecordOf};
use crate::scheduler::{self, RunsTasks, Task};
use crate::services;
use ruckus_sim::{Context, Duration, Instant, Process, ProcessId, Scope};
use std::rc::Rc;

/// The timed series every caller of the platform records its attempts' backends in (valued
/// by process id): when callers stopped sending to a dead instance.
pub const ROUTES: &str = "routed";

/// What every instance and agent shares: the platform's parameters, and discovery's as the
/// catalog's parts read them.
#[derive(Debug)]
pub struct Shared {
    /// The platform's parameters.
    pub config: Config,
    /// Discovery's, with the platform's nodes and services.
    pub discovery: Rc<consul::Config>,
    /// The catalog servers' processes.
    pub catalog_servers: Rc<[ProcessId]>,
}

/// Messages of the platform: each component's own, wrapped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PlatformMsg {
    /// The scheduler: servers' Raft, agents, the submitter, tasks.
    Sched(scheduler::Msg),
    /// Discovery: catalog servers' Raft, the gossip pool, registrations, checks, queries.
    Consul(ConsulMsg),
    /// The service's requests and responses.
    Service(services::Msg),
}

/// Timers of the platform: each component's own, wrapped, and the platform's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PlatformTimer {
    /// The scheduler's.
    Sched(scheduler::Timer),
    /// Discovery's.
    Consul(ConsulTimer),
    /// The service's.
    Service(services::Timer),
    /// An instance asks its agent for the next tier again; a client's cached answer expired.
    Resolve,
    /// A node agent compares its running allocations with its registrations.
    SyncServices,
}

/// What the platform records for its checkers: the scheduler's job acknowledgements and
/// discovery's registrations and catalog commands.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformOp {
    /// The scheduler's.
    Sched(scheduler::Op),
    /// Discovery's.
    Consul(ConsulOp),
}

impl From<scheduler::Op> for PlatformOp {
    fn from(op: scheduler::Op) -> Self {
        PlatformOp::Sched(op)
    }
}
impl From<ConsulOp> for PlatformOp {
    fn from(op: ConsulOp) -> Self {
        PlatformOp::Consul(op)
    }
}
impl From<RecordOf<HealthCatalog>> for PlatformOp {
    fn from(r: RecordOf<HealthCatalog>) -> Self {
        PlatformOp::Consul(ConsulOp::Catalog(r))
    }
}
impl From<DiscoveryOp> for PlatformOp {
    fn from(op: DiscoveryOp) -> Self {
        PlatformOp::Consul(ConsulOp::Discovery(op))
    }
}

impl PlatformOp {
    /// The scheduler's record, if this is one.
    pub fn as_sched(&self) -> Option<&scheduler::Op> {
        match self {
            PlatformOp::Sched(op) => Some(op),
            PlatformOp::Consul(_) => None,
        }
    }
    /// Discovery's record, if this is one.
    pub fn as_consul(&self) -> Option<&ConsulOp> {
        match self {
            PlatformOp::Consul(op) => Some(op),
            PlatformOp::Sched(_) => None,
        }
    }
}

type SchedScope<'s, 'a> = Scope<'s, 'a, Platform, scheduler::Msg, scheduler::Timer>;
type ServiceScope<'s, 'a> = Scope<'s, 'a, Platform, services::Msg, services::Timer>;

fn sched<'s, 'a>(ctx: &'s mut Context<'a, Platform>) -> SchedScope<'s, 'a> {
    ctx.scope(PlatformMsg::Sched, PlatformTimer::Sched)
}
fn consul<'s, 'a>(ctx: &'s mut Context<'a, Platform>) -> ConsulScope<'s, 'a, Platform> {
    ctx.scope(PlatformMsg::Consul, PlatformTimer::Consul)
}
fn service<'s, 'a>(ctx: &'s mut Context<'a, Platform>) -> ServiceScope<'s, 'a> {
    ctx.scope(PlatformMsg::Service, PlatformTimer::Service)
}

/// A node's agent process: the scheduler's client agent (runs allocations as instance
/// processes) and discovery's local agent (registrations, health checks, the gossip pool), as
/// Nomad and Consul agents run side by side on every node. It deregisters the instances of
/// allocations that stopped, as Nomad's client does with Consul.
#[derive(Clone, Debug)]
pub struct NodeAgent {
    /// The scheduler's client agent.
    pub sched: scheduler::Agent<Rc<Shared>>,
    /// Discovery's local agent.
    pub consul: consul::Agent,
    /// How often to compare running allocations with registrations.
    pub sync_every: Duration,
    /// The two agents' change counters when the registrations last matched what runs: until
    /// either moves there is nothing to deregister.
    pub(super) synced: Option<(u64, u64)>,
}

impl NodeAgent {
    /// A node's agent from its two parts, comparing them every `sync_every` and whenever the
    /// scheduler's agent handled an event.
    pub fn new(
        sched: scheduler::Agent<Rc<Shared>>,
        consul: consul::Agent,
        sync_every: Duration,
    ) -> NodeAgent {
        NodeAgent {
            sched,
            consul,
            sync_every,
            synced: None,
        }
    }

    pub(super) fn changes(&self) -> (u64, u64) {
        (self.sched.running_changes(), self.consul.registration_changes())
    }

    /// Deregisters every registered instance whose allocation no longer runs here.
    fn sync_services(&mut self, ctx: &mut Context<'_, Platform>) {
        if self.synced == Some(self.changes()) {
            ctx.count("platform.sync_skipped", 1);
            return;
        }
        let running: Vec<ProcessId> = self.sched.running().map(|(_, pid)| pid).collect();
        let gone: Vec<u32> = self
            .consul
            .registered()
            .filter(|i| !running.contains(&ProcessId(*i)))
            .collect();
        for instance in gone {
            ctx.count("platform.deregistered_stopped", 1);
            let service = self.consul.service_of(instance).unwrap_or(u32::MAX);
            self.consul.forget(&mut consul(ctx), instance);
            ctx.record(PlatformOp::Consul(ConsulOp::Deregistered { instance, service }));
        }
        self.synced = Some(self.changes());
    }
}

/// A service instance: the scheduler's task (its lifecycle), discovery's registration and
/// check, and the services model's server (queue, concurrency, service time, and the caller
/// to the next tier with every HA policy), its backends the next tier's passing instances as
/// its node's agent knows them.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The allocation's task.
    pub task: Task,
    /// The tier (index) it serves.
    pub tier: u32,
    /// Its registration and health check.
    pub registration: ConsulInstance,
    /// How it serves.
    pub server: services::Server,
    shared: Rc<Shared>,
    next_resolve: u64,
}

impl Instance {
    fn resolve(&mut self, ctx: &mut Context<'_, Platform>) {
        self.next_resolve += 1;
        let next = self.tier + 1;
        ctx.send(
            self.task.agent,
            PlatformMsg::Consul(ConsulMsg::Resolve {
                id: self.next_resolve,
                service: next,
            }),
        );
        ctx.set_timer(self.shared.config.resolve_every, PlatformTimer::Resolve);
    }
}

/// A client outside the cluster: the services model's client (its load and the caller with
/// every HA policy), its backends the front tier's passing instances as discovery answers,
/// cached for `cache_ttl` (DNS) or kept fresh by a blocking query (watch).
#[derive(Clone, Debug)]
pub struct Client {
    /// Load and calls.
    pub client: services::Client,
    listing: ListingQuery,
    shared: Rc<Shared>,
    /// Its number among the clients (0 is the first).
    pub number: u32,
    /// The first client marks recoveries on the report's charts.
    recovery: Option<RecoveryMarks>,
}

impl Client {
    /// Client `index` of the platform, resolving through the catalog servers.
    pub fn new(shared: Rc<Shared>, index: u32) -> Client {
        let config = &shared.config;
        let measure_from = Instant::ZERO + config.warmup;
        let mut caller = services::Caller::new(config.client, Vec::new(), measure_from, "");
        caller.record_routes(ROUTES);
        Client {
            client: services::Client::new(config.workload, caller, measure_from, false)
                .with_schedule(&config.schedule),
            listing: ListingQuery::new(Rc::clone(&shared.catalog_servers), 0),
            shared,
            number: index,
            recovery: None,
        }
    }

    fn ask(&mut self, ctx: &mut Context<'_, Platform>) {
        self.listing.ask(&mut consul(ctx), &self.shared.discovery);
    }

    /// The first client's recovery watch, after each of its calls' events.
    fn watch(&mut self, ctx: &mut Context<'_, Platform>) {
        if let Some(r) = &mut self.recovery {
            r.after(ctx, self.client.outcomes());
        }
    }

    fn on_listing(&mut self, ctx: &mut Context<'_, Platform>, l: consul::Listing) {
        let d = Rc::clone(&self.shared.discovery);
        self.client
            .caller_mut()
            .set_backends(l.passing().into_iter().map(ProcessId).collect());
        match d.resolve {
            ResolveMode::Watch => self.ask(ctx),
            ResolveMode::Dns | ResolveMode::Agent => {
                // The cached answer expires after the TTL (the bug keeps it for ever).
                if !d.bugs.cache_without_expiry {
                    ctx.set_timer(d.cache_ttl, PlatformTimer::Resolve);
                }
            }
        }
    }
}

/// A platform process: one role, built from the components.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Platform {
    /// A scheduler server (the scheduler's own server, replicating with Raft), and its watch
    /// for the report's rescheduling marks.
    SchedServer(scheduler::Server, RescheduleMarks),
    /// The operator who submits the tiers as jobs.
    Submitter(scheduler::Submitter),
    /// A catalog server (discovery's own server, replicating with Raft, in the gossip pool),
    /// and its watch for the report's detection marks.
    CatalogServer(consul::CatalogServer, DetectionMarks),
    /// A node's agents.
    NodeAgent(NodeAgent),
    /// A service instance the scheduler started.
    Instance(Instance),
    /// A task of a job that is no tier (a crash-looping job): the scheduler's task alone.
    Task(Task),
    /// A client.
    Client(Client),
}

impl RunsTasks for Platform {
    type TaskEnv = Rc<Shared>;
    fn task(task: Task, shared: &Rc<Shared>) -> Self {
        let Some(tier) = task.spec.service else {
            return Platform::Task(task);
        };
        let config = &shared.config;
        let t = &config.tiers[tier as usize];
        let last = tier as usize + 1 == config.tiers.len();
        let caller = (!last).then(|| {
            let mut c =
                services::Caller::new(t.serve.caller, Vec::new(), Instant::ZERO, &format!("tier{tier}."));
            c.record_routes(ROUTES);
            c
        });
        Platform::Instance(Instance {
            registration: ConsulInstance::new(tier, task.agent, &shared.discovery),
            server: services::Server::new(t.serve, tier as usize, Vec::new(), caller, Instant::ZERO),
            task,
            tier,
            shared: Rc::clone(shared),
            next_resolve: 0,
        })
    }
}

impl Platform {
    /// The scheduler server, if this is one.
    pub fn as_sched_server(&self) -> Option<&scheduler::Server> {
        match self {
            Platform::SchedServer(s, _) => Some(s),
            _ => None,
        }
    }
    /// The scheduler server's Raft, if this is one.
    pub fn as_sched_raft(&self) -> Option<&raft::Server<scheduler::state::ClusterState>> {
        self.as_sched_server().map(|s| &s.raft)
    }
    /// The catalog server's Raft, if this is one.
    pub fn as_catalog_raft(&self) -> Option<&raft::Server<HealthCatalog>> {
        match self {
            Platform::CatalogServer(s, _) => Some(&s.raft),
            _ => None,
        }
    }
    /// The instance, if this is one.
    pub fn as_instance(&self) -> Option<&Instance> {
        match self {
            Platform::Instance(i) => Some(i),
            _ => None,
        }
    }
    /// The client, if this is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            Platform::Client(c) => Some(c),
            _ => None,
        }
    }
}

impl Process for Platform {
    type Message = PlatformMsg;
    type Timer = PlatformTimer;
    type Operation = PlatformOp;

    /// Roles: `sched-server`, `sched-leader` (the acting scheduler leader), `catalog-server`,
    /// `catalog-leader`, `node` (a node's agents), `instance` and the tier's name (`edge`,
    /// `api`...), `task` (of a job that is no tier), `client`; `leader` is either leader.
    fn has_role(&self, role: &str) -> bool {
        match self {
            Platform::SchedServer(s, _) => match role {
                "sched-server" => true,
                "sched-leader" | "leader" => s.is_acting_leader(),
                _ => false,
            },
            Platform::CatalogServer(s, _) => match role {
                "catalog-server" => true,
                "catalog-leader" | "leader" => s.raft.role == raft::Role::Leader,
                _ => false,
            },
            Platform::NodeAgent(_) => role == "node",
            Platform::Instance(i) => {
                role == "instance" || i.shared.config.tiers[i.tier as usize].name == role
            }
            Platform::Task(_) => role == "task",
            Platform::Client(_) => role == "client",
            Platform::Submitter(_) => role == "submitter",
        }
    }

    fn label(&self) -> Option<String> {
        Some(match self {
            Platform::SchedServer(s, _) if s.is_acting_leader() => {
                format!("sched-{} (leader, term {})", s.raft.id, s.raft.term)
            }
            Platform::SchedServer(s, _) => format!("sched-{}", s.raft.id),
            Platform::CatalogServer(s, _) if s.raft.role == raft::Role::Leader => {
                format!("catalog-{} (leader, term {})", s.raft.id, s.raft.term)
            }
            Platform::CatalogServer(s, _) => format!("catalog-{}", s.raft.id),
            Platform::Submitter(_) => "submitter".into(),
            Platform::NodeAgent(a) => format!("node-{}", a.consul.node),
            Platform::Instance(i) => {
                format!(
                    "{} (alloc {})",
                    i.shared.config.tiers[i.tier as usize].name, i.task.alloc.0
                )
            }
            Platform::Task(t) => format!("task (alloc {})", t.alloc.0),
            Platform::Client(_) => "client".into(),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            Platform::SchedServer(s, _) => s.on_start(&mut sched(ctx)),
            Platform::Submitter(s) => s.on_start(&mut sched(ctx)),
            Platform::CatalogServer(s, _) => s.on_start(&mut consul(ctx)),
            Platform::NodeAgent(a) => {
                a.sched.on_start(&mut sched(ctx));
                a.consul.on_start(&mut consul(ctx));
                ctx.set_timer(a.sync_every, PlatformTimer::SyncServices);
            }
            Platform::Instance(i) => {
                i.task.on_start(&mut sched(ctx));
                i.registration.on_start(&mut consul(ctx));
                i.server.on_start(&mut service(ctx));
                if (i.tier as usize) + 1 < i.shared.config.tiers.len() {
                    i.resolve(ctx);
                }
            }
            Platform::Task(t) => t.on_start(&mut sched(ctx)),
            Platform::Client(c) => {
                if c.number == 0 {
                    c.recovery = Some(RecoveryMarks::new(&c.shared, ctx.now()));
                }
                c.client.on_start(&mut service(ctx));
                let servers = c.shared.catalog_servers.len() as u64;
                c.listing.query.target = ctx.random().below(servers) as u32;
                c.ask(ctx);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: PlatformMsg) {
        match (self, m) {
            (Platform::SchedServer(s, w), PlatformMsg::Sched(m)) => {
                s.on_message(&mut sched(ctx), from, m);
                w.after(ctx, s.state(), s.is_acting_leader());
            }
            (Platform::Submitter(s), PlatformMsg::Sched(m)) => s.on_message(&mut sched(ctx), from, m),
            (Platform::CatalogServer(s, w), PlatformMsg::Consul(m)) => {
                s.on_message(&mut consul(ctx), from, m);
                w.after(ctx, &s.raft.state, s.raft.role == raft::Role::Leader);
            }
            (Platform::NodeAgent(a), PlatformMsg::Sched(m)) => {
                a.sched.on_message(&mut sched(ctx), from, m);
                a.sync_services(ctx);
            }
            (Platform::NodeAgent(a), PlatformMsg::Consul(m)) => {
                a.consul.on_message(&mut consul(ctx), from, m)
            }
            (Platform::Instance(i), PlatformMsg::Consul(ConsulMsg::Resolved { passing, .. })) => {
                if let Some(caller) = i.server.caller_mut() {
                    caller.set_backends(passing.into_iter().map(ProcessId).collect());
                }
            }
            (Platform::Instance(i), PlatformMsg::Consul(m)) => {
                i.registration.on_message(&mut consul(ctx), from, m)
            }
            (Platform::Instance(i), PlatformMsg::Service(m)) => {
                i.server.on_message(&mut service(ctx), from, m)
            }
            (Platform::Client(c), PlatformMsg::Consul(ConsulMsg::QueryReply { id, listing, hint })) => {
                let d = Rc::clone(&c.shared.discovery);
                if let Some(l) = c.listing.on_reply(&mut consul(ctx), &d, (id, listing, hint)) {
                    c.on_listing(ctx, l);
                }
            }
            (Platform::Client(c), PlatformMsg::Service(m)) => {
                c.client.on_message(&mut service(ctx), from, m);
                c.watch(ctx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: PlatformTimer) {
        match (self, t) {
            (Platform::SchedServer(s, w), PlatformTimer::Sched(t)) => {
                s.on_timer(&mut sched(ctx), t);
                w.after(ctx, s.state(), s.is_acting_leader());
            }
            (Platform::Submitter(s), PlatformTimer::Sched(t)) => s.on_timer(&mut sched(ctx), t),
            (Platform::CatalogServer(s, w), PlatformTimer::Consul(t)) => {
                s.on_timer(&mut consul(ctx), t);
                w.after(ctx, &s.raft.state, s.raft.role == raft::Role::Leader);
            }
            (Platform::NodeAgent(a), PlatformTimer::Sched(t)) => {
                a.sched.on_timer(&mut sched(ctx), t);
                a.sync_services(ctx);
            }
            (Platform::NodeAgent(a), PlatformTimer::Consul(t)) => a.consul.on_timer(&mut consul(ctx), t),
            (Platform::NodeAgent(a), PlatformTimer::SyncServices) => {
                ctx.set_timer(a.sync_every, PlatformTimer::SyncServices);
                a.sync_services(ctx);
            }
            (Platform::Instance(i), PlatformTimer::Sched(t)) => i.task.on_timer(&mut sched(ctx), t),
            (Platform::Instance(i), PlatformTimer::Consul(t)) => i.registration.on_timer(&mut consul(ctx), t),
            (Platform::Instance(i), PlatformTimer::Service(t)) => i.server.on_timer(&mut service(ctx), t),
            (Platform::Instance(i), PlatformTimer::Resolve) => i.resolve(ctx),
            (Platform::Task(task), PlatformTimer::Sched(t)) => task.on_timer(&mut sched(ctx), t),
            (Platform::Client(c), PlatformTimer::Service(t)) => {
                c.client.on_timer(&mut service(ctx), t);
                c.watch(ctx);
            }
            (Platform::Client(c), PlatformTimer::Consul(ConsulTimer::QueryTimeout { id })) => {
                let d = Rc::clone(&c.shared.discovery);
                c.listing.on_timeout(&mut consul(ctx), &d, id);
            }
            (Platform::Client(c), PlatformTimer::Resolve) => c.ask(ctx),
            _ => {}
        }
    }
}
