//! `ruckus explore EXPERIMENT`: compare design variants on the same seeds.

use crate::cli::Io;
use crate::exit::Exit;
use crate::explore::{self, Experiment, report};
use crate::registry::Registry;
use std::path::PathBuf;

/// Flags of `ruckus explore`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Every variant runs on the same seeds (common random numbers), so it meets the same fault plans
and workloads; the table gives each metric's mean and 95% interval over seeds, and the paired
difference from the baseline variant. Built-in experiments: backoff, retry_storm, mm1, mmc,
raft_unavailability, discovery_crash, swim_tuning, swim_tuning_loss, swim_paper, swim_lifeguard, scheduler_placement,
scheduler_workers, overload_protection, adaptive_throttling, fallbacks, platform_health_filtering,
platform_retry_budget, platform_placement, platform_cache_ttl.")]
pub struct Args {
    /// A built-in experiment name or a path to an experiment file.
    pub experiment: String,
    /// Runs per variant (default: the file's `seeds`).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: the number of cores). Each run is single-threaded.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Override a scenario value in every variant by dotted path (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let mut experiment = Experiment::load(registry, &args.experiment, &args.overrides)?;
    if let Some(n) = args.seeds {
        experiment.spec.seeds = crate::limits::runs("--seeds", n)?;
    }
    crate::limits::runs(
        "seeds",
        experiment
            .spec
            .seeds
            .saturating_mul(experiment.scenarios.len() as u64),
    )?;
    if let Some(s) = args.seed {
        experiment.spec.seed = s;
    }
    let jobs = crate::limits::jobs(args.jobs)?;
    let total = experiment.spec.seeds * experiment.scenarios.len() as u64;
    let bar = if io.terminal {
        let bar = indicatif::ProgressBar::new(total);
        let style =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let results = explore::run_all(&experiment, jobs, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let w = |e: std::io::Error| format!("cannot write output: {e}");
    // At a terminal, fit its width (a narrow one gets a block per variant); COLUMNS overrides.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .or_else(|| {
            io.terminal
                .then(|| comfy_table::Table::new().width().map(usize::from))
                .flatten()
        });
    write!(io.out, "{}", report::table_fitting(&results, width)).map_err(w)?;
    let missing = results.missing_metrics_explained();
    if !missing.is_empty() {
        writeln!(
            io.err,
            "warning: some runs reported no value for {}",
            missing.join(", ")
        )
        .map_err(w)?;
    }
    let mut command = format!(
        "ruckus explore {}",
        crate::scenario::shell_quote(&args.experiment)
    );
    if args.seeds.is_some() || args.seed.is_some() {
        command.push_str(&format!(
            " --seeds {} --seed {}",
            experiment.spec.seeds, experiment.spec.seed
        ));
    }
    for o in &args.overrides {
        command.push_str(" --set ");
        command.push_str(&crate::scenario::shell_quote(o));
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        crate::output::write_file(path, |f| f.write_all(text.as_bytes()))?;
        writeln!(io.err, "results written to {}", path.display()).map_err(w)?;
    }
    if let Some(path) = &args.html {
        let html = report::html(&results, &command);
        crate::output::write_file(path, |f| f.write_all(html.as_bytes()))?;
        writeln!(io.err, "report written to {}", path.display()).map_err(w)?;
    }
    // A name no run reported, next to one they did: a typo, so bad input (after the table and
    // the files, which hold every other metric's results).
    let unknown = results.unknown_metrics();
    if !unknown.is_empty() {
        let lines: Vec<String> = unknown
            .iter()
            .map(|(name, close)| {
                format!("metric `{name}`: no run of any variant reported it (did you mean `{close}`?)")
            })
            .collect();
        return Err(format!(
            "{}; fix `metrics` in {}",
            lines.join("; "),
            crate::scenario::shell_quote(&args.experiment)
        ));
    }
    // Exploring is measuring: runs that fail a property are reported in the table, not an error.
    Ok(Exit::Held)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: super::Args,
    }

    #[test]
    fn the_long_help_names_every_builtin_experiment() {
        let help = Wrapper::command().render_long_help().to_string();
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for (name, _) in crate::explore::BUILTIN {
            assert!(
                flat.contains(&format!("{name},")) || flat.contains(&format!("{name}.")),
                "`ruckus explore --help` does not list {name}"
            );
        }
    }
}
