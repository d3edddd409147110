//! A model of one's own, driven exactly as a user would: the example crate under
//! scenarios/examples/primary_backup is built with cargo, its binary (the whole command line
//! through `cli::main_with`) runs, sweeps, shrinks, replays and exports its own model, its own
//! `cargo test` passes with the bug off and fails with a replayable report with the bug on, and
//! the stock binary explains that it does not have the model.

use crate::support::{TempDir, ruckus};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

fn example() -> PathBuf {
    repo().join("scenarios/examples/primary_backup")
}

/// `cargo ARGS` on the example crate, with its own target directory (a separate workspace
/// must not wait for the lock of the one running this test).
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .arg("--offline")
        .arg("--manifest-path")
        .arg(example().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", repo().join("target/own-model"))
        .env_remove("RUCKUS_SET")
        .env_remove("RUCKUS_SEED")
        .env_remove("RUCKUS_SEEDS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cargo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the example's binary in `dir`.
fn primary_backup(bin: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    // As a user who installed their binary: its name on PATH leads to it, so the commands it
    // prints say `primary-backup ...`.
    let mut path = vec![bin.parent().expect("the binary's directory").to_path_buf()];
    path.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    let out = Command::new(bin)
        .args(args)
        .env("PATH", std::env::join_paths(path).expect("a PATH"))
        .current_dir(dir)
        .output()
        .expect("the example binary runs");
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_users_own_model_gets_the_whole_toolbox() {
    let built = cargo(&["build"], &[]);
    assert!(
        built.status.success(),
        "the example builds:\n{}",
        text(&built.stderr)
    );
    let bin = repo().join("target/own-model/debug/primary-backup");
    let dir = TempDir::new("own-model");
    let d = dir.path();

    // Its scenarios are listed beside the built-ins, and the healthy design holds.
    let (code, out, _) = primary_backup(&bin, d, &["scenarios"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("primary_backup_ack_early") && out.contains("lease_lock"),
        "{out}"
    );
    let (code, out, err) = primary_backup(&bin, d, &["run", "primary_backup", "--seed", "3"]);
    assert_eq!(code, 0, "{out}{err}");

    // A sweep finds the planted bug and records a replayable trace.
    let (code, out, err) = primary_backup(
        &bin,
        d,
        &[
            "sweep",
            "primary_backup_ack_early",
            "--seeds",
            "40",
            "--stop-on-failure",
            "--out",
            "r.jsonl",
        ],
    );
    assert_eq!(code, 1, "a safety violation: {out}{err}");
    let lines = std::fs::read_to_string(d.join("r.jsonl")).unwrap();
    let failed: serde_json::Value = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["verdict"] == "safety_violation")
        .expect("a failing seed");
    assert_eq!(failed["property"], "acknowledged_writes_survive_failover");
    let trace = failed["trace"]
        .as_str()
        .expect("the failure was traced")
        .to_owned();
    assert!(
        failed["replay"]
            .as_str()
            .unwrap()
            .starts_with("primary-backup run "),
        "replay commands name the user's own binary: {failed}"
    );

    // Shrink, replay and export it.
    let small = d.join("small.trace");
    let small_arg = small.to_str().unwrap();
    let (code, out, err) = primary_backup(&bin, d, &["shrink", &trace, "-o", small_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("replay with   primary-backup replay"), "{out}");
    let (code, out, err) = primary_backup(&bin, d, &["replay", small_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("matches"), "{out}");
    let (code, out, err) = primary_backup(
        &bin,
        d,
        &["export", small_arg, "--format", "html", "-o", "t.html"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let html = std::fs::read_to_string(d.join("t.html")).unwrap();
    assert!(
        html.contains("Replicate"),
        "payloads of the user's messages are in the timeline"
    );

    // An experiment over the user's model: the same seeds and faults for both designs.
    std::fs::write(
        d.join("acks.toml"),
        "seeds = 4\nmetrics = [\"end_time_s\"]\nscenario = \"primary_backup\"\n\
         [[variants]]\nname = \"ack_after_replicate\"\n\
         [[variants]]\nname = \"ack_early\"\nset = { \"model.ack_before_replicate\" = true }\n",
    )
    .unwrap();
    let (code, out, err) = primary_backup(&bin, d, &["explore", "acks.toml", "--html", "acks.html"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ack_early") && d.join("acks.html").exists(), "{out}");

    // The stock binary does not have the model: replay is bad input that names the fix, and an
    // export from the file alone still works.
    let stock = ruckus(&["replay", small_arg]);
    assert_eq!(stock.code, 2, "{}{}", stock.out, stock.err);
    assert!(
        stock.err.contains("model `primary_backup`") && stock.err.contains("main_with"),
        "{}",
        stock.err
    );
    let html2 = d.join("t2.html");
    let stock = ruckus(&[
        "export",
        small_arg,
        "--no-payloads",
        "-o",
        html2.to_str().unwrap(),
    ]);
    assert_eq!(stock.code, 0, "{}{}", stock.out, stock.err);

    // The example's own tests pass with the bug off and fail with it on, with a report that
    // has the seed, the shrunk plan and the command that replays it.
    let passing = cargo(&["test"], &[("RUCKUS_SEEDS", "16")]);
    assert!(
        passing.status.success(),
        "{}{}",
        text(&passing.stdout),
        text(&passing.stderr)
    );
    let failing = cargo(
        &["test", "--test", "model", "acknowledged_writes_survive_failover"],
        &[
            ("RUCKUS_SEEDS", "40"),
            ("RUCKUS_SET", "model.ack_before_replicate=true"),
            ("RUCKUS_TRACE_DIR", d.join("traces").to_str().unwrap()),
        ],
    );
    let report = text(&failing.stdout) + &text(&failing.stderr);
    assert!(!failing.status.success(), "the bug is found:\n{report}");
    for expected in [
        "failed on seed",
        "fault plan (",
        "safety_violation of property `acknowledged_writes_survive_failover`",
        "replay it with:\n    primary-backup replay ",
        "RUCKUS_SEED=",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
}
