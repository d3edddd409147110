//! Fallbacks: a static default or the cached last-good response when a call fails.

use ruckus_sim::{Duration, Instant};
use serde::{Deserialize, Serialize};

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
