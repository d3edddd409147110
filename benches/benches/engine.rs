//! Engine throughput: pingpong next to its bare-loop yardstick and turmoil, a large queue, and
//! a timer-heavy workload. Every group reports elements per second (deliveries, or timer
//! firings for the timer storm). Building a simulation is kept out of the timed part.
//!
//! Run with `cargo bench -p ruckus-benches`; filter with e.g. `-- pingpong_5`.

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::{TimerStormConfig, bare_pingpong, build_pingpong, build_timer_storm, turmoil_pingpong};
use ruckus_models::pingpong::PingPongConfig;
use ruckus_sim::Verdict;
use std::hint::black_box;
use std::time::Duration;

const SEED: u64 = 1;

/// The standard yardstick: 5 hosts, 50 in flight, uniform 1-10 ms, 1,000,000 deliveries.
fn pingpong_5_hosts(c: &mut Criterion) {
    let config = PingPongConfig::default();
    let mut g = c.benchmark_group("pingpong_5_hosts");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(config.deliveries));
    g.bench_function("ruckus", |b| {
        b.iter_batched(
            || build_pingpong(&config, SEED),
            |mut sim| {
                let report = sim.run();
                assert_eq!(report.verdict, Verdict::Held);
                assert_eq!(report.deliveries, config.deliveries);
                black_box(report.fingerprint)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("bare_heap", |b| {
        b.iter(|| {
            let out = bare_pingpong(black_box(&config), SEED);
            assert_eq!(out.deliveries, config.deliveries);
            out
        })
    });
    g.bench_function("turmoil", |b| {
        b.iter(|| {
            let delivered = turmoil_pingpong(black_box(&config), SEED);
            assert_eq!(delivered, config.deliveries);
            delivered
        })
    });
    g.finish();
}

/// A large queue: 500 hosts and 5,000 messages in flight, same latency and deliveries.
fn pingpong_500_hosts(c: &mut Criterion) {
    let config = PingPongConfig {
        hosts: 500,
        in_flight: 5_000,
        deliveries: 1_000_000,
    };
    let mut g = c.benchmark_group("pingpong_500_hosts");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(config.deliveries));
    g.bench_function("ruckus", |b| {
        b.iter_batched(
            || build_pingpong(&config, SEED),
            |mut sim| {
                let report = sim.run();
                assert_eq!(report.deliveries, config.deliveries);
                black_box(report.fingerprint)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("bare_heap", |b| {
        b.iter(|| {
            let out = bare_pingpong(black_box(&config), SEED);
            assert_eq!(out.deliveries, config.deliveries);
            out
        })
    });
    g.finish();
}

/// Every process keeps 8 timers armed and re-arms them as they fire; a quarter of firings
/// also cancel and re-arm another timer. Elements are timer firings.
fn timer_storm(c: &mut Criterion) {
    let config = TimerStormConfig::default();
    let mut g = c.benchmark_group("timer_storm");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(config.fires()));
    g.bench_function("ruckus", |b| {
        b.iter_batched(
            || build_timer_storm(&config, SEED),
            |mut sim| {
                let report = sim.run();
                assert_eq!(report.verdict, Verdict::Held);
                assert_eq!(report.events, config.fires() + u64::from(config.hosts));
                black_box(report.fingerprint)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, pingpong_5_hosts, pingpong_500_hosts, timer_storm);
criterion_main!(benches);
