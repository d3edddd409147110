//! The server: one leader holding the [`ClusterState`], an evaluation broker, N scheduler
//! workers that plan on the state as it was when they started (optimistic: they do not see
//! each other's placements), and the plan applier, serialised on the leader, that re-checks
//! each plan against the latest state and commits what still fits.
//!
//! Only one server runs for now, and its state is volatile: a crash of its host loses the
//! cluster state, clients re-register and the submitter's periodic resubmission rebuilds the
//! jobs. Every change goes through [`ClusterState::apply`], so replicating it with Raft is a
//! matter of putting the commands in a log.

use super::client::grid_time;
use super::placement::NodeId;
use super::reconcile::{Settings, compute_plan};
use super::state::{AllocId, Applied, ClusterState, Command, DesiredStatus, EvalId, NodeStatus, Plan};
use super::{AllocSpec, Msg, Timer};
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
}

/// Distribution of grid times (ns), one sample per allocation the servers want running then.
pub const DESIRED_AT: &str = "sched.desired_at_ns";

/// Distribution: nodes holding at least one live allocation, per sample.
pub const NODES_USED: &str = "sched.nodes_used";

/// The length of the windows heartbeat load is counted in.
pub const HEARTBEAT_WINDOW: Duration = Duration::from_secs(10);

/// A worker busy with one evaluation.
#[derive(Clone, Debug, PartialEq)]
struct Busy {
    eval: EvalId,
    plan: Plan,
}

/// The leader server (see the module docs).
#[derive(Clone, Debug)]
pub struct Server {
    settings: ServerSettings,
    /// The committed cluster state.
    pub state: ClusterState,
    ready: VecDeque<EvalId>,
    jobs_in_flight: BTreeSet<String>,
    workers: Vec<Option<Busy>>,
    deadlines: BTreeMap<NodeId, TimerId>,
    started_at: Instant,
    window_start: Instant,
    window_heartbeats: u64,
    /// The most heartbeats received in one completed [`HEARTBEAT_WINDOW`] after the warm-up.
    pub max_window_heartbeats: u64,
}

impl Server {
    /// A server with an empty state.
    pub fn new(settings: ServerSettings) -> Server {
        Server {
            settings,
            state: ClusterState::default(),
            ready: VecDeque::new(),
            jobs_in_flight: BTreeSet::new(),
            workers: vec![None; settings.workers.max(1) as usize],
            deadlines: BTreeMap::new(),
            started_at: Instant::ZERO,
            window_start: Instant::ZERO,
            window_heartbeats: 0,
            max_window_heartbeats: 0,
        }
    }

    /// Starts the utilisation sampler.
    pub fn on_start<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.started_at = cx.now();
        self.window_start = cx.now();
        cx.set_timer(self.settings.sample_every, Timer::Sample);
    }

    /// Handles a protocol message.
    pub fn on_message<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, from: ProcessId, m: Msg) {
        match m {
            Msg::Register {
                node,
                capacity,
                attributes,
            } => {
                let applied = self.state.apply(Command::RegisterNode {
                    id: node,
                    agent: from,
                    capacity,
                    attributes,
                });
                if applied.new_node {
                    cx.count("sched.nodes_registered", 1);
                }
                let ttl = self.grant(cx, node);
                cx.send(from, Msg::RegisterAck { ttl });
                self.after_apply(cx, applied);
            }
            Msg::Heartbeat { node, holds } => {
                self.count_heartbeat(cx.now());
                let Some(record) = self.state.nodes.get(&node) else {
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
                    let applied = self.state.apply(command);
                    self.after_apply(cx, applied);
                }
                let ttl = self.grant(cx, node);
                cx.send(from, Msg::HeartbeatAck { ttl });
                if !self.agent_in_sync(node, &holds) {
                    cx.count("sched.alloc_resyncs", 1);
                    self.push_allocs(cx, node);
                }
            }
            Msg::AllocUpdate { node, updates } => {
                let ids: Vec<AllocId> = updates.iter().map(|(id, _)| *id).collect();
                let now = cx.now();
                let applied = self.state.apply(Command::UpdateAllocs { node, updates, now });
                cx.send(from, Msg::AllocUpdateAck { ids });
                self.after_apply(cx, applied);
            }
            Msg::SubmitJob { job } => {
                let now = cx.now();
                let applied = self.state.apply(Command::RegisterJob { job, now });
                if !applied.evals.is_empty() {
                    cx.count("sched.jobs_submitted", 1);
                }
                self.after_apply(cx, applied);
            }
            Msg::DrainNode { node, deadline } => {
                let at = cx.now() + deadline;
                let applied = self.state.apply(Command::DrainNode {
                    id: node,
                    deadline: at,
                });
                cx.count("sched.drains", 1);
                cx.set_timer(deadline, Timer::DrainDeadline(node));
                self.after_apply(cx, applied);
            }
            _ => {}
        }
    }

    /// Handles a timer.
    pub fn on_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        match t {
            Timer::NodeDeadline(node) => {
                self.deadlines.remove(&node);
                let now = cx.now();
                let applied = self.state.apply(Command::NodeDown { id: node, now });
                cx.count("sched.nodes_down", 1);
                cx.note(&format!("node {} missed its heartbeat: down", node.0));
                self.after_apply(cx, applied);
            }
            Timer::DrainDeadline(node) => {
                let applied = self.state.apply(Command::DrainDeadline { id: node });
                self.after_apply(cx, applied);
            }
            Timer::EvalDue(eval) => {
                self.ready.push_back(eval);
                self.dispatch(cx);
            }
            Timer::WorkerDone(w) => self.finish(cx, w as usize),
            Timer::Sample => {
                self.sample(cx);
                cx.set_timer(self.settings.sample_every, Timer::Sample);
            }
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
        let ttl = policy.ttl(self.state.nodes.len(), self.settings.fixed_heartbeat_ttl, stagger);
        if let Some(old) = self.deadlines.remove(&node) {
            cx.cancel_timer(old);
        }
        let id = cx.set_timer(policy.deadline(ttl), Timer::NodeDeadline(node));
        self.deadlines.insert(node, id);
        ttl
    }

    /// Hands what a command did to the broker, the clients and the metrics.
    fn after_apply<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, applied: Applied) {
        let now = cx.now();
        for eval in applied.evals {
            cx.count("sched.evals", 1);
            match self.state.evals[&eval].wait_until {
                Some(at) if at > now => {
                    cx.set_timer(at.saturating_since(now), Timer::EvalDue(eval));
                }
                _ => self.ready.push_back(eval),
            }
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
        self.dispatch(cx);
    }

    /// Whether the allocations an agent holds are exactly those the servers want run there
    /// (placed, not stopped, not over).
    fn agent_in_sync(&self, node: NodeId, holds: &[AllocId]) -> bool {
        let wanted = self
            .state
            .allocs_on(node)
            .filter(|a| a.desired == DesiredStatus::Run)
            .map(|a| a.id);
        wanted.eq(holds.iter().copied())
    }

    /// Tells a node's client every allocation it should know about.
    fn push_allocs<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, node: NodeId) {
        let Some(record) = self.state.nodes.get(&node) else {
            return;
        };
        let agent = record.agent;
        let allocs: Vec<AllocSpec> = self
            .state
            .allocs_on(node)
            .map(|a| {
                let job = &self.state.jobs[&a.job].job;
                AllocSpec {
                    id: a.id,
                    kind: job.kind,
                    task: job.groups[a.group as usize].task,
                    desired: a.desired,
                }
            })
            .collect();
        cx.send(agent, Msg::NodeAllocs { allocs });
    }

    /// Gives ready evaluations to idle workers, at most one per job at a time. Each worker
    /// plans now, on the state as it is now, and submits its plan after the scheduling time.
    fn dispatch<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        while let Some(w) = self.workers.iter().position(Option::is_none) {
            let Some(pos) = self
                .ready
                .iter()
                .position(|e| !self.jobs_in_flight.contains(&self.state.evals[e].job))
            else {
                return;
            };
            let eval = self.ready.remove(pos).expect("position is in range");
            let job = self.state.evals[&eval].job.clone();
            // Later evaluations of the same job are answered by this one.
            let before = self.ready.len();
            let evals = &self.state.evals;
            let mut coalesced = Vec::new();
            self.ready.retain(|e| {
                let same = evals[e].job == job;
                if same {
                    coalesced.push(*e);
                }
                !same
            });
            cx.count("sched.evals_coalesced", (before - self.ready.len()) as u64);
            let now = cx.now();
            let planned = compute_plan(&self.state, &job, now, &self.settings.planning, cx.random());
            let mut plan = planned.plan;
            plan.eval = Some(eval);
            plan.coalesced = coalesced;
            cx.count("sched.nodes_examined", u64::from(planned.examined));
            let cost = self.settings.scheduling_cost_per_node * u64::from(planned.examined);
            cx.set_timer(cost, Timer::WorkerDone(w as u32));
            self.jobs_in_flight.insert(job);
            self.workers[w] = Some(Busy { eval, plan });
        }
    }

    /// The plan applier: commits a worker's plan (re-checked unless the bug is on).
    fn finish<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, w: usize) {
        let Some(busy) = self.workers.get_mut(w).and_then(Option::take) else {
            return;
        };
        debug_assert_eq!(busy.plan.eval, Some(busy.eval));
        self.jobs_in_flight.remove(&busy.plan.job);
        let now = cx.now();
        let applied = self.state.apply(Command::ApplyPlan {
            plan: busy.plan,
            trust_snapshot: self.settings.applier_trusts_snapshot,
            now,
        });
        cx.count("sched.plans", 1);
        if applied.rejected > 0 {
            cx.count("sched.plans_partial", 1);
            cx.count("sched.placements_rejected", u64::from(applied.rejected));
        }
        self.after_apply(cx, applied);
    }

    fn sample<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let usage = self.state.usage();
        let (mut used, mut capacity) = (0u64, 0u64);
        for n in self
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
        let tick = grid_time(cx.now(), self.settings.sample_every);
        for _ in 0..self.state.desired_allocs() {
            cx.observe(DESIRED_AT, tick);
        }
    }
}
