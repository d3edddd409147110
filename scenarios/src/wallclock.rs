//! The one place that reads the wall clock: timing runs and sweeps for humans.
//!
//! Nothing measured here feeds back into a run; it fills "wall time" and "events per second"
//! in reports and the sweep progress bar, and tells `ruckus shrink` when its `--max-time` is
//! spent (asked between re-runs, never inside one). That is why the determinism lint is
//! allowed in this module and nowhere else in the crate.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

/// A started timer.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts timing now.
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    /// Seconds since `start`.
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
