//! A node's local agent: registrations of its instances (persisted), their health checks,
//! anti-entropy with the catalog, deregistration, and (agent resolve mode) a cache of the
//! services its callers ask for.

use super::catalog::{Health, HealthCommand, HealthOutput, NodeId, NodeService};
use super::query::QueryClient;
use super::{
    CatalogClient, CatalogCompletion, CheckKind, Config, ConsulHost, ConsulMsg, ConsulScope, ConsulTimer,
    submit_scope, swim_scope,
};
use crate::discovery::resolve::{InstanceId, ServiceId};
use crate::discovery::swim::Swim;
use crate::linearizability::Outcome;
use ruckus_sim::{Duration, Instant, ProcessId, TimerId};
use std::collections::BTreeMap;
use std::rc::Rc;

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

/// An agent's cached view of one service (agent resolve mode).
#[derive(Clone, Debug, Default)]
struct CacheEntry {
    listing: Option<super::Listing>,
    confirmed_at: Instant,
    /// Callers waiting for the first answer.
    waiting: Vec<(ProcessId, u64)>,
}

/// The local agent of one node.
///
/// It pushes the node's whole state on every change (one write in flight; changes meanwhile
/// are sent after it), and every `sync_interval` reads the node back from the catalog and
/// pushes again if the two differ (Consul's anti-entropy). Its catalog commands go through a
/// [`raft::Client`](crate::raft::Client), which finds the leader and retries.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Its node.
    pub node: NodeId,
    config: Rc<Config>,
    /// Its member of the gossip pool.
    pub swim: Swim,
    catalog: CatalogClient,
    servers: Rc<[ProcessId]>,
    /// Registered instances by process number.
    local: BTreeMap<InstanceId, Local>,
    /// Bumped whenever an instance is added to or removed from `local`.
    registration_changes: u64,
    /// A sync in flight, and whether the state changed since it was sent.
    syncing: bool,
    dirty: bool,
    /// An anti-entropy read in flight.
    reading: bool,
    probe_seq: u64,
    /// Agent resolve mode: the cache, one blocking query per service.
    cache: BTreeMap<ServiceId, CacheEntry>,
    cache_queries: BTreeMap<ServiceId, QueryClient>,
}

const REGISTRATIONS_KEY: &str = "agent.registrations";

impl Agent {
    /// The agent of `node`: its gossip member, its catalog client, and the catalog servers'
    /// processes (for queries).
    pub fn new(
        node: NodeId,
        config: Rc<Config>,
        swim: Swim,
        catalog: CatalogClient,
        servers: Rc<[ProcessId]>,
    ) -> Agent {
        Agent {
            node,
            servers,
            config,
            swim,
            catalog,
            local: BTreeMap::new(),
            registration_changes: 0,
            syncing: false,
            dirty: false,
            reading: false,
            probe_seq: 0,
            cache: BTreeMap::new(),
            cache_queries: BTreeMap::new(),
        }
    }

    /// Handles a message to the agent: catalog replies, gossip, its instances' and callers'
    /// requests, query replies.
    pub fn on_message<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        m: ConsulMsg,
    ) {
        match m {
            ConsulMsg::Raft(m) => {
                if let Some(c) = submit_scope(cx, |s| self.catalog.on_message(s, from, m)) {
                    self.on_completion(cx, c);
                }
            }
            ConsulMsg::Swim(m) => {
                swim_scope(cx, |s| self.swim.on_message(s, from, m));
                self.after_swim();
            }
            m => self.on_local_message(cx, from, m),
        }
    }

    /// Handles the agent's timer.
    pub fn on_timer<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, t: ConsulTimer) {
        match t {
            ConsulTimer::Catalog(t) => {
                if let Some(c) = submit_scope(cx, |s| self.catalog.on_timer(s, t)) {
                    self.on_completion(cx, c);
                }
            }
            ConsulTimer::Swim(t) => {
                swim_scope(cx, |s| self.swim.on_timer(s, t));
                self.after_swim();
            }
            t => self.on_local_timer(cx, t),
        }
    }

    /// The service `instance` registered under, if it is registered here.
    pub fn service_of(&self, instance: InstanceId) -> Option<ServiceId> {
        self.local.get(&instance).map(|l| l.service)
    }

    /// The instances registered with this agent.
    pub fn registered(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.local.keys().copied()
    }

    /// A counter that moves whenever an instance is registered or deregistered here (equal
    /// across two calls only if [`Agent::registered`] is), so an owner can skip comparing
    /// registrations with what runs while neither moved.
    pub fn registration_changes(&self) -> u64 {
        self.registration_changes
    }

    /// Deregisters `instance` on behalf of whoever runs it (a scheduler's agent whose
    /// allocation stopped): as an instance's own deregistration, without an answer to send.
    pub fn forget<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, instance: InstanceId) {
        let Some(l) = self.local.remove(&instance) else {
            return;
        };
        self.registration_changes += 1;
        if let Some((_, t)) = l.probe {
            cx.cancel_timer(t);
        }
        self.persist(cx);
        let command = HealthCommand::Deregister {
            node: self.node,
            instance,
        };
        submit_scope(cx, |s| self.catalog.submit(s, command));
        if self.syncing {
            self.dirty = true;
        }
    }

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

    fn persist<P: ConsulHost>(&self, cx: &mut ConsulScope<'_, '_, P>) {
        if self.config.bugs.registrations_not_persisted {
            return;
        }
        let mut bytes = Vec::with_capacity(8 * self.local.len());
        for (&instance, l) in &self.local {
            bytes.extend_from_slice(&instance.to_le_bytes());
            bytes.extend_from_slice(&l.service.to_le_bytes());
        }
        let mut storage = cx.storage();
        storage.put(REGISTRATIONS_KEY, bytes);
        storage.sync();
    }

    pub fn on_start<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        submit_scope(cx, |s| self.catalog.on_start(s));
        swim_scope(cx, |s| self.swim.start(s));
        self.after_swim();
        let saved = cx.storage().get(REGISTRATIONS_KEY).map(<[u8]>::to_vec);
        for pair in saved.unwrap_or_default().chunks_exact(8) {
            let instance = u32::from_le_bytes(pair[0..4].try_into().expect("4 bytes"));
            let service = u32::from_le_bytes(pair[4..8].try_into().expect("4 bytes"));
            self.add(cx, instance, service);
        }
        let jitter = Duration(cx.random().below(self.config.sync_interval.0));
        cx.set_timer(jitter, ConsulTimer::SyncEvery);
    }

    /// The agent acts on no membership news itself (the servers' leader does); it only drops
    /// the events its member keeps for it.
    pub(super) fn after_swim(&mut self) {
        self.swim.drain_events().for_each(drop);
    }

    /// Starts tracking an instance: its check starts critical.
    fn add<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        instance: InstanceId,
        service: ServiceId,
    ) {
        if self.local.contains_key(&instance) {
            return;
        }
        self.registration_changes += 1;
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
                cx.set_timer(self.config.ttl, timer);
            }
            CheckKind::Active => {
                cx.set_timer(Duration::ZERO, ConsulTimer::ProbeEvery { instance });
            }
        }
    }

    fn set_health<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        instance: InstanceId,
        health: Health,
    ) {
        let Some(l) = self.local.get_mut(&instance) else {
            return;
        };
        if l.health != health {
            l.health = health;
            cx.count(
                match health {
                    Health::Passing => "consul.checks.passing",
                    Health::Critical => "consul.checks.critical",
                },
                1,
            );
            self.sync(cx);
        }
    }

    /// Sends the node's state to the catalog, or marks it dirty if a sync is in flight.
    fn sync<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        if self.syncing {
            self.dirty = true;
            return;
        }
        self.dirty = false;
        self.syncing = true;
        let command = HealthCommand::SyncNode {
            node: self.node,
            services: self.snapshot(),
        };
        submit_scope(cx, |s| self.catalog.submit(s, command));
    }

    /// One of its catalog commands came back.
    pub(super) fn on_completion<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        c: CatalogCompletion,
    ) {
        let ok = matches!(c.outcome, Outcome::Ok(_));
        match (c.command, c.outcome) {
            (HealthCommand::SyncNode { .. }, _) => {
                self.syncing = false;
                if ok {
                    cx.count("consul.agent.syncs", 1);
                } else {
                    cx.count("consul.agent.sync_failures", 1);
                }
                if self.dirty || !ok {
                    self.sync(cx);
                }
            }
            (HealthCommand::ReadNode { .. }, outcome) => {
                self.reading = false;
                if let Outcome::Ok(HealthOutput::Node(held)) = outcome
                    && held.snapshot() != self.snapshot()
                {
                    cx.count("consul.agent.repairs", 1);
                    self.sync(cx);
                }
            }
            (HealthCommand::Deregister { .. }, _) if !ok => {
                // Anti-entropy removes it with the next sync of the node.
                self.sync(cx);
            }
            _ => {}
        }
    }

    fn on_local_message<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        m: ConsulMsg,
    ) {
        match m {
            ConsulMsg::Register { instance, service } => {
                self.add(cx, instance, service);
                self.persist(cx);
                cx.send(from, ConsulMsg::Registered);
                self.sync(cx);
            }
            ConsulMsg::Deregister { instance } => {
                cx.send(from, ConsulMsg::Deregistered);
                self.forget(cx, instance);
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
                cx.set_timer(self.config.ttl, ConsulTimer::TtlExpire { instance, generation });
                self.set_health(cx, instance, Health::Passing);
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
                cx.cancel_timer(t);
                self.set_health(cx, instance, Health::Passing);
            }
            ConsulMsg::Resolve { id, service } => self.on_resolve(cx, from, id, service),
            ConsulMsg::QueryReply { id, listing, hint } => {
                let Some((&service, _)) = self.cache_queries.iter().find(|(_, q)| q.asks(id)) else {
                    return;
                };
                let q = self.cache_queries.get_mut(&service).expect("found");
                let Some(listing) = q.on_reply(cx, id, listing, hint) else {
                    return;
                };
                if let Some(listing) = listing {
                    let now = cx.monotonic();
                    let entry = self.cache.entry(service).or_default();
                    entry.confirmed_at = now;
                    let passing = listing.passing();
                    entry.listing = Some(listing);
                    for (caller, id) in std::mem::take(&mut entry.waiting) {
                        let passing = passing.clone();
                        cx.send(
                            caller,
                            ConsulMsg::Resolved {
                                id,
                                passing,
                                age: Duration::ZERO,
                            },
                        );
                    }
                }
                self.refresh_cache(cx, service);
            }
            _ => {}
        }
    }

    fn on_resolve<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        id: u64,
        service: ServiceId,
    ) {
        let now = cx.monotonic();
        let entry = self.cache.entry(service).or_default();
        if let Some(listing) = &entry.listing {
            let age = now.saturating_since(entry.confirmed_at);
            cx.send(
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
            let servers = Rc::clone(&self.servers);
            self.cache_queries.insert(service, QueryClient::new(servers));
            self.refresh_cache(cx, service);
        }
    }

    /// Keeps a blocking query open for a cached service.
    fn refresh_cache<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, service: ServiceId) {
        let min_index = self
            .cache
            .get(&service)
            .and_then(|e| e.listing.as_ref())
            .map_or(0, |l| l.index);
        let (wait, timeout) = (self.config.watch_wait, self.config.query_timeout);
        if let Some(q) = self.cache_queries.get_mut(&service) {
            q.ask(cx, service, min_index, wait, timeout);
        }
    }

    fn on_local_timer<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, t: ConsulTimer) {
        match t {
            ConsulTimer::SyncEvery => {
                cx.set_timer(self.config.sync_interval, ConsulTimer::SyncEvery);
                if !self.reading {
                    self.reading = true;
                    let command = HealthCommand::ReadNode { node: self.node };
                    submit_scope(cx, |s| self.catalog.submit(s, command));
                }
            }
            ConsulTimer::TtlExpire { instance, generation }
                if self
                    .local
                    .get(&instance)
                    .is_some_and(|l| l.ttl_generation == generation) =>
            {
                self.set_health(cx, instance, Health::Critical);
            }
            ConsulTimer::ProbeEvery { instance } => {
                let Some(l) = self.local.get_mut(&instance) else {
                    return;
                };
                cx.set_timer(self.config.check_interval, ConsulTimer::ProbeEvery { instance });
                if l.probe.is_some() {
                    return;
                }
                self.probe_seq += 1;
                let seq = self.probe_seq;
                cx.send(ProcessId(instance), ConsulMsg::Probe { seq });
                let timer = cx.set_timer(
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
                    self.set_health(cx, instance, Health::Critical);
                }
            }
            ConsulTimer::QueryTimeout { id } => {
                let Some((&service, _)) = self.cache_queries.iter().find(|(_, q)| q.asks(id)) else {
                    return;
                };
                if self
                    .cache_queries
                    .get_mut(&service)
                    .expect("found")
                    .on_timeout(id)
                {
                    self.refresh_cache(cx, service);
                }
            }
            _ => {}
        }
    }
}
