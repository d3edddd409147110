//! Host scaling under partitions: the same partition-heavy Raft run on 16, 256, 1,024 and 4,096
//! hosts, reported as wall time per event, and the ratio of the largest to the smallest (issue
//! 14's target: at most 1.5x). Five servers and ten clients live on the first hosts; the other
//! hosts are idle, but every partition, crash and link fault is drawn over all of them, so what
//! grows with the hosts is the network's work, which is what this measures. Building the
//! simulation (topology, fault plan) is kept out of the timed part.
//!
//! Also timed: adding and removing one halves split (half the hosts on each side), the cost a
//! partition fault pays, and the bare binary-heap pingpong loop of `engine.rs` as a yardstick
//! for the machine's speed.
//!
//! Run with `cargo bench -p ruckus-benches --bench hosts`.
//!
//! Measured 2026-12-02 (2-core machine shared with other builds, so absolute figures wander):
//! ns per event at 16 / 256 / 1,024 / 4,096 hosts: 1,582 / 1,607 / 1,564 / 1,416, ratio
//! 4,096 vs 16 = 0.89x; an earlier run under heavier load gave 2,185 / 2,186 / 2,688 / 2,815,
//! 1.29x. Before this bench's changes (per-pair partition counts, each fault's description
//! formatted as it was recorded) that run gave 1,760 / 2,019 / 2,615 / 3,726 ns, 2.12x. One
//! halves split added and removed: 97 ns / 375 ns / 1.37 us / 5.6 us (linear in the hosts;
//! with per-pair counts 4,096 hosts touched ~8 M pairs).

mod common;

use common::{WallTally, iter_timed, ratio};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::bare_pingpong;
use ruckus_models::pingpong::PingPongConfig;
use ruckus_models::raft::{self, Config, Raft};
use ruckus_sim::{
    Distribution, Duration, FaultProfile, FaultRate, HostId, Limits, Network, Partition, Sim, SimConfig,
    Topology,
};
use std::hint::black_box;

const SEED: u64 = 1;
const HOST_COUNTS: [u32; 4] = [16, 256, 1_024, 4_096];

/// Raft's default cluster (5 servers, 10 clients) for 20 s of virtual time.
fn raft_config() -> Config {
    Config {
        servers: 5,
        clients: 10,
        ..Config::default()
    }
}

/// Partitions every 100 ms on average (50 ms - 1 s each: several overlap), crashes, clogs and
/// slow links, all drawn over every host.
fn partition_heavy() -> FaultProfile {
    let rate = |mean_ms: u64, min_ms: u64, max_ms: u64| FaultRate {
        mean_interval: Duration::from_millis(mean_ms),
        duration_min: Duration::from_millis(min_ms),
        duration_max: Duration::from_millis(max_ms),
    };
    FaultProfile {
        partition: Some(rate(100, 50, 1_000)),
        crash: Some(rate(1_000, 10, 500)),
        clog: Some(rate(500, 10, 200)),
        slow_link: Some(rate(500, 50, 500)),
        max_hosts_down: 2,
        quiet_period: Duration::from_secs(4),
        ..FaultProfile::default()
    }
}

/// The run of one host count, ready to go.
fn build(hosts: u32) -> Sim<Raft> {
    let config = raft_config();
    let horizon = Duration::from_secs(20);
    let topology = Topology::single_switch(
        hosts,
        Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
    );
    let mut sim_config = SimConfig::with_seed(SEED);
    sim_config.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &topology);
    raft::setup(&mut sim, &config);
    let plan = partition_heavy().plan(SEED, topology.hosts(), horizon);
    sim.set_fault_plan(plan).expect("a valid plan");
    sim
}

fn raft_partitioned(c: &mut Criterion) {
    let mut g = c.benchmark_group("hosts_raft_partitioned");
    g.sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat);
    let mut rows = Vec::new();
    for hosts in HOST_COUNTS {
        // The event count is deterministic: take it (and the partitions) from one run.
        let probe_sim = build(hosts);
        let partitions = probe_sim
            .fault_plan()
            .actions
            .iter()
            .filter(|a| matches!(a.fault, ruckus_sim::Fault::Partition { .. }))
            .count();
        let mut probe_sim = probe_sim;
        let events = probe_sim.run().events;
        g.throughput(Throughput::Elements(events));
        let tally = WallTally::default();
        g.bench_function(format!("{hosts}"), |b| {
            iter_timed(
                b,
                &tally,
                || build(hosts),
                |mut sim| {
                    let report = sim.run();
                    assert_eq!(report.events, events);
                    report.fingerprint
                },
            )
        });
        rows.push((hosts, events, partitions, tally));
    }
    g.finish();

    let bare = bare_ns_per_delivery();
    let per_event = |t: &WallTally, events: u64| t.mean_secs().map(|s| s * 1e9 / events as f64);
    for (hosts, events, partitions, tally) in &rows {
        match per_event(tally, *events) {
            Some(ns) => println!(
                "hosts_raft_partitioned/{hosts}: {events} events, {partitions} partitions, {:.1} ms per run ({} runs): {ns:.0} ns per event ({:.1}x a bare-loop delivery)",
                tally.mean_secs().unwrap_or_default() * 1e3,
                tally.runs(),
                ns / bare
            ),
            None => println!("hosts_raft_partitioned/{hosts}: not run"),
        }
    }
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    println!(
        "hosts_raft_partitioned: cost per event at {} hosts is {}x that at {} hosts (target: at most 1.5x)",
        last.0,
        ratio(per_event(&last.3, last.1), per_event(&first.3, first.1)),
        first.0
    );
}

/// Nanoseconds per delivery of the bare heap loop (5 hosts, 1,000,000 deliveries).
fn bare_ns_per_delivery() -> f64 {
    let config = PingPongConfig::default();
    let runs = 5;
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    for _ in 0..runs {
        black_box(bare_pingpong(black_box(&config), SEED));
    }
    start.elapsed().as_secs_f64() * 1e9 / (runs * config.deliveries) as f64
}

/// One halves split over all hosts, added and removed: what a partition fault costs.
fn partition_apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("hosts_partition_add_remove");
    g.sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    for hosts in HOST_COUNTS {
        let topology = Topology::single_switch(hosts, Distribution::constant(Duration::from_millis(1)));
        let mut net = Network::new(&topology);
        let side: Vec<HostId> = (0..hosts / 2).map(|h| HostId(h * 2)).collect();
        let mut id = 0;
        g.bench_function(format!("{hosts}"), |b| {
            b.iter(|| {
                id += 1;
                net.add_partition(id, Partition::Halves { side: side.clone() });
                let cut = net.reachable(HostId(0), HostId(1));
                net.remove_partition(id);
                black_box(cut)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, raft_partitioned, partition_apply);
criterion_main!(benches);
