//! Hand-written SVG charts shared by the reports: no plotting crate, no fonts to find, no
//! script and nothing fetched, so a report opens the same way offline, in any browser.

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

/// Colours for variants, in order (a palette that stays distinct for the colour-blind).
const COLOURS: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A tick label: the shortest plain form of a round number (`2`, `0.25`, `1500`).
pub fn tick_label(x: f64) -> String {
    let text = format!("{:.6}", x);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.into() }
}

/// "Nice" tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
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
pub type Series<'a> = (usize, &'a str, Vec<(f64, f64)>);

/// Chart width in pixels.
pub const W: f64 = 600.0;
/// Right margin of the plot area.
const RIGHT: f64 = 30.0;

/// A shaded window on a time chart (a fault, a blast window).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    /// Start, in the chart's x units.
    pub from: f64,
    /// End, in the chart's x units.
    pub to: f64,
    /// What it was (shown on hover).
    pub label: String,
}

/// A marked moment on a time chart (a detection, a reschedule, a recovery).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// When, in the chart's x units.
    pub at: f64,
    /// What happened.
    pub label: String,
}

/// What a chart shows besides its lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decor {
    /// Shaded windows.
    pub bands: Vec<Band>,
    /// Marked moments.
    pub marks: Vec<Mark>,
    /// A fixed top of the y axis (e.g. 1.0 for a fraction) instead of the data's maximum.
    pub y_max: Option<f64>,
    /// A fixed x range (e.g. the whole run) instead of the data's extent.
    pub x_range: Option<(f64, f64)>,
}

/// A line chart: one polyline per series of (x, y) points (a NaN y breaks the line), with a
/// legend, and the shaded windows and marked moments of `decor`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    log_x: bool,
    decor: &Decor,
) -> String {
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
        if y.is_finite() {
            y1 = y1.max(y);
        }
    }
    if let Some((lo, hi)) = decor.x_range {
        x0 = tx(lo);
        x1 = tx(hi);
    }
    if !x0.is_finite() || x1 <= x0 {
        x0 = if x0.is_finite() { x0 } else { 0.0 };
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    y1 = decor.y_max.unwrap_or(y1 * 1.05);
    let sx = |v: f64| left + ((tx(v) - x0) / (x1 - x0)).clamp(0.0, 1.0) * plot_w;
    let sy = |v: f64| top + plot_h - v / y1 * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" role="img" aria-label="{t}"><text x="{left}" y="18" class="title">{t}</text>"#,
        t = esc(title)
    );
    for band in &decor.bands {
        let (a, b) = (sx(band.from), sx(band.to.max(band.from)));
        let _ = write!(
            s,
            r##"<rect class="band" x="{a:.1}" y="{top}" width="{:.1}" height="{plot_h:.1}" fill="#d55e00" fill-opacity="0.12"><title>{}</title></rect>"##,
            (b - a).max(1.0),
            esc(&band.label)
        );
    }
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
            tick_label(t)
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
            tick_label(t)
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
        let mut pen_down = false;
        for &(x, y) in points {
            if (log_x && x <= 0.0) || !y.is_finite() {
                pen_down = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if pen_down { "L" } else { "M" },
                sx(x),
                sy(y.min(y1))
            );
            pen_down = true;
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
    for (k, mark) in decor.marks.iter().enumerate() {
        let px = sx(mark.at);
        let ty = top + 12.0 + 12.0 * (k % 4) as f64;
        let _ = write!(
            s,
            r##"<line class="mark" x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="4 3"><title>{l}</title></line><text x="{:.1}" y="{ty:.1}" class="tick">{l}</text>"##,
            top + plot_h,
            px + 3.0,
            l = esc(&mark.label)
        );
    }
    s.push_str("</svg>");
    s
}

/// The style sheet of the HTML reports.
pub const STYLE: &str = "body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1320px; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
.meta { color: #555; font-size: 90%; }
.sig { font-weight: bold; } .ns { color: #777; }
.dot { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg { background: #fff; border: 1px solid #eee; }
svg text { font-family: sans-serif; fill: #222; }
svg .title { font-size: 14px; font-weight: bold; }
svg .tick { font-size: 11px; fill: #555; }
svg .label, svg .legend { font-size: 12px; }
";

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
        assert_eq!(tick_label(2.0), "2");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(1500.0), "1500");
        assert_eq!(tick_label(-0.0), "0");
    }

    #[test]
    fn a_gap_breaks_the_line_and_decor_is_drawn() {
        let series = vec![(
            0,
            "ok",
            vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 0.5), (3.0, 0.75)],
        )];
        let decor = Decor {
            bands: vec![Band {
                from: 1.0,
                to: 2.0,
                label: "crash h1 for 1s".into(),
            }],
            marks: vec![Mark {
                at: 2.5,
                label: "<recovered>".into(),
            }],
            y_max: Some(1.0),
            x_range: Some((0.0, 4.0)),
        };
        let svg = line_chart("t", "x", "y", &series, false, &decor);
        // Two pen-downs: the NaN starts a new subpath.
        let path = svg.split("<path d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert!(svg.contains("class=\"band\""));
        assert!(svg.contains("crash h1 for 1s"));
        assert!(svg.contains("&lt;recovered&gt;"), "labels are escaped");
        // Without decor there is no band or mark.
        let plain = line_chart("t", "x", "y", &series, false, &Decor::default());
        assert!(!plain.contains("class=\"band\"") && !plain.contains("class=\"mark\""));
    }
}
