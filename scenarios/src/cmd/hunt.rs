//! `ruckus hunt SCENARIO`: search for a failure with coverage-guided fault plans (or plain
//! seeds with `--random`), stop at the first one, and write its trace.

use crate::cli::Io;
use crate::exit::Exit;
use crate::guided::{self, Strategy};
use crate::recording;
use crate::registry::Registry;
use crate::wallclock::Stopwatch;
use std::path::PathBuf;

/// Flags of `ruckus hunt`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The guided search keeps every run that reached a coverage probe, or a pair of probes together,
that no earlier run had, and mutates those runs' fault plans: moves, stretches, duplicates and
retargets faults, combines two plans, and drives two hosts' clocks to the profile's drift bound in
opposite directions. Its first 8 runs are the sweep's first 8; after that one run in five is the
sweep's next seed. Every choice derives from the base seed, so the same --seed gives the same
runs whatever --jobs is. A failure's trace holds its plan: `ruckus replay` and `ruckus shrink`
take it like a sweep's.")]
pub struct Args {
    /// A built-in scenario name or a path to a scenario file.
    pub scenario: String,
    /// Most runs to make.
    #[arg(long, default_value_t = 200)]
    pub runs: u64,
    /// Base seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Plain seeds instead (the sweep's runs in order, as `sweep --stop-on-failure`), to compare.
    #[arg(long)]
    pub random: bool,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where the failing run's trace goes.
    #[arg(long, value_name = "DIR", default_value = super::sweep::DEFAULT_TRACE_DIR)]
    pub trace_dir: PathBuf,
    /// Do not write a trace of the failing run.
    #[arg(long)]
    pub no_trace: bool,
    /// One line per run: its seed, faults, origin, probes and verdict.
    #[arg(long, short)]
    pub verbose: bool,
    /// Override a scenario value by dotted path (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let scenario = registry
        .scenario(&args.scenario, &args.overrides)
        .map_err(|e| e.to_string())?;
    crate::limits::runs("--runs", args.runs)?;
    let jobs = crate::limits::jobs(args.jobs)?;
    let base_seed = args.seed.unwrap_or(scenario.seed);
    let strategy = if args.random {
        Strategy::Random
    } else {
        Strategy::Guided
    };
    if !args.no_trace {
        let default = args.trace_dir == std::path::Path::new(super::sweep::DEFAULT_TRACE_DIR);
        crate::output::ensure_dir(&args.trace_dir, default)?;
    }
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    writeln!(
        io.out,
        "hunt of {} ({}, base seed {base_seed}, at most {} runs)",
        scenario.name,
        if args.random { "random seeds" } else { "guided" },
        args.runs
    )
    .map_err(w)?;
    let watch = Stopwatch::start();
    let mut lines = Vec::new();
    let verbose = args.verbose;
    let result = guided::hunt(&scenario, strategy, base_seed, args.runs, jobs, &mut |n, c, o| {
        if verbose {
            let probes: Vec<&str> = o.report.probes.iter().map(|p| p.name.as_str()).collect();
            lines.push(format!(
                "  run {n:>4}  seed {:<20} {:>4} faults  {:<18} {}  [{}]",
                c.seed,
                c.plan.actions.len(),
                o.report.verdict.name(),
                c.origin,
                probes.join(", ")
            ));
        }
    })?;
    let wall = watch.seconds();
    for l in &lines {
        writeln!(io.out, "{l}").map_err(w)?;
    }
    let coverage = if args.random {
        format!(
            "{} probes, {} pairs of probes reached",
            result.probes, result.pairs
        )
    } else {
        format!(
            "{} probes, {} pairs of probes reached; corpus of {} plans",
            result.probes, result.pairs, result.corpus
        )
    };
    let Some(found) = result.found else {
        writeln!(io.out, "no failure in {} runs ({coverage})", result.runs).map_err(w)?;
        writeln!(io.out, "{}", speed(result.runs, wall, jobs)).map_err(w)?;
        return Ok(Exit::Held);
    };
    let report = &found.outcome.report;
    let failure = report.failure.as_ref();
    writeln!(
        io.out,
        "found {}{} at run {} of {} ({coverage})",
        report.verdict.name(),
        failure
            .and_then(|f| f.property.as_ref())
            .map_or(String::new(), |p| format!(" of `{p}`")),
        found.runs,
        args.runs
    )
    .map_err(w)?;
    if let Some(f) = failure {
        writeln!(io.out, "  {}", f.message.lines().next().unwrap_or_default()).map_err(w)?;
    }
    writeln!(
        io.out,
        "  seed {}, {} faults, {}",
        found.candidate.seed,
        found.candidate.plan.actions.len(),
        found.candidate.origin
    )
    .map_err(w)?;
    writeln!(io.out, "{}", speed(result.runs, wall, jobs)).map_err(w)?;
    if !args.no_trace {
        let seed = found.candidate.seed;
        let name = crate::sweep::trace_file_name(&scenario, seed)
            .replace(".trace", &format!("-hunt-{}.trace", found.runs));
        let path = args.trace_dir.join(name);
        recording::record_plan(
            &scenario,
            seed,
            Some(found.candidate.plan.clone()),
            &path,
            Some(report.fingerprint),
        )?;
        let program = registry.program_name();
        let quoted = crate::scenario::shell_quote(&path.display().to_string());
        writeln!(io.out, "trace:  {}", path.display()).map_err(w)?;
        writeln!(io.out, "replay: {program} replay {quoted}").map_err(w)?;
        writeln!(io.out, "shrink: {program} shrink {quoted}").map_err(w)?;
    }
    Ok(Exit::of_failure(
        report.verdict,
        failure.map(|f| f.message.as_str()),
    ))
}

fn speed(runs: u64, wall: f64, jobs: usize) -> String {
    let rate = if wall > 0.0 { runs as f64 / wall } else { 0.0 };
    format!("{runs} runs in {wall:.2}s on {jobs} jobs = {rate:.1} runs/s")
}
