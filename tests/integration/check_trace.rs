//! `ruckus check` on ruckus traces (the run replayed, its client history checked), and the
//! per-key step budget.

use crate::support::{Ran, TempDir, ruckus};
use std::path::Path;

/// Runs `scenario` under `seed` with a trace at `trace`.
fn record(scenario: &str, seed: &str, trace: &Path) -> Ran {
    ruckus(&[
        "run",
        scenario,
        "--seed",
        seed,
        "--trace",
        trace.to_str().unwrap(),
    ])
}

#[test]
fn a_linearizable_raft_trace_checks_0() {
    let dir = TempDir::new("check-trace-ok");
    let trace = dir.file("raft.trace");
    let run = record("raft", "1", &trace);
    assert_eq!(run.code, 0, "{run:?}");
    // The format and the model come from the file: no --model, no --format.
    let ran = ruckus(&["check", trace.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.out.contains("(model raft), seed 1"), "{}", ran.out);
    assert!(ran.out.contains("the run's verdict: held"), "{}", ran.out);
    assert!(ran.out.contains("verdict: linearizable"), "{}", ran.out);
}

/// The stale-read bug: the run's own check blames a read; the trace's history, checked
/// outside the run, fails with the same read, and so does its exported JSON Lines form.
#[test]
fn the_stale_read_trace_fails_on_the_read_the_run_blamed() {
    let dir = TempDir::new("check-trace-stale");
    let trace = dir.file("stale.trace");
    let run = record("raft_stale_read_deposed_leader", "1", &trace);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.out.contains("property `linearizable`"), "{}", run.out);
    // "blamed operation: p8 get(k0) -> 443511055573, invoked ...": the process and the value.
    let blamed = run
        .out
        .split("blamed operation: p")
        .nth(1)
        .expect("a blamed operation");
    let process = blamed.split(' ').next().unwrap();
    let value = blamed.split("-> ").nth(1).unwrap().split(',').next().unwrap();

    let page = dir.file("witness.html");
    let emitted = dir.file("history.jsonl");
    let ran = ruckus(&[
        "check",
        trace.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
        "--emit-history",
        emitted.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.out
            .contains("the run's verdict: safety_violation of `linearizable`"),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains("verdict: NOT linearizable: key 0"),
        "{}",
        ran.out
    );
    let unexplained = format!("no ordering explains read(0) -> {value} by client {process}");
    assert!(ran.out.contains(&unexplained), "{unexplained}\n{}", ran.out);
    // The page places bars by the run's true times.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-scale=\"time\""), "{html}");
    assert!(html.contains("data-invoke-ns=\""), "{html}");
    // The exported history is a JSON Lines history like any other, with the same verdict.
    let lines = std::fs::read_to_string(&emitted).unwrap();
    assert!(lines.lines().count() > 100, "{lines}");
    let again = ruckus(&[
        "check",
        emitted.to_str().unwrap(),
        "--model",
        "kv",
        "--no-witness",
    ]);
    assert_eq!(again.code, 1, "{again:?}");
    // --emit-history is for traces only.
    let refused = ruckus(&[
        "check",
        emitted.to_str().unwrap(),
        "--model",
        "kv",
        "--emit-history",
        dir.file("x.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 2, "{refused:?}");
}

#[test]
fn a_trace_of_a_model_without_a_history_exits_2_naming_those_with_one() {
    let dir = TempDir::new("check-trace-none");
    let trace = dir.file("pingpong.trace");
    assert_eq!(record("pingpong", "1", &trace).code, 0);
    let ran = ruckus(&["check", trace.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.err.contains("pingpong.trace"), "{}", ran.err);
    assert!(
        ran.err.contains(
            "this trace's model (pingpong) records no client history to check; models that do: raft"
        ),
        "{}",
        ran.err
    );
}

#[test]
fn truncated_and_empty_traces_exit_2_with_a_located_message() {
    let dir = TempDir::new("check-trace-cut");
    let trace = dir.file("raft.trace");
    assert_eq!(record("raft", "1", &trace).code, 0);
    let bytes = std::fs::read(&trace).unwrap();
    let cut = dir.file("cut.trace");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let ran = ruckus(&["check", cut.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.err.contains("cut.trace: truncated"), "{}", ran.err);
    // Detected by its start even under another name.
    let renamed = dir.file("cut.edn");
    std::fs::write(&renamed, &bytes[..bytes.len() / 2]).unwrap();
    let ran = ruckus(&["check", renamed.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.err.contains("cut.edn: truncated"), "{}", ran.err);
    let empty = dir.file("empty.trace");
    std::fs::write(&empty, b"").unwrap();
    let ran = ruckus(&["check", empty.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.err.contains("empty.trace: the file is empty"), "{}", ran.err);
}

/// A kv history whose key 1 needs many steps (six concurrent writes, then a read) and whose
/// key 2 needs two; `read_2` is what key 2's read returns.
fn two_keys(read_2: i64) -> String {
    let mut text = String::new();
    for p in 0..6 {
        text.push_str(&format!(
            "{{:process {p} :type :invoke :f :write :value [1 {p}]}}\n"
        ));
    }
    for p in 0..6 {
        text.push_str(&format!("{{:process {p} :type :ok :f :write :value [1 {p}]}}\n"));
    }
    text.push_str(
        "{:process 9 :type :invoke :f :read :value [1 nil]}\n{:process 9 :type :ok :f :read :value [1 0]}\n",
    );
    text.push_str(&format!(
        "{{:process 7 :type :invoke :f :write :value [2 5]}}\n{{:process 7 :type :ok :f :write :value [2 5]}}\n\
         {{:process 7 :type :invoke :f :read :value [2 nil]}}\n{{:process 7 :type :ok :f :read :value [2 {read_2}]}}\n"
    ));
    text
}

#[test]
fn the_step_budget_is_per_key_and_the_key_that_ran_out_is_named() {
    let dir = TempDir::new("check-per-key");
    let path = dir.file("kv.edn");
    let check = |text: &str, steps: &str| {
        std::fs::write(&path, text).unwrap();
        ruckus(&[
            "check",
            path.to_str().unwrap(),
            "--model",
            "kv",
            "--max-steps",
            steps,
        ])
    };
    // Two steps each: key 2 is decided within its own two, key 1 runs out of its own.
    let ran = check(&two_keys(5), "2");
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.out.contains(
            "verdict: INCONCLUSIVE: key 1: inconclusive after 2 steps (--max-steps), 7 operations; the other key linearizable"
        ),
        "{}",
        ran.out
    );
    // A violation on key 2 is a verdict even though key 1 ran out; key 1 is still named.
    let ran = check(&two_keys(6), "2");
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.out.contains("verdict: NOT linearizable: key 2"),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains("also: key 1: inconclusive after 2 steps"),
        "{}",
        ran.out
    );
    // With the default budget both keys are decided.
    let ran = check(&two_keys(5), "1000000");
    assert_eq!(ran.code, 0, "{ran:?}");
}
