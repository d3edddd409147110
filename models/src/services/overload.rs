//! Overload protection, as plain state machines with no engine in them (like [`super::policy`]).
//!
//! On the calling side: [`AdaptiveThrottle`] (the Google SRE book's client-side throttling),
//! [`Bulkhead`] (a per-dependency concurrency cap with its own queue) and [`Fallback`] (answer
//! from a static default or a cached last-good response when a call fails). On the serving
//! side: [`ConcurrencyLimiter`] (a fixed limit or the AIMD, Vegas and Gradient limiters of
//! Netflix's concurrency-limits library) and [`RateLimiter`] (token buckets, global or per
//! client). Each is off unless a scenario switches it on.

use crate::discovery::swim::log10;
use ruckus_sim::{Duration, Instant, ProcessId, Random};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Client-side adaptive throttling ("Handling Overload", Site Reliability Engineering, 2016):
/// the client rejects a request locally with probability
/// `max(0, (requests - k * accepts) / (requests + 1))` over the last `window`. Every attempt
/// (retries and hedges too) is a request, locally rejected ones included; an accept is an
/// attempt answered successfully (errors, sheds and timeouts are not).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Multiplier of accepts (2: the backend sees about twice what it accepts under overload;
    /// lower is more aggressive).
    pub k: f64,
    /// How far back requests and accepts are counted (the book uses 2 minutes; 10 s by default
    /// here, simulated runs are short). Kept as 10 buckets of a tenth each.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            k: 2.0,
            window: Duration::from_secs(10),
        }
    }
}

/// Buckets a throttle window is cut into.
const THROTTLE_BUCKETS: usize = 10;

/// The SRE-book rejection probability: `max(0, (requests - k * accepts) / (requests + 1))`.
pub fn rejection_probability(requests: u64, accepts: u64, k: f64) -> f64 {
    let r = requests as f64;
    ((r - k * accepts as f64) / (r + 1.0)).max(0.0)
}

/// The live state of a client-side adaptive throttle.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveThrottle {
    config: ThrottleConfig,
    /// (requests, accepts) per bucket, a ring indexed by bucket number modulo its length.
    buckets: [(u64, u64); THROTTLE_BUCKETS],
    /// The bucket number (time / bucket length) the ring is current to.
    current: u64,
}

impl AdaptiveThrottle {
    /// A throttle with empty history.
    pub fn new(config: ThrottleConfig) -> AdaptiveThrottle {
        AdaptiveThrottle {
            config,
            buckets: [(0, 0); THROTTLE_BUCKETS],
            current: 0,
        }
    }

    fn bucket_len(&self) -> u64 {
        (self.config.window.0 / THROTTLE_BUCKETS as u64).max(1)
    }

    /// Moves the ring to `now`, clearing the buckets that fell out of the window.
    fn advance(&mut self, now: Instant) {
        let n = now.as_nanos() / self.bucket_len();
        let stale = n.saturating_sub(self.current).min(THROTTLE_BUCKETS as u64);
        for k in 1..=stale {
            self.buckets[((self.current + k) % THROTTLE_BUCKETS as u64) as usize] = (0, 0);
        }
        self.current = self.current.max(n);
    }

    fn slot(&mut self) -> &mut (u64, u64) {
        &mut self.buckets[(self.current % THROTTLE_BUCKETS as u64) as usize]
    }

    /// Requests and accepts over the window ending at `now`.
    pub fn totals(&mut self, now: Instant) -> (u64, u64) {
        self.advance(now);
        self.buckets
            .iter()
            .fold((0, 0), |(r, a), &(br, ba)| (r + br, a + ba))
    }

    /// The current rejection probability.
    pub fn probability(&mut self, now: Instant) -> f64 {
        let (r, a) = self.totals(now);
        rejection_probability(r, a, self.config.k)
    }

    /// Whether a request may go out; it is counted either way (locally rejected requests are
    /// requests too). Draws from `rng` only when the probability is above zero.
    pub fn admit(&mut self, now: Instant, rng: &mut Random) -> bool {
        let p = self.probability(now);
        self.slot().0 += 1;
        p <= 0.0 || !rng.chance(p)
    }

    /// The backend accepted a request.
    pub fn on_accept(&mut self, now: Instant) {
        self.advance(now);
        self.slot().1 += 1;
    }
}

/// A bulkhead: at most `max_concurrent` calls to one dependency at once, up to `max_queue` more
/// waiting for a slot, the rest rejected, so one slow dependency cannot hold all of a caller's
/// capacity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls in flight at once (10 by default).
    pub max_concurrent: u32,
    /// Calls waiting for a slot (0 by default: a plain semaphore, reject when full).
    pub max_queue: u32,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 10,
            max_queue: 0,
        }
    }
}

/// What a bulkhead says to a new call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// A slot is the call's.
    Granted,
    /// The call waits for a slot.
    Queued,
    /// Full and its queue full: the call fails at once.
    Rejected,
}

/// The live state of a bulkhead.
#[derive(Clone, Debug, PartialEq)]
pub struct Bulkhead {
    config: BulkheadConfig,
    in_use: u32,
    waiting: VecDeque<u64>,
}

impl Bulkhead {
    /// An empty bulkhead.
    pub fn new(config: BulkheadConfig) -> Bulkhead {
        Bulkhead {
            config,
            in_use: 0,
            waiting: VecDeque::new(),
        }
    }

    /// Asks for a slot for call `id`.
    pub fn acquire(&mut self, id: u64) -> Permit {
        if self.in_use < self.config.max_concurrent.max(1) {
            self.in_use += 1;
            Permit::Granted
        } else if self.waiting.len() < self.config.max_queue as usize {
            self.waiting.push_back(id);
            Permit::Queued
        } else {
            Permit::Rejected
        }
    }

    /// A call gives its slot back; the slot passes to the oldest waiting call, returned.
    pub fn release(&mut self) -> Option<u64> {
        match self.waiting.pop_front() {
            Some(next) => Some(next),
            None => {
                self.in_use = self.in_use.saturating_sub(1);
                None
            }
        }
    }

    /// Slots in use.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Calls waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

/// What a caller answers with when a call fails (error, timeout, shed, breaker open, throttled,
/// bulkhead full). Counted as `fallbacks`, never as successes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FallbackConfig {
    /// A static default: always available, never stale.
    Static,
    /// The last good response, if it is at most `max_staleness` old (otherwise the call fails).
    /// One cached response per caller: the model's requests carry no keys.
    Cached {
        /// Oldest cached response that may be served.
        max_staleness: Duration,
    },
}

/// The live state of a fallback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fallback {
    config: FallbackConfig,
    last_good: Option<Instant>,
}

impl Fallback {
    /// A fallback with nothing cached yet.
    pub fn new(config: FallbackConfig) -> Fallback {
        Fallback {
            config,
            last_good: None,
        }
    }

    /// A call succeeded at `now`: its response is the freshest.
    pub fn on_success(&mut self, now: Instant) {
        self.last_good = Some(now);
    }

    /// The fallback answer at `now`, as the age of what it serves (zero for a static default),
    /// or `None` when there is nothing fresh enough.
    pub fn answer(&self, now: Instant) -> Option<Duration> {
        match self.config {
            FallbackConfig::Static => Some(Duration::ZERO),
            FallbackConfig::Cached { max_staleness } => {
                let age = now.saturating_since(self.last_good?);
                (age <= max_staleness).then_some(age)
            }
        }
    }

    /// The staleness bound (`None` for a static default).
    pub fn max_staleness(&self) -> Option<Duration> {
        match self.config {
            FallbackConfig::Static => None,
            FallbackConfig::Cached { max_staleness } => Some(max_staleness),
        }
    }
}

/// An adaptive (or fixed) concurrency limit on the requests inside a server, after Netflix's
/// concurrency-limits library. Requests beyond the limit are rejected at once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LimiterConfig {
    /// A fixed limit.
    Fixed {
        /// Requests inside the server (queued or working) at once.
        limit: u32,
    },
    /// Additive increase, multiplicative decrease on drops or slow responses.
    Aimd(AimdConfig),
    /// TCP Vegas: estimates the queue from the ratio of the no-load latency to the latency now.
    Vegas(VegasConfig),
    /// Gradient: the ratio of a long-term latency average to the latest latency.
    Gradient(GradientConfig),
}

/// AIMD limiter parameters (defaults follow concurrency-limits' `AIMDLimit` where they fit).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AimdConfig {
    /// Starting limit (20).
    pub initial_limit: u32,
    /// Smallest limit (1).
    pub min_limit: u32,
    /// Largest limit (1000).
    pub max_limit: u32,
    /// Factor applied on a drop or a slow response (0.9).
    pub backoff_ratio: f64,
    /// A response slower than this counts as a drop (1 s; the library uses 5 s).
    pub latency_threshold: Duration,
}

impl Default for AimdConfig {
    fn default() -> Self {
        AimdConfig {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 1000,
            backoff_ratio: 0.9,
            latency_threshold: Duration::from_secs(1),
        }
    }
}

/// Vegas limiter parameters (defaults follow concurrency-limits' `VegasLimit`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VegasConfig {
    /// Starting limit (20).
    pub initial_limit: u32,
    /// Smallest limit (1).
    pub min_limit: u32,
    /// Largest limit (1000).
    pub max_limit: u32,
    /// Below `alpha * log10(limit)` queued requests, grow (3).
    pub alpha: f64,
    /// Above `beta * log10(limit)` queued requests, shrink (6).
    pub beta: f64,
    /// Weight of a new limit against the old (1: no smoothing).
    pub smoothing: f64,
    /// Samples between resets of the no-load latency to the latest one, so it can follow a
    /// backend that got slower for good (1000).
    pub probe_every: u32,
    /// Finished requests averaged into one sample (100). The no-load latency is a minimum,
    /// which noisy small windows drag far below the real one, pinning the limit low (with
    /// exponential service times, 10 was too few in `services::tests`). The library closes a
    /// window after at least 10 samples and 1 s.
    pub window: u32,
}

impl Default for VegasConfig {
    fn default() -> Self {
        VegasConfig {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 1000,
            alpha: 3.0,
            beta: 6.0,
            smoothing: 1.0,
            probe_every: 1000,
            window: 100,
        }
    }
}

/// Gradient limiter parameters (defaults follow concurrency-limits' `Gradient2Limit`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradientConfig {
    /// Starting limit (20).
    pub initial_limit: u32,
    /// Smallest limit (1).
    pub min_limit: u32,
    /// Largest limit (1000).
    pub max_limit: u32,
    /// Latency growth tolerated before shrinking: the gradient is `tolerance * long / short` (1.5).
    pub tolerance: f64,
    /// Weight of a new limit against the old (0.2).
    pub smoothing: f64,
    /// Samples in the long-term latency average (600).
    pub long_window: u32,
    /// Headroom added to the limit at each sample, so it can grow (4).
    pub queue_size: f64,
    /// Finished requests averaged into one sample (10, like the library's windowed limit).
    pub window: u32,
}

impl Default for GradientConfig {
    fn default() -> Self {
        GradientConfig {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 1000,
            tolerance: 1.5,
            smoothing: 0.2,
            long_window: 600,
            queue_size: 4.0,
            window: 10,
        }
    }
}

impl LimiterConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let bounds = |initial: u32, min: u32, max: u32| {
            if min == 0 || min > max || !(min..=max).contains(&initial) {
                Err(format!(
                    "limits must satisfy 1 <= min_limit ({min}) <= initial_limit ({initial}) <= max_limit ({max})"
                ))
            } else {
                Ok(())
            }
        };
        let fraction = |name: &str, x: f64| {
            if x > 0.0 && x <= 1.0 {
                Ok(())
            } else {
                Err(format!("{name} must be in (0, 1], got {x}"))
            }
        };
        match *self {
            LimiterConfig::Fixed { limit: 0 } => Err("limit must be at least 1".into()),
            LimiterConfig::Fixed { .. } => Ok(()),
            LimiterConfig::Aimd(c) => {
                bounds(c.initial_limit, c.min_limit, c.max_limit)?;
                fraction("backoff_ratio", c.backoff_ratio)
            }
            LimiterConfig::Vegas(c) => {
                bounds(c.initial_limit, c.min_limit, c.max_limit)?;
                fraction("smoothing", c.smoothing)?;
                if !(c.alpha > 0.0 && c.beta > c.alpha) {
                    return Err("vegas needs 0 < alpha < beta".into());
                }
                Ok(())
            }
            LimiterConfig::Gradient(c) => {
                bounds(c.initial_limit, c.min_limit, c.max_limit)?;
                fraction("smoothing", c.smoothing)?;
                if !(c.tolerance >= 1.0 && c.long_window > 0 && c.queue_size >= 0.0) {
                    return Err("gradient needs tolerance >= 1, long_window > 0, queue_size >= 0".into());
                }
                Ok(())
            }
        }
    }
}

/// One finished request as a limiter sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Time from arrival to answer.
    pub latency: Duration,
    /// Requests inside the server when it finished (itself included).
    pub in_flight: u32,
    /// It was dropped for overload (shed or expired in the queue).
    pub dropped: bool,
}

/// The live state of a concurrency limiter.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcurrencyLimiter {
    config: LimiterConfig,
    /// The limit, kept fractional so small steps add up.
    limit: f64,
    /// Vegas: the smallest latency seen since the last probe (ns). Gradient: the long average.
    base_latency: f64,
    samples: u64,
    /// Requests gathered into the next sample (Vegas and Gradient).
    pending: Window,
}

/// Finished requests not yet averaged into a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Window {
    count: u32,
    latency_sum: u64,
    max_in_flight: u32,
    dropped: bool,
}

impl ConcurrencyLimiter {
    /// A limiter at its initial limit.
    pub fn new(config: LimiterConfig) -> ConcurrencyLimiter {
        let initial = match config {
            LimiterConfig::Fixed { limit } => limit,
            LimiterConfig::Aimd(c) => c.initial_limit,
            LimiterConfig::Vegas(c) => c.initial_limit,
            LimiterConfig::Gradient(c) => c.initial_limit,
        };
        ConcurrencyLimiter {
            config,
            limit: f64::from(initial),
            base_latency: 0.0,
            samples: 0,
            pending: Window::default(),
        }
    }

    /// Gathers `s` into the window; once `size` requests are in, the averaged sample (mean
    /// latency, most in flight, any drop).
    fn windowed(&mut self, s: Sample, size: u32) -> Option<Sample> {
        let w = &mut self.pending;
        w.count += 1;
        w.latency_sum += s.latency.0;
        w.max_in_flight = w.max_in_flight.max(s.in_flight);
        w.dropped |= s.dropped;
        if w.count < size.max(1) {
            return None;
        }
        let out = Sample {
            latency: Duration(w.latency_sum / u64::from(w.count)),
            in_flight: w.max_in_flight,
            dropped: w.dropped,
        };
        self.pending = Window::default();
        Some(out)
    }

    /// Requests allowed inside at once.
    pub fn limit(&self) -> u32 {
        (self.limit.floor() as u32).max(1)
    }

    /// Whether a new request may come in with `in_flight` already inside.
    pub fn admits(&self, in_flight: u32) -> bool {
        in_flight < self.limit()
    }

    /// Adjusts the limit after a request finished.
    pub fn on_sample(&mut self, s: Sample) {
        let size = match self.config {
            LimiterConfig::Vegas(c) => c.window,
            LimiterConfig::Gradient(c) => c.window,
            LimiterConfig::Fixed { .. } | LimiterConfig::Aimd(_) => 1,
        };
        let s = if size > 1 {
            match self.windowed(s, size) {
                Some(s) => s,
                None => return,
            }
        } else {
            s
        };
        self.samples += 1;
        let rtt = s.latency.0.max(1) as f64;
        let inflight = f64::from(s.in_flight);
        let clamp = |x: f64, min: u32, max: u32| x.clamp(f64::from(min), f64::from(max));
        match self.config {
            LimiterConfig::Fixed { .. } => {}
            LimiterConfig::Aimd(c) => {
                self.limit = clamp(
                    aimd_step(self.limit, s, c.backoff_ratio, c.latency_threshold),
                    c.min_limit,
                    c.max_limit,
                );
            }
            LimiterConfig::Vegas(c) => {
                let probe = c.probe_every > 0 && self.samples % u64::from(c.probe_every) == 0;
                if self.base_latency == 0.0 || rtt < self.base_latency || probe {
                    self.base_latency = rtt;
                }
                if s.dropped {
                    let next = clamp(self.limit - vegas_step(self.limit), c.min_limit, c.max_limit);
                    self.limit = (1.0 - c.smoothing) * self.limit + c.smoothing * next;
                    return;
                }
                // Application-limited: too few requests to learn from.
                if inflight * 2.0 < self.limit {
                    return;
                }
                let queue = vegas_queue(self.limit, self.base_latency, rtt);
                let step = vegas_step(self.limit);
                let next = if queue <= step {
                    self.limit + c.beta * step
                } else if queue < c.alpha * step {
                    self.limit + step
                } else if queue > c.beta * step {
                    self.limit - step
                } else {
                    return;
                };
                let next = clamp(next, c.min_limit, c.max_limit);
                self.limit = (1.0 - c.smoothing) * self.limit + c.smoothing * next;
            }
            LimiterConfig::Gradient(c) => {
                if self.base_latency == 0.0 {
                    self.base_latency = rtt;
                } else {
                    let w = 2.0 / (f64::from(c.long_window) + 1.0);
                    self.base_latency += (rtt - self.base_latency) * w;
                }
                // After a long slow spell the average lags: let it come down faster.
                if self.base_latency / rtt > 2.0 {
                    self.base_latency *= 0.95;
                }
                if inflight < self.limit / 2.0 {
                    return;
                }
                let next = gradient_limit(self.limit, self.base_latency, rtt, c.tolerance, c.queue_size);
                let next = (1.0 - c.smoothing) * self.limit + c.smoothing * next;
                self.limit = clamp(next, c.min_limit, c.max_limit);
            }
        }
    }
}

/// One AIMD step: multiply by `ratio` (rounded down) on a drop or a response slower than
/// `threshold`; add one when at least half the limit is in use; otherwise keep.
pub fn aimd_step(limit: f64, s: Sample, ratio: f64, threshold: Duration) -> f64 {
    if s.dropped || s.latency > threshold {
        (limit * ratio).floor()
    } else if f64::from(s.in_flight) * 2.0 >= limit {
        limit + 1.0
    } else {
        limit
    }
}

/// Vegas's queue estimate: `ceil(limit * (1 - no_load / rtt))` requests waiting.
pub fn vegas_queue(limit: f64, no_load: f64, rtt: f64) -> f64 {
    (limit * (1.0 - no_load / rtt)).ceil()
}

/// Vegas's step, `log10(limit)`, at least 1 so a small limit can still move.
pub fn vegas_step(limit: f64) -> f64 {
    log10(limit.max(1.0)).max(1.0)
}

/// Gradient's new limit before smoothing: `limit * clamp(tolerance * long / short, 0.5, 1) +
/// queue_size`.
pub fn gradient_limit(limit: f64, long: f64, short: f64, tolerance: f64, queue_size: f64) -> f64 {
    let gradient = (tolerance * long / short).clamp(0.5, 1.0);
    limit * gradient + queue_size
}

/// Server-side rate limiting by token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Tokens added per second (1000).
    pub rate: f64,
    /// Most tokens held, the burst allowed after a quiet spell (100).
    pub burst: f64,
    /// One bucket per calling process instead of one for everyone (false).
    pub per_client: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            rate: 1000.0,
            burst: 100.0,
            per_client: false,
        }
    }
}

/// A token bucket that starts full.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            refilled: now,
        }
    }

    /// Tokens at `now`, after refilling at `rate` per second up to `burst`.
    pub fn tokens(&mut self, now: Instant) -> f64 {
        let elapsed = now.saturating_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = self.refilled.max(now);
        self.tokens
    }

    /// Takes a token if there is a whole one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.tokens(now) >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A server's rate limiter: one bucket, or one per caller.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimiter {
    config: RateLimitConfig,
    global: Option<TokenBucket>,
    per_client: BTreeMap<ProcessId, TokenBucket>,
}

impl RateLimiter {
    /// A limiter whose buckets start full.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            global: None,
            per_client: BTreeMap::new(),
        }
    }

    /// Whether a request from `from` at `now` gets a token.
    pub fn allow(&mut self, from: ProcessId, now: Instant) -> bool {
        let c = self.config;
        let bucket = if c.per_client {
            self.per_client
                .entry(from)
                .or_insert_with(|| TokenBucket::new(c.rate, c.burst, now))
        } else {
            self.global
                .get_or_insert_with(|| TokenBucket::new(c.rate, c.burst, now))
        };
        bucket.try_take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn at(n: u64) -> Instant {
        Instant::ZERO + ms(n)
    }

    #[test]
    fn sre_rejection_probability_by_hand() {
        // (100 - 2*30) / 101 = 40/101.
        assert!((rejection_probability(100, 30, 2.0) - 40.0 / 101.0).abs() < 1e-12);
        // Accepting half or more with K = 2: never reject.
        assert_eq!(rejection_probability(100, 50, 2.0), 0.0);
        assert_eq!(rejection_probability(100, 80, 2.0), 0.0);
        // Nothing accepted: 100/101.
        assert!((rejection_probability(100, 0, 2.0) - 100.0 / 101.0).abs() < 1e-12);
        // K = 1.1: (100 - 55) / 101.
        assert!((rejection_probability(100, 50, 1.1) - 45.0 / 101.0).abs() < 1e-12);
        assert_eq!(rejection_probability(0, 0, 2.0), 0.0);
    }

    #[test]
    fn throttle_counts_over_a_sliding_window() {
        let cfg = ThrottleConfig {
            k: 2.0,
            window: ms(1000),
        };
        let mut t = AdaptiveThrottle::new(cfg);
        let mut rng = Random::stream(1, "t", 0);
        // No history: probability 0, so the request goes and nothing is drawn.
        let before = rng.clone();
        assert!(t.admit(at(0), &mut rng));
        assert_eq!(rng.clone().next_u64(), before.clone().next_u64());
        // One request, no accepts yet: (1 - 0) / 2.
        assert_eq!(t.probability(at(1)), 0.5);
        for _ in 1..10 {
            t.slot().0 += 1;
        }
        t.on_accept(at(50));
        // 10 requests, 1 accept: (10 - 2) / 11.
        assert!((t.probability(at(99)) - 8.0 / 11.0).abs() < 1e-12);
        // Buckets of 100 ms: at t = 1000 ms the first bucket (0..100 ms) falls out.
        assert_eq!(t.totals(at(999)), (10, 1));
        t.admit(at(500), &mut rng);
        assert_eq!(t.totals(at(1000)), (1, 0));
        assert_eq!(t.totals(at(5000)), (0, 0), "a long gap clears it all");
        // Under overload the admitted share follows the formula.
        let mut t = AdaptiveThrottle::new(cfg);
        for _ in 0..1000 {
            t.slot().0 += 1;
        }
        t.slot().1 += 100;
        let p = t.probability(at(0));
        assert!((p - 800.0 / 1001.0).abs() < 1e-12);
        let admitted = (0..10_000).filter(|_| t.admit(at(0), &mut rng)).count();
        // The probability drifts up as requests are counted; it stays near 0.8-0.99.
        assert!(admitted < 2_000, "{admitted} admitted");
    }

    #[test]
    fn bulkhead_grants_queues_rejects_and_hands_over() {
        let mut b = Bulkhead::new(BulkheadConfig {
            max_concurrent: 2,
            max_queue: 1,
        });
        assert_eq!(b.acquire(1), Permit::Granted);
        assert_eq!(b.acquire(2), Permit::Granted);
        assert_eq!(b.acquire(3), Permit::Queued);
        assert_eq!(b.acquire(4), Permit::Rejected);
        assert_eq!(b.release(), Some(3), "the slot passes to the waiting call");
        assert_eq!(b.in_use(), 2);
        assert_eq!(b.release(), None);
        assert_eq!(b.in_use(), 1);
        assert_eq!(b.acquire(5), Permit::Granted);
        assert_eq!(b.acquire(6), Permit::Queued);
    }

    #[test]
    fn fallback_static_and_cached_staleness() {
        let s = Fallback::new(FallbackConfig::Static);
        assert_eq!(s.answer(at(5)), Some(Duration::ZERO));
        let mut c = Fallback::new(FallbackConfig::Cached {
            max_staleness: ms(100),
        });
        assert_eq!(c.answer(at(5)), None, "nothing cached yet");
        c.on_success(at(10));
        assert_eq!(c.answer(at(60)), Some(ms(50)));
        assert_eq!(c.answer(at(110)), Some(ms(100)), "the bound itself is allowed");
        assert_eq!(c.answer(at(111)), None);
        c.on_success(at(200));
        assert_eq!(c.answer(at(250)), Some(ms(50)));
    }

    fn sample(latency_ms: u64, in_flight: u32, dropped: bool) -> Sample {
        Sample {
            latency: ms(latency_ms),
            in_flight,
            dropped,
        }
    }

    #[test]
    fn aimd_steps_by_hand() {
        let t = ms(100);
        assert_eq!(
            aimd_step(20.0, sample(10, 10, false), 0.9, t),
            21.0,
            "half in use: +1"
        );
        assert_eq!(
            aimd_step(20.0, sample(10, 9, false), 0.9, t),
            20.0,
            "app-limited: keep"
        );
        assert_eq!(
            aimd_step(20.0, sample(10, 20, true), 0.9, t),
            18.0,
            "drop: floor(20*0.9)"
        );
        assert_eq!(
            aimd_step(25.0, sample(101, 20, false), 0.9, t),
            22.0,
            "slow: floor(22.5)"
        );
        let mut l = ConcurrencyLimiter::new(LimiterConfig::Aimd(AimdConfig {
            initial_limit: 2,
            min_limit: 2,
            max_limit: 3,
            ..AimdConfig::default()
        }));
        l.on_sample(sample(1, 2, false));
        l.on_sample(sample(1, 2, false));
        assert_eq!(l.limit(), 3, "capped at max_limit");
        l.on_sample(sample(1, 3, true));
        assert_eq!(l.limit(), 2, "floor(2.7) = 2, and min_limit holds");
        l.on_sample(sample(1, 3, true));
        assert_eq!(l.limit(), 2);
        assert!(l.admits(1) && !l.admits(2));
    }

    #[test]
    fn vegas_queue_estimate_and_steps_by_hand() {
        // limit 100, no-load 10 ms, now 20 ms: ceil(100 * (1 - 0.5)) = 50 queued.
        assert_eq!(vegas_queue(100.0, 10.0, 20.0), 50.0);
        assert_eq!(vegas_queue(100.0, 10.0, 10.0), 0.0);
        assert_eq!(vegas_queue(10.0, 10.0, 11.0), 1.0, "ceil(0.909)");
        assert!((vegas_step(100.0) - 2.0).abs() < 1e-12);
        assert_eq!(vegas_step(5.0), 1.0, "at least 1");
        let cfg = VegasConfig {
            initial_limit: 100,
            window: 1,
            ..VegasConfig::default()
        };
        let mut l = ConcurrencyLimiter::new(LimiterConfig::Vegas(cfg));
        // First sample sets the no-load latency; queue 0 <= log10(100) = 2: grow by beta*2 = 12.
        l.on_sample(sample(10, 60, false));
        assert_eq!(l.limit(), 112);
        // 112 * (1 - 10/11) = 10.18 -> 11 queued; step log10(112) = 2.049; alpha*step = 6.15,
        // beta*step = 12.29: 11 is between, keep.
        l.on_sample(sample(11, 60, false));
        assert_eq!(l.limit(), 112);
        // 112 * (1 - 10/20) = 56 > 12.29: shrink by log10(112).
        l.on_sample(sample(20, 60, false));
        assert!((l.limit - (112.0 - log10(112.0))).abs() < 1e-9, "{}", l.limit);
        // App-limited (fewer than half in flight): no change.
        let before = l.limit;
        l.on_sample(sample(30, 10, false));
        assert_eq!(l.limit, before);
        // A drop shrinks by log10 too.
        l.on_sample(sample(10, 10, true));
        assert!((l.limit - (before - log10(before))).abs() < 1e-9);
    }

    #[test]
    fn gradient_ratio_by_hand() {
        // Latency doubled against the long average: 1.5 * 10/20 = 0.75; 100 * 0.75 + 4 = 79.
        assert_eq!(gradient_limit(100.0, 10.0, 20.0, 1.5, 4.0), 79.0);
        // Faster than average: the gradient is capped at 1, so the limit grows by queue_size.
        assert_eq!(gradient_limit(100.0, 10.0, 5.0, 1.5, 4.0), 104.0);
        // Much slower: floored at 0.5.
        assert_eq!(gradient_limit(100.0, 10.0, 100.0, 1.5, 4.0), 54.0);
        let cfg = GradientConfig {
            initial_limit: 100,
            long_window: 9, // EWMA weight 2 / (9 + 1) = 0.2
            window: 1,
            ..GradientConfig::default()
        };
        let mut l = ConcurrencyLimiter::new(LimiterConfig::Gradient(cfg));
        // First sample: long = 10 ms, gradient min(1, 1.5) = 1: 100 + 4 = 104, smoothed
        // 0.8 * 100 + 0.2 * 104 = 100.8.
        l.on_sample(sample(10, 80, false));
        assert!((l.limit - 100.8).abs() < 1e-9, "{}", l.limit);
        // long = 10 + (40 - 10) * 0.2 = 16 ms; gradient 1.5 * 16 / 40 = 0.6:
        // 100.8 * 0.6 + 4 = 64.48; smoothed 0.8 * 100.8 + 0.2 * 64.48 = 93.536.
        l.on_sample(sample(40, 80, false));
        assert!((l.limit - 93.536).abs() < 1e-9, "{}", l.limit);
        assert_eq!(l.limit(), 93);
    }

    #[test]
    fn windowed_limiters_average_their_samples() {
        let cfg = GradientConfig {
            initial_limit: 100,
            long_window: 9,
            window: 2,
            ..GradientConfig::default()
        };
        let mut l = ConcurrencyLimiter::new(LimiterConfig::Gradient(cfg));
        l.on_sample(sample(5, 60, false));
        assert_eq!(l.limit, 100.0, "half a window: nothing yet");
        // Mean 10 ms, most in flight 80: the same step as one 10 ms sample.
        l.on_sample(sample(15, 80, false));
        assert!((l.limit - 100.8).abs() < 1e-9, "{}", l.limit);
    }

    #[test]
    fn token_bucket_refill_by_hand() {
        // 100 tokens/s, burst 5: starts full.
        let mut b = TokenBucket::new(100.0, 5.0, at(0));
        for _ in 0..5 {
            assert!(b.try_take(at(0)));
        }
        assert!(!b.try_take(at(0)));
        // 25 ms later: 2.5 tokens, two whole ones.
        assert!((b.tokens(at(25)) - 2.5).abs() < 1e-9);
        assert!(b.try_take(at(25)) && b.try_take(at(25)) && !b.try_take(at(25)));
        // A long pause refills only up to the burst.
        assert_eq!(b.tokens(at(10_000)), 5.0);
    }

    #[test]
    fn rate_limiter_global_or_per_client() {
        let cfg = RateLimitConfig {
            rate: 10.0,
            burst: 2.0,
            per_client: false,
        };
        let (a, b) = (ProcessId(7), ProcessId(8));
        let mut global = RateLimiter::new(cfg);
        assert!(global.allow(a, at(0)) && global.allow(b, at(0)));
        assert!(!global.allow(b, at(0)), "one bucket for everyone");
        let mut each = RateLimiter::new(RateLimitConfig {
            per_client: true,
            ..cfg
        });
        assert!(each.allow(a, at(0)) && each.allow(a, at(0)) && !each.allow(a, at(0)));
        assert!(each.allow(b, at(0)), "b has its own bucket");
        assert!(each.allow(a, at(100)), "10/s: a token after 100 ms");
    }

    #[test]
    fn limiter_configs_validate() {
        assert!(LimiterConfig::Fixed { limit: 0 }.validate().is_err());
        assert!(LimiterConfig::Aimd(AimdConfig::default()).validate().is_ok());
        let bad = AimdConfig {
            initial_limit: 2000,
            ..AimdConfig::default()
        };
        assert!(LimiterConfig::Aimd(bad).validate().is_err());
        let bad = VegasConfig {
            alpha: 6.0,
            beta: 3.0,
            ..VegasConfig::default()
        };
        assert!(LimiterConfig::Vegas(bad).validate().is_err());
        assert!(
            LimiterConfig::Gradient(GradientConfig::default())
                .validate()
                .is_ok()
        );
    }
}
