//! Shrinking a failing run to its essence: fewer faults, shorter faults, a shorter horizon.
//!
//! Nothing here knows a model. The caller supplies a predicate that re-runs the scenario with a
//! candidate and says whether the *same* property still fails (same verdict and property name is
//! the usual test); the shrinker only proposes candidates and keeps the ones that still fail.
//!
//! - [`PlanSearch`]: the one fault-plan shrinker, a step-wise search (remove actions coarse to
//!   fine: a large plan first by whole fault kinds, hosts and time windows, then chunks down to
//!   single actions; then simplify each remaining fault: shorter, fewer hosts, simpler
//!   partitions, smaller clock steps), which [`shrink_plan`] and [`shrink_plan_before`] run in
//!   a loop and the proptest strategy of ruckus-scenarios drives through its `ValueTree`. It
//!   says whether the result is shown 1-minimal: removing any single remaining action was
//!   tried and made the failure go away.
//! - [`shrink_u64`] / [`shrink_horizon`]: the smallest value (to a resolution) that still fails,
//!   by bisection — for the horizon, or for a workload size the model exposes.
//! - [`shrink_run`]: both, with one predicate over (plan, horizon).
//! - [`shrink_knobs`]: several workload sizes (clients, keys, deliveries), each bisected toward
//!   its minimum in turn, repeated until none moves: the result is minimal in each knob.
//!
//! Every search is bounded by `max_tests` predicate calls and, through the `_until` variants
//! ([`shrink_plan_before_until`], [`shrink_knobs_until`]), by a caller's `out_of_time` check
//! asked before each call (a wall-clock deadline lives in the caller: nothing here reads a
//! clock). Hitting either bound is reported, and what was found so far is still a failing run.

mod plan;

pub use plan::{
    PlanSearch, PlanShrink, ShrinkError, shrink_plan, shrink_plan_before, shrink_plan_before_until,
    simplifications, with_duration,
};

use crate::fault::FaultPlan;
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;
use std::fmt;

/// The smallest value in `floor..=value` (to within `resolution`) for which `still_fails`
/// holds, by bisection, given that it holds at `value`. Spends at most `max_tests` calls.
/// Failure need not be monotone in the value; the result always failed when tested.
pub fn shrink_u64(
    value: u64,
    floor: u64,
    resolution: u64,
    max_tests: usize,
    mut still_fails: impl FnMut(u64) -> bool,
) -> (u64, usize) {
    let (mut lo, mut hi) = (floor.min(value), value);
    let mut tests = 0;
    // Try the floor itself first: often the smallest value already fails.
    if lo < hi && tests < max_tests {
        tests += 1;
        if still_fails(lo) {
            return (lo, tests);
        }
    }
    while hi - lo > resolution.max(1) && tests < max_tests {
        let mid = lo + (hi - lo) / 2;
        tests += 1;
        if still_fails(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi, tests)
}

/// The shortest horizon (to 1 ms) at which `still_fails` holds, given that it holds at
/// `horizon`; `floor` is a hint below which it cannot fail (e.g. zero, or the failure time for a
/// safety violation).
pub fn shrink_horizon(
    horizon: Duration,
    floor: Duration,
    max_tests: usize,
    mut still_fails: impl FnMut(Duration) -> bool,
) -> (Duration, usize) {
    let (h, tests) = shrink_u64(horizon.0, floor.0, Duration::from_millis(1).0, max_tests, |v| {
        still_fails(Duration(v))
    });
    (Duration(h), tests)
}

/// The outcome of [`shrink_run`].
#[derive(Clone, Debug, PartialEq)]
pub struct RunShrink {
    /// The plan part.
    pub plan: PlanShrink,
    /// The original horizon.
    pub horizon_before: Duration,
    /// The shortest horizon that still fails with the shrunk plan.
    pub horizon: Duration,
    /// Predicate calls in all.
    pub tests: usize,
}

impl fmt::Display for RunShrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan)?;
        if self.horizon != self.horizon_before {
            writeln!(
                f,
                "  horizon shortened from {} to {}",
                self.horizon_before, self.horizon
            )?;
        }
        Ok(())
    }
}

/// Shrinks the plan (with the original horizon), then the horizon (with the shrunk plan).
/// `failure_time` bounds the horizon search from below: a run cannot fail before it fails.
pub fn shrink_run(
    plan: &FaultPlan,
    horizon: Duration,
    failure_time: Instant,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan, Duration) -> bool,
) -> Result<RunShrink, ShrinkError> {
    let plan_shrink = shrink_plan(plan, max_tests, |p| still_fails(p, horizon))?;
    let budget = max_tests.saturating_sub(plan_shrink.tests);
    let floor = Duration(failure_time.0.min(horizon.0));
    let (h, horizon_tests) = shrink_horizon(horizon, floor, budget, |h| still_fails(&plan_shrink.plan, h));
    Ok(RunShrink {
        tests: plan_shrink.tests + horizon_tests,
        plan: plan_shrink,
        horizon_before: horizon,
        horizon: h,
    })
}

/// A workload size the shrinker may reduce: its name, its value, and the smallest value the
/// model allows. The name is only a label for reports; the caller maps it to a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knob {
    /// The parameter's name (for reports).
    pub name: String,
    /// Its current value.
    pub value: u64,
    /// The smallest value it may take.
    pub min: u64,
}

/// The outcome of [`shrink_knobs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnobShrink {
    /// Every knob with its final (smallest failing) value.
    pub knobs: Vec<Knob>,
    /// The knobs that moved: (name, before, after).
    pub reduced: Vec<(String, u64, u64)>,
    /// Predicate calls made (repeated candidates are answered from memory and not counted).
    pub tests: usize,
    /// Whether a budget stopped the search early (`max_tests`, or the time budget if
    /// [`out_of_time`](Self::out_of_time)).
    pub exhausted: bool,
    /// Whether the caller's time budget stopped the search early.
    pub out_of_time: bool,
}

impl fmt::Display for KnobShrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.knobs.is_empty() {
            return writeln!(f, "workload: the model declares no workload size to reduce");
        }
        writeln!(
            f,
            "workload: reduced {} of {} sizes after {} test runs{}",
            self.reduced.len(),
            self.knobs.len(),
            self.tests,
            if self.out_of_time {
                " (time budget exhausted)"
            } else if self.exhausted {
                " (test budget exhausted)"
            } else {
                ""
            }
        )?;
        for k in &self.knobs {
            match self.reduced.iter().find(|(name, _, _)| *name == k.name) {
                Some((name, before, after)) => writeln!(f, "  {name} {before} -> {after}")?,
                None if k.value <= k.min => writeln!(f, "  {} {} (its minimum)", k.name, k.value)?,
                // Without the whole budget, one less may not have been tried.
                None if self.exhausted => writeln!(f, "  {} {} (not reduced)", k.name, k.value)?,
                None => writeln!(f, "  {} {} (smaller passes)", k.name, k.value)?,
            }
        }
        Ok(())
    }
}

/// Shrinks each knob toward its minimum in turn (bisection, as [`shrink_u64`]) while
/// `still_fails` holds for the whole vector of values (in the order of `knobs`), and repeats the
/// round until no knob moves, since a smaller value of one can let another shrink further.
/// Unless the budget runs out, each final value is its minimum or one less than it no longer
/// fails (with the other final values). The starting values are taken to fail.
pub fn shrink_knobs(knobs: &[Knob], max_tests: usize, still_fails: impl FnMut(&[u64]) -> bool) -> KnobShrink {
    shrink_knobs_until(knobs, max_tests, || false, still_fails)
}

/// [`shrink_knobs`] with a second budget: before each test `out_of_time` is asked whether to
/// stop (the caller's deadline; nothing here reads a clock).
pub fn shrink_knobs_until(
    knobs: &[Knob],
    max_tests: usize,
    mut out_of_time: impl FnMut() -> bool,
    mut still_fails: impl FnMut(&[u64]) -> bool,
) -> KnobShrink {
    let mut values: Vec<u64> = knobs.iter().map(|k| k.value).collect();
    let mut cache: BTreeMap<Vec<u64>, bool> = BTreeMap::new();
    cache.insert(values.clone(), true);
    let (mut tests, mut exhausted, mut late) = (0usize, false, false);
    // Each round that changes something lowers the sum of the values, so this ends; the bound
    // only guards against a predicate that is not a function of the values.
    for _round in 0..64 {
        let mut moved = false;
        for i in 0..knobs.len() {
            let floor = knobs[i].min;
            if values[i] <= floor {
                continue;
            }
            let (v, _) = shrink_u64(values[i], floor, 1, usize::MAX, |v| {
                let mut candidate = values.clone();
                candidate[i] = v;
                if let Some(&r) = cache.get(&candidate) {
                    return r;
                }
                if tests >= max_tests {
                    exhausted = true;
                    return false; // never a false "fails"
                }
                if out_of_time() {
                    (exhausted, late) = (true, true);
                    return false;
                }
                tests += 1;
                let r = still_fails(&candidate);
                cache.insert(candidate, r);
                r
            });
            if v != values[i] {
                values[i] = v;
                moved = true;
            }
        }
        if !moved || exhausted {
            break;
        }
    }
    let reduced = knobs
        .iter()
        .zip(&values)
        .filter(|(k, v)| k.value != **v)
        .map(|(k, v)| (k.name.clone(), k.value, *v))
        .collect();
    KnobShrink {
        knobs: knobs
            .iter()
            .zip(&values)
            .map(|(k, v)| Knob {
                value: *v,
                ..k.clone()
            })
            .collect(),
        reduced,
        tests,
        exhausted,
        out_of_time: late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultAction};
    use crate::network::HostId;

    fn plan(n: usize) -> FaultPlan {
        FaultPlan {
            actions: (0..n)
                .map(|i| FaultAction {
                    at: Instant(i as u64 * 1000),
                    fault: Fault::CrashHost {
                        host: HostId(i as u32),
                        down_for: Duration(1 << 20),
                    },
                })
                .collect(),
            heal_at: Some(Instant(1 << 30)),
        }
    }

    fn has(p: &FaultPlan, host: u32) -> bool {
        p.actions
            .iter()
            .any(|a| matches!(a.fault, Fault::CrashHost { host: h, .. } if h.0 == host))
    }

    #[test]
    fn horizon_bisects_to_the_threshold() {
        let threshold = Duration::from_millis(1234);
        let (h, tests) = shrink_horizon(Duration::from_secs(60), Duration::ZERO, 100, |h| h >= threshold);
        assert!(
            h >= threshold && h.0 - threshold.0 <= Duration::from_millis(1).0,
            "{h}"
        );
        assert!(tests <= 20, "{tests}");
        let (v, _) = shrink_u64(100, 10, 1, 100, |v| v >= 5);
        assert_eq!(v, 10, "the floor itself fails");
    }

    #[test]
    fn shrink_run_combines_both() {
        let r = shrink_run(&plan(10), Duration::from_secs(10), Instant(5000), 1000, |p, h| {
            has(p, 4) && h >= Duration::from_secs(2)
        })
        .unwrap();
        assert_eq!(r.plan.plan.actions.len(), 1);
        assert!(r.horizon >= Duration::from_secs(2) && r.horizon < Duration::from_millis(2002));
        assert!(r.to_string().contains("removed #0"), "{r}");
    }

    fn knob(name: &str, value: u64, min: u64) -> Knob {
        Knob {
            name: name.into(),
            value,
            min,
        }
    }

    #[test]
    fn knobs_shrink_to_where_the_failure_stops_and_rounds_repeat() {
        // Fails when clients * keys >= 12: neither can reach its floor alone, and the result
        // must be minimal in each (one less of either passes).
        let knobs = [knob("clients", 9, 1), knob("keys", 40, 1)];
        let fails = |v: &[u64]| v[0] * v[1] >= 12;
        let r = shrink_knobs(&knobs, 1000, fails);
        let v: Vec<u64> = r.knobs.iter().map(|k| k.value).collect();
        assert!(fails(&v), "{v:?}");
        for i in 0..2 {
            if v[i] > knobs[i].min {
                let mut less = v.clone();
                less[i] -= 1;
                assert!(!fails(&less), "{v:?} is not minimal in knob {i}");
            }
        }
        assert!(!r.exhausted);
        assert_eq!(r.reduced.len(), 2, "{r}");
        assert!(r.to_string().contains("clients 9 -> "), "{r}");

        // `a` can only shrink once `b` has: a second round finds it.
        let r = shrink_knobs(&[knob("a", 9, 1), knob("b", 9, 1)], 1000, |v| {
            v[0] >= v[1] && v[0] >= 3
        });
        assert_eq!(
            r.knobs.iter().map(|k| k.value).collect::<Vec<_>>(),
            vec![3, 1],
            "{r}"
        );
    }

    #[test]
    fn knobs_at_their_floor_are_left_alone_and_the_budget_is_respected() {
        let r = shrink_knobs(&[knob("a", 1, 1), knob("b", 5, 0)], 100, |_| true);
        assert_eq!(r.knobs[0].value, 1);
        assert_eq!(r.knobs[1].value, 0);
        assert_eq!(r.reduced, vec![("b".to_owned(), 5, 0)]);
        assert!(r.to_string().contains("a 1 (its minimum)"), "{r}");

        let mut calls = 0;
        let r = shrink_knobs(&[knob("n", 1 << 40, 0)], 5, |v| {
            calls += 1;
            v[0] >= 1000
        });
        assert!(r.exhausted);
        assert_eq!(calls, 5);
        assert!(
            r.knobs[0].value >= 1000,
            "a refused test is never taken as failing"
        );
        let starved = shrink_knobs(&[knob("m", 7, 1)], 0, |_| true);
        assert!(starved.exhausted && starved.reduced.is_empty());
        assert!(starved.to_string().contains("m 7 (not reduced)"), "{starved}");

        let none = shrink_knobs(&[], 10, |_| true);
        assert!(none.to_string().contains("no workload size"), "{none}");
    }
}
