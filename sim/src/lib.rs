//! # ruckus-sim: the deterministic engine
//!
//! One thread, virtual time, one seed: one exact execution, every time, on every machine.
//!
//! A model is a [`Process`]: a state machine with `on_start`, `on_message` and `on_timer`
//! handlers that act only through a [`Context`]. The engine places processes on hosts of a
//! [`Topology`], delivers their messages through a [`Network`] that partitions, slows, clogs,
//! loses, duplicates and reorders, runs host [`Clock`]s with offset, drift and jumps, crashes,
//! pauses and restarts hosts and processes as a [`FaultPlan`] says, checks [`Property`]s as it
//! goes, and hands back a [`RunReport`] with a verdict and a [`fingerprint`](RunReport::fingerprint).
//!
//! ```
//! use ruckus_sim::*;
//!
//! /// Two processes bounce a counter until it reaches 10.
//! #[derive(Clone, Debug)]
//! struct Bouncer { peer: ProcessId, serve: bool }
//!
//! impl Process for Bouncer {
//!     type Message = u32;
//!     type Timer = ();
//!     type Operation = ();
//!     fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
//!         if self.serve { ctx.send(self.peer, 0) }
//!     }
//!     fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, n: u32) {
//!         ctx.count("bounces", 1);
//!         if n < 10 { ctx.send(from, n + 1) } else { ctx.stop_run() }
//!     }
//!     fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
//! }
//!
//! let topology = Topology::single_switch(2, Distribution::uniform(
//!     Duration::from_millis(1), Duration::from_millis(10)));
//! let mut sim = Sim::new(SimConfig::with_seed(7), &topology);
//! let a = sim.spawn(HostId(0), Bouncer { peer: ProcessId(1), serve: true });
//! sim.spawn(HostId(1), Bouncer { peer: a, serve: false });
//! sim.add_property(Property::always("bounded", |v| {
//!     if v.metrics().counter("bounces") <= 11 { Ok(()) } else { Err("too many".into()) }
//! }));
//! let report = sim.run();
//! assert_eq!(report.verdict, Verdict::Held);
//! assert_eq!(report.deliveries, 11);
//! // Same seed, same run: the fingerprint is the proof.
//! let again = check_determinism(|| {
//!     let mut s = Sim::new(SimConfig::with_seed(7), &topology);
//!     s.spawn(HostId(0), Bouncer { peer: ProcessId(1), serve: true });
//!     s.spawn(HostId(1), Bouncer { peer: ProcessId(0), serve: false });
//!     s
//! }).unwrap();
//! assert_eq!(again.fingerprint, report.fingerprint);
//! ```
//!
//! ## Reading a report
//!
//! A failing [`RunReport`] prints the seed, the verdict, the property, the true time, the host
//! and process involved, and the flight recorder's last events, one per line:
//! `#1234 @1.500000ms deliver p3@h1 from p0 sent @0.800000ms [digest]` — event number, true
//! time, kind, process@host, and kind-specific detail; the digest hashes the payload.
//!
//! ## Determinism rules
//!
//! Nothing here reads the wall clock, OS randomness or a random-state hash map; nothing runs on
//! another thread. Every random draw comes from a [`Random`] stream derived from the seed and a
//! name, so adding a draw in one place never shifts another stream.

pub mod buggify;
pub mod client_history;
pub mod clock;
pub mod component;
pub mod costs;
pub mod disk;
pub mod divergence;
pub mod fault;
pub mod metrics;
pub mod model;
pub mod network;
pub mod operation;
mod prefetch;
pub mod probe;
pub mod process;
pub mod property;
pub mod record;
pub mod rng;
pub mod shrink;
pub mod sim;
pub mod time;
mod timers;
pub mod trace;

pub use buggify::BuggifyConfig;
pub use client_history::{ClientOp, Datum, OpType};
pub use clock::{Clock, ClockConfig};
pub use component::Scope;
pub use costs::{ClockSpread, HostCosts};
pub use disk::DiskFaultConfig;
pub use divergence::Divergence;
pub use fault::{
    ClockSkew, Fault, FaultAction, FaultKind, FaultPlan, FaultProfile, FaultRate, InstanceKiller,
    LatencyMonkey, LeaderCrash, Pick, RoleAction, RoleFaultRate, RoleTarget, ZoneOutage, ZonePartition,
};
pub use metrics::{CounterId, Counters, FaultWindow, Metrics};
pub use model::{Model, Simulation};
pub use network::{HostId, HostSpec, Network, NetworkChaos, Partition, Topology};
pub use operation::{OperationOutcome, OperationSpan};
pub use probe::ProbeHit;
pub use process::{Context, DecodeError, HistoryEntry, Process, ProcessId, Storage, TimerId};
pub use property::{HistoryCursor, Lifecycle, LifecycleEvent, Properties, Property, PropertyKind, View};
pub use record::{EventDetail, EventRecord, Observer, RecordKind, RecordingObserver};
pub use rng::{Distribution, Random, mix64, splitmix64};
pub use sim::{
    DEFAULT_MAX_PROCESSES, FailedOperation, Failure, Limits, ProcessLabel, Progress, RunReport, Sim,
    SimConfig, SpawnLimitExceeded, StreamLayout, Verdict, check_determinism,
};
pub use time::{Duration, Instant, nanos_with_unit};

#[cfg(test)]
mod tests;
