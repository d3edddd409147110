//! Background storage syncs end to end: a scenario turns on Raft's `async_persist` with a disk
//! latency, the run records `sync_done` events into its trace, the trace replays event for
//! event, and the exports show them.

use crate::support::{TempDir, ruckus};
use ruckus_sim::RecordKind;
use ruckus_sim::trace::TraceReader;

#[test]
fn raft_with_async_persist_records_sync_completions_that_replay_and_export() {
    let dir = TempDir::new("async-sync");
    let trace = dir.file("async.trace");
    let ran = ruckus(&[
        "run",
        "raft",
        "--seed",
        "3",
        "--set",
        "model.async_persist=true",
        "--set",
        "topology.costs.disk_sync=\"5ms\"",
        "--set",
        "limits.horizon=\"4s\"",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.out, ran.err);

    let events = TraceReader::open(&trace).unwrap().read_all().unwrap();
    let done: Vec<_> = events
        .iter()
        .filter(|e| e.record.kind == RecordKind::SyncDone)
        .collect();
    assert!(done.len() > 100, "{} sync completions", done.len());
    // Each completes one disk latency or more after it was issued (a queue on each disk).
    for e in &done {
        let took = e.record.time.0 - e.record.aux;
        assert!(took >= 5_000_000, "{:?} took {took} ns", e.record);
    }

    let replayed = ruckus(&["replay", trace.to_str().unwrap()]);
    assert_eq!(replayed.code, 0, "{}\n{}", replayed.out, replayed.err);
    assert!(!replayed.err.contains("diverge"), "{}", replayed.err);

    let jsonl = dir.file("async.jsonl");
    let exported = ruckus(&["export", trace.to_str().unwrap(), "-o", jsonl.to_str().unwrap()]);
    assert_eq!(exported.code, 0, "{}", exported.err);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.contains("\"sync_done\""), "no sync_done in the export");
    assert!(
        text.contains("Persisted"),
        "the completion's timer value is not shown"
    );

    // Without the option the same scenario records none.
    let plain = dir.file("plain.trace");
    let ran = ruckus(&[
        "run",
        "raft",
        "--seed",
        "3",
        "--set",
        "topology.costs.disk_sync=\"5ms\"",
        "--set",
        "limits.horizon=\"4s\"",
        "--trace",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    let events = TraceReader::open(&plain).unwrap().read_all().unwrap();
    assert!(events.iter().all(|e| e.record.kind != RecordKind::SyncDone));
}
