//! The scheduler at scale (see `ruckus_benches::scheduler`): client nodes heartbeating to 3
//! Raft servers, service jobs of 100 allocations submitted 10 ms apart and placed, then a
//! tenth of the nodes crashing for good at once (`CRASH_AT`) and their lost allocations
//! replaced. Sizes: 500 nodes / 10,000 allocations and, with `SCHED_BENCH_FULL=1`, 5,000 nodes
//! / 100,000 allocations (eleven runs of a minute or more each; the `scheduler_scale` binary
//! makes one: `cargo run --release -p ruckus-benches --bin scheduler_scale`).
//!
//! One criterion iteration is one whole run (building the simulation is not timed): phase 1
//! until every allocation runs, phase 2 from the crash until every lost allocation runs again.
//! With `sample_size(10)` and flat sampling each sample is a single run, so criterion makes 11
//! runs per size (one to warm up). After each size the bench prints, for the last run: the
//! virtual time to place and run everything (from the first submission), the virtual time from
//! the crash until every lost allocation runs again, each phase's wall time, events and events
//! per wall second.
//!
//! Run with `cargo bench -p ruckus-benches --bench scheduler -- --noplot`. Figures are in the
//! README's performance table. The cluster state keeps indexes of allocations per job and per
//! node and each node's usage (before them, planning, the applier's re-check and every
//! heartbeat scanned every allocation: 85% of a 500-node run, and 5,000 nodes did not finish).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole runs

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ruckus_benches::scheduler::{ScaleFigures, SchedLoad, describe, scale_run};
use ruckus_sim::Duration as SimDuration;
use std::cell::Cell;
use std::time::Duration;

const SEED: u64 = 1;
/// Nodes, jobs, allocations per job: the first always, the second with `SCHED_BENCH_FULL=1`.
const SIZES: [(u32, u32, u32); 2] = [(500, 100, 100), (5_000, 1_000, 100)];
/// Longest run: the crash, plus the longest heartbeat TTL at 5,000 nodes (twice 100 s) and
/// its grace, with room.
const HORIZON: SimDuration = SimDuration::from_secs(900);

fn scheduler_scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scheduler_scale");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    let full = std::env::var_os("SCHED_BENCH_FULL").is_some();
    for (nodes, jobs, per_job) in SIZES.into_iter().take(if full { 2 } else { 1 }) {
        let load = SchedLoad::new(nodes, jobs, per_job);
        let last: Cell<Option<ScaleFigures>> = Cell::new(None);
        g.bench_function(format!("nodes_{nodes}_allocs_{}", load.allocations()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = scale_run(&load, SEED, HORIZON);
                    total += f.place_wall + f.heal_wall;
                    last.set(Some(f));
                }
                total
            });
        });
        match last.get() {
            Some(f) => print!("{}", describe(&load, &f)),
            None => println!("scheduler {nodes} nodes: not run"),
        }
    }
    g.finish();
}

criterion_group!(benches, scheduler_scale);
criterion_main!(benches);
