//! `ruckus hunt`: the guided search finds a planted bug through a mutated plan, reports the
//! same run whatever the job count, and its trace replays and shrinks like a sweep's.

use crate::support::{ruckus, scratch};

/// The line naming the failure and the run it came at.
fn found_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("found "))
        .unwrap_or_else(|| panic!("no failure reported:\n{out}"))
}

#[test]
fn guided_search_finds_the_drift_bug_through_a_mutated_plan_and_its_trace_replays_and_shrinks() {
    let dir = scratch("hunt");
    let dir_text = dir.display().to_string();
    let hunt = |jobs: &str| {
        ruckus(&[
            "hunt",
            "raft_lease_without_drift_margin",
            "--seed",
            SEED,
            "--runs",
            "200",
            "--jobs",
            jobs,
            "--trace-dir",
            &dir_text,
        ])
    };
    let r = hunt("2");
    assert_eq!(r.code, 1, "{r:?}");
    let found = found_line(&r.out);
    assert!(found.contains("safety_violation of `linearizable`"), "{found}");
    // Not one of the random search's runs: a corpus entry's plan, mutated.
    assert!(r.out.contains("corpus entry"), "{}", r.out);
    // The same base seed, another job count: the same run, the same plan.
    let again = hunt("1");
    assert_eq!(found_line(&again.out), found);
    let trace = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("trace:  "))
        .unwrap_or_else(|| panic!("no trace line:\n{}", r.out));
    // Replay exits with the recorded run's verdict: 1, a safety violation.
    let replay = ruckus(&["replay", trace]);
    assert_eq!(replay.code, 1, "{replay:?}");
    assert!(replay.out.contains("matches"), "{}", replay.out);
    assert!(replay.out.contains("recorded safety_violation"), "{}", replay.out);
    let shrunk = dir.join("shrunk.trace");
    let shrunk_text = shrunk.display().to_string();
    let s = ruckus(&["shrink", trace, "--out", &shrunk_text, "--max-tests", "80"]);
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.out.contains("faults: kept"), "{}", s.out);
    let replay = ruckus(&["replay", &shrunk_text]);
    assert_eq!(replay.code, 1, "{replay:?}");
    assert!(replay.out.contains("matches"), "{}", replay.out);
}

/// A base seed whose guided search fails at run 41 through a mutated plan; the random
/// search from the same base seed first fails at run 156.
const SEED: &str = "3";

#[test]
fn random_hunt_is_the_sweeps_stop_on_failure() {
    let r = ruckus(&[
        "hunt",
        "lease_lock_no_fencing",
        "--random",
        "--no-trace",
        "--seed",
        "1",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let found = found_line(&r.out);
    let sweep = ruckus(&[
        "sweep",
        "lease_lock_no_fencing",
        "--seed",
        "1",
        "--seeds",
        "50",
        "--stop-on-failure",
        "--no-traces",
        "--jobs",
        "1",
    ]);
    assert_eq!(sweep.code, 1, "{sweep:?}");
    // The sweep's first failing index (0-based) is the hunt's run count minus one.
    let first: ruckus_scenarios::sweep::SweepLine = sweep
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &ruckus_scenarios::sweep::SweepLine| l.run.verdict != "held")
        .min_by_key(|l| l.index)
        .unwrap();
    assert!(
        found.contains(&format!("at run {} of", first.index + 1)),
        "{found} vs sweep index {}",
        first.index
    );
    assert!(r.out.contains(&format!("seed {}", first.run.seed)), "{}", r.out);
}

#[test]
fn a_scenario_without_faults_is_bad_input() {
    let r = ruckus(&[
        "hunt",
        "lease_lock",
        "--set",
        "faults.enabled=false",
        "--no-trace",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("injects no faults"), "{}", r.err);
}
