//! What a newcomer meets in the first hour (issue 17): `replay --stop-at` stops, traces name
//! the processes as the model does and the exports use those names, fault lines say which
//! process a kill hits, and every model names its processes.

use crate::support::{TempDir, ruckus};
use ruckus_scenarios::recording;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_sim::trace::TraceReader;
use ruckus_sim::{Duration, Fault, FaultAction, FaultPlan, HostId, Instant};

/// A failing lease_lock trace (the first seed of `lease_lock_no_fencing` fails).
fn failing_trace(dir: &TempDir) -> std::path::PathBuf {
    let trace = dir.file("fail.trace");
    let ran = ruckus(&["run", "lease_lock_no_fencing", "--trace", trace.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}{}", ran.out, ran.err);
    trace
}

#[test]
fn replay_stop_at_stops_there_and_says_what_it_checked() {
    let dir = TempDir::new("stop-at");
    let trace = failing_trace(&dir);
    let total = TraceReader::open(&trace).unwrap().footer().events;
    let ran = ruckus(&[
        "replay",
        trace.to_str().unwrap(),
        "--stop-at",
        "40",
        "--dump",
        "0",
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.out, ran.err);
    assert!(ran.out.contains("paused after 40 events"), "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "stopped: the first 40 events match the recording ({total} recorded"
        )),
        "{}",
        ran.out
    );
    // It stopped: the recorded run's end (and its safety violation) was not replayed.
    assert!(!ran.out.contains("matches,"), "{}", ran.out);
    // Without --stop-at the whole run is checked and its verdict is the exit code.
    let full = ruckus(&["replay", trace.to_str().unwrap()]);
    assert_eq!(full.code, 1, "{}", full.out);
    assert!(
        full.out.contains(&format!("matches, {total} events")),
        "{}",
        full.out
    );
}

#[test]
fn traces_name_the_processes_and_the_exports_use_the_names() {
    let dir = TempDir::new("names");
    let trace = failing_trace(&dir);
    let names = recording::process_names(TraceReader::open(&trace).unwrap().header());
    assert_eq!(
        names.get(&0).map(String::as_str),
        Some("lock-server"),
        "{names:?}"
    );
    assert_eq!(names.get(&1).map(String::as_str), Some("storage"), "{names:?}");
    assert!(names.values().any(|n| n == "client-0"), "{names:?}");

    let json = dir.file("t.json");
    let ran = ruckus(&["export", trace.to_str().unwrap(), "-o", json.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    let events: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let threads: Vec<&str> = events["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert!(threads.contains(&"p0 lock-server"), "{threads:?}");
    assert!(threads.contains(&"p1 storage"), "{threads:?}");

    let html = dir.file("t.html");
    let ran = ruckus(&["export", trace.to_str().unwrap(), "-o", html.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.err);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(r#""names":["lock-server","storage","client-0""#),
        "no names in the page"
    );

    // A trace without the label (an older recording) still exports, with bare ids.
    let mut header = TraceReader::open(&trace).unwrap().header().clone();
    header.labels.retain(|(k, _)| k != recording::labels::PROCESSES);
    assert!(recording::process_names(&header).is_empty());
}

#[test]
fn a_process_kill_in_the_fault_plan_names_the_process_it_hits() {
    let registry = Registry::builtin();
    let scenario = registry.scenario("lease_lock", &[]).unwrap();
    let kill = |host, process_index| FaultAction {
        at: Instant::ZERO + Duration::from_millis(5),
        fault: Fault::KillProcess {
            host: HostId(host),
            process_index,
            down_for: Duration::from_millis(10),
        },
    };
    let plan = FaultPlan {
        actions: vec![kill(0, 15160), kill(2, 7)],
        heal_at: None,
    };
    let sim = runner::simulation(&scenario, 1, &plan).unwrap();
    let report_labels = sim.process_labels();
    let text = runner::plan_text(&plan, &*sim, &report_labels);
    // Host 0 has one boot process, the lock server: any index hits it.
    assert!(
        text.contains("kill process #15160 on h0") && text.contains("-> p0 lock-server"),
        "{text}"
    );
    assert!(text.contains("-> p2 client-0"), "{text}");
}

#[test]
fn every_model_names_its_processes() {
    let registry = Registry::builtin();
    // services has no built-in scenario (its experiments define theirs): its unit tests check it.
    for name in [
        "swim",
        "consul",
        "eureka",
        "scheduler",
        "catalog_stack",
        "raft",
        "lease_lock",
    ] {
        let scenario = match registry.scenario(name, &[]) {
            Ok(s) => s,
            Err(e) => panic!("{name}: {e}"),
        };
        let plan = runner::fault_plan(&scenario, scenario.seed);
        let sim = runner::simulation(&scenario, scenario.seed, &plan).unwrap();
        let labels = sim.process_labels();
        assert_eq!(
            labels.len(),
            sim.process_count(),
            "{name}: every process has a label: {labels:?}"
        );
        assert!(labels.iter().all(|l| !l.label.is_empty()), "{name}: {labels:?}");
    }
}

#[test]
fn shrink_draws_one_progress_line_on_a_terminal_and_none_when_piped() {
    let dir = TempDir::new("shrink-progress");
    let trace = failing_trace(&dir);
    let small = dir.file("small.trace");
    let args = [
        "ruckus",
        "shrink",
        trace.to_str().unwrap(),
        "-o",
        small.to_str().unwrap(),
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut io = ruckus_scenarios::cli::Io {
            out: &mut out,
            err: &mut err,
            terminal: true,
        };
        ruckus_scenarios::cli::main_with_args(args, &mut io).code()
    };
    let (out, err) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
    assert_eq!(code, 1, "{out}{err}");
    // Redrawn in place (carriage return, clear line), never a new line, and cleared at the end.
    assert!(
        err.contains("\r\x1b[2Kshrinking: faults, 0 of at most 2000 test runs"),
        "{err:?}"
    );
    assert!(err.matches("\r\x1b[2K").count() > 2, "{err:?}");
    assert!(!err.contains('\n'), "{err:?}");
    assert!(err.ends_with("\r\x1b[2K"), "{err:?}");
    // Piped: nothing on stderr, the summary on stdout.
    std::fs::remove_file(&small).unwrap();
    let piped = ruckus(&args[1..]);
    assert_eq!(piped.code, 1);
    assert!(piped.err.is_empty(), "{:?}", piped.err);
    assert!(piped.out.contains("faults: kept"), "{}", piped.out);
    // Durations as the rest of the output gives them, not bare nanoseconds.
    let shortened = piped
        .out
        .lines()
        .find(|l| l.starts_with("horizon shortened"))
        .expect("shortened");
    let words: Vec<&str> = shortened.split(' ').collect();
    assert_eq!(
        words[..4],
        ["horizon", "shortened", "from", "8.000s"],
        "{shortened}"
    );
    assert!(
        words[5].ends_with('s') && words[5].parse::<f64>().is_err(),
        "{shortened}"
    );
    let secs = words[5].trim_end_matches('s');
    assert!(
        secs.parse::<f64>().is_ok() && secs.split('.').nth(1).is_some_and(|d| d.len() == 3),
        "{shortened}"
    );
}

/// What the timeline's script drew in a window of `width` x `height` (see timeline_harness.js),
/// or `None` where node is not installed.
fn draw_timeline(page: &std::path::Path, width: u32, height: u32, hash: &str) -> Option<serde_json::Value> {
    let harness = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/timeline_harness.js");
    let out = match std::process::Command::new("node")
        .arg(&harness)
        .arg(page)
        .arg(width.to_string())
        .arg(height.to_string())
        .arg(hash)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("node not found ({e}): the timeline's drawing is not checked here");
            return None;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every text inside the window: nothing cut at an edge.
fn assert_no_text_cut(drawn: &serde_json::Value) {
    let width = drawn["width"].as_f64().unwrap();
    for t in drawn["texts"].as_array().unwrap() {
        let (x, w) = (t["x"].as_f64().unwrap(), t["width"].as_f64().unwrap());
        assert!(
            x >= 0.0 && x + w <= width + 0.5,
            "text cut at the edge: {t} in {width}px"
        );
    }
}

#[test]
fn the_timeline_fits_its_window_names_lanes_and_aggregates_dense_regions() {
    let dir = TempDir::new("timeline");
    let trace = failing_trace(&dir);
    let page = dir.file("t.html");
    assert_eq!(
        ruckus(&["export", trace.to_str().unwrap(), "-o", page.to_str().unwrap()]).code,
        0
    );
    for (width, height) in [(1400, 900), (500, 400)] {
        let Some(drawn) = draw_timeline(&page, width, height, "") else {
            return;
        };
        assert_eq!(drawn["status"]["render"], "ok");
        assert_no_text_cut(&drawn);
        // The lanes take the window's height instead of leaving most of it empty.
        let bottom: f64 = drawn["status"]["lanesBottom"].as_str().unwrap().parse().unwrap();
        assert!(
            bottom >= f64::from(height) - 10.0,
            "lanes end at {bottom} of {height}"
        );
        let texts: Vec<&str> = drawn["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap())
            .collect();
        assert!(texts.iter().any(|t| t.starts_with("p0 lock")), "{texts:?}");
        if width == 1400 {
            assert!(
                texts.contains(&"p0 lock-server") && texts.contains(&"p3 client-1"),
                "{texts:?}"
            );
        }
    }

    // 20,000 deliveries in 1,000 px: aggregated; a 2 ms view of them: single events.
    let trace = dir.file("dense.trace");
    let ran = ruckus(&[
        "run",
        "pingpong",
        "--set",
        "workload.deliveries=20000",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.out, ran.err);
    let page = dir.file("dense.html");
    assert_eq!(
        ruckus(&["export", trace.to_str().unwrap(), "-o", page.to_str().unwrap()]).code,
        0
    );
    let Some(whole) = draw_timeline(&page, 1000, 600, "") else {
        return;
    };
    assert_eq!(whole["status"]["aggregated"], "yes", "{}", whole["status"]);
    assert!(whole["status"]["bins"].as_str().unwrap().parse::<u32>().unwrap() > 100);
    assert_eq!(whole["status"]["markers"], "0");
    assert_no_text_cut(&whole);
    let Some(zoomed) = draw_timeline(&page, 1000, 600, "#view=0,2000000") else {
        return;
    };
    assert_eq!(zoomed["status"]["aggregated"], "no", "{}", zoomed["status"]);
    assert!(
        zoomed["status"]["markers"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
}

/// A linearizability failure found when the run ends points at the operation no ordering
/// explains: report, trace footer, the events shown, the export's violation marker and the
/// suggested `replay --stop-at` all name that moment, not the run's last event.
#[test]
fn a_history_failure_points_at_the_operation_that_broke_it() {
    let dir = TempDir::new("history-failure");
    let trace = dir.file("stale.trace");
    let ran = ruckus(&[
        "run",
        "raft_stale_read_deposed_leader",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 1, "{}{}", ran.out, ran.err);
    let footer = TraceReader::open(&trace).unwrap().footer().clone();
    let f = footer.failure.expect("failed");
    assert_eq!(f.property.as_deref(), Some("linearizable"));
    // Long before the run's end, at a client's completed operation.
    assert!(
        f.time < footer.end_time && f.event_index + 1 < footer.events,
        "{f:?}"
    );
    let op = f.operation.clone().expect("the operation is named");
    assert!(op.description.starts_with("get(k0) -> "), "{op:?}");
    assert_eq!((op.completed, Some(op.process)), (Some(f.time), f.process));
    assert!(op.invoked <= f.time);
    // The report says so and shows the events up to it.
    assert!(
        ran.out
            .contains(&format!("at {} (event #{})", f.time, f.event_index)),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains(&format!("blamed operation: {op}")),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .contains(&format!("events up to #{} (the run went on", f.event_index)),
        "{}",
        ran.out
    );
    let last_shown = ran
        .out
        .lines()
        .rfind(|l| l.starts_with("    #")) // events; the fault plan's lines are indented less
        .expect("events shown");
    assert!(
        last_shown
            .trim_start()
            .starts_with(&format!("#{} @", f.event_index)),
        "{last_shown}"
    );
    // The suggested replay stops right after that event.
    let stop = format!("--stop-at {}", f.event_index + 1);
    assert!(ran.out.contains(&stop), "{}", ran.out);
    let replay = ruckus(&[
        "replay",
        trace.to_str().unwrap(),
        "--stop-at",
        &(f.event_index + 1).to_string(),
        "--dump",
        "0",
    ]);
    assert_eq!(replay.code, 0, "{}{}", replay.out, replay.err);
    // The export marks that event.
    let jsonl = dir.file("stale.jsonl");
    let exported = ruckus(&["export", trace.to_str().unwrap(), "-o", jsonl.to_str().unwrap()]);
    assert_eq!(exported.code, 0, "{}", exported.err);
    let marked: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["violation"] == true)
        .collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0]["index"], f.event_index);
    assert_eq!(marked[0]["time_ns"], f.time.as_nanos());
}

/// A horizon too short for a liveness property is named next to the failure it caused (the
/// `--set` or the file that gave it, and the horizon that would judge it), by `run` and by a
/// sweep's summary; a failure at the property's real deadline gets no such warning.
#[test]
fn a_horizon_before_a_liveness_deadline_is_named_with_the_fix() {
    let ran = ruckus(&["run", "lease_lock", "--set", "limits.horizon=10ms"]);
    assert_eq!(ran.code, 3, "{}{}", ran.out, ran.err);
    assert!(
        ran.err.contains("warning: the run ended at @10.000000ms (limits.horizon = \"10ms\", from --set limits.horizon=10ms)")
            && ran.err.contains("liveness property `writes_resume`")
            && ran.err.contains("set limits.horizon to at least \"2s\""),
        "{}",
        ran.err
    );
    let json = ruckus(&["run", "lease_lock", "--set", "limits.horizon=10ms", "--json"]);
    let v: serde_json::Value = serde_json::from_str(json.out.trim()).unwrap();
    assert!(
        v["warning"]
            .as_str()
            .is_some_and(|w| w.contains("at least \"2s\"")),
        "{v}"
    );
    // From a file: the file is named.
    let dir = TempDir::new("short-horizon");
    let file = dir.file("short.toml");
    let text = ruckus_scenarios::builtin::text("lease_lock").unwrap();
    assert!(text.contains("[limits]\nhorizon = \"8s\""));
    std::fs::write(
        &file,
        text.replace("[limits]\nhorizon = \"8s\"", "[limits]\nhorizon = \"10ms\""),
    )
    .unwrap();
    let ran = ruckus(&["run", file.to_str().unwrap()]);
    assert!(
        ran.err
            .contains(&format!("from [limits] horizon in {}", file.display())),
        "{}{}",
        ran.out,
        ran.err
    );
    // A sweep says it once, in its summary.
    let ran = ruckus(&[
        "sweep",
        "lease_lock",
        "--seeds",
        "3",
        "--no-traces",
        "--set",
        "limits.horizon=10ms",
    ]);
    assert_eq!(ran.code, 3, "{}", ran.err);
    assert!(
        ran.err
            .contains("warning: 3 of the liveness failures came at the horizon"),
        "{}",
        ran.err
    );
    // The horizon is long enough: a failure, if any, is not blamed on it.
    let ran = ruckus(&["run", "lease_lock", "--set", "limits.horizon=3s"]);
    assert!(!ran.err.contains("warning:"), "{}", ran.err);
}
