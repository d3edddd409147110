//! Coverage probes and buggify through the command line and the test helpers.
//!
//! - A sweep lists, per probe the model declares, how many runs reached it, and flags the ones
//!   no run reached; each result line names the probes its run reached.
//! - A required probe (`[coverage] require`) that no run reaches fails the sweep with exit
//!   code 5 and a message naming it; `testing::check` fails the same way.
//! - Buggify is off unless a scenario or `--set` switches it on; on, its choices are trace
//!   notes and change the run; `buggify.enabled=false` gives back the run without them.
//! - `ruckus run`'s text report lists the probes reached, as `--json` does.

use crate::support::{TempDir, ruckus};
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::testing::{self, TestEnv};

const PAUSED: &str = "lease_lock.lease_expired_while_holder_paused";

#[test]
fn a_required_probe_no_run_reaches_fails_the_sweep_with_exit_code_5() {
    // Without faults no host is ever paused, so no holder's lease expires during a pause.
    let require = format!("coverage.require=[\"{PAUSED}\"]");
    let ran = ruckus(&[
        "sweep",
        "lease_lock",
        "--seeds",
        "3",
        "--jobs",
        "1",
        "--no-traces",
        "--set",
        "faults.enabled=false",
        "--set",
        &require,
    ]);
    assert_eq!(ran.code, 5, "stdout:\n{}\nstderr:\n{}", ran.out, ran.err);
    assert!(
        ran.err.contains(&format!(
            "coverage: none of the 3 runs reached the required probe `{PAUSED}`"
        )),
        "{}",
        ran.err
    );
    assert!(ran.err.contains("NEVER REACHED"), "{}", ran.err);
    // Every run held: the verdict table says so, and the lines are plain held lines.
    for line in ran.out.lines() {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(json["verdict"], "held");
    }
    // The same sweep without the requirement passes.
    let free = ruckus(&[
        "sweep",
        "lease_lock",
        "--seeds",
        "3",
        "--jobs",
        "1",
        "--no-traces",
        "--set",
        "faults.enabled=false",
    ]);
    assert_eq!(free.code, 0, "{}", free.err);
}

#[test]
fn a_sweep_counts_the_runs_that_reached_each_probe() {
    let dir = TempDir::new("coverage-sweep");
    let out = dir.file("results.jsonl");
    let ran = ruckus(&[
        "sweep",
        "lease_lock",
        "--seeds",
        "4",
        "--jobs",
        "1",
        "--no-traces",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.out);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reached = std::collections::BTreeMap::<String, u64>::new();
    for line in text.lines() {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        for p in json["probes"].as_array().into_iter().flatten() {
            *reached.entry(p.as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    assert!(
        !reached.is_empty(),
        "a faulty lease_lock run reaches some probe:\n{text}"
    );
    // With --out the summary goes to stdout: one row per declared probe, with its count.
    let declared = Registry::builtin().model("lease_lock").unwrap().probes();
    for name in declared {
        let n = reached.get(*name).copied().unwrap_or(0);
        let row = ran
            .out
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", ran.out));
        assert!(row.contains(&format!("{n} of 4")), "{row}");
        assert_eq!(row.contains("NEVER REACHED"), n == 0, "{row}");
    }
}

#[test]
fn an_unknown_required_probe_is_bad_input_with_a_suggestion() {
    let ran = ruckus(&[
        "run",
        "lease_lock",
        "--set",
        "coverage.require=[\"lease_lock.lease_expired_while_holder_pausd\"]",
    ]);
    assert_eq!(ran.code, 2, "{}", ran.err);
    assert!(ran.err.contains("coverage.require[0]"), "{}", ran.err);
    assert!(ran.err.contains("has no probe"), "{}", ran.err);
    assert!(
        ran.err.contains(PAUSED),
        "the suggestion names the closest: {}",
        ran.err
    );
    let bad = ruckus(&["run", "lease_lock", "--set", "buggify.probability=2"]);
    assert_eq!(bad.code, 2, "{}", bad.err);
    assert!(bad.err.contains("buggify.probability"), "{}", bad.err);
}

#[test]
fn check_reports_coverage_and_fails_on_an_unreached_required_probe() {
    let registry = Registry::builtin();
    let env = TestEnv {
        seeds: 2,
        ..TestEnv::default()
    };
    let require = format!("coverage.require=[\"{PAUSED}\"]");
    let quiet = registry
        .scenario("lease_lock", &["faults.enabled=false".to_owned(), require])
        .unwrap();
    let summary = testing::check_with(&quiet, &env).unwrap_or_else(|f| panic!("{f}"));
    let message = summary
        .uncovered
        .clone()
        .expect("the required probe was not reached");
    assert!(message.contains(PAUSED), "{message}");
    let paused = summary.coverage.iter().find(|p| p.name == PAUSED).unwrap();
    assert_eq!((paused.runs, paused.required), (0, true));
    let text = summary.to_string();
    assert!(text.contains("NEVER REACHED"), "{text}");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| testing::check(&quiet)))
        .expect_err("check fails the test");
    assert!(runner::panic_text(&*panic).contains(PAUSED));
}

#[test]
fn buggify_is_off_by_default_and_switching_it_off_gives_back_the_plain_run() {
    let registry = Registry::builtin();
    let plain = registry.scenario("lease_lock", &[]).unwrap();
    let on = registry
        .scenario("lease_lock", &["buggify.enabled=true".to_owned()])
        .unwrap();
    let off = registry
        .scenario(
            "lease_lock",
            &[
                "buggify.enabled=true".to_owned(),
                "buggify.enabled=false".to_owned(),
            ],
        )
        .unwrap();
    assert!(!plain.buggify.enabled);
    let seed = 5;
    let base = runner::run(&plain, seed).report;
    assert_eq!(runner::run(&off, seed).report.fingerprint, base.fingerprint);
    let buggy = runner::run(&on, seed).report;
    assert_ne!(
        buggy.fingerprint, base.fingerprint,
        "the sites' choices are part of the run"
    );
    assert_eq!(
        runner::run(&on, seed).report.fingerprint,
        buggy.fingerprint,
        "and deterministic"
    );
    // The choices are in the trace, as notes.
    let dir = TempDir::new("buggify-trace");
    let trace = dir.file("on.trace");
    let ran = ruckus(&[
        "run",
        "lease_lock",
        "--seed",
        "5",
        "--set",
        "buggify.enabled=true",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.err);
    let jsonl = dir.file("on.jsonl");
    let exported = ruckus(&[
        "export",
        trace.to_str().unwrap(),
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(exported.code, 0, "{}", exported.err);
    let events = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        events.contains("buggify lease_lock."),
        "no buggify note in the export"
    );
    // And the replay of that trace rebuilds buggify from the scenario in its header.
    let replayed = ruckus(&["replay", trace.to_str().unwrap()]);
    assert!(
        replayed.code == 0 || replayed.code == 1,
        "{}\n{}",
        replayed.out,
        replayed.err
    );
    assert!(!replayed.err.contains("diverge"), "{}", replayed.err);
}

#[test]
fn run_text_report_lists_the_probes_reached_as_json_does() {
    let args = ["run", "lease_lock_no_fencing", "--seed", "16012630736418546453"];
    let text = ruckus(&args);
    assert_eq!(text.code, 1, "{text:?}");
    let json = ruckus(&[&args[..], &["--json"]].concat());
    let v: serde_json::Value = serde_json::from_str(json.out.trim()).unwrap();
    let names: Vec<&str> = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(!names.is_empty(), "{v}");
    let line = format!("probes        {}", names.join(", "));
    assert!(
        text.out.lines().any(|l| l == line),
        "missing {line:?} in\n{}",
        text.out
    );
    // A run that reaches no probe has no such line.
    let none = ruckus(&["run", "pingpong", "--set", "workload.deliveries=200"]);
    assert!(!none.out.contains("probes"), "{}", none.out);
}
