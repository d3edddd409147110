//! Traces recorded before per-source random streams still replay as recorded.
//!
//! `tests/data/raft_leader_crash_shared_streams.trace` was written by ruckus at commit 51a6527
//! (one shared network stream, one shared fault-target stream) from `raft_leader_crash` made
//! small (2 clients every 100 ms, the leader crashed at 1 s, a random follower cut off at
//! 1.5 s, horizon 3 s), seed 1. Its stored scenario does not name `topology.streams`, so the
//! replay uses the shared layout; under the default per-source layout the same run differs
//! from its first message on (fingerprint 80e1feb019d5de2a, not 563020eb423d5d91).

use crate::support::ruckus;
use std::path::Path;

#[test]
fn a_trace_recorded_with_shared_streams_replays_without_divergence() {
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
