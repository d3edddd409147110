//! The client agent (one per node host) and the tasks it runs.
//!
//! The agent registers its node, heartbeats at the TTL the server grants (retrying a heartbeat
//! that is not answered), runs each allocation's task as a sibling process on its host,
//! restarts a failed task by its restart policy (attempts within an interval, after a delay;
//! past that the allocation fails) and reports allocation statuses until the server acks them.
//! Requests go to the server it believes leads; a follower's [`Msg::NotLeader`] names the
//! leader, and an unanswered request moves on to the next server.

use super::placement::{JobKind, NodeAttributes, NodeId, Resources, TaskSpec};
use super::policy::RestartPolicy;
use super::state::{AllocId, ClientStatus, DesiredStatus};
use super::{AllocSpec, Msg, Timer};
use ruckus_sim::{Duration, Instant, Process, ProcessId, Scope, TimerId};
use std::collections::BTreeMap;

/// Distribution of grid times (ns), one sample per allocation running at that time.
pub const RUNNING_AT: &str = "sched.running_at_ns";

/// `now` rounded to the nearest multiple of `period`, in nanoseconds: the sample grid's time.
pub fn grid_time(now: Instant, period: Duration) -> u64 {
    let period = period.as_nanos().max(1);
    (now.as_nanos() + period / 2) / period * period
}

/// A host process type that can run tasks: the agent spawns them as siblings.
pub trait RunsTasks: Process {
    /// What an agent carries to build its tasks (a larger system's shared configuration, say;
    /// `()` for the standalone scheduler).
    type TaskEnv;
    /// The process value of a task, built with the agent's `env`.
    fn task(task: Task, env: &Self::TaskEnv) -> Self;
}

/// What an agent needs from the model's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentSettings {
    /// The servers: processes `p0..p{servers-1}`.
    pub servers: u32,
    /// Restart policy of service tasks.
    pub service_restart: RestartPolicy,
    /// Restart policy of batch tasks.
    pub batch_restart: RestartPolicy,
    /// Resend an unanswered registration or heartbeat after this long.
    pub retry: Duration,
    /// Mean time between random task crashes (`None`: tasks crash only as their spec says).
    pub task_mean_time_to_failure: Option<Duration>,
    /// The availability sampling period (the server samples the desired allocations on the
    /// same grid of multiples of it).
    pub sample_every: Duration,
}

#[derive(Clone, Debug, PartialEq)]
struct Local {
    spec: AllocSpec,
    task: Option<ProcessId>,
    restarts: Vec<Instant>,
    status: ClientStatus,
}

/// The client agent of one node.
#[derive(Clone, Debug)]
pub struct Agent<E = ()> {
    settings: AgentSettings,
    node: NodeId,
    capacity: Resources,
    attributes: NodeAttributes,
    registered: bool,
    allocs: BTreeMap<AllocId, Local>,
    unacked: BTreeMap<AllocId, ClientStatus>,
    heartbeat: Option<TimerId>,
    retry: Option<TimerId>,
    /// The server believed to lead (requests go there).
    leader: u32,
    /// What its tasks are built with.
    env: E,
    /// Bumped whenever the set of running tasks changes (see [`Agent::running_changes`]).
    running_changes: u64,
}

impl Agent {
    /// The agent of `node`, offering `capacity`, with `attributes`.
    pub fn new(
        settings: AgentSettings,
        node: NodeId,
        capacity: Resources,
        attributes: NodeAttributes,
    ) -> Agent {
        Agent::with_env(settings, node, capacity, attributes, ())
    }
}

impl<E> Agent<E> {
    /// The agent of `node`, building its tasks with `env` (see [`RunsTasks::task`]).
    pub fn with_env(
        settings: AgentSettings,
        node: NodeId,
        capacity: Resources,
        attributes: NodeAttributes,
        env: E,
    ) -> Agent<E> {
        Agent {
            settings,
            node,
            capacity,
            attributes,
            registered: false,
            allocs: BTreeMap::new(),
            unacked: BTreeMap::new(),
            heartbeat: None,
            retry: None,
            leader: 0,
            env,
            running_changes: 0,
        }
    }

    /// Tasks this agent runs now, by allocation.
    pub fn running(&self) -> impl Iterator<Item = (AllocId, ProcessId)> + '_ {
        self.allocs.iter().filter_map(|(id, l)| l.task.map(|t| (*id, t)))
    }

    /// A counter that moves whenever [`Agent::running`] may have changed (it is equal across
    /// two calls only if the running tasks are), so an owner comparing it with its own work
    /// can skip that work while nothing moved.
    pub fn running_changes(&self) -> u64 {
        self.running_changes
    }

    /// Registers (again, after a restart: the tasks died with the host).
    pub fn on_start<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.register(cx);
        self.arm_sample(cx);
    }

    /// Arms the next availability sample at the next multiple of the period (after a crash
    /// the agent rejoins the grid the server samples on).
    fn arm_sample<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let period = self.settings.sample_every.as_nanos().max(1);
        let now = cx.now().as_nanos();
        cx.set_timer(Duration::from_nanos(period - now % period), Timer::SampleRunning);
    }

    /// Records one `sched.running_at_ns` sample, valued at the sample's grid time, per
    /// allocation whose task runs now: a crashed host records nothing, so the count of
    /// samples per grid time is the number of allocations really running then.
    fn sample_running<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let tick = grid_time(cx.now(), self.settings.sample_every);
        for _ in self.allocs.values().filter(|l| l.task.is_some()) {
            cx.observe(RUNNING_AT, tick);
        }
        self.arm_sample(cx);
    }

    fn server(&self) -> ProcessId {
        ProcessId(self.leader)
    }

    /// Resends what is unanswered: the registration, or a heartbeat with the pending reports.
    fn resend<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        if self.registered {
            self.send_heartbeat(cx);
        } else {
            self.register(cx);
        }
    }

    fn register<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.registered = false;
        let m = Msg::Register {
            node: self.node,
            capacity: self.capacity,
            attributes: self.attributes.clone(),
        };
        cx.send(self.server(), m);
        self.arm_retry(cx);
    }

    fn arm_retry<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        if let Some(t) = self.retry.take() {
            cx.cancel_timer(t);
        }
        self.retry = Some(cx.set_timer(self.settings.retry, Timer::Retry));
    }

    fn arm_heartbeat<P: RunsTasks<TaskEnv = E>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        ttl: Duration,
    ) {
        if let Some(t) = self.retry.take() {
            cx.cancel_timer(t);
        }
        if let Some(t) = self.heartbeat.take() {
            cx.cancel_timer(t);
        }
        self.heartbeat = Some(cx.set_timer(ttl, Timer::Heartbeat));
    }

    fn send_heartbeat<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let holds = self.allocs.keys().copied().collect();
        cx.send(
            self.server(),
            Msg::Heartbeat {
                node: self.node,
                holds,
            },
        );
        if !self.unacked.is_empty() {
            let updates = self.unacked.iter().map(|(a, s)| (*a, *s)).collect();
            cx.send(
                self.server(),
                Msg::AllocUpdate {
                    node: self.node,
                    updates,
                },
            );
        }
        self.arm_retry(cx);
    }

    /// Handles a protocol message.
    pub fn on_message<P: RunsTasks<TaskEnv = E>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        from: ProcessId,
        m: Msg,
    ) {
        match m {
            Msg::RegisterAck { ttl } => {
                self.registered = true;
                self.arm_heartbeat(cx, ttl);
            }
            Msg::HeartbeatAck { ttl } => self.arm_heartbeat(cx, ttl),
            Msg::NotLeader { hint } => {
                if from != self.server() {
                    return;
                }
                cx.count("sched.redirects", 1);
                match hint {
                    // Straight to the leader named; without a name, the retry timer moves on.
                    Some(leader) if leader.0 < self.settings.servers => {
                        self.leader = leader.0;
                        self.resend(cx);
                    }
                    _ => {}
                }
            }
            Msg::UnknownNode => {
                // The leader does not know this node (its registration never committed):
                // whatever was placed here under that registration is void.
                let tasks: Vec<ProcessId> = self.allocs.values().filter_map(|l| l.task).collect();
                for t in tasks {
                    cx.context().stop_process(t);
                }
                self.allocs.clear();
                self.running_changes += 1;
                self.unacked.clear();
                self.register(cx);
            }
            Msg::NodeAllocs { allocs } => self.reconcile(cx, allocs),
            Msg::AllocUpdateAck { ids } => {
                for id in ids {
                    self.unacked.remove(&id);
                }
            }
            Msg::TaskExited { alloc, ok } => self.task_exited(cx, from, alloc, ok),
            _ => {}
        }
    }

    /// Handles a timer.
    pub fn on_timer<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        match t {
            Timer::Retry => {
                // Unanswered: the server may be down or cut off; try the next one.
                self.retry = None;
                self.leader = (self.leader + 1) % self.settings.servers.max(1);
                if self.registered {
                    cx.count("sched.heartbeat_retries", 1);
                }
                self.resend(cx);
            }
            Timer::Heartbeat => {
                self.heartbeat = None;
                self.send_heartbeat(cx);
            }
            Timer::SampleRunning => self.sample_running(cx),
            Timer::RestartTask(alloc) => {
                let Some(local) = self.allocs.get(&alloc) else {
                    return;
                };
                if local.task.is_none() && local.status == ClientStatus::Running {
                    let tracked = local.spec.version > 0;
                    self.start(cx, alloc);
                    if tracked {
                        self.report(cx, alloc, ClientStatus::Running);
                    }
                }
            }
            _ => {}
        }
    }

    fn reconcile<P: RunsTasks<TaskEnv = E>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        allocs: Vec<AllocSpec>,
    ) {
        let wanted: BTreeMap<AllocId, AllocSpec> = allocs.into_iter().map(|a| (a.id, a)).collect();
        let gone: Vec<AllocId> = self
            .allocs
            .keys()
            .filter(|id| wanted.get(id).is_none_or(|s| s.desired == DesiredStatus::Stop))
            .copied()
            .collect();
        for id in gone {
            let local = self.allocs.remove(&id).expect("listed above");
            if let Some(t) = local.task {
                self.running_changes += 1;
                cx.context().stop_process(t);
            }
            if local.status == ClientStatus::Running && wanted.contains_key(&id) {
                // Stopped on request: for the servers it is over.
                self.report(cx, id, ClientStatus::Complete);
            }
        }
        for (id, spec) in wanted {
            if spec.desired == DesiredStatus::Run && !self.allocs.contains_key(&id) {
                self.allocs.insert(
                    id,
                    Local {
                        spec,
                        task: None,
                        restarts: Vec::new(),
                        status: ClientStatus::Running,
                    },
                );
                self.start(cx, id);
                self.report(cx, id, ClientStatus::Running);
            }
        }
    }

    fn start<P: RunsTasks<TaskEnv = E>>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, alloc: AllocId) {
        let agent = cx.id();
        let local = self
            .allocs
            .get_mut(&alloc)
            .expect("started allocations are known");
        let task = Task {
            alloc,
            agent,
            spec: local.spec.task,
            mean_time_to_failure: self.settings.task_mean_time_to_failure,
        };
        local.task = Some(cx.context().spawn(P::task(task, &self.env)));
        self.running_changes += 1;
        cx.count("sched.tasks_started", 1);
    }

    fn task_exited<P: RunsTasks<TaskEnv = E>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        from: ProcessId,
        alloc: AllocId,
        ok: bool,
    ) {
        let now = cx.now();
        let Some(local) = self.allocs.get_mut(&alloc) else {
            return;
        };
        if local.task != Some(from) {
            return;
        }
        local.task = None;
        self.running_changes += 1;
        if ok {
            local.status = ClientStatus::Complete;
            self.report(cx, alloc, ClientStatus::Complete);
            return;
        }
        cx.count("sched.task_failures", 1);
        let policy = match local.spec.kind {
            JobKind::Service => self.settings.service_restart,
            JobKind::Batch => self.settings.batch_restart,
        };
        if policy.may_restart(&local.restarts, now) {
            local.restarts.push(now);
            cx.count("sched.task_restarts", 1);
            cx.set_timer(policy.delay, Timer::RestartTask(alloc));
            if local.spec.version > 0 {
                // A deployment judges health by uninterrupted running: not running until
                // the restart.
                self.report(cx, alloc, ClientStatus::Pending);
            }
        } else {
            local.status = ClientStatus::Failed;
            self.report(cx, alloc, ClientStatus::Failed);
        }
    }

    fn report<P: RunsTasks<TaskEnv = E>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        alloc: AllocId,
        status: ClientStatus,
    ) {
        self.unacked.insert(alloc, status);
        let m = Msg::AllocUpdate {
            node: self.node,
            updates: vec![(alloc, status)],
        };
        cx.send(self.server(), m);
    }
}

/// One running task: a sibling process of its agent that exits when its spec (or a random
/// crash) says so, telling the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its allocation.
    pub alloc: AllocId,
    /// The agent that started it.
    pub agent: ProcessId,
    /// How it behaves.
    pub spec: TaskSpec,
    /// Mean time between random crashes, if any.
    pub mean_time_to_failure: Option<Duration>,
}

impl Task {
    /// Schedules the task's exit: the earliest of completion, its planned crash and a random
    /// crash drawn from the process's own stream.
    pub fn on_start<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let mut exit: Option<(Duration, bool)> = None;
        let mut consider = |d: Duration, ok: bool| {
            if exit.is_none_or(|(e, _)| d < e) {
                exit = Some((d, ok));
            }
        };
        if let Some(d) = self.spec.run_for {
            consider(d, true);
        }
        if let Some(d) = self.spec.fail_after {
            consider(d, false);
        }
        if let Some(mean) = self.mean_time_to_failure {
            let d = cx.random().exponential(mean.as_nanos() as f64) as u64;
            consider(Duration::from_nanos(d.max(1)), false);
        }
        if let Some((after, ok)) = exit {
            cx.set_timer(after, Timer::TaskExit { ok });
        }
    }

    /// Exits: tells the agent, then stops this process.
    pub fn on_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        if let Timer::TaskExit { ok } = t {
            cx.send(
                self.agent,
                Msg::TaskExited {
                    alloc: self.alloc,
                    ok,
                },
            );
            let me = cx.id();
            cx.context().stop_process(me);
        }
    }
}
