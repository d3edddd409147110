//! `ruckus shrink FILE`: make a recorded failure small — fewer faults, shorter faults, a
//! shorter horizon, a smaller workload — while the same property still fails, and save it as a
//! new trace.
//!
//! "The same failure" means the same verdict and the same property name. Each candidate is a
//! full re-run of the scenario from the trace header with the candidate plan, horizon and
//! workload. The steps run in that order:
//!
//! 1. the fault plan, by the engine's one plan shrinker ([`ruckus_sim::shrink::PlanSearch`], the
//!    same search `testing::check` drives through proptest): faults after the failure dropped
//!    first (and again whenever a smaller plan fails earlier), then removals coarse to fine
//!    (whole fault kinds, hosts and time windows, then chunks down to single actions), then
//!    each remaining fault made simpler (shorter, fewer hosts, a simpler partition, a smaller
//!    clock step);
//! 2. the horizon, by bisection down to the failure time;
//! 3. the workload sizes the model declares ([`ruckus_sim::Model::WORKLOAD_KNOBS`]: clients, writes,
//!    deliveries), each bisected toward its minimum, repeated until none moves.
//!
//! A safety failure (an always-property that failed when it happened, not a history checked at
//! the end) lets candidates of the first and third steps stop early: one that has not failed
//! [`stop_margin`] past the failure time of the plan shrunk so far is stopped and taken to hold.
//! That only ever drops a candidate that might have failed later, never keeps one that does not
//! fail: a kept candidate failed within the prefix its full run shares (the horizon is not
//! changed, only where the run is stopped), and the horizon step re-runs the result in full.
//!
//! A workload candidate is the scenario with the new values written into its parameters,
//! serialized and loaded again exactly as `ruckus replay` will load the shrunk trace, so the
//! model's `check` vets every combination and the trace header holds the reduced scenario. A
//! knob that is the model's `HOSTS_KEY` moves the topology's host count with it; a candidate
//! whose fault plan or clock settings name a host that no longer exists is rejected.

use super::replay::open;
use crate::cli::Io;
use crate::exit::Exit;
use crate::recording;
use crate::registry::Registry;
use crate::runner::{self, quietly};
use crate::scenario::Scenario;
use crate::wallclock::Stopwatch;
use ruckus_sim::shrink::{
    Knob, KnobShrink, PlanShrink, shrink_horizon, shrink_knobs_until, shrink_plan_before_until,
};
use ruckus_sim::trace::record_run;
use ruckus_sim::{Duration, Failure, FaultPlan, Instant, Progress, Verdict};
use std::path::PathBuf;

/// Flags of `ruckus shrink`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace of a failing run.
    pub trace: PathBuf,
    /// Where to write the shrunk run's trace (default: FILE with `.shrunk.trace`).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Most re-runs to spend.
    #[arg(long, default_value_t = 2000)]
    pub max_tests: usize,
    /// Most wall-clock time to spend (e.g. `60s`, `5m`; `0s` tries nothing), whichever of this
    /// and --max-tests runs out first.
    #[arg(long, value_name = "TIME", value_parser = parse_max_time, default_value = "5m")]
    pub max_time: Duration,
    /// Keep the workload as recorded (shrink only the faults and the horizon).
    #[arg(long)]
    pub keep_workload: bool,
    /// List every fault removed or simplified, not only the counts.
    #[arg(long, short)]
    pub verbose: bool,
}

/// A failure made small: the reduced scenario and plan, and what each step removed.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The scenario to record: the shrunk workload and horizon written in.
    pub scenario: Scenario,
    /// What the fault step did; its `plan` is the shrunk plan.
    pub plan: PlanShrink,
    /// What the workload step did (`None` when it was skipped).
    pub workload: Option<KnobShrink>,
    /// The horizon before shrinking (the shrunk one is in `scenario.limits`).
    pub horizon_before: Duration,
    /// Re-runs the horizon step made.
    pub horizon_tests: usize,
    /// Whether the time budget stopped a step early.
    pub out_of_time: bool,
    /// For a safety failure: how far past the failure time candidates ran before they were
    /// stopped and taken to hold ([`stop_margin`]), and how many were.
    pub stopped_early: Option<(Duration, usize)>,
}

/// `--max-time`: a time with a unit, as in scenario files.
fn parse_max_time(text: &str) -> Result<Duration, String> {
    ruckus_sim::time::parse_nanos(text).map(Duration)
}

impl Shrunk {
    /// Re-runs made by all steps.
    pub fn tests(&self) -> usize {
        self.plan.tests + self.workload.as_ref().map_or(0, |w| w.tests) + self.horizon_tests
    }
}

impl Shrunk {
    /// What shrinking did, in a few lines: counts, the workload sizes that moved, the horizon,
    /// and which budget flag to raise if the search ran out. `verbose` lists every removed and
    /// simplified fault as well.
    pub fn report(&self, max_tests: usize, verbose: bool) -> String {
        let mut s = String::new();
        let p = &self.plan;
        let total = p.plan.actions.len() + p.removed.len();
        if verbose {
            s.push_str(&p.to_string());
        } else {
            s.push_str(&format!(
                "faults: kept {} of {total} ({} removed, {} simplified) in {} test runs{}\n",
                p.plan.actions.len(),
                p.removed.len(),
                p.simplified.len(),
                p.tests,
                if p.minimal && !p.plan.actions.is_empty() {
                    ", 1-minimal (without any one of them it passes)"
                } else {
                    ""
                }
            ));
        }
        if let Some(w) = &self.workload {
            s.push_str(&w.to_string());
        }
        if let Some((margin, stopped)) = self.stopped_early {
            s.push_str(&format!(
                "a safety failure: {stopped} fault-plan candidates that had not failed {} past the failure were stopped there and taken to hold\n",
                crate::runner::seconds(margin)
            ));
        }
        let horizon = self.scenario.limits.horizon;
        if horizon != self.horizon_before {
            s.push_str(&format!(
                "horizon shortened from {} to {}\n",
                crate::runner::seconds(self.horizon_before),
                crate::runner::seconds(horizon)
            ));
        }
        let exhausted =
            p.exhausted || self.workload.as_ref().is_some_and(|w| w.exhausted) || self.out_of_time;
        if exhausted {
            // What is left unreduced, so a user knows what more runs would buy.
            let left = if p.exhausted {
                format!(
                    "{} faults left, {}",
                    p.plan.actions.len(),
                    if p.minimal {
                        "1-minimal but not all simplified"
                    } else {
                        "not shown 1-minimal"
                    }
                )
            } else if self.workload.as_ref().is_some_and(|w| w.exhausted) {
                "workload sizes not all tried".to_owned()
            } else {
                "the horizon not shortened to the end".to_owned()
            };
            if self.out_of_time {
                s.push_str(&format!(
                    "the time budget ran out after {} test runs, before the search finished ({left}): raise --max-time to shrink further\n",
                    self.tests()
                ));
            } else {
                s.push_str(&format!(
                    "the budget of {max_tests} test runs ran out before the search finished ({left}): raise --max-tests to shrink further\n"
                ));
            }
        }
        if !verbose && (!p.removed.is_empty() || !p.simplified.is_empty()) {
            s.push_str("(--verbose lists every removed and simplified fault)\n");
        }
        s
    }
}

/// The integer at dotted `path` in `table`, if there is one and it is not negative.
fn param(table: &toml::Table, path: &str) -> Option<u64> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop()?;
    let mut t = table;
    for p in parts {
        t = t.get(p)?.as_table()?;
    }
    t.get(last)?.as_integer().and_then(|i| u64::try_from(i).ok())
}

/// Sets the integer at dotted `path` in `table` (which must already hold one there).
fn set_param(table: &mut toml::Table, path: &str, value: u64) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().ok_or("an empty parameter path")?;
    let mut t = table;
    for p in parts {
        t = t
            .get_mut(p)
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| format!("no table `{p}` on the way to `{path}`"))?;
    }
    let v = i64::try_from(value).map_err(|_| format!("{path} = {value} is too large"))?;
    t.insert(last.to_owned(), toml::Value::Integer(v));
    Ok(())
}

/// `base` with the workload `values` written in (and the host count moved with `hosts_key`),
/// loaded again the way a replay loads a trace's scenario, so the model's checks run on it.
fn with_workload(
    base: &Scenario,
    paths: &[&str],
    values: &[u64],
    hosts_key: Option<&str>,
) -> Result<Scenario, String> {
    let mut s = base.clone();
    for (path, &value) in paths.iter().zip(values) {
        set_param(&mut s.model_params, path, value)?;
        if hosts_key == Some(*path) {
            s.topology.hosts = u32::try_from(value).map_err(|_| format!("{path} = {value} is too large"))?;
        }
    }
    let registry = Registry::empty()
        .with_model(base.model.clone())
        .program(&base.program);
    let mut checked = Scenario::from_text(
        &registry,
        &s.name,
        &s.reference,
        "the shrunk scenario",
        &s.to_toml(),
        &[],
    )
    .map_err(|e| e.to_string())?;
    checked.overrides = base.overrides.clone();
    Ok(checked)
}

/// How `scenario` under `seed` and `plan` fails, if it does. `Err` when the run cannot even
/// be built.
fn failure_of(scenario: &Scenario, seed: u64, plan: &FaultPlan) -> Result<Option<Failure>, String> {
    failure_before(scenario, seed, plan, None).map(|(f, _)| f)
}

/// Events run between looks at the clock when a run may stop early.
const STOP_STEP: u64 = 1024;

/// [`failure_of`], stopped (as holding) once simulated time reaches `stop`, if given: the
/// failure is then the full run's own, as the run up to there is the same. The flag says
/// whether the run was stopped.
fn failure_before(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    stop: Option<Instant>,
) -> Result<(Option<Failure>, bool), String> {
    let mut sim = runner::simulation(scenario, seed, plan)?;
    let Some(stop) = stop else {
        return Ok((quietly(|| sim.run()).failure, false));
    };
    Ok(quietly(|| {
        loop {
            match sim.run_until_event(sim.events().saturating_add(STOP_STEP)) {
                Progress::Finished(report) => return (report.failure, false),
                Progress::Paused if sim.now() >= stop => return (None, true),
                Progress::Paused => {}
            }
        }
    }))
}

/// How far past a safety failure's time its candidates run before they are taken to hold: a
/// quarter of that time, at least 10 s (many rounds of any timeout a model uses).
pub fn stop_margin(failed_at: Instant) -> Duration {
    Duration(failed_at.0 / 4).max(Duration::from_secs(10))
}

/// Where candidates of `failure` may stop, for a failure that can be: a safety violation
/// found when it happened (not blamed on an operation by a check of the history at the end),
/// with the stop before the horizon; `failed_at` is the failure time of the plan shrunk so far.
fn stop_for(failure: &Failure, failed_at: Instant, horizon: Duration) -> Option<Instant> {
    if failure.verdict != Verdict::SafetyViolation || failure.operation.is_some() {
        return None;
    }
    let stop = failed_at.saturating_add(stop_margin(failed_at));
    (stop.0 < horizon.0).then_some(stop)
}

/// Whether `candidate` is the same failure as `original`: same verdict, same property.
fn same(candidate: Option<&Failure>, original: &Failure) -> bool {
    candidate.is_some_and(|f| f.verdict == original.verdict && f.property == original.property)
}

/// Shrinks the run of `scenario` under `seed` and `plan` that failed with `failure`, spending
/// at most `max_tests` re-runs in all: the plan first, then (with `workload`) the model's
/// workload knobs under the shrunk plan, then the horizon, last so that it fits the smallest
/// run (a shorter horizon first would leave a smaller workload less time to fail in). `Err`
/// when the run does not fail to begin with.
pub fn shrink_failure(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    failure: &Failure,
    max_tests: usize,
    workload: bool,
) -> Result<Shrunk, String> {
    shrink_failure_with(
        scenario,
        seed,
        plan,
        failure,
        max_tests,
        workload,
        &|| false,
        &mut |_, _| {},
    )
}

/// [`shrink_failure`] with a time budget and progress: before every re-run `out_of_time` is
/// asked whether to stop (the caller's deadline: nothing here reads a clock, so the same
/// answers give the same result), and `progress(step, test runs so far)` is called, where
/// `step` is `"faults"`, `"workload"` or `"horizon"` (for a progress line).
#[allow(clippy::too_many_arguments)]
pub fn shrink_failure_with(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    failure: &Failure,
    max_tests: usize,
    workload: bool,
    out_of_time: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(&'static str, usize),
) -> Result<Shrunk, String> {
    let tests = std::cell::Cell::new(0usize);
    let progress = std::cell::RefCell::new(progress);
    let tick = |step: &'static str| {
        (progress.borrow_mut())(step, tests.get());
        tests.set(tests.get() + 1);
    };
    let mut setup_error = None;
    let topology = runner::topology(&scenario.topology);
    // The failure time of the plan shrunk so far: kept candidates of a safety failure may
    // fail earlier, and the stop moves with them.
    let failed_at = std::cell::Cell::new(failure.time);
    let stopped = std::cell::Cell::new(0usize);
    let horizon = scenario.limits.horizon;
    let plan_shrink = shrink_plan_before_until(
        plan,
        topology.hosts(),
        failure.time,
        max_tests,
        out_of_time,
        |p| {
            tick("faults");
            let stop = stop_for(failure, failed_at.get(), horizon);
            match failure_before(scenario, seed, p, stop) {
                Ok((f, cut)) => {
                    stopped.set(stopped.get() + usize::from(cut));
                    let t = f.filter(|f| same(Some(f), failure)).map(|f| f.time);
                    if let Some(t) = t {
                        failed_at.set(t);
                    }
                    t
                }
                Err(e) => {
                    setup_error.get_or_insert(e);
                    None
                }
            }
        },
    )
    .map_err(|e| setup_error.unwrap_or_else(|| e.to_string()))?;
    let plan = &plan_shrink.plan;
    let mut budget = max_tests.saturating_sub(plan_shrink.tests);

    let (mut smaller, knobs) = if workload {
        let stop = stop_for(failure, failed_at.get(), horizon);
        let (s, k) = shrink_workload(scenario, seed, plan, failure, stop, budget, out_of_time, &|| {
            tick("workload")
        })?;
        budget = budget.saturating_sub(k.tests);
        (s, Some(k))
    } else {
        (scenario.clone(), None)
    };

    // The smallest run fails at some time; no horizon before it can fail, and it is the
    // first candidate tried. A failure found only when the run ends (a check at the end, such
    // as linearizability) may also fail a shorter run: then the search starts from zero.
    let horizon_before = scenario.limits.horizon;
    let now = failure_of(&smaller, seed, plan)?;
    if !same(now.as_ref(), failure) {
        return Err("the shrunk run no longer fails the same way (is the run deterministic?)".into());
    }
    let failed_at = Duration(now.map_or(failure.time, |f| f.time).as_nanos());
    let floor = if failed_at < horizon_before {
        failed_at
    } else {
        Duration::ZERO
    };
    let (late, runs) = (std::cell::Cell::new(false), std::cell::Cell::new(0usize));
    let (horizon, _) = shrink_horizon(horizon_before, floor, budget.saturating_sub(1), |h| {
        if late.get() || out_of_time() {
            late.set(true);
            return false; // never a false "fails": the horizon stays where it failed
        }
        runs.set(runs.get() + 1);
        let mut s = smaller.clone();
        s.limits.horizon = h;
        tick("horizon");
        failure_of(&s, seed, plan).is_ok_and(|f| same(f.as_ref(), failure))
    });
    smaller.limits.horizon = horizon;
    let out_of_time = plan_shrink.out_of_time || knobs.as_ref().is_some_and(|k| k.out_of_time) || late.get();
    let stopped_early =
        stop_for(failure, failure.time, horizon_before).map(|_| (stop_margin(failure.time), stopped.get()));
    Ok(Shrunk {
        stopped_early,
        out_of_time,
        scenario: smaller,
        plan: plan_shrink,
        workload: knobs,
        horizon_before,
        horizon_tests: runs.get() + 1,
    })
}

/// The workload step: the model's knobs, each as small as the failure allows under `plan`,
/// each candidate stopped at `stop` if given (see [`stop_for`]).
#[allow(clippy::too_many_arguments)]
fn shrink_workload(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    failure: &Failure,
    stop: Option<Instant>,
    budget: usize,
    out_of_time: &dyn Fn() -> bool,
    tick: &dyn Fn(),
) -> Result<(Scenario, KnobShrink), String> {
    let (declared, hosts_key) = (scenario.model.workload_knobs(), scenario.model.hosts_key());
    // Only the knobs this scenario's parameters actually hold (a nested one may be absent).
    let present: Vec<(&str, Knob)> = declared
        .iter()
        .filter_map(|&(path, min)| {
            param(&scenario.model_params, path).map(|value| {
                let knob = Knob {
                    name: path.to_owned(),
                    value,
                    min,
                };
                (path, knob)
            })
        })
        .collect();
    let paths: Vec<&str> = present.iter().map(|(p, _)| *p).collect();
    let knobs: Vec<Knob> = present.into_iter().map(|(_, k)| k).collect();
    let result = shrink_knobs_until(&knobs, budget, out_of_time, |values| {
        tick();
        with_workload(scenario, &paths, values, hosts_key)
            .and_then(|s| failure_before(&s, seed, plan, stop))
            .is_ok_and(|(f, _)| same(f.as_ref(), failure))
    });
    let smaller = if result.reduced.is_empty() {
        scenario.clone()
    } else {
        let values: Vec<u64> = result.knobs.iter().map(|k| k.value).collect();
        with_workload(scenario, &paths, &values, hosts_key)?
    };
    Ok((smaller, result))
}

/// Reads every record block of the trace (checksums, record count, fingerprint against the
/// footer), as replay and export do, so a damaged trace is refused instead of "shrunk".
fn verify_records(path: &std::path::Path) -> Result<(), String> {
    let mut reader = ruckus_sim::trace::TraceReader::open(path).map_err(|e| e.to_string())?;
    while reader.next_event().map_err(|e| e.to_string())?.is_some() {}
    Ok(())
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let opened = open(registry, &args.trace)?;
    verify_records(&args.trace)?;
    let header = opened.reader.header().clone();
    let Some(failure) = opened.reader.footer().failure.clone() else {
        return Err(format!(
            "{}: the recorded run held, so there is nothing to shrink",
            args.trace.display()
        ));
    };
    let scenario = opened.scenario;
    let seed = header.seed;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .trace
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        args.trace.with_file_name(format!("{stem}.shrunk.trace"))
    });
    // Before the long search: where the result goes must be writable.
    crate::output::check_target(&out)?;
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    writeln!(
        io.out,
        "shrinking {}: {} of {} at {}, {} fault actions, horizon {}",
        args.trace.display(),
        failure.verdict.name(),
        failure.property.as_deref().unwrap_or("(no property)"),
        failure.time,
        header.plan.actions.len(),
        scenario.limits.horizon
    )
    .map_err(w)?;
    // On a terminal, one progress line on stderr, redrawn in place and cleared at the end.
    let terminal = io.terminal;
    let err = &mut *io.err;
    let max_tests = args.max_tests;
    let mut progress = |step: &'static str, tests: usize| {
        if terminal {
            let _ = write!(
                err,
                "\r\x1b[2Kshrinking: {step}, {tests} of at most {max_tests} test runs"
            );
            let _ = err.flush();
        }
    };
    let clock = Stopwatch::start();
    // The user's time budget: read between re-runs, never inside one.
    let max_seconds = args.max_time.0 as f64 / 1e9;
    let out_of_time = || clock.seconds() >= max_seconds;
    let shrunk = shrink_failure_with(
        &scenario,
        seed,
        &header.plan,
        &failure,
        args.max_tests,
        !args.keep_workload,
        &out_of_time,
        &mut progress,
    );
    if terminal {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
    let shrunk = shrunk.map_err(|e| format!("{}: {e}", args.trace.display()))?;
    let plan = &shrunk.plan.plan;
    write!(io.out, "{}", shrunk.report(args.max_tests, args.verbose)).map_err(w)?;
    writeln!(
        io.out,
        "{} test runs in all ({:.1} s)",
        shrunk.tests(),
        clock.seconds()
    )
    .map_err(w)?;
    crate::output::check_target(&out)?;
    let mut header = recording::header(&shrunk.scenario, seed, plan);
    header.horizon = Some(shrunk.scenario.limits.horizon);
    let mut sim = runner::simulation(&shrunk.scenario, seed, plan)?;
    header.labels.push(recording::processes_label(&*sim));
    let (report, summary) =
        quietly(|| record_run(&mut *sim, &out, &header, None)).map_err(|e| e.to_string())?;
    writeln!(io.out, "shrunk plan:\n{plan}").map_err(w)?;
    writeln!(
        io.out,
        "{} ({} events) written to {}\nreplay with   {}",
        report.verdict.name(),
        summary.events,
        out.display(),
        shrunk.scenario.replay_trace_command(&out)
    )
    .map_err(w)?;
    Ok(Exit::of_failure(
        report.verdict,
        report.failure.as_ref().map(|f| f.message.as_str()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_read_and_written_by_dotted_path() {
        let mut t: toml::Table =
            toml::from_str("clients = 3\nneg = -1\n[workload.closed]\nconcurrency = 8\n")
                .expect("valid TOML");
        assert_eq!(param(&t, "clients"), Some(3));
        assert_eq!(param(&t, "workload.closed.concurrency"), Some(8));
        assert_eq!(param(&t, "neg"), None, "negative values are not sizes");
        assert_eq!(param(&t, "workload.open.rate"), None);
        set_param(&mut t, "workload.closed.concurrency", 2).unwrap();
        assert_eq!(param(&t, "workload.closed.concurrency"), Some(2));
        assert!(set_param(&mut t, "clients.x", 1).is_err());
        assert!(set_param(&mut t, "clients", u64::MAX).is_err());
    }

    #[test]
    fn a_workload_candidate_is_checked_like_a_replayed_scenario() {
        let registry = Registry::builtin();
        let base = Scenario::load(&registry, "lease_lock_no_fencing", &[]).unwrap();
        let fewer = with_workload(&base, &["clients"], &[2], None).unwrap();
        assert_eq!(param(&fewer.model_params, "clients"), Some(2));
        assert_eq!(fewer.topology.hosts, base.topology.hosts, "spare hosts stay idle");
        // The model rejects zero clients; that candidate is refused, not run.
        let err = with_workload(&base, &["clients"], &[0], None).unwrap_err();
        assert!(err.contains("clients"), "{err}");
        // A hosts knob moves the topology with it, so the two stay consistent.
        let ping = Scenario::load(&registry, "pingpong", &[]).unwrap();
        let smaller = with_workload(&ping, &["hosts"], &[3], Some("hosts")).unwrap();
        assert_eq!(smaller.topology.hosts, 3);
        assert_eq!(param(&smaller.model_params, "hosts"), Some(3));
        let err = with_workload(&ping, &["hosts"], &[1], Some("hosts")).unwrap_err();
        assert!(err.contains("two hosts"), "{err}");
    }

    /// The first of the first 20 seeds of `name`'s sweep whose run fails with a plan of at
    /// least 10 faults: its plan, the failure.
    fn failing(name: &str) -> (Scenario, u64, FaultPlan, Failure) {
        let scenario = Scenario::load(&Registry::builtin(), name, &[]).unwrap();
        (0..20)
            .map(|i| crate::sweep::seed_for(scenario.seed, i))
            .find_map(|seed| {
                let plan = runner::fault_plan(&scenario, seed);
                let failure = runner::run_plan(&scenario, seed, plan.clone()).report.failure?;
                (plan.actions.len() >= 10).then(|| (scenario.clone(), seed, plan, failure))
            })
            .expect("the planted bug fails within 20 seeds")
    }

    #[test]
    fn only_a_safety_failure_found_when_it_happened_lets_candidates_stop() {
        let at = Instant(Duration::from_secs(40).0);
        let horizon = Duration::from_secs(200);
        let mut f = Failure {
            verdict: Verdict::SafetyViolation,
            property: Some("election_safety".into()),
            message: String::new(),
            time: at,
            host: None,
            process: None,
            event_index: 0,
            operation: None,
        };
        assert_eq!(stop_margin(at), Duration::from_secs(10), "at least 10 s");
        assert_eq!(
            stop_margin(Instant(Duration::from_secs(80).0)),
            Duration::from_secs(20)
        );
        assert_eq!(
            stop_for(&f, at, horizon),
            Some(Instant(Duration::from_secs(50).0))
        );
        // The stop follows a kept candidate that failed earlier.
        assert_eq!(
            stop_for(&f, Instant(Duration::from_secs(20).0), horizon),
            Some(Instant(Duration::from_secs(30).0))
        );
        assert_eq!(
            stop_for(&f, at, Duration::from_secs(50)),
            None,
            "not before the horizon"
        );
        f.verdict = Verdict::LivenessFailure;
        assert_eq!(
            stop_for(&f, at, horizon),
            None,
            "a liveness failure comes at a deadline"
        );
        f.verdict = Verdict::SafetyViolation;
        f.operation = Some(Box::new(ruckus_sim::FailedOperation {
            process: ruckus_sim::ProcessId(0),
            description: "get(k0) -> 7".into(),
            invoked: Instant::ZERO,
            completed: Some(at),
            conflicts: Vec::new(),
        }));
        assert_eq!(
            stop_for(&f, at, horizon),
            None,
            "a history checked at the end is blamed on an earlier operation"
        );
    }

    #[test]
    fn candidates_of_a_safety_failure_stop_past_its_time_and_the_result_still_fails() {
        // A long horizon, so that a failure plus the margin ends well before it.
        let overrides = ["limits.horizon = \"120s\"".to_owned()];
        let scenario = Scenario::load(&Registry::builtin(), "lease_lock_no_sync", &overrides).unwrap();
        let (seed, plan, failure) = (0..40)
            .map(|i| crate::sweep::seed_for(scenario.seed, i))
            .find_map(|seed| {
                let plan = runner::fault_plan(&scenario, seed);
                let failure = runner::run_plan(&scenario, seed, plan.clone()).report.failure?;
                let early = failure.time.0 < Duration::from_secs(60).0;
                (early && plan.actions.len() >= 10).then_some((seed, plan, failure))
            })
            .expect("the planted bug fails early within 40 seeds");
        let stop = stop_for(&failure, failure.time, scenario.limits.horizon)
            .expect("a safety failure found when it happened");
        // Stopped well before it fails (a stop is looked at every STOP_STEP events), the run is
        // taken to hold; stopped after, it fails exactly as the full run does.
        let before = failure_before(&scenario, seed, &plan, Some(Instant(failure.time.0 / 4))).unwrap();
        assert_eq!(before, (None, true));
        let after = failure_before(&scenario, seed, &plan, Some(stop)).unwrap();
        assert_eq!(after, (Some(failure.clone()), false));
        // A run that holds ends at the stop, not at the horizon.
        let (held, cut) = failure_before(&scenario, seed, &FaultPlan::default(), Some(stop)).unwrap();
        if held.is_none() {
            assert!(
                cut,
                "a holding run is stopped, not run to {}",
                scenario.limits.horizon
            );
        }
        let shrunk = shrink_failure(&scenario, seed, &plan, &failure, 500, true).unwrap();
        let (margin, stopped) = shrunk.stopped_early.expect("candidates may stop");
        assert_eq!(margin, stop_margin(failure.time));
        assert!(stopped > 0, "{}", shrunk.report(500, false));
        assert!(
            shrunk
                .report(500, false)
                .contains("were stopped there and taken to hold")
        );
        // The result is a real reproduction: its full run fails the same way.
        let again = failure_of(&shrunk.scenario, seed, &shrunk.plan.plan).unwrap();
        assert!(same(again.as_ref(), &failure), "{again:?}");
        assert!(shrunk.plan.plan.actions.len() < plan.actions.len());
    }

    #[test]
    fn a_time_budget_stops_the_search_and_the_report_says_so() {
        let (scenario, seed, plan, failure) = failing("lease_lock_no_sync");
        // No time at all: nothing is tried, and the report names the flag that buys more.
        let none = shrink_failure_with(
            &scenario,
            seed,
            &plan,
            &failure,
            500,
            true,
            &|| true,
            &mut |_, _| {},
        )
        .unwrap();
        assert!(none.out_of_time && none.plan.out_of_time && none.plan.exhausted);
        assert_eq!(none.plan.tests, 0);
        assert_eq!(none.plan.plan, plan, "the plan is kept as it was");
        assert!(
            none.workload
                .as_ref()
                .is_some_and(|w| w.out_of_time && w.tests == 0)
        );
        assert_eq!(none.scenario.limits.horizon, scenario.limits.horizon);
        let report = none.report(500, false);
        assert!(
            report.contains(&format!("kept {} of {}", plan.actions.len(), plan.actions.len()))
                && report.contains("the time budget ran out after 1 test runs")
                && report.contains("raise --max-time"),
            "{report}"
        );
        // Time for three re-runs of the fault step (the deadline is asked before each): the
        // search stops there, with what it found so far, which still fails.
        let asked = std::cell::Cell::new(0);
        let deadline = || {
            asked.set(asked.get() + 1);
            asked.get() > 3
        };
        let some = shrink_failure_with(
            &scenario,
            seed,
            &plan,
            &failure,
            500,
            true,
            &deadline,
            &mut |_, _| {},
        )
        .unwrap();
        assert!(some.out_of_time && some.plan.out_of_time, "{}", some.plan);
        assert!(some.plan.tests <= 3, "{}", some.plan);
        let again = failure_of(&some.scenario, seed, &some.plan.plan).unwrap();
        assert!(same(again.as_ref(), &failure));
        // Without a deadline the same run shrinks to its end.
        let all = shrink_failure_with(
            &scenario,
            seed,
            &plan,
            &failure,
            500,
            true,
            &|| false,
            &mut |_, _| {},
        )
        .unwrap();
        assert!(!all.out_of_time && !all.plan.exhausted, "{}", all.plan);
        assert!(all.plan.plan.actions.len() < plan.actions.len());
        assert!(!all.report(500, false).contains("ran out"));
    }
}
