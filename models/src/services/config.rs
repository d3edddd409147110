//! What a services run is made of: workload, callers' policies, tiers, degradations, SLO.

use super::*;

/// How clients generate load.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// Poisson arrivals at `rate` requests per second per client, whatever happens to them.
    Open {
        /// Requests per second, per client.
        rate: f64,
    },
    /// Each client keeps `concurrency` requests going, waiting `think_time` between them.
    Closed {
        /// Requests in flight per client.
        concurrency: u32,
        /// Pause after each answer before the next request.
        think_time: Distribution,
    },
}

/// How a caller talks to the tier below it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallerConfig {
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Whole-call deadline across retries, propagated downstream (`None`: only the callee's).
    pub deadline: Option<Duration>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Retry budget refilled per request (retries and hedges spend it), if any.
    pub budget: Option<RetryBudgetConfig>,
    /// Finagle's retry budget, refilled per request and over time, if any (instead of `budget`).
    pub finagle_budget: Option<FinagleBudgetConfig>,
    /// Circuit breaker over the last N calls, if any. An open breaker fails calls at once.
    pub breaker: Option<BreakerConfig>,
    /// Hystrix's circuit breaker over a rolling time window, if any (instead of `breaker`).
    pub hystrix_breaker: Option<HystrixConfig>,
    /// Send a second attempt to another backend if the first has not answered by then.
    pub hedge_after: Option<Duration>,
    /// Load balancing over the tier's servers.
    pub balancer: BalancerConfig,
    /// Client-side adaptive throttling (SRE book), if any: attempts rejected locally are
    /// counted as `throttled`. Off by default.
    pub throttle: Option<ThrottleConfig>,
    /// A bulkhead capping this caller's calls in flight to the tier, if any; calls it turns
    /// away are counted as `bulkhead_rejected`. Off by default.
    pub bulkhead: Option<BulkheadConfig>,
    /// What to answer when a call fails, if anything (counted as `fallbacks`, not `ok`).
    /// Off by default.
    pub fallback: Option<FallbackConfig>,
    /// A concurrency limit (fixed or adaptive) on this caller's calls in flight, learning from
    /// each call's latency (a failed call counts as a drop); calls over it fail at once
    /// (`limiter_rejected`). Off by default.
    pub limiter: Option<LimiterConfig>,
}

impl Default for CallerConfig {
    fn default() -> Self {
        CallerConfig {
            timeout: Duration::from_secs(1),
            deadline: None,
            retry: RetryPolicy::default(),
            budget: None,
            finagle_budget: None,
            breaker: None,
            hystrix_breaker: None,
            hedge_after: None,
            balancer: BalancerConfig::default(),
            throttle: None,
            bulkhead: None,
            fallback: None,
            limiter: None,
        }
    }
}

/// Order in which a server takes queued requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// Oldest first.
    #[default]
    Fifo,
    /// Newest first (old requests, whose callers may have given up, wait).
    Lifo,
}

/// One tier of identical servers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierConfig {
    /// Servers in the tier.
    pub servers: u32,
    /// Requests a server works on at once.
    pub concurrency: u32,
    /// Most requests waiting per server; more are rejected (queue-length load shedding).
    pub queue_capacity: u32,
    /// Queue discipline.
    pub queue: QueueOrder,
    /// Queue-time load shedding: a request that waited longer is answered with an error.
    pub max_queue_time: Option<Duration>,
    /// Drop queued requests whose deadline has passed instead of working on them. Switching
    /// it off re-introduces the classic bug behind metastable retry storms: work nobody awaits.
    pub drop_expired: bool,
    /// Local work per request.
    pub service_time: Distribution,
    /// Calls to the next tier per request (ignored on the last tier).
    pub fanout: u32,
    /// How this tier calls the next.
    pub caller: CallerConfig,
    /// A concurrency limit (fixed or adaptive) on requests inside each server, queued or
    /// working; requests over it are rejected at once (`tierN.limited`). Off by default.
    pub limiter: Option<LimiterConfig>,
    /// Token-bucket rate limiting at each server, global or per caller; requests without a
    /// token are rejected at once (`tierN.rate_limited`). Off by default.
    pub rate_limit: Option<RateLimitConfig>,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            servers: 1,
            concurrency: 1,
            queue_capacity: 1000,
            queue: QueueOrder::Fifo,
            max_queue_time: None,
            drop_expired: true,
            service_time: Distribution::Exponential {
                mean: Duration::from_millis(1),
            },
            fanout: 1,
            caller: CallerConfig::default(),
            limiter: None,
            rate_limit: None,
        }
    }
}

/// A way a server misbehaves for a while.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DegradeMode {
    /// Service time multiplied by `factor`.
    Slow {
        /// Multiplier (> 0).
        factor: f64,
    },
    /// Each request fails with this probability after its work is done.
    Errors {
        /// Probability of failure.
        probability: f64,
    },
    /// Both slower and failing some requests (a partial outage).
    Brownout {
        /// Service-time multiplier.
        factor: f64,
        /// Probability of failure.
        probability: f64,
    },
    /// Fewer workers (a CPU cut: a noisy neighbour, throttling).
    CpuCut {
        /// Concurrency while it lasts (at least 1).
        concurrency: u32,
    },
    /// The server takes no work from its queue (a stall, a GC pause, a dead dependency).
    Stall,
}

impl DegradeMode {
    /// True when the parameters make sense (factor > 0, probability within 0..=1, concurrency >= 1).
    pub fn is_valid(&self) -> bool {
        let good_factor = |f: f64| f.is_finite() && f > 0.0;
        let good_p = |p: f64| (0.0..=1.0).contains(&p);
        match *self {
            DegradeMode::Slow { factor } => good_factor(factor),
            DegradeMode::Errors { probability } => good_p(probability),
            DegradeMode::Brownout { factor, probability } => good_factor(factor) && good_p(probability),
            DegradeMode::CpuCut { concurrency } => concurrency >= 1,
            DegradeMode::Stall => true,
        }
    }

    /// Parses the mode string of a `Fault::Degrade` (how a fault plan switches a degradation on):
    /// `slow:FACTOR`, `errors:PROBABILITY`, `brownout:FACTOR:PROBABILITY`, `cpu_cut:CONCURRENCY`
    /// or `stall`.
    pub fn parse(text: &str) -> Result<DegradeMode, String> {
        let parts: Vec<&str> = text.trim().split(':').map(str::trim).collect();
        let num = |i: usize| -> Result<f64, String> {
            parts[i]
                .parse::<f64>()
                .map_err(|_| format!("degrade mode {text:?}: {:?} is not a number", parts[i]))
        };
        let mode = match parts.as_slice() {
            ["slow", _] => DegradeMode::Slow { factor: num(1)? },
            ["errors", _] => DegradeMode::Errors { probability: num(1)? },
            ["brownout", _, _] => DegradeMode::Brownout {
                factor: num(1)?,
                probability: num(2)?,
            },
            ["cpu_cut", c] => DegradeMode::CpuCut {
                concurrency: c
                    .parse()
                    .map_err(|_| format!("degrade mode {text:?}: {c:?} is not a worker count"))?,
            },
            ["stall"] => DegradeMode::Stall,
            _ => {
                return Err(format!(
                    "unknown degrade mode {text:?} (expected slow:F, errors:P, brownout:F:P, cpu_cut:N or stall)"
                ));
            }
        };
        if !mode.is_valid() {
            return Err(format!("degrade mode {text:?}: bad parameters"));
        }
        Ok(mode)
    }
}

/// A degradation switched on at `at` for `duration` on one server or a whole tier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Degradation {
    /// Which tier.
    pub tier: u32,
    /// Which server of the tier (`None`: all of them).
    #[serde(default)]
    pub server: Option<u32>,
    /// When it starts.
    pub at: Duration,
    /// How long it lasts.
    pub duration: Duration,
    /// What happens.
    pub mode: DegradeMode,
}

/// A service-level objective checked at the end of a run (over measured requests).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slo {
    /// Smallest acceptable fraction of offered requests that succeed.
    pub success_rate: f64,
    /// Largest acceptable 99th-percentile latency of successful requests.
    pub latency_p99: Duration,
    /// Count answers from fallbacks as successes for `success_rate` ("degraded but
    /// answering" meets the SLO). False by default.
    pub count_fallbacks: bool,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            success_rate: 0.99,
            latency_p99: Duration::from_millis(100),
            count_fallbacks: false,
        }
    }
}

/// Parameters of a services run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Client processes.
    pub clients: u32,
    /// How clients generate load.
    pub workload: Workload,
    /// How the open workload's rate changes over the run (steps and ramps; empty: constant).
    pub schedule: RateSchedule,
    /// How clients call tier 0.
    pub client: CallerConfig,
    /// The server tiers, tier 0 first.
    pub tiers: Vec<TierConfig>,
    /// Requests started before this are not measured (warm-up).
    pub measure_after: Duration,
    /// Degradations switched on during the run.
    pub degradations: Vec<Degradation>,
    /// The SLO property, if any.
    pub slo: Option<Slo>,
    /// Window over which recovery is judged after the last degradation ends.
    pub recovery_window: Duration,
    /// Success fraction (successes per offered request in a window) that counts as recovered.
    pub recovery_threshold: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clients: 4,
            workload: Workload::Open { rate: 100.0 },
            schedule: RateSchedule::default(),
            client: CallerConfig::default(),
            tiers: vec![TierConfig::default()],
            measure_after: Duration::ZERO,
            degradations: Vec::new(),
            slo: None,
            recovery_window: Duration::from_secs(1),
            recovery_threshold: 0.9,
        }
    }
}

impl Config {
    /// Checks the parameters, naming the first problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("clients must be at least 1".into());
        }
        if self.tiers.is_empty() {
            return Err("at least one tier is needed".into());
        }
        match self.workload {
            Workload::Open { rate } if !(rate.is_finite() && rate > 0.0) => {
                return Err(format!("workload.open.rate must be > 0, got {rate}"));
            }
            Workload::Closed { concurrency: 0, .. } => {
                return Err("workload.closed.concurrency must be at least 1".into());
            }
            Workload::Closed { think_time, .. } => think_time.validate()?,
            _ => {}
        }
        if !self.schedule.is_empty() && !matches!(self.workload, Workload::Open { .. }) {
            return Err("schedule changes an open workload's rate: it needs workload.open".into());
        }
        check_caller("client", &self.client)?;
        for (i, t) in self.tiers.iter().enumerate() {
            if t.servers == 0 || t.concurrency == 0 {
                return Err(format!("tiers.{i}: servers and concurrency must be at least 1"));
            }
            t.service_time
                .validate()
                .map_err(|e| format!("tiers.{i}.service_time: {e}"))?;
            check_caller(&format!("tiers.{i}.caller"), &t.caller)?;
            if let Some(l) = &t.limiter {
                l.validate().map_err(|e| format!("tiers.{i}.limiter: {e}"))?;
            }
            if let Some(r) = t.rate_limit
                && !(r.rate.is_finite() && r.rate > 0.0 && r.burst >= 1.0)
            {
                return Err(format!("tiers.{i}.rate_limit: rate must be > 0 and burst >= 1"));
            }
        }
        for (i, d) in self.degradations.iter().enumerate() {
            let Some(tier) = self.tiers.get(d.tier as usize) else {
                return Err(format!("degradations.{i}: no tier {}", d.tier));
            };
            if d.server.is_some_and(|s| s >= tier.servers) {
                return Err(format!(
                    "degradations.{i}: tier {} has {} servers",
                    d.tier, tier.servers
                ));
            }
            if !d.mode.is_valid() {
                return Err(format!("degradations.{i}: bad parameters {:?}", d.mode));
            }
        }
        Ok(())
    }

    /// Hosts a run needs: one per server, then one per client.
    pub fn hosts(&self) -> u32 {
        self.tiers.iter().map(|t| t.servers).sum::<u32>() + self.clients
    }

    /// One host per process, all on one switch with `latency` between any two.
    pub fn topology(&self, latency: Distribution) -> Topology {
        Topology::single_switch(self.hosts(), latency)
    }

    /// When the last degradation ends (the trigger for recovery time), if there is any.
    pub fn trigger_end(&self) -> Option<Duration> {
        self.degradations.iter().map(|d| d.at + d.duration).max()
    }

    /// Offered load in requests per second (open loop only; with a schedule, the rate at the start).
    pub fn offered_rate(&self) -> Option<f64> {
        match self.workload {
            Workload::Open { rate } => Some(rate * f64::from(self.clients)),
            Workload::Closed { .. } => None,
        }
    }
}

fn check_caller(name: &str, c: &CallerConfig) -> Result<(), String> {
    if c.timeout == Duration::ZERO {
        return Err(format!("{name}.timeout must be > 0"));
    }
    c.retry.validate().map_err(|e| format!("{name}.retry: {e}"))?;
    if let Some(b) = c.budget
        && !(b.ratio >= 0.0 && b.max_tokens >= 0.0)
    {
        return Err(format!("{name}.budget: ratio and max_tokens must be >= 0"));
    }
    if let Some(f) = c.finagle_budget {
        if c.budget.is_some() {
            return Err(format!("{name}: set budget or finagle_budget, not both"));
        }
        f.validate().map_err(|e| format!("{name}.finagle_budget: {e}"))?;
    }
    if let Some(h) = c.hystrix_breaker {
        if c.breaker.is_some() {
            return Err(format!("{name}: set breaker or hystrix_breaker, not both"));
        }
        h.validate().map_err(|e| format!("{name}.hystrix_breaker: {e}"))?;
    }
    if let Some(b) = c.breaker
        && !(b.failure_ratio > 0.0 && b.failure_ratio <= 1.0 && b.window > 0)
    {
        return Err(format!(
            "{name}.breaker: failure_ratio must be in (0, 1] and window > 0"
        ));
    }
    if let Some(t) = c.throttle
        && !(t.k.is_finite() && t.k >= 1.0 && t.window > Duration::ZERO)
    {
        return Err(format!("{name}.throttle: k must be >= 1 and window > 0"));
    }
    if let Some(l) = &c.limiter {
        l.validate().map_err(|e| format!("{name}.limiter: {e}"))?;
    }
    if c.bulkhead.is_some_and(|b| b.max_concurrent == 0) {
        return Err(format!("{name}.bulkhead.max_concurrent must be at least 1"));
    }
    Ok(())
}
