//! Explore's outputs: a terminal table and a self-contained HTML report with SVG charts.
//!
//! The charts are written by hand as SVG elements: no plotting crate, no fonts to find, no
//! script and nothing fetched, so the report opens the same way offline, in any browser.

use super::Results;
use super::stats::Estimate;
pub use crate::chart::num;
use crate::chart::{Decor, Series, W, colour, esc, line_chart, tick_label, ticks};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

fn pm(e: &Estimate) -> String {
    format!("{} ± {}", num(e.mean), num(e.half_width))
}

/// The table if it fits in `width` columns (`None`: no limit), else the same figures as one
/// block per variant, so a narrow terminal never gets a table wrapped into unreadable rows.
pub fn table_fitting(results: &Results, width: Option<usize>) -> String {
    let wide = table(results);
    let widest = wide.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    match width {
        Some(w) if widest > w => vertical(results),
        _ => wide,
    }
}

/// One block per variant: its runs, then a line per metric with the estimate and the paired
/// difference from the baseline.
pub fn vertical(results: &Results) -> String {
    let mut s = format!("{}\n", results.experiment);
    let name_width = results
        .metrics
        .iter()
        .map(|m| m.chars().count())
        .max()
        .unwrap_or(0);
    for v in &results.variants {
        let runs: u64 = v.verdicts.values().sum();
        let held = v.verdicts.get("held").copied().unwrap_or(0);
        let base = if v.name == results.baseline {
            " (baseline)"
        } else {
            ""
        };
        let _ = writeln!(s, "\n{}{base}: {runs} runs, {held} held", v.name);
        for m in &v.metrics {
            let main = m.estimate.as_ref().map_or_else(|| "n/a".to_owned(), pm);
            let diff = m.difference.as_ref().map_or_else(String::new, |d| {
                let star = if d.excludes_zero() { " *" } else { "" };
                let sign = if d.mean >= 0.0 { "+" } else { "" };
                format!("   Δ {sign}{}{star}", pm(d))
            });
            let _ = writeln!(s, "  {:<name_width$}  {main}{diff}", m.metric);
        }
    }
    let _ = writeln!(
        s,
        "\nmean ± 95% interval over {} seeds\nΔ = paired difference from `{}` (*: interval excludes 0)",
        results.seeds.len(),
        results.baseline
    );
    s
}

/// The terminal table: a row per variant, a column per metric; each cell has the mean ± 95%
/// half-width and, below it, the paired difference from the baseline (`*` where significant).
pub fn table(results: &Results) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["variant".to_owned(), "runs".to_owned()];
    header.extend(results.metrics.iter().cloned());
    t.set_header(header);
    for v in &results.variants {
        let runs: u64 = v.verdicts.values().sum();
        let held = v.verdicts.get("held").copied().unwrap_or(0);
        let runs = if held == runs {
            format!("{runs}")
        } else {
            format!("{runs}\n({} not held)", runs - held)
        };
        let base = if v.name == results.baseline {
            format!("{}\n(baseline)", v.name)
        } else {
            v.name.clone()
        };
        let mut row = vec![base, runs];
        for m in &v.metrics {
            let mut cell = m.estimate.as_ref().map_or_else(|| "n/a".to_owned(), pm);
            if let Some(d) = &m.difference {
                let star = if d.excludes_zero() { " *" } else { "" };
                let sign = if d.mean >= 0.0 { "+" } else { "" };
                let _ = write!(cell, "\nΔ {sign}{}{star}", pm(d));
            }
            row.push(cell);
        }
        t.add_row(row);
    }
    format!(
        "{}\n{t}\nmean ± 95% interval over {} seeds; Δ = paired difference from `{}` (* : interval excludes 0)\n",
        results.experiment,
        results.seeds.len(),
        results.baseline
    )
}

const LEFT: f64 = 150.0;
const RIGHT: f64 = 30.0;

/// A horizontal bar chart of one metric: a bar per variant at its mean, with the 95% interval.
fn bar_chart(results: &Results, m: usize) -> String {
    let rows: Vec<(usize, &str, Option<Estimate>)> = results
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.name.as_str(), v.metrics[m].estimate))
        .collect();
    let finite = |e: &Estimate| {
        if e.half_width.is_finite() {
            e.half_width
        } else {
            0.0
        }
    };
    let hi = rows
        .iter()
        .filter_map(|r| r.2.map(|e| e.mean + finite(&e)))
        .fold(0.0f64, f64::max);
    let lo = rows
        .iter()
        .filter_map(|r| r.2.map(|e| e.mean - finite(&e)))
        .fold(0.0f64, f64::min);
    let (lo, hi) = if hi - lo <= 0.0 {
        (lo, lo + 1.0)
    } else {
        (lo, hi * 1.05)
    };
    let row_h = 28.0;
    let top = 30.0;
    let plot_w = W - LEFT - RIGHT;
    let h = top + row_h * rows.len() as f64 + 40.0;
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" role="img" aria-label="{name}">"#,
        name = esc(&results.metrics[m])
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
        esc(&results.metrics[m])
    );
    let axis_y = top + row_h * rows.len() as f64;
    for t in ticks(lo, hi, 5) {
        let tx = x(t);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{axis_y}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            axis_y + 16.0,
            tick_label(t)
        );
    }
    for (k, (i, name, e)) in rows.iter().enumerate() {
        let y = top + row_h * k as f64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
            LEFT - 8.0,
            y + row_h * 0.62,
            esc(name)
        );
        let Some(e) = e else { continue };
        let (x0, x1) = (x(0.0f64.max(lo)), x(e.mean));
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" opacity="0.8"><title>{}: {}</title></rect>"#,
            x0.min(x1),
            y + 5.0,
            (x1 - x0).abs().max(0.5),
            row_h - 10.0,
            colour(*i),
            esc(name),
            pm(e)
        );
        if e.half_width.is_finite() && e.half_width > 0.0 {
            let (a, b) = (x(e.low().max(lo)), x(e.high().min(hi)));
            let cy = y + row_h / 2.0;
            let _ = write!(
                s,
                r##"<path d="M{a:.1},{cy:.1}H{b:.1}M{a:.1},{:.1}V{:.1}M{b:.1},{:.1}V{:.1}" stroke="#222" stroke-width="1.5" fill="none"/>"##,
                cy - 6.0,
                cy + 6.0,
                cy - 6.0,
                cy + 6.0
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="#444"/>"##,
        W - RIGHT
    );
    s.push_str("</svg>");
    s
}

/// The HTML report: description, the table, a bar chart per metric, the CDF and the timeline.
pub fn html(results: &Results, command: &str) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p>{}</p><p class=\"meta\">model <code>{}</code> · {} seeds per variant ({}…{}) · baseline <code>{}</code> · reproduce with <code>{}</code></p>",
        esc(&results.experiment),
        esc(&results.description),
        esc(&results.model),
        results.seeds.len(),
        results.seeds.first().copied().unwrap_or(0),
        results.seeds.last().copied().unwrap_or(0),
        esc(&results.baseline),
        esc(command)
    );
    body.push_str("<table><thead><tr><th>variant</th><th>overrides</th><th>runs</th>");
    for m in &results.metrics {
        let _ = write!(body, "<th>{}</th>", esc(m));
    }
    body.push_str("</tr></thead><tbody>");
    for (i, v) in results.variants.iter().enumerate() {
        let verdicts: Vec<String> = v.verdicts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = write!(
            body,
            "<tr><td><span class=\"dot\" style=\"background:{}\"></span>{}{}</td><td><code>{}</code></td><td>{}</td>",
            colour(i),
            esc(&v.name),
            if v.name == results.baseline {
                " <em>(baseline)</em>"
            } else {
                ""
            },
            esc(&v.set.join(" ")),
            esc(&verdicts.join(", "))
        );
        for m in &v.metrics {
            let main = m.estimate.as_ref().map_or_else(|| "n/a".into(), pm);
            let diff = m.difference.as_ref().map_or_else(String::new, |d| {
                let sign = if d.mean >= 0.0 { "+" } else { "" };
                let class = if d.excludes_zero() { "sig" } else { "ns" };
                format!("<br><span class=\"{class}\">Δ {sign}{}</span>", esc(&pm(d)))
            });
            let _ = write!(body, "<td>{}{diff}</td>", esc(&main));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table><p class=\"meta\">mean ± 95% confidence interval over seeds; Δ is the paired difference from the baseline over the same seeds (bold: the interval excludes zero).</p>");
    body.push_str("<h2>Metrics</h2><div class=\"charts\">");
    for m in 0..results.metrics.len() {
        body.push_str(&bar_chart(results, m));
    }
    body.push_str("</div>");
    if let Some(cdf) = &results.cdf {
        let series: Vec<Series<'_>> = results
            .variants
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.cdf.is_empty())
            .map(|(i, v)| {
                let n = v.cdf.len() - 1;
                let pts = v
                    .cdf
                    .iter()
                    .enumerate()
                    .map(|(k, x)| (x / 1e6, k as f64 / n as f64))
                    .collect();
                (i, v.name.as_str(), pts)
            })
            .collect();
        if !series.is_empty() {
            let _ = write!(body, "<h2>Distribution of {}</h2>", esc(cdf));
            body.push_str(&line_chart(
                &format!("CDF of {cdf} (averaged over seeds)"),
                &format!("{cdf} (ms, log scale)"),
                "fraction",
                &series,
                true,
                &Decor::default(),
            ));
        }
    }
    if let Some((name, bucket)) = &results.timeline {
        let series: Vec<Series<'_>> = results
            .variants
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.timeline.is_empty())
            .map(|(i, v)| {
                let pts = v
                    .timeline
                    .iter()
                    .enumerate()
                    .map(|(k, r)| ((k as f64 + 0.5) * bucket, *r))
                    .collect();
                (i, v.name.as_str(), pts)
            })
            .collect();
        if !series.is_empty() {
            let _ = write!(body, "<h2>{} over time</h2>", esc(name));
            body.push_str(&line_chart(
                &format!("{name} per second (mean over seeds, {}s buckets)", num(*bucket)),
                "time (s)",
                "per second",
                &series,
                false,
                &Decor::default(),
            ));
        }
    }
    if let Some((group, bucket)) = &results.success {
        let decor = Decor {
            bands: results.fault_windows.clone(),
            ..Decor::default()
        };
        let line = |pick: &dyn Fn(&super::VariantResult) -> &Vec<Option<f64>>| -> Vec<Series<'_>> {
            results
                .variants
                .iter()
                .enumerate()
                .filter(|(_, v)| !pick(v).is_empty())
                .map(|(i, v)| {
                    let pts = pick(v)
                        .iter()
                        .enumerate()
                        .map(|(k, y)| ((k as f64 + 0.5) * bucket, y.unwrap_or(f64::NAN)))
                        .collect();
                    (i, v.name.as_str(), pts)
                })
                .collect()
        };
        let success = line(&|v| &v.success);
        if !success.is_empty() {
            let shaded = if decor.bands.is_empty() {
                ""
            } else {
                "; shaded: the fault windows every seed meets"
            };
            let _ = write!(
                body,
                "<h2>{} over time</h2><p class=\"meta\">mean over seeds per {}s bucket{shaded}</p><div class=\"charts\">",
                esc(group),
                num(*bucket)
            );
            body.push_str(&line_chart(
                &format!("{group}: success rate"),
                "time (s)",
                "fraction ok",
                &success,
                false,
                &Decor {
                    y_max: Some(1.0),
                    ..decor.clone()
                },
            ));
            body.push_str(&line_chart(
                &format!("{group}: p99 latency of successes"),
                "time (s)",
                "ms",
                &line(&|v| &v.p99_ms),
                false,
                &decor,
            ));
            body.push_str("</div>");
        }
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ruckus explore: {title}</title>
<style>
{style}</style></head><body>
{body}
</body></html>
"#,
        title = esc(&results.experiment),
        style = crate::chart::STYLE
    )
}
