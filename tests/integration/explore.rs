//! `ruckus explore` and the three published results it reproduces, asserted.
//!
//! Each test runs a built-in experiment (fewer seeds than the file where that keeps the test
//! quick; the orderings hold with room to spare) and checks the result against the published
//! figure or ordering, using the 95% intervals where the claim is a difference.

use ruckus_scenarios::explore::{self, Experiment, Results};
use ruckus_scenarios::registry::Registry;

fn explore(name: &str, seeds: u64, overrides: &[&str]) -> Results {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let mut e = Experiment::load(&Registry::builtin(), name, &overrides).expect("built-in experiment loads");
    e.spec.seeds = seeds;
    let results = explore::run_all(&e, 2, &|| {}).expect("experiment runs");
    assert!(
        results.missing_metrics().is_empty(),
        "{:?}",
        results.missing_metrics()
    );
    for v in &results.variants {
        assert_eq!(
            v.verdicts.get("held").copied(),
            Some(seeds),
            "{}: {:?}",
            v.name,
            v.verdicts
        );
    }
    results
}

fn mean(r: &Results, variant: &str, metric: &str) -> f64 {
    r.estimate(variant, metric)
        .unwrap_or_else(|| panic!("{variant} has no {metric}"))
        .mean
}

#[test]
fn mm1_matches_theory_within_five_percent() {
    let r = explore("mm1", 6, &[]);
    for (variant, rho) in [("rho_0.5", 0.5), ("rho_0.8", 0.8), ("rho_0.9", 0.9)] {
        let want = 1.0 / (1000.0 * (1.0 - rho)) * 1000.0; // 1/(mu - lambda) in ms
        let got = mean(&r, variant, "tier0.sojourn_mean_ms");
        assert!(
            (got - want).abs() / want < 0.05,
            "{variant}: {got} ms vs M/M/1 {want} ms"
        );
        let goodput = mean(&r, variant, "goodput");
        assert!(
            (goodput - 1000.0 * rho).abs() / (1000.0 * rho) < 0.02,
            "{variant}: goodput {goodput}"
        );
    }
}

#[test]
fn backoff_and_jitter_orderings_at_100_clients() {
    let r = explore("backoff", 10, &[]);
    let calls = |v| mean(&r, v, "calls");
    let done = |v| mean(&r, v, "completion_ms");
    // Work: full <= equal < decorrelated << exponential.
    assert!(calls("full_jitter") <= calls("equal_jitter"), "{r:#?}");
    assert!(calls("equal_jitter") < calls("decorrelated_jitter"));
    assert!(calls("decorrelated_jitter") * 1.5 < calls("exponential"));
    // Completion: decorrelated ~ full < equal << exponential.
    let (d, f) = (done("decorrelated_jitter"), done("full_jitter"));
    assert!((d - f).abs() / f < 0.25, "decorrelated {d} vs full {f}");
    assert!(f.max(d) < done("equal_jitter"));
    assert!(done("equal_jitter") * 4.0 < done("exponential"));
    // Every jittered variant beats exponential significantly, seed by seed.
    for v in ["full_jitter", "equal_jitter", "decorrelated_jitter"] {
        let diff = r.difference(v, "calls").unwrap();
        assert!(diff.high() < 0.0, "{v}: {diff:?}");
    }
}

#[test]
fn retry_storm_is_metastable_without_budget_or_breaker() {
    let r = explore("retry_storm", 4, &[]);
    // Plain retries never recover in the 48 s after the 2 s stall ends...
    assert_eq!(mean(&r, "retries", "recovered"), 0.0);
    assert!(mean(&r, "retries", "amplification") > 3.0);
    assert!(mean(&r, "retries", "success_rate") < 0.2);
    // ...while the same service recovers with a budget or a breaker (or with no retries).
    for v in ["retries_budget", "retries_breaker", "no_retries"] {
        assert_eq!(mean(&r, v, "recovered"), 1.0, "{v}");
        assert!(mean(&r, v, "recovery_time_s") < 20.0, "{v}");
        assert!(r.difference(v, "goodput").unwrap().low() > 0.0, "{v}");
    }
    assert!(mean(&r, "retries_budget", "amplification") < 1.1);
    assert!(mean(&r, "retries_breaker", "recovery_time_s") <= 2.0);
}

/// The load cuts by workload schedule: the storm holds while 4 attempts per request reach the
/// capacity (300/s), ends below it (100/s, 200/s), and a recovered service stays healthy when
/// the load returns to the 800/s it was stuck at. Finagle's default budget leaves it stuck;
/// Hystrix's breaker gets it out.
#[test]
fn retry_storm_recovers_only_when_the_load_is_cut_low_enough() {
    let r = explore("retry_storm", 4, &[]);
    for v in [
        "retries_load_to_100",
        "retries_load_to_200",
        "retries_load_100_then_800",
    ] {
        assert_eq!(mean(&r, v, "recovered"), 1.0, "{v}");
        assert!(mean(&r, v, "final_success_rate") > 0.95, "{v}");
        // Not before the cut at t = 20 s, 8 s after the stall.
        assert!(mean(&r, v, "recovery_time_s") >= 8.0, "{v}");
    }
    for v in ["retries", "retries_load_to_300", "retries_finagle_default"] {
        assert_eq!(mean(&r, v, "recovered"), 0.0, "{v}");
        assert_eq!(mean(&r, v, "final_success_rate"), 0.0, "{v}");
    }
    for v in ["retries_finagle_10pct", "retries_hystrix"] {
        assert_eq!(mean(&r, v, "recovered"), 1.0, "{v}");
    }
}

#[test]
fn explore_is_deterministic_and_independent_of_jobs() {
    let mut e = Experiment::load(&Registry::builtin(), "backoff", &[]).unwrap();
    e.spec.seeds = 3;
    let one = explore::run_all(&e, 1, &|| {}).unwrap();
    let two = explore::run_all(&e, 2, &|| {}).unwrap();
    assert_eq!(one, two);
}

#[test]
fn overrides_reach_every_variant() {
    let r = explore("backoff", 2, &["model.clients=10", "topology.hosts=11"]);
    assert!(
        mean(&r, "exponential", "calls") < 100.0,
        "10 writers make far fewer calls"
    );
    assert!(
        r.runs.iter().all(|run| run.figures["done"] == 10.0),
        "every writer of every run finishes"
    );
}

#[test]
fn bad_experiments_get_clear_errors() {
    let err = Experiment::load(&Registry::builtin(), "no_such_experiment", &[]).unwrap_err();
    assert!(err.contains("backoff") && err.contains("retry_storm"), "{err}");
    let base = r#"
metrics = ["calls"]
scenario = "pingpong"
[[variants]]
name = "a"
"#;
    assert!(Experiment::from_text(&Registry::builtin(), "t", "t.toml", base, &[]).is_ok());
    let bad_baseline = format!("baseline = \"zzz\"\n{base}");
    let err = Experiment::from_text(&Registry::builtin(), "t", "t.toml", &bad_baseline, &[]).unwrap_err();
    assert!(
        err.contains("baseline `zzz`") && err.contains("variants: a"),
        "{err}"
    );
    let unknown_field = format!("sedes = 3\n{base}");
    let err = Experiment::from_text(&Registry::builtin(), "t", "t.toml", &unknown_field, &[]).unwrap_err();
    assert!(err.contains("t.toml:1:") && err.contains("sedes"), "{err}");
    let bad_set = format!("{base}set = {{ \"model.nope\" = 1 }}\n");
    let err = Experiment::from_text(&Registry::builtin(), "t", "t.toml", &bad_set, &[]).unwrap_err();
    assert!(err.contains("variant `a`") && err.contains("nope"), "{err}");
    let twice = format!("{base}[[variants]]\nname = \"a\"\n");
    assert!(
        Experiment::from_text(&Registry::builtin(), "t", "t.toml", &twice, &[])
            .unwrap_err()
            .contains("two variants")
    );
}

#[test]
fn html_report_is_self_contained() {
    let r = explore("retry_storm", 2, &[]);
    let html = explore::report::html(&r, "ruckus explore retry_storm --seeds 2");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<svg").count(),
        r.metrics.len() + 4,
        "a bar chart per metric, a CDF, a timeline, success rate and p99 over time"
    );
    assert!(html.contains("requests: success rate"));
    for forbidden in ["<script", "http://", "https://", "<link", "@import"] {
        let hits: Vec<_> = html
            .match_indices(forbidden)
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(
            hits.is_empty(),
            "the report must not load anything: found {forbidden}"
        );
    }
    // A narrow terminal gets a block per variant instead of a wrapped table.
    assert_eq!(
        explore::report::table_fitting(&r, None),
        explore::report::table(&r)
    );
    let narrow = explore::report::table_fitting(&r, Some(80));
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(narrow.contains("retries (baseline): 2 runs"), "{narrow}");
    let table = explore::report::table(&r);
    assert!(
        table.contains("retries_breaker") && table.contains("Δ"),
        "{table}"
    );
}

/// The success rate over time shows the metastable failure: every variant serves before the
/// 2 s stall at t = 10 s; afterwards plain retries stay down while the breaker recovers.
#[test]
fn success_over_time_shows_who_recovers() {
    let r = explore("retry_storm", 2, &[]);
    assert_eq!(r.success, Some(("requests".to_owned(), 1.0)));
    let success = |name: &str| -> Vec<Option<f64>> {
        r.variants
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no variant {name}"))
            .success
            .clone()
    };
    let mean = |xs: &[Option<f64>]| -> f64 {
        let defined: Vec<f64> = xs.iter().flatten().copied().collect();
        assert!(!defined.is_empty());
        defined.iter().sum::<f64>() / defined.len() as f64
    };
    for v in &r.variants {
        let before = mean(&v.success[2..9]);
        assert!(before > 0.95, "{}: {before} before the stall", v.name);
    }
    let retries = success("retries");
    let breaker = success("retries_breaker");
    let last = retries.len() - 10..retries.len();
    assert!(mean(&retries[last.clone()]) < 0.2, "{:?}", &retries[last.clone()]);
    assert!(mean(&breaker[last.clone()]) > 0.9, "{:?}", &breaker[last]);
    // The stall is part of the model's configuration, not the fault plan: nothing to shade.
    assert!(r.fault_windows.is_empty());
}

/// Fault windows are shaded only when every seed meets the same plan.
#[test]
fn fault_windows_are_shared_only_by_explicit_plans() {
    let text = |faults: &str| {
        format!(
            r#"
metrics = ["writes"]
seeds = 3
[scenario]
[scenario.model]
name = "lease_lock"
[scenario.topology]
hosts = 5
latency = {{ constant = {{ value = "2ms" }} }}
[scenario.workload]
clients = 3
[scenario.limits]
horizon = "2s"
{faults}
[[variants]]
name = "only"
"#
        )
    };
    let explicit = text(
        r#"[[scenario.faults.plan.actions]]
at = "500ms"
fault = { crash_host = { host = 0, down_for = "300ms" } }"#,
    );
    let random = text(
        r#"[scenario.faults.profile]
crash = { mean_interval = "300ms", duration_min = "50ms", duration_max = "200ms" }"#,
    );
    let run = |t: &str| {
        let e = Experiment::from_text(&Registry::builtin(), "t", "t.toml", t, &[]).expect("loads");
        explore::run_all(&e, 1, &|| {}).expect("runs")
    };
    let shared = run(&explicit);
    assert_eq!(shared.fault_windows.len(), 1);
    assert_eq!(
        (shared.fault_windows[0].from, shared.fault_windows[0].to),
        (0.5, 0.8)
    );
    assert!(run(&random).fault_windows.is_empty(), "plans differ by seed");
}

/// A tier slowed 4x for 5 s (issue 20): every server-side concurrency limit (fixed, AIMD, Vegas,
/// Gradient), the caller bulkheads and the caller-side AIMD limits beat no protection on
/// goodput, p99 and time to recover, with the paired intervals excluding zero; unprotected,
/// the stale queue takes about 10 s to drain.
#[test]
fn overload_protection_limits_and_bulkheads_beat_no_protection() {
    let r = explore("overload_protection", 3, &[]);
    assert!(mean(&r, "unprotected", "recovery_time_s") > 5.0, "{r:#?}");
    assert!(mean(&r, "unprotected", "latency_p99_ms") > 500.0);
    for v in [
        "fixed_limit",
        "aimd",
        "vegas",
        "gradient",
        "caller_bulkheads",
        "caller_aimd",
    ] {
        assert!(r.difference(v, "goodput").unwrap().low() > 100.0, "{v}");
        assert!(r.difference(v, "success_rate").unwrap().low() > 0.1, "{v}");
        assert!(r.difference(v, "latency_p99_ms").unwrap().high() < -500.0, "{v}");
        assert!(r.difference(v, "recovery_time_s").unwrap().high() < -5.0, "{v}");
        assert_eq!(mean(&r, v, "recovered"), 1.0, "{v}");
        assert!(mean(&r, v, "latency_p99_ms") < 250.0, "{v}");
    }
}

/// The SRE book's shape: under 2.5x overload a throttling client sends the backend about K
/// times what it accepts (received per served, within 5% of K) and goodput holds; plain retries
/// on the same seeds send it more than 6 times.
#[test]
fn adaptive_throttling_sends_about_k_times_the_accepts() {
    let r = explore("adaptive_throttling", 3, &[]);
    let ratio = |v| r.estimate(v, "tier0.load_ratio").unwrap();
    assert!((ratio("no_retries").mean - 2.5).abs() < 0.1, "{r:#?}");
    assert!(ratio("retries").low() > 6.0, "{:?}", ratio("retries"));
    for (v, k) in [
        ("throttle_k2", 2.0),
        ("throttle_k1.5", 1.5),
        ("retries_throttle_k2", 2.0),
    ] {
        let e = ratio(v);
        assert!(e.low() > 0.95 * k && e.high() < 1.05 * k, "{v}: {e:?}");
        assert!(r.difference(v, "tier0.load_ratio").unwrap().high() < 0.0, "{v}");
        // Goodput holds: within 1% of the unthrottled run on the same seeds.
        let d = r.difference(v, "goodput").unwrap();
        assert!(
            d.mean.abs() < 0.01 * mean(&r, "no_retries", "goodput"),
            "{v}: {d:?}"
        );
    }
}

/// A 20 s dependency outage: a static default or a 30 s cache answers every request (the SLO,
/// fallbacks included, holds on every seed) while successes stay exactly as without fallbacks;
/// without one, or with a 5 s staleness bound, the SLO fails.
#[test]
fn fallbacks_absorb_a_dependency_outage() {
    let mut e = Experiment::load(&Registry::builtin(), "fallbacks", &[]).expect("loads");
    e.spec.seeds = 3;
    let r = explore::run_all(&e, 2, &|| {}).expect("runs");
    assert!(r.missing_metrics().is_empty(), "{:?}", r.missing_metrics());
    let held = |name: &str| {
        let v = r.variants.iter().find(|v| v.name == name).unwrap();
        v.verdicts.get("held").copied().unwrap_or(0)
    };
    for v in ["static", "cached_30s"] {
        assert_eq!(held(v), 3, "{v}");
        assert!(r.estimate(v, "answered_rate").unwrap().low() > 0.99, "{v}");
        assert!(r.difference(v, "degraded_rate").unwrap().low() > 0.3, "{v}");
    }
    for v in ["no_fallback", "cached_5s"] {
        assert_eq!(held(v), 0, "{v}: the SLO fails");
        assert!(mean(&r, v, "answered_rate") < 0.8, "{v}");
    }
    // Fallbacks are never successes: the success rate is the same run for run.
    for v in ["static", "cached_30s", "cached_5s"] {
        assert_eq!(r.difference(v, "success_rate").unwrap().mean, 0.0, "{v}");
    }
    // A 5 s bound covers 5 s of the 20 s outage: about 5/55 of measured requests.
    let d = mean(&r, "cached_5s", "degraded_rate");
    assert!((d - 5.0 / 55.0).abs() < 0.015, "{d}");
    assert_eq!(r.success, Some(("answered".to_owned(), 1.0)));
}

/// A variant that breaks a property early is still measured to the horizon: the failure is its
/// verdict, not the end of its run (else it would be compared over a shorter span).
#[test]
fn a_failing_variant_is_measured_to_its_horizon() {
    let text = r#"
metrics = ["end_time_s"]
scenario = "lease_lock_no_fencing"
seeds = 3
[[variants]]
name = "no_fencing"
"#;
    let e = Experiment::from_text(&Registry::builtin(), "t", "t.toml", text, &[]).expect("loads");
    let results = explore::run_all(&e, 1, &|| {}).expect("runs");
    let v = &results.variants[0];
    assert!(
        v.verdicts.get("safety_violation").copied().unwrap_or(0) > 0,
        "{:?}",
        v.verdicts
    );
    // lease_lock_no_fencing's horizon is 8 s; its failures come seconds earlier.
    assert_eq!(mean(&results, "no_fencing", "end_time_s"), 8.0);
}
