//! A self-contained HTML timeline: one file, inline script and style, no network access.
//!
//! Hosts are lanes (each process a sub-row); every delivery is an arrow from the sender at the
//! send time to the receiver at the delivery time; crash, pause, kill, partition and other
//! fault periods shade the lanes they hit and appear as bars in a `faults` lane; the heal is a
//! dashed line and the violation a red line with its property. Hovering shows an event's
//! details. When the trace holds the history's operations, each client gets an operation lane
//! below the hosts (Jepsen-style): a bar from invocation to completion, coloured by outcome,
//! the blamed operation and those it conflicts with outlined; a lane too dense to draw bar by
//! bar shows per few pixels how many operations ran and how they ended. It draws on a canvas
//! and only what is in view, so 100,000 events stay usable: wheel to zoom, drag to pan, `0` or
//! "fit" to see everything.
//!
//! The data travels as one JSON object in a `<script type="application/json">` element, in
//! columns (times, kinds, processes, hosts, peers, aux values) to keep the file small; the
//! renderer is `timeline.js` and the style `timeline.css`, both inlined.

use super::jsonl::violation_position;
use super::{ExportInput, NONE};
use ruckus_sim::OperationOutcome;
use serde::Serialize;
use std::io::{self, Write};

const SCRIPT: &str = include_str!("timeline.js");
const STYLE: &str = include_str!("timeline.css");

#[derive(Serialize)]
struct Data<'a> {
    title: &'a str,
    hosts: u32,
    /// Host of each process id (-1: never seen).
    proc_host: Vec<i64>,
    /// Name of each process id as the model gives it (empty: none); omitted when unknown.
    names: Option<Vec<String>>,
    /// Columns, one entry per event.
    t: Vec<u64>,
    k: Vec<u8>,
    p: Vec<i64>,
    h: Vec<i64>,
    q: Vec<i64>,
    a: Vec<u64>,
    i: Vec<u64>,
    g: Vec<String>,
    /// Payload or note text per event; empty when there is none (omitted if all are).
    d: Option<Vec<&'a str>>,
    kinds: Vec<&'static str>,
    faults: Vec<Fault>,
    failure: Option<Failure>,
    /// The operation lanes' data; omitted when the trace has no operations.
    ops: Option<Ops>,
}

/// Operations in columns, in invocation order.
#[derive(Serialize)]
struct Ops {
    /// Invoking process.
    p: Vec<u32>,
    /// Invoked, completed (-1: never) in ns.
    b: Vec<u64>,
    e: Vec<i64>,
    /// Outcome: 0 ok, 1 fail, 2 unknown.
    o: Vec<u8>,
    /// 0 none, 1 conflicts with the blamed one, 2 blamed.
    m: Vec<u8>,
    d: Vec<String>,
    /// How many the history had (more than drawn when the trace kept fewer).
    total: u64,
}

#[derive(Serialize)]
struct Fault {
    index: usize,
    b: u64,
    e: u64,
    instant: bool,
    kind: &'static str,
    label: String,
    hosts: Vec<u32>,
}

#[derive(Serialize)]
struct Failure {
    t: u64,
    pos: Option<usize>,
    verdict: &'static str,
    property: Option<String>,
    message: String,
    event_index: u64,
    /// The operation the property blamed, and when it was invoked (a band to `t`).
    operation: Option<String>,
    invoked: Option<u64>,
    /// The operations it conflicts with, one line each.
    conflicts: Vec<String>,
}

fn signed(v: u32) -> i64 {
    if v == NONE { -1 } else { i64::from(v) }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the page.
pub fn write(input: &ExportInput<'_>, out: &mut dyn Write) -> io::Result<()> {
    let n = input.events.len();
    let details: Vec<&str> = (0..n).map(|i| input.detail(i).unwrap_or("")).collect();
    let any_detail = details.iter().any(|d| !d.is_empty());
    let data = Data {
        title: input.title,
        hosts: input.host_count(),
        proc_host: input.process_hosts().into_iter().map(signed).collect(),
        names: input.names.map(|names| {
            let count = input.process_hosts().len();
            (0..count as u32)
                .map(|p| names.get(&p).cloned().unwrap_or_default())
                .collect()
        }),
        t: input.events.iter().map(|e| e.record.time.0).collect(),
        k: input.events.iter().map(|e| e.record.kind as u8).collect(),
        p: input.events.iter().map(|e| signed(e.record.process)).collect(),
        h: input.events.iter().map(|e| signed(e.record.host)).collect(),
        q: input.events.iter().map(|e| signed(e.record.peer)).collect(),
        a: input.events.iter().map(|e| e.record.aux).collect(),
        i: input.events.iter().map(|e| e.record.index).collect(),
        g: input
            .events
            .iter()
            .map(|e| format!("{:016x}", e.record.digest))
            .collect(),
        d: any_detail.then_some(details),
        kinds: (0u8..=9).map(kind_name).collect(),
        faults: input
            .fault_spans()
            .into_iter()
            .map(|s| Fault {
                index: s.index,
                b: s.begin,
                e: s.end,
                instant: s.instant,
                kind: s.kind,
                label: s.label,
                hosts: s.hosts,
            })
            .collect(),
        failure: input.failure.map(|f| Failure {
            t: f.time.0,
            pos: violation_position(input),
            verdict: f.verdict.name(),
            property: f.property.clone(),
            message: f.message.clone(),
            event_index: f.event_index,
            operation: f.operation.as_ref().map(|o| o.to_string()),
            invoked: f.operation.as_ref().map(|o| o.invoked.0),
            conflicts: f
                .operation
                .iter()
                .flat_map(|o| o.conflicts.iter().map(|c| c.to_string()))
                .collect(),
        }),
        ops: operations(input),
    };
    let json = serde_json::to_string(&data).map_err(io::Error::other)?;
    // Inside a script element only "</" could end it early; "<\/" is the same JSON string.
    let json = json.replace("</", "<\\/");
    let mut out = io::BufWriter::new(out);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
<header><strong id=\"title\">{title}</strong><span id=\"summary\"></span>\
<span class=\"controls\"><button id=\"fit\" title=\"show everything (0)\">fit</button>\
<button id=\"zoom-in\" title=\"zoom in (+)\">+</button><button id=\"zoom-out\" title=\"zoom out (-)\">&minus;</button>\
<label><input type=\"checkbox\" id=\"arrows\" checked> arrows</label>\
<label>event # <input id=\"goto\" size=\"8\" placeholder=\"index\"></label></span></header>\n\
<div id=\"stage\"><canvas id=\"canvas\"></canvas><div id=\"tip\" hidden></div></div>\n\
<footer id=\"legend\"></footer>\n<div id=\"status\" data-render=\"pending\" hidden></div>\n\
<script type=\"application/json\" id=\"ruckus-data\">{json}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape_html(input.title),
    )?;
    out.flush()
}

fn operations(input: &ExportInput<'_>) -> Option<Ops> {
    let marked = input.marked_operations();
    if marked.is_empty() {
        return None;
    }
    Some(Ops {
        p: marked.iter().map(|(s, _)| s.process.0).collect(),
        b: marked.iter().map(|(s, _)| s.invoked.0).collect(),
        e: marked
            .iter()
            .map(|(s, _)| s.completed.map_or(-1, |t| t.0 as i64))
            .collect(),
        o: marked
            .iter()
            .map(|(s, _)| match s.outcome {
                OperationOutcome::Ok => 0,
                OperationOutcome::Fail => 1,
                OperationOutcome::Unknown => 2,
            })
            .collect(),
        m: marked.iter().map(|(_, m)| *m as u8).collect(),
        d: marked.iter().map(|(s, _)| s.description.clone()).collect(),
        total: input.operations_total.max(marked.len() as u64),
    })
}

fn kind_name(k: u8) -> &'static str {
    use ruckus_sim::RecordKind::*;
    [
        Start, Deliver, Timer, Dropped, Deferred, FaultBegin, FaultEnd, Heal, Note, SyncDone,
    ][k as usize]
        .name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::sample;
    use ruckus_sim::{FailedOperation, Failure, HostId, Instant, OperationSpan, ProcessId, Verdict};

    #[test]
    fn a_single_file_with_the_data_inline() {
        let (mut events, plan) = sample();
        events[5].note = Some("</script><b>".into());
        let input = ExportInput::new(&events, &plan).with_title("<run>");
        let mut buf = Vec::new();
        write(&input, &mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert!(page.contains("<title>&lt;run&gt;</title>"));
        // Nothing is fetched: no external scripts, styles or URLs.
        assert!(!page.contains("src=") && !page.contains("href=") && !page.contains("http"));
        // The note cannot close the data element early.
        assert_eq!(page.matches("</script>").count(), 2);
        let start = page.find("id=\"ruckus-data\">").unwrap() + "id=\"ruckus-data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["t"].as_array().unwrap().len(), events.len());
        assert_eq!(data["hosts"], 2);
        assert_eq!(data["faults"][0]["kind"], "crash");
        assert_eq!(data["d"][5], "</script><b>");
        assert_eq!(data["kinds"][1], "deliver");
    }

    fn page_data(input: &ExportInput<'_>) -> serde_json::Value {
        let mut buf = Vec::new();
        write(input, &mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        let start = page.find("id=\"ruckus-data\">").unwrap() + "id=\"ruckus-data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).unwrap()
    }

    fn span(p: u32, invoked: u64, completed: Option<u64>, outcome: OperationOutcome) -> OperationSpan {
        OperationSpan {
            process: ProcessId(p),
            description: format!("op@{invoked}"),
            invoked: Instant(invoked),
            completed: completed.map(Instant),
            outcome,
        }
    }

    fn failure(operation: Option<FailedOperation>) -> Failure {
        Failure {
            verdict: Verdict::SafetyViolation,
            property: Some("linearizable".into()),
            message: "no".into(),
            time: Instant(9_000),
            host: Some(HostId(0)),
            process: Some(ProcessId(0)),
            event_index: 5,
            operation: operation.map(Box::new),
        }
    }

    #[test]
    fn operations_travel_in_columns_with_the_blamed_and_conflicting_marked() {
        let (events, plan) = sample();
        let spans = vec![
            span(0, 1_000, Some(9_000), OperationOutcome::Ok),
            span(1, 2_000, None, OperationOutcome::Unknown),
            span(1, 3_000, Some(4_000), OperationOutcome::Fail),
        ];
        let blamed = FailedOperation {
            process: ProcessId(0),
            description: "op@1000".into(),
            invoked: Instant(1_000),
            completed: Some(Instant(9_000)),
            conflicts: vec![
                span(1, 2_000, None, OperationOutcome::Unknown),
                // Not among the spans (a capped list): added from the failure.
                span(2, 500, Some(700), OperationOutcome::Ok),
            ],
        };
        let f = failure(Some(blamed));
        let input = ExportInput::new(&events, &plan)
            .with_failure(Some(&f))
            .with_operations(&spans, 40);
        let data = page_data(&input);
        let ops = &data["ops"];
        assert_eq!(ops["p"], serde_json::json!([2, 0, 1, 1]));
        assert_eq!(ops["b"], serde_json::json!([500, 1_000, 2_000, 3_000]));
        assert_eq!(ops["e"], serde_json::json!([700, 9_000, -1, 4_000]));
        assert_eq!(ops["o"], serde_json::json!([0, 0, 2, 1]));
        assert_eq!(ops["m"], serde_json::json!([1, 2, 1, 0]));
        assert_eq!(ops["total"], 40);
        assert_eq!(data["failure"]["conflicts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_trace_from_before_operations_draws_only_what_its_footer_names() {
        let (events, plan) = sample();
        // A footer of the previous layout: a blamed operation, no conflicts, no list.
        let f = failure(Some(FailedOperation {
            process: ProcessId(1),
            description: "get(k0) -> 7".into(),
            invoked: Instant(2_000),
            completed: Some(Instant(9_000)),
            conflicts: Vec::new(),
        }));
        let input = ExportInput::new(&events, &plan).with_failure(Some(&f));
        let data = page_data(&input);
        assert_eq!(data["ops"]["p"], serde_json::json!([1]));
        assert_eq!(data["ops"]["m"], serde_json::json!([2]));
        // Older still: no blamed operation, so no operation lanes at all.
        let f = failure(None);
        let data = page_data(&ExportInput::new(&events, &plan).with_failure(Some(&f)));
        assert!(data.get("ops").is_none_or(|o| o.is_null()), "{data}");
        assert!(data["failure"]["conflicts"].as_array().unwrap().is_empty());
    }
}
