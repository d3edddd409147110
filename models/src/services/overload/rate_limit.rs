//! Token-bucket rate limits, global or per client.

use ruckus_sim::{Instant, ProcessId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
