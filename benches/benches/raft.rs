//! The healthy Raft cluster under a steady client load (see `ruckus_benches::raft`): five
//! servers, ten open-loop clients offering 1,000 operations per virtual second, no faults,
//! every property checked, 10 s of virtual time. Criterion reports events per second
//! (`Throughput::Elements`); the bench also prints simulated seconds per wall second, and the
//! same run with the properties off, to show what checking costs.
//!
//! Run with `cargo bench -p ruckus-benches --bench raft`.

mod common;

use common::{WallTally, iter_timed, ratio};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::raft::{RaftLoad, build_raft};
use ruckus_sim::Verdict;
use std::time::Duration;

const SEED: u64 = 1;

fn raft_healthy(c: &mut Criterion) {
    let checked = RaftLoad::default();
    let unchecked = RaftLoad {
        properties: false,
        ..checked.clone()
    };
    // The event count is deterministic: take it from one run, which also checks the run holds.
    let probe = build_raft(&checked, SEED).expect("valid config").run();
    assert_eq!(probe.verdict, Verdict::Held, "{probe}");
    let events = probe.events;
    println!(
        "raft_healthy: {} servers, {} open-loop clients offering {:.0} ops/s, {:.0} s virtual: {events} events, {} deliveries per run",
        checked.config.servers,
        checked.config.clients,
        checked.offered_per_second(),
        checked.horizon_secs(),
        probe.deliveries
    );

    let mut g = c.benchmark_group("raft_healthy");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(events));
    let tallies = [(&checked, "properties_on"), (&unchecked, "properties_off")].map(|(load, name)| {
        let tally = WallTally::default();
        g.bench_function(name, |b| {
            iter_timed(
                b,
                &tally,
                || build_raft(load, SEED).expect("valid config"),
                |mut sim| {
                    let report = sim.run();
                    assert_eq!(report.verdict, Verdict::Held);
                    assert_eq!(report.events, events);
                    report.fingerprint
                },
            )
        });
        (name, tally)
    });
    g.finish();

    for (name, tally) in &tallies {
        match tally.mean_secs() {
            Some(mean) => println!(
                "raft_healthy/{name}: {:.1} ms per run ({} runs, warm-up included): {:.2} M events/s, {:.0} simulated seconds per wall second",
                mean * 1e3,
                tally.runs(),
                events as f64 / mean / 1e6,
                checked.horizon_secs() / mean
            ),
            None => println!("raft_healthy/{name}: not run"),
        }
    }
    println!(
        "raft_healthy: checking the properties costs {}x the unchecked run's time",
        ratio(tallies[0].1.mean_secs(), tallies[1].1.mean_secs())
    );
}

criterion_group!(benches, raft_healthy);
criterion_main!(benches);
