//! An interrupted sweep, for real: the `ruckus` binary is started as a child process, killed
//! with SIGKILL at fixed pseudo-random moments, and resumed with `--resume` each time. At the
//! end every index appears exactly once in the output file, the results equal those of an
//! uninterrupted sweep of the same seeds, and no unfinished trace file (`*.partial`) is left.
//!
//! It lives in the scenarios crate because only that crate's tests get the binary's path
//! (`CARGO_BIN_EXE_ruckus`), built fresh by cargo for them.

use ruckus_scenarios::sweep::SweepLine;
use ruckus_scenarios::wallclock::Stopwatch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RUNS: u64 = 300;
const SCENARIO: &str = "lease_lock_no_fencing";

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ruckus-kill-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `ruckus sweep` writing to `out`, failing runs traced into `traces`.
fn start_sweep(out: &Path, traces: &Path, resume: bool) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ruckus"));
    cmd.args([
        "sweep",
        SCENARIO,
        "--seeds",
        &RUNS.to_string(),
        "--seed",
        "7",
        "--jobs",
        "2",
    ])
    .arg("--out")
    .arg(out)
    .arg("--trace-dir")
    .arg(traces)
    .args(["--max-traces", "100000"])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if resume {
        cmd.arg("--resume");
    }
    cmd.spawn().expect("the ruckus binary starts")
}

/// Every line of a sweep output, with the raw index of each (duplicates kept, a cut-off last
/// line left out as `--resume` does).
fn lines_of(path: &Path) -> Vec<SweepLine> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n') && !l.trim().is_empty())
        .map(|l| serde_json::from_str(l.trim_end()).expect("a whole line is a sweep line"))
        .collect()
}

/// The kill moments as fractions (5-95%) of the time the remaining runs should take: a fixed
/// xorshift stream, so debug and release builds both get killed mid-sweep.
fn kill_fractions(count: usize) -> Vec<f64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0.05 + (x % 90) as f64 / 100.0
        })
        .collect()
}

/// Runs the sweep without interruption and without traces, the reference; returns its lines
/// by index and how long it took.
fn uninterrupted_sweep(out: &Path) -> (BTreeMap<u64, SweepLine>, Duration) {
    let started = Stopwatch::start();
    let status = Command::new(env!("CARGO_BIN_EXE_ruckus"))
        .args([
            "sweep",
            SCENARIO,
            "--seeds",
            &RUNS.to_string(),
            "--seed",
            "7",
            "--jobs",
            "2",
        ])
        .arg("--out")
        .arg(out)
        .arg("--no-traces")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let took = Duration::from_secs_f64(started.seconds());
    assert_eq!(status.code(), Some(1), "the planted bug fails some seeds");
    let lines: BTreeMap<u64, SweepLine> = lines_of(out).into_iter().map(|l| (l.index, l)).collect();
    assert_eq!(lines.len() as u64, RUNS);
    (lines, took)
}

#[test]
fn a_sweep_killed_at_random_moments_and_resumed_equals_one_uninterrupted_sweep() {
    let dir = Scratch::new("sweep");
    let out = dir.0.join("killed.jsonl");
    let traces = dir.0.join("traces");
    let (reference, uninterrupted) = uninterrupted_sweep(&dir.0.join("whole.jsonl"));

    // Killed and resumed, the result file checked after every kill.
    let mut interrupted_midway = 0;
    let mut before = 0;
    for (round, fraction) in kill_fractions(8).into_iter().enumerate() {
        let remaining = (RUNS - before as u64) as f64 / RUNS as f64;
        let delay = uninterrupted.mul_f64(fraction * remaining);
        let mut child = start_sweep(&out, &traces, round > 0);
        let started = Stopwatch::start();
        while started.seconds() < delay.as_secs_f64() && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let was_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap_or(()); // SIGKILL; a child that already exited is fine
        let status = child.wait().unwrap();
        let now = lines_of(&out).len();
        assert!(now >= before, "a resumed sweep never loses finished lines");
        if was_running {
            assert!(!status.success(), "a killed sweep does not report success");
            if now > before && (now as u64) < RUNS {
                interrupted_midway += 1;
            }
        }
        before = now;
        if before as u64 == RUNS {
            break;
        }
    }
    assert!(
        interrupted_midway >= 2,
        "at least two kills should land in the middle of the sweep (got {interrupted_midway})"
    );

    // The last resume finishes the sweep; the planted bug fails some seeds (exit 1).
    let result = start_sweep(&out, &traces, true).wait_with_output().unwrap();
    assert_eq!(
        result.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let killed = lines_of(&out);
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for line in &killed {
        *count.entry(line.index).or_default() += 1;
    }
    assert_eq!(
        count.keys().copied().collect::<Vec<_>>(),
        (0..RUNS).collect::<Vec<_>>()
    );
    assert!(
        count.values().all(|&n| n == 1),
        "an index appears twice: {:?}",
        count.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );

    // The same result per index as the uninterrupted sweep, fingerprints included.
    for line in &killed {
        let expected = &reference[&line.index];
        assert_eq!(
            line.run.fingerprint, expected.run.fingerprint,
            "index {}",
            line.index
        );
        assert_eq!(line.run, expected.run, "index {}", line.index);
        assert_eq!(line.config, expected.config);
    }

    // No unfinished trace of a killed run is left behind, and every failing line's trace exists.
    let partials: Vec<_> = std::fs::read_dir(&traces)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".partial"))
        .map(|e| e.file_name())
        .collect();
    assert!(partials.is_empty(), "left behind: {partials:?}");
    let failing: Vec<&SweepLine> = killed.iter().filter(|l| l.run.verdict != "held").collect();
    assert!(!failing.is_empty(), "the planted bug fails some of {RUNS} seeds");
    for line in &failing {
        let trace = line.trace.as_ref().expect("a failing line names its trace");
        assert!(Path::new(trace).is_file(), "{trace}");
    }
}
