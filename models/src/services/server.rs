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

/// A server process.
#[derive(Clone, Debug)]
pub struct Server {
    config: TierConfig,
    /// Which tier this server belongs to (its role `tierN`).
    tier: u32,
    pub(super) degradations: Vec<Degradation>,
    pub(super) active: Vec<u32>,
    /// The host's `Fault::Degrade` conditions as last read from the context.
    from_faults: Vec<DegradeMode>,
    /// A `Timer::Recheck` is pending.
    pub(super) recheck_armed: bool,
    queue: VecDeque<u64>,
    jobs: BTreeMap<u64, Job>,
    busy: u32,
    next_job: u64,
    pub(super) caller: Option<Caller>,
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
    received: String,
    limited: String,
    rate_limited: String,
    limit: String,
}

impl Server {
    /// Server `tier`.k with its share of the config's degradations, calling the next tier
    /// through `caller` (none for the last tier); counts from `measure_from`.
    pub(super) fn new(
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
                received: n("received"),
                limited: n("limited"),
                rate_limited: n("rate_limited"),
                limit: n("limit"),
            },
        }
    }

    /// The tier this server belongs to.
    pub(super) fn tier(&self) -> u32 {
        self.tier
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
    fn refresh(&mut self, ctx: &mut Context<'_, Node>) {
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
            let now = ctx.now().as_nanos();
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

    pub(super) fn on_request(
        &mut self,
        ctx: &mut Context<'_, Node>,
        from: ProcessId,
        request: u64,
        deadline: Instant,
    ) {
        let now = ctx.now();
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
    pub(super) fn dispatch(&mut self, ctx: &mut Context<'_, Node>) {
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
                self.answer(ctx, id, false, false, true);
                continue;
            }
            self.busy += 1;
            let work = self.config.service_time.sample(ctx.random());
            let work = Duration((work.0 as f64 * self.slow_factor()).round() as u64);
            ctx.set_timer(work, Timer::ServiceDone(id));
        }
    }

    /// Answers job `id` and frees its worker if it held one; `dropped` when shed or expired
    /// for overload (what a concurrency limiter learns from).
    fn answer(&mut self, ctx: &mut Context<'_, Node>, id: u64, ok: bool, held_worker: bool, dropped: bool) {
        let in_flight = self.jobs.len() as u32;
        let job = self.jobs.remove(&id).expect("answering a live job");
        let now = ctx.now();
        if let Some(l) = &mut self.limiter {
            let before = l.limit();
            l.on_sample(Sample {
                latency: now - job.arrived,
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
            ctx.observe(&self.names.sojourn, (now - job.arrived).as_nanos());
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

    pub(super) fn on_service_done(&mut self, ctx: &mut Context<'_, Node>, id: u64) {
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
    pub(super) fn on_answer(&mut self, ctx: &mut Context<'_, Node>, id: u64, ok: bool, degraded: bool) {
        let done = self
            .caller
            .as_mut()
            .map(|c| c.on_response(ctx, id, ok, degraded))
            .unwrap_or_default();
        for done in done {
            self.downstream_done(ctx, done);
        }
    }

    pub(super) fn downstream_done(&mut self, ctx: &mut Context<'_, Node>, done: Done) {
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
