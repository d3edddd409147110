//! The engine: one thread, one event queue ordered by (time, sequence), one seed.

use crate::clock::Clock;
use crate::disk::{Disk, DiskFaultConfig};
use crate::fault::{Fault, FaultPlan};
use crate::metrics::Metrics;
use crate::model::Simulation;
use crate::network::{HostId, HostSpec, Network, Topology, Transmission};
use crate::process::{Context, HistoryEntry, Process, ProcessId, TimerId};
use crate::property::{Lifecycle, LifecycleEvent, Property, PropertyKind, View};
use crate::record::{
    EventDetail, EventRecord, Fingerprint, FlightRecorder, NONE, Observer, RecordKind, digest,
};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use crate::timers::TimerSet;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bounds on a run. The horizon ends a run normally; the others are reported failures, so a
/// run that stops making progress ends with a verdict instead of hanging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// True time at which the run ends.
    pub horizon: Duration,
    /// Most events a run may process.
    pub max_events: u64,
    /// Most events that may wait in the queue at once.
    pub max_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            horizon: Duration::from_secs(60),
            max_events: 100_000_000,
            max_queue: 10_000_000,
        }
    }
}

/// Everything that identifies a run besides the model, topology and plan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    /// The root seed; every random stream derives from it.
    pub seed: u64,
    /// Bounds on the run.
    pub limits: Limits,
    /// How many recent events the flight recorder keeps for failure reports.
    pub flight_recorder: usize,
    /// What a crash does to unsynced writes.
    pub disk_faults: DiskFaultConfig,
}

impl SimConfig {
    /// Defaults with the given seed.
    pub fn with_seed(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            limits: Limits::default(),
            flight_recorder: 64,
            disk_faults: DiskFaultConfig::default(),
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every property held until the run ended.
    Held,
    /// A safety property failed.
    SafetyViolation,
    /// A liveness property did not come to hold in time after the heal.
    LivenessFailure,
    /// A model's handler (or a checker) panicked.
    ModelPanic,
    /// The event budget or queue bound was exceeded.
    LimitExceeded,
}

impl Verdict {
    /// The snake_case name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::SafetyViolation => "safety_violation",
            Verdict::LivenessFailure => "liveness_failure",
            Verdict::ModelPanic => "model_panic",
            Verdict::LimitExceeded => "limit_exceeded",
        }
    }
}

/// What went wrong, where and when. Trace files keep it in their footer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The verdict this failure gives the run.
    pub verdict: Verdict,
    /// The property that failed, if one did.
    pub property: Option<String>,
    /// What the checker, the panic or the limit said.
    pub message: String,
    /// True time of the failure.
    pub time: Instant,
    /// The host involved, when one is.
    pub host: Option<HostId>,
    /// The process involved, when one is.
    pub process: Option<ProcessId>,
    /// The index of the event at (or after) which it failed.
    pub event_index: u64,
}

/// The outcome of a run: verdict, counts, fingerprint, and the failure with its last events.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The root seed.
    pub seed: u64,
    /// How it ended.
    pub verdict: Verdict,
    /// The failure, unless the verdict is `Held`.
    pub failure: Option<Failure>,
    /// Events processed.
    pub events: u64,
    /// Messages delivered to a handler.
    pub deliveries: u64,
    /// True time reached.
    pub end_time: Instant,
    /// The rolling hash of every event.
    pub fingerprint: u64,
    /// The flight recorder's contents at the end.
    pub last_events: Vec<EventRecord>,
    /// The counters and samples the model recorded (`Context::count`, `Context::observe`),
    /// as they stood when the run ended, so a caller that only keeps the report (a sweep, a
    /// benchmark) can still read throughput, latencies and retries.
    pub metrics: Metrics,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} -> {} after {} events ({} deliveries), time {}, fingerprint {:016x}",
            self.seed,
            self.verdict.name(),
            self.events,
            self.deliveries,
            self.end_time,
            self.fingerprint
        )?;
        if let Some(failure) = &self.failure {
            write!(f, "  {}", failure.verdict.name())?;
            if let Some(p) = &failure.property {
                write!(f, " of property `{p}`")?;
            }
            write!(f, " at {} (event #{})", failure.time, failure.event_index)?;
            if let Some(h) = failure.host {
                write!(f, " on {h}")?;
            }
            if let Some(p) = failure.process {
                write!(f, " in {p}")?;
            }
            writeln!(f, ": {}", failure.message)?;
            writeln!(f, "  last {} events:", self.last_events.len())?;
            for r in &self.last_events {
                writeln!(f, "    {r:?}")?;
            }
        }
        Ok(())
    }
}

/// Whether `run_until_event` stopped early or the run is over.
// The report is large (it carries the metrics) but a `Progress` is made once per call, not
// per event: boxing it would only make callers' matches noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Stopped before the requested event; the run can continue.
    Paused,
    /// The run ended.
    Finished(RunReport),
}

pub(crate) enum Payload<P: Process> {
    Start,
    Deliver {
        from: ProcessId,
        sent_at: Instant,
        message: P::Message,
    },
    Timer {
        id: TimerId,
        timer: P::Timer,
    },
    FaultBegin(u32),
    FaultEnd(u32),
    /// The husk left at the top of the queue while its event is being handled (see `take_top`).
    Consumed,
    Heal,
}

pub(crate) struct Event<P: Process> {
    time: Instant,
    seq: u64,
    target: u32,
    incarnation: u32,
    payload: Payload<P>,
}

impl<P: Process> PartialEq for Event<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<P: Process> Eq for Event<P> {}
impl<P: Process> PartialOrd for Event<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: Process> Ord for Event<P> {
    // Reversed: BinaryHeap is a max-heap and the earliest (time, seq) must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

pub(crate) struct HostState<P: Process> {
    pub(crate) clock: Clock,
    pub(crate) disk: Disk,
    pub(crate) up: bool,
    pub(crate) paused: bool,
    deferred: Vec<Event<P>>,
    processes: Vec<ProcessId>,
    disk_rng: Random,
    /// Drift to return to when a drift fault ends.
    base_drift_ppm: i64,
    /// Active `Fault::Degrade` conditions as (fault index, mode), in the order they began.
    /// Environmental: a crash keeps them, their end or the heal removes them.
    pub(crate) degradations: Vec<(u32, String)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcMeta {
    pub(crate) host: HostId,
    pub(crate) incarnation: u32,
    pub(crate) alive: bool,
    boot: bool,
    /// Killed by a fault (so the heal restarts it), as opposed to stopped by a sibling.
    killed: bool,
}

/// Everything but the process states, so a handler can hold its own state mutably while the
/// context reaches the rest.
pub(crate) struct Core<P: Process> {
    pub(crate) now: Instant,
    seq: u64,
    queue: BinaryHeap<Event<P>>,
    /// Whether the top of `queue` is the husk of the event being handled (see `take_top`).
    husk_on_top: bool,
    pub(crate) hosts: Vec<HostState<P>>,
    pub(crate) procs: Vec<ProcMeta>,
    /// Each process's crashes, kills, stops, restarts, pauses and resumes, in order.
    pub(crate) lifecycles: Vec<Vec<LifecycleEvent>>,
    net: Network,
    net_rng: Random,
    next_timer: u64,
    pub(crate) live_timers: TimerSet,
    pub(crate) event_index: u64,
    fingerprint: Fingerprint,
    recorder: FlightRecorder,
    observer: Option<Box<dyn Observer>>,
    pub(crate) metrics: Metrics,
    pub(crate) history: Vec<HistoryEntry<P::Operation>>,
    spawned: Vec<(ProcessId, P)>,
    pub(crate) stopped: Vec<ProcessId>,
    pub(crate) stop_requested: bool,
    pub(crate) deliveries: u64,
    disk_faults: DiskFaultConfig,
}

impl<P: Process> Core<P> {
    #[inline]
    fn push(&mut self, time: Instant, target: u32, incarnation: u32, payload: Payload<P>) {
        self.seq += 1;
        let event = Event {
            time,
            seq: self.seq,
            target,
            incarnation,
            payload,
        };
        if self.husk_on_top {
            // The event being handled still sits at the top as a husk. Every new event sorts
            // after it (time >= now, larger sequence), so writing the new event over the husk
            // and sifting it down keeps the heap valid: one sift instead of a pop and a push.
            self.husk_on_top = false;
            *self.queue.peek_mut().expect("the husk is in the queue") = event;
        } else {
            self.queue.push(event);
        }
    }

    /// Takes the earliest event's contents, leaving a husk with the same (time, sequence) at
    /// the top of the queue; the first event pushed while handling it replaces the husk, and
    /// `drop_husk` removes it if none was. Event order is exactly that of pop-then-push.
    #[inline]
    fn take_top(&mut self) -> Option<Event<P>> {
        let mut top = self.queue.peek_mut()?;
        let payload = std::mem::replace(&mut top.payload, Payload::Consumed);
        let event = Event {
            time: top.time,
            seq: top.seq,
            target: top.target,
            incarnation: top.incarnation,
            payload,
        };
        drop(top);
        self.husk_on_top = true;
        Some(event)
    }

    /// Removes the husk of the event just handled, if nothing replaced it.
    #[inline]
    fn drop_husk(&mut self) {
        if self.husk_on_top {
            self.husk_on_top = false;
            self.queue.pop();
        }
    }

    // Always inlined: the record is built field by field at each call site, and passing it
    // through a call cost a store and reload of 48 bytes per event.
    #[inline(always)]
    pub(crate) fn emit(&mut self, record: EventRecord, detail: EventDetail<'_>) {
        self.fingerprint.add(&record);
        self.recorder.push(record);
        if let Some(obs) = self.observer.as_mut() {
            obs.on_event(&record, detail);
        }
    }

    #[inline]
    pub(crate) fn send(&mut self, from: ProcessId, from_host: HostId, to: ProcessId, message: P::Message) {
        let target = self.procs[to.index()];
        let now = self.now;
        match self.net.transmit(from_host, target.host, now, &mut self.net_rng) {
            Transmission::Dropped => {}
            Transmission::Once(t) => {
                self.push(
                    t,
                    to.0,
                    target.incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message,
                    },
                );
            }
            Transmission::Twice(t1, t2) => {
                self.push(
                    t1,
                    to.0,
                    target.incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message: message.clone(),
                    },
                );
                self.push(
                    t2,
                    to.0,
                    target.incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message,
                    },
                );
            }
        }
    }

    pub(crate) fn set_timer(
        &mut self,
        me: ProcessId,
        host: HostId,
        after: Duration,
        timer: P::Timer,
    ) -> TimerId {
        self.next_timer += 1;
        let id = self.next_timer;
        self.live_timers.insert(id);
        let delay = self.hosts[host.index()].clock.true_duration(after);
        let at = self.now.saturating_add(delay);
        let incarnation = self.procs[me.index()].incarnation;
        self.push(
            at,
            me.0,
            incarnation,
            Payload::Timer {
                id: TimerId(id),
                timer,
            },
        );
        TimerId(id)
    }

    fn new_process(&mut self, host: HostId, boot: bool) -> ProcessId {
        let id = ProcessId(self.procs.len() as u32);
        self.procs.push(ProcMeta {
            host,
            incarnation: 0,
            alive: true,
            boot,
            killed: false,
        });
        self.lifecycles.push(Vec::new());
        self.hosts[host.index()].processes.push(id);
        id
    }

    /// Appends a lifecycle event for `id` at the current time and incarnation.
    fn note_lifecycle(&mut self, id: ProcessId, kind: Lifecycle) {
        let incarnation = self.procs[id.index()].incarnation;
        let events = &mut self.lifecycles[id.index()];
        debug_assert!(
            events.last().is_none_or(|e| e.incarnation <= incarnation),
            "incarnations never decrease"
        );
        events.push(LifecycleEvent {
            time: self.now,
            kind,
            incarnation,
        });
    }

    /// Pauses or resumes the lifecycle of every live process on `host`.
    fn note_host_lifecycle(&mut self, host: HostId, kind: Lifecycle) {
        for i in 0..self.hosts[host.index()].processes.len() {
            let id = self.hosts[host.index()].processes[i];
            if self.procs[id.index()].alive {
                self.note_lifecycle(id, kind);
            }
        }
    }

    pub(crate) fn spawn_from_handler(&mut self, host: HostId, process: P) -> ProcessId {
        let id = self.new_process(host, false);
        self.push(self.now, id.0, 0, Payload::Start);
        self.spawned.push((id, process));
        id
    }
}

/// A simulation of one model on one topology under one seed.
///
/// Build it (`new`, `spawn`, `set_fault_plan`, `add_property`), then `run` it. The same
/// inputs always give the same run, event for event.
pub struct Sim<P: Process> {
    core: Core<P>,
    states: Vec<Option<P>>,
    boot_images: Vec<P>,
    rngs: Vec<Random>,
    properties: Vec<Property<P>>,
    /// Next check time of each `Always` property with a cadence (indexed like `properties`).
    next_check: Vec<Instant>,
    /// Whether each `Eventually` property has been satisfied.
    satisfied: Vec<bool>,
    plan: FaultPlan,
    heal_at: Instant,
    config: SimConfig,
    hosts: Vec<HostSpec>,
    started: bool,
    finished: Option<RunReport>,
}

impl<P: Process> fmt::Debug for Sim<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.config.seed)
            .field("now", &self.core.now)
            .field("events", &self.core.event_index)
            .field("processes", &self.states.len())
            .finish()
    }
}

impl<P: Process> Sim<P> {
    /// A new simulation of `topology` with no processes yet.
    pub fn new(config: SimConfig, topology: &Topology) -> Sim<P> {
        let seed = config.seed;
        let hosts: Vec<HostState<P>> = topology
            .hosts()
            .iter()
            .enumerate()
            .map(|(i, spec)| HostState {
                clock: Clock::new(spec.clock),
                disk: Disk::default(),
                up: true,
                paused: false,
                deferred: Vec::new(),
                processes: Vec::new(),
                disk_rng: Random::stream(seed, "disk", i as u64),
                base_drift_ppm: spec.clock.drift_ppm,
                degradations: Vec::new(),
            })
            .collect();
        Sim {
            core: Core {
                now: Instant::ZERO,
                seq: 0,
                queue: BinaryHeap::with_capacity(1024),
                husk_on_top: false,
                hosts,
                procs: Vec::new(),
                lifecycles: Vec::new(),
                net: Network::new(topology),
                net_rng: Random::stream(seed, "network", 0),
                next_timer: 0,
                live_timers: TimerSet::default(),
                event_index: 0,
                fingerprint: Fingerprint::default(),
                recorder: FlightRecorder::new(config.flight_recorder),
                observer: None,
                metrics: Metrics::default(),
                history: Vec::new(),
                spawned: Vec::new(),
                stopped: Vec::new(),
                stop_requested: false,
                deliveries: 0,
                disk_faults: config.disk_faults,
            },
            states: Vec::new(),
            boot_images: Vec::new(),
            rngs: Vec::new(),
            properties: Vec::new(),
            next_check: Vec::new(),
            satisfied: Vec::new(),
            plan: FaultPlan::none(),
            heal_at: Instant::ZERO,
            config,
            hosts: topology.hosts().to_vec(),
            started: false,
            finished: None,
        }
    }

    /// Places a boot process on `host`. Boot processes start at time zero in spawn order (after
    /// any fault planned for time zero), and a host restart brings them back from a clone of
    /// `process`.
    pub fn spawn(&mut self, host: HostId, process: P) -> ProcessId {
        assert!(host.index() < self.hosts.len(), "no host {host}");
        let id = self.core.new_process(host, true);
        if self.started {
            self.core.push(self.core.now, id.0, 0, Payload::Start);
        }
        self.install(id, process);
        id
    }

    fn install(&mut self, id: ProcessId, process: P) {
        let incarnation = self.core.procs[id.index()].incarnation;
        let rng = Random::stream(
            self.config.seed,
            "process",
            (u64::from(id.0) << 32) | u64::from(incarnation),
        );
        if id.index() == self.states.len() {
            self.boot_images.push(process.clone());
            self.states.push(Some(process));
            self.rngs.push(rng);
        } else {
            self.states[id.index()] = Some(process);
            self.rngs[id.index()] = rng;
        }
    }

    /// Sets the fault plan. Must be called before the run starts; checks the hosts it names.
    pub fn set_fault_plan(&mut self, plan: FaultPlan) -> Result<(), String> {
        assert!(!self.started, "the fault plan is fixed once the run starts");
        plan.validate(&self.hosts)?;
        self.plan = plan;
        self.plan.sort();
        Ok(())
    }

    /// The fault plan in force.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Adds a property to check.
    pub fn add_property(&mut self, property: Property<P>) {
        self.next_check.push(Instant::ZERO);
        self.satisfied.push(false);
        self.properties.push(property);
    }

    /// Adds every property of a list (a `Vec<Property<P>>` or a [`Properties<P>`](crate::Properties)).
    pub fn add_properties(&mut self, properties: impl IntoIterator<Item = Property<P>>) {
        for property in properties {
            self.add_property(property);
        }
    }

    /// Attaches an observer that sees every event (for full traces).
    pub fn set_observer(&mut self, observer: Box<dyn Observer>) {
        self.core.observer = Some(observer);
    }

    /// Detaches and returns the observer.
    pub fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        self.core.observer.take()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }
    /// True time now.
    pub fn now(&self) -> Instant {
        self.core.now
    }
    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.core.event_index
    }
    /// A live process's state.
    pub fn process(&self, id: ProcessId) -> Option<&P> {
        self.states.get(id.index()).and_then(|s| s.as_ref())
    }
    /// Number of processes ever spawned.
    pub fn process_count(&self) -> usize {
        self.states.len()
    }
    /// The host a process lives on.
    pub fn host_of(&self, id: ProcessId) -> HostId {
        self.core.procs[id.index()].host
    }
    /// The hosts of the topology.
    pub fn hosts(&self) -> &[HostSpec] {
        &self.hosts
    }
    /// Whether a host is up.
    pub fn host_up(&self, host: HostId) -> bool {
        self.core.hosts[host.index()].up
    }
    /// Whether a host is paused.
    pub fn host_paused(&self, host: HostId) -> bool {
        self.core.hosts[host.index()].paused
    }
    /// A host's wall-clock reading now.
    pub fn local_time(&self, host: HostId) -> Instant {
        self.core.hosts[host.index()].clock.local(self.core.now)
    }
    /// A host's monotonic reading now (the wall clock without its jumps).
    pub fn monotonic_time(&self, host: HostId) -> Instant {
        self.core.hosts[host.index()].clock.monotonic(self.core.now)
    }
    /// The metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }
    /// A process's crashes, kills, stops, restarts, pauses and resumes so far, in order.
    pub fn lifecycle(&self, id: ProcessId) -> &[LifecycleEvent] {
        &self.core.lifecycles[id.index()]
    }
    /// The history so far.
    pub fn history(&self) -> &[HistoryEntry<P::Operation>] {
        &self.core.history
    }
    /// Whether messages from `a` currently reach `b`.
    pub fn reachable(&self, a: HostId, b: HostId) -> bool {
        self.core.net.reachable(a, b)
    }
    /// The fingerprint so far.
    pub fn fingerprint(&self) -> u64 {
        self.core.fingerprint.value()
    }
    /// Events waiting in the queue.
    pub fn queue_len(&self) -> usize {
        self.core.queue.len()
    }

    /// Runs to the end and returns the report.
    pub fn run(&mut self) -> RunReport {
        match self.run_until_event(u64::MAX) {
            Progress::Finished(r) => r,
            Progress::Paused => unreachable!("run_until_event(MAX) cannot pause"),
        }
    }

    fn start(&mut self) {
        self.started = true;
        for (i, a) in self.plan.actions.iter().enumerate() {
            self.core.push(a.at, NONE, 0, Payload::FaultBegin(i as u32));
            if let Some(d) = a.fault.duration() {
                self.core
                    .push(a.at.saturating_add(d), NONE, 0, Payload::FaultEnd(i as u32));
            }
        }
        self.heal_at = self.plan.faults_end();
        if !self.plan.actions.is_empty() {
            self.core.push(self.heal_at, NONE, 0, Payload::Heal);
        }
        // Boot processes start after the faults are queued, so a fault at time t takes effect
        // before anything a process does at t.
        for id in 0..self.states.len() {
            self.core.push(Instant::ZERO, id as u32, 0, Payload::Start);
        }
    }

    /// Runs until `index` events have been processed (then pauses, so the state can be
    /// inspected) or the run ends.
    pub fn run_until_event(&mut self, index: u64) -> Progress {
        if let Some(r) = &self.finished {
            return Progress::Finished(r.clone());
        }
        if !self.started {
            self.start();
        }
        let horizon = Instant(self.config.limits.horizon.0);
        while self.core.event_index < index {
            let Some(next_time) = self.core.queue.peek().map(|e| e.time) else {
                return self.finish(None);
            };
            if !self.properties.is_empty()
                && let Some(f) = self.liveness_deadline_passed(next_time.min(horizon))
            {
                return self.finish(Some(f));
            }
            if next_time > horizon {
                self.core.now = horizon;
                return self.finish(None);
            }
            let event = self.core.take_top().expect("peeked");
            self.core.now = event.time;
            let dispatched = self.dispatch(event);
            self.core.drop_husk();
            if let Err(f) = dispatched {
                return self.finish(Some(f));
            }
            if self.core.stop_requested {
                return self.finish(None);
            }
            if self.core.event_index >= self.config.limits.max_events {
                let f = self.limit_failure(format!(
                    "event budget of {} exhausted at {} (the run is not converging or the budget is too small)",
                    self.config.limits.max_events, self.core.now
                ));
                return self.finish(Some(f));
            }
            if self.core.queue.len() > self.config.limits.max_queue {
                let f = self.limit_failure(format!(
                    "event queue grew past its bound of {} (runaway message or timer creation?)",
                    self.config.limits.max_queue
                ));
                return self.finish(Some(f));
            }
            if !self.properties.is_empty()
                && let Some(f) = self.check_properties()
            {
                return self.finish(Some(f));
            }
        }
        Progress::Paused
    }

    fn limit_failure(&self, message: String) -> Failure {
        Failure {
            verdict: Verdict::LimitExceeded,
            property: None,
            message,
            time: self.core.now,
            host: None,
            process: None,
            event_index: self.core.event_index,
        }
    }

    fn finish(&mut self, failure: Option<Failure>) -> Progress {
        let failure = failure
            .or_else(|| self.liveness_deadline_passed(Instant::MAX))
            .or_else(|| self.check_at_end());
        let report = RunReport {
            seed: self.config.seed,
            verdict: failure.as_ref().map_or(Verdict::Held, |f| f.verdict),
            failure,
            events: self.core.event_index,
            deliveries: self.core.deliveries,
            end_time: self.core.now,
            fingerprint: self.core.fingerprint.value(),
            last_events: self.core.recorder.events(),
            metrics: self.core.metrics.clone(),
        };
        self.finished = Some(report.clone());
        Progress::Finished(report)
    }

    /// Runs one check under `catch_unwind`, turning a panicking checker into a failure.
    fn run_check(&self, i: usize) -> Result<(), (Verdict, String)> {
        let view = View {
            core: &self.core,
            states: &self.states,
        };
        match catch_unwind(AssertUnwindSafe(|| (self.properties[i].check)(&view))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err((Verdict::SafetyViolation, msg)),
            Err(panic) => Err((
                Verdict::ModelPanic,
                format!("checker panicked: {}", panic_message(&*panic)),
            )),
        }
    }

    fn property_failure(&self, i: usize, verdict: Verdict, message: String, time: Instant) -> Failure {
        Failure {
            verdict,
            property: Some(self.properties[i].name.clone()),
            message,
            time,
            host: None,
            process: None,
            event_index: self.core.event_index,
        }
    }

    fn check_properties(&mut self) -> Option<Failure> {
        let now = self.core.now;
        for i in 0..self.properties.len() {
            match self.properties[i].kind {
                PropertyKind::Always { cadence } => {
                    if let Some(c) = cadence {
                        if now < self.next_check[i] {
                            continue;
                        }
                        self.next_check[i] = now.saturating_add(c);
                    }
                    if let Err((v, msg)) = self.run_check(i) {
                        return Some(self.property_failure(i, v, msg, now));
                    }
                }
                PropertyKind::Eventually { .. } => {
                    if self.satisfied[i] || now < self.heal_at {
                        continue;
                    }
                    match self.run_check(i) {
                        Ok(()) => self.satisfied[i] = true,
                        Err((Verdict::ModelPanic, msg)) => {
                            return Some(self.property_failure(i, Verdict::ModelPanic, msg, now));
                        }
                        Err(_) => {}
                    }
                }
                PropertyKind::AtEnd => {}
            }
        }
        None
    }

    /// A liveness failure if some `Eventually` property's deadline is before `before`.
    fn liveness_deadline_passed(&self, before: Instant) -> Option<Failure> {
        for (i, p) in self.properties.iter().enumerate() {
            if let PropertyKind::Eventually { within } = p.kind {
                let deadline = self.heal_at.saturating_add(within);
                if !self.satisfied[i] && deadline < before {
                    let last = self.run_check(i).err().map(|(_, m)| m).unwrap_or_default();
                    let time = if before == Instant::MAX {
                        self.core.now
                    } else {
                        deadline
                    };
                    let msg = if before == Instant::MAX && deadline > self.core.now {
                        format!(
                            "did not hold when the run ended at {} (deadline {deadline}): {last}",
                            self.core.now
                        )
                    } else {
                        format!(
                            "did not hold within {within} of the heal at {}: {last}",
                            self.heal_at
                        )
                    };
                    return Some(self.property_failure(i, Verdict::LivenessFailure, msg, time));
                }
            }
        }
        None
    }

    fn check_at_end(&self) -> Option<Failure> {
        for (i, p) in self.properties.iter().enumerate() {
            if p.kind == PropertyKind::AtEnd
                && let Err((v, msg)) = self.run_check(i)
            {
                return Some(self.property_failure(i, v, msg, self.core.now));
            }
        }
        None
    }

    fn record(&self, kind: RecordKind, process: u32, peer: u32, aux: u64, digest: u64) -> EventRecord {
        let host = if process == NONE {
            NONE
        } else {
            self.core.procs[process as usize].host.0
        };
        EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind,
            process,
            host,
            peer,
            aux,
            digest,
        }
    }

    /// Handles one event; a model panic becomes a failure.
    fn dispatch(&mut self, event: Event<P>) -> Result<(), Failure> {
        let target = event.target;
        match event.payload {
            Payload::FaultBegin(i) => {
                self.apply_fault(i as usize, true);
                return Ok(());
            }
            Payload::FaultEnd(i) => {
                self.apply_fault(i as usize, false);
                return Ok(());
            }
            Payload::Heal => {
                self.heal();
                return Ok(());
            }
            _ => {}
        }
        if let Payload::Timer { id, .. } = &event.payload
            && !self.core.live_timers.contains(&id.0)
        {
            return Ok(()); // cancelled: not an event
        }
        let meta = self.core.procs[target as usize];
        let host = &self.core.hosts[meta.host.index()];
        let deliverable = meta.alive && meta.incarnation == event.incarnation && host.up;
        if host.paused && deliverable {
            let r = self.record(RecordKind::Deferred, target, NONE, 0, 0);
            self.core.emit(r, EventDetail::None);
            self.core.event_index += 1;
            self.core.hosts[meta.host.index()].deferred.push(event);
            return Ok(());
        }
        if let Payload::Timer { id, .. } = &event.payload {
            self.core.live_timers.remove(&id.0);
        }
        if !deliverable {
            let (peer, digest) = match &event.payload {
                Payload::Deliver { from, message, .. } => (from.0, digest(message)),
                Payload::Timer { timer, .. } => (NONE, digest(timer)),
                _ => (NONE, 0),
            };
            let r = self.record(RecordKind::Dropped, target, peer, 0, digest);
            self.core.emit(r, EventDetail::None);
            self.core.event_index += 1;
            return Ok(());
        }
        let state = self.states[target as usize]
            .as_mut()
            .expect("live process has a state");
        let mut ctx = Context {
            core: &mut self.core,
            me: ProcessId(target),
            host: meta.host,
            rng: &mut self.rngs[target as usize],
        };
        let outcome = match event.payload {
            Payload::Deliver {
                from,
                sent_at,
                message,
            } => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Deliver,
                    process: target,
                    host: meta.host.0,
                    peer: from.0,
                    aux: sent_at.0,
                    digest: digest(&message),
                };
                ctx.core.emit(record, EventDetail::Message(&message));
                ctx.core.deliveries += 1;
                catch_unwind(AssertUnwindSafe(|| state.on_message(&mut ctx, from, message)))
            }
            Payload::Timer { id, timer } => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Timer,
                    process: target,
                    host: meta.host.0,
                    peer: NONE,
                    aux: id.0,
                    digest: digest(&timer),
                };
                ctx.core.emit(record, EventDetail::Timer(&timer));
                catch_unwind(AssertUnwindSafe(|| state.on_timer(&mut ctx, timer)))
            }
            Payload::Start => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Start,
                    process: target,
                    host: meta.host.0,
                    peer: NONE,
                    aux: u64::from(meta.incarnation),
                    digest: 0,
                };
                ctx.core.emit(record, EventDetail::None);
                catch_unwind(AssertUnwindSafe(|| state.on_start(&mut ctx)))
            }
            Payload::FaultBegin(_) | Payload::FaultEnd(_) | Payload::Heal | Payload::Consumed => {
                unreachable!("handled above")
            }
        };
        self.core.event_index += 1;
        if let Err(panic) = outcome {
            return Err(Failure {
                verdict: Verdict::ModelPanic,
                property: None,
                message: format!("handler panicked: {}", panic_message(&*panic)),
                time: self.core.now,
                host: Some(meta.host),
                process: Some(ProcessId(target)),
                event_index: self.core.event_index - 1,
            });
        }
        if !self.core.spawned.is_empty() {
            for (id, p) in std::mem::take(&mut self.core.spawned) {
                self.install(id, p);
            }
        }
        if !self.core.stopped.is_empty() {
            for id in std::mem::take(&mut self.core.stopped) {
                self.kill(id, Lifecycle::Stopped);
            }
        }
        Ok(())
    }

    /// Ends a process's current incarnation: state gone, pending events and timers void.
    /// `why` is what its lifecycle records (with the incarnation that ended).
    fn kill(&mut self, id: ProcessId, why: Lifecycle) {
        if self.core.procs[id.index()].alive {
            self.core.note_lifecycle(id, why);
            let meta = &mut self.core.procs[id.index()];
            meta.alive = false;
            meta.incarnation += 1;
            self.states[id.index()] = None;
        }
    }

    /// Starts a new incarnation from the boot image.
    fn restart(&mut self, id: ProcessId) {
        let meta = &mut self.core.procs[id.index()];
        if meta.alive {
            return;
        }
        meta.alive = true;
        meta.killed = false;
        meta.incarnation += 1;
        let incarnation = meta.incarnation;
        self.core.note_lifecycle(id, Lifecycle::Restarted);
        let image = self.boot_images[id.index()].clone();
        self.install(id, image);
        self.core.push(self.core.now, id.0, incarnation, Payload::Start);
    }

    fn crash_host(&mut self, h: HostId) {
        let host = &mut self.core.hosts[h.index()];
        if !host.up {
            return;
        }
        host.up = false;
        host.paused = false;
        host.deferred.clear();
        host.disk.crash(&self.core.disk_faults, &mut host.disk_rng);
        for id in host.processes.clone() {
            self.kill(id, Lifecycle::Crashed);
        }
    }

    fn restart_host(&mut self, h: HostId) {
        let host = &mut self.core.hosts[h.index()];
        if host.up {
            return;
        }
        host.up = true;
        for id in host.processes.clone() {
            if self.core.procs[id.index()].boot {
                self.restart(id);
            }
        }
    }

    fn resume_host(&mut self, h: HostId) {
        let now = self.core.now;
        let host = &mut self.core.hosts[h.index()];
        if !host.paused {
            return;
        }
        host.paused = false;
        self.core.note_host_lifecycle(h, Lifecycle::Resumed);
        let host = &mut self.core.hosts[h.index()];
        // Re-queued in arrival order at the resume time: handled in order, timers late.
        for ev in std::mem::take(&mut host.deferred) {
            self.core.push(now, ev.target, ev.incarnation, ev.payload);
        }
    }

    fn boot_process_of(&self, h: HostId, index: u32) -> Option<ProcessId> {
        let boots: Vec<ProcessId> = self.core.hosts[h.index()]
            .processes
            .iter()
            .copied()
            .filter(|p| self.core.procs[p.index()].boot)
            .collect();
        (!boots.is_empty()).then(|| boots[index as usize % boots.len()])
    }

    fn apply_fault(&mut self, i: usize, begin: bool) {
        let fault = self.plan.actions[i].fault.clone();
        let kind = if begin {
            RecordKind::FaultBegin
        } else {
            RecordKind::FaultEnd
        };
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind,
            process: NONE,
            host: NONE,
            peer: i as u32,
            aux: 0,
            digest: digest(&format!("{fault:?}")),
        };
        self.core.emit(r, EventDetail::Fault(&fault));
        self.core.event_index += 1;
        // Ends of faults already undone by the heal are no-ops.
        if !begin && self.core.now > self.heal_at {
            return;
        }
        let now = self.core.now;
        let id = i as u64;
        match fault {
            Fault::CrashHost { host, .. } => {
                if begin {
                    self.crash_host(host)
                } else {
                    self.restart_host(host)
                }
            }
            Fault::PauseHost { host, .. } => {
                let hs = &mut self.core.hosts[host.index()];
                if begin {
                    if hs.up && !hs.paused {
                        hs.paused = true;
                        self.core.note_host_lifecycle(host, Lifecycle::Paused);
                    }
                } else {
                    self.resume_host(host);
                }
            }
            Fault::KillProcess {
                host, process_index, ..
            } => {
                if let Some(p) = self.boot_process_of(host, process_index) {
                    if begin {
                        if self.core.procs[p.index()].alive && self.core.hosts[host.index()].up {
                            self.kill(p, Lifecycle::Killed);
                            self.core.procs[p.index()].killed = true;
                        }
                    } else if self.core.procs[p.index()].killed && self.core.hosts[host.index()].up {
                        self.restart(p);
                    }
                }
            }
            Fault::Partition { partition, .. } => {
                if begin {
                    self.core.net.add_partition(id, partition)
                } else {
                    self.core.net.remove_partition(id)
                }
            }
            Fault::Clog { from, to, duration } => {
                if begin {
                    self.core.net.add_clog(id, from, to, now.saturating_add(duration));
                } else {
                    self.core.net.remove_link_fault(id);
                }
            }
            Fault::SlowLink { from, to, factor, .. } => {
                if begin {
                    self.core.net.add_slow(id, from, to, factor)
                } else {
                    self.core.net.remove_link_fault(id)
                }
            }
            Fault::ClockJump { host, delta_ns } => self.core.hosts[host.index()].clock.jump(now, delta_ns),
            Fault::ClockDrift { host, drift_ppm, .. } => {
                let hs = &mut self.core.hosts[host.index()];
                let ppm = if begin { drift_ppm } else { hs.base_drift_ppm };
                hs.clock.set_drift(now, ppm);
            }
            Fault::NetworkChaos { chaos, .. } => self.core.net.set_chaos(begin.then_some(chaos)),
            Fault::Degrade { host, mode, .. } => {
                let active = &mut self.core.hosts[host.index()].degradations;
                if begin {
                    active.push((i as u32, mode));
                } else {
                    active.retain(|(k, _)| *k != i as u32);
                }
            }
        }
    }

    /// Undoes every fault: restarts crashed hosts and killed processes, resumes paused hosts,
    /// heals the network, restores clock rates and ends degradations. Clock readings keep any
    /// jumps.
    fn heal(&mut self) {
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: RecordKind::Heal,
            process: NONE,
            host: NONE,
            peer: NONE,
            aux: 0,
            digest: 0,
        };
        self.core.emit(r, EventDetail::None);
        self.core.event_index += 1;
        self.core.net.heal();
        let now = self.core.now;
        for h in 0..self.core.hosts.len() {
            let host = HostId(h as u32);
            self.restart_host(host);
            self.resume_host(host);
            let hs = &mut self.core.hosts[h];
            let base = hs.base_drift_ppm;
            hs.clock.set_drift(now, base);
            hs.degradations.clear();
        }
        for p in 0..self.core.procs.len() {
            if self.core.procs[p].killed {
                self.restart(ProcessId(p as u32));
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Where two runs of the same seed first differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Position of the first differing event.
    pub index: usize,
    /// That event in the first run (`None` if the first run ended earlier).
    pub first: Option<EventRecord>,
    /// That event in the second run (`None` if the second run ended earlier).
    pub second: Option<EventRecord>,
    /// Up to five events both runs agreed on just before.
    pub before: Vec<EventRecord>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs diverge at event #{}:", self.index)?;
        for r in &self.before {
            writeln!(f, "    both:   {r:?}")?;
        }
        writeln!(f, "    first:  {:?}", self.first)?;
        write!(f, "    second: {:?}", self.second)
    }
}

/// Builds and runs the same simulation twice, comparing every event. Returns the report of the
/// first run, or where the two first differ (a determinism bug in the engine or the model).
/// `build` may return a `Sim<P>` or a `Box<dyn Simulation>`.
pub fn check_determinism<S: Simulation>(build: impl Fn() -> S) -> Result<RunReport, Box<Divergence>> {
    let run = || {
        let mut sim = build();
        let (tx, records) = shared_recording();
        sim.set_observer(Box::new(tx));
        let report = sim.run();
        drop(sim);
        (report, records.take())
    };
    let (report, a) = run();
    let (report_b, b) = run();
    let first_diff = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())));
    match first_diff {
        None if report.fingerprint == report_b.fingerprint => Ok(report),
        None => Err(Box::new(Divergence {
            index: a.len(),
            first: None,
            second: None,
            before: Vec::new(),
        })),
        Some(index) => Err(Box::new(Divergence {
            index,
            first: a.get(index).copied(),
            second: b.get(index).copied(),
            before: a[index.saturating_sub(5)..index].to_vec(),
        })),
    }
}

/// An observer that appends into a vector shared with its creator (single-threaded).
fn shared_recording() -> (SharedRecorder, std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>) {
    let cell = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    (SharedRecorder(cell.clone()), cell)
}

struct SharedRecorder(std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>);

impl Observer for SharedRecorder {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.0.borrow_mut().push(*record);
    }
}
