//! Clients: open-loop (Poisson) or closed-loop load.

use super::*;

/// A client: generates its workload's calls through a [`Caller`] and counts the outcomes.
///
/// A component: a host process forwards its start, the services messages it receives and the
/// services timers to [`Client::on_start`], [`Client::on_message`] and [`Client::on_timer`]
/// through a [`Scope`] speaking [`Msg`] and [`Timer`].
#[derive(Clone, Debug)]
pub struct Client {
    workload: Workload,
    /// The open workload's rate over time, when it follows a schedule.
    curve: Option<RateCurve>,
    caller: Caller,
    measure_from: Instant,
    /// Some caller of the run has a fallback: also chart `answered.ok` / `answered.failed`
    /// (a fallback answer counts as answered), so "degraded but answering" shows over time.
    answered_group: bool,
    /// Calls that ended in a success, in a failure (warm-up included; fallbacks in neither).
    outcomes: (u64, u64),
}

impl Client {
    /// A client generating `workload` through `caller`; counts from `measure_from`.
    /// `answered_group` records the `answered.*` outcomes too (runs with fallbacks).
    pub fn new(workload: Workload, caller: Caller, measure_from: Instant, answered_group: bool) -> Client {
        Client {
            workload,
            curve: None,
            caller,
            measure_from,
            answered_group,
            outcomes: (0, 0),
        }
    }

    /// The open workload's rate follows `schedule` from its `rate` (an empty schedule or a
    /// closed workload: no change).
    pub fn with_schedule(mut self, schedule: &RateSchedule) -> Client {
        self.curve = match self.workload {
            Workload::Open { rate } if !schedule.is_empty() => Some(RateCurve::new(rate, schedule)),
            _ => None,
        };
        self
    }

    /// How many calls have ended so far as a success and as a failure, from the start (the
    /// `requests.ok` and `requests.failed` series; fallback answers count in neither).
    pub fn outcomes(&self) -> (u64, u64) {
        self.outcomes
    }

    /// Its workload.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// Its calling side.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Its calling side, e.g. to change the backends ([`Caller::set_backends`]).
    pub fn caller_mut(&mut self) -> &mut Caller {
        &mut self.caller
    }

    /// Starts the load: the first open-loop arrival, or every closed-loop slot's first request.
    pub fn on_start<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        match self.workload {
            Workload::Open { .. } => self.arrive_after(ctx),
            Workload::Closed { concurrency, .. } => {
                for _ in 0..concurrency {
                    self.offer(ctx);
                }
            }
        }
    }

    /// An answer reached the client's caller. Panics on a request (clients serve nothing).
    pub fn on_message<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        _from: ProcessId,
        message: Msg,
    ) {
        if let Msg::Request { .. } = message {
            panic!("a client received a request");
        }
        for done in self.caller.on_message(ctx, message) {
            self.done(ctx, done);
        }
    }

    /// A client or caller timer fired. Panics on a server's timer.
    pub fn on_timer<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, timer: Timer) {
        let done = match timer {
            Timer::Arrive => {
                self.offer(ctx);
                self.arrive_after(ctx);
                Vec::new()
            }
            Timer::Think => {
                self.offer(ctx);
                Vec::new()
            }
            Timer::AttemptTimeout(_) | Timer::Retry(_) | Timer::Hedge(_) => self.caller.on_timer(ctx, timer),
            Timer::ServiceDone(_) | Timer::Degrade(..) | Timer::Recheck => {
                panic!("server timer at a client")
            }
        };
        for done in done {
            self.done(ctx, done);
        }
    }

    /// Open loop: arms the next arrival (an exponential gap, or on a schedule the gap that
    /// holds a unit exponential's worth of the rate curve); closed loop: nothing.
    pub fn arrive_after<P: Process>(&self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        if let Some(curve) = &self.curve {
            let area = ctx.random().exponential(1.0);
            let gap = curve.gap(ctx.now().as_nanos(), area);
            ctx.set_timer(gap, Timer::Arrive);
        } else if let Workload::Open { rate } = self.workload {
            let gap = ctx.random().exponential(1e9 / rate);
            ctx.set_timer(Duration(gap.round().max(1.0) as u64), Timer::Arrive);
        }
    }

    /// Offers one request: starts a call and counts it.
    pub fn offer<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let now = ctx.monotonic();
        if now >= self.measure_from {
            ctx.count("offered", 1);
            ctx.observe("offered_at", now.as_nanos());
        } else {
            // Kept apart so the measured figures stay as they are; recovery after a trigger
            // that ends during the warm-up needs them.
            ctx.observe("warmup_offered_at", now.as_nanos());
        }
        for done in self.caller.start(ctx, 0, None) {
            self.done(ctx, done);
        }
    }

    /// A call ended: records its outcome and, closed loop, arms the slot's think time.
    pub fn done<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, done: Done) {
        let now = ctx.monotonic();
        // Over time, every request counts (the charts show the warm-up too). An answer from a
        // fallback (here or downstream) is neither a success nor a failure: degraded.
        let latency = now.saturating_since(done.started).as_nanos();
        if done.ok && done.degraded {
            ctx.observe_timed("requests.fallback", latency);
        } else if done.ok {
            ctx.observe_timed("requests.ok", latency);
            self.outcomes.0 += 1;
        } else {
            ctx.observe_timed("requests.failed", latency);
            self.outcomes.1 += 1;
        }
        if self.answered_group {
            let name = if done.ok { "answered.ok" } else { "answered.failed" };
            ctx.observe_timed(name, latency);
        }
        if done.measured {
            if done.ok && done.degraded {
                ctx.count("degraded", 1);
                ctx.observe("degraded_at", now.as_nanos());
            } else if done.ok {
                ctx.count("ok", 1);
                ctx.observe("latency", now.saturating_since(done.started).as_nanos());
                ctx.observe("ok_at", now.as_nanos());
            } else {
                ctx.count("failed", 1);
            }
        } else if done.ok && !done.degraded {
            ctx.observe("warmup_ok_at", now.as_nanos());
        }
        if let Workload::Closed { think_time, .. } = self.workload {
            let think = think_time.sample(ctx.random());
            ctx.set_timer(think, Timer::Think);
        }
    }
}
