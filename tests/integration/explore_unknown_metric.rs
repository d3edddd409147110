//! `ruckus explore` with a metric no run reported: a typo (a different reported name is
//! close) ends with exit code 2 naming the metric and the close name; a name no run reported
//! with nothing close, or the same name for another tier, stays a warning.

use crate::support::{TempDir, ruckus};

/// One tier, a light load, two variants; `METRICS` is replaced per test.
const EXPERIMENT: &str = r#"
description = "metric names"
seeds = 2
metrics = METRICS

[scenario.model]
name = "services"
clients = 1
workload = { open = { rate = 20.0 } }

[[scenario.model.tiers]]
servers = 1
concurrency = 4
service_time = { exponential = { mean = "1ms" } }

[scenario.topology]
hosts = 2
latency = "1ms"

[scenario.limits]
horizon = "2s"

[[variants]]
name = "one"

[[variants]]
name = "two"
set = { "model.tiers.0.concurrency" = 8 }
"#;

fn explore(metrics: &str, extra: &[&str]) -> crate::support::Ran {
    let dir = TempDir::new("explore-metric");
    let path = dir.file("names.toml");
    std::fs::write(&path, EXPERIMENT.replace("METRICS", metrics)).unwrap();
    let path = path.display().to_string();
    let mut args = vec!["explore", path.as_str(), "--jobs", "1"];
    args.extend_from_slice(extra);
    ruckus(&args)
}

#[test]
fn a_mistyped_metric_is_bad_input_with_a_different_name_suggested() {
    let ran = explore(r#"["goodput", "tier0.serve"]"#, &[]);
    assert_eq!(ran.code, 2, "{}{}", ran.out, ran.err);
    assert!(
        ran.err.contains(
            "error: metric `tier0.serve`: no run of any variant reported it (did you mean `tier0.served`?)"
        ) && ran.err.contains("names.toml"),
        "{}",
        ran.err
    );
    // The table still shows the metrics that were right.
    assert!(ran.out.contains("goodput"), "{}", ran.out);
    assert!(
        !ran.err.contains("warning"),
        "an error, not also a warning: {}",
        ran.err
    );
}

#[test]
fn names_that_may_be_counters_nothing_incremented_stay_warnings() {
    // Tier 1 does not exist here, but `tier1.served` is tier 0's counter for another tier:
    // a counter of a tier that served nothing looks the same. `evictions` is close to
    // nothing reported.
    let ran = explore(r#"["goodput", "tier1.served", "evictions"]"#, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.out, ran.err);
    for name in ["tier1.served", "evictions"] {
        assert!(
            ran.err.contains(&format!(
                "`{name}` (no run reported it and no figure the runs reported is close"
            )),
            "{name}: {}",
            ran.err
        );
    }
    assert!(!ran.err.contains("did you mean"), "{}", ran.err);
}
