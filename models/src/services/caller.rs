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
    no_backend: String,
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
            no_backend: n("no_backend"),
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
    /// Where it went: by id, since the backend set may change while it is out.
    backend: ProcessId,
    /// The backend's balancer slot when it was sent (a hint, checked against `backend`).
    slot: usize,
    timer: TimerId,
    /// Sent as a half-open breaker's probe: the breaker's trip count then.
    probe: Option<u32>,
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
///
/// A part, not a process: its owner (a [`Client`], a [`Server`], or another model's process)
/// starts calls with [`Caller::start`], forwards the caller's answers and timers to
/// [`Caller::on_message`] and [`Caller::on_timer`], and gets back the calls that ended as
/// [`Done`] values. Its handlers work in any host process through a [`Scope`] speaking the
/// services [`Msg`] and [`Timer`].
#[derive(Clone, Debug)]
pub struct Caller {
    config: CallerConfig,
    backends: Vec<ProcessId>,
    balancer: Balancer,
    budget: Option<Budget>,
    breaker: Option<Breaker>,
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
    /// Attempts of calls started before `measure_from` that ended unanswered (timed out, or a
    /// losing hedge): an answer arriving for one later is late but not measured. Only warm-up
    /// attempts are kept, so this stays bounded by the warm-up's traffic.
    unmeasured_unanswered: BTreeSet<u64>,
    names: Names,
    /// The timed series each attempt's backend goes to, if routes are recorded.
    routes: Option<String>,
}

impl Caller {
    /// A caller with `config`'s policies over `backends` (may be empty: calls then fail at
    /// once until [`Caller::set_backends`] gives it some), measuring calls started from
    /// `measure_from`, its counters named `<prefix>attempts`... (`prefix` is `""` for a
    /// client, `tierN.` for a server).
    pub fn new(
        config: CallerConfig,
        backends: Vec<ProcessId>,
        measure_from: Instant,
        prefix: &str,
    ) -> Caller {
        Caller {
            balancer: Balancer::new(config.balancer, backends.len()),
            budget: Budget::from_config(config.budget, config.finagle_budget),
            breaker: Breaker::from_config(config.breaker, config.hystrix_breaker),
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
            unmeasured_unanswered: BTreeSet::new(),
            names: Names::new(prefix),
            routes: None,
        }
    }

    /// Records every attempt from now on as a sample of timed series `series`, valued by the
    /// backend's process id, so a summary can tell when callers last sent to an instance
    /// (e.g. after it died). One series for all callers keeps it to one push per attempt.
    pub fn record_routes(&mut self, series: &str) {
        self.routes = Some(series.to_string());
    }

    /// The backends calls go to.
    pub fn backends(&self) -> &[ProcessId] {
        &self.backends
    }

    /// Replaces the backend set (discovery says which instances are healthy). Backends still
    /// present keep their balancer state (outstanding count, failure streak, ejection); new
    /// ones start fresh; removed ones are forgotten. Attempts already sent to a removed backend
    /// still end normally (answer or timeout), only no longer feeding its balancer state. A
    /// repeated id counts once. With no backends, calls fail at once (`<prefix>no_backend`).
    pub fn set_backends(&mut self, backends: Vec<ProcessId>) {
        let mut unique = Vec::with_capacity(backends.len());
        for b in backends {
            if !unique.contains(&b) {
                unique.push(b);
            }
        }
        let from: Vec<Option<usize>> = unique
            .iter()
            .map(|b| self.backends.iter().position(|o| o == b))
            .collect();
        self.balancer.reindex(&from);
        self.backends = unique;
    }

    /// Calls in progress.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// The balancer slot of `backend` now, trying the slot it had (`hint`) first.
    fn slot_of(&self, backend: ProcessId, hint: usize) -> Option<usize> {
        if self.backends.get(hint) == Some(&backend) {
            return Some(hint);
        }
        self.backends.iter().position(|&b| b == backend)
    }

    /// Starts a call for `owner` (a tag handed back in its [`Done`]); `deadline` is the
    /// caller's own deadline (from upstream), if any. Returns the calls that ended (this one,
    /// if it ended at once).
    pub fn start<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        owner: u64,
        deadline: Option<Instant>,
    ) -> Vec<Done> {
        let now = ctx.monotonic();
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
            b.on_request(now);
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
    fn send_attempt<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        id: u64,
        avoid: Option<usize>,
    ) {
        let now = ctx.monotonic();
        let call = self.calls.get(&id).expect("attempt for a live call");
        let measured = call.measured;
        if now >= call.deadline {
            return self.finish(ctx, id, false);
        }
        if self.backends.is_empty() {
            if measured {
                ctx.count(&self.names.no_backend, 1);
            }
            if call.in_flight == 0 {
                self.finish(ctx, id, false);
            }
            return;
        }
        let (allowed, probe) = match &mut self.breaker {
            None => (true, None),
            Some(b) => {
                let allowed = b.allow(now);
                (allowed, (allowed && b.probing(now)).then_some(b.trips()))
            }
        };
        if !allowed {
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
        let hedge = if call.hedged {
            None
        } else {
            self.config.hedge_after
        };
        let to = self.backends[backend];
        if let Some(series) = &self.routes {
            ctx.observe_timed(series, u64::from(to.0));
        }
        ctx.send(
            to,
            Msg::Request {
                id: attempt,
                timeout: wait,
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
                backend: to,
                slot: backend,
                timer,
                probe,
            },
        );
        if measured {
            ctx.count(&self.names.attempts, 1);
        }
    }

    /// Ends call `id`, answering from the fallback if it failed and one is available, and
    /// hands its bulkhead slot to the next waiting call (which may end at once and pass the
    /// slot on: the recursion is at most the bulkhead's queue deep).
    fn finish<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, id: u64, ok: bool) {
        let in_flight = self.calls.len() as u32;
        let call = self.calls.remove(&id).expect("finishing a live call");
        let now = ctx.monotonic();
        // Only calls that went out teach the limiter (not those it or the bulkhead turned away).
        if let Some(l) = &mut self.limiter
            && call.attempts > 0
        {
            l.on_sample(Sample {
                latency: now.saturating_since(call.started),
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
    fn attempt_ended<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        attempt: u64,
        ok: bool,
        degraded: bool,
    ) {
        let now = ctx.monotonic();
        let Some(a) = self.attempts.remove(&attempt) else {
            return;
        };
        if let Some(slot) = self.slot_of(a.backend, a.slot) {
            self.balancer.on_result(slot, now, !ok);
        }
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
            let measured = call.measured;
            for k in others {
                let o = self.attempts.remove(&k).expect("listed");
                if !measured {
                    self.unmeasured_unanswered.insert(k);
                }
                ctx.cancel_timer(o.timer);
                // A probe dropped unanswered gives its place back, or the half-open
                // breaker would wait for its outcome forever.
                if let (Some(b), Some(trips)) = (&mut self.breaker, o.probe) {
                    b.abandon_probe(now, trips);
                }
                if let Some(slot) = self.slot_of(o.backend, o.slot) {
                    self.balancer.on_result(slot, now, false);
                }
            }
            return self.finish(ctx, a.call, true);
        }
        if call.in_flight > 0 {
            return; // a hedge is still out
        }
        self.after_failure(ctx, a.call);
    }

    /// Every attempt of the call failed: retry after a backoff, or give up.
    fn after_failure<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, id: u64) {
        let now = ctx.monotonic();
        let call = self.calls.get_mut(&id).expect("live call");
        let measured = call.measured;
        if !self.config.retry.allows_retry(call.attempts) || now >= call.deadline {
            return self.finish(ctx, id, false);
        }
        if let Some(b) = &mut self.budget
            && !b.try_spend(now)
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

    /// Attempt `attempt`'s timer fired ([`Timer::AttemptTimeout`]). Returns the calls that ended.
    pub fn on_timeout<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        attempt: u64,
    ) -> Vec<Done> {
        let Some(measured) = self.attempts.get(&attempt).map(|a| self.calls[&a.call].measured) else {
            return Vec::new();
        };
        if measured {
            ctx.count(&self.names.timeouts, 1);
        } else {
            self.unmeasured_unanswered.insert(attempt);
        }
        self.attempt_ended(ctx, attempt, false, false);
        std::mem::take(&mut self.finished)
    }

    /// The answer to an attempt: `ok`, and `degraded` when it came from a fallback downstream
    /// ([`Msg::Response`], [`Msg::Degraded`]). Returns the calls that ended.
    pub fn on_response<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        attempt: u64,
        ok: bool,
        degraded: bool,
    ) -> Vec<Done> {
        let Some(a) = self.attempts.get(&attempt) else {
            // Late: its attempt timed out or lost to a hedge. Counted, like every counter,
            // only for calls started from `measure_from`.
            if !self.unmeasured_unanswered.contains(&attempt) {
                ctx.count(&self.names.late, 1);
            }
            return Vec::new();
        };
        ctx.cancel_timer(a.timer);
        self.attempt_ended(ctx, attempt, ok, degraded);
        std::mem::take(&mut self.finished)
    }

    /// Call `id`'s backoff is over ([`Timer::Retry`]). Returns the calls that ended.
    pub fn on_retry<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, id: u64) -> Vec<Done> {
        if self.calls.contains_key(&id) {
            self.send_attempt(ctx, id, None);
        }
        std::mem::take(&mut self.finished)
    }

    /// Call `id`'s hedge delay is over ([`Timer::Hedge`]). Returns the calls that ended.
    pub fn on_hedge<P: Process>(&mut self, ctx: &mut Scope<'_, '_, P, Msg, Timer>, id: u64) -> Vec<Done> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        if call.hedged || call.in_flight == 0 {
            return Vec::new();
        }
        call.hedged = true;
        let measured = call.measured;
        if let Some(b) = &mut self.budget
            && !b.try_spend(ctx.now())
        {
            if measured {
                ctx.count(&self.names.budget_denied, 1);
            }
            return Vec::new();
        }
        if measured {
            ctx.count(&self.names.hedges, 1);
        }
        let avoid = self
            .attempts
            .values()
            .find(|a| a.call == id)
            .and_then(|a| self.slot_of(a.backend, a.slot));
        self.send_attempt(ctx, id, avoid);
        std::mem::take(&mut self.finished)
    }

    /// A message for the calling side: an answer to one of its attempts. Returns the calls
    /// that ended. Panics on a [`Msg::Request`] (a caller serves nothing: a routing bug).
    pub fn on_message<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        message: Msg,
    ) -> Vec<Done> {
        match message {
            Msg::Response { id, ok } => self.on_response(ctx, id, ok, false),
            Msg::Degraded { id } => self.on_response(ctx, id, true, true),
            Msg::Request { .. } => panic!("a caller received a request"),
        }
    }

    /// Whether `timer` is one of a caller's ([`Caller::on_timer`] handles it).
    pub fn handles(timer: &Timer) -> bool {
        matches!(
            timer,
            Timer::AttemptTimeout(_) | Timer::Retry(_) | Timer::Hedge(_)
        )
    }

    /// A caller's timer fired (see [`Caller::handles`]). Returns the calls that ended. Panics
    /// on another part's timer (a routing bug).
    pub fn on_timer<P: Process>(
        &mut self,
        ctx: &mut Scope<'_, '_, P, Msg, Timer>,
        timer: Timer,
    ) -> Vec<Done> {
        match timer {
            Timer::AttemptTimeout(a) => self.on_timeout(ctx, a),
            Timer::Retry(id) => self.on_retry(ctx, id),
            Timer::Hedge(id) => self.on_hedge(ctx, id),
            other => panic!("{other:?} is not a caller's timer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{SimConfig, Topology};

    /// A test system of its own (not the services `Node`): the caller is embedded in a foreign
    /// process type, its messages and timers wrapped into the system's.
    #[derive(Clone, Debug, Hash, PartialEq, Eq)]
    enum TestMsg {
        Svc(Msg),
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq)]
    enum TestTimer {
        Svc(Timer),
        Step(usize),
        Answer(ProcessId, u64),
    }

    #[derive(Clone, Debug)]
    enum Step {
        Call(u64),
        SetBackends(Vec<ProcessId>),
    }

    #[derive(Clone, Debug)]
    enum TestNode {
        /// Runs `script` (each step at a time since the start) and records every ended call
        /// with the balancer's outstanding counts right after it.
        Calling {
            caller: Box<Caller>,
            script: Vec<(Duration, Step)>,
            ended: Vec<(Instant, Done, Vec<u32>)>,
        },
        /// Answers every request with a success after `delay`, or never.
        Backend { delay: Option<Duration>, received: u32 },
    }

    fn scope<'s, 'a>(ctx: &'s mut Context<'a, TestNode>) -> Scope<'s, 'a, TestNode, Msg, Timer> {
        ctx.scope(TestMsg::Svc, TestTimer::Svc)
    }

    impl TestNode {
        fn record(&mut self, now: Instant, done: Vec<Done>) {
            let TestNode::Calling { caller, ended, .. } = self else {
                unreachable!()
            };
            for d in done {
                let outstanding = (0..caller.backends.len())
                    .map(|i| caller.balancer.outstanding(i))
                    .collect();
                ended.push((now, d, outstanding));
            }
        }
    }

    impl Process for TestNode {
        type Message = TestMsg;
        type Timer = TestTimer;
        type Operation = ();

        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            if let TestNode::Calling { script, .. } = self {
                for (i, (at, _)) in script.iter().enumerate() {
                    ctx.set_timer(*at, TestTimer::Step(i));
                }
            }
        }

        fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, TestMsg::Svc(m): TestMsg) {
            let now = ctx.monotonic();
            let done = match self {
                TestNode::Calling { caller, .. } => caller.on_message(&mut scope(ctx), m),
                TestNode::Backend { delay, received } => {
                    let Msg::Request { id, .. } = m else {
                        panic!("a backend got {m:?}")
                    };
                    *received += 1;
                    if let Some(d) = *delay {
                        ctx.set_timer(d, TestTimer::Answer(from, id));
                    }
                    return;
                }
            };
            self.record(now, done);
        }

        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: TestTimer) {
            let now = ctx.monotonic();
            let done = match (&mut *self, timer) {
                (TestNode::Backend { .. }, TestTimer::Answer(to, id)) => {
                    return ctx.send(to, TestMsg::Svc(Msg::Response { id, ok: true }));
                }
                (TestNode::Calling { caller, script, .. }, TestTimer::Step(i)) => match &script[i].1 {
                    Step::Call(owner) => caller.start(&mut scope(ctx), *owner, None),
                    Step::SetBackends(b) => {
                        caller.set_backends(b.clone());
                        Vec::new()
                    }
                },
                (TestNode::Calling { caller, .. }, TestTimer::Svc(t)) => caller.on_timer(&mut scope(ctx), t),
                (node, t) => panic!("{t:?} at {node:?}"),
            };
            self.record(now, done);
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Process 0 calls with `config` over `initial` backends (ids 1..), running `script`;
    /// backend k answers after `delays[k - 1]`. Returns the finished run.
    fn run(
        config: CallerConfig,
        initial: &[u32],
        delays: &[Option<Duration>],
        script: Vec<(Duration, Step)>,
    ) -> ruckus_sim::Sim<TestNode> {
        let topology = Topology::single_switch(1 + delays.len() as u32, Distribution::constant(ms(1)));
        let mut sim = ruckus_sim::Sim::new(SimConfig::with_seed(1), &topology);
        let caller = Box::new(Caller::new(
            config,
            initial.iter().map(|&k| ProcessId(k)).collect(),
            Instant::ZERO,
            "",
        ));
        sim.spawn(
            HostId(0),
            TestNode::Calling {
                caller,
                script,
                ended: Vec::new(),
            },
        );
        for (k, &delay) in delays.iter().enumerate() {
            sim.spawn(HostId(k as u32 + 1), TestNode::Backend { delay, received: 0 });
        }
        sim.run();
        sim
    }

    fn ended(sim: &ruckus_sim::Sim<TestNode>) -> &[(Instant, Done, Vec<u32>)] {
        match sim.process(ProcessId(0)) {
            Some(TestNode::Calling { ended, .. }) => ended,
            other => panic!("{other:?}"),
        }
    }

    fn received(sim: &ruckus_sim::Sim<TestNode>, k: u32) -> u32 {
        match sim.process(ProcessId(k)) {
            Some(TestNode::Backend { received, .. }) => *received,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn set_backends_keeps_survivors_state_and_starts_new_ones_fresh() {
        let mut config = CallerConfig::default();
        config.balancer.ejection = Some(policy::EjectionConfig {
            consecutive_failures: 1,
            ejection_time: Duration::from_secs(10),
            max_ejected_fraction: 1.0,
        });
        let ids = |v: &[u32]| v.iter().map(|&k| ProcessId(k)).collect::<Vec<_>>();
        let mut c = Caller::new(config, ids(&[1, 2, 3]), Instant::ZERO, "");
        let now = Instant::ZERO;
        c.balancer.on_send(0);
        c.balancer.on_send(0);
        c.balancer.on_send(2);
        c.balancer.on_result(2, now, true); // 3 is ejected
        c.balancer.on_send(1);
        // 3 and 1 stay (in a new order), 9 is new, 2 is dropped; the repeated 3 counts once.
        c.set_backends(ids(&[3, 1, 9, 3]));
        assert_eq!(c.backends(), ids(&[3, 1, 9]));
        let mut b = c.balancer.clone();
        assert_eq!((b.outstanding(0), b.outstanding(1), b.outstanding(2)), (0, 2, 0));
        assert!(b.is_ejected(0, now), "3 keeps its ejection");
        assert!(!b.is_ejected(1, now) && !b.is_ejected(2, now));
        // 2 comes back: fresh, its outstanding request forgotten.
        c.set_backends(ids(&[2, 1]));
        assert_eq!((c.balancer.outstanding(0), c.balancer.outstanding(1)), (0, 2));
    }

    #[test]
    fn an_answer_from_a_removed_backend_still_ends_its_call_and_spares_the_survivors_state() {
        // Call 1 goes to backend 1 (slot 0), call 2 to backend 2 (slot 1); then backend 1 is
        // removed and backend 2 takes slot 0. Backend 1's late answer must end call 1 without
        // touching slot 0 (backend 2 still has call 2 outstanding).
        let sim = run(
            CallerConfig::default(),
            &[1, 2],
            &[Some(ms(50)), Some(ms(200))],
            vec![
                (ms(0), Step::Call(1)),
                (ms(5), Step::Call(2)),
                (ms(10), Step::SetBackends(vec![ProcessId(2)])),
            ],
        );
        let ended = ended(&sim);
        assert_eq!(ended.len(), 2, "{ended:?}");
        let (at, done, outstanding) = &ended[0];
        assert_eq!((done.owner, done.ok), (1, true));
        assert_eq!(*at, Instant::ZERO + ms(52));
        assert_eq!(outstanding, &[1], "backend 2's outstanding call is still counted");
        let (_, done, outstanding) = &ended[1];
        assert_eq!((done.owner, done.ok), (2, true));
        assert_eq!(outstanding, &[0]);
        assert_eq!(sim.metrics().counter("timeouts"), 0);
    }

    #[test]
    fn an_attempt_to_a_removed_backend_times_out_and_is_retried_on_the_rest() {
        // Backend 2 (the last slot) never answers and is removed while call 2 waits on it: the
        // attempt times out normally and the retry goes to backend 1.
        let config = CallerConfig {
            timeout: ms(100),
            retry: RetryPolicy {
                backoff: policy::Backoff::Fixed,
                ..RetryPolicy::default()
            },
            ..CallerConfig::default()
        };
        let sim = run(
            config,
            &[1, 2],
            &[Some(ms(10)), None],
            vec![
                (ms(0), Step::Call(1)),
                (ms(1), Step::Call(2)),
                (ms(5), Step::SetBackends(vec![ProcessId(1)])),
            ],
        );
        let ended = ended(&sim);
        let owners: Vec<(u64, bool)> = ended.iter().map(|(_, d, _)| (d.owner, d.ok)).collect();
        assert_eq!(owners, [(1, true), (2, true)]);
        // Timeout at 101 ms, a 5 ms backoff, then 1 + 10 + 1 ms at backend 1.
        assert_eq!(
            ended[1].0,
            Instant::ZERO + ms(118),
            "call 2 waited for its timeout"
        );
        assert_eq!(ended[1].2, [0]);
        let m = sim.metrics();
        assert_eq!(
            (m.counter("timeouts"), m.counter("retries"), m.counter("attempts")),
            (1, 1, 3)
        );
        assert_eq!((received(&sim, 1), received(&sim, 2)), (2, 1));
    }

    #[test]
    fn with_no_backends_a_call_fails_at_once() {
        let config = CallerConfig {
            timeout: ms(100),
            retry: RetryPolicy {
                backoff: policy::Backoff::Fixed,
                ..RetryPolicy::default()
            },
            ..CallerConfig::default()
        };
        let sim = run(
            config,
            &[],
            &[None],
            vec![
                (ms(0), Step::Call(1)),
                (ms(10), Step::SetBackends(vec![ProcessId(1)])),
                (ms(20), Step::Call(2)),
                // Backend 1 goes while call 2 waits: its retry finds no backend.
                (ms(30), Step::SetBackends(Vec::new())),
            ],
        );
        let ended = ended(&sim);
        let got: Vec<(Instant, u64, bool)> = ended.iter().map(|(t, d, _)| (*t, d.owner, d.ok)).collect();
        assert_eq!(got[0], (Instant::ZERO, 1, false), "failed at once, when started");
        assert_eq!((got[1].1, got[1].2), (2, false));
        // Timeout at 120 ms, then the retry after a 5 ms backoff finds no backend.
        assert_eq!(
            got[1].0,
            Instant::ZERO + ms(125),
            "call 2 waited for its timeout first"
        );
        let m = sim.metrics();
        assert_eq!(m.counter("no_backend"), 2);
        assert_eq!(
            (m.counter("attempts"), m.counter("timeouts"), m.counter("retries")),
            (1, 1, 1)
        );
        assert_eq!(received(&sim, 1), 1);
    }
}
