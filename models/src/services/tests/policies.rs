//! Workload schedules, and the time-based retry budget and breaker, inside runs.

use super::*;

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
    for (a, b, want) in [(0, 10, 4000.0), (10, 20, 12000.0), (20, 30, 7000.0), (30, 40, 2000.0)] {
        let got = phase(a, b);
        assert!((got - want).abs() < 3.0 * f64::sqrt(want), "{a}..{b} s: {got}, want {want}");
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
