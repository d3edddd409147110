//! The platform's `node_accuracy` (with `node_outage_max`): SWIM's `no_suspicion` inside the
//! platform marks a briefly paused or cut-off node critical, and the property sees it; the
//! healthy pool holds on the same plan.

use crate::support::{ruckus, run_json, scenario_file};

fn file() -> String {
    scenario_file("platform_no_suspicion.toml")
}
const SEED: &str = "9289464798280533400";

fn run(extra: &[&str]) -> serde_json::Value {
    run_json(&file(), SEED, extra)
}

#[test]
fn a_node_declared_dead_after_one_missed_probe_breaks_node_accuracy() {
    let bug = run(&["--set", "model.discovery.swim_bugs.no_suspicion=true"]);
    assert_eq!(bug["verdict"], "safety_violation", "{bug}");
    assert_eq!(bug["property"], "node_accuracy", "{bug}");
    let healthy = run(&[]);
    assert_eq!(healthy["verdict"], "held", "{healthy}");
}

#[test]
fn an_outage_promise_longer_than_half_the_suspicion_floor_is_refused() {
    let ran = ruckus(&["run", &file(), "--set", "model.node_outage_max=3s"]);
    assert_eq!(ran.code, 2, "{}{}", ran.out, ran.err);
    assert!(ran.err.contains("node_outage_max"), "{}", ran.err);
}
