//! The one fault-plan shrinker: [`PlanSearch`], a step-wise search that proposes smaller plans
//! and is told which ones still fail, and [`shrink_plan`] / [`shrink_plan_before`], plain loops
//! over it. The proptest strategy in ruckus-scenarios drives the same search through proptest's
//! `ValueTree`, so `ruckus shrink` and a failing property test reduce one failure to one plan.
//!
//! The search runs in passes of three stages each:
//!
//! 1. **Remove** actions, coarse to fine (hierarchical delta debugging). First all of them.
//!    A large plan (more than [`PlanSearch::HIERARCHY_MIN`] actions) is then cut by whole
//!    groups: every action of one fault kind (the most frequent kind first), every action
//!    naming one host, everything but the last 1/32, 1/16, ... of the time before the failure,
//!    every action in one time window (halves, quarters, ... down to
//!    [`PlanSearch::WINDOWS_MAX`] windows of the plan's span), every second, fourth, eighth
//!    action. Then chunks of consecutive actions, from half the plan down to single actions:
//!    each chunk in turn is dropped if the plan still fails without it, and the sweep goes on
//!    at the same size from the same place (no restart at a coarser size, as ddmin's
//!    complement step does, which costs a plan of a hundred faults a thousand runs). Sweeps of
//!    single actions repeat until one removes nothing.
//! 2. **Halve** every duration at once, while that still fails.
//! 3. **Simplify** each remaining action, one candidate at a time ([`simplifications`]): a
//!    bridge split becomes a plain split, a zone cut becomes a split of the zone's hosts, a split
//!    becomes the isolation of one host, partitions lose hosts, durations halve (down to
//!    [`PlanSearch::DURATION_MIN`]), clock jumps, drifts and slow-link factors halve, network
//!    chaos loses one kind of misbehaviour at a time, a killed process index moves towards 0;
//!    a role crash becomes a role kill, and a role target's pick goes from a share of the
//!    role to one random player to the first player.
//!
//! A pass that changed nothing after its last sweep of single removals ends the search: the
//! plan is then 1-minimal ([`PlanShrink::minimal`]): removing any single action, or applying
//! any single simplification, makes the failure go away. Otherwise another pass follows, at
//! most [`PlanSearch::MAX_PASSES`], and after the last one a final sweep of single removals
//! still shows whether the plan is 1-minimal for removal.
//!
//! Told when the run failed ([`PlanSearch::failed_at`]), the very first candidate drops every
//! fault that starts later: such faults never began, and a plan from a long run loses most of
//! its actions in one test. A driver that reports when each kept candidate failed
//! ([`PlanSearch::keep_failed_at`], [`PlanSearch::run_timed`]) gets that cut again whenever
//! a smaller plan fails earlier.

use crate::fault::{Fault, FaultAction, FaultPlan};
use crate::network::HostSpec;
use crate::time::{Duration, Instant};
use std::fmt;

mod simplify;
mod stages;
pub use simplify::{simplifications, with_duration};

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
    /// Whether a budget stopped the search early: the `max_tests` bound or, if
    /// [`out_of_time`](Self::out_of_time), the caller's time budget.
    pub exhausted: bool,
    /// Whether the caller's time budget (its `out_of_time` check) stopped the search early.
    pub out_of_time: bool,
    /// Whether the plan is shown 1-minimal: removing any single one of its actions was tried
    /// and made the failure go away (true for the empty plan).
    pub minimal: bool,
}

impl fmt::Display for PlanShrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.plan.actions.len() + self.removed.len();
        writeln!(
            f,
            "kept {} of {} fault actions after {} test runs{}{}",
            self.plan.actions.len(),
            total,
            self.tests,
            if self.minimal && !self.plan.actions.is_empty() {
                " (1-minimal: without any one of them the failure goes away)"
            } else {
                ""
            },
            if self.out_of_time {
                " (time budget exhausted)"
            } else if self.exhausted {
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
    /// Trying the plan without the `size` actions from position `i`; `removed` says whether
    /// this sweep of the plan at this size removed anything yet.
    Chunks { size: usize, i: usize, removed: bool },
    /// Trying the plan without every action on the `i`-th host named (most faults first).
    Hosts { i: usize },
    /// Trying only the actions in the last `1 / 2^k` of the time up to the failure.
    Recent { k: u32 },
    /// Trying the plan without every `n`-th action from the `i`-th.
    Thin { n: usize, i: usize },
    /// Trying every fault at half its duration at once.
    Halve,
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
    /// Where to go on after a cut at a kept candidate's failure time.
    resume: Option<Stage>,
    /// Whether cuts at the failure time are still tried (one that passed turns them off).
    cuts: bool,
    /// Every single-action removal of the accepted plan was tried and passed.
    minimal: bool,
    /// When the accepted plan's run failed, if known.
    failed_at: Option<Instant>,
    /// The pass limit was reached: one last sweep of single removals, then done.
    last_sweep: bool,
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

    /// A host is tried without all its faults only if it is named by at least this share
    /// (1 / `HOST_SHARE`) of the plan's actions.
    pub const HOST_SHARE: usize = 16;

    /// The shortest stretch of time before the failure tried alone: `1 / 2^RECENT_MAX` of it.
    pub const RECENT_MAX: u32 = 5;

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
            resume: None,
            cuts: true,
            minimal: false,
            failed_at: None,
            last_sweep: false,
        }
    }

    /// The run failed at `failed_at`: the first candidate drops every fault that starts later
    /// (when there is one). Call before the first [`propose`](Self::propose).
    pub fn failed_at(mut self, failed_at: Instant) -> PlanSearch {
        if self.pending.is_none() && self.passed.is_empty() && self.accepted == self.original {
            self.stage = Stage::Cut { failed_at };
            self.failed_at = Some(failed_at);
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
        self.minimal = false;
        self.stage = match self.stage {
            Stage::Cut { .. } => self.resume.take().unwrap_or(Stage::Empty),
            Stage::Empty => Stage::Simplify { action: 0, option: 0 },
            // That kind or host is gone: the same position now names the next one.
            Stage::Kinds { i } => Stage::Kinds { i },
            Stage::Hosts { i } => Stage::Hosts { i },
            Stage::Recent { .. } => Stage::Windows { n: 2, i: 0 },
            Stage::Halve => Stage::Halve,
            Stage::Thin { n, i } => Stage::Thin { n, i },
            // The windows are recomputed over what is left: go on from the same one.
            Stage::Windows { n, i } => Stage::Windows { n, i },
            // The next chunk slid into place: try it at the same size.
            Stage::Chunks { size, i, .. } => Stage::Chunks {
                size,
                i,
                removed: true,
            },
            // The action changed: its simplifications start over.
            Stage::Simplify { action, .. } => Stage::Simplify { action, option: 0 },
            Stage::Done => Stage::Done,
        };
    }

    /// Like [`keep`](Self::keep), for a driver that knows when the candidate failed: if
    /// faults of the kept plan start after `failed_at`, the next candidate drops them (they
    /// never began), unless such a cut already once passed (a failure whose time does not
    /// bound the faults it needs, as a check at the end may report).
    pub fn keep_failed_at(&mut self, failed_at: Instant) {
        if self.pending.is_none() {
            return;
        }
        self.keep();
        self.failed_at = Some(failed_at);
        if self.cuts && self.accepted.actions.iter().any(|a| a.at > failed_at) {
            self.resume = Some(self.stage);
            self.stage = Stage::Cut { failed_at };
        }
    }

    /// The pending candidate passed: the failure needs what it removed or changed.
    pub fn reject(&mut self) {
        if let Some(p) = self.pending.take() {
            self.passed.push(p.plan);
            if matches!(self.stage, Stage::Cut { .. }) {
                self.cuts = false;
            }
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
            out_of_time: false,
            minimal: self.minimal || self.accepted.actions.is_empty(),
        }
    }

    /// Runs the search to its end with `still_fails` as the test, spending at most
    /// `max_tests` calls (`tests_so_far` of them already spent by the caller).
    pub fn run(
        self,
        tests_so_far: usize,
        max_tests: usize,
        mut still_fails: impl FnMut(&FaultPlan) -> bool,
    ) -> PlanShrink {
        self.drive(tests_so_far, max_tests, &mut || false, |p| {
            still_fails(p).then_some(None)
        })
    }

    /// [`run`](Self::run) with a test that says when the candidate failed (`None`: it did
    /// not), so that faults starting after a kept candidate's failure are cut
    /// ([`keep_failed_at`](Self::keep_failed_at)).
    pub fn run_timed(
        self,
        tests_so_far: usize,
        max_tests: usize,
        failed_at: impl FnMut(&FaultPlan) -> Option<Instant>,
    ) -> PlanShrink {
        self.run_timed_until(tests_so_far, max_tests, || false, failed_at)
    }

    /// [`run_timed`](Self::run_timed) with a second budget: before each test `out_of_time` is
    /// asked whether to stop (a caller's deadline; the search itself reads no clock, so given
    /// the same answers it makes the same candidates).
    pub fn run_timed_until(
        self,
        tests_so_far: usize,
        max_tests: usize,
        mut out_of_time: impl FnMut() -> bool,
        mut failed_at: impl FnMut(&FaultPlan) -> Option<Instant>,
    ) -> PlanShrink {
        self.drive(tests_so_far, max_tests, &mut out_of_time, |p| {
            failed_at(p).map(Some)
        })
    }

    /// The loop of [`run`](Self::run) and [`run_timed_until`](Self::run_timed_until): `test`
    /// says whether the candidate failed and, if known, when.
    fn drive(
        mut self,
        tests_so_far: usize,
        max_tests: usize,
        out_of_time: &mut dyn FnMut() -> bool,
        mut test: impl FnMut(&FaultPlan) -> Option<Option<Instant>>,
    ) -> PlanShrink {
        let mut tests = tests_so_far;
        let (mut exhausted, mut late) = (false, false);
        while let Some(candidate) = self.propose() {
            if tests >= max_tests {
                exhausted = true;
                break;
            }
            if out_of_time() {
                (exhausted, late) = (true, true);
                break;
            }
            tests += 1;
            match test(candidate) {
                Some(Some(t)) => self.keep_failed_at(t),
                Some(None) => self.keep(),
                None => self.reject(),
            }
        }
        PlanShrink {
            out_of_time: late,
            ..self.outcome(tests, exhausted)
        }
    }

    /// A sweep of single removals.
    fn singles() -> Stage {
        Stage::Chunks {
            size: 1,
            i: 0,
            removed: false,
        }
    }

    /// The first sweep of chunk removals over a plan of `len` actions: halves.
    fn chunks(len: usize) -> Stage {
        Stage::Chunks {
            size: (len / 2).max(1),
            i: 0,
            removed: false,
        }
    }

    /// Moves past the candidate under the cursor.
    fn skip(&mut self) {
        self.stage = match self.stage {
            Stage::Cut { .. } => self.resume.take().unwrap_or(Stage::Empty),
            Stage::Empty => Stage::Kinds { i: 0 },
            Stage::Kinds { i } => Stage::Kinds { i: i + 1 },
            Stage::Hosts { i } => Stage::Hosts { i: i + 1 },
            Stage::Recent { k } => Stage::Recent { k: k - 1 },
            Stage::Halve => Stage::Simplify { action: 0, option: 0 },
            Stage::Thin { n, i } => Stage::Thin { n, i: i + 1 },
            Stage::Windows { n, i } => Stage::Windows { n, i: i + 1 },
            Stage::Chunks { size, i, removed } => Stage::Chunks {
                size,
                i: i + size,
                removed,
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
                        self.stage = self.resume.take().unwrap_or(Stage::Empty);
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
                            Self::chunks(len)
                        } else {
                            Stage::Hosts { i: 0 }
                        };
                        continue;
                    }
                    let keep: Vec<usize> = (0..len)
                        .filter(|&j| self.accepted.actions[j].fault.kind() != kinds[i])
                        .collect();
                    self.subset(&keep)
                }
                Stage::Hosts { i } => {
                    let hosts = self.hosts_by_count();
                    if len <= Self::HIERARCHY_MIN || i >= hosts.len() {
                        self.stage = if len <= Self::HIERARCHY_MIN {
                            Self::chunks(len)
                        } else {
                            Stage::Recent { k: Self::RECENT_MAX }
                        };
                        continue;
                    }
                    let keep: Vec<usize> = (0..len)
                        .filter(|&j| !self.accepted.actions[j].fault.hosts().contains(&hosts[i]))
                        .collect();
                    self.subset(&keep)
                }
                Stage::Recent { k } => {
                    if len <= Self::HIERARCHY_MIN || k < 2 {
                        // The last half is a window of its own.
                        self.stage = Stage::Windows { n: 2, i: 0 };
                        continue;
                    }
                    let keep = self.recent(k);
                    if keep.is_empty() || keep.len() == len {
                        self.stage = Stage::Recent { k: k - 1 };
                        continue;
                    }
                    self.subset(&keep)
                }
                Stage::Thin { n, i } => {
                    if len <= Self::HIERARCHY_MIN || n > 8 {
                        self.stage = Self::chunks(len);
                        continue;
                    }
                    if i >= n {
                        self.stage = Stage::Thin { n: n * 2, i: 0 };
                        continue;
                    }
                    let keep: Vec<usize> = (0..len).filter(|j| j % n != i).collect();
                    self.subset(&keep)
                }
                Stage::Halve => {
                    let mut plan = self.accepted.clone();
                    let mut changed = false;
                    for a in &mut plan.actions {
                        if let Some(d) = a.fault.duration_mut() {
                            if d.0 / 2 >= Self::DURATION_MIN.0 {
                                *d = Duration(d.0 / 2);
                                changed = true;
                            }
                        }
                    }
                    if !changed || len < 2 {
                        self.stage = Stage::Simplify { action: 0, option: 0 };
                        continue;
                    }
                    Pending {
                        plan,
                        origin: self.origin.clone(),
                    }
                }
                Stage::Windows { n, i } => {
                    if len <= Self::HIERARCHY_MIN || i >= n {
                        self.stage = if len > Self::HIERARCHY_MIN && i >= n && n < Self::WINDOWS_MAX {
                            Stage::Windows { n: 2 * n, i: 0 }
                        } else {
                            Stage::Thin { n: 2, i: 0 }
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
                Stage::Chunks { size, i, removed } => {
                    if i >= len {
                        self.stage = if size > 1 {
                            Stage::Chunks {
                                size: size / 2,
                                i: 0,
                                removed: false,
                            }
                        } else if removed {
                            // Removals change what the others are needed for: sweep again.
                            Self::singles()
                        } else {
                            // A whole sweep of single removals, none of which still failed.
                            self.minimal = true;
                            if self.last_sweep {
                                Stage::Done
                            } else {
                                Stage::Halve
                            }
                        };
                        continue;
                    }
                    let keep: Vec<usize> = (0..len).filter(|j| !(i..i + size).contains(j)).collect();
                    self.subset(&keep)
                }
                Stage::Simplify { action, option } => {
                    if action >= len {
                        self.stage = if self.minimal {
                            // Nothing changed since the last sweep of single removals, and no
                            // action can be simpler: 1-minimal.
                            Stage::Done
                        } else if self.pass + 1 < Self::MAX_PASSES {
                            self.pass += 1;
                            Stage::Empty
                        } else {
                            // Out of passes: still show whether any single action can go.
                            self.last_sweep = true;
                            Self::singles()
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
    still_fails: impl FnMut(&FaultPlan) -> Option<Instant>,
) -> Result<PlanShrink, ShrinkError> {
    shrink_plan_before_until(plan, hosts, failed_at, max_tests, || false, still_fails)
}

/// [`shrink_plan_before`] with a second budget: before each test `out_of_time` is asked
/// whether to stop (the caller's deadline), and the outcome says whether it did
/// ([`PlanShrink::out_of_time`]). Stopped before any test, the outcome is the plan itself,
/// not checked to fail.
pub fn shrink_plan_before_until(
    plan: &FaultPlan,
    hosts: &[HostSpec],
    failed_at: Instant,
    max_tests: usize,
    mut out_of_time: impl FnMut() -> bool,
    mut still_fails: impl FnMut(&FaultPlan) -> Option<Instant>,
) -> Result<PlanShrink, ShrinkError> {
    let max_tests = max_tests.max(1);
    let mut search = PlanSearch::new(plan.clone(), hosts).failed_at(failed_at);
    if out_of_time() {
        return Ok(PlanShrink {
            out_of_time: true,
            ..search.outcome(0, true)
        });
    }
    let mut tests = 0;
    // The first candidate is the cut when it drops anything, else the search's first removal
    // (which stays pending for the loop below).
    let cut = search
        .propose()
        .cloned()
        .filter(|_| matches!(search.stage, Stage::Cut { .. }));
    if let Some(cut) = cut {
        tests += 1;
        if let Some(t) = still_fails(&cut) {
            search.keep_failed_at(t);
            return Ok(search.run_timed_until(tests, max_tests, out_of_time, still_fails));
        }
        search.reject();
    }
    tests += 1;
    if still_fails(plan).is_none() {
        return Err(ShrinkError::DoesNotFail);
    }
    Ok(search.run_timed_until(tests, max_tests, out_of_time, still_fails))
}

#[cfg(test)]
mod tests;
