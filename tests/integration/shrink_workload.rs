//! `ruckus shrink` reduces the workload as well as the faults and the horizon.
//!
//! - Failing runs of lease_lock_no_fencing shrink to fewer clients or fewer writes per lease;
//!   each shrunk trace replays as "matches", still fails `storage_fenced`, and every knob is at
//!   its minimum or one step smaller no longer fails (with the shrunk plan and horizon).
//! - A knob that is the model's host count (pingpong's `hosts`) moves the topology with it, and
//!   the shrunk trace still replays.
//! - A Raft linearizability failure (found when the run ends, so at the horizon) shrinks its
//!   clients and its horizon.
//! - `--keep-workload` leaves the workload as recorded.

use crate::support::TempDir;
use ruckus_models::lease_lock::LeaseLockModel as LeaseLock;
use ruckus_models::pingpong::PingPongModel as PingPong;
use ruckus_scenarios::recording;
use ruckus_scenarios::registry::{Model, Registry};
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_sim::trace::TraceReader;
use ruckus_sim::{Failure, FaultPlan};
use std::path::Path;

/// Runs `ruckus ARGS` in-process: (exit code, standard output); it must write no errors.
fn ruckus(args: &[&str]) -> (u8, String) {
    let r = crate::support::ruckus(args);
    assert!(r.err.is_empty(), "ruckus {args:?} wrote errors: {}", r.err);
    (r.code, r.out)
}

/// What a trace file holds: the scenario it replays, its seed, plan and failure.
struct Traced {
    scenario: Scenario,
    seed: u64,
    plan: FaultPlan,
    failure: Option<Failure>,
}

fn read(path: &Path) -> Traced {
    let reader = TraceReader::open(path).unwrap();
    let scenario = recording::scenario_of(&Registry::builtin(), reader.header(), path).unwrap();
    Traced {
        scenario,
        seed: reader.header().seed,
        plan: reader.header().plan.clone(),
        failure: reader.footer().failure.clone(),
    }
}

/// The integer model parameter `key` of `scenario`.
fn knob(scenario: &Scenario, key: &str) -> u64 {
    let v = scenario.model_params.get(key).and_then(|v| v.as_integer());
    u64::try_from(v.unwrap_or_else(|| panic!("no integer `{key}`"))).unwrap()
}

/// Whether `a` is the same failure as `b`: same verdict, same property.
fn same(a: Option<&Failure>, b: &Failure) -> bool {
    a.is_some_and(|a| a.verdict == b.verdict && a.property == b.property)
}

/// `scenario` with model parameter `key` set to `value`, loaded as a trace's scenario is, or
/// `None` when the model rejects it.
fn with_knob(scenario: &Scenario, key: &str, value: u64) -> Option<Scenario> {
    let set = format!("model.{key}={value}");
    Scenario::from_text(
        &Registry::builtin(),
        &scenario.name,
        &scenario.reference,
        "test",
        &scenario.to_toml(),
        &[set],
    )
    .ok()
}

/// Shrinks the trace at `trace` (whose run exited with `code`) into `small` and checks what
/// every shrink must give: the same exit code and failure, a replay that matches, a plan and
/// horizon no larger.
fn shrink_and_check(trace: &Path, code: u8, small: &Path, extra: &[&str]) -> (Traced, Traced, String) {
    let original = read(trace);
    let failure = original.failure.clone().expect("the original run fails");
    let mut args = vec!["shrink", trace.to_str().unwrap(), "-o", small.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (shrink_code, out) = ruckus(&args);
    assert_eq!(shrink_code, code, "{out}");
    let shrunk = read(small);
    assert!(
        same(shrunk.failure.as_ref(), &failure),
        "{}: the shrunk run fails differently: {:?}\n{out}",
        trace.display(),
        shrunk.failure
    );
    assert!(shrunk.plan.actions.len() <= original.plan.actions.len());
    assert!(shrunk.scenario.limits.horizon <= original.scenario.limits.horizon);
    assert_eq!(shrunk.seed, original.seed);
    let (rcode, replayed) = ruckus(&["replay", small.to_str().unwrap()]);
    assert!(replayed.contains("matches"), "{replayed}");
    assert_eq!(rcode, code, "replay exits with the shrunk run's verdict");
    (original, shrunk, out)
}

#[test]
fn lease_lock_no_fencing_shrinks_its_workload_to_a_minimum_that_still_fails() {
    let dir = TempDir::new("lease");
    let knobs = LeaseLock::WORKLOAD_KNOBS;
    assert!(!knobs.is_empty());
    let (mut failing, mut reduced) = (0, 0);
    for seed in 1..=40u64 {
        let trace = dir.file(&format!("{seed}.trace"));
        let seed_text = seed.to_string();
        let (code, _) = ruckus(&[
            "run",
            "lease_lock_no_fencing",
            "--seed",
            &seed_text,
            "--trace",
            trace.to_str().unwrap(),
        ]);
        if code != 1 {
            continue;
        }
        failing += 1;
        let small = dir.file(&format!("{seed}.small.trace"));
        let (original, shrunk, out) = shrink_and_check(&trace, code, &small, &[]);
        let failure = shrunk.failure.clone().unwrap();
        assert_eq!(failure.property.as_deref(), Some("storage_fenced"), "seed {seed}");
        for &(key, min) in knobs {
            let (before, after) = (knob(&original.scenario, key), knob(&shrunk.scenario, key));
            assert!(
                after <= before && after >= min,
                "seed {seed}: {key} {before} -> {after}"
            );
            if after < before {
                reduced += 1;
                assert!(
                    out.contains(&format!("{key} {before} -> {after}")),
                    "seed {seed}: the report does not say {key} was reduced:\n{out}"
                );
            }
            // One step smaller (same plan, same horizon) no longer fails the same way.
            if after > min {
                let smaller = with_knob(&shrunk.scenario, key, after - 1).expect("a valid size");
                let run = runner::run_plan(&smaller, seed, shrunk.plan.clone());
                assert!(
                    !same(run.report.failure.as_ref(), &failure),
                    "seed {seed}: {key} = {} still fails, so {after} is not minimal",
                    after - 1
                );
            }
        }
        // The shrunk header holds the reduced scenario: a plain run of it fails the same way.
        let again = runner::run_plan(&shrunk.scenario, seed, shrunk.plan.clone());
        assert!(same(again.report.failure.as_ref(), &failure), "seed {seed}");
        if failing == 5 {
            break;
        }
    }
    assert_eq!(
        failing, 5,
        "too few failing seeds of lease_lock_no_fencing in 1..=40"
    );
    assert!(
        reduced >= 2,
        "only {reduced} workload sizes reduced over {failing} failures"
    );
}

#[test]
fn a_host_count_knob_moves_the_topology_with_it() {
    let dir = TempDir::new("ping");
    let trace = dir.file("p.trace");
    // A run over its event budget: a smaller workload reaches the budget too.
    let (code, _) = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=20000",
        "--set",
        "limits.max_events=5000",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "limit exceeded exits 4");
    let small = dir.file("p.small.trace");
    let (original, shrunk, out) = shrink_and_check(&trace, code, &small, &[]);
    assert!(
        PingPong::WORKLOAD_KNOBS
            .iter()
            .any(|(k, _)| Some(*k) == PingPong::HOSTS_KEY)
    );
    let hosts = knob(&shrunk.scenario, "hosts");
    assert!(hosts < knob(&original.scenario, "hosts"), "{out}");
    assert_eq!(
        u64::from(shrunk.scenario.topology.hosts),
        hosts,
        "topology follows the model"
    );
    assert!(knob(&shrunk.scenario, "deliveries") < 20_000, "{out}");
    assert!(out.contains("hosts 5 -> "), "{out}");
}

#[test]
fn keep_workload_leaves_the_workload_as_recorded() {
    let dir = TempDir::new("keep");
    let trace = dir.file("k.trace");
    let (code, _) = ruckus(&[
        "run",
        "lease_lock_no_fencing",
        "--seed",
        "1",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "seed 1 of lease_lock_no_fencing fails");
    let small = dir.file("k.small.trace");
    let (original, shrunk, out) = shrink_and_check(&trace, code, &small, &["--keep-workload"]);
    for &(key, _) in LeaseLock::WORKLOAD_KNOBS {
        assert_eq!(
            knob(&shrunk.scenario, key),
            knob(&original.scenario, key),
            "{key}"
        );
    }
    assert!(!out.contains("workload:"), "{out}");
}

#[test]
fn raft_failures_found_at_the_end_shrink_their_workload_and_horizon() {
    use ruckus_models::raft::RaftModel as Raft;
    let dir = TempDir::new("raft");
    let trace = dir.file("r.trace");
    // The first failing seed: linearizability is checked when the run ends, and the failure is
    // placed at the operation no ordering explains, well before the horizon.
    let seed = (1..=10u64)
        .find(|s| {
            let s = s.to_string();
            let args = [
                "run",
                "raft_stale_read_deposed_leader",
                "--seed",
                &s,
                "--trace",
                trace.to_str().unwrap(),
            ];
            ruckus(&args).0 == 1
        })
        .expect("a failing seed of raft_stale_read_deposed_leader in 1..=10");
    let small = dir.file("r.small.trace");
    let (original, shrunk, out) = shrink_and_check(&trace, 1, &small, &[]);
    let failure = original.failure.unwrap();
    assert_eq!(failure.property.as_deref(), Some("linearizable"), "seed {seed}");
    assert!(
        failure.time.as_nanos() < original.scenario.limits.horizon.as_nanos() && failure.operation.is_some(),
        "seed {seed}: {failure:?}"
    );
    assert!(
        shrunk.scenario.limits.horizon < original.scenario.limits.horizon,
        "seed {seed}: the horizon did not shrink\n{out}"
    );
    let reduced: Vec<&str> = Raft::WORKLOAD_KNOBS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| knob(&shrunk.scenario, k) < knob(&original.scenario, k))
        .collect();
    assert!(
        !reduced.is_empty(),
        "seed {seed}: no workload size reduced\n{out}"
    );
}
