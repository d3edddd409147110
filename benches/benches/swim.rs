//! SWIM at scale (see `ruckus_benches::swim`): 100, 1,000 and 10,000 members in steady state
//! with memberlist's LAN defaults. The bench prints simulated seconds per wall second, the wall
//! cost per member per protocol period, and that cost as a ratio to the 100-member baseline
//! (the target: within 1.5x at 10,000).
//!
//! Each size builds one cluster and criterion times successive slices of the same run, each
//! `SLICE_EVENTS_PER_MEMBER` events per member (about 10 s of virtual time), so the whole
//! measurement covers well over 60 s of virtual time at every size. Building a run is not
//! timed and not repeated (about 0.1 s at 10,000 members: the joined members share one
//! membership table until their views depart).
//!
//! Run with `cargo bench -p ruckus-benches --bench swim`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole slices

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ruckus_benches::swim::{SwimLoad, all_see_everyone_alive, build_swim};
use ruckus_sim::{Duration as SimDuration, Progress};
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SEED: u64 = 1;
const SIZES: [u32; 3] = [100, 1_000, 10_000];
/// Events per member in one timed slice (a quiet member handles about 6 a second).
const SLICE_EVENTS_PER_MEMBER: u64 = 60;

fn swim_scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("swim_steady");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    let mut results = Vec::new();
    for members in SIZES {
        // Long enough never to end inside the measurement.
        let load = SwimLoad {
            members,
            horizon: SimDuration::from_secs(10_000_000),
        };
        let period_secs = load.config().swim.probe_interval.as_nanos() as f64 / 1e9;
        let sim = RefCell::new(None);
        let (wall, virtual_secs) = (Cell::new(Duration::ZERO), Cell::new(0.0));
        g.bench_function(format!("members_{members}"), |b| {
            let mut slot = sim.borrow_mut();
            let sim = slot.get_or_insert_with(|| build_swim(&load, SEED));
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = sim.now();
                    let target = sim.events() + SLICE_EVENTS_PER_MEMBER * u64::from(members);
                    let start = Instant::now();
                    let progress = sim.run_until_event(target);
                    total += start.elapsed();
                    assert!(matches!(progress, Progress::Paused), "the run ended early");
                    virtual_secs.set(virtual_secs.get() + (sim.now() - before).as_nanos() as f64 / 1e9);
                    black_box(sim.events());
                }
                wall.set(wall.get() + total);
                total
            });
        });
        let Some(sim) = sim.into_inner() else {
            println!("swim {members} members: not run");
            continue;
        };
        all_see_everyone_alive(&sim, members).expect("a fault-free run stays converged");
        let m = sim.metrics();
        let member_periods = f64::from(members) * sim.now().as_nanos() as f64 / 1e9 / period_secs;
        let (wall, virtual_secs) = (wall.get().as_secs_f64(), virtual_secs.get());
        let cost = wall / (f64::from(members) * virtual_secs / period_secs);
        println!(
            "swim {members} members: {virtual_secs:.0} s virtual timed in {wall:.2} s wall ({:.0} s run in all, {} events): {:.1} simulated s per wall s, {:.0} ns per member per period; {:.2} messages sent per member per period, {} suspicions",
            sim.now().as_nanos() as f64 / 1e9,
            sim.events(),
            virtual_secs / wall,
            cost * 1e9,
            m.counter("swim.messages_sent") as f64 / member_periods,
            m.counter("swim.suspicions"),
        );
        results.push((members, cost));
    }
    g.finish();
    if let Some(&(base_members, base)) = results.first() {
        for &(members, cost) in &results[1..] {
            println!(
                "swim cost per member per period, {members} vs {base_members} members: {:.2}x",
                cost / base
            );
        }
    }
}

criterion_group!(benches, swim_scale);
criterion_main!(benches);
