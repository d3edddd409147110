//! `ruckus check FILE --model MODEL`: checks a history for linearizability: one recorded
//! outside ruckus (Jepsen's `history.edn` or `jepsen.log`, or our JSON Lines form), or the
//! client history of a run a ruckus trace records (`trace.rs`: replayed, then exported by the
//! model).
//!
//! The formats and their semantics (`:info` indeterminate, `:fail` did not happen, nemesis
//! entries ignored) are documented in [`ruckus_models::linearizability::jepsen`]. Keys of the
//! `kv` model are independent, so they are decided in parallel, each within its own
//! `--max-steps` (rayon; this is a tool, not a run, so threads and the wall clock are fine
//! here). The decision is timed apart from the witness, which is optional (`--no-witness`) and
//! bounded by steps and by wall time. `html.rs` draws the `--html` page, `input.rs` reads the
//! files that are not traces.

mod html;
mod input;
mod trace;

use crate::cli::Io;
use crate::exit::Exit;
use crate::registry::Registry;
use crate::wallclock::Stopwatch;
use rayon::prelude::*;
use ruckus_models::linearizability::edn::{self, Edn};
use ruckus_models::linearizability::jepsen::{self, Input, ModelKind, ModelSpec, Output, Value};
use ruckus_models::linearizability::{
    CheckOptions, Decision, Operation, Witness, decide, partition, timeline, witness,
};
use std::path::PathBuf;

/// The exit codes of `ruckus check`.
pub const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0  linearizable
  1  not linearizable (the witness is printed)
  2  bad input (file, line and field named; a trace that cannot be replayed, or whose model
     records no client history)
  4  inconclusive: a key ran out of its step budget or the memo bound (as for every limit in
     ruckus); the keys that did are named";

/// The input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// Jepsen's `history.edn`: one map per entry.
    Edn,
    /// One JSON object per line with the same fields (`process`, `type`, `f`, `value`,
    /// optionally `time`).
    Jsonl,
    /// Jepsen's `jepsen.log` (older tests and Knossos's data): the client lines
    /// `INFO jepsen.util - PROCESS :TYPE :F VALUE` (tab- or space-separated); every other line
    /// is log noise.
    Log,
    /// A ruckus trace (`ruckus run --trace FILE`): the run is replayed and its model's client
    /// history checked.
    Trace,
}

/// Flags of `ruckus check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The history file, or a ruckus trace.
    pub file: PathBuf,
    /// register, cas-register, kv, set or queue (a trace's model names its own).
    #[arg(long)]
    pub model: Option<String>,
    /// edn, jsonl, log or trace (default: trace for a file that starts as one or is named
    /// `.trace`, jsonl for `.jsonl`/`.json`, log for `.log`, else edn).
    #[arg(long)]
    pub format: Option<HistoryFormat>,
    /// The registers' value before the first write: an integer, a string or nil (the default).
    #[arg(long, value_name = "VALUE")]
    pub initial: Option<String>,
    /// Report the verdict alone; skip finding and shrinking a witness.
    #[arg(long)]
    pub no_witness: bool,
    /// Search steps per key before the answer is inconclusive.
    #[arg(long, default_value_t = CheckOptions::default().max_steps)]
    pub max_steps: u64,
    /// Search steps the witness (prefix search and shrinking) may spend.
    #[arg(long, default_value_t = CheckOptions::default().max_shrink_steps)]
    pub max_shrink_steps: u64,
    /// Wall-clock seconds the witness may take; the best witness so far is kept.
    #[arg(long, default_value_t = 10.0)]
    pub shrink_seconds: f64,
    /// Also write the history and witness as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// With a trace: also write its client history to FILE as JSON Lines (the lines the
    /// messages' `line N` refer to; `ruckus check FILE --model ...` reads it back).
    #[arg(long, value_name = "FILE")]
    pub emit_history: Option<PathBuf>,
}

type Op = Operation<Input, Output>;

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let file = args.file.display().to_string();
    crate::output::check_input(&args.file)?;
    let format = args.format.unwrap_or_else(|| input::format_of(&args.file));
    if args.emit_history.is_some() && format != HistoryFormat::Trace {
        return Err("--emit-history applies to a trace; this history is already a file".into());
    }
    for out in [&args.html, &args.emit_history].into_iter().flatten() {
        crate::output::check_target(out)?;
    }
    let kind_of = |model: &str| {
        ModelKind::by_name(model).ok_or_else(|| format!("unknown model `{model}` (one of {})", model_names()))
    };
    // Flags are vetted before a trace is replayed.
    let named = args.model.as_deref().map(kind_of).transpose()?;
    let required = || {
        format!(
            "--model is required for a history file (one of {})",
            model_names()
        )
    };
    if named.is_none() && format != HistoryFormat::Trace {
        return Err(required());
    }
    // A trace is replayed first: its model says which checker model applies.
    let traced = if format == HistoryFormat::Trace {
        Some(trace::history(registry, &args.file)?)
    } else {
        None
    };
    let (kind, model) = match (named, &traced) {
        (Some(kind), _) => (kind, args.model.clone().unwrap_or_default()),
        (None, Some(t)) => (kind_of(t.checker_model)?, t.checker_model.to_string()),
        (None, None) => return Err(required()),
    };
    if args.initial.is_some() && matches!(kind, ModelKind::Set | ModelKind::Queue) {
        return Err(format!("--initial applies to registers; a {model} starts empty"));
    }
    let spec = ModelSpec {
        kind,
        initial: args.initial.as_deref().map_or(Value::Nil, Value::parse),
    };
    let entries: Vec<(usize, Edn)> = match &traced {
        Some(t) => {
            let _ = writeln!(io.out, "{}", t.about);
            if let Some(path) = &args.emit_history {
                trace::emit(&t.entries, path)?;
                let _ = writeln!(
                    io.out,
                    "client history: {} entries written to {}",
                    t.entries.len(),
                    path.display()
                );
            }
            t.entries
                .iter()
                .enumerate()
                .map(|(i, e)| (i + 1, e.to_edn()))
                .collect()
        }
        None => {
            let text = crate::output::read_bounded(&args.file, crate::limits::MAX_HISTORY_BYTES, "history")?;
            match format {
                HistoryFormat::Jsonl => input::read_jsonl(&text).map_err(|e| format!("{file}: {e}"))?,
                HistoryFormat::Log => input::read_jepsen_log(&text).map_err(|e| format!("{file}: {e}"))?,
                HistoryFormat::Edn | HistoryFormat::Trace => {
                    edn::read_all(&text).map_err(|e| format!("{file}: {e}"))?
                }
            }
        }
    };
    // A trace's entries have no file lines: messages count entries (the lines of --emit-history).
    let line_word = if traced.is_some() {
        "client history entry"
    } else {
        "line"
    };
    let converted = jepsen::convert(&entries, kind).map_err(|e| {
        if traced.is_some() {
            format!(
                "{file}: {line_word} {}, field `{}`: {}",
                e.line, e.field, e.message
            )
        } else {
            format!("{file}: {e}")
        }
    })?;
    let ops = converted.history.operations();
    let parts: Vec<(Value, Vec<Op>)> = partition(&spec, ops).into_iter().collect();
    let options = CheckOptions {
        max_steps: args.max_steps,
        max_shrink_steps: args.max_shrink_steps,
        ..CheckOptions::default()
    };
    let _ = writeln!(
        io.out,
        "history: {} operations from {} client entries on {} key(s); {} non-client entries ignored",
        ops.len(),
        converted.client_entries,
        parts.len(),
        converted.ignored
    );
    let times = converted.event_times();
    let page = |failure: Option<(usize, &Witness<Input, Output>)>| -> Result<(), String> {
        let Some(path) = &args.html else {
            return Ok(());
        };
        let html = html::Page {
            title: &file,
            spec: &spec,
            parts: &parts,
            failure,
            times: times.as_deref(),
        }
        .render();
        crate::output::write_file(path, |out| out.write_all(html.as_bytes()))
    };

    let clock = Stopwatch::start();
    // One key needs no thread pool (starting one costs more than an easy history's check).
    let decisions: Vec<(Decision, u64)> = if parts.len() > 1 {
        parts
            .par_iter()
            .map(|(_, key_ops)| decide(&spec, key_ops, options))
            .collect()
    } else {
        parts
            .iter()
            .map(|(_, key_ops)| decide(&spec, key_ops, options))
            .collect()
    };
    let decision_seconds = clock.seconds();
    let steps: u64 = decisions.iter().map(|d| d.1).sum();
    let failing = decisions.iter().position(|d| d.0 == Decision::NotLinearizable);
    let inconclusive: Vec<usize> = (0..decisions.len())
        .filter(|&k| decisions[k].0 == Decision::Inconclusive)
        .collect();
    let per_second = ops.len() as f64 / decision_seconds.max(1e-9);
    let timing = format!(
        "decision: {} ({steps} steps, {:.0} operations/s)",
        millis(decision_seconds),
        per_second
    );

    let Some(bad) = failing else {
        if !inconclusive.is_empty() {
            let others = parts.len() - inconclusive.len();
            let rest = match others {
                0 => String::new(),
                1 => "; the other key linearizable".to_string(),
                n => format!("; the other {n} keys linearizable"),
            };
            let _ = writeln!(
                io.out,
                "verdict: INCONCLUSIVE: {}{rest}\n{timing}",
                out_of_budget(&parts, &decisions, &inconclusive, args.max_steps)
            );
            page(None)?;
            return Ok(Exit::PanicOrLimit);
        }
        let _ = writeln!(io.out, "verdict: linearizable\n{timing}");
        page(None)?;
        return Ok(Exit::Held);
    };
    let bad_keys = decisions
        .iter()
        .filter(|d| d.0 == Decision::NotLinearizable)
        .count();
    let (key, key_ops) = &parts[bad];
    let _ = writeln!(
        io.out,
        "verdict: NOT linearizable: key {key:?} ({} operations; {bad_keys} failing key(s))\n{timing}",
        key_ops.len()
    );
    if !inconclusive.is_empty() {
        let _ = writeln!(
            io.out,
            "also: {}",
            out_of_budget(&parts, &decisions, &inconclusive, args.max_steps)
        );
    }
    if args.no_witness && args.html.is_none() {
        return Ok(Exit::Safety);
    }
    let shrink_clock = Stopwatch::start();
    let limit = args.shrink_seconds;
    let mut stop = || shrink_clock.seconds() > limit;
    let found = witness(&spec, key_ops, options, !args.no_witness, &mut stop);
    let shrink_seconds = shrink_clock.seconds();
    let _ = writeln!(
        io.out,
        "witness: {} ({})",
        millis(shrink_seconds),
        if found.complete {
            "complete"
        } else {
            "cut short by --max-shrink-steps or --shrink-seconds; the best so far"
        }
    );
    if let Some(f) = found.failing {
        let op = &key_ops[f];
        let _ = writeln!(
            io.out,
            "the longest linearizable prefix ends at event {}; no ordering explains {:?} -> {:?} by client {} ({line_word} {})",
            found.prefix_end,
            op.input,
            op.outcome,
            op.client,
            line_of(&converted.lines, ops, op)
        );
    }
    if !args.no_witness {
        let _ = writeln!(
            io.out,
            "{} operations that fail on their own (shrunk from {}):\n{}",
            found.operations.len(),
            key_ops.len(),
            timeline(&found.operations)
        );
    }
    page(Some((bad, &found)))?;
    Ok(Exit::Safety)
}

/// The checker models' names, for messages.
fn model_names() -> String {
    let names: Vec<&str> = ModelKind::ALL.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// The keys that ran out of budget, each with the steps it spent and its size: `key 3:
/// inconclusive after 1000 steps (40 operations)`. A key that stopped short of `max_steps`
/// hit the memo bound. The history of a model without keys is "the history".
fn out_of_budget(
    parts: &[(Value, Vec<Op>)],
    decisions: &[(Decision, u64)],
    keys: &[usize],
    max_steps: u64,
) -> String {
    const LISTED: usize = 10;
    let mut listed: Vec<String> = keys
        .iter()
        .take(LISTED)
        .map(|&k| {
            let who = match &parts[k].0 {
                Value::Nil if parts.len() == 1 => "the history".to_string(),
                key => format!("key {key:?}"),
            };
            let steps = decisions[k].1;
            let why = if steps >= max_steps {
                format!("after {steps} steps (--max-steps)")
            } else {
                format!("at the memo bound after {steps} steps")
            };
            format!("{who}: inconclusive {why}, {} operations", parts[k].1.len())
        })
        .collect();
    if keys.len() > LISTED {
        listed.push(format!("and {} more keys", keys.len() - LISTED));
    }
    listed.join("; ")
}

fn millis(seconds: f64) -> String {
    format!("{:.3} ms", seconds * 1e3)
}

/// The source line of an operation's invocation.
fn line_of(lines: &[usize], all: &[Op], op: &Op) -> usize {
    all.iter()
        .position(|o| o.call == op.call)
        .and_then(|i| lines.get(i).copied())
        .unwrap_or(0)
}
