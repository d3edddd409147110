//! Virtual time: every duration and instant in a run is a whole number of nanoseconds.
//!
//! Nothing here reads the wall clock. `Instant` is the engine's true time (or a host's local
//! clock reading, which is also expressed as an `Instant`); `Duration` is a span between two.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// A point in virtual time, in nanoseconds since the start of the run.
///
/// A u64 of nanoseconds covers about 584 years of simulated time, far past any horizon.
///
/// Serialized as a whole number of nanoseconds. Human-readable formats (TOML, JSON) also accept
/// a string with a unit, such as `"1.5s"` (see [`parse_nanos`]), so scenario files stay readable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

/// A span of virtual time in nanoseconds.
///
/// Serialized like [`Instant`]: nanoseconds, or in human-readable formats also `"10ms"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
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

/// Binary formats: whole nanoseconds.
struct NanosVisitor;

impl serde::de::Visitor<'_> for NanosVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whole nanoseconds")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("a time cannot be negative, got {v}")))
    }
}

/// Human-readable formats (scenario files, `--set`, JSON): a time with a unit. A bare number
/// other than 0 is refused: `horizon = 10` is 10 s to one reader and 10 ns to another.
struct UnitVisitor;

impl serde::de::Visitor<'_> for UnitVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time with a unit such as \"10ms\" or \"5s\"")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        if v == 0 {
            return Ok(0);
        }
        Err(E::custom(format!(
            "`{v}` is a bare number: write a time with its unit, e.g. \"{v}s\" or \"{v}ms\" (ns, us, ms, s, m, h)"
        )))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        if v < 0 {
            return Err(E::custom(format!("a time cannot be negative, got {v}")));
        }
        self.visit_u64(v as u64)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "`{v}` is a bare number: write a time with its unit, e.g. \"{v}s\" or \"{v}ms\""
        )))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
        parse_nanos(v).map_err(E::custom)
    }
}

fn deserialize_nanos<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    if d.is_human_readable() {
        d.deserialize_any(UnitVisitor)
    } else {
        // Binary formats (postcard traces) keep the plain integer encoding.
        d.deserialize_u64(NanosVisitor)
    }
}

/// A time as text with the largest unit that keeps it exact (`"300s"`, `"1500ms"`, `"0s"`), the
/// form [`parse_nanos`] reads back.
pub fn nanos_with_unit(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if nanos % scale == 0 {
            return format!("{}{unit}", nanos / scale);
        }
    }
    format!("{nanos}ns")
}

fn serialize_nanos<S: serde::Serializer>(nanos: u64, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&nanos_with_unit(nanos))
    } else {
        // Binary formats (postcard traces) keep the plain integer encoding.
        s.serialize_u64(nanos)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_nanos(self.0, s)
    }
}

impl Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_nanos(self.0, s)
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

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later (as
    /// `std::time::Instant::duration_since` does). Use `self - earlier` where `earlier` being
    /// later is a bug that should panic, and [`checked_duration_since`](Self::checked_duration_since)
    /// where it is a case to handle.
    pub const fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }

    /// `self + d`, clamped at `Instant::MAX` instead of overflowing.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// `self + d`, or `None` past `Instant::MAX`.
    pub const fn checked_add(self, d: Duration) -> Option<Instant> {
        match self.0.checked_add(d.0) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
    }

    /// `self - d`, clamped at `Instant::ZERO` (e.g. the start of a window that reaches back
    /// before the run began).
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }

    /// `self - d`, or `None` before `Instant::ZERO`.
    pub const fn checked_sub(self, d: Duration) -> Option<Instant> {
        match self.0.checked_sub(d.0) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
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
    /// Whether this is no time at all.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Duration) -> Option<Duration> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }
    /// `self + other`, clamped at the largest duration.
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
    /// `self - other`, or `None` if `other` is longer (a deadline already passed, say).
    pub const fn checked_sub(self, other: Duration) -> Option<Duration> {
        match self.0.checked_sub(other.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }
    /// `self - other`, or zero if `other` is longer: the time left before a deadline.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }
    /// `self * k`, or `None` on overflow (exponential backoff that may run away).
    pub const fn checked_mul(self, k: u64) -> Option<Duration> {
        match self.0.checked_mul(k) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }
    /// `self * k`, clamped at the largest duration.
    pub const fn saturating_mul(self, k: u64) -> Duration {
        Duration(self.0.saturating_mul(k))
    }
    /// `self / k`, or `None` when `k` is zero.
    pub const fn checked_div(self, k: u64) -> Option<Duration> {
        match self.0.checked_div(k) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }
    /// `self` scaled by `factor` (a drift margin such as `0.9`, a jitter factor), rounded to
    /// the nearest nanosecond and clamped to `[0, the largest duration]`; a NaN factor gives
    /// zero. Deterministic: IEEE-754 multiplication and rounding are exact operations.
    pub fn mul_f64(self, factor: f64) -> Duration {
        let x = self.0 as f64 * factor;
        if x.is_nan() || x <= 0.0 {
            Duration::ZERO
        } else {
            // `as` saturates at u64::MAX, so an overflow clamps instead of wrapping.
            Duration(x.round() as u64)
        }
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

/// `later - earlier` is the time between them. It panics if `earlier` is later: in a run,
/// subtracting a later instant is a logic error. Use [`Instant::duration_since`] (saturating)
/// or [`Instant::checked_duration_since`] when either order can happen.
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

impl AddAssign for Duration {
    fn add_assign(&mut self, o: Duration) {
        *self = *self + o;
    }
}

/// Panics if `o` is longer, like `std::time::Duration`; see [`Duration::saturating_sub`].
impl Sub for Duration {
    type Output = Duration;
    fn sub(self, o: Duration) -> Duration {
        Duration(self.0.checked_sub(o.0).expect("subtracting a longer duration"))
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, o: Duration) {
        *self = *self - o;
    }
}

/// An instant `d` earlier. Panics before `Instant::ZERO`; see [`Instant::saturating_sub`].
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(
            self.0
                .checked_sub(d.0)
                .expect("an instant before the start of the run"),
        )
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, k: u64) -> Duration {
        Duration(self.0.checked_mul(k).expect("duration overflow"))
    }
}

impl Mul<Duration> for u64 {
    type Output = Duration;
    fn mul(self, d: Duration) -> Duration {
        d * self
    }
}

/// Integer division, rounding down. Panics when dividing by zero.
impl Div<u64> for Duration {
    type Output = Duration;
    fn div(self, k: u64) -> Duration {
        Duration(self.0 / k)
    }
}

impl std::iter::Sum for Duration {
    fn sum<I: Iterator<Item = Duration>>(iter: I) -> Duration {
        iter.fold(Duration::ZERO, |a, b| a + b)
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

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Limits {
        horizon: Duration,
        at: Instant,
    }

    #[test]
    fn human_readable_times_carry_units_both_ways() {
        let limits = Limits {
            horizon: Duration::from_secs(300),
            at: Instant(1_500_000),
        };
        let text = toml::to_string(&limits).unwrap();
        assert_eq!(text, "horizon = \"300s\"\nat = \"1500us\"\n");
        assert_eq!(toml::from_str::<Limits>(&text).unwrap(), limits);
        assert_eq!(nanos_with_unit(0), "0s");
        assert_eq!(nanos_with_unit(1_500_000_000), "1500ms");
        assert_eq!(nanos_with_unit(7), "7ns");
        // Zero needs no unit; any other bare number is refused with the fix in the message.
        let zero: Limits = toml::from_str("horizon = 0\nat = \"1s\"").unwrap();
        assert_eq!(zero.horizon, Duration::ZERO);
        let err = toml::from_str::<Limits>("horizon = 10\nat = \"1s\"").unwrap_err();
        assert!(err.to_string().contains("\"10s\" or \"10ms\""), "{err}");
        let err = toml::from_str::<Limits>("horizon = 1.5\nat = \"1s\"").unwrap_err();
        assert!(err.to_string().contains("bare number"), "{err}");
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
    fn duration_arithmetic() {
        let d = Duration::from_millis(10);
        assert_eq!(d - Duration::from_millis(4), Duration::from_millis(6));
        assert_eq!(d.saturating_sub(Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(d.checked_sub(Duration::from_secs(1)), None);
        assert_eq!(
            d.checked_sub(Duration::from_millis(3)),
            Some(Duration::from_millis(7))
        );
        assert_eq!(d * 3, Duration::from_millis(30));
        assert_eq!(3 * d, Duration::from_millis(30));
        assert_eq!(d / 4, Duration::from_micros(2_500));
        assert_eq!(Duration(7) / 2, Duration(3), "rounds down");
        assert_eq!(d.checked_div(0), None);
        assert_eq!(d.checked_mul(u64::MAX), None);
        assert_eq!(d.saturating_mul(u64::MAX), Duration(u64::MAX));
        assert_eq!(Duration(u64::MAX).checked_add(Duration(1)), None);
        assert_eq!(Duration(u64::MAX).saturating_add(Duration(1)), Duration(u64::MAX));
        assert_eq!(d.mul_f64(0.9), Duration::from_millis(9));
        assert_eq!(
            Duration(3).mul_f64(0.5),
            Duration(2),
            "rounds to nearest (half away from zero)"
        );
        assert_eq!(d.mul_f64(-1.0), Duration::ZERO);
        assert_eq!(d.mul_f64(f64::NAN), Duration::ZERO);
        assert_eq!(d.mul_f64(f64::INFINITY), Duration(u64::MAX));
        let mut acc = Duration::ZERO;
        acc += d;
        acc += d;
        acc -= Duration::from_millis(5);
        assert_eq!(acc, Duration::from_millis(15));
        assert_eq!([d, d, d].into_iter().sum::<Duration>(), Duration::from_millis(30));
        assert!(Duration::ZERO.is_zero() && !d.is_zero());
    }

    #[test]
    fn instant_arithmetic() {
        let t = Instant(1_000);
        assert_eq!(t.duration_since(Instant(400)), Duration(600));
        assert_eq!(t.duration_since(Instant(4_000)), Duration::ZERO, "saturates");
        assert_eq!(t.checked_duration_since(Instant(4_000)), None);
        assert_eq!(t.checked_duration_since(Instant(1_000)), Some(Duration::ZERO));
        assert_eq!(t - Duration(300), Instant(700));
        assert_eq!(t.saturating_sub(Duration(5_000)), Instant::ZERO);
        assert_eq!(t.checked_sub(Duration(5_000)), None);
        assert_eq!(Instant::MAX.checked_add(Duration(1)), None);
        assert_eq!(t.checked_add(Duration(1)), Some(Instant(1_001)));
        let mut u = t;
        u -= Duration(1_000);
        assert_eq!(u, Instant::ZERO);
    }

    #[test]
    #[should_panic(expected = "longer duration")]
    fn subtracting_longer_duration_panics() {
        let _ = Duration(1) - Duration(2);
    }

    #[test]
    #[should_panic(expected = "before the start")]
    fn instant_before_zero_panics() {
        let _ = Instant(1) - Duration(2);
    }

    #[test]
    #[should_panic(expected = "later instant")]
    fn subtracting_later_instant_panics() {
        let _ = Instant(1) - Instant(2);
    }
}
