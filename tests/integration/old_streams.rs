//! Traces replay with the stream layout they were recorded with.
//!
//! `tests/data/raft_leader_crash_shared_streams.trace` was written by ruckus at commit 51a6527,
//! before `topology.streams` existed (one shared network stream, one shared fault-target
//! stream), from `raft_leader_crash` made small (2 clients every 100 ms, the leader crashed at
//! 1 s, a random follower cut off at 1.5 s, horizon 3 s), seed 1. Its stored scenario does not
//! name `topology.streams`, so the replay uses the shared layout, still the default; under
//! `per_source` the same run differs from its first message on (fingerprint 80e1feb019d5de2a,
//! not 563020eb423d5d91).

use crate::support::{TempDir, ruckus};
use std::path::Path;

#[test]
fn a_trace_recorded_before_stream_layouts_replays_without_divergence() {
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/raft_leader_crash_shared_streams.trace");
    let ran = ruckus(&["replay", trace.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.out
            .contains("matches, 1182 events (fingerprint 563020eb423d5d91)"),
        "{}",
        ran.out
    );
    // The random follower the shared target stream picked.
    assert!(
        ran.out
            .contains("(partition a random follower from the rest for 1.000000000s): hit p0 on h0"),
        "{}",
        ran.out
    );
}

/// The fingerprint line of `ruckus run` output.
fn fingerprint(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("fingerprint"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no fingerprint: {out}"))
}

#[test]
fn a_per_source_trace_replays_with_per_source_streams() {
    let dir = TempDir::new("per-source-trace");
    let run = |set: Option<&str>, name: &str| {
        let trace = dir.file(name);
        let mut args = vec![
            "run",
            "raft_leader_crash",
            "--seed",
            "1",
            "--trace",
            trace.to_str().unwrap(),
        ];
        if let Some(s) = set {
            args.extend(["--set", s]);
        }
        let ran = ruckus(&args);
        assert_eq!(ran.code, 0, "{ran:?}");
        (fingerprint(&ran.out).to_owned(), trace)
    };
    let (shared, _) = run(None, "shared.trace");
    let (per_source, trace) = run(Some("topology.streams=per_source"), "per_source.trace");
    // The default is the shared layout (golden.rs pins this run), and opting in changes the run.
    assert_eq!(shared, "8c5aa33973b28a78");
    assert_ne!(per_source, shared);
    // Replayed with the shared layout, the trace would diverge at its first message.
    let replay = ruckus(&["replay", trace.to_str().unwrap()]);
    assert_eq!(replay.code, 0, "{replay:?}");
    assert!(
        replay.out.contains("matches, ") && replay.out.contains(&format!("(fingerprint {per_source})")),
        "{}",
        replay.out
    );
}
