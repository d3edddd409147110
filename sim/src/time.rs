//! Virtual time: every duration and instant in a run is a whole number of nanoseconds.
//!
//! Nothing here reads the wall clock. `Instant` is the engine's true time (or a host's local
//! clock reading, which is also expressed as an `Instant`); `Duration` is a span between two.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

/// A point in virtual time, in nanoseconds since the start of the run.
///
/// A u64 of nanoseconds covers about 584 years of simulated time, far past any horizon.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Instant(pub u64);

/// A span of virtual time in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Duration(pub u64);

impl Instant {
    /// The start of every run.
    pub const ZERO: Instant = Instant(0);
    /// Later than any event a run can schedule; used as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, clamped at `Instant::MAX` instead of overflowing.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Duration {
        Duration(n)
    }
    /// A duration of `n` microseconds.
    pub const fn from_micros(n: u64) -> Duration {
        Duration(n * 1_000)
    }
    /// A duration of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Duration {
        Duration(n * 1_000_000)
    }
    /// A duration of `n` seconds.
    pub const fn from_secs(n: u64) -> Duration {
        Duration(n * 1_000_000_000)
    }
    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The length in seconds as a float, for reports only (never for run logic).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The length in milliseconds as a float, for reports only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.checked_add(d.0).expect("virtual time overflow"))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        Duration(
            self.0
                .checked_sub(earlier.0)
                .expect("subtracting a later instant"),
        )
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, o: Duration) -> Duration {
        Duration(self.0.checked_add(o.0).expect("duration overflow"))
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, k: u64) -> Duration {
        Duration(self.0.checked_mul(k).expect("duration overflow"))
    }
}

fn fmt_nanos(n: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if n >= 1_000_000_000 {
        write!(f, "{}.{:09}s", n / 1_000_000_000, n % 1_000_000_000)
    } else if n >= 1_000_000 {
        write!(f, "{}.{:06}ms", n / 1_000_000, n % 1_000_000)
    } else if n >= 1_000 {
        write!(f, "{}.{:03}us", n / 1_000, n % 1_000)
    } else {
        write!(f, "{n}ns")
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("@")?;
        fmt_nanos(self.0, f)
    }
}
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.0, f)
    }
}
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_display() {
        let t = Instant::ZERO + Duration::from_millis(3);
        assert_eq!(t.as_nanos(), 3_000_000);
        assert_eq!(t - Instant(1_000_000), Duration::from_millis(2));
        assert_eq!(format!("{t}"), "@3.000000ms");
        assert_eq!(format!("{}", Duration::from_secs(2)), "2.000000000s");
        assert_eq!(Instant(5).saturating_since(Instant(9)), Duration::ZERO);
    }

    #[test]
    #[should_panic(expected = "later instant")]
    fn subtracting_later_instant_panics() {
        let _ = Instant(1) - Instant(2);
    }
}
