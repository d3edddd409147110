//! The servers: `servers` processes, each embedding a [`raft::Server`] that replicates the
//! [`ClusterState`]. Every change (job and node registrations, node status, drains, plans,
//! allocation status) is a Raft command; every server applies the committed log, so the state
//! each reads is the replicated one.
//!
//! Only the leader acts, once established (its no-op applied, so its state holds everything
//! committed before its term): it answers agents and the submitter, times node heartbeats,
//! and runs the evaluation broker, N scheduler workers that plan on the state as it was when
//! they started (optimistic: they do not see each other's placements), and the plan applier,
//! which proposes each plan through Raft. The plan counts as committed when its entry applies
//! (re-checked there against the latest applied state, committed in part if it must be).
//! Requests reach it through whichever server they hit: a follower answers
//! [`Msg::NotLeader`] with the leader it knows.
//!
//! On establishing its leadership a server rebuilds the broker from the evaluations the
//! replicated state holds as pending (Nomad restores its eval broker the same way) and arms
//! every ready node's heartbeat deadline afresh: the longest TTL it would grant plus grace,
//! plus a client retry per server for the agents to find it. A server that loses
//! leadership drops its broker, workers and timers.

use super::client::grid_time;
use super::placement::NodeId;
use super::reconcile::{Settings, compute_plan};
use super::state::{AllocId, Applied, ClusterState, Command, DesiredStatus, EvalId, NodeStatus, Plan};
use super::{AllocSpec, Msg, Timer};
use crate::raft::{self, MessageOf, Role};
use crate::scheduler::policy::HeartbeatPolicy;
use ruckus_sim::{Duration, Instant, Process, ProcessId, Scope, TimerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a server needs from the model's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Scheduler workers planning in parallel.
    pub workers: u32,
    /// Virtual time a worker spends per node it examines.
    pub scheduling_cost_per_node: Duration,
    /// Heartbeat TTL policy.
    pub heartbeat: HeartbeatPolicy,
    /// What workers plan with.
    pub planning: Settings,
    /// Bug: the plan applier commits plans without re-checking them.
    pub applier_trusts_snapshot: bool,
    /// Bug: the heartbeat TTL does not grow with the cluster.
    pub fixed_heartbeat_ttl: bool,
    /// How often utilisation is sampled.
    pub sample_every: Duration,
    /// Heartbeat load is judged only after this long from the server's start: nodes that
    /// registered while the cluster was still small hold short TTLs until their next heartbeat.
    pub heartbeat_warmup: Duration,
    /// Bug: a new leader does not restore the pending evaluations from the replicated state,
    /// as if they lived only in the old leader's broker.
    pub evals_in_leader_memory: bool,
    /// Extra time a new leader allows every node before its first deadline: the agents still
    /// heartbeat the old leader and must find the new one (a client retry per server).
    pub failover_grace: Duration,
}

/// Distribution of grid times (ns), one sample per allocation the servers want running then.
pub const DESIRED_AT: &str = "sched.desired_at_ns";

/// Distribution: nodes holding at least one live allocation, per sample.
pub const NODES_USED: &str = "sched.nodes_used";

/// The length of the windows heartbeat load is counted in.
pub const HEARTBEAT_WINDOW: Duration = Duration::from_secs(10);

/// A worker busy with one evaluation: planning until `timer` fires, then waiting for its plan
/// (proposed at `index`) to apply.
#[derive(Clone, Debug, PartialEq)]
struct Busy {
    eval: EvalId,
    job: String,
    plan: Option<Plan>,
    timer: Option<TimerId>,
}

/// What the leader does when one of its proposals applies.
#[derive(Clone, Debug, PartialEq)]
enum Pending {
    /// Grant the node a TTL and acknowledge its registration.
    Register { agent: ProcessId, node: NodeId },
    /// Acknowledge an agent's status reports.
    AllocUpdate { agent: ProcessId, ids: Vec<AllocId> },
    /// Acknowledge a job registration (only now is it durable).
    Job { from: ProcessId, name: String },
    /// Acknowledge a job update once the job is at `version`.
    Update {
        from: ProcessId,
        name: String,
        version: u64,
    },
    /// Acknowledge a drain and arm its deadline.
    Drain { from: ProcessId, node: NodeId },
    /// A worker's plan committed: the worker is free.
    Plan { worker: usize },
    /// Nothing to answer (node down, drain deadline, re-registration on a heartbeat).
    Quiet,
}

type RaftServer = raft::Server<ClusterState>;
type RaftScope<'s, 'a, P> = Scope<'s, 'a, P, MessageOf<ClusterState>, raft::Timer>;

/// One scheduler server (see the module docs).
#[derive(Clone, Debug)]
pub struct Server {
    settings: ServerSettings,
    /// This server's Raft replica; its `state` is the replicated cluster state.
    pub raft: RaftServer,
    /// The term this server leads and acts in (established), if any.
    leading: Option<u64>,
    pending: BTreeMap<u64, Pending>,
    ready: VecDeque<EvalId>,
    jobs_in_flight: BTreeSet<String>,
    workers: Vec<Option<Busy>>,
    deadlines: BTreeMap<NodeId, TimerId>,
    drain_timers: BTreeMap<NodeId, TimerId>,
    eval_timers: BTreeMap<EvalId, TimerId>,
    started_at: Instant,
    window_start: Instant,
    window_heartbeats: u64,
    /// The most heartbeats received in one completed [`HEARTBEAT_WINDOW`] after the warm-up.
    pub max_window_heartbeats: u64,
}

impl Server {
    /// Server `id` of the cluster `members` (server `i` is process `members[i]`), with an
    /// empty log.
    pub fn new(settings: ServerSettings, id: u32, members: Vec<ProcessId>, raft: raft::Config) -> Server {
        Server {
            settings,
            raft: raft::Server::with_members(id, members, raft).keep_outputs(),
            leading: None,
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
            jobs_in_flight: BTreeSet::new(),
            workers: vec![None; settings.workers.max(1) as usize],
            deadlines: BTreeMap::new(),
            drain_timers: BTreeMap::new(),
            eval_timers: BTreeMap::new(),
            started_at: Instant::ZERO,
            window_start: Instant::ZERO,
            window_heartbeats: 0,
            max_window_heartbeats: 0,
        }
    }

    /// The replicated cluster state as this server has applied it.
    pub fn state(&self) -> &ClusterState {
        &self.raft.state
    }

    /// Whether this server leads and acts (its leadership established).
    pub fn is_acting_leader(&self) -> bool {
        self.leading.is_some()
    }

    /// Boots Raft from the disk and starts the utilisation sampler.
    pub fn on_start<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.started_at = cx.now();
        self.window_start = cx.now();
        cx.set_timer(self.settings.sample_every, Timer::Sample);
        self.with_raft(cx, |r, rcx| r.on_start(rcx));
    }

    /// Runs `f` on the Raft replica, then acts on what it did: leadership gained or lost,
    /// entries applied.
    fn with_raft<'a, P: Process, R>(
        &mut self,
        cx: &mut Scope<'_, 'a, P, Msg, Timer>,
        f: impl FnOnce(&mut RaftServer, &mut RaftScope<'_, 'a, P>) -> R,
    ) -> R {
        let raft = &mut self.raft;
        let out = cx.nest(Msg::Raft, Timer::Raft, |rcx| f(raft, rcx));
        self.after_raft(cx);
        out
    }

    fn after_raft<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let outputs = self.raft.take_outputs();
        let still_leading = self.raft.role == Role::Leader && Some(self.raft.term) == self.leading;
        if self.leading.is_some() && !still_leading {
            self.lose_leadership(cx);
        }
        if self.leading.is_some() {
            for (index, applied) in outputs {
                self.on_applied(cx, index, applied);
            }
        } else if self.raft.established() {
            // Everything applied so far, this call's entries included, is in the state the
            // broker is rebuilt from.
            self.take_leadership(cx);
        }
    }

    /// Proposes `command` with what to do once it applies; false if this server does not lead.
    fn propose<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        command: Command,
        then: Pending,
    ) -> bool {
        if self.leading.is_none() {
            return false;
        }
        // Registered first: with a single server the entry commits (and applies) at once.
        let index = self.raft.last_index() + 1;
        self.pending.insert(index, then);
        let proposed = self.with_raft(cx, |r, rcx| r.propose(rcx, command));
        debug_assert!(proposed.is_none_or(|i| i == index));
        if proposed.is_none() {
            self.pending.remove(&index);
        }
        proposed.is_some()
    }

    fn take_leadership<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.leading = Some(self.raft.term);
        cx.count("sched.leaderships", 1);
        cx.note(&format!("scheduler leader of term {}", self.raft.term));
        let now = cx.now();
        if !self.settings.evals_in_leader_memory {
            let pending: Vec<(EvalId, Option<Instant>)> = self
                .raft
                .state
                .evals
                .values()
                .filter(|e| !e.done)
                .map(|e| (e.id, e.wait_until))
                .collect();
            cx.count("sched.evals_restored", pending.len() as u64);
            for (eval, wait_until) in pending {
                self.enqueue(cx, eval, wait_until, now);
            }
        }
        let nodes: Vec<(NodeId, bool, Option<Instant>)> = self
            .raft
            .state
            .nodes
            .values()
            .map(|n| {
                let drain = n.drain_deadline.filter(|_| n.eligible);
                (n.id, n.status == NodeStatus::Ready, drain)
            })
            .collect();
        // Agents hold TTLs the old leader granted, up to twice the base: each node gets the
        // longest TTL plus grace, plus the time to find this leader.
        let policy = self.settings.heartbeat;
        let longest_ttl = policy.base_ttl(nodes.len(), self.settings.fixed_heartbeat_ttl) * 2;
        let first_deadline = policy.deadline(longest_ttl) + self.settings.failover_grace;
        for (node, ready, drain) in nodes {
            if ready {
                self.arm_deadline(cx, node, first_deadline);
            }
            if let Some(at) = drain {
                self.arm_drain(cx, node, at.saturating_since(now));
            }
        }
        self.dispatch(cx);
    }

    fn lose_leadership<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.leading = None;
        cx.note("scheduler leadership lost");
        let timers: Vec<TimerId> = std::mem::take(&mut self.deadlines)
            .into_values()
            .chain(std::mem::take(&mut self.drain_timers).into_values())
            .chain(std::mem::take(&mut self.eval_timers).into_values())
            .chain(
                self.workers
                    .iter_mut()
                    .filter_map(|w| w.take().and_then(|b| b.timer)),
            )
            .collect();
        for t in timers {
            cx.cancel_timer(t);
        }
        self.pending.clear();
        self.ready.clear();
        self.jobs_in_flight.clear();
    }

    /// Answers a request only on the acting leader; a follower names the leader it knows, and
    /// a leader still applying its predecessors' entries stays silent (the sender retries).
    fn accepts<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, from: ProcessId) -> bool {
        if self.leading.is_some() {
            return true;
        }
        if self.raft.role != Role::Leader {
            let hint = self
                .raft
                .leader
                .filter(|&l| l != self.raft.id)
                .map(|l| self.raft.members[l as usize]);
            cx.send(from, Msg::NotLeader { hint });
        }
        false
    }

    /// Handles a protocol message.
    pub fn on_message<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, from: ProcessId, m: Msg) {
        if let Msg::Raft(m) = m {
            self.with_raft(cx, |r, rcx| r.on_message(rcx, from, m));
            return;
        }
        if !matches!(
            m,
            Msg::Register { .. }
                | Msg::Heartbeat { .. }
                | Msg::AllocUpdate { .. }
                | Msg::SubmitJob { .. }
                | Msg::DrainNode { .. }
                | Msg::UpdateJob { .. }
        ) || !self.accepts(cx, from)
        {
            return;
        }
        let now = cx.now();
        match m {
            Msg::Register {
                node,
                capacity,
                attributes,
            } => {
                let command = Command::RegisterNode {
                    id: node,
                    agent: from,
                    capacity,
                    attributes,
                };
                self.propose(cx, command, Pending::Register { agent: from, node });
            }
            Msg::Heartbeat { node, holds } => {
                self.count_heartbeat(now);
                let Some(record) = self.raft.state.nodes.get(&node) else {
                    cx.send(from, Msg::UnknownNode);
                    return;
                };
                if record.status == NodeStatus::Down {
                    let command = Command::RegisterNode {
                        id: node,
                        agent: from,
                        capacity: record.capacity,
                        attributes: record.attributes.clone(),
                    };
                    self.propose(cx, command, Pending::Quiet);
                }
                let ttl = self.grant(cx, node);
                cx.send(from, Msg::HeartbeatAck { ttl });
                if !self.agent_in_sync(node, &holds) {
                    cx.count("sched.alloc_resyncs", 1);
                    self.push_allocs(cx, node);
                }
            }
            Msg::AllocUpdate { node, updates } => {
                let ids = updates.iter().map(|(id, _)| *id).collect();
                let command = Command::UpdateAllocs { node, updates, now };
                self.propose(cx, command, Pending::AllocUpdate { agent: from, ids });
            }
            Msg::SubmitJob { job } => {
                let name = job.name.clone();
                self.propose(cx, Command::RegisterJob { job, now }, Pending::Job { from, name });
            }
            Msg::UpdateJob { job, version, policy } => {
                let name = job.name.clone();
                let command = Command::UpdateJob {
                    job,
                    version,
                    policy,
                    now,
                };
                self.propose(cx, command, Pending::Update { from, name, version });
            }
            Msg::DrainNode { node, deadline } => {
                let command = Command::DrainNode {
                    id: node,
                    deadline: now + deadline,
                };
                self.propose(cx, command, Pending::Drain { from, node });
            }
            _ => {}
        }
    }

    /// Handles a timer.
    pub fn on_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        match t {
            Timer::Raft(t) => self.with_raft(cx, |r, rcx| r.on_timer(rcx, t)),
            Timer::Sample => {
                if self.leading.is_some() {
                    self.sample(cx);
                }
                cx.set_timer(self.settings.sample_every, Timer::Sample);
            }
            _ if self.leading.is_none() => {}
            Timer::NodeDeadline(node) => {
                self.deadlines.remove(&node);
                let now = cx.now();
                let unknown_for = self.settings.planning.disconnect.lost_after;
                let command = Command::NodeDown {
                    id: node,
                    now,
                    unknown_for,
                };
                if self.propose(cx, command, Pending::Quiet) {
                    cx.count("sched.nodes_down", 1);
                    cx.note(&format!("node {} missed its heartbeat: down", node.0));
                }
            }
            Timer::DrainDeadline(node) => {
                self.drain_timers.remove(&node);
                self.propose(cx, Command::DrainDeadline { id: node }, Pending::Quiet);
            }
            Timer::EvalDue(eval) => {
                self.eval_timers.remove(&eval);
                self.ready.push_back(eval);
                self.dispatch(cx);
            }
            Timer::WorkerDone(w) => self.finish(cx, w as usize),
            _ => {}
        }
    }

    fn count_heartbeat(&mut self, now: Instant) {
        while now.saturating_since(self.window_start) >= HEARTBEAT_WINDOW {
            if self.window_start >= self.started_at + self.settings.heartbeat_warmup {
                self.max_window_heartbeats = self.max_window_heartbeats.max(self.window_heartbeats);
            }
            self.window_heartbeats = 0;
            self.window_start += HEARTBEAT_WINDOW;
        }
        self.window_heartbeats += 1;
    }

    /// Grants a TTL to `node` and (re)arms its deadline: TTL plus grace.
    fn grant<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, node: NodeId) -> Duration {
        let stagger = cx.random().unit();
        let policy = self.settings.heartbeat;
        let nodes = self.raft.state.nodes.len();
        let ttl = policy.ttl(nodes, self.settings.fixed_heartbeat_ttl, stagger);
        self.arm_deadline(cx, node, policy.deadline(ttl));
        ttl
    }

    fn arm_deadline<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        node: NodeId,
        after: Duration,
    ) {
        if let Some(old) = self.deadlines.remove(&node) {
            cx.cancel_timer(old);
        }
        let id = cx.set_timer(after, Timer::NodeDeadline(node));
        self.deadlines.insert(node, id);
    }

    fn arm_drain<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        node: NodeId,
        after: Duration,
    ) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.drain_timers.entry(node) {
            slot.insert(cx.set_timer(after, Timer::DrainDeadline(node)));
        }
    }

    /// Hands an evaluation to the broker: ready now, or when its delay is due.
    fn enqueue<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        eval: EvalId,
        wait_until: Option<Instant>,
        now: Instant,
    ) {
        match wait_until {
            Some(at) if at > now => {
                let id = cx.set_timer(at.saturating_since(now), Timer::EvalDue(eval));
                self.eval_timers.insert(eval, id);
            }
            _ => self.ready.push_back(eval),
        }
    }

    /// One of this leader's entries (or a predecessor's, committed in its term) applied.
    fn on_applied<P: Process>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        index: u64,
        applied: Applied,
    ) {
        match self.pending.remove(&index) {
            Some(Pending::Register { agent, node }) => {
                if applied.new_node {
                    cx.count("sched.nodes_registered", 1);
                }
                let ttl = self.grant(cx, node);
                cx.send(agent, Msg::RegisterAck { ttl });
            }
            Some(Pending::AllocUpdate { agent, ids }) => cx.send(agent, Msg::AllocUpdateAck { ids }),
            Some(Pending::Job { from, name }) => {
                if !applied.evals.is_empty() {
                    cx.count("sched.jobs_submitted", 1);
                }
                let term = self.raft.term;
                cx.send(from, Msg::JobAck { name, term });
            }
            Some(Pending::Update { from, name, version }) => {
                if !applied.evals.is_empty() {
                    cx.count("sched.deployments", 1);
                }
                // Not yet registered: no ack, the submitter sends it again.
                if self
                    .raft
                    .state
                    .jobs
                    .get(&name)
                    .is_some_and(|r| r.version >= version)
                {
                    cx.send(from, Msg::UpdateAck { name });
                }
            }
            Some(Pending::Drain { from, node }) => {
                if let Some(at) = self.raft.state.nodes.get(&node).and_then(|n| n.drain_deadline) {
                    cx.count("sched.drains", 1);
                    let after = at.saturating_since(cx.now());
                    self.arm_drain(cx, node, after);
                }
                cx.send(from, Msg::DrainAck { node });
            }
            Some(Pending::Plan { worker }) => {
                if let Some(busy) = self.workers.get_mut(worker).and_then(Option::take) {
                    self.jobs_in_flight.remove(&busy.job);
                }
                cx.count("sched.plans", 1);
                if applied.rejected > 0 {
                    cx.count("sched.plans_partial", 1);
                    cx.count("sched.placements_rejected", u64::from(applied.rejected));
                }
            }
            Some(Pending::Quiet) | None => {}
        }
        let now = cx.now();
        for eval in applied.evals {
            cx.count("sched.evals", 1);
            let wait_until = self.raft.state.evals[&eval].wait_until;
            self.enqueue(cx, eval, wait_until, now);
        }
        for node in applied.nodes_touched {
            self.push_allocs(cx, node);
        }
        cx.count("sched.placed", u64::from(applied.placed));
        cx.count("sched.allocs_moved", u64::from(applied.moved));
        for d in applied.replacements_running {
            cx.observe("sched.replacement_running_ns", d.as_nanos());
        }
        for d in applied.jobs_running {
            cx.observe("sched.submit_to_running_ns", d.as_nanos());
        }
        for job in &applied.deployments_failed {
            cx.count("sched.deployments_failed", 1);
            cx.note(&format!("deployment of {job} failed"));
        }
        for d in applied.deployments_done {
            cx.count("sched.deployments_successful", 1);
            cx.observe("sched.deployment_ns", d.as_nanos());
        }
        self.dispatch(cx);
    }

    /// Whether the allocations an agent holds are exactly those the servers want run there
    /// (placed, not stopped, not over).
    fn agent_in_sync(&self, node: NodeId, holds: &[AllocId]) -> bool {
        let wanted = self
            .raft
            .state
            .allocs_on(node)
            .filter(|a| a.desired == DesiredStatus::Run)
            .map(|a| a.id);
        wanted.eq(holds.iter().copied())
    }

    /// Tells a node's client every allocation it should know about.
    fn push_allocs<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, node: NodeId) {
        let state = &self.raft.state;
        let Some(record) = state.nodes.get(&node) else {
            return;
        };
        let agent = record.agent;
        let allocs: Vec<AllocSpec> = state
            .allocs_on(node)
            .map(|a| AllocSpec {
                id: a.id,
                kind: state.jobs[&a.job].job.kind,
                task: a.task,
                desired: a.desired,
                version: a.version,
            })
            .collect();
        cx.send(agent, Msg::NodeAllocs { allocs });
    }

    /// Gives ready evaluations to idle workers, at most one per job at a time. Each worker
    /// plans now, on the state as it is now, and submits its plan after the scheduling time.
    fn dispatch<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        while let Some(w) = self.workers.iter().position(Option::is_none) {
            let evals = &self.raft.state.evals;
            let Some(pos) = self
                .ready
                .iter()
                .position(|e| !self.jobs_in_flight.contains(&evals[e].job))
            else {
                return;
            };
            let eval = self.ready.remove(pos).expect("position is in range");
            let job = evals[&eval].job.clone();
            // Later evaluations of the same job are answered by this one.
            let before = self.ready.len();
            let mut coalesced = Vec::new();
            self.ready.retain(|e| {
                let same = evals[e].job == job;
                if same && *e != eval {
                    coalesced.push(*e);
                }
                !same
            });
            cx.count("sched.evals_coalesced", (before - self.ready.len()) as u64);
            let now = cx.now();
            let planned = compute_plan(&self.raft.state, &job, now, &self.settings.planning, cx.random());
            let mut plan = planned.plan;
            plan.eval = Some(eval);
            plan.coalesced = coalesced;
            plan.snapshot_index = self.raft.state.index;
            cx.count("sched.nodes_examined", u64::from(planned.examined));
            let cost = self.settings.scheduling_cost_per_node * u64::from(planned.examined);
            let timer = cx.set_timer(cost, Timer::WorkerDone(w as u32));
            self.jobs_in_flight.insert(job.clone());
            self.workers[w] = Some(Busy {
                eval,
                job,
                plan: Some(plan),
                timer: Some(timer),
            });
        }
    }

    /// The plan applier: proposes a worker's finished plan through Raft. It is re-checked
    /// (unless the bug is on) and committed, in whole or in part, when its entry applies; the
    /// worker stays busy until then.
    fn finish<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, w: usize) {
        let Some(busy) = self.workers.get_mut(w).and_then(Option::as_mut) else {
            return;
        };
        busy.timer = None;
        let Some(plan) = busy.plan.take() else {
            return;
        };
        debug_assert_eq!(plan.eval, Some(busy.eval));
        let now = cx.now();
        let command = Command::ApplyPlan {
            plan,
            trust_snapshot: self.settings.applier_trusts_snapshot,
            now,
        };
        self.propose(cx, command, Pending::Plan { worker: w });
    }

    fn sample<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let usage = self.raft.state.usage();
        let (mut used, mut capacity) = (0u64, 0u64);
        for n in self
            .raft
            .state
            .nodes
            .values()
            .filter(|n| n.status == NodeStatus::Ready)
        {
            capacity += n.capacity.cpu_mhz;
            used += usage.get(&n.id).map_or(0, |u| u.cpu_mhz);
        }
        if let Some(pct) = (used * 100).checked_div(capacity) {
            cx.observe("sched.cpu_utilisation_pct", pct);
        }
        cx.observe(NODES_USED, usage.len() as u64);
        if let Some(f) = self.raft.state.fragmentation() {
            cx.observe("sched.fragmentation_pct", (f * 100.0).round() as u64);
        }
        let tick = grid_time(cx.now(), self.settings.sample_every);
        for _ in 0..self.raft.state.desired_allocs() {
            cx.observe(DESIRED_AT, tick);
        }
    }
}
