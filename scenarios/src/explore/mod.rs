//! `ruckus explore`: run several variants of a design on the same seeds and compare them.
//!
//! An experiment file names a scenario (inline, or a built-in name or path), the variants as
//! `--set`-style overrides of it, the seeds and the metrics:
//!
//! ```toml
//! description = "what the experiment shows"
//! seeds = 20                 # runs per variant
//! seed = 1                   # seeds are seed, seed+1, ... (the same for every variant)
//! baseline = "plain"         # differences are reported against this variant
//! metrics = ["goodput", "latency_p99_ms"]
//! cdf = "latency"            # optional: a distribution metric drawn as a CDF (ns)
//! timeline = "ok_at"         # optional: event times (ns) drawn as a rate over time
//! timeline_bucket = "1s"      # also the bucket of the success chart
//! success = "requests"       # optional: a group of outcomes over time (`requests.ok` and
//!                            # `requests.failed` timed samples) charted as success rate and p99
//!
//! [scenario]                 # a scenario, as in scenario files (or: scenario = "name-or-path")
//! # ...
//!
//! [[variants]]
//! name = "plain"
//!
//! [[variants]]
//! name = "budget"
//! set = { "model.client.budget" = { ratio = 0.1 } }
//! ```
//!
//! Every variant runs on the same seeds, so it meets the same fault plans and, where the model
//! draws workload from the seed, the same arrivals (common random numbers). Runs are spread over
//! threads with rayon, one run per task; each run is single-threaded and deterministic, so the
//! results do not depend on the number of jobs. Per metric and variant the report gives the mean
//! with its 95% interval over seeds and the paired difference from the baseline ([`stats`]).
//! Each run goes on to its horizon when a property fails (`Simulation::set_run_to_horizon`): the
//! first failure is its verdict, and its figures cover the same span as every other variant's.
//!
//! A metric names a figure of a run ([`figures::figures`]): a model summary such as `goodput`, a
//! counter by name, or a distribution statistic such as `latency.p99`. Counters appear only once
//! incremented, so a counter some run reported counts as 0 in the runs without it; any other
//! figure a run lacks is left out of its mean, and the CLI warns, saying in how many runs it was.
//! A metric no run of any variant reported is a typo when a different reported figure is close
//! to it ([`Results::unknown_metrics`]): the CLI prints the table, then fails with exit code 2
//! naming the close name. With nothing close (a counter nothing incremented in any run, or a
//! distribution nothing observed, looks the same) it stays a warning.

pub mod figures;
pub mod report;
pub mod stats;

use crate::chart::Band;
use crate::over_time::{self, Buckets};
use crate::registry::Registry;
use crate::runner;
use crate::scenario::Scenario;
use ruckus_sim::{Duration, Instant};
use serde::{Deserialize, Serialize};
use stats::Estimate;
use std::collections::BTreeMap;

/// Built-in experiments: scenarios/data/experiments/NAME.toml, embedded in the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("backoff", include_str!("../../data/experiments/backoff.toml")),
    (
        "retry_storm",
        include_str!("../../data/experiments/retry_storm.toml"),
    ),
    ("mm1", include_str!("../../data/experiments/mm1.toml")),
    ("mmc", include_str!("../../data/experiments/mmc.toml")),
    (
        "raft_unavailability",
        include_str!("../../data/experiments/raft_unavailability.toml"),
    ),
    (
        "discovery_crash",
        include_str!("../../data/experiments/discovery_crash.toml"),
    ),
    (
        "swim_tuning",
        include_str!("../../data/experiments/swim_tuning.toml"),
    ),
    (
        "swim_tuning_loss",
        include_str!("../../data/experiments/swim_tuning_loss.toml"),
    ),
    (
        "swim_paper",
        include_str!("../../data/experiments/swim_paper.toml"),
    ),
    (
        "swim_lifeguard",
        include_str!("../../data/experiments/swim_lifeguard.toml"),
    ),
    (
        "scheduler_placement",
        include_str!("../../data/experiments/scheduler_placement.toml"),
    ),
    (
        "scheduler_workers",
        include_str!("../../data/experiments/scheduler_workers.toml"),
    ),
    (
        "overload_protection",
        include_str!("../../data/experiments/overload_protection.toml"),
    ),
    (
        "adaptive_throttling",
        include_str!("../../data/experiments/adaptive_throttling.toml"),
    ),
    ("fallbacks", include_str!("../../data/experiments/fallbacks.toml")),
    (
        "platform_health_filtering",
        include_str!("../../data/experiments/platform_health_filtering.toml"),
    ),
    (
        "platform_retry_budget",
        include_str!("../../data/experiments/platform_retry_budget.toml"),
    ),
    (
        "platform_placement",
        include_str!("../../data/experiments/platform_placement.toml"),
    ),
    (
        "platform_cache_ttl",
        include_str!("../../data/experiments/platform_cache_ttl.toml"),
    ),
];

/// One variant as written: a name and overrides of the scenario by dotted path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Its name in tables and charts.
    pub name: String,
    /// Overrides of the scenario, dotted path to TOML value.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
}

fn default_seeds() -> u64 {
    10
}
fn default_seed() -> u64 {
    1
}
fn default_bucket() -> Duration {
    Duration::from_secs(1)
}

/// An experiment file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// What the experiment shows.
    #[serde(default)]
    pub description: String,
    /// Runs per variant.
    #[serde(default = "default_seeds")]
    pub seeds: u64,
    /// The first seed; run i uses seed + i.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The variant differences are taken against (default: the first).
    #[serde(default)]
    pub baseline: Option<String>,
    /// The figures to compare.
    pub metrics: Vec<String>,
    /// A distribution metric to draw as a CDF.
    #[serde(default)]
    pub cdf: Option<String>,
    /// A distribution of event times to draw as a rate over time.
    #[serde(default)]
    pub timeline: Option<String>,
    /// Bucket width of the timeline and of the success chart.
    #[serde(default = "default_bucket")]
    pub timeline_bucket: Duration,
    /// A group of outcomes over time (the model's `<group>.ok` and `<group>.failed` timed
    /// samples) to chart per variant as the success rate and the p99 latency of successes per
    /// bucket, averaged over seeds.
    #[serde(default)]
    pub success: Option<String>,
    /// The scenario: an inline table, or a built-in name or path.
    pub scenario: toml::Value,
    /// The variants.
    pub variants: Vec<VariantSpec>,
}

/// A checked experiment: every variant's scenario is loaded and valid.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Its name (the file stem or built-in name).
    pub name: String,
    /// As written.
    pub spec: ExperimentSpec,
    /// One resolved scenario per variant, in order.
    pub scenarios: Vec<Scenario>,
    /// Index of the baseline variant.
    pub baseline: usize,
}

impl Experiment {
    /// Loads a built-in experiment by name or a file by path, with extra `--set` overrides
    /// applied to every variant (before the variant's own).
    pub fn load(registry: &Registry, reference: &str, overrides: &[String]) -> Result<Experiment, String> {
        let looks_like_path = reference.contains('/') || reference.ends_with(".toml");
        if !looks_like_path && let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == reference) {
            return Experiment::from_text(
                registry,
                reference,
                &format!("built-in experiment `{reference}`"),
                text,
                overrides,
            );
        }
        let text = crate::output::read_bounded(
            std::path::Path::new(reference),
            crate::limits::MAX_SCENARIO_BYTES,
            "experiment file",
        )
        .map_err(|e| {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            format!("{e}; built-in experiments: {}", names.join(", "))
        })?;
        let name = std::path::Path::new(reference)
            .file_stem()
            .map_or_else(|| reference.to_owned(), |s| s.to_string_lossy().into_owned());
        Experiment::from_text(registry, &name, reference, &text, overrides)
    }

    /// Checks experiment `text` from `origin`.
    pub fn from_text(
        registry: &Registry,
        name: &str,
        origin: &str,
        text: &str,
        overrides: &[String],
    ) -> Result<Experiment, String> {
        let spec: ExperimentSpec = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (line, col) = crate::error::line_column(text, s.start);
                    format!(":{line}:{col}")
                })
                .unwrap_or_default();
            format!("{origin}{at}: {}", e.message().trim())
        })?;
        if spec.seeds == 0 {
            return Err(format!("{origin}: seeds must be at least 1"));
        }
        if spec.metrics.is_empty() {
            return Err(format!("{origin}: name at least one metric"));
        }
        if spec.variants.is_empty() {
            return Err(format!("{origin}: name at least one variant"));
        }
        for (i, v) in spec.variants.iter().enumerate() {
            if spec.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(format!("{origin}: two variants are called `{}`", v.name));
            }
        }
        let baseline = match &spec.baseline {
            None => 0,
            Some(b) => spec.variants.iter().position(|v| &v.name == b).ok_or_else(|| {
                let names: Vec<&str> = spec.variants.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "{origin}: baseline `{b}` is not a variant (variants: {})",
                    names.join(", ")
                )
            })?,
        };
        let mut scenarios = Vec::new();
        for v in &spec.variants {
            let mut sets: Vec<String> = overrides.to_vec();
            sets.extend(v.set.iter().map(|(k, val)| format!("{k}={val}")));
            let scenario = match &spec.scenario {
                toml::Value::String(reference) => Scenario::load(registry, reference, &sets),
                toml::Value::Table(t) => {
                    let inline = toml::to_string(t).map_err(|e| format!("{origin}: scenario: {e}"))?;
                    let where_ = format!("{origin} [scenario] (variant `{}`)", v.name);
                    Scenario::from_text(registry, name, origin, &where_, &inline, &sets)
                }
                _ => {
                    return Err(format!(
                        "{origin}: `scenario` must be a table or a scenario name or path"
                    ));
                }
            }
            .map_err(|e| format!("variant `{}`: {e}", v.name))?;
            scenarios.push(scenario);
        }
        Ok(Experiment {
            name: name.to_owned(),
            spec,
            scenarios,
            baseline,
        })
    }

    /// The seed of run `i`.
    pub fn seed(&self, i: u64) -> u64 {
        self.spec.seed.wrapping_add(i)
    }
}

/// What one run gave: its verdict and figures, and the chart data asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Variant index.
    pub variant: usize,
    /// Run index (the seed is `seed + index`).
    pub index: u64,
    /// The seed.
    pub seed: u64,
    /// The verdict's name.
    pub verdict: String,
    /// Every figure of the run.
    pub figures: BTreeMap<String, f64>,
    /// The requested metrics, `None` where the run has no such figure.
    pub metrics: Vec<Option<f64>>,
    /// Per requested metric, whether it is a counter in this run. A counter a run never
    /// incremented is absent from it; [`Results::from_runs`] counts it as 0 there when another
    /// run has it as a counter.
    #[serde(skip)]
    pub counters: Vec<bool>,
    /// The CDF metric at quantiles 0, 1/CDF_POINTS, ..., 1 (empty if none).
    #[serde(skip)]
    pub cdf: Vec<f64>,
    /// Timeline counts per bucket (empty if none).
    #[serde(skip)]
    pub timeline: Vec<u64>,
    /// Success rate of the `success` group per bucket (`None`: no outcomes in the bucket).
    #[serde(skip)]
    pub success: Vec<Option<f64>>,
    /// p99 latency of the group's successes per bucket, in milliseconds.
    #[serde(skip)]
    pub p99_ms: Vec<Option<f64>>,
}

/// The baseline's fault windows when every seed meets the same plan, else none (shading one
/// seed's faults under an average over seeds would mislead).
fn shared_fault_windows(experiment: &Experiment) -> Vec<Band> {
    let scenario = &experiment.scenarios[experiment.baseline];
    let seeds = experiment.spec.seeds.max(1);
    let first = runner::fault_plan(scenario, experiment.seed(0));
    if first.actions.is_empty()
        || (1..seeds).any(|i| runner::fault_plan(scenario, experiment.seed(i)) != first)
    {
        return Vec::new();
    }
    over_time::fault_bands(&first, Instant::ZERO.saturating_add(scenario.limits.horizon))
}

/// Points per CDF curve.
pub const CDF_POINTS: usize = 200;

/// Runs variant `variant`'s run `index`. A run is a pure function of these two.
pub fn run_one(experiment: &Experiment, variant: usize, index: u64) -> Result<RunResult, String> {
    let seed = experiment.seed(index);
    let scenario = &experiment.scenarios[variant];
    let plan = runner::fault_plan(scenario, seed);
    let mut sim = runner::simulation(scenario, seed, &plan)
        .map_err(|e| format!("variant `{}`: {e}", experiment.spec.variants[variant].name))?;
    // Every variant is measured over the whole horizon, whatever property it breaks first.
    sim.set_run_to_horizon(true);
    let report = runner::quietly(|| sim.run());
    let spec = &experiment.spec;
    let metrics = sim.metrics();
    let figures = figures::figures(&scenario.model, &scenario.model_params, metrics, report.end_time);
    let cdf = spec
        .cdf
        .as_ref()
        .map(|name| {
            let mut s = metrics.samples(name).to_vec();
            s.sort_unstable();
            if s.is_empty() {
                return Vec::new();
            }
            (0..=CDF_POINTS)
                .map(|k| s[((k * (s.len() - 1)) as f64 / CDF_POINTS as f64).round() as usize] as f64)
                .collect()
        })
        .unwrap_or_default();
    let timeline = spec
        .timeline
        .as_ref()
        .map(|name| {
            let w = spec.timeline_bucket.as_nanos().max(1);
            let buckets = report.end_time.as_nanos().div_ceil(w) as usize;
            let mut counts = vec![0u64; buckets.max(1)];
            for &t in metrics.samples(name) {
                let k = ((t / w) as usize).min(counts.len() - 1);
                counts[k] += 1;
            }
            counts
        })
        .unwrap_or_default();
    let (success, p99_ms) = match &spec.success {
        None => (Vec::new(), Vec::new()),
        Some(group) => {
            let buckets = Buckets::over(
                Instant::ZERO.saturating_add(scenario.limits.horizon),
                spec.timeline_bucket,
            );
            let ok = metrics.timed(&format!("{group}.ok"));
            let failed = metrics.timed(&format!("{group}.failed"));
            let defined = |v: Vec<f64>, scale: f64| -> Vec<Option<f64>> {
                v.into_iter()
                    .map(|x| x.is_finite().then_some(x * scale))
                    .collect()
            };
            (
                defined(over_time::success_rate(ok, failed, buckets), 1.0),
                defined(over_time::quantile(ok, buckets, 0.99), 1e-6),
            )
        }
    };
    Ok(RunResult {
        variant,
        index,
        seed,
        verdict: report.verdict.name().to_owned(),
        metrics: spec.metrics.iter().map(|m| figures.get(m).copied()).collect(),
        counters: spec
            .metrics
            .iter()
            .map(|m| metrics.counters().contains_key(m))
            .collect(),
        figures,
        cdf,
        timeline,
        success,
        p99_ms,
    })
}

/// Runs every variant on every seed with `jobs` threads, calling `tick` after each run.
pub fn run_all(experiment: &Experiment, jobs: usize, tick: &(dyn Fn() + Sync)) -> Result<Results, String> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;
    let tasks: Vec<(usize, u64)> = (0..experiment.spec.seeds)
        .flat_map(|i| (0..experiment.scenarios.len()).map(move |v| (v, i)))
        .collect();
    let runs: Result<Vec<RunResult>, String> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(v, i)| {
                let r = run_one(experiment, v, i);
                tick();
                r
            })
            .collect()
    });
    let mut runs = runs?;
    runs.sort_by_key(|r| (r.variant, r.index));
    Ok(Results::from_runs(experiment, runs))
}

/// One metric of one variant: its estimate and its paired difference from the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// The metric's name.
    pub metric: String,
    /// Mean and interval over seeds (`None`: no run had the figure).
    pub estimate: Option<Estimate>,
    /// Variant minus baseline, seed by seed (`None` for the baseline itself).
    pub difference: Option<Estimate>,
}

/// One variant's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// Its name.
    pub name: String,
    /// Its overrides, as `key=value`.
    pub set: Vec<String>,
    /// Runs per verdict.
    pub verdicts: BTreeMap<String, u64>,
    /// One entry per requested metric.
    pub metrics: Vec<MetricResult>,
    /// The CDF averaged over seeds, quantile by quantile.
    pub cdf: Vec<f64>,
    /// Mean timeline count per bucket over seeds, as a rate per second.
    pub timeline: Vec<f64>,
    /// Mean success rate per bucket over the seeds with outcomes in it.
    #[serde(default)]
    pub success: Vec<Option<f64>>,
    /// Mean p99 latency (ms) per bucket over the seeds with successes in it.
    #[serde(default)]
    pub p99_ms: Vec<Option<f64>>,
}

/// Everything an exploration produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The experiment's name.
    pub experiment: String,
    /// Its description.
    pub description: String,
    /// The model the scenario runs.
    pub model: String,
    /// The seeds every variant ran.
    pub seeds: Vec<u64>,
    /// The baseline variant's name.
    pub baseline: String,
    /// The metrics compared.
    pub metrics: Vec<String>,
    /// The CDF metric, if any.
    pub cdf: Option<String>,
    /// The timeline metric, if any, and its bucket width in seconds.
    pub timeline: Option<(String, f64)>,
    /// The success group, if any, and its bucket width in seconds.
    #[serde(default)]
    pub success: Option<(String, f64)>,
    /// The fault windows, when every seed of the baseline meets the same plan (an explicit
    /// plan); empty when plans differ by seed.
    #[serde(default)]
    pub fault_windows: Vec<Band>,
    /// Per variant.
    pub variants: Vec<VariantResult>,
    /// Every run, by variant then index.
    pub runs: Vec<RunResult>,
}

impl Results {
    /// Summarizes `runs` (sorted by variant, then index).
    pub fn from_runs(experiment: &Experiment, mut runs: Vec<RunResult>) -> Results {
        let spec = &experiment.spec;
        zero_missing_counters(&mut runs);
        let per = |v: usize| runs.iter().filter(move |r| r.variant == v);
        let column = |v: usize, m: usize| -> Vec<Option<f64>> { per(v).map(|r| r.metrics[m]).collect() };
        let mut variants = Vec::new();
        for (v, vs) in spec.variants.iter().enumerate() {
            let mut verdicts = BTreeMap::new();
            for r in per(v) {
                *verdicts.entry(r.verdict.clone()).or_insert(0) += 1;
            }
            let metrics = spec
                .metrics
                .iter()
                .enumerate()
                .map(|(m, name)| {
                    let values: Vec<f64> = column(v, m).into_iter().flatten().collect();
                    MetricResult {
                        metric: name.clone(),
                        estimate: Estimate::of(&values),
                        difference: (v != experiment.baseline)
                            .then(|| stats::paired_difference(&column(v, m), &column(experiment.baseline, m)))
                            .flatten(),
                    }
                })
                .collect();
            let cdfs: Vec<&Vec<f64>> = per(v).map(|r| &r.cdf).filter(|c| !c.is_empty()).collect();
            let cdf = if cdfs.is_empty() {
                Vec::new()
            } else {
                (0..=CDF_POINTS)
                    .map(|k| cdfs.iter().map(|c| c[k]).sum::<f64>() / cdfs.len() as f64)
                    .collect()
            };
            let lines: Vec<&Vec<u64>> = per(v).map(|r| &r.timeline).filter(|t| !t.is_empty()).collect();
            let len = lines.iter().map(|l| l.len()).max().unwrap_or(0);
            let bucket_s = spec.timeline_bucket.as_secs_f64().max(1e-9);
            let timeline = (0..len)
                .map(|k| {
                    let sum: u64 = lines.iter().map(|l| l.get(k).copied().unwrap_or(0)).sum();
                    sum as f64 / lines.len() as f64 / bucket_s
                })
                .collect();
            let mean_per_bucket = |pick: &dyn Fn(&RunResult) -> &Vec<Option<f64>>| -> Vec<Option<f64>> {
                let len = per(v).map(|r| pick(r).len()).max().unwrap_or(0);
                (0..len)
                    .map(|k| {
                        let xs: Vec<f64> = per(v).filter_map(|r| pick(r).get(k).copied().flatten()).collect();
                        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                    })
                    .collect()
            };
            let success = mean_per_bucket(&|r| &r.success);
            let p99_ms = mean_per_bucket(&|r| &r.p99_ms);
            variants.push(VariantResult {
                name: vs.name.clone(),
                set: vs.set.iter().map(|(k, val)| format!("{k}={val}")).collect(),
                verdicts,
                metrics,
                cdf,
                timeline,
                success,
                p99_ms,
            });
        }
        Results {
            experiment: experiment.name.clone(),
            description: spec.description.clone(),
            model: experiment.scenarios[0].model.name().to_owned(),
            seeds: (0..spec.seeds).map(|i| experiment.seed(i)).collect(),
            baseline: spec.variants[experiment.baseline].name.clone(),
            metrics: spec.metrics.clone(),
            cdf: spec.cdf.clone(),
            timeline: spec
                .timeline
                .clone()
                .map(|t| (t, spec.timeline_bucket.as_secs_f64())),
            success: spec.success.clone().map(|g| {
                let horizon = experiment.scenarios[experiment.baseline].limits.horizon;
                (
                    g,
                    Buckets::over(Instant::ZERO.saturating_add(horizon), spec.timeline_bucket).width_s(),
                )
            }),
            fault_windows: shared_fault_windows(experiment),
            variants,
            runs,
        }
    }

    /// The estimate of `metric` for variant `name`.
    pub fn estimate(&self, variant: &str, metric: &str) -> Option<Estimate> {
        let v = self.variants.iter().find(|v| v.name == variant)?;
        v.metrics.iter().find(|m| m.metric == metric)?.estimate
    }

    /// The paired difference of `metric` for variant `name` from the baseline.
    pub fn difference(&self, variant: &str, metric: &str) -> Option<Estimate> {
        let v = self.variants.iter().find(|v| v.name == variant)?;
        v.metrics.iter().find(|m| m.metric == metric)?.difference
    }

    /// Names of requested metrics that no run of some variant reported (likely a typo).
    pub fn missing_metrics(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (m, name) in self.metrics.iter().enumerate() {
            if self.variants.iter().any(|v| v.metrics[m].estimate.is_none()) {
                out.push(name.clone());
            }
        }
        out
    }

    /// How many runs reported requested metric `m` (an index into `metrics`), of how many.
    pub fn presence(&self, m: usize) -> (usize, usize) {
        let present = self
            .runs
            .iter()
            .filter(|r| r.metrics.get(m).copied().flatten().is_some());
        (present.count(), self.runs.len())
    }

    /// Requested metrics that look mistyped: no run of any variant reported them, and a
    /// different figure the runs did report is close to the name (not the same name for
    /// another index, such as `tier1.x` for `tier0.x`: a counter of another tier may just
    /// never have been incremented; for `NAME.p99` and the other statistics, only the same
    /// statistic of another distribution). Each comes with that close name.
    pub fn unknown_metrics(&self) -> Vec<(String, String)> {
        let known = self.figure_names();
        let mut out = Vec::new();
        for (m, name) in self.metrics.iter().enumerate() {
            if self.presence(m).0 > 0 {
                continue;
            }
            if let Some(c) = mistyped(name, &known) {
                out.push((name.clone(), c.to_owned()));
            }
        }
        out
    }

    /// One line per requested metric some variant has no value for (less the
    /// [`unknown_metrics`](Results::unknown_metrics), which are errors), saying what is true:
    /// how many runs had it and which variants had none.
    pub fn missing_metrics_explained(&self) -> Vec<String> {
        let unknown = self.unknown_metrics();
        let mut out = Vec::new();
        for (m, name) in self.metrics.iter().enumerate() {
            let without: Vec<String> = self
                .variants
                .iter()
                .filter(|v| v.metrics[m].estimate.is_none())
                .map(|v| format!("`{}`", v.name))
                .collect();
            if without.is_empty() || unknown.iter().any(|(u, _)| u == name) {
                continue;
            }
            let (present, total) = self.presence(m);
            out.push(if present > 0 {
                format!(
                    "`{name}` (present in {present} of {total} runs; none in variant {})",
                    without.join(", ")
                )
            } else {
                format!(
                    "`{name}` (no run reported it and no figure the runs reported is close: a counter or distribution nothing recorded, or a name the model does not report)"
                )
            });
        }
        out
    }

    /// Names of every figure the runs reported (for suggesting a metric name).
    pub fn figure_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.runs.iter().flat_map(|r| r.figures.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The reported figure `name` (reported by no run) is probably a typo of: a different name
/// close to it, not the same name for another index, and for a statistic (`NAME.p99`) the
/// same statistic of another distribution (a distribution nothing observed is absent, like
/// a counter nothing incremented).
fn mistyped<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let stat = figures::STATISTICS
        .iter()
        .map(|s| format!(".{s}"))
        .find(|s| name.ends_with(s.as_str()));
    let others = known.iter().map(String::as_str).filter(|k| {
        *k != name && !same_but_digits(k, name) && stat.as_ref().is_none_or(|s| k.ends_with(s.as_str()))
    });
    crate::error::closest(name, others)
}

/// Whether `a` and `b` differ only in their digits (`tier0.served`, `tier12.served`).
fn same_but_digits(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
    a != b && strip(a) == strip(b)
}

/// Counts a requested metric as 0 in the runs that lack it when some run has it as a counter:
/// counters appear only once incremented, so "absent" there means "never happened".
fn zero_missing_counters(runs: &mut [RunResult]) {
    let metrics = runs.iter().map(|r| r.metrics.len()).max().unwrap_or(0);
    for m in 0..metrics {
        if runs.iter().any(|r| r.counters.get(m) == Some(&true)) {
            for r in runs.iter_mut() {
                if let Some(slot @ None) = r.metrics.get_mut(m) {
                    *slot = Some(0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mistyped;

    fn known(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_typo_is_a_different_close_name_of_the_same_kind() {
        let k = known(&[
            "timeouts",
            "tier0.served",
            "latency.p99",
            "latency_p99_ms",
            "goodput",
        ]);
        assert_eq!(mistyped("timeoutz", &k), Some("timeouts"));
        assert_eq!(mistyped("goodptu", &k), Some("goodput"));
        assert_eq!(mistyped("latncy.p99", &k), Some("latency.p99"));
        // The same counter of another tier: it may never have been incremented.
        assert_eq!(mistyped("tier1.served", &k), None);
        // A statistic of a distribution nothing observed is not the summary's figure.
        assert_eq!(mistyped("latency.p999", &known(&["latency_p99_ms"])), None);
        assert_eq!(mistyped("evictions", &k), None);
    }
}
