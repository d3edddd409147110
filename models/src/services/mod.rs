//! Services and the high-availability patterns around them.
//!
//! A run has `clients` client processes calling a chain of server tiers: tier 0 is called by
//! the clients, tier i calls tier i+1 `fanout` times per request. Every server has a bounded
//! queue (FIFO or LIFO), a concurrency limit, a service-time [`Distribution`], optional load
//! shedding by queue time, and degradation modes ([`DegradeMode`]) switched on for a window of
//! time. Every caller (a client, or a server calling the next tier) uses one [`CallerConfig`]:
//! per-attempt timeout, whole-call deadline (propagated to the callee), retry policy with
//! backoff and jitter, retry budget, circuit breaker, hedging and a load balancer with outlier
//! ejection. Policies live in [`policy`] as plain state machines.
//!
//! Clients are open-loop (Poisson arrivals: load does not slow down when the service does,
//! which is what lets a retry storm build) or closed-loop (each client keeps `concurrency`
//! requests going, with a think time between them).
//!
//! Metrics (recorded only for requests started after `measure_after`): counters `offered`,
//! `attempts`, `retries`, `hedges`, `timeouts`, `ok`, `failed`, `breaker_rejected`,
//! `budget_denied`, `late_responses`; per tier `tierN.served`, `tierN.shed`, `tierN.expired`,
//! `tierN.errors` and the same caller counters as `tierN.attempts`...; distributions
//! `latency` (end-to-end ns of successful requests), `tierN.sojourn` (ns from arrival at a
//! server to its answer), `offered_at` and `ok_at` (local time of each offer and success, for
//! goodput over time and recovery time). [`summarize`] turns them into the figures an
//! experiment compares.
//!
//! Processes: tier servers first (tier 0's servers get ids `0..`), then clients; one host each.

pub mod contention;
mod model;
pub mod policy;

pub use model::{ContentionModel, ServicesModel};

use policy::{
    Balancer, BalancerConfig, BreakerConfig, CircuitBreaker, RetryBudget, RetryBudgetConfig, RetryPolicy,
};
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Process, ProcessId, Property, Sim, TimerId,
    Topology, View,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

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
    /// Retry budget (retries and hedges spend it), if any.
    pub budget: Option<RetryBudgetConfig>,
    /// Circuit breaker, if any. An open breaker fails calls at once.
    pub breaker: Option<BreakerConfig>,
    /// Send a second attempt to another backend if the first has not answered by then.
    pub hedge_after: Option<Duration>,
    /// Load balancing over the tier's servers.
    pub balancer: BalancerConfig,
}

impl Default for CallerConfig {
    fn default() -> Self {
        CallerConfig {
            timeout: Duration::from_secs(1),
            deadline: None,
            retry: RetryPolicy::default(),
            budget: None,
            breaker: None,
            hedge_after: None,
            balancer: BalancerConfig::default(),
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
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            success_rate: 0.99,
            latency_p99: Duration::from_millis(100),
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
        check_caller("client", &self.client)?;
        for (i, t) in self.tiers.iter().enumerate() {
            if t.servers == 0 || t.concurrency == 0 {
                return Err(format!("tiers.{i}: servers and concurrency must be at least 1"));
            }
            t.service_time
                .validate()
                .map_err(|e| format!("tiers.{i}.service_time: {e}"))?;
            check_caller(&format!("tiers.{i}.caller"), &t.caller)?;
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

    /// Offered load in requests per second (open loop only).
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
    if let Some(b) = c.breaker
        && !(b.failure_ratio > 0.0 && b.failure_ratio <= 1.0 && b.window > 0)
    {
        return Err(format!(
            "{name}.breaker: failure_ratio must be in (0, 1] and window > 0"
        ));
    }
    Ok(())
}

/// What services send each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// An attempt, with the caller's attempt id and the deadline its answer is useful until.
    Request {
        /// The caller's attempt id, echoed in the response.
        id: u64,
        /// The caller gives up at this time (its local clock; clocks are assumed in sync).
        deadline: Instant,
    },
    /// The answer to an attempt.
    Response {
        /// The attempt id.
        id: u64,
        /// Whether it succeeded.
        ok: bool,
    },
}

/// Timers of services processes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Open loop: the next request arrives.
    Arrive,
    /// Closed loop: a slot's think time is over.
    Think,
    /// An attempt timed out.
    AttemptTimeout(u64),
    /// A call's backoff is over: retry.
    Retry(u64),
    /// A call's hedge delay is over.
    Hedge(u64),
    /// A server finished the local work of a job.
    ServiceDone(u64),
    /// Degradation `index` switches on (`true`) or off.
    Degrade(u32, bool),
    /// A server held back by a fault-plan degradation (stall, CPU cut) looks again.
    Recheck,
}

/// Names of a caller's counters, with its prefix (built once, not per event).
#[derive(Clone, Debug)]
struct Names {
    attempts: String,
    retries: String,
    hedges: String,
    timeouts: String,
    breaker_rejected: String,
    budget_denied: String,
    late: String,
}

impl Names {
    fn new(prefix: &str) -> Names {
        let n = |s: &str| format!("{prefix}{s}");
        Names {
            attempts: n("attempts"),
            retries: n("retries"),
            hedges: n("hedges"),
            timeouts: n("timeouts"),
            breaker_rejected: n("breaker_rejected"),
            budget_denied: n("budget_denied"),
            late: n("late_responses"),
        }
    }
}

#[derive(Clone, Debug)]
struct Call {
    owner: u64,
    started: Instant,
    deadline: Instant,
    attempts: u32,
    failures: u32,
    last_delay: Duration,
    in_flight: u32,
    hedged: bool,
    measured: bool,
}

#[derive(Clone, Debug)]
struct Attempt {
    call: u64,
    backend: usize,
    timer: TimerId,
}

/// A finished call, handed back to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    /// The owner's tag (a job id on a server).
    pub owner: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// When it started.
    pub started: Instant,
    /// Whether its metrics count.
    pub measured: bool,
}

/// The calling side of a process: every policy of [`CallerConfig`] around a set of backends.
#[derive(Clone, Debug)]
pub struct Caller {
    config: CallerConfig,
    backends: Vec<ProcessId>,
    balancer: Balancer,
    budget: Option<RetryBudget>,
    breaker: Option<CircuitBreaker>,
    calls: BTreeMap<u64, Call>,
    attempts: BTreeMap<u64, Attempt>,
    next_id: u64,
    measure_from: Instant,
    names: Names,
}

impl Caller {
    fn new(config: CallerConfig, backends: Vec<ProcessId>, measure_from: Instant, prefix: &str) -> Caller {
        Caller {
            balancer: Balancer::new(config.balancer, backends.len()),
            budget: config.budget.map(RetryBudget::new),
            breaker: config.breaker.map(CircuitBreaker::new),
            config,
            backends,
            calls: BTreeMap::new(),
            attempts: BTreeMap::new(),
            next_id: 0,
            measure_from,
            names: Names::new(prefix),
        }
    }

    /// Starts a call; `deadline` is the caller's own deadline (from upstream), if any.
    fn start(&mut self, ctx: &mut Context<'_, Node>, owner: u64, deadline: Option<Instant>) -> Option<Done> {
        let now = ctx.now();
        let own = self.config.deadline.map(|d| now.saturating_add(d));
        let deadline = match (own, deadline) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(Instant::MAX),
        };
        let id = self.next_id;
        self.next_id += 1;
        let call = Call {
            owner,
            started: now,
            deadline,
            attempts: 0,
            failures: 0,
            last_delay: self.config.retry.base,
            in_flight: 0,
            hedged: false,
            measured: now >= self.measure_from,
        };
        self.calls.insert(id, call);
        if let Some(b) = &mut self.budget {
            b.on_request();
        }
        self.send_attempt(ctx, id, None)
    }

    /// Sends one attempt of call `id` (or fails the call when the breaker or deadline says so).
    fn send_attempt(&mut self, ctx: &mut Context<'_, Node>, id: u64, avoid: Option<usize>) -> Option<Done> {
        let now = ctx.now();
        let call = self.calls.get(&id).expect("attempt for a live call");
        let measured = call.measured;
        if now >= call.deadline {
            return self.finish(id, false);
        }
        if let Some(b) = &mut self.breaker
            && !b.allow(now)
        {
            if measured {
                ctx.count(&self.names.breaker_rejected, 1);
            }
            return if self.calls[&id].in_flight > 0 {
                None
            } else {
                self.finish(id, false)
            };
        }
        let backend = self.balancer.pick(now, avoid, ctx.random());
        self.balancer.on_send(backend);
        let attempt = self.next_id;
        self.next_id += 1;
        let call = self.calls.get_mut(&id).expect("live call");
        call.attempts += 1;
        call.in_flight += 1;
        let wait = self.config.timeout.min(call.deadline.saturating_since(now));
        let deadline = call.deadline.min(now.saturating_add(self.config.timeout));
        let hedge = if call.hedged {
            None
        } else {
            self.config.hedge_after
        };
        ctx.send(
            self.backends[backend],
            Msg::Request {
                id: attempt,
                deadline,
            },
        );
        let timer = ctx.set_timer(wait, Timer::AttemptTimeout(attempt));
        if let Some(h) = hedge
            && h < wait
        {
            ctx.set_timer(h, Timer::Hedge(id));
        }
        self.attempts.insert(
            attempt,
            Attempt {
                call: id,
                backend,
                timer,
            },
        );
        if measured {
            ctx.count(&self.names.attempts, 1);
        }
        None
    }

    fn finish(&mut self, id: u64, ok: bool) -> Option<Done> {
        let call = self.calls.remove(&id).expect("finishing a live call");
        Some(Done {
            owner: call.owner,
            ok,
            started: call.started,
            measured: call.measured,
        })
    }

    /// An attempt ended (answered or timed out). Returns the call's end if this ends it.
    fn attempt_ended(&mut self, ctx: &mut Context<'_, Node>, attempt: u64, ok: bool) -> Option<Done> {
        let now = ctx.now();
        let a = self.attempts.remove(&attempt)?;
        self.balancer.on_result(a.backend, now, !ok);
        if let Some(b) = &mut self.breaker {
            b.record(now, !ok);
        }
        let call = self.calls.get_mut(&a.call).expect("attempt of a live call");
        call.in_flight -= 1;
        if ok {
            // Drop any other attempt of this call (a hedge): its answer will be ignored.
            let others: Vec<u64> = self
                .attempts
                .iter()
                .filter(|(_, o)| o.call == a.call)
                .map(|(k, _)| *k)
                .collect();
            for k in others {
                let o = self.attempts.remove(&k).expect("listed");
                ctx.cancel_timer(o.timer);
                self.balancer.on_result(o.backend, now, false);
            }
            return self.finish(a.call, true);
        }
        if call.in_flight > 0 {
            return None; // a hedge is still out
        }
        self.after_failure(ctx, a.call)
    }

    /// Every attempt of the call failed: retry after a backoff, or give up.
    fn after_failure(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Option<Done> {
        let now = ctx.now();
        let call = self.calls.get_mut(&id).expect("live call");
        let measured = call.measured;
        if !self.config.retry.allows_retry(call.attempts) || now >= call.deadline {
            return self.finish(id, false);
        }
        if let Some(b) = &mut self.budget
            && !b.try_spend()
        {
            if measured {
                ctx.count(&self.names.budget_denied, 1);
            }
            return self.finish(id, false);
        }
        let call = self.calls.get_mut(&id).expect("live call");
        let delay = self
            .config
            .retry
            .delay(call.failures, call.last_delay, ctx.random());
        call.failures += 1;
        call.last_delay = delay;
        if measured {
            ctx.count(&self.names.retries, 1);
        }
        if delay == Duration::ZERO {
            self.send_attempt(ctx, id, None)
        } else {
            ctx.set_timer(delay, Timer::Retry(id));
            None
        }
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, Node>, attempt: u64) -> Option<Done> {
        let measured = self
            .attempts
            .get(&attempt)
            .map(|a| self.calls[&a.call].measured)?;
        if measured {
            ctx.count(&self.names.timeouts, 1);
        }
        self.attempt_ended(ctx, attempt, false)
    }

    fn on_response(&mut self, ctx: &mut Context<'_, Node>, attempt: u64, ok: bool) -> Option<Done> {
        let Some(a) = self.attempts.get(&attempt) else {
            ctx.count(&self.names.late, 1);
            return None;
        };
        ctx.cancel_timer(a.timer);
        self.attempt_ended(ctx, attempt, ok)
    }

    fn on_retry(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Option<Done> {
        if self.calls.contains_key(&id) {
            self.send_attempt(ctx, id, None)
        } else {
            None
        }
    }

    fn on_hedge(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Option<Done> {
        let call = self.calls.get_mut(&id)?;
        if call.hedged || call.in_flight == 0 {
            return None;
        }
        call.hedged = true;
        let measured = call.measured;
        if let Some(b) = &mut self.budget
            && !b.try_spend()
        {
            if measured {
                ctx.count(&self.names.budget_denied, 1);
            }
            return None;
        }
        if measured {
            ctx.count(&self.names.hedges, 1);
        }
        let avoid = self.attempts.values().find(|a| a.call == id).map(|a| a.backend);
        self.send_attempt(ctx, id, avoid)
    }
}

/// A client process.
#[derive(Clone, Debug)]
pub struct Client {
    workload: Workload,
    caller: Caller,
    measure_from: Instant,
}

#[derive(Clone, Debug)]
struct Job {
    from: ProcessId,
    request: u64,
    arrived: Instant,
    deadline: Instant,
    pending: u32,
    failed: bool,
}

/// How often a server held back by a fault-plan stall or CPU cut looks whether it has ended.
const RECHECK: Duration = Duration::from_millis(1);

/// A server process.
#[derive(Clone, Debug)]
pub struct Server {
    config: TierConfig,
    degradations: Vec<Degradation>,
    active: Vec<u32>,
    /// The host's `Fault::Degrade` conditions as last read from the context.
    from_faults: Vec<DegradeMode>,
    /// A `Timer::Recheck` is pending.
    recheck_armed: bool,
    queue: VecDeque<u64>,
    jobs: BTreeMap<u64, Job>,
    busy: u32,
    next_job: u64,
    caller: Option<Caller>,
    measure_from: Instant,
    names: ServerNames,
}

#[derive(Clone, Debug)]
struct ServerNames {
    served: String,
    shed: String,
    expired: String,
    errors: String,
    sojourn: String,
}

/// A process of the services model.
#[derive(Clone, Debug)]
pub enum Node {
    /// Generates requests.
    Client(Box<Client>),
    /// Serves them.
    Server(Box<Server>),
}

impl Client {
    fn arrive_after(&self, ctx: &mut Context<'_, Node>) {
        if let Workload::Open { rate } = self.workload {
            let gap = ctx.random().exponential(1e9 / rate);
            ctx.set_timer(Duration(gap.round().max(1.0) as u64), Timer::Arrive);
        }
    }

    fn offer(&mut self, ctx: &mut Context<'_, Node>) {
        let now = ctx.now();
        if now >= self.measure_from {
            ctx.count("offered", 1);
            ctx.observe("offered_at", now.as_nanos());
        }
        if let Some(done) = self.caller.start(ctx, 0, None) {
            self.done(ctx, done);
        }
    }

    fn done(&mut self, ctx: &mut Context<'_, Node>, done: Done) {
        let now = ctx.now();
        if done.measured {
            if done.ok {
                ctx.count("ok", 1);
                ctx.observe("latency", (now - done.started).as_nanos());
                ctx.observe("ok_at", now.as_nanos());
            } else {
                ctx.count("failed", 1);
            }
        }
        if let Workload::Closed { think_time, .. } = self.workload {
            let think = think_time.sample(ctx.random());
            ctx.set_timer(think, Timer::Think);
        }
    }
}

impl Server {
    /// Every active degradation: the config-scheduled ones, then the fault plan's.
    fn modes(&self) -> impl Iterator<Item = DegradeMode> + '_ {
        self.active
            .iter()
            .map(|&i| self.degradations[i as usize].mode)
            .chain(self.from_faults.iter().copied())
    }

    /// Reads the host's fault-plan degradations. An unknown mode is a bug in the plan or profile,
    /// so it panics (the engine reports the panic as the run's failure).
    fn refresh(&mut self, ctx: &Context<'_, Node>) {
        self.from_faults.clear();
        for text in ctx.degradations() {
            match DegradeMode::parse(text) {
                Ok(mode) => self.from_faults.push(mode),
                Err(e) => panic!("services server on {}: {e}", ctx.host()),
            }
        }
    }

    fn concurrency(&self) -> u32 {
        let mut c = self.config.concurrency;
        for mode in self.modes() {
            if let DegradeMode::CpuCut { concurrency } = mode {
                c = c.min(concurrency.max(1));
            }
        }
        c
    }

    fn stalled(&self) -> bool {
        self.modes().any(|m| m == DegradeMode::Stall)
    }

    fn slow_factor(&self) -> f64 {
        let mut f = 1.0;
        for mode in self.modes() {
            match mode {
                DegradeMode::Slow { factor } | DegradeMode::Brownout { factor, .. } => f *= factor,
                _ => {}
            }
        }
        f
    }

    fn error_probability(&self) -> f64 {
        let mut p: f64 = 0.0;
        for mode in self.modes() {
            match mode {
                DegradeMode::Errors { probability } | DegradeMode::Brownout { probability, .. } => {
                    p = p.max(probability)
                }
                _ => {}
            }
        }
        p
    }

    fn measured(&self, job: &Job) -> bool {
        job.arrived >= self.measure_from
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Node>, from: ProcessId, request: u64, deadline: Instant) {
        let now = ctx.now();
        if self.queue.len() >= self.config.queue_capacity as usize {
            if now >= self.measure_from {
                ctx.count(&self.names.shed, 1);
            }
            ctx.send(
                from,
                Msg::Response {
                    id: request,
                    ok: false,
                },
            );
            return;
        }
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            id,
            Job {
                from,
                request,
                arrived: now,
                deadline,
                pending: 0,
                failed: false,
            },
        );
        self.queue.push_back(id);
        self.dispatch(ctx);
    }

    /// Starts queued jobs while workers are free.
    fn dispatch(&mut self, ctx: &mut Context<'_, Node>) {
        self.refresh(ctx);
        // No handler runs when a fault-plan stall or CPU cut ends, so look again shortly.
        let held = self
            .from_faults
            .iter()
            .any(|m| matches!(m, DegradeMode::Stall | DegradeMode::CpuCut { .. }));
        if held && !self.recheck_armed && !self.queue.is_empty() {
            self.recheck_armed = true;
            ctx.set_timer(RECHECK, Timer::Recheck);
        }
        while self.busy < self.concurrency() && !self.stalled() {
            let next = match self.config.queue {
                QueueOrder::Fifo => self.queue.pop_front(),
                QueueOrder::Lifo => self.queue.pop_back(),
            };
            let Some(id) = next else { break };
            let now = ctx.now();
            let job = &self.jobs[&id];
            let measured = self.measured(job);
            let too_old = self
                .config
                .max_queue_time
                .is_some_and(|m| now.saturating_since(job.arrived) > m);
            let expired = self.config.drop_expired && now >= job.deadline;
            if too_old || expired {
                let name = if too_old {
                    &self.names.shed
                } else {
                    &self.names.expired
                };
                if measured {
                    ctx.count(name, 1);
                }
                self.answer(ctx, id, false, false);
                continue;
            }
            self.busy += 1;
            let work = self.config.service_time.sample(ctx.random());
            let work = Duration((work.0 as f64 * self.slow_factor()).round() as u64);
            ctx.set_timer(work, Timer::ServiceDone(id));
        }
    }

    /// Answers job `id` and frees its worker if it held one.
    fn answer(&mut self, ctx: &mut Context<'_, Node>, id: u64, ok: bool, held_worker: bool) {
        let job = self.jobs.remove(&id).expect("answering a live job");
        let now = ctx.now();
        if self.measured(&job) {
            ctx.count(
                if ok {
                    &self.names.served
                } else {
                    &self.names.errors
                },
                1,
            );
            ctx.observe(&self.names.sojourn, (now - job.arrived).as_nanos());
        }
        ctx.send(job.from, Msg::Response { id: job.request, ok });
        if held_worker {
            self.busy -= 1;
        }
    }

    fn on_service_done(&mut self, ctx: &mut Context<'_, Node>, id: u64) {
        self.refresh(ctx);
        let p = self.error_probability();
        // Always draw, so switching errors on does not shift later draws of this stream.
        let fail = ctx.random().chance(p);
        let deadline = self.jobs[&id].deadline;
        if fail || self.caller.is_none() || self.config.fanout == 0 {
            self.answer(ctx, id, !fail, true);
            self.dispatch(ctx);
            return;
        }
        let fanout = self.config.fanout;
        self.jobs.get_mut(&id).expect("live job").pending = fanout;
        for _ in 0..fanout {
            let caller = self.caller.as_mut().expect("checked above");
            if let Some(done) = caller.start(ctx, id, Some(deadline)) {
                self.downstream_done(ctx, done);
            }
        }
    }

    fn downstream_done(&mut self, ctx: &mut Context<'_, Node>, done: Done) {
        let Some(job) = self.jobs.get_mut(&done.owner) else {
            return;
        };
        job.pending -= 1;
        job.failed |= !done.ok;
        if job.pending == 0 {
            let ok = !job.failed;
            self.answer(ctx, done.owner, ok, true);
            self.dispatch(ctx);
        }
    }
}

impl Process for Node {
    type Message = Msg;
    type Timer = Timer;
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            Node::Client(c) => match c.workload {
                Workload::Open { .. } => c.arrive_after(ctx),
                Workload::Closed { concurrency, .. } => {
                    for _ in 0..concurrency {
                        c.offer(ctx);
                    }
                }
            },
            Node::Server(s) => {
                let now = ctx.now();
                for (i, d) in s.degradations.iter().enumerate() {
                    let on = Instant::ZERO + d.at;
                    let off = on + d.duration;
                    if off > now {
                        ctx.set_timer(on.saturating_since(now), Timer::Degrade(i as u32, true));
                        ctx.set_timer(off - now, Timer::Degrade(i as u32, false));
                    }
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Msg) {
        match (self, message) {
            (Node::Server(s), Msg::Request { id, deadline }) => s.on_request(ctx, from, id, deadline),
            (Node::Server(s), Msg::Response { id, ok }) => {
                let done = s.caller.as_mut().and_then(|c| c.on_response(ctx, id, ok));
                if let Some(done) = done {
                    s.downstream_done(ctx, done);
                }
            }
            (Node::Client(c), Msg::Response { id, ok }) => {
                if let Some(done) = c.caller.on_response(ctx, id, ok) {
                    c.done(ctx, done);
                }
            }
            (Node::Client(_), Msg::Request { .. }) => panic!("a client received a request"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) {
        match self {
            Node::Client(c) => {
                let done = match timer {
                    Timer::Arrive => {
                        c.offer(ctx);
                        c.arrive_after(ctx);
                        None
                    }
                    Timer::Think => {
                        c.offer(ctx);
                        None
                    }
                    Timer::AttemptTimeout(a) => c.caller.on_timeout(ctx, a),
                    Timer::Retry(id) => c.caller.on_retry(ctx, id),
                    Timer::Hedge(id) => c.caller.on_hedge(ctx, id),
                    Timer::ServiceDone(_) | Timer::Degrade(..) | Timer::Recheck => {
                        panic!("server timer at a client")
                    }
                };
                if let Some(done) = done {
                    c.done(ctx, done);
                }
            }
            Node::Server(s) => {
                let done = match timer {
                    Timer::ServiceDone(id) => {
                        s.on_service_done(ctx, id);
                        None
                    }
                    Timer::Degrade(i, on) => {
                        if on {
                            s.active.push(i);
                        } else {
                            s.active.retain(|&k| k != i);
                        }
                        s.dispatch(ctx);
                        None
                    }
                    Timer::Recheck => {
                        s.recheck_armed = false;
                        s.dispatch(ctx);
                        None
                    }
                    Timer::AttemptTimeout(a) => s.caller.as_mut().and_then(|c| c.on_timeout(ctx, a)),
                    Timer::Retry(id) => s.caller.as_mut().and_then(|c| c.on_retry(ctx, id)),
                    Timer::Hedge(id) => s.caller.as_mut().and_then(|c| c.on_hedge(ctx, id)),
                    Timer::Arrive | Timer::Think => panic!("client timer at a server"),
                };
                if let Some(done) = done {
                    s.downstream_done(ctx, done);
                }
            }
        }
    }
}

/// Places the tiers' servers, then the clients, one per host. The config must be valid.
pub fn setup(sim: &mut Sim<Node>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid services config: {e}");
    }
    let measure_from = Instant::ZERO + config.measure_after;
    // Ids are assigned in spawn order: tier by tier, then clients.
    let mut first = Vec::new();
    let mut next = 0u32;
    for t in &config.tiers {
        first.push(next);
        next += t.servers;
    }
    let ids = |tier: usize| -> Vec<ProcessId> {
        let start = first[tier];
        (start..start + config.tiers[tier].servers)
            .map(ProcessId)
            .collect()
    };
    let mut host = 0u32;
    for (i, t) in config.tiers.iter().enumerate() {
        for k in 0..t.servers {
            let degradations: Vec<Degradation> = config
                .degradations
                .iter()
                .filter(|d| d.tier as usize == i && d.server.is_none_or(|s| s == k))
                .copied()
                .collect();
            let caller = (i + 1 < config.tiers.len())
                .then(|| Caller::new(t.caller, ids(i + 1), measure_from, &format!("tier{i}.")));
            let n = |s: &str| format!("tier{i}.{s}");
            let server = Server {
                config: *t,
                degradations,
                active: Vec::new(),
                from_faults: Vec::new(),
                recheck_armed: false,
                queue: VecDeque::new(),
                jobs: BTreeMap::new(),
                busy: 0,
                next_job: 0,
                caller,
                measure_from,
                names: ServerNames {
                    served: n("served"),
                    shed: n("shed"),
                    expired: n("expired"),
                    errors: n("errors"),
                    sojourn: n("sojourn"),
                },
            };
            sim.spawn(HostId(host), Node::Server(Box::new(server)));
            host += 1;
        }
    }
    for _ in 0..config.clients {
        let client = Client {
            workload: config.workload,
            caller: Caller::new(config.client, ids(0), measure_from, ""),
            measure_from,
        };
        sim.spawn(HostId(host), Node::Client(Box::new(client)));
        host += 1;
    }
}

/// The SLO, if configured, as an end-of-run property.
pub fn properties(config: &Config) -> Vec<Property<Node>> {
    let Some(slo) = config.slo else { return Vec::new() };
    vec![Property::at_end("slo", move |v: &View<'_, Node>| {
        let m = v.metrics();
        let offered = m.counter("offered");
        let ok = m.counter("ok");
        let rate = if offered == 0 {
            1.0
        } else {
            ok as f64 / offered as f64
        };
        if rate < slo.success_rate {
            return Err(format!(
                "success rate {rate:.4} below the SLO {}",
                slo.success_rate
            ));
        }
        if let Some(p99) = m.quantile("latency", 0.99)
            && p99 > slo.latency_p99.0
        {
            return Err(format!(
                "p99 latency {} above the SLO {}",
                Duration(p99),
                slo.latency_p99
            ));
        }
        Ok(())
    })]
}

/// Summary figures of one run: the numbers experiments compare. `end` is when the run ended.
///
/// `goodput` (successes per second over the measured span), `success_rate`, `amplification`
/// (attempts per offered request), `latency_{mean,p50,p99,p999}_ms`, `recovery_time_s` (from
/// the last degradation's end to the first window whose successes reach `recovery_threshold` of
/// the offers in it; the rest of the run if never, with `recovered` = 0) and the raw counters.
pub fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, v) in metrics.counters() {
        out.insert(name.clone(), *v as f64);
    }
    let offered = metrics.counter("offered") as f64;
    let ok = metrics.counter("ok") as f64;
    let attempts = metrics.counter("attempts") as f64;
    let span = end
        .saturating_since(Instant::ZERO + config.measure_after)
        .as_secs_f64();
    out.insert("goodput".into(), if span > 0.0 { ok / span } else { 0.0 });
    out.insert(
        "success_rate".into(),
        if offered > 0.0 { ok / offered } else { 0.0 },
    );
    out.insert(
        "amplification".into(),
        if offered > 0.0 { attempts / offered } else { 0.0 },
    );
    let lat = metrics.samples("latency");
    if !lat.is_empty() {
        let mean = lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64;
        out.insert("latency_mean_ms".into(), mean / 1e6);
        for (name, q) in [
            ("latency_p50_ms", 0.5),
            ("latency_p99_ms", 0.99),
            ("latency_p999_ms", 0.999),
        ] {
            out.insert(
                name.into(),
                metrics.quantile("latency", q).unwrap_or(0) as f64 / 1e6,
            );
        }
    }
    for (i, _) in config.tiers.iter().enumerate() {
        let name = format!("tier{i}.sojourn");
        let s = metrics.samples(&name);
        if !s.is_empty() {
            let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
            out.insert(format!("tier{i}.sojourn_mean_ms"), mean / 1e6);
        }
    }
    if let Some(trigger) = config.trigger_end() {
        let (recovered, time) = recovery_time(
            Instant::ZERO + trigger,
            end,
            config.recovery_window,
            config.recovery_threshold,
            metrics.samples("offered_at"),
            metrics.samples("ok_at"),
        );
        out.insert("recovered".into(), if recovered { 1.0 } else { 0.0 });
        out.insert("recovery_time_s".into(), time.as_secs_f64());
    }
    out
}

/// Time from `trigger` to the start of the first whole window in which successes reach
/// `threshold` of offers. Returns `(false, end - trigger)` when no window does.
pub fn recovery_time(
    trigger: Instant,
    end: Instant,
    window: Duration,
    threshold: f64,
    offered_at: &[u64],
    ok_at: &[u64],
) -> (bool, Duration) {
    let w = window.0.max(1);
    let windows = end.saturating_since(trigger).0 / w;
    let bucket = |samples: &[u64]| {
        let mut counts = vec![0u64; windows as usize];
        for &t in samples {
            if t >= trigger.0 {
                let k = (t - trigger.0) / w;
                if k < windows {
                    counts[k as usize] += 1;
                }
            }
        }
        counts
    };
    let offers = bucket(offered_at);
    let oks = bucket(ok_at);
    for k in 0..windows as usize {
        if offers[k] > 0 && oks[k] as f64 >= threshold * offers[k] as f64 {
            return (true, Duration(k as u64 * w));
        }
    }
    (false, end.saturating_since(trigger))
}

#[cfg(test)]
mod tests;
