//! The one fault-plan shrinker: [`PlanSearch`], a step-wise search that proposes smaller plans
//! and is told which ones still fail, and [`shrink_plan`] / [`shrink_plan_before`], plain loops
//! over it. The proptest strategy in ruckus-scenarios drives the same search through proptest's
//! `ValueTree`, so `ruckus shrink` and a failing property test reduce one failure to one plan.
//!
//! The search runs in passes of two stages each:
//!
//! 1. **Remove** actions by delta debugging (Zeller's ddmin): first all of them; then, with
//!    the plan cut into 2, 4, 8, ... chunks, keep only one chunk (and start over from it), or
//!    delete one chunk (and go on with one chunk fewer). A large plan (more than
//!    [`PlanSearch::HIERARCHY_MIN`] actions) is first cut hierarchically: every action of one
//!    fault kind at a time (the most frequent kind first), then every action in one time window
//!    (halves, quarters, ... down to [`PlanSearch::WINDOWS_MAX`] windows of the plan's span),
//!    so a plan of a thousand faults loses whole kinds and stretches of time in a few runs
//!    each before ddmin looks at chunks and single actions.
//! 2. **Simplify** each remaining action, one candidate at a time ([`simplifications`]): a
//!    bridge split becomes a plain split, a zone cut becomes a split of the zone's hosts, a split
//!    becomes the isolation of one host, partitions lose hosts, durations halve (down to
//!    [`PlanSearch::DURATION_MIN`]), clock jumps, drifts and slow-link factors halve, network
//!    chaos loses one kind of misbehaviour at a time, a killed process index moves towards 0;
//!    a role crash becomes a role kill, and a role target's pick goes from a share of the
//!    role to one random player to the first player.
//!
//! Passes repeat while they make progress (at most [`PlanSearch::MAX_PASSES`]). When the last
//! pass changed nothing, the plan is 1-minimal: removing any single action, or applying any
//! single simplification, makes the failure go away. Told when the run failed
//! ([`PlanSearch::failed_at`]), the very first candidate drops every fault that starts later:
//! such faults never began, and a plan from a long run loses most of its actions in one test.

use crate::fault::{Fault, FaultAction, FaultPlan, Pick, RoleTarget};
use crate::network::{HostId, HostSpec, NetworkChaos, Partition};
use crate::time::{Duration, Instant};
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
    /// Kept actions made simpler: (index in the original, the original fault, the kept one).
    pub simplified: Vec<(usize, Fault, Fault)>,
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
        for (i, old, new) in &self.simplified {
            writeln!(f, "  simplified #{i} from {old} to {new}")?;
        }
        Ok(())
    }
}

/// Where the search stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Trying the plan without the faults that start after the failure.
    Cut { failed_at: Instant },
    /// Trying the plan without any action.
    Empty,
    /// Trying the plan without every action of the `i`-th fault kind (most frequent first).
    Kinds { i: usize },
    /// Trying the plan without the actions that start in time window `i` of `n`.
    Windows { n: usize, i: usize },
    /// Delta debugging at granularity `n`: trying to keep only chunk `i` of `n` equal chunks
    /// of the plan, or (`complements`) to delete it.
    Ddmin { n: usize, complements: bool, i: usize },
    /// Trying simplification number `option` of action `action`.
    Simplify { action: usize, option: usize },
    /// Nothing more to try.
    Done,
}

/// A candidate awaiting its verdict.
#[derive(Clone, Debug)]
struct Pending {
    plan: FaultPlan,
    /// The original index of each of its actions.
    origin: Vec<usize>,
}

/// The plan shrinker as a state machine, so that any driver can run the tests: a plain loop
/// ([`PlanSearch::run`]) or proptest's `ValueTree` (`simplify` = [`keep`](Self::keep) then
/// [`propose`](Self::propose), `complicate` = [`reject`](Self::reject) then `propose`).
///
/// [`propose`](Self::propose) hands out the next candidate; the driver runs it and answers with
/// [`keep`](Self::keep) (it still fails: shrink from it) or [`reject`](Self::reject) (it passed).
/// Candidates already seen to pass are skipped without being proposed. See the module docs for
/// the order of candidates.
#[derive(Clone, Debug)]
pub struct PlanSearch {
    original: FaultPlan,
    hosts: Vec<HostSpec>,
    /// The smallest plan known to fail.
    accepted: FaultPlan,
    /// The original index of each accepted action.
    origin: Vec<usize>,
    pending: Option<Pending>,
    stage: Stage,
    /// Every candidate that passed, so that no pass runs it again.
    passed: Vec<FaultPlan>,
    pass: u32,
    progress: bool,
}

impl PlanSearch {
    /// Passes of remove-then-simplify at most; each pass after the first runs only if the one
    /// before changed something.
    pub const MAX_PASSES: u32 = 4;

    /// Faults are never shortened below this.
    pub const DURATION_MIN: Duration = Duration::from_millis(1);

    /// Plans with more actions than this are cut by fault kind and time window before ddmin.
    pub const HIERARCHY_MIN: usize = 64;

    /// The finest split of a plan's span into time windows.
    pub const WINDOWS_MAX: usize = 32;

    /// A search from `plan`, which is known to fail. `hosts` (the topology's) lets a zone cut
    /// be rewritten as a split of the zone's hosts; without them zone cuts only get shorter.
    pub fn new(plan: FaultPlan, hosts: &[HostSpec]) -> PlanSearch {
        PlanSearch {
            origin: (0..plan.actions.len()).collect(),
            accepted: plan.clone(),
            original: plan,
            hosts: hosts.to_vec(),
            pending: None,
            stage: Stage::Empty,
            passed: Vec::new(),
            pass: 0,
            progress: false,
        }
    }

    /// The run failed at `failed_at`: the first candidate drops every fault that starts later
    /// (when there is one). Call before the first [`propose`](Self::propose).
    pub fn failed_at(mut self, failed_at: Instant) -> PlanSearch {
        if self.pending.is_none() && self.passed.is_empty() && !self.progress {
            self.stage = Stage::Cut { failed_at };
        }
        self
    }

    /// The candidate to test next: the one awaiting an answer, or else the next one in the
    /// search; `None` when the search is over (then [`best`](Self::best) is the result).
    pub fn propose(&mut self) -> Option<&FaultPlan> {
        if self.pending.is_none() {
            self.advance();
        }
        self.pending.as_ref().map(|p| &p.plan)
    }

    /// The candidate proposed and not yet answered.
    pub fn pending(&self) -> Option<&FaultPlan> {
        self.pending.as_ref().map(|p| &p.plan)
    }

    /// The smallest plan known to fail.
    pub fn best(&self) -> &FaultPlan {
        &self.accepted
    }

    /// The pending candidate still fails: it becomes the plan to shrink further.
    pub fn keep(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        self.accepted = p.plan;
        self.origin = p.origin;
        self.progress = true;
        self.stage = match self.stage {
            Stage::Cut { .. } => Stage::Empty,
            Stage::Empty => Stage::Simplify { action: 0, option: 0 },
            // That kind is gone: the same position now names the next one.
            Stage::Kinds { i } => Stage::Kinds { i },
            // The windows are recomputed over what is left: go on from the same one.
            Stage::Windows { n, i } => Stage::Windows { n, i },
            // The plan is now that one chunk: split it in two.
            Stage::Ddmin {
                complements: false, ..
            } => Self::ddmin(2),
            // One chunk fewer: the rest in one chunk fewer.
            Stage::Ddmin {
                n, complements: true, ..
            } => Self::ddmin((n - 1).max(2)),
            // The action changed: its simplifications start over.
            Stage::Simplify { action, .. } => Stage::Simplify { action, option: 0 },
            Stage::Done => Stage::Done,
        };
    }

    /// The pending candidate passed: the failure needs what it removed or changed.
    pub fn reject(&mut self) {
        if let Some(p) = self.pending.take() {
            self.passed.push(p.plan);
            self.skip();
        }
    }

    /// The result so far, for a driver that made `tests` predicate calls and stopped early
    /// (`exhausted`) or not.
    pub fn outcome(&self, tests: usize, exhausted: bool) -> PlanShrink {
        let removed = (0..self.original.actions.len())
            .filter(|i| !self.origin.contains(i))
            .map(|i| (i, self.original.actions[i].clone()))
            .collect();
        let simplified = self
            .origin
            .iter()
            .zip(&self.accepted.actions)
            .filter(|&(&i, kept)| self.original.actions[i].fault != kept.fault)
            .map(|(&i, kept)| (i, self.original.actions[i].fault.clone(), kept.fault.clone()))
            .collect();
        PlanShrink {
            plan: self.accepted.clone(),
            removed,
            simplified,
            tests,
            exhausted,
        }
    }

    /// Runs the search to its end with `still_fails` as the test, spending at most
    /// `max_tests` calls (`tests_so_far` of them already spent by the caller).
    pub fn run(
        mut self,
        tests_so_far: usize,
        max_tests: usize,
        mut still_fails: impl FnMut(&FaultPlan) -> bool,
    ) -> PlanShrink {
        let mut tests = tests_so_far;
        let mut exhausted = false;
        while let Some(candidate) = self.propose() {
            if tests >= max_tests {
                exhausted = true;
                break;
            }
            tests += 1;
            if still_fails(candidate) {
                self.keep();
            } else {
                self.reject();
            }
        }
        self.outcome(tests, exhausted)
    }

    fn ddmin(n: usize) -> Stage {
        Stage::Ddmin {
            n,
            complements: false,
            i: 0,
        }
    }

    /// Moves past the candidate under the cursor.
    fn skip(&mut self) {
        self.stage = match self.stage {
            Stage::Cut { .. } => Stage::Empty,
            Stage::Empty => Stage::Kinds { i: 0 },
            Stage::Kinds { i } => Stage::Kinds { i: i + 1 },
            Stage::Windows { n, i } => Stage::Windows { n, i: i + 1 },
            Stage::Ddmin { n, complements, i } => Stage::Ddmin {
                n,
                complements,
                i: i + 1,
            },
            Stage::Simplify { action, option } => Stage::Simplify {
                action,
                option: option + 1,
            },
            Stage::Done => Stage::Done,
        };
    }

    /// Moves to the next candidate not known to pass and makes it pending, or to `Done`.
    fn advance(&mut self) {
        loop {
            let len = self.accepted.actions.len();
            let candidate = match self.stage {
                Stage::Done => return,
                Stage::Cut { failed_at } => {
                    let keep: Vec<usize> = (0..len)
                        .filter(|&i| self.accepted.actions[i].at <= failed_at)
                        .collect();
                    if keep.len() == len {
                        self.stage = Stage::Empty;
                        continue;
                    }
                    self.subset(&keep)
                }
                Stage::Empty => {
                    if len == 0 {
                        self.stage = Stage::Simplify { action: 0, option: 0 };
                        continue;
                    }
                    self.subset(&[])
                }
                Stage::Kinds { i } => {
                    let kinds = self.kinds_by_count();
                    if len <= Self::HIERARCHY_MIN || kinds.len() < 2 || i >= kinds.len() {
                        self.stage = if len <= Self::HIERARCHY_MIN {
                            Self::ddmin(2)
                        } else {
                            Stage::Windows { n: 2, i: 0 }
                        };
                        continue;
                    }
                    let keep: Vec<usize> = (0..len)
                        .filter(|&j| self.accepted.actions[j].fault.kind() != kinds[i])
                        .collect();
                    self.subset(&keep)
                }
                Stage::Windows { n, i } => {
                    if len <= Self::HIERARCHY_MIN || i >= n {
                        self.stage = if len > Self::HIERARCHY_MIN && i >= n && n < Self::WINDOWS_MAX {
                            Stage::Windows { n: 2 * n, i: 0 }
                        } else {
                            Self::ddmin(2)
                        };
                        continue;
                    }
                    let keep = self.outside_window(n, i);
                    if keep.is_empty() || keep.len() == len {
                        // Nothing in the window, or all of it (the empty plan, tried).
                        self.stage = Stage::Windows { n, i: i + 1 };
                        continue;
                    }
                    self.subset(&keep)
                }
                Stage::Ddmin { n, complements, i } => {
                    let n = n.min(len);
                    if len < 2 {
                        // One action: without it is the empty plan, already tried.
                        self.stage = Stage::Simplify { action: 0, option: 0 };
                        continue;
                    }
                    // n nearly equal chunks, the first len % n one longer.
                    let (base, extra) = (len / n, len % n);
                    let chunk = |i: usize| {
                        let start = i * base + i.min(extra);
                        start..start + base + usize::from(i < extra)
                    };
                    if i >= n {
                        self.stage = if !complements && n > 2 {
                            // With two chunks, a complement is the other chunk: already tried.
                            Stage::Ddmin {
                                n,
                                complements: true,
                                i: 0,
                            }
                        } else if n < len {
                            Self::ddmin((2 * n).min(len))
                        } else {
                            Stage::Simplify { action: 0, option: 0 }
                        };
                        continue;
                    }
                    self.stage = Stage::Ddmin { n, complements, i };
                    let indexes: Vec<usize> = if complements {
                        (0..len).filter(|j| !chunk(i).contains(j)).collect()
                    } else {
                        chunk(i).collect()
                    };
                    self.subset(&indexes)
                }
                Stage::Simplify { action, option } => {
                    if action >= len {
                        self.stage = if self.progress && self.pass + 1 < Self::MAX_PASSES {
                            self.pass += 1;
                            self.progress = false;
                            Stage::Empty
                        } else {
                            Stage::Done
                        };
                        continue;
                    }
                    let options = simplifications(&self.accepted.actions[action].fault, &self.hosts);
                    let Some(simpler) = options.into_iter().nth(option) else {
                        self.stage = Stage::Simplify {
                            action: action + 1,
                            option: 0,
                        };
                        continue;
                    };
                    let mut plan = self.accepted.clone();
                    plan.actions[action].fault = simpler;
                    Pending {
                        plan,
                        origin: self.origin.clone(),
                    }
                }
            };
            if self.passed.contains(&candidate.plan) {
                self.skip();
                continue;
            }
            self.pending = Some(candidate);
            return;
        }
    }

    /// The fault kinds of the accepted plan, the most frequent first (ties in kind order).
    fn kinds_by_count(&self) -> Vec<crate::fault::FaultKind> {
        let mut counts: std::collections::BTreeMap<crate::fault::FaultKind, usize> =
            std::collections::BTreeMap::new();
        for a in &self.accepted.actions {
            *counts.entry(a.fault.kind()).or_default() += 1;
        }
        let mut kinds: Vec<_> = counts.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        kinds.into_iter().map(|(k, _)| k).collect()
    }

    /// The indexes of the accepted actions that do not start in window `i` of `n` equal
    /// windows of the span from the first action's start to the last one's.
    fn outside_window(&self, n: usize, i: usize) -> Vec<usize> {
        let actions = &self.accepted.actions;
        let (Some(first), Some(last)) = (
            actions.iter().map(|a| a.at).min(),
            actions.iter().map(|a| a.at).max(),
        ) else {
            return Vec::new();
        };
        let span = u128::from(last.0 - first.0) + 1;
        let window = |at: Instant| (u128::from(at.0 - first.0) * n as u128 / span) as usize;
        (0..actions.len())
            .filter(|&j| window(actions[j].at) != i)
            .collect()
    }

    /// The accepted plan with only the actions at `indexes` (ascending).
    fn subset(&self, indexes: &[usize]) -> Pending {
        Pending {
            plan: FaultPlan {
                actions: indexes
                    .iter()
                    .map(|&i| self.accepted.actions[i].clone())
                    .collect(),
                heal_at: self.accepted.heal_at,
            },
            origin: indexes.iter().map(|&i| self.origin[i]).collect(),
        }
    }
}

/// Shrinks `plan` while `still_fails` holds (see the module docs), spending at most
/// `max_tests` predicate calls. Zone cuts are not rewritten (no hosts are known; use
/// [`PlanSearch`] with the topology's hosts for that). Errors if `plan` itself does not fail.
pub fn shrink_plan(
    plan: &FaultPlan,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Result<PlanShrink, ShrinkError> {
    if !still_fails(plan) {
        return Err(ShrinkError::DoesNotFail);
    }
    Ok(PlanSearch::new(plan.clone(), &[]).run(1, max_tests.max(1), still_fails))
}

/// Like [`shrink_plan`] for a run on `hosts` that failed at `failed_at`: faults that start
/// later never began, so the first candidate drops them all (one test). Large plans from long
/// runs shrink much further within the same budget this way. The original plan is tested only
/// when that first candidate passes (or drops nothing); errors if it does not fail.
pub fn shrink_plan_before(
    plan: &FaultPlan,
    hosts: &[HostSpec],
    failed_at: Instant,
    max_tests: usize,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Result<PlanShrink, ShrinkError> {
    let max_tests = max_tests.max(1);
    let mut search = PlanSearch::new(plan.clone(), hosts).failed_at(failed_at);
    let mut tests = 0;
    // The first candidate is the cut when it drops anything, else the search's first removal
    // (which stays pending for the loop below).
    let cut = search
        .propose()
        .cloned()
        .filter(|_| matches!(search.stage, Stage::Cut { .. }));
    if let Some(cut) = cut {
        tests += 1;
        if still_fails(&cut) {
            search.keep();
            return Ok(search.run(tests, max_tests, still_fails));
        }
        search.reject();
    }
    tests += 1;
    if !still_fails(plan) {
        return Err(ShrinkError::DoesNotFail);
    }
    Ok(search.run(tests, max_tests, still_fails))
}

/// The same fault lasting `d` instead (`None` for faults without a duration).
pub fn with_duration(fault: &Fault, d: Duration) -> Option<Fault> {
    let mut f = fault.clone();
    *f.duration_mut()? = d;
    Some(f)
}

/// The same role-targeted fault aimed at `target` instead (other faults unchanged).
fn with_target(fault: &Fault, new: RoleTarget) -> Fault {
    let mut f = fault.clone();
    match &mut f {
        Fault::CrashRole { target, .. }
        | Fault::PauseRole { target, .. }
        | Fault::KillRole { target, .. }
        | Fault::IsolateRole { target, .. }
        | Fault::DegradeRole { target, .. } => *target = new,
        _ => {}
    }
    f
}

/// The one-step simplifications of `fault` on a topology of `hosts`, most drastic first. Each
/// strictly decreases a measure (partition shape, hosts named, a duration or magnitude), so
/// shrinking terminates.
pub fn simplifications(fault: &Fault, hosts: &[HostSpec]) -> Vec<Fault> {
    let mut out = Vec::new();
    match fault {
        Fault::Partition { partition, duration } => {
            for p in simpler_partitions(partition, hosts) {
                out.push(Fault::Partition {
                    partition: p,
                    duration: *duration,
                });
            }
        }
        Fault::KillProcess {
            host,
            process_index,
            down_for,
        } => {
            // Lower indexes first; a small index names the same process whatever the count.
            for i in 0..(*process_index).min(4) {
                out.push(Fault::KillProcess {
                    host: *host,
                    process_index: i,
                    down_for: *down_for,
                });
            }
        }
        Fault::SlowLink {
            from,
            to,
            factor,
            duration,
        } if *factor > 2 => out.push(Fault::SlowLink {
            from: *from,
            to: *to,
            factor: (*factor / 2).max(2),
            duration: *duration,
        }),
        Fault::SlowDisk {
            host,
            factor,
            duration,
        } if *factor > 2 => out.push(Fault::SlowDisk {
            host: *host,
            factor: (*factor / 2).max(2),
            duration: *duration,
        }),
        Fault::ClockJump { host, delta_ns } if delta_ns.unsigned_abs() >= 2 * PlanSearch::DURATION_MIN.0 => {
            out.push(Fault::ClockJump {
                host: *host,
                delta_ns: delta_ns / 2,
            });
        }
        Fault::ClockDrift {
            host,
            drift_ppm,
            duration,
        } if drift_ppm.unsigned_abs() >= 2 => out.push(Fault::ClockDrift {
            host: *host,
            drift_ppm: drift_ppm / 2,
            duration: *duration,
        }),
        Fault::NetworkChaos { chaos, duration } => {
            let quieter = |f: fn(&mut NetworkChaos)| {
                let mut c = *chaos;
                f(&mut c);
                Fault::NetworkChaos {
                    chaos: c,
                    duration: *duration,
                }
            };
            if chaos.loss > 0.0 {
                out.push(quieter(|c| c.loss = 0.0));
            }
            if chaos.duplicate > 0.0 {
                out.push(quieter(|c| c.duplicate = 0.0));
            }
            if chaos.reorder > 0.0 {
                out.push(quieter(|c| c.reorder = 0.0));
            }
        }
        _ => {}
    }
    if let Some(target) = fault.target() {
        // A crash of a role's host becomes a kill of its process (no disk loss, others on the
        // host live); then a share of the role becomes one random player, and a random
        // player the first one (no draw at all).
        if let Fault::CrashRole { target, down_for } = fault {
            out.push(Fault::KillRole {
                target: target.clone(),
                down_for: *down_for,
            });
        }
        let simpler_pick = match target.pick {
            Pick::Percent(_) => Some(Pick::Random),
            Pick::Random => Some(Pick::First),
            Pick::First => None,
        };
        if let Some(pick) = simpler_pick {
            out.push(with_target(
                fault,
                RoleTarget {
                    role: target.role.clone(),
                    pick,
                },
            ));
        }
    }
    if let Some(d) = fault.duration() {
        let half = Duration(d.0 / 2);
        if half >= PlanSearch::DURATION_MIN {
            out.push(with_duration(fault, half).expect("the fault has a duration"));
        }
    }
    out
}

/// Simpler partitions: a simpler shape first, then the same shape naming fewer hosts.
fn simpler_partitions(partition: &Partition, hosts: &[HostSpec]) -> Vec<Partition> {
    let without = |side: &[HostId], i: usize| -> Vec<HostId> {
        let mut s = side.to_vec();
        s.remove(i);
        s
    };
    let mut out = Vec::new();
    match partition {
        Partition::Isolate { .. } => {}
        Partition::Halves { side } => {
            out.extend(side.iter().map(|&host| Partition::Isolate { host }));
            if side.len() >= 2 {
                out.extend((0..side.len()).map(|i| Partition::Halves {
                    side: without(side, i),
                }));
            }
        }
        Partition::OneWay { from, to } => {
            if from.len() >= 2 {
                out.extend((0..from.len()).map(|i| Partition::OneWay {
                    from: without(from, i),
                    to: to.clone(),
                }));
            }
            if to.len() >= 2 {
                out.extend((0..to.len()).map(|i| Partition::OneWay {
                    from: from.clone(),
                    to: without(to, i),
                }));
            }
        }
        Partition::Bridge { left, right, bridge } => {
            // Without the bridge host's double role: left against everyone else.
            if !left.is_empty() {
                out.push(Partition::Halves { side: left.clone() });
            }
            if left.len() >= 2 {
                out.extend((0..left.len()).map(|i| Partition::Bridge {
                    left: without(left, i),
                    right: right.clone(),
                    bridge: *bridge,
                }));
            }
            if right.len() >= 2 {
                out.extend((0..right.len()).map(|i| Partition::Bridge {
                    left: left.clone(),
                    right: without(right, i),
                    bridge: *bridge,
                }));
            }
        }
        Partition::Zone { zone } => {
            let side: Vec<HostId> = hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| h.zone.as_deref() == Some(zone.as_str()))
                .map(|(i, _)| HostId(i as u32))
                .collect();
            if !side.is_empty() {
                out.push(Partition::Halves { side });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
