//! Components: one protocol written once, embedded in many systems.
//!
//! A run has one process type, so a system that runs Raft servers, gossip agents and callers
//! side by side is an enum of roles with an enum of messages. A [`Scope`] lets each role's
//! logic be written against its *own* message and timer types and still live inside such an
//! enum: the scope wraps what the component sends and the timers it sets into the system's
//! types with two plain functions (usually the enum variants' constructors).
//!
//! ```
//! use ruckus_sim::*;
//!
//! /// A component: counts pings and answers them. Written once, generic over its host process.
//! #[derive(Clone, Debug, Default)]
//! struct Echo { seen: u32 }
//! #[derive(Clone, Debug, Hash)]
//! enum EchoMsg { Ping, Pong }
//!
//! impl Echo {
//!     fn on_message<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, EchoMsg, ()>, from: ProcessId, m: EchoMsg) {
//!         self.seen += 1;
//!         if let EchoMsg::Ping = m { cx.send(from, EchoMsg::Pong) }
//!     }
//! }
//!
//! /// A system that embeds it as one of its message kinds.
//! #[derive(Clone, Debug, Hash)]
//! enum SystemMsg { Echo(EchoMsg), Other(u64) }
//! #[derive(Clone, Debug, Hash)]
//! enum SystemTimer { Echo(()) }
//!
//! #[derive(Clone, Debug)]
//! struct Node { echo: Echo, peer: ProcessId, first: bool }
//! impl Process for Node {
//!     type Message = SystemMsg;
//!     type Timer = SystemTimer;
//!     type Operation = ();
//!     fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
//!         if self.first { ctx.scope(SystemMsg::Echo, SystemTimer::Echo).send(self.peer, EchoMsg::Ping) }
//!     }
//!     fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: SystemMsg) {
//!         match m {
//!             SystemMsg::Echo(m) => self.echo.on_message(&mut ctx.scope(SystemMsg::Echo, SystemTimer::Echo), from, m),
//!             SystemMsg::Other(_) => {}
//!         }
//!     }
//!     fn on_timer(&mut self, _: &mut Context<'_, Self>, _: SystemTimer) {}
//! }
//!
//! let topology = Topology::single_switch(2, Distribution::constant(Duration::from_millis(1)));
//! let mut sim = Sim::new(SimConfig::with_seed(1), &topology);
//! sim.spawn(HostId(0), Node { echo: Echo::default(), peer: ProcessId(1), first: true });
//! sim.spawn(HostId(1), Node { echo: Echo::default(), peer: ProcessId(0), first: false });
//! let report = sim.run();
//! assert_eq!(report.deliveries, 2);
//! assert_eq!(sim.process(ProcessId(1)).unwrap().echo.seen, 1);
//! ```
//!
//! A standalone model of a component is a process whose message and timer types *are* the
//! component's, using `ctx.scope(|m| m, |t| t)`.

use crate::network::HostId;
use crate::process::{Context, Process, ProcessId, Storage, TimerId};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use std::fmt;

/// A [`Context`] as seen by an embedded component that sends `M` and sets timers `T`.
///
/// Everything else (clock, randomness, storage, metrics, notes) is the host process's own:
/// a component shares its process's random stream and disk. [`Scope::context`] reaches the
/// full context for what a component rarely needs (history records, spawning, ending the run).
pub struct Scope<'s, 'a, P: Process, M, T> {
    ctx: &'s mut Context<'a, P>,
    message: Wrap<'s, M, P::Message>,
    timer: Wrap<'s, T, P::Timer>,
}

/// How a component's value becomes the process's: a plain function (one level), or a
/// composition borrowed from the stack (a component inside a component).
enum Wrap<'s, A, B> {
    Fn(fn(A) -> B),
    Nested(&'s dyn Fn(A) -> B),
}

impl<A, B> Wrap<'_, A, B> {
    #[inline]
    fn apply(&self, a: A) -> B {
        match self {
            Wrap::Fn(f) => f(a),
            Wrap::Nested(f) => f(a),
        }
    }
}

impl<P: Process, M, T> fmt::Debug for Scope<'_, '_, P, M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scope").field(&self.ctx).finish()
    }
}

impl<'a, P: Process> Context<'a, P> {
    /// A view of this context for an embedded component that speaks `M` and sets timers `T`;
    /// `message` and `timer` wrap them into this process's types (typically enum variants).
    pub fn scope<M, T>(
        &mut self,
        message: fn(M) -> P::Message,
        timer: fn(T) -> P::Timer,
    ) -> Scope<'_, 'a, P, M, T> {
        Scope {
            ctx: self,
            message: Wrap::Fn(message),
            timer: Wrap::Fn(timer),
        }
    }
}

impl<'a, P: Process, M, T> Scope<'_, 'a, P, M, T> {
    /// This process's id.
    pub fn id(&self) -> ProcessId {
        self.ctx.id()
    }
    /// The host this process runs on.
    pub fn host(&self) -> HostId {
        self.ctx.host()
    }
    /// The host's local clock reading (see [`Context::now`]).
    pub fn now(&self) -> Instant {
        self.ctx.now()
    }
    /// The host's monotonic clock reading (see [`Context::monotonic`]).
    pub fn monotonic(&self) -> Instant {
        self.ctx.monotonic()
    }
    /// The model-defined conditions active on this host (see [`Context::degradations`]).
    pub fn degradations(&self) -> impl Iterator<Item = &str> + '_ {
        self.ctx.degradations()
    }
    /// The host a process lives on.
    pub fn host_of(&self, process: ProcessId) -> HostId {
        self.ctx.host_of(process)
    }
    /// Sends the component's `message`, wrapped into the process's message type.
    #[inline]
    pub fn send(&mut self, to: ProcessId, message: M) {
        let wrapped = self.message.apply(message);
        self.ctx.send(to, wrapped);
    }
    /// Arms a timer carrying the component's `timer`, wrapped into the process's timer type.
    pub fn set_timer(&mut self, after: Duration, timer: T) -> TimerId {
        let wrapped = self.timer.apply(timer);
        self.ctx.set_timer(after, wrapped)
    }
    /// Starts a background storage sync whose completion brings back the component's `done`,
    /// wrapped into the process's timer type (see [`Context::sync_async`]).
    pub fn sync_async(&mut self, done: T) {
        let wrapped = self.timer.apply(done);
        self.ctx.sync_async(wrapped);
    }
    /// Disarms a timer (see [`Context::cancel_timer`]).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.ctx.cancel_timer(id);
    }
    /// The process's random stream (shared with the rest of the process).
    pub fn random(&mut self) -> &mut Random {
        self.ctx.random()
    }
    /// The process's durable storage (shared with the rest of the process: prefix the keys
    /// when several components persist state).
    pub fn storage(&mut self) -> Storage<'_> {
        self.ctx.storage()
    }
    /// Spends virtual processing time in this handler (see [`Context::spend`]).
    pub fn spend(&mut self, cpu: Duration) {
        self.ctx.spend(cpu);
    }
    /// The time this handler has spent so far (see [`Context::spent`]).
    pub fn spent(&self) -> Duration {
        self.ctx.spent()
    }
    /// Adds `delta` to a counter metric.
    pub fn count(&mut self, metric: &str, delta: u64) {
        self.ctx.count(metric, delta);
    }
    /// Records one sample of a distribution metric.
    pub fn observe(&mut self, metric: &str, value: u64) {
        self.ctx.observe(metric, value);
    }
    /// Records one sample stamped with the current true time, for charts over time.
    pub fn observe_timed(&mut self, metric: &str, value: u64) {
        self.ctx.observe_timed(metric, value);
    }
    /// Marks this moment on charts.
    pub fn mark(&mut self, label: &str) {
        self.ctx.mark(label);
    }
    /// Logs a note into the trace.
    pub fn note(&mut self, text: &str) {
        self.ctx.note(text);
    }
    /// A coverage probe (see [`Context::sometimes`]).
    #[inline]
    pub fn sometimes(&mut self, name: &str, cond: bool) -> bool {
        self.ctx.sometimes(name, cond)
    }
    /// A buggify site (see [`Context::buggify`]).
    #[inline]
    pub fn buggify(&mut self, site: &str) -> bool {
        self.ctx.buggify(site)
    }
    /// The whole context of the host process.
    pub fn context(&mut self) -> &mut Context<'a, P> {
        self.ctx
    }
    /// Runs `inner` with a scope for a component embedded inside this one: `message` and
    /// `timer` wrap the inner component's types into this component's, and this scope's own
    /// wrapping applies after them. The inner scope has the same type as any other, so a
    /// component never knows how deeply it is embedded.
    pub fn nest<M2, T2, R>(
        &mut self,
        message: fn(M2) -> M,
        timer: fn(T2) -> T,
        inner: impl FnOnce(&mut Scope<'_, 'a, P, M2, T2>) -> R,
    ) -> R {
        let outer_message = &self.message;
        let outer_timer = &self.timer;
        let wrap_message = move |m: M2| outer_message.apply(message(m));
        let wrap_timer = move |t: T2| outer_timer.apply(timer(t));
        let mut scope = Scope {
            ctx: &mut *self.ctx,
            message: Wrap::Nested(&wrap_message),
            timer: Wrap::Nested(&wrap_timer),
        };
        inner(&mut scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distribution, Sim, SimConfig, Topology};

    /// Innermost component: asks once, counts answers.
    #[derive(Clone, Debug, Hash, PartialEq)]
    enum Leaf {
        Ask,
        Answer,
    }
    /// Middle component: carries the leaf's messages and timers.
    #[derive(Clone, Debug, Hash, PartialEq)]
    enum Middle {
        Leaf(Leaf),
    }
    #[derive(Clone, Debug, Hash, PartialEq)]
    enum System {
        Middle(Middle),
    }

    #[derive(Clone, Debug)]
    struct Node {
        peer: ProcessId,
        answers: u32,
        ticks: u32,
    }

    fn leaf_send<P: Process>(cx: &mut Scope<'_, '_, P, Leaf, Leaf>, to: ProcessId, m: Leaf) {
        cx.send(to, m);
    }

    impl Process for Node {
        type Message = System;
        type Timer = System;
        type Operation = ();
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            let peer = self.peer;
            let mut middle = ctx.scope(System::Middle, System::Middle);
            middle.nest(Middle::Leaf, Middle::Leaf, |leaf| {
                leaf_send(leaf, peer, Leaf::Ask);
                leaf.set_timer(Duration::from_millis(5), Leaf::Ask);
            });
        }
        fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: System) {
            match m {
                System::Middle(Middle::Leaf(Leaf::Ask)) => {
                    ctx.scope(System::Middle, System::Middle)
                        .nest(Middle::Leaf, Middle::Leaf, |leaf| {
                            leaf_send(leaf, from, Leaf::Answer)
                        })
                }
                System::Middle(Middle::Leaf(Leaf::Answer)) => self.answers += 1,
            }
        }
        fn on_timer(&mut self, _: &mut Context<'_, Self>, t: System) {
            assert_eq!(t, System::Middle(Middle::Leaf(Leaf::Ask)));
            self.ticks += 1;
        }
    }

    #[test]
    fn a_nested_component_sends_and_sets_timers_in_the_systems_types() {
        let topology = Topology::single_switch(2, Distribution::constant(Duration::from_millis(1)));
        let mut sim = Sim::new(SimConfig::with_seed(3), &topology);
        for (host, peer) in [(0, 1), (1, 0)] {
            let node = Node {
                peer: ProcessId(peer),
                answers: 0,
                ticks: 0,
            };
            sim.spawn(HostId(host), node);
        }
        let report = sim.run();
        assert_eq!(report.deliveries, 4);
        for id in [ProcessId(0), ProcessId(1)] {
            let node = sim.process(id).unwrap();
            assert_eq!((node.answers, node.ticks), (1, 1));
        }
    }
}
