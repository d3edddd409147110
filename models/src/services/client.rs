//! Clients: open-loop (Poisson) or closed-loop load.

use super::*;

/// A client process.
#[derive(Clone, Debug)]
pub struct Client {
    pub(super) workload: Workload,
    pub(super) caller: Caller,
    measure_from: Instant,
    /// Some caller of the run has a fallback: also chart `answered.ok` / `answered.failed`
    /// (a fallback answer counts as answered), so "degraded but answering" shows over time.
    answered_group: bool,
}

impl Client {
    /// A client generating `workload` through `caller`; counts from `measure_from`.
    /// `answered_group` records the `answered.*` outcomes too (runs with fallbacks).
    pub(super) fn new(
        workload: Workload,
        caller: Caller,
        measure_from: Instant,
        answered_group: bool,
    ) -> Client {
        Client {
            workload,
            caller,
            measure_from,
            answered_group,
        }
    }

    pub(super) fn arrive_after(&self, ctx: &mut Context<'_, Node>) {
        if let Workload::Open { rate } = self.workload {
            let gap = ctx.random().exponential(1e9 / rate);
            ctx.set_timer(Duration(gap.round().max(1.0) as u64), Timer::Arrive);
        }
    }

    pub(super) fn offer(&mut self, ctx: &mut Context<'_, Node>) {
        let now = ctx.now();
        if now >= self.measure_from {
            ctx.count("offered", 1);
            ctx.observe("offered_at", now.as_nanos());
        }
        for done in self.caller.start(ctx, 0, None) {
            self.done(ctx, done);
        }
    }

    pub(super) fn done(&mut self, ctx: &mut Context<'_, Node>, done: Done) {
        let now = ctx.now();
        // Over time, every request counts (the charts show the warm-up too). An answer from a
        // fallback (here or downstream) is neither a success nor a failure: degraded.
        let latency = (now - done.started).as_nanos();
        if done.ok && done.degraded {
            ctx.observe_timed("requests.fallback", latency);
        } else if done.ok {
            ctx.observe_timed("requests.ok", latency);
        } else {
            ctx.observe_timed("requests.failed", latency);
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
