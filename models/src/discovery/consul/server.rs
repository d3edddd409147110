//! A catalog server: Raft replicating the catalog, a member of the LAN gossip pool whose
//! verdicts the leader writes into the catalog as node health, and blocking queries.

use super::catalog::{Health, HealthCatalog, HealthCommand, HealthOutput, NodeId};
use super::{CatalogClient, CatalogCompletion, ConsulMsg, ConsulNode, ConsulTimer, raft_scope, submit_scope};
use crate::discovery::resolve::ServiceId;
use crate::discovery::swim::{Status, Swim};
use crate::linearizability::Outcome;
use crate::raft::{self, Role};
use ruckus_sim::{Context, Duration, ProcessId, TimerId};
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
    pub(super) fn new(
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

    pub(super) fn catalog_mut(&mut self) -> &mut CatalogClient {
        &mut self.catalog
    }

    pub(super) fn reconcile_interval(&self) -> Duration {
        self.reconcile_interval
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

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        self.raft.on_start(&mut raft_scope(ctx));
        self.catalog.on_start(&mut submit_scope(ctx));
        self.swim.start(&mut super::swim_scope(ctx));
        self.after_swim(ctx);
        ctx.set_timer(self.reconcile_interval, ConsulTimer::Reconcile);
    }

    /// Takes in what the member learned in its last handler; reconciles on news of an agent.
    pub(super) fn after_swim(&mut self, ctx: &mut Context<'_, ConsulNode>) {
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
            self.reconcile(ctx);
        }
    }

    /// Leader: writes every node whose health in the catalog disagrees with the pool.
    pub(super) fn reconcile(&mut self, ctx: &mut Context<'_, ConsulNode>) {
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
            ctx.count(
                match wanted {
                    Health::Critical => "consul.nodes_marked_critical",
                    Health::Passing => "consul.nodes_marked_passing",
                },
                1,
            );
            self.marking.insert(node, wanted);
            let command = HealthCommand::NodeHealth { node, health: wanted };
            self.catalog.submit(&mut submit_scope(ctx), command);
        }
    }

    /// A node-health write came back (the next reconcile retries one that did not apply).
    pub(super) fn on_completion(&mut self, ctx: &mut Context<'_, ConsulNode>, c: CatalogCompletion) {
        if let HealthCommand::NodeHealth { node, health } = c.command {
            if self.marking.get(&node) == Some(&health) {
                self.marking.remove(&node);
            }
            if !matches!(c.outcome, Outcome::Ok(HealthOutput::Written { .. })) {
                ctx.count("consul.node_marks_failed", 1);
            }
        }
    }

    pub(super) fn on_query(
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

    /// A held query's wait is over: it gets the listing as it is.
    pub(super) fn on_watch_expire(&mut self, ctx: &mut Context<'_, ConsulNode>, key: u64) {
        if let Some(h) = self.held.remove(&key) {
            let may = self.may_answer();
            self.answer_held(ctx, &h, may);
        }
    }

    /// Sends a held query its answer: the listing, or none when this server may not answer.
    fn answer_held(&self, ctx: &mut Context<'_, ConsulNode>, h: &Held, may: bool) {
        let listing = may.then(|| self.raft.state.listing(h.service));
        ctx.send(
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
    pub(super) fn serve_held(&mut self, ctx: &mut Context<'_, ConsulNode>) {
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
            self.answer_held(ctx, &h, may);
        }
    }
}
