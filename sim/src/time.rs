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
///
/// Serialized as a whole number of nanoseconds. Human-readable formats (TOML, JSON) also accept
/// a string with a unit, such as `"1.5s"` (see [`parse_nanos`]), so scenario files stay readable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Instant(pub u64);

/// A span of virtual time in nanoseconds.
///
/// Serialized like [`Instant`]: nanoseconds, or in human-readable formats also `"10ms"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Duration(pub u64);

/// Parses a time written with a unit — `ns`, `us`, `ms`, `s`, `m` or `h`, with an optional
/// decimal fraction (`"1.5s"`, `"250us"`) — into whole nanoseconds. Exact decimal arithmetic,
/// no floating point, so the value never depends on rounding.
pub fn parse_nanos(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(|| format!("`{text}` has no unit (use ns, us, ms, s, m or h, e.g. \"10ms\")"))?;
    let (number, unit) = (&t[..split], t[split..].trim());
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "`{text}` has unknown unit `{unit}` (use ns, us, ms, s, m or h)"
            ));
        }
    };
    let number = number.replace('_', "");
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(format!("`{text}` has no number"));
    }
    let overflow = || format!("`{text}` is too long a time");
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| overflow())?
    };
    let mut nanos = whole.checked_mul(scale).ok_or_else(overflow)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        if !digit.is_ascii_digit() {
            return Err(format!("`{text}` is not a number with a unit"));
        }
        place /= 10;
        if place == 0 {
            return Err(format!("`{text}` is finer than a nanosecond"));
        }
        nanos = nanos
            .checked_add(u64::from(digit - b'0') * place)
            .ok_or_else(overflow)?;
    }
    Ok(nanos)
}

/// Accepts nanoseconds, or (in human-readable formats) a string for `parse_nanos`.
struct NanosVisitor;

impl serde::de::Visitor<'_> for NanosVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nanoseconds, or a time with a unit such as \"10ms\"")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("a time cannot be negative, got {v}")))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
        parse_nanos(v).map_err(E::custom)
    }
}

fn deserialize_nanos<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    if d.is_human_readable() {
        d.deserialize_any(NanosVisitor)
    } else {
        // Binary formats (postcard traces) keep the plain integer encoding.
        d.deserialize_u64(NanosVisitor)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_nanos(d).map(Duration)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_nanos(d).map(Instant)
    }
}

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
    fn times_parse_from_text_exactly() {
        assert_eq!(parse_nanos("10ms"), Ok(10_000_000));
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("250us"), Ok(250_000));
        assert_eq!(parse_nanos("0.000000001s"), Ok(1));
        assert_eq!(parse_nanos("2m"), Ok(120_000_000_000));
        assert_eq!(parse_nanos("1_000ns"), Ok(1_000));
        assert!(parse_nanos("10").unwrap_err().contains("no unit"));
        assert!(parse_nanos("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_nanos("0.5ns").unwrap_err().contains("finer"));
        assert!(parse_nanos("99999999999h").unwrap_err().contains("too long"));
    }

    #[test]
    fn binary_encoding_stays_a_plain_integer() {
        let bytes = postcard::to_allocvec(&Duration(300)).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&300u64).unwrap());
        assert_eq!(postcard::from_bytes::<Duration>(&bytes).unwrap(), Duration(300));
        assert_eq!(postcard::from_bytes::<Instant>(&bytes).unwrap(), Instant(300));
    }

    #[test]
    fn binary_encoding_is_a_compact_integer() {
        let d = Duration::from_millis(1500);
        let bytes = postcard::to_allocvec(&d).unwrap();
        assert_eq!(postcard::from_bytes::<Duration>(&bytes).unwrap(), d);
        assert!(bytes.len() <= 5, "varint, not text");
    }

    #[test]
    #[should_panic(expected = "later instant")]
    fn subtracting_later_instant_panics() {
        let _ = Instant(1) - Instant(2);
    }
}
