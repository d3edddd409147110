use super::*;
use ruckus_sim::{
    Fault, FaultAction, FaultPlan, FaultProfile, Instant, Progress, RunReport, SimConfig, Verdict,
};

const HORIZON: Duration = Duration::from_secs(8);
const QUIET: Duration = Duration::from_secs(3);

fn run(config: &LeaseLockConfig, seed: u64) -> RunReport {
    build_sim(config, seed, HORIZON, &stress_profile(QUIET)).run()
}

/// The first seed in `0..limit` whose run fails, with the failed property.
fn first_failure(config: &LeaseLockConfig, limit: u64) -> Option<(u64, String)> {
    (0..limit).find_map(|seed| {
        let report = run(config, seed);
        report
            .failure
            .map(|f| (seed, f.property.unwrap_or_else(|| f.message.clone())))
    })
}

#[test]
fn healthy_design_holds_under_every_fault_kind() {
    let config = LeaseLockConfig::default();
    let mut writes = 0;
    let mut rejected = 0;
    let mut pauses = 0;
    let mut crashes = 0;
    for seed in 0..100 {
        let mut sim = build_sim(&config, seed, HORIZON, &stress_profile(QUIET));
        for a in &sim.fault_plan().actions {
            pauses += u32::from(matches!(a.fault, Fault::PauseHost { .. }));
            crashes += u32::from(matches!(a.fault, Fault::CrashHost { .. }));
        }
        let report = sim.run();
        assert_eq!(report.verdict, Verdict::Held, "seed {seed}:\n{report}");
        writes += sim.metrics().counter("writes_completed");
        rejected += sim.metrics().counter("writes_rejected");
    }
    assert!(
        pauses > 100 && crashes > 100,
        "{pauses} pauses, {crashes} crashes"
    );
    // The run does real work, and fencing really had stale writes to turn away.
    assert!(writes > 100 * 20, "only {writes} writes completed");
    assert!(rejected > 0, "no stale write was ever fenced off in 100 seeds");
}

// How many seeds a sweep needs to find each planted bug. Measured with the default config,
// `stress_profile(3 s)` and an 8 s horizon (`measure_sweeps` prints these):
//
// | switch             | first failing seed | seeds needed | seeds failing of 2000 | property          |
// |--------------------|--------------------|--------------|-----------------------|-------------------|
// | `bug_no_fencing`   | 0                  | 1            | 437 (22%)             | storage_fenced    |
// | `bug_no_sync`      | 8                  | 9            | 428 (21%)             | tokens_increasing |
// | `bug_clock_tokens` | 6                  | 7            | 254 (13%)             | tokens_increasing |
// | (healthy)          | none               | -            | 0                     | -                 |
//
// The tests allow 30 seeds each, so a change to the engine's random streams that moves the
// first failing seed does not break them, while a switch that stopped planting its bug
// (at these rates, 30 clean seeds in a row are about a 1-2% fluke for the rarest) does.
const FENCING_SEEDS: u64 = 30;
const NO_SYNC_SEEDS: u64 = 30;
const CLOCK_SEEDS: u64 = 30;

/// Every run a planted bug fails reached the probe the model declares for that bug's
/// window, and some runs of the healthy design reach it too: the probe marks where the bug
/// can show, not the bug itself.
#[test]
fn each_bugs_failing_runs_reached_its_probe() {
    let cases = [
        (
            LeaseLockConfig {
                bug_no_fencing: true,
                ..LeaseLockConfig::default()
            },
            "lease_lock.stale_write_reached_storage",
        ),
        (
            LeaseLockConfig {
                bug_no_sync: true,
                ..LeaseLockConfig::default()
            },
            "lease_lock.grant_after_server_restart",
        ),
        (
            LeaseLockConfig {
                bug_clock_tokens: true,
                ..LeaseLockConfig::default()
            },
            "lease_lock.grant_after_server_clock_stepped_back",
        ),
    ];
    for (config, probe) in cases {
        assert!(<LeaseLockModel as ruckus_sim::Model>::probes().contains(&probe));
        let mut failed = 0;
        for seed in 0..30 {
            let report = run(&config, seed);
            let reached = report.probes.iter().any(|p| p.name == probe);
            if report.verdict != Verdict::Held {
                failed += 1;
                assert!(reached, "seed {seed} failed without reaching {probe}:\n{report}");
            }
        }
        assert!(failed > 0, "no seed of 30 failed for {probe}");
        let healthy = (0..30).any(|seed| {
            run(&LeaseLockConfig::default(), seed)
                .probes
                .iter()
                .any(|p| p.name == probe)
        });
        assert!(healthy, "no healthy run reached {probe}");
    }
}

#[test]
fn bug_no_fencing_is_found_within_a_small_sweep() {
    let config = LeaseLockConfig {
        bug_no_fencing: true,
        ..LeaseLockConfig::default()
    };
    let found = first_failure(&config, FENCING_SEEDS);
    assert!(
        matches!(&found, Some((_, p)) if p == "storage_fenced"),
        "{found:?}"
    );
}

#[test]
fn bug_no_sync_is_found_within_a_small_sweep() {
    let config = LeaseLockConfig {
        bug_no_sync: true,
        ..LeaseLockConfig::default()
    };
    let found = first_failure(&config, NO_SYNC_SEEDS);
    assert!(
        matches!(&found, Some((_, p)) if p == "tokens_increasing"),
        "{found:?}"
    );
}

#[test]
fn bug_clock_tokens_is_found_within_a_small_sweep() {
    let config = LeaseLockConfig {
        bug_clock_tokens: true,
        ..LeaseLockConfig::default()
    };
    let found = first_failure(&config, CLOCK_SEEDS);
    assert!(
        matches!(&found, Some((_, p)) if p == "tokens_increasing"),
        "{found:?}"
    );
}

/// Runs a fault-free sim until some client has checked its lease and started working;
/// returns that moment and the client's host.
fn first_holder_at_work(config: &LeaseLockConfig, seed: u64) -> (Instant, HostId) {
    let mut sim = build_sim(config, seed, HORIZON, &FaultProfile::none());
    for index in 1.. {
        assert!(
            matches!(sim.run_until_event(index), Progress::Paused),
            "run ended early"
        );
        for c in 0..config.clients {
            let id = ProcessId(2 + c);
            if let Some(LeaseLock::Client(LockClient {
                state: ClientState::Working { .. },
                ..
            })) = sim.process(id)
            {
                return (sim.now(), sim.host_of(id));
            }
        }
    }
    unreachable!()
}

#[test]
fn the_holder_role_names_the_client_at_work_and_nobody_before() {
    use ruckus_sim::trace::shared;
    use ruckus_sim::{RecordKind, RecordingObserver};
    let config = LeaseLockConfig::default();
    for seed in 1..=3 {
        let (at, host) = first_holder_at_work(&config, seed);
        let mut sim = build_sim(&config, seed, HORIZON, &FaultProfile::none());
        let pause = |at: Instant| FaultAction {
            at,
            fault: Fault::PauseRole {
                target: "the holder".parse().unwrap(),
                paused_for: ms(5),
            },
        };
        let plan = FaultPlan {
            actions: vec![pause(Instant::ZERO), pause(at.saturating_add(Duration(1)))],
            heal_at: None,
        };
        sim.set_fault_plan(plan).unwrap();
        let (obs, records) = shared(RecordingObserver::default());
        sim.set_observer(Box::new(obs));
        sim.run();
        let begins: Vec<(u32, u64)> = records
            .borrow()
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::FaultBegin)
            .map(|r| (r.host, r.aux))
            .collect();
        // Nobody holds the lease at the start; the client at work is the holder later.
        assert_eq!(
            begins,
            vec![(ruckus_sim::record::NONE, 0), (host.0, 1)],
            "seed {seed}"
        );
    }
}

/// The run's report and how many writes fencing rejected.
fn with_long_pause(config: &LeaseLockConfig, seed: u64) -> (RunReport, u64) {
    let (at, host) = first_holder_at_work(config, seed);
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits.horizon = HORIZON;
    let mut sim = Sim::new(sim_config, &config.topology());
    // The holder stalls mid-work for two leases: it will write long after its lease ended.
    let pause = FaultAction {
        at: at.saturating_add(ms(1)),
        fault: Fault::PauseHost {
            host,
            paused_for: config.lease.saturating_mul(2),
        },
    };
    sim.set_fault_plan(FaultPlan {
        actions: vec![pause],
        heal_at: None,
    })
    .unwrap();
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    let report = sim.run();
    assert!(sim.metrics().counter("writes_sent") > 0);
    (report, sim.metrics().counter("writes_rejected"))
}

#[test]
fn a_long_pause_of_the_holder_breaks_unfenced_storage_and_fencing_stops_it() {
    let buggy = LeaseLockConfig {
        bug_no_fencing: true,
        ..LeaseLockConfig::default()
    };
    for seed in [1, 2, 3] {
        let (report, _) = with_long_pause(&buggy, seed);
        assert_eq!(report.verdict, Verdict::SafetyViolation, "seed {seed}: {report}");
        let failure = report.failure.as_ref().unwrap();
        assert_eq!(failure.property.as_deref(), Some("storage_fenced"));
        // The paused first holder's token 1 lands after a successor's newer token.
        assert!(
            failure.message.contains("under token 1 from"),
            "seed {seed}: {}",
            failure.message
        );
        // Deterministic: the same plan fails the same way.
        assert_eq!(with_long_pause(&buggy, seed).0, report);

        // The same pause against the healthy design: the stale write is fenced off.
        let (report, rejected) = with_long_pause(&LeaseLockConfig::default(), seed);
        assert_eq!(report.verdict, Verdict::Held, "seed {seed}: {report}");
        assert!(rejected >= 1, "seed {seed}: the stale write was not rejected");
    }
}

/// Prints, for each planted bug, the first failing seeds of a 200-seed sweep, and the
/// healthy design's failures over the same seeds: the figures quoted in the docs.
/// `cargo test -p ruckus-models --release -- --ignored --nocapture measure_sweeps`
#[test]
#[ignore = "prints measurements; run by hand"]
fn measure_sweeps() {
    const SWEEP: u64 = 200;
    let configs = [
        ("healthy", LeaseLockConfig::default()),
        (
            "bug_no_fencing",
            LeaseLockConfig {
                bug_no_fencing: true,
                ..LeaseLockConfig::default()
            },
        ),
        (
            "bug_no_sync",
            LeaseLockConfig {
                bug_no_sync: true,
                ..LeaseLockConfig::default()
            },
        ),
        (
            "bug_clock_tokens",
            LeaseLockConfig {
                bug_clock_tokens: true,
                ..LeaseLockConfig::default()
            },
        ),
    ];
    for (name, config) in configs {
        let failing: Vec<(u64, String)> = (0..SWEEP)
            .filter_map(|seed| {
                run(&config, seed)
                    .failure
                    .map(|f| (seed, f.property.unwrap_or(f.message)))
            })
            .collect();
        println!(
            "{name}: {} of {SWEEP} seeds fail; first: {:?}",
            failing.len(),
            &failing[..failing.len().min(5)]
        );
    }
}

#[test]
fn writes_resume_fails_when_writes_cannot_complete_in_time() {
    // No write can complete within 1 ms of the heal (a round trip alone takes 2 ms or more).
    let config = LeaseLockConfig {
        liveness_bound: Duration::from_millis(1),
        ..LeaseLockConfig::default()
    };
    let report = run(&config, 0);
    assert_eq!(report.verdict, Verdict::LivenessFailure, "{report}");
    assert_eq!(report.failure.unwrap().property.as_deref(), Some("writes_resume"));
}

#[test]
fn failure_reports_name_the_processes_in_their_last_events() {
    let config = LeaseLockConfig {
        bug_no_fencing: true,
        ..LeaseLockConfig::default()
    };
    let report = (0..50)
        .map(|seed| run(&config, seed))
        .find(|r| r.failure.is_some())
        .expect("no_fencing fails within 50 seeds");
    let text = report.to_string();
    assert!(text.contains("  processes:"), "{text}");
    assert!(text.contains("p0@h0 lock-server"), "{text}");
    assert!(text.contains("p1@h1 storage"), "{text}");
    assert!(text.contains("client-"), "{text}");
    let labels: Vec<&str> = report.processes.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels.len(), 2 + config.clients as usize, "{labels:?}");
}

#[test]
fn invalid_configs_are_named() {
    let bad = LeaseLockConfig {
        clients: 0,
        ..LeaseLockConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("clients"));
    let bad = LeaseLockConfig {
        drift_margin_percent: 100,
        ..LeaseLockConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("drift_margin_percent"));
    let bad = LeaseLockConfig {
        lease: Duration(u64::MAX),
        ..LeaseLockConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("lease is too large"));
    let bad = LeaseLockConfig {
        think_max: Duration::from_micros(10),
        ..LeaseLockConfig::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .contains("think_max must be at least 1ms")
    );
    LeaseLockConfig::default().validate().unwrap();
}
