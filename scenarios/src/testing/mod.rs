//! # Property tests with ruckus: fault plans as proptest strategies, failures that replay
//!
//! Two ways to test a scenario (a built-in name or a TOML file) from `cargo test`:
//!
//! **The one-liner.** [`check_scenario`] runs the scenario under `RUCKUS_SEEDS` seeds (the same
//! seeds `ruckus sweep` gives run 0, 1, 2, ...), shrinks the fault plan of the first failing seed
//! with proptest, records the smallest failing run to a trace file and panics with the report:
//!
//! ```no_run
//! #[test]
//! fn lease_lock_holds() {
//!     ruckus_scenarios::testing::check_scenario("lease_lock");
//! }
//! ```
//!
//! **Inside `proptest!`.** [`fault_plans`] is a strategy over (seed, fault plan) cases and
//! [`run_case`] runs one; its error converts into a proptest failure with `?`:
//!
//! ```no_run
//! use proptest::prelude::*;
//! use ruckus_scenarios::testing;
//!
//! proptest! {
//!     #![proptest_config(testing::proptest_config())]
//!     #[test]
//!     fn lease_lock_holds(case in testing::fault_plans(&testing::scenario("lease_lock"))) {
//!         testing::run_case(&testing::scenario("lease_lock"), &case)?;
//!     }
//! }
//! ```
//!
//! Either way a failure reads like this (the plan is the shrunk one; inside `proptest!`, proptest
//! adds its own first line and the minimal input after it):
//!
//! ```text
//! ruckus: scenario `lease_lock_no_fencing` failed on seed 4596266611717324268 (after 0 passing seeds); the fault plan shrank from 25 to 1 actions in 9 runs
//! scenario `lease_lock_no_fencing`, seed 4596266611717324268: safety_violation of property `storage_fenced` at @655.809853ms (event #144): storage accepted a write under token 2 from p4 at @655.809853ms, after it had accepted token 3 from p2 at @520.715490ms
//! last 8 events:
//!     #136 @612.743658ms timer p4@h4 timer 68 [6b048c3d567c9496]
//!     ...
//!     #143 @655.809853ms deliver p1@h1 from p4 sent @263.627118ms [07da3ebbc461200e]
//! fault plan (1 actions):
//!   #0      @262.850116ms  clog h4->h1 for 392.959737ms
//!   heal everything at @5.000000000s
//! trace: /home/you/myproject/tests/ruckus-out/traces/lease_lock_no_fencing-seed-4596266611717324268.trace
//! replay it with:
//!     ruckus replay /home/you/myproject/tests/ruckus-out/traces/lease_lock_no_fencing-seed-4596266611717324268.trace
//! (RUCKUS_SEED=4596266611717324268 runs only this seed again)
//! ```
//!
//! ## How cases shrink
//!
//! A case is a seed and the plan the scenario's fault profile expands for it (exactly the plan
//! `ruckus run --seed` uses). Shrinking deletes actions and simplifies the rest (shorter faults,
//! fewer hosts in a partition, isolating one host instead of splitting the cluster, smaller clock
//! steps; see [`plans`]); the seed never changes, since another seed is another run, not a
//! smaller one. [`check`] shrinks exactly as `ruckus shrink` does (both drive the engine's one
//! plan shrinker, `ruckus_sim::shrink::PlanSearch`): faults after the failure go first, and a
//! candidate counts as failing only if it fails the same way (same verdict and property). It
//! records only the smallest failing run, the one the message describes. Inside `proptest!`,
//! [`run_case`] records each failing candidate over the same trace file, so there too the file
//! ends up holding the smallest failing run.
//!
//! ## Environment variables
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `RUCKUS_SEED` | run only this seed (decimal, or hex with `0x`); what a failure message tells you to set | unset: many seeds |
//! | `RUCKUS_SEEDS` | how many seeds [`check_scenario`] runs, and the case count of [`proptest_config`] (overrides `PROPTEST_CASES`) | 64 |
//! | `RUCKUS_CHECK_DETERMINISM` | `1`/`true`/`yes`/`on`: run every case twice and fail on the first event that differs (`0`/`false`/`no`/`off`: don't) | off |
//! | `RUCKUS_SET` | `--set` overrides (`key=value`, several separated by `;`) applied to every scenario [`scenario`] and [`scenario_in`] load, e.g. to switch a bug on | none |
//! | `RUCKUS_TRACE_DIR` | where failing runs' trace files go (relative to the test's working directory, which for `cargo test` is the package's directory) | `ruckus-out/traces` |
//!
//! An empty value counts as unset. Any other bad value fails the test with a message naming the
//! variable, its value and what was expected ([`EnvError`]). The functions that take a
//! [`TestEnv`] (`*_with`) ignore the process environment, for tests of tests.
//!
//! The run path stays deterministic: nothing here reads the wall clock or starts a thread.

pub mod plans;

pub use plans::{FaultCase, FaultPlans, PlanTree};

use crate::output;
use crate::recording;
use crate::registry::Registry;
use crate::runner::{self, quietly};
use crate::scenario::{Scenario, shell_quote};
use crate::sweep::{self, ProbeCoverage, SweepLine, seed_for};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestError, TestRunner};
use ruckus_sim::{Divergence, RunReport, Verdict, check_determinism};
use std::cell::Cell;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The names of the environment variables this module reads.
pub mod vars {
    /// Run only this seed.
    pub const SEED: &str = "RUCKUS_SEED";
    /// How many seeds (cases) to run.
    pub const SEEDS: &str = "RUCKUS_SEEDS";
    /// Run every case twice and compare event by event.
    pub const CHECK_DETERMINISM: &str = "RUCKUS_CHECK_DETERMINISM";
    /// Where failing runs' traces go.
    pub const TRACE_DIR: &str = "RUCKUS_TRACE_DIR";
    /// `--set` overrides for every scenario the helpers load, separated by `;`.
    pub const SET: &str = "RUCKUS_SET";
}

/// Seeds per test when `RUCKUS_SEEDS` is unset: enough to find the planted bugs of the built-in
/// scenarios, few enough for a debug-build `cargo test`.
pub const DEFAULT_SEEDS: u32 = 64;

/// Runs spent shrinking one failure at most. Proptest's automatic budget is four per case (four
/// in all when `RUCKUS_SEED` asks for one case), far too few for a plan of dozens of actions;
/// a scenario run takes about a millisecond, so this is seconds at worst. A configuration of
/// your own should raise `max_shrink_iters` likewise.
pub const SHRINK_RUNS_MAX: u32 = 4096;

/// Where failing traces go when `RUCKUS_TRACE_DIR` is unset (ruckus-out/ is gitignored).
pub const DEFAULT_TRACE_DIR: &str = "ruckus-out/traces";

/// The settings the environment variables give (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestEnv {
    /// `RUCKUS_SEED`: run only this seed.
    pub seed: Option<u64>,
    /// `RUCKUS_SEEDS`: how many seeds or cases.
    pub seeds: u32,
    /// `RUCKUS_CHECK_DETERMINISM`: run each case twice and compare.
    pub check_determinism: bool,
    /// `RUCKUS_TRACE_DIR`: where failing runs' traces go.
    pub trace_dir: PathBuf,
    /// `RUCKUS_SET`: overrides applied to every scenario [`scenario`] and [`scenario_in`]
    /// load (for example a bug switch: `RUCKUS_SET=model.bug_no_fencing=true`).
    pub overrides: Vec<String>,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv {
            seed: None,
            seeds: DEFAULT_SEEDS,
            check_determinism: false,
            trace_dir: PathBuf::from(DEFAULT_TRACE_DIR),
            overrides: Vec::new(),
        }
    }
}

/// A bad value in one of the environment variables.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}={value:?}: {problem}")]
pub struct EnvError {
    /// The variable.
    pub variable: &'static str,
    /// Its value (lossily decoded if it was not UTF-8).
    pub value: String,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl TestEnv {
    /// The settings from the process environment.
    pub fn from_env() -> Result<TestEnv, EnvError> {
        TestEnv::from_lookup(|name| std::env::var_os(name))
    }

    /// The settings from `get` (a variable's value, or `None` when unset), so the parsing can be
    /// tested without touching the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<TestEnv, EnvError> {
        let mut env = TestEnv::default();
        if let Some(text) = text_of(vars::SEED, &get)? {
            env.seed = Some(parse_seed(&text).map_err(|problem| EnvError {
                variable: vars::SEED,
                value: text.clone(),
                problem,
            })?);
        }
        if let Some(text) = text_of(vars::SEEDS, &get)? {
            let bad = |problem: &str| EnvError {
                variable: vars::SEEDS,
                value: text.clone(),
                problem: problem.to_owned(),
            };
            let n: u32 = text
                .trim()
                .parse()
                .map_err(|_| bad("expected how many seeds to run, a whole number such as 64"))?;
            if n == 0 {
                return Err(bad("must be at least 1 (to run no seeds, skip the test instead)"));
            }
            env.seeds = n;
        }
        if let Some(text) = text_of(vars::CHECK_DETERMINISM, &get)? {
            env.check_determinism = match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(EnvError {
                        variable: vars::CHECK_DETERMINISM,
                        value: text.clone(),
                        problem: "expected 1, true, yes or on to switch the check on, or 0, false, no or off"
                            .into(),
                    });
                }
            };
        }
        if let Some(dir) = get(vars::TRACE_DIR).filter(|v| !v.is_empty()) {
            env.trace_dir = PathBuf::from(dir);
        }
        if let Some(text) = text_of(vars::SET, &get)? {
            env.overrides = text
                .split(';')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        Ok(env)
    }

    /// The seeds [`check_with`] runs for `scenario`: `RUCKUS_SEED` alone, or the first
    /// `RUCKUS_SEEDS` seeds of a sweep from the scenario's base seed — the seeds
    /// `ruckus sweep SCENARIO --seeds N` runs, so either tool reproduces the other.
    pub fn seeds_for(&self, scenario: &Scenario) -> Vec<u64> {
        match self.seed {
            Some(seed) => vec![seed],
            None => (0..u64::from(self.seeds))
                .map(|i| seed_for(scenario.seed, i))
                .collect(),
        }
    }

    /// A proptest configuration running `RUCKUS_SEEDS` cases (one when `RUCKUS_SEED` is set,
    /// since every case would be the same seed), allowing [`SHRINK_RUNS_MAX`] shrinking runs
    /// and writing no regression files; everything else as proptest's default.
    pub fn proptest_config(&self) -> ProptestConfig {
        ProptestConfig {
            cases: if self.seed.is_some() { 1 } else { self.seeds },
            max_shrink_iters: SHRINK_RUNS_MAX,
            // A failure is reproduced by its seed (RUCKUS_SEED) and kept as a trace file;
            // proptest's own regression files would only warn that they cannot be placed.
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// The trace file of a failing `seed` of `scenario`: the same name `ruckus sweep` uses,
    /// made absolute so the printed replay command works from any directory.
    pub fn trace_path(&self, scenario: &Scenario, seed: u64) -> PathBuf {
        let file = format!("{}-seed-{seed}.trace", scenario.name);
        let dir = if self.trace_dir.is_absolute() {
            self.trace_dir.clone()
        } else {
            std::env::current_dir().map_or_else(|_| self.trace_dir.clone(), |cwd| cwd.join(&self.trace_dir))
        };
        dir.join(file)
    }
}

/// The value of `name`, `None` when unset or empty; an error when it is not UTF-8.
fn text_of(name: &'static str, get: &impl Fn(&str) -> Option<OsString>) -> Result<Option<String>, EnvError> {
    match get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.into_string().map(Some).map_err(|v| EnvError {
            variable: name,
            value: v.to_string_lossy().into_owned(),
            problem: "not valid UTF-8".into(),
        }),
    }
}

fn parse_seed(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| {
        "expected a seed: a whole number from 0 to 18446744073709551615, or hex with 0x".to_owned()
    })
}

/// The settings from the environment; a bad value fails the calling test with the variable's
/// name and what was expected.
pub fn env() -> TestEnv {
    TestEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// [`TestEnv::proptest_config`] for the process environment, for `#![proptest_config(...)]`.
pub fn proptest_config() -> ProptestConfig {
    env().proptest_config()
}

/// Loads a built-in scenario by name or a scenario file by path; a bad scenario fails the
/// calling test with the located error.
pub fn scenario(reference: &str) -> Scenario {
    scenario_in(&Registry::builtin(), reference)
}

/// Loads a scenario of `registry` (one with your own models) by name, or a file by path; a bad
/// scenario, or one naming a model the registry lacks, fails the calling test as bad input
/// with the located error.
pub fn scenario_in(registry: &Registry, reference: &str) -> Scenario {
    registry
        .scenario(reference, &env().overrides)
        .unwrap_or_else(|e| panic!("ruckus: bad input: {e}"))
}

/// The strategy over `scenario`'s cases, with the seed fixed when `RUCKUS_SEED` is set.
pub fn fault_plans(scenario: &Scenario) -> FaultPlans {
    fault_plans_with(scenario, &env())
}

/// [`fault_plans`] with explicit settings.
pub fn fault_plans_with(scenario: &Scenario, env: &TestEnv) -> FaultPlans {
    let strategy = FaultPlans::from_scenario(scenario);
    match env.seed {
        Some(seed) => strategy.with_seed(seed),
        None => strategy,
    }
}

/// A case that failed: what failed, under which plan, and where its trace is.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedCase {
    /// The scenario's name.
    pub scenario: String,
    /// The command that replays its trace (`ruckus`, or your own binary with your models).
    pub program: String,
    /// The case (seed and plan).
    pub case: FaultCase,
    /// The run's report (verdict, failure, last events). With a determinism failure, the
    /// report of a plain run.
    pub report: RunReport,
    /// Where two runs of the case first differed, when the determinism check found one.
    pub divergence: Option<Box<Divergence>>,
    /// The trace file, or why it could not be written.
    pub trace: Result<PathBuf, String>,
}

/// Events from the flight recorder shown in a failure message.
const EVENTS_SHOWN: usize = 8;

impl fmt::Display for FailedCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seed = self.case.seed;
        write!(f, "scenario `{}`, seed {seed}: ", self.scenario)?;
        if let Some(d) = &self.divergence {
            writeln!(f, "the run is not deterministic: two runs of this case differ")?;
            writeln!(f, "{d}")?;
        }
        match &self.report.failure {
            Some(failure) => {
                write!(f, "{}", failure.verdict.name())?;
                if let Some(p) = &failure.property {
                    write!(f, " of property `{p}`")?;
                }
                write!(f, " at {} (event #{})", failure.time, failure.event_index)?;
                writeln!(f, ": {}", failure.message)?;
            }
            None => writeln!(f, "the run itself held")?,
        }
        let shown = &self.report.last_events[self.report.last_events.len().saturating_sub(EVENTS_SHOWN)..];
        match shown.last() {
            Some(last) if last.index + 1 < self.report.events => writeln!(
                f,
                "the {} events up to #{} (the run went on to #{}):",
                shown.len(),
                last.index,
                self.report.events - 1
            )?,
            Some(_) => writeln!(f, "last {} events:", shown.len())?,
            None => {}
        }
        if !shown.is_empty() {
            for r in shown {
                writeln!(f, "    {r:?}")?;
            }
        }
        writeln!(f, "fault plan ({} actions):", self.case.plan.actions.len())?;
        write!(f, "{}", self.case.plan)?;
        match &self.trace {
            Ok(path) => {
                writeln!(f, "trace: {}", path.display())?;
                writeln!(f, "replay it with:")?;
                writeln!(
                    f,
                    "    {} replay {}",
                    self.program,
                    shell_quote(&path.to_string_lossy())
                )?;
            }
            Err(e) => writeln!(f, "the trace could not be written: {e}")?,
        }
        write!(f, "({}={seed} runs only this seed again)", vars::SEED)
    }
}

/// Why a case did not pass.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseFailure {
    /// The run failed (a property, a model panic, a limit) or was not deterministic.
    Failed(Box<FailedCase>),
    /// The case could not run: its plan does not fit the topology, or the scenario names an
    /// unknown model. Bad input, not a finding.
    Invalid(String),
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseFailure::Failed(c) => write!(f, "{c}"),
            CaseFailure::Invalid(m) => write!(f, "the case cannot run: {m}"),
        }
    }
}

/// An error, so `?` in a `proptest!` body turns it into a test failure with this message
/// (proptest converts any error with its `Display` text).
impl std::error::Error for CaseFailure {}

/// Runs `case` on `scenario` with the process environment's settings. `Ok` with the report when
/// every property held; otherwise the run is recorded to the trace directory and the error's
/// message has the seed, the failed property, the plan and the `ruckus replay` command.
pub fn run_case(scenario: &Scenario, case: &FaultCase) -> Result<RunReport, CaseFailure> {
    run_case_with(scenario, case, &env())
}

/// [`run_case`] with explicit settings.
pub fn run_case_with(scenario: &Scenario, case: &FaultCase, env: &TestEnv) -> Result<RunReport, CaseFailure> {
    let (mut report, divergence) = outcome(scenario, case, env)?;
    if report.verdict == Verdict::Held && divergence.is_none() {
        return Ok(report);
    }
    if divergence.is_none() {
        // A failure placed before the run's end (a history checked at the end) is shown with
        // the events that led to it, not the run's last ones.
        let mut failed = runner::Outcome {
            report,
            plan: case.plan.clone(),
        };
        runner::events_up_to_failure(scenario, &mut failed);
        report = failed.report;
    }
    let seed = case.seed;
    let path = env.trace_path(scenario, seed);
    // A determinism failure is exactly when the re-run may not match the fast run.
    let expected = divergence.is_none().then_some(report.fingerprint);
    // The trace directory is one the user named (RUCKUS_TRACE_DIR) or the default under
    // ruckus-out/: create it like `sweep --trace-dir` does.
    let default_dir = env.trace_dir == Path::new(DEFAULT_TRACE_DIR);
    let trace = path
        .parent()
        .map_or(Ok(()), |dir| output::ensure_dir(dir, default_dir))
        .and_then(|()| recording::record_plan(scenario, seed, Some(case.plan.clone()), &path, expected))
        .map(|_| path);
    Err(CaseFailure::Failed(Box::new(FailedCase {
        scenario: scenario.name.clone(),
        program: scenario.program.clone(),
        case: case.clone(),
        report,
        divergence,
        trace,
    })))
}

/// Runs `case` (twice when `env` checks determinism) without recording anything: its report,
/// and where two runs differed if they did.
fn outcome(
    scenario: &Scenario,
    case: &FaultCase,
    env: &TestEnv,
) -> Result<(RunReport, Option<Box<Divergence>>), CaseFailure> {
    let topology = runner::topology(&scenario.topology);
    case.plan
        .validate(topology.hosts())
        .map_err(CaseFailure::Invalid)?;
    let seed = case.seed;
    Ok(if env.check_determinism {
        match twice(scenario, case)? {
            Ok(report) => (report, None),
            Err(d) => (
                runner::run_plan(scenario, seed, case.plan.clone()).report,
                Some(d),
            ),
        }
    } else {
        (runner::run_plan(scenario, seed, case.plan.clone()).report, None)
    })
}

/// What makes two failing cases "the same failure" while shrinking: an invalid plan, or the
/// verdict, the property and whether the runs diverged. `None` when the case passed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FailureKind {
    Invalid,
    Failed {
        verdict: Verdict,
        property: Option<String>,
        diverged: bool,
    },
}

/// The kind of failure an [`outcome`] is, if it is one.
fn failure_kind(outcome: &Result<(RunReport, Option<Box<Divergence>>), CaseFailure>) -> Option<FailureKind> {
    match outcome {
        Err(_) => Some(FailureKind::Invalid),
        Ok((report, divergence)) if report.verdict != Verdict::Held || divergence.is_some() => {
            Some(FailureKind::Failed {
                verdict: report.verdict,
                property: report.failure.as_ref().and_then(|f| f.property.clone()),
                diverged: divergence.is_some(),
            })
        }
        Ok(_) => None,
    }
}

/// Runs the case twice through `ruckus_sim::check_determinism`.
fn twice(scenario: &Scenario, case: &FaultCase) -> Result<Result<RunReport, Box<Divergence>>, CaseFailure> {
    let build = || runner::simulation(scenario, case.seed, &case.plan);
    Ok(match build() {
        Ok(_) => quietly(|| check_determinism(|| build().expect("the same build succeeded a moment ago"))),
        // A setup panic is the model's failure: the plain run reports it as a ModelPanic.
        Err(_) => Ok(runner::run_plan(scenario, case.seed, case.plan.clone()).report),
    })
}

/// What a passing [`check_with`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds that ran, in order; every one held.
    pub seeds: Vec<u64>,
    /// Per coverage probe (the model's declared ones first), how many of the seeds reached it.
    pub coverage: Vec<ProbeCoverage>,
    /// The message naming the probes the scenario requires (`[coverage] require`) that no
    /// seed reached, if any: [`check`] fails the test with it, as a sweep fails with exit 5.
    pub uncovered: Option<String>,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ruckus: scenario `{}` held on {} seeds",
            self.scenario,
            self.seeds.len()
        )?;
        for p in &self.coverage {
            let required = if p.required { " (required)" } else { "" };
            let never = if p.runs == 0 { "  NEVER REACHED" } else { "" };
            writeln!(
                f,
                "  probe {}{required}: {} of {} seeds{never}",
                p.name,
                p.runs,
                self.seeds.len()
            )?;
        }
        if let Some(m) = &self.uncovered {
            writeln!(f, "{m}")?;
        }
        Ok(())
    }
}

/// What a failing [`check_with`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckFailure {
    /// The scenario's name.
    pub scenario: String,
    /// The first failing seed's case before shrinking.
    pub original: FaultCase,
    /// The smallest failing case proptest found for that seed.
    pub minimal: FaultCase,
    /// Runs spent shrinking.
    pub shrink_runs: u64,
    /// How many seeds ran before this one and held.
    pub passed: usize,
    /// The report of the minimal case (the message of [`FailedCase`]), or why the search
    /// stopped.
    pub message: String,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ruckus: scenario `{}` failed on seed {} (after {} passing seeds); the fault plan shrank from {} to {} actions in {} runs",
            self.scenario,
            self.minimal.seed,
            self.passed,
            self.original.plan.actions.len(),
            self.minimal.plan.actions.len(),
            self.shrink_runs
        )?;
        if self.minimal.plan.actions.is_empty() {
            writeln!(
                f,
                "(it fails without any fault: look at the model, not the faults)"
            )?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for CheckFailure {}

/// Loads `reference` (a built-in name or a file path) and runs [`check`] on it.
pub fn check_scenario(reference: &str) {
    check(&scenario(reference));
}

/// Loads `reference` from `registry` (a name it holds or a file path, for your own models)
/// and runs [`check`] on it.
pub fn check_scenario_in(registry: &Registry, reference: &str) {
    check(&scenario_in(registry, reference));
}

/// Runs `scenario` under the environment's seeds; panics with the [`CheckFailure`] report of
/// the first failing seed, shrunk, or, when every seed held but a probe the scenario requires
/// was reached by none, with the coverage report.
pub fn check(scenario: &Scenario) {
    match check_with(scenario, &env()) {
        Err(failure) => panic!("{failure}"),
        Ok(summary) if summary.uncovered.is_some() => panic!("{summary}"),
        Ok(_) => {}
    }
}

/// Runs `scenario` under the seeds of `env` (see [`TestEnv::seeds_for`]), each with its
/// scenario plan, stopping at the first failing seed. Proptest then shrinks its plan (seed
/// fixed) with the engine's plan shrinker, told the failure time as `ruckus shrink` is, and
/// keeping only candidates that fail the same way (same verdict and property), so both tools
/// reduce a failure to the same plan. The smallest failing run is recorded to the trace
/// directory, and the error reports it.
pub fn check_with(scenario: &Scenario, env: &TestEnv) -> Result<CheckSummary, Box<CheckFailure>> {
    let strategy = FaultPlans::from_scenario(scenario);
    let mut runner = TestRunner::new(env.proptest_config());
    let seeds = env.seeds_for(scenario);
    let mut reached: Vec<SweepLine> = Vec::new();
    for (passed, &seed) in seeds.iter().enumerate() {
        let tree = strategy.tree(seed);
        let original = tree.current();
        let first = outcome(scenario, &original, env);
        let Some(kind) = failure_kind(&first) else {
            if let Ok((report, _)) = &first {
                reached.push(probe_line(passed as u64, report));
            }
            continue;
        };
        let tree = match &first {
            Ok((report, _)) => match &report.failure {
                Some(failure) => tree.failed_at(failure.time),
                None => tree,
            },
            Err(_) => tree,
        };
        let runs = Cell::new(0u64);
        let result = runner.run_one(tree, |case| {
            runs.set(runs.get() + 1);
            if failure_kind(&outcome(scenario, &case, env)).as_ref() == Some(&kind) {
                Err(TestCaseError::fail("the same failure"))
            } else {
                Ok(())
            }
        });
        let (minimal, note) = match result {
            Err(TestError::Fail(_, minimal)) => (minimal, String::new()),
            Err(TestError::Abort(reason)) => (original.clone(), format!("proptest aborted: {reason}\n")),
            Ok(_) => (
                original.clone(),
                "the case failed once and then held: is the run deterministic?\n".to_owned(),
            ),
        };
        // Only the smallest failing run is recorded (with the message that describes it).
        let message = match run_case_with(scenario, &minimal, env) {
            Err(failure) => format!("{note}{failure}"),
            Ok(_) => {
                format!("{note}the smallest failing case held when run again: is the run deterministic?")
            }
        };
        return Err(Box::new(CheckFailure {
            scenario: scenario.name.clone(),
            original,
            minimal,
            shrink_runs: runs.get().saturating_sub(1),
            passed,
            message,
        }));
    }
    let coverage = sweep::coverage(&reached, scenario.model.probes(), &scenario.coverage.require);
    let unreached = sweep::unreached_required(&coverage);
    let uncovered =
        (!unreached.is_empty()).then(|| sweep::uncovered_message(scenario, &unreached, seeds.len()));
    Ok(CheckSummary {
        scenario: scenario.name.clone(),
        seeds,
        coverage,
        uncovered,
    })
}

/// A run's probes as a sweep line, so the sweep's coverage count serves both tools.
fn probe_line(index: u64, report: &RunReport) -> SweepLine {
    SweepLine {
        index,
        run: runner::RunSummary {
            seed: report.seed,
            verdict: report.verdict.name().to_owned(),
            fingerprint: String::new(),
            events: report.events,
            deliveries: report.deliveries,
            virtual_time_ns: report.end_time.as_nanos(),
            faults: 0,
            property: None,
            message: None,
            failure_time_ns: None,
            probes: report.probes.iter().map(|p| p.name.clone()).collect(),
        },
        scenario: String::new(),
        config: String::new(),
        trace: None,
        replay: None,
    }
}

/// The trace file a failure message names, if it names one (for tools and tests that want to
/// open it).
pub fn trace_in_message(message: &str) -> Option<&Path> {
    message
        .lines()
        .find_map(|l| l.strip_prefix("trace: "))
        .map(Path::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn seeds_follow_the_sweep_and_a_fixed_seed_wins() {
        let s = scenario("pingpong");
        let env = TestEnv {
            seeds: 3,
            ..TestEnv::default()
        };
        assert_eq!(
            env.seeds_for(&s),
            (0..3).map(|i| seed_for(s.seed, i)).collect::<Vec<_>>()
        );
        let one = TestEnv::from_lookup(lookup(&[("RUCKUS_SEED", "0x10"), ("RUCKUS_SEEDS", "9")])).unwrap();
        assert_eq!(one.seeds_for(&s), vec![16]);
        assert_eq!(one.proptest_config().cases, 1);
        assert_eq!(TestEnv::default().proptest_config().cases, DEFAULT_SEEDS);
        assert!(
            TestEnv::default().proptest_config().failure_persistence.is_none(),
            "no regression files, so no warning that they cannot be placed"
        );
    }

    #[test]
    fn trace_paths_are_absolute_and_named_like_sweeps() {
        let s = scenario("pingpong");
        let p = TestEnv::default().trace_path(&s, 12);
        assert!(p.is_absolute(), "{}", p.display());
        assert!(
            p.ends_with("ruckus-out/traces/pingpong-seed-12.trace"),
            "{}",
            p.display()
        );
        assert_eq!(
            trace_in_message("x\ntrace: /a/b.trace\nreplay"),
            Some(Path::new("/a/b.trace"))
        );
    }

    /// A stale read is found when the history is checked at the run's end, but blamed on the
    /// read that returned it: the failure text shows the events up to that read.
    #[test]
    fn a_history_failure_shows_the_events_up_to_the_blamed_operation() {
        let s = scenario("raft_stale_read_deposed_leader");
        let case = FaultCase {
            seed: s.seed,
            plan: runner::fault_plan(&s, s.seed),
        };
        let dir = std::env::temp_dir().join(format!("ruckus-testing-events-{}", std::process::id()));
        let env = TestEnv {
            trace_dir: dir.clone(),
            ..TestEnv::default()
        };
        let Err(CaseFailure::Failed(failed)) = run_case_with(&s, &case, &env) else {
            panic!("seed 1 of raft_stale_read_deposed_leader fails");
        };
        let f = failed.report.failure.as_ref().expect("a failure");
        assert!(f.event_index + 1 < failed.report.events, "{f:?}");
        let last = failed.report.last_events.last().expect("events");
        assert_eq!(last.index, f.event_index);
        let text = failed.to_string();
        assert!(
            text.contains(&format!(
                "events up to #{} (the run went on to #{})",
                f.event_index,
                failed.report.events - 1
            )),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_invalid_plan_is_bad_input() {
        let s = scenario("pingpong");
        let case = FaultCase {
            seed: 1,
            plan: ruckus_sim::FaultPlan {
                actions: vec![ruckus_sim::FaultAction {
                    at: ruckus_sim::Instant(0),
                    fault: ruckus_sim::Fault::CrashHost {
                        host: ruckus_sim::HostId(99),
                        down_for: ruckus_sim::Duration::from_millis(1),
                    },
                }],
                heal_at: None,
            },
        };
        let err = run_case_with(&s, &case, &TestEnv::default()).unwrap_err();
        assert!(
            matches!(&err, CaseFailure::Invalid(m) if m.contains("h99")),
            "{err}"
        );
    }

    #[test]
    fn a_scenario_naming_a_model_the_registry_lacks_is_bad_input() {
        let dir = std::env::temp_dir().join(format!("ruckus-testing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("drift_lock.toml");
        std::fs::write(&file, "[model]\nname = \"drift_lock\"\n[topology]\nhosts = 2\nlatency = { uniform = { min = \"1ms\", max = \"2ms\" } }\n").unwrap();
        let reference = file.to_str().unwrap().to_owned();
        let panic = std::panic::catch_unwind(|| scenario_in(&Registry::builtin(), &reference))
            .expect_err("an unknown model cannot load");
        let message = crate::runner::panic_text(&*panic);
        assert!(message.starts_with("ruckus: bad input: "), "{message}");
        assert!(message.contains("unknown model `drift_lock`"), "{message}");
        assert!(message.contains("with::<YourModel>()"), "{message}");
        assert!(!message.contains("panicked"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
