//! One shrinker for both paths: `ruckus shrink` (`cmd::shrink::shrink_failure`) and the proptest
//! path (`testing::check_with`, proptest driving `PlanTree`) run the engine's `PlanSearch`, so
//! the same failing run shrinks to the same plan either way.
//!
//! - lease_lock_no_fencing's first failing seed in sweep order (which fails without faults):
//!   `check_with` and `shrink_failure` (workload kept) end at the same plan, after the same
//!   candidates.
//! - The first seeds of lease_lock_no_fencing and lease_lock_no_sync whose failure needs
//!   faults: the same, and the common plan keeps faults and simplified at least one of them.

use crate::support::TempDir;
use ruckus_scenarios::cmd::shrink::shrink_failure;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_scenarios::sweep::seed_for;
use ruckus_scenarios::testing::{self, TestEnv};
use ruckus_sim::FaultPlan;

/// The first seed in `scenario`'s sweep order whose run fails with its faults and holds
/// without any, so the shrunk plan has something to keep.
fn seed_needing_faults(scenario: &Scenario) -> u64 {
    (0..100)
        .map(|i| seed_for(scenario.seed, i))
        .find(|&seed| {
            let plan = runner::fault_plan(scenario, seed);
            let calm = FaultPlan {
                actions: Vec::new(),
                heal_at: plan.heal_at,
            };
            runner::run_plan(scenario, seed, plan).report.failure.is_some()
                && runner::run_plan(scenario, seed, calm).report.failure.is_none()
        })
        .expect("a planted bug that needs faults shows within 100 seeds")
}

/// Shrinks the first failing seed of `name` under `env` (the first of 40 in sweep order, or
/// `env.seed`) both ways, checks they agree, and returns the shrunk plan.
fn both_paths_agree(name: &str, env: TestEnv) -> FaultPlan {
    let dir = TempDir::new(&format!("one-{name}"));
    let scenario = testing::scenario(name);
    let env = TestEnv {
        seeds: 40,
        trace_dir: dir.0.clone(),
        ..env
    };
    let proptest = testing::check_with(&scenario, &env).expect_err("a planted bug fails within 40 seeds");
    let (seed, original) = (proptest.original.seed, &proptest.original.plan);
    assert_eq!(original, &runner::fault_plan(&scenario, seed));
    let failure = runner::run_plan(&scenario, seed, original.clone())
        .report
        .failure
        .expect("the seed fails");
    let cli = shrink_failure(&scenario, seed, original, &failure, 4096, false).unwrap();
    assert!(!cli.plan.exhausted, "{}", cli.plan);
    assert_eq!(
        cli.plan.plan, proptest.minimal.plan,
        "{name} seed {seed}: ruckus shrink\n{}\nproptest\n{proptest}",
        cli.plan
    );
    // Both drove the same search, so they ran the same candidates. ruckus shrink also runs
    // the original unless the first candidate (the plan cut at the failure) fails.
    let mut cut = original.clone();
    cut.actions.retain(|a| a.at <= failure.time);
    let cut_failed = cut.actions.len() < original.actions.len()
        && runner::run_plan(&scenario, seed, cut)
            .report
            .failure
            .is_some_and(|f| f.verdict == failure.verdict && f.property == failure.property);
    assert_eq!(
        cli.plan.tests as u64,
        proptest.shrink_runs + u64::from(!cut_failed),
        "{name}"
    );
    assert!(
        cli.plan.plan.actions.len() < original.actions.len(),
        "{}",
        cli.plan
    );
    // The plan both found fails the property the original failed.
    let again = runner::run_plan(&scenario, seed, cli.plan.plan.clone()).report;
    assert_eq!(again.failure.and_then(|f| f.property), failure.property, "{name}");
    cli.plan.plan
}

#[test]
fn ruckus_shrink_and_check_with_shrink_the_first_failing_seed_to_the_same_plan() {
    both_paths_agree("lease_lock_no_fencing", TestEnv::default());
}

#[test]
fn ruckus_shrink_and_check_with_agree_where_the_faults_matter() {
    for name in ["lease_lock_no_fencing", "lease_lock_no_sync"] {
        let scenario = testing::scenario(name);
        let env = TestEnv {
            seed: Some(seed_needing_faults(&scenario)),
            ..TestEnv::default()
        };
        let plan = both_paths_agree(name, env);
        // Not a trivial agreement: faults are kept, and simplified, not only removed.
        assert!(!plan.actions.is_empty(), "{name}");
        let original = runner::fault_plan(&scenario, seed_needing_faults(&scenario));
        assert!(
            plan.actions.iter().any(|a| !original.actions.contains(a)),
            "{name}: nothing was simplified\n{plan}"
        );
    }
}
