//! Models as the tools above the engine see them, and a built simulation behind one handle.
//!
//! A [`Model`] names a process type, its parameters, how to place its processes and which
//! properties it offers. The command line, scenario files, traces, shrinking, explore and the
//! test helpers work for any type that implements it: a user's crate implements `Model` for
//! its own system and registers it; nothing else needs to know the model.
//!
//! A [`Simulation`] is a built `Sim<P>` with the process type erased, so tools drive every
//! model through one object-safe handle instead of carrying a type parameter around.

use crate::client_history::ClientOp;
use crate::fault::FaultPlan;
use crate::metrics::Metrics;
use crate::network::HostId;
use crate::operation::OperationSpan;
use crate::process::{Process, ProcessId};
use crate::property::Property;
use crate::record::Observer;
use crate::sim::{ProcessLabel, Progress, RunReport, Sim};
use crate::time::Instant;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// A model: a name, a parameter struct, a setup function and properties.
///
/// Implement it on a unit struct beside the model's code. Scenario files name the model by
/// [`NAME`](Model::NAME) and fill [`Config`](Model::Config) from their `[model]` and
/// `[workload]` tables.
pub trait Model: 'static {
    /// The name scenario files use in `[model] name = "..."`.
    const NAME: &'static str;
    /// One line for listings and error messages.
    const ABOUT: &'static str;
    /// The key in the model's parameters that must equal the topology's host count, if any
    /// (filled in from `[topology] hosts` when the scenario leaves it out).
    const HOSTS_KEY: Option<&'static str> = None;
    /// Workload sizes a shrinker may reduce, as (parameter, smallest value), most promising
    /// first: integer parameters, by dotted path into the model's parameters. A knob named like
    /// `HOSTS_KEY` moves the topology's host count with it; [`Model::check`] still vets every
    /// combination tried.
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[];
    /// The model's parameters (`[model]` and `[workload]` keys, merged).
    type Config: Serialize + DeserializeOwned + Default + Debug + Clone;
    /// The model's process type.
    type Process: Process;
    /// Places the model's processes.
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config);
    /// Every property the model offers; scenarios choose among them by name.
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>>;
    /// Checks the parameters against each other and the topology's host count, so a bad
    /// combination is reported as bad input instead of a setup panic.
    fn check(_config: &Self::Config, _hosts: u32) -> Result<(), String> {
        Ok(())
    }
    /// Checks one `Fault::Degrade` mode string, so a typo in a scenario is bad input rather
    /// than a model panic mid-run. Models that read no degradations accept (and ignore) any.
    fn check_degrade_mode(_mode: &str) -> Result<(), String> {
        Ok(())
    }
    /// The coverage probes the model has (the names it passes to `sometimes`), in the order
    /// reports list them: the states in which its planted bugs can show. Tools name the
    /// declared probes no run reached, and a scenario may require some (`[coverage]`). The
    /// default declares none.
    fn probes() -> &'static [&'static str] {
        &[]
    }
    /// The model's own summary figures of one run (goodput, detection time, ...), beside the
    /// generic ones every run has (each counter, each distribution's mean and quantiles).
    /// Experiments compare variants on these by name.
    fn summarize(_config: &Self::Config, _metrics: &Metrics, _end: Instant) -> BTreeMap<String, f64> {
        BTreeMap::new()
    }
    /// The `ruckus check` model (`register`, `cas-register`, `kv`, `set` or `queue`) that the
    /// process type's [`Process::client_history`] is checked against when a trace of this
    /// model is given to `ruckus check`; `None` (the default) for a model that exports no
    /// client history.
    const CHECKER_MODEL: Option<&'static str> = None;
}

/// A built simulation of any model, driven without knowing its process type.
///
/// Implemented by every `Sim<P>`; tools hold a `Box<dyn Simulation>`.
pub trait Simulation {
    /// Runs to the end and returns the report.
    fn run(&mut self) -> RunReport;
    /// Runs until `index` events have been processed (then pauses) or the run ends.
    fn run_until_event(&mut self, index: u64) -> Progress;
    /// Attaches an observer that sees every event (trace writers, replay checkers).
    fn set_observer(&mut self, observer: Box<dyn Observer>);
    /// Detaches and returns the observer.
    fn take_observer(&mut self) -> Option<Box<dyn Observer>>;
    /// The run's seed.
    fn seed(&self) -> u64;
    /// Current true time.
    fn now(&self) -> Instant;
    /// Events processed so far.
    fn events(&self) -> u64;
    /// The fault plan the run follows.
    fn fault_plan(&self) -> &FaultPlan;
    /// The metrics recorded so far.
    fn metrics(&self) -> &Metrics;
    /// How many processes have been spawned.
    fn process_count(&self) -> usize;
    /// The host a process lives on.
    fn host_of(&self, id: ProcessId) -> HostId;
    /// A process's current state, pretty-printed (`None` for an unknown id).
    fn describe_process(&self, id: ProcessId) -> Option<String>;
    /// Every labelled process as the model names it now ([`Process::label`]).
    fn process_labels(&self) -> Vec<ProcessLabel>;
    /// The process a `KillProcess` fault on `host` with `process_index` hits (see
    /// [`Sim::boot_process_of`]).
    fn boot_process_of(&self, host: HostId, process_index: u32) -> Option<ProcessId>;
    /// Each liveness property's name and deadline (the heal plus its bound; see
    /// [`Sim::liveness_deadlines`]).
    fn liveness_deadlines(&self) -> Vec<(String, Instant)>;
    /// Lets the run go on to its horizon after a property fails ([`Sim::set_run_to_horizon`]).
    fn set_run_to_horizon(&mut self, on: bool);
    /// The history's operations as the model pairs them ([`Process::operations`]), for
    /// timelines; empty for a model that does not say.
    fn operations(&self) -> Vec<OperationSpan>;
    /// The history's client operations as Jepsen-style entries ([`Process::client_history`]);
    /// empty for a model that exports none.
    fn client_history(&self) -> Vec<ClientOp>;
    /// The `Sim<P>` itself, for code that knows the model (downcast with `Any`).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<P: Process> Simulation for Sim<P> {
    fn run(&mut self) -> RunReport {
        Sim::run(self)
    }
    fn run_until_event(&mut self, index: u64) -> Progress {
        Sim::run_until_event(self, index)
    }
    fn set_observer(&mut self, observer: Box<dyn Observer>) {
        Sim::set_observer(self, observer);
    }
    fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        Sim::take_observer(self)
    }
    fn seed(&self) -> u64 {
        Sim::seed(self)
    }
    fn now(&self) -> Instant {
        Sim::now(self)
    }
    fn events(&self) -> u64 {
        Sim::events(self)
    }
    fn fault_plan(&self) -> &FaultPlan {
        Sim::fault_plan(self)
    }
    fn metrics(&self) -> &Metrics {
        Sim::metrics(self)
    }
    fn process_count(&self) -> usize {
        Sim::process_count(self)
    }
    fn host_of(&self, id: ProcessId) -> HostId {
        Sim::host_of(self, id)
    }
    fn describe_process(&self, id: ProcessId) -> Option<String> {
        Sim::process(self, id).map(|p| format!("{p:#?}"))
    }
    fn process_labels(&self) -> Vec<ProcessLabel> {
        Sim::process_labels(self)
    }
    fn boot_process_of(&self, host: HostId, process_index: u32) -> Option<ProcessId> {
        Sim::boot_process_of(self, host, process_index)
    }
    fn liveness_deadlines(&self) -> Vec<(String, Instant)> {
        Sim::liveness_deadlines(self)
    }
    fn set_run_to_horizon(&mut self, on: bool) {
        Sim::set_run_to_horizon(self, on)
    }
    fn operations(&self) -> Vec<OperationSpan> {
        P::operations(Sim::history(self))
    }
    fn client_history(&self) -> Vec<ClientOp> {
        P::client_history(Sim::history(self))
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A boxed simulation is a simulation, so code generic over `Simulation` (such as
/// `check_determinism`) takes either a `Sim<P>` or a `Box<dyn Simulation>`.
impl<S: Simulation + ?Sized> Simulation for Box<S> {
    fn run(&mut self) -> RunReport {
        (**self).run()
    }
    fn run_until_event(&mut self, index: u64) -> Progress {
        (**self).run_until_event(index)
    }
    fn set_observer(&mut self, observer: Box<dyn Observer>) {
        (**self).set_observer(observer);
    }
    fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        (**self).take_observer()
    }
    fn seed(&self) -> u64 {
        (**self).seed()
    }
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn events(&self) -> u64 {
        (**self).events()
    }
    fn fault_plan(&self) -> &FaultPlan {
        (**self).fault_plan()
    }
    fn metrics(&self) -> &Metrics {
        (**self).metrics()
    }
    fn process_count(&self) -> usize {
        (**self).process_count()
    }
    fn host_of(&self, id: ProcessId) -> HostId {
        (**self).host_of(id)
    }
    fn describe_process(&self, id: ProcessId) -> Option<String> {
        (**self).describe_process(id)
    }
    fn process_labels(&self) -> Vec<ProcessLabel> {
        (**self).process_labels()
    }
    fn boot_process_of(&self, host: HostId, process_index: u32) -> Option<ProcessId> {
        (**self).boot_process_of(host, process_index)
    }
    fn liveness_deadlines(&self) -> Vec<(String, Instant)> {
        (**self).liveness_deadlines()
    }
    fn set_run_to_horizon(&mut self, on: bool) {
        (**self).set_run_to_horizon(on)
    }
    fn operations(&self) -> Vec<OperationSpan> {
        (**self).operations()
    }
    fn client_history(&self) -> Vec<ClientOp> {
        (**self).client_history()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        (**self).as_any_mut()
    }
}
