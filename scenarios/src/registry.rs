//! The models a scenario can name, and the one place that turns a model name into a type.
//!
//! Every model is run through the same generic code path: [`dispatch`] matches the name once
//! and hands a [`ModelVisitor`] the model's type, so the runner, sweeps, traces and the tour never
//! match on model names themselves. Adding a model is one `impl Model` and one line in
//! [`dispatch`] and [`MODELS`].

use crate::explore::models::{BackoffContention, Services};
use ruckus_models::{lease_lock, pingpong, raft};
use ruckus_sim::{Process, Property, Sim};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// A model as scenarios see it: a name, a parameter struct, a setup function and properties.
pub trait Model: 'static {
    /// The name scenario files use in `[model] name = "..."`.
    const NAME: &'static str;
    /// One line for `ruckus scenarios` and error messages.
    const ABOUT: &'static str;
    /// The key in the model's parameters that must equal the topology's host count, if any
    /// (filled in from `[topology] hosts` when the scenario leaves it out).
    const HOSTS_KEY: Option<&'static str> = None;
    /// Workload sizes `ruckus shrink` may reduce, as (parameter, smallest value), most
    /// promising first: integer parameters, by dotted path into the model's parameters. A knob
    /// named like `HOSTS_KEY` moves the topology's host count with it; [`Model::check`] still
    /// vets every combination tried.
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
}

/// The pingpong yardstick.
#[derive(Debug)]
pub struct PingPong;

impl Model for PingPong {
    const NAME: &'static str = "pingpong";
    const ABOUT: &'static str = "messages bouncing between hosts (the standard performance yardstick)";
    const HOSTS_KEY: Option<&'static str> = Some("hosts");
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] =
        &[("hosts", 2), ("in_flight", 1), ("deliveries", 1)];
    type Config = pingpong::PingPongConfig;
    type Process = pingpong::PingPong;
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config) {
        pingpong::setup(sim, config);
    }
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>> {
        pingpong::properties(config)
    }
}

/// The lock service with leases, fencing tokens and three planted bugs.
#[derive(Debug)]
pub struct LeaseLock;

impl Model for LeaseLock {
    const NAME: &'static str = "lease_lock";
    const ABOUT: &'static str = "a lock service with leases and fencing tokens, with planted bugs";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1), ("writes_per_lease", 1)];
    type Config = lease_lock::LeaseLockConfig;
    type Process = lease_lock::LeaseLock;
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config) {
        lease_lock::setup(sim, config);
    }
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>> {
        lease_lock::properties(config)
    }
    fn check(config: &Self::Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.hosts() {
            return Err(format!(
                "lease_lock with {} clients needs {} hosts (a lock server, a storage server and one per client), the topology has {hosts}",
                config.clients,
                config.hosts()
            ));
        }
        Ok(())
    }
}

/// Raft with a replicated key-value store, linearizability checking and four bug switches.
#[derive(Debug)]
pub struct Raft;

impl Model for Raft {
    const NAME: &'static str = "raft";
    const ABOUT: &'static str =
        "Raft with a key-value store and linearizable clients, with four classic bugs as switches";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[
        ("clients", 0),
        ("writers", 0),
        ("readers_per_host", 0),
        ("keys", 1),
    ];
    type Config = raft::Config;
    type Process = raft::Raft;
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config) {
        raft::setup(sim, config);
    }
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>> {
        raft::properties(config)
    }
    fn check(config: &Self::Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.servers {
            return Err(format!(
                "raft with {} servers needs one host per server, the topology has {hosts}",
                config.servers
            ));
        }
        Ok(())
    }
}

/// Every model name with its one-line description, for listings and suggestions.
pub const MODELS: &[(&str, &str)] = &[
    (PingPong::NAME, PingPong::ABOUT),
    (LeaseLock::NAME, LeaseLock::ABOUT),
    (Raft::NAME, Raft::ABOUT),
    (Services::NAME, Services::ABOUT),
    (BackoffContention::NAME, BackoffContention::ABOUT),
];

/// Something to do with a model once its type is known.
pub trait ModelVisitor {
    /// What the visit produces.
    type Output;
    /// Called with the model named in the scenario.
    fn visit<M: Model>(self) -> Self::Output;
}

/// Calls `visitor` with the model called `name`, or returns `None` for an unknown name.
pub fn dispatch<V: ModelVisitor>(name: &str, visitor: V) -> Option<V::Output> {
    match name {
        PingPong::NAME => Some(visitor.visit::<PingPong>()),
        LeaseLock::NAME => Some(visitor.visit::<LeaseLock>()),
        Raft::NAME => Some(visitor.visit::<Raft>()),
        Services::NAME => Some(visitor.visit::<Services>()),
        BackoffContention::NAME => Some(visitor.visit::<BackoffContention>()),
        _ => None,
    }
}
