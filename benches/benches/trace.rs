//! Trace files on the standard pingpong (5 hosts, 50 in flight, latency uniform 1-10 ms,
//! 1,000,000 deliveries): the same run untraced, recording its full trace to a file, and
//! replayed against that file with every event checked. All three report events per second
//! (`Throughput::Elements`); afterwards the bench prints the file's bytes per event (it is
//! deterministic, so it is measured once) and replay speed relative to the recording run, the
//! two figures issue 3 sets targets for (at most 24 bytes per event; replay at no less than 0.5
//! of the recording's speed). The size target is also a unit test in `benches/src/trace.rs`.
//!
//! Run with `cargo bench -p ruckus-benches --bench trace`. Trace files go to the system
//! temporary directory and are removed at the end.

mod common;

use common::{WallTally, iter_timed, ratio};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::build_pingpong;
use ruckus_benches::trace::{ScratchFile, pingpong_trace_size, record_pingpong, replay_pingpong};
use ruckus_models::pingpong::PingPongConfig;
use ruckus_sim::Verdict;
use ruckus_sim::trace::ReplayOutcome;
use std::time::Duration;

const SEED: u64 = 1;

fn trace_pingpong(c: &mut Criterion) {
    let config = PingPongConfig::default();
    // One recording up front: the file the replays read, and its size.
    let recorded = ScratchFile::new("bench-replay.trace");
    let size = pingpong_trace_size(&config, SEED, recorded.path()).expect("recording pingpong");
    let events = size.events;
    println!(
        "trace_pingpong: {events} events, trace file {} bytes, {:.2} bytes/event (target <= 24)",
        size.bytes,
        size.bytes_per_event()
    );

    let mut g = c.benchmark_group("trace_pingpong");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(events));

    let untraced = WallTally::default();
    g.bench_function("untraced", |b| {
        iter_timed(
            b,
            &untraced,
            || build_pingpong(&config, SEED),
            |mut sim| {
                let report = sim.run();
                assert_eq!(report.verdict, Verdict::Held);
                assert_eq!(report.events, events);
                report.fingerprint
            },
        )
    });

    let recording = WallTally::default();
    let scratch = ScratchFile::new("bench-record.trace");
    g.bench_function("record", |b| {
        iter_timed(
            b,
            &recording,
            || build_pingpong(&config, SEED),
            |mut sim| {
                let (report, summary) =
                    record_pingpong(&mut sim, &config, scratch.path()).expect("recording pingpong");
                assert_eq!(report.events, events);
                assert_eq!(summary.bytes, size.bytes, "the same run must write the same file");
                report.fingerprint
            },
        )
    });

    let replaying = WallTally::default();
    g.bench_function("replay", |b| {
        iter_timed(
            b,
            &replaying,
            || build_pingpong(&config, SEED),
            |sim| match replay_pingpong(sim, recorded.path()).expect("reading the trace") {
                ReplayOutcome::Matches {
                    events: n,
                    fingerprint,
                    ..
                } => {
                    assert_eq!(n, events);
                    fingerprint
                }
                other => panic!("the replay diverged: {other}"),
            },
        )
    });
    g.finish();

    // Speed is 1 / time, so replay speed relative to recording is recording time / replay time.
    let (plain, record, replay) = (untraced.mean_secs(), recording.mean_secs(), replaying.mean_secs());
    let ms = |m: Option<f64>| m.map_or("n/a".into(), |s| format!("{:.1} ms", s * 1e3));
    println!(
        "trace_pingpong: mean wall time per run over {}/{}/{} runs (warm-up included): untraced {}, record {}, replay {}",
        untraced.runs(),
        recording.runs(),
        replaying.runs(),
        ms(plain),
        ms(record),
        ms(replay)
    );
    println!(
        "trace_pingpong: replay speed / recording speed = {} (target >= 0.5); recording speed / untraced speed = {}; {:.2} bytes/event (target <= 24)",
        ratio(record, replay),
        ratio(plain, record),
        size.bytes_per_event()
    );
}

criterion_group!(benches, trace_pingpong);
criterion_main!(benches);
