//! `ruckus check`'s checker on Jepsen-shaped histories: generated histories of the shape of
//! Jepsen's etcd test (5 clients, 80 operations on one cas-register, crashes and `:info`),
//! linearizable and corrupted (decision and witness timed apart), and a 100,000-operation
//! history on 100 keys. Single-threaded here: the CLI additionally spreads keys over cores.
//!
//! Run with `cargo bench -p ruckus-benches --bench check`.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ruckus_models::linearizability::edn::Edn;
use ruckus_models::linearizability::generate::{Shape, cas_register_history, corrupt_last_read};
use ruckus_models::linearizability::jepsen::{Input, ModelKind, ModelSpec, Output, Value, convert};
use ruckus_models::linearizability::{
    CheckOptions, Decision, Operation, check_operations, decide, partition, witness,
};
use std::hint::black_box;
use std::time::Duration;

type Ops = Vec<Operation<Input, Output>>;

fn ops_of(entries: &[Edn], kind: ModelKind) -> Ops {
    let located: Vec<(usize, Edn)> = entries.iter().cloned().enumerate().collect();
    convert(&located, kind)
        .expect("generated histories convert")
        .history
        .operations()
        .to_vec()
}

fn spec(kind: ModelKind) -> ModelSpec {
    ModelSpec {
        kind,
        initial: Value::Nil,
    }
}

fn etcd(c: &mut Criterion) {
    const HISTORIES: u64 = 20;
    let register = spec(ModelKind::CasRegister);
    let good: Vec<Ops> = (0..HISTORIES)
        .map(|s| ops_of(&cas_register_history(s, Shape::ETCD), ModelKind::CasRegister))
        .collect();
    let bad: Vec<Ops> = (0..HISTORIES)
        .map(|s| {
            let mut e = cas_register_history(s, Shape::ETCD);
            assert!(corrupt_last_read(&mut e));
            let ops = ops_of(&e, ModelKind::CasRegister);
            partition(&register, &ops).into_values().next().expect("one key")
        })
        .collect();
    let mut g = c.benchmark_group("check_etcd");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(HISTORIES));
    g.bench_function("linearizable_x20", |b| {
        b.iter(|| {
            for ops in &good {
                let result = check_operations(&register, ops, CheckOptions::default());
                assert!(result.is_linearizable());
            }
        })
    });
    g.bench_function("corrupted_decision_x20", |b| {
        b.iter(|| {
            for ops in &bad {
                let (d, _) = decide(&register, ops, CheckOptions::default());
                assert_eq!(d, Decision::NotLinearizable);
            }
        })
    });
    g.bench_function("corrupted_witness_x20", |b| {
        b.iter(|| {
            for ops in &bad {
                let w = witness(&register, ops, CheckOptions::default(), true, &mut || false);
                black_box(w.operations.len());
            }
        })
    });
    g.finish();
}

fn kv_100k(c: &mut Criterion) {
    let shape = Shape {
        clients: 20,
        operations: 100_000,
        keys: 100,
        crash_chance: 0.01,
        values: 5,
    };
    let kv = spec(ModelKind::Kv);
    let ops = ops_of(&cas_register_history(7, shape), ModelKind::Kv);
    let mut g = c.benchmark_group("check_kv");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(ops.len() as u64));
    g.bench_function("100k_ops_100_keys", |b| {
        b.iter(|| {
            let result = check_operations(&kv, &ops, CheckOptions::default());
            assert!(result.is_linearizable());
        })
    });
    g.finish();
}

criterion_group!(benches, etcd, kv_100k);
criterion_main!(benches);
