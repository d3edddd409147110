//! `explore` counts a counter a run never incremented as 0, and its warning about missing
//! metrics says what is true; a name no run reported is a typo with a different name suggested.

use ruckus_scenarios::explore::{self, Experiment, Results};
use ruckus_scenarios::registry::Registry;

/// Timeouts happen in some runs only (a 3 ms timeout on 1 ms exponential service, about 20
/// requests a run); the `quiet` variant offers nothing, so it has no latency at all.
const EXPERIMENT: &str = r#"
description = "a counter some runs never increment"
seeds = 10
metrics = ["timeouts", "latency_mean_ms", "timeoutz"]

[scenario.model]
name = "services"
clients = 1
workload = { open = { rate = 20.0 } }

[scenario.model.client]
timeout = "3ms"
retry = { max_attempts = 1 }

[[scenario.model.tiers]]
servers = 1
concurrency = 1
service_time = { exponential = { mean = "1ms" } }

[scenario.topology]
hosts = 2
latency = { constant = { value = "0ns" } }

[scenario.limits]
horizon = "1s"

[[variants]]
name = "some"

[[variants]]
name = "quiet"
set = { "model.workload.open.rate" = 0.001 }
"#;

fn results() -> Results {
    let e =
        Experiment::from_text(&Registry::builtin(), "counters", "counters.toml", EXPERIMENT, &[]).unwrap();
    explore::run_all(&e, 1, &|| {}).unwrap()
}

#[test]
fn a_counter_a_run_never_incremented_counts_as_zero() {
    let r = results();
    let some: Vec<_> = r.runs.iter().filter(|run| run.variant == 0).collect();
    let counts: Vec<f64> = some
        .iter()
        .map(|run| run.figures.get("timeouts").copied().unwrap_or(0.0))
        .collect();
    let without = counts.iter().filter(|&&c| c == 0.0).count();
    assert!(
        (1..counts.len()).contains(&without),
        "the setup needs runs with and without timeouts: {counts:?}"
    );
    let want = counts.iter().sum::<f64>() / counts.len() as f64;
    let got = r.estimate("some", "timeouts").unwrap();
    assert!(
        (got.mean - want).abs() < 1e-9,
        "mean {} over all 10 runs is {want}",
        got.mean
    );
    // The quiet variant never times out: 0, not missing, and its difference is defined.
    assert_eq!(r.estimate("quiet", "timeouts").unwrap().mean, 0.0);
    assert!(r.difference("quiet", "timeouts").is_some());
    assert!(r.runs.iter().all(|run| run.metrics[0].is_some()));
}

#[test]
fn missing_metrics_say_what_is_true() {
    let r = results();
    assert_eq!(r.missing_metrics(), ["latency_mean_ms", "timeoutz"]);
    // Present in some variants: a warning that says where.
    assert_eq!(
        r.missing_metrics_explained(),
        ["`latency_mean_ms` (present in 10 of 20 runs; none in variant `quiet`)"]
    );
    // Reported by no run, next to a name that was: a typo, with a different name suggested.
    assert_eq!(
        r.unknown_metrics(),
        [("timeoutz".to_owned(), "timeouts".to_owned())]
    );
}
