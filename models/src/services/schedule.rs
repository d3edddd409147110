//! An open workload's rate over time: steps and linear ramps, and Poisson arrivals that follow
//! them exactly.
//!
//! Arrivals are drawn by inverting the cumulative rate: with `Λ(t)` the integral of the rate
//! from 0 to `t`, the next arrival after `t` is the `t'` with `Λ(t') − Λ(t) = E`, `E` a unit
//! exponential draw. On a piecewise-linear rate that is a quadratic per segment, so the
//! process is an exact non-homogeneous Poisson process with one draw per arrival (no thinning,
//! no rejected draws).

use ruckus_sim::{Duration, Random, nanos_with_unit};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One change of the open workload's rate (requests per second per client, like
/// `workload.open.rate`), at a time counted from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ChangeFields", into = "ChangeFields")]
pub enum RateChange {
    /// From `at` on, the rate is `rate`.
    Step {
        /// When the rate changes.
        at: Duration,
        /// The new rate (> 0).
        rate: f64,
    },
    /// From `at`, the rate moves linearly from what it was to `to`, reaching it at `at + over`.
    Ramp {
        /// When the ramp starts.
        at: Duration,
        /// The rate at the end of the ramp (> 0).
        to: f64,
        /// How long the ramp lasts (> 0).
        over: Duration,
    },
}

impl RateChange {
    /// When the change starts.
    pub fn at(&self) -> Duration {
        match *self {
            RateChange::Step { at, .. } | RateChange::Ramp { at, .. } => at,
        }
    }

    /// When the change is complete (a ramp's end; a step's start).
    pub fn end(&self) -> Duration {
        match *self {
            RateChange::Step { at, .. } => at,
            RateChange::Ramp { at, over, .. } => at + over,
        }
    }

    fn check(&self) -> Result<(), String> {
        let good = |r: f64| r.is_finite() && r > 0.0;
        match *self {
            RateChange::Step { rate, .. } if !good(rate) => Err(format!("rate must be > 0, got {rate}")),
            RateChange::Ramp { to, .. } if !good(to) => Err(format!("ramp_to must be > 0, got {to}")),
            RateChange::Ramp { over, .. } if over == Duration::ZERO => {
                Err("over must be > 0 (use `rate` for a step)".into())
            }
            _ => Ok(()),
        }
    }
}

/// How a change is written in a scenario file: `{ at, rate }` or `{ at, ramp_to, over }`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeFields {
    at: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ramp_to: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    over: Option<Duration>,
}

impl TryFrom<ChangeFields> for RateChange {
    type Error = String;
    fn try_from(f: ChangeFields) -> Result<RateChange, String> {
        let change = match (f.rate, f.ramp_to, f.over) {
            (Some(rate), None, None) => RateChange::Step { at: f.at, rate },
            (None, Some(to), Some(over)) => RateChange::Ramp { at: f.at, to, over },
            (None, Some(_), None) => return Err("a ramp needs `over` (how long it lasts)".into()),
            _ => {
                return Err(
                    "a schedule entry is `{ at, rate }` (a step) or `{ at, ramp_to, over }` (a ramp)".into(),
                );
            }
        };
        change.check()?;
        Ok(change)
    }
}

impl From<RateChange> for ChangeFields {
    fn from(c: RateChange) -> ChangeFields {
        match c {
            RateChange::Step { at, rate } => ChangeFields {
                at,
                rate: Some(rate),
                ramp_to: None,
                over: None,
            },
            RateChange::Ramp { at, to, over } => ChangeFields {
                at,
                rate: None,
                ramp_to: Some(to),
                over: Some(over),
            },
        }
    }
}

/// The changes of an open workload's rate, in time order, none starting before the previous
/// one is complete. Empty: the rate never changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RateChange>", into = "Vec<RateChange>")]
pub struct RateSchedule(Vec<RateChange>);

impl RateSchedule {
    /// Checks every change and their order.
    pub fn new(changes: Vec<RateChange>) -> Result<RateSchedule, String> {
        for (i, c) in changes.iter().enumerate() {
            c.check().map_err(|e| format!("entry {i}: {e}"))?;
        }
        for (i, pair) in changes.windows(2).enumerate() {
            let (prev, next) = (pair[0], pair[1]);
            // A step takes effect at once; a ramp holds the rate until it ends.
            let in_order = match prev {
                RateChange::Step { at, .. } => next.at() > at,
                RateChange::Ramp { .. } => next.at() >= prev.end(),
            };
            if !in_order {
                return Err(format!(
                    "entry {}: at = \"{}\" must come after entry {i} (which {} at \"{}\"); entries go in time order",
                    i + 1,
                    nanos_with_unit(next.at().0),
                    if matches!(prev, RateChange::Ramp { .. }) {
                        "ends"
                    } else {
                        "is"
                    },
                    nanos_with_unit(prev.end().0),
                ));
            }
        }
        Ok(RateSchedule(changes))
    }

    /// The changes, in time order.
    pub fn changes(&self) -> &[RateChange] {
        &self.0
    }

    /// Whether there are no changes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rate (per second) at `t` when it starts at `base`.
    pub fn rate_at(&self, base: f64, t: Duration) -> f64 {
        RateCurve::new(base, self).rate_at(t.0 as f64) * 1e9
    }
}

impl TryFrom<Vec<RateChange>> for RateSchedule {
    type Error = String;
    fn try_from(changes: Vec<RateChange>) -> Result<RateSchedule, String> {
        RateSchedule::new(changes)
    }
}

impl From<RateSchedule> for Vec<RateChange> {
    fn from(s: RateSchedule) -> Vec<RateChange> {
        s.0
    }
}

/// A [`RateSchedule`] behind a shared pointer, so a configuration that is copied often (Raft's,
/// which every model embedding Raft clones into each server and client) carries any number of
/// changes for the price of a reference count. Written and checked exactly as a `RateSchedule`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RateSchedule", into = "RateSchedule")]
pub struct SharedSchedule(Arc<RateSchedule>);

impl SharedSchedule {
    /// Whether there are no changes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The schedule.
    pub fn schedule(&self) -> &RateSchedule {
        &self.0
    }
}

impl From<RateSchedule> for SharedSchedule {
    fn from(schedule: RateSchedule) -> SharedSchedule {
        SharedSchedule(Arc::new(schedule))
    }
}

impl From<SharedSchedule> for RateSchedule {
    fn from(s: SharedSchedule) -> RateSchedule {
        Arc::unwrap_or_clone(s.0)
    }
}

/// A piece of the rate curve: linear from `r0` at `start` to `r1` at `end` (ns, per ns).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    start: f64,
    end: f64,
    r0: f64,
    r1: f64,
}

impl Segment {
    fn rate_at(&self, t: f64) -> f64 {
        if self.r0 == self.r1 || !self.end.is_finite() {
            self.r0
        } else {
            self.r0 + (self.r1 - self.r0) * (t - self.start) / (self.end - self.start)
        }
    }
}

/// A schedule made concrete from a base rate: the piecewise-linear rate over the whole run, in
/// requests per nanosecond, the last piece open-ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RateCurve {
    segments: Vec<Segment>,
}

impl RateCurve {
    /// The curve that starts at `base` requests per second and follows `schedule`.
    pub fn new(base: f64, schedule: &RateSchedule) -> RateCurve {
        let mut segments = Vec::new();
        let (mut t, mut r) = (0.0, base / 1e9);
        let flat = |segments: &mut Vec<Segment>, t: f64, until: f64, r: f64| {
            if until > t {
                segments.push(Segment {
                    start: t,
                    end: until,
                    r0: r,
                    r1: r,
                });
            }
        };
        for c in schedule.changes() {
            let at = c.at().0 as f64;
            flat(&mut segments, t, at, r);
            match *c {
                RateChange::Step { rate, .. } => r = rate / 1e9,
                RateChange::Ramp { to, over, .. } => {
                    let end = at + over.0 as f64;
                    segments.push(Segment {
                        start: at,
                        end,
                        r0: r,
                        r1: to / 1e9,
                    });
                    r = to / 1e9;
                }
            }
            t = c.end().0 as f64;
        }
        flat(&mut segments, t, f64::INFINITY, r);
        RateCurve { segments }
    }

    fn segment(&self, t: f64) -> usize {
        // The last segment whose start is at or before t (the first starts at 0).
        self.segments.partition_point(|s| s.start <= t).max(1) - 1
    }

    /// The rate at `t` (ns), per ns.
    fn rate_at(&self, t: f64) -> f64 {
        self.segments[self.segment(t)].rate_at(t)
    }

    /// The expected arrivals in `[from, to)` (ns): the integral of the rate.
    pub fn expected(&self, from: u64, to: u64) -> f64 {
        let (from, to) = (from as f64, to as f64);
        self.segments
            .iter()
            .filter(|s| s.end > from && s.start < to)
            .map(|s| {
                let (a, b) = (from.max(s.start), to.min(s.end));
                (s.rate_at(a) + s.rate_at(b)) / 2.0 * (b - a)
            })
            .sum()
    }

    /// The time (ns) from `now` to the next arrival, given `area`, a unit exponential draw: the
    /// `x` with `∫ rate over [now, now + x] = area`. Rounded to whole ns, at least 1.
    pub fn gap(&self, now: u64, area: f64) -> Duration {
        let start = now as f64;
        let (mut t, mut left) = (start, area);
        for s in &self.segments[self.segment(t)..] {
            let r = s.rate_at(t);
            if !s.end.is_finite() {
                t += left / r;
                break;
            }
            let mass = (r + s.r1) / 2.0 * (s.end - t);
            if mass < left {
                left -= mass;
                t = s.end;
                continue;
            }
            // r·x + k·x²/2 = left, k the slope; the root written so it is stable as k → 0.
            let k = (s.r1 - s.r0) / (s.end - s.start);
            let x = 2.0 * left / (r + (r * r + 2.0 * k * left).max(0.0).sqrt());
            t = (t + x).min(s.end);
            break;
        }
        let gap = (t - start).round();
        Duration(if gap >= u64::MAX as f64 {
            u64::MAX
        } else {
            (gap as u64).max(1)
        })
    }
}

/// The gap to an interval-paced caller's next call (the discovery models' callers): uniform
/// 0.5x-1.5x of `interval` with no schedule (exactly as without one). On a schedule whose rate
/// starts at one call per `interval`, the same draw, in units of the mean interval, is the
/// area of the rate curve the gap holds, so the mean interval at each moment is one over the
/// rate then, and a gap that crosses a step finishes at the new rate.
pub fn interval_gap(interval: Duration, schedule: &RateSchedule, rng: &mut Random, now: u64) -> Duration {
    let mean = interval.0;
    let draw = rng.range_inclusive(mean / 2, mean + mean / 2);
    if schedule.is_empty() {
        return Duration(draw);
    }
    let curve = RateCurve::new(1e9 / mean as f64, schedule);
    curve.gap(now, draw as f64 / mean as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn schedule() -> RateSchedule {
        RateSchedule::new(vec![
            RateChange::Step {
                at: s(10),
                rate: 300.0,
            },
            RateChange::Ramp {
                at: s(20),
                to: 50.0,
                over: s(10),
            },
        ])
        .unwrap()
    }

    #[test]
    fn curve_steps_and_ramps() {
        let sch = schedule();
        assert_eq!(sch.rate_at(100.0, s(5)), 100.0);
        assert_eq!(sch.rate_at(100.0, s(10)), 300.0);
        assert!((sch.rate_at(100.0, s(25)) - 175.0).abs() < 1e-9);
        assert!((sch.rate_at(100.0, s(40)) - 50.0).abs() < 1e-9);
        let c = RateCurve::new(100.0, &sch);
        // 10 s at 100, 10 s at 300, a ramp averaging 175 over 10 s, then 50.
        let want = 1000.0 + 3000.0 + 1750.0 + 500.0;
        assert!(
            (c.expected(0, s(40).0) - want).abs() < 1e-6,
            "{}",
            c.expected(0, s(40).0)
        );
    }

    #[test]
    fn gap_inverts_the_integral() {
        let c = RateCurve::new(100.0, &schedule());
        // One arrival's worth of area at 100/s is 10 ms.
        assert_eq!(c.gap(0, 1.0), Duration::from_millis(10));
        // Up to the step exactly.
        assert_eq!(c.gap(s(9).0 + 990_000_000, 1.0), Duration::from_millis(10));
        // Crossing the step: 0.5 at 100/s (5 ms), the other 0.5 at 300/s (1.667 ms).
        let g = c.gap(s(9).0 + 995_000_000, 1.0);
        assert_eq!(g, Duration(5_000_000 + 1_666_667));
        // Inside the ramp the area to the gap is what was asked for.
        for (now, area) in [(s(20).0, 0.3), (s(24).0, 2.0), (s(29).0 + 999_000_000, 5.0)] {
            let g = c.gap(now, area);
            let got = c.expected(now, now + g.0);
            assert!((got - area).abs() < 1e-3, "area {got} for {area} from {now}");
        }
    }

    #[test]
    fn arrivals_follow_the_schedule() {
        // Many unit draws: counts per second window match the integral within a few sigma.
        let c = RateCurve::new(100.0, &schedule());
        let mut rng = Random::stream(7, "schedule", 0);
        let mut counts = vec![0u64; 40];
        let runs = 50;
        for _ in 0..runs {
            let mut t = 0u64;
            loop {
                t += c.gap(t, rng.exponential(1.0)).0;
                if t >= s(40).0 {
                    break;
                }
                counts[(t / 1_000_000_000) as usize] += 1;
            }
        }
        for (sec, &n) in counts.iter().enumerate() {
            let want = runs as f64 * c.expected(s(sec as u64).0, s(sec as u64 + 1).0);
            let sigma = want.sqrt();
            assert!(
                (n as f64 - want).abs() < 4.0 * sigma,
                "second {sec}: {n} arrivals, expected {want:.0}"
            );
        }
    }

    #[test]
    fn interval_gaps_follow_the_schedule() {
        let interval = Duration::from_millis(100);
        let step = RateSchedule::new(vec![RateChange::Step {
            at: s(10),
            rate: 50.0,
        }])
        .unwrap();
        let (mut plain, mut paced) = (Random::stream(3, "gap", 0), Random::stream(3, "gap", 0));
        // Before the step: the very draw of an unscheduled caller, uniform 50-150 ms.
        for _ in 0..100 {
            let want = interval_gap(interval, &RateSchedule::default(), &mut plain, 0);
            assert!((50_000_000..=150_000_000).contains(&want.0), "{want:?}");
            assert_eq!(interval_gap(interval, &step, &mut paced, s(1).0), want);
        }
        // After it: 50/s, a mean of 20 ms, gaps uniform 10-30 ms.
        let gaps: Vec<u64> = (0..1000)
            .map(|_| interval_gap(interval, &step, &mut paced, s(11).0).0)
            .collect();
        assert!(gaps.iter().all(|g| (10_000_000..=30_000_000).contains(g)));
        let mean = gaps.iter().sum::<u64>() as f64 / 1000.0;
        assert!((mean - 20e6).abs() < 1e6, "{mean}");
        // A gap that starts 50 ms before the step holds half a mean interval at 10/s, the
        // rest at 50/s: a 100 ms draw ends 50 ms + 10 ms later.
        let mut r = Random::stream(3, "gap", 0);
        let (before, draw) = (
            s(10).0 - 50_000_000,
            r.clone().range_inclusive(50_000_000, 150_000_000),
        );
        let g = interval_gap(interval, &step, &mut r, before).0 as f64;
        let want = if draw <= 50_000_000 {
            draw as f64
        } else {
            50e6 + (draw as f64 - 50e6) / 5.0
        };
        assert!((g - want).abs() <= 1.0, "{g} for a draw of {draw}");
    }

    #[test]
    fn bad_schedules_are_refused() {
        let bad = |changes: Vec<RateChange>| RateSchedule::new(changes).unwrap_err();
        assert!(bad(vec![RateChange::Step { at: s(1), rate: 0.0 }]).contains("rate must be > 0"));
        let e = bad(vec![
            RateChange::Step { at: s(5), rate: 1.0 },
            RateChange::Step { at: s(5), rate: 2.0 },
        ]);
        assert!(e.contains("entry 1") && e.contains("time order"), "{e}");
        let e = bad(vec![
            RateChange::Ramp {
                at: s(5),
                to: 1.0,
                over: s(10),
            },
            RateChange::Step { at: s(12), rate: 2.0 },
        ]);
        assert!(e.contains("ends at \"15s\""), "{e}");
        // A step right where a ramp ends is fine.
        RateSchedule::new(vec![
            RateChange::Ramp {
                at: s(5),
                to: 1.0,
                over: s(10),
            },
            RateChange::Step { at: s(15), rate: 2.0 },
        ])
        .unwrap();
    }
}
