//! The models and scenarios a `ruckus` binary knows: a value, not a `match`.
//!
//! A [`Registry`] holds models (anything implementing [`ruckus_sim::Model`]) and named scenario
//! texts. [`Registry::builtin`] has the models and scenarios that ship with ruckus; a user's
//! crate adds its own and gets every verb of the command line, the scenario format, traces,
//! shrinking, explore and the test helpers for them:
//!
//! ```no_run
//! # use ruckus_sim::*;
//! # #[derive(Clone, Debug)] struct MyNode;
//! # impl Process for MyNode {
//! #     type Message = (); type Timer = (); type Operation = ();
//! #     fn on_start(&mut self, _: &mut Context<'_, Self>) {}
//! #     fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
//! #     fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
//! # }
//! # #[derive(Debug)] struct MyModel;
//! # impl Model for MyModel {
//! #     const NAME: &'static str = "mine"; const ABOUT: &'static str = "mine";
//! #     type Config = (); type Process = MyNode;
//! #     fn setup(sim: &mut Sim<MyNode>, _: &()) { sim.spawn(HostId(0), MyNode); }
//! #     fn properties(_: &()) -> Vec<Property<MyNode>> { Vec::new() }
//! # }
//! use ruckus_scenarios::registry::Registry;
//!
//! fn main() -> std::process::ExitCode {
//!     let registry = Registry::builtin()
//!         .with::<MyModel>()
//!         .with_scenario("mine", include_str!("../data/pingpong.toml"));
//!     ruckus_scenarios::cli::main_with(registry)
//! }
//! ```
//!
//! Once a [`Scenario`] is loaded it carries its model ([`ModelRef`]), so running, sweeping,
//! recording and shrinking it need no registry; only turning a name or a file into a scenario
//! does. Nothing outside this module and the models' own `impl Model` names a model.

use crate::builtin;
use crate::error::ScenarioError;
use crate::runner;
use crate::scenario::{Partial, Scenario};
use ruckus_models::discovery::swim::model::SwimModel;
use ruckus_models::scheduler::SchedulerModel;
use ruckus_models::{compose, lease_lock, pingpong, raft, services};
pub use ruckus_sim::Model;
use ruckus_sim::{FaultPlan, Instant, Metrics, Simulation};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The models and named scenarios one binary knows.
#[derive(Clone, Debug)]
pub struct Registry {
    models: Vec<ModelRef>,
    scenarios: Vec<(String, String)>,
    program: String,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            models: Vec::new(),
            scenarios: Vec::new(),
            program: "ruckus".to_owned(),
        }
    }
}

impl Registry {
    /// No models and no scenarios.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Names the command that runs this registry (`ruckus` unless set): failure reports and
    /// printed replay commands use it, so they work for a binary of your own.
    pub fn program(mut self, name: &str) -> Registry {
        name.clone_into(&mut self.program);
        self
    }

    /// The command that runs this registry.
    pub fn program_name(&self) -> &str {
        &self.program
    }

    /// The models and scenarios that ship with ruckus (`ruckus scenarios` lists them).
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty()
            .with::<pingpong::PingPongModel>()
            .with::<lease_lock::LeaseLockModel>()
            .with::<raft::RaftModel>()
            .with::<services::ServicesModel>()
            .with::<services::ContentionModel>()
            .with::<SwimModel>()
            .with::<SchedulerModel>()
            .with::<compose::CatalogStackModel>()
            .with::<ruckus_models::discovery::consul::ConsulModel>()
            .with::<ruckus_models::platform::PlatformModel>()
            .with::<ruckus_models::discovery::eureka::EurekaModel>();
        for (name, text) in builtin::BUILTIN {
            registry = registry.with_scenario(name, *text);
        }
        registry
    }

    /// Adds model `M`. A model of the same name is replaced, so a user's crate can swap in
    /// its own variant of a built-in.
    pub fn with<M: Model>(self) -> Registry {
        self.with_model(ModelRef(Arc::new(Entry::<M>(PhantomData))))
    }

    /// Adds a model another registry (or a loaded scenario) holds; replaces one of its name.
    pub fn with_model(mut self, model: ModelRef) -> Registry {
        match self.models.iter_mut().find(|m| m.name() == model.name()) {
            Some(slot) => *slot = model,
            None => self.models.push(model),
        }
        self
    }

    /// Adds a named scenario (the text of a scenario file), runnable as `ruckus run NAME`.
    /// A scenario of the same name is replaced.
    pub fn with_scenario(mut self, name: &str, text: impl Into<String>) -> Registry {
        let text = text.into();
        match self.scenarios.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = text,
            None => self.scenarios.push((name.to_owned(), text)),
        }
        self
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&ModelRef> {
        self.models.iter().find(|m| m.name() == name)
    }

    /// Every model, in the order they were added.
    pub fn models(&self) -> impl Iterator<Item = &ModelRef> {
        self.models.iter()
    }

    /// Every model's name, in the order they were added.
    pub fn model_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.models.iter().map(ModelRef::name)
    }

    /// The text of the named scenario `name`.
    pub fn scenario_text(&self, name: &str) -> Option<&str> {
        self.scenarios
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    /// Every named scenario, in the order they were added.
    pub fn scenario_names(&self) -> impl Iterator<Item = &str> {
        self.scenarios.iter().map(|(n, _)| n.as_str())
    }

    /// Loads a scenario: a name in this registry or a path to a TOML file, with `--set`
    /// style `overrides` applied.
    pub fn scenario(&self, reference: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        Scenario::load(self, reference, overrides)
    }

    /// What to tell a user whose scenario or trace names a model this binary does not have.
    pub fn unknown_model_help(&self, name: &str) -> String {
        format!(
            "this binary has no model `{name}` (its models: {}). A model of your own must be in the registry of the binary that runs it: build one with `ruckus_scenarios::cli::main_with(Registry::builtin().with::<YourModel>())` (see the README, \"Your own model\")",
            self.model_names().collect::<Vec<_>>().join(", ")
        )
    }
}

/// One model of a registry, with its type erased: what a loaded [`Scenario`] carries.
#[derive(Clone)]
pub struct ModelRef(Arc<dyn ModelEntry>);

impl ModelRef {
    /// The name scenario files use.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
    /// One line about it.
    pub fn about(&self) -> &'static str {
        self.0.about()
    }
    /// The parameter that follows the topology's host count, if any.
    pub fn hosts_key(&self) -> Option<&'static str> {
        self.0.hosts_key()
    }
    /// The integer parameters a shrinker may reduce, with their minimums.
    pub fn workload_knobs(&self) -> &'static [(&'static str, u64)] {
        self.0.workload_knobs()
    }
    /// The coverage probes the model declares ([`Model::probes`]).
    pub fn probes(&self) -> &'static [&'static str] {
        self.0.probes()
    }
    /// The `ruckus check` model its exported client history is checked against
    /// ([`Model::CHECKER_MODEL`]); `None` if it exports none.
    pub fn checker_model(&self) -> Option<&'static str> {
        self.0.checker_model()
    }
    pub(crate) fn entry(&self) -> &dyn ModelEntry {
        &*self.0
    }
}

impl fmt::Debug for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelRef({})", self.name())
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Two references are equal when they name the same model.
impl PartialEq for ModelRef {
    fn eq(&self, other: &ModelRef) -> bool {
        self.name() == other.name()
    }
}

/// What the tools need of a model, without its type: implemented once, generically, for every
/// `Model` by [`Entry`].
pub(crate) trait ModelEntry: Send + Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn hosts_key(&self) -> Option<&'static str>;
    fn workload_knobs(&self) -> &'static [(&'static str, u64)];
    fn probes(&self) -> &'static [&'static str];
    fn checker_model(&self) -> Option<&'static str>;
    /// Checks the model's part of a parsed scenario file and completes the scenario.
    fn resolve(&self, model: &ModelRef, partial: Partial<'_>) -> Result<Scenario, ScenarioError>;
    /// Builds a ready-to-run simulation of `scenario` under `seed` with `plan`.
    fn build(&self, scenario: &Scenario, seed: u64, plan: &FaultPlan) -> Result<Box<dyn Simulation>, String>;
    /// The model's own summary figures of one run.
    fn summarize(&self, params: &toml::Table, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64>;
}

struct Entry<M>(PhantomData<fn() -> M>);

impl<M: Model> ModelEntry for Entry<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn about(&self) -> &'static str {
        M::ABOUT
    }
    fn hosts_key(&self) -> Option<&'static str> {
        M::HOSTS_KEY
    }
    fn workload_knobs(&self) -> &'static [(&'static str, u64)] {
        M::WORKLOAD_KNOBS
    }
    fn probes(&self) -> &'static [&'static str] {
        M::probes()
    }
    fn checker_model(&self) -> Option<&'static str> {
        M::CHECKER_MODEL
    }
    fn resolve(&self, model: &ModelRef, partial: Partial<'_>) -> Result<Scenario, ScenarioError> {
        partial.resolve::<M>(model)
    }
    fn build(&self, scenario: &Scenario, seed: u64, plan: &FaultPlan) -> Result<Box<dyn Simulation>, String> {
        let config = scenario.model_config::<M>()?;
        let mut sim = runner::build::<M>(
            &scenario.topology,
            &config,
            plan,
            scenario.limits,
            seed,
            Some(&scenario.properties),
        )?;
        sim.set_buggify(scenario.buggify);
        Ok(Box::new(sim))
    }
    fn summarize(&self, params: &toml::Table, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        match toml::Value::Table(params.clone()).try_into::<M::Config>() {
            Ok(config) => M::summarize(&config, metrics, end),
            Err(_) => BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_registry_knows_every_builtin_model_and_scenario() {
        let r = Registry::builtin();
        let models: Vec<&str> = r.model_names().collect();
        assert_eq!(
            models,
            [
                "pingpong",
                "lease_lock",
                "raft",
                "services",
                "backoff_contention",
                "swim",
                "scheduler",
                "catalog_stack",
                "consul",
                "platform",
                "eureka"
            ]
        );
        assert_eq!(r.scenario_names().count(), builtin::BUILTIN.len());
        assert!(r.scenario_text("raft").is_some());
    }

    #[test]
    fn adding_a_model_of_an_existing_name_replaces_it() {
        let r = Registry::builtin().with::<pingpong::PingPongModel>();
        assert_eq!(r.model_names().filter(|n| *n == "pingpong").count(), 1);
        let r = Registry::empty().with_scenario("a", "x").with_scenario("a", "y");
        assert_eq!(r.scenario_text("a"), Some("y"));
    }

    #[test]
    fn the_unknown_model_help_names_the_models_and_the_fix() {
        let help = Registry::builtin().unknown_model_help("drift_lock");
        assert!(help.contains("no model `drift_lock`"), "{help}");
        assert!(help.contains("pingpong, lease_lock"), "{help}");
        assert!(help.contains("main_with"), "{help}");
    }
}
