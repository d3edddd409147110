//! The runner: one scenario, one seed, one run — the same generic code path for every model.
//!
//! [`run`] turns a [`Scenario`] and a seed into an [`Outcome`]. Callers that drive the run
//! themselves (trace writers, replay, explore) get the built simulation from [`simulation`] as
//! a `Box<dyn Simulation>`, whatever the model's process type is.
//!
//! Nothing here reads the wall clock or starts a thread: a run is a pure function of the
//! scenario and the seed.

use crate::limits;
use crate::scenario::{Layout, Scenario, TopologySpec};
use ruckus_sim::{
    Duration, Failure, FaultPlan, HostId, Instant, Limits, Model, RunReport, Sim, SimConfig, Simulation,
    Topology, Verdict,
};
use serde::Serialize;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Builds the topology a scenario describes.
pub fn topology(spec: &TopologySpec) -> Topology {
    let mut t = match spec.layout {
        Layout::SingleSwitch => Topology::single_switch(spec.hosts, spec.latency),
        Layout::Zoned => Topology::zoned(
            spec.hosts,
            spec.zones.unwrap_or(1).max(1),
            spec.latency,
            spec.inter_zone.unwrap_or(spec.latency),
        ),
    };
    t.set_costs(spec.costs);
    crate::scenario::apply_host_costs(&spec.host_costs, &mut t);
    t.clock_spread = spec.clock_spread;
    for c in &spec.clocks {
        let host = t.host_mut(HostId(c.host));
        host.clock.offset_ns = c.offset_ns;
        host.clock.drift_ppm = c.drift_ppm;
    }
    t
}

/// The fault plan a scenario gives `seed`: none when faults are off, the explicit plan when
/// there is one, else the profile expanded from the seed.
pub fn fault_plan(scenario: &Scenario, seed: u64) -> FaultPlan {
    if !scenario.faults.enabled {
        return FaultPlan::none();
    }
    if let Some(plan) = &scenario.faults.plan {
        return plan.clone();
    }
    let topology = topology(&scenario.topology);
    scenario
        .faults
        .profile
        .plan(seed, topology.hosts(), scenario.limits.horizon)
}

/// Builds a ready-to-run simulation of model `M`. The model's setup runs under `catch_unwind`:
/// a setup assertion comes back as `Err` with its message. `properties` selects the checked
/// properties by name (`None`: all of them). The engine refuses spawns past
/// [`limits::MAX_PROCESSES`]: a setup that asks for more is an `Err` naming the bound, and a
/// run whose handlers spawn more ends with a `LimitExceeded` verdict.
pub fn build<M: Model>(
    spec: &TopologySpec,
    config: &M::Config,
    plan: &FaultPlan,
    limits: Limits,
    seed: u64,
    properties: Option<&[String]>,
) -> Result<Sim<M::Process>, String> {
    let topology = topology(spec);
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = limits;
    sim_config.max_processes = limits::MAX_PROCESSES;
    sim_config.streams = spec.streams;
    let mut sim = Sim::new(sim_config, &topology);
    let setup = quietly(|| catch_unwind(AssertUnwindSafe(|| M::setup(&mut sim, config))));
    // A setup that goes on to use a refused spawn's id may panic: the refusal is the cause.
    if let Some(refused) = sim.spawn_refused() {
        return Err(refused.to_string());
    }
    setup.map_err(|p| panic_text(&*p))?;
    sim.set_fault_plan(plan.clone())?;
    // The model's property constructors run model code too: a panic there is the model's.
    let offered = quietly(|| catch_unwind(AssertUnwindSafe(|| M::properties(config))))
        .map_err(|p| format!("building the properties: {}", panic_text(&*p)))?;
    for p in offered {
        if properties.is_none_or(|names| names.contains(&p.name)) {
            sim.add_property(p);
        }
    }
    Ok(sim)
}

/// What one run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The engine's report (verdict, failure, counts, fingerprint, last events).
    pub report: RunReport,
    /// The fault plan the run suffered.
    pub plan: FaultPlan,
}

impl Outcome {
    /// The machine-readable summary: the fields `ruckus run --json` and sweep lines share.
    pub fn summary(&self) -> RunSummary {
        let f = self.report.failure.as_ref();
        RunSummary {
            seed: self.report.seed,
            verdict: self.report.verdict.name().to_owned(),
            fingerprint: format!("{:016x}", self.report.fingerprint),
            events: self.report.events,
            deliveries: self.report.deliveries,
            virtual_time_ns: self.report.end_time.as_nanos(),
            faults: self.plan.actions.len(),
            property: f.and_then(|f| f.property.clone()),
            message: f.map(|f| f.message.clone()),
            failure_time_ns: f.map(|f| f.time.as_nanos()),
            probes: self.report.probes.iter().map(|p| p.name.clone()).collect(),
        }
    }
}

/// The deterministic facts of one run, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// The seed.
    pub seed: u64,
    /// `held`, `safety_violation`, `liveness_failure`, `model_panic` or `limit_exceeded`.
    pub verdict: String,
    /// The run's fingerprint, 16 hex digits.
    pub fingerprint: String,
    /// Events processed.
    pub events: u64,
    /// Messages delivered.
    pub deliveries: u64,
    /// Virtual time reached, in nanoseconds.
    pub virtual_time_ns: u64,
    /// Fault actions in the plan.
    pub faults: usize,
    /// The failed property, if one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// What the failure said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it failed, in nanoseconds of true time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time_ns: Option<u64>,
    /// The coverage probes the run reached, in first-hit order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
}

/// Runs `scenario` under `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Outcome {
    run_plan(scenario, seed, fault_plan(scenario, seed))
}

/// Runs `scenario` under `seed` with an explicit fault `plan` instead of the scenario's (the
/// step shrinking repeats). The horizon is the scenario's `limits.horizon`.
pub fn run_plan(scenario: &Scenario, seed: u64, plan: FaultPlan) -> Outcome {
    let report = match simulation(scenario, seed, &plan) {
        Ok(mut sim) => quietly(|| sim.run()),
        Err(message) => setup_panic(seed, message),
    };
    Outcome { report, plan }
}

/// Replaces the report's last events with those up to its failure's event, when the failure
/// lies before the run's end (a property that checked the history at the end and blamed an
/// earlier operation): the run is re-run to that event, which a run's determinism makes the
/// same run. Otherwise, or if the rebuild fails, the report stays as it is.
pub fn events_up_to_failure(scenario: &Scenario, outcome: &mut Outcome) {
    use ruckus_sim::{EventDetail, EventRecord, Observer};
    use std::cell::RefCell;
    use std::rc::Rc;
    struct Ring(Rc<RefCell<ruckus_sim::record::FlightRecorder>>);
    impl Observer for Ring {
        fn on_event(&mut self, record: &EventRecord, _: EventDetail<'_>) {
            self.0.borrow_mut().push(*record);
        }
    }
    let report = &outcome.report;
    let Some(f) = &report.failure else { return };
    if f.event_index + 1 >= report.events {
        return;
    }
    let Ok(mut sim) = simulation(scenario, report.seed, &outcome.plan) else {
        return;
    };
    let keep = report.last_events.len().max(1);
    let ring = Rc::new(RefCell::new(ruckus_sim::record::FlightRecorder::new(keep)));
    sim.set_observer(Box::new(Ring(ring.clone())));
    quietly(|| sim.run_until_event(f.event_index + 1));
    let events = ring.borrow().events();
    if events.last().is_some_and(|e| e.index == f.event_index) {
        outcome.report.last_events = events;
    }
}

/// Builds the simulation of `scenario` under `seed` with fault `plan` (the scenario's own from
/// [`fault_plan`], or a trace's recorded or shrunk one), ready to run: the entry point for
/// anything that drives the run itself (traces, replay, state dumps, explore). `Err` carries
/// the message of a model setup that panicked.
pub fn simulation(scenario: &Scenario, seed: u64, plan: &FaultPlan) -> Result<Box<dyn Simulation>, String> {
    scenario.model.entry().build(scenario, seed, plan)
}

fn setup_panic(seed: u64, message: String) -> RunReport {
    RunReport {
        seed,
        verdict: Verdict::ModelPanic,
        failure: Some(Failure {
            verdict: Verdict::ModelPanic,
            property: None,
            message: format!("model setup panicked: {message}"),
            time: Instant::ZERO,
            host: None,
            process: None,
            event_index: 0,
            operation: None,
        }),
        events: 0,
        deliveries: 0,
        end_time: Instant::ZERO,
        fingerprint: 0,
        last_events: Vec::new(),
        metrics: ruckus_sim::Metrics::default(),
        processes: Vec::new(),
        probes: Vec::new(),
    }
}

/// The text of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

thread_local! {
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` with the default panic message suppressed on this thread.
///
/// The engine turns a model's panic into a `ModelPanic` report with the message; the standard
/// hook would also print "thread panicked at ..." for each one, which in a sweep of thousands of
/// seeds buries the summary. Panics elsewhere (a bug in ruckus itself) still print as usual.
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    install_quiet_hook();
    QUIET.with(|q| q.set(q.get() + 1));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(q.get().saturating_sub(1)));
        }
    }
    let _reset = Reset;
    f()
}

fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
}

/// A duration for reports: whole seconds of virtual time with millisecond precision.
pub fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The fault plan as `FaultPlan`'s text, with each process kill naming the process it hits as
/// the model knows it (`kill process #15160 on h3 ... -> p3 client-1`): the plan stores a raw
/// index (modulo the host's boot processes), which means nothing to a reader. `labels` are
/// the run's (`RunReport::processes`); `sim` is the run's simulation as built.
pub fn plan_text(plan: &FaultPlan, sim: &dyn Simulation, labels: &[ruckus_sim::ProcessLabel]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if plan.actions.is_empty() {
        out.push_str("  (no faults)\n");
    }
    for (i, a) in plan.actions.iter().enumerate() {
        let _ = write!(out, "  #{i:<3} {:>16}  {}", a.at.to_string(), a.fault);
        if let ruckus_sim::Fault::KillProcess {
            host, process_index, ..
        } = &a.fault
        {
            match sim.boot_process_of(*host, *process_index) {
                Some(p) => {
                    let _ = write!(out, " -> {p}");
                    if let Some(l) = labels.iter().find(|l| l.id == p) {
                        // The name, without the state at the run's end.
                        let _ = write!(out, " {}", l.label.split(" (").next().unwrap_or(&l.label));
                    }
                }
                None => out.push_str(" -> no process there"),
            }
        }
        out.push('\n');
    }
    if let Some(h) = plan.heal_at {
        let _ = writeln!(out, "  heal everything at {h}");
    }
    out
}

/// Where a scenario's horizon comes from, as a person would fix it: the `--set` that gave
/// it, else the file (a built-in's under `scenarios/data/`).
fn horizon_origin(scenario: &Scenario) -> String {
    if let Some(set) = scenario
        .overrides
        .iter()
        .rev()
        .find(|o| o.trim_start().starts_with("limits.horizon"))
    {
        return format!("--set {set}");
    }
    let looks_like_path = scenario.reference.contains('/') || scenario.reference.ends_with(".toml");
    if looks_like_path {
        format!("[limits] horizon in {}", scenario.reference)
    } else {
        format!(
            "[limits] horizon of built-in scenario `{}` (scenarios/data/{}.toml)",
            scenario.reference, scenario.reference
        )
    }
}

/// A warning for a liveness failure the horizon may have caused: the run ended before the
/// failed property's deadline (the heal plus its bound), so the property was judged on less
/// time than it is given. `None` for any other outcome.
///
/// Why a warning and not bad input: the deadline depends on the heal, so on the fault plan,
/// and a run ending before it still shows what it shows. Eleven built-in scenarios end before
/// their models' generous derived bounds (`raft_lease`, `swim`, the scheduler's and consul's
/// bug scenarios among them); in the bug scenarios the bug shows as a property that has not
/// held by the end while the healthy design holds in the same time. What matters is that a person whose horizon is simply too
/// short is told so, next to the failure, with the field to change.
pub fn horizon_warning(scenario: &Scenario, outcome: &Outcome) -> Option<String> {
    let report = &outcome.report;
    let f = report.failure.as_ref()?;
    if f.verdict != Verdict::LivenessFailure {
        return None;
    }
    horizon_warning_for(
        scenario,
        report.seed,
        &outcome.plan,
        f.property.as_deref()?,
        f.time,
    )
}

/// [`horizon_warning`] for a run known by its seed, plan, failed liveness property and the
/// failure's time (the deadline when it passed, the run's end when the horizon came first).
pub fn horizon_warning_for(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    property: &str,
    end: Instant,
) -> Option<String> {
    // `end` is the failure's time: before the deadline only when the horizon cut the run.
    let sim = simulation(scenario, seed, plan).ok()?;
    let (_, deadline) = sim
        .liveness_deadlines()
        .into_iter()
        .find(|(name, _)| name == property)?;
    if deadline <= end {
        return None;
    }
    let heal = plan.faults_end();
    let horizon = ruckus_sim::nanos_with_unit(scenario.limits.horizon.as_nanos());
    Some(format!(
        "the run ended at {end} (limits.horizon = \"{horizon}\", from {}), {} before the deadline of \
         liveness property `{property}` ({deadline}: the heal at {heal} plus {}), so it was judged on less \
         time than it is given and the failure may be the horizon's; to judge it fully set \
         limits.horizon to at least \"{}\"",
        horizon_origin(scenario),
        ruckus_sim::nanos_with_unit(deadline.saturating_since(end).as_nanos()),
        ruckus_sim::nanos_with_unit(deadline.saturating_since(heal).as_nanos()),
        ruckus_sim::nanos_with_unit(deadline.as_nanos()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Context, Distribution, Process, ProcessId, Property};

    /// A model whose process panics when it starts, or whose setup panics.
    #[derive(Debug)]
    struct Panicky;

    #[derive(Clone, Debug)]
    struct Bomb;

    impl Process for Bomb {
        type Message = ();
        type Timer = ();
        type Operation = ();
        fn on_start(&mut self, _: &mut Context<'_, Self>) {
            panic!("boom at start");
        }
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
    }

    impl Model for Panicky {
        const NAME: &'static str = "panicky";
        const ABOUT: &'static str = "panics";
        type Config = bool;
        type Process = Bomb;
        fn setup(sim: &mut Sim<Bomb>, in_setup: &bool) {
            assert!(!in_setup, "setup refused");
            sim.spawn(HostId(0), Bomb);
        }
        fn properties(_: &bool) -> Vec<Property<Bomb>> {
            Vec::new()
        }
    }

    fn spec() -> TopologySpec {
        TopologySpec {
            hosts: 1,
            layout: Layout::SingleSwitch,
            latency: Distribution::constant(Duration::from_millis(1)),
            zones: None,
            inter_zone: None,
            clocks: Vec::new(),
            costs: Default::default(),
            host_costs: Vec::new(),
            clock_spread: Default::default(),
            streams: Default::default(),
        }
    }

    #[test]
    fn a_panicking_handler_becomes_a_model_panic_report() {
        let mut sim =
            build::<Panicky>(&spec(), &false, &FaultPlan::none(), Limits::default(), 3, None).unwrap();
        let report = quietly(|| sim.run());
        assert_eq!(report.verdict, Verdict::ModelPanic);
        assert!(report.failure.unwrap().message.contains("boom at start"));
    }

    #[test]
    fn a_panicking_setup_is_an_error_with_its_message() {
        let err =
            build::<Panicky>(&spec(), &true, &FaultPlan::none(), Limits::default(), 3, None).unwrap_err();
        assert!(err.contains("setup refused"), "{err}");
        let report = setup_panic(5, err);
        assert_eq!(report.verdict, Verdict::ModelPanic);
        assert_eq!(report.seed, 5);
    }

    /// A model whose setup spawns `count` idle processes, then checks the last one's host (as
    /// a model trusting the ids it got would).
    #[derive(Debug)]
    struct Crowd;

    #[derive(Clone, Debug)]
    struct Idle;

    impl Process for Idle {
        type Message = ();
        type Timer = ();
        type Operation = ();
        fn on_start(&mut self, _: &mut Context<'_, Self>) {}
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
    }

    impl Model for Crowd {
        const NAME: &'static str = "crowd";
        const ABOUT: &'static str = "spawns a crowd";
        type Config = usize;
        type Process = Idle;
        fn setup(sim: &mut Sim<Idle>, count: &usize) {
            let ids: Vec<ProcessId> = (0..*count).map(|_| sim.spawn(HostId(0), Idle)).collect();
            if let Some(last) = ids.last() {
                sim.host_of(*last);
            }
        }
        fn properties(_: &usize) -> Vec<Property<Idle>> {
            Vec::new()
        }
    }

    #[test]
    fn a_setup_spawning_past_the_process_bound_is_refused_by_the_engine() {
        let build_crowd =
            |count: usize| build::<Crowd>(&spec(), &count, &FaultPlan::none(), Limits::default(), 3, None);
        let sim = build_crowd(limits::MAX_PROCESSES).expect("exactly at the bound");
        assert_eq!(sim.process_count(), limits::MAX_PROCESSES);
        drop(sim);
        // One more: refused (not a panic on the refused id), the message names the bound.
        let err = build_crowd(limits::MAX_PROCESSES + 1).unwrap_err();
        assert!(err.contains("more than 100000 processes"), "{err}");
    }

    #[test]
    fn quietly_nests_and_restores() {
        quietly(|| quietly(|| QUIET.with(|q| assert_eq!(q.get(), 2))));
        QUIET.with(|q| assert_eq!(q.get(), 0));
        let caught = std::panic::catch_unwind(|| quietly(|| panic!("inside")));
        assert!(caught.is_err());
        QUIET.with(|q| assert_eq!(q.get(), 0));
    }
}
