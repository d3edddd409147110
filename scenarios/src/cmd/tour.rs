//! `ruckus` with no arguments: the main job in under a minute, on an embedded scenario.
//!
//! 1. Sweep seeds of the lease lock with a planted bug (the lock server does not sync its
//!    token before granting) until one fails.
//! 2. Re-run that seed with a full trace (same fingerprint: the run is deterministic).
//! 3. Shrink its fault plan to the few actions that still break the same property, then its
//!    workload and horizon.
//! 4. Write the shrunk run as a trace and an HTML timeline.
//! 5. Print the commands that replay it.
//! 6. Run the whole platform (scheduler, discovery, a three-tier service) through a zone
//!    outage, print how it degraded and healed, and write the run's HTML report.
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

/// The embedded scenario of the tour's last step: the platform through a zone outage.
pub const TOUR_PLATFORM: &str = "platform_zone_outage";

/// The platform's figures the tour prints, with what they mean, in this order.
const PLATFORM_FIGURES: &[(&str, &str)] = &[
    ("success_ratio", "of client requests succeeded"),
    ("requests_failed", "requests failed for good (after retries)"),
    ("time_to_first_error_s", "s from a failure to the first client error"),
    ("time_to_stop_routing_s", "s until callers stopped routing to a lost instance"),
    ("replacement_running_s", "s from the scheduler declaring an instance lost to its replacement running"),
    ("time_to_desired_count_s", "s until every tier was back at its count"),
    ("time_below_slo_s", "s below the success SLO in all"),
    ("mttr_s", "s to recover, mean over outages"),
];

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
    // 6. The platform heals itself.
    platform_step(out, &program, &dir)?;

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

/// Step 6: the platform through a zone outage, as a few lines and an HTML report.
fn platform_step(out: &mut dyn std::io::Write, program: &str, dir: &std::path::Path) -> Result<(), String> {
    use crate::over_time::{Buckets, success_rate};
    use ruckus_sim::Duration;
    let w = |e: std::io::Error| format!("cannot write the tour: {e}");
    let scenario = Registry::builtin()
        .program(program)
        .scenario(TOUR_PLATFORM, &[])
        .map_err(|e| e.to_string())?;
    let html = dir.join("platform.html");
    writeln!(
        out,
        "6. The whole stack heals itself: the platform loses a zone under steady load"
    )
    .map_err(w)?;
    writeln!(out, "   $ {program} run {} --html {}", scenario.name, html.display()).map_err(w)?;
    writeln!(out, "   {}", scenario.description).map_err(w)?;
    let outcome = crate::runner::run(&scenario, scenario.seed);
    let report = &outcome.report;
    writeln!(out, "   {}", crash_summary(&outcome.plan)).map_err(w)?;
    let metrics = &report.metrics;
    let width = Duration::from_secs(10);
    let buckets = Buckets::over(report.end_time, width);
    let rates = success_rate(metrics.timed("requests.ok"), metrics.timed("requests.failed"), buckets);
    // The first 20 s are the platform starting (placing, registering): not shown.
    let skip = 2;
    writeln!(out, "   client success rate per 10 s from {} s, in %:", skip * 10).map_err(w)?;
    for (row, chunk) in rates[skip.min(rates.len())..].chunks(11).enumerate() {
        let cells: Vec<String> = chunk
            .iter()
            .map(|r| if r.is_finite() { format!("{:5.1}", r * 100.0) } else { "    -".into() })
            .collect();
        writeln!(out, "   {:>5} s {}", (skip + row * 11) * 10, cells.join(" ")).map_err(w)?;
    }
    let figures = crate::explore::figures::figures(
        &scenario.model,
        &scenario.model_params,
        metrics,
        report.end_time,
    );
    for (name, meaning) in PLATFORM_FIGURES {
        if let Some(v) = figures.get(*name) {
            let shown = if *name == "success_ratio" {
                format!("{:.2}%", v * 100.0)
            } else if name.ends_with("_s") {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            };
            writeln!(out, "   {shown:>8} {meaning}").map_err(w)?;
        }
    }
    let verdict = match &report.failure {
        None => "held: every tier back at its count, the catalog lists exactly the live instances, the clients within the SLO".to_owned(),
        Some(f) => format!(
            "{} `{}` at {}: {}",
            report.verdict.name(),
            f.property.as_deref().unwrap_or_default(),
            f.time,
            f.message
        ),
    };
    writeln!(out, "   verdict {verdict}").map_err(w)?;
    let page = crate::run_report::html(&scenario.name, &outcome, &scenario.replay_command(scenario.seed));
    std::fs::write(&html, page).map_err(|e| format!("cannot write {}: {e}", html.display()))?;
    writeln!(
        out,
        "   wrote {} (success rate and latency over time, the outage shaded)",
        html.display()
    )
    .map_err(w)?;
    Ok(())
}

/// One line for a plan of host crashes sharing a start and a length (a zone outage), else the
/// plan's own text on one line per fault.
fn crash_summary(plan: &ruckus_sim::FaultPlan) -> String {
    use ruckus_sim::Fault;
    let crashes: Vec<_> = plan
        .actions
        .iter()
        .filter_map(|a| match a.fault {
            Fault::CrashHost { host, down_for } => Some((a.at, down_for, host)),
            _ => None,
        })
        .collect();
    match crashes.first() {
        Some(&(at, down_for, _))
            if crashes.len() == plan.actions.len()
                && crashes.iter().all(|c| c.0 == at && c.1 == down_for) =>
        {
            let hosts: Vec<String> = crashes.iter().map(|c| c.2.to_string()).collect();
            format!(
                "hosts {} down from {} to {}",
                hosts.join(", "),
                crate::runner::seconds(at - ruckus_sim::Instant::ZERO),
                crate::runner::seconds(at.saturating_add(down_for) - ruckus_sim::Instant::ZERO)
            )
        }
        _ => plan.to_string().trim_end().replace('\n', "\n   "),
    }
}
