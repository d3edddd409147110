//! Hystrix's circuit breaker over a rolling time window, and the caller's choice between it
//! and the count-based breaker.

use super::window::RollingWindow;
use super::{BreakerConfig, CircuitBreaker};
use ruckus_sim::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// A circuit breaker after Hystrix: it opens when, over the rolling window, at least
/// `request_volume_threshold` calls ended and at least `error_threshold_percentage` of them
/// failed; it stays open for `sleep_window`, then lets one trial call through: a success
/// closes it (with a fresh window), a failure opens it for another sleep window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HystrixConfig {
    /// Fewest calls in the window before it may open.
    pub request_volume_threshold: u32,
    /// Failed share of the window's calls, in percent, at which it opens.
    pub error_threshold_percentage: f64,
    /// How long it stays open before the trial call.
    pub sleep_window: Duration,
    /// The span the counts cover.
    pub rolling_window: Duration,
    /// Buckets the window is kept in (old calls leave a bucket at a time).
    pub buckets: u32,
}

impl Default for HystrixConfig {
    /// Hystrix's defaults: 20 calls, 50%, 5 s sleep, a 10 s window in 10 buckets.
    fn default() -> Self {
        HystrixConfig {
            request_volume_threshold: 20,
            error_threshold_percentage: 50.0,
            sleep_window: Duration::from_secs(5),
            rolling_window: Duration::from_secs(10),
            buckets: 10,
        }
    }
}

impl HystrixConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let p = self.error_threshold_percentage;
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            return Err(format!("error_threshold_percentage must be in (0, 100], got {p}"));
        }
        if self.buckets == 0 || self.rolling_window.0 < u64::from(self.buckets) {
            return Err("rolling_window must be > 0 and buckets within 1..=its nanoseconds".into());
        }
        Ok(())
    }
}

/// Where a Hystrix breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HystrixState {
    /// Calls flow and are counted.
    Closed,
    /// Calls fail fast; the trial may go from `since + sleep_window`.
    Open {
        /// When it opened.
        since: Instant,
    },
    /// The trial call is out; everything else fails fast.
    HalfOpen,
}

/// Calls that ended in one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Outcomes {
    ok: u32,
    failed: u32,
}

/// The live state of a Hystrix breaker.
#[derive(Clone, Debug, PartialEq)]
pub struct HystrixBreaker {
    config: HystrixConfig,
    state: HystrixState,
    window: RollingWindow<Outcomes>,
    /// How many times it has opened.
    pub trips: u32,
}

impl HystrixBreaker {
    /// A closed breaker.
    pub fn new(config: HystrixConfig) -> HystrixBreaker {
        HystrixBreaker {
            config,
            state: HystrixState::Closed,
            window: RollingWindow::new(config.rolling_window, config.buckets),
            trips: 0,
        }
    }

    /// Where it is.
    pub fn state(&self) -> HystrixState {
        self.state
    }

    /// Whether a call may go out now; the first call after the sleep window is the trial.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            HystrixState::Closed => true,
            HystrixState::Open { since } if now >= since.saturating_add(self.config.sleep_window) => {
                self.state = HystrixState::HalfOpen;
                true
            }
            HystrixState::Open { .. } | HystrixState::HalfOpen => false,
        }
    }

    /// Whether the trial call is out (a call `allow` just let through is the trial).
    pub fn probing(&self) -> bool {
        self.state == HystrixState::HalfOpen
    }

    /// The trial let through while it had opened `trips` times will never report: if that
    /// trial is still awaited, the next call after it may be the trial instead.
    pub fn abandon_probe(&mut self, now: Instant, trips: u32) {
        if self.state == HystrixState::HalfOpen && trips == self.trips {
            // Open with the sleep already over: the next call is the trial.
            self.state = HystrixState::Open {
                since: Instant(now.as_nanos().saturating_sub(self.config.sleep_window.0)),
            };
        }
    }

    /// Records the outcome of a call `allow` let through.
    pub fn record(&mut self, now: Instant, failed: bool) {
        match self.state {
            HystrixState::Closed => {
                let b = self.window.current(now);
                if failed {
                    b.failed += 1;
                } else {
                    b.ok += 1;
                }
                let (ok, bad) = self.window.buckets(now).iter().fold((0u64, 0u64), |(o, f), b| {
                    (o + u64::from(b.ok), f + u64::from(b.failed))
                });
                let total = ok + bad;
                if total >= u64::from(self.config.request_volume_threshold)
                    && bad as f64 * 100.0 >= self.config.error_threshold_percentage * total as f64
                {
                    self.open(now);
                }
            }
            // A late answer to a call sent before it opened.
            HystrixState::Open { .. } => {}
            HystrixState::HalfOpen if failed => self.open(now),
            HystrixState::HalfOpen => {
                self.state = HystrixState::Closed;
                self.window.clear();
            }
        }
    }

    fn open(&mut self, now: Instant) {
        self.trips += 1;
        self.state = HystrixState::Open { since: now };
    }
}

/// A caller's circuit breaker: over the last N calls or over a time window.
#[derive(Clone, Debug, PartialEq)]
pub enum Breaker {
    /// [`CircuitBreaker`] (resilience4j's count-based window).
    Count(CircuitBreaker),
    /// [`HystrixBreaker`] (a rolling time window).
    Hystrix(HystrixBreaker),
}

impl Breaker {
    /// The breaker a caller configures: Hystrix's if set, else the count-based one, if any.
    pub fn from_config(count: Option<BreakerConfig>, hystrix: Option<HystrixConfig>) -> Option<Breaker> {
        match (hystrix, count) {
            (Some(h), _) => Some(Breaker::Hystrix(HystrixBreaker::new(h))),
            (None, Some(c)) => Some(Breaker::Count(CircuitBreaker::new(c))),
            (None, None) => None,
        }
    }

    /// Whether a call may go out now.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self {
            Breaker::Count(b) => b.allow(now),
            Breaker::Hystrix(b) => b.allow(now),
        }
    }

    /// Whether a call let through now is a probe (a trial).
    pub fn probing(&mut self, now: Instant) -> bool {
        match self {
            Breaker::Count(b) => b.probing(now),
            Breaker::Hystrix(b) => b.probing(),
        }
    }

    /// How many times it has opened.
    pub fn trips(&self) -> u32 {
        match self {
            Breaker::Count(b) => b.trips,
            Breaker::Hystrix(b) => b.trips,
        }
    }

    /// A probe sent after `trips` openings will never report.
    pub fn abandon_probe(&mut self, now: Instant, trips: u32) {
        match self {
            Breaker::Count(b) => b.abandon_probe(now, trips),
            Breaker::Hystrix(b) => b.abandon_probe(now, trips),
        }
    }

    /// Records a call's outcome.
    pub fn record(&mut self, now: Instant, failed: bool) {
        match self {
            Breaker::Count(b) => b.record(now, failed),
            Breaker::Hystrix(b) => b.record(now, failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn the_volume_threshold_holds_it_closed() {
        let mut b = HystrixBreaker::new(HystrixConfig::default());
        for i in 0..19 {
            assert!(b.allow(at(i * 100)));
            b.record(at(i * 100), true);
        }
        assert_eq!(
            b.state(),
            HystrixState::Closed,
            "19 failures of 19 is under the volume"
        );
        b.record(at(1900), true);
        assert_eq!(b.state(), HystrixState::Open { since: at(1900) });
        // Failures spread thinner than the window never reach the volume.
        let mut b = HystrixBreaker::new(HystrixConfig::default());
        for i in 0..100 {
            b.record(at(i * 600), true);
        }
        assert_eq!(b.state(), HystrixState::Closed, "at most 17 calls in any 10 s");
    }

    #[test]
    fn it_opens_at_fifty_percent_errors() {
        let mut b = HystrixBreaker::new(HystrixConfig::default());
        for i in 0..11 {
            b.record(at(i), false);
        }
        for i in 0..9 {
            b.record(at(20 + i), true);
        }
        assert_eq!(b.state(), HystrixState::Closed, "9 of 20 is 45%");
        b.record(at(40), true);
        assert_eq!(b.state(), HystrixState::Closed, "10 of 21 is 47.6%");
        b.record(at(41), true);
        assert_eq!(b.state(), HystrixState::Open { since: at(41) }, "11 of 22 is 50%");
        // Old successes leave the window: what is left decides.
        let mut b = HystrixBreaker::new(HystrixConfig::default());
        for i in 0..30 {
            b.record(at(i), false);
        }
        for i in 0..20 {
            b.record(at(10_500 + i), i % 2 == 0);
        }
        assert_eq!(
            b.state(),
            HystrixState::Open { since: at(10_519) },
            "10 of 20 once the successes expired"
        );
    }

    #[test]
    fn after_the_sleep_window_one_trial_call_decides() {
        let mut b = HystrixBreaker::new(HystrixConfig::default());
        for i in 0..20 {
            b.record(at(i), true);
        }
        assert_eq!(b.trips, 1);
        assert!(!b.allow(at(5018)), "still sleeping");
        assert!(b.allow(at(5019)) && b.probing(), "the trial");
        assert!(!b.allow(at(5020)), "one trial only");
        b.record(at(5030), true);
        assert_eq!(
            b.state(),
            HystrixState::Open { since: at(5030) },
            "a failed trial sleeps again"
        );
        assert_eq!(b.trips, 2);
        assert!(!b.allow(at(10_029)));
        assert!(b.allow(at(10_030)));
        // A trial that never reports gives its place to the next call.
        b.abandon_probe(at(10_100), b.trips);
        assert!(b.allow(at(10_100)) && b.probing());
        b.abandon_probe(at(10_110), b.trips - 1);
        assert!(!b.allow(at(10_120)), "a stale trial frees nothing");
        b.record(at(10_200), false);
        assert_eq!(b.state(), HystrixState::Closed, "a good trial closes it");
        // With a fresh window: 19 failures do not open it again.
        for i in 0..19 {
            b.record(at(10_300 + i), true);
        }
        assert_eq!(b.state(), HystrixState::Closed);
    }

    #[test]
    fn config_checks() {
        assert!(HystrixConfig::default().validate().is_ok());
        let bad = HystrixConfig {
            error_threshold_percentage: 0.0,
            ..HystrixConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = HystrixConfig {
            buckets: 0,
            ..HystrixConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
