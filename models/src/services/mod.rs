//! Services and the high-availability patterns around them.
//!
//! A run has `clients` client processes calling a chain of server tiers: tier 0 is called by
//! the clients, tier i calls tier i+1 `fanout` times per request. Every server has a bounded
//! queue (FIFO or LIFO), a concurrency limit, a service-time [`Distribution`], optional load
//! shedding by queue time, and degradation modes ([`DegradeMode`]) switched on for a window of
//! time. Every caller (a client, or a server calling the next tier) uses one [`CallerConfig`]:
//! per-attempt timeout, whole-call deadline (propagated to the callee), retry policy with
//! backoff and jitter, retry budget (per request, or Finagle's over time), circuit breaker
//! (over the last N calls, or Hystrix's over a time window), hedging and a load balancer with outlier
//! ejection; and overload protection ([`overload`]): client-side adaptive throttling, a
//! bulkhead and a fallback per caller, a fixed or adaptive (AIMD, Vegas, Gradient) concurrency
//! limit and token-bucket rate limiting per tier. Policies are plain state machines; every
//! overload policy is off unless a scenario switches it on.
//!
//! Clients are open-loop (Poisson arrivals: load does not slow down when the service does,
//! which is what lets a retry storm build; the rate may follow a [`RateSchedule`] of steps and
//! ramps) or closed-loop (each client keeps `concurrency`
//! requests going, with a think time between them).
//!
//! Metrics (recorded only for requests started after `measure_after`): counters `offered`,
//! `attempts`, `retries`, `hedges`, `timeouts`, `ok`, `failed`, `breaker_rejected`,
//! `budget_denied`, `late_responses`, `throttled`, `bulkhead_rejected`, `limiter_rejected`
//! (calls a caller-side concurrency limit turned away), `no_backend` (attempts a caller could
//! not send for want of backends: the call fails), `fallbacks` (this
//! caller's fallback answers), `degraded` (requests answered from a fallback anywhere, never
//! counted in `ok`); per tier `tierN.received`, `tierN.served`, `tierN.shed`, `tierN.limited`,
//! `tierN.rate_limited`, `tierN.expired`, `tierN.errors` and the same caller counters as
//! `tierN.attempts`...; timed samples `requests.ok`, `requests.failed` and `requests.fallback`
//! (and, when some caller has a fallback, `answered.ok` / `answered.failed`, fallbacks counted
//! as answered);
//! distributions `tierN.limit` (a limiter's limit each time it changes),
//! `fallback_staleness` (age of each cached fallback answer, checked against its bound by the
//! `fallback_staleness` property),
//! `latency` (end-to-end ns of successful requests), `tierN.sojourn` (ns from arrival at a
//! server to its answer), `tierN.wait` (ns from arrival at a server to the start of its
//! service: the queue wait alone), `offered_at` and `ok_at` (local time of each offer and success, for
//! goodput over time and recovery time), and, before `measure_after`, `warmup_offered_at` and
//! `warmup_ok_at` (so recovery from a trigger that ends in the warm-up is timed from its end). [`summarize`] turns them into the figures an
//! experiment compares.
//!
//! Processes: tier servers first (tier 0's servers get ids `0..`), then clients; one host each.
//!
//! The parts are components: [`Client`], [`Server`] and [`Caller`] handle events through a
//! [`Scope`] speaking [`Msg`] and [`Timer`], generic over the host process, so another model
//! embeds them the way it embeds a Raft server ([`Node`] hosts them with an identity scope). A
//! caller's backends may change while it runs ([`Caller::set_backends`]).

mod caller;
mod client;
mod config;
pub mod contention;
mod model;
mod node;
pub mod overload;
pub mod policy;
mod schedule;
mod server;
mod summary;

pub use caller::{Caller, Done};
pub use client::Client;
pub use config::{CallerConfig, Config, Degradation, DegradeMode, QueueOrder, Slo, TierConfig, Workload};
pub use model::{ContentionModel, ServicesModel};
pub use node::{Msg, Node, Timer};
pub use schedule::{RateChange, RateCurve, RateSchedule, SharedSchedule, interval_gap};
pub use server::Server;
pub use summary::{recovery_time, summarize};

use overload::{
    AdaptiveThrottle, Bulkhead, BulkheadConfig, ConcurrencyLimiter, Fallback, FallbackConfig, LimiterConfig,
    Permit, RateLimitConfig, RateLimiter, Sample, ThrottleConfig,
};
use policy::{
    Balancer, BalancerConfig, Breaker, BreakerConfig, Budget, FinagleBudgetConfig, HystrixConfig,
    RetryBudgetConfig, RetryPolicy,
};
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Process, ProcessId, Property, Scope, Sim,
    TimerId, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
            let server = Server::new(*t, i, degradations, caller, measure_from);
            sim.spawn(HostId(host), Node::Server(Box::new(server)));
            host += 1;
        }
    }
    let fallbacks =
        config.client.fallback.is_some() || config.tiers.iter().any(|t| t.caller.fallback.is_some());
    for _ in 0..config.clients {
        let caller = Caller::new(config.client, ids(0), measure_from, "");
        let client =
            Client::new(config.workload, caller, measure_from, fallbacks).with_schedule(&config.schedule);
        sim.spawn(HostId(host), Node::Client(Box::new(client)));
        host += 1;
    }
}

/// The SLO, if configured, and the staleness bound of every cached fallback, as end-of-run
/// properties.
pub fn properties(config: &Config) -> Vec<Property<Node>> {
    let mut props = staleness_properties(config);
    let Some(slo) = config.slo else { return props };
    props.push(Property::at_end("slo", move |v: &View<'_, Node>| {
        let m = v.metrics();
        let offered = m.counter("offered");
        let ok = m.counter("ok")
            + if slo.count_fallbacks {
                m.counter("degraded")
            } else {
                0
            };
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
    }));
    props
}

/// "fallback_staleness": no caller ever served a cached response older than its bound. Every
/// fallback answer's age is recorded (warm-up included) as `<prefix>fallback_staleness`.
fn staleness_properties(config: &Config) -> Vec<Property<Node>> {
    let mut bounded = Vec::new();
    if let Some(FallbackConfig::Cached { max_staleness }) = config.client.fallback {
        bounded.push((String::from("fallback_staleness"), max_staleness));
    }
    for (i, t) in config.tiers.iter().enumerate() {
        if i + 1 < config.tiers.len()
            && let Some(FallbackConfig::Cached { max_staleness }) = t.caller.fallback
        {
            bounded.push((format!("tier{i}.fallback_staleness"), max_staleness));
        }
    }
    if bounded.is_empty() {
        return Vec::new();
    }
    vec![Property::at_end(
        "fallback_staleness",
        move |v: &View<'_, Node>| {
            for (name, bound) in &bounded {
                if let Some(&worst) = v.metrics().samples(name).iter().max()
                    && worst > bound.0
                {
                    return Err(format!(
                        "{name}: a fallback served a response {} old, bound {bound}",
                        Duration(worst)
                    ));
                }
            }
            Ok(())
        },
    )]
}

#[cfg(test)]
mod tests;
