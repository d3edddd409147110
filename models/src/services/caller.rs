//! The calling side shared by clients and servers: attempts, timeouts, retries, hedges,
//! breaker, budget and load balancing around a set of backends.

use super::*;

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
    throttled: String,
    bulkhead_rejected: String,
    fallbacks: String,
    fallback_staleness: String,
    limited: String,
}

impl Names {
    pub(super) fn new(prefix: &str) -> Names {
        let n = |s: &str| format!("{prefix}{s}");
        Names {
            attempts: n("attempts"),
            retries: n("retries"),
            hedges: n("hedges"),
            timeouts: n("timeouts"),
            breaker_rejected: n("breaker_rejected"),
            budget_denied: n("budget_denied"),
            late: n("late_responses"),
            throttled: n("throttled"),
            bulkhead_rejected: n("bulkhead_rejected"),
            fallbacks: n("fallbacks"),
            fallback_staleness: n("fallback_staleness"),
            limited: n("limiter_rejected"),
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
    /// Holds a bulkhead slot.
    permit: bool,
    /// Its answer came from a fallback (here or further down).
    degraded: bool,
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
    /// Whether it was answered: a success, or a fallback when `degraded`.
    pub ok: bool,
    /// The answer came from a fallback (this caller's or one further down).
    pub degraded: bool,
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
    throttle: Option<AdaptiveThrottle>,
    bulkhead: Option<Bulkhead>,
    fallback: Option<Fallback>,
    limiter: Option<ConcurrencyLimiter>,
    /// Calls finished by the event being handled, handed back when it returns.
    finished: Vec<Done>,
    calls: BTreeMap<u64, Call>,
    attempts: BTreeMap<u64, Attempt>,
    next_id: u64,
    measure_from: Instant,
    names: Names,
}

impl Caller {
    pub(super) fn new(
        config: CallerConfig,
        backends: Vec<ProcessId>,
        measure_from: Instant,
        prefix: &str,
    ) -> Caller {
        Caller {
            balancer: Balancer::new(config.balancer, backends.len()),
            budget: config.budget.map(RetryBudget::new),
            breaker: config.breaker.map(CircuitBreaker::new),
            throttle: config.throttle.map(AdaptiveThrottle::new),
            bulkhead: config.bulkhead.map(Bulkhead::new),
            fallback: config.fallback.map(Fallback::new),
            limiter: config.limiter.map(ConcurrencyLimiter::new),
            finished: Vec::new(),
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
    /// Returns the calls that ended (this one, if it ended at once).
    pub(super) fn start(
        &mut self,
        ctx: &mut Context<'_, Node>,
        owner: u64,
        deadline: Option<Instant>,
    ) -> Vec<Done> {
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
            permit: false,
            degraded: false,
        };
        let measured = call.measured;
        let in_flight = self.calls.len() as u32;
        self.calls.insert(id, call);
        if let Some(b) = &mut self.budget {
            b.on_request();
        }
        if self.limiter.as_ref().is_some_and(|l| !l.admits(in_flight)) {
            if measured {
                ctx.count(&self.names.limited, 1);
            }
            self.finish(ctx, id, false);
            return std::mem::take(&mut self.finished);
        }
        if let Some(b) = &mut self.bulkhead {
            match b.acquire(id) {
                Permit::Granted => self.calls.get_mut(&id).expect("just added").permit = true,
                Permit::Queued => return Vec::new(),
                Permit::Rejected => {
                    if measured {
                        ctx.count(&self.names.bulkhead_rejected, 1);
                    }
                    self.finish(ctx, id, false);
                    return std::mem::take(&mut self.finished);
                }
            }
        }
        self.send_attempt(ctx, id, None);
        std::mem::take(&mut self.finished)
    }

    /// Sends one attempt of call `id` (or fails the call when the breaker or deadline says so).
    fn send_attempt(&mut self, ctx: &mut Context<'_, Node>, id: u64, avoid: Option<usize>) {
        let now = ctx.now();
        let call = self.calls.get(&id).expect("attempt for a live call");
        let measured = call.measured;
        if now >= call.deadline {
            return self.finish(ctx, id, false);
        }
        if let Some(b) = &mut self.breaker
            && !b.allow(now)
        {
            if measured {
                ctx.count(&self.names.breaker_rejected, 1);
            }
            if self.calls[&id].in_flight == 0 {
                self.finish(ctx, id, false);
            }
            return;
        }
        if let Some(t) = &mut self.throttle
            && !t.admit(now, ctx.random())
        {
            if measured {
                ctx.count(&self.names.throttled, 1);
            }
            if self.calls[&id].in_flight == 0 {
                self.finish(ctx, id, false);
            }
            return;
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
    }

    /// Ends call `id`, answering from the fallback if it failed and one is available, and
    /// hands its bulkhead slot to the next waiting call (which may end at once and pass the
    /// slot on: the recursion is at most the bulkhead's queue deep).
    fn finish(&mut self, ctx: &mut Context<'_, Node>, id: u64, ok: bool) {
        let in_flight = self.calls.len() as u32;
        let call = self.calls.remove(&id).expect("finishing a live call");
        let now = ctx.now();
        // Only calls that went out teach the limiter (not those it or the bulkhead turned away).
        if let Some(l) = &mut self.limiter
            && call.attempts > 0
        {
            l.on_sample(Sample {
                latency: now - call.started,
                in_flight,
                dropped: !ok,
            });
        }
        let mut done = Done {
            owner: call.owner,
            ok,
            degraded: call.degraded,
            started: call.started,
            measured: call.measured,
        };
        if let Some(f) = &mut self.fallback {
            if ok && !call.degraded {
                f.on_success(now);
            } else if !ok && let Some(age) = f.answer(now) {
                done.ok = true;
                done.degraded = true;
                if call.measured {
                    ctx.count(&self.names.fallbacks, 1);
                }
                if f.max_staleness().is_some() {
                    ctx.observe(&self.names.fallback_staleness, age.as_nanos());
                }
            }
        }
        self.finished.push(done);
        if call.permit
            && let Some(next) = self.bulkhead.as_mut().and_then(Bulkhead::release)
        {
            self.calls.get_mut(&next).expect("a waiting call is live").permit = true;
            self.send_attempt(ctx, next, None);
        }
    }

    /// An attempt ended (answered, `degraded` if from a fallback downstream, or timed out).
    fn attempt_ended(&mut self, ctx: &mut Context<'_, Node>, attempt: u64, ok: bool, degraded: bool) {
        let now = ctx.now();
        let Some(a) = self.attempts.remove(&attempt) else {
            return;
        };
        self.balancer.on_result(a.backend, now, !ok);
        if let Some(b) = &mut self.breaker {
            b.record(now, !ok);
        }
        if ok && let Some(t) = &mut self.throttle {
            t.on_accept(now);
        }
        let call = self.calls.get_mut(&a.call).expect("attempt of a live call");
        call.in_flight -= 1;
        if ok {
            call.degraded = degraded;
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
            return self.finish(ctx, a.call, true);
        }
        if call.in_flight > 0 {
            return; // a hedge is still out
        }
        self.after_failure(ctx, a.call);
    }

    /// Every attempt of the call failed: retry after a backoff, or give up.
    fn after_failure(&mut self, ctx: &mut Context<'_, Node>, id: u64) {
        let now = ctx.now();
        let call = self.calls.get_mut(&id).expect("live call");
        let measured = call.measured;
        if !self.config.retry.allows_retry(call.attempts) || now >= call.deadline {
            return self.finish(ctx, id, false);
        }
        if let Some(b) = &mut self.budget
            && !b.try_spend()
        {
            if measured {
                ctx.count(&self.names.budget_denied, 1);
            }
            return self.finish(ctx, id, false);
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
            self.send_attempt(ctx, id, None);
        } else {
            ctx.set_timer(delay, Timer::Retry(id));
        }
    }

    pub(super) fn on_timeout(&mut self, ctx: &mut Context<'_, Node>, attempt: u64) -> Vec<Done> {
        let Some(measured) = self.attempts.get(&attempt).map(|a| self.calls[&a.call].measured) else {
            return Vec::new();
        };
        if measured {
            ctx.count(&self.names.timeouts, 1);
        }
        self.attempt_ended(ctx, attempt, false, false);
        std::mem::take(&mut self.finished)
    }

    /// The answer to an attempt: `ok`, and `degraded` when it came from a fallback downstream.
    pub(super) fn on_response(
        &mut self,
        ctx: &mut Context<'_, Node>,
        attempt: u64,
        ok: bool,
        degraded: bool,
    ) -> Vec<Done> {
        let Some(a) = self.attempts.get(&attempt) else {
            ctx.count(&self.names.late, 1);
            return Vec::new();
        };
        ctx.cancel_timer(a.timer);
        self.attempt_ended(ctx, attempt, ok, degraded);
        std::mem::take(&mut self.finished)
    }

    pub(super) fn on_retry(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Vec<Done> {
        if self.calls.contains_key(&id) {
            self.send_attempt(ctx, id, None);
        }
        std::mem::take(&mut self.finished)
    }

    pub(super) fn on_hedge(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Vec<Done> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        if call.hedged || call.in_flight == 0 {
            return Vec::new();
        }
        call.hedged = true;
        let measured = call.measured;
        if let Some(b) = &mut self.budget
            && !b.try_spend()
        {
            if measured {
                ctx.count(&self.names.budget_denied, 1);
            }
            return Vec::new();
        }
        if measured {
            ctx.count(&self.names.hedges, 1);
        }
        let avoid = self.attempts.values().find(|a| a.call == id).map(|a| a.backend);
        self.send_attempt(ctx, id, avoid);
        std::mem::take(&mut self.finished)
    }
}
