//! The scheduler at scale (see `ruckus_benches::scheduler`): client nodes heartbeating to 3
//! Raft servers, service jobs of 100 allocations submitted 10 ms apart and placed, then a
//! tenth of the nodes crashing for good at once (`CRASH_AT`) and their lost allocations
//! replaced. Sizes: 500 nodes / 10,000 allocations and 5,000 nodes / 100,000 allocations.
//!
//! One criterion iteration is one whole run (building the simulation is not timed): phase 1
//! until every allocation runs, phase 2 from the crash until every lost allocation runs again.
//! With `sample_size(10)` and flat sampling each sample is a single run, so criterion makes 11
//! runs per size (one to warm up). After each size the bench prints, for the last run: the
//! virtual time to place and run everything (from the first submission), the virtual time from
//! the crash until every lost allocation runs again, each phase's wall time, events and events
//! per wall second.
//!
//! Run with `cargo bench -p ruckus-benches --bench scheduler -- --noplot` (500 nodes only);
//! `SCHED_BENCH_FULL=1` adds 5,000 nodes / 100,000 allocations, which does not finish in
//! reasonable time yet (below).
//!
//! Measured (release, 2 shared cores, 500 nodes, 100 jobs x 100, one run's phases): every
//! allocation running 10.2 s (virtual) after the first submission, in 7.21 s wall, 104,000
//! events, 14,427 events/s; 50 nodes crashed at 120 s, 1,009 allocations lost, every one
//! running again 36.2 s (virtual) after the crash (heartbeat TTL plus grace), in 45.25 s wall,
//! 32,000 events, 707 events/s. Criterion's time per whole run: [40.8 s 48.2 s 55.7 s].
//!
//! Where the time goes (`perf record` of that run): 85% in `reconcile::compute_plan`, 51% of
//! all in `memcmp`: for every candidate node it walks every allocation comparing job names
//! (nodes x allocations string compares per evaluation; 5 million at 500 nodes, 500 million
//! at 5,000 nodes / 100,000 allocations, for each of 1,000+ evaluations). `placement.rs` is
//! not hot (under 2%). The fix belongs in `reconcile.rs` (one pass over the job's allocations
//! counting per node); `ClusterState::usage` (6%) rebuilds every node's usage per evaluation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole runs

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ruckus_benches::scheduler::{
    SUBMIT_AT, SchedLoad, build_scheduler, crash_tenth, furthest_state, nodes_down, run_until,
    running_on_ready,
};
use ruckus_models::scheduler::state::ClientStatus;
use ruckus_sim::{Duration as SimDuration, Instant as SimInstant};
use std::cell::Cell;
use std::time::{Duration, Instant};

const SEED: u64 = 1;
const SERVERS: u32 = 3;
/// Nodes, jobs, allocations per job: the first always, the second with `SCHED_BENCH_FULL=1`.
const SIZES: [(u32, u32, u32); 2] = [(500, 100, 100), (5_000, 1_000, 100)];
/// When a tenth of the nodes crash: after every allocation runs (checked).
const CRASH_AT: SimDuration = SimDuration::from_secs(120);
/// Longest run: the crash, plus the longest heartbeat TTL at 5,000 nodes (twice 100 s) and
/// its grace, with room.
const HORIZON: SimDuration = SimDuration::from_secs(900);
/// How often the servers' state is read for the end of a phase (the times' resolution).
const CHECK_EVERY: SimDuration = SimDuration::from_millis(100);
const SLICE_EVENTS: u64 = 2_000;

/// One run's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    placed_after: SimDuration,
    place_wall: Duration,
    place_events: u64,
    healed_after: SimDuration,
    heal_wall: Duration,
    heal_events: u64,
    nodes_down: usize,
    lost: usize,
}

fn one_run(load: &SchedLoad) -> Figures {
    let config = load.config();
    let crash_at = SimInstant::ZERO + CRASH_AT;
    let mut sim = build_scheduler(load, SEED, HORIZON, crash_tenth(&config, crash_at));
    let total = load.allocations();
    let start = Instant::now();
    let placed = run_until(&mut sim, SERVERS, CHECK_EVERY, SLICE_EVENTS, |s| {
        running_on_ready(s) == total
    })
    .expect("every allocation runs before the horizon");
    let place_wall = start.elapsed();
    let place_events = sim.events();
    assert!(
        placed < crash_at,
        "placement ({placed}) must end before the crash"
    );
    let crashed = config.nodes.div_ceil(10) as usize;
    let start = Instant::now();
    let healed = run_until(&mut sim, SERVERS, CHECK_EVERY, SLICE_EVENTS, |s| {
        nodes_down(s) == crashed && running_on_ready(s) == total
    })
    .expect("every lost allocation runs again before the horizon");
    let heal_wall = start.elapsed();
    let state = furthest_state(&sim, SERVERS).expect("a live server");
    Figures {
        placed_after: placed - (SimInstant::ZERO + SUBMIT_AT),
        place_wall,
        place_events,
        healed_after: healed - crash_at,
        heal_wall,
        heal_events: sim.events() - place_events,
        nodes_down: nodes_down(state),
        lost: state
            .allocs
            .values()
            .filter(|a| a.client == ClientStatus::Lost)
            .count(),
    }
}

fn secs(d: SimDuration) -> f64 {
    d.as_secs_f64()
}

fn scheduler_scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scheduler_scale");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    let full = std::env::var_os("SCHED_BENCH_FULL").is_some();
    for (nodes, jobs, per_job) in SIZES.into_iter().take(if full { 2 } else { 1 }) {
        let load = SchedLoad::new(nodes, jobs, per_job);
        let last = Cell::new(None);
        g.bench_function(format!("nodes_{nodes}_allocs_{}", load.allocations()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = one_run(&load);
                    total += f.place_wall + f.heal_wall;
                    last.set(Some(f));
                }
                total
            });
        });
        let Some(f) = last.get() else {
            println!("scheduler {nodes} nodes: not run");
            continue;
        };
        let rate = |events: u64, wall: Duration| events as f64 / wall.as_secs_f64();
        println!(
            "scheduler {nodes} nodes, {} allocations ({jobs} jobs x {per_job}): all running {:.1} s (virtual) after the first submission; {:.2} s wall, {} events, {:.0} events/s",
            load.allocations(),
            secs(f.placed_after),
            f.place_wall.as_secs_f64(),
            f.place_events,
            rate(f.place_events, f.place_wall),
        );
        println!(
            "scheduler {nodes} nodes, {} crashed at {} s: {} marked down, {} allocations lost; every lost allocation running again {:.1} s (virtual) after the crash; {:.2} s wall, {} events, {:.0} events/s",
            nodes.div_ceil(10),
            secs(CRASH_AT),
            f.nodes_down,
            f.lost,
            secs(f.healed_after),
            f.heal_wall.as_secs_f64(),
            f.heal_events,
            rate(f.heal_events, f.heal_wall),
        );
    }
    g.finish();
}

criterion_group!(benches, scheduler_scale);
criterion_main!(benches);
