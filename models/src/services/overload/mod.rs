//! Overload protection, as plain state machines with no engine in them (like [`super::policy`]).
//!
//! On the calling side: [`AdaptiveThrottle`] (the Google SRE book's client-side throttling),
//! [`Bulkhead`] (a per-dependency concurrency cap with its own queue) and [`Fallback`] (answer
//! from a static default or a cached last-good response when a call fails). On the serving
//! side: [`ConcurrencyLimiter`] (a fixed limit or the AIMD, Vegas and Gradient limiters of
//! Netflix's concurrency-limits library) and [`RateLimiter`] (token buckets, global or per
//! client). Each is off unless a scenario switches it on.

mod bulkhead;
mod fallback;
mod limiter;
mod rate_limit;
#[cfg(test)]
mod tests;
mod throttle;

pub use bulkhead::{Bulkhead, BulkheadConfig, Permit};
pub use fallback::{Fallback, FallbackConfig};
pub use limiter::{
    AimdConfig, ConcurrencyLimiter, GradientConfig, LimiterConfig, Sample, VegasConfig, aimd_step,
    gradient_limit, vegas_queue, vegas_step,
};
pub use rate_limit::{RateLimitConfig, RateLimiter, TokenBucket};
pub use throttle::{AdaptiveThrottle, ThrottleConfig, rejection_probability};
