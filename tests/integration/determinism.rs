//! The engine's determinism, as a property over many seeds with every fault kind enabled.
//!
//! - Each seed run twice gives the same events and fingerprint (lease_lock and pingpong).
//! - The faults a run suffers depend on the seed, profile and topology only, never on the
//!   model: two different models under one seed see the same plan and the same fault events.
//! - A deliberately nondeterministic process is caught, with the first differing event named.

use ruckus_models::lease_lock::{self, LeaseLockConfig};
use ruckus_models::pingpong::{self, PingPong, PingPongConfig};
use ruckus_sim::{
    Context, Distribution, Duration, EventDetail, EventRecord, FaultKind, FaultPlan, FaultProfile, FaultRate,
    HostId, Observer, Process, ProcessId, RecordKind, Sim, SimConfig, Topology, Verdict, check_determinism,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

/// Every fault kind on, each starting about every 1.5 s and lasting 50 ms to 1 s, with a
/// one-second quiet period: short runs that still see several faults of several kinds.
fn every_fault_kind() -> FaultProfile {
    let mut profile = FaultProfile::everything(FaultRate {
        mean_interval: Duration::from_millis(1_500),
        duration_min: Duration::from_millis(50),
        duration_max: Duration::from_secs(1),
    });
    profile.quiet_period = Duration::from_secs(1);
    profile.max_hosts_down = 2;
    // Model-defined conditions; lease_lock ignores them, but the engine still tracks them.
    profile.degrade_modes = vec!["slow:4".into(), "stall".into()];
    for kind in FaultKind::ALL {
        assert!(profile.rate(kind).is_some(), "{kind:?} is off");
    }
    profile
}

const HORIZON: Duration = Duration::from_secs(4);

/// The lease_lock variants the seeds cycle through, so runs that stop early on a violation
/// are checked as well as runs that go to the horizon.
fn lease_lock_variant(seed: u64) -> LeaseLockConfig {
    let base = LeaseLockConfig {
        liveness_bound: Duration::from_millis(900),
        ..LeaseLockConfig::default()
    };
    match seed % 4 {
        0 => base,
        1 => LeaseLockConfig {
            bug_no_fencing: true,
            ..base
        },
        2 => LeaseLockConfig {
            bug_no_sync: true,
            ..base
        },
        _ => LeaseLockConfig {
            bug_clock_tokens: true,
            clients: 4,
            ..base
        },
    }
}

fn pingpong_config() -> PingPongConfig {
    PingPongConfig {
        hosts: 5,
        in_flight: 20,
        deliveries: 20_000,
    }
}

fn pingpong_sim(seed: u64, profile: &FaultProfile) -> Sim<PingPong> {
    let config = pingpong_config();
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits.horizon = HORIZON;
    let mut sim = Sim::new(sim_config, &config.topology());
    let plan = profile.plan(seed, sim.hosts(), HORIZON);
    sim.set_fault_plan(plan).unwrap();
    pingpong::setup(&mut sim, &config);
    for p in pingpong::properties(&config) {
        sim.add_property(p);
    }
    sim
}

/// Which fault kinds a plan uses.
fn kinds(plan: &FaultPlan) -> BTreeSet<FaultKind> {
    plan.actions.iter().map(|a| a.fault.kind()).collect()
}

#[test]
fn lease_lock_is_deterministic_over_1000_seeds_with_every_fault_kind() {
    let profile = every_fault_kind();
    let mut fingerprints = BTreeSet::new();
    let mut kinds_seen = BTreeSet::new();
    let mut verdicts = BTreeSet::new();
    for seed in 0..1000 {
        let config = lease_lock_variant(seed);
        let build = || lease_lock::build_sim(&config, seed, HORIZON, &profile);
        kinds_seen.extend(kinds(build().fault_plan()));
        match check_determinism(build) {
            Ok(report) => {
                fingerprints.insert(report.fingerprint);
                verdicts.insert(report.verdict.name());
                if report.verdict == Verdict::Held {
                    assert_eq!(
                        report.end_time.as_nanos(),
                        HORIZON.as_nanos(),
                        "seed {seed}:\n{report}"
                    );
                }
            }
            Err(divergence) => panic!("seed {seed} ({config:?}) is not deterministic:\n{divergence}"),
        }
    }
    // The runs were really exposed to every kind, really differ between seeds, and include
    // both healthy runs and runs that stopped at a violation.
    assert_eq!(kinds_seen, FaultKind::ALL.into_iter().collect());
    assert!(
        fingerprints.len() >= 990,
        "only {} distinct fingerprints",
        fingerprints.len()
    );
    assert!(
        verdicts.contains(Verdict::Held.name()) && verdicts.contains(Verdict::SafetyViolation.name()),
        "{verdicts:?}"
    );
}

#[test]
fn pingpong_is_deterministic_over_200_seeds_with_every_fault_kind() {
    let profile = every_fault_kind();
    let mut fingerprints = BTreeSet::new();
    let mut deliveries = 0;
    for seed in 0..200 {
        match check_determinism(|| pingpong_sim(seed, &profile)) {
            Ok(report) => {
                // Faults drop balls for good, so some runs go quiet early; none may fail.
                assert_eq!(report.verdict, Verdict::Held, "seed {seed}:\n{report}");
                deliveries += report.deliveries;
                fingerprints.insert(report.fingerprint);
            }
            Err(divergence) => panic!("pingpong seed {seed} is not deterministic:\n{divergence}"),
        }
    }
    assert_eq!(fingerprints.len(), 200);
    assert!(deliveries > 200 * 200, "only {deliveries} deliveries in 200 runs");
}

/// A fault event as both models must see it: kind, true time, plan index, fault digest (the
/// event index is left out: it counts the model's own events too).
type FaultEvent = (RecordKind, u64, u32, u64);

/// Keeps the fault events (begin, end, heal) a run goes through.
struct FaultEvents(Rc<RefCell<Vec<FaultEvent>>>);

impl Observer for FaultEvents {
    fn on_event(&mut self, r: &EventRecord, _detail: EventDetail<'_>) {
        if matches!(
            r.kind,
            RecordKind::FaultBegin | RecordKind::FaultEnd | RecordKind::Heal
        ) {
            self.0
                .borrow_mut()
                .push((r.kind, r.time.as_nanos(), r.peer, r.digest));
        }
    }
}

fn observe_faults<P: Process>(sim: &mut Sim<P>) -> Rc<RefCell<Vec<FaultEvent>>> {
    let events = Rc::new(RefCell::new(Vec::new()));
    sim.set_observer(Box::new(FaultEvents(events.clone())));
    events
}

#[test]
fn fault_plans_and_fault_events_do_not_depend_on_the_model() {
    let profile = every_fault_kind();
    let lease_config = LeaseLockConfig::default();
    assert_eq!(
        lease_config.hosts(),
        pingpong_config().hosts,
        "the comparison needs equal host counts"
    );
    let mut faults_total = 0;
    for seed in 0..200 {
        // Each sim derives its plan from its own topology (the latencies differ; the hosts match).
        let mut a = pingpong_sim(seed, &profile);
        let mut b = lease_lock::build_sim(&lease_config, seed, HORIZON, &profile);
        assert_eq!(
            a.fault_plan(),
            b.fault_plan(),
            "seed {seed}: plans differ before the runs"
        );
        let plan = a.fault_plan().clone();
        faults_total += plan.actions.len();
        let (events_a, events_b) = (observe_faults(&mut a), observe_faults(&mut b));
        let (report_a, report_b) = (a.run(), b.run());
        assert_eq!(
            a.fault_plan(),
            &plan,
            "seed {seed}: pingpong's run changed its plan"
        );
        assert_eq!(
            b.fault_plan(),
            &plan,
            "seed {seed}: lease_lock's run changed its plan"
        );
        // Neither run stopped early, so both went through the whole plan, up to the heal.
        assert_eq!(report_a.verdict, Verdict::Held, "seed {seed}:\n{report_a}");
        assert_eq!(report_b.verdict, Verdict::Held, "seed {seed}:\n{report_b}");
        let (events_a, events_b) = (events_a.borrow(), events_b.borrow());
        assert!(events_a.len() >= plan.actions.len(), "seed {seed}");
        assert_eq!(
            *events_a, *events_b,
            "seed {seed}: the two models saw different faults"
        );
        // And a different seed gives a different plan.
        assert_ne!(
            plan,
            profile.plan(seed + 1_000_000, a.hosts(), HORIZON),
            "seed {seed}"
        );
    }
    assert!(faults_total > 200 * 10, "only {faults_total} faults in 200 plans");
}

thread_local! {
    /// Deliberately global, mutable state: exactly what the determinism rules forbid.
    static LEAKED_COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// Two processes bounce a number. With `leak`, the message sent on receiving 40 adds a value
/// read from global state that survives from one run to the next.
#[derive(Clone, Debug)]
struct Bouncer {
    peer: ProcessId,
    serve: bool,
    leak: bool,
}

impl Process for Bouncer {
    type Message = u64;
    type Timer = ();
    type Operation = ();
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        if self.serve {
            ctx.send(self.peer, 0);
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, n: u64) {
        if n >= 100 {
            ctx.stop_run();
            return;
        }
        let mut next = n + 1;
        if self.leak && n == 40 {
            next += LEAKED_COUNTER.with(|c| {
                c.set(c.get() + 1);
                c.get()
            });
        }
        ctx.send(from, next);
    }
    fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
}

fn bouncers(leak: bool) -> Sim<Bouncer> {
    let topology = Topology::single_switch(
        2,
        Distribution::uniform(Duration::from_millis(1), Duration::from_millis(9)),
    );
    let mut sim = Sim::new(SimConfig::with_seed(11), &topology);
    sim.spawn(
        HostId(0),
        Bouncer {
            peer: ProcessId(1),
            serve: true,
            leak,
        },
    );
    sim.spawn(
        HostId(1),
        Bouncer {
            peer: ProcessId(0),
            serve: false,
            leak,
        },
    );
    sim
}

#[test]
fn a_nondeterministic_process_is_caught_at_the_first_differing_event() {
    // The honest version passes.
    let report = check_determinism(|| bouncers(false)).expect("no global state, no divergence");
    assert_eq!(report.deliveries, 101);

    // Events: #0 and #1 start the two processes, #(2+k) delivers the number k. The message
    // sent while handling 40 (event #42) is the first to differ, so its delivery, #43, is
    // where the runs part: same time, same processes, different payload.
    let divergence = check_determinism(|| bouncers(true)).expect_err("global state must be caught");
    assert_eq!(divergence.position, 43, "{divergence}");
    let (first, second) = (divergence.recorded.unwrap(), divergence.replayed.unwrap());
    assert_eq!(first.kind, RecordKind::Deliver);
    assert_eq!(
        (first.index, first.time, first.process),
        (second.index, second.time, second.process)
    );
    assert_ne!(first.digest, second.digest);
    let before: Vec<u64> = divergence.before.iter().map(|r| r.index).collect();
    assert_eq!(before, vec![38, 39, 40, 41, 42]);
    let text = divergence.to_string();
    assert!(
        text.contains("diverges at record #43: payload digest differ"),
        "{text}"
    );
    assert!(
        text.contains("outside the seed"),
        "the message names the usual causes: {text}"
    );
}

/// Unsafe code is denied in the workspace; the one exception is the engine's prefetch module,
/// whose cache hints cannot change a run. A second `allow(unsafe_code)` anywhere fails here.
#[test]
fn only_the_prefetch_module_allows_unsafe_code() {
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    visit(&path, found);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let allows = ["allow(unsafe_code)", "unsafe {", "unsafe fn", "unsafe impl"];
                if allows.iter().any(|a| text.contains(a)) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in ["sim", "models", "scenarios", "tests", "benches"] {
        visit(&root.join(krate), &mut found);
    }
    // This file names the forms it looks for.
    found.retain(|p| !p.ends_with("integration/determinism.rs"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("sim/src/prefetch.rs"), "{found:?}");
}
