//! The linearizability checker on a real history: at least 10,000 operations on 10 keys from a
//! healthy Raft cluster (issue 5's target: checked in under a second in release mode). Criterion
//! reports operations per second (`Throughput::Elements`).
//!
//! Run with `cargo bench -p ruckus-benches --bench linearizability`.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_benches::raft::history_10_keys;
use ruckus_models::linearizability::{check, kv::KvSpec};
use std::time::Duration;

fn checker_10k(c: &mut Criterion) {
    let history = history_10_keys(10_000, 1);
    let ops = history.operations().len() as u64;
    println!("linearizability: {ops} operations on 10 keys from a healthy Raft run");
    let mut g = c.benchmark_group("linearizability");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(ops));
    g.bench_function("kv_10_keys", |b| {
        b.iter(|| {
            let result = check(&KvSpec, &history, Default::default());
            assert!(result.is_linearizable());
            result
        })
    });
    g.finish();
}

criterion_group!(benches, checker_10k);
criterion_main!(benches);
