//! `ruckus run --report FILE.html`: one run as charts over time. For each group of outcomes
//! the model records (`<group>.ok` / `<group>.failed`), the success rate, the latency
//! percentiles and the rates of both; then every other timed series as a rate. The fault
//! windows (as the engine recorded them) are shaded, the heal and the model's marked moments drawn as lines, the violation
//! (if any) marked in red. One self-contained file: no script, nothing fetched.

use crate::chart::{Decor, Mark, STYLE, Series, esc, line_chart, num};
use crate::over_time::{self, Buckets};
use crate::runner::Outcome;
use ruckus_sim::Duration;
use std::fmt::Write;

/// The default bucket width of the charts.
pub const BUCKET: Duration = Duration::from_secs(1);

/// The report page for `outcome`, the run of `scenario` whose replay command is `replay`.
pub fn html(scenario: &str, outcome: &Outcome, replay: &str) -> String {
    let report = &outcome.report;
    let metrics = &report.metrics;
    let end = report.end_time;
    let buckets = Buckets::over(end, BUCKET);
    // The engine's record of the faults when it has one (role targets resolved, the heal's
    // cut); the plan otherwise.
    let bands = if metrics.fault_windows().is_empty() {
        over_time::fault_bands(&outcome.plan, end)
    } else {
        over_time::window_bands(metrics, end)
    };
    let mut decor = Decor {
        bands,
        marks: over_time::marks(metrics, &outcome.plan, end),
        y_max: None,
        x_range: Some((0.0, end.as_nanos() as f64 / 1e9)),
    };
    if let Some(f) = &report.failure {
        decor.marks.push(Mark {
            at: f.time.as_nanos() as f64 / 1e9,
            label: format!("violated: {}", f.property.as_deref().unwrap_or(f.verdict.name())),
        });
    }
    let xs = |v: Vec<f64>| -> Vec<(f64, f64)> {
        v.into_iter()
            .enumerate()
            .map(|(k, y)| (buckets.midpoint_s(k), y))
            .collect()
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"meta\">seed {} · verdict <b>{}</b> · {} events over {} of virtual time · fingerprint {:016x} · {} faults · replay with <code>{}</code></p>",
        esc(scenario),
        report.seed,
        esc(report.verdict.name()),
        report.events,
        crate::runner::seconds(end - ruckus_sim::Instant::ZERO),
        report.fingerprint,
        outcome.plan.actions.len(),
        esc(replay)
    );
    if let Some(f) = &report.failure {
        let _ = write!(
            body,
            "<p class=\"violation\">{} at {}: {}</p>",
            esc(f.property.as_deref().unwrap_or(f.verdict.name())),
            f.time,
            esc(&f.message)
        );
    }
    let _ = write!(
        body,
        "<p class=\"meta\">{}-second buckets; shaded: fault windows (hover for the fault); dashed lines: the heal and moments the model marked.</p>",
        num(buckets.width_s())
    );
    let groups = over_time::outcome_groups(metrics);
    for group in &groups {
        let ok = metrics.timed(&format!("{group}.ok"));
        let failed = metrics.timed(&format!("{group}.failed"));
        let _ = write!(body, "<h2>{}</h2><div class=\"charts\">", esc(group));
        let success = over_time::success_rate(ok, failed, buckets);
        body.push_str(&line_chart(
            &format!("{group}: success rate"),
            "time (s)",
            "fraction ok",
            &[(2, "ok / (ok + failed)", xs(success))],
            false,
            &Decor {
                y_max: Some(1.0),
                ..decor.clone()
            },
        ));
        let ms = |v: Vec<f64>| xs(v.into_iter().map(|ns| ns / 1e6).collect());
        let latency: Vec<Series<'_>> = vec![
            (0, "p50", ms(over_time::quantile(ok, buckets, 0.5))),
            (2, "p99", ms(over_time::quantile(ok, buckets, 0.99))),
            (7, "max", ms(over_time::quantile(ok, buckets, 1.0))),
        ];
        body.push_str(&line_chart(
            &format!("{group}: latency of successes"),
            "time (s)",
            "ms",
            &latency,
            false,
            &decor,
        ));
        body.push_str(&line_chart(
            &format!("{group}: outcomes per second"),
            "time (s)",
            "per second",
            &[
                (2, "ok", xs(over_time::rate(ok, buckets))),
                (5, "failed", xs(over_time::rate(failed, buckets))),
            ],
            false,
            &decor,
        ));
        body.push_str("</div>");
    }
    let others = over_time::other_series(metrics);
    if !others.is_empty() {
        body.push_str("<h2>Other series</h2><div class=\"charts\">");
        for name in &others {
            body.push_str(&line_chart(
                name,
                "time (s)",
                "per second",
                &[(
                    0,
                    name.as_str(),
                    xs(over_time::rate(metrics.timed(name), buckets)),
                )],
                false,
                &decor,
            ));
        }
        body.push_str("</div>");
    }
    if groups.is_empty() && others.is_empty() {
        body.push_str(
            "<p>This model records nothing over time (no timed samples): only its counters are shown.</p>",
        );
        if !decor.bands.is_empty() {
            body.push_str("<div class=\"charts\">");
            body.push_str(&line_chart("fault windows", "time (s)", "", &[], false, &decor));
            body.push_str("</div>");
        }
    }
    body.push_str("<h2>Counters at the end</h2><table><tbody>");
    for (name, value) in metrics.counters() {
        let _ = write!(body, "<tr><td>{}</td><td>{value}</td></tr>", esc(name));
    }
    body.push_str("</tbody></table>");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ruckus run: {}</title>\n<style>\n{STYLE}.violation {{ color: #b00; font-weight: bold; }}\n</style></head><body>\n{body}\n</body></html>\n",
        esc(scenario)
    )
}
