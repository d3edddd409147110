//! The servers' cluster state: jobs, nodes, allocations and evaluations, changed only by
//! [`ClusterState::apply`] on a [`Command`]. Commands carry every input (including the time),
//! so applying one log of commands gives one state anywhere: the shape a Raft log needs.
//!
//! The plan applier lives here too ([`Command::ApplyPlan`]): it re-checks each placement of a
//! worker's plan against the latest state and commits the part that still fits.

use super::placement::{Constraint, Job, JobKind, NodeAttributes, NodeId, Resources, TaskSpec};
use super::policy::UpdatePolicy;
use ruckus_sim::{Duration, Instant, ProcessId};
use std::collections::{BTreeMap, BTreeSet};

mod plan_applier;

/// Identifies an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllocId(pub u64);

/// Identifies an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EvalId(pub u64);

/// What the servers want an allocation to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DesiredStatus {
    /// Run it.
    Run,
    /// Stop it (migrated, excess, or its node drained).
    Stop,
}

/// What the client last reported (or the servers concluded) about an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientStatus {
    /// Placed, not yet reported running.
    Pending,
    /// Its task runs.
    Running,
    /// Its task failed past the restart policy.
    Failed,
    /// Its task finished successfully (batch).
    Complete,
    /// Its node was marked down.
    Lost,
    /// Its node was marked down under a disconnect policy: it keeps its slot, unreplaced,
    /// for `lost_after`, and runs on if the node comes back.
    Unknown,
}

impl ClientStatus {
    /// Whether the allocation is over for the client.
    pub fn terminal(self) -> bool {
        matches!(
            self,
            ClientStatus::Failed | ClientStatus::Complete | ClientStatus::Lost
        )
    }
}

/// One placed instance of a task group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Its id.
    pub id: AllocId,
    /// Its job's name.
    pub job: String,
    /// Index of its task group in the job.
    pub group: u32,
    /// Where it runs.
    pub node: NodeId,
    /// What it uses.
    pub resources: Resources,
    /// What the servers want.
    pub desired: DesiredStatus,
    /// What the client reports.
    pub client: ClientStatus,
    /// State index of the command that created it.
    pub created_index: u64,
    /// When it was created.
    pub created_at: Instant,
    /// When its client status became terminal (or unknown: when its node was marked down).
    pub finished_at: Option<Instant>,
    /// The allocation it replaces (rescheduled, lost or migrated).
    pub previous: Option<AllocId>,
    /// How many reschedules after failure led to it (0 for an original).
    pub reschedules: u32,
    /// A replacement has been placed for it.
    pub replaced: bool,
    /// It reported running at least once.
    pub ran: bool,
    /// The job version it was placed for (0: the job as first registered).
    pub version: u64,
    /// Its task as its job version specifies it (what its client runs).
    pub task: TaskSpec,
    /// Since when it has run without interruption, by its client's reports.
    pub running_since: Option<Instant>,
    /// A deployment judged it healthy (ran `min_healthy_time`); it stays so.
    pub healthy: bool,
}

impl Allocation {
    /// Whether it holds resources on its node: wanted and not over.
    pub fn live(&self) -> bool {
        self.desired == DesiredStatus::Run && !self.client.terminal()
    }
}

/// Whether a node answers heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Heartbeating.
    Ready,
    /// Missed its heartbeat deadline.
    Down,
}

/// A registered node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its id.
    pub id: NodeId,
    /// Its client agent process.
    pub agent: ProcessId,
    /// What it offers.
    pub capacity: Resources,
    /// Its attributes.
    pub attributes: NodeAttributes,
    /// Heartbeat status.
    pub status: NodeStatus,
    /// Whether new allocations may go there.
    pub eligible: bool,
    /// Set while the node drains: by then every allocation must have left.
    pub drain_deadline: Option<Instant>,
    /// State index since which the node has been unschedulable (down, draining, ineligible).
    pub unusable_since: Option<u64>,
}

impl NodeRecord {
    /// Whether new allocations may be placed there.
    pub fn schedulable(&self) -> bool {
        self.status == NodeStatus::Ready && self.eligible && self.drain_deadline.is_none()
    }
}

/// A submitted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// The specification.
    pub job: Job,
    /// When it was first submitted.
    pub submitted_at: Instant,
    /// When every group first ran at its count.
    pub running_at: Option<Instant>,
    /// The job's version: 0 as registered, raised by each [`Command::UpdateJob`].
    pub version: u64,
    /// The rolling update to the current version, if the job was ever updated.
    pub deployment: Option<Deployment>,
}

/// Where a deployment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeploymentStatus {
    /// Replacing allocations of older versions.
    Running,
    /// Every allocation runs the new version, healthy.
    Successful,
    /// A new allocation failed or was not healthy by its deadline: no more replacements.
    Failed,
}

/// A rolling update of a service job to its current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deployment {
    /// The version being rolled out.
    pub version: u64,
    /// How.
    pub policy: UpdatePolicy,
    /// Where it stands.
    pub status: DeploymentStatus,
    /// When the update was applied.
    pub started_at: Instant,
}

/// Why an evaluation was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A job was submitted.
    JobRegister,
    /// A node went down or came back.
    NodeUpdate,
    /// An allocation failed.
    AllocFailed,
    /// Part of a plan did not fit the latest state.
    PlanRejected,
    /// A delayed reschedule is due.
    Reschedule,
    /// A node drains.
    Drain,
    /// Capacity freed up for a job that could not be placed.
    Unblocked,
    /// A rolling update: a job was updated, or a new allocation may have turned healthy.
    Deployment,
}

/// A request to reconcile one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Its id.
    pub id: EvalId,
    /// The job.
    pub job: String,
    /// Why.
    pub trigger: Trigger,
    /// Not before this time (delayed reschedules).
    pub wait_until: Option<Instant>,
    /// Processed.
    pub done: bool,
}

/// One placement a worker proposes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    /// Task group index.
    pub group: u32,
    /// The chosen node.
    pub node: NodeId,
    /// What it uses.
    pub resources: Resources,
    /// The allocation it replaces.
    pub previous: Option<AllocId>,
    /// Reschedules after failure in its chain.
    pub reschedules: u32,
}

/// What a worker proposes for one evaluation, computed on a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The evaluation it answers.
    pub eval: Option<EvalId>,
    /// Later evaluations of the same job this plan answers too (coalesced by the broker).
    pub coalesced: Vec<EvalId>,
    /// The job.
    pub job: String,
    /// Allocations to stop.
    pub stops: Vec<AllocId>,
    /// Allocations to create.
    pub placements: Vec<Placement>,
    /// Re-evaluate the job at this time (a delayed reschedule).
    pub follow_up: Option<Instant>,
    /// Some placements found no feasible node: retry when capacity frees up.
    pub blocked: bool,
    /// The state index the worker planned on: a blocked plan whose capacity changed since
    /// (a node joined, allocations ended) is re-evaluated at once instead of waiting.
    pub snapshot_index: u64,
}

/// A change to the cluster state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// A node registers (or re-registers after being down).
    RegisterNode {
        /// Its id.
        id: NodeId,
        /// Its agent.
        agent: ProcessId,
        /// What it offers.
        capacity: Resources,
        /// Its attributes.
        attributes: NodeAttributes,
    },
    /// A node missed its heartbeat deadline: its allocations are lost (or unknown).
    NodeDown {
        /// The node.
        id: NodeId,
        /// When.
        now: Instant,
        /// The disconnect policy's `lost_after`: non-zero, the allocations turn unknown
        /// rather than lost.
        unknown_for: Duration,
    },
    /// A node starts draining; its allocations must leave by `deadline`.
    DrainNode {
        /// The node.
        id: NodeId,
        /// When the remaining allocations are stopped.
        deadline: Instant,
    },
    /// A drain's deadline passed: whatever is still on the node is stopped.
    DrainDeadline {
        /// The node.
        id: NodeId,
    },
    /// A job is submitted (again: a no-op if it is known).
    RegisterJob {
        /// The job.
        job: Job,
        /// When.
        now: Instant,
    },
    /// A delayed evaluation is created.
    CreateEval {
        /// The job.
        job: String,
        /// Why.
        trigger: Trigger,
        /// Not before.
        wait_until: Option<Instant>,
    },
    /// A worker's plan, to be re-checked (unless `trust_snapshot`) and committed.
    ApplyPlan {
        /// The plan.
        plan: Plan,
        /// Commit every placement unchecked (the `applier_trusts_snapshot` bug).
        trust_snapshot: bool,
        /// When.
        now: Instant,
    },
    /// A client reports allocation statuses.
    UpdateAllocs {
        /// The reporting node.
        node: NodeId,
        /// New statuses.
        updates: Vec<(AllocId, ClientStatus)>,
        /// When.
        now: Instant,
    },
    /// A service job's new version (ignored unless `version` is above the job's): its
    /// allocations are replaced by a rolling update under `policy`.
    UpdateJob {
        /// The new specification.
        job: Job,
        /// The version it becomes.
        version: u64,
        /// How the allocations move to it.
        policy: UpdatePolicy,
        /// When.
        now: Instant,
    },
}

/// What applying a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Applied {
    /// Evaluations created (for the broker).
    pub evals: Vec<EvalId>,
    /// Nodes whose allocation lists changed (their clients are told).
    pub nodes_touched: BTreeSet<NodeId>,
    /// Allocations a plan created.
    pub placed: u32,
    /// Placements a plan had that no longer fit (sent back for a new evaluation).
    pub rejected: u32,
    /// Allocations a plan stopped.
    pub stopped: u32,
    /// Placements onto a different node than the allocation they replace.
    pub moved: u32,
    /// Allocations that turned running, with how long since the allocation they replace ended.
    pub replacements_running: Vec<Duration>,
    /// Jobs that reached their full count for the first time, with time since submission.
    pub jobs_running: Vec<Duration>,
    /// Whether a `RegisterNode` introduced a node the state did not know.
    pub new_node: bool,
    /// Jobs whose deployment failed.
    pub deployments_failed: Vec<String>,
    /// Deployments that completed, with how long each took.
    pub deployments_done: Vec<Duration>,
}

/// The servers replicate the cluster state with Raft: every replica applies the same commands.
impl crate::raft::StateMachine for ClusterState {
    type Command = Command;
    type Output = Applied;

    fn apply(&mut self, command: &Command) -> Applied {
        ClusterState::apply(self, command.clone())
    }

    /// Every command changes state (the index at least): none is served without the log.
    fn read(&self, _command: &Command) -> Option<Applied> {
        None
    }

    fn encode(command: &Command, out: &mut Vec<u8>) {
        super::codec::encode(command, out);
    }

    fn decode(bytes: &[u8]) -> Option<Command> {
        super::codec::decode(bytes)
    }
}

/// The cluster state, changed only by [`ClusterState::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterState {
    /// Jobs by name.
    pub jobs: BTreeMap<String, JobRecord>,
    /// Nodes by id.
    pub nodes: BTreeMap<NodeId, NodeRecord>,
    /// Every allocation ever made.
    pub allocs: BTreeMap<AllocId, Allocation>,
    /// Every evaluation ever made.
    pub evals: BTreeMap<EvalId, Evaluation>,
    /// Jobs with placements that found no room, re-evaluated when capacity frees up.
    pub blocked: BTreeSet<String>,
    /// Number of commands applied.
    pub index: u64,
    /// Index of the last command that freed or added capacity (and unblocked jobs).
    pub capacity_changed_at: u64,
    next_alloc: u64,
    next_eval: u64,
    /// Indexes derived from `allocs`, kept in step by `apply` (the only writer): without them
    /// every heartbeat, plan and placement check scanned every allocation, which made a run
    /// of 5,000 nodes and 100,000 allocations quadratic. Ids are in id order, as `allocs` is.
    by_job: BTreeMap<String, Vec<AllocId>>,
    by_node: BTreeMap<NodeId, Vec<AllocId>>,
    /// What the live allocations on each node use (nodes using nothing are absent).
    used: BTreeMap<NodeId, Resources>,
}

/// Keeps a node's usage in step when an allocation's liveness changes.
fn account(used: &mut BTreeMap<NodeId, Resources>, a: &Allocation, was_live: bool) {
    match (was_live, a.live()) {
        (false, true) => {
            let u = used.entry(a.node).or_default();
            *u = u.plus(a.resources);
        }
        (true, false) => {
            if let Some(u) = used.get_mut(&a.node) {
                *u = u.minus(a.resources);
                if *u == Resources::default() {
                    used.remove(&a.node);
                }
            }
        }
        _ => {}
    }
}

impl ClusterState {
    /// Applies one command. Deterministic: the result depends only on the state and the command.
    pub fn apply(&mut self, command: Command) -> Applied {
        self.index += 1;
        let mut out = Applied::default();
        match command {
            Command::RegisterNode {
                id,
                agent,
                capacity,
                attributes,
            } => {
                let index = self.index;
                let node = self.nodes.entry(id).or_insert_with(|| {
                    out.new_node = true;
                    NodeRecord {
                        id,
                        agent,
                        capacity,
                        attributes: attributes.clone(),
                        status: NodeStatus::Ready,
                        eligible: true,
                        drain_deadline: None,
                        unusable_since: None,
                    }
                });
                let was_down = node.status == NodeStatus::Down;
                node.agent = agent;
                node.capacity = capacity;
                node.attributes = attributes;
                node.status = NodeStatus::Ready;
                node.unusable_since = if node.schedulable() {
                    None
                } else {
                    node.unusable_since.or(Some(index))
                };
                out.nodes_touched.insert(id);
                if was_down {
                    self.reconnect(id, &mut out);
                }
                if out.new_node || was_down {
                    self.unblock(&mut out);
                }
            }
            Command::NodeDown { id, now, unknown_for } => {
                let index = self.index;
                let Some(node) = self.nodes.get_mut(&id) else {
                    return out;
                };
                if node.status == NodeStatus::Down {
                    return out;
                }
                node.status = NodeStatus::Down;
                node.unusable_since.get_or_insert(index);
                let mut jobs = BTreeSet::new();
                for aid in self.by_node.get(&id).into_iter().flatten() {
                    let a = self.allocs.get_mut(aid).expect("indexed allocations exist");
                    if !a.client.terminal() && a.client != ClientStatus::Unknown {
                        let was_live = a.live();
                        a.client = if unknown_for == Duration::ZERO {
                            ClientStatus::Lost
                        } else {
                            ClientStatus::Unknown
                        };
                        a.finished_at = Some(now);
                        account(&mut self.used, a, was_live);
                        jobs.insert(a.job.clone());
                    }
                }
                for job in jobs {
                    let e = self.new_eval(job, Trigger::NodeUpdate, None);
                    out.evals.push(e);
                }
            }
            Command::DrainNode { id, deadline } => {
                let index = self.index;
                let Some(node) = self.nodes.get_mut(&id) else {
                    return out;
                };
                if node.drain_deadline.is_some() {
                    return out;
                }
                node.drain_deadline = Some(deadline);
                node.unusable_since.get_or_insert(index);
                let jobs: BTreeSet<String> = self
                    .on_node(id)
                    .filter(|a| a.live())
                    .map(|a| a.job.clone())
                    .collect();
                for job in jobs {
                    let e = self.new_eval(job, Trigger::Drain, None);
                    out.evals.push(e);
                }
            }
            Command::DrainDeadline { id } => {
                let Some(node) = self.nodes.get_mut(&id) else {
                    return out;
                };
                node.eligible = false;
                let mut jobs = BTreeSet::new();
                for aid in self.by_node.get(&id).into_iter().flatten() {
                    let a = self.allocs.get_mut(aid).expect("indexed allocations exist");
                    if !a.live() {
                        continue;
                    }
                    a.desired = DesiredStatus::Stop;
                    account(&mut self.used, a, true);
                    jobs.insert(a.job.clone());
                    out.stopped += 1;
                }
                if !jobs.is_empty() {
                    out.nodes_touched.insert(id);
                }
                for job in jobs {
                    let e = self.new_eval(job, Trigger::Drain, None);
                    out.evals.push(e);
                }
            }
            Command::RegisterJob { job, now } => {
                if self.jobs.contains_key(&job.name) {
                    return out;
                }
                let name = job.name.clone();
                self.jobs.insert(
                    name.clone(),
                    JobRecord {
                        job,
                        submitted_at: now,
                        running_at: None,
                        version: 0,
                        deployment: None,
                    },
                );
                let e = self.new_eval(name, Trigger::JobRegister, None);
                out.evals.push(e);
            }
            Command::CreateEval {
                job,
                trigger,
                wait_until,
            } => {
                let e = self.new_eval(job, trigger, wait_until);
                out.evals.push(e);
            }
            Command::ApplyPlan {
                plan,
                trust_snapshot,
                now,
            } => self.apply_plan(plan, trust_snapshot, now, &mut out),
            Command::UpdateJob {
                job,
                version,
                policy,
                now,
            } => {
                let Some(record) = self.jobs.get_mut(&job.name) else {
                    return out;
                };
                // Batch jobs are not updated in place; a repeated update is a no-op.
                if record.job.kind != JobKind::Service
                    || job.kind != JobKind::Service
                    || job.groups.len() != record.job.groups.len()
                    || version <= record.version
                {
                    return out;
                }
                let name = job.name.clone();
                record.job = job;
                record.version = version;
                record.deployment = Some(Deployment {
                    version,
                    policy,
                    status: DeploymentStatus::Running,
                    started_at: now,
                });
                let e = self.new_eval(name, Trigger::Deployment, None);
                out.evals.push(e);
            }
            Command::UpdateAllocs { node, updates, now } => {
                let mut health_checks = BTreeSet::new();
                let mut failed_jobs = BTreeSet::new();
                let mut freed = false;
                let mut running_jobs = BTreeSet::new();
                let mut migrated_jobs = BTreeSet::new();
                for (id, status) in updates {
                    let Some(a) = self.allocs.get_mut(&id) else {
                        continue;
                    };
                    if a.node != node || a.client.terminal() || a.client == status {
                        continue;
                    }
                    let was_live = a.live();
                    a.client = status;
                    account(&mut self.used, a, was_live);
                    a.running_since = (status == ClientStatus::Running).then_some(now);
                    if status == ClientStatus::Running
                        && let Some(d) = self.jobs.get(&a.job).and_then(|r| r.deployment)
                        && d.status == DeploymentStatus::Running
                        && a.version == d.version
                    {
                        // Judged healthy (or not) once it has run `min_healthy_time`.
                        health_checks.insert((a.job.clone(), now + d.policy.min_healthy_time));
                    }
                    if status.terminal() {
                        a.finished_at = Some(now);
                        freed = true;
                        if status == ClientStatus::Failed && a.desired == DesiredStatus::Run {
                            failed_jobs.insert(a.job.clone());
                        }
                    } else if status == ClientStatus::Running && !a.ran {
                        a.ran = true;
                        running_jobs.insert(a.job.clone());
                        if let Some(prev) = a.previous {
                            if self.migrating(prev) {
                                // A migration's replacement runs: stop its original, start the next.
                                migrated_jobs.insert(self.allocs[&id].job.clone());
                            }
                            let since = self.allocs[&prev]
                                .finished_at
                                .unwrap_or(self.allocs[&id].created_at);
                            out.replacements_running.push(now.saturating_since(since));
                        }
                    }
                }
                for job in running_jobs {
                    if let Some(d) = self.mark_job_running(&job, now) {
                        out.jobs_running.push(d);
                    }
                }
                for job in migrated_jobs {
                    let e = self.new_eval(job, Trigger::Drain, None);
                    out.evals.push(e);
                }
                for job in failed_jobs {
                    let e = self.new_eval(job, Trigger::AllocFailed, None);
                    out.evals.push(e);
                }
                for (job, at) in health_checks {
                    let e = self.new_eval(job, Trigger::Deployment, Some(at));
                    out.evals.push(e);
                }
                if freed {
                    self.unblock(&mut out);
                }
            }
        }
        out
    }

    /// A node came back: its unknown allocations run on (running if they ever ran) and their
    /// jobs are re-evaluated, which settles any replacement by the reconnect policy.
    fn reconnect(&mut self, id: NodeId, out: &mut Applied) {
        let mut jobs = BTreeSet::new();
        for aid in self.by_node.get(&id).into_iter().flatten() {
            let a = self.allocs.get_mut(aid).expect("indexed allocations exist");
            if a.client != ClientStatus::Unknown {
                continue;
            }
            let was_live = a.live();
            a.client = if a.ran {
                ClientStatus::Running
            } else {
                ClientStatus::Pending
            };
            a.finished_at = None;
            account(&mut self.used, a, was_live);
            jobs.insert(a.job.clone());
        }
        for job in jobs {
            let e = self.new_eval(job, Trigger::NodeUpdate, None);
            out.evals.push(e);
        }
    }

    fn new_eval(&mut self, job: String, trigger: Trigger, wait_until: Option<Instant>) -> EvalId {
        let id = EvalId(self.next_eval);
        self.next_eval += 1;
        self.evals.insert(
            id,
            Evaluation {
                id,
                job,
                trigger,
                wait_until,
                done: false,
            },
        );
        id
    }

    fn unblock(&mut self, out: &mut Applied) {
        self.capacity_changed_at = self.index;
        for job in std::mem::take(&mut self.blocked) {
            let e = self.new_eval(job, Trigger::Unblocked, None);
            out.evals.push(e);
        }
    }

    fn mark_job_running(&mut self, job: &str, now: Instant) -> Option<Duration> {
        let record = self.jobs.get(job)?;
        if record.running_at.is_some() {
            return None;
        }
        let full = (0..record.job.groups.len() as u32).all(|g| {
            let running = self.running_count(job, g);
            let done = match record.job.kind {
                JobKind::Batch => self.complete_count(job, g),
                JobKind::Service => 0,
            };
            running + done >= record.job.groups[g as usize].count as usize
        });
        if !full {
            return None;
        }
        let record = self.jobs.get_mut(job)?;
        record.running_at = Some(now);
        Some(now.saturating_since(record.submitted_at))
    }

    /// Whether an allocation is live on a draining node (it is to be migrated).
    pub fn migrating(&self, id: AllocId) -> bool {
        self.allocs.get(&id).is_some_and(|a| {
            a.live()
                && self
                    .nodes
                    .get(&a.node)
                    .is_some_and(|n| n.drain_deadline.is_some())
        })
    }

    /// Allocations of a group the servers see running (reported running, wanted). An
    /// allocation whose replacement (or a replacement of that, and so on) already runs is
    /// counted once: a migrating original about to be stopped, or an unknown one back with
    /// its node until the reconnect policy picks.
    pub fn running_count(&self, job: &str, group: u32) -> usize {
        let running: BTreeSet<AllocId> = self
            .of_job(job)
            .filter(|a| {
                a.group == group && a.desired == DesiredStatus::Run && a.client == ClientStatus::Running
            })
            .map(|a| a.id)
            .collect();
        // Walk each one's line of predecessors past those no longer running: an allocation
        // back from a disconnection may be superseded by a replacement of its replacement
        // (a rolling update or a failure replaced the first one meanwhile).
        let superseded = running
            .iter()
            .filter(|r| {
                let mut previous = self.allocs[r].previous;
                while let Some(p) = previous {
                    if running.contains(&p) {
                        return true;
                    }
                    previous = self.allocs.get(&p).and_then(|a| a.previous);
                }
                false
            })
            .count();
        running.len() - superseded
    }

    /// Allocations of a group that completed successfully.
    pub fn complete_count(&self, job: &str, group: u32) -> usize {
        self.of_job(job)
            .filter(|a| {
                a.group == group && a.desired == DesiredStatus::Run && a.client == ClientStatus::Complete
            })
            .count()
    }

    /// Allocations the servers want running: every service group's count, and each batch
    /// group's count less its completed allocations.
    pub fn desired_allocs(&self) -> usize {
        let mut desired = 0;
        for (name, record) in &self.jobs {
            for (g, group) in record.job.groups.iter().enumerate() {
                let done = match record.job.kind {
                    JobKind::Batch => self.complete_count(name, g as u32),
                    JobKind::Service => 0,
                };
                desired += (group.count as usize).saturating_sub(done);
            }
        }
        desired
    }

    /// What the live allocations on each node use (a node using nothing has no entry).
    pub fn usage(&self) -> &BTreeMap<NodeId, Resources> {
        &self.used
    }

    /// Fragmentation: the share of free CPU on ready nodes that is stranded, on nodes whose
    /// free CPU and memory cannot hold even the smallest task group of any job. `None` with no
    /// jobs or no free CPU.
    pub fn fragmentation(&self) -> Option<f64> {
        let smallest = self
            .jobs
            .values()
            .flat_map(|r| r.job.groups.iter().map(|g| g.resources))
            .min_by_key(|r| (r.cpu_mhz, r.memory_mb))?;
        let (mut free, mut stranded) = (0u64, 0u64);
        for n in self.nodes.values().filter(|n| n.status == NodeStatus::Ready) {
            let left = n
                .capacity
                .minus(self.used.get(&n.id).copied().unwrap_or_default());
            free += left.cpu_mhz;
            if !smallest.fits_in(left) {
                stranded += left.cpu_mhz;
            }
        }
        (free > 0).then(|| stranded as f64 / free as f64)
    }

    /// Every allocation of `job`, in id order.
    pub fn of_job<'a>(&'a self, job: &str) -> impl Iterator<Item = &'a Allocation> + Clone + 'a {
        self.by_job
            .get(job)
            .into_iter()
            .flatten()
            .map(|id| &self.allocs[id])
    }

    /// Whether the derived indexes equal those recomputed from `allocs` (tests).
    #[cfg(test)]
    pub(crate) fn indexes_agree(&self) -> Result<(), String> {
        let mut by_job: BTreeMap<String, Vec<AllocId>> = BTreeMap::new();
        let mut by_node: BTreeMap<NodeId, Vec<AllocId>> = BTreeMap::new();
        let mut used: BTreeMap<NodeId, Resources> = BTreeMap::new();
        for a in self.allocs.values() {
            by_job.entry(a.job.clone()).or_default().push(a.id);
            by_node.entry(a.node).or_default().push(a.id);
            if a.live() {
                let u = used.entry(a.node).or_default();
                *u = u.plus(a.resources);
            }
        }
        if by_job != self.by_job || by_node != self.by_node {
            return Err("an allocation index differs from the allocations".to_owned());
        }
        if used != self.used {
            return Err(format!("usage kept {:?}, recomputed {used:?}", self.used));
        }
        Ok(())
    }

    /// Every allocation ever placed on `node`, in id order.
    pub fn on_node(&self, node: NodeId) -> impl Iterator<Item = &Allocation> + '_ {
        self.by_node
            .get(&node)
            .into_iter()
            .flatten()
            .map(|id| &self.allocs[id])
    }

    /// The allocations a node's client should know about: not over for the client.
    pub fn allocs_on(&self, node: NodeId) -> impl Iterator<Item = &Allocation> + '_ {
        self.on_node(node).filter(|a| !a.client.terminal())
    }
}
