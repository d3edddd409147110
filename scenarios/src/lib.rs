//! # ruckus-scenarios: scenario files, the runner, sweeps and the `ruckus` command
//!
//! A [`Scenario`](scenario::Scenario) is a run described as data (TOML): a model and its
//! parameters, a topology, a workload, faults, invariants and limits. The [`runner`] turns a
//! scenario and a seed into an [`Outcome`](runner::Outcome) through one code path for every
//! model (a loaded scenario carries its model from the [`registry`]); [`sweep`] runs many seeds
//! in parallel with results that do not
//! depend on how the work was split; [`recording`] writes full traces of runs; [`cli`] is the
//! `ruckus` command line, callable in-process.
//!
//! Codemap:
//!
//! | file | what |
//! |---|---|
//! | `scenario.rs` | the file format and loading; in `scenario/`: `location.rs` (errors located in the text or blamed on a `--set`), `overrides.rs` (`--set`), `checks.rs` (checks before the model is built), `partial.rs` (a parsed file completed with its model's type), `host_costs.rs` (`[[topology.host_costs]]`, costs per host or zone) |
//! | `error.rs` | `ScenarioError`, line/column, edit-distance suggestions |
//! | `builtin.rs` | scenarios/data/*.toml embedded in the binary |
//! | `registry.rs` | `Registry`: the models and named scenarios a binary knows (built-ins plus a user's own); `ModelRef` |
//! | `runner.rs` | build (`simulation`, a `Box<dyn Simulation>`) and run one seed; quiet panics; the events up to a failure placed before the end; the warning for a liveness failure judged at a horizon before its deadline |
//! | `recording.rs` | full trace files of scenario runs, and scenarios read back from them |
//! | `export/` | traces as JSON Lines, Chrome trace JSON (Perfetto) and a self-contained HTML timeline |
//! | `guided.rs`, `guided/mutate.rs` | guided search over fault plans (`ruckus hunt`): a corpus of runs that reached new probes or pairs of probes, mutated plans within the profile's bounds, the random search beside it |
//! | `sweep.rs` | seeds per index, shards, result lines, resume, probe coverage per sweep; traces for the failing runs of lowest index |
//! | `testing/` | proptest strategy over fault plans, `check_scenario`/`run_case` for users' tests, `RUCKUS_*` variables |
//! | `chart.rs` | hand-written SVG line charts with shaded windows and marked moments |
//! | `over_time.rs` | timed samples bucketed: rates, success rates, latency percentiles; fault windows |
//! | `run_report.rs` | `ruckus run --report`: one run as an HTML page of charts over time |
//! | `exit.rs` | exit codes |
//! | `output.rs` | what may be written (regular files only, no unasked-for directories) and bounded reads |
//! | `limits.rs` | the upper bound of every size that comes from input |
//! | `wallclock.rs` | the only wall-clock reads (timing for humans) |
//! | `cli.rs`, `cmd/*.rs` | the command line, one file per subcommand |

pub mod builtin;
pub mod chart;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod exit;
pub mod explore;
pub mod export;
pub mod guided;
pub mod limits;
pub mod output;
pub mod over_time;
pub mod recording;
pub mod registry;
pub mod run_report;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod testing;
pub mod wallclock;
