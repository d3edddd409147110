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
            p.crash = Some(rate(400, 20, 300));
            p.partition = Some(rate(600, 100, 800));
        }
        "commit_previous_term" => {
            config.bugs.commit_previous_term = true;
            config.leader_noop = false;
            p.crash = Some(rate(400, 20, 600));
            p.partition = Some(rate(500, 100, 1000));
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
        for seed in 0..100 {
            let r = run(&config, seed, &profile, Duration::from_secs(15));
            if r.verdict != Verdict::Held {
                found.push((seed, r.failure.as_ref().and_then(|f| f.property.clone())));
            }
        }
        println!(
            "{bug}: {} of 100 seeds fail; first {:?}",
            found.len(),
            &found[..found.len().min(5)]
        );
    }
}

#[test]
#[ignore = "debugging aid: prints one failing run"]
fn show_commit_previous_term_seed_0() {
    let (config, profile) = bug_hunt("commit_previous_term");
    let mut sim = build(&config, 0, &profile, Duration::from_secs(15));
    let r = sim.run();
    println!("{r}");
}
