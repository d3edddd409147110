use super::*;
use ruckus_sim::{
    FaultPlan, FaultProfile, FaultRate, Limits, RunReport, SimConfig, Verdict, check_determinism,
};

fn build(config: &Config, seed: u64, profile: &FaultProfile, horizon: Duration) -> Sim<Raft> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let topology = config.topology();
    let mut sim = Sim::new(sim_config, &topology);
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    let plan = if profile.is_empty() {
        FaultPlan::none()
    } else {
        profile.plan(seed, topology.hosts(), horizon)
    };
    sim.set_fault_plan(plan).expect("valid plan");
    sim
}

fn run(config: &Config, seed: u64, profile: &FaultProfile, horizon: Duration) -> RunReport {
    build(config, seed, profile, horizon).run()
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

/// The profile a bug is hunted under, and the config that switches it on.
pub(super) fn bug_hunt(bug: &str) -> (Config, FaultProfile) {
    let mut config = Config::default();
    let mut p = stormy();
    match bug {
        "vote_not_persisted" => {
            config.bugs.vote_not_persisted = true;
            config.servers = 3;
            config.clients = 3;
            p.crash = Some(rate(300, 10, 200));
            p.partition = Some(rate(400, 100, 600));
            p.max_hosts_down = 1;
        }
        "commit_previous_term" => {
            config.bugs.commit_previous_term = true;
            config.leader_noop = false;
            config.servers = 3;
            config.clients = 3;
            config.keys = 1;
            p.crash = Some(rate(300, 10, 400));
            p.partition = Some(rate(400, 100, 800));
            p.max_hosts_down = 1;
        }
        "stale_read_deposed_leader" => {
            config.bugs.stale_read_deposed_leader = true;
            config.keys = 1;
            config.read_percent = 80;
            p.partition = Some(rate(800, 300, 2000));
        }
        "lease_without_drift_margin" => {
            config.read_mode = ReadMode::Lease;
            config.bugs.lease_without_drift_margin = true;
            config.keys = 1;
            config.read_percent = 90;
            p.clock_drift = Some(rate(300, 2000, 10_000));
            p.clock_drift_max_ppm = 200_000;
            p.partition = Some(rate(500, 200, 1500));
        }
        _ => panic!("no bug {bug}"),
    }
    (config, p)
}

#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture bug_seed_counts"]
fn bug_seed_counts() {
    for bug in [
        "healthy_no_noop",
        "healthy_lease",
        "stale_read_deposed_leader",
        "vote_not_persisted",
        "commit_previous_term",
        "lease_without_drift_margin",
    ] {
        let (config, profile) = match bug {
            "healthy_no_noop" => (
                Config {
                    leader_noop: false,
                    ..Config::default()
                },
                stormy(),
            ),
            "healthy_lease" => {
                let (mut c, p) = bug_hunt("lease_without_drift_margin");
                c.bugs = Bugs::default();
                c.lease_drift_margin_ppm = 400_000;
                (c, p)
            }
            _ => bug_hunt(bug),
        };
        let mut found = Vec::new();
        for seed in 0..200 {
            let r = run(&config, seed, &profile, Duration::from_secs(15));
            if r.verdict != Verdict::Held {
                found.push((seed, r.failure.as_ref().and_then(|f| f.property.clone())));
            }
        }
        println!(
            "{bug}: {} of 200 seeds fail; first {:?}",
            found.len(),
            &found[..found.len().min(5)]
        );
    }
}

#[test]
fn stale_read_by_a_deposed_leader_is_found() {
    // Measured: the first failing seed is 9 (17 of seeds 0..200 fail), always `linearizable`.
    let (config, profile) = bug_hunt("stale_read_deposed_leader");
    let (seed, report) =
        first_failure(&config, &profile, 15, Duration::from_secs(15)).expect("found within 15 seeds");
    let failure = report.failure.expect("a failure");
    assert_eq!(
        failure.property.as_deref(),
        Some("linearizable"),
        "seed {seed}: {}",
        failure.message
    );
    assert!(failure.message.contains("get(k0)"), "{}", failure.message);
}

#[test]
#[ignore = "slow (about 100 runs): cargo test -p ruckus-models --release -- --ignored vote_not_persisted_is_found"]
fn vote_not_persisted_is_found() {
    // Measured: the first failing seed is 97 (1 of seeds 0..200), by `election_safety`.
    let (config, profile) = bug_hunt("vote_not_persisted");
    let (_, report) =
        first_failure(&config, &profile, 120, Duration::from_secs(15)).expect("found within 120 seeds");
    assert_eq!(
        report.failure.and_then(|f| f.property).as_deref(),
        Some("election_safety")
    );
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

#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture speed_and_checker_time"]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // wall-clock timing of a finished run, outside the run path
fn speed_and_checker_time() {
    let config = Config::default();
    let mut sim = build(&config, 1, &FaultProfile::none(), Duration::from_secs(60));
    let start = std::time::Instant::now();
    let report = sim.run();
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(report.verdict, Verdict::Held);
    let ops = sim.metrics().counter("raft.client.ok");
    println!(
        "healthy 5 servers, 5 clients, 60 s simulated: {:.1} s wall, {:.1} simulated s per wall s, {} events, {} client ops",
        wall,
        60.0 / wall,
        report.events,
        ops
    );
    // Checker: 10,000 operations on 10 keys, from a real run with 10 keys.
    let config = Config {
        keys: 10,
        clients: 10,
        ..Config::default()
    };
    let mut sim = build(&config, 2, &stormy(), Duration::from_secs(35));
    assert_eq!(sim.run().verdict, Verdict::Held);
    let history = history_of(sim.history()).expect("well-formed");
    let start = std::time::Instant::now();
    let result =
        crate::linearizability::check(&crate::linearizability::kv::KvSpec, &history, Default::default());
    println!(
        "checker: {} operations on 10 keys in {:.3} s: linearizable = {}",
        history.operations().len(),
        start.elapsed().as_secs_f64(),
        result.is_linearizable()
    );
}
