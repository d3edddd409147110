//! The engine: one thread, one event queue ordered by (time, sequence), one seed.
//!
//! One file per concept: `core` (what a handler's context reaches), `queue` (the event
//! queue, a timing wheel),
//! `dispatch` (the event loop), `lifecycle` (crash, kill, restart, pause), `faults` (the plan's
//! faults and the heal), `checks` (properties and limits), `report` (verdicts and reports) and
//! `determinism` (`check_determinism`).

mod checks;
pub(crate) mod core;
mod determinism;
mod dispatch;
mod faults;
#[cfg(test)]
mod host_tests;
mod lifecycle;
mod queue;
#[cfg(test)]
mod read_ahead_tests;
mod report;
#[cfg(test)]
mod spawn_tests;
#[cfg(test)]
mod stream_tests;

pub use checks::Limits;
pub(crate) use core::Core;
pub use determinism::check_determinism;
pub(crate) use report::panic_message;
pub use report::{FailedOperation, Failure, ProcessLabel, Progress, RunReport, Verdict};

use crate::buggify::{Buggify, BuggifyConfig};
use crate::clock::Clock;
use crate::costs::DiskTiming;
use crate::disk::{Disk, DiskFaultConfig};
use crate::fault::FaultPlan;
use crate::metrics::Metrics;
use crate::network::{HostId, HostSpec, Network, Topology};
use crate::process::{HistoryEntry, Process, ProcessId};
use crate::property::{LifecycleEvent, Property};
use crate::record::{Fingerprint, FlightRecorder, Observer, digest};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use crate::timers::TimerSet;
use core::{HostState, HostStatus, Payload};
use queue::EventQueue;
use std::collections::BTreeMap;
use std::fmt;

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
    /// Most processes a run may hold (every spawn counts; restarts reuse their process): a
    /// spawn past it is refused, and the run ends with a `LimitExceeded` verdict.
    pub max_processes: usize,
    /// Which random streams message delays and role-fault picks draw from.
    pub streams: StreamLayout,
}

/// How the network's and the role faults' random draws are split into streams.
///
/// [`Shared`](StreamLayout::Shared), the default, is one `"network"` stream for every
/// host's message delays and network chaos and one `"faults/targets"` stream for every random
/// role pick: the layout every run used before the choice existed, so old traces and the
/// golden fingerprints stay valid, and the cheapest at scale (with a stream per host, each
/// delivery touches one more cold stream; 10,000-host pingpong took 1.6-1.8x the CPU time).
///
/// [`PerSource`](StreamLayout::PerSource) (`topology.streams = "per_source"`) gives each
/// sending host its own network stream (`"network"`, host index) and each role-targeted
/// fault its own pick stream, keyed by its start time and role (plus a count among actions
/// with equal keys), not by its place in the plan. Then what one host sends moves no other
/// host's delays, and removing a fault (as shrinking does) moves no other fault's picks, so a
/// churn failure of many faults can shrink further.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamLayout {
    /// One network stream and one fault-target stream for the whole run (the default).
    #[default]
    Shared,
    /// A network stream per sending host and a target stream per role-targeted fault.
    PerSource,
}

/// [`SimConfig::max_processes`] unless set: far above any model's need, far below what would
/// exhaust memory.
pub const DEFAULT_MAX_PROCESSES: usize = 1_000_000;

/// A spawn the engine refused because the run already holds [`SimConfig::max_processes`]
/// processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnLimitExceeded {
    /// The bound in force.
    pub bound: usize,
    /// The host the process was to run on.
    pub host: HostId,
    /// When the spawn was asked for (zero during setup).
    pub at: Instant,
}

impl fmt::Display for SpawnLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the model spawned more than {} processes (the bound on processes per run; refused a spawn on {} at {})",
            self.bound, self.host, self.at
        )
    }
}

impl std::error::Error for SpawnLimitExceeded {}

impl SimConfig {
    /// Defaults with the given seed.
    pub fn with_seed(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            limits: Limits::default(),
            flight_recorder: 64,
            disk_faults: DiskFaultConfig::default(),
            max_processes: DEFAULT_MAX_PROCESSES,
            streams: StreamLayout::default(),
        }
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
    /// The digest of each planned fault's description, which its begin and end records carry:
    /// computed with the plan, so recording a fault costs the same whatever hosts it names.
    fault_digests: Vec<u64>,
    heal_at: Instant,
    /// The stream random role picks draw from under [`StreamLayout::Shared`]
    /// (`"faults/targets"`), used only when one resolves.
    targets_rng: Random,
    /// Each plan action's own target stream index under [`StreamLayout::PerSource`], by
    /// plan index (see `faults::target_stream_keys`); empty under `Shared`, which never reads it.
    target_keys: Vec<u64>,
    /// The processes each begun role-targeted fault hit, by plan index, for its end.
    role_hits: BTreeMap<usize, Vec<ProcessId>>,
    config: SimConfig,
    hosts: Vec<HostSpec>,
    started: bool,
    finished: Option<RunReport>,
    /// Whether a property failure ends the run ([`Sim::set_run_to_horizon`]).
    run_to_horizon: bool,
    /// The first property failure of a run that goes on to its horizon.
    first_failure: Option<Failure>,
    /// Events left before the loop next reads ahead.
    read_ahead_left: usize,
    /// The targets of the coming events, listed at the start of the read-ahead's batch.
    read_ahead_targets: Vec<u32>,
    /// Where in `read_ahead_targets` the next event is.
    read_ahead_at: usize,
    /// The number of processes from which the loop reads ahead (tests turn it off and on).
    pub(crate) read_ahead_from: usize,
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
        let spread = topology.clock_spread;
        let hosts_len = topology.hosts().len();
        let mut clocks = Vec::with_capacity(hosts_len);
        let hosts: Vec<HostState<P>> = topology
            .hosts()
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut clock = spec.clock;
                let mut busy_until = Instant::ZERO;
                if !spread.is_off() {
                    let d = spread.draw(seed, i);
                    clock.offset_ns = clock.offset_ns.saturating_add(d.offset_ns);
                    clock.drift_ppm = (clock.drift_ppm + d.drift_ppm).clamp(-999_999, 999_999);
                    // Booting: the host's processes start when it is free.
                    busy_until = Instant(d.boot_at.0);
                }
                clocks.push(Clock::new(clock));
                HostState {
                    disk: Disk::default(),
                    deferred: Vec::new(),
                    processes: Vec::new(),
                    disk_rng: Random::stream(seed, "disk", i as u64),
                    base_drift_ppm: clock.drift_ppm,
                    busy_until,
                    handler_cost: spec.costs.handler,
                    cpu_rng: Random::stream(seed, "costs/cpu", i as u64),
                    disk_timing: DiskTiming::new(spec.costs.disk_sync, seed, i),
                    degradations: Vec::new(),
                }
            })
            .collect();
        let status = hosts
            .iter()
            .map(|h| HostStatus {
                up: true,
                paused: false,
                costly: h.handler_cost.is_some() || h.busy_until > Instant::ZERO,
                degraded: false,
            })
            .collect();
        Sim {
            core: Core {
                now: Instant::ZERO,
                seq: 0,
                queue: EventQueue::new(),
                status,
                clocks,
                hosts,
                procs: Vec::new(),
                lifecycles: Vec::new(),
                net: Network::new(topology),
                net_rngs: match config.streams {
                    StreamLayout::PerSource => (0..hosts_len as u64)
                        .map(|h| Random::stream(seed, "network", h))
                        .collect(),
                    StreamLayout::Shared => vec![Random::stream(seed, "network", 0)],
                },
                net_mask: match config.streams {
                    StreamLayout::PerSource => usize::MAX,
                    StreamLayout::Shared => 0,
                },
                next_timer: 0,
                live_timers: TimerSet::default(),
                event_index: 0,
                fingerprint: Fingerprint::default(),
                recorder: FlightRecorder::new(config.flight_recorder),
                observer: None,
                metrics: Metrics::default(),
                history: Vec::new(),
                history_events: Vec::new(),
                spawned: Vec::new(),
                stopped: Vec::new(),
                stop_requested: false,
                running: crate::record::NONE,
                drew: false,
                deliveries: 0,
                spent: Duration::ZERO,
                disk_faults: config.disk_faults,
                max_processes: config.max_processes,
                spawn_refused: None,
                probes: Default::default(),
                blame: Default::default(),
                buggify: Buggify::new(BuggifyConfig::default(), seed),
            },
            states: Vec::new(),
            boot_images: Vec::new(),
            rngs: Vec::new(),
            read_ahead_left: 0,
            read_ahead_targets: Vec::new(),
            read_ahead_at: 0,
            read_ahead_from: dispatch::READ_AHEAD_FROM_PROCESSES,
            properties: Vec::new(),
            next_check: Vec::new(),
            satisfied: Vec::new(),
            plan: FaultPlan::none(),
            fault_digests: Vec::new(),
            heal_at: Instant::ZERO,
            targets_rng: Random::stream(seed, "faults/targets", 0),
            target_keys: Vec::new(),
            role_hits: BTreeMap::new(),
            config,
            hosts: topology.hosts().to_vec(),
            started: false,
            finished: None,
            run_to_horizon: false,
            first_failure: None,
        }
    }

    /// Places a boot process on `host`. Boot processes start at time zero in spawn order (after
    /// any fault planned for time zero), and a host restart brings them back from a clone of
    /// `process`.
    ///
    /// Past [`SimConfig::max_processes`] the spawn is refused: it returns
    /// [`ProcessId::REFUSED`], [`spawn_refused`](Self::spawn_refused) says why, and running
    /// ends at once with a `LimitExceeded` verdict. [`try_spawn`](Self::try_spawn) returns the
    /// refusal instead.
    pub fn spawn(&mut self, host: HostId, process: P) -> ProcessId {
        self.try_spawn(host, process).unwrap_or(ProcessId::REFUSED)
    }

    /// [`spawn`](Self::spawn), or the refusal when the run already holds
    /// [`SimConfig::max_processes`] processes (nothing is allocated for a refused process).
    pub fn try_spawn(&mut self, host: HostId, process: P) -> Result<ProcessId, SpawnLimitExceeded> {
        assert!(host.index() < self.hosts.len(), "no host {host}");
        self.core.admit_spawn(host)?;
        let id = self.core.new_process(host, true);
        if self.started {
            self.core.push(self.core.now, id.0, 0, Payload::Start);
        }
        self.install(id, process);
        Ok(id)
    }

    /// The first spawn refused for being over [`SimConfig::max_processes`], if any (in setup
    /// or from a handler).
    pub fn spawn_refused(&self) -> Option<SpawnLimitExceeded> {
        self.core.spawn_refused
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
        self.fault_digests = self
            .plan
            .actions
            .iter()
            .map(|a| digest(&format!("{:?}", a.fault)))
            .collect();
        self.target_keys = match self.config.streams {
            StreamLayout::PerSource => faults::target_stream_keys(&self.plan),
            StreamLayout::Shared => Vec::new(),
        };
        Ok(())
    }

    /// Lets the run go on to its horizon after a property fails, instead of ending there: the
    /// report's verdict and failure are still the first property failure, but the run and its
    /// metrics cover the whole span. Experiments use it, so every variant is measured over the
    /// same time whatever it violates. The properties are no longer checked after the first
    /// failure; a handler panic or a limit still ends the run. Must be called before the run
    /// starts.
    pub fn set_run_to_horizon(&mut self, on: bool) {
        assert!(
            !self.started,
            "whether the run stops at a failure is fixed once it starts"
        );
        self.run_to_horizon = on;
    }

    /// Switches buggify sites on or off for this run (off unless set; see [`crate::buggify`]).
    /// Must be called before the run starts.
    pub fn set_buggify(&mut self, config: BuggifyConfig) {
        assert!(!self.started, "buggify is fixed once the run starts");
        self.core.buggify.set_config(config);
    }

    /// The buggify settings in force.
    pub fn buggify(&self) -> BuggifyConfig {
        self.core.buggify.config()
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
        self.core.status[host.index()].up
    }
    /// Whether a host is paused.
    pub fn host_paused(&self, host: HostId) -> bool {
        self.core.status[host.index()].paused
    }
    /// A host's wall-clock reading now.
    pub fn local_time(&self, host: HostId) -> Instant {
        self.core.clocks[host.index()].local(self.core.now)
    }
    /// A host's monotonic reading now (the wall clock without its jumps).
    pub fn monotonic_time(&self, host: HostId) -> Instant {
        self.core.clocks[host.index()].monotonic(self.core.now)
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
}
