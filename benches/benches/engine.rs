//! Engine throughput: pingpong at 5, 500 and 10,000 hosts next to its bare-loop yardstick (and
//! turmoil at 5), a SWIM-shaped probe workload next to its bare loop, and a timer storm. Every
//! group reports elements per second (deliveries, events for the probes, timer firings for the
//! timer storm). Building a simulation is kept out of the timed part.
//!
//! Run with `cargo bench -p ruckus-benches`; filter with e.g. `-- pingpong_5`.

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::probes::{ProbeLoad, bare_probes, build_probes};
use ruckus_benches::{
    TimerStormConfig, bare_pingpong, build_pingpong, build_pingpong_untracked, build_timer_storm,
    turmoil_pingpong,
};
use ruckus_models::pingpong::{PingPong, PingPongConfig};
use ruckus_sim::{Sim, Verdict};
use std::hint::black_box;
use std::time::Duration;

const SEED: u64 = 1;

/// One pingpong group: the engine and the bare heap loop (and turmoil, if asked) doing the same
/// deliveries in the same run.
fn pingpong_group(
    c: &mut Criterion,
    name: &str,
    config: PingPongConfig,
    build: fn(&PingPongConfig, u64) -> Sim<PingPong>,
    with_turmoil: bool,
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(config.deliveries));
    g.bench_function("ruckus", |b| {
        b.iter_batched(
            || build(&config, SEED),
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
    if with_turmoil {
        g.bench_function("turmoil", |b| {
            b.iter(|| {
                let delivered = turmoil_pingpong(black_box(&config), SEED);
                assert_eq!(delivered, config.deliveries);
                delivered
            })
        });
    }
    g.finish();
}

/// The standard yardstick: 5 hosts, 50 in flight, uniform 1-10 ms, 1,000,000 deliveries.
fn pingpong_5_hosts(c: &mut Criterion) {
    pingpong_group(
        c,
        "pingpong_5_hosts",
        PingPongConfig::default(),
        build_pingpong,
        true,
    );
}

/// A large queue: 500 hosts and 5,000 messages in flight, same latency and deliveries.
fn pingpong_500_hosts(c: &mut Criterion) {
    let config = PingPongConfig {
        hosts: 500,
        in_flight: 5_000,
        deliveries: 1_000_000,
    };
    pingpong_group(c, "pingpong_500_hosts", config, build_pingpong, false);
}

/// The scale of discovery and the scheduler: 10,000 hosts, 100,000 messages in flight (ten per
/// host, as above), same latency and deliveries; without the model's duplicate tracking, whose
/// table alone would be 8 GB here (see `build_pingpong_untracked`).
fn pingpong_10000_hosts(c: &mut Criterion) {
    let config = PingPongConfig {
        hosts: 10_000,
        in_flight: 100_000,
        deliveries: 1_000_000,
    };
    pingpong_group(c, "pingpong_10000_hosts", config, build_pingpong_untracked, false);
}

/// SWIM's failure-detector shape at 10,000 hosts (see `ruckus_benches::probes`): a probe a
/// second per host, a ping and an ack, a 500 ms timeout armed and almost always cancelled; 20 s
/// of virtual time. Elements are events handled (the same count in both).
fn probes_10000_hosts(c: &mut Criterion) {
    let load = ProbeLoad {
        hosts: 10_000,
        secs: 20,
    };
    let expected = bare_probes(&load, SEED);
    let mut g = c.benchmark_group("probes_10000_hosts");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(expected.events));
    g.bench_function("ruckus", |b| {
        b.iter_batched(
            || build_probes(&load, SEED),
            |mut sim| {
                let report = sim.run();
                assert_eq!(report.verdict, Verdict::Held);
                assert_eq!(report.events, expected.events);
                black_box(report.fingerprint)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("bare_heap", |b| {
        b.iter(|| {
            let out = bare_probes(black_box(&load), SEED);
            assert_eq!(out.events, expected.events);
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

criterion_group!(
    benches,
    pingpong_5_hosts,
    pingpong_500_hosts,
    pingpong_10000_hosts,
    probes_10000_hosts,
    timer_storm
);
criterion_main!(benches);
