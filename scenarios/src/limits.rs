//! The upper bound of every size that comes from input.
//!
//! A scenario file, a `--set` flag, a trace header or a command-line flag can ask for any
//! number; each size below is checked against its bound before anything is allocated for it,
//! and a value over the bound is bad input (exit code 2) whose message names the field and the
//! bound. The bounds are generous for real use and keep the worst case to a few hundred MB.

/// Hosts in a topology. The engine keeps per-host state and routes per pair of host classes
/// (hosts on one switch share one); only more than 64 partitions active at once add a table of
/// every host pair (2 bytes a pair: about 200 MB at this bound).
pub const MAX_HOSTS: u32 = 10_000;

/// Zones of a zoned topology (their switches are joined in a full mesh).
pub const MAX_ZONES: u32 = 1_000;

/// Processes a run may hold: the engine refuses the spawn past it
/// ([`ruckus_sim::SimConfig::max_processes`], set by the runner), in the model's setup (bad
/// input, exit 2) or from a handler (the run ends with `limit_exceeded`).
pub const MAX_PROCESSES: usize = 100_000;

/// A workload size a model declares ([`ruckus_sim::Model::WORKLOAD_KNOBS`]: clients, writers,
/// deliveries, ...), checked before the model's setup runs.
pub const MAX_WORKLOAD_KNOB: u64 = 100_000_000;

/// Workload sizes that count processes (clients, writers, readers, members, instances, callers,
/// workers), found by key name: checked before the model's setup runs, for a message that
/// names the field. The exact bound is the engine's, on every spawn ([`MAX_PROCESSES`]).
pub const MAX_PROCESS_KNOB: u64 = 100_000;

/// Fault actions in one expanded plan (or one explicit plan).
pub const MAX_PLAN_ACTIONS: usize = 100_000;

/// Host ids named by all partitions of one plan together (each names up to every host).
pub const MAX_PLAN_HOST_IDS: u64 = 20_000_000;

/// Events that may wait in the queue at once (`limits.max_queue`).
pub const MAX_QUEUE: usize = 100_000_000;

/// Bytes of a scenario or experiment file read.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Bytes of one line of a sweep output file.
pub const MAX_SWEEP_LINE_BYTES: usize = 64 * 1024;

/// The largest history file `ruckus check` reads (about 10 million operations of Jepsen's EDN).
pub const MAX_HISTORY_BYTES: u64 = 1 << 30;

/// Runs one sweep invocation may hold (`--seeds`, and lines of an output to resume).
pub const MAX_SWEEP_RUNS: u64 = 10_000_000;

/// Worker threads of a sweep (`--jobs`).
pub const MAX_JOBS: usize = 1024;

/// Agreeing events shown before a replay divergence (`replay --context`).
pub const MAX_CONTEXT: usize = 10_000;

/// Checks a `--jobs` value: at least 1, at most [`MAX_JOBS`]; `None` means one per core.
pub fn jobs(requested: Option<usize>) -> Result<usize, String> {
    match requested {
        Some(0) => Err("--jobs must be at least 1".into()),
        Some(j) if j > MAX_JOBS => Err(format!("--jobs {j} is over the bound of {MAX_JOBS}")),
        Some(j) => Ok(j),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Checks a number of runs (`--seeds`): at least 1, at most [`MAX_SWEEP_RUNS`].
pub fn runs(flag: &str, n: u64) -> Result<u64, String> {
    if n == 0 {
        return Err(format!("{flag} must be at least 1"));
    }
    if n > MAX_SWEEP_RUNS {
        return Err(format!(
            "{flag} {n} is over the bound of {MAX_SWEEP_RUNS} runs per invocation (split the sweep with --start or --shard)"
        ));
    }
    Ok(n)
}

/// Longest value echoed in an error message; longer ones are cut.
pub const MAX_ECHO_CHARS: usize = 80;
