//! `benches/paired.sh`, the README's way to compare two builds: its report, and its errors.

use std::path::Path;
use std::process::Command;

fn paired(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/paired.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("bash runs")
}

#[test]
fn paired_runs_both_commands_in_turn_and_reports_medians_and_the_ratio() {
    let dir = std::env::temp_dir().join(format!("ruckus-paired-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("order");
    let a = format!("echo A >> {}", log.display());
    let b = format!("echo B >> {}", log.display());
    let out = paired(&["-n", "3", &a, &b]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("A: ") && lines[0].ends_with(&a), "{report}");
    assert!(lines[1].starts_with("B: ") && lines[1].ends_with(&b), "{report}");
    assert!(
        lines[2].starts_with("A/B: ") && lines[2].contains("median of 3 pairs"),
        "{report}"
    );
    // A warm-up run of A, then A and B alternated.
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(order.split_whitespace().collect::<String>(), "AABABAB");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn paired_refuses_bad_arguments_with_a_reason() {
    for (args, reason) in [
        (&["true"][..], "exactly two commands"),
        (&["-n", "0", "true", "true"][..], "positive whole number"),
        (&["--pins", "1", "true", "true"][..], "unknown option --pins"),
    ] {
        let out = paired(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}
