//! The `ruckus` command line: every subcommand, every exit code, every bad-input case,
//! sharded and resumed sweeps. Most tests call the CLI in-process
//! (`ruckus_scenarios::cli::main_with_args`); a few spawn the real binary.

use crate::support::{TempDir, ruckus, scratch};
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_scenarios::sweep::{SweepLine, seed_for};
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn lines_of(path: &Path) -> Vec<SweepLine> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

/// A scenario file that is valid, small and fast, for the bad-input tests to break.
const SMALL: &str = r#"description = "small pingpong"

[model]
name = "pingpong"

[topology]
hosts = 3
latency = { constant = { value = "1ms" } }

[workload]
in_flight = 4
deliveries = 100

[limits]
horizon = "10s"
"#;

/// The first seed at which `reference` (with `overrides`) fails, with the verdict's name.
fn first_failing_seed(reference: &str, overrides: &[String]) -> (u64, String) {
    let s = Scenario::load(&Registry::builtin(), reference, overrides).unwrap();
    (0..500)
        .find_map(|seed| {
            let o = runner::run(&s, seed);
            (o.report.verdict.name() != "held").then(|| (seed, o.report.verdict.name().to_owned()))
        })
        .expect("a failing seed within 500")
}

// ---------------------------------------------------------------------------------------------
// Subcommands and exit codes

#[test]
fn scenarios_lists_every_builtin_one_line_each() {
    let r = ruckus(&["scenarios"]);
    assert_eq!(r.code, 0, "{r:?}");
    let names: Vec<&str> = ruckus_scenarios::builtin::names().collect();
    assert_eq!(r.out.lines().count(), names.len(), "{}", r.out);
    for (line, name) in r.out.lines().zip(&names) {
        assert!(line.starts_with(name), "{line}");
        assert!(!line.contains("does not load"), "{line}");
    }
    assert!(names.contains(&"pingpong") && names.contains(&"lease_lock_no_fencing"));
}

#[test]
fn scenarios_show_prints_a_resolved_scenario_that_loads_back() {
    let r = ruckus(&["scenarios", "--show", "pingpong", "--set", "faults.enabled=true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("enabled = true"), "{}", r.out);
    let back =
        Scenario::from_text(&Registry::builtin(), "pingpong", "pingpong", "shown", &r.out, &[]).unwrap();
    let original = Scenario::load(
        &Registry::builtin(),
        "pingpong",
        &["faults.enabled=true".to_owned()],
    )
    .unwrap();
    assert_eq!(back.to_toml(), original.to_toml());
    assert_eq!(back.model_params, original.model_params);
}

#[test]
fn run_json_reports_the_required_fields_and_is_deterministic() {
    let args = [
        "run",
        "pingpong",
        "--seed",
        "9",
        "--json",
        "--set",
        "workload.deliveries=3000",
    ];
    let a = ruckus(&args);
    assert_eq!(a.code, 0, "{a:?}");
    let v: serde_json::Value = serde_json::from_str(a.out.trim()).unwrap();
    assert_eq!(v["seed"], 9);
    assert_eq!(v["verdict"], "held");
    assert_eq!(v["deliveries"], 3000);
    assert!(v["events"].as_u64().unwrap() >= 3000);
    assert!(v["virtual_time_ns"].as_u64().unwrap() > 0);
    let fp = v["fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 16);
    assert!(u64::from_str_radix(fp, 16).is_ok());
    let b: serde_json::Value = serde_json::from_str(ruckus(&args).out.trim()).unwrap();
    assert_eq!(b["fingerprint"], v["fingerprint"]);
    let other = ruckus(&[
        "run",
        "pingpong",
        "--seed",
        "10",
        "--json",
        "--set",
        "workload.deliveries=3000",
    ]);
    let c: serde_json::Value = serde_json::from_str(other.out.trim()).unwrap();
    assert_ne!(c["fingerprint"], v["fingerprint"]);
}

#[test]
fn run_human_report_names_seed_verdict_and_rate() {
    let r = ruckus(&["run", "pingpong", "--set", "workload.deliveries=2000"]);
    assert_eq!(r.code, 0, "{r:?}");
    for want in [
        "seed          1",
        "verdict       held",
        "fingerprint",
        "events/s",
        "virtual time",
    ] {
        assert!(r.out.contains(want), "missing {want:?} in\n{}", r.out);
    }
}

#[test]
fn safety_violation_exits_1_with_a_report_and_replay_command() {
    let (seed, verdict) = first_failing_seed("lease_lock_no_fencing", &[]);
    assert_eq!(verdict, "safety_violation");
    let r = ruckus(&["run", "lease_lock_no_fencing", "--seed", &seed.to_string()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.out.contains("storage_fenced"), "{}", r.out);
    assert!(
        r.out
            .contains(&format!("ruckus run lease_lock_no_fencing --seed {seed}")),
        "{}",
        r.out
    );
    assert!(r.out.contains("fault plan:"), "{}", r.out);
}

#[test]
fn liveness_failure_exits_3() {
    // With a 1 ms bound nobody can complete a write after the heal in time.
    let set = ["workload.liveness_bound=1ms".to_owned()];
    let (seed, verdict) = first_failing_seed("lease_lock", &set);
    assert_eq!(verdict, "liveness_failure");
    let r = ruckus(&[
        "run",
        "lease_lock",
        "--seed",
        &seed.to_string(),
        "--set",
        &set[0],
        "--json",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.out.trim()).unwrap();
    assert_eq!(v["verdict"], "liveness_failure");
    assert_eq!(v["property"], "writes_resume");
}

#[test]
fn exceeded_limit_exits_4() {
    let r = ruckus(&["run", "pingpong", "--set", "limits.max_events=100", "--json"]);
    assert_eq!(r.code, 4, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.out.trim()).unwrap();
    assert_eq!(v["verdict"], "limit_exceeded");
    assert_eq!(v["events"], 100);
}

#[test]
fn faults_switch_on_with_set() {
    let off = ruckus(&["run", "pingpong", "--json", "--set", "workload.deliveries=20000"]);
    let on = ruckus(&[
        "run",
        "pingpong",
        "--json",
        "--set",
        "workload.deliveries=20000",
        "--set",
        "faults.enabled=true",
        "--set",
        "faults.profile.crash.mean_interval=\"100ms\"",
    ]);
    let off: serde_json::Value = serde_json::from_str(off.out.trim()).unwrap();
    let on: serde_json::Value = serde_json::from_str(on.out.trim()).unwrap();
    assert_eq!(off["faults"], 0);
    assert!(on["faults"].as_u64().unwrap() > 0, "{on}");
    assert_ne!(on["fingerprint"], off["fingerprint"]);
}

#[test]
fn help_documents_exit_codes_and_version_exits_0() {
    let r = ruckus(&["--help"]);
    assert_eq!(r.code, 0);
    for code in [
        "0  every run held",
        "1  a safety",
        "2  bad input",
        "3  a liveness",
        "4  a model panicked",
    ] {
        assert!(r.out.contains(code), "{code:?} missing from\n{}", r.out);
    }
    for sub in ["run", "sweep", "merge", "scenarios", "tour"] {
        assert!(r.out.contains(sub), "{sub}");
    }
    assert_eq!(ruckus(&["--version"]).code, 0);
    assert_eq!(ruckus(&["sweep", "--help"]).code, 0);
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2, with file, line, column, field and a suggestion

/// Runs `ruckus run FILE` on `text` and returns the error output (asserting exit 2).
fn bad_file(text: &str, extra: &[&str]) -> (String, String) {
    let dir = scratch("bad");
    let path = write(&dir, "s.toml", text);
    let mut args = vec!["run", path.as_str()];
    args.extend_from_slice(extra);
    let r = ruckus(&args);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.out.is_empty(), "{}", r.out);
    (r.err, path)
}

#[test]
fn unknown_field_names_file_line_column_path_and_closest_name() {
    let text = SMALL.replace("horizon = \"10s\"", "horizn = \"10s\"");
    let (err, path) = bad_file(&text, &[]);
    let line = text.lines().position(|l| l.starts_with("horizn")).unwrap() + 1;
    assert!(err.contains(&format!("{path}:{line}:1")), "{err}");
    assert!(err.contains("field `limits.horizn`"), "{err}");
    assert!(err.contains("did you mean `horizon`?"), "{err}");
}

#[test]
fn unknown_degradation_modes_are_bad_input_before_any_run() {
    let services = |modes: &str| {
        format!(
            "[model]\nname = \"services\"\n\n[topology]\nhosts = 5\nlatency = {{ constant = {{ value = \"1ms\" }} }}\n\n\
             [faults.profile]\ndegrade = {{ mean_interval = \"1s\" }}\ndegrade_modes = {modes}\n\n[limits]\nhorizon = \"3s\"\n"
        )
    };
    let text = services(r#"["slow:4", "melt"]"#);
    let (err, path) = bad_file(&text, &[]);
    let line = text.lines().position(|l| l.starts_with("degrade_modes")).unwrap() + 1;
    assert!(err.contains(&format!("{path}:{line}:")), "{err}");
    assert!(err.contains("field `faults.profile.degrade_modes[1]`"), "{err}");
    assert!(err.contains("\"melt\""), "{err}");
    // The same scenario with only known modes runs.
    let dir = scratch("degrade-ok");
    let ok = write(&dir, "ok.toml", &services(r#"["slow:4", "stall"]"#));
    let r = ruckus(&["run", ok.as_str()]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn wrong_type_names_the_field_and_line() {
    let text = SMALL.replace("hosts = 3", "hosts = \"three\"");
    let (err, path) = bad_file(&text, &[]);
    let line = text.lines().position(|l| l.starts_with("hosts")).unwrap() + 1;
    assert!(err.contains(&format!("{path}:{line}:")), "{err}");
    assert!(err.contains("topology.hosts"), "{err}");
    assert!(err.contains("invalid type"), "{err}");
}

#[test]
fn unknown_model_parameter_is_located_in_its_section() {
    let text = SMALL.replace("in_flight = 4", "in_flihgt = 4");
    let (err, path) = bad_file(&text, &[]);
    let line = text.lines().position(|l| l.starts_with("in_flihgt")).unwrap() + 1;
    assert!(err.contains(&format!("{path}:{line}:1")), "{err}");
    assert!(err.contains("workload.in_flihgt"), "{err}");
    assert!(err.contains("did you mean `in_flight`?"), "{err}");
}

#[test]
fn missing_part_is_named() {
    let text = SMALL.replace("[topology]", "[topolgy]");
    let (err, _) = bad_file(&text, &[]);
    assert!(err.contains("topolgy"), "{err}");
    assert!(err.contains("did you mean `topology`?"), "{err}");
    let start = SMALL.find("[topology]").unwrap();
    let end = SMALL.find("[workload]").unwrap();
    let without = format!("{}{}", &SMALL[..start], &SMALL[end..]);
    let (err, _) = bad_file(&without, &[]);
    assert!(err.contains("missing field `topology`"), "{err}");
}

#[test]
fn unknown_model_and_variant_names_get_suggestions() {
    let (err, path) = bad_file(&SMALL.replace("\"pingpong\"", "\"pingpnog\""), &[]);
    assert!(err.contains(&format!("{path}:4:")), "{err}");
    assert!(err.contains("field `model.name`"), "{err}");
    assert!(err.contains("did you mean `pingpong`?"), "{err}");
    let (err, _) = bad_file(&SMALL.replace("constant = {", "constnt = {"), &[]);
    assert!(err.contains("topology.latency"), "{err}");
    assert!(err.contains("did you mean `constant`?"), "{err}");
}

#[test]
fn syntax_error_gives_line_and_column() {
    let text = SMALL.replace("hosts = 3", "hosts = = 3");
    let (err, path) = bad_file(&text, &[]);
    let line = text.lines().position(|l| l.starts_with("hosts")).unwrap() + 1;
    assert!(err.contains(&format!("{path}:{line}:")), "{err}");
}

#[test]
fn model_rejecting_its_parameters_is_bad_input_not_a_panic() {
    let (err, _) = bad_file(SMALL, &["--set", "workload.in_flight=0"]);
    assert!(err.contains("rejected its parameters"), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
    let r = ruckus(&["run", "lease_lock", "--set", "topology.hosts=3"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("needs 5 hosts"), "{}", r.err);
}

#[test]
fn bad_invariant_and_host_counts_are_reported() {
    let (err, _) = bad_file(
        &format!("{SMALL}\n[invariants]\ncheck = [\"deliveries_bound\"]\n"),
        &[],
    );
    assert!(err.contains("invariants.check[0]"), "{err}");
    assert!(err.contains("did you mean `deliveries_bounded`?"), "{err}");
    let (err, _) = bad_file(&SMALL.replace("[workload]", "[workload]\nhosts = 4"), &[]);
    assert!(err.contains("workload.hosts"), "{err}");
    assert!(err.contains("the topology has 3 hosts"), "{err}");
}

#[test]
fn bad_overrides_are_blamed_on_the_flag() {
    let r = ruckus(&["run", "pingpong", "--set", "limits.horizn=5"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("--set limits.horizn=5"), "{}", r.err);
    assert!(r.err.contains("did you mean `horizon`?"), "{}", r.err);
    let r = ruckus(&["run", "pingpong", "--set", "nonsense"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("expected key=value"), "{}", r.err);
    let r = ruckus(&["run", "pingpong", "--set", "topology.hosts=\"x\""]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("--set topology.hosts") && r.err.contains("invalid type"),
        "{}",
        r.err
    );
    let r = ruckus(&["run", "pingpong", "--set", "limits.horizon=\"5 fortnights\""]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("unknown unit"), "{}", r.err);
}

#[test]
fn unknown_scenario_name_suggests_the_closest_builtin() {
    let r = ruckus(&["run", "pingpnog"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("did you mean `pingpong`?"), "{}", r.err);
    let r = ruckus(&["sweep", "lease_lock_no_fensing", "--seeds", "2"]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("did you mean `lease_lock_no_fencing`?"),
        "{}",
        r.err
    );
    let r = ruckus(&["run", "/nonexistent/x.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("/nonexistent/x.toml") && r.err.contains("cannot read"),
        "{}",
        r.err
    );
}

#[test]
fn usage_errors_and_invalid_flag_combinations_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run"], "SCENARIO"),
        (&["frobnicate"], "frobnicate"),
        (&["run", "pingpong", "--seed", "minus-one"], "minus-one"),
        (&["sweep", "pingpong", "--seeds", "5", "--resume"], "--out"),
        (
            &[
                "sweep",
                "pingpong",
                "--seeds",
                "5",
                "--shard",
                "0/2",
                "--shard-from-env",
                "2",
            ],
            "cannot be used",
        ),
        (
            &["sweep", "pingpong", "--seeds", "5", "--shard", "2/2"],
            "count from 0 to 1",
        ),
        (&["sweep", "pingpong", "--seeds", "0"], "at least 1"),
        (
            &["sweep", "pingpong", "--seeds", "5", "--jobs", "0"],
            "at least 1",
        ),
        (&["scenarios", "--set", "a=1"], "--show"),
        (&["merge"], "FILES"),
    ];
    for (args, want) in cases {
        let r = ruckus(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.err.contains(want),
            "{args:?}: {:?} missing from {}",
            want,
            r.err
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeps: sharding, merging, resuming

fn sweep_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sweep",
        "lease_lock_no_fencing",
        "--seeds",
        "300",
        "--seed",
        "42",
        "--jobs",
        "2",
        "--no-traces",
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn three_shards_merged_equal_one_sweep_line_for_line() {
    let dir = scratch("shards");
    let whole = dir.join("whole.jsonl").display().to_string();
    let r = ruckus(&sweep_args(&whole, &[]));
    assert_eq!(r.code, 1, "the planted bug fails some seeds: {r:?}");
    let mut shard_files = Vec::new();
    for k in 0..3 {
        let f = dir.join(format!("shard{k}.jsonl")).display().to_string();
        let shard = format!("{k}/3");
        let r = ruckus(&sweep_args(&f, &["--shard", &shard]));
        assert!(r.code == 0 || r.code == 1, "{r:?}");
        let lines = lines_of(Path::new(&f));
        assert!(
            lines.iter().all(|l| l.index % 3 == k),
            "shard {k} ran foreign indices"
        );
        assert_eq!(lines.len(), 100);
        shard_files.push(f);
    }
    let merged = dir.join("merged.jsonl").display().to_string();
    let mut args = vec!["merge", "--out", merged.as_str()];
    args.extend(shard_files.iter().map(String::as_str));
    let r = ruckus(&args);
    assert_eq!(r.code, 1, "{r:?}");
    let mut single: Vec<String> = std::fs::read_to_string(&whole)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let by_index = |l: &String| serde_json::from_str::<SweepLine>(l).unwrap().index;
    single.sort_by_key(by_index);
    let merged_lines: Vec<String> = std::fs::read_to_string(&merged)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(single.len(), 300);
    assert_eq!(merged_lines, single);
    // Seeds depend only on (base seed, index).
    for l in lines_of(Path::new(&merged)) {
        assert_eq!(l.run.seed, seed_for(42, l.index));
    }
}

#[test]
fn merge_rejects_outputs_of_different_sweeps() {
    let dir = scratch("merge-mismatch");
    let a = dir.join("a.jsonl").display().to_string();
    let b = dir.join("b.jsonl").display().to_string();
    let sweep = |out: &str, extra: &[&str]| {
        let mut v = vec!["sweep", "pingpong", "--seeds", "4", "--no-traces", "--out", out];
        v.extend_from_slice(extra);
        v.extend_from_slice(&["--set", "workload.deliveries=200"]);
        ruckus(&v)
    };
    assert_eq!(sweep(&a, &[]).code, 0);
    assert_eq!(sweep(&b, &["--set", "topology.hosts=4"]).code, 0);
    let r = ruckus(&["merge", &a, &b]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("different scenario"), "{}", r.err);
    let r = ruckus(&["merge", &a, "/nonexistent.jsonl"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn resume_after_an_interrupted_sweep_runs_every_seed_exactly_once() {
    let dir = scratch("resume");
    let full = dir.join("full.jsonl").display().to_string();
    let part = dir.join("part.jsonl").display().to_string();
    let args = |out: &str, resume: bool| {
        let mut v = vec![
            "sweep".to_owned(),
            "lease_lock_no_fencing".into(),
            "--seeds".into(),
            "60".into(),
            "--no-traces".into(),
            "--out".into(),
            out.to_owned(),
        ];
        if resume {
            v.push("--resume".into());
        }
        v
    };
    let run = |v: Vec<String>| ruckus(&v.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run(args(&full, false)).code, 1);
    // An interrupted sweep: 25 finished lines, then a line cut off mid-write.
    let text = std::fs::read_to_string(&full).unwrap();
    let kept: Vec<&str> = text.lines().take(25).collect();
    let cut = &text.lines().nth(25).unwrap()[..20];
    std::fs::write(&part, format!("{}\n{cut}", kept.join("\n"))).unwrap();
    // Without --resume the existing output is protected.
    let r = run(args(&part, false));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("--resume"), "{}", r.err);
    let r = run(args(&part, true));
    assert_eq!(r.code, 1, "{r:?}");
    let mut resumed = lines_of(Path::new(&part));
    assert_eq!(resumed.len(), 60);
    resumed.sort_by_key(|l| l.index);
    let idx: Vec<u64> = resumed.iter().map(|l| l.index).collect();
    assert_eq!(idx, (0..60).collect::<Vec<_>>());
    let mut expected = lines_of(Path::new(&full));
    expected.sort_by_key(|l| l.index);
    assert_eq!(resumed, expected);
    // Resuming a finished sweep runs nothing more.
    assert_eq!(run(args(&part, true)).code, 1);
    assert_eq!(lines_of(Path::new(&part)).len(), 60);
    // Resuming with another base seed is refused.
    let mut other = args(&part, true);
    other.extend(["--seed".into(), "5".into()]);
    let r = run(other);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("base seed"), "{}", r.err);
}

#[test]
fn sweep_to_stdout_writes_one_line_per_seed_and_traces_failures() {
    let dir = scratch("traces");
    let traces = dir.join("traces").display().to_string();
    let r = ruckus(&[
        "sweep",
        "lease_lock_no_fencing",
        "--seeds",
        "20",
        "--trace-dir",
        &traces,
        "--max-traces",
        "20",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<SweepLine> = r.out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 20);
    assert!(
        r.err.contains("safety_violation"),
        "summary goes to stderr: {}",
        r.err
    );
    let failing: Vec<&SweepLine> = lines.iter().filter(|l| l.run.verdict != "held").collect();
    assert!(!failing.is_empty());
    for l in failing {
        let trace = l.trace.as_ref().expect("failures are traced");
        assert!(Path::new(trace).exists(), "{trace}");
        let replay = l.replay.as_ref().unwrap();
        assert!(replay.contains(&l.run.seed.to_string()), "{replay}");
    }
}

#[test]
fn stop_on_failure_starts_no_runs_after_the_first_failure_is_known() {
    let r = ruckus(&[
        "sweep",
        "lease_lock_no_fencing",
        "--seeds",
        "300",
        "--jobs",
        "1",
        "--no-traces",
        "--stop-on-failure",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<SweepLine> = r.out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // One job: runs go in order and stop right after the first failure.
    assert!(lines.len() < 300, "{}", lines.len());
    assert_eq!(lines.iter().filter(|l| l.run.verdict != "held").count(), 1);
    assert!(r.err.contains("not started"), "{}", r.err);
}

// ---------------------------------------------------------------------------------------------
// The tour

#[test]
fn tour_finds_shrinks_and_explains_the_planted_bug() {
    let dir = scratch("tour");
    let d = dir.display().to_string();
    let r = ruckus(&["tour", "--dir", &d]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("fails `tokens_increasing`"), "{}", r.out);
    // The shrunk plan keeps only the few faults the bug needs (a crash of the lock server).
    let kept: usize = r
        .out
        .split("kept ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `kept N of M` line in\n{}", r.out));
    assert!((1..=3).contains(&kept), "kept {kept} fault actions");
    assert!(r.out.contains("crash h0"), "{}", r.out);
    assert!(dir.join("shrunk.trace").exists());
    assert!(dir.join("failure.trace").exists());
    let html = std::fs::read_to_string(dir.join("shrunk.html")).expect("the tour writes the timeline");
    assert!(
        html.starts_with("<!") && html.contains("</html>"),
        "not an HTML page"
    );
    // The same page `ruckus export` writes: messages carry their payloads, not only digests.
    assert!(
        html.contains("Acquire { req:"),
        "the tour's timeline lacks payload text"
    );
    assert!(
        r.out.contains("ruckus run lease_lock_no_sync --seed"),
        "{}",
        r.out
    );
    // Step 6: the platform loses a zone and heals; its report is written.
    assert!(
        r.out
            .contains("hosts h2, h5, h8, h11, h14, h17 down from 60.000s to 120.000s"),
        "{}",
        r.out
    );
    assert!(r.out.contains("verdict held"), "{}", r.out);
    let rates: Vec<f64> = r
        .out
        .lines()
        .skip_while(|l| !l.contains("client success rate per 10 s"))
        .skip(1)
        .take(2)
        .flat_map(|l| {
            l.split_whitespace()
                .skip(2)
                .map(|x| x.parse::<f64>().expect("a rate"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(rates.len(), 22, "{}", r.out);
    // Whole before the outage, a dip when the zone goes down at 60 s, whole again at the end.
    assert!(rates[..4].iter().all(|&x| x > 99.0), "{rates:?}");
    assert!(rates[4] < 99.0, "{rates:?}");
    assert!(rates[rates.len() - 5..].iter().all(|&x| x > 99.0), "{rates:?}");
    let report =
        std::fs::read_to_string(dir.join("platform.html")).expect("the tour writes the platform report");
    assert!(
        report.contains("requests: success rate"),
        "the platform report lacks its chart"
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary

/// The `ruckus` binary of this build, built if needed.
fn binary() -> PathBuf {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let target = if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(target)
    };
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "ruckus-scenarios", "--bin", "ruckus"])
        .env("CARGO_TARGET_DIR", &target);
    if profile == "release" {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building the ruckus binary failed");
    let exe = target
        .join(profile)
        .join(format!("ruckus{}", std::env::consts::EXE_SUFFIX));
    assert!(exe.exists(), "{}", exe.display());
    exe
}

/// Printed commands work as printed: `ruckus ...` when `ruckus` on PATH is this binary, the
/// path the binary was started by when it is not.
#[test]
fn printed_commands_name_the_binary_the_way_it_can_be_run() {
    let exe = binary();
    let replay_line = |path_var: &str| -> String {
        let o = Command::new(&exe)
            .args([
                "run",
                "lease_lock_no_fencing",
                "--seed",
                "0",
                "--set",
                "faults.enabled=false",
            ])
            .args(["--set", "workload.liveness_bound=1ns"])
            .env("PATH", path_var)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .find_map(|l| l.strip_prefix("replay with").map(|r| r.trim().to_owned()))
            .unwrap_or_else(|| panic!("no replay line in {out}"))
    };
    let dir = exe.parent().unwrap().display().to_string();
    assert!(
        replay_line(&dir).starts_with("ruckus run lease_lock_no_fencing"),
        "{}",
        replay_line(&dir)
    );
    let elsewhere = replay_line("/nonexistent");
    assert!(
        elsewhere.starts_with(&format!("{} run ", exe.display())),
        "{elsewhere}"
    );
}

#[test]
fn the_binary_exits_with_the_documented_codes() {
    let exe = binary();
    let code = |args: &[&str]| {
        let o = Command::new(&exe).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (c, out, _) = code(&["run", "pingpong", "--json", "--set", "workload.deliveries=500"]);
    assert_eq!(c, Some(0));
    assert!(out.contains("\"verdict\":\"held\""), "{out}");
    let (seed, _) = first_failing_seed("lease_lock_no_fencing", &[]);
    let (c, _, err) = code(&["run", "lease_lock_no_fencing", "--seed", &seed.to_string()]);
    assert_eq!(c, Some(1));
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        code(&["run", "pingpong", "--set", "limits.max_events=10"]).0,
        Some(4)
    );
    let (c, _, err) = code(&["run", "pingpnog"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("did you mean `pingpong`?"), "{err}");
    assert_eq!(code(&["--no-such-flag"]).0, Some(2));
    let (c, out, _) = code(&["--help"]);
    assert_eq!(c, Some(0));
    assert!(out.contains("Exit codes"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "help piped to a file carries no colour codes: {out:?}"
    );
}

/// `ruckus run --html` draws the run over time: the outcome group's charts, a shaded band per
/// fault in each, the heal; nothing loaded from outside. A bad target fails before the run.
#[test]
fn run_writes_an_html_report_over_time() {
    let dir = TempDir::new("run-html");
    let page = dir.file("run.html");
    let ran = ruckus(&["run", "catalog_stack", "--html", page.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}{}", ran.out, ran.err);
    assert!(ran.out.contains("report"), "{}", ran.out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for title in [
        "compose.calls: success rate",
        "compose.calls: latency of successes",
        "compose.calls: outcomes per second",
    ] {
        assert!(html.contains(title), "missing {title}");
    }
    let faults: usize = ran
        .out
        .lines()
        .find_map(|l| l.strip_prefix("faults"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("the run prints its fault count");
    assert!(faults > 0);
    // The group's three charts, and the rates of the catalog's Raft election rounds and
    // leaders elected (`raft.election_round`, `raft.leader_elected` timed series).
    for title in ["raft.election_round", "raft.leader_elected"] {
        assert!(html.contains(title), "missing {title}");
    }
    assert_eq!(
        html.matches("class=\"band\"").count(),
        5 * faults,
        "every fault in each of 5 charts"
    );
    assert!(html.contains(">heal</text>"));
    for forbidden in ["<script", "https://", "<link", "@import"] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    // A directory is not a file to write: refused at once, before the run.
    let ran = ruckus(&["run", "catalog_stack", "--html", dir.path().to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{}{}", ran.out, ran.err);
    assert!(!ran.out.contains("verdict"), "nothing ran: {}", ran.out);
}

/// A sweep of a bug that fails on most seeds writes at most `--max-traces` traces (10 by
/// default), says so, and a resumed sweep counts the traces it already has.
#[test]
fn sweep_traces_are_capped_and_the_cap_survives_resume() {
    let dir = TempDir::new("trace-cap");
    let traces = dir.file("traces");
    let out = dir.file("out.jsonl");
    let traced = |lines: &[SweepLine]| lines.iter().filter(|l| l.trace.is_some()).count();
    let files = || std::fs::read_dir(&traces).map_or(0, |d| d.count());
    let sweep = |seeds: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "raft_vote_not_persisted",
            "--seeds",
            seeds,
            "--out",
            out.to_str().unwrap(),
            "--trace-dir",
            traces.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ruckus(&args)
    };
    std::fs::create_dir(&traces).unwrap();
    let r = sweep("40", &["--max-traces", "3", "--jobs", "2"]);
    assert_eq!(r.code, 1, "{r:?}");
    let mut lines = lines_of(&out);
    lines.sort_by_key(|l| l.index);
    let failing = lines.iter().filter(|l| l.run.verdict != "held").count();
    assert!(
        failing > 3,
        "the scenario must fail often for this test: {failing} of 40"
    );
    assert_eq!(traced(&lines), 3);
    assert_eq!(files(), 3);
    // The traces go to the failing runs of lowest index, whichever worker finished first.
    let lowest: Vec<u64> = lines
        .iter()
        .filter(|l| l.run.verdict != "held")
        .take(3)
        .map(|l| l.index)
        .collect();
    let with_trace: Vec<u64> = lines
        .iter()
        .filter(|l| l.trace.is_some())
        .map(|l| l.index)
        .collect();
    assert_eq!(with_trace, lowest);
    assert!(
        r.out
            .contains(&format!("{} failing runs have no trace", failing - 3))
            && r.out.contains("--max-traces 3"),
        "{}",
        r.out
    );
    for l in lines.iter().filter(|l| l.run.verdict != "held") {
        assert!(l.replay.is_some(), "every failure keeps its replay command");
    }
    // Resumed with a cap of 4: one more trace at most, whatever the new runs find.
    let r = sweep("80", &["--max-traces", "4", "--resume"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(traced(&lines_of(&out)), 4);
    assert_eq!(files(), 4);
}
