//! Chrome trace event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing open.
//!
//! Layout: one Perfetto "process" per host (`h0`, `h1`, …) with one thread per model process
//! (`p0`, …), plus a `faults` process at the top. Handler runs (start, deliver, timer) are short
//! slices — virtual handlers take no time, so each is drawn up to 1 µs wide, narrower when the
//! next event on the thread is closer. Every delivery is a flow arrow from the sender's
//! handler slice at the send time to the receiver's slice. Drops, deferrals and notes are
//! instants on their thread; faults are async slices on the `faults` track and on the hosts
//! they hit (clock jumps are instants); the heal and the violation are global instants.
//! Times are microseconds with nanosecond decimals, so nothing is rounded.

use super::jsonl::violation_position;
use super::{ExportInput, NONE, micros};
use ruckus_sim::RecordKind;
use std::io::{self, Write};

/// Widest a handler slice is drawn, in ns.
const SLICE_NS: u64 = 1_000;

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialize")
}

fn pid_of_host(host: u32) -> u64 {
    u64::from(host) + 1
}

/// Writes the trace as one JSON object with a `traceEvents` array.
pub fn write(input: &ExportInput<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let hosts = input.process_hosts();
    let host_of = |p: u32| hosts.get(p as usize).copied().unwrap_or(NONE);
    writeln!(
        out,
        "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"title\":{},\"generator\":\"ruckus {}\"}},\"traceEvents\":[",
        json_str(input.title),
        env!("CARGO_PKG_VERSION")
    )?;
    let mut first = true;
    let mut emit = |out: &mut io::BufWriter<&mut dyn Write>, line: String| -> io::Result<()> {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        out.write_all(line.as_bytes())
    };
    // Track names, in lane order.
    emit(
        &mut out,
        r#"{"ph":"M","name":"process_name","pid":0,"args":{"name":"faults"}}"#.into(),
    )?;
    emit(
        &mut out,
        r#"{"ph":"M","name":"process_sort_index","pid":0,"args":{"sort_index":0}}"#.into(),
    )?;
    for h in 0..input.host_count() {
        let pid = pid_of_host(h);
        emit(
            &mut out,
            format!(r#"{{"ph":"M","name":"process_name","pid":{pid},"args":{{"name":"h{h}"}}}}"#),
        )?;
        emit(
            &mut out,
            format!(r#"{{"ph":"M","name":"process_sort_index","pid":{pid},"args":{{"sort_index":{pid}}}}}"#),
        )?;
    }
    for (p, &h) in hosts.iter().enumerate() {
        if h != NONE {
            let pid = pid_of_host(h);
            emit(
                &mut out,
                format!(
                    r#"{{"ph":"M","name":"thread_name","pid":{pid},"tid":{p},"args":{{"name":{}}}}}"#,
                    json_str(&input.process_name(p as u32))
                ),
            )?;
        }
    }

    // Slice widths: up to SLICE_NS, never past the next event of the same process; events at
    // the same instant nest (each one 1 ns narrower than the previous) so nesting stays valid.
    let widths = slice_widths(input);
    let violation_at = violation_position(input);
    for (i, e) in input.events.iter().enumerate() {
        let r = &e.record;
        let ts = micros(r.time.0);
        let detail = input
            .detail(i)
            .map(|d| format!(",\"detail\":{}", json_str(d)))
            .unwrap_or_default();
        let args = format!(
            "{{\"index\":{},\"digest\":\"{:016x}\"{detail}}}",
            r.index, r.digest
        );
        let (pid, tid) = (pid_of_host(r.host), r.process);
        match r.kind {
            RecordKind::Start | RecordKind::Deliver | RecordKind::Timer | RecordKind::SyncDone
                if r.process != NONE && r.host != NONE =>
            {
                let name = match r.kind {
                    RecordKind::Deliver => format!("deliver from p{}", r.peer),
                    RecordKind::Timer => format!("timer {}", r.aux),
                    RecordKind::SyncDone => "sync done".to_string(),
                    _ => format!("start #{}", r.aux),
                };
                emit(
                    &mut out,
                    format!(
                        r#"{{"ph":"X","cat":"{}","name":{},"pid":{pid},"tid":{tid},"ts":{ts},"dur":{},"args":{args}}}"#,
                        r.kind.name(),
                        json_str(&name),
                        micros(widths[i])
                    ),
                )?;
                if r.kind == RecordKind::Deliver && host_of(r.peer) != NONE {
                    let (spid, stid) = (pid_of_host(host_of(r.peer)), r.peer);
                    emit(
                        &mut out,
                        format!(
                            r#"{{"ph":"s","cat":"message","name":"message","id":{i},"pid":{spid},"tid":{stid},"ts":{}}}"#,
                            micros(r.aux)
                        ),
                    )?;
                    emit(
                        &mut out,
                        format!(
                            r#"{{"ph":"f","bp":"e","cat":"message","name":"message","id":{i},"pid":{pid},"tid":{tid},"ts":{ts}}}"#
                        ),
                    )?;
                }
            }
            RecordKind::Dropped | RecordKind::Deferred | RecordKind::Note
                if r.process != NONE && r.host != NONE =>
            {
                let name = match (r.kind, e.note.as_deref()) {
                    (RecordKind::Note, Some(text)) => short(text, 60),
                    (RecordKind::Dropped, _) if r.peer != NONE => format!("dropped message from p{}", r.peer),
                    _ => r.kind.name().to_string(),
                };
                emit(
                    &mut out,
                    format!(
                        r#"{{"ph":"i","s":"t","cat":"{}","name":{},"pid":{pid},"tid":{tid},"ts":{ts},"args":{args}}}"#,
                        r.kind.name(),
                        json_str(&name)
                    ),
                )?;
            }
            RecordKind::Heal => {
                emit(
                    &mut out,
                    format!(r#"{{"ph":"i","s":"g","cat":"heal","name":"heal","pid":0,"tid":0,"ts":{ts}}}"#),
                )?;
            }
            _ => {}
        }
        if violation_at == Some(i)
            && let Some(f) = input.failure
        {
            let name = format!("VIOLATION {}", f.property.as_deref().unwrap_or(f.verdict.name()));
            emit(
                &mut out,
                format!(
                    r#"{{"ph":"i","s":"g","cat":"violation","name":{},"pid":0,"tid":0,"ts":{},"args":{{"verdict":"{}","message":{},"event_index":{}}}}}"#,
                    json_str(&name),
                    micros(f.time.0),
                    f.verdict.name(),
                    json_str(&f.message),
                    f.event_index
                ),
            )?;
        }
    }
    for span in input.fault_spans() {
        let name = json_str(&span.label);
        let mut tracks = vec![(0u64, "fault")];
        tracks.extend(span.hosts.iter().map(|&h| (pid_of_host(h), "host_fault")));
        for (pid, cat) in tracks {
            if span.instant {
                emit(
                    &mut out,
                    format!(
                        r#"{{"ph":"i","s":"p","cat":"{cat}","name":{name},"pid":{pid},"tid":0,"ts":{}}}"#,
                        micros(span.begin)
                    ),
                )?;
            } else {
                let id = span.index;
                emit(
                    &mut out,
                    format!(
                        r#"{{"ph":"b","cat":"{cat}","name":{name},"id":"f{id}","pid":{pid},"tid":0,"ts":{},"args":{{"kind":"{}","fault":{id}}}}}"#,
                        micros(span.begin),
                        span.kind
                    ),
                )?;
                emit(
                    &mut out,
                    format!(
                        r#"{{"ph":"e","cat":"{cat}","name":{name},"id":"f{id}","pid":{pid},"tid":0,"ts":{}}}"#,
                        micros(span.end)
                    ),
                )?;
            }
        }
    }
    out.write_all(b"\n]}\n")?;
    out.flush()
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

fn is_handler(r: &ruckus_sim::EventRecord) -> bool {
    matches!(
        r.kind,
        RecordKind::Start | RecordKind::Deliver | RecordKind::Timer | RecordKind::SyncDone
    ) && r.process != NONE
}

/// Each handler event's slice width (ns): up to `SLICE_NS`, never reaching the process's next
/// later event; the k-th event at one instant is k ns narrower than the first, so they nest.
fn slice_widths(input: &ExportInput<'_>) -> Vec<u64> {
    let n = input.events.len();
    let mut widths = vec![0u64; n];
    // Backwards: per process, the time of the events being visited and the next later time.
    let mut current: Vec<u64> = Vec::new();
    let mut next_later: Vec<u64> = Vec::new();
    for i in (0..n).rev() {
        let r = &input.events[i].record;
        if !is_handler(r) {
            continue;
        }
        let p = r.process as usize;
        if p >= current.len() {
            current.resize(p + 1, u64::MAX);
            next_later.resize(p + 1, u64::MAX);
        }
        if current[p] != r.time.0 {
            next_later[p] = current[p];
            current[p] = r.time.0;
        }
        widths[i] = next_later[p].saturating_sub(r.time.0).min(SLICE_NS);
    }
    // Forwards: rank within an instant.
    let mut rank: Vec<(u64, u64)> = Vec::new();
    for (width, e) in widths.iter_mut().zip(input.events) {
        let r = &e.record;
        if !is_handler(r) {
            continue;
        }
        let p = r.process as usize;
        if p >= rank.len() {
            rank.resize(p + 1, (u64::MAX, 0));
        }
        if rank[p].0 == r.time.0 {
            rank[p].1 += 1;
        } else {
            rank[p] = (r.time.0, 0);
        }
        *width = width.saturating_sub(rank[p].1);
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::{ev, sample};
    use ruckus_sim::FaultPlan;

    #[test]
    fn valid_json_with_tracks_flows_and_fault_slices() {
        let (events, plan) = sample();
        let input = ExportInput::new(&events, &plan).with_title("t");
        let mut buf = Vec::new();
        write(&input, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let evs = v["traceEvents"].as_array().unwrap();
        let count = |ph: &str| evs.iter().filter(|e| e["ph"] == ph).count();
        assert_eq!(count("X"), 5, "three starts, two deliveries");
        assert_eq!(count("s"), 2);
        assert_eq!(count("f"), 2);
        // Crash of h1: on the faults track and on h1's track.
        assert_eq!(count("b"), 2);
        assert_eq!(count("e"), 2);
        let names: Vec<&str> = evs
            .iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["faults", "h0", "h1"]);
        // The second delivery's arrow starts on p1 at its send time (9 us).
        let s = evs.iter().filter(|e| e["ph"] == "s").nth(1).unwrap();
        assert_eq!((s["tid"].as_u64(), s["ts"].as_f64()), (Some(1), Some(9.0)));
        let begin = evs.iter().find(|e| e["ph"] == "b").unwrap();
        assert_eq!(begin["ts"].as_f64(), Some(2.5));
    }

    #[test]
    fn slices_at_one_instant_nest_and_never_overlap_the_next() {
        let n = NONE;
        let events = vec![
            ev(0, 100, RecordKind::Start, 0, 0, n, 0),
            ev(1, 100, RecordKind::Deliver, 0, 0, 0, 50),
            ev(2, 100, RecordKind::Timer, 0, 0, n, 1),
            ev(3, 400, RecordKind::Timer, 0, 0, n, 2),
            ev(4, 5_000, RecordKind::Timer, 0, 0, n, 3),
        ];
        let plan = FaultPlan::none();
        let w = slice_widths(&ExportInput::new(&events, &plan));
        assert_eq!(w, vec![300, 299, 298, 1_000, 1_000]);
    }
}
