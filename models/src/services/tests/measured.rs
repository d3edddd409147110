//! Counters and figures honour `measure_after`, and recovery is timed from the trigger's end
//! even when that end falls in the warm-up.

use super::*;

/// One server stalled from 0.5 s to 1 s, clients timing out after 50 ms without retries: the
/// stalled requests' answers arrive after their callers gave up.
fn stalled_in_warmup(measure_after: Duration) -> Config {
    let mut config = Config {
        clients: 2,
        workload: Workload::Open { rate: 100.0 },
        degradations: vec![Degradation {
            tier: 0,
            server: None,
            at: ms(500),
            duration: ms(500),
            mode: DegradeMode::Stall,
        }],
        measure_after,
        recovery_window: ms(100),
        ..one_server()
    };
    config.client.timeout = ms(50);
    config.client.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    config
}

#[test]
fn late_responses_count_only_calls_started_after_measure_after() {
    let (_, all) = run(&stalled_in_warmup(Duration::ZERO), 3, Duration::from_secs(4));
    assert!(
        all["late_responses"] >= 10.0,
        "the stall makes late answers: {all:?}"
    );
    assert!(all["timeouts"] >= 10.0, "{all:?}");
    // The same run measured from 2 s: every late answer belongs to a warm-up call.
    let (_, measured) = run(
        &stalled_in_warmup(Duration::from_secs(2)),
        3,
        Duration::from_secs(4),
    );
    assert_eq!(measured.get("timeouts"), None, "{measured:?}");
    assert_eq!(measured.get("late_responses"), None, "{measured:?}");
    assert!(measured["offered"] > 0.0, "{measured:?}");
}

#[test]
fn recovery_is_timed_from_the_trigger_end_inside_the_warm_up() {
    let (_, s) = run(
        &stalled_in_warmup(Duration::from_secs(2)),
        3,
        Duration::from_secs(4),
    );
    assert_eq!(s.get("recovered"), Some(&1.0), "{s:?}");
    // The stall ends at 1 s and the queue drains in milliseconds; measuring from 2 s must not
    // floor the recovery at 2 s - 1 s.
    assert!(s["recovery_time_s"] < 0.5, "{s:?}");
    let (_, unmeasured) = run(&stalled_in_warmup(Duration::ZERO), 3, Duration::from_secs(4));
    assert_eq!(
        s["recovery_time_s"], unmeasured["recovery_time_s"],
        "{s:?} vs {unmeasured:?}"
    );
}

/// One worker, 10 ms constant service, no network delay, closed-loop clients with no think time.
fn one_worker(clients: u32) -> Config {
    Config {
        clients,
        workload: Workload::Closed {
            concurrency: 1,
            think_time: Distribution::constant(Duration::ZERO),
        },
        tiers: vec![TierConfig {
            servers: 1,
            concurrency: 1,
            service_time: Distribution::constant(ms(10)),
            ..TierConfig::default()
        }],
        measure_after: ms(100),
        ..Config::default()
    }
}

#[test]
fn queue_wait_excludes_service_time_and_counts_who_waited() {
    let zero = Distribution::constant(Duration::ZERO);
    // Alone, a client always finds the worker free: no wait, though each request takes 10 ms.
    let (_, alone) = run_on(&one_worker(1), 1, Duration::from_secs(1), zero);
    assert_eq!(alone["tier0.wait_mean_ms"], 0.0, "{alone:?}");
    assert_eq!(alone["tier0.waited_fraction"], 0.0, "{alone:?}");
    assert!((alone["tier0.sojourn_mean_ms"] - 10.0).abs() < 1e-9, "{alone:?}");
    // Two clients take turns: each request arrives as the other's starts, so it waits exactly
    // one service time, and its sojourn is wait plus service.
    let (_, pair) = run_on(&one_worker(2), 1, Duration::from_secs(1), zero);
    assert!((pair["tier0.wait_mean_ms"] - 10.0).abs() < 1e-9, "{pair:?}");
    assert_eq!(pair["tier0.waited_fraction"], 1.0, "{pair:?}");
    assert!((pair["tier0.sojourn_mean_ms"] - 20.0).abs() < 1e-9, "{pair:?}");
}
