//! Servers: bounded queue, concurrency limit, shedding, degradations, calls to the next tier.

use super::*;

#[derive(Clone, Debug)]
struct Job {
    from: ProcessId,
    request: u64,
    arrived: Instant,
    deadline: Instant,
    pending: u32,
    failed: bool,
    /// A downstream call was answered from a fallback.
    degraded: bool,
}

/// Times (ns, the server's clock) at which a server first handled an event after a fault-plan
/// degradation of its host ended.
pub const FAULT_DEGRADATION_END: &str = "fault_degradation_end_at";
/// How often a server held back by a fault-plan stall or CPU cut looks whether it has ended.
const RECHECK: Duration = Duration::from_millis(1);

/// A server: a bounded queue in front of workers, its tier's overload protections and
/// degradations, and (but in the last tier) a [`Caller`] to the next tier.
///
/// A component: a host process forwards its start, the services messages it receives and the
/// services timers to [`Server::on_start`], [`Server::on_message`] and [`Server::on_timer`]
/// through a [`Scope`] speaking [`Msg`] and [`Timer`].
#[derive(Clone, Debug)]
pub struct Server {
    config: TierConfig,
    /// Which tier this server belongs to (its role `tierN`).
    tier: u32,
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
    limiter: Option<ConcurrencyLimiter>,
    rate_limiter: Option<RateLimiter>,
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
    wait: String,
    received: String,
    limited: String,
    rate_limited: String,
    limit: String,
}

impl Server {
    /// Server `tier`.k with its share of the config's degradations, calling the next tier
    /// through `caller` (none for the last tier); counts from `measure_from`.
    pub fn new(
        config: TierConfig,
        tier: usize,
        degradations: Vec<Degradation>,
        caller: Option<Caller>,
        measure_from: Instant,
    ) -> Server {
        let n = |s: &str| format!("tier{tier}.{s}");
        Server {
            config,
            tier: tier as u32,
            degradations,
            active: Vec::new(),
            from_faults: Vec::new(),
            recheck_armed: false,
            queue: VecDeque::new(),
            jobs: BTreeMap::new(),
            busy: 0,
            next_job: 0,
            caller,
            limiter: config.limiter.map(ConcurrencyLimiter::new),
            rate_limiter: config.rate_limit.map(RateLimiter::new),
            measure_from,
            names: ServerNames {
                served: n("served"),
                shed: n("shed"),
                expired: n("expired"),
                errors: n("errors"),
                sojourn: n("sojourn"),
                wait: n("wait"),
                received: n("received"),
                limited: n("limited"),
                rate_limited: n("rate_limited"),
                limit: n("limit"),
            },
        }
    }

    /// The tier this server belongs to.
    pub fn tier(&self) -> u32 {
        self.tier
    }

    /// Its calling side, if it calls a next tier.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// Its calling side, e.g. to change the backends ([`Caller::set_backends`]).
    pub fn caller_mut(&mut self) -> Option<&mut Caller> {
        self.caller.as_mut()
    }

    /// Arms the timers of its scheduled degradations that have not ended yet (times are
    /// since the run's start).
    pub fn on_start<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let now = ctx.monotonic();
        for (i, d) in self.degradations.iter().enumerate() {
            let on = Instant::ZERO + d.at;
            let off = on + d.duration;
            if off > now {
                ctx.set_timer(on.saturating_since(now), Timer::Degrade(i as u32, true));
                ctx.set_timer(off - now, Timer::Degrade(i as u32, false));
            }
        }
    }

    /// A request, or an answer to its caller.
    pub fn on_message<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        from: ProcessId,
        message: Msg,
    ) {
        match message {
            Msg::Request { id, timeout } => self.on_request(ctx, from, id, timeout),
            Msg::Response { id, ok } => self.on_answer(ctx, id, ok, false),
            Msg::Degraded { id } => self.on_answer(ctx, id, true, true),
        }
    }

    /// A server or caller timer fired. Panics on a client's timer.
    pub fn on_timer<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, timer: Timer) {
        match timer {
            Timer::ServiceDone(id) => self.on_service_done(ctx, id),
            Timer::Degrade(i, on) => self.on_degrade(ctx, i, on),
            Timer::Recheck => self.on_recheck(ctx),
            Timer::AttemptTimeout(_) | Timer::Retry(_) | Timer::Hedge(_) => {
                let done = self
                    .caller
                    .as_mut()
                    .map(|c| c.on_timer(ctx, timer))
                    .unwrap_or_default();
                for done in done {
                    self.downstream_done(ctx, done);
                }
            }
            Timer::Arrive | Timer::Think => panic!("client timer at a server"),
        }
    }

    /// Scheduled degradation `index` switches on or off ([`Timer::Degrade`]).
    pub fn on_degrade<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, index: u32, on: bool) {
        if on {
            self.active.push(index);
        } else {
            self.active.retain(|&k| k != index);
        }
        self.dispatch(ctx);
    }

    /// The look again of a server held back by a fault-plan stall or CPU cut ([`Timer::Recheck`]).
    pub fn on_recheck<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        self.recheck_armed = false;
        self.dispatch(ctx);
    }

    /// Every active degradation: the config-scheduled ones, then the fault plan's.
    fn modes(&self) -> impl Iterator<Item = DegradeMode> + '_ {
        self.active
            .iter()
            .map(|&i| self.degradations[i as usize].mode)
            .chain(self.from_faults.iter().copied())
    }

    /// Reads the host's fault-plan degradations. An unknown mode is a bug in the plan or profile,
    /// so it panics (the engine reports the panic as the run's failure).
    fn refresh<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
        let was_degraded = !self.from_faults.is_empty();
        self.from_faults.clear();
        for text in ctx.degradations() {
            match DegradeMode::parse(text) {
                Ok(mode) => self.from_faults.push(mode),
                Err(e) => panic!("services server on {}: {e}", ctx.host()),
            }
        }
        // No handler runs when a fault-plan degradation ends: the first event after it marks
        // its end, which the summary's recovery time counts from.
        if was_degraded && self.from_faults.is_empty() {
            let now = ctx.monotonic().as_nanos();
            ctx.observe(FAULT_DEGRADATION_END, now);
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

    /// A request `request` from `from`, useful for `timeout` from now: rejected at once
    /// (rate limit, concurrency limit, full queue) or queued.
    pub fn on_request<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        from: ProcessId,
        request: u64,
        timeout: Duration,
    ) {
        let now = ctx.monotonic();
        let deadline = now.saturating_add(timeout);
        let measured = now >= self.measure_from;
        if measured {
            ctx.count(&self.names.received, 1);
        }
        let rejected = if self.rate_limiter.as_mut().is_some_and(|r| !r.allow(from, now)) {
            Some(&self.names.rate_limited)
        } else if self
            .limiter
            .as_ref()
            .is_some_and(|l| !l.admits(self.jobs.len() as u32))
        {
            Some(&self.names.limited)
        } else if self.queue.len() >= self.config.queue_capacity as usize {
            Some(&self.names.shed)
        } else {
            None
        };
        if let Some(name) = rejected {
            if measured {
                ctx.count(name, 1);
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
                degraded: false,
            },
        );
        self.queue.push_back(id);
        self.dispatch(ctx);
    }

    /// Starts queued jobs while workers are free.
    pub fn dispatch<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>) {
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
            let now = ctx.monotonic();
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
                self.answer(ctx, id, false, false, true);
                continue;
            }
            self.busy += 1;
            if measured {
                // Queue wait alone: arrival to start of service (0 when a worker was free).
                ctx.observe(&self.names.wait, now.saturating_since(job.arrived).as_nanos());
            }
            let work = self.config.service_time.sample(ctx.random());
            let work = Duration((work.0 as f64 * self.slow_factor()).round() as u64);
            ctx.set_timer(work, Timer::ServiceDone(id));
        }
    }

    /// Answers job `id` and frees its worker if it held one; `dropped` when shed or expired
    /// for overload (what a concurrency limiter learns from).
    fn answer<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        id: u64,
        ok: bool,
        held_worker: bool,
        dropped: bool,
    ) {
        let in_flight = self.jobs.len() as u32;
        let job = self.jobs.remove(&id).expect("answering a live job");
        let now = ctx.monotonic();
        if let Some(l) = &mut self.limiter {
            let before = l.limit();
            l.on_sample(Sample {
                latency: now.saturating_since(job.arrived),
                in_flight,
                dropped,
            });
            if l.limit() != before {
                ctx.observe(&self.names.limit, u64::from(l.limit()));
            }
        }
        if self.measured(&job) {
            ctx.count(
                if ok {
                    &self.names.served
                } else {
                    &self.names.errors
                },
                1,
            );
            ctx.observe(&self.names.sojourn, now.saturating_since(job.arrived).as_nanos());
        }
        if ok && job.degraded {
            ctx.send(job.from, Msg::Degraded { id: job.request });
        } else {
            ctx.send(job.from, Msg::Response { id: job.request, ok });
        }
        if held_worker {
            self.busy -= 1;
        }
    }

    /// Job `id`'s local work is over ([`Timer::ServiceDone`]): answer it, or call the next tier.
    pub fn on_service_done<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, id: u64) {
        self.refresh(ctx);
        let p = self.error_probability();
        // Always draw, so switching errors on does not shift later draws of this stream.
        let fail = ctx.random().chance(p);
        let deadline = self.jobs[&id].deadline;
        if fail || self.caller.is_none() || self.config.fanout == 0 {
            self.answer(ctx, id, !fail, true, false);
            self.dispatch(ctx);
            return;
        }
        let fanout = self.config.fanout;
        self.jobs.get_mut(&id).expect("live job").pending = fanout;
        for _ in 0..fanout {
            let caller = self.caller.as_mut().expect("checked above");
            for done in caller.start(ctx, id, Some(deadline)) {
                self.downstream_done(ctx, done);
            }
        }
    }

    /// An answer from the next tier reached this server's caller.
    pub fn on_answer<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        id: u64,
        ok: bool,
        degraded: bool,
    ) {
        let done = self
            .caller
            .as_mut()
            .map(|c| c.on_response(ctx, id, ok, degraded))
            .unwrap_or_default();
        for done in done {
            self.downstream_done(ctx, done);
        }
    }

    /// A call to the next tier ended: answer the job once all its calls have.
    pub fn downstream_done<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, done: Done) {
        let Some(job) = self.jobs.get_mut(&done.owner) else {
            return;
        };
        job.pending -= 1;
        job.failed |= !done.ok;
        job.degraded |= done.degraded;
        if job.pending == 0 {
            let ok = !job.failed;
            self.answer(ctx, done.owner, ok, true, false);
            self.dispatch(ctx);
        }
    }
}
