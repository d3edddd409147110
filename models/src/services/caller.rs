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
    pub(super) fn start(
        &mut self,
        ctx: &mut Context<'_, Node>,
        owner: u64,
        deadline: Option<Instant>,
    ) -> Option<Done> {
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

    pub(super) fn on_timeout(&mut self, ctx: &mut Context<'_, Node>, attempt: u64) -> Option<Done> {
        let measured = self
            .attempts
            .get(&attempt)
            .map(|a| self.calls[&a.call].measured)?;
        if measured {
            ctx.count(&self.names.timeouts, 1);
        }
        self.attempt_ended(ctx, attempt, false)
    }

    pub(super) fn on_response(
        &mut self,
        ctx: &mut Context<'_, Node>,
        attempt: u64,
        ok: bool,
    ) -> Option<Done> {
        let Some(a) = self.attempts.get(&attempt) else {
            ctx.count(&self.names.late, 1);
            return None;
        };
        ctx.cancel_timer(a.timer);
        self.attempt_ended(ctx, attempt, ok)
    }

    pub(super) fn on_retry(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Option<Done> {
        if self.calls.contains_key(&id) {
            self.send_attempt(ctx, id, None)
        } else {
            None
        }
    }

    pub(super) fn on_hedge(&mut self, ctx: &mut Context<'_, Node>, id: u64) -> Option<Done> {
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
