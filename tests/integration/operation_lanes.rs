//! Issue 17's operation lanes: a history failure names the operations the blamed one conflicts
//! with (in `ruckus run`'s report and the trace footer), and the exported timeline draws one
//! lane per client with the blamed and conflicting operations singled out.

use crate::support::{TempDir, ruckus};
use ruckus_sim::OperationOutcome;
use ruckus_sim::trace::TraceReader;

/// The JSON data a timeline page carries.
fn page_data(page: &std::path::Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page).unwrap();
    let start = html.find("id=\"ruckus-data\">").unwrap() + "id=\"ruckus-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// What the page's script drew in a `width` x `height` window (integration/timeline_harness.js),
/// or `None` where node is not installed.
fn drawn(page: &std::path::Path, width: u32, height: u32) -> Option<serde_json::Value> {
    let harness = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/timeline_harness.js");
    let out = match std::process::Command::new("node")
        .arg(&harness)
        .arg(page)
        .arg(width.to_string())
        .arg(height.to_string())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("node not found ({e}): the operation lanes' drawing is not checked here");
            return None;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn a_raft_history_failure_names_its_conflicts_and_the_timeline_draws_them_in_client_lanes() {
    let dir = TempDir::new("operation-lanes");
    let trace = dir.file("stale.trace");
    let ran = ruckus(&[
        "run",
        "raft_stale_read_deposed_leader",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 1, "{}{}", ran.out, ran.err);

    // The footer: every client operation of the run (well under the cap), paired.
    let footer = TraceReader::open(&trace).unwrap().footer().clone();
    let ops = &footer.operations;
    assert!(ops.len() > 1000, "{} operations", ops.len());
    assert_eq!(footer.operations_total, ops.len() as u64);
    assert!(
        ops.windows(2).all(|w| w[0].invoked <= w[1].invoked),
        "invocation order"
    );
    assert!(ops.iter().all(|o| o.completed.is_none_or(|c| c >= o.invoked)));
    for outcome in [OperationOutcome::Ok, OperationOutcome::Unknown] {
        assert!(
            ops.iter().any(|o| o.outcome == outcome),
            "no {outcome:?} operation"
        );
    }
    let failure = footer.failure.expect("failed");
    let blamed = failure.operation.expect("an operation is blamed");
    let in_lanes = |process, invoked| ops.iter().any(|o| o.process == process && o.invoked == invoked);
    assert!(in_lanes(blamed.process, blamed.invoked), "{blamed:?}");
    // The conflicts: operations on the blamed read's key, other than it, drawn in the lanes.
    assert!(!blamed.conflicts.is_empty(), "{blamed:?}");
    assert!(blamed.conflicts.len() <= 12);
    for c in &blamed.conflicts {
        assert!(c.description.contains("(k0"), "{c:?} is not on the blamed key");
        assert!((c.process, c.invoked) != (blamed.process, blamed.invoked));
        assert!(in_lanes(c.process, c.invoked), "{c:?}");
        // A read of unknown outcome constrains nothing, so it is no conflict.
        assert!(
            !(c.description.starts_with("get") && c.outcome == OperationOutcome::Unknown),
            "{c:?}"
        );
    }
    // ... one at least ran concurrently with the blamed read.
    let end = blamed.completed.expect("the stale read completed");
    assert!(
        blamed
            .conflicts
            .iter()
            .any(|c| c.invoked < end && c.completed.is_none_or(|e| e > blamed.invoked)),
        "{:#?}",
        blamed.conflicts
    );

    // `ruckus run` lists them under the blamed operation.
    let listed: String = blamed.conflicts.iter().map(|c| format!("\n    {c}")).collect();
    let expected = format!("  blamed operation: {blamed}\n  it conflicts with:{listed}\n");
    assert!(ran.out.contains(&expected), "{}", ran.out);

    // The exported page: the operations in columns, the blamed one and its conflicts marked.
    let page = dir.file("stale.html");
    let exported = ruckus(&["export", trace.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert_eq!(exported.code, 0, "{}", exported.err);
    let data = page_data(&page);
    let marks: Vec<u64> = data["ops"]["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect();
    assert_eq!(marks.len(), ops.len());
    assert_eq!(marks.iter().filter(|&&m| m == 2).count(), 1);
    assert_eq!(marks.iter().filter(|&&m| m == 1).count(), blamed.conflicts.len());
    let blamed_at = marks.iter().position(|&m| m == 2).unwrap();
    assert_eq!(data["ops"]["p"][blamed_at], blamed.process.0);
    assert_eq!(data["ops"]["b"][blamed_at], blamed.invoked.as_nanos());
    assert_eq!(
        data["failure"]["conflicts"].as_array().unwrap().len(),
        blamed.conflicts.len()
    );

    // Drawn: a lane per client (p3..p8), the marked operations on top, nothing cut.
    let Some(drawn) = drawn(&page, 1400, 900) else {
        return;
    };
    let status = &drawn["status"];
    assert_eq!(status["render"], "ok", "{status}");
    assert_eq!(status["opLanes"], "6", "{status}");
    assert_eq!(status["opBlamed"], "1", "{status}");
    assert_eq!(
        status["opConflicts"],
        blamed.conflicts.len().to_string(),
        "{status}"
    );
    // At this width the busy lanes are aggregated; the marked operations are still bars.
    let bars: u32 = status["opBars"].as_str().unwrap().parse().unwrap();
    let bins: u32 = status["opBins"].as_str().unwrap().parse().unwrap();
    assert!(bars > blamed.conflicts.len() as u32 && bins > 0, "{status}");
    // The lanes, operation lanes included, end at the window's bottom.
    let bottom: f64 = status["lanesBottom"].as_str().unwrap().parse().unwrap();
    assert!((890.0..=900.0).contains(&bottom), "{status}");
    let texts: Vec<&str> = drawn["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"operations"), "{texts:?}");
    assert!(texts.contains(&"p8 client"), "{texts:?}");
    for t in drawn["texts"].as_array().unwrap() {
        let (x, w) = (t["x"].as_f64().unwrap(), t["width"].as_f64().unwrap());
        assert!(x >= 0.0 && x + w <= 1400.5, "text cut at the edge: {t}");
    }
}

/// The other models whose histories the linearizability checker pairs give their traces
/// operation lanes too (the catalog commands); a model without the hook gives none.
#[test]
fn catalog_models_pair_their_operations_and_others_have_none() {
    let dir = TempDir::new("operation-lanes-models");
    for (scenario, lanes) in [("catalog_stack", true), ("consul", true), ("lease_lock", false)] {
        let trace = dir.file(&format!("{scenario}.trace"));
        let ran = ruckus(&["run", scenario, "--trace", trace.to_str().unwrap()]);
        assert_eq!(ran.code, 0, "{scenario}: {}{}", ran.out, ran.err);
        let footer = TraceReader::open(&trace).unwrap().footer().clone();
        assert_eq!(!footer.operations.is_empty(), lanes, "{scenario}");
        assert_eq!(footer.operations_total, footer.operations.len() as u64);
        assert!(
            footer
                .operations
                .iter()
                .any(|o| o.completed.is_some() && o.outcome == OperationOutcome::Ok)
                || !lanes,
            "{scenario}: no completed operation"
        );
    }
}
