//! `ruckus replay FILE`: re-execute a recorded run from its trace header and check every event
//! against the recording; optionally stop at an event to dump process state, and export.
//!
//! Exit code: the recorded run's verdict when the replay matches (a replayed safety violation
//! exits 1, like `ruckus run`); 2 when the file is bad or the replay diverges (the trace is
//! stale: the model or the engine changed since it was recorded).

use crate::cli::Io;
use crate::exit::Exit;
use crate::export::{self, ExportInput, Format};
use crate::recording;
use crate::registry::Registry;
use crate::runner::{self, quietly};
use crate::scenario::Scenario;
use ruckus_sim::trace::{DetailText, Replay, ReplayOutcome, ReplayStatus, TraceReader, shared};
use ruckus_sim::{ProcessId, Simulation};
use std::path::{Path, PathBuf};

/// Flags of `ruckus replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file (written by `ruckus run --trace FILE` or `ruckus shrink`).
    pub trace: PathBuf,
    /// Stop after this many events and print process state. The replay ends there (exit 0
    /// when every event up to it matched), unless --export needs the whole run.
    #[arg(long, value_name = "N")]
    pub stop_at: Option<u64>,
    /// With --stop-at: the process ids to dump (repeatable; default: every process).
    #[arg(long = "dump", value_name = "PID")]
    pub dump: Vec<u32>,
    /// Agreeing events to show before a divergence (at most 10000).
    #[arg(long, default_value_t = 5)]
    pub context: usize,
    /// Also export the run to FILE (format from the extension: .html, .json, .jsonl).
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
}

/// A trace opened with the scenario it records.
pub(crate) struct Opened {
    pub reader: TraceReader,
    pub scenario: Scenario,
}

/// Opens `path` and rebuilds its scenario with `registry`; errors are one line naming the file.
pub(crate) fn open(registry: &Registry, path: &Path) -> Result<Opened, String> {
    crate::output::check_input(path)?;
    let reader = TraceReader::open(path).map_err(|e| e.to_string())?;
    let scenario = recording::scenario_of(registry, reader.header(), path).map_err(|e| e.to_string())?;
    Ok(Opened { reader, scenario })
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    if args.context > crate::limits::MAX_CONTEXT {
        return Err(format!(
            "--context {} is over the bound of {}",
            args.context,
            crate::limits::MAX_CONTEXT
        ));
    }
    let export_format = match &args.export {
        None => None,
        Some(p) => Some(Format::from_path(p).ok_or_else(|| {
            format!(
                "{}: cannot tell the export format from the extension (use .html, .json or .jsonl)",
                p.display()
            )
        })?),
    };
    if let Some(p) = &args.export {
        crate::output::check_target(p)?;
    }
    let Opened { reader, scenario } = open(registry, &args.trace)?;
    let header = reader.header().clone();
    let footer = reader.footer().clone();
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    writeln!(
        io.out,
        "replaying {}: scenario {} (model {}), seed {}, {} faults, recorded {} after {} events",
        args.trace.display(),
        scenario.name,
        scenario.model,
        header.seed,
        header.plan.actions.len(),
        footer.verdict.name(),
        footer.events
    )
    .map_err(w)?;
    let visit = ReplayVisit {
        reader,
        stop_at: args.stop_at,
        dump: args.dump.clone(),
        context: args.context,
        collect: export_format.is_some(),
    };
    let result = visit.run(&scenario)?;
    io.out.write_all(result.text.as_bytes()).map_err(w)?;
    let outcome = match result.end {
        ReplayEnd::Done(outcome) => outcome,
        ReplayEnd::Stopped(events) => {
            writeln!(
            io.out,
            "stopped: the first {events} events match the recording ({} recorded; replay without --stop-at to check them all)",
                footer.events
            )
            .map_err(w)?;
            return Ok(Exit::Held);
        }
    };
    let matched = matches!(outcome, ReplayOutcome::Matches { .. });
    writeln!(io.out, "{outcome}").map_err(w)?;
    if let ReplayOutcome::Diverged(d) = &outcome
        && only_the_digest_differs(d)
    {
        writeln!(
            io.out,
            "only the payload digest differs: a trace recorded by an older ruckus may hash some \
             payloads differently (SWIM's push-pull state did); re-record it: `{} --trace FILE`",
            scenario.replay_command(header.seed)
        )
        .map_err(w)?;
    }
    if matched {
        io.out
            .write_all(role_resolutions(&args.trace, &header.plan)?.as_bytes())
            .map_err(w)?;
    }
    if let (Some(path), Some(format)) = (&args.export, export_format) {
        let texts = if matched { result.texts } else { Vec::new() };
        write_export(&args.trace, path, format, &texts)?;
        writeln!(io.out, "exported {} to {}", format.name(), path.display()).map_err(w)?;
    }
    Ok(if matched {
        Exit::of_failure(
            footer.verdict,
            footer.failure.as_ref().map(|f| f.message.as_str()),
        )
    } else {
        Exit::BadInput
    })
}

/// The same event at the same time, with another payload digest: the payload hashes
/// differently (or is another message of the same shape).
fn only_the_digest_differs(d: &ruckus_sim::Divergence) -> bool {
    match (&d.recorded, &d.replayed) {
        (Some(r), Some(p)) => {
            r.digest != p.digest
                && ruckus_sim::EventRecord {
                    digest: r.digest,
                    ..*p
                } == *r
        }
        _ => false,
    }
}

/// One line per role-targeted fault that began: whom its target resolved to, from the trace's
/// begin records (empty when the plan has no role faults).
fn role_resolutions(trace: &Path, plan: &ruckus_sim::FaultPlan) -> Result<String, String> {
    use std::fmt::Write as _;
    if plan.actions.iter().all(|a| a.fault.target().is_none()) {
        return Ok(String::new());
    }
    let mut hits: Vec<Option<(ruckus_sim::Instant, Vec<String>)>> = vec![None; plan.actions.len()];
    for event in TraceReader::open(trace).map_err(|e| e.to_string())? {
        let r = event.map_err(|e| e.to_string())?.record;
        let i = r.peer as usize;
        if r.kind != ruckus_sim::RecordKind::FaultBegin
            || plan.actions.get(i).is_none_or(|a| a.fault.target().is_none())
        {
            continue;
        }
        let entry = hits[i].get_or_insert_with(|| (r.time, Vec::new()));
        if r.process != ruckus_sim::record::NONE {
            entry.1.push(format!("p{} on h{}", r.process, r.host));
        }
    }
    let mut out = String::new();
    for (i, hit) in hits.iter().enumerate() {
        if let Some((at, who)) = hit {
            let whom = if who.is_empty() {
                "nobody plays the role: skipped".to_string()
            } else {
                format!("hit {}", who.join(", "))
            };
            let _ = writeln!(out, "fault #{i} {at} ({}): {whom}", plan.actions[i].fault);
        }
    }
    Ok(out)
}

/// Reads the trace's records again and writes them in `format` to `out`.
pub(crate) fn write_export(trace: &Path, out: &Path, format: Format, texts: &[String]) -> Result<(), String> {
    let mut reader = TraceReader::open(trace).map_err(|e| e.to_string())?;
    let events = reader.read_all().map_err(|e| e.to_string())?;
    let header = reader.header();
    let name = header.label(recording::labels::SCENARIO).unwrap_or("traced run");
    let title = format!("{name} seed {}", header.seed);
    let names = recording::process_names(header);
    let input = ExportInput::new(&events, &reader.header().plan)
        .with_names(&names)
        .with_failure(reader.footer().failure.as_ref())
        .with_operations(&reader.footer().operations, reader.footer().operations_total)
        .with_details(texts)
        .with_title(&title);
    crate::output::write_file(out, |file| export::write(format, &input, file))
}

/// What a replay produced for the command to print.
pub(crate) struct ReplayResult {
    pub end: ReplayEnd,
    /// Text printed at the stop point (state dumps).
    pub text: String,
    /// Payload text per record, when collected.
    pub texts: Vec<String>,
}

/// How a replay visit ended.
// One value per replay, returned once: boxing the outcome would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ReplayEnd {
    /// It ran to the end (or to a divergence).
    Done(ReplayOutcome),
    /// It stopped at `--stop-at` after this many events, every one matching the recording.
    Stopped(u64),
}

pub(crate) struct ReplayVisit {
    pub reader: TraceReader,
    pub stop_at: Option<u64>,
    pub dump: Vec<u32>,
    pub context: usize,
    pub collect: bool,
}

impl ReplayVisit {
    /// Re-executes `scenario` (the trace's own) against the recording.
    pub(crate) fn run(self, scenario: &Scenario) -> Result<ReplayResult, String> {
        let header = self.reader.header().clone();
        let mut sim = runner::simulation(scenario, header.seed, &header.plan)?;
        let (details, texts) = shared(DetailText::new(400));
        let extra: Option<Box<dyn ruckus_sim::Observer>> = if self.collect {
            Some(Box::new(details))
        } else {
            None
        };
        let replay = Replay::attach(&mut *sim, self.reader, self.context, extra);
        let mut text = String::new();
        if let Some(n) = self.stop_at {
            match quietly(|| replay.run_until(&mut *sim, n)).map_err(|e| e.to_string())? {
                ReplayStatus::Paused { events } => {
                    text.push_str(&dump_state(&*sim, events, &self.dump));
                    // An export needs every record's text: only then does the replay go on.
                    if !self.collect {
                        return Ok(ReplayResult {
                            end: ReplayEnd::Stopped(events),
                            text,
                            texts: Vec::new(),
                        });
                    }
                }
                ReplayStatus::Done(outcome) => {
                    text.push_str(&format!("the run ended before event {n}\n"));
                    return Ok(ReplayResult {
                        end: ReplayEnd::Done(outcome),
                        text,
                        texts: take(&texts),
                    });
                }
            }
        }
        let outcome = quietly(|| replay.run_to_end(&mut *sim)).map_err(|e| e.to_string())?;
        drop(sim);
        Ok(ReplayResult {
            end: ReplayEnd::Done(outcome),
            text,
            texts: take(&texts),
        })
    }
}

fn take(texts: &std::rc::Rc<std::cell::RefCell<DetailText>>) -> Vec<String> {
    std::mem::take(&mut texts.borrow_mut().texts)
}

/// Each requested process's `Debug` state (pretty-printed), or all of them.
fn dump_state(sim: &dyn Simulation, events: u64, dump: &[u32]) -> String {
    let mut s = format!("paused after {events} events at {}\n", sim.now());
    let ids: Vec<u32> = if dump.is_empty() {
        (0..sim.process_count() as u32).collect()
    } else {
        dump.to_vec()
    };
    for id in ids {
        let pid = ProcessId(id);
        if id as usize >= sim.process_count() {
            s.push_str(&format!(
                "p{id}: no such process ({} exist)\n",
                sim.process_count()
            ));
            continue;
        }
        let host = sim.host_of(pid);
        match sim.describe_process(pid) {
            Some(state) => s.push_str(&format!("p{id}@{host}: {state}\n")),
            None => s.push_str(&format!("p{id}@{host}: not running (crashed or stopped)\n")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::only_the_digest_differs;
    use ruckus_sim::{Divergence, EventRecord, Instant, RecordKind};

    fn deliver(time: u64, digest: u64) -> EventRecord {
        EventRecord {
            index: 8,
            time: Instant(time),
            kind: RecordKind::Deliver,
            process: 0,
            host: 0,
            peer: 3,
            aux: 0,
            digest,
        }
    }

    fn diverged(recorded: Option<EventRecord>, replayed: Option<EventRecord>) -> Divergence {
        Divergence {
            position: 8,
            recorded,
            replayed,
            before: Vec::new(),
            reason: String::new(),
        }
    }

    #[test]
    fn the_old_trace_hint_is_given_only_when_nothing_but_the_digest_differs() {
        let d = |a, b| only_the_digest_differs(&diverged(a, b));
        assert!(d(Some(deliver(5, 1)), Some(deliver(5, 2))));
        assert!(!d(Some(deliver(5, 1)), Some(deliver(6, 2))), "another time too");
        assert!(!d(Some(deliver(5, 1)), Some(deliver(6, 1))), "the digest agrees");
        assert!(!d(Some(deliver(5, 1)), None), "the re-execution ended");
        assert!(!d(None, Some(deliver(5, 1))), "the recording ended");
    }
}
