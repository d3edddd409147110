//! Explore's outputs: a terminal table and a self-contained HTML report with SVG charts.
//!
//! The charts are written by hand as SVG elements: no plotting crate, no fonts to find, no
//! script and nothing fetched, so the report opens the same way offline, in any browser.

use super::Results;
use super::stats::Estimate;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

/// A number with about four significant digits.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() { "n/a".into() } else { "inf".into() };
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 10_000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

fn pm(e: &Estimate) -> String {
    format!("{} ± {}", num(e.mean), num(e.half_width))
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

/// Colours for variants, in order (a palette that stays distinct for the colour-blind).
const COLOURS: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// "Nice" tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// One line of a chart: the variant's index (its colour), its name, and its points.
type Series<'a> = (usize, &'a str, Vec<(f64, f64)>);

const W: f64 = 600.0;
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
            num(t)
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

/// A line chart: one polyline per series of (x, y) points, with a legend.
fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series<'_>], log_x: bool) -> String {
    let h = 320.0;
    let (top, bottom) = (30.0, 50.0);
    let left = 70.0;
    let plot_w = W - left - RIGHT - 120.0;
    let plot_h = h - top - bottom;
    let tx = |v: f64| if log_x { v.max(1e-12).log10() } else { v };
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in pts {
        if log_x && x <= 0.0 {
            continue;
        }
        x0 = x0.min(tx(x));
        x1 = x1.max(tx(x));
        y1 = y1.max(y);
    }
    if !x0.is_finite() || x1 <= x0 {
        x0 = if x0.is_finite() { x0 } else { 0.0 };
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    y1 *= 1.05;
    let sx = |v: f64| left + (tx(v) - x0) / (x1 - x0) * plot_w;
    let sy = |v: f64| top + plot_h - v / y1 * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" role="img" aria-label="{t}"><text x="{left}" y="18" class="title">{t}</text>"#,
        t = esc(title)
    );
    let xticks: Vec<f64> = if log_x {
        (x0.floor() as i32..=x1.ceil() as i32)
            .map(|e| 10f64.powi(e))
            .filter(|v| tx(*v) >= x0 && tx(*v) <= x1)
            .collect()
    } else {
        ticks(x0, x1, 6)
    };
    for t in xticks {
        let px = sx(t);
        let _ = write!(
            s,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            top + plot_h,
            top + plot_h + 16.0,
            num(t)
        );
    }
    for t in ticks(0.0, y1, 5) {
        let py = sy(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            left + plot_w,
            left - 6.0,
            py + 4.0,
            num(t)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="label">{}</text><text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle" class="label">{}</text>"##,
        left + plot_w / 2.0,
        h - 12.0,
        esc(x_label),
        top + plot_h / 2.0,
        esc(y_label)
    );
    for (k, (i, name, points)) in series.iter().enumerate() {
        let mut d = String::new();
        for &(x, y) in points {
            if log_x && x <= 0.0 {
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if d.is_empty() { "M" } else { "L" },
                sx(x),
                sy(y)
            );
        }
        if !d.is_empty() {
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2"/>"#,
                colour(*i)
            );
        }
        let ly = top + 14.0 + 18.0 * k as f64;
        let lx = left + plot_w + 12.0;
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{ly:.1}" class="legend">{}</text>"#,
            ly - 10.0,
            colour(*i),
            lx + 16.0,
            esc(name)
        );
    }
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
            ));
        }
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ruckus explore: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; max-width: 1320px; }}
table {{ border-collapse: collapse; margin: 12px 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; vertical-align: top; }}
th:first-child, td:first-child, td:nth-child(2) {{ text-align: left; }}
.meta {{ color: #555; font-size: 90%; }}
.sig {{ font-weight: bold; }} .ns {{ color: #777; }}
.dot {{ display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 12px; }}
svg {{ background: #fff; border: 1px solid #eee; }}
svg text {{ font-family: sans-serif; fill: #222; }}
svg .title {{ font-size: 14px; font-weight: bold; }}
svg .tick {{ font-size: 11px; fill: #555; }}
svg .label, svg .legend {{ font-size: 12px; }}
</style></head><body>
{body}
</body></html>
"#,
        title = esc(&results.experiment)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ticks() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(12345.6), "12346");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(esc("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
