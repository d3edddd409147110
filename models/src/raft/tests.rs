use super::*;
use crate::test_support::build_checked;
use ruckus_sim::shrink::{PlanShrink, shrink_plan};
use ruckus_sim::{
    Fault, FaultAction, FaultPlan, FaultProfile, FaultRate, Partition, RunReport, SimConfig, Verdict,
    check_determinism,
};
use std::collections::BTreeMap;

fn build(config: &Config, seed: u64, profile: &FaultProfile, horizon: Duration) -> Sim<Raft> {
    build_on(
        SimConfig::with_seed(seed),
        config.topology(),
        config,
        profile,
        horizon,
    )
}

/// A Raft cluster on `topology` under `sim_config`'s seed and disk faults, every property
/// checked, `profile`'s plan for the seed over `horizon`.
pub(super) fn build_on(
    sim_config: SimConfig,
    topology: Topology,
    config: &Config,
    profile: &FaultProfile,
    horizon: Duration,
) -> Sim<Raft> {
    build_checked::<RaftModel>(sim_config, topology, config, profile, horizon)
}

fn run(config: &Config, seed: u64, profile: &FaultProfile, horizon: Duration) -> RunReport {
    build(config, seed, profile, horizon).run()
}

/// A run under an explicit plan instead of a profile's.
fn run_plan(config: &Config, seed: u64, plan: &FaultPlan, horizon: Duration) -> RunReport {
    let mut sim = build(config, seed, &FaultProfile::none(), horizon);
    sim.set_fault_plan(plan.clone()).expect("valid plan");
    sim.run()
}

/// The property a run failed, if it failed.
fn failed_property(report: &RunReport) -> Option<String> {
    report.failure.as_ref().and_then(|f| f.property.clone())
}

fn rate(mean_ms: u64, min_ms: u64, max_ms: u64) -> FaultRate {
    FaultRate {
        mean_interval: Duration::from_millis(mean_ms),
        duration_min: Duration::from_millis(min_ms),
        duration_max: Duration::from_millis(max_ms),
    }
}

/// Crashes, partitions, loss and clock drift: the profile healthy sweeps run under.
pub(super) fn stormy() -> FaultProfile {
    let mut p = FaultProfile::none();
    p.crash = Some(rate(1500, 50, 1500));
    p.partition = Some(rate(1500, 100, 2000));
    p.network_chaos = Some(rate(3000, 200, 2000));
    p.clock_drift = Some(rate(3000, 500, 3000));
    p.pause = Some(rate(4000, 50, 500));
    p.max_hosts_down = 2;
    p.quiet_period = Duration::from_secs(5);
    p
}

#[test]
fn a_healthy_cluster_without_faults_serves_clients() {
    let config = Config::default();
    let mut sim = build(&config, 1, &FaultProfile::none(), Duration::from_secs(5));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let m = sim.metrics();
    assert!(m.counter("raft.client.ok") > 500, "{:?}", m.counters());
    assert_eq!(m.counter("raft.client.unknown"), 0, "{:?}", m.counters());
    assert_eq!(m.counter("raft.leaders_elected"), 1, "{:?}", m.counters());
    // Every server applied nearly everything, and they agree.
    let states: Vec<&Server> = (0..5)
        .filter_map(|i| sim.process(ProcessId(i))?.as_server())
        .collect();
    let leader = states.iter().find(|s| s.role == Role::Leader).expect("a leader");
    for s in &states {
        assert!(
            s.applied + 20 >= leader.applied,
            "p{} applied {}",
            s.id,
            s.applied
        );
        assert_eq!(
            s.hash_at(s.applied.min(leader.applied)),
            leader.hash_at(s.applied.min(leader.applied))
        );
    }
}

#[test]
fn runs_are_deterministic() {
    let config = Config::default();
    let a =
        check_determinism(|| build(&config, 7, &stormy(), Duration::from_secs(8))).expect("deterministic");
    let b = run(&config, 7, &stormy(), Duration::from_secs(8));
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(
        a.fingerprint,
        run(&config, 8, &stormy(), Duration::from_secs(8)).fingerprint
    );
}

#[test]
fn healthy_cluster_holds_under_faults() {
    let config = Config::default();
    let mut unknown = 0;
    for seed in 0..30 {
        let mut sim = build(&config, seed, &stormy(), Duration::from_secs(15));
        let report = sim.run();
        assert_eq!(
            report.verdict,
            Verdict::Held,
            "seed {seed}\n{report}\n{}",
            sim.fault_plan()
        );
        unknown += sim.metrics().counter("raft.client.unknown");
        assert!(
            sim.metrics().counter("raft.client.ok") > 200,
            "seed {seed}: {:?}",
            sim.metrics().counters()
        );
    }
    // The faults bite: some operations end with an unknown outcome.
    assert!(unknown > 0);
}

#[test]
fn config_validation_names_the_field() {
    let bad = Config {
        election_timeout_min: Duration::from_millis(500),
        ..Config::default()
    };
    assert!(bad.validate().unwrap_err().contains("election_timeout_min"));
    let bad = Config {
        heartbeat_interval: Duration::from_millis(200),
        ..Config::default()
    };
    assert!(bad.validate().unwrap_err().contains("heartbeat_interval"));
    let bad = Config {
        read_mode: ReadMode::Lease,
        leader_noop: false,
        ..Config::default()
    };
    assert!(bad.validate().unwrap_err().contains("leader_noop"));
    assert_eq!(Config::default().validate(), Ok(()));
}

/// The first seed in `0..max_seeds` whose run fails, with its report.
fn first_failure(
    config: &Config,
    profile: &FaultProfile,
    max_seeds: u64,
    horizon: Duration,
) -> Option<(u64, RunReport)> {
    (0..max_seeds).find_map(|seed| {
        let report = run(config, seed, profile, horizon);
        (report.verdict != Verdict::Held).then_some((seed, report))
    })
}

/// The bug switches, in the order reports list them.
pub(super) const BUGS: [&str; 4] = [
    "stale_read_deposed_leader",
    "vote_not_persisted",
    "commit_previous_term",
    "lease_without_drift_margin",
];

/// How one bug is hunted: the config that switches it on, the fault profile and the horizon
/// that make its window likely, and the property that catches it.
pub(super) struct Hunt {
    pub config: Config,
    pub profile: FaultProfile,
    pub horizon: Duration,
    pub property: &'static str,
}

/// Three servers, one dedicated writer, short election timeouts and dense short faults:
/// partitions, crashes, clogged and slowed links. Every leader change here is quick, so a
/// run holds hundreds of them.
/// Three servers, one writer, elections within 40-80 ms and a patient client: the shape of the
/// fault tests here and in `async_persist_tests`, which then set the client timeout.
pub(super) fn fast_elections(config: &mut Config) {
    config.servers = 3;
    config.clients = 0;
    config.writers = 1;
    config.election_timeout_min = Duration::from_millis(40);
    config.election_timeout_max = Duration::from_millis(80);
    config.heartbeat_interval = Duration::from_millis(10);
    config.client_attempts = 30;
}

fn churn(config: &mut Config) -> FaultProfile {
    fast_elections(config);
    config.client_timeout = Duration::from_millis(60);
    let mut p = FaultProfile::none();
    p.crash = Some(rate(150, 2, 100));
    p.partition = Some(rate(50, 20, 150));
    p.clog = Some(rate(200, 5, 100));
    p.slow_link = Some(rate(200, 20, 200));
    p.max_hosts_down = 2;
    p.quiet_period = Duration::from_secs(2);
    p
}

/// Three servers, a writer and a reader on every host, one key, and partitions that cut a
/// leader off together with the reader next to it.
fn cut_off_readers(config: &mut Config) -> FaultProfile {
    config.servers = 3;
    config.clients = 0;
    config.writers = 3;
    config.readers_per_host = 1;
    config.keys = 1;
    config.client_timeout = Duration::from_millis(50);
    config.client_attempts = 40;
    let mut p = FaultProfile::none();
    p.partition = Some(rate(200, 200, 800));
    p.quiet_period = Duration::from_secs(2);
    p
}

/// The hunt for `bug` (one of [`BUGS`]); `None` for an unknown name.
pub(super) fn bug_hunt(bug: &str) -> Option<Hunt> {
    let mut config = Config::default();
    let hunt = match bug {
        "vote_not_persisted" => {
            config.bugs.vote_not_persisted = true;
            let mut p = churn(&mut config);
            // Split votes are what a forgotten vote turns into two leaders: a narrow timeout
            // range makes candidates collide; quick process kills make voters forget.
            config.election_timeout_max = Duration::from_millis(50);
            p.crash = Some(rate(50, 1, 30));
            p.kill_process = Some(rate(30, 1, 30));
            p.partition = Some(rate(100, 30, 300));
            Hunt {
                config,
                profile: p,
                horizon: Duration::from_secs(20),
                property: "election_safety",
            }
        }
        "commit_previous_term" => {
            config.bugs.commit_previous_term = true;
            // Without the no-op a new leader's first entries are the old term's, counted by
            // replicas: the Figure 8 setting.
            config.leader_noop = false;
            let p = churn(&mut config);
            Hunt {
                config,
                profile: p,
                horizon: Duration::from_secs(60),
                property: "leader_completeness",
            }
        }
        "stale_read_deposed_leader" => {
            config.bugs.stale_read_deposed_leader = true;
            let p = cut_off_readers(&mut config);
            Hunt {
                config,
                profile: p,
                horizon: Duration::from_secs(6),
                property: "linearizable",
            }
        }
        "lease_without_drift_margin" => {
            config.read_mode = ReadMode::Lease;
            config.bugs.lease_without_drift_margin = true;
            let mut p = cut_off_readers(&mut config);
            // A long election timeout makes the drift window long in absolute terms: with
            // drift up to 30% a margin-less lease outlives the followers' patience by up to
            // 300 ms * (1/0.7 - 1/1.3) = 198 ms.
            config.election_timeout_min = Duration::from_millis(300);
            config.election_timeout_max = Duration::from_millis(330);
            config.heartbeat_interval = Duration::from_millis(20);
            p.clock_drift = Some(rate(100, 1000, 5000));
            p.clock_drift_max_ppm = 300_000;
            Hunt {
                config,
                profile: p,
                horizon: Duration::from_secs(6),
                property: "linearizable",
            }
        }
        _ => return None,
    };
    Some(hunt)
}

/// The same hunt with the bug switched off (and, for leases, a margin that covers the drift:
/// 2d/(1+d) = 46% at d = 30%): it must hold.
pub(super) fn fixed_hunt(bug: &str) -> Hunt {
    let mut h = bug_hunt(bug).expect("known bug");
    h.config.bugs = Bugs::default();
    h.config.lease_drift_margin_ppm = 500_000;
    h
}

fn hunt(bug: &str) -> Hunt {
    bug_hunt(bug).expect("known bug")
}

#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture bug_seed_counts"]
fn bug_seed_counts() {
    for bug in BUGS {
        for fixed in [false, true] {
            let h = if fixed { fixed_hunt(bug) } else { hunt(bug) };
            let mut found = Vec::new();
            let seeds = 200;
            for seed in 0..seeds {
                let r = run(&h.config, seed, &h.profile, h.horizon);
                if r.verdict != Verdict::Held {
                    found.push((seed, r.failure.as_ref().and_then(|f| f.property.clone())));
                }
            }
            println!(
                "{bug}{}: {} of {seeds} seeds fail (horizon {}); first {:?}",
                if fixed { " (switched off)" } else { "" },
                found.len(),
                h.horizon,
                &found[..found.len().min(5)]
            );
        }
    }
}

/// Finds `bug` within `max_seeds` seeds, checks it is caught by its property, and returns the
/// failing seed.
fn find(bug: &str, max_seeds: u64) -> u64 {
    let h = hunt(bug);
    let (seed, report) = first_failure(&h.config, &h.profile, max_seeds, h.horizon)
        .unwrap_or_else(|| panic!("{bug} not found within {max_seeds} seeds"));
    let failure = report.failure.expect("a failure");
    assert_eq!(
        failure.property.as_deref(),
        Some(h.property),
        "{bug}, seed {seed}: {}",
        failure.message
    );
    seed
}

// Measured first failing seeds (bug_seed_counts has the rates): stale read 0, vote 10,
// commit 0, lease 36. The allowances below leave room for harmless model changes.

#[test]
fn stale_read_by_a_deposed_leader_is_found() {
    find("stale_read_deposed_leader", 10);
}

#[test]
fn vote_not_persisted_is_found() {
    find("vote_not_persisted", 40);
}

#[test]
fn commit_previous_term_is_found() {
    find("commit_previous_term", 10);
}

#[test]
fn lease_without_drift_margin_is_found() {
    find("lease_without_drift_margin", 80);
}

#[test]
fn hunts_hold_with_the_bug_switched_off() {
    // The profiles are harsh, but a correct Raft survives them: what the hunts find is the bug.
    for bug in BUGS {
        let h = fixed_hunt(bug);
        for seed in 0..5 {
            let r = run(&h.config, seed, &h.profile, h.horizon);
            assert_eq!(r.verdict, Verdict::Held, "{bug} switched off, seed {seed}\n{r}");
        }
    }
    assert!(bug_hunt("no_such_bug").is_none());
}

/// A failing run of a bug, cut down: the seed, the horizon and the plan that still fail.
struct Shrunk {
    seed: u64,
    horizon: Duration,
    shrink: PlanShrink,
}

/// Shrinks the failing run of `bug` at `seed` to a smaller plan that still fails the hunt's
/// property. A safety violation cannot depend on faults that start after it, so the plan is
/// first cut at the failure time and the horizon set just past it; then ddmin over the fault
/// actions and shorter faults, within `max_tests` runs.
fn shrink_bug(bug: &str, seed: u64, max_tests: usize) -> Shrunk {
    let h = hunt(bug);
    let mut plan = h.profile.plan(seed, h.config.topology().hosts(), h.horizon);
    let report = run_plan(&h.config, seed, &plan, h.horizon);
    let failed_at = report.failure.as_ref().expect("the seed fails").time;
    let horizon = if failed_at.0 < h.horizon.0 {
        plan.actions.retain(|a| a.at <= failed_at);
        Duration(h.horizon.0.min(failed_at.0 + Duration::from_millis(500).0))
    } else {
        h.horizon
    };
    let shrink = shrink_plan(&plan, max_tests, |candidate| {
        let r = run_plan(&h.config, seed, candidate, horizon);
        failed_property(&r).as_deref() == Some(h.property)
    })
    .unwrap_or_else(|e| panic!("{bug} seed {seed}: {e}"));
    Shrunk {
        seed,
        horizon,
        shrink,
    }
}

/// The smallest shrunk plan over the first `seeds` failing seeds of `bug`.
fn shrink_smallest(bug: &str, seeds: usize, max_tests: usize) -> Shrunk {
    let h = hunt(bug);
    (0..)
        .filter(|&seed| run(&h.config, seed, &h.profile, h.horizon).verdict != Verdict::Held)
        .take(seeds)
        .map(|seed| shrink_bug(bug, seed, max_tests))
        .min_by_key(|s| s.shrink.plan.actions.len())
        .expect("at least one seed")
}

/// A plan as Rust source, for pinning a shrunk plan in a test.
fn plan_source(plan: &FaultPlan) -> String {
    let hosts = |v: &[HostId]| {
        let inner: Vec<String> = v.iter().map(|h| format!("HostId({})", h.0)).collect();
        format!("vec![{}]", inner.join(", "))
    };
    let mut out = String::new();
    for a in &plan.actions {
        let fault = match &a.fault {
            Fault::CrashHost { host, down_for } => {
                format!(
                    "Fault::CrashHost {{ host: HostId({}), down_for: Duration({}) }}",
                    host.0, down_for.0
                )
            }
            Fault::KillProcess {
                host,
                process_index,
                down_for,
            } => format!(
                "Fault::KillProcess {{ host: HostId({}), process_index: {process_index}, down_for: Duration({}) }}",
                host.0, down_for.0
            ),
            Fault::Partition { partition, duration } => {
                let p = match partition {
                    Partition::Isolate { host } => {
                        format!("Partition::Isolate {{ host: HostId({}) }}", host.0)
                    }
                    Partition::Halves { side } => format!("Partition::Halves {{ side: {} }}", hosts(side)),
                    Partition::OneWay { from, to } => {
                        format!("Partition::OneWay {{ from: {}, to: {} }}", hosts(from), hosts(to))
                    }
                    Partition::Bridge { left, right, bridge } => format!(
                        "Partition::Bridge {{ left: {}, right: {}, bridge: HostId({}) }}",
                        hosts(left),
                        hosts(right),
                        bridge.0
                    ),
                    Partition::Zone { zone } => format!("Partition::Zone {{ zone: {zone:?}.into() }}"),
                };
                format!(
                    "Fault::Partition {{ partition: {p}, duration: Duration({}) }}",
                    duration.0
                )
            }
            Fault::Clog { from, to, duration } => format!(
                "Fault::Clog {{ from: HostId({}), to: HostId({}), duration: Duration({}) }}",
                from.0, to.0, duration.0
            ),
            Fault::SlowLink {
                from,
                to,
                factor,
                duration,
            } => format!(
                "Fault::SlowLink {{ from: HostId({}), to: HostId({}), factor: {factor}, duration: Duration({}) }}",
                from.0, to.0, duration.0
            ),
            Fault::ClockDrift {
                host,
                drift_ppm,
                duration,
            } => format!(
                "Fault::ClockDrift {{ host: HostId({}), drift_ppm: {drift_ppm}, duration: Duration({}) }}",
                host.0, duration.0
            ),
            other => format!("/* {other} */"),
        };
        out.push_str(&format!("    act({}, {fault}),\n", a.at.0));
    }
    out
}

#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture shrink_every_bug"]
fn shrink_every_bug() {
    for bug in BUGS {
        // Figure 8 needs a long chain of leader changes: more runs to cut it down.
        let (seeds, max_tests) = if bug == "commit_previous_term" {
            (3, 1200)
        } else {
            (5, 300)
        };
        let s = shrink_smallest(bug, seeds, max_tests);
        println!(
            "{bug}: smallest of {seeds} failing seeds is seed {} with {} of {} actions, horizon {} ({} runs for it)\n{}",
            s.seed,
            s.shrink.plan.actions.len(),
            s.shrink.plan.actions.len() + s.shrink.removed.len(),
            s.horizon,
            s.shrink.tests,
            plan_source(&s.shrink.plan)
        );
        println!("heal_at {:?}", s.shrink.plan.heal_at.map(|h| h.0));
    }
}

#[test]
fn open_loop_clients_keep_arrivals_coming_and_shed_beyond_the_bound() {
    let config = Config {
        servers: 3,
        clients: 3,
        open_loop: true,
        open_loop_mean_interval: Duration::from_millis(5),
        open_loop_max_outstanding: 4,
        ..Config::default()
    };
    // A partition cuts the leader's clients off for a while: arrivals keep coming, pile up to
    // the bound, and the rest are shed.
    let mut p = FaultProfile::none();
    p.partition = Some(rate(1000, 500, 1500));
    p.quiet_period = Duration::from_secs(4);
    let mut sim = build(&config, 3, &p, Duration::from_secs(8));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let m = sim.metrics();
    assert!(m.counter("raft.client.ok") > 1000, "{:?}", m.counters());
    assert!(m.counter("raft.client.shed") > 0, "{:?}", m.counters());
    // Open loop: some client had several operations in flight at once.
    let mut open: BTreeMap<ProcessId, usize> = BTreeMap::new();
    let mut most = 0;
    for e in sim.history() {
        let n = open.entry(e.process).or_default();
        match e.operation {
            Record::Invoke { .. } => *n += 1,
            Record::Complete { .. } => *n -= 1,
        }
        most = most.max(*n);
    }
    assert!((2..=4).contains(&most), "at most {most} outstanding");
    // Closed loop never overlaps.
    let closed = Config {
        open_loop: false,
        ..config.clone()
    };
    let mut sim = build(&closed, 3, &p, Duration::from_secs(8));
    assert_eq!(sim.run().verdict, Verdict::Held);
    assert_eq!(sim.metrics().counter("raft.client.shed"), 0);
    let bad = Config {
        open_loop_max_outstanding: 0,
        ..config
    };
    assert!(bad.validate().unwrap_err().contains("open_loop"));
}

#[test]
fn an_exhausted_check_budget_is_inconclusive_not_a_pass() {
    let config = Config {
        servers: 3,
        clients: 3,
        keys: 1,
        check_max_steps: 10,
        ..Config::default()
    };
    let report = run(&config, 1, &FaultProfile::none(), Duration::from_secs(2));
    let failure = report.failure.expect("an inconclusive check fails");
    assert_eq!(failure.property.as_deref(), Some("linearizable"));
    assert!(failure.message.starts_with(INCONCLUSIVE), "{}", failure.message);
    assert!(
        failure.message.contains("not a proven violation"),
        "{}",
        failure.message
    );
    // Allowed explicitly, it passes; with a real budget it is linearizable.
    let allowed = Config {
        allow_inconclusive_check: true,
        ..config.clone()
    };
    let report = run(&allowed, 1, &FaultProfile::none(), Duration::from_secs(2));
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let enough = Config {
        check_max_steps: 1_000_000,
        ..config
    };
    let report = run(&enough, 1, &FaultProfile::none(), Duration::from_secs(2));
    assert_eq!(report.verdict, Verdict::Held, "{report}");
}

#[test]
fn a_during_run_check_stops_at_the_stale_read() {
    let mut h = hunt("stale_read_deposed_leader");
    h.config.check_every = Some(Duration::from_millis(100));
    let plan = FaultPlan {
        actions: vec![act(
            1_732_283_454,
            Fault::Partition {
                partition: Partition::Isolate { host: HostId(0) },
                duration: Duration(699_059_228),
            },
        )],
        heal_at: Some(Instant(4_000_000_000)),
    };
    let report = run_plan(&h.config, 0, &plan, h.horizon);
    let failure = report.failure.expect("fails");
    assert_eq!(failure.property.as_deref(), Some("linearizable_so_far"));
    // Caught while the partition lasts, not at the end of the run.
    assert!(
        failure.time.0 < 1_732_283_454 + 699_059_228 + 200_000_000,
        "caught at {}",
        failure.time
    );
}

fn act(at: u64, fault: Fault) -> FaultAction {
    FaultAction {
        at: Instant(at),
        fault,
    }
}

/// Runs a pinned plan (found by a hunt, shrunk by `shrink_every_bug`) with the bug on and off:
/// on, the hunt's property must fail; off, the same faults must leave a correct Raft whole.
fn check_pinned(bug: &str, seed: u64, horizon: Duration, heal_at: u64, actions: Vec<FaultAction>) -> String {
    let h = hunt(bug);
    let plan = FaultPlan {
        actions,
        heal_at: Some(Instant(heal_at)),
    };
    let report = run_plan(&h.config, seed, &plan, horizon);
    assert_eq!(
        failed_property(&report).as_deref(),
        Some(h.property),
        "{bug} seed {seed} under\n{plan}\n{report}"
    );
    // The full hunt horizon, so the heal and the liveness phase happen too.
    let fixed = fixed_hunt(bug);
    let healthy = run_plan(&fixed.config, seed, &plan, fixed.horizon.max(horizon));
    assert_eq!(healthy.verdict, Verdict::Held, "{bug} switched off\n{healthy}");
    report.failure.expect("failed").message
}

#[test]
fn pinned_stale_read_needs_one_partition() {
    // Seed 0 of the hunt, shrunk from 20 faults: cut the leader off and its neighbour reads a
    // value the new majority has already overwritten.
    let message = check_pinned(
        "stale_read_deposed_leader",
        0,
        Duration::from_secs(6),
        4_000_000_000,
        vec![act(
            1_732_283_454,
            Fault::Partition {
                partition: Partition::Isolate { host: HostId(0) },
                duration: Duration(699_059_228),
            },
        )],
    );
    assert!(message.contains("get(k0)"), "{message}");
}

#[test]
fn pinned_forgotten_vote_needs_three_faults() {
    // Seed 17 of the hunt, shrunk from 984 faults: a bridge partition (h1 hears both others,
    // they do not hear each other), and h1's server killed for 16 us right after it voted.
    let message = check_pinned(
        "vote_not_persisted",
        17,
        Duration(14_262_015_063),
        18_000_000_000,
        vec![
            act(
                5_637_004_891,
                Fault::CrashHost {
                    host: HostId(0),
                    down_for: Duration(2_294_095),
                },
            ),
            act(
                5_656_943_080,
                Fault::Partition {
                    partition: Partition::Bridge {
                        left: vec![HostId(2)],
                        right: vec![HostId(0)],
                        bridge: HostId(1),
                    },
                    duration: Duration(45_517_198),
                },
            ),
            act(
                5_686_039_468,
                Fault::KillProcess {
                    host: HostId(1),
                    process_index: 1143,
                    down_for: Duration(16_085),
                },
            ),
        ],
    );
    assert!(message.contains("two leaders in term"), "{message}");
}

#[test]
fn pinned_lease_without_margin_needs_drift_and_a_partition() {
    // Seed 138 of the hunt, shrunk from 50 faults: h2's clock runs 23% slow, then h2 (the
    // leader) is cut off; its lease outlives the followers' patience and its reader sees a
    // value the new leader has overwritten.
    check_pinned(
        "lease_without_drift_margin",
        138,
        Duration::from_secs(6),
        4_000_000_000,
        vec![
            act(
                264_401_258,
                Fault::ClockDrift {
                    host: HostId(2),
                    drift_ppm: -230_957,
                    duration: Duration(933_899_685),
                },
            ),
            act(
                457_880_944,
                Fault::Partition {
                    partition: Partition::Isolate { host: HostId(2) },
                    duration: Duration(397_416_227),
                },
            ),
        ],
    );
}

#[test]
fn pinned_figure_8_needs_a_chain_of_leader_changes() {
    // Seed 3 of the hunt, shrunk from 543 faults (before the failure) to these 20, each needed
    // (ddmin's result is 1-minimal). Figure 8 is a chain of leader changes: leaders that append
    // and are cut off before replicating, one that later commits an older term's entry by
    // counting replicas, and a rival with a newer last term that wins and overwrites it.
    let message = check_pinned(
        "commit_previous_term",
        3,
        Duration(15_001_142_592),
        58_000_000_000,
        vec![
            act(
                9_465_521_314,
                Fault::CrashHost {
                    host: HostId(0),
                    down_for: Duration(67_549_245),
                },
            ),
            act(
                9_519_276_601,
                Fault::SlowLink {
                    from: HostId(2),
                    to: HostId(0),
                    factor: 10,
                    duration: Duration(31_539_492),
                },
            ),
            act(
                9_622_061_986,
                Fault::Partition {
                    partition: Partition::Bridge {
                        left: vec![HostId(0)],
                        right: vec![HostId(1)],
                        bridge: HostId(2),
                    },
                    duration: Duration(60_811_311),
                },
            ),
            act(
                9_661_676_930,
                Fault::CrashHost {
                    host: HostId(0),
                    down_for: Duration(81_092_362),
                },
            ),
            act(
                9_703_682_214,
                Fault::Partition {
                    partition: Partition::OneWay {
                        from: vec![HostId(1)],
                        to: vec![HostId(0), HostId(2)],
                    },
                    duration: Duration(54_514_018),
                },
            ),
            act(
                9_739_430_759,
                Fault::Partition {
                    partition: Partition::Bridge {
                        left: vec![HostId(0)],
                        right: vec![HostId(2)],
                        bridge: HostId(1),
                    },
                    duration: Duration(12_461_393),
                },
            ),
            act(
                9_794_205_574,
                Fault::Partition {
                    partition: Partition::Isolate { host: HostId(1) },
                    duration: Duration(78_187_309),
                },
            ),
            act(
                9_796_932_084,
                Fault::CrashHost {
                    host: HostId(2),
                    down_for: Duration(32_629_776),
                },
            ),
            act(
                9_845_641_384,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(0)],
                    },
                    duration: Duration(92_896_129),
                },
            ),
            act(
                9_886_130_846,
                Fault::CrashHost {
                    host: HostId(0),
                    down_for: Duration(99_321_704),
                },
            ),
            act(
                9_900_700_293,
                Fault::Partition {
                    partition: Partition::Isolate { host: HostId(2) },
                    duration: Duration(113_321_972),
                },
            ),
            act(
                10_024_051_674,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(1)],
                    },
                    duration: Duration(1_234_376),
                },
            ),
            act(
                10_026_030_830,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(2)],
                    },
                    duration: Duration(58_318_167),
                },
            ),
            act(
                10_064_872_531,
                Fault::Clog {
                    from: HostId(0),
                    to: HostId(1),
                    duration: Duration(45_521_118),
                },
            ),
            act(
                10_097_061_970,
                Fault::Partition {
                    partition: Partition::Isolate { host: HostId(2) },
                    duration: Duration(19_719_076),
                },
            ),
            act(
                10_151_036_102,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(1)],
                    },
                    duration: Duration(101_643_944),
                },
            ),
            act(
                10_242_274_515,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(2)],
                    },
                    duration: Duration(127_404_725),
                },
            ),
            act(
                10_312_144_386,
                Fault::CrashHost {
                    host: HostId(1),
                    down_for: Duration(54_719_870),
                },
            ),
            act(
                10_402_649_265,
                Fault::Partition {
                    partition: Partition::Halves {
                        side: vec![HostId(0)],
                    },
                    duration: Duration(126_158_734),
                },
            ),
            act(
                10_523_021_311,
                Fault::Partition {
                    partition: Partition::Isolate { host: HostId(1) },
                    duration: Duration(9_094_657),
                },
            ),
        ],
    );
    assert!(message.contains("without the entries committed"), "{message}");
}

#[test]
fn a_failing_bug_run_shrinks_to_a_few_faults() {
    // The sim's plan shrinker, driven end to end: the vote bug's seed 17 (984 faults) comes
    // down to a few that still break election safety, shown 1-minimal within 300 runs (8 in 85
    // runs; ddmin, which did not stop at 1-minimal, reached 4 by spending the whole budget).
    let s = shrink_bug("vote_not_persisted", 17, 300);
    assert!(
        s.shrink.minimal && s.shrink.plan.actions.len() <= 8,
        "kept {} actions (1-minimal: {}):\n{}",
        s.shrink.plan.actions.len(),
        s.shrink.minimal,
        s.shrink.plan
    );
    assert!(s.shrink.removed.len() > 900, "{}", s.shrink.removed.len());
    let h = hunt("vote_not_persisted");
    let r = run_plan(&h.config, 17, &s.shrink.plan, s.horizon);
    assert_eq!(failed_property(&r).as_deref(), Some("election_safety"));
}

#[test]
#[ignore = "the full sweep: cargo test -p ruckus-models --release -- --ignored healthy_sweep_1000 --nocapture"]
fn healthy_sweep_1000() {
    let config = Config::default();
    for seed in 0..1000 {
        let report = run(&config, seed, &stormy(), Duration::from_secs(15));
        assert_eq!(report.verdict, Verdict::Held, "seed {seed}\n{report}");
    }
}
