//! Raft's Figure 8 bug (`commit_previous_term`, no leader no-op) inside the platform: with the
//! catalog's Raft churned at Raft's hunt timing and agents appending a read every 100 ms, a
//! catalog leader commits an earlier term's entry by counting replicas, a later leader
//! overwrites it, and the catalog's Raft invariants (embedded through
//! `consul::catalog_properties_in`) see it; the correct commit rule holds on the same plan.
//! The seed is the first failing one of `ruckus sweep ... --seeds 20` (index 5).

use crate::support::{run_json, scenario_file};

const SEED: &str = "4596266611717324268";

fn run(extra: &[&str]) -> serde_json::Value {
    run_json(&scenario_file("platform_catalog_churn.toml"), SEED, extra)
}

#[test]
fn committing_an_earlier_terms_entry_by_counting_loses_a_committed_catalog_entry() {
    let bug = run(&["--set", "model.discovery.raft.bugs.commit_previous_term=true"]);
    assert_eq!(bug["verdict"], "safety_violation", "{bug}");
    assert_eq!(bug["property"], "catalog.leader_completeness", "{bug}");
    let healthy = run(&[]);
    assert_eq!(healthy["verdict"], "held", "{healthy}");
}
