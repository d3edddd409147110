//! `ruckus` with no arguments: the main job in under a minute, on an embedded scenario.
//!
//! 1. Sweep seeds of the lease lock with a planted bug (the lock server does not sync its
//!    token before granting) until one fails.
//! 2. Re-run that seed with a full trace (same fingerprint: the run is deterministic).
//! 3. Shrink its fault plan to the few actions that still break the same property, then its
//!    workload and horizon.
//! 4. Write the shrunk run as a trace and an HTML timeline.
//! 5. Print the commands that replay it.
//!
//! A step whose machinery is not in this build says so and the tour goes on.

use crate::cli::Io;
use crate::exit::Exit;
use crate::recording;
use crate::registry::Registry;
use crate::sweep::{self, SweepLine, SweepOptions};
use crate::wallclock::Stopwatch;
use std::path::PathBuf;
use std::sync::Mutex;

/// The embedded scenario the tour sweeps.
pub const TOUR_SCENARIO: &str = "lease_lock_no_sync";

/// Flags of `ruckus tour`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Directory for the tour's outputs.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Most seeds to sweep before giving up.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The scenario to tour (a built-in name or a path; default: the embedded tour scenario).
    #[arg(long)]
    pub scenario: Option<String>,
}

/// Runs the tour.
/// The tour runs on its own embedded scenario, whatever models `registry` adds; its printed
/// commands use `registry`'s program name.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let program = registry.program_name().to_owned();
    let default_dir = args.dir.is_none();
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("ruckus-out/tour"));
    let seeds = args.seeds.unwrap_or(200);
    let w = |e: std::io::Error| format!("cannot write the tour: {e}");
    let watch = Stopwatch::start();
    let out = &mut *io.out;
    crate::output::ensure_dir(&dir, default_dir)?;
    let reference = args.scenario.as_deref().unwrap_or(TOUR_SCENARIO);
    let scenario = Registry::builtin()
        .program(&program)
        .scenario(reference, &[])
        .map_err(|e| e.to_string())?;

    writeln!(
        out,
        "ruckus tour: a deterministic simulator finds, shrinks and replays a bug.\n"
    )
    .map_err(w)?;
    writeln!(
        out,
        "The scenario `{}` (built in; `{program} scenarios --show {}` prints it):",
        scenario.name, scenario.name
    )
    .map_err(w)?;
    writeln!(out, "  {}\n", scenario.description).map_err(w)?;

    // 1. Sweep.
    writeln!(
        out,
        "1. Sweep up to {seeds} seeds in parallel, stopping at the first failure"
    )
    .map_err(w)?;
    writeln!(
        out,
        "   $ {program} sweep {} --seeds {seeds} --stop-on-failure",
        scenario.name
    )
    .map_err(w)?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = SweepOptions::untraced(scenario.seed, jobs, true);
    let found: Mutex<Vec<SweepLine>> = Mutex::new(Vec::new());
    let indices: Vec<u64> = (0..seeds).collect();
    let record = |line: &SweepLine| {
        found.lock().unwrap_or_else(|p| p.into_inner()).push(line.clone());
    };
    let mut stats = sweep::run(&scenario, &indices, &options, &record)?;
    // Parallel runs stop at whichever failure finishes first; run what was skipped below the
    // lowest failure found, so the tour always tells the story of the lowest failing run,
    // whatever the machine's timing.
    loop {
        let done: Vec<(u64, bool)> = found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| (l.index, l.run.verdict != "held"))
            .collect();
        let Some(lowest) = done.iter().filter(|(_, failed)| *failed).map(|(i, _)| *i).min() else {
            break;
        };
        let missing: Vec<u64> = (0..lowest)
            .filter(|i| !done.iter().any(|(d, _)| d == i))
            .collect();
        if missing.is_empty() {
            break;
        }
        let more = sweep::run(&scenario, &missing, &options, &record)?;
        stats.finished += more.finished;
    }
    let mut lines = found.into_inner().unwrap_or_else(|p| p.into_inner());
    lines.sort_by_key(|l| l.index);
    let Some(failure) = lines.iter().find(|l| l.run.verdict != "held").cloned() else {
        writeln!(
            out,
            "   {} runs, no failure: the planted bug was not found (unexpected).",
            stats.finished
        )
        .map_err(w)?;
        return Ok(Exit::Held);
    };
    let seed = failure.run.seed;
    let property = failure.run.property.clone().unwrap_or_default();
    writeln!(
        out,
        "   {} runs; run {} (seed {seed}) fails `{property}` at {:.3}s with {} fault actions:\n   {}\n",
        stats.finished,
        failure.index,
        failure.run.failure_time_ns.unwrap_or(0) as f64 / 1e9,
        failure.run.faults,
        failure.run.message.as_deref().unwrap_or_default()
    )
    .map_err(w)?;

    // 2. Full trace of the failing seed.
    let full = dir.join("failure.trace");
    writeln!(out, "2. Re-run seed {seed} with a full trace").map_err(w)?;
    writeln!(
        out,
        "   $ {program} run {} --seed {seed} --trace {}",
        scenario.name,
        full.display()
    )
    .map_err(w)?;
    let expected = u64::from_str_radix(&failure.run.fingerprint, 16).ok();
    let (outcome, summary) = recording::record(&scenario, seed, &full, expected)?;
    writeln!(
        out,
        "   {} events, {} bytes ({:.1} per event); fingerprint {:016x} matches the sweep's\n",
        summary.events,
        summary.bytes,
        summary.bytes_per_event(),
        outcome.report.fingerprint
    )
    .map_err(w)?;

    // 3. Shrink.
    writeln!(
        out,
        "3. Shrink the fault plan, the workload and the horizon while `{property}` still fails"
    )
    .map_err(w)?;
    writeln!(
        out,
        "   $ {program} shrink {} -o {}",
        full.display(),
        dir.join("shrunk.trace").display()
    )
    .map_err(w)?;
    let failure = outcome
        .report
        .failure
        .as_ref()
        .ok_or("the traced re-run of the failing seed held")?;
    let shrunk = super::shrink::shrink_failure(&scenario, seed, &outcome.plan, failure, 400, true)?;
    for line in shrunk.report(400, false).lines() {
        writeln!(out, "   {line}").map_err(w)?;
    }
    writeln!(out, "   the faults that remain:").map_err(w)?;
    for line in shrunk.plan.plan.to_string().lines() {
        writeln!(out, "   {line}").map_err(w)?;
    }
    let small = shrunk.scenario.clone();
    let small_trace = dir.join("shrunk.trace");
    let (small_outcome, small_summary) =
        recording::record_plan(&small, seed, Some(shrunk.plan.plan.clone()), &small_trace, None)?;
    writeln!(
        out,
        "   shrunk run: {} events, still `{}` of `{property}`; trace {}\n",
        small_summary.events,
        small_outcome.report.verdict.name(),
        small_trace.display()
    )
    .map_err(w)?;

    // 4. Timeline.
    writeln!(out, "4. Export the shrunk run as an HTML timeline").map_err(w)?;
    let html = dir.join("shrunk.html");
    let mut warnings: Vec<u8> = Vec::new();
    match super::export::export_with_payloads(
        &Registry::builtin(),
        &small_trace,
        &html,
        crate::export::Format::Html,
        &mut warnings,
    )
    .map(|()| html.clone())
    {
        Ok(path) => {
            out.write_all(&warnings).map_err(w)?;
            writeln!(
                out,
                "   wrote {} (open it in a browser; it needs no network)\n",
                path.display()
            )
            .map_err(w)?;
        }
        Err(why) => writeln!(out, "   not available in this build: {why}\n").map_err(w)?,
    }

    // 5. Replay.
    writeln!(out, "5. Replay it, bit for bit, as often as you like:").map_err(w)?;
    writeln!(out, "   $ {}", scenario.replay_trace_command(&small_trace)).map_err(w)?;
    writeln!(
        out,
        "   $ {}   (the original, unshrunk run)",
        scenario.replay_command(seed)
    )
    .map_err(w)?;
    writeln!(
        out,
        "\nTour done in {:.3}s. Outputs are in {}/.",
        watch.seconds(),
        dir.display()
    )
    .map_err(w)?;
    writeln!(
        out,
        "Next: `{program} scenarios`, `{program} run pingpong`, `{program} --help`."
    )
    .map_err(w)?;
    Ok(Exit::Held)
}
