//! How a run ended: the verdict, the failure and the report a caller keeps.

use crate::metrics::Metrics;
use crate::network::HostId;
use crate::operation::OperationSpan;
use crate::probe::ProbeHit;
use crate::process::ProcessId;
use crate::record::EventRecord;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every property held until the run ended.
    Held,
    /// A safety property failed.
    SafetyViolation,
    /// A liveness property did not come to hold in time after the heal.
    LivenessFailure,
    /// A model's handler (or a checker) panicked.
    ModelPanic,
    /// The event budget or queue bound was exceeded.
    LimitExceeded,
}

impl Verdict {
    /// The snake_case name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::SafetyViolation => "safety_violation",
            Verdict::LivenessFailure => "liveness_failure",
            Verdict::ModelPanic => "model_panic",
            Verdict::LimitExceeded => "limit_exceeded",
        }
    }
}

/// What went wrong, where and when. Trace files keep it in their footer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The verdict this failure gives the run.
    pub verdict: Verdict,
    /// The property that failed, if one did.
    pub property: Option<String>,
    /// What the checker, the panic or the limit said.
    pub message: String,
    /// True time of the failure.
    pub time: Instant,
    /// The host involved, when one is.
    pub host: Option<HostId>,
    /// The process involved, when one is.
    pub process: Option<ProcessId>,
    /// The index of the event at (or after) which it failed.
    pub event_index: u64,
    /// The operation the property blamed the failure on ([`View::blame`](crate::View::blame)),
    /// when it did: `time`, `process` and `event_index` are then those of the operation's
    /// completion (the event that recorded it; `replay --stop-at` one more to see the state
    /// after it), not of the check that found it (a history checked at the end).
    // Last, so trace footers written before it existed still decode (see the trace reader);
    // boxed, so a `Result<_, Failure>` on the event loop's path stays small.
    #[serde(default)]
    pub operation: Option<Box<FailedOperation>>,
}

/// The operation a failed property blamed, as the history recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedOperation {
    /// The process that recorded it (a client).
    pub process: ProcessId,
    /// What it was, in the property's words (`get(k0) -> 7`).
    pub description: String,
    /// True time it was invoked.
    pub invoked: Instant,
    /// True time it completed; `None` if it never did.
    pub completed: Option<Instant>,
    /// The operations it conflicts with, as the property named them
    /// ([`View::conflict`](crate::View::conflict)): for a linearizability failure, those of
    /// its key that no ordering reconciles with it or that ran concurrently with it.
    // Last, so footers written before it existed still decode (see the trace reader).
    #[serde(default)]
    pub conflicts: Vec<OperationSpan>,
}

impl fmt::Display for FailedOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}, invoked {}",
            self.process, self.description, self.invoked
        )?;
        match self.completed {
            Some(t) => write!(f, ", completed {t}"),
            None => write!(f, ", never completed"),
        }
    }
}

/// A process as a person knows it (its [`Process::label`](crate::Process::label)) at the end
/// of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessLabel {
    /// The process.
    pub id: ProcessId,
    /// Its host.
    pub host: HostId,
    /// Its label (from its last state, or its boot image while it is down).
    pub label: String,
    /// Whether it was running when the run ended.
    pub up: bool,
}

/// The outcome of a run: verdict, counts, fingerprint, and the failure with its last events.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The root seed.
    pub seed: u64,
    /// How it ended.
    pub verdict: Verdict,
    /// The failure, unless the verdict is `Held`.
    pub failure: Option<Failure>,
    /// Events processed.
    pub events: u64,
    /// Messages delivered to a handler.
    pub deliveries: u64,
    /// True time reached.
    pub end_time: Instant,
    /// The rolling hash of every event.
    pub fingerprint: u64,
    /// The flight recorder's contents at the end.
    pub last_events: Vec<EventRecord>,
    /// The counters and samples the model recorded (`Context::count`, `Context::observe`),
    /// as they stood when the run ended, so a caller that only keeps the report (a sweep, a
    /// benchmark) can still read throughput, latencies and retries.
    pub metrics: Metrics,
    /// The processes that have a label, by id, as they stood at the end.
    pub processes: Vec<ProcessLabel>,
    /// The coverage probes the run reached, in first-hit order (see [`crate::probe`]).
    /// Outside the fingerprint.
    pub probes: Vec<ProbeHit>,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} -> {} after {} events ({} deliveries), time {}, fingerprint {:016x}",
            self.seed,
            self.verdict.name(),
            self.events,
            self.deliveries,
            self.end_time,
            self.fingerprint
        )?;
        if let Some(failure) = &self.failure {
            write!(f, "  {}", failure.verdict.name())?;
            if let Some(p) = &failure.property {
                write!(f, " of property `{p}`")?;
            }
            write!(f, " at {} (event #{})", failure.time, failure.event_index)?;
            if let Some(h) = failure.host {
                write!(f, " on {h}")?;
            }
            if let Some(p) = failure.process {
                write!(f, " in {p}")?;
            }
            writeln!(f, ": {}", failure.message)?;
            if let Some(op) = &failure.operation {
                writeln!(f, "  blamed operation: {op}")?;
                if !op.conflicts.is_empty() {
                    writeln!(f, "  it conflicts with:")?;
                    for c in &op.conflicts {
                        writeln!(f, "    {c}")?;
                    }
                }
            }
            // A failure placed before the run's end (a history checked at the end) is shown
            // with the events that led to it when the caller fetched them (the runner re-runs
            // the seed for that); otherwise these are the run's last events.
            match self.last_events.last() {
                Some(last) if last.index + 1 < self.events => writeln!(
                    f,
                    "  the {} events up to #{} (the run went on to #{}):",
                    self.last_events.len(),
                    last.index,
                    self.events.saturating_sub(1)
                )?,
                _ => writeln!(f, "  last {} events:", self.last_events.len())?,
            }
            for r in &self.last_events {
                writeln!(f, "    {r:?}")?;
            }
            // Who the processes in those events are, as the model names them.
            let named: Vec<&ProcessLabel> = self
                .processes
                .iter()
                .filter(|p| {
                    failure.process == Some(p.id)
                        || self
                            .last_events
                            .iter()
                            .any(|r| r.process == p.id.0 || r.peer == p.id.0)
                })
                .collect();
            if !named.is_empty() {
                writeln!(f, "  processes:")?;
                for p in named {
                    let down = if p.up { "" } else { " [down at the end]" };
                    writeln!(f, "    {}@{} {}{down}", p.id, p.host, p.label)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether `run_until_event` stopped early or the run is over.
// The report is large (it carries the metrics) but a `Progress` is made once per call, not
// per event: boxing it would only make callers' matches noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Stopped before the requested event; the run can continue.
    Paused,
    /// The run ended.
    Finished(RunReport),
}

/// The text of a panic payload (a handler's or a checker's).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
