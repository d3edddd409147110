//! The client-side resilience policies, as plain state machines with no engine in them.
//!
//! Each policy is a small value that a caller consults and updates: [`RetryPolicy`] says how
//! long to wait before the next attempt, [`RetryBudget`] (refilled per request) or
//! [`FinagleBudget`] (per request and over time) says whether a retry may be spent,
//! [`CircuitBreaker`] (over the last N calls) or [`HystrixBreaker`] (over a time window) says
//! whether a call may go out at all, and [`Balancer`] picks a backend.
//! Keeping them free of `Context` lets their unit tests drive them through exact sequences,
//! and keeps every random draw on the calling process's own stream (passed in as `&mut Random`).

use ruckus_sim::{Duration, Instant, Random};
use serde::{Deserialize, Serialize};

mod breaker;
mod budget;
mod window;

pub use breaker::{Breaker, HystrixBreaker, HystrixConfig, HystrixState};
pub use budget::{Budget, FinagleBudget, FinagleBudgetConfig};

/// How the wait before a retry is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Never retry.
    #[default]
    None,
    /// Retry at once, with no wait.
    Immediate,
    /// Always wait `base`.
    Fixed,
    /// Wait `min(cap, base * 2^n)` after the n-th failure (n from 0).
    Exponential,
    /// "Full jitter": uniform in `[0, min(cap, base * 2^n)]`.
    FullJitter,
    /// "Equal jitter": half of `min(cap, base * 2^n)` plus uniform in the other half.
    EqualJitter,
    /// "Decorrelated jitter": `min(cap, uniform(base, 3 * previous wait))`.
    DecorrelatedJitter,
}

/// Retry policy: which backoff, its parameters, and how many attempts a call may make.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// How the wait is chosen.
    pub backoff: Backoff,
    /// The base wait.
    pub base: Duration,
    /// The largest wait.
    pub cap: Duration,
    /// Most attempts per call, the first included (0 means unlimited).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Backoff::None,
            base: Duration::from_millis(5),
            cap: Duration::from_secs(2),
            max_attempts: 3,
        }
    }
}

impl RetryPolicy {
    /// Whether a call that has made `attempts` attempts may make another.
    pub fn allows_retry(&self, attempts: u32) -> bool {
        self.backoff != Backoff::None && (self.max_attempts == 0 || attempts < self.max_attempts)
    }

    /// The wait before retry number `failures` (the first retry follows failure 0), given
    /// the previous wait (for decorrelated jitter; use `base` before the first retry).
    pub fn delay(&self, failures: u32, previous: Duration, rng: &mut Random) -> Duration {
        let base = self.base.0;
        let cap = self.cap.0;
        // base * 2^n without overflow: past 63 doublings everything is at the cap anyway.
        let exp = if failures >= 63 {
            cap
        } else {
            base.saturating_mul(1u64 << failures).min(cap)
        };
        let nanos = match self.backoff {
            Backoff::None | Backoff::Immediate => 0,
            Backoff::Fixed => base,
            Backoff::Exponential => exp,
            Backoff::FullJitter => rng.range_inclusive(0, exp),
            Backoff::EqualJitter => exp / 2 + rng.range_inclusive(0, exp - exp / 2),
            Backoff::DecorrelatedJitter => {
                let hi = previous.0.max(base).saturating_mul(3).max(base);
                rng.range_inclusive(base, hi).min(cap)
            }
        };
        Duration(nanos)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.base > self.cap {
            return Err(format!("retry base {} exceeds cap {}", self.base, self.cap));
        }
        Ok(())
    }
}

/// A retry budget: a token bucket that every first attempt fills by `ratio` and every retry
/// drains by one, so retries stay at most about `ratio` of the traffic however bad things get.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// Tokens a first attempt deposits (0.1: retries add at most 10% load).
    pub ratio: f64,
    /// Most tokens the bucket holds.
    pub max_tokens: f64,
    /// Tokens the bucket starts with.
    pub initial_tokens: f64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.1,
            max_tokens: 10.0,
            initial_tokens: 10.0,
        }
    }
}

/// The live state of a retry budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    config: RetryBudgetConfig,
    tokens: f64,
}

impl RetryBudget {
    /// A full-as-configured bucket.
    pub fn new(config: RetryBudgetConfig) -> RetryBudget {
        RetryBudget {
            config,
            tokens: config.initial_tokens.min(config.max_tokens),
        }
    }
    /// A first attempt went out: deposit.
    pub fn on_request(&mut self) {
        self.tokens = (self.tokens + self.config.ratio).min(self.config.max_tokens);
    }
    /// Takes a token for a retry; false (and nothing taken) when the budget is spent.
    pub fn try_spend(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
    /// Tokens left.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

/// Circuit breaker thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// How many recent outcomes the closed breaker looks at.
    pub window: u32,
    /// Fewest outcomes in the window before it may trip.
    pub min_calls: u32,
    /// Failure fraction of the window at which it trips.
    pub failure_ratio: f64,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Probes let through while half-open; all must succeed to close.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: 20,
            min_calls: 10,
            failure_ratio: 0.5,
            open_for: Duration::from_secs(1),
            half_open_probes: 3,
        }
    }
}

/// Where a breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; outcomes are counted.
    Closed,
    /// Calls fail fast until the instant.
    Open {
        /// When it turns half-open.
        until: Instant,
    },
    /// A few probes flow; the rest fail fast.
    HalfOpen {
        /// Probes let through so far.
        sent: u32,
        /// Probes that succeeded so far.
        succeeded: u32,
    },
}

/// A circuit breaker over a count window of recent outcomes.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    /// Recent outcomes, true for failure; a ring of `window` entries.
    outcomes: Vec<bool>,
    next: usize,
    /// How many times it has opened.
    pub trips: u32,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            outcomes: Vec::with_capacity(config.window as usize),
            next: 0,
            trips: 0,
        }
    }

    /// The state at `now` (an open breaker whose time is up reads as half-open).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if let BreakerState::Open { until } = self.state
            && now >= until
        {
            self.state = BreakerState::HalfOpen {
                sent: 0,
                succeeded: 0,
            };
        }
        self.state
    }

    /// Whether a call may go out now; counts half-open probes as they are let through.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { sent, succeeded } => {
                if sent < self.config.half_open_probes {
                    self.state = BreakerState::HalfOpen {
                        sent: sent + 1,
                        succeeded,
                    };
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Whether the breaker is half-open at `now` (a call `allow` lets through is a probe).
    pub fn probing(&mut self, now: Instant) -> bool {
        matches!(self.state(now), BreakerState::HalfOpen { .. })
    }

    /// A probe let through while the breaker had tripped `trips` times will never report (its
    /// call ended another way): if the breaker is still in that half-open spell, its place goes
    /// to the next call. Without this, a half-open breaker whose probes were all dropped would
    /// reject every call for good.
    pub fn abandon_probe(&mut self, now: Instant, trips: u32) {
        if let BreakerState::HalfOpen { sent, succeeded } = self.state(now)
            && trips == self.trips
        {
            self.state = BreakerState::HalfOpen {
                sent: sent.saturating_sub(1),
                succeeded,
            };
        }
    }

    /// Records the outcome of a call that `allow` let through.
    pub fn record(&mut self, now: Instant, failed: bool) {
        match self.state(now) {
            BreakerState::Closed => {
                let window = self.config.window.max(1) as usize;
                if self.outcomes.len() < window {
                    self.outcomes.push(failed);
                } else {
                    self.outcomes[self.next] = failed;
                }
                self.next = (self.next + 1) % window;
                let n = self.outcomes.len();
                let failures = self.outcomes.iter().filter(|f| **f).count();
                if n as u32 >= self.config.min_calls.max(1)
                    && failures as f64 >= self.config.failure_ratio * n as f64
                {
                    self.trip(now);
                }
            }
            BreakerState::Open { .. } => {} // a late answer to a call sent before it tripped
            BreakerState::HalfOpen { sent, succeeded } => {
                if failed {
                    self.trip(now);
                } else if succeeded + 1 >= self.config.half_open_probes.max(1) {
                    self.state = BreakerState::Closed;
                    self.outcomes.clear();
                    self.next = 0;
                } else {
                    self.state = BreakerState::HalfOpen {
                        sent,
                        succeeded: succeeded + 1,
                    };
                }
            }
        }
    }

    fn trip(&mut self, now: Instant) {
        self.trips += 1;
        self.state = BreakerState::Open {
            until: now.saturating_add(self.config.open_for),
        };
    }
}

/// How a caller picks a backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Each backend in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The less busy (fewer outstanding requests from this caller) of two random picks.
    PowerOfTwo,
}

/// Outlier ejection: a backend that fails `consecutive_failures` times in a row is taken out of
/// rotation for `ejection_time`, and returns by itself when that time is up.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EjectionConfig {
    /// Failures in a row that eject a backend.
    pub consecutive_failures: u32,
    /// How long an ejected backend stays out.
    pub ejection_time: Duration,
    /// Most backends out at once, as a fraction of all (so rotation is never empty).
    pub max_ejected_fraction: f64,
}

impl Default for EjectionConfig {
    fn default() -> Self {
        EjectionConfig {
            consecutive_failures: 5,
            ejection_time: Duration::from_secs(5),
            max_ejected_fraction: 0.5,
        }
    }
}

/// Load balancer configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalancerConfig {
    /// How a backend is picked.
    pub policy: Balance,
    /// Outlier ejection, if on.
    pub ejection: Option<EjectionConfig>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Backend {
    outstanding: u32,
    failures_in_a_row: u32,
    ejected_until: Option<Instant>,
}

/// A client-side load balancer over `n` backends (indices `0..n`).
#[derive(Clone, Debug, PartialEq)]
pub struct Balancer {
    config: BalancerConfig,
    backends: Vec<Backend>,
    next: usize,
    /// How many ejections happened.
    pub ejections: u64,
}

impl Balancer {
    /// A balancer over `n` backends, all in rotation. `n` may be 0 (a caller whose backends
    /// are not known yet), but then nothing may be picked until [`Balancer::reindex`] adds some.
    pub fn new(config: BalancerConfig, n: usize) -> Balancer {
        Balancer {
            config,
            backends: vec![Backend::default(); n],
            next: 0,
            ejections: 0,
        }
    }

    /// Whether backend `i` is out of rotation at `now` (returning it when its time is up).
    pub fn is_ejected(&mut self, i: usize, now: Instant) -> bool {
        match self.backends[i].ejected_until {
            Some(t) if now < t => true,
            Some(_) => {
                self.backends[i].ejected_until = None;
                self.backends[i].failures_in_a_row = 0;
                false
            }
            None => false,
        }
    }

    /// Picks a backend, avoiding `avoid` (e.g. the one a hedge duplicates) when possible.
    /// Panics with no backends: the caller checks first.
    pub fn pick(&mut self, now: Instant, avoid: Option<usize>, rng: &mut Random) -> usize {
        let n = self.backends.len();
        assert!(n > 0, "picking from a balancer with no backends");
        let mut live: Vec<usize> = (0..n).filter(|&i| !self.is_ejected(i, now)).collect();
        if live.is_empty() {
            live = (0..n).collect();
        }
        if live.len() > 1
            && let Some(a) = avoid
        {
            live.retain(|&i| i != a);
        }
        match self.config.policy {
            Balance::RoundRobin => {
                // The first live backend at or after the cursor.
                let pick = (0..n)
                    .map(|k| (self.next + k) % n)
                    .find(|i| live.contains(i))
                    .unwrap_or(live[0]);
                self.next = (pick + 1) % n;
                pick
            }
            Balance::Random => live[rng.index(live.len())],
            Balance::PowerOfTwo => {
                let a = live[rng.index(live.len())];
                let b = live[rng.index(live.len())];
                if self.backends[b].outstanding < self.backends[a].outstanding {
                    b
                } else {
                    a
                }
            }
        }
    }

    /// A request went to backend `i`.
    pub fn on_send(&mut self, i: usize) {
        self.backends[i].outstanding += 1;
    }

    /// The request to backend `i` ended, failed or not.
    pub fn on_result(&mut self, i: usize, now: Instant, failed: bool) {
        let b = &mut self.backends[i];
        b.outstanding = b.outstanding.saturating_sub(1);
        if !failed {
            b.failures_in_a_row = 0;
            return;
        }
        b.failures_in_a_row += 1;
        let Some(ej) = self.config.ejection else { return };
        if b.failures_in_a_row < ej.consecutive_failures.max(1) || b.ejected_until.is_some() {
            return;
        }
        let n = self.backends.len();
        let out = (0..n).filter(|&k| self.is_ejected(k, now)).count();
        let max_out = (ej.max_ejected_fraction.clamp(0.0, 1.0) * n as f64).floor() as usize;
        if out < max_out {
            self.backends[i].ejected_until = Some(now.saturating_add(ej.ejection_time));
            self.ejections += 1;
        }
    }

    /// Requests outstanding at backend `i` from this caller.
    pub fn outstanding(&self, i: usize) -> u32 {
        self.backends[i].outstanding
    }

    /// How many backends it balances over.
    pub fn len(&self) -> usize {
        self.backends.len()
    }

    /// Whether it has no backends.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The backend set changed: new backend `k` was old backend `from[k]`, or is new (`None`).
    /// Survivors keep their state (outstanding count, failure streak, ejection), new backends
    /// start fresh, the others are forgotten. The round-robin cursor stays on the first
    /// surviving backend at or after it, so the rotation carries on where it was.
    pub fn reindex(&mut self, from: &[Option<usize>]) {
        let old = std::mem::take(&mut self.backends);
        self.backends = from
            .iter()
            .map(|o| o.map(|j| old[j]).unwrap_or_default())
            .collect();
        let n = old.len();
        self.next = (0..n)
            .map(|k| (self.next + k) % n)
            .find_map(|j| from.iter().position(|&o| o == Some(j)))
            .unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_values_and_jitter_bounds() {
        let mut rng = Random::stream(1, "t", 0);
        let p = |backoff| RetryPolicy {
            backoff,
            base: ms(5),
            cap: ms(100),
            max_attempts: 0,
        };
        let exp = p(Backoff::Exponential);
        let want = [5, 10, 20, 40, 80, 100, 100];
        for (n, w) in want.iter().enumerate() {
            assert_eq!(exp.delay(n as u32, ms(5), &mut rng), ms(*w));
        }
        assert_eq!(exp.delay(200, ms(5), &mut rng), ms(100), "no overflow at huge n");
        assert_eq!(p(Backoff::Fixed).delay(9, ms(5), &mut rng), ms(5));
        assert_eq!(p(Backoff::Immediate).delay(3, ms(5), &mut rng), Duration::ZERO);
        for n in 0..8u32 {
            let ceiling = (5u64 << n).min(100);
            let mut full_lo = u64::MAX;
            let mut full_hi = 0;
            for _ in 0..2000 {
                let f = p(Backoff::FullJitter).delay(n, ms(5), &mut rng).0;
                assert!(f <= ms(ceiling).0);
                full_lo = full_lo.min(f);
                full_hi = full_hi.max(f);
                let e = p(Backoff::EqualJitter).delay(n, ms(5), &mut rng).0;
                assert!(e >= ms(ceiling).0 / 2 && e <= ms(ceiling).0, "equal {e} at n={n}");
            }
            // Full jitter really spreads over the whole range.
            assert!(full_lo < ms(ceiling).0 / 10 && full_hi > ms(ceiling).0 * 9 / 10);
        }
        let mut prev = ms(5);
        for _ in 0..2000 {
            let d = p(Backoff::DecorrelatedJitter).delay(0, prev, &mut rng);
            assert!(
                d >= ms(5) && d <= ms(100) && d.0 <= prev.0 * 3,
                "{d} after {prev}"
            );
            prev = d;
        }
    }

    #[test]
    fn retry_limits() {
        let none = RetryPolicy::default();
        assert!(!none.allows_retry(1));
        let three = RetryPolicy {
            backoff: Backoff::Fixed,
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(three.allows_retry(1) && three.allows_retry(2) && !three.allows_retry(3));
        let bad = RetryPolicy {
            base: ms(10),
            cap: ms(1),
            ..RetryPolicy::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn budget_exhausts_and_refills_by_ratio() {
        let mut b = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.25,
            max_tokens: 2.0,
            initial_tokens: 2.0,
        });
        assert!(b.try_spend() && b.try_spend());
        assert!(!b.try_spend(), "exhausted after two retries");
        for _ in 0..3 {
            b.on_request();
        }
        assert!(!b.try_spend(), "0.75 tokens is not a retry");
        b.on_request();
        assert!(b.try_spend(), "four requests at 0.25 buy one retry");
        for _ in 0..100 {
            b.on_request();
        }
        assert_eq!(b.tokens(), 2.0, "capped");
    }

    #[test]
    fn breaker_trips_half_opens_and_closes() {
        let cfg = BreakerConfig {
            window: 4,
            min_calls: 4,
            failure_ratio: 0.5,
            open_for: ms(100),
            half_open_probes: 2,
        };
        let mut b = CircuitBreaker::new(cfg);
        let t = |n| Instant::ZERO + ms(n);
        // Three outcomes, two failed: not enough calls to judge yet.
        for failed in [true, false, true] {
            assert!(b.allow(t(0)));
            b.record(t(0), failed);
        }
        assert_eq!(b.state(t(0)), BreakerState::Closed);
        assert!(b.allow(t(1)));
        b.record(t(1), false); // 2 of 4 failed = 0.5: trips
        assert_eq!(b.state(t(1)), BreakerState::Open { until: t(101) });
        assert!(!b.allow(t(50)));
        // Half-open after open_for: two probes pass, the third is refused.
        assert!(b.allow(t(101)) && b.allow(t(102)));
        assert!(!b.allow(t(103)));
        b.record(t(104), false);
        assert!(matches!(
            b.state(t(104)),
            BreakerState::HalfOpen { succeeded: 1, .. }
        ));
        b.record(t(105), false);
        assert_eq!(b.state(t(105)), BreakerState::Closed);
        assert_eq!(b.trips, 1);
        // A failed probe reopens it.
        for _ in 0..4 {
            b.allow(t(200));
            b.record(t(200), true);
        }
        assert!(matches!(b.state(t(200)), BreakerState::Open { .. }));
        assert!(b.allow(t(300)));
        b.record(t(301), true);
        assert_eq!(b.state(t(301)), BreakerState::Open { until: t(401) });
        assert_eq!(b.trips, 3);
    }

    #[test]
    fn an_abandoned_probe_gives_its_place_back_in_its_own_half_open_spell_only() {
        let cfg = BreakerConfig {
            window: 2,
            min_calls: 2,
            failure_ratio: 0.5,
            open_for: ms(100),
            half_open_probes: 2,
        };
        let mut b = CircuitBreaker::new(cfg);
        let t = |n| Instant::ZERO + ms(n);
        for _ in 0..2 {
            assert!(b.allow(t(0)));
            b.record(t(0), true);
        }
        // Half-open: a probe and its hedge go out; the probe answers, the hedge is dropped.
        assert!(b.allow(t(100)) && b.probing(t(100)));
        assert!(b.allow(t(101)));
        b.record(t(102), false);
        assert!(!b.allow(t(103)), "both places taken, one outcome still owed");
        b.abandon_probe(t(103), b.trips);
        assert!(b.allow(t(104)), "the dropped hedge's place is free again");
        b.record(t(105), false);
        assert_eq!(b.state(t(105)), BreakerState::Closed);
        // A probe of an earlier spell does not free a place in a later one.
        for _ in 0..2 {
            assert!(b.allow(t(200)));
            b.record(t(200), true);
        }
        let old_spell = b.trips;
        assert!(b.allow(t(300)));
        b.record(t(301), true); // the probe fails: open again, a new spell follows
        assert!(b.allow(t(401)) && b.allow(t(402)));
        b.abandon_probe(t(403), old_spell);
        assert!(!b.allow(t(404)));
    }

    #[test]
    fn breaker_window_forgets_old_failures() {
        let cfg = BreakerConfig {
            window: 4,
            min_calls: 4,
            failure_ratio: 0.75,
            ..BreakerConfig::default()
        };
        let mut b = CircuitBreaker::new(cfg);
        let now = Instant::ZERO;
        for failed in [true, true, false, false, false, true, true] {
            b.record(now, failed);
        }
        // Window is [false, false, true, true]... never 3 of 4 failures at once.
        assert_eq!(b.state(now), BreakerState::Closed);
        b.record(now, true);
        assert!(matches!(b.state(now), BreakerState::Open { .. }));
    }

    #[test]
    fn balancer_policies() {
        let mut rng = Random::stream(2, "t", 0);
        let now = Instant::ZERO;
        let mut rr = Balancer::new(BalancerConfig::default(), 3);
        let picks: Vec<usize> = (0..6).map(|_| rr.pick(now, None, &mut rng)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert_ne!(rr.pick(now, Some(0), &mut rng), 0);

        let mut p2 = Balancer::new(
            BalancerConfig {
                policy: Balance::PowerOfTwo,
                ejection: None,
            },
            2,
        );
        for _ in 0..5 {
            p2.on_send(0);
        }
        // Backend 0 is busier, so whenever the two picks differ backend 1 wins.
        let ones = (0..200).filter(|_| p2.pick(now, None, &mut rng) == 1).count();
        assert!(ones > 120, "p2c favoured the idle backend only {ones}/200 times");

        let mut r = Balancer::new(
            BalancerConfig {
                policy: Balance::Random,
                ejection: None,
            },
            4,
        );
        let mut seen = [0; 4];
        for _ in 0..400 {
            seen[r.pick(now, None, &mut rng)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }

    #[test]
    fn outlier_is_ejected_and_returns() {
        let mut rng = Random::stream(3, "t", 0);
        let ej = EjectionConfig {
            consecutive_failures: 3,
            ejection_time: ms(100),
            max_ejected_fraction: 0.5,
        };
        let mut b = Balancer::new(
            BalancerConfig {
                policy: Balance::RoundRobin,
                ejection: Some(ej),
            },
            4,
        );
        let t = |n| Instant::ZERO + ms(n);
        for _ in 0..2 {
            b.on_send(1);
            b.on_result(1, t(0), true);
        }
        b.on_send(1);
        b.on_result(1, t(0), false); // a success resets the streak
        for _ in 0..3 {
            b.on_send(1);
            b.on_result(1, t(1), true);
        }
        assert_eq!(b.ejections, 1);
        assert!(b.is_ejected(1, t(50)));
        assert!(
            (0..20).all(|_| b.pick(t(50), None, &mut rng) != 1),
            "ejected backend skipped"
        );
        // At most half the backends may be out: 2 more failing backends eject only one.
        for i in [2, 3] {
            for _ in 0..3 {
                b.on_send(i);
                b.on_result(i, t(60), true);
            }
        }
        assert_eq!(b.ejections, 2);
        // Time up: backend 1 is back in rotation.
        assert!(!b.is_ejected(1, t(101)));
        assert!((0..8).any(|_| b.pick(t(101), None, &mut rng) == 1));
    }

    #[test]
    fn reindex_keeps_survivors_state_and_starts_new_backends_fresh() {
        let mut rng = Random::stream(4, "t", 0);
        let ej = EjectionConfig {
            consecutive_failures: 1,
            ejection_time: ms(100),
            max_ejected_fraction: 1.0,
        };
        let config = BalancerConfig {
            policy: Balance::RoundRobin,
            ejection: Some(ej),
        };
        let mut b = Balancer::new(config, 3);
        let now = Instant::ZERO;
        b.on_send(0);
        b.on_send(0);
        b.on_send(2);
        b.on_send(1);
        b.on_result(1, now, true); // ejects 1
        assert!(b.is_ejected(1, now));
        assert_eq!(b.pick(now, None, &mut rng), 0); // cursor now on 1 (ejected), then 2
        // Old 2 becomes 0, old 1 becomes 1, slot 2 is new; old 0 is gone.
        b.reindex(&[Some(2), Some(1), None]);
        assert_eq!(b.len(), 3);
        assert_eq!((b.outstanding(0), b.outstanding(1), b.outstanding(2)), (1, 0, 0));
        assert!(b.is_ejected(1, now), "a surviving backend stays ejected");
        assert!(!b.is_ejected(2, now), "a new backend starts in rotation");
        // The cursor was on old 1, which is now slot 1 (ejected): the rotation goes on at 2.
        let picks: Vec<usize> = (0..4).map(|_| b.pick(now, None, &mut rng)).collect();
        assert_eq!(picks, [2, 0, 2, 0]);
        b.reindex(&[]);
        assert!(b.is_empty());
        b.reindex(&[None]);
        assert_eq!(b.pick(now, None, &mut rng), 0);
    }
}
