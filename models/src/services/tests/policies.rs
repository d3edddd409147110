//! Workload schedules, and the time-based retry budget and breaker, inside runs.

use super::*;
use crate::services::policy::{FinagleBudgetConfig, HystrixConfig};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 4 clients at 100/s each; 300/s from 10 s; a ramp down to 50/s between 20 s and 30 s.
fn scheduled() -> Config {
    let schedule = RateSchedule::new(vec![
        RateChange::Step {
            at: secs(10),
            rate: 300.0,
        },
        RateChange::Ramp {
            at: secs(20),
            to: 50.0,
            over: secs(10),
        },
    ])
    .unwrap();
    Config {
        clients: 4,
        workload: Workload::Open { rate: 100.0 },
        schedule,
        tiers: vec![TierConfig {
            concurrency: 16,
            ..TierConfig::default()
        }],
        ..Config::default()
    }
}

#[test]
fn arrivals_per_window_follow_the_schedule() {
    let config = scheduled();
    let mut sim = build(&config, 11, secs(40));
    sim.run();
    let curve = RateCurve::new(100.0, &config.schedule);
    let mut counts = [0u64; 40];
    for &t in sim.metrics().samples("offered_at") {
        counts[(t / 1_000_000_000) as usize] += 1;
    }
    for (sec, &n) in counts.iter().enumerate() {
        let from = secs(sec as u64).0;
        let want = 4.0 * curve.expected(from, from + secs(1).0);
        assert!(
            (n as f64 - want).abs() < 4.0 * want.sqrt(),
            "second {sec}: {n} offers, the schedule says {want:.0}"
        );
    }
    // Whole phases, tighter: 4000, 12000, 7000 (the ramp's mean is 175/s), 2000.
    let phase = |a: usize, b: usize| counts[a..b].iter().sum::<u64>() as f64;
    for (a, b, want) in [
        (0, 10, 4000.0),
        (10, 20, 12000.0),
        (20, 30, 7000.0),
        (30, 40, 2000.0),
    ] {
        let got = phase(a, b);
        assert!(
            (got - want).abs() < 3.0 * f64::sqrt(want),
            "{a}..{b} s: {got}, want {want}"
        );
    }
}

#[test]
fn a_schedule_needs_an_open_workload() {
    let config = Config {
        workload: Workload::Closed {
            concurrency: 1,
            think_time: Distribution::constant(ms(1)),
        },
        ..scheduled()
    };
    let e = config.validate().unwrap_err();
    assert!(e.contains("schedule") && e.contains("workload.open"), "{e}");
}

#[test]
fn finagle_budget_allows_its_percentage_plus_the_minimum_rate() {
    let mut config = always_failing();
    config.client.finagle_budget = Some(FinagleBudgetConfig {
        percent_can_retry: 0.2,
        min_retries_per_sec: 0.0,
        ttl: secs(10),
    });
    let (_, s) = run(&config, 2, secs(30));
    let ratio = s["retries"] / s["offered"];
    assert!((ratio - 0.2).abs() < 0.01, "retries per request {ratio}: {s:?}");
    assert!(s["budget_denied"] > 0.0);
    // A minimum of 2 retries a second per client adds about 8/s over the 4 clients, though the
    // 80 requests a second alone buy 16.
    config.client.finagle_budget = Some(FinagleBudgetConfig {
        percent_can_retry: 0.2,
        min_retries_per_sec: 2.0,
        ttl: secs(10),
    });
    let (_, m) = run(&config, 2, secs(30));
    let extra = (m["retries"] - s["retries"]) / 30.0;
    assert!((extra - 8.0).abs() < 1.0, "{extra} more retries a second: {m:?}");
    // Both budget kinds at once is refused.
    config.client.budget = Some(RetryBudgetConfig::default());
    assert!(config.validate().unwrap_err().contains("not both"));
}

#[test]
fn hystrix_breaker_opens_sleeps_and_closes_after_a_good_trial() {
    let mut config = Config {
        degradations: vec![Degradation {
            tier: 0,
            server: None,
            at: secs(2),
            duration: secs(6),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        ..Config::default()
    };
    config.client.hystrix_breaker = Some(HystrixConfig::default());
    let (_, s) = run(&config, 3, secs(14));
    // Each of the 4 clients sends 100/s. Its 10 s window holds the 200 successes before the
    // outage, so it opens when failures match them, at about 4 s (~800 errors in all); then it
    // sleeps 5 s, rejecting about 5 s x 400 calls, and one trial at about 9 s closes it.
    let rejected = s["breaker_rejected"];
    let errors = s["tier0.errors"];
    assert!((1800.0..2300.0).contains(&rejected), "{s:?}");
    assert!((700.0..900.0).contains(&errors), "{s:?}");
    assert_eq!(s["recovered"], 1.0, "{s:?}");
    assert_eq!(s["recovery_time_s"], 1.0, "closed within [9 s, 10 s): {s:?}");
    assert!(s["final_success_rate"] > 0.95, "healthy at the end: {s:?}");
    config.client.breaker = Some(BreakerConfig::default());
    assert!(config.validate().unwrap_err().contains("not both"));
}
