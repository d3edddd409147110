//! Sweeps: many seeds of one scenario, in parallel across seeds, one JSON line per seed.
//!
//! Run `i` of a sweep with base seed `b` uses seed [`seed_for`]`(b, i)`, whatever the number of
//! jobs, shards or machines, so a sweep split into shards and merged is line for line the sweep
//! one machine would have run. Each run is single-threaded; rayon spreads runs over cores.
//!
//! Each result line holds only deterministic facts (no wall time), so equal sweeps give equal
//! lines. Lines are written and flushed as runs finish: an interrupted sweep keeps every run it
//! finished, and `--resume` skips them.

use crate::exit::Exit;
use crate::recording;
use crate::runner::{self, RunSummary};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The seed of run `index` in a sweep with base seed `base`: the engine's documented stream-key
/// derivation under the label `sweep`, so it never depends on sharding or job count.
pub fn seed_for(base: u64, index: u64) -> u64 {
    ruckus_sim::rng::derive_stream_key(base, "sweep", index)
}

/// The environment variables a shard index is read from, in order: Kubernetes indexed Jobs,
/// Nomad, Slurm job arrays. Each is a zero-based index.
pub const SHARD_ENV: [&str; 3] = ["JOB_COMPLETION_INDEX", "NOMAD_ALLOC_INDEX", "SLURM_ARRAY_TASK_ID"];

/// One shard of a sweep: runs whose index is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` (zero-based `K`).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard `{text}`: expected K/N, e.g. 0/3 (K counts from 0)"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard `{text}`: `{k}` is not a shard number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard `{text}`: `{n}` is not a shard count"))?;
        Shard::new(index, count).map_err(|m| format!("--shard `{text}`: {m}"))
    }

    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} does not exist among {count} shards (shards count from 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Shard of `count` whose index comes from the first of [`SHARD_ENV`] that `get` finds.
    pub fn from_env(count: u64, get: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        for var in SHARD_ENV {
            if let Some(v) = get(var) {
                let index: u64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{var}={v:?} is not a shard number"))?;
                return Shard::new(index, count).map_err(|m| format!("{var}={v}: {m}"));
            }
        }
        Err(format!(
            "--shard-from-env: none of {} is set",
            SHARD_ENV.join(", ")
        ))
    }

    /// Whether run `index` belongs to this shard.
    pub fn owns(&self, index: u64) -> bool {
        index % self.count == self.index
    }
}

/// One line of sweep output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepLine {
    /// The run's index in the sweep.
    pub index: u64,
    /// The run's deterministic facts (seed, verdict, fingerprint, events, ...).
    #[serde(flatten)]
    pub run: RunSummary,
    /// The scenario's name.
    pub scenario: String,
    /// Hash of the resolved scenario: lines with different values come from different sweeps.
    pub config: String,
    /// The full trace of a failing run, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// A command that re-runs a failing seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

impl SweepLine {
    /// The exit this line's verdict calls for.
    pub fn exit(&self) -> Exit {
        match Exit::of_name(&self.run.verdict) {
            Exit::Safety => {
                Exit::of_failure(ruckus_sim::Verdict::SafetyViolation, self.run.message.as_deref())
            }
            exit => exit,
        }
    }

    /// The line as JSON text (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("sweep lines always serialize")
    }
}

/// How many runs of a sweep reached one coverage probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCoverage {
    /// The probe's name.
    pub name: String,
    /// Runs that reached it.
    pub runs: u64,
    /// Whether the model declares it (`Model::probes`).
    pub declared: bool,
    /// Whether the scenario requires it (`[coverage] require`).
    pub required: bool,
}

/// Per probe, how many of `lines` reached it: the `declared` probes first in their order
/// (reached or not), then any other probe in the order the lines (sorted by index) first
/// reached it. `required` names are marked (and listed even if undeclared).
pub fn coverage(lines: &[SweepLine], declared: &[&str], required: &[String]) -> Vec<ProbeCoverage> {
    let mut out: Vec<ProbeCoverage> = declared
        .iter()
        .map(|n| ProbeCoverage {
            name: (*n).to_owned(),
            runs: 0,
            declared: true,
            required: false,
        })
        .collect();
    let mut sorted: Vec<&SweepLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.index);
    let names = sorted
        .iter()
        .flat_map(|l| l.run.probes.iter().map(String::as_str))
        .chain(required.iter().map(String::as_str));
    let mut index: std::collections::BTreeMap<String, usize> =
        out.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
    for name in names {
        if !index.contains_key(name) {
            index.insert(name.to_owned(), out.len());
            out.push(ProbeCoverage {
                name: name.to_owned(),
                runs: 0,
                declared: false,
                required: false,
            });
        }
    }
    for line in &sorted {
        // A probe counts once per run, whatever the line says.
        let mut seen = std::collections::BTreeSet::new();
        for name in &line.run.probes {
            if seen.insert(name.as_str()) {
                out[index[name.as_str()]].runs += 1;
            }
        }
    }
    for name in required {
        out[index[name.as_str()]].required = true;
    }
    out
}

/// The required probes no run reached, by name.
pub fn unreached_required(coverage: &[ProbeCoverage]) -> Vec<&str> {
    coverage
        .iter()
        .filter(|p| p.required && p.runs == 0)
        .map(|p| p.name.as_str())
        .collect()
}

/// The message of a sweep that reached none of `unreached` (required by `scenario`) in
/// `runs` runs.
pub fn uncovered_message(scenario: &Scenario, unreached: &[&str], runs: usize) -> String {
    let list: Vec<String> = unreached.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "coverage: none of the {runs} runs reached the required probe{} {} ([coverage] require of scenario `{}`): the sweep never explored the state{} those checks need, so its passing runs say nothing about them; run more seeds or widen the fault profile (exit code 5)",
        if unreached.len() == 1 { "" } else { "s" },
        list.join(", "),
        scenario.name,
        if unreached.len() == 1 { "" } else { "s" },
    )
}

/// The lines already in a sweep output file, and how many bytes of it are whole lines.
#[derive(Debug, Default)]
pub struct Existing {
    /// Parsed lines, in file order.
    pub lines: Vec<SweepLine>,
    /// Length of the file's prefix made of complete, valid lines.
    pub valid_len: u64,
    /// Lines that repeat an earlier line exactly (left out of `lines`).
    pub duplicates: u64,
}

/// Removes the `NAME.<pid>.partial` files in `dir` left by a killed process (one whose pid is
/// no longer running, on systems with `/proc`; elsewhere every other process's), and returns
/// how many. A trace is written under such a name and renamed when complete, so these are
/// never whole traces.
pub fn remove_stale_partials(dir: &Path) -> Result<usize, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let me = std::process::id();
    let proc_fs = Path::new("/proc/self").exists();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_suffix(".partial")
            .and_then(|rest| rest.rsplit_once('.'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == me || (proc_fs && Path::new("/proc").join(pid.to_string()).exists());
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path()).map_err(|e| format!("{}: {e}", entry.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Reads a sweep output file. A last line without its newline (a run cut off mid-write) is
/// left out of `valid_len` so it can be truncated; any other bad line is an error.
pub fn read_output(path: &Path) -> Result<Existing, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::default()),
        _ => crate::output::check_input(path)?,
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_output(file, path)
}

/// Reads the result lines of a sweep's output through an open file (from its start); `path`
/// names it in errors.
pub fn read_output_from(file: &std::fs::File, path: &Path) -> Result<Existing, String> {
    use std::io::Seek;
    let mut file = file;
    file.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse_output(file, path)
}

fn parse_output(file: impl Read, path: &Path) -> Result<Existing, String> {
    let mut reader = BufReader::new(file);
    let mut existing = Existing::default();
    let mut buf = String::new();
    let mut seen: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for number in 1.. {
        buf.clear();
        let max = crate::limits::MAX_SWEEP_LINE_BYTES;
        let n = (&mut reader)
            .take(max as u64 + 1)
            .read_line(&mut buf)
            .map_err(|e| format!("{}: line {number}: {e}", path.display()))?;
        if n > max {
            return Err(format!(
                "{}:{number}: a line longer than {max} bytes is not a sweep result line",
                path.display()
            ));
        }
        if number > crate::limits::MAX_SWEEP_RUNS {
            return Err(format!(
                "{}: more than {} lines, over the bound of one sweep output",
                path.display(),
                crate::limits::MAX_SWEEP_RUNS
            ));
        }
        if n == 0 {
            break;
        }
        let complete = buf.ends_with('\n');
        match serde_json::from_str::<SweepLine>(buf.trim_end()) {
            Ok(line) if complete => {
                existing.valid_len += n as u64;
                match seen.get(&line.index) {
                    // The same run written twice (a copied line): counted once.
                    Some(&at) if existing.lines[at] == line => existing.duplicates += 1,
                    Some(&at) => {
                        return Err(format!(
                            "{}:{number}: run {} appears twice with different results (fingerprints {} and {})",
                            path.display(),
                            line.index,
                            existing.lines[at].run.fingerprint,
                            line.run.fingerprint
                        ));
                    }
                    None => {
                        seen.insert(line.index, existing.lines.len());
                        existing.lines.push(line);
                    }
                }
            }
            _ if !complete => break,
            Ok(_) => unreachable!("complete is true here"),
            Err(e) => {
                if buf.trim().is_empty() {
                    existing.valid_len += n as u64;
                    continue;
                }
                return Err(format!(
                    "{}:{number}: not a sweep result line: {e}",
                    path.display()
                ));
            }
        }
    }
    Ok(existing)
}

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Base seed.
    pub base_seed: u64,
    /// Worker threads (each run is single-threaded).
    pub jobs: usize,
    /// Stop starting new runs once one fails.
    pub stop_on_failure: bool,
    /// Where failing runs are re-run with a full trace (`None`: no traces).
    pub trace_dir: Option<PathBuf>,
    /// At most this many traces per sweep (counting `traces_kept`): a sweep of a bug that fails
    /// on most seeds must not fill the disk. Failing runs past it get a replay command only.
    pub max_traces: u64,
    /// Stop writing traces once they take this many bytes (counting `trace_bytes_kept`).
    pub max_trace_bytes: u64,
    /// Traces an earlier invocation of this sweep wrote (on `--resume`).
    pub traces_kept: u64,
    /// Their size in bytes.
    pub trace_bytes_kept: u64,
}

impl SweepOptions {
    /// Options with no traces and no budget to spend: the caller sets what it wants.
    pub fn untraced(base_seed: u64, jobs: usize, stop_on_failure: bool) -> SweepOptions {
        SweepOptions {
            base_seed,
            jobs,
            stop_on_failure,
            trace_dir: None,
            max_traces: u64::MAX,
            max_trace_bytes: u64::MAX,
            traces_kept: 0,
            trace_bytes_kept: 0,
        }
    }
}

/// Default of `--max-traces`.
pub const DEFAULT_MAX_TRACES: u64 = 10;
/// Default of `--max-trace-mb`.
pub const DEFAULT_MAX_TRACE_MB: u64 = 256;

/// What a sweep did.
#[derive(Clone, Debug, Default)]
pub struct SweepStats {
    /// Failing runs of this invocation left without a trace by the trace budget.
    pub untraced_failures: u64,
    /// Runs finished in this invocation.
    pub finished: u64,
    /// Runs skipped because of `stop_on_failure`.
    pub skipped: u64,
    /// Total events over the finished runs.
    pub events: u64,
}

/// Runs `indices` of `scenario` in parallel and calls `on_line` (from worker threads) with
/// each result. `Err` when the thread pool cannot be built. See [`run_reporting`].
pub fn run(
    scenario: &Scenario,
    indices: &[u64],
    options: &SweepOptions,
    on_line: &(dyn Fn(&SweepLine) + Sync),
) -> Result<SweepStats, String> {
    run_reporting(scenario, indices, options, on_line, &|_| {})
}

/// Like [`run`], also calling `on_finished(failed)` as each run finishes (for progress).
///
/// Passing runs' lines come in completion order. When traces are wanted, failing runs' lines
/// wait until every run is done: the trace budget goes to the failing runs of lowest index
/// (then the size cap applies in index order), so which runs get a trace does not depend on
/// which worker finished first; those traces are recorded in parallel, and the failing lines
/// follow in index order.
pub fn run_reporting(
    scenario: &Scenario,
    indices: &[u64],
    options: &SweepOptions,
    on_line: &(dyn Fn(&SweepLine) + Sync),
    on_finished: &(dyn Fn(bool) + Sync),
) -> Result<SweepStats, String> {
    use rayon::prelude::*;
    use std::sync::Mutex;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {} worker threads: {e}", options.jobs))?;
    let stop = AtomicBool::new(false);
    let config = scenario.config_hash();
    // Failing lines waiting for the trace phase, with their runs' fingerprints.
    let waiting: Mutex<Vec<(SweepLine, u64)>> = Mutex::new(Vec::new());
    let results: Vec<Option<u64>> = pool.install(|| {
        indices
            .par_iter()
            .with_max_len(1)
            .map(|&index| {
                if options.stop_on_failure && stop.load(Ordering::Relaxed) {
                    return None;
                }
                let (line, fingerprint) = run_untraced(scenario, &config, index, options);
                let failed = line.run.verdict != "held";
                let events = line.run.events;
                on_finished(failed);
                if failed {
                    stop.store(true, Ordering::Relaxed);
                }
                if failed && options.trace_dir.is_some() {
                    waiting
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((line, fingerprint));
                } else {
                    on_line(&line);
                }
                Some(events)
            })
            .collect()
    });
    let mut waiting = waiting.into_inner().unwrap_or_else(|p| p.into_inner());
    waiting.sort_by_key(|(l, _)| l.index);
    let mut stats = SweepStats::default();
    if let Some(dir) = &options.trace_dir {
        let slots = options.max_traces.saturating_sub(options.traces_kept);
        let wanted = if options.trace_bytes_kept >= options.max_trace_bytes {
            0
        } else {
            waiting.len().min(usize::try_from(slots).unwrap_or(usize::MAX))
        };
        let sizes: Vec<Option<u64>> = pool.install(|| {
            waiting[..wanted]
                .par_iter_mut()
                .with_max_len(1)
                .map(|(line, fingerprint)| record_trace(scenario, dir, line, *fingerprint))
                .collect()
        });
        // The size cap in index order: a trace recorded past it is removed again.
        let mut bytes = options.trace_bytes_kept;
        for ((line, _), size) in waiting.iter_mut().zip(sizes) {
            let Some(size) = size else { continue };
            if bytes >= options.max_trace_bytes {
                if let Some(t) = line.trace.take() {
                    let _ = std::fs::remove_file(t);
                }
                continue;
            }
            bytes = bytes.saturating_add(size);
        }
        for (line, _) in &waiting {
            if line.trace.is_none() {
                stats.untraced_failures += 1;
            }
            on_line(line);
        }
    }
    for r in results {
        match r {
            Some(events) => {
                stats.finished += 1;
                stats.events += events;
            }
            None => stats.skipped += 1,
        }
    }
    Ok(stats)
}

/// Runs one index of a sweep (with a traced re-run if it fails, traces are wanted and the
/// options' budget has room).
pub fn run_one(scenario: &Scenario, config: &str, index: u64, options: &SweepOptions) -> SweepLine {
    let (mut line, fingerprint) = run_untraced(scenario, config, index, options);
    let room = options.traces_kept < options.max_traces && options.trace_bytes_kept < options.max_trace_bytes;
    if line.run.verdict != "held"
        && room
        && let Some(dir) = &options.trace_dir
    {
        record_trace(scenario, dir, &mut line, fingerprint);
    }
    line
}

/// One index's result line (with a replay command if it failed) and its fingerprint.
fn run_untraced(scenario: &Scenario, config: &str, index: u64, options: &SweepOptions) -> (SweepLine, u64) {
    let seed = seed_for(options.base_seed, index);
    let outcome = runner::run(scenario, seed);
    let failed = outcome.report.verdict != ruckus_sim::Verdict::Held;
    let line = SweepLine {
        index,
        run: outcome.summary(),
        scenario: scenario.name.clone(),
        config: config.to_owned(),
        trace: None,
        replay: failed.then(|| scenario.replay_command(seed)),
    };
    (line, outcome.report.fingerprint)
}

/// A failing seed's trace file name: `NAME-seed-S.trace`, or `NAME-set-H-seed-S.trace` when
/// `--set` overrides changed the scenario (H hashes them), so sweeps of one scenario with
/// different overrides into one directory do not overwrite each other's traces.
pub fn trace_file_name(scenario: &Scenario, seed: u64) -> String {
    if scenario.overrides.is_empty() {
        return format!("{}-seed-{seed}.trace", scenario.name);
    }
    let h = ruckus_sim::record::digest(scenario.overrides.as_slice()) as u32;
    format!("{}-set-{h:08x}-seed-{seed}.trace", scenario.name)
}

/// Re-runs a failing line's seed with a full trace in `dir`; its size, or `None` (the line
/// then says why there is no trace; the fast result stands).
fn record_trace(scenario: &Scenario, dir: &Path, line: &mut SweepLine, fingerprint: u64) -> Option<u64> {
    let seed = line.run.seed;
    let path = dir.join(trace_file_name(scenario, seed));
    match recording::record(scenario, seed, &path, Some(fingerprint)) {
        Ok(_) => {
            line.trace = Some(path.display().to_string());
            Some(std::fs::metadata(&path).map_or(0, |m| m.len()))
        }
        Err(e) => {
            line.run.message = Some(format!(
                "{} (no trace: {e})",
                line.run.message.as_deref().unwrap_or_default()
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(index: u64, probes: &[&str]) -> SweepLine {
        SweepLine {
            index,
            run: RunSummary {
                seed: index,
                verdict: "held".into(),
                fingerprint: "0".into(),
                events: 1,
                deliveries: 0,
                virtual_time_ns: 0,
                faults: 0,
                property: None,
                message: None,
                failure_time_ns: None,
                probes: probes.iter().map(|p| (*p).to_owned()).collect(),
            },
            scenario: "s".into(),
            config: "c".into(),
            trace: None,
            replay: None,
        }
    }

    #[test]
    fn traces_of_sweeps_with_different_overrides_get_different_names() {
        let registry = crate::registry::Registry::builtin();
        let plain = registry.scenario("pingpong", &[]).expect("built in");
        let a = registry
            .scenario("pingpong", &["faults.enabled=true".to_owned()])
            .expect("built in");
        let b = registry
            .scenario("pingpong", &["faults.enabled=false".to_owned()])
            .expect("built in");
        assert_eq!(trace_file_name(&plain, 7), "pingpong-seed-7.trace");
        let (na, nb) = (trace_file_name(&a, 7), trace_file_name(&b, 7));
        assert!(
            na.starts_with("pingpong-set-") && na.ends_with("-seed-7.trace"),
            "{na}"
        );
        assert_ne!(na, nb);
        assert_eq!(na, trace_file_name(&a, 7), "stable");
    }

    #[test]
    fn coverage_counts_runs_per_probe_declared_first() {
        let lines = [
            line(2, &["extra", "b"]),
            line(0, &["b"]),
            line(1, &["late", "b", "b"]),
        ];
        let required = vec!["a".to_owned(), "b".to_owned()];
        let c = coverage(&lines, &["a", "b"], &required);
        let rows: Vec<(&str, u64, bool, bool)> = c
            .iter()
            .map(|p| (p.name.as_str(), p.runs, p.declared, p.required))
            .collect();
        assert_eq!(
            rows,
            [
                ("a", 0, true, true),
                ("b", 3, true, true),
                ("late", 1, false, false),
                ("extra", 1, false, false)
            ]
        );
        assert_eq!(unreached_required(&c), ["a"]);
    }

    #[test]
    fn seeds_depend_only_on_base_and_index() {
        assert_eq!(seed_for(7, 3), seed_for(7, 3));
        assert_ne!(seed_for(7, 3), seed_for(7, 4));
        assert_ne!(seed_for(7, 3), seed_for(8, 3));
        // Pinned: a change would make old sweep outputs unresumable.
        assert_eq!(seed_for(0, 0), ruckus_sim::rng::derive_stream_key(0, "sweep", 0));
    }

    #[test]
    fn shards_partition_the_indices() {
        let shards: Vec<Shard> = (0..3).map(|k| Shard::new(k, 3).unwrap()).collect();
        for i in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert!(Shard::parse("3/3").unwrap_err().contains("count from 0 to 2"));
        assert!(Shard::parse("1-3").unwrap_err().contains("expected K/N"));
        assert!(Shard::parse("a/3").is_err());
        assert!(Shard::parse("0/0").is_err());
    }

    #[test]
    fn shard_index_comes_from_the_first_variable_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(
            Shard::from_env(4, env(&[("NOMAD_ALLOC_INDEX", "2")])),
            Ok(Shard { index: 2, count: 4 })
        );
        assert_eq!(
            Shard::from_env(
                4,
                env(&[("SLURM_ARRAY_TASK_ID", "3"), ("JOB_COMPLETION_INDEX", "1")])
            ),
            Ok(Shard { index: 1, count: 4 })
        );
        assert!(Shard::from_env(4, env(&[])).unwrap_err().contains("none of"));
        assert!(Shard::from_env(4, env(&[("JOB_COMPLETION_INDEX", "9")])).is_err());
        assert!(Shard::from_env(4, env(&[("JOB_COMPLETION_INDEX", "x")])).is_err());
    }
}
