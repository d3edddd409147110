//! The whole platform (`ruckus_models::platform`): a Raft-replicated scheduler placing a
//! three-tier service, instances registering in a Raft-replicated catalog with a gossip pool,
//! clients calling through discovery with every HA policy, at steady load and with no faults.
//!
//! One criterion iteration simulates `SIMULATED` seconds of a platform that has already booted
//! (every tier placed, registered and serving: the first `WARM` seconds run before timing), with
//! properties off. The figure that matters is simulated seconds per wall second, printed after
//! each size; the baseline in the same run is the 10-node platform, so the printed ratio says
//! what ten times the nodes (and instances, and gossip members) costs.
//!
//! Run with `cargo bench -p ruckus-benches --bench platform -- --noplot`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole runs

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ruckus_models::platform::{self, Config, Platform};
use ruckus_models::services::Workload;
use ruckus_sim::{Duration as SimDuration, Instant as SimInstant, Limits, Progress, Sim, SimConfig};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Booted before timing: placement, registration, the clients' first resolution.
const WARM: SimDuration = SimDuration::from_secs(30);
/// Simulated per timed iteration.
const SIMULATED: SimDuration = SimDuration::from_secs(30);

/// `nodes` nodes; every tier with one instance per three nodes (so the nodes are a third full),
/// 3 clients offering 100 requests/s each.
fn config(nodes: u32) -> Config {
    let mut c = Config::default();
    c.scheduler.nodes = nodes;
    for t in &mut c.tiers {
        t.serve.servers = (nodes / 3).max(1);
    }
    c.workload = Workload::Open { rate: 100.0 };
    c
}

fn booted(config: &Config) -> Sim<Platform> {
    let limits = Limits {
        horizon: WARM + SIMULATED,
        ..Limits::default()
    };
    let mut sim = Sim::new(
        SimConfig {
            limits,
            ..SimConfig::with_seed(1)
        },
        &config.topology(),
    );
    platform::setup(&mut sim, config);
    while sim.now() < SimInstant::ZERO + WARM {
        if let Progress::Finished(r) = sim.run_until_event(sim.events() + 1_000) {
            panic!("the platform ended while booting: {:?}", r.verdict);
        }
    }
    sim
}

fn platform_speed(c: &mut Criterion) {
    let mut g = c.benchmark_group("platform");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    let mut rates = Vec::new();
    for nodes in [10u32, 100] {
        let cfg = config(nodes);
        let last = Cell::new((Duration::ZERO, 0u64));
        g.bench_function(format!("nodes_{nodes}"), |b| {
            b.iter_batched(
                || booted(&cfg),
                |mut sim| {
                    let start = Instant::now();
                    let before = sim.events();
                    let report = sim.run();
                    last.set((start.elapsed(), sim.events() - before));
                    report
                },
                criterion::BatchSize::PerIteration,
            )
        });
        let (wall, events) = last.get();
        let rate = SIMULATED.as_secs_f64() / wall.as_secs_f64();
        println!(
            "platform {nodes} nodes: {:.1} simulated s per wall s ({events} events in {:.2} s, {:.0} events/s)",
            rate,
            wall.as_secs_f64(),
            events as f64 / wall.as_secs_f64()
        );
        rates.push(rate);
    }
    println!(
        "100 nodes vs 10 nodes: {:.2}x the wall time per simulated second",
        rates[0] / rates[1]
    );
    g.finish();
}

criterion_group!(benches, platform_speed);
criterion_main!(benches);
