//! JSON Lines: one object per event per line, for `jq`, pandas or a quick grep.
//!
//! Fields: `index`, `time_ns`, `kind`, then whichever apply — `process`, `host`, `from` and
//! `sent_ns` (deliveries), `timer` (timer id), `incarnation` (starts), `peer` (drops: the
//! sender), `fault` and `fault_text` (fault begin/end: index in the plan), `digest` (hex),
//! `note`, `detail` (payload text when collected), and `violation: true` on the event the
//! failure was reported at.

use super::{ExportInput, NONE};
use ruckus_sim::RecordKind;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct Line<'a> {
    index: u64,
    time_ns: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incarnation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault_text: Option<String>,
    digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    violation: bool,
}

fn some(v: u32) -> Option<u32> {
    (v != NONE).then_some(v)
}

/// Writes one line per event.
pub fn write(input: &ExportInput<'_>, out: &mut dyn Write) -> io::Result<()> {
    let violation_at = violation_position(input);
    let mut out = io::BufWriter::new(out);
    for (i, e) in input.events.iter().enumerate() {
        let r = &e.record;
        let (mut from, mut sent_ns, mut timer, mut incarnation, mut peer, mut fault, mut fault_text) =
            (None, None, None, None, None, None, None);
        match r.kind {
            RecordKind::Deliver => {
                from = some(r.peer);
                sent_ns = Some(r.aux);
            }
            RecordKind::Timer => timer = Some(r.aux),
            // The issue time, as a delivery's send time.
            RecordKind::SyncDone => sent_ns = Some(r.aux),
            RecordKind::Start => incarnation = Some(r.aux),
            RecordKind::FaultBegin | RecordKind::FaultEnd => {
                fault = some(r.peer);
                fault_text = input
                    .plan
                    .actions
                    .get(r.peer as usize)
                    .map(|a| a.fault.to_string());
            }
            _ => peer = some(r.peer),
        }
        let line = Line {
            index: r.index,
            time_ns: r.time.0,
            kind: r.kind.name(),
            process: some(r.process),
            host: some(r.host),
            from,
            sent_ns,
            timer,
            incarnation,
            peer,
            fault,
            fault_text,
            digest: format!("{:016x}", r.digest),
            note: e.note.as_deref(),
            detail: if e.note.is_some() { None } else { input.detail(i) },
            violation: violation_at == Some(i),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The position of the last event at or before the failure's event index (the event whose
/// handling the failure was detected after).
pub(crate) fn violation_position(input: &ExportInput<'_>) -> Option<usize> {
    let f = input.failure?;
    let after = input.events.partition_point(|e| e.record.index <= f.event_index);
    after.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::sample;
    use ruckus_sim::Failure;
    use ruckus_sim::{Instant, Verdict};

    #[test]
    fn one_parseable_object_per_event() {
        let (events, plan) = sample();
        let failure = Failure {
            verdict: Verdict::SafetyViolation,
            property: Some("p".into()),
            message: "m".into(),
            time: Instant(11_000),
            host: None,
            process: None,
            event_index: 7,
            operation: None,
        };
        let details: Vec<String> = (0..events.len())
            .map(|i| if i == 2 { "Ping(1)".into() } else { String::new() })
            .collect();
        let input = ExportInput::new(&events, &plan)
            .with_failure(Some(&failure))
            .with_details(&details);
        let mut buf = Vec::new();
        write(&input, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), events.len());
        assert_eq!(lines[2]["kind"], "deliver");
        assert_eq!(lines[2]["from"], 0);
        assert_eq!(lines[2]["detail"], "Ping(1)");
        assert_eq!(lines[3]["fault_text"], "crash h1 for 6.500us", "{}", lines[3]);
        assert_eq!(lines[5]["note"], "a \"quoted\" note");
        assert!(lines[0].get("peer").is_none() && lines[0].get("violation").is_none());
        assert_eq!(lines[8]["violation"], true);
        assert_eq!(lines[8]["sent_ns"], 9_000);
    }
}
