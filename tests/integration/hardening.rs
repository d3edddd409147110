//! Hardening: outputs never replace what is not a regular file, inputs are bounded, and the
//! exit codes of the edge cases are right. Each test fails without the behaviour it names.

use crate::support::{TempDir, ruckus};
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use std::path::Path;

/// A failing run of `lease_lock_no_fencing`, traced to `path`; returns its seed.
fn failing_trace(path: &Path) -> u64 {
    let s = Scenario::load(&Registry::builtin(), "lease_lock_no_fencing", &[]).unwrap();
    let seed = (0..500)
        .find(|&seed| runner::run(&s, seed).report.failure.is_some())
        .expect("a failing seed within 500");
    let r = ruckus(&[
        "run",
        "lease_lock_no_fencing",
        "--seed",
        &seed.to_string(),
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    seed
}

fn assert_bad_input(r: &crate::support::Ran, needle: &str) {
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains(needle), "expected {needle:?} in {}", r.err);
}

// ---------------------------------------------------------------------------------------------
// Output files

#[test]
fn run_trace_refuses_symlinks_directories_and_missing_parents() {
    let dir = TempDir::new("out-run");
    let target = dir.file("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.file("link.trace");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let r = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--trace",
        link.to_str().unwrap(),
    ]);
    assert_bad_input(&r, "a symbolic link");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    let r = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--trace",
        dir.path().to_str().unwrap(),
    ]);
    assert_bad_input(&r, "a directory");

    let missing = dir.file("no/such/dir/x.trace");
    let r = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--trace",
        missing.to_str().unwrap(),
    ]);
    assert_bad_input(&r, "does not exist");
    assert!(!dir.file("no").exists(), "no directory is created");

    // A regular file is replaced as before.
    let plain = dir.file("plain.trace");
    std::fs::write(&plain, "old").unwrap();
    let r = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--trace",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_ne!(std::fs::read(&plain).unwrap(), b"old");
}

#[test]
fn shrink_export_merge_and_sweep_outputs_refuse_links_and_directories() {
    let dir = TempDir::new("out-others");
    let trace = dir.file("fail.trace");
    failing_trace(&trace);
    let target = dir.file("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.file("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (t, l, d) = (
        trace.to_str().unwrap(),
        link.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    );

    assert_bad_input(&ruckus(&["shrink", t, "-o", l]), "a symbolic link");
    assert_bad_input(&ruckus(&["shrink", t, "-o", d]), "a directory");
    let nowhere = dir.file("missing/out.html");
    assert_bad_input(
        &ruckus(&["export", t, "-o", nowhere.to_str().unwrap()]),
        "does not exist",
    );
    std::os::unix::fs::symlink(&target, dir.file("link.html")).unwrap();
    let html_link = dir.file("link.html");
    assert_bad_input(
        &ruckus(&["export", t, "--no-payloads", "-o", html_link.to_str().unwrap()]),
        "a symbolic link",
    );
    assert_bad_input(
        &ruckus(&["replay", t, "--export", html_link.to_str().unwrap()]),
        "a symbolic link",
    );

    let sweep_out = dir.file("sweep.jsonl");
    let r = ruckus(&[
        "sweep",
        "pingpong",
        "--seeds",
        "1",
        "--set",
        "workload.deliveries=100",
        "--no-traces",
        "--out",
        sweep_out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_bad_input(
        &ruckus(&["merge", sweep_out.to_str().unwrap(), "--out", l]),
        "a symbolic link",
    );
    assert_bad_input(
        &ruckus(&["sweep", "pingpong", "--seeds", "1", "--no-traces", "--out", l]),
        "a symbolic link",
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
}

#[test]
fn an_unusable_trace_dir_is_an_error_before_any_run() {
    let dir = TempDir::new("out-tracedir");
    let file = dir.file("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let r = ruckus(&[
        "sweep",
        "pingpong",
        "--seeds",
        "1",
        "--trace-dir",
        file.to_str().unwrap(),
    ]);
    assert_bad_input(&r, "not a directory");
    assert!(r.out.is_empty(), "no run started: {}", r.out);
    let deep = dir.file("a/b");
    let r = ruckus(&[
        "sweep",
        "pingpong",
        "--seeds",
        "1",
        "--trace-dir",
        deep.to_str().unwrap(),
    ]);
    assert_bad_input(&r, "does not exist");
    assert!(!dir.file("a").exists());
    // A named directory whose parent exists is created.
    let named = dir.file("traces");
    let r = ruckus(&[
        "sweep",
        "pingpong",
        "--seeds",
        "1",
        "--set",
        "workload.deliveries=100",
        "--trace-dir",
        named.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(named.is_dir());
}

// ---------------------------------------------------------------------------------------------
// Bounds

#[test]
fn sizes_from_input_are_bounded_before_anything_is_allocated() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "pingpong", "--set", "topology.hosts=70000"],
            "over the bound of 10000",
        ),
        (
            &[
                "run",
                "raft_commit_previous_term",
                "--set",
                "workload.clients=1000000",
            ],
            "field `workload.clients`: 1000000 is over the bound of 100000",
        ),
        (
            &[
                "run",
                "raft_commit_previous_term",
                "--set",
                "workload.readers_per_host=100000",
            ],
            "over the bound of 100000 processes",
        ),
        (
            &[
                "run",
                "raft_commit_previous_term",
                "--set",
                "limits.horizon=100000h",
            ],
            "over the bound of 100000: raise a mean_interval",
        ),
        (
            &[
                "run",
                "raft_commit_previous_term",
                "--set",
                "faults.profile.crash.mean_interval=1ns",
            ],
            "crash: 58000000000",
        ),
        (
            &["run", "pingpong", "--set", "limits.max_queue=1000000000000"],
            "field `limits.max_queue`",
        ),
        (
            &["sweep", "pingpong", "--seeds", "3", "--jobs", "10000"],
            "--jobs 10000 is over the bound of 1024",
        ),
        (
            &["sweep", "pingpong", "--seeds", "100000000000"],
            "over the bound of 10000000 runs",
        ),
        (
            &["explore", "backoff", "--jobs", "5000"],
            "over the bound of 1024",
        ),
    ];
    for (args, needle) in cases {
        assert_bad_input(&ruckus(args), needle);
    }
}

#[test]
fn scenario_files_must_be_regular_and_small() {
    let dir = TempDir::new("bounded-reads");
    let big = dir.file("big.toml");
    std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
    assert_bad_input(
        &ruckus(&["run", big.to_str().unwrap()]),
        "over the bound of 1048576 bytes",
    );
    let fifo = dir.file("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Without the check this would block forever waiting for a writer.
    assert_bad_input(
        &ruckus(&["scenarios", "--show", fifo.to_str().unwrap()]),
        "a FIFO",
    );
    assert_bad_input(&ruckus(&["replay", fifo.to_str().unwrap()]), "a FIFO");
    assert_bad_input(&ruckus(&["run", dir.path().to_str().unwrap()]), "a directory");
}

#[test]
fn a_trace_whose_scenario_is_too_large_is_refused_by_every_reader() {
    use ruckus_sim::FaultPlan;
    use ruckus_sim::trace::{TraceHeader, TraceWriter};
    let dir = TempDir::new("bounded-trace");
    let s = Scenario::load(&Registry::builtin(), "pingpong", &[]).unwrap();
    let huge = s.to_toml().replace("hosts = 5", "hosts = 1000000");
    assert!(huge.contains("hosts = 1000000"));
    let path = dir.file("huge.trace");
    let mut header = TraceHeader::new(1, huge, FaultPlan::none());
    header.labels = vec![("model".into(), "pingpong".into())];
    let mut w = TraceWriter::create(&path, &header).unwrap();
    w.finish(None).unwrap();
    let p = path.to_str().unwrap();
    for args in [
        vec!["replay", p],
        vec!["shrink", p],
        vec!["export", p, "-o", dir.file("x.html").to_str().unwrap()],
    ] {
        let r = ruckus(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.err.contains("over the bound of 10000"), "{args:?}: {}", r.err);
    }
}

#[test]
fn replay_context_is_bounded() {
    let dir = TempDir::new("bounded-context");
    let trace = dir.file("p.trace");
    let r = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for n in ["18446744073709551615", "4294967296"] {
        assert_bad_input(
            &ruckus(&["replay", trace.to_str().unwrap(), "--context", n]),
            "over the bound of 10000",
        );
    }
    assert_eq!(
        ruckus(&["replay", trace.to_str().unwrap(), "--context", "10000"]).code,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Exit codes and checks

#[test]
fn shrink_verifies_every_record_block_first() {
    let dir = TempDir::new("shrink-corrupt");
    let trace = dir.file("fail.trace");
    failing_trace(&trace);
    let mut bytes = std::fs::read(&trace).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    let bad = dir.file("bad.trace");
    std::fs::write(&bad, &bytes).unwrap();
    let r = ruckus(&["shrink", bad.to_str().unwrap()]);
    assert_bad_input(&r, "corrupted");
    assert!(
        !dir.file("bad.shrunk.trace").exists(),
        "no shrunk trace of a corrupt one"
    );
}

#[test]
fn an_inconclusive_linearizability_check_exits_4() {
    let r = ruckus(&["run", "raft", "--set", "model.check_max_steps=1"]);
    assert!(r.out.contains("inconclusive linearizability check"), "{}", r.out);
    assert_eq!(r.code, 4, "{}", r.out);
}

#[test]
fn resume_removes_stale_partials_and_counts_a_repeated_line_once() {
    let dir = TempDir::new("resume");
    let out = dir.file("s.jsonl");
    let traces = dir.file("traces");
    let (o, t) = (out.to_str().unwrap(), traces.to_str().unwrap());
    let base = [
        "sweep",
        "pingpong",
        "--set",
        "workload.deliveries=100",
        "--out",
        o,
        "--trace-dir",
        t,
    ];
    let r = ruckus(&[&base[..], &["--seeds", "3"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    // A killed sweep's unfinished trace, and a result line written twice.
    let stale = traces.join("pingpong-seed-7.trace.4000000000.partial");
    std::fs::write(&stale, "half a trace").unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let first = text.lines().next().unwrap().to_owned();
    std::fs::write(&out, format!("{text}{first}\n")).unwrap();
    let r = ruckus(&[&base[..], &["--seeds", "4", "--resume"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!stale.exists(), "the stale partial trace is removed");
    assert!(r.out.contains("(4 runs"), "each index once: {}", r.out);
    assert!(
        r.err.contains("1 repeated result lines counted once"),
        "{}",
        r.err
    );
    // The same index with a different result is refused.
    let changed = first.replacen("\"fingerprint\":\"", "\"fingerprint\":\"0", 1);
    std::fs::write(&out, format!("{text}{changed}\n")).unwrap();
    let r = ruckus(&[&base[..], &["--seeds", "4", "--resume"]].concat());
    assert_bad_input(&r, "appears twice with different results");
}

#[test]
fn seeds_of_two_to_the_63_and_above_can_be_written() {
    let dir = TempDir::new("big-seeds");
    let s = Scenario::load(
        &Registry::builtin(),
        "pingpong",
        &["workload.deliveries=100".into()],
    )
    .unwrap();
    let file = dir.file("big.toml");
    let text = s
        .to_toml()
        .replace("seed = 1\n", "seed = \"18446744073709551615\"\n");
    std::fs::write(&file, text).unwrap();
    let r = ruckus(&["run", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("seed          18446744073709551615"), "{}", r.out);
    for value in ["9223372036854775808", "0x8000000000000000"] {
        let r = ruckus(&[
            "run",
            "pingpong",
            "--set",
            "workload.deliveries=100",
            "--set",
            &format!("seed={value}"),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.out.contains("seed          9223372036854775808"), "{}", r.out);
    }
    // Written back as a string, the scenario loads again (traces store it this way).
    let big = Scenario::load(&Registry::builtin(), file.to_str().unwrap(), &[]).unwrap();
    assert_eq!(big.seed, u64::MAX);
    assert!(big.to_toml().contains("seed = \"18446744073709551615\""));
    // An integer too large for TOML names the line, the field and the way out.
    std::fs::write(
        &file,
        s.to_toml().replace("seed = 1\n", "seed = 18446744073709551615\n"),
    )
    .unwrap();
    let r = ruckus(&["run", file.to_str().unwrap()]);
    assert_bad_input(&r, ":2:8: field `seed`: the integer is out of range");
    assert!(r.err.contains("as a string"), "{}", r.err);
}

#[test]
fn pingpong_with_faults_holds_its_delivery_bound() {
    let r = ruckus(&[
        "sweep",
        "pingpong",
        "--seeds",
        "12",
        "--no-traces",
        "--set",
        "faults.enabled=true",
        "--set",
        "workload.deliveries=20000",
        "--set",
        "faults.profile.chaos.duplicate=0.3",
    ]);
    assert_eq!(r.code, 0, "{}", r.err);
}

#[test]
fn error_messages_name_the_value_the_key_and_cut_huge_values() {
    let r = ruckus(&["run", "pingpong", "--set", "faults.profile.chaos.loss=1.5"]);
    assert_bad_input(
        &r,
        "field `faults.profile.chaos.loss`: chaos.loss must be within 0..=1, got 1.5",
    );
    let dir = TempDir::new("messages");
    let s = Scenario::load(&Registry::builtin(), "pingpong", &[]).unwrap();
    let file = dir.file("dup.toml");
    std::fs::write(
        &file,
        s.to_toml()
            .replace("[topology]\n", "[topology]\nlayout = \"zoned\"\n"),
    )
    .unwrap();
    assert_bad_input(
        &ruckus(&["run", file.to_str().unwrap()]),
        "duplicate key `layout`",
    );
    let file = dir.file("big.toml");
    std::fs::write(
        &file,
        s.to_toml()
            .replace("max_events = 100000000", "max_events = 18446744073709551615"),
    )
    .unwrap();
    assert_bad_input(
        &ruckus(&["run", file.to_str().unwrap()]),
        "field `limits.max_events`: the integer is out of range",
    );
    let r = ruckus(&["run", "lease_lock", "--set", "workload.clients=5000"]);
    assert_bad_input(&r, "field `workload.clients`");
    let huge = "x".repeat(10_000);
    let r = ruckus(&["run", "pingpong", "--set", &format!("model.name={huge}")]);
    assert_eq!(r.code, 2);
    assert!(r.err.len() < 2_000, "{} bytes of error", r.err.len());
    assert!(r.err.contains("(10000 characters)"), "{}", r.err);
}
