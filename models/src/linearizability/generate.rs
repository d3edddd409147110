//! Generated Jepsen-style histories of a correct cas-register store, for benchmarks and tests:
//! the shape of Jepsen's etcd test (a few clients, reads, writes and cas on small values,
//! clients crashing with `:info` and coming back as a new process).
//!
//! Each operation takes effect at one instant inside its interval (crashed ones at that instant
//! or never), so the history is linearizable by construction.

use super::edn::Edn;
use ruckus_sim::Random;

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Concurrent clients.
    pub clients: usize,
    /// Operations in all.
    pub operations: usize,
    /// Keys; 0 writes a single register (values bare), otherwise `[key value]` pairs.
    pub keys: usize,
    /// Chance an operation's client crashes (the operation ends `:info`).
    pub crash_chance: f64,
    /// Values are drawn from `0..values`.
    pub values: u64,
}

impl Shape {
    /// Jepsen's etcd test: 5 clients, about 80 operations, one register, values 0-4.
    pub const ETCD: Shape = Shape {
        clients: 5,
        operations: 80,
        keys: 0,
        crash_chance: 0.05,
        values: 5,
    };
}

struct InFlight {
    process: i64,
    key: i64,
    f: &'static str,
    arg: Edn,
    effect_at: u64,
    end_at: u64,
    crashes: bool,
    result: Option<(bool, Edn)>,
}

/// Generates a linearizable history of `shape` from `seed`, as EDN entries in event order.
pub fn cas_register_history(seed: u64, shape: Shape) -> Vec<Edn> {
    let mut rng = Random::stream(seed, "jepsen-history", 0);
    let registers = shape.keys.max(1);
    let mut value: Vec<Option<i64>> = vec![None; registers];
    let mut process: Vec<i64> = (0..shape.clients as i64).collect();
    let mut busy: Vec<Option<InFlight>> = (0..shape.clients).map(|_| None).collect();
    let mut issued = 0;
    let mut out = Vec::new();
    let kw = |s: &str| Edn::Keyword(s.to_string());
    let wrap = |key: i64, v: Edn| {
        if shape.keys == 0 {
            v
        } else {
            Edn::List(vec![Edn::Int(key), v])
        }
    };
    let entry = |p: i64, kind: &str, f: &str, v: Edn| {
        Edn::Map(vec![
            (kw("process"), Edn::Int(p)),
            (kw("type"), kw(kind)),
            (kw("f"), kw(f)),
            (kw("value"), v),
        ])
    };
    let mut t = 0u64;
    while issued < shape.operations || busy.iter().any(Option::is_some) {
        t += 1;
        // Effects first, then completions, then new invocations.
        for op in busy.iter_mut().flatten() {
            if op.effect_at != t || (op.crashes && rng.chance(0.5)) {
                continue;
            }
            let reg = &mut value[op.key as usize];
            let int = |e: &Edn| match e {
                Edn::Int(i) => Some(*i),
                _ => None,
            };
            op.result = Some(match op.f {
                "read" => (true, reg.map_or(Edn::Nil, Edn::Int)),
                "write" => {
                    *reg = int(&op.arg);
                    (true, op.arg.clone())
                }
                _ => {
                    let Edn::List(pair) = &op.arg else {
                        unreachable!("cas arguments are pairs")
                    };
                    if *reg == int(&pair[0]) {
                        *reg = int(&pair[1]);
                        (true, op.arg.clone())
                    } else {
                        (false, op.arg.clone())
                    }
                }
            });
        }
        for (c, slot) in busy.iter_mut().enumerate() {
            let Some(op) = slot.take_if(|op| op.end_at == t) else {
                continue;
            };
            let (kind, v) = match (&op.result, op.crashes) {
                (_, true) => ("info", wrap(op.key, op.arg.clone())),
                (Some((true, v)), false) => ("ok", wrap(op.key, v.clone())),
                (Some((false, v)), false) => ("fail", wrap(op.key, v.clone())),
                (None, false) => unreachable!("effects come before completions"),
            };
            out.push(entry(op.process, kind, op.f, v));
            if op.crashes {
                // Like Jepsen, a crashed client comes back as a new process.
                process[c] += shape.clients as i64;
            }
        }
        for (c, slot) in busy.iter_mut().enumerate() {
            if slot.is_some() || issued >= shape.operations || !rng.chance(0.5) {
                continue;
            }
            issued += 1;
            let key = rng.below(registers as u64) as i64;
            let v = || Edn::Int(0);
            let draw = |rng: &mut Random| Edn::Int(rng.below(shape.values) as i64);
            let (f, arg) = match rng.below(10) {
                0..=3 => ("read", v()),
                4..=6 => ("write", draw(&mut rng)),
                _ => {
                    let old = draw(&mut rng);
                    ("cas", Edn::List(vec![old, draw(&mut rng)]))
                }
            };
            let invoked = if f == "read" { Edn::Nil } else { arg.clone() };
            out.push(entry(process[c], "invoke", f, wrap(key, invoked)));
            let effect_at = t + 1 + rng.below(3);
            *slot = Some(InFlight {
                process: process[c],
                key,
                f,
                arg,
                effect_at,
                end_at: effect_at + rng.below(3),
                crashes: rng.chance(shape.crash_chance),
                result: None,
            });
        }
    }
    out
}

/// Makes a history non-linearizable: the last successful read now returns a value never
/// written. Returns false if there is no such read.
pub fn corrupt_last_read(entries: &mut [Edn]) -> bool {
    let is_ok_read = |e: &Edn| {
        e.get("type") == Some(&Edn::Keyword("ok".into())) && e.get("f") == Some(&Edn::Keyword("read".into()))
    };
    let Some(Edn::Map(pairs)) = entries.iter_mut().rev().find(|e| is_ok_read(e)) else {
        return false;
    };
    for (k, v) in pairs.iter_mut() {
        if *k == Edn::Keyword("value".into()) {
            *v = match v {
                Edn::List(kv) => Edn::List(vec![kv[0].clone(), Edn::Int(-999)]),
                _ => Edn::Int(-999),
            };
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::jepsen::{ModelKind, ModelSpec, Value, convert};
    use super::super::{CheckOptions, check};
    use super::*;

    fn located(entries: &[Edn]) -> Vec<(usize, Edn)> {
        entries
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, e)| (i + 1, e))
            .collect()
    }

    #[test]
    fn generated_histories_are_linearizable_until_corrupted() {
        for seed in 0..6 {
            for (shape, kind) in [
                (Shape::ETCD, ModelKind::CasRegister),
                (
                    Shape {
                        keys: 4,
                        operations: 200,
                        crash_chance: 0.1,
                        ..Shape::ETCD
                    },
                    ModelKind::Kv,
                ),
            ] {
                let mut entries = cas_register_history(seed, shape);
                let spec = ModelSpec {
                    kind,
                    initial: Value::Nil,
                };
                let converted = convert(&located(&entries), kind).unwrap();
                assert_eq!(converted.history.operations().len(), shape.operations);
                let result = check(&spec, &converted.history, CheckOptions::default());
                assert!(result.is_linearizable(), "seed {seed}: {result:?}");
                assert!(corrupt_last_read(&mut entries));
                let converted = convert(&located(&entries), kind).unwrap();
                let result = check(&spec, &converted.history, CheckOptions::default());
                assert!(!result.is_linearizable(), "seed {seed} corrupted");
            }
        }
    }

    #[test]
    fn etcd_shape_has_crashes_and_failed_cas() {
        let entries: Vec<Edn> = (0..10)
            .flat_map(|s| cas_register_history(s, Shape::ETCD))
            .collect();
        let count = |kind: &str| {
            entries
                .iter()
                .filter(|e| e.get("type") == Some(&Edn::Keyword(kind.into())))
                .count()
        };
        assert!(count("info") > 0, "crashes");
        assert!(count("fail") > 0, "failed cas");
        assert_eq!(count("invoke"), 800);
    }
}
