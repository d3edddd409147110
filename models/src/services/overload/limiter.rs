//! The server-side concurrency limiter: a fixed limit, or AIMD, Vegas or Gradient.

use crate::discovery::swim::log10;
use ruckus_sim::Duration;
use serde::{Deserialize, Serialize};

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
    pub(super) limit: f64,
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
