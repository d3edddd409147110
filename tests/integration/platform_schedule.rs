//! The platform's clients follow a `schedule` beside their workload, as the services
//! model's do: a load step changes the rate they offer from the step on.

use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;

/// The flagship platform without faults, 60 s long, plus `sets`.
fn platform(sets: &[&str]) -> Result<Scenario, String> {
    let mut all = vec![
        "faults.enabled=false".to_owned(),
        "limits.horizon=\"60s\"".to_owned(),
    ];
    all.extend(sets.iter().map(|s| s.to_string()));
    Scenario::load(&Registry::builtin(), "platform", &all).map_err(|e| e.to_string())
}

/// Requests the clients offered per second within `[from, to)` seconds (after the warm-up).
fn offered_per_s(scenario: &Scenario, from: u64, to: u64) -> f64 {
    let plan = runner::fault_plan(scenario, 1);
    let mut sim = runner::simulation(scenario, 1, &plan).unwrap();
    sim.run();
    let (a, b) = (from * 1_000_000_000, to * 1_000_000_000);
    let n = sim
        .metrics()
        .samples("offered_at")
        .iter()
        .filter(|&&t| (a..b).contains(&t))
        .count();
    n as f64 / (to - from) as f64
}

#[test]
fn a_load_step_changes_the_platforms_client_rate_from_the_step_on() {
    let plain = platform(&[]).unwrap();
    let stepped = platform(&["model.schedule=[{ at = \"40s\", rate = 200.0 }]"]).unwrap();
    // Three clients at 50/s each: about 150/s; after the step, 200/s each: about 600/s.
    let before = (offered_per_s(&plain, 20, 40), offered_per_s(&stepped, 20, 40));
    let after = (offered_per_s(&plain, 42, 60), offered_per_s(&stepped, 42, 60));
    assert!((120.0..180.0).contains(&before.0), "{before:?}");
    assert!((120.0..180.0).contains(&before.1), "{before:?}");
    assert!(
        (120.0..180.0).contains(&after.0),
        "no schedule, no change: {after:?}"
    );
    assert!((540.0..660.0).contains(&after.1), "the step to 600/s: {after:?}");
}

#[test]
fn a_platform_schedule_needs_an_open_workload_and_well_formed_entries() {
    let e = platform(&[
        "model.workload={ closed = { concurrency = 2, think_time = \"10ms\" } }",
        "model.schedule=[{ at = \"40s\", rate = 200.0 }]",
    ])
    .unwrap_err();
    assert!(
        e.contains("model.schedule") && e.contains("needs workload.open"),
        "{e}"
    );
    let e = platform(&["model.schedule=[{ at = \"40s\", ramp_to = 200.0 }]"]).unwrap_err();
    assert!(
        e.contains("model.schedule[0]") && e.contains("needs `over`"),
        "{e}"
    );
}
