//! The services models as scenario files name them, with their summary figures.

use super::{Config, DegradeMode, Node, contention, properties, setup, summarize};
use ruckus_sim::{Instant, Metrics, Property, Sim};
use std::collections::BTreeMap;

/// Services with high-availability patterns (tiers, retries, budgets, breakers, hedging).
#[derive(Debug)]
pub struct ServicesModel;

impl ruckus_sim::Model for ServicesModel {
    const NAME: &'static str = "services";
    const ABOUT: &'static str =
        "client/server tiers with queues, retries, budgets, breakers, hedging and balancers";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1)];
    type Config = Config;
    type Process = Node;
    fn setup(sim: &mut Sim<Node>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Node>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        need_hosts(config.hosts(), hosts)
    }
    fn check_degrade_mode(mode: &str) -> Result<(), String> {
        DegradeMode::parse(mode).map(|_| ())
    }
    fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        summarize(config, metrics, end)
    }
}

/// Writers contending on an optimistic-concurrency row (the backoff-and-jitter experiment).
#[derive(Debug)]
pub struct ContentionModel;

impl ruckus_sim::Model for ContentionModel {
    const NAME: &'static str = "backoff_contention";
    const ABOUT: &'static str =
        "writers contending on one optimistic-concurrency row, with backoff and jitter";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1)];
    type Config = contention::Config;
    type Process = contention::Node;
    fn setup(sim: &mut Sim<contention::Node>, config: &contention::Config) {
        contention::setup(sim, config);
    }
    fn properties(config: &contention::Config) -> Vec<Property<contention::Node>> {
        contention::properties(config)
    }
    fn check(config: &contention::Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        need_hosts(config.hosts(), hosts)
    }
    fn summarize(config: &contention::Config, metrics: &Metrics, _end: Instant) -> BTreeMap<String, f64> {
        contention::summarize(config, metrics)
    }
}

fn need_hosts(needed: u32, hosts: u32) -> Result<(), String> {
    if hosts < needed {
        return Err(format!(
            "the model needs {needed} hosts (one per process), the topology has {hosts}"
        ));
    }
    Ok(())
}
