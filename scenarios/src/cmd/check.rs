//! `ruckus check FILE --model MODEL`: checks a history recorded outside ruckus (Jepsen's
//! `history.edn`, or our JSON Lines form) for linearizability.
//!
//! The formats and their semantics (`:info` indeterminate, `:fail` did not happen, nemesis
//! entries ignored) are documented in [`ruckus_models::linearizability::jepsen`]. Keys of the
//! `kv` model are independent, so they are decided in parallel (rayon; this is a tool, not a
//! run, so threads and the wall clock are fine here). The decision is timed apart from the
//! witness, which is optional (`--no-witness`) and bounded by steps and by wall time.

use crate::chart::esc;
use crate::cli::Io;
use crate::exit::Exit;
use crate::wallclock::Stopwatch;
use rayon::prelude::*;
use ruckus_models::linearizability::edn::{self, Edn};
use ruckus_models::linearizability::jepsen::{self, Input, JsonEntry, ModelKind, ModelSpec, Output, Value};
use ruckus_models::linearizability::{
    CheckOptions, Decision, Operation, Outcome, Specification, Witness, decide, partition, timeline, witness,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The exit codes of `ruckus check`.
pub const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0  linearizable
  1  not linearizable (the witness is printed)
  2  bad input (file, line and field named)
  4  inconclusive: the step budget or memo bound ran out (as for every limit in ruckus)";

/// The input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// Jepsen's `history.edn`: one map per entry.
    Edn,
    /// One JSON object per line with the same fields (`process`, `type`, `f`, `value`).
    Jsonl,
    /// Jepsen's `jepsen.log` (older tests and Knossos's data): the client lines
    /// `INFO jepsen.util - PROCESS :TYPE :F VALUE` (tab- or space-separated); every other line
    /// is log noise.
    Log,
}

/// Flags of `ruckus check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The history file.
    pub file: PathBuf,
    /// register, cas-register, kv, set or queue.
    #[arg(long)]
    pub model: String,
    /// edn, jsonl or log (default: jsonl for `.jsonl`/`.json` files, log for `.log`, else edn).
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
}

type Op = Operation<Input, Output>;

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>) -> Result<Exit, String> {
    let kind = ModelKind::by_name(&args.model).ok_or_else(|| {
        let names: Vec<&str> = ModelKind::ALL.iter().map(|(n, _)| *n).collect();
        format!("unknown model `{}` (one of {})", args.model, names.join(", "))
    })?;
    if args.initial.is_some() && matches!(kind, ModelKind::Set | ModelKind::Queue) {
        return Err(format!(
            "--initial applies to registers; a {} starts empty",
            args.model
        ));
    }
    let spec = ModelSpec {
        kind,
        initial: args.initial.as_deref().map_or(Value::Nil, Value::parse),
    };
    let file = args.file.display().to_string();
    let text = crate::output::read_bounded(&args.file, crate::limits::MAX_HISTORY_BYTES, "history")?;
    let format = args.format.unwrap_or_else(|| format_of(&args.file));
    let entries = match format {
        HistoryFormat::Edn => edn::read_all(&text).map_err(|e| format!("{file}: {e}"))?,
        HistoryFormat::Jsonl => read_jsonl(&text).map_err(|e| format!("{file}: {e}"))?,
        HistoryFormat::Log => read_jepsen_log(&text).map_err(|e| format!("{file}: {e}"))?,
    };
    let converted = jepsen::convert(&entries, kind).map_err(|e| format!("{file}: {e}"))?;
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
    let inconclusive = decisions.iter().position(|d| d.0 == Decision::Inconclusive);
    let per_second = ops.len() as f64 / decision_seconds.max(1e-9);
    let timing = format!(
        "decision: {} ({steps} steps, {:.0} operations/s)",
        millis(decision_seconds),
        per_second
    );

    let Some(bad) = failing else {
        if let Some(k) = inconclusive {
            let _ = writeln!(
                io.out,
                "verdict: INCONCLUSIVE: key {:?} ({} operations) ran out of its {} steps or the memo bound\n{timing}",
                parts[k].0,
                parts[k].1.len(),
                args.max_steps
            );
            write_html(&args, &spec, &parts, None)?;
            return Ok(Exit::PanicOrLimit);
        }
        let _ = writeln!(io.out, "verdict: linearizable\n{timing}");
        write_html(&args, &spec, &parts, None)?;
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
            "the longest linearizable prefix ends at event {}; no ordering explains {:?} -> {:?} by client {} (line {})",
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
    write_html(&args, &spec, &parts, Some((bad, &found)))?;
    Ok(Exit::Safety)
}

fn millis(seconds: f64) -> String {
    format!("{:.3} ms", seconds * 1e3)
}

fn format_of(path: &Path) -> HistoryFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "json" | "ndjson") => HistoryFormat::Jsonl,
        Some("log") => HistoryFormat::Log,
        _ => HistoryFormat::Edn,
    }
}

/// The source line of an operation's invocation.
fn line_of(lines: &[usize], all: &[Op], op: &Op) -> usize {
    all.iter()
        .position(|o| o.call == op.call)
        .and_then(|i| lines.get(i).copied())
        .unwrap_or(0)
}

/// The marker of a client line in `jepsen.log`, before `PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE`.
const JEPSEN_LOG_MARKER: &str = "jepsen.util - ";

/// Reads the client lines of a `jepsen.log` as history entries, each with its line. A client
/// line is split at whitespace into process, type and function, the rest being the value (each
/// EDN); lines without the marker are skipped.
fn read_jepsen_log(text: &str) -> Result<Vec<(usize, Edn)>, String> {
    let keyword = |k: &str| Edn::Keyword(k.to_owned());
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(at) = line.find(JEPSEN_LOG_MARKER) else {
            continue;
        };
        // Tabs in most logs, spaces in some: the first three words, then the value's text.
        let mut rest = line[at + JEPSEN_LOG_MARKER.len()..].trim();
        let mut fields = Vec::with_capacity(4);
        while fields.len() < 3 && !rest.is_empty() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        if fields.len() < 3 {
            return Err(format!(
                "line {}: a client line needs PROCESS :TYPE :F VALUE, found {} field(s)",
                i + 1,
                fields.len()
            ));
        }
        let value_text = if rest.is_empty() { "nil" } else { rest.trim_end() };
        let mut map = Vec::with_capacity(4);
        for (name, text) in [
            ("process", fields[0]),
            ("type", fields[1]),
            ("f", fields[2]),
            ("value", value_text),
        ] {
            let form = edn::read_one(text).map_err(|e| format!("line {}, field `{name}`: {e}", i + 1))?;
            map.push((keyword(name), form));
        }
        entries.push((i + 1, Edn::Map(map)));
    }
    Ok(entries)
}

/// Reads JSON Lines entries, each with its line; blank lines are skipped.
fn read_jsonl(text: &str) -> Result<Vec<(usize, Edn)>, String> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let entry: JsonEntry = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." {
                String::new()
            } else {
                format!(", field `{field}`")
            };
            format!("line {}{field}: {}", i + 1, e.inner())
        })?;
        entries.push((i + 1, entry.to_edn()));
    }
    Ok(entries)
}

/// Writes the `--html` page, if asked for.
fn write_html(
    args: &Args,
    spec: &ModelSpec,
    parts: &[(Value, Vec<Op>)],
    failure: Option<(usize, &Witness<Input, Output>)>,
) -> Result<(), String> {
    let Some(path) = &args.html else {
        return Ok(());
    };
    let page = html_page(&args.file.display().to_string(), spec, parts, failure);
    std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))
}

/// At most this many operations are drawn when the whole history is shown.
const MAX_DRAWN: usize = 2_000;

/// A self-contained page: one lane per client, a bar per operation from invocation to
/// completion, the longest linearizable prefix shaded and the failing operation in red;
/// hovering a linearized bar shows the model state after it. No script, nothing fetched.
fn html_page(
    title: &str,
    spec: &ModelSpec,
    parts: &[(Value, Vec<Op>)],
    failure: Option<(usize, &Witness<Input, Output>)>,
) -> String {
    // What is drawn: the failing key's operations, or every key's (capped).
    let (ops, heading): (Vec<&Op>, String) = match failure {
        Some((k, _)) => (
            parts[k].1.iter().collect(),
            match &parts[k].0 {
                Value::Nil => "not linearizable".to_string(),
                key => format!("not linearizable: key {key:?}"),
            },
        ),
        None => {
            let mut all: Vec<&Op> = parts.iter().flat_map(|(_, o)| o.iter()).collect();
            all.sort_by_key(|o| o.call);
            let total = all.len();
            all.truncate(MAX_DRAWN);
            let note = if total > MAX_DRAWN {
                format!(" (first {MAX_DRAWN} of {total} operations drawn)")
            } else {
                String::new()
            };
            (all, format!("no violation found{note}"))
        }
    };
    // The state after each linearized operation, and its place in the order.
    let mut after: Vec<Option<(usize, String)>> = vec![None; ops.len()];
    let mut failing = None;
    let mut prefix_end = None;
    let mut witness_set: Vec<bool> = vec![false; ops.len()];
    if let Some((_, w)) = failure {
        let mut state = spec.initial();
        for (rank, &i) in w.linearization.iter().enumerate() {
            let (next, _) = spec.step(&state, &ops[i].input);
            state = next;
            after[i] = Some((rank + 1, format!("{state:?}")));
        }
        failing = w.failing;
        prefix_end = Some(w.prefix_end);
        for o in &w.operations {
            if let Some(i) = ops.iter().position(|x| x.call == o.call) {
                witness_set[i] = true;
            }
        }
    }
    let mut clients: Vec<u64> = ops.iter().map(|o| o.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let end = ops
        .iter()
        .map(|o| o.ret.unwrap_or(o.call) + 1)
        .max()
        .unwrap_or(1)
        .max(1);
    let (left, lane_h, width) = (70.0, 26.0, 1100.0);
    let x = |p: u64| left + (p as f64) / (end as f64) * (width - left - 10.0);
    let height = 40.0 + lane_h * clients.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    if let Some(p) = prefix_end {
        let _ = writeln!(
            svg,
            "<rect x=\"{left}\" y=\"20\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e8f5e9\"><title>longest linearizable prefix: events before {p}</title></rect>\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"14\" y2=\"{:.1}\" stroke=\"#2e7d32\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{x:.1}\" y=\"11\" fill=\"#2e7d32\">linearizable up to here</text>",
            x(p) - left,
            height - 20.0,
            height,
            x = x(p)
        );
    }
    for (lane, c) in clients.iter().enumerate() {
        let y = 24.0 + lane_h * lane as f64;
        let _ = writeln!(svg, "<text x=\"4\" y=\"{:.1}\">client {c}</text>", y + 14.0);
    }
    for (i, o) in ops.iter().enumerate() {
        let lane = clients.binary_search(&o.client).unwrap_or(0);
        let y = 24.0 + lane_h * lane as f64;
        let x0 = x(o.call);
        let x1 = o.ret.map_or(x(end), x).max(x0 + 3.0);
        let fill = if failing == Some(i) {
            "#d55e00"
        } else if after[i].is_some() {
            "#009e73"
        } else if matches!(o.outcome, Outcome::Unknown) {
            "#bbbbbb"
        } else {
            "#0072b2"
        };
        let stroke = if witness_set[i] && failure.is_some() {
            " stroke=\"#000\" stroke-width=\"1.5\""
        } else {
            ""
        };
        let dash = if o.ret.is_none() {
            " stroke-dasharray=\"3 2\" fill-opacity=\"0.5\""
        } else {
            ""
        };
        let label = format!("{:?} -> {:?}", o.input, o.outcome);
        let mut tip = format!("client {}: {label}", o.client);
        match &after[i] {
            Some((rank, state)) => {
                let _ = write!(tip, "\nlinearized #{rank}; state after: {state}");
            }
            None if failing == Some(i) => tip.push_str("\nno ordering explains this completion"),
            None => {}
        }
        let _ = writeln!(
            svg,
            "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\" rx=\"3\" fill=\"{fill}\"{stroke}{dash}/>\
             <svg x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\"><text x=\"3\" y=\"13\" fill=\"#fff\">{}</text></svg></g>",
            esc(&tip),
            esc(&label),
            w = x1 - x0,
        );
    }
    svg.push_str("</svg>\n");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ruckus check: {t}</title>\n\
<style>body{{font-family:sans-serif;margin:16px}} .key span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}}</style>\n</head>\n<body>\n\
<h2>ruckus check: {t}</h2>\n<p><strong>{h}</strong> &mdash; model {m:?}, one lane per client; positions are event order. Hover a bar for the operation{hover}.</p>\n\
<p class=\"key\"><span style=\"background:#009e73\"></span>linearized in the longest prefix<span style=\"background:#d55e00\"></span>failing operation\
<span style=\"background:#0072b2\"></span>other<span style=\"background:#bbbbbb\"></span>unknown outcome (dashed: never completed)\
<span style=\"border:1.5px solid #000\"></span>in the shrunk witness</p>\n{svg}</body>\n</html>\n",
        t = esc(title),
        h = esc(&heading),
        m = spec.kind,
        hover = if failure.is_some() {
            " and the model state after it"
        } else {
            ""
        },
    )
}
