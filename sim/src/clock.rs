//! Host clocks: an offset, a drift rate and jumps, over the engine's true time.
//!
//! Models read only their host's local clock; invariant checkers see true time. Timers are
//! set in local durations and run at the host's current drift rate (like a monotonic clock:
//! a jump, such as an NTP step, moves the reading but does not move pending timers).
//!
//! Each clock gives two readings, as a real host does: [`Clock::local`] is the wall clock
//! (offset, drift and jumps), [`Clock::monotonic`] is the same oscillator without the jumps
//! (offset and drift only), which never goes backwards.

use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

const PPM: i128 = 1_000_000;

/// Initial settings of a host clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Local reading minus true time at the start, in nanoseconds (negative readings clamp to 0).
    #[serde(default)]
    pub offset_ns: i64,
    /// Drift in parts per million: +100 means the clock gains 100 us every true second.
    #[serde(default)]
    pub drift_ppm: i64,
}

/// A host's clock. Local readings are piecewise linear in true time.
#[derive(Clone, Debug)]
#[repr(align(64))] // one cache line: at thousands of hosts each use is a miss
pub struct Clock {
    base_true: u64,
    base_local: i128,
    drift_ppm: i64,
    /// The sum of every jump so far: the wall reading minus the monotonic one.
    jumped: i128,
}

impl Clock {
    /// A clock started at true time zero with the given configuration.
    pub fn new(config: ClockConfig) -> Clock {
        assert!(
            config.drift_ppm.abs() < 1_000_000,
            "drift must be within +-1e6 ppm"
        );
        Clock {
            base_true: 0,
            base_local: i128::from(config.offset_ns),
            drift_ppm: config.drift_ppm,
            jumped: 0,
        }
    }

    fn local_raw(&self, now: Instant) -> i128 {
        let elapsed = i128::from(now.0 - self.base_true);
        if self.drift_ppm == 0 {
            // The general formula gives exactly this; skipping the 128-bit division is the
            // common case's fast path.
            return self.base_local + elapsed;
        }
        self.base_local + elapsed * (PPM + i128::from(self.drift_ppm)) / PPM
    }

    /// The local wall-clock reading at true time `now`: offset, drift and jumps.
    pub fn local(&self, now: Instant) -> Instant {
        Instant(self.local_raw(now).clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// The local monotonic reading at true time `now`: offset and drift, but no jumps, so it
    /// never goes backwards (it runs at the drifted rate, which is always positive).
    pub fn monotonic(&self, now: Instant) -> Instant {
        Instant((self.local_raw(now) - self.jumped).clamp(0, i128::from(u64::MAX)) as u64)
    }

    fn rebase(&mut self, now: Instant) {
        self.base_local = self.local_raw(now);
        self.base_true = now.0;
    }

    /// Changes the drift rate from `now` on; readings stay continuous.
    pub fn set_drift(&mut self, now: Instant, drift_ppm: i64) {
        assert!(drift_ppm.abs() < 1_000_000, "drift must be within +-1e6 ppm");
        self.rebase(now);
        self.drift_ppm = drift_ppm;
    }

    /// The current drift rate in parts per million.
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// Steps the reading by `delta_ns` at `now` (an NTP step; may go backwards).
    pub fn jump(&mut self, now: Instant, delta_ns: i64) {
        self.rebase(now);
        self.base_local += i128::from(delta_ns);
        self.jumped += i128::from(delta_ns);
    }

    /// How much true time passes while this clock advances by `local`, at the current rate.
    /// Rounded up, so a timer never fires before its local duration has elapsed.
    pub fn true_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            // (local * PPM + PPM - 1) / PPM == local exactly; skip the 128-bit division.
            return local;
        }
        let rate = PPM + i128::from(self.drift_ppm);
        let nanos = (i128::from(local.0) * PPM + rate - 1) / rate;
        Duration(nanos.min(i128::from(u64::MAX)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_drift_show_in_local_time() {
        let mut c = Clock::new(ClockConfig {
            offset_ns: 500,
            drift_ppm: 0,
        });
        assert_eq!(c.local(Instant(1_000)), Instant(1_500));
        c.set_drift(Instant(1_000), 1_000); // gains 1 ms per second
        assert_eq!(c.local(Instant(1_000)), Instant(1_500));
        assert_eq!(
            c.local(Instant(1_000 + 1_000_000_000)),
            Instant(1_500 + 1_001_000_000)
        );
    }

    #[test]
    fn jumps_move_the_reading_not_true_time() {
        let mut c = Clock::new(ClockConfig::default());
        c.jump(Instant(10), 1_000);
        assert_eq!(c.local(Instant(10)), Instant(1_010));
        c.jump(Instant(20), -5_000);
        assert_eq!(c.local(Instant(20)), Instant(0), "a reading below zero clamps");
    }

    #[test]
    fn the_monotonic_reading_drifts_but_ignores_jumps() {
        let mut c = Clock::new(ClockConfig {
            offset_ns: 1_000,
            drift_ppm: 100_000,
        });
        assert_eq!(c.monotonic(Instant(0)), c.local(Instant(0)));
        c.jump(Instant(10_000), -5_000);
        assert_eq!(c.local(Instant(10_000)), Instant(1_000 + 11_000 - 5_000));
        assert_eq!(
            c.monotonic(Instant(10_000)),
            Instant(1_000 + 11_000),
            "no step back"
        );
        c.set_drift(Instant(10_000), 0);
        c.jump(Instant(20_000), 7_000);
        assert_eq!(c.monotonic(Instant(20_000)), Instant(12_000 + 10_000));
        assert_eq!(c.local(Instant(20_000)), Instant(12_000 + 10_000 - 5_000 + 7_000));
    }

    #[test]
    fn timers_run_at_the_drifted_rate() {
        let fast = Clock::new(ClockConfig {
            offset_ns: 0,
            drift_ppm: 100_000,
        }); // 10% fast
        assert_eq!(fast.true_duration(Duration(1_100)), Duration(1_000));
        let slow = Clock::new(ClockConfig {
            offset_ns: 0,
            drift_ppm: -500_000,
        });
        assert_eq!(slow.true_duration(Duration(1_000)), Duration(2_000));
    }
}
