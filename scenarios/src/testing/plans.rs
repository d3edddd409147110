//! The proptest strategy over fault plans: [`FaultPlans`] generates a [`FaultCase`] (a seed and
//! the plan the profile expands for it) and [`PlanTree`] shrinks it.
//!
//! Shrinking never touches the seed: the seed fixes the network, the clocks and the workload, so
//! a changed seed would be a different run, not a smaller one. What shrinks is the plan, in
//! passes of two stages each:
//!
//! 1. **Remove** actions, as delta debugging does: first all of them; then, for chunks of half,
//!    a quarter, ... down to one action, keep only one chunk, or delete one chunk.
//! 2. **Simplify** each remaining action, one candidate at a time: a bridge split becomes a plain
//!    split, a zone cut becomes a split of the zone's hosts, a split becomes the isolation of one
//!    host, partitions lose hosts, durations halve (down to 1 ms), clock jumps, drifts and
//!    slow-link factors halve, network chaos loses one kind of misbehaviour at a time, a killed
//!    process index moves towards 0.
//!
//! Passes repeat while they make progress (at most [`PlanTree::MAX_PASSES`]). When the search
//! ends on its own, the plan is 1-minimal: removing any single action, or applying any single
//! simplification, makes the failure go away.

use crate::runner;
use crate::scenario::Scenario;
use proptest::prelude::any;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use ruckus_sim::{
    Duration, Fault, FaultPlan, FaultProfile, HostId, HostSpec, NetworkChaos, Partition, Topology,
};
use std::fmt;

/// One generated test case: the run's seed and the fault plan it suffers.
///
/// Its `Debug` form (what proptest prints as the minimal failing input) is the seed and the plan
/// one action per line.
#[derive(Clone, PartialEq)]
pub struct FaultCase {
    /// The root seed of the run; never changed by shrinking.
    pub seed: u64,
    /// The faults, sorted by start time.
    pub plan: FaultPlan,
}

impl fmt::Debug for FaultCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}, {} fault actions:",
            self.seed,
            self.plan.actions.len()
        )?;
        write!(f, "{}", self.plan)
    }
}

/// Where a strategy's plans come from.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    /// Expanded from a profile for each seed.
    Profile {
        profile: Box<FaultProfile>,
        horizon: Duration,
    },
    /// The same explicit plan for every seed (a scenario with `[faults] plan`, or faults off).
    Fixed(FaultPlan),
}

/// A proptest [`Strategy`] producing [`FaultCase`]s: a seed, and the plan a fault profile
/// expands for that seed on a topology and horizon — exactly the plan `ruckus run --seed` would
/// use — which then shrinks (see the module docs) while the seed stays put.
///
/// The seed is drawn from the test runner's random generator, unless [`FaultPlans::with_seed`]
/// fixes it (what `RUCKUS_SEED` does through [`fault_plans`](super::fault_plans)).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlans {
    source: Source,
    hosts: Vec<HostSpec>,
    seed: Option<u64>,
}

impl FaultPlans {
    /// Plans expanded from `profile` for runs of length `horizon` on `topology`.
    pub fn from_profile(profile: FaultProfile, topology: &Topology, horizon: Duration) -> FaultPlans {
        FaultPlans {
            source: Source::Profile {
                profile: Box::new(profile),
                horizon,
            },
            hosts: topology.hosts().to_vec(),
            seed: None,
        }
    }

    /// The plans `scenario` gives its seeds: none when its faults are off, its explicit plan
    /// when it has one, else its profile expanded for each seed over its horizon.
    pub fn from_scenario(scenario: &Scenario) -> FaultPlans {
        let topology = runner::topology(&scenario.topology);
        let source = if !scenario.faults.enabled {
            Source::Fixed(FaultPlan::none())
        } else if let Some(plan) = &scenario.faults.plan {
            Source::Fixed(plan.clone())
        } else {
            Source::Profile {
                profile: Box::new(scenario.faults.profile.clone()),
                horizon: scenario.limits.horizon,
            }
        };
        FaultPlans {
            source,
            hosts: topology.hosts().to_vec(),
            seed: None,
        }
    }

    /// The same strategy with every case on `seed` (only the plan varies under shrinking).
    pub fn with_seed(mut self, seed: u64) -> FaultPlans {
        self.seed = Some(seed);
        self
    }

    /// The unshrunk plan for `seed`.
    pub fn plan_for(&self, seed: u64) -> FaultPlan {
        match &self.source {
            Source::Profile { profile, horizon } => profile.plan(seed, &self.hosts, *horizon),
            Source::Fixed(plan) => plan.clone(),
        }
    }

    /// The value tree of `seed`'s case, for running one chosen seed through
    /// `TestRunner::run_one` (how [`check_with`](super::check_with) walks its seed list).
    pub fn tree(&self, seed: u64) -> PlanTree {
        PlanTree::new(seed, self.plan_for(seed), self.hosts.clone())
    }
}

impl Strategy for FaultPlans {
    type Tree = PlanTree;
    type Value = FaultCase;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let seed = match self.seed {
            Some(seed) => seed,
            None => any::<u64>().new_tree(runner)?.current(),
        };
        Ok(self.tree(seed))
    }
}

/// Where the shrinking search stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Trying to keep only (`keep`) or to delete actions `at..at + size`.
    Remove { size: usize, at: usize, keep: bool },
    /// Trying simplification number `option` of action `action`.
    Simplify { action: usize, option: usize },
    /// Nothing more to try.
    Done,
}

/// The shrinking state of one [`FaultCase`]: the last plan known to fail, the candidate being
/// tested, and where the search stands. See the module docs for the order of candidates.
#[derive(Clone, Debug)]
pub struct PlanTree {
    seed: u64,
    hosts: Vec<HostSpec>,
    /// The smallest plan known to fail.
    accepted: FaultPlan,
    /// What `current()` returns: `accepted`, or a candidate being tested.
    current: FaultPlan,
    /// Whether `current` is an untested candidate.
    trying: bool,
    stage: Stage,
    /// Simplifications of the action under `Stage::Simplify` that did not fail.
    rejected: Vec<Fault>,
    /// Every candidate that passed, so a later pass does not run it again.
    passed: Vec<FaultPlan>,
    pass: u32,
    progress: bool,
}

impl PlanTree {
    /// Passes of remove-then-simplify at most; each pass after the first runs only if the one
    /// before changed something.
    pub const MAX_PASSES: u32 = 4;

    /// Faults are never shortened below this.
    pub const DURATION_MIN: Duration = Duration::from_millis(1);

    /// The tree for `seed` starting from `plan`; `hosts` (the topology's) lets a zone cut be
    /// rewritten as a split of the zone's hosts.
    pub fn new(seed: u64, plan: FaultPlan, hosts: Vec<HostSpec>) -> PlanTree {
        let size = plan.actions.len();
        PlanTree {
            seed,
            hosts,
            accepted: plan.clone(),
            current: plan,
            trying: false,
            stage: Stage::Remove {
                size,
                at: 0,
                keep: false,
            },
            rejected: Vec::new(),
            passed: Vec::new(),
            pass: 0,
            progress: false,
        }
    }

    /// The candidate failed too: it becomes the plan to shrink further.
    fn accept(&mut self) {
        self.accepted = self.current.clone();
        self.progress = true;
        match self.stage {
            // The plan is now that one chunk: split it finer.
            Stage::Remove { size, keep: true, .. } => {
                self.stage = Stage::Remove {
                    size: size / 2,
                    at: 0,
                    keep: true,
                };
            }
            // A deletion keeps its position: the actions after the deleted chunk moved into it.
            Stage::Remove { keep: false, .. } => {}
            // The action changed: its simplifications start over.
            Stage::Simplify { action, .. } => self.stage = Stage::Simplify { action, option: 0 },
            Stage::Done => {}
        }
    }

    /// The candidate passed: the failure needs what it removed or changed.
    fn reject(&mut self) {
        let candidate = std::mem::replace(&mut self.current, self.accepted.clone());
        self.passed.push(candidate);
        self.skip();
    }

    /// Moves past the candidate under the cursor.
    fn skip(&mut self) {
        match self.stage {
            Stage::Remove { size, at, keep } => {
                self.stage = Stage::Remove {
                    size,
                    at: at + size,
                    keep,
                };
            }
            Stage::Simplify { action, option } => {
                let options = simplifications(&self.accepted.actions[action].fault, &self.hosts);
                self.rejected.push(options[option].clone());
                self.stage = Stage::Simplify {
                    action,
                    option: option + 1,
                };
            }
            Stage::Done => {}
        }
    }

    /// Moves to the next candidate and makes it current; `false` (with `current` back at the
    /// last failing plan) when there is none left.
    fn next_candidate(&mut self) -> bool {
        loop {
            let len = self.accepted.actions.len();
            match self.stage {
                Stage::Done => {
                    self.current = self.accepted.clone();
                    return false;
                }
                Stage::Remove { size, at, keep } => {
                    let size = size.min(len);
                    if size == 0 {
                        self.stage = Stage::Simplify { action: 0, option: 0 };
                    } else if keep && (size == len || at >= len) {
                        // Keeping everything is no change; after the keeps come the deletions.
                        self.stage = Stage::Remove {
                            size,
                            at: 0,
                            keep: false,
                        };
                    } else if at >= len {
                        self.stage = if size == 1 {
                            Stage::Simplify { action: 0, option: 0 }
                        } else {
                            Stage::Remove {
                                size: size / 2,
                                at: 0,
                                keep: true,
                            }
                        };
                    } else {
                        self.stage = Stage::Remove { size, at, keep };
                        let end = (at + size).min(len);
                        let mut candidate = self.accepted.clone();
                        if keep {
                            candidate.actions = candidate.actions[at..end].to_vec();
                        } else {
                            candidate.actions.drain(at..end);
                        }
                        if self.try_candidate(candidate) {
                            return true;
                        }
                    }
                }
                Stage::Simplify { action, option } => {
                    if action >= len {
                        self.rejected.clear();
                        self.stage = if self.progress && self.pass + 1 < Self::MAX_PASSES {
                            self.pass += 1;
                            self.progress = false;
                            Stage::Remove {
                                size: len,
                                at: 0,
                                keep: false,
                            }
                        } else {
                            Stage::Done
                        };
                        continue;
                    }
                    let fault = &self.accepted.actions[action].fault;
                    let options = simplifications(fault, &self.hosts);
                    let next = (option..options.len()).find(|&i| !self.rejected.contains(&options[i]));
                    match next {
                        None => {
                            self.rejected.clear();
                            self.stage = Stage::Simplify {
                                action: action + 1,
                                option: 0,
                            };
                        }
                        Some(i) => {
                            self.stage = Stage::Simplify { action, option: i };
                            let mut candidate = self.accepted.clone();
                            candidate.actions[action].fault = options[i].clone();
                            if self.try_candidate(candidate) {
                                return true;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Makes `candidate` current, unless it is known to pass: then the cursor moves on and the
    /// answer is `false`.
    fn try_candidate(&mut self, candidate: FaultPlan) -> bool {
        if self.passed.contains(&candidate) {
            self.skip();
            return false;
        }
        self.current = candidate;
        self.trying = true;
        true
    }
}

impl ValueTree for PlanTree {
    type Value = FaultCase;

    fn current(&self) -> FaultCase {
        FaultCase {
            seed: self.seed,
            plan: self.current.clone(),
        }
    }

    /// Called after `current()` failed: keep it and propose the next smaller candidate.
    fn simplify(&mut self) -> bool {
        if self.trying {
            self.trying = false;
            self.accept();
        }
        self.next_candidate()
    }

    /// Called after `current()` passed: drop it and propose the next candidate from the last
    /// failing plan; `false` once there is none (and `current()` is that plan again).
    fn complicate(&mut self) -> bool {
        if !self.trying {
            return false;
        }
        self.trying = false;
        self.reject();
        self.next_candidate()
    }
}

/// The one-step simplifications of `fault`, most drastic first. Each strictly decreases a
/// measure (partition shape, hosts named, a duration or magnitude), so shrinking terminates.
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
        Fault::ClockJump { host, delta_ns } if delta_ns.unsigned_abs() >= 2 * PlanTree::DURATION_MIN.0 => {
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
    if let Some(d) = fault.duration() {
        let half = Duration(d.0 / 2);
        if half >= PlanTree::DURATION_MIN {
            out.push(ruckus_sim::shrink::with_duration(fault, half).expect("the fault has a duration"));
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
mod tests {
    use super::*;
    use proptest::test_runner::{Config, TestCaseError, TestError};
    use ruckus_sim::{Distribution, FaultAction, FaultRate, Instant};

    fn topology() -> Topology {
        Topology::zoned(
            6,
            2,
            Distribution::constant(Duration::from_millis(1)),
            Distribution::constant(Duration::from_millis(2)),
        )
    }

    fn action(at_ms: u64, fault: Fault) -> FaultAction {
        FaultAction {
            at: Instant(Duration::from_millis(at_ms).0),
            fault,
        }
    }

    fn cuts(p: &FaultPlan, a: u32, b: u32, hosts: &[HostSpec], min: Duration) -> bool {
        p.actions.iter().any(|x| match &x.fault {
            Fault::Partition { partition, duration } => {
                *duration >= min && partition.blocks(HostId(a), HostId(b), hosts)
            }
            _ => false,
        })
    }

    fn crashes(p: &FaultPlan, host: u32) -> bool {
        p.actions
            .iter()
            .any(|x| matches!(x.fault, Fault::CrashHost { host: h, .. } if h.0 == host))
    }

    /// A busy plan: every kind of fault, with a wide split of h1 from h2 and a crash of h3
    /// buried among them.
    fn busy_plan(hosts: &[HostSpec]) -> FaultPlan {
        let mut profile = FaultProfile::everything(FaultRate {
            mean_interval: Duration::from_millis(500),
            duration_min: Duration::from_millis(10),
            duration_max: Duration::from_millis(800),
        });
        profile.quiet_period = Duration::from_secs(1);
        profile.max_hosts_down = 6;
        let mut plan = profile.plan(11, hosts, Duration::from_secs(10));
        plan.actions
            .retain(|a| !crashes(&plan_of(a), 3) && !cuts(&plan_of(a), 1, 2, hosts, Duration::ZERO));
        plan.actions.push(action(
            2_000,
            Fault::Partition {
                partition: Partition::Bridge {
                    left: vec![HostId(0), HostId(1), HostId(4)],
                    right: vec![HostId(2), HostId(5)],
                    bridge: HostId(3),
                },
                duration: Duration::from_millis(900),
            },
        ));
        plan.actions.push(action(
            3_000,
            Fault::CrashHost {
                host: HostId(3),
                down_for: Duration::from_millis(700),
            },
        ));
        plan.sort();
        plan
    }

    fn plan_of(a: &FaultAction) -> FaultPlan {
        FaultPlan {
            actions: vec![a.clone()],
            heal_at: None,
        }
    }

    #[test]
    fn shrinks_to_the_two_culprits_made_simple_and_keeps_the_seed() {
        let topology = topology();
        let hosts = topology.hosts().to_vec();
        let plan = busy_plan(&hosts);
        assert!(plan.actions.len() > 40, "{}", plan.actions.len());
        let mut runner = TestRunner::new(Config {
            max_shrink_iters: crate::testing::SHRINK_RUNS_MAX,
            failure_persistence: None,
            ..Config::default()
        });
        let tree = PlanTree::new(77, plan.clone(), hosts.clone());
        let seeds = std::cell::RefCell::new(Vec::new());
        let result = runner.run_one(tree, |case| {
            seeds.borrow_mut().push(case.seed);
            let fails = cuts(&case.plan, 1, 2, &hosts, Duration::from_millis(100)) && crashes(&case.plan, 3);
            if fails {
                Err(TestCaseError::fail("culprits present"))
            } else {
                Ok(())
            }
        });
        let Err(TestError::Fail(_, minimal)) = result else {
            panic!("the case should fail: {result:?}")
        };
        assert!(seeds.borrow().iter().all(|&s| s == 77));
        assert!(seeds.borrow().len() < 400, "{} tests", seeds.borrow().len());
        assert_eq!(minimal.seed, 77);
        assert_eq!(minimal.plan.heal_at, plan.heal_at);
        assert_eq!(minimal.plan.actions.len(), 2, "{minimal:?}");
        // The bridge became the isolation of one of the two hosts, its duration within a
        // factor of two of the threshold; the crash shrank to the 1 ms floor.
        match &minimal.plan.actions[0].fault {
            Fault::Partition {
                partition: Partition::Isolate { host },
                duration,
            } => {
                assert!(host.0 == 1 || host.0 == 2, "{minimal:?}");
                assert!(*duration >= Duration::from_millis(100) && *duration < Duration::from_millis(200));
            }
            other => panic!("expected an isolation, got {other}"),
        }
        assert_eq!(
            minimal.plan.actions[1].fault,
            Fault::CrashHost {
                host: HostId(3),
                down_for: Duration(Duration::from_millis(700).0 >> 9)
            }
        );
    }

    #[test]
    fn a_failure_without_faults_shrinks_to_the_empty_plan() {
        let topology = topology();
        let plan = busy_plan(topology.hosts());
        let mut tree = PlanTree::new(5, plan, topology.hosts().to_vec());
        // Everything fails: the first candidate (no actions at all) is accepted and nothing
        // is left to simplify.
        assert!(tree.simplify());
        assert!(tree.current().plan.actions.is_empty());
        assert!(!tree.simplify());
        assert!(tree.current().plan.actions.is_empty());
    }

    #[test]
    fn complicate_returns_to_the_last_failing_plan() {
        let topology = topology();
        let plan = busy_plan(topology.hosts());
        let mut tree = PlanTree::new(5, plan.clone(), topology.hosts().to_vec());
        assert!(!tree.complicate(), "nothing to undo before the first simplify");
        assert!(tree.simplify());
        // Every candidate passes: complicate walks through them all and ends at the original.
        let mut steps = 0;
        while tree.complicate() {
            steps += 1;
            assert_eq!(tree.current().seed, 5);
        }
        assert!(steps > plan.actions.len(), "{steps}");
        assert_eq!(tree.current().plan, plan);
    }

    #[test]
    fn simplifications_shrink_every_kind() {
        let topology = topology();
        let hosts = topology.hosts();
        let d = Duration::from_millis(40);
        let zone = hosts[0].zone.clone().unwrap();
        let halves = simplifications(
            &Fault::Partition {
                partition: Partition::Zone { zone },
                duration: d,
            },
            hosts,
        );
        assert!(matches!(
            &halves[0],
            Fault::Partition { partition: Partition::Halves { side }, .. } if side.len() == 3
        ));
        let isolate = simplifications(&halves[0], hosts);
        assert!(matches!(
            isolate[0],
            Fault::Partition {
                partition: Partition::Isolate { .. },
                ..
            }
        ));
        assert_eq!(
            isolate.len(),
            3 + 3 + 1,
            "isolate each, drop each, halve the duration"
        );
        let chaos = simplifications(
            &Fault::NetworkChaos {
                chaos: FaultProfile::default().chaos,
                duration: Duration::from_micros(1500),
            },
            hosts,
        );
        assert_eq!(
            chaos.len(),
            3,
            "one per rate; 1.5 ms does not halve below the floor"
        );
        let kill = Fault::KillProcess {
            host: HostId(1),
            process_index: 9000,
            down_for: d,
        };
        assert_eq!(simplifications(&kill, hosts).len(), 5);
        let jump = Fault::ClockJump {
            host: HostId(0),
            delta_ns: -(Duration::from_millis(3).0 as i64),
        };
        assert_eq!(
            simplifications(&jump, hosts),
            vec![Fault::ClockJump {
                host: HostId(0),
                delta_ns: -(Duration::from_micros(1500).0 as i64)
            }]
        );
        let floor = Fault::CrashHost {
            host: HostId(0),
            down_for: Duration::from_micros(1999),
        };
        assert!(simplifications(&floor, hosts).is_empty());
    }

    #[test]
    fn the_strategy_draws_seeds_and_expands_the_profile() {
        let topology = topology();
        let profile = FaultProfile::everything(FaultRate {
            mean_interval: Duration::from_millis(400),
            duration_min: Duration::from_millis(10),
            duration_max: Duration::from_millis(100),
        });
        let strategy = FaultPlans::from_profile(profile.clone(), &topology, Duration::from_secs(5));
        let mut runner = TestRunner::deterministic();
        let a = strategy.new_tree(&mut runner).unwrap().current();
        let b = strategy.new_tree(&mut runner).unwrap().current();
        assert_ne!(a.seed, b.seed);
        assert_eq!(
            a.plan,
            profile.plan(a.seed, topology.hosts(), Duration::from_secs(5))
        );
        let fixed = strategy.with_seed(42);
        assert_eq!(fixed.new_tree(&mut runner).unwrap().current().seed, 42);
        assert_eq!(fixed.new_tree(&mut runner).unwrap().current().seed, 42);
        assert!(format!("{a:?}").starts_with(&format!("seed {}, ", a.seed)));
    }

    #[test]
    fn scenario_plans_match_the_runner() {
        let registry = crate::registry::Registry::builtin();
        for name in registry.scenario_names() {
            let scenario = registry.scenario(name, &[]).unwrap();
            let strategy = FaultPlans::from_scenario(&scenario);
            for seed in [1, 2, 99] {
                assert_eq!(
                    strategy.plan_for(seed),
                    runner::fault_plan(&scenario, seed),
                    "{name}"
                );
            }
        }
        let off = registry
            .scenario("lease_lock", &["faults.enabled=false".into()])
            .unwrap();
        assert!(FaultPlans::from_scenario(&off).plan_for(3).actions.is_empty());
    }
}
