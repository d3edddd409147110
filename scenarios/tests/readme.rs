//! The README's command-line examples, run as snapshot tests with trycmd: every ```console
//! block of README.md is a sequence of `$ ruckus ...` commands, each followed by the output the
//! README shows (stdout and stderr together) and, for a non-zero exit, `? failed`. A command
//! whose output no longer matches fails this test, so the README cannot drift. Figures that
//! depend on the machine (wall time, rates) are elided in the README with trycmd's `[..]` (part
//! of a line) and `...` (whole lines), so they are never compared.
//!
//! The blocks run in order in one scratch directory (a copy of README.md beside an empty
//! `README.in/`), so files one example writes (`fail.trace`) are there for the next. Blocks
//! marked ```console,long (the minutes-long sweeps and experiments) run only in
//! `readme_long_examples`, which `cargo test` skips and `.ci/run` runs.
//!
//! `TRYCMD=overwrite cargo test -p ruckus-scenarios --test readme` rewrites the scratch copy
//! with the actual output, for updating the README by hand.

use std::path::{Path, PathBuf};

/// A cas-register history no ordering explains: the read after the swap returns the old value.
const HISTORY: &str = "\
{:type :invoke, :f :write, :value 1, :process 0, :time 1000}
{:type :ok, :f :write, :value 1, :process 0, :time 2000}
{:type :invoke, :f :cas, :value [1 2], :process 1, :time 3000}
{:type :ok, :f :cas, :value [1 2], :process 1, :time 4000}
{:type :invoke, :f :read, :value nil, :process 0, :time 5000}
{:type :ok, :f :read, :value 1, :process 0, :time 6000}
";

/// A scratch copy of README.md in which only the blocks `long` selects are runnable.
fn scratch(name: &str, long: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("README.in/store/latest")).expect("scratch directory");
    // The Jepsen history `ruckus check` reads in the README's example.
    std::fs::write(dir.join("README.in/store/latest/history.edn"), HISTORY).expect("history");
    let mut text = String::with_capacity(readme.len());
    let mut in_console = false;
    for line in readme.split_inclusive('\n') {
        let fence = line.trim_end();
        let keep = match fence {
            "```console,long" => long,
            "```console" => !long,
            _ => {
                // trycmd drops the last newline of each expected output (so output without one
                // can be written); the commands end their output with one, so each output in
                // the copy gets an empty line after it, before the next `$` or the fence.
                if in_console && (fence == "```" || line.starts_with("$ ")) {
                    if fence == "```" {
                        in_console = false;
                    }
                    if !text.ends_with("```console\n") && !text.ends_with("```console,ignore\n") {
                        text.push('\n');
                    }
                }
                text.push_str(line);
                continue;
            }
        };
        in_console = true;
        text.push_str(if keep {
            "```console\n"
        } else {
            "```console,ignore\n"
        });
    }
    let copy = dir.join("README.md");
    std::fs::write(&copy, text).expect("scratch README");
    copy
}

fn cases(copy: &Path) -> trycmd::TestCases {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ruckus"));
    // `ruckus` on PATH is this binary, so the commands it prints say `ruckus`, as the README does.
    let dir = bin.parent().expect("the binary's directory").to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path))).expect("PATH");
    let t = trycmd::TestCases::new();
    t.register_bin("ruckus", bin)
        .env("PATH", path.to_string_lossy().into_owned())
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(1200))
        .case(copy);
    t
}

#[test]
fn readme_examples() {
    cases(&scratch("readme", false)).run();
}

#[test]
#[ignore = "minutes of sweeps and experiments: .ci/run runs it"]
fn readme_long_examples() {
    cases(&scratch("readme-long", true)).run();
}

/// The `check_scenario` failure the README's "Property tests" section shows (a panic inside
/// `cargo test`, which trycmd cannot run), compared line by line: a `...` line stands for any
/// lines, and the README's `/home/you/myproject/tests/` for this test's directory.
#[test]
fn readme_check_scenario_sample() {
    use ruckus_scenarios::testing::{TestEnv, check_with, scenario};
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
        .expect("README.md");
    let start = readme
        .find("```text\nruckus: scenario `lease_lock_no_fencing` failed")
        .expect("the sample in README.md")
        + "```text\n".len();
    let expected: Vec<&str> = readme[start..]
        .split("\n```")
        .next()
        .expect("closed")
        .lines()
        .collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-check-scenario");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("ruckus-out")).expect("scratch directory");
    let env = TestEnv {
        trace_dir: dir.join("ruckus-out/traces"),
        ..TestEnv::default()
    };
    let failure = check_with(&scenario("lease_lock_no_fencing"), &env).expect_err("the scenario fails");
    let actual = failure
        .to_string()
        .replace(&format!("{}/", dir.display()), "/home/you/myproject/tests/");
    let actual: Vec<&str> = actual.lines().collect();
    let mut at = 0;
    let mut skipping = false;
    for line in &expected {
        if line.trim() == "..." {
            skipping = true;
            continue;
        }
        while skipping && at < actual.len() && actual[at] != *line {
            at += 1;
        }
        skipping = false;
        assert_eq!(
            actual.get(at),
            Some(line),
            "README.md's check_scenario sample differs at its line {line:?}; the report is:\n{}",
            actual.join("\n")
        );
        at += 1;
    }
    assert_eq!(
        at,
        actual.len(),
        "the actual report goes on:\n{}",
        actual.join("\n")
    );
}
