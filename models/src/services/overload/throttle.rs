//! Client-side adaptive throttling (the Google SRE book).

use ruckus_sim::{Duration, Instant, Random};
use serde::{Deserialize, Serialize};

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

    pub(super) fn slot(&mut self) -> &mut (u64, u64) {
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
