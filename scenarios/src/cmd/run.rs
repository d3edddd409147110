//! `ruckus run SCENARIO`: one run, its verdict, and how to replay it.

use crate::cli::Io;
use crate::exit::Exit;
use crate::recording;
use crate::registry::Registry;
use crate::runner::{self, Outcome, RunSummary};
use crate::wallclock::Stopwatch;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Flags of `ruckus run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A built-in scenario name (see `ruckus scenarios`) or a path to a scenario file.
    pub scenario: String,
    /// The seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write a full trace of the run to FILE (for replay, shrink and export).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Also write an HTML report of the run over time to FILE: success rate, latency and rates
    /// per second, with the fault windows shaded and the heal and the model's moments marked.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Override a scenario value by dotted path, e.g. --set faults.enabled=true (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// `--json` output.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    #[serde(flatten)]
    run: RunSummary,
    wall_time_s: f64,
    events_per_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
    /// Why a liveness failure may be the horizon's (see `runner::horizon_warning`).
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let scenario = registry
        .scenario(&args.scenario, &args.overrides)
        .map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or(scenario.seed);
    if let Some(path) = &args.html {
        crate::output::check_target(path)?;
    }
    let watch = Stopwatch::start();
    let mut outcome: Outcome = match &args.trace {
        None => runner::run(&scenario, seed),
        Some(path) => recording::record(&scenario, seed, path, None)?.0,
    };
    let wall = watch.seconds();
    if !args.json {
        runner::events_up_to_failure(&scenario, &mut outcome);
    }
    let warning = runner::horizon_warning(&scenario, &outcome);
    let report = &outcome.report;
    let rate = if wall > 0.0 {
        report.events as f64 / wall
    } else {
        0.0
    };
    let failed = report.failure.is_some();
    let replay = match (&args.trace, failed) {
        (Some(p), _) => Some(scenario.replay_trace_command(p)),
        (None, true) => Some(scenario.replay_command(seed)),
        (None, false) => None,
    };
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    if let Some(path) = &args.html {
        let again = scenario.replay_command(seed);
        let page = crate::run_report::html(&scenario.name, &outcome, replay.as_deref().unwrap_or(&again));
        crate::output::write_file(path, |f| f.write_all(page.as_bytes()))?;
    }
    if args.json {
        let json = JsonReport {
            scenario: &scenario.name,
            run: outcome.summary(),
            wall_time_s: wall,
            events_per_s: rate,
            trace: args.trace.as_ref().map(|p| p.display().to_string()),
            replay,
            warning: warning.clone(),
        };
        let text = serde_json::to_string(&json).map_err(|e| e.to_string())?;
        writeln!(io.out, "{text}").map_err(w)?;
    } else {
        let out = &mut io.out;
        writeln!(out, "scenario      {} (model {})", scenario.name, scenario.model).map_err(w)?;
        writeln!(out, "seed          {seed}").map_err(w)?;
        writeln!(out, "faults        {} planned", outcome.plan.actions.len()).map_err(w)?;
        writeln!(
            out,
            "events        {} ({} deliveries)",
            report.events, report.deliveries
        )
        .map_err(w)?;
        writeln!(
            out,
            "virtual time  {}",
            runner::seconds(report.end_time - ruckus_sim::Instant::ZERO)
        )
        .map_err(w)?;
        writeln!(out, "wall time     {wall:.3}s ({:.2} M events/s)", rate / 1e6).map_err(w)?;
        writeln!(out, "fingerprint   {:016x}", report.fingerprint).map_err(w)?;
        writeln!(out, "verdict       {}", report.verdict.name()).map_err(w)?;
        if !report.probes.is_empty() {
            // The coverage probes reached, in first-hit order (as `--json` lists them).
            let names: Vec<&str> = report.probes.iter().map(|p| p.name.as_str()).collect();
            writeln!(out, "probes        {}", names.join(", ")).map_err(w)?;
        }
        if failed {
            writeln!(out, "\n{report}").map_err(w)?;
            // Rebuilt (setup only) to say which process each kill hits.
            let plan = match runner::simulation(&scenario, seed, &outcome.plan) {
                Ok(sim) => runner::plan_text(&outcome.plan, &*sim, &report.processes),
                Err(_) => outcome.plan.to_string(),
            };
            writeln!(out, "fault plan:\n{plan}").map_err(w)?;
        }
        if let Some(t) = &args.trace {
            writeln!(out, "trace         {}", t.display()).map_err(w)?;
            // A failure placed before the end: the state right after its event.
            if let Some(f) = report
                .failure
                .as_ref()
                .filter(|f| f.event_index + 1 < report.events)
            {
                let at = format!(
                    "{} --stop-at {}",
                    scenario.replay_trace_command(t),
                    f.event_index + 1
                );
                writeln!(out, "state there   {at}").map_err(w)?;
            }
        }
        if let Some(h) = &args.html {
            writeln!(out, "report        {}", h.display()).map_err(w)?;
        }
        if let Some(r) = &replay {
            writeln!(out, "replay with   {r}").map_err(w)?;
        }
    }
    if let Some(warning) = &warning {
        writeln!(io.err, "warning: {warning}").map_err(w)?;
    }
    Ok(Exit::of_failure(
        report.verdict,
        report.failure.as_ref().map(|f| f.message.as_str()),
    ))
}
