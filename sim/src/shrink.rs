//! Shrinking a failing run to its essence: fewer faults, shorter faults, a shorter horizon.
//!
//! Nothing here knows a model. The caller supplies a predicate that re-runs the scenario with a
//! candidate and says whether the *same* property still fails (same verdict and property name is
//! the usual test); the shrinker only proposes candidates and keeps the ones that still fail.
//!
//! - [`shrink_plan`]: delta debugging (Zeller's ddmin) over the plan's actions, then halving the
//!   duration of each remaining action. The result is 1-minimal: removing any single remaining
//!   action makes the failure go away.
//! - [`shrink_u64`] / [`shrink_horizon`]: the smallest value (to a resolution) that still fails,
//!   by bisection — for the horizon, or for a workload size the model exposes.
//! - [`shrink_run`]: both, with one predicate over (plan, horizon).
//! - [`shrink_knobs`]: several workload sizes (clients, keys, deliveries), each bisected toward
//!   its minimum in turn, repeated until none moves: the result is minimal in each knob.
//!
//! Every search is bounded by `max_tests` predicate calls; hitting the bound is reported, and
//! what was found so far is still a failing run.

use crate::fault::{Fault, FaultAction, FaultPlan};
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;
use std::fmt;

/// Why shrinking could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// The starting point does not fail, so there is nothing to shrink.
    #[error(
        "the original run does not fail the property, so there is nothing to shrink (is the run deterministic?)"
    )]
    DoesNotFail,
}

/// The smallest failing plan found and how it was reached.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanShrink {
    /// The smallest plan that still fails.
    pub plan: FaultPlan,
    /// Removed actions, with their index in the original plan.
    pub removed: Vec<(usize, FaultAction)>,
    /// Kept actions whose duration was shortened: (index in the original, old, new).
    pub shortened: Vec<(usize, Duration, Duration)>,
    /// Predicate calls made.
    pub tests: usize,
    /// Whether the `max_tests` bound stopped the search early.
    pub exhausted: bool,
}

impl fmt::Display for PlanShrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.plan.actions.len() + self.removed.len();
        writeln!(
            f,
            "kept {} of {} fault actions after {} test runs{}",
            self.plan.actions.len(),
            total,
            self.tests,
            if self.exhausted {
                " (test budget exhausted)"
            } else {
                ""
            }
        )?;
        for (i, a) in &self.removed {
            writeln!(f, "  removed #{i} {} {}", a.at, a.fault)?;
        }
        for (i, old, new) in &self.shortened {
            writeln!(f, "  shortened #{i} from {old} to {new}")?;
        }
        Ok(())
    }
}

/// Runs the predicate with memoisation and a budget.
struct Tester<F> {
    test: F,
    cache: BTreeMap<Vec<usize>, bool>,
    tests: usize,
    max_tests: usize,
}

impl<F: FnMut(&[usize]) -> bool> Tester<F> {
    fn exhausted(&self) -> bool {
        self.tests >= self.max_tests
    }

    /// Whether the subset fails; `false` once the budget is spent (never a false "fails").
    fn fails(&mut self, subset: &[usize]) -> bool {
        if let Some(&r) = self.cache.get(subset) {
            return r;
        }
        if self.exhausted() {
            return false;
        }
        self.tests += 1;
        let r = (self.test)(subset);
        self.cache.insert(subset.to_vec(), r);
        r
    }
}

/// Delta debugging over `items` (already known to fail): returns a 1-minimal failing subset
/// unless the budget runs out first.
fn ddmin<F: FnMut(&[usize]) -> bool>(items: Vec<usize>, tester: &mut Tester<F>) -> Vec<usize> {
    if tester.fails(&[]) {
        return Vec::new();
    }
    let mut current = items;
    let mut n = 2usize;
    while current.len() >= 2 && !tester.exhausted() {
        let chunks = split(&current, n);
        let mut reduced = false;
        // A single chunk that fails on its own: keep only it.
        for chunk in &chunks {
            if tester.fails(chunk) {
                current = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        // A complement that fails: drop that chunk.
        if !reduced && n > 2 {
            for i in 0..chunks.len() {
                let complement: Vec<usize> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.iter().copied())
                    .collect();
                if tester.fails(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    current
}

/// Splits `items` into `n` contiguous chunks of nearly equal size.
fn split(items: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.min(items.len()).max(1);
    let (base, extra) = (items.len() / n, items.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(items[start..start + len].to_vec());
        start += len;
    }
    out
}

fn subplan(plan: &FaultPlan, keep: &[usize]) -> FaultPlan {
    FaultPlan {
        actions: keep.iter().map(|&i| plan.actions[i].clone()).collect(),
        heal_at: plan.heal_at,
    }
}

/// The same fault lasting `d` instead (`None` for faults without a duration).
pub fn with_duration(fault: &Fault, d: Duration) -> Option<Fault> {
    let mut f = fault.clone();
    match &mut f {
        Fault::CrashHost { down_for: x, .. }
        | Fault::PauseHost { paused_for: x, .. }
        | Fault::KillProcess { down_for: x, .. }
        | Fault::Partition { duration: x, .. }
        | Fault::Clog { duration: x, .. }
        | Fault::SlowLink { duration: x, .. }
        | Fault::ClockDrift { duration: x, .. }
        | Fault::NetworkChaos { duration: x, .. }
        | Fault::Degrade { duration: x, .. } => *x = d,
        Fault::ClockJump { .. } => return None,
    }
    Some(f)
}

/// Shrinks `plan` while `still_fails` holds: ddmin over its actions, then each remaining fault
/// made as short as it can be (halving, at most 8 tries per fault). Spends at most `max_tests`
/// predicate calls. Errors if `plan` itself does not fail.
pub fn shrink_plan(
    plan: &FaultPlan,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Result<PlanShrink, ShrinkError> {
    if !still_fails(plan) {
        return Err(ShrinkError::DoesNotFail);
    }
    let all: Vec<usize> = (0..plan.actions.len()).collect();
    shrink_from(plan, all, 1, max_tests, still_fails)
}

/// Like [`shrink_plan`] for a run that failed at `failed_at`: faults that start later never
/// began, so the first candidate drops them all (one test). Large plans from long runs shrink
/// much further within the same budget this way.
pub fn shrink_plan_before(
    plan: &FaultPlan,
    failed_at: Instant,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Result<PlanShrink, ShrinkError> {
    let all: Vec<usize> = (0..plan.actions.len()).collect();
    let before: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| plan.actions[i].at <= failed_at)
        .collect();
    if before.len() < all.len() && still_fails(&subplan(plan, &before)) {
        return shrink_from(plan, before, 1, max_tests, still_fails);
    }
    let tested = usize::from(before.len() < all.len());
    if !still_fails(plan) {
        return Err(ShrinkError::DoesNotFail);
    }
    shrink_from(plan, all, tested + 1, max_tests, still_fails)
}

/// ddmin from the failing subset `start` of `plan`'s actions, then shorter faults.
fn shrink_from(
    plan: &FaultPlan,
    start: Vec<usize>,
    tests_so_far: usize,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Result<PlanShrink, ShrinkError> {
    let mut tester = Tester {
        test: |keep: &[usize]| still_fails(&subplan(plan, keep)),
        cache: BTreeMap::new(),
        tests: tests_so_far,
        max_tests: max_tests.max(1),
    };
    tester.cache.insert(start.clone(), true);
    let kept = ddmin(start, &mut tester);
    let mut exhausted = tester.exhausted();
    let mut tests = tester.tests;
    drop(tester);

    let removed: Vec<(usize, FaultAction)> = (0..plan.actions.len())
        .filter(|i| !kept.contains(i))
        .map(|i| (i, plan.actions[i].clone()))
        .collect();
    let mut best = subplan(plan, &kept);
    let mut shortened = Vec::new();
    for (slot, &original_index) in kept.iter().enumerate() {
        let Some(old) = best.actions[slot].fault.duration() else {
            continue;
        };
        let mut current = old;
        for _ in 0..8 {
            if tests >= max_tests {
                exhausted = true;
                break;
            }
            let shorter = Duration(current.0 / 2);
            if shorter == Duration::ZERO {
                break;
            }
            let mut candidate = best.clone();
            candidate.actions[slot].fault =
                with_duration(&best.actions[slot].fault, shorter).expect("has a duration");
            tests += 1;
            if still_fails(&candidate) {
                best = candidate;
                current = shorter;
            } else {
                break;
            }
        }
        if current != old {
            shortened.push((original_index, old, current));
        }
    }
    Ok(PlanShrink {
        plan: best,
        removed,
        shortened,
        tests,
        exhausted,
    })
}

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
    /// Whether the `max_tests` bound stopped the search early.
    pub exhausted: bool,
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
            if self.exhausted {
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
pub fn shrink_knobs(
    knobs: &[Knob],
    max_tests: usize,
    mut still_fails: impl FnMut(&[u64]) -> bool,
) -> KnobShrink {
    let mut values: Vec<u64> = knobs.iter().map(|k| k.value).collect();
    let mut cache: BTreeMap<Vec<u64>, bool> = BTreeMap::new();
    cache.insert(values.clone(), true);
    let (mut tests, mut exhausted) = (0usize, false);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn faults_after_the_failure_are_dropped_in_one_test() {
        // 2,000 faults one per microsecond; the failure (at the 11th) needs faults #3 and #7.
        let p = plan(2000);
        let mut sizes = Vec::new();
        let r = shrink_plan_before(&p, p.actions[10].at, 60, |c| {
            sizes.push(c.actions.len());
            has(c, 3) && has(c, 7)
        })
        .unwrap();
        let kept: Vec<Instant> = r.plan.actions.iter().map(|a| a.at).collect();
        assert_eq!(kept, vec![p.actions[3].at, p.actions[7].at]);
        assert_eq!(r.removed.len(), 1998);
        assert!(!r.exhausted);
        assert_eq!(r.tests, sizes.len());
        assert_eq!(
            sizes[0], 11,
            "the first candidate is everything up to the failure"
        );
        assert!(sizes[1..].iter().all(|&n| n < 11), "{sizes:?}");
        // A plan whose prefix does not fail (the failure needs a later fault) still shrinks.
        let late = shrink_plan_before(&p, p.actions[10].at, 200, |c| has(c, 3) && has(c, 20)).unwrap();
        assert_eq!(late.plan.actions.len(), 2);
    }

    #[test]
    fn ddmin_finds_exactly_the_two_culprits() {
        for n in [8, 10, 17, 40] {
            let r = shrink_plan(&plan(n), 1000, |p| has(p, 3) && has(p, 7)).unwrap();
            let hosts: Vec<u32> = r
                .plan
                .actions
                .iter()
                .map(|a| match a.fault {
                    Fault::CrashHost { host, .. } => host.0,
                    _ => unreachable!(),
                })
                .collect();
            assert_eq!(hosts, vec![3, 7], "n = {n}");
            assert_eq!(r.removed.len(), n - 2);
            assert!(!r.exhausted);
            assert!(r.tests < 200, "{} tests for n = {n}", r.tests);
            // Durations were halved 8 times each: the predicate does not care about them.
            assert_eq!(r.shortened.len(), 2);
            assert!(
                r.plan
                    .actions
                    .iter()
                    .all(|a| a.fault.duration() == Some(Duration(1 << 12)))
            );
        }
    }

    #[test]
    fn a_failure_that_needs_no_fault_shrinks_to_the_empty_plan() {
        let r = shrink_plan(&plan(5), 100, |_| true).unwrap();
        assert!(r.plan.actions.is_empty());
        assert_eq!(r.removed.len(), 5);
    }

    #[test]
    fn one_of_several_alternatives_suffices() {
        // Fails if any of 2, 5, 9 is present: one of them is enough.
        let r = shrink_plan(&plan(12), 1000, |p| has(p, 2) || has(p, 5) || has(p, 9)).unwrap();
        assert_eq!(r.plan.actions.len(), 1);
    }

    #[test]
    fn duration_shortening_stops_where_the_failure_stops() {
        let r = shrink_plan(&plan(3), 1000, |p| {
            p.actions
                .iter()
                .any(|a| a.fault.duration().is_some_and(|d| d >= Duration(100_000)))
        })
        .unwrap();
        assert_eq!(r.plan.actions.len(), 1);
        let d = r.plan.actions[0].fault.duration().unwrap();
        assert!(d >= Duration(100_000) && d < Duration(200_000), "{d}");
    }

    #[test]
    fn a_passing_start_is_an_error_and_the_budget_is_respected() {
        assert_eq!(
            shrink_plan(&plan(4), 10, |_| false).unwrap_err(),
            ShrinkError::DoesNotFail
        );
        let mut calls = 0;
        let r = shrink_plan(&plan(64), 10, |p| {
            calls += 1;
            has(p, 3) && has(p, 60)
        })
        .unwrap();
        assert!(r.exhausted);
        assert!(calls <= 10, "{calls}");
        assert!(has(&r.plan, 3) && has(&r.plan, 60));
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
