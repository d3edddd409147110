//! What both discovery designs share: the instances that answer calls, callers that route calls
//! over the set of instances they believe healthy (with a balancer from `services::policy` on
//! top), scheduled instance deaths, and the property that no call goes to an instance that has
//! been dead longer than the design's bound.
//!
//! A caller never knows which instances are dead: the death schedule is read only to stamp the
//! metrics (`discovery.routed_to_dead`, `discovery.dead_route_age_ns`), never to act, as in the
//! SWIM model. The property learns deaths from the processes the checker sees.

use crate::services::policy::{Balancer, BalancerConfig};
use ruckus_sim::{Duration, Instant, Metrics, Process, ProcessId, Property, Scope, TimerId, View};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// An instance's number: its process number, so callers reach it at `ProcessId(instance)`.
pub type InstanceId = u32;
/// A service's number.
pub type ServiceId = u32;

/// An instance that stops for good at a set time (a crash the fault plan never undoes, so the
/// time to stop routing to it can be measured against a known instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledCrash {
    /// Index of the instance (0-based among instances, not its process number).
    pub instance: u32,
    /// True time of the crash.
    pub at: Duration,
}

/// A call between a caller and an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallMsg {
    /// A caller's request.
    Call {
        /// Which call of the caller this is.
        id: u64,
    },
    /// The instance's answer.
    Answer {
        /// The call answered.
        id: u64,
    },
}

/// The call component's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTimer {
    /// A call got no answer in time.
    Timeout {
        /// The call.
        id: u64,
    },
}

/// What discovery models record in their histories for the checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryOp {
    /// A caller sent a call to `instance` (a process number).
    Route {
        /// The instance called.
        instance: InstanceId,
    },
    /// A caller that had instances in its view found it empty when it wanted to call.
    EmptyView,
    /// An instance's registration was acknowledged to it.
    Acknowledged {
        /// The instance.
        instance: InstanceId,
        /// Its service.
        service: ServiceId,
    },
}

/// Answers a call: a live instance always serves.
pub fn answer_call<P: Process>(cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>, from: ProcessId, m: CallMsg) {
    if let CallMsg::Call { id } = m {
        cx.count("discovery.instance.calls", 1);
        cx.send(from, CallMsg::Answer { id });
    }
}

/// When each instance (by process number) is scheduled to die, shared read-only by callers.
pub type DeathSchedule = Rc<BTreeMap<InstanceId, Instant>>;

/// A call in flight.
#[derive(Clone, Debug)]
struct InFlight {
    timer: TimerId,
    sent: Instant,
    /// Balancer slot and the view generation it belongs to.
    slot: usize,
    generation: u64,
}

/// Routes calls over the instances a caller believes healthy.
///
/// The balancer is rebuilt whenever the healthy set changes (so outlier state does not outlive
/// a view change); answers to calls made under an older view still count as calls, not as
/// balancer feedback.
#[derive(Clone, Debug)]
pub struct Router {
    balance: BalancerConfig,
    call_timeout: Duration,
    healthy: Vec<InstanceId>,
    balancer: Option<Balancer>,
    generation: u64,
    /// Local time the source last confirmed the view (a fetch, a watch answer).
    confirmed_at: Option<Instant>,
    /// Whether this incarnation's view ever listed an instance.
    had_view: bool,
    next_call: u64,
    calls: BTreeMap<u64, InFlight>,
    deaths: DeathSchedule,
}

impl Router {
    /// A router with no view yet.
    pub fn new(balance: BalancerConfig, call_timeout: Duration, deaths: DeathSchedule) -> Router {
        Router {
            balance,
            call_timeout,
            healthy: Vec::new(),
            balancer: None,
            generation: 0,
            confirmed_at: None,
            had_view: false,
            next_call: 0,
            calls: BTreeMap::new(),
            deaths,
        }
    }

    /// The instances currently believed healthy, ascending.
    pub fn healthy(&self) -> &[InstanceId] {
        &self.healthy
    }

    /// When the view was last confirmed (local time), if ever.
    pub fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
    }

    /// Installs a view: `healthy` as confirmed by the source at local time `at`.
    pub fn set_view(&mut self, mut healthy: Vec<InstanceId>, at: Instant) {
        healthy.sort_unstable();
        healthy.dedup();
        self.confirmed_at = Some(at);
        self.had_view |= !healthy.is_empty();
        if healthy == self.healthy && (self.balancer.is_some() || healthy.is_empty()) {
            return;
        }
        self.generation += 1;
        self.balancer = (!healthy.is_empty()).then(|| Balancer::new(self.balance, healthy.len()));
        self.healthy = healthy;
    }

    /// Forgets the view (a cache entry that expired without a fresh answer).
    pub fn clear_view(&mut self) {
        self.set_view(Vec::new(), self.confirmed_at.unwrap_or(Instant::ZERO));
        self.confirmed_at = None;
    }

    /// Calls one believed-healthy instance; `false` (and `discovery.calls.no_instance`, and an
    /// [`DiscoveryOp::EmptyView`] record if the view once listed instances) if it is empty.
    pub fn call<P>(&mut self, cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>) -> bool
    where
        P: Process<Operation: From<DiscoveryOp>>,
    {
        let now = cx.monotonic();
        let Some(balancer) = self.balancer.as_mut() else {
            cx.count("discovery.calls.no_instance", 1);
            cx.observe_timed("discovery.calls.failed", 0);
            if self.had_view {
                cx.context().record(DiscoveryOp::EmptyView.into());
            }
            return false;
        };
        let slot = balancer.pick(now, None, cx.random());
        balancer.on_send(slot);
        let instance = self.healthy[slot];
        if let Some(at) = self.confirmed_at {
            cx.observe("discovery.view_age_ns", now.saturating_since(at).0);
        }
        if let Some(&death) = self.deaths.get(&instance)
            && now >= death
        {
            cx.count("discovery.routed_to_dead", 1);
            cx.observe("discovery.dead_route_age_ns", now.saturating_since(death).0);
        }
        cx.context().record(DiscoveryOp::Route { instance }.into());
        self.next_call += 1;
        let id = self.next_call;
        cx.send(ProcessId(instance), CallMsg::Call { id });
        let timer = cx.set_timer(self.call_timeout, CallTimer::Timeout { id });
        let flight = InFlight {
            timer,
            sent: now,
            slot,
            generation: self.generation,
        };
        self.calls.insert(id, flight);
        true
    }

    fn feedback(&mut self, flight: &InFlight, now: Instant, failed: bool) {
        if flight.generation == self.generation
            && let Some(b) = self.balancer.as_mut()
        {
            b.on_result(flight.slot, now, failed);
        }
    }

    /// Handles an instance's answer.
    pub fn on_call_msg<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>, m: CallMsg) {
        let CallMsg::Answer { id } = m else { return };
        let Some(flight) = self.calls.remove(&id) else {
            return;
        };
        cx.cancel_timer(flight.timer);
        let now = cx.monotonic();
        self.feedback(&flight, now, false);
        cx.count("discovery.calls.ok", 1);
        cx.observe("discovery.calls.latency_ns", now.saturating_since(flight.sent).0);
        cx.observe_timed("discovery.calls.ok", now.saturating_since(flight.sent).0);
    }

    /// Handles a call timeout.
    pub fn on_call_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, CallMsg, CallTimer>, t: CallTimer) {
        let CallTimer::Timeout { id } = t;
        if let Some(flight) = self.calls.remove(&id) {
            let now = cx.monotonic();
            self.feedback(&flight, now, true);
            cx.count("discovery.calls.timeout", 1);
            cx.observe_timed("discovery.calls.failed", now.saturating_since(flight.sent).0);
        }
    }
}

/// A property that remembers when the heal came (the first check of an `eventually` property
/// runs at the heal), for safety checks that start judging only from it.
pub fn heal_marker<P: Process>(heal: Rc<Cell<Option<Instant>>>) -> Property<P> {
    Property::eventually("heal_seen", Duration::from_secs(1), move |v: &View<'_, P>| {
        if heal.get().is_none() {
            heal.set(Some(v.now()));
        }
        Ok(())
    })
}

/// `no_route_to_long_dead`: no call is routed to an instance that has been dead longer than
/// `bound`, counting from the latest of its death, the heal (faults can hold any design's news
/// back for as long as they last) and the last moment `excused` said the design was knowingly
/// not evicting (Eureka's self-preservation). Before the heal nothing is judged.
pub fn no_route_to_long_dead<P>(
    bound: Duration,
    instances: Vec<InstanceId>,
    heal: Rc<Cell<Option<Instant>>>,
    route_of: fn(&P::Operation) -> Option<InstanceId>,
    excused: impl Fn(&View<'_, P>) -> bool + 'static,
) -> Property<P>
where
    P: Process,
{
    struct State {
        cursor: usize,
        dead_since: BTreeMap<InstanceId, Instant>,
        excused_at: Option<Instant>,
    }
    let state = RefCell::new(State {
        cursor: 0,
        dead_since: BTreeMap::new(),
        excused_at: None,
    });
    Property::always("no_route_to_long_dead", move |v: &View<'_, P>| {
        let now = v.now();
        let mut s = state.borrow_mut();
        for &i in &instances {
            if v.process(ProcessId(i)).is_some() {
                s.dead_since.remove(&i);
            } else {
                s.dead_since.entry(i).or_insert(now);
            }
        }
        if excused(v) {
            s.excused_at = Some(now);
        }
        let history = v.history();
        let from = s.cursor;
        s.cursor = history.len();
        let Some(healed) = heal.get() else {
            return Ok(());
        };
        for entry in &history[from..] {
            let Some(instance) = route_of(&entry.operation) else {
                continue;
            };
            let Some(&died) = s.dead_since.get(&instance) else {
                continue;
            };
            let start = died.max(healed).max(s.excused_at.unwrap_or(Instant::ZERO));
            if entry.time > start.saturating_add(bound) {
                return Err(format!(
                    "{} routed a call to p{instance} at {}, dead since {died} (judged from {start}, bound {bound})",
                    entry.process, entry.time
                ));
            }
        }
        Ok(())
    })
}

/// `views_converge_after_heal`: within `within` of the heal, every caller's view lists every
/// live instance of its service, and (if `exact`) nothing else. `caller_of` gives a process's
/// service and view if it is a caller; `service_of` an instance's service.
pub fn views_converge_after_heal<P: Process>(
    within: Duration,
    exact: bool,
    instances: Vec<InstanceId>,
    service_of: impl Fn(InstanceId) -> ServiceId + 'static,
    caller_of: impl Fn(&P) -> Option<(ServiceId, &[InstanceId])> + 'static,
) -> Property<P> {
    Property::eventually("views_converge_after_heal", within, move |v: &View<'_, P>| {
        for (id, _, p) in v.processes() {
            let Some((service, view)) = caller_of(p) else {
                continue;
            };
            let live: Vec<InstanceId> = instances
                .iter()
                .copied()
                .filter(|&i| service_of(i) == service && v.process(ProcessId(i)).is_some())
                .collect();
            if let Some(missing) = live.iter().find(|i| !view.contains(i)) {
                return Err(format!(
                    "{id}'s view {view:?} of service {service} lacks live p{missing}"
                ));
            }
            if exact && let Some(extra) = view.iter().find(|i| !live.contains(i)) {
                return Err(format!(
                    "{id}'s view {view:?} of service {service} lists dead p{extra}"
                ));
            }
        }
        Ok(())
    })
}

/// The callers' figures of a run, from the `discovery.*` metrics they record: calls, errors,
/// routing to the dead, view staleness.
pub fn summarize(metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let ok = metrics.counter("discovery.calls.ok") as f64;
    let timeout = metrics.counter("discovery.calls.timeout") as f64;
    let none = metrics.counter("discovery.calls.no_instance") as f64;
    out.insert("calls_ok".into(), ok);
    out.insert("call_errors".into(), timeout + none);
    let tried = ok + timeout + none;
    out.insert(
        "error_ratio".into(),
        if tried > 0.0 {
            (timeout + none) / tried
        } else {
            0.0
        },
    );
    out.insert(
        "routed_to_dead".into(),
        metrics.counter("discovery.routed_to_dead") as f64,
    );
    let dead = metrics.samples("discovery.dead_route_age_ns");
    out.insert(
        "stop_routing_s".into(),
        dead.iter().max().map_or(0.0, |&ns| ns as f64 / 1e9),
    );
    let ages = metrics.samples("discovery.view_age_ns");
    if !ages.is_empty() {
        let mean = ages.iter().map(|&a| a as f64).sum::<f64>() / ages.len() as f64;
        out.insert("view_age_mean_s".into(), mean / 1e9);
        out.insert(
            "view_age_max_s".into(),
            *ages.iter().max().expect("non-empty") as f64 / 1e9,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_change_rebuilds_the_balancer_and_an_equal_view_keeps_it() {
        let mut r = Router::new(
            BalancerConfig::default(),
            Duration::from_millis(10),
            Rc::new(BTreeMap::new()),
        );
        assert!(r.balancer.is_none());
        r.set_view(vec![5, 3, 5], Instant::ZERO);
        assert_eq!(r.healthy(), &[3, 5]);
        let g = r.generation;
        r.set_view(vec![3, 5], Instant::ZERO + Duration::from_secs(1));
        assert_eq!(r.generation, g, "same set: same balancer");
        assert_eq!(r.confirmed_at(), Some(Instant::ZERO + Duration::from_secs(1)));
        r.set_view(vec![3], Instant::ZERO);
        assert_eq!(r.generation, g + 1);
        r.clear_view();
        assert!(r.balancer.is_none() && r.healthy().is_empty() && r.confirmed_at().is_none());
    }
}
