//! A Nomad-like cluster scheduler: servers that place jobs' allocations on nodes, client agents
//! that run them, and the healing around failures.
//!
//! - [`placement`]: feasibility, a random sample of `max(2, ceil(log2 n))` feasible nodes
//!   (service) or 2 (batch) ranked by bin-pack or spread fit, job anti-affinity and spread over
//!   an attribute. Pure functions.
//! - [`state`]: the servers' state machine (`apply(command) -> result`), with indexes of
//!   allocations per job and per node and each node's usage kept in step (so planning and
//!   heartbeats cost what they touch, not the whole cluster); `state/plan_applier.rs` the plan
//!   applier's re-check and partial commit; `deployment.rs` rolling updates' health and
//!   outcome. [`reconcile`]: what a worker plans for a job.
//! - `config.rs` ([`Config`], bug switches, drains, updates), `properties.rs` (the properties,
//!   reusable in a larger system through an [`Embedding`]), `summary.rs` (availability and the
//!   figures experiments compare).
//! - [`server`]: `servers` (3) processes, each embedding the project's `raft::Server`
//!   replicating the [`state::ClusterState`]: job and node registrations, node status, drains,
//!   plans and allocation statuses are Raft commands, and every server reads the state it has
//!   applied. The established leader runs the evaluation broker, N workers planning
//!   optimistically on the state as it was when they started (each charged
//!   `scheduling_cost_per_node` per node examined) and the plan applier, which proposes each
//!   plan through Raft (re-checked and partly committed when it applies); it times heartbeat
//!   TTLs (Nomad's rate-scaled TTL plus stagger plus grace), marks nodes down and ends drains.
//!   A new leader rebuilds its broker from the pending evaluations of the replicated state and
//!   re-arms every node's deadline with a fresh TTL. Agents and the submitter follow the
//!   leader (a follower's `NotLeader` names it; silence moves them to the next server); a job
//!   registration is acknowledged only once committed.
//! - [`client`]: the agent per node host, running tasks as sibling processes, restarting them
//!   by the restart policy and reporting statuses; [`Task`] processes.
//! - [`policy`]: heartbeat, restart and reschedule timing (Nomad defaults).
//!
//! ## Drains and disconnections
//!
//! A drain migrates at most [`Config::migrate_max_parallel`] (Nomad's `migrate.max_parallel`,
//! default 1) allocations of each task group at a time: a replacement is placed first, and the
//! original is stopped only once the replacement reports running (that report re-evaluates
//! the job, which starts the next migration). The group stays at its count throughout; the
//! drain deadline stops whatever is still on the node at once. While both run, the servers
//! count the pair once ([`state::ClusterState::running_count`]).
//!
//! [`Config::disconnect`] is Nomad's `disconnect` block. With `lost_after` zero (the default) a
//! node that misses its heartbeats loses its allocations, replaced at once. Otherwise they turn
//! `Unknown`: they keep their slots, unreplaced, until `lost_after` has passed since the node
//! was marked down (a follow-up evaluation is due then). If the node comes back, they run on;
//! where replacements exist, `reconcile` picks who stays: `keep_original` (the default) stops
//! the replacements, `best_score` keeps whichever scores better on its node under the fit
//! algorithm (ties keep the original).
//!
//! ## Rolling updates
//!
//! [`Config::update`] gives every service job a version 1 at a set time (new resources, or a
//! bad version whose tasks crash: `fail_after`), sent by the submitter as
//! [`state::Command::UpdateJob`] with a [`policy::UpdatePolicy`] (Nomad's `update` block:
//! `max_parallel` 1, `min_healthy_time` 10 s, `healthy_deadline` 5 min). Allocations record the
//! version they were placed for. Per task group, at most `max_parallel` outdated allocations
//! have a replacement in flight; each is stopped only once its replacement has run
//! `min_healthy_time` without interruption (the agent reports a restart of a versioned task
//! as pending until it runs again; the server judges health by time running, and
//! re-evaluates the job when a replacement may have turned healthy). A replacement that fails
//! or is not healthy by `healthy_deadline` fails the deployment (`sched.deployments_failed`,
//! [`state::DeploymentStatus::Failed`]): its replacement is stopped and the rest stay on the
//! old version. Batch jobs are not updated in place. Properties (only with an update
//! configured): `update_keeps_healthy` (while every node is schedulable, a group has at least
//! `count - max_parallel` healthy allocations; lost ones are excused until replaced),
//! `failed_update_stops_few`, and `jobs_at_count` requires every allocation at the new version
//! (the bound grows by one step per `max_parallel` allocations of the largest group).
//! `ruckus sweep scheduler_rolling_update --seeds 200` holds on all 200 seeds;
//! `scheduler_update_ignores_max_parallel` (every old allocation replaced and stopped at once)
//! fails `update_keeps_healthy` on 153 of 200, first at index 0.
//!
//! ## Healthy under faults
//!
//! `ruckus sweep scheduler --seeds 1000` holds on all 1,000 seeds (45 to 69 s of wall time on
//! 2 shared cores, release) under crashes of servers and nodes, partitions (between clients and
//! servers and among servers), loss, pauses, clock jumps and drift. Before Raft, it failed on
//! 18 of 200: a
//! partition cutting the server's pushes to a node lost the node's new allocations for good
//! (the agent kept heartbeating, so the node stayed up and nothing was pushed again). Heartbeats
//! now carry the allocations the agent holds and the server pushes the node's list again when
//! they differ (`sched.alloc_resyncs`), as Nomad's clients re-pull allocations by index.
//!
//! With Raft, the sweep of the evaluations scenario with its bug off failed 5 of 200 runs: a
//! job submitted before any node registered was planned on an empty state, and its blocked
//! plan committed after a node had joined (Raft's commit delay opened the window), so the job
//! waited for an unblocking that had already happened. Plans now carry the state index they
//! were planned on, and the applier re-evaluates a blocked plan at once if capacity changed
//! since (Nomad's blocked evaluations compare snapshot indexes the same way).
//!
//! The liveness bound is computed from the parameters by [`Config::liveness_within`] (election,
//! finding the leader, TTL plus grace plus the disconnect policy's `lost_after`, planning, re-sync, restart and reschedule delays; 107 s
//! for the healthy scenario).
//!
//! Properties: `capacity`, `constraints`, `usable_nodes`, `count`, `reschedule_backoff` (on the
//! furthest-applied replica after every event), `acknowledged_registrations_kept` (every job the
//! submitter saw acknowledged, recorded in the history with the committing term, is in the
//! state of every acting leader of that term or later), `heartbeat_load`, and, as liveness on
//! the acting leader, `jobs_at_count` and `evaluations_complete` (every due evaluation processed).
//!
//! ## Bugs found by sweeps
//!
//! Each bug switch has a scenario (`scenarios/data/scheduler_<bug>.toml`), swept over 200 seeds
//! (`ruckus sweep scheduler_<bug> --seeds 200`) and the first failure shrunk (`ruckus shrink
//! TRACE`); with the switch off the same seeds hold (`--set model.bugs.<bug>=false`, 50 seeds
//! each). The `scenario_*` tests check that run 0 fails with the bug and holds without it.
//!
//! | bug | property | seeds failing of 200 | first failing index | shrunk plan |
//! |-----|----------|----------------------|---------------------|-------------|
//! | `applier_trusts_snapshot` | `capacity` | 187 | 0 | no faults (4 workers, 50 ms/node) |
//! | `lost_allocs_not_replaced` | `jobs_at_count` | 154 | 0 | 1 fault: one node crash of 27 s; 1 job of count 1 |
//! | `reschedule_without_backoff` | `reschedule_backoff` | 200 | 0 | no faults, horizon 6 s |
//! | `fixed_heartbeat_ttl` | `heartbeat_load` | 197 | 0 | no faults (300 nodes, 10 heartbeats/s allowed) |
//! | `evals_in_leader_memory` | `jobs_at_count` | 94 | 1 | 2 faults: node h6 down 22 s, then a 1.5 ms crash of the leader's host h0 while the node-down evaluations wait |
//!
//! The first four rows (seed counts and shrunk plans) were measured with one server. With
//! three servers (two more hosts, so other fault plans; release build, 200 seeds each) they
//! fail on 193, 185, 200 and 200 seeds, each first at index 0. `evals_in_leader_memory` needs
//! a leader change while evaluations wait: its scenario plans slowly (2 s per node examined,
//! one worker) on 4 nodes and 3 servers, with crashes every 20 s and partitions every 40 s for
//! 180 s; with the switch off the same 200 seeds hold (`--set
//! model.bugs.evals_in_leader_memory=false`).
//!
//! Processes: servers `p0..p{servers-1}` on hosts `0..servers`, the submitter on host 0, then
//! one agent per node (node `i` on host `servers + i`); tasks are spawned later.
//!
//! Metrics: counters `sched.leaderships`, `sched.evals_restored` (pending evaluations a new
//! leader put back in its broker), `sched.redirects`, `sched.jobs_acknowledged`, `sched.evals`, `sched.evals_coalesced`, `sched.plans`,
//! `sched.plans_partial` (plans the applier committed only in part), `sched.placements_rejected`,
//! `sched.placed`, `sched.allocs_moved` (replacements on another node), `sched.nodes_down`,
//! `sched.nodes_examined`, `sched.task_failures`, `sched.task_restarts`; distributions
//! `sched.submit_to_running_ns`, `sched.replacement_running_ns` (from an allocation's loss or
//! failure to its replacement running), `sched.cpu_utilisation_pct`, `sched.nodes_used`
//! (nodes holding live allocations, per sample), and the availability grid
//! `sched.running_at_ns` (agents) and `sched.desired_at_ns` (server), see Experiments.
//!
//! ## Decision time against optimism
//!
//! (Measured with the single volatile server, before Raft. The experiment files now set
//! `servers = 1` and submit at 5 s, after the first election and the nodes' registration;
//! a 2-seed check of `scheduler_workers` gives the same figures within noise, e.g. 0.0505 s
//! mean at 1 ms/node and 8.54 s with 1 worker at 50 ms/node.)
//!
//! 20 nodes (4000 MHz each), 8 service jobs of 4 x 1500 MHz submitted at once (60% CPU), one
//! node crashed at 60 s for 60 s (`measure_decision_time_and_collisions`, run with
//! `cargo test -p ruckus-models --release scheduler::tests::measure -- --ignored --nocapture`):
//!
//! | workers | cost/node | submit to running (mean, p99) | partial commits | placements rejected |
//! |---------|-----------|-------------------------------|-----------------|---------------------|
//! | 1 | 1 ms  | 0.134 s, 0.293 s | 0 | 0 |
//! | 1 | 50 ms | 6.320 s, 14.007 s | 0 | 0 |
//! | 2 | 1 ms  | 0.103 s, 0.195 s | 5 | 9 |
//! | 4 | 1 ms  | 0.066 s, 0.133 s | 10 | 18 |
//! | 4 | 50 ms | 2.951 s, 6.356 s | 10 | 18 |
//! | 8 | 50 ms | 1.388 s, 2.756 s | 5 | 6 |
//!
//! More workers cut the queueing of evaluations behind one slow planner, at the price of
//! collisions the applier rejects and re-evaluates. Replacing the crashed node's allocations
//! took 0.035 s (1 worker, 1 ms/node) to 1.28 s (50 ms/node) after the node was marked down
//! (when that node held any: with some seeds of sampling it held none).
//!
//! ## Experiments
//!
//! Availability is measured on a grid of `sample_every` (1 s): each agent records one
//! `sched.running_at_ns` sample per allocation whose task runs (a crashed host records
//! nothing), the server one `sched.desired_at_ns` per allocation it wants running;
//! [`availability`] compares them grid time by grid time.
//!
//! **Bin-pack against spread** (`ruckus explore scheduler_placement --html p.html`, 20 seeds
//! per variant, 7 s of wall time in release): 24 nodes in 4 racks, 8 service jobs of
//! 6 x 500 MHz (25% of the CPU), four single-node crashes and the whole rack r0 (6 nodes) down
//! from 120 s to 180 s, the same plan for every seed. Mean and 95% interval over the seeds:
//!
//! | variant | running fraction | longest shortfall | total shortfall | nodes used | replacement running (after down) | allocs moved |
//! |---------|------------------|-------------------|-----------------|------------|----------------------------------|--------------|
//! | binpack | 0.9706 ± 0.0040 | 25.4 ± 2.3 s | 62.3 ± 8.1 s | 9.7 ± 0.4 | 0.018 s | 24.9 ± 3.6 |
//! | spread | 0.9742 ± 0.0014 | 30.0 ± 3.8 s | 96.0 ± 4.4 s | 20.6 ± 0.1 | 0.012 s | 22.1 ± 1.1 |
//! | binpack, spread over racks | 0.9682 ± 0.0035 | 28.2 ± 4.2 s | 83.7 ± 8.4 s | 13.8 ± 0.5 | 0.015 s | 27.3 ± 3.3 |
//!
//! Bin-packing holds the jobs on half the nodes and escapes the crashes of the nodes it left
//! empty (a third less time short of the count), but each crash it does meet costs more, so
//! the time-averaged fraction running is the same within the intervals (about 97%). Recovery
//! is set by failure detection, not placement: every shortfall lasts the heartbeat TTL plus
//! grace (up to 30 s) while replacements run about 15 ms after the node is marked down.
//!
//! **1 against 4 workers as decision time grows** (`ruckus explore scheduler_workers --html
//! w.html`, 20 seeds per variant, 10 s of wall time): 20 nodes, 16 service jobs of 4 x 1500 MHz
//! (60% of the CPU) submitted 100 ms apart, no faults. Partial commits are plans the applier
//! committed only in part (fraction: of all plans); rejected placements went back for a new
//! evaluation.
//!
//! | workers | cost/node | submit to running (mean, p99) | partial commits (fraction of plans) | placements rejected |
//! |---------|-----------|-------------------------------|-------------------------------------|---------------------|
//! | 1 | 1 ms   | 0.050 s, 0.088 s | 0 | 0 |
//! | 4 | 1 ms   | 0.050 s, 0.088 s | 0 | 0 |
//! | 1 | 2 ms   | 0.104 s, 0.247 s | 0 | 0 |
//! | 4 | 2 ms   | 0.104 s, 0.236 s | 4.0 (0.20) | 10.4 |
//! | 1 | 5 ms   | 0.435 s, 1.244 s | 0 | 0 |
//! | 4 | 5 ms   | 0.228 s, 0.497 s | 13.5 (0.46) | 28.2 |
//! | 1 | 10 ms  | 1.312 s, 3.381 s | 0 | 0 |
//! | 4 | 10 ms  | 0.453 s, 1.024 s | 17.2 (0.52) | 37.2 |
//! | 1 | 50 ms  | 8.360 s, 20.59 s | 0 | 0 |
//! | 4 | 50 ms  | 2.570 s, 6.329 s | 17.6 (0.52) | 37.3 |
//! | 1 | 200 ms | 34.27 s, 83.84 s | 0 | 0 |
//! | 4 | 200 ms | 11.53 s, 30.19 s | 17.5 (0.52) | 36.3 |
//!
//! The Omega shape appears: with one worker there is nothing to conflict with, and with four
//! the fraction of plans that conflict rises with decision time (0 at 1 ms, when plans finish
//! before the next job arrives, 0.20 at 2 ms, 0.46 at 5 ms) and levels off at about half once
//! every plan overlaps others (10 ms and up; with 16 jobs the overlap cannot grow further). The
//! extra workers still pay: they cut placement latency about threefold at 10 ms/node and above,
//! at the cost of twice the evaluations.

pub mod client;
pub mod codec;
mod config;
mod deployment;
pub mod placement;
pub mod policy;
mod properties;
pub mod reconcile;
pub mod server;
pub mod state;
mod submitter;
mod summary;
#[cfg(test)]
mod tests;

pub use client::{Agent, AgentSettings, RunsTasks, Task};
pub use config::*;
pub use properties::*;
pub use server::{Server, ServerSettings};
pub use submitter::Submitter;
pub use summary::*;

use crate::raft::{self, MessageOf};
use placement::{
    Attribute, Constraint, FitAlgorithm, Job, JobKind, NodeAttributes, NodeId, Resources, TaskGroup, TaskSpec,
};
use policy::{DisconnectPolicy, HeartbeatPolicy, ReschedulePolicy, RestartPolicy, UpdatePolicy};
use reconcile::Settings;
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Process, ProcessId, Property, Sim, Topology,
    View,
};
use serde::{Deserialize, Serialize};
use state::{AllocId, ClientStatus, ClusterState, DeploymentStatus, DesiredStatus};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// What a client is told about one of its allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocSpec {
    /// The allocation.
    pub id: AllocId,
    /// Its job's kind (which restart policy applies).
    pub kind: JobKind,
    /// How its task behaves.
    pub task: TaskSpec,
    /// What the servers want.
    pub desired: DesiredStatus,
    /// The job version it was placed for: above 0, a deployment judges its health, so its
    /// client reports each restart (pending until the task runs again).
    pub version: u64,
}

// By hand so that a version-0 allocation hashes as before the field existed (message digests,
// and so fingerprints, of runs without updates stay the same).
impl std::hash::Hash for AllocSpec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.kind.hash(state);
        self.task.hash(state);
        self.desired.hash(state);
        if self.version != 0 {
            self.version.hash(state);
        }
    }
}

/// The protocol between submitter, server, agents and tasks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// An agent registers its node.
    Register {
        /// The node.
        node: NodeId,
        /// What it offers.
        capacity: Resources,
        /// Its attributes.
        attributes: NodeAttributes,
    },
    /// Registration accepted: heartbeat within `ttl`.
    RegisterAck {
        /// Time until the next heartbeat.
        ttl: Duration,
    },
    /// An agent's heartbeat, with the allocations it runs: the server pushes the node's list
    /// again when it differs (a lost push is repaired by the next heartbeat, as Nomad's clients
    /// re-pull their allocations by index).
    Heartbeat {
        /// The node.
        node: NodeId,
        /// The allocations the agent holds to run, in id order.
        holds: Vec<AllocId>,
    },
    /// Heartbeat accepted: the next one within `ttl`.
    HeartbeatAck {
        /// Time until the next heartbeat.
        ttl: Duration,
    },
    /// The server does not know the node (it lost its state): register again.
    UnknownNode,
    /// Every allocation the node should know about.
    NodeAllocs {
        /// The allocations.
        allocs: Vec<AllocSpec>,
    },
    /// An agent reports allocation statuses.
    AllocUpdate {
        /// The node.
        node: NodeId,
        /// The statuses.
        updates: Vec<(AllocId, ClientStatus)>,
    },
    /// The server took these reports.
    AllocUpdateAck {
        /// The allocations.
        ids: Vec<AllocId>,
    },
    /// Submit (or resubmit) a job.
    SubmitJob {
        /// The job.
        job: Job,
    },
    /// Drain a node: its allocations must leave within `deadline`.
    DrainNode {
        /// The node.
        node: NodeId,
        /// The time allowed.
        deadline: Duration,
    },
    /// The server that got a request does not lead: try `hint` (the leader it knows), or
    /// another server.
    NotLeader {
        /// The leader this server last heard from.
        hint: Option<ProcessId>,
    },
    /// A job registration committed (in the replicated log: it survives server crashes).
    JobAck {
        /// The job's name.
        name: String,
        /// The Raft term of the leader that committed it.
        term: u64,
    },
    /// A drain committed.
    DrainAck {
        /// The node.
        node: NodeId,
    },
    /// Raft between the servers.
    Raft(MessageOf<ClusterState>),
    /// A task tells its agent it exited.
    TaskExited {
        /// Its allocation.
        alloc: AllocId,
        /// Successfully (batch work done) or not.
        ok: bool,
    },
    /// Update a service job to a new version (a rolling update under `policy`).
    UpdateJob {
        /// The new specification.
        job: Job,
        /// The version it becomes.
        version: u64,
        /// How its allocations move to it.
        policy: UpdatePolicy,
    },
    /// A job update committed (the job is at `version` or later).
    UpdateAck {
        /// The job's name.
        name: String,
    },
}

/// Timers of every role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Server: Raft's own timers.
    Raft(raft::Timer),
    /// Server: a node's heartbeat deadline.
    NodeDeadline(NodeId),
    /// Server: a drain's deadline.
    DrainDeadline(NodeId),
    /// Server: a delayed evaluation is due.
    EvalDue(state::EvalId),
    /// Server: a worker finished planning.
    WorkerDone(u32),
    /// Server: sample utilisation.
    Sample,
    /// Agent: resend an unanswered registration or heartbeat.
    Retry,
    /// Agent: time to heartbeat.
    Heartbeat,
    /// Agent: restart a failed task.
    RestartTask(AllocId),
    /// Agent: record which allocations' tasks run now (ground truth for availability).
    SampleRunning,
    /// Task: exit.
    TaskExit {
        /// Successfully or not.
        ok: bool,
    },
    /// Submitter: submit job `i` (again, until acknowledged).
    Submit(u32),
    /// Submitter: start drain `i` (again, until acknowledged).
    Drain(u32),
    /// Submitter: update job `i` (again, until acknowledged).
    Update(u32),
}

/// A scheduler process: every role of the standalone model.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Scheduler {
    /// A scheduler server (a Raft replica; the leader schedules).
    Server(Server),
    /// A node's client agent.
    Agent(Agent),
    /// A task an agent runs.
    Task(Task),
    /// The job submitter (and drain operator).
    Submitter(Submitter),
}

impl Scheduler {
    /// The server, if this is one.
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            Scheduler::Server(s) => Some(s),
            _ => None,
        }
    }
}

impl RunsTasks for Scheduler {
    type TaskEnv = ();
    fn task(task: Task, _: &()) -> Self {
        Scheduler::Task(task)
    }
}

impl Process for Scheduler {
    type Message = Msg;
    type Timer = Timer;
    type Operation = Op;

    /// `scheduler-N (leader, term T)` for server N; `agent`, `task`, `submitter`.
    fn label(&self) -> Option<String> {
        Some(match self {
            Scheduler::Server(s) => s.raft.label("scheduler"),
            Scheduler::Agent(_) => "agent".into(),
            Scheduler::Task(_) => "task".into(),
            Scheduler::Submitter(_) => "submitter".into(),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            Scheduler::Server(s) => s.on_start(cx),
            Scheduler::Agent(a) => a.on_start(cx),
            Scheduler::Task(t) => t.on_start(cx),
            Scheduler::Submitter(s) => s.on_start(cx),
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: Msg) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            Scheduler::Server(s) => s.on_message(cx, from, m),
            Scheduler::Agent(a) => a.on_message(cx, from, m),
            Scheduler::Submitter(s) => s.on_message(cx, from, m),
            Scheduler::Task(_) => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: Timer) {
        let cx = &mut ctx.scope(|m| m, |t| t);
        match self {
            Scheduler::Server(s) => s.on_timer(cx, t),
            Scheduler::Agent(a) => a.on_timer(cx, t),
            Scheduler::Task(task) => task.on_timer(cx, t),
            Scheduler::Submitter(s) => s.on_timer(cx, t),
        }
    }
}

/// The attributes of node `i`.
pub fn node_attributes(config: &Config, i: u32, host_zone: Option<&str>) -> NodeAttributes {
    NodeAttributes {
        datacenter: "dc1".into(),
        rack: format!("r{}", i % config.racks),
        class: format!("c{}", i % config.classes),
        zone: host_zone.map_or_else(|| format!("z{}", i % config.zones), str::to_owned),
    }
}

/// Places the servers (`p0..p{servers-1}`) on hosts `0..servers`, the submitter on host 0
/// (after them), and one agent per node on the hosts after the servers' (node `i` on host
/// `servers + i`). Panics on an invalid config or too few hosts; validate user input first.
pub fn setup(sim: &mut Sim<Scheduler>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid scheduler config: {e}");
    }
    let hosts = sim.hosts().len() as u32;
    assert!(
        hosts >= config.hosts(),
        "the scheduler needs {} hosts, the topology has {hosts}",
        config.hosts()
    );
    let members: Vec<ProcessId> = (0..config.servers).map(ProcessId).collect();
    for i in 0..config.servers {
        let server = Server::new(config.server_settings(), i, members.clone(), config.raft());
        let pid = sim.spawn(HostId(i), Scheduler::Server(server));
        assert_eq!(pid, members[i as usize], "servers are the first processes");
    }
    sim.spawn(HostId(0), Scheduler::Submitter(Submitter::new(config)));
    let agent_settings = config.agent_settings();
    for i in 0..config.nodes {
        let host = config.node_host(i);
        let zone = sim.hosts()[host.index()].zone.clone();
        let attributes = node_attributes(config, i, zone.as_deref());
        let agent = Agent::new(agent_settings, NodeId(i), config.node_capacity, attributes);
        sim.spawn(host, Scheduler::Agent(agent));
    }
}

/// The scheduler as a [`ruckus_sim::Model`].
#[derive(Debug)]
pub struct SchedulerModel;

impl ruckus_sim::Model for SchedulerModel {
    const NAME: &'static str = "scheduler";
    const ABOUT: &'static str =
        "a Nomad-like cluster scheduler: bin-pack placement, client heartbeats, plan applier, healing";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[
        ("service_jobs", 0),
        ("batch_jobs", 0),
        ("crashing_jobs", 0),
        ("service_count", 1),
        ("workers", 1),
    ];
    type Config = Config;
    type Process = Scheduler;
    fn setup(sim: &mut Sim<Scheduler>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Scheduler>> {
        properties(config)
    }
    /// The probes of the Raft servers inside this model.
    fn probes() -> &'static [&'static str] {
        crate::raft::SERVER_PROBES
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.hosts() {
            return Err(format!(
                "the scheduler with {} servers and {} nodes needs {} hosts (one per server and per node), the topology has {hosts}",
                config.servers,
                config.nodes,
                config.hosts()
            ));
        }
        Ok(())
    }
    fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        summarize(config, metrics, end)
    }
}
