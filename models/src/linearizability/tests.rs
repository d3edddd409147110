use super::kv::{KvInput, KvOutput, KvSpec};
use super::*;
use ruckus_sim::Random;

type Op = Operation<KvInput, KvOutput>;

fn ok(client: u64, input: KvInput, out: KvOutput, call: u64, ret: u64) -> Op {
    Operation {
        client,
        input,
        outcome: Outcome::Ok(out),
        call,
        ret: Some(ret),
    }
}

fn unknown(client: u64, input: KvInput, call: u64) -> Op {
    Operation {
        client,
        input,
        outcome: Outcome::Unknown,
        call,
        ret: None,
    }
}

fn failed(client: u64, input: KvInput, call: u64, ret: u64) -> Op {
    Operation {
        client,
        input,
        outcome: Outcome::Failed,
        call,
        ret: Some(ret),
    }
}

fn run(ops: Vec<Op>) -> CheckResult<KvInput, KvOutput, u32> {
    check_operations(&KvSpec, &ops, CheckOptions::default())
}

fn val(v: u64) -> KvOutput {
    KvOutput::Value(Some(v))
}
const UNSET: KvOutput = KvOutput::Value(None);
const W: KvOutput = KvOutput::Written;

#[test]
fn sequential_history_is_linearizable() {
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(2, KvInput::Get(0), val(1), 2, 3),
        ok(1, KvInput::Cas(0, Some(1), 2), KvOutput::Swapped(true), 4, 5),
        ok(2, KvInput::Cas(0, Some(1), 3), KvOutput::Swapped(false), 6, 7),
        ok(2, KvInput::Get(0), val(2), 8, 9),
    ];
    assert!(run(h).is_linearizable());
}

#[test]
fn stale_read_after_completed_write_is_caught_and_drawn() {
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(2, KvInput::Get(0), UNSET, 2, 3),
    ];
    let CheckResult::NotLinearizable(v) = run(h) else {
        panic!("stale read accepted")
    };
    assert_eq!(v.key, 0);
    assert_eq!(v.operations.len(), 2);
    assert!(v.timeline.contains("put(k0, 1) -> ok"), "{}", v.timeline);
    assert!(v.timeline.contains("get(k0) -> unset"), "{}", v.timeline);
    // The write's bar ends before the read's begins.
    let lines: Vec<&str> = v.timeline.lines().collect();
    let end_of_write = lines[0].rfind('|').unwrap();
    let start_of_read = lines[1].find('|').unwrap();
    assert!(end_of_write < start_of_read, "{}", v.timeline);
}

#[test]
fn overlapping_operations_may_order_either_way() {
    // A read overlapping a write may see it or not.
    for seen in [val(1), UNSET] {
        let h = vec![
            ok(1, KvInput::Put(0, 1), W, 0, 3),
            ok(2, KvInput::Get(0), seen, 1, 2),
        ];
        assert!(run(h).is_linearizable(), "{seen:?}");
    }
    // But two overlapping reads cannot see the new value and then the old one
    // when the first finished before the second began.
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 10),
        ok(2, KvInput::Get(0), val(1), 1, 2),
        ok(3, KvInput::Get(0), UNSET, 3, 4),
    ];
    assert!(matches!(run(h), CheckResult::NotLinearizable(_)));
}

#[test]
fn read_of_an_overwritten_value_after_the_overwrite_fails() {
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(1, KvInput::Put(0, 2), W, 2, 5),
        ok(2, KvInput::Get(0), val(2), 3, 4),
        ok(3, KvInput::Get(0), val(1), 6, 7),
    ];
    let CheckResult::NotLinearizable(v) = run(h) else {
        panic!("accepted")
    };
    // Smallest witness: the read of 1 after the put of 2 completed, with no write of 1
    // left to explain it; the concurrent read of 2 is not needed.
    assert_eq!(v.operations.len(), 2, "{}", v.timeline);
    assert!(v.operations.iter().all(|o| o.client != 2), "{}", v.timeline);
}

#[test]
fn unknown_write_may_take_effect_late_or_never() {
    // Never observed: fine.
    assert!(
        run(vec![
            unknown(1, KvInput::Put(0, 7), 0),
            ok(2, KvInput::Get(0), UNSET, 1, 2)
        ])
        .is_linearizable()
    );
    // Observed late, after a read that missed it: fine.
    assert!(
        run(vec![
            unknown(1, KvInput::Put(0, 7), 0),
            ok(2, KvInput::Get(0), UNSET, 1, 2),
            ok(2, KvInput::Get(0), val(7), 3, 4),
        ])
        .is_linearizable()
    );
    // Observed, then gone again: not fine.
    let r = run(vec![
        unknown(1, KvInput::Put(0, 7), 0),
        ok(2, KvInput::Get(0), val(7), 1, 2),
        ok(2, KvInput::Get(0), UNSET, 3, 4),
    ]);
    assert!(matches!(r, CheckResult::NotLinearizable(_)));
    // Observed before it was invoked: not fine.
    let r = run(vec![
        ok(2, KvInput::Get(0), val(7), 0, 1),
        unknown(1, KvInput::Put(0, 7), 2),
    ]);
    let CheckResult::NotLinearizable(v) = r else {
        panic!("accepted")
    };
    // Nothing wrote 7 before the read: the read alone is the witness.
    assert_eq!(v.operations.len(), 1, "{}", v.timeline);
    // Unknown outcomes are drawn open-ended.
    let drawn = timeline(&[
        unknown(1, KvInput::Put(0, 7), 0),
        ok(2, KvInput::Get(0), val(7), 1, 2),
    ]);
    let first = drawn.lines().next().unwrap();
    assert!(
        first.starts_with("c1   |...") && first.ends_with("put(k0, 7) -> ?"),
        "{drawn}"
    );
}

#[test]
fn failed_write_must_not_be_observed() {
    assert!(
        run(vec![
            failed(1, KvInput::Put(0, 5), 0, 1),
            ok(2, KvInput::Get(0), UNSET, 2, 3)
        ])
        .is_linearizable()
    );
    assert!(matches!(
        run(vec![
            failed(1, KvInput::Put(0, 5), 0, 1),
            ok(2, KvInput::Get(0), val(5), 2, 3)
        ]),
        CheckResult::NotLinearizable(_)
    ));
}

#[test]
fn two_concurrent_cas_from_unset_cannot_both_win() {
    let both = vec![
        ok(1, KvInput::Cas(0, None, 1), KvOutput::Swapped(true), 0, 3),
        ok(2, KvInput::Cas(0, None, 2), KvOutput::Swapped(true), 1, 2),
    ];
    assert!(matches!(run(both), CheckResult::NotLinearizable(_)));
    let one = vec![
        ok(1, KvInput::Cas(0, None, 1), KvOutput::Swapped(true), 0, 3),
        ok(2, KvInput::Cas(0, None, 2), KvOutput::Swapped(false), 1, 2),
    ];
    assert!(run(one).is_linearizable());
}

#[test]
fn keys_are_checked_independently_and_the_bad_key_is_named() {
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(1, KvInput::Put(1, 1), W, 2, 3),
        ok(2, KvInput::Get(0), val(1), 4, 5),
        ok(2, KvInput::Get(1), UNSET, 6, 7),
    ];
    let CheckResult::NotLinearizable(v) = run(h) else {
        panic!("accepted")
    };
    assert_eq!(v.key, 1);
    assert!(v.operations.iter().all(|o| o.input.key() == 1));
}

#[test]
fn budget_exhaustion_is_unknown_not_a_verdict() {
    let mut ops = Vec::new();
    for i in 0..10u64 {
        ops.push(ok(i, KvInput::Put(0, i), W, i, 100 + i));
    }
    ops.push(ok(99, KvInput::Get(0), val(1000), 200, 201));
    let r = check_operations(
        &KvSpec,
        &ops,
        CheckOptions {
            max_steps: 50,
            max_shrink_steps: 0,
            ..CheckOptions::default()
        },
    );
    let CheckResult::Unknown { reason } = r else {
        panic!("expected unknown, got {r:?}")
    };
    assert!(reason.contains("budget"), "{reason}");
    // The memo bound gives up the same way, however many steps are allowed.
    let r = check_operations(
        &KvSpec,
        &ops,
        CheckOptions {
            max_memo_bytes: 1,
            ..CheckOptions::default()
        },
    );
    assert!(matches!(r, CheckResult::Unknown { .. }), "{r:?}");
    // With a real budget the answer is definite (no put wrote 1000).
    assert!(matches!(run(ops), CheckResult::NotLinearizable(_)));
}

#[test]
fn history_builder_rejects_bad_sequences_and_orders_events() {
    let mut h: History<KvInput, KvOutput> = History::new();
    h.invoke(1, 1, KvInput::Put(0, 1)).unwrap();
    h.invoke(2, 2, KvInput::Get(0)).unwrap();
    assert!(h.invoke(1, 1, KvInput::Get(0)).unwrap_err().contains("twice"));
    h.complete(2, Outcome::Ok(UNSET)).unwrap();
    h.complete(1, Outcome::Ok(W)).unwrap();
    assert!(
        h.complete(1, Outcome::Ok(W))
            .unwrap_err()
            .contains("completed twice")
    );
    assert!(
        h.complete(9, Outcome::Ok(W))
            .unwrap_err()
            .contains("never invoked")
    );
    h.invoke(3, 3, KvInput::Put(0, 2)).unwrap(); // never completes: unknown
    let ops = h.operations();
    assert_eq!((ops[0].call, ops[0].ret), (0, Some(3)));
    assert_eq!((ops[1].call, ops[1].ret), (1, Some(2)));
    assert_eq!(ops[2].outcome, Outcome::Unknown);
    assert!(check(&KvSpec, &h, CheckOptions::default()).is_linearizable());
}

#[test]
fn a_long_history_shrinks_to_the_few_operations_that_matter() {
    let mut ops = Vec::new();
    let mut t = 0;
    for i in 0..300u64 {
        // Writes and reads that overlap pairwise.
        ops.push(ok(1, KvInput::Put(0, i), W, t, t + 2));
        ops.push(ok(2, KvInput::Get(0), val(i), t + 1, t + 3));
        t += 4;
    }
    assert!(run(ops.clone()).is_linearizable());
    ops.push(ok(3, KvInput::Get(0), val(5), t, t + 1));
    let CheckResult::NotLinearizable(v) = run(ops) else {
        panic!("accepted")
    };
    assert_eq!(v.original_len, 601);
    assert!(v.operations.len() <= 4, "{}", v);
    // The witness fails on its own.
    assert!(matches!(
        run(v.operations.clone()),
        CheckResult::NotLinearizable(_)
    ));
}

/// Brute force: every order of the completed operations plus any subset of the unknown ones,
/// respecting real time. Only for tiny histories.
fn brute_force(ops: &[Op]) -> bool {
    let ops: Vec<Op> = ops
        .iter()
        .filter(|o| o.outcome != Outcome::Failed)
        .cloned()
        .collect();
    let n = ops.len();
    fn go(ops: &[Op], used: &mut Vec<bool>, state: Option<u64>) -> bool {
        let must_left = ops
            .iter()
            .zip(used.iter())
            .any(|(o, u)| !u && matches!(o.outcome, Outcome::Ok(_)));
        if !must_left {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Minimal: no unused completed op returned before i was called.
            let blocked = ops.iter().zip(used.iter()).any(|(o, u)| {
                !u && matches!(o.outcome, Outcome::Ok(_)) && o.ret.is_some_and(|r| r < ops[i].call)
            });
            if blocked {
                continue;
            }
            let (s, out) = super::kv::apply(state, &ops[i].input);
            if let Outcome::Ok(e) = &ops[i].outcome
                && *e != out
            {
                continue;
            }
            used[i] = true;
            if go(ops, used, s) {
                return true;
            }
            used[i] = false;
        }
        false
    }
    go(&ops, &mut vec![false; n], None)
}

#[test]
fn agrees_with_brute_force_on_random_small_histories() {
    let mut rng = Random::stream(42, "linearizability-test", 0);
    let (mut yes, mut no) = (0, 0);
    for _ in 0..3000 {
        let n = 1 + rng.below(6) as usize;
        let mut points: Vec<u64> = Vec::new();
        let mut ops = Vec::new();
        for c in 0..n {
            let call = rng.below(12) * 2;
            let len = 1 + rng.below(6) * 2;
            let input = match rng.below(3) {
                0 => KvInput::Get(0),
                1 => KvInput::Put(0, rng.below(3)),
                _ => KvInput::Cas(
                    0,
                    if rng.chance(0.3) { None } else { Some(rng.below(3)) },
                    rng.below(3),
                ),
            };
            let out = match input {
                KvInput::Get(_) => KvOutput::Value(if rng.chance(0.3) { None } else { Some(rng.below(3)) }),
                KvInput::Put(..) => W,
                KvInput::Cas(..) => KvOutput::Swapped(rng.chance(0.5)),
            };
            let op = match rng.below(8) {
                0 => unknown(c as u64, input, call + 1),
                1 => failed(c as u64, input, call + 1, call + len),
                _ => ok(c as u64, input, out, call + 1, call + 1 + len),
            };
            points.push(op.call);
            ops.push(op);
        }
        let expected = brute_force(&ops);
        let got = run(ops.clone());
        assert_eq!(got.is_linearizable(), expected, "{ops:?}");
        if let CheckResult::NotLinearizable(v) = got {
            assert!(!brute_force(&v.operations), "witness passes: {}", v);
            no += 1;
        } else {
            yes += 1;
        }
    }
    // Both answers were exercised.
    assert!(yes > 300 && no > 300, "yes {yes} no {no}");
}

#[test]
fn witness_finds_the_prefix_the_failing_completion_and_an_order() {
    // put 1; put 2; then a read of 1 after both completed: the read is the failing completion.
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(2, KvInput::Put(0, 2), W, 2, 3),
        ok(3, KvInput::Get(0), val(2), 4, 5),
        ok(3, KvInput::Get(0), val(1), 6, 7),
    ];
    let parts = partition(&KvSpec, &h);
    let ops = &parts[&0];
    assert_eq!(
        decide(&KvSpec, ops, CheckOptions::default()).0,
        Decision::NotLinearizable
    );
    let w = witness(&KvSpec, ops, CheckOptions::default(), true, &mut || false);
    assert!(w.complete);
    assert_eq!(w.prefix_end, 7);
    assert_eq!(w.failing, Some(3));
    assert_eq!(w.linearization, vec![0, 1, 2]);
    assert_eq!(w.operations.len(), 2, "{:?}", w.operations);
    // A stop that fires at once leaves the search incomplete, with no failing operation named.
    let cut = witness(&KvSpec, ops, CheckOptions::default(), true, &mut || true);
    assert!(!cut.complete);
    assert_eq!(cut.failing, None);
    assert_eq!(cut.operations.len(), 4);
    // Without thinning, the failing prefix is kept whole.
    let whole = witness(&KvSpec, ops, CheckOptions::default(), false, &mut || false);
    assert_eq!(whole.operations.len(), 4);
    assert_eq!(whole.failing, Some(3));
}

#[test]
fn the_earliest_unexplained_operation_is_named_across_keys() {
    // Key 0 goes wrong at its last read (positions 8..9); key 1, later in key order, at its
    // read at positions 4..5: the violation reported is key 1's, with that read.
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(2, KvInput::Put(1, 5), W, 2, 3),
        ok(2, KvInput::Get(1), UNSET, 4, 5),
        ok(1, KvInput::Get(0), val(1), 6, 7),
        ok(1, KvInput::Get(0), val(9), 8, 9),
    ];
    let CheckResult::NotLinearizable(v) = run(h.clone()) else {
        panic!("not linearizable")
    };
    assert_eq!(v.key, 1);
    assert_eq!(v.failing.as_ref(), Some(&h[2]));
    assert!(
        v.to_string()
            .contains("first unexplained: c2 get(k1) -> unset (history positions 4 to 5)"),
        "{v}"
    );
    // Without key 1's bad read, key 0's is the earliest.
    let mut rest = h.clone();
    rest.remove(2);
    let CheckResult::NotLinearizable(v) = run(rest) else {
        panic!("not linearizable")
    };
    assert_eq!((v.key, v.failing.as_ref()), (0, Some(&h[4])));
}

#[test]
fn the_unexplained_operation_is_the_first_whose_completion_cannot_be_placed() {
    // Writes of 1 and 2 in sequence, then a read of 1 (stale), then more reads of 2: the
    // stale read is the first completion no ordering explains, not the last operation.
    let h = vec![
        ok(1, KvInput::Put(0, 1), W, 0, 1),
        ok(1, KvInput::Put(0, 2), W, 2, 3),
        ok(2, KvInput::Get(0), val(1), 4, 5),
        ok(2, KvInput::Get(0), val(2), 6, 7),
        ok(3, KvInput::Get(0), val(2), 8, 9),
    ];
    let CheckResult::NotLinearizable(v) = run(h.clone()) else {
        panic!("not linearizable")
    };
    assert_eq!(v.failing.as_ref(), Some(&h[2]));
}
