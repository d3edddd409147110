use super::*;
use crate::test_support::build_checked;
use ruckus_sim::{FaultProfile, FaultRate, RunReport, SimConfig, Verdict, check_determinism};

fn build(config: &Config, seed: u64, profile: &FaultProfile, horizon: Duration) -> Sim<Stack> {
    build_checked::<CatalogStackModel>(
        SimConfig::with_seed(seed),
        config.topology(),
        config,
        profile,
        horizon,
    )
}

fn rate(mean_ms: u64, min_ms: u64, max_ms: u64) -> FaultRate {
    FaultRate {
        mean_interval: Duration::from_millis(mean_ms),
        duration_min: Duration::from_millis(min_ms),
        duration_max: Duration::from_millis(max_ms),
    }
}

/// Host crashes (servers, instances and callers die together and restart from their boot
/// image and disk) and partitions, one host down at a time out of three; quiet for the last 4 s.
fn crashes_and_partitions() -> FaultProfile {
    let mut p = FaultProfile::none();
    p.crash = Some(rate(1000, 50, 1000));
    p.partition = Some(rate(800, 100, 1500));
    p.max_hosts_down = 1;
    p.quiet_period = Duration::from_secs(4);
    p
}

fn failed_property(report: &RunReport) -> Option<String> {
    report.failure.as_ref().and_then(|f| f.property.clone())
}

#[test]
fn the_catalog_stack_holds_under_crashes_and_partitions() {
    let config = Config::default();
    let mut unknown = 0;
    for seed in 0..5 {
        let mut sim = build(&config, seed, &crashes_and_partitions(), Duration::from_secs(10));
        let report = sim.run();
        assert_eq!(
            report.verdict,
            Verdict::Held,
            "seed {seed}\n{report}\n{}",
            sim.fault_plan()
        );
        let m = sim.metrics();
        assert!(
            m.counter("raft.client.ok") > 300,
            "seed {seed}: {:?}",
            m.counters()
        );
        assert!(
            m.counter("compose.calls.ok") > 50,
            "seed {seed}: {:?}",
            m.counters()
        );
        assert!(m.counter("compose.instance.calls") >= m.counter("compose.calls.ok"));
        unknown += m.counter("raft.client.unknown");
        // The registration property had something to check: most instances end registered.
        let must = registrations_that_must_hold(sim.history());
        assert!(must.len() >= 2, "seed {seed}: {must:?}");
        let servers: Vec<_> = (0..3)
            .filter_map(|i| sim.process(ProcessId(i))?.as_server())
            .collect();
        let best = servers.iter().max_by_key(|s| s.applied).expect("servers");
        for (&i, &s) in &must {
            assert!(best.state.lists(s, i), "seed {seed}: instance {i}");
        }
    }
    // The faults bite: some catalog commands end with an unknown outcome.
    assert!(unknown > 0);
}

#[test]
fn a_seed_run_twice_gives_the_same_fingerprint() {
    let config = Config::default();
    let horizon = Duration::from_secs(6);
    let a =
        check_determinism(|| build(&config, 11, &crashes_and_partitions(), horizon)).expect("deterministic");
    assert_eq!(a.verdict, Verdict::Held, "{a}");
    let b = build(&config, 12, &crashes_and_partitions(), horizon).run();
    assert_ne!(a.fingerprint, b.fingerprint);
}

/// Three servers, instances and callers on one service, partitions that cut a leader off:
/// the setting in which a leader that serves lists without confirming it still leads
/// answers from a stale catalog.
fn stale_list_hunt(bug: bool) -> (Config, FaultProfile) {
    let mut config = Config {
        services: 1,
        instances: 3,
        callers: 3,
        deregister_percent: 40,
        ..Config::default()
    };
    config.raft.client_timeout = Duration::from_millis(50);
    config.raft.client_think_time = Duration::from_millis(10);
    config.raft.bugs.stale_read_deposed_leader = bug;
    let mut p = FaultProfile::none();
    p.partition = Some(rate(200, 200, 800));
    p.quiet_period = Duration::from_secs(1);
    (config, p)
}

/// 42 of 200 seeds fail with the bug on (first: seed 1), 0 of 200 with it off
/// (`stale_list_seed_counts`).
#[test]
fn a_stale_list_from_a_deposed_leader_is_caught_and_the_fixed_design_holds() {
    let horizon = Duration::from_secs(3);
    let (config, profile) = stale_list_hunt(true);
    let found = (0..20).find_map(|seed| {
        let report = build(&config, seed, &profile, horizon).run();
        (report.verdict != Verdict::Held).then_some((seed, report))
    });
    let (seed, report) = found.expect("the stale-list bug is found within 20 seeds");
    assert_eq!(
        failed_property(&report).as_deref(),
        Some("catalog_linearizable"),
        "{report}"
    );
    let (fixed, profile) = stale_list_hunt(false);
    for s in 0..=seed {
        let report = build(&fixed, s, &profile, horizon).run();
        assert_eq!(report.verdict, Verdict::Held, "seed {s}\n{report}");
    }
}

#[test]
fn an_instance_registers_through_the_embedded_client_and_every_server_lists_it() {
    let config = Config {
        instances: 1,
        callers: 0,
        ..Config::default()
    };
    let mut sim = build(&config, 3, &FaultProfile::none(), Duration::from_secs(2));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let instance = match sim.process(ProcessId(3)) {
        Some(Stack::Instance(i)) => i,
        other => panic!("p3 is not an instance: {other:?}"),
    };
    assert!(instance.serving);
    assert!(instance.catalog.completed > 5);
    let leaders = (0..3)
        .filter_map(|i| sim.process(ProcessId(i))?.as_server())
        .filter(|s| s.role == raft::Role::Leader)
        .count();
    assert_eq!(leaders, 1);
    for i in 0..3 {
        let server = sim
            .process(ProcessId(i))
            .and_then(Stack::as_server)
            .expect("a server");
        assert!(server.state.lists(0, 3), "p{i}: {:?}", server.state);
    }
}

fn invoke(process: u32, seq: u64, input: CatalogCommand) -> HistoryEntry<RecordOf<Catalog>> {
    HistoryEntry {
        time: Instant::ZERO,
        process: ProcessId(process),
        operation: raft::Record::Invoke {
            session: u64::from(process),
            seq,
            input,
        },
    }
}

fn complete(process: u32, seq: u64, outcome: Outcome<CatalogOutput>) -> HistoryEntry<RecordOf<Catalog>> {
    HistoryEntry {
        time: Instant::ZERO,
        process: ProcessId(process),
        operation: raft::Record::Complete {
            session: u64::from(process),
            seq,
            outcome,
        },
    }
}

#[test]
fn registrations_must_hold_unless_a_deregistration_may_land_after_them() {
    let reg = |i| CatalogCommand::Register {
        service: 0,
        instance: i,
    };
    let dereg = |i| CatalogCommand::Deregister {
        service: 0,
        instance: i,
    };
    let ok_reg = || Outcome::Ok(CatalogOutput::Registered(true));
    let ok_dereg = || Outcome::Ok(CatalogOutput::Deregistered(true));
    let history = vec![
        // Instance 5: deregistered, then registered again: must hold.
        invoke(5, 1, dereg(5)),
        complete(5, 1, ok_dereg()),
        invoke(5, 2, reg(5)),
        complete(5, 2, ok_reg()),
        // Instance 6: registered, then deregistered: need not.
        invoke(6, 1, reg(6)),
        complete(6, 1, ok_reg()),
        invoke(6, 2, dereg(6)),
        complete(6, 2, ok_dereg()),
        // Instance 7: an unknown deregistration may land after the later registration.
        invoke(7, 1, dereg(7)),
        complete(7, 1, Outcome::Unknown),
        invoke(7, 2, reg(7)),
        complete(7, 2, ok_reg()),
        // Instance 8: a failed deregistration never happened; the registration must hold.
        invoke(8, 1, reg(8)),
        complete(8, 1, ok_reg()),
        invoke(8, 2, dereg(8)),
        complete(8, 2, Outcome::Failed),
        // Instance 9: registration with an unknown outcome is not acknowledged.
        invoke(9, 1, reg(9)),
        complete(9, 1, Outcome::Unknown),
        // Instance 10: a deregistration overlapping the registration may come after it.
        invoke(10, 1, reg(10)),
        invoke(11, 1, dereg(10)),
        complete(10, 1, ok_reg()),
        complete(11, 1, ok_dereg()),
    ];
    let must = registrations_that_must_hold(&history);
    assert_eq!(must, BTreeMap::from([(5, 0), (8, 0)]));
}

#[test]
fn config_validation_names_the_field() {
    assert_eq!(Config::default().validate(), Ok(()));
    let bad = Config {
        services: 0,
        ..Config::default()
    };
    assert!(bad.validate().unwrap_err().contains("services"));
    let mut bad = Config::default();
    bad.raft.heartbeat_interval = Duration::from_secs(1);
    assert!(
        bad.validate()
            .unwrap_err()
            .starts_with("raft: heartbeat_interval")
    );
    assert!(CatalogStackModel::check(&Config::default(), 2).is_err());
    assert_eq!(CatalogStackModel::check(&Config::default(), 3), Ok(()));
}

/// How often the stale-list hunt fails, with the bug on and off: see
/// `a_stale_list_from_a_deposed_leader_is_caught_and_the_fixed_design_holds` for the figures.
#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture stale_list_seed_counts"]
fn stale_list_seed_counts() {
    let horizon = Duration::from_secs(3);
    for bug in [true, false] {
        let (config, profile) = stale_list_hunt(bug);
        let failing: Vec<u64> = (0..200)
            .filter(|&seed| {
                let report = build(&config, seed, &profile, horizon).run();
                if report.verdict != Verdict::Held {
                    assert_eq!(
                        failed_property(&report).as_deref(),
                        Some("catalog_linearizable"),
                        "{report}"
                    );
                }
                report.verdict != Verdict::Held
            })
            .collect();
        println!(
            "stale_read_deposed_leader = {bug}: {} of 200 seeds fail (first: {:?})",
            failing.len(),
            failing.first()
        );
    }
}

/// The healthy stack under crashes and partitions, many seeds: see the module docs for the figures.
#[test]
#[ignore = "measurement: cargo test -p ruckus-models --release -- --ignored --nocapture catalog_stack_sweep"]
fn catalog_stack_sweep() {
    let config = Config::default();
    let (mut held, mut must, mut calls, mut refused, mut timeouts, mut unknown) = (0, 0, 0, 0, 0, 0);
    let seeds = 200;
    for seed in 0..seeds {
        let mut sim = build(&config, seed, &crashes_and_partitions(), Duration::from_secs(10));
        let report = sim.run();
        assert_eq!(
            report.verdict,
            Verdict::Held,
            "seed {seed}\n{report}\n{}",
            sim.fault_plan()
        );
        held += 1;
        must += registrations_that_must_hold(sim.history()).len();
        let m = sim.metrics();
        calls += m.counter("compose.calls.ok");
        refused += m.counter("compose.calls.refused");
        timeouts += m.counter("compose.calls.timeout");
        unknown += m.counter("raft.client.unknown");
    }
    println!(
        "{held} of {seeds} seeds held; per run: {:.1} registrations checked at the end, {:.0} calls served, \
         {:.1} refused (stale list), {:.1} timed out, {:.1} catalog commands with unknown outcome",
        must as f64 / seeds as f64,
        calls as f64 / seeds as f64,
        refused as f64 / seeds as f64,
        timeouts as f64 / seeds as f64,
        unknown as f64 / seeds as f64
    );
}
