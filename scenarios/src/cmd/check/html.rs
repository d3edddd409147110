//! `ruckus check --html FILE`: the history and its witness as a self-contained page.
//!
//! One lane per client, a bar per operation from invocation to completion, the longest
//! linearizable prefix shaded and the failing operation in red; hovering a linearized bar shows
//! the model state after it. No script, nothing fetched. Bars are placed by the entries'
//! `:time` when every client entry has one, else by entry order; each bar's group carries its
//! positions and times as `data-` attributes, so tools (and tests) read them without pixels.

use crate::chart::esc;
use ruckus_models::linearizability::jepsen::{Input, ModelSpec, Output, Value};
use ruckus_models::linearizability::{Operation, Outcome, Specification, Witness};
use std::fmt::Write as _;

type Op = Operation<Input, Output>;

/// At most this many operations are drawn when the whole history is shown.
pub(super) const MAX_DRAWN: usize = 2_000;

/// The page's left margin (client names) and width, in pixels.
pub(super) const LEFT: f64 = 70.0;
pub(super) const WIDTH: f64 = 1100.0;

/// What the page shows: the history's name, model, keys and, for a failure, the failing key's
/// index and its witness; `times` are the history events' `:time`s, if every entry had one.
pub(super) struct Page<'a> {
    pub title: &'a str,
    pub spec: &'a ModelSpec,
    pub parts: &'a [(Value, Vec<Op>)],
    pub failure: Option<(usize, &'a Witness<Input, Output>)>,
    pub times: Option<&'a [i64]>,
}

/// Where bars go along the horizontal axis: event positions mapped to times, or themselves.
struct Scale<'a> {
    times: Option<&'a [i64]>,
    start: f64,
    end: f64,
}

impl Scale<'_> {
    /// The abscissa of event position `p`, before scaling.
    fn at(&self, p: u64) -> f64 {
        match self.times {
            Some(t) => t.get(p as usize).or(t.last()).copied().unwrap_or(0) as f64,
            None => p as f64,
        }
    }
    /// The pixel of event position `p`.
    fn x(&self, p: u64) -> f64 {
        self.x_of(self.at(p))
    }
    fn x_of(&self, v: f64) -> f64 {
        LEFT + (v - self.start) / (self.end - self.start) * (WIDTH - LEFT - 10.0)
    }
}

impl Page<'_> {
    /// The page's HTML.
    pub(super) fn render(&self) -> String {
        let (spec, parts, failure) = (self.spec, self.parts, self.failure);
        // What is drawn: the failing key's operations, or every key's (capped).
        let (ops, heading): (Vec<&Op>, String) = match failure {
            Some((k, _)) => (
                parts[k].1.iter().collect(),
                match &parts[k].0 {
                    Value::Nil => "not linearizable".to_string(),
                    key => format!("not linearizable: key {key:?}"),
                },
            ),
            None => {
                let mut all: Vec<&Op> = parts.iter().flat_map(|(_, o)| o.iter()).collect();
                all.sort_by_key(|o| o.call);
                let total = all.len();
                all.truncate(MAX_DRAWN);
                let note = if total > MAX_DRAWN {
                    format!(" (first {MAX_DRAWN} of {total} operations drawn)")
                } else {
                    String::new()
                };
                (all, format!("no violation found{note}"))
            }
        };
        // The state after each linearized operation, and its place in the order.
        let mut after: Vec<Option<(usize, String)>> = vec![None; ops.len()];
        let mut failing = None;
        let mut prefix_end = None;
        let mut witness_set: Vec<bool> = vec![false; ops.len()];
        if let Some((_, w)) = failure {
            let mut state = spec.initial();
            for (rank, &i) in w.linearization.iter().enumerate() {
                let (next, _) = spec.step(&state, &ops[i].input);
                state = next;
                after[i] = Some((rank + 1, format!("{state:?}")));
            }
            failing = w.failing;
            prefix_end = Some(w.prefix_end);
            for o in &w.operations {
                if let Some(i) = ops.iter().position(|x| x.call == o.call) {
                    witness_set[i] = true;
                }
            }
        }
        let mut clients: Vec<u64> = ops.iter().map(|o| o.client).collect();
        clients.sort_unstable();
        clients.dedup();
        let scale = {
            let mut s = Scale {
                times: self.times,
                start: 0.0,
                end: 1.0,
            };
            let points = ops.iter().flat_map(|o| [Some(o.call), o.ret]).flatten();
            let (lo, hi) = points.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                let v = s.at(p);
                (lo.min(v), hi.max(v))
            });
            if lo <= hi {
                // Positions: from 0, and one past the last so the last bar has a length.
                (s.start, s.end) = if s.times.is_some() {
                    (lo, hi)
                } else {
                    (0.0, hi + 1.0)
                };
            }
            if s.end <= s.start {
                s.end = s.start + 1.0;
            }
            s
        };
        let lane_h = 26.0;
        let height = 40.0 + lane_h * clients.len() as f64;
        let by = if self.times.is_some() { "time" } else { "order" };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\" data-scale=\"{by}\">\n"
        );
        if let Some(p) = prefix_end {
            let x = scale.x(p);
            let _ = writeln!(
                svg,
                "<rect x=\"{LEFT}\" y=\"20\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e8f5e9\"><title>longest linearizable prefix: events before {p}</title></rect>\
                 <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"14\" y2=\"{:.1}\" stroke=\"#2e7d32\" stroke-dasharray=\"4 3\"/>\
                 <text x=\"{x:.1}\" y=\"11\" fill=\"#2e7d32\">linearizable up to here</text>",
                (x - LEFT).max(0.0),
                height - 20.0,
                height,
            );
        }
        for (lane, c) in clients.iter().enumerate() {
            let y = 24.0 + lane_h * lane as f64;
            let _ = writeln!(svg, "<text x=\"4\" y=\"{:.1}\">client {c}</text>", y + 14.0);
        }
        for (i, o) in ops.iter().enumerate() {
            let lane = clients.binary_search(&o.client).unwrap_or(0);
            let y = 24.0 + lane_h * lane as f64;
            let x0 = scale.x(o.call);
            let x1 = o.ret.map_or(scale.x_of(scale.end), |r| scale.x(r)).max(x0 + 3.0);
            let fill = if failing == Some(i) {
                "#d55e00"
            } else if after[i].is_some() {
                "#009e73"
            } else if matches!(o.outcome, Outcome::Unknown) {
                "#bbbbbb"
            } else {
                "#0072b2"
            };
            let stroke = if witness_set[i] && failure.is_some() {
                " stroke=\"#000\" stroke-width=\"1.5\""
            } else {
                ""
            };
            let dash = if o.ret.is_none() {
                " stroke-dasharray=\"3 2\" fill-opacity=\"0.5\""
            } else {
                ""
            };
            let label = format!("{:?} -> {:?}", o.input, o.outcome);
            let mut tip = format!("client {}: {label}", o.client);
            match &after[i] {
                Some((rank, state)) => {
                    let _ = write!(tip, "\nlinearized #{rank}; state after: {state}");
                }
                None if failing == Some(i) => tip.push_str("\nno ordering explains this completion"),
                None => {}
            }
            let mut data = format!(
                "data-client=\"{}\" data-invoke=\"{}\" data-complete=\"{}\"",
                o.client,
                o.call,
                o.ret.map_or(String::new(), |r| r.to_string())
            );
            if let Some(t) = self.times {
                let time = |p: u64| t.get(p as usize).map_or(String::new(), |v| v.to_string());
                let _ = write!(
                    data,
                    " data-invoke-ns=\"{}\" data-complete-ns=\"{}\"",
                    time(o.call),
                    o.ret.map_or(String::new(), time)
                );
            }
            let _ = writeln!(
                svg,
                "<g {data}><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\" rx=\"3\" fill=\"{fill}\"{stroke}{dash}/>\
                 <svg x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\"><text x=\"3\" y=\"13\" fill=\"#fff\">{}</text></svg></g>",
                esc(&tip),
                esc(&label),
                w = x1 - x0,
            );
        }
        svg.push_str("</svg>\n");
        let positions = if self.times.is_some() {
            "positions are the entries' times"
        } else {
            "positions are event order"
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ruckus check: {t}</title>\n\
<style>body{{font-family:sans-serif;margin:16px}} .key span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}}</style>\n</head>\n<body>\n\
<h2>ruckus check: {t}</h2>\n<p><strong>{h}</strong> &mdash; model {m:?}, one lane per client; {positions}. Hover a bar for the operation{hover}.</p>\n\
<p class=\"key\"><span style=\"background:#009e73\"></span>linearized in the longest prefix<span style=\"background:#d55e00\"></span>failing operation\
<span style=\"background:#0072b2\"></span>other<span style=\"background:#bbbbbb\"></span>unknown outcome (dashed: never completed)\
<span style=\"border:1.5px solid #000\"></span>in the shrunk witness</p>\n{svg}</body>\n</html>\n",
            t = esc(self.title),
            h = esc(&heading),
            m = spec.kind,
            hover = if failure.is_some() {
                " and the model state after it"
            } else {
                ""
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_models::linearizability::jepsen::{self, ModelKind};
    use ruckus_models::linearizability::{edn, partition};

    /// Each bar's (data-invoke-ns, rect x) pairs, in page order.
    fn bars(html: &str) -> Vec<(Option<i64>, f64)> {
        html.split("<g ")
            .skip(1)
            .map(|g| {
                let attr = |name: &str| {
                    let from = g.find(&format!("{name}=\""))? + name.len() + 2;
                    let len = g[from..].find('"')?;
                    Some(g[from..from + len].to_string())
                };
                (
                    attr("data-invoke-ns").and_then(|v| v.parse().ok()),
                    attr("<rect x").and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
                )
            })
            .collect()
    }

    fn page(history: &str) -> String {
        let entries = edn::read_all(history).unwrap();
        let converted = jepsen::convert(&entries, ModelKind::Register).unwrap();
        let spec = ModelSpec {
            kind: ModelKind::Register,
            initial: Value::Nil,
        };
        let parts: Vec<(Value, Vec<Op>)> = partition(&spec, converted.history.operations())
            .into_iter()
            .collect();
        let times = converted.event_times();
        Page {
            title: "h",
            spec: &spec,
            parts: &parts,
            failure: None,
            times: times.as_deref(),
        }
        .render()
    }

    #[test]
    fn bars_sit_at_their_times_when_every_entry_has_one() {
        // Three writes; the third starts 90% of the way through the history's span.
        let timed = "{:process 0 :type :invoke :f :write :value 1 :time 0}
                     {:process 0 :type :ok :f :write :value 1 :time 100}
                     {:process 1 :type :invoke :f :write :value 2 :time 100}
                     {:process 1 :type :ok :f :write :value 2 :time 200}
                     {:process 2 :type :invoke :f :write :value 3 :time 900}
                     {:process 2 :type :ok :f :write :value 3 :time 1000}";
        let html = page(timed);
        assert!(html.contains("data-scale=\"time\""), "{html}");
        assert!(html.contains("positions are the entries' times"));
        let drawn = bars(&html);
        let span = WIDTH - LEFT - 10.0;
        let want = [0.0, 0.1, 0.9];
        assert_eq!(drawn.len(), 3, "{html}");
        for ((ns, x), share) in drawn.iter().zip(want) {
            assert_eq!(*ns, Some((share * 1000.0) as i64));
            assert!((x - (LEFT + share * span)).abs() < 0.1, "{x} for {share}");
        }
        // The same history without times is drawn by entry order: evenly.
        let untimed: String = timed
            .lines()
            .map(|l| l.split(" :time").next().unwrap().to_string() + "}\n")
            .collect();
        let html = page(&untimed);
        assert!(html.contains("data-scale=\"order\""), "{html}");
        assert!(!html.contains("data-invoke-ns"));
        let xs: Vec<f64> = bars(&html).iter().map(|b| b.1).collect();
        // Invocations at positions 0, 2, 4 of 6 events.
        for (x, p) in xs.iter().zip([0.0, 2.0, 4.0]) {
            assert!((x - (LEFT + p / 6.0 * span)).abs() < 0.1, "{x} for position {p}");
        }
    }

    #[test]
    fn one_entry_without_a_time_falls_back_to_order() {
        let mixed = "{:process 0 :type :invoke :f :write :value 1 :time 0}
                     {:process 0 :type :ok :f :write :value 1}
                     {:process 1 :type :invoke :f :read :value nil :time 900}
                     {:process 1 :type :ok :f :read :value 1 :time 1000}";
        let html = page(mixed);
        assert!(html.contains("data-scale=\"order\""), "{html}");
    }
}
