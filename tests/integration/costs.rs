//! Time costs end to end on Raft: scenario files set disk latency, processing time and
//! clocks that start apart, and the runs show them; the election figures measure a leader
//! crash.

use ruckus_models::raft::RaftModel;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_sim::{Instant, Metrics, Model};

fn scenario(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Scenario::load(&Registry::builtin(), name, &sets).unwrap()
}

/// Runs `scenario` for `seed`: its metrics and end time.
fn run(scenario: &Scenario, seed: u64) -> (Metrics, Instant, u64) {
    let config = scenario.model_config::<RaftModel>().unwrap();
    let plan = runner::fault_plan(scenario, seed);
    let mut sim =
        runner::build::<RaftModel>(&scenario.topology, &config, &plan, scenario.limits, seed, None).unwrap();
    let report = sim.run();
    (report.metrics, report.end_time, report.fingerprint)
}

fn mean(samples: &[u64]) -> f64 {
    samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64
}

#[test]
fn raft_with_disk_latency_commits_later_than_without() {
    let plain = scenario("raft", &[]);
    let slow = scenario("raft", &["topology.costs.disk_sync=\"5ms\""]);
    for seed in 1..=2 {
        let (fast, _, fast_print) = run(&plain, seed);
        let (synced, _, slow_print) = run(&slow, seed);
        assert_ne!(
            fast_print, slow_print,
            "seed {seed}: disk latency changed nothing"
        );
        // Each write waits for the leader's and a majority's fsync of its entry.
        let (a, b) = (
            mean(fast.samples("raft.client.latency_ns")),
            mean(synced.samples("raft.client.latency_ns")),
        );
        assert!(
            b > a + 5e6,
            "seed {seed}: mean client latency {a} ns without disk latency, {b} ns with 5 ms syncs"
        );
    }
}

#[test]
fn costs_off_leave_a_run_as_it_was() {
    let plain = scenario("raft_leader_crash", &[]);
    let zero = scenario(
        "raft_leader_crash",
        &[
            "topology.costs.handler=\"0ms\"",
            "topology.costs.disk_sync=\"0ms\"",
        ],
    );
    let busy = scenario("raft_leader_crash", &["topology.costs.handler=\"200us\""]);
    let (_, _, a) = run(&plain, 1);
    let (_, _, b) = run(&zero, 1);
    let (_, _, c) = run(&busy, 1);
    assert_eq!(a, b, "zero costs moved the run");
    assert_ne!(a, c, "a handler cost changed nothing");
}

#[test]
fn a_leader_crash_is_measured_as_time_without_a_leader() {
    let crash = scenario("raft_leader_crash", &[]);
    for seed in 1..=3 {
        let (metrics, end, _) = run(&crash, seed);
        let s = RaftModel::summarize(&crash.model_config::<RaftModel>().unwrap(), &metrics, end);
        assert_eq!(s["raft.leader_failures"], 1.0, "seed {seed}: {s:?}");
        let gap = s["raft.unavailable_ns"];
        // At least one election timeout (150 ms) less a heartbeat, well within the 2 s down.
        assert!(gap > 75e6 && gap < 2e9, "seed {seed}: {gap} ns without a leader");
        assert_eq!(s["raft.unavailable_unresolved"], 0.0);
        assert!(s.contains_key("raft.split_vote_rounds"));
    }
}

#[test]
fn without_timeout_randomness_only_clocks_that_start_apart_elect_a_leader() {
    let fixed = [
        "model.election_timeout_min=\"150ms\"",
        "model.election_timeout_max=\"150ms\"",
        "topology.latency=\"2ms\"",
        "faults.enabled=false",
        "limits.horizon=\"3s\"",
    ];
    let (together, end, _) = run(&scenario("raft_leader_crash", &fixed), 1);
    assert_eq!(
        together.counter("raft.leaders_elected"),
        0,
        "identical servers split forever"
    );
    let config = scenario("raft_leader_crash", &fixed)
        .model_config::<RaftModel>()
        .unwrap();
    let s = RaftModel::summarize(&config, &together, end);
    assert!(s["raft.split_vote_rounds"] >= 5.0, "{s:?}");
    let mut apart = fixed.to_vec();
    apart.push("topology.clock_spread.start_jitter_max=\"100ms\"");
    let (spread, _, _) = run(&scenario("raft_leader_crash", &apart), 1);
    assert!(
        spread.counter("raft.leaders_elected") >= 1,
        "the first to boot wins"
    );
}

#[test]
fn bad_costs_and_spreads_are_located_errors() {
    let err = |set: &str| {
        let sets = vec![set.to_string()];
        Scenario::load(&Registry::builtin(), "raft", &sets)
            .unwrap_err()
            .to_string()
    };
    let e = err("topology.clock_spread.drift_max_ppm=200000");
    assert!(
        e.contains("topology.clock_spread") && e.contains("drift_max_ppm"),
        "{e}"
    );
    let e = err("topology.costs.disk_sync={ uniform = { min = \"5ms\", max = \"1ms\" } }");
    assert!(e.contains("topology.costs") && e.contains("disk_sync"), "{e}");
    let e = err("topology.costs.cpu=\"1ms\"");
    assert!(e.contains("cpu") && e.contains("handler"), "{e}");
}

#[test]
fn a_slow_disk_fault_parses_prints_and_shrinks_like_the_others() {
    let s = scenario(
        "raft_leader_crash",
        &[
            "faults.plan={ actions = [{ at = \"1s\", fault = { slow_disk = { host = 2, factor = 8, duration = \"2s\" } } }] }",
            "topology.costs.disk_sync=\"2ms\"",
        ],
    );
    let plan = runner::fault_plan(&s, 1);
    let fault = &plan.actions[0].fault;
    assert_eq!(fault.to_string(), "slow disk h2 x8 for 2.000000000s");
    assert_eq!(fault.kind(), ruckus_sim::FaultKind::SlowDisk);
    let hosts = runner::topology(&s.topology).hosts().to_vec();
    let simpler = ruckus_sim::shrink::simplifications(fault, &hosts);
    assert!(
        simpler
            .iter()
            .any(|f| f.to_string() == "slow disk h2 x4 for 2.000000000s"),
        "{simpler:?}"
    );
    // It slows the run: syncs on host 2 take 16 ms for 2 s.
    let (_, _, slowed) = run(&s, 1);
    let mut healthy = s.clone();
    healthy.faults.enabled = false;
    let (_, _, plain) = run(&healthy, 1);
    assert_ne!(slowed, plain);
}
