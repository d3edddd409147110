//! `ruckus shrink FILE`: make a recorded failure small — fewer faults, shorter faults, a
//! shorter horizon — while the same property still fails, and save it as a new trace.
//!
//! "The same failure" means the same verdict and the same property name. Each candidate is a
//! full re-run of the scenario from the trace header with the candidate plan and horizon.

use super::replay::open;
use crate::cli::Io;
use crate::exit::Exit;
use crate::recording;
use crate::registry::Model;
use crate::runner::{self, SimVisitor, quietly};
use crate::scenario::{Scenario, shell_quote};
use ruckus_sim::shrink::shrink_run;
use ruckus_sim::trace::{TraceSummary, record_run};
use ruckus_sim::{Duration, FaultPlan, RunReport, Sim};
use std::path::{Path, PathBuf};

/// Flags of `ruckus shrink`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace of a failing run.
    pub trace: PathBuf,
    /// Where to write the shrunk run's trace (default: FILE with `.shrunk.trace`).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Most re-runs to spend.
    #[arg(long, default_value_t = 500)]
    pub max_tests: usize,
}

struct RunPlan;

impl SimVisitor for RunPlan {
    type Output = RunReport;
    fn visit<M: Model>(self, mut sim: Sim<M::Process>, _plan: &FaultPlan) -> RunReport {
        quietly(|| sim.run())
    }
}

struct RecordPlan<'a> {
    scenario: &'a Scenario,
    seed: u64,
    path: &'a Path,
    horizon: Duration,
}

impl SimVisitor for RecordPlan<'_> {
    type Output = Result<(RunReport, TraceSummary), String>;
    fn visit<M: Model>(self, mut sim: Sim<M::Process>, plan: &FaultPlan) -> Self::Output {
        let mut header = recording::header(self.scenario, self.seed, plan);
        header.horizon = Some(self.horizon);
        quietly(|| record_run(&mut sim, self.path, &header, None)).map_err(|e| e.to_string())
    }
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>) -> Result<Exit, String> {
    let opened = open(&args.trace)?;
    let header = opened.reader.header().clone();
    let Some(failure) = opened.reader.footer().failure.clone() else {
        return Err(format!(
            "{}: the recorded run held, so there is nothing to shrink",
            args.trace.display()
        ));
    };
    let scenario = opened.scenario;
    let seed = header.seed;
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
    let with_horizon = |h: Duration| {
        let mut s = scenario.clone();
        s.limits.horizon = h;
        s
    };
    let mut setup_error = None;
    let still_fails = |plan: &FaultPlan, horizon: Duration| -> bool {
        match runner::with_sim(&with_horizon(horizon), seed, Some(plan.clone()), RunPlan) {
            Ok(r) => r
                .failure
                .as_ref()
                .is_some_and(|f| f.verdict == failure.verdict && f.property == failure.property),
            Err(e) => {
                setup_error.get_or_insert(e);
                false
            }
        }
    };
    let result = shrink_run(
        &header.plan,
        scenario.limits.horizon,
        failure.time,
        args.max_tests,
        still_fails,
    )
    .map_err(|e| match &setup_error {
        Some(s) => format!("{}: {s}", args.trace.display()),
        None => format!("{}: {e}", args.trace.display()),
    })?;
    write!(io.out, "{result}").map_err(w)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .trace
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        args.trace.with_file_name(format!("{stem}.shrunk.trace"))
    });
    let shrunk = with_horizon(result.horizon);
    let visit = RecordPlan {
        scenario: &shrunk,
        seed,
        path: &out,
        horizon: result.horizon,
    };
    let (report, summary) = runner::with_sim(&shrunk, seed, Some(result.plan.plan.clone()), visit)??;
    writeln!(io.out, "shrunk plan:\n{}", result.plan.plan).map_err(w)?;
    writeln!(
        io.out,
        "{} ({} events) written to {}\nreplay with   ruckus replay {}",
        report.verdict.name(),
        summary.events,
        out.display(),
        shell_quote(&out.display().to_string())
    )
    .map_err(w)?;
    Ok(Exit::of(report.verdict))
}
