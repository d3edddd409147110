//! `ruckus sweep SCENARIO --seeds N`: many seeds in parallel, one JSON line per seed.

use crate::cli::Io;
use crate::exit::Exit;
use crate::registry::Registry;
use crate::sweep::{self, ProbeCoverage, Shard, SweepLine, SweepOptions};
use crate::wallclock::Stopwatch;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where failing runs' traces go unless `--trace-dir` says otherwise.
pub const DEFAULT_TRACE_DIR: &str = "ruckus-out/traces";

/// Flags of `ruckus sweep`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Run i of the sweep (i from --start to --start+--seeds-1) uses a seed derived from the base seed
and i alone, so shards, job counts and resumed sweeps all give the same line for the same i.
Lines are flushed as runs finish; an interrupted sweep keeps what it finished and --resume skips
those. Failing seeds are re-run with a full trace in --trace-dir, and their lines carry the trace
path and a replay command.

Sharding across machines: give each machine --shard K/N (K from 0), or --shard-from-env N to
read K from JOB_COMPLETION_INDEX (Kubernetes indexed Job), NOMAD_ALLOC_INDEX (Nomad) or
SLURM_ARRAY_TASK_ID (Slurm array, numbered from 0); then `ruckus merge` the outputs.")]
pub struct Args {
    /// A built-in scenario name or a path to a scenario file.
    pub scenario: String,
    /// Number of runs.
    #[arg(long)]
    pub seeds: u64,
    /// Index of the first run.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Base seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: the number of cores). Each run is single-threaded.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write result lines to FILE (JSON Lines) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Continue the sweep in --out: skip runs already there, append the rest.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Run only shard K of N (runs whose index is K modulo N).
    #[arg(long, value_name = "K/N", conflicts_with = "shard_from_env")]
    pub shard: Option<String>,
    /// Run one shard of N, its index taken from JOB_COMPLETION_INDEX, NOMAD_ALLOC_INDEX or SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "N")]
    pub shard_from_env: Option<u64>,
    /// Start no new runs after the first failure.
    #[arg(long)]
    pub stop_on_failure: bool,
    /// Where failing runs' traces go (created if missing; only the default gets parents made).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_TRACE_DIR)]
    pub trace_dir: PathBuf,
    /// Do not re-run failures with a full trace.
    #[arg(long)]
    pub no_traces: bool,
    /// Write at most N traces of failing runs (counting those of a resumed sweep); the other
    /// failing runs keep their replay command.
    #[arg(long, value_name = "N", default_value_t = sweep::DEFAULT_MAX_TRACES)]
    pub max_traces: u64,
    /// Stop writing traces once they take this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = sweep::DEFAULT_MAX_TRACE_MB)]
    pub max_trace_mb: u64,
    /// Override a scenario value by dotted path (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let scenario = registry
        .scenario(&args.scenario, &args.overrides)
        .map_err(|e| e.to_string())?;
    crate::limits::runs("--seeds", args.seeds)?;
    let end = args
        .start
        .checked_add(args.seeds)
        .ok_or("--start plus --seeds overflows")?;
    let jobs = crate::limits::jobs(args.jobs)?;
    let shard = match (&args.shard, args.shard_from_env) {
        (Some(s), _) => Some(Shard::parse(s)?),
        (None, Some(n)) => Some(Shard::from_env(n, |k| std::env::var(k).ok())?),
        (None, None) => None,
    };
    let base_seed = args.seed.unwrap_or(scenario.seed);
    let config = scenario.config_hash();

    if !args.no_traces {
        // An unusable trace directory is bad input now, not a missing trace per failing run.
        let default = args.trace_dir == std::path::Path::new(DEFAULT_TRACE_DIR);
        crate::output::ensure_dir(&args.trace_dir, default)?;
        if args.resume {
            let removed = sweep::remove_stale_partials(&args.trace_dir)?;
            if removed > 0 {
                writeln!(
                    io.err,
                    "note: removed {removed} unfinished trace files (*.partial) of an interrupted sweep from {}",
                    args.trace_dir.display()
                )
                .map_err(|e| e.to_string())?;
            }
        }
    }
    let mut done: Vec<SweepLine> = Vec::new();
    // Opened once: read, cut back to its last whole line and appended to through this handle.
    let mut file_sink = None;
    if let Some(path) = &args.out {
        let file = crate::output::open_for_append(path)?;
        let existing = sweep::read_output_from(&file, path)?;
        if !args.resume && !existing.lines.is_empty() {
            return Err(format!(
                "{} already holds {} results; pass --resume to continue that sweep, or choose another --out",
                path.display(),
                existing.lines.len()
            ));
        }
        if existing.duplicates > 0 {
            writeln!(
                io.err,
                "note: {}: {} repeated result lines counted once",
                path.display(),
                existing.duplicates
            )
            .map_err(|e| e.to_string())?;
        }
        for line in &existing.lines {
            if line.config != config {
                return Err(format!(
                    "{}: run {} was written for a different scenario or overrides (config {} here, {} in the file)",
                    path.display(),
                    line.index,
                    config,
                    line.config
                ));
            }
            let expected = sweep::seed_for(base_seed, line.index);
            if line.run.seed != expected {
                return Err(format!(
                    "{}: run {} has seed {} but this sweep's base seed gives {expected}; pass the original --seed",
                    path.display(),
                    line.index,
                    line.run.seed
                ));
            }
        }
        // Drop a line cut off mid-write, so appended lines start on a fresh line.
        file.set_len(existing.valid_len)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        done = existing.lines;
        file_sink = Some(file);
    }
    let finished: BTreeSet<u64> = done.iter().map(|l| l.index).collect();
    let todo: Vec<u64> = (args.start..end)
        .filter(|i| shard.is_none_or(|s| s.owns(*i)) && !finished.contains(i))
        .collect();

    // Traces a resumed sweep already wrote count against the budget.
    let kept: Vec<u64> = done
        .iter()
        .filter_map(|l| l.trace.as_ref())
        .filter_map(|t| std::fs::metadata(t).ok())
        .map(|m| m.len())
        .collect();
    let options = SweepOptions {
        trace_dir: (!args.no_traces).then(|| args.trace_dir.clone()),
        max_traces: args.max_traces,
        max_trace_bytes: args.max_trace_mb.saturating_mul(1 << 20),
        traces_kept: kept.len() as u64,
        trace_bytes_kept: kept.iter().sum(),
        ..SweepOptions::untraced(base_seed, jobs, args.stop_on_failure)
    };
    let terminal = io.terminal;
    let bar = terminal.then(|| progress_bar(todo.len() as u64));
    let new_lines: Mutex<Vec<SweepLine>> = Mutex::new(Vec::new());
    let write_error: Mutex<Option<String>> = Mutex::new(None);
    let watch = Stopwatch::start();
    let stats = {
        let sink: Mutex<&mut (dyn Write + Send)> = Mutex::new(match &mut file_sink {
            Some(f) => f,
            None => &mut *io.out,
        });
        let on_line = |line: &SweepLine| {
            let text = line.to_json();
            {
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = writeln!(s, "{text}").and_then(|()| s.flush()) {
                    write_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(format!("cannot write a result line: {e}"));
                }
            }
            new_lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.clone());
        };
        let failing = std::sync::atomic::AtomicU64::new(0);
        let on_finished = |failed: bool| {
            let failures = failing.fetch_add(u64::from(failed), std::sync::atomic::Ordering::Relaxed)
                + u64::from(failed);
            if let Some(b) = &bar {
                b.set_message(format!("{failures} failing"));
                b.inc(1);
            }
        };
        sweep::run_reporting(&scenario, &todo, &options, &on_line, &on_finished)?
    };
    let wall = watch.seconds();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = write_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut all = done;
    all.extend(new_lines.into_inner().unwrap_or_else(|p| p.into_inner()));
    all.sort_by_key(|l| l.index);

    let summary_to_out = args.out.is_some();
    let coverage = sweep::coverage(&all, scenario.model.probes(), &scenario.coverage.require);
    let report = Summary {
        title: format!(
            "sweep of {} ({} runs{}, base seed {base_seed})",
            scenario.name,
            all.len(),
            shard.map_or(String::new(), |s| format!(", shard {}/{}", s.index, s.count)),
        ),
        lines: &all,
        ran_now: stats.finished,
        skipped: stats.skipped,
        events_now: stats.events,
        wall_s: Some(wall),
        jobs: Some(jobs),
        coverage: &coverage,
    }
    .render();
    let mut report = report;
    let unreached = sweep::unreached_required(&coverage);
    let mut exit = Exit::worst(all.iter().map(SweepLine::exit));
    if !unreached.is_empty() {
        if let Some(s) = shard {
            // One shard's runs are not the sweep: coverage is judged over all of them.
            report.push_str(&format!(
                "note: this shard ({}/{}) reached none of the required probes {}; coverage is judged over the whole sweep\n",
                s.index,
                s.count,
                unreached.join(", ")
            ));
        } else {
            report.push_str(&sweep::uncovered_message(&scenario, &unreached, all.len()));
            report.push('\n');
            exit = Exit::worst([exit, Exit::Uncovered]);
        }
    }
    if stats.untraced_failures > 0 {
        let example = all
            .iter()
            .find(|l| l.run.verdict != "held" && l.trace.is_none())
            .and_then(|l| l.replay.clone())
            .unwrap_or_else(|| scenario.replay_command(base_seed));
        report.push_str(&format!(
            "{} failing runs have no trace (at most --max-traces {} and --max-trace-mb {} per sweep); record one with `{example} --trace FILE`\n",
            stats.untraced_failures, args.max_traces, args.max_trace_mb
        ));
    }
    // A liveness failure judged at a horizon before its deadline: say so once, for the first.
    let warnings: Vec<(u64, String)> = all
        .iter()
        .filter(|l| l.run.verdict == "liveness_failure")
        .filter_map(|l| runner_warning(&scenario, l).map(|w| (l.run.seed, w)))
        .collect();
    if let Some((seed, warning)) = warnings.first() {
        report.push_str(&format!(
            "warning: {} of the liveness failures came at the horizon, before their deadline; seed {seed}: {warning}\n",
            warnings.len()
        ));
    }
    let w = |e: std::io::Error| format!("cannot write the summary: {e}");
    if summary_to_out {
        write!(io.out, "{report}").map_err(w)?;
    } else {
        write!(io.err, "{report}").map_err(w)?;
    }
    Ok(exit)
}

/// [`crate::runner::horizon_warning`] for a sweep's result line.
fn runner_warning(scenario: &crate::scenario::Scenario, line: &SweepLine) -> Option<String> {
    let seed = line.run.seed;
    let plan = crate::runner::fault_plan(scenario, seed);
    let failed_at = ruckus_sim::Instant(line.run.failure_time_ns?);
    crate::runner::horizon_warning_for(scenario, seed, &plan, line.run.property.as_deref()?, failed_at)
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {rate}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} runs/s", state.per_sec());
                },
            );
    bar.set_style(style);
    bar
}

/// The end-of-sweep report: a table of verdicts, throughput, and the failing seeds.
#[derive(Debug)]
pub struct Summary<'a> {
    /// First line.
    pub title: String,
    /// Every result line, sorted by index.
    pub lines: &'a [SweepLine],
    /// Runs finished by this invocation.
    pub ran_now: u64,
    /// Runs not started because of --stop-on-failure.
    pub skipped: u64,
    /// Events processed by this invocation.
    pub events_now: u64,
    /// Wall time of this invocation.
    pub wall_s: Option<f64>,
    /// Worker threads used.
    pub jobs: Option<usize>,
    /// Per coverage probe, how many runs reached it (see [`sweep::coverage`]).
    pub coverage: &'a [ProbeCoverage],
}

impl Summary<'_> {
    /// The report as text.
    pub fn render(&self) -> String {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(vec!["verdict", "runs", "first seed (index)"]);
        for verdict in [
            "held",
            "safety_violation",
            "liveness_failure",
            "model_panic",
            "limit_exceeded",
        ] {
            let of: Vec<&SweepLine> = self.lines.iter().filter(|l| l.run.verdict == verdict).collect();
            if of.is_empty() && verdict != "held" {
                continue;
            }
            let first = of
                .first()
                .map_or(String::from("-"), |l| format!("{} ({})", l.run.seed, l.index));
            table.add_row(vec![verdict.to_owned(), of.len().to_string(), first]);
        }
        let mut s = format!("{}\n{table}\n", self.title);
        if !self.coverage.is_empty() {
            let mut probes = Table::new();
            probes.load_preset(UTF8_FULL_CONDENSED);
            probes.set_header(vec!["coverage probe", "runs reaching it", ""]);
            for p in self.coverage {
                let mut notes = Vec::new();
                if p.required {
                    notes.push("required");
                }
                if p.runs == 0 {
                    notes.push("NEVER REACHED");
                }
                if !p.declared {
                    notes.push("not declared by the model");
                }
                probes.add_row(vec![
                    p.name.clone(),
                    format!("{} of {}", p.runs, self.lines.len()),
                    notes.join(", "),
                ]);
            }
            s.push_str(&format!("{probes}\n"));
            let never = self.coverage.iter().filter(|p| p.runs == 0).count();
            if never > 0 {
                s.push_str(&format!(
                    "{never} of {} probes were reached by no run\n",
                    self.coverage.len()
                ));
            }
        }
        if let Some(wall) = self.wall_s {
            let per = |n: f64| if wall > 0.0 { n / wall } else { 0.0 };
            s.push_str(&format!(
                "this invocation: {} runs in {wall:.2}s on {} jobs = {:.1} runs/s, {:.2} M events/s\n",
                self.ran_now,
                self.jobs.unwrap_or(1),
                per(self.ran_now as f64),
                per(self.events_now as f64) / 1e6
            ));
        }
        if self.skipped > 0 {
            s.push_str(&format!(
                "{} runs not started (--stop-on-failure)\n",
                self.skipped
            ));
        }
        let failing: Vec<&SweepLine> = self.lines.iter().filter(|l| l.run.verdict != "held").collect();
        for l in failing.iter().take(5) {
            s.push_str(&format!(
                "  index {} seed {}: {}{}\n",
                l.index,
                l.run.seed,
                l.run.verdict,
                l.run
                    .property
                    .as_ref()
                    .map_or(String::new(), |p| format!(" of `{p}`")),
            ));
            if let Some(r) = &l.replay {
                s.push_str(&format!("    replay: {r}\n"));
            }
            if let Some(t) = &l.trace {
                s.push_str(&format!("    trace:  {t}\n"));
            }
        }
        if failing.len() > 5 {
            s.push_str(&format!("  ... and {} more failing runs\n", failing.len() - 5));
        }
        s
    }
}
