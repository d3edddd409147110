//! Exports of a recorded run: JSON Lines, Chrome trace JSON (Perfetto) and a self-contained
//! HTML timeline.
//!
//! # API (for the CLI)
//!
//! ```text
//! let mut reader = TraceReader::open(path)?;
//! let events = reader.read_all()?;                     // records + note text
//! let input = ExportInput::new(&events, &reader.header().plan)
//!     .with_failure(reader.footer().failure.as_ref())  // marks the violation
//!     .with_details(&texts)                            // optional payload Debug text, from a
//!                                                      // DetailText observer during a replay
//!     .with_operations(&footer.operations, footer.operations_total) // operation lanes
//!     .with_title("lease_lock seed 7");
//! export::write(Format::Html, &input, &mut file)?;
//! ```
//!
//! Every format takes the same [`ExportInput`]; none of them knows a model. The compact trace
//! stores payload digests only, so payload text appears only when the caller re-executed the
//! run with a [`DetailText`](ruckus_sim::trace::DetailText) observer and passed its texts.

pub mod chrome;
pub mod html;
pub mod jsonl;

use ruckus_sim::trace::TraceEvent;
use ruckus_sim::{Failure, OperationOutcome, OperationSpan};
use ruckus_sim::{Fault, FaultPlan, Partition, RecordKind};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::str::FromStr;

/// "No process / no host / no peer" in a record.
pub(crate) const NONE: u32 = u32::MAX;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per event per line.
    JsonLines,
    /// Chrome trace event JSON; open it in Perfetto (ui.perfetto.dev) or chrome://tracing.
    Chrome,
    /// A single HTML file with an interactive timeline; needs no network access.
    Html,
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 3] = [Format::JsonLines, Format::Chrome, Format::Html];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Chrome => "chrome",
            Format::Html => "html",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Chrome => "json",
            Format::Html => "html",
        }
    }

    /// The format a file name implies, if its extension names one.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            "json" => Some(Format::Chrome),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown export format `{s}` (use jsonl, chrome or html)"))
    }
}

/// What every export reads: the events, the plan, and optionally the failure and payload text.
#[derive(Clone, Copy, Debug)]
pub struct ExportInput<'a> {
    /// The records in order, with note text.
    pub events: &'a [TraceEvent],
    /// Payload `Debug` text aligned with `events` (from a `DetailText` observer), if collected.
    pub details: Option<&'a [String]>,
    /// The fault plan (fault records refer to it by index).
    pub plan: &'a FaultPlan,
    /// The failure to mark, if the run failed.
    pub failure: Option<&'a Failure>,
    /// A title for the views that show one.
    pub title: &'a str,
    /// Process names by id, as the model gave them (from the trace header), if known.
    pub names: Option<&'a BTreeMap<u32, String>>,
    /// The history's operations (from the trace footer), for the operation lanes.
    pub operations: &'a [OperationSpan],
    /// How many operations the history had (more than `operations.len()` when the trace
    /// kept only those nearest the failure).
    pub operations_total: u64,
}

impl<'a> ExportInput<'a> {
    /// Events and plan; no failure, no payload text, a generic title.
    pub fn new(events: &'a [TraceEvent], plan: &'a FaultPlan) -> ExportInput<'a> {
        ExportInput {
            events,
            details: None,
            plan,
            failure: None,
            title: "ruckus run",
            names: None,
            operations: &[],
            operations_total: 0,
        }
    }

    /// The history's operations, of `total` in all (a trace footer's `operations` and
    /// `operations_total`).
    pub fn with_operations(mut self, operations: &'a [OperationSpan], total: u64) -> Self {
        self.operations = operations;
        self.operations_total = total.max(operations.len() as u64);
        self
    }

    /// The operations to draw, in invocation order, each marked: the blamed one, those it
    /// conflicts with, or neither. A blamed or conflicting operation the list lacks (a capped
    /// list, a model that pairs no operations) is added from the failure.
    pub(crate) fn marked_operations(&self) -> Vec<(OperationSpan, Mark)> {
        let mut ops: Vec<(OperationSpan, Mark)> =
            self.operations.iter().map(|s| (s.clone(), Mark::None)).collect();
        let Some(blamed) = self.failure.and_then(|f| f.operation.as_deref()) else {
            return ops;
        };
        let mut mark = |span: OperationSpan, mark: Mark| match ops
            .iter_mut()
            .find(|(s, _)| s.process == span.process && s.invoked == span.invoked)
        {
            Some(found) => found.1 = found.1.max(mark),
            None => ops.push((span, mark)),
        };
        for c in &blamed.conflicts {
            mark(c.clone(), Mark::Conflict);
        }
        mark(
            OperationSpan {
                process: blamed.process,
                description: blamed.description.clone(),
                invoked: blamed.invoked,
                completed: blamed.completed,
                outcome: if blamed.completed.is_some() {
                    OperationOutcome::Ok
                } else {
                    OperationOutcome::Unknown
                },
            },
            Mark::Blamed,
        );
        ops.sort_by_key(|(s, _)| (s.invoked, s.process));
        ops
    }

    /// Names the processes (lanes, tracks and event text say `p3 client-1`).
    pub fn with_names(mut self, names: &'a BTreeMap<u32, String>) -> Self {
        self.names = Some(names);
        self
    }

    /// Process `p` as a person knows it: `p3 client-1`, or `p3` without a name.
    pub(crate) fn process_name(&self, p: u32) -> String {
        match self.names.and_then(|n| n.get(&p)) {
            Some(name) => format!("p{p} {name}"),
            None => format!("p{p}"),
        }
    }

    /// Marks the failure.
    pub fn with_failure(mut self, failure: Option<&'a Failure>) -> Self {
        self.failure = failure;
        self
    }

    /// Adds payload text (ignored unless it has one entry per event).
    pub fn with_details(mut self, details: &'a [String]) -> Self {
        self.details = (details.len() == self.events.len()).then_some(details);
        self
    }

    /// Sets the title.
    pub fn with_title(mut self, title: &'a str) -> Self {
        self.title = title;
        self
    }

    /// The payload text of event `i`, if collected and non-empty (notes: their text).
    pub(crate) fn detail(&self, i: usize) -> Option<&'a str> {
        if let Some(note) = self.events[i].note.as_deref() {
            return Some(note);
        }
        self.details
            .and_then(|d| d.get(i))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The number of host lanes: every host a record or a fault names.
    pub(crate) fn host_count(&self) -> u32 {
        let from_records = self
            .events
            .iter()
            .map(|e| e.record.host)
            .filter(|&h| h != NONE)
            .max()
            .map_or(0, |h| h + 1);
        let from_plan = self
            .plan
            .actions
            .iter()
            .flat_map(|a| fault_hosts(&a.fault))
            .max()
            .map_or(0, |h| h + 1);
        from_records.max(from_plan)
    }

    /// The host of every process seen (index = process id), `NONE` when never seen.
    pub(crate) fn process_hosts(&self) -> Vec<u32> {
        let mut hosts = Vec::new();
        for e in self.events {
            let r = &e.record;
            if r.process != NONE && r.host != NONE && (r.process as usize) < 1 << 20 {
                let i = r.process as usize;
                if i >= hosts.len() {
                    hosts.resize(i + 1, NONE);
                }
                hosts[i] = r.host;
            }
        }
        hosts
    }

    /// Every fault that began, with when it ended (the heal ends them all).
    pub(crate) fn fault_spans(&self) -> Vec<FaultSpan> {
        let end_of_run = self.events.last().map_or(0, |e| e.record.time.0);
        let mut spans: Vec<FaultSpan> = Vec::new();
        let mut open: Vec<Option<usize>> = vec![None; self.plan.actions.len()];
        for e in self.events {
            let r = &e.record;
            let i = r.peer as usize;
            match r.kind {
                RecordKind::FaultBegin if i < self.plan.actions.len() => {
                    let fault = &self.plan.actions[i].fault;
                    // A role fault has one begin record per process hit, naming its host.
                    let role_host = (fault.target().is_some() && r.host != NONE).then_some(r.host);
                    if let Some(s) = open[i]
                        && fault.target().is_some()
                        && spans[s].begin == r.time.0
                    {
                        if let Some(h) = role_host.filter(|h| !spans[s].hosts.contains(h)) {
                            spans[s].hosts.push(h);
                        }
                        continue;
                    }
                    open[i] = Some(spans.len());
                    spans.push(FaultSpan {
                        index: i,
                        begin: r.time.0,
                        end: if fault.duration().is_none() {
                            r.time.0
                        } else {
                            end_of_run
                        },
                        instant: fault.duration().is_none(),
                        label: fault.to_string(),
                        kind: fault_kind(fault),
                        hosts: fault_hosts(fault).into_iter().chain(role_host).collect(),
                    });
                }
                RecordKind::FaultEnd if i < open.len() => {
                    if let Some(s) = open[i].take()
                        && !spans[s].instant
                    {
                        spans[s].end = spans[s].end.min(r.time.0);
                    }
                }
                RecordKind::Heal => {
                    for s in open.iter_mut().filter_map(Option::take) {
                        if !spans[s].instant {
                            spans[s].end = spans[s].end.min(r.time.0);
                        }
                    }
                }
                _ => {}
            }
        }
        spans
    }
}

/// How the operation lanes single out an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mark {
    /// An ordinary operation.
    None = 0,
    /// One the blamed operation conflicts with.
    Conflict = 1,
    /// The operation the failure was blamed on.
    Blamed = 2,
}

/// One fault's time on the timeline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FaultSpan {
    /// Its index in the plan.
    pub index: usize,
    /// True time it began (ns).
    pub begin: u64,
    /// True time it ended (ns): its end, the heal, or the end of the run.
    pub end: u64,
    /// Whether it has no duration (a clock jump).
    pub instant: bool,
    /// Its description.
    pub label: String,
    /// A short kind name ("crash", "pause", "partition", ...).
    pub kind: &'static str,
    /// Hosts it directly affects (shaded in their lanes).
    pub hosts: Vec<u32>,
}

fn fault_kind(fault: &Fault) -> &'static str {
    fault.kind().name()
}

/// The hosts a fault shades: the host it hits, or the cut-off side of a partition.
fn fault_hosts(fault: &Fault) -> Vec<u32> {
    match fault {
        Fault::CrashHost { host, .. }
        | Fault::PauseHost { host, .. }
        | Fault::KillProcess { host, .. }
        | Fault::ClockJump { host, .. }
        | Fault::ClockDrift { host, .. }
        | Fault::Degrade { host, .. }
        | Fault::SlowDisk { host, .. } => vec![host.0],
        Fault::Clog { from, to, .. } | Fault::SlowLink { from, to, .. } => vec![from.0, to.0],
        Fault::Partition { partition, .. } => match partition {
            Partition::Isolate { host } => vec![host.0],
            Partition::Halves { side } => side.iter().map(|h| h.0).collect(),
            Partition::OneWay { from, .. } => from.iter().map(|h| h.0).collect(),
            Partition::Bridge { left, .. } => left.iter().map(|h| h.0).collect(),
            Partition::Zone { .. } => Vec::new(),
        },
        // Resolved during the run: their records name the hosts hit.
        Fault::NetworkChaos { .. }
        | Fault::CrashRole { .. }
        | Fault::PauseRole { .. }
        | Fault::KillRole { .. }
        | Fault::IsolateRole { .. }
        | Fault::DegradeRole { .. } => Vec::new(),
    }
}

/// Writes `input` in `format` to `out`.
pub fn write(format: Format, input: &ExportInput<'_>, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::JsonLines => jsonl::write(input, out),
        Format::Chrome => chrome::write(input, out),
        Format::Html => html::write(input, out),
    }
}

/// Nanoseconds as Chrome's microseconds, exactly (three decimals).
pub(crate) fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

#[cfg(test)]
pub(crate) mod test_support {
    use ruckus_sim::trace::TraceEvent;
    use ruckus_sim::{Duration, EventRecord, Fault, FaultAction, FaultPlan, HostId, Instant, RecordKind};

    pub(crate) fn ev(
        index: u64,
        t: u64,
        kind: RecordKind,
        process: u32,
        host: u32,
        peer: u32,
        aux: u64,
    ) -> TraceEvent {
        TraceEvent {
            record: EventRecord {
                index,
                time: Instant(t),
                kind,
                process,
                host,
                peer,
                aux,
                digest: 0xabc,
            },
            note: (kind == RecordKind::Note).then(|| "a \"quoted\" note".to_string()),
        }
    }

    /// Two processes on two hosts: a start, a message each way, a crash of h1, a note, a heal.
    pub(crate) fn sample() -> (Vec<TraceEvent>, FaultPlan) {
        let n = super::NONE;
        let events = vec![
            ev(0, 0, RecordKind::Start, 0, 0, n, 0),
            ev(1, 0, RecordKind::Start, 1, 1, n, 0),
            ev(2, 2_000, RecordKind::Deliver, 1, 1, 0, 0),
            ev(3, 2_500, RecordKind::FaultBegin, n, n, 0, 0),
            ev(4, 3_000, RecordKind::Dropped, 0, 0, 1, 0),
            ev(4, 3_000, RecordKind::Note, 0, 0, n, 0),
            ev(5, 9_000, RecordKind::FaultEnd, n, n, 0, 0),
            ev(6, 9_000, RecordKind::Start, 1, 1, n, 1),
            ev(7, 11_000, RecordKind::Deliver, 0, 0, 1, 9_000),
            ev(8, 12_000, RecordKind::Heal, n, n, n, 0),
        ];
        let plan = FaultPlan {
            actions: vec![FaultAction {
                at: Instant(2_500),
                fault: Fault::CrashHost {
                    host: HostId(1),
                    down_for: Duration(6_500),
                },
            }],
            heal_at: Some(Instant(12_000)),
        };
        (events, plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_hosts_and_formats() {
        let (events, plan) = test_support::sample();
        let input = ExportInput::new(&events, &plan);
        assert_eq!(input.host_count(), 2);
        assert_eq!(input.process_hosts(), vec![0, 1]);
        let spans = input.fault_spans();
        assert_eq!(spans.len(), 1);
        assert_eq!(
            (spans[0].begin, spans[0].end, spans[0].kind),
            (2_500, 9_000, "crash")
        );
        assert_eq!(spans[0].hosts, vec![1]);
        assert_eq!(micros(1_234_567), "1234.567");
        assert_eq!("chrome".parse::<Format>().unwrap(), Format::Chrome);
        assert!(
            "svg"
                .parse::<Format>()
                .unwrap_err()
                .contains("jsonl, chrome or html")
        );
        assert_eq!(
            Format::from_path(std::path::Path::new("x/run.html")),
            Some(Format::Html)
        );
        // Details of the wrong length are ignored rather than misaligned.
        let short = vec!["x".to_string()];
        assert!(
            ExportInput::new(&events, &plan)
                .with_details(&short)
                .details
                .is_none()
        );
    }

    #[test]
    fn a_role_fault_spans_the_hosts_its_records_name() {
        use ruckus_sim::{Duration, FaultAction, Instant, RecordKind};
        use test_support::ev;
        let n = NONE;
        let plan = FaultPlan {
            actions: vec![FaultAction {
                at: Instant(100),
                fault: Fault::DegradeRole {
                    target: "all tier1".parse().unwrap(),
                    mode: "slow:2".into(),
                    duration: Duration(50),
                },
            }],
            heal_at: None,
        };
        // Two processes hit: two begin records sharing one index, then two end records.
        let events = vec![
            ev(0, 0, RecordKind::Start, 0, 0, n, 0),
            ev(1, 100, RecordKind::FaultBegin, 2, 2, 0, 2),
            ev(1, 100, RecordKind::FaultBegin, 3, 3, 0, 2),
            ev(2, 150, RecordKind::FaultEnd, 2, 2, 0, 2),
            ev(2, 150, RecordKind::FaultEnd, 3, 3, 0, 2),
        ];
        let spans = ExportInput::new(&events, &plan).fault_spans();
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!((spans[0].begin, spans[0].end), (100, 150));
        assert_eq!(spans[0].hosts, vec![2, 3]);
    }
}
