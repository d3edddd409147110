//! Raft's Figure 8 bug (`commit_previous_term`, no leader no-op) inside the platform: with the
//! catalog's Raft churned at Raft's hunt timing and agents appending a read every 100 ms, a
//! catalog leader commits an earlier term's entry by counting replicas, a later leader
//! overwrites it, and the catalog's Raft invariants (embedded through
//! `consul::catalog_properties_in`) see it; the correct commit rule holds on the same plan.
//! The seed is the first failing one of `ruckus sweep ... --seeds 20` (index 5).

use crate::support::ruckus;

fn file() -> String {
    format!(
        "{}/../scenarios/data/platform_catalog_churn.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}
const SEED: &str = "4596266611717324268";

fn run(extra: &[&str]) -> serde_json::Value {
    let file = file();
    let mut args = vec!["run", file.as_str(), "--seed", SEED, "--json"];
    args.extend_from_slice(extra);
    let ran = ruckus(&args);
    serde_json::from_str(&ran.out).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", ran.out, ran.err))
}

#[test]
fn committing_an_earlier_terms_entry_by_counting_loses_a_committed_catalog_entry() {
    let bug = run(&["--set", "model.discovery.raft.bugs.commit_previous_term=true"]);
    assert_eq!(bug["verdict"], "safety_violation", "{bug}");
    assert_eq!(bug["property"], "catalog.leader_completeness", "{bug}");
    let healthy = run(&[]);
    assert_eq!(healthy["verdict"], "held", "{healthy}");
}
