//! What papers measure of Raft's elections: how long the cluster goes without a leader after
//! the leader fails, and how many election rounds end with no winner.
//!
//! The servers record two timed series (outside the fingerprint, like every metric):
//! `raft.election_round` (a server starts an election; the value is the term) and
//! `raft.leader_elected` (a server wins; the value is [`leader_code`] of its host and process).
//! [`summarize`] reads them against the engine's fault windows.

use ruckus_sim::fault::FaultKind;
use ruckus_sim::{HostId, Instant, Metrics, ProcessId};
use std::collections::{BTreeMap, BTreeSet};

/// The timed series of election rounds (value: the term).
pub const ELECTION_ROUND: &str = "raft.election_round";
/// The timed series of leaders elected (value: [`leader_code`]).
pub const LEADER_ELECTED: &str = "raft.leader_elected";

/// A leader's host and process in one sample value.
pub fn leader_code(host: HostId, process: ProcessId) -> u64 {
    (u64::from(host.0) << 32) | u64::from(process.0)
}

fn decode(code: u64) -> (HostId, ProcessId) {
    (HostId((code >> 32) as u32), ProcessId(code as u32))
}

/// Whether a fault window took the leader `(host, process)` away: a crash, pause or kill that
/// hit its process, or a partition that cut off its host alone.
fn hits(kind: FaultKind, hosts: &[HostId], processes: &[ProcessId], leader: (HostId, ProcessId)) -> bool {
    match kind {
        FaultKind::Crash | FaultKind::Pause | FaultKind::KillProcess => processes.contains(&leader.1),
        FaultKind::Partition => hosts == [leader.0],
        _ => false,
    }
}

/// Raft's election figures of one run:
///
/// - `raft.split_vote_rounds`: terms in which some server stood for election and nobody won
///   (the distinct terms of `raft.election_round`, less the leaders elected: one per term).
/// - `raft.leader_failures`: faults that took away the leader in office (the last one elected
///   before the fault began): a crash, pause or kill of its process, or its host cut off alone.
/// - `raft.unavailable_ns`: the longest time without a leader after one of them, from the
///   fault's begin to the first leader elected after it (any server, the old one included
///   once it is back). A failure no leader followed before the run ended counts until the end
///   and in `raft.unavailable_unresolved`.
/// - `raft.unavailable_mean_ns`: the mean over the failures.
///
/// The failure figures are absent from a run whose faults never hit a leader.
pub fn summarize(metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let terms: BTreeSet<u64> = metrics.timed(ELECTION_ROUND).iter().map(|(_, t)| *t).collect();
    let leaders = metrics.timed(LEADER_ELECTED);
    let split = (terms.len() as u64).saturating_sub(leaders.len() as u64);
    out.insert("raft.split_vote_rounds".into(), split as f64);
    let mut gaps: Vec<u64> = Vec::new();
    let mut unresolved = 0u64;
    for w in metrics.fault_windows() {
        let Some(&(_, code)) = leaders.iter().rev().find(|(t, _)| *t <= w.begin) else {
            continue;
        };
        if !hits(w.kind, &w.hosts, &w.processes, decode(code)) {
            continue;
        }
        let next = leaders.iter().find(|(t, _)| *t > w.begin).map(|(t, _)| *t);
        if next.is_none() {
            unresolved += 1;
        }
        gaps.push(next.unwrap_or(end).saturating_since(w.begin).0);
    }
    if !gaps.is_empty() {
        out.insert("raft.leader_failures".into(), gaps.len() as f64);
        let max = gaps.iter().copied().max().unwrap_or(0);
        out.insert("raft.unavailable_ns".into(), max as f64);
        let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
        out.insert("raft.unavailable_mean_ns".into(), mean);
        out.insert("raft.unavailable_unresolved".into(), unresolved as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Duration, FaultWindow};

    fn at(ms: u64) -> Instant {
        Instant(Duration::from_millis(ms).0)
    }

    fn window(kind: FaultKind, begin: u64, hosts: Vec<u32>, processes: Vec<u32>) -> FaultWindow {
        FaultWindow {
            index: 0,
            kind,
            label: String::new(),
            begin: at(begin),
            end: None,
            hosts: hosts.into_iter().map(HostId).collect(),
            processes: processes.into_iter().map(ProcessId).collect(),
        }
    }

    #[test]
    fn the_gap_runs_from_the_leaders_failure_to_the_next_leader() {
        let mut m = Metrics::default();
        // Terms 1 and 2 elect; term 3 splits; term 4 elects after the crash.
        for (t, term) in [(100, 1), (2_000, 2), (5_100, 3), (5_300, 4)] {
            m.observe_at(ELECTION_ROUND, at(t), term);
        }
        m.observe_at(ELECTION_ROUND, at(5_110), 3); // a second candidate in term 3
        m.observe_at(LEADER_ELECTED, at(110), leader_code(HostId(0), ProcessId(0)));
        m.observe_at(LEADER_ELECTED, at(2_010), leader_code(HostId(2), ProcessId(2)));
        m.observe_at(LEADER_ELECTED, at(5_320), leader_code(HostId(1), ProcessId(1)));
        // A crash of a follower's host, then of the leader's (h2, p2) at 5 s.
        m.fault_began(window(FaultKind::Crash, 3_000, vec![1], vec![1, 6]));
        m.fault_began(window(FaultKind::Crash, 5_000, vec![2], vec![2, 7]));
        let s = summarize(&m, at(10_000));
        assert_eq!(s["raft.split_vote_rounds"], 1.0);
        assert_eq!(s["raft.leader_failures"], 1.0);
        assert_eq!(s["raft.unavailable_ns"], Duration::from_millis(320).0 as f64);
        assert_eq!(s["raft.unavailable_unresolved"], 0.0);
    }

    #[test]
    fn an_isolated_leader_counts_a_cut_elsewhere_does_not_and_no_successor_runs_to_the_end() {
        let mut m = Metrics::default();
        m.observe_at(ELECTION_ROUND, at(100), 1);
        m.observe_at(LEADER_ELECTED, at(110), leader_code(HostId(3), ProcessId(3)));
        m.fault_began(window(FaultKind::Partition, 1_000, vec![1, 3], vec![]));
        assert!(!summarize(&m, at(4_000)).contains_key("raft.leader_failures"));
        m.fault_began(window(FaultKind::Partition, 2_000, vec![3], vec![]));
        let s = summarize(&m, at(4_000));
        assert_eq!(s["raft.leader_failures"], 1.0);
        assert_eq!(s["raft.unavailable_ns"], Duration::from_millis(2_000).0 as f64);
        assert_eq!(s["raft.unavailable_unresolved"], 1.0);
        assert_eq!(s["raft.split_vote_rounds"], 0.0);
    }
}
