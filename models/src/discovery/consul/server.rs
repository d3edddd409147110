//! A catalog server: Raft replicating the catalog, a member of the LAN gossip pool whose
//! verdicts the leader writes into the catalog as node health, and blocking queries.

use super::catalog::{Health, HealthCatalog, HealthCommand, HealthOutput, NodeId};
use super::{
    CatalogClient, CatalogCompletion, ConsulHost, ConsulMsg, ConsulScope, ConsulTimer, raft_scope,
    submit_scope, swim_scope,
};
use crate::discovery::resolve::ServiceId;
use crate::discovery::swim::{Status, Swim};
use crate::linearizability::Outcome;
use crate::raft::{self, Message, Role};
use ruckus_sim::{Duration, ProcessId, TimerId};
use std::collections::BTreeMap;

/// A query a server holds until its service changes.
#[derive(Clone, Debug)]
struct Held {
    from: ProcessId,
    id: u64,
    service: ServiceId,
    min_index: u64,
    timer: TimerId,
}

/// A catalog server.
///
/// Its Raft server replicates the catalog; its SWIM member is in the pool with every agent.
/// While it leads, it keeps each node's health in the catalog equal to what its member thinks
/// of that node's agent (Consul's `serfHealth` check): critical once the agent is dead or has
/// left, passing while it is alive or merely suspect. It writes through its own
/// [`raft::Client`], like any other client of the catalog, so those writes are in the checked
/// history. (Once `raft::Server` can propose directly, the leader could skip the round trip.)
#[derive(Clone, Debug)]
pub struct CatalogServer {
    /// The embedded Raft server.
    pub raft: raft::Server<HealthCatalog>,
    /// Its member of the gossip pool.
    pub swim: Swim,
    catalog: CatalogClient,
    /// Pool members before the agents (the servers).
    servers: u32,
    nodes: u32,
    reconcile_interval: Duration,
    stale_reads: bool,
    /// Each agent's status as this server's member last heard it.
    node_status: BTreeMap<NodeId, Status>,
    /// Node health writes in flight.
    marking: BTreeMap<NodeId, Health>,
    held: BTreeMap<u64, Held>,
    next_key: u64,
}

impl CatalogServer {
    /// The boot image of server `raft.id`.
    /// A catalog server: its Raft replica, its gossip member (member index = Raft id: servers
    /// come first in the pool), its catalog client, the pool's `nodes`, how often the leader
    /// reconciles node health, and whether followers answer queries.
    pub fn new(
        raft: raft::Server<HealthCatalog>,
        swim: Swim,
        catalog: CatalogClient,
        nodes: u32,
        reconcile_interval: Duration,
        stale_reads: bool,
    ) -> CatalogServer {
        debug_assert_eq!(swim.me(), raft.id, "servers are the first pool members");
        CatalogServer {
            servers: raft.members.len() as u32,
            raft,
            swim,
            catalog,
            nodes,
            reconcile_interval,
            stale_reads,
            node_status: BTreeMap::new(),
            marking: BTreeMap::new(),
            held: BTreeMap::new(),
            next_key: 0,
        }
    }

    /// Handles a message to a server: Raft, catalog replies, gossip, queries.
    pub fn on_message<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        m: ConsulMsg,
    ) {
        match m {
            ConsulMsg::Raft(m @ Message::Reply { .. }) => {
                if let Some(c) = submit_scope(cx, |s| self.catalog.on_message(s, from, m)) {
                    self.on_completion(cx, c);
                }
            }
            ConsulMsg::Raft(m) => raft_scope(cx, |s| self.raft.on_message(s, from, m)),
            ConsulMsg::Swim(m) => {
                swim_scope(cx, |s| self.swim.on_message(s, from, m));
                self.after_swim(cx);
            }
            ConsulMsg::Query {
                id,
                service,
                min_index,
                wait,
            } => self.on_query(cx, from, id, service, min_index, wait),
            _ => {}
        }
        self.serve_held(cx);
    }

    /// Handles a server's timer.
    pub fn on_timer<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, t: ConsulTimer) {
        match t {
            ConsulTimer::Raft(t) => raft_scope(cx, |s| self.raft.on_timer(s, t)),
            ConsulTimer::Catalog(t) => {
                if let Some(c) = submit_scope(cx, |s| self.catalog.on_timer(s, t)) {
                    self.on_completion(cx, c);
                }
            }
            ConsulTimer::Swim(t) => {
                swim_scope(cx, |s| self.swim.on_timer(s, t));
                self.after_swim(cx);
            }
            ConsulTimer::Reconcile => {
                cx.set_timer(self.reconcile_interval, ConsulTimer::Reconcile);
                self.reconcile(cx);
            }
            ConsulTimer::WatchExpire { key } => self.on_watch_expire(cx, key),
            _ => {}
        }
        self.serve_held(cx);
    }

    /// What this server's member thinks of node `node`'s agent (`Unknown` if never heard of).
    pub fn node_status(&self, node: NodeId) -> Status {
        self.node_status.get(&node).copied().unwrap_or_default()
    }

    pub(super) fn may_answer(&self) -> bool {
        self.stale_reads || self.raft.role == Role::Leader
    }

    pub(super) fn leader_hint(&self) -> Option<u32> {
        self.raft.leader.filter(|&l| l != self.raft.id)
    }

    pub fn on_start<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        raft_scope(cx, |s| self.raft.on_start(s));
        submit_scope(cx, |s| self.catalog.on_start(s));
        swim_scope(cx, |s| self.swim.start(s));
        self.after_swim(cx);
        cx.set_timer(self.reconcile_interval, ConsulTimer::Reconcile);
    }

    /// Takes in what the member learned in its last handler; reconciles on news of an agent.
    pub(super) fn after_swim<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        let mut agents_changed = false;
        // Agents' member indices follow the servers'.
        let first_agent = self.servers;
        for e in self.swim.drain_events() {
            if e.member >= first_agent && e.member - first_agent < self.nodes {
                self.node_status.insert(e.member - first_agent, e.status);
                agents_changed = true;
            }
        }
        if agents_changed {
            self.reconcile(cx);
        }
    }

    /// Leader: writes every node whose health in the catalog disagrees with the pool.
    pub(super) fn reconcile<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        if self.raft.role != Role::Leader {
            return;
        }
        for node in 0..self.nodes {
            let wanted = match self.node_status(node) {
                Status::Alive | Status::Suspect => Health::Passing,
                Status::Dead | Status::Left => Health::Critical,
                Status::Unknown => continue,
            };
            if self.raft.state.node_health(node) == wanted || self.marking.get(&node) == Some(&wanted) {
                continue;
            }
            cx.count(
                match wanted {
                    Health::Critical => "consul.nodes_marked_critical",
                    Health::Passing => "consul.nodes_marked_passing",
                },
                1,
            );
            self.marking.insert(node, wanted);
            let command = HealthCommand::NodeHealth { node, health: wanted };
            submit_scope(cx, |s| self.catalog.submit(s, command));
        }
    }

    /// A node-health write came back (the next reconcile retries one that did not apply).
    pub(super) fn on_completion<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        c: CatalogCompletion,
    ) {
        if let HealthCommand::NodeHealth { node, health } = c.command {
            if self.marking.get(&node) == Some(&health) {
                self.marking.remove(&node);
            }
            if !matches!(c.outcome, Outcome::Ok(HealthOutput::Written { .. })) {
                cx.count("consul.node_marks_failed", 1);
            }
        }
    }

    pub(super) fn on_query<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        id: u64,
        service: ServiceId,
        min_index: u64,
        wait: Duration,
    ) {
        if !self.may_answer() {
            cx.count("consul.queries_refused", 1);
            let hint = self.leader_hint();
            cx.send(
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
            cx.send(
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
        let timer = cx.set_timer(wait, ConsulTimer::WatchExpire { key });
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

    /// A held query's wait is over: it gets the listing as it is.
    pub(super) fn on_watch_expire<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, key: u64) {
        if let Some(h) = self.held.remove(&key) {
            let may = self.may_answer();
            self.answer_held(cx, &h, may);
        }
    }

    /// Sends a held query its answer: the listing, or none when this server may not answer.
    fn answer_held<P: ConsulHost>(&self, cx: &mut ConsulScope<'_, '_, P>, h: &Held, may: bool) {
        let listing = may.then(|| self.raft.state.listing(h.service));
        cx.send(
            h.from,
            ConsulMsg::QueryReply {
                id: h.id,
                listing,
                hint: self.leader_hint(),
            },
        );
    }

    /// Answers held queries whose service changed, and refuses them all if this server may no
    /// longer answer.
    pub(super) fn serve_held<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
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
            cx.cancel_timer(h.timer);
            self.answer_held(cx, &h, may);
        }
    }
}
