//! The proptest integration (`ruckus_scenarios::testing`):
//!
//! - The fault-plan strategy, driven by proptest's own `TestRunner`, finds lease_lock's planted
//!   no-fencing bug and shrinks the failing plan to at most three actions, 1-minimal, with the
//!   seed never changing, and the shrunk plan still fails the same property.
//! - `check_with` stops at the first failing seed, records the shrunk run (only it) to a trace that
//!   `ruckus replay` (in-process) reports as matching, and prints exactly one replay command.
//! - A healthy scenario passes `check_with`, with the determinism check on, on the seeds a
//!   `ruckus sweep` would run; `RUCKUS_SEED` narrows it to one seed.
//! - `run_case` inside a `proptest!` block.
//! - The environment variables: valid values, empty values, and each kind of bad value.

use crate::support::TempDir;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_scenarios::sweep::seed_for;
use ruckus_scenarios::testing::{
    self, CaseFailure, DEFAULT_SEEDS, EnvError, FaultCase, FaultPlans, TestEnv, run_case_with,
};
use ruckus_sim::trace::TraceReader;
use ruckus_sim::{FaultPlan, Verdict};
use std::cell::RefCell;
use std::ffi::OsString;
use std::path::PathBuf;

fn env_with_traces(dir: &TempDir) -> TestEnv {
    TestEnv {
        trace_dir: dir.0.clone(),
        ..TestEnv::default()
    }
}

/// The first seed of `scenario`'s sweep order that fails with its faults and holds without any:
/// a failure the fault plan is needed for, so shrinking has something to keep.
fn seed_needing_faults(scenario: &Scenario) -> u64 {
    (0..100)
        .map(|i| seed_for(scenario.seed, i))
        .find(|&seed| {
            let plan = runner::fault_plan(scenario, seed);
            let calm = FaultPlan {
                actions: Vec::new(),
                heal_at: plan.heal_at,
            };
            failed_property(scenario, seed, &plan).is_some()
                && failed_property(scenario, seed, &calm).is_none()
        })
        .expect("a planted bug that needs faults shows within 100 seeds")
}

/// The property a plan makes the scenario fail, if any.
fn failed_property(scenario: &Scenario, seed: u64, plan: &FaultPlan) -> Option<String> {
    let report = runner::run_plan(scenario, seed, plan.clone()).report;
    report.failure.and_then(|f| f.property)
}

#[test]
fn the_strategy_shrinks_a_planted_bug_to_a_few_actions_and_never_the_seed() {
    // Exact clocks: this seed's failure then needs no fault beyond ordinary lease expiry, so
    // the test measures proptest's shrinking, not how much clock spread the bug needs.
    let mut scenario = testing::scenario("lease_lock_no_fencing");
    scenario.topology.clock_spread = ruckus_sim::ClockSpread::NONE;
    let strategy = FaultPlans::from_scenario(&scenario);
    let config = Config {
        cases: 64,
        max_shrink_iters: testing::SHRINK_RUNS_MAX,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    // Every case the runner tried, in order.
    let tried: RefCell<Vec<FaultCase>> = RefCell::new(Vec::new());
    let result = runner.run(&strategy, |case| {
        tried.borrow_mut().push(case.clone());
        match failed_property(&scenario, case.seed, &case.plan) {
            Some(p) if p == "storage_fenced" => Err(TestCaseError::fail(p)),
            _ => Ok(()),
        }
    });
    let Err(TestError::Fail(reason, minimal)) = result else {
        panic!("no failure in 64 cases of a planted bug: {result:?}");
    };
    assert_eq!(reason.message(), "storage_fenced");
    let tried = tried.into_inner();
    // The first failing case is the unshrunk one: the profile's plan for its seed.
    let first = tried
        .iter()
        .position(|c| failed_property(&scenario, c.seed, &c.plan).is_some())
        .unwrap();
    let original = &tried[first];
    assert_eq!(original.plan, runner::fault_plan(&scenario, original.seed));
    assert!(original.plan.actions.len() >= 10, "{original:?}");
    // Shrinking ran many candidates, all on the same seed.
    let shrinking = &tried[first + 1..];
    assert!(shrinking.len() >= 10, "only {} shrink steps", shrinking.len());
    assert!(shrinking.iter().all(|c| c.seed == original.seed));
    assert_eq!(minimal.seed, original.seed);
    // The minimal plan: at most three actions that still fail the same property.
    assert!(
        (1..=3).contains(&minimal.plan.actions.len()),
        "{} actions left: {minimal:?}",
        minimal.plan.actions.len()
    );
    assert_eq!(
        failed_property(&scenario, minimal.seed, &minimal.plan).as_deref(),
        Some("storage_fenced")
    );
    // 1-minimal: without any one of its actions, the run holds.
    for i in 0..minimal.plan.actions.len() {
        let mut fewer = minimal.plan.clone();
        fewer.actions.remove(i);
        assert_eq!(
            failed_property(&scenario, minimal.seed, &fewer),
            None,
            "action #{i} is not needed"
        );
    }
    // Each kept action comes from an original one at the same time and of the same kind, and
    // at least one was simplified (a shorter duration or a simpler partition), not just kept.
    let mut simplified = 0;
    for kept in &minimal.plan.actions {
        let from = original
            .plan
            .actions
            .iter()
            .find(|a| a.at == kept.at && a.fault.kind() == kept.fault.kind())
            .unwrap_or_else(|| panic!("{kept:?} does not come from the original plan"));
        assert!(
            kept.fault.duration() <= from.fault.duration(),
            "{kept:?} vs {from:?}"
        );
        simplified += usize::from(kept.fault != from.fault);
    }
    assert!(simplified >= 1, "nothing was simplified: {minimal:?}");
}

/// Runs `ruckus ARGS` in-process: (exit code, stdout, stderr).
fn ruckus(args: &[&str]) -> (u8, String, String) {
    let r = crate::support::ruckus(args);
    (r.code, r.out, r.err)
}

#[test]
fn check_records_the_shrunk_failure_and_ruckus_replay_matches_it() {
    let dir = TempDir::new("check");
    let scenario = testing::scenario("lease_lock_no_fencing");
    let seed = seed_needing_faults(&scenario);
    let env = TestEnv {
        seed: Some(seed),
        ..env_with_traces(&dir)
    };
    let failure = testing::check_with(&scenario, &env).expect_err("the seed fails");
    let message = failure.to_string();
    assert_eq!((failure.passed, failure.minimal.seed), (0, seed));
    assert_eq!(failure.original.plan, runner::fault_plan(&scenario, seed));
    assert!(
        (1..=3).contains(&failure.minimal.plan.actions.len()),
        "from {} actions: {message}",
        failure.original.plan.actions.len()
    );
    assert!(failure.shrink_runs >= 5, "{message}");
    // The message: the seed, the property, the shrunk plan, one replay command.
    assert!(message.contains(&format!("seed {seed}")), "{message}");
    assert!(message.contains("`storage_fenced`"), "{message}");
    assert!(
        message.contains(&format!(
            "fault plan ({} actions):\n{}",
            failure.minimal.plan.actions.len(),
            failure.minimal.plan
        )),
        "{message}"
    );
    assert_eq!(message.matches("ruckus replay ").count(), 1, "{message}");
    assert!(message.contains(&format!("RUCKUS_SEED={seed} ")), "{message}");
    // The trace it names holds the shrunk run, and replays exactly.
    let path = testing::trace_in_message(&message).expect("the message names its trace");
    assert!(path.starts_with(&dir.0), "{}", path.display());
    assert!(
        message.contains(&format!("ruckus replay {}\n", path.display())),
        "{message}"
    );
    let reader = TraceReader::open(path).unwrap();
    assert_eq!(reader.header().seed, seed);
    assert_eq!(reader.header().plan, failure.minimal.plan);
    let (code, out, err) = ruckus(&["replay", path.to_str().unwrap()]);
    assert!(out.contains("matches"), "{out}{err}");
    assert_eq!(code, 1, "a replayed safety violation exits 1: {out}{err}");
}

#[test]
fn check_stops_at_the_first_failing_seed_in_sweep_order() {
    let dir = TempDir::new("order");
    let scenario = testing::scenario("lease_lock_no_sync");
    let env = TestEnv {
        seeds: 60,
        ..env_with_traces(&dir)
    };
    let failure = testing::check_with(&scenario, &env).expect_err("the planted bug shows within 60 seeds");
    let seeds = env.seeds_for(&scenario);
    assert_eq!(seeds[0], seed_for(scenario.seed, 0));
    assert_eq!(seeds[failure.passed], failure.minimal.seed);
    for &held in &seeds[..failure.passed] {
        assert_eq!(runner::run(&scenario, held).report.verdict, Verdict::Held);
    }
    assert_eq!(
        failed_property(&scenario, failure.minimal.seed, &failure.minimal.plan).as_deref(),
        Some("tokens_increasing"),
        "{failure}"
    );
    assert!(failure.minimal.plan.actions.len() <= 3, "{failure}");
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        1,
        "one trace, the shrunk run's"
    );
}

#[test]
fn a_failure_that_needs_no_fault_shrinks_to_the_empty_plan_and_says_so() {
    let dir = TempDir::new("calm");
    let scenario = testing::scenario("lease_lock_no_fencing");
    let seed = (0..100)
        .map(|i| seed_for(scenario.seed, i))
        .find(|&seed| {
            let plan = runner::fault_plan(&scenario, seed);
            let calm = FaultPlan {
                actions: Vec::new(),
                heal_at: plan.heal_at,
            };
            !plan.actions.is_empty()
                && failed_property(&scenario, seed, &plan).is_some()
                && failed_property(&scenario, seed, &calm).is_some()
        })
        .expect("some seed of the planted bug fails without faults");
    let env = TestEnv {
        seed: Some(seed),
        ..env_with_traces(&dir)
    };
    let failure = testing::check_with(&scenario, &env).unwrap_err();
    assert!(failure.minimal.plan.actions.is_empty(), "{failure}");
    // Deleting every action is the first candidate, after the plan cut at the failure time
    // when that drops anything.
    let plan = runner::fault_plan(&scenario, seed);
    let failed_at = runner::run_plan(&scenario, seed, plan.clone())
        .report
        .failure
        .unwrap()
        .time;
    let cut_drops = plan.actions.iter().any(|a| a.at > failed_at);
    assert_eq!(
        failure.shrink_runs,
        1 + u64::from(cut_drops),
        "deleting every action comes first, after the cut at the failure"
    );
    assert!(
        failure.to_string().contains("fails without any fault"),
        "{failure}"
    );
}

#[test]
fn a_healthy_scenario_passes_with_the_determinism_check_and_one_seed_can_be_chosen() {
    let dir = TempDir::new("healthy");
    let scenario = testing::scenario("lease_lock");
    let env = TestEnv {
        seeds: 12,
        check_determinism: true,
        ..env_with_traces(&dir)
    };
    let summary = testing::check_with(&scenario, &env).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        summary.seeds,
        (0..12).map(|i| seed_for(scenario.seed, i)).collect::<Vec<_>>()
    );
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        0,
        "no trace for passing runs"
    );

    // RUCKUS_SEED: only that seed runs, here a failing one of the planted bug.
    let buggy = testing::scenario("lease_lock_no_fencing");
    let failing = seed_needing_faults(&buggy);
    let one = TestEnv {
        seed: Some(failing),
        ..env
    };
    let failure = testing::check_with(&buggy, &one).unwrap_err();
    assert_eq!((failure.passed, failure.minimal.seed), (0, failing));
    assert!(
        failure
            .to_string()
            .contains("safety_violation of property `storage_fenced`"),
        "{failure}"
    );
}

#[test]
fn run_case_reports_failures_as_data_and_passes_as_reports() {
    let dir = TempDir::new("case");
    let env = env_with_traces(&dir);
    let scenario = testing::scenario("lease_lock_no_fencing");
    let failing = seed_needing_faults(&scenario);
    let case = FaultCase {
        seed: failing,
        plan: runner::fault_plan(&scenario, failing),
    };
    let Err(CaseFailure::Failed(failed)) = run_case_with(&scenario, &case, &env) else {
        panic!("seed {failing} fails with its faults")
    };
    assert_eq!(failed.case, case);
    assert_eq!(failed.report.verdict, Verdict::SafetyViolation);
    assert_eq!(failed.divergence, None);
    // With the determinism check on, the same failure, now from two identical runs.
    let twice = TestEnv {
        check_determinism: true,
        ..env.clone()
    };
    let Err(CaseFailure::Failed(again)) = run_case_with(&scenario, &case, &twice) else {
        panic!("seed {failing} fails under the determinism check too")
    };
    assert_eq!(
        (again.report.clone(), again.divergence.clone()),
        (failed.report.clone(), None)
    );
    let path = failed.trace.clone().unwrap();
    assert_eq!(path, env.trace_path(&scenario, failing));
    assert!(path.exists());
    // Without faults the same seed holds, and leaves no trace behind.
    let calm = FaultCase {
        seed: failing,
        plan: FaultPlan {
            actions: Vec::new(),
            heal_at: case.plan.heal_at,
        },
    };
    std::fs::remove_file(&path).unwrap();
    let report = run_case_with(&scenario, &calm, &env).unwrap();
    assert_eq!(report.verdict, Verdict::Held);
    assert!(!path.exists());
}

proptest! {
    #![proptest_config(Config { cases: 8, failure_persistence: None, ..Config::default() })]

    /// The `proptest!` form a user writes: pingpong holds under every fault kind.
    #[test]
    fn pingpong_holds_inside_proptest(case in FaultPlans::from_scenario(&testing::scenario("pingpong"))) {
        let scenario = testing::scenario("pingpong");
        run_case_with(&scenario, &case, &TestEnv::default())?;
    }
}

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let pairs: Vec<(String, OsString)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn parse(pairs: &[(&str, &str)]) -> Result<TestEnv, EnvError> {
    TestEnv::from_lookup(lookup(pairs))
}

#[test]
fn environment_variables_parse_and_bad_values_name_the_variable() {
    assert_eq!(parse(&[]).unwrap(), TestEnv::default());
    assert_eq!(TestEnv::default().seeds, DEFAULT_SEEDS);
    assert_eq!(TestEnv::default().trace_dir, PathBuf::from("ruckus-out/traces"));
    let env = parse(&[
        ("RUCKUS_SEED", " 18446744073709551615 "),
        ("RUCKUS_SEEDS", "500"),
        ("RUCKUS_CHECK_DETERMINISM", "Yes"),
        ("RUCKUS_TRACE_DIR", "/tmp/failures"),
        ("RUCKUS_SET", "model.clients=2; faults.enabled=false;"),
    ])
    .unwrap();
    assert_eq!(
        env,
        TestEnv {
            seed: Some(u64::MAX),
            seeds: 500,
            check_determinism: true,
            trace_dir: PathBuf::from("/tmp/failures"),
            overrides: vec!["model.clients=2".into(), "faults.enabled=false".into()],
        }
    );
    assert_eq!(env.proptest_config().cases, 1, "one seed, one case");
    assert_eq!(parse(&[("RUCKUS_SEED", "0xff")]).unwrap().seed, Some(255));
    assert_eq!(
        parse(&[("RUCKUS_SEEDS", "7")]).unwrap().proptest_config().cases,
        7
    );
    for (text, on) in [
        ("1", true),
        ("on", true),
        ("TRUE", true),
        ("0", false),
        ("off", false),
        ("no", false),
    ] {
        assert_eq!(
            parse(&[("RUCKUS_CHECK_DETERMINISM", text)])
                .unwrap()
                .check_determinism,
            on,
            "{text}"
        );
    }
    // Empty values count as unset.
    let empty = parse(&[
        ("RUCKUS_SEED", ""),
        ("RUCKUS_SEEDS", ""),
        ("RUCKUS_CHECK_DETERMINISM", ""),
        ("RUCKUS_TRACE_DIR", ""),
    ]);
    assert_eq!(empty.unwrap(), TestEnv::default());

    for (var, value, expect) in [
        ("RUCKUS_SEED", "abc", "expected a seed"),
        ("RUCKUS_SEED", "-1", "expected a seed"),
        ("RUCKUS_SEED", "18446744073709551616", "expected a seed"),
        ("RUCKUS_SEED", "0xzz", "hex with 0x"),
        ("RUCKUS_SEEDS", "ten", "how many seeds"),
        ("RUCKUS_SEEDS", "0", "at least 1"),
        ("RUCKUS_SEEDS", "-3", "how many seeds"),
        ("RUCKUS_CHECK_DETERMINISM", "maybe", "expected 1, true"),
    ] {
        let err = parse(&[(var, value)]).unwrap_err();
        assert_eq!(err.variable, var);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("environment variable {var}={value:?}: ")),
            "{text}"
        );
        assert!(text.contains(expect), "{var}={value}: {text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
}

#[cfg(unix)]
#[test]
fn a_non_utf8_value_is_an_error_naming_the_variable() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![b'4', 0xff]);
    let err = TestEnv::from_lookup(|name| (name == "RUCKUS_SEEDS").then(|| bad.clone())).unwrap_err();
    assert_eq!(err.variable, "RUCKUS_SEEDS");
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    // A trace directory may be any path the OS accepts.
    let env = TestEnv::from_lookup(|name| (name == "RUCKUS_TRACE_DIR").then(|| bad.clone())).unwrap();
    assert_eq!(env.trace_dir, PathBuf::from(bad));
}
