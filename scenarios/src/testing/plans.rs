//! The proptest strategy over fault plans: [`FaultPlans`] generates a [`FaultCase`] (a seed and
//! the plan the profile expands for it) and [`PlanTree`] shrinks it.
//!
//! Shrinking never touches the seed: the seed fixes the network, the clocks and the workload, so
//! a changed seed would be a different run, not a smaller one. What shrinks is the plan, by the
//! one plan shrinker of the engine, [`ruckus_sim::shrink::PlanSearch`] (remove actions as delta
//! debugging does, then simplify each remaining fault; see its docs for the order): proptest
//! drives it, `simplify` answering "the candidate still fails" and `complicate` "it passed".
//! `ruckus shrink` runs the same search in a loop, so both reduce one failure to one plan.

use crate::runner;
use crate::scenario::Scenario;
use proptest::prelude::any;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use ruckus_sim::shrink::PlanSearch;
use ruckus_sim::{Duration, FaultPlan, FaultProfile, HostSpec, Instant, Topology};
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

/// The shrinking state of one [`FaultCase`]: the engine's [`PlanSearch`] over its plan, with
/// the seed held fixed. `current()` is the candidate under test, or the smallest plan known to
/// fail when none is.
#[derive(Clone, Debug)]
pub struct PlanTree {
    seed: u64,
    search: PlanSearch,
}

impl PlanTree {
    /// The tree for `seed` starting from `plan`; `hosts` (the topology's) lets a zone cut be
    /// rewritten as a split of the zone's hosts.
    pub fn new(seed: u64, plan: FaultPlan, hosts: Vec<HostSpec>) -> PlanTree {
        PlanTree {
            seed,
            search: PlanSearch::new(plan, &hosts),
        }
    }

    /// The run failed at `failed_at`: the first shrinking candidate drops every fault that
    /// starts later, as `ruckus shrink` does (see [`PlanSearch::failed_at`]).
    pub fn failed_at(mut self, failed_at: Instant) -> PlanTree {
        self.search = self.search.failed_at(failed_at);
        self
    }

    /// The smallest plan known to fail so far.
    pub fn best(&self) -> &FaultPlan {
        self.search.best()
    }
}

impl ValueTree for PlanTree {
    type Value = FaultCase;

    fn current(&self) -> FaultCase {
        FaultCase {
            seed: self.seed,
            plan: self
                .search
                .pending()
                .unwrap_or_else(|| self.search.best())
                .clone(),
        }
    }

    /// Called after `current()` failed: keep it and propose the next smaller candidate.
    fn simplify(&mut self) -> bool {
        self.search.keep();
        self.search.propose().is_some()
    }

    /// Called after `current()` passed: drop it and propose the next candidate from the last
    /// failing plan; `false` once there is none (and `current()` is that plan again).
    fn complicate(&mut self) -> bool {
        if self.search.pending().is_none() {
            return false;
        }
        self.search.reject();
        self.search.propose().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, TestCaseError, TestError};
    use ruckus_sim::{Distribution, Fault, FaultAction, FaultRate, HostId, Partition};

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
        let fails = |p: &FaultPlan| cuts(p, 1, 2, &hosts, Duration::from_millis(100)) && crashes(p, 3);
        let result = runner.run_one(tree, |case| {
            seeds.borrow_mut().push(case.seed);
            if fails(&case.plan) {
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
        // Proptest drove the engine's search: a plain loop over it tests the same candidates
        // (all but proptest's first run, the original) and ends at the same plan.
        let looped = PlanSearch::new(plan.clone(), &hosts).run(0, 4096, fails);
        assert_eq!(looped.plan, minimal.plan);
        assert_eq!(looped.tests, seeds.borrow().len() - 1);
    }

    #[test]
    fn told_the_failure_time_the_first_candidate_drops_the_later_faults() {
        let topology = topology();
        let plan = busy_plan(topology.hosts());
        let failed_at = Instant(Duration::from_secs(3).0);
        let mut tree = PlanTree::new(5, plan.clone(), topology.hosts().to_vec()).failed_at(failed_at);
        assert!(tree.simplify());
        let cut = tree.current().plan;
        assert!(cut.actions.len() < plan.actions.len());
        assert!(cut.actions.iter().all(|a| a.at <= failed_at));
        assert_eq!(
            cut.actions.len(),
            plan.actions.iter().filter(|a| a.at <= failed_at).count()
        );
        // It passed: the next candidate starts from the whole plan again (no actions at all).
        assert!(tree.complicate());
        assert!(tree.current().plan.actions.is_empty());
        assert_eq!(tree.best(), &plan);
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
