//! The discovery models' callers and Raft's open-loop clients follow a `schedule` of rates, as
//! the services model's clients do: a step changes the rate they call at from the step on.

use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_sim::Verdict;

/// Builtin `name` without faults, run for `horizon_s` seconds, plus `sets`.
fn load(name: &str, horizon_s: u64, sets: &[&str]) -> Result<Scenario, String> {
    let mut all = vec![
        "faults.enabled=false".to_owned(),
        format!("limits.horizon=\"{horizon_s}s\""),
    ];
    all.extend(sets.iter().map(|s| s.to_string()));
    Scenario::load(&Registry::builtin(), name, &all).map_err(|e| e.to_string())
}

/// Calls the callers made that ended (answered, timed out, or found no instance) by the end.
fn calls(scenario: &Scenario) -> u64 {
    let plan = runner::fault_plan(scenario, 1);
    let mut sim = runner::simulation(scenario, 1, &plan).unwrap();
    let report = sim.run();
    // A short run may end before a heal's liveness deadline; nothing may stop it early.
    if let Some(f) = &report.failure {
        assert_eq!(f.verdict, Verdict::LivenessFailure, "{f:?}");
    }
    let m = sim.metrics();
    [
        "discovery.calls.ok",
        "discovery.calls.timeout",
        "discovery.calls.no_instance",
    ]
    .iter()
    .map(|c| m.counter(c))
    .sum()
}

/// Calls per second in `[from, to)` s: the same seed run to `to` and to `from` (a run is the
/// prefix of a longer one), the difference over the span.
fn calls_per_s(name: &str, sets: &[&str], from: u64, to: u64) -> f64 {
    let end = calls(&load(name, to, sets).unwrap());
    let start = calls(&load(name, from, sets).unwrap());
    (end - start) as f64 / (to - from) as f64
}

#[test]
fn a_step_changes_the_consul_callers_rate_from_the_step_on() {
    // Three callers every 100 ms: 30 calls/s; the step to 50/s each makes it 150/s.
    let step = ["model.schedule=[{ at = \"20s\", rate = 50.0 }]"];
    let before = (
        calls_per_s("consul", &[], 10, 20),
        calls_per_s("consul", &step, 10, 20),
    );
    let after = (
        calls_per_s("consul", &[], 22, 40),
        calls_per_s("consul", &step, 22, 40),
    );
    assert!((25.0..35.0).contains(&before.0), "{before:?}");
    assert!((25.0..35.0).contains(&before.1), "{before:?}");
    assert!(
        (25.0..35.0).contains(&after.0),
        "no schedule, no change: {after:?}"
    );
    assert!((135.0..165.0).contains(&after.1), "the step to 150/s: {after:?}");
}

#[test]
fn a_ramp_changes_the_eureka_callers_rate() {
    // Three callers every 500 ms: 6 calls/s; a ramp to 10/s each over 10 s ends at 30/s.
    let ramp = ["model.schedule=[{ at = \"60s\", ramp_to = 10.0, over = \"10s\" }]"];
    let before = (
        calls_per_s("eureka", &[], 40, 60),
        calls_per_s("eureka", &ramp, 40, 60),
    );
    let after = (
        calls_per_s("eureka", &[], 70, 90),
        calls_per_s("eureka", &ramp, 70, 90),
    );
    assert!((4.5..7.5).contains(&before.0), "{before:?}");
    assert!((4.5..7.5).contains(&before.1), "{before:?}");
    assert!((4.5..7.5).contains(&after.0), "no schedule, no change: {after:?}");
    assert!((26.0..34.0).contains(&after.1), "the ramp to 30/s: {after:?}");
}

#[test]
fn a_bad_caller_schedule_names_the_field() {
    for name in ["consul", "eureka"] {
        let e = load(name, 10, &["model.schedule=[{ at = \"5s\", ramp_to = 2.0 }]"]).unwrap_err();
        assert!(
            e.contains("model.schedule[0]") && e.contains("needs `over`"),
            "{name}: {e}"
        );
        let e = load(name, 10, &["model.schedule=[{ at = \"5s\", rate = 0.0 }]"]).unwrap_err();
        assert!(
            e.contains("model.schedule") && e.contains("rate must be > 0"),
            "{name}: {e}"
        );
    }
}

/// Raft's operations that ended (acknowledged, failed, unknown) or were shed by the end.
fn raft_ops(scenario: &Scenario) -> u64 {
    let plan = runner::fault_plan(scenario, 1);
    let mut sim = runner::simulation(scenario, 1, &plan).unwrap();
    let report = sim.run();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let m = sim.metrics();
    [
        "raft.client.ok",
        "raft.client.failed",
        "raft.client.unknown",
        "raft.client.shed",
    ]
    .iter()
    .map(|c| m.counter(c))
    .sum()
}

/// Raft with two open-loop clients, one arrival per 200 ms each (10/s in all), plus `sets`.
fn raft(horizon_s: u64, sets: &[&str]) -> Result<Scenario, String> {
    let mut all = vec![
        "workload.clients=2",
        "workload.keys=20",
        "model.open_loop=true",
        "model.open_loop_mean_interval=\"200ms\"",
    ];
    all.extend_from_slice(sets);
    load("raft", horizon_s, &all)
}

fn raft_ops_per_s(sets: &[&str], from: u64, to: u64) -> f64 {
    let end = raft_ops(&raft(to, sets).unwrap());
    let start = raft_ops(&raft(from, sets).unwrap());
    (end - start) as f64 / (to - from) as f64
}

#[test]
fn a_step_changes_raft_open_loop_clients_rate_from_the_step_on() {
    // 10 operations/s in all; the step to 25/s each makes it 50/s.
    let step = ["model.schedule=[{ at = \"10s\", rate = 25.0 }]"];
    let before = (raft_ops_per_s(&[], 2, 10), raft_ops_per_s(&step, 2, 10));
    let after = (raft_ops_per_s(&[], 12, 20), raft_ops_per_s(&step, 12, 20));
    assert!((7.0..13.0).contains(&before.0), "{before:?}");
    assert!((7.0..13.0).contains(&before.1), "{before:?}");
    assert!(
        (7.0..13.0).contains(&after.0),
        "no schedule, no change: {after:?}"
    );
    assert!((42.0..58.0).contains(&after.1), "the step to 50/s: {after:?}");
}

#[test]
fn a_raft_schedule_needs_open_loop_and_takes_any_number_of_entries() {
    let closed = [
        "model.open_loop=false",
        "model.schedule=[{ at = \"5s\", rate = 25.0 }]",
    ];
    let e = raft(10, &closed).unwrap_err();
    assert!(e.contains("needs open_loop = true"), "{e}");
    let e = raft(10, &["model.schedule=[{ at = \"5s\", ramp_to = 2.0 }]"]).unwrap_err();
    assert!(
        e.contains("model.schedule[0]") && e.contains("needs `over`"),
        "{e}"
    );
    // Twenty entries (the limit used to be 8): nineteen steps that keep 5/s each, then the
    // twentieth, at 20 s, to 25/s each; only the last one changes the rate.
    let mut entries: Vec<String> = (1..=19)
        .map(|i| format!("{{ at = \"{i}s\", rate = 5.0 }}"))
        .collect();
    entries.push("{ at = \"20s\", rate = 25.0 }".to_string());
    let twenty = format!("model.schedule=[{}]", entries.join(", "));
    let before = raft_ops_per_s(&[&twenty], 12, 20);
    let after = raft_ops_per_s(&[&twenty], 22, 30);
    assert!((7.0..13.0).contains(&before), "{before}");
    assert!(
        (42.0..58.0).contains(&after),
        "the twentieth entry's step to 50/s: {after}"
    );
}
