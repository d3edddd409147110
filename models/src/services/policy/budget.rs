//! Finagle's retry budget, and the caller's choice between it and the per-request bucket.

use super::window::RollingWindow;
use super::{RetryBudget, RetryBudgetConfig};
use ruckus_sim::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// A retry budget after Finagle's `RetryBudget`: every request deposits, every retry withdraws
/// `1 / percent_can_retry` requests' worth, deposits and withdrawals expire after `ttl`, and a
/// reserve of `min_retries_per_sec * ttl` retries is always there. So retries stay within
/// `percent_can_retry` of the requests of the last `ttl`, plus `min_retries_per_sec` however
/// few requests there are.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinagleBudgetConfig {
    /// Retries allowed per request (0.2: 20% more load at most).
    #[serde(alias = "percent")]
    pub percent_can_retry: f64,
    /// Retries allowed per second even without requests.
    pub min_retries_per_sec: f64,
    /// How long a deposit or withdrawal counts.
    pub ttl: Duration,
}

impl Default for FinagleBudgetConfig {
    /// Finagle's defaults: 20%, 10 per second, 10 s.
    fn default() -> Self {
        FinagleBudgetConfig {
            percent_can_retry: 0.2,
            min_retries_per_sec: 10.0,
            ttl: Duration::from_secs(10),
        }
    }
}

impl FinagleBudgetConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let good = |x: f64| x.is_finite() && x >= 0.0;
        if !good(self.percent_can_retry) || self.percent_can_retry > 1000.0 {
            return Err(format!(
                "percent_can_retry must be within 0..=1000, got {}",
                self.percent_can_retry
            ));
        }
        if !good(self.min_retries_per_sec) {
            return Err(format!(
                "min_retries_per_sec must be >= 0, got {}",
                self.min_retries_per_sec
            ));
        }
        if self.ttl == Duration::ZERO {
            return Err("ttl must be > 0".into());
        }
        Ok(())
    }
}

/// What one request deposits, in integer units so sums are exact.
const SCALE: i64 = 1000;

/// The live state of a Finagle retry budget.
#[derive(Clone, Debug, PartialEq)]
pub struct FinagleBudget {
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    window: RollingWindow<i64>,
}

impl FinagleBudget {
    /// An empty budget (only the reserve).
    pub fn new(config: FinagleBudgetConfig) -> FinagleBudget {
        // With no percentage, requests buy nothing and a retry costs one request's worth of
        // the reserve.
        let (deposit, withdrawal) = if config.percent_can_retry == 0.0 {
            (0, SCALE)
        } else {
            (
                SCALE,
                ((SCALE as f64 / config.percent_can_retry).round() as i64).max(1),
            )
        };
        let reserve =
            (config.min_retries_per_sec * config.ttl.as_secs_f64() * withdrawal as f64).round() as i64;
        FinagleBudget {
            deposit,
            withdrawal,
            reserve,
            window: RollingWindow::new(config.ttl, 10),
        }
    }

    /// A request went out: deposit.
    pub fn on_request(&mut self, now: Instant) {
        *self.window.current(now) += self.deposit;
    }

    /// Takes a retry's worth; false (and nothing taken) when there is not enough.
    pub fn try_spend(&mut self, now: Instant) -> bool {
        if self.balance(now) >= self.withdrawal {
            *self.window.current(now) -= self.withdrawal;
            true
        } else {
            false
        }
    }

    /// Retries it would allow now.
    pub fn retries_left(&mut self, now: Instant) -> i64 {
        self.balance(now).max(0) / self.withdrawal
    }

    fn balance(&mut self, now: Instant) -> i64 {
        self.reserve + self.window.buckets(now).iter().sum::<i64>()
    }
}

/// A caller's retry budget: the per-request bucket or Finagle's.
#[derive(Clone, Debug, PartialEq)]
pub enum Budget {
    /// [`RetryBudget`]: refilled by requests only.
    PerRequest(RetryBudget),
    /// [`FinagleBudget`]: refilled by requests and over time.
    Finagle(FinagleBudget),
}

impl Budget {
    /// The budget a caller configures: Finagle's if set, else the per-request one, if any.
    pub fn from_config(
        per_request: Option<RetryBudgetConfig>,
        finagle: Option<FinagleBudgetConfig>,
    ) -> Option<Budget> {
        match (finagle, per_request) {
            (Some(f), _) => Some(Budget::Finagle(FinagleBudget::new(f))),
            (None, Some(b)) => Some(Budget::PerRequest(RetryBudget::new(b))),
            (None, None) => None,
        }
    }

    /// A first attempt went out.
    pub fn on_request(&mut self, now: Instant) {
        match self {
            Budget::PerRequest(b) => b.on_request(),
            Budget::Finagle(b) => b.on_request(now),
        }
    }

    /// Spends a retry (or a hedge) if the budget allows it.
    pub fn try_spend(&mut self, now: Instant) -> bool {
        match self {
            Budget::PerRequest(b) => b.try_spend(),
            Budget::Finagle(b) => b.try_spend(now),
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
    fn the_minimum_rate_allows_retries_with_no_requests() {
        let mut b = FinagleBudget::new(FinagleBudgetConfig {
            percent_can_retry: 0.2,
            min_retries_per_sec: 10.0,
            ttl: Duration::from_secs(10),
        });
        // 10 per second over a 10 s window: 100 retries, then none.
        assert_eq!(b.retries_left(at(0)), 100);
        assert_eq!((0..150).filter(|_| b.try_spend(at(0))).count(), 100);
        assert!(!b.try_spend(at(5_000)));
        // Once the withdrawals are older than the ttl, the reserve is whole again.
        assert_eq!(b.retries_left(at(10_000)), 100);
        // Spread out: 10 retries every second go on for good.
        for s in 11..60 {
            assert_eq!(
                (0..10).filter(|_| b.try_spend(at(s * 1000))).count(),
                10,
                "second {s}"
            );
        }
    }

    #[test]
    fn the_percentage_limits_a_storm() {
        let mut b = FinagleBudget::new(FinagleBudgetConfig {
            percent_can_retry: 0.2,
            min_retries_per_sec: 0.0,
            ttl: Duration::from_secs(10),
        });
        assert!(!b.try_spend(at(0)), "no requests, no reserve: no retry");
        // A storm: 100 requests a second, each failing and retried as often as allowed.
        let mut granted = 0;
        for ms in (0..60_000).step_by(10) {
            b.on_request(at(ms));
            while b.try_spend(at(ms)) {
                granted += 1;
            }
        }
        // 6000 requests buy 1200 retries, give or take the last window's rounding.
        assert_eq!(granted, 1200);
        // Deposits expire: after the ttl with no requests nothing is left.
        b.on_request(at(60_000));
        assert_eq!(b.retries_left(at(71_000)), 0);
    }

    #[test]
    fn config_checks_and_the_per_request_kind_stays() {
        assert!(FinagleBudgetConfig::default().validate().is_ok());
        let bad = FinagleBudgetConfig {
            ttl: Duration::ZERO,
            ..FinagleBudgetConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("ttl"));
        let bad = FinagleBudgetConfig {
            percent_can_retry: -1.0,
            ..FinagleBudgetConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("percent_can_retry"));
        let mut b = Budget::from_config(Some(RetryBudgetConfig::default()), None).unwrap();
        assert!(matches!(b, Budget::PerRequest(_)));
        assert_eq!((0..20).filter(|_| b.try_spend(at(0))).count(), 10);
        let b = Budget::from_config(
            Some(RetryBudgetConfig::default()),
            Some(FinagleBudgetConfig::default()),
        );
        assert!(matches!(b, Some(Budget::Finagle(_))));
    }
}
