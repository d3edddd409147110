//! The Raft model through the `ruckus` command: the built-in `raft*` scenarios find each bug
//! switch within the number of seeds measured for it, hold with the switch off, and the
//! healthy scenarios hold; a failure shrinks and its shrunk trace replays. Every sweep runs
//! in-process (`ruckus_scenarios::cli::main_with_args`) with `--stop-on-failure`, so a bug
//! costs only the seeds up to its first failure.

use crate::support::{Ran, ruckus, scratch};
use ruckus_scenarios::sweep::SweepLine;

/// The sweep lines `ruckus sweep` printed, sorted by run index.
fn lines(r: &Ran) -> Vec<SweepLine> {
    let mut lines: Vec<SweepLine> = r
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}\n{r:?}")))
        .collect();
    lines.sort_by_key(|l| l.index);
    lines
}

/// Sweeps the built-in scenario `raft_{bug}` for at most `max_seeds` seeds, stopping at the
/// first failure, and checks that a safety violation of `property` is found. Returns the
/// first failing line (lowest index: runs start in index order, so every lower index ran).
fn find(bug: &str, property: &str, max_seeds: u64) -> SweepLine {
    let scenario = format!("raft_{bug}");
    let seeds = max_seeds.to_string();
    let r = ruckus(&[
        "sweep",
        &scenario,
        "--seeds",
        &seeds,
        "--stop-on-failure",
        "--no-traces",
    ]);
    assert_eq!(
        r.code, 1,
        "{bug} not found as a safety violation in {max_seeds} seeds: {r:?}"
    );
    let first = lines(&r)
        .into_iter()
        .find(|l| l.run.verdict != "held")
        .unwrap_or_else(|| panic!("exit 1 without a failing line: {r:?}"));
    assert_eq!(first.run.verdict, "safety_violation", "{first:?}");
    assert_eq!(first.run.property.as_deref(), Some(property), "{first:?}");
    assert!(first.index < max_seeds);
    // The line's replay command names the scenario and the seed, and `ruckus run` with that
    // seed fails the same way: the sweep's seeds are reproducible one by one.
    let replay = first
        .replay
        .as_deref()
        .expect("failing lines carry a replay command");
    let seed = first.run.seed.to_string();
    assert_eq!(replay, format!("ruckus run {scenario} --seed {seed}"));
    let run = ruckus(&["run", &scenario, "--seed", &seed]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.out
            .contains(&format!("safety_violation of property `{property}`")),
        "{}",
        run.out
    );
    first
}

/// Sweeps `scenario` for `seeds` seeds with `overrides` and checks every run held.
fn holds(scenario: &str, seeds: u64, overrides: &[&str]) {
    let seeds_text = seeds.to_string();
    let mut args = vec!["sweep", scenario, "--seeds", &seeds_text, "--no-traces"];
    for o in overrides {
        args.extend(["--set", o]);
    }
    let r = ruckus(&args);
    assert_eq!(r.code, 0, "{scenario} {overrides:?}: {r:?}");
    let lines = lines(&r);
    assert_eq!(lines.len() as u64, seeds);
    assert!(lines.iter().all(|l| l.run.verdict == "held"), "{lines:?}");
}

// Measured with the release binary (`ruckus sweep raft_BUG --seeds 200`, base seed 1): first
// failing run index and failing runs of 200 were stale read 0 and 89, forgotten vote 7 and 50,
// Figure 8 22 and 37, lease without margin 0 and 4 (then 54, 59, 98). The allowances below are
// several times the measured first index (the lease's 150 covers its 2% rate), so a harmless
// model change does not break them, while a bug no longer found does.

#[test]
fn stale_read_by_a_deposed_leader_is_found() {
    find("stale_read_deposed_leader", "linearizable", 10);
}

#[test]
fn forgotten_vote_is_found() {
    find("vote_not_persisted", "election_safety", 40);
}

#[test]
fn figure_8_commit_of_a_previous_term_is_found() {
    find("commit_previous_term", "leader_completeness", 100);
}

#[test]
fn lease_without_drift_margin_is_found() {
    find("lease_without_drift_margin", "linearizable", 150);
}

#[test]
fn bug_scenarios_hold_with_the_switch_off() {
    // What the hunts find is the bug, not the harshness of their faults.
    holds(
        "raft_stale_read_deposed_leader",
        12,
        &["model.bugs.stale_read_deposed_leader=false"],
    );
    holds(
        "raft_vote_not_persisted",
        12,
        &["model.bugs.vote_not_persisted=false"],
    );
    holds(
        "raft_commit_previous_term",
        6,
        &["model.bugs.commit_previous_term=false"],
    );
    // raft_lease is the lease hunt with the switch off and a 50% margin.
    holds("raft_lease", 12, &[]);
}

#[test]
fn healthy_cluster_holds_under_the_storm() {
    holds("raft", 8, &[]);
}

#[test]
fn a_stale_read_shrinks_to_a_few_faults_and_its_trace_replays() {
    let dir = scratch("shrink");
    let traces = dir.join("traces");
    let r = ruckus(&[
        "sweep",
        "raft_stale_read_deposed_leader",
        "--seeds",
        "1",
        "--trace-dir",
        traces.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "run 0 fails (measured): {r:?}");
    let line = lines(&r).pop().expect("one line");
    let trace = line.trace.expect("a failing run's trace");
    let shrunk = dir.join("shrunk.trace");
    let s = ruckus(&[
        "shrink",
        &trace,
        "-o",
        shrunk.to_str().unwrap(),
        "--max-tests",
        "60",
    ]);
    assert_eq!(s.code, 1, "{s:?}");
    // "faults: kept K of N (...)": a partition that cuts the leader off is all it takes
    // (measured: 1 of 14).
    let kept: Vec<u64> = s
        .out
        .lines()
        .find_map(|l| l.strip_prefix("faults: kept "))
        .and_then(|l| l.split_once(" ("))
        .map(|(counts, _)| counts.split(" of ").map(|n| n.parse().unwrap()).collect())
        .unwrap_or_else(|| panic!("no `kept` line: {s:?}"));
    assert!(kept[0] <= 2 && kept[1] > kept[0], "{kept:?}\n{}", s.out);
    // Counts only, unless asked: no line per removed fault.
    assert!(!s.out.contains("removed #"), "{}", s.out);
    assert!(s.out.contains("--verbose lists every"), "{}", s.out);
    let replay = ruckus(&["replay", shrunk.to_str().unwrap()]);
    assert_eq!(replay.code, 1, "{replay:?}");
    assert!(replay.out.contains("matches"), "{}", replay.out);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_raft_parameters_are_bad_input() {
    let r = ruckus(&["run", "raft", "--set", "topology.hosts=3"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.err
            .contains("5 servers needs one host per server, the topology has 3"),
        "{}",
        r.err
    );
    let r = ruckus(&["run", "raft", "--set", "model.election_timeout_min=\"500ms\""]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("election_timeout_min"), "{}", r.err);
    let r = ruckus(&["run", "raft", "--set", "model.bugs.no_such_bug=true"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("no_such_bug"), "{}", r.err);
}
